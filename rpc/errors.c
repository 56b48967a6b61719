/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>
#include "errors.h"
#include "util/macro.h"

const rpc_error_info_t rpc_error_table[] = {
	{ RPC_ERROR_PARSE, "ParseError", "Parse error", "The line is not valid JSON (or nests too deeply)." },
	{ RPC_ERROR_INVALID_REQUEST, "InvalidRequest", "Invalid Request", "The JSON is not a valid JSON-RPC 2.0 request object." },
	{ RPC_ERROR_METHOD_NOT_FOUND, "MethodNotFound", "Method not found", "No such method." },
	{ RPC_ERROR_INVALID_PARAMS, "InvalidParams", "Invalid params", "A parameter is missing, unknown, or of the wrong type or value; data.param names it." },
	{ RPC_ERROR_INTERNAL, "InternalError", "Internal error", "A bug or an unexpected failure inside mvmd." },
	{ RPC_ERROR_SERVER, "ServerError", "Server error", "An operation failed; data.errno names the system error." },
	{ RPC_ERROR_NOT_FOUND, "NotFound", "Not found", "The VM, blob or other object does not exist." },
	{ RPC_ERROR_INVALID_STATE, "InvalidState", "Invalid state transition", "The object's state does not allow the operation." },
	{ RPC_ERROR_EXISTS, "AlreadyExists", "Already exists", "An object with that name or hash already exists." },
	{ RPC_ERROR_BACKEND_UNAVAILABLE, "BackendUnavailable", "Backend unavailable", "The backend (kvm, ch) is not usable on this host." },
	{ RPC_ERROR_RESOURCE_LIMIT, "ResourceLimit", "Resource limit", "A limit was reached (memory, disk, file descriptors, connections)." },
	{ RPC_ERROR_TIMEOUT, "Timeout", "Timeout", "The operation did not finish in time." },
	{ RPC_ERROR_IN_USE, "InUse", "In use", "The object is still referenced (e.g. a blob used by a VM)." },
	{ RPC_ERROR_REQUEST_TOO_LARGE, "RequestTooLarge", "Request too large", "The request line exceeds the size limit; the connection is closed." },
};
const size_t rpc_error_table_size = ELEMENTSOF(rpc_error_table);

/* errno -> code; everything not listed is RPC_ERROR_SERVER. */
static const struct {
	int error, code;
} errno_map[] = {
	{ ENOENT, RPC_ERROR_NOT_FOUND },
	{ EBUSY, RPC_ERROR_INVALID_STATE },
	{ EALREADY, RPC_ERROR_INVALID_STATE },
	{ ESTALE, RPC_ERROR_INVALID_STATE },
	{ EEXIST, RPC_ERROR_EXISTS },
	{ ENODEV, RPC_ERROR_BACKEND_UNAVAILABLE },
	{ EOPNOTSUPP, RPC_ERROR_BACKEND_UNAVAILABLE },
	{ ENOSPC, RPC_ERROR_RESOURCE_LIMIT },
	{ EMFILE, RPC_ERROR_RESOURCE_LIMIT },
	{ ENFILE, RPC_ERROR_RESOURCE_LIMIT },
	{ ENOMEM, RPC_ERROR_RESOURCE_LIMIT },
	{ EDQUOT, RPC_ERROR_RESOURCE_LIMIT },
	{ E2BIG, RPC_ERROR_RESOURCE_LIMIT },
	{ EAGAIN, RPC_ERROR_RESOURCE_LIMIT },
	{ ETIMEDOUT, RPC_ERROR_TIMEOUT },
	{ ENOTEMPTY, RPC_ERROR_IN_USE },
	{ EINVAL, RPC_ERROR_INVALID_PARAMS },
};

const rpc_error_info_t *rpc_error_lookup(int code)
{
	for (size_t i = 0; i < rpc_error_table_size; i++)
		if (rpc_error_table[i].code == code)
			return &rpc_error_table[i];
	return NULL;
}

const char *rpc_error_message(int code)
{
	const rpc_error_info_t *e = rpc_error_lookup(code);
	if (e)
		return e->message;
	if (code <= -32000 && code >= -32099)
		return "Server error";
	return "Error";
}

int rpc_error_from_errno(int error)
{
	if (error < 0)
		error = -error;
	for (size_t i = 0; i < ELEMENTSOF(errno_map); i++)
		if (errno_map[i].error == error)
			return errno_map[i].code;
	return RPC_ERROR_SERVER;
}

const char *rpc_errno_name(int error)
{
	if (error < 0)
		error = -error;
	if (error == 0)
		return NULL;
	return strerrorname_np(error);
}
