/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by the rpc/ files and their tests: the line parser, the
 * response encoder and the schema validator are pure functions (no I/O) so
 * that the unit tests and the fuzz target drive exactly the code the server
 * runs.
 */
#ifndef MVM_RPC_INTERNAL_H
#define MVM_RPC_INTERNAL_H

#include <errno.h>
#include <regex.h>
#include "rpc.h"
#include "util/macro.h"

#define RPC_MAX_DEPTH_LIMIT 1024u
/* Refused connections drained at once (beyond: closed at once). */
#define RPC_LINGER_MAX 16u
/* How long a refused connection is drained before it is closed. */
#define RPC_USEC_PER_SEC 1000000ull
#define RPC_LINGER_USEC (2 * RPC_USEC_PER_SEC)

/* rpc/jsonscan.c: strict RFC 8259 syntax check; -EINVAL with the offset
 * and a static reason on the first error. */
int rpc_json_check(const char *p, size_t n, unsigned max_depth, size_t *ret_offset, const char **ret_reason);

/* rpc/jsonrpc.c: one line -> its request entries.
 *
 * Only params are turned into json-c objects: the envelope (jsonrpc,
 * method, id) is read straight from the checked text, which is cheaper and
 * lets ids be echoed byte for byte (1.50 stays 1.50, big integers stay
 * exact). */
typedef struct rpc_entry {
	/* Set when the entry is already answered with an error (parse error,
	 * invalid request); error_data is owned by the entry. */
	int error_code;
	json_object *error_data;
	const char *id;         /* the raw id token inside the line; NULL = null */
	size_t id_len;
	bool has_id;            /* false: a notification (no response) */
	char *method;           /* decoded; method_buf or owned */
	json_object *params;    /* owned; NULL = absent */
	char method_buf[48];    /* short names need no allocation */
} rpc_entry_t;

typedef struct rpc_line {
	bool batch;
	size_t n_entries;
	rpc_entry_t *entries;   /* &one for a single request */
	rpc_entry_t one;
} rpc_line_t;

/* Parses one line (without its '\n'); the entries' ids point into p.
 * Always fills *ret (a parse error is one error entry); returns -ENOMEM
 * only on allocation failure. */
int rpc_line_parse(const char *p, size_t n, unsigned max_depth, rpc_line_t *ret);
void rpc_line_done(rpc_line_t *l);

/* One response as a line without the '\n' (malloc'd, NUL-terminated);
 * id is a raw JSON token (NULL = null). Both take their json argument;
 * data NULL becomes {}. */
char *rpc_response_result(const char *id, size_t id_len, json_object *result, size_t *ret_len);
char *rpc_response_error(const char *id, size_t id_len, int code, const char *message, json_object *data,
			 size_t *ret_len);
/* rpc_response_result() held to max bytes (0: no limit): NULL with
 * *ret_error -EFBIG when the answer is longer, -ENOMEM or -ELOOP. */
char *rpc_response_result_max(const char *id, size_t id_len, json_object *result, size_t max, size_t *ret_len,
			      int *ret_error);
json_object *rpc_error_data(const char *reason);
json_object *rpc_errno_data(int error, const char *reason);
/* Serialises obj plus a trailing '\n' (and a NUL not counted in
 * *ret_len) into a new buffer. */
char *rpc_to_line(json_object *obj, size_t *ret_len);

/* rpc/json.c: fast conversions for the request path. */
typedef struct rpc_buf {
	char *p;          /* NUL-terminated while non-NULL */
	size_t len, alloc;
	size_t max;       /* 0, or appends that would pass it fail with -EFBIG */
} rpc_buf_t;
int rpc_buf_reserve(rpc_buf_t *b, size_t extra);
int rpc_buf_add(rpc_buf_t *b, const char *s, size_t n);
/* Text accepted by rpc_json_check() -> json-c objects (NULL for null).
 * -ENOMEM, -EBADMSG for a member name containing U+0000, or -EEXIST for
 * an object that names a member twice (at any depth). */
int rpc_json_build(const char *p, size_t n, json_object **ret);
/* The same for the value at p[*i]; advances *i past it. */
int rpc_json_build_at(const char *p, size_t n, size_t *i, json_object **ret);
/* Decodes the inside of a checked string token (no quotes) into out
 * (n bytes suffice); returns the decoded length. */
size_t rpc_json_unescape(const char *p, size_t n, char *out);
/* Appends o as compact JSON; -ELOOP beyond RPC_MAX_DEPTH_LIMIT levels. */
int rpc_json_append(rpc_buf_t *b, json_object *o, unsigned depth);

/* rpc/pattern.c: a schema pattern (POSIX ERE, whole-string match). */
typedef struct rpc_pattern rpc_pattern_t;
int rpc_pattern_compile(const char *pattern, rpc_pattern_t **ret); /* -EINVAL: bad pattern */
rpc_pattern_t *rpc_pattern_free(rpc_pattern_t *p);
bool rpc_pattern_match(const rpc_pattern_t *p, const char *s, size_t n); /* s NUL-terminated at n */
/* Whether p uses the fast matcher (for tests). */
bool rpc_pattern_is_fast(const rpc_pattern_t *p);

/* rpc/schema.c */
typedef struct rpc_regex_cache rpc_regex_cache_t;
rpc_regex_cache_t *rpc_regex_cache_new(void);
rpc_regex_cache_t *rpc_regex_cache_free(rpc_regex_cache_t *c);
/* Compiles every pattern reachable from fields; -EINVAL on a bad one. */
int rpc_regex_cache_add_fields(rpc_regex_cache_t *c, const rpc_field_t *fields);

/* Validates a params object against fields (NULL = no params allowed).
 * cache may be NULL (patterns are then compiled per call). On failure
 * returns -EINVAL and *ret_data = {"param": path, "reason": text}, or
 * -ENOMEM. */
int rpc_validate_params(const rpc_field_t *fields, json_object *params, rpc_regex_cache_t *cache,
			json_object **ret_data);
/* Maps positional params onto fields in order; new object in *ret. */
int rpc_params_from_array(const rpc_field_t *fields, json_object *array, json_object **ret,
			  json_object **ret_data);
/* JSON Schema for OpenRPC. With a render context, a schema that names a
 * component becomes a $ref and is collected in comps (rendered by the
 * caller), and "limit" names are resolved; without one, all is inline
 * and static. The first failure is kept in error (-ENOMEM; -EINVAL for
 * two schemas under one component name). */
typedef struct rpc_schema_render {
	struct rpc_component {
		const char *name;
		const rpc_schema_t *schema;
	} *comps;
	size_t n_comps;
	const rpc_limits_t *limits;
	rpc_limit_fn_t limit_fn;
	void *userdata;
	int error;
} rpc_schema_render_t;
json_object *rpc_schema_to_json(const rpc_schema_t *s, rpc_schema_render_t *r);
/* The schema itself, even when it names a component (for components.schemas). */
json_object *rpc_schema_to_json_inline(const rpc_schema_t *s, rpc_schema_render_t *r);

/* rpc/openrpc.c: the built-in rpc.discover (answered by the server). */
extern const rpc_method_t rpc_discover_method;

/* --- server internals (rpc/server.c, rpc/conn.c) --------------------------- */

typedef struct rpc_reply rpc_reply_t;
typedef struct rpc_hook {
	void (*fn)(rpc_conn_t *c, void *userdata);
	void *userdata;
} rpc_hook_t;

struct rpc_server {
	sd_event *event;
	const rpc_method_t *methods;
	size_t n_methods;
	rpc_limits_t limits;
	void *userdata;
	json_object *openrpc;           /* the static document, checked at startup */
	char *title, *version;
	rpc_limit_fn_t limit_fn;        /* node bounds, read per rpc.discover */
	rpc_regex_cache_t *regex;
	struct rpc_listener {
		int fd;
		sd_event_source *io;
	} *listeners;
	size_t n_listeners;
	sd_event_source *accept_retry;  /* re-enables listeners after EMFILE */
	sd_event_source *sweep;         /* connection timeouts, lingering refusals */
	rpc_observer_t observe;         /* rpc_server_set_observer() */
	void *observe_data;
	rpc_conn_t *conns;              /* doubly linked */
	unsigned n_conns;
	uint64_t next_conn_id, n_accepted, n_rejected, n_dropped;
	size_t out_held;                /* sum of the connections' held output */
	uint64_t next_queued_seq;       /* orders the connections by when their output began to wait */
	struct rpc_linger {             /* refused connections being drained */
		int fd;
		sd_event_source *io;
		uint64_t deadline;
	} lingers[RPC_LINGER_MAX];
	unsigned n_lingers;
};

struct rpc_conn {
	unsigned n_ref;
	rpc_server_t *server;   /* NULL once closed */
	rpc_conn_t *prev, *next;
	uint64_t id;
	int fd;
	sd_event_source *io, *defer;
	struct ucred peer;
	char *in;               /* bytes [in_start, in_len) unprocessed */
	size_t in_start, in_len, in_alloc, in_scan;
	char *out;              /* bytes [out_start, out_len) to send */
	size_t out_start, out_len, out_alloc;
	rpc_reply_t *replies;   /* lines not answered yet */
	unsigned n_pending;
	size_t held;            /* out_counted + finished answers of open batches */
	size_t out_counted;     /* out_alloc while output is queued, else 0 */
	uint64_t active_usec;   /* last read, write or answer (idle timeout) */
	uint64_t partial_usec;  /* an unterminated line began then; 0 = none */
	uint64_t out_usec;      /* output queued since, or last taken then (send timeout) */
	uint64_t queued_usec;   /* the queue last was empty then (for the log) */
	uint64_t queued_seq;    /* ... in the server's order: the lowest is the slowest client */
	bool eof, too_large, closed, processing;
	bool dying;             /* to be closed from the loop (close_later) */
	rpc_hook_t *hooks;
	size_t n_hooks;
};

struct rpc_call {
	rpc_reply_t *reply;
	long slot;              /* position in the reply; -1 = notification */
	const rpc_method_t *method;
	char *id;               /* raw id token; NULL = null */
	size_t id_len;
	bool embedded;          /* lives inside its reply (single requests) */
	char id_buf[40];        /* short ids live here instead of the heap */
	/* The server's observer when the call was made (it outlives the
	 * connection), and when. */
	rpc_observer_t observe;
	void *observe_data;
	uint64_t start_usec;
};

/* One line's worth of answers: a single response or a batch array,
 * kept as serialised text until the last one is in. A single request's
 * slot and call live inside the reply: one allocation per request. */
struct rpc_reply {
	rpc_conn_t *conn;       /* NULL once the connection is gone */
	rpc_reply_t *prev, *next;
	bool batch;
	unsigned n_waiting;     /* calls not answered yet */
	size_t n_slots;         /* answers expected (1 when not a batch) */
	size_t text_bytes;      /* of the answers stored in slots */
	struct rpc_slot {
		char *text;
		size_t len;
	} *slots, one_slot;
	rpc_call_t one_call;
};

/* server.c */
void rpc_server_dispatch_line(rpc_conn_t *c, const char *p, size_t n);
void rpc_reply_detach_all(rpc_conn_t *c);
/* conn.c */
int rpc_conn_new(rpc_server_t *s, int fd, rpc_conn_t **ret);
/* Queues p[0..n) followed by '\n'. */
int rpc_conn_queue_line(rpc_conn_t *c, const char *p, size_t n);
void rpc_conn_reply_done(rpc_conn_t *c);
/* Accounts n more bytes of output held for c (rpc_conn_unhold gives them
 * back). Over the client's or the node's limit the slowest clients are
 * disconnected; -ENOBUFS when that is c (closed from the loop, the bytes
 * not held). */
int rpc_conn_hold(rpc_conn_t *c, size_t n);
void rpc_conn_unhold(rpc_conn_t *c, size_t n);
/* Applies the timeouts to c (from the server's sweep). */
void rpc_conn_sweep(rpc_conn_t *c, uint64_t now);
/* accept.c: arms the sweep timer when something needs it. */
void rpc_server_sweep_update(rpc_server_t *s);
/* accept.c: closes the listeners, lingering sockets and timers. */
void rpc_server_accept_free(rpc_server_t *s);
/* Close from the loop, soon: for failures inside calls handlers make. */
void rpc_conn_close_later(rpc_conn_t *c);

#endif
