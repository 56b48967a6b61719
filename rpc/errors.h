/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON-RPC error codes mvmd answers with: the spec's and our
 * application range -32000..-32099. docs/rpc.md has the same table for
 * clients; rpc_error_table is the one place both the errno mapping and the
 * OpenRPC document read from.
 */
#ifndef MVM_RPC_ERRORS_H
#define MVM_RPC_ERRORS_H

#include <stddef.h>

enum {
	RPC_ERROR_PARSE = -32700,
	RPC_ERROR_INVALID_REQUEST = -32600,
	RPC_ERROR_METHOD_NOT_FOUND = -32601,
	RPC_ERROR_INVALID_PARAMS = -32602,
	RPC_ERROR_INTERNAL = -32603,

	RPC_ERROR_SERVER = -32000,          /* generic; data.errno names the errno */
	RPC_ERROR_NOT_FOUND = -32001,
	RPC_ERROR_INVALID_STATE = -32002,   /* transition not allowed by the FSM */
	RPC_ERROR_EXISTS = -32003,
	RPC_ERROR_BACKEND_UNAVAILABLE = -32004,
	RPC_ERROR_RESOURCE_LIMIT = -32005,
	RPC_ERROR_TIMEOUT = -32006,
	RPC_ERROR_IN_USE = -32007,
	RPC_ERROR_REQUEST_TOO_LARGE = -32008,
};

typedef struct rpc_error_info {
	int code;
	const char *name;     /* OpenRPC component key, e.g. "NotFound" */
	const char *message;  /* the "message" member */
	const char *meaning;  /* one sentence for docs/OpenRPC */
} rpc_error_info_t;

extern const rpc_error_info_t rpc_error_table[];
extern const size_t rpc_error_table_size;

const rpc_error_info_t *rpc_error_lookup(int code);  /* NULL if not in the table */
const char *rpc_error_message(int code);             /* "Server error" if unknown */
/* -errno (or errno) -> JSON-RPC code. */
int rpc_error_from_errno(int error);
/* "ENOENT"; a static "E<n>" style name for unknown values is not
 * returned: NULL then. */
const char *rpc_errno_name(int error);

#endif
