/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON-RPC 2.0 over line-delimited Unix stream sockets (see docs/rpc.md).
 *
 * The server owns framing, parsing, request validation, dispatch, batching,
 * backpressure and the OpenRPC document; method handlers (rpc/methods-*.c)
 * only see validated by-name params and answer each call exactly once,
 * synchronously or later from the event loop.
 */
#ifndef MVM_RPC_H
#define MVM_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <json-c/json.h>
#include <systemd/sd-event.h>
#include "errors.h"

typedef struct rpc_server rpc_server_t;
typedef struct rpc_conn rpc_conn_t;
typedef struct rpc_call rpc_call_t;

/* --- parameter schemas ------------------------------------------------- */

typedef enum rpc_type {
	RPC_TYPE_ANY,
	RPC_TYPE_STRING,
	RPC_TYPE_INTEGER, /* JSON integers; integral numbers like 2.0 are accepted */
	RPC_TYPE_NUMBER,
	RPC_TYPE_BOOLEAN,
	RPC_TYPE_OBJECT,
	RPC_TYPE_ARRAY,
	_RPC_TYPE_MAX,
} rpc_type_t;

const char *rpc_type_to_string(rpc_type_t t);
rpc_type_t rpc_type_from_string(const char *s); /* -> _RPC_TYPE_MAX if unknown */

typedef struct rpc_field rpc_field_t;
typedef struct rpc_schema {
	rpc_type_t type;
	const char *description;
	/* integers: the value; strings: length in characters (code points),
	 * or in bytes of UTF-8 with max_bytes; arrays: item count; objects:
	 * member count. */
	bool has_min, has_max;
	int64_t min, max;
	bool max_bytes; /* strings: min/max count bytes (a buffer's size), not characters */
	const char *pattern;                /* strings: POSIX ERE matched against the whole string */
	const char *const *enum_values;     /* strings: NULL-terminated allowed values */
	const rpc_field_t *fields;          /* objects: known members, {NULL}-terminated */
	const struct rpc_schema *values;    /* objects: schema of every member not in fields (maps) */
	const struct rpc_schema *keys;      /* objects with values: schema (a string) of each free-form key */
	const struct rpc_schema *items;     /* arrays */
	/* Documentation only (the OpenRPC document; params never use them): */
	const char *component;   /* documented once as components.schemas[component], used by $ref */
	bool nullable;           /* null is a value too (results) */
	const char *format;      /* JSON Schema format, e.g. "date-time" */
	const char *limit;       /* integers, strings: the maximum is also this node's limit of
				  * that name, read when rpc.discover is called (rpc_server_set_limit_fn) */
} rpc_schema_t;
/* An object with fields and no values rejects unknown members; an object
 * with neither fields nor values accepts any members unchecked. Strings
 * never contain NUL (rejected everywhere). */

struct rpc_field {
	const char *name;
	bool required;
	rpc_schema_t schema;
};

/* --- methods ----------------------------------------------------------- */

/* Called after params validated; params is always an object (empty when
 * the request had none) and is borrowed for the duration of the call (take
 * a json_object_get() reference to keep it). The handler must eventually
 * answer with exactly one of rpc_call_reply/_error/_errno, now or later from
 * the event loop. */
typedef void (*rpc_handler_t)(rpc_call_t *call, json_object *params, void *userdata);

enum {
	/* Accept positional (array) params too, mapped onto params in
	 * declaration order. Only for tests and the spec's examples: mvmd's
	 * methods are by-name. */
	RPC_METHOD_POSITIONAL = 1 << 0,
	/* Not a method: a notification the server sends (rpc_conn_notify),
	 * described in the OpenRPC document only. Calling it is -32601. */
	RPC_METHOD_NOTIFICATION = 1 << 1,
};

/* An OpenRPC example pairing: params as one JSON object by name, the
 * result as JSON (NULL for a notification), both text. */
typedef struct rpc_example {
	const char *name, *params, *result;
} rpc_example_t;

typedef struct rpc_method {
	const char *name, *summary;
	const rpc_field_t *params;   /* {NULL}-terminated; NULL = no params ([] and {} accepted) */
	const rpc_schema_t *result;  /* documentation only (OpenRPC); NULL = any */
	rpc_handler_t handler;
	unsigned flags;              /* RPC_METHOD_* */
	/* Documentation only: the error codes it answers with besides the ones
	 * every method can (-32602, -32603, -32005), {0}-terminated; examples,
	 * {NULL}-terminated. */
	const int *errors;
	const rpc_example_t *examples;
} rpc_method_t;

/* Answering. Each takes ownership of its json argument and frees the call;
 * the call must not be used afterwards. Answering after the connection went
 * away is safe: the answer is dropped. Answers to notifications are dropped.
 * An answer that cannot be serialised (a cyclic object, out of memory)
 * reaches the client as -32603. */
void rpc_call_reply(rpc_call_t *call, json_object *result);
/* data may be NULL (then {} is sent: every error carries a data object). */
void rpc_call_error(rpc_call_t *call, int code, const char *message, json_object *data);
/* Maps -errno through the one table in errors.c: code, message, and data
 * {"errno": "ENOENT", "reason": detail}. */
void rpc_call_errno(rpc_call_t *call, int neg_errno, const char *detail);
/* Shorthand for -32602 with data {"param": param, "reason": reason}. */
void rpc_call_invalid_param(rpc_call_t *call, const char *param, const char *reason);

rpc_conn_t *rpc_call_get_conn(rpc_call_t *call);      /* NULL once the connection is gone */
rpc_server_t *rpc_call_get_server(rpc_call_t *call);  /* NULL once the connection is gone */
const char *rpc_call_get_method(rpc_call_t *call);
bool rpc_call_is_notification(rpc_call_t *call);

/* --- connections ------------------------------------------------------- */

rpc_conn_t *rpc_conn_ref(rpc_conn_t *c);
rpc_conn_t *rpc_conn_unref(rpc_conn_t *c);   /* always returns NULL */
bool rpc_conn_is_open(rpc_conn_t *c);
const struct ucred *rpc_conn_peer(rpc_conn_t *c);
/* Queue a notification {"jsonrpc":"2.0","method":...,"params":...} to the
 * peer. Takes params (may be NULL: no params member). Returns 0, -EPIPE when
 * the connection is closed, or -ENOBUFS when its output would pass the
 * hard cap (max_queue_bytes, or the node's max_total_output_bytes with
 * this client the slowest): the slow follower is then disconnected.
 * (-ENOMEM, -EFBIG for a notification over max_answer_bytes, which is not
 * sent, or -ELOOP for params that contain themselves, are possible too.) A connection that fails while a handler answers or notifies is
 * closed from the event loop shortly after, never inside that call: close
 * hooks do not run under the caller's feet; rpc_conn_is_open() turns false
 * at once. */
int rpc_conn_notify(rpc_conn_t *c, const char *method, json_object *params);
/* Close hooks run once, when the connection closes (peer left, error,
 * server freed), before the server drops its reference. A connection with
 * a close hook counts as subscribed: the idle timeout spares it. Adding the same
 * (fn, userdata) twice registers it twice. -EPIPE if already closed or
 * closing (rpc_conn_is_open() false). */
int rpc_conn_add_close_hook(rpc_conn_t *c, void (*fn)(rpc_conn_t *c, void *userdata), void *userdata);
void rpc_conn_remove_close_hook(rpc_conn_t *c, void (*fn)(rpc_conn_t *c, void *userdata), void *userdata);
/* Close now: queued output is discarded, close hooks run (inside this
 * call). */
void rpc_conn_close(rpc_conn_t *c);

/* --- server ------------------------------------------------------------ */

typedef struct rpc_limits {
	size_t max_request_bytes;  /* one line, without the '\n' (default 1 MiB) */
	unsigned max_clients;      /* concurrent connections (default 256) */
	size_t max_output_bytes;   /* stop reading a client whose queue is above (default 1 MiB) */
	unsigned max_depth;        /* JSON nesting depth (default 64) */
	unsigned max_pending;      /* request lines not yet answered per connection before it stops being read (default 128) */
	/* Memory held for output. An answer (a batch's whole line, a
	 * notification) longer than max_answer_bytes is replaced by a -32005
	 * error (a notification is not sent). A client whose held output
	 * (queued lines plus a batch's finished answers) would pass
	 * max_queue_bytes is disconnected; when the output held for all
	 * clients would pass max_total_output_bytes, the clients whose
	 * queues have been waiting longest are disconnected until it fits.
	 * max_answer_bytes <= max_queue_bytes <= max_total_output_bytes. */
	size_t max_answer_bytes;        /* default 16 MiB */
	size_t max_queue_bytes;         /* default 32 MiB */
	size_t max_total_output_bytes;  /* default 256 MiB */
	/* Connection timeouts in microseconds, 0 = none. Idle: no request in
	 * progress, no output queued, no partial line, no subscription (a
	 * close hook). Line: a request line begun and not finished; the
	 * client gets -32006 and the connection ends once earlier answers
	 * are out. Send: queued output of which the client took nothing. */
	uint64_t idle_timeout_usec;     /* default 5 min */
	uint64_t line_timeout_usec;     /* default 30 s */
	uint64_t send_timeout_usec;     /* default 60 s */
} rpc_limits_t;

void rpc_limits_default(rpc_limits_t *l);

/* methods must stay valid while the server lives. Fails with -EINVAL when
 * a schema is malformed (a pattern that does not compile, a duplicate
 * method name, a method named rpc.discover, which is built in) so mistakes
 * in the method table show at startup. */
int rpc_server_new(sd_event *e, const rpc_method_t *methods, size_t n_methods,
		   const rpc_limits_t *limits, const char *title, const char *version,
		   void *userdata, rpc_server_t **ret);
/* Takes a listening AF_UNIX SOCK_STREAM fd (closed on failure too). */
int rpc_server_add_listener(rpc_server_t *s, int fd);
/* Closes listeners and connections; calls still pending are answered into
 * the void. Not from inside a handler: stop the loop, then free. */
rpc_server_t *rpc_server_free(rpc_server_t *s);
unsigned rpc_server_n_connections(rpc_server_t *s);
void *rpc_server_get_userdata(rpc_server_t *s);

/*
 * Told of every request once it is answered (a notification: once its
 * handler is done with it): the method's name from the table (NULL when
 * no method was found, or the request was invalid before one could be),
 * the JSON-RPC error code of the answer (0: a result), and the time from
 * dispatch to answer in microseconds. Called from inside the answering
 * call; it must not answer or close anything. NULL fn: no observer.
 */
typedef void (*rpc_observer_t)(const char *method, int code, uint64_t usec, void *userdata);
void rpc_server_set_observer(rpc_server_t *s, rpc_observer_t fn, void *userdata);

typedef struct rpc_server_stats {
	unsigned n_connections;
	uint64_t n_accepted, n_rejected;  /* rejected: over max_clients */
	uint64_t n_dropped;               /* closed by an output limit or a timeout */
	size_t input_bytes, output_bytes; /* buffered over all connections now */
	size_t output_held;               /* output counted against max_total_output_bytes */
	size_t buffer_bytes;              /* memory held by those buffers (capacity) */
	unsigned pending_calls;           /* request lines not fully answered yet, all connections */
} rpc_server_stats_t;
void rpc_server_get_stats(rpc_server_t *s, rpc_server_stats_t *ret);

/* Resolves a schema's "limit" name to this node's current bound (0, or
 * -ENOENT for a name it does not know: the static bound stays). The
 * server itself knows "rpc.max_request_bytes" and "rpc.max_answer_bytes". */
typedef int (*rpc_limit_fn_t)(const char *name, int64_t *ret, void *userdata);
/* Called with the server's userdata each time rpc.discover is answered. */
void rpc_server_set_limit_fn(rpc_server_t *s, rpc_limit_fn_t fn);

/* mkdir -p the parent (0755), unlink a stale socket, bind, chmod, chown to
 * gid unless (gid_t)-1, listen. Returns the fd in *ret_fd. */
int rpc_listen_unix(const char *path, mode_t mode, gid_t gid, int *ret_fd);

/* The OpenRPC 1.3 document for a method table (rpc.discover included).
 * Returns a new object, or NULL on allocation failure. */
json_object *rpc_openrpc_document(const rpc_method_t *m, size_t n, const char *title, const char *version);

/* The same with this node's bounds: limits (NULL: none shown) go to
 * info["x-limits"], limit_fn (may be NULL) resolves the schemas' "limit"
 * names. -ENOMEM, or -EINVAL when the table documents itself wrongly: two
 * schemas under one component name, an example that is not JSON, an
 * error code not in the error table. */
int rpc_openrpc_build(const rpc_method_t *m, size_t n, const char *title, const char *version,
		      const rpc_limits_t *limits, rpc_limit_fn_t limit_fn, void *userdata, json_object **ret);

#endif
