/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server: dispatch of a parsed line to method handlers, and the call
 * objects handlers answer. Listeners, accepting (with the client cap) and
 * the timeout sweep are in rpc/accept.c.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rpc-internal.h"
#include "util/list.h"
#include "util/log.h"

void rpc_limits_default(rpc_limits_t *l)
{
	*l = (rpc_limits_t){
		.max_request_bytes = 1024 * 1024,
		.max_clients = 256,
		.max_output_bytes = 1024 * 1024,
		.max_depth = 64,
		.max_pending = 128,
		.max_answer_bytes = 16 * 1024 * 1024,
		.max_queue_bytes = 32 * 1024 * 1024,
		.max_total_output_bytes = 256 * 1024 * 1024,
		.idle_timeout_usec = 5 * 60 * RPC_USEC_PER_SEC,
		.line_timeout_usec = 30 * RPC_USEC_PER_SEC,
		.send_timeout_usec = 60 * RPC_USEC_PER_SEC,
	};
}

/* --- calls and replies --------------------------------------------------- */

static void reply_free(rpc_reply_t *r)
{
	for (size_t i = 0; i < r->n_slots; i++)
		free(r->slots[i].text);
	if (r->slots != &r->one_slot)
		free(r->slots);
	free(r);
}

/* A batch's finished answers are held (counted as output of the
 * connection) until the batch's line goes out; they are given back here
 * and freed when they will never be sent. */
static void reply_drop_texts(rpc_reply_t *r, rpc_conn_t *c)
{
	for (size_t i = 0; i < r->n_slots; i++) {
		free(r->slots[i].text);
		r->slots[i].text = NULL;
		r->slots[i].len = 0;
	}
	if (r->batch && c)
		rpc_conn_unhold(c, r->text_bytes);
	r->text_bytes = 0;
}

static void reply_unlink(rpc_reply_t *r)
{
	rpc_conn_t *c = r->conn;
	if (!c)
		return;
	LIST_REMOVE(c->replies, r);
	r->conn = NULL;
	c->n_pending--;
}

void rpc_reply_detach_all(rpc_conn_t *c)
{
	while (c->replies) {
		rpc_reply_t *r = c->replies;
		reply_drop_texts(r, c);
		reply_unlink(r);
	}
}

/* Sends the line: the single answer, or "[a,b,...]" for a batch (no
 * line at all when a batch had only notifications). */
static void reply_send(rpc_reply_t *r, rpc_conn_t *c)
{
	if (!r->batch) {
		if (r->n_slots && r->slots[0].text)
			(void)rpc_conn_queue_line(c, r->slots[0].text, r->slots[0].len);
		return;
	}
	size_t len = 1, n = 0;
	for (size_t i = 0; i < r->n_slots; i++)
		if (r->slots[i].text)
			len += r->slots[i].len + 1, n++;
	/* From here on the answers are the line's, counted as it is queued. */
	rpc_conn_unhold(c, r->text_bytes);
	r->text_bytes = 0;
	if (n == 0)
		return;
	char *buf = malloc(len + 1), *q = buf;
	if (!buf) {
		rpc_conn_close_later(c); /* cannot answer: do not leave the client waiting */
		return;
	}
	*q++ = '[';
	for (size_t i = 0; i < r->n_slots; i++)
		if (r->slots[i].text) {
			q = mempcpy(q, r->slots[i].text, r->slots[i].len);
			*q++ = ',';
		}
	q[-1] = ']';
	(void)rpc_conn_queue_line(c, buf, (size_t)(q - buf));
	free(buf);
}

static void reply_complete(rpc_reply_t *r)
{
	rpc_conn_t *c = r->conn;

	if (c) {
		reply_unlink(r);
		reply_send(r, c);
		rpc_conn_reply_done(c);
	}
	reply_free(r);
}

/* Takes text (the response line without '\n'). */
static void reply_store(rpc_reply_t *r, long slot, char *text, size_t len)
{
	if (slot < 0 || !r->conn || (size_t)slot >= r->n_slots) {
		free(text);
		return;
	}
	assert(!r->slots[slot].text); /* each call answers once */
	/* A single answer goes out at once; a batch's waits for the others
	 * and is held meanwhile (on failure the connection is going away
	 * and r is detached). */
	if (text && r->batch && rpc_conn_hold(r->conn, len + 1) < 0) {
		free(text);
		return;
	}
	r->slots[slot].text = text;
	r->slots[slot].len = text ? len : 0;
	if (text && r->batch)
		r->text_bytes += len + 1;
}

static char *too_large_error(rpc_call_t *call, size_t limit, size_t *ret_len)
{
	json_object *d = rpc_error_data("the answer is larger than the limit on one answer; ask for less");
	if (d)
		json_object_object_add(d, "limit", json_object_new_int64((int64_t)limit));
	return rpc_response_error(call->id, call->id_len, RPC_ERROR_RESOURCE_LIMIT, NULL, d, ret_len);
}

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * RPC_USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000u;
}

static void call_finish(rpc_call_t *call, char *text, size_t len, int code)
{
	rpc_reply_t *r = call->reply;

	/* A batch's line holds all its answers: together they stay within
	 * the limit on one answer, the ones that do not fit say so. */
	if (text && r->batch && r->conn) {
		size_t max = r->conn->server->limits.max_answer_bytes;
		if (len + 1 > max - MIN(r->text_bytes + 2, max)) {
			free(text);
			text = too_large_error(call, max, &len);
			code = RPC_ERROR_RESOURCE_LIMIT;
		}
	}
	if (call->observe)
		call->observe(call->method->name, code, mono_usec() - call->start_usec, call->observe_data);
	reply_store(r, call->slot, text, len);
	if (call->id != call->id_buf)
		free(call->id);
	if (!call->embedded)
		free(call);
	if (--r->n_waiting == 0)
		reply_complete(r);
}

static bool call_wants_answer(rpc_call_t *call)
{
	return call->slot >= 0 && call->reply->conn;
}

/* When an answer cannot be written (out of memory, or a handler built a
 * cyclic object), the caller still gets one: -32603 with a fixed text. */
static char *fallback_error(rpc_call_t *call, size_t *ret_len)
{
	static const char body[] = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,\"message\":\"Internal error\","
				   "\"data\":{\"reason\":\"the answer could not be serialised\"}},\"id\":";
	size_t idl = call->id ? call->id_len : 4;
	char *s = malloc(sizeof(body) + idl + 1);
	if (!s)
		return NULL;
	char *q = mempcpy(s, body, sizeof(body) - 1);
	q = mempcpy(q, call->id ? call->id : "null", idl);
	*q++ = '}';
	*q = '\0';
	*ret_len = (size_t)(q - s);
	return s;
}

void rpc_call_reply(rpc_call_t *call, json_object *result)
{
	size_t len = 0;
	char *text = NULL;
	int code = 0;

	if (call_wants_answer(call)) {
		size_t max = call->reply->conn->server->limits.max_answer_bytes;
		int r = 0;
		text = rpc_response_result_max(call->id, call->id_len, result, max, &len, &r);
		if (!text && r == -EFBIG) {
			log_info("rpc: connection %" PRIu64 ": the answer to %s is over %zu bytes; answering -32005",
				 call->reply->conn->id, call->method->name, max);
			text = too_large_error(call, max, &len);
			code = RPC_ERROR_RESOURCE_LIMIT;
		}
		if (!text) {
			text = fallback_error(call, &len);
			code = RPC_ERROR_INTERNAL;
		}
	} else
		json_object_put(result);
	call_finish(call, text, len, code);
}

void rpc_call_error(rpc_call_t *call, int code, const char *message, json_object *data)
{
	size_t len = 0;
	char *text = NULL;

	if (call_wants_answer(call)) {
		text = rpc_response_error(call->id, call->id_len, code, message, data, &len);
		if (!text) {
			text = fallback_error(call, &len);
			code = RPC_ERROR_INTERNAL;
		}
	} else
		json_object_put(data);
	call_finish(call, text, len, code);
}

void rpc_call_errno(rpc_call_t *call, int neg_errno, const char *detail)
{
	int code = rpc_error_from_errno(neg_errno);
	if (!call_wants_answer(call))
		return call_finish(call, NULL, 0, code);
	/* Every -errno error says why in words too (data.reason). */
	rpc_call_error(call, code, rpc_error_message(code),
		       rpc_errno_data(neg_errno, detail ? detail : strerror(neg_errno < 0 ? -neg_errno : neg_errno)));
}

void rpc_call_invalid_param(rpc_call_t *call, const char *param, const char *reason)
{
	if (!call_wants_answer(call))
		return call_finish(call, NULL, 0, RPC_ERROR_INVALID_PARAMS);
	json_object *d = json_object_new_object();
	if (d) {
		json_object_object_add(d, "param", json_object_new_string(param ? param : ""));
		json_object_object_add(d, "reason", json_object_new_string(reason ? reason : "invalid"));
	}
	rpc_call_error(call, RPC_ERROR_INVALID_PARAMS, NULL, d);
}

rpc_conn_t *rpc_call_get_conn(rpc_call_t *call)
{
	return call->reply->conn;
}

rpc_server_t *rpc_call_get_server(rpc_call_t *call)
{
	return call->reply->conn ? call->reply->conn->server : NULL;
}

const char *rpc_call_get_method(rpc_call_t *call)
{
	return call->method->name;
}

bool rpc_call_is_notification(rpc_call_t *call)
{
	return call->slot < 0;
}

/* --- dispatch ---------------------------------------------------------------- */

static const rpc_method_t *server_find_method(rpc_server_t *s, const char *name)
{
	if (strcmp(name, rpc_discover_method.name) == 0)
		return &rpc_discover_method;
	for (size_t i = 0; i < s->n_methods; i++)
		if (!(s->methods[i].flags & RPC_METHOD_NOTIFICATION) && strcmp(s->methods[i].name, name) == 0)
			return &s->methods[i];
	return NULL;
}

/* The document with this node's bounds as they are now (a limit_fn's
 * answers change: capacity set at startup, backends found later). */
static void server_discover(rpc_server_t *s, rpc_call_t *call)
{
	json_object *doc = NULL;
	int r;

	if (!s->limit_fn) {
		rpc_call_reply(call, json_object_get(s->openrpc));
		return;
	}
	r = rpc_openrpc_build(s->methods, s->n_methods, s->title, s->version, &s->limits, s->limit_fn, s->userdata, &doc);
	if (r < 0)
		rpc_call_errno(call, r, "cannot describe the API");
	else
		rpc_call_reply(call, doc);
}

void rpc_server_set_limit_fn(rpc_server_t *s, rpc_limit_fn_t fn)
{
	s->limit_fn = fn;
}

/* Turns the request's params into the object the handler gets, or an
 * error response. */
static int server_prepare_params(rpc_server_t *s, const rpc_method_t *m, rpc_entry_t *e, json_object **ret,
				 json_object **ret_data)
{
	json_object *params = NULL;
	int r;

	if (!e->params) {
		params = json_object_new_object();
	} else if (json_object_is_type(e->params, json_type_array)) {
		if (m->flags & RPC_METHOD_POSITIONAL) {
			r = rpc_params_from_array(m->params, e->params, &params, ret_data);
			if (r < 0)
				return r;
		} else if (!m->params && json_object_array_length(e->params) == 0) {
			params = json_object_new_object();
		} else {
			json_object *d = json_object_new_object();
			if (!d)
				return -ENOMEM;
			json_object_object_add(d, "param", json_object_new_string(""));
			json_object_object_add(d, "reason", json_object_new_string(
				m->params ? "params must be passed by name (an object)" : "this method takes no params"));
			*ret_data = d;
			return -EINVAL;
		}
	} else {
		params = json_object_get(e->params);
	}
	if (!params)
		return -ENOMEM;

	r = rpc_validate_params(m->params, params, s->regex, ret_data);
	if (r < 0) {
		json_object_put(params);
		return r;
	}
	*ret = params;
	return 0;
}

/* ret_released: for a single request, the call takes over the reply's
 * guard reference so that a synchronous answer goes out at once, before
 * anything else the handler queues (notifications). */
static void store_error(rpc_reply_t *reply, long slot, rpc_entry_t *e, int code, json_object *data)
{
	size_t len = 0;
	char *text = slot >= 0 ? rpc_response_error(e->id, e->id_len, code, NULL, data, &len) : NULL;
	if (slot < 0)
		json_object_put(data);
	reply_store(reply, slot, text, len);
}

/* A request answered before any handler saw it. */
static void observe_early(rpc_server_t *s, const rpc_method_t *m, int code, uint64_t start)
{
	if (s->observe)
		s->observe(m ? m->name : NULL, code, mono_usec() - start, s->observe_data);
}

static void server_dispatch_entry(rpc_server_t *s, rpc_reply_t *reply, rpc_entry_t *e, long slot, bool *ret_released)
{
	uint64_t start = s->observe ? mono_usec() : 0;

	if (e->error_code) {
		observe_early(s, NULL, e->error_code, start);
		store_error(reply, slot, e, e->error_code, TAKE_PTR(e->error_data));
		return;
	}

	const rpc_method_t *m = server_find_method(s, e->method);
	if (!m) {
		observe_early(s, NULL, RPC_ERROR_METHOD_NOT_FOUND, start);
		if (slot >= 0) {
			json_object *d = rpc_error_data("no such method");
			if (d)
				json_object_object_add(d, "method", json_object_new_string(e->method));
			store_error(reply, slot, e, RPC_ERROR_METHOD_NOT_FOUND, d);
		}
		return;
	}

	json_object *params = NULL, *data = NULL;
	int r = server_prepare_params(s, m, e, &params, &data);
	if (r < 0) {
		if (r != -EINVAL) {
			json_object_put(data);
			data = rpc_errno_data(r, "while preparing params");
		}
		observe_early(s, m, r == -EINVAL ? RPC_ERROR_INVALID_PARAMS : RPC_ERROR_INTERNAL, start);
		store_error(reply, slot, e, r == -EINVAL ? RPC_ERROR_INVALID_PARAMS : RPC_ERROR_INTERNAL, data);
		return;
	}

	bool embed = !reply->batch;
	rpc_call_t *call = embed ? &reply->one_call : malloc(sizeof(*call));
	if (call) {
		*call = (rpc_call_t){ .reply = reply, .slot = slot, .method = m, .id_len = e->id_len, .embedded = embed,
				      .observe = s->observe, .observe_data = s->observe_data, .start_usec = start };
		if (e->id && e->id_len < sizeof(call->id_buf))
			call->id = memcpy(call->id_buf, e->id, e->id_len);
		else if (e->id && !(call->id = strndup(e->id, e->id_len))) {
			if (!embed)
				free(call);
			call = NULL;
		}
	}
	if (!call) {
		json_object_put(params);
		observe_early(s, m, RPC_ERROR_INTERNAL, start);
		store_error(reply, slot, e, RPC_ERROR_INTERNAL, rpc_errno_data(ENOMEM, NULL));
		return;
	}
	reply->n_waiting++;
	if (ret_released) {
		reply->n_waiting--;
		*ret_released = true;
	}
	/* From here on the reply may be gone as soon as the call is answered. */
	if (m == &rpc_discover_method)
		server_discover(s, call);
	else if (!m->handler)
		rpc_call_error(call, RPC_ERROR_INTERNAL, NULL, rpc_error_data("method not implemented"));
	else
		m->handler(call, params, s->userdata);
	json_object_put(params);
}

void rpc_server_dispatch_line(rpc_conn_t *c, const char *p, size_t n)
{
	rpc_server_t *s = c->server;
	rpc_line_t line;
	rpc_reply_t *reply = NULL;

	if (rpc_line_parse(p, n, s->limits.max_depth, &line) < 0)
		goto oom;
	reply = calloc(1, sizeof(*reply));
	if (!reply)
		goto oom;
	reply->batch = line.batch;
	for (size_t i = 0; i < line.n_entries; i++)
		reply->n_slots += line.entries[i].has_id;
	if (reply->n_slots == 1)
		reply->slots = &reply->one_slot;
	else if (reply->n_slots && !(reply->slots = calloc(reply->n_slots, sizeof(*reply->slots))))
		goto oom;

	reply->conn = c;
	LIST_PREPEND(c->replies, reply);
	c->n_pending++;

	/* Hold the reply open while dispatching so answers given
	 * synchronously cannot complete it before the last entry. */
	reply->n_waiting = 1;
	long slot = 0;
	bool released = false;
	for (size_t i = 0; i < line.n_entries; i++) {
		rpc_entry_t *e = &line.entries[i];
		server_dispatch_entry(s, reply, e, e->has_id ? slot++ : -1, line.batch ? NULL : &released);
	}
	rpc_line_done(&line);
	if (!released && --reply->n_waiting == 0)
		reply_complete(reply);
	return;

oom:
	if (reply && reply->slots != &reply->one_slot)
		free(reply->slots);
	free(reply);
	rpc_line_done(&line);
	size_t len;
	char *err = rpc_response_error(NULL, 0, RPC_ERROR_INTERNAL, NULL, rpc_errno_data(ENOMEM, NULL), &len);
	if (err)
		(void)rpc_conn_queue_line(c, err, len);
	free(err);
}

/* --- server ---------------------------------------------------------------- */

int rpc_server_new(sd_event *e, const rpc_method_t *methods, size_t n_methods, const rpc_limits_t *limits,
		   const char *title, const char *version, void *userdata, rpc_server_t **ret)
{
	rpc_server_t *s;
	int r;

	if (!e || (!methods && n_methods) || !ret)
		return -EINVAL;
	for (size_t i = 0; i < n_methods; i++) {
		if (!methods[i].name || strcmp(methods[i].name, rpc_discover_method.name) == 0)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (strcmp(methods[i].name, methods[j].name) == 0)
				return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->event = sd_event_ref(e);
	s->methods = methods;
	s->n_methods = n_methods;
	s->userdata = userdata;
	if (limits)
		s->limits = *limits;
	else
		rpc_limits_default(&s->limits);
	if (s->limits.max_depth == 0 || s->limits.max_depth > RPC_MAX_DEPTH_LIMIT ||
	    s->limits.max_request_bytes == 0 || s->limits.max_pending == 0 || s->limits.max_request_bytes > INT32_MAX ||
	    s->limits.max_answer_bytes < 1024 || s->limits.max_queue_bytes < s->limits.max_answer_bytes ||
	    s->limits.max_total_output_bytes < s->limits.max_queue_bytes) {
		r = -EINVAL;
		goto fail;
	}
	s->regex = rpc_regex_cache_new();
	if (!s->regex) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n_methods; i++)
		if ((r = rpc_regex_cache_add_fields(s->regex, methods[i].params)) < 0)
			goto fail;
	s->title = strdup(title ? title : "mvmd");
	s->version = strdup(version ? version : "0");
	if (!s->title || !s->version) {
		r = -ENOMEM;
		goto fail;
	}
	/* Built now so that a table that documents itself wrongly fails here. */
	r = rpc_openrpc_build(methods, n_methods, s->title, s->version, &s->limits, NULL, NULL, &s->openrpc);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	rpc_server_free(s);
	return r;
}

rpc_server_t *rpc_server_free(rpc_server_t *s)
{
	if (!s)
		return NULL;
	while (s->conns)
		rpc_conn_close(s->conns);
	rpc_server_accept_free(s);
	json_object_put(s->openrpc);
	free(s->title);
	free(s->version);
	rpc_regex_cache_free(s->regex);
	sd_event_unref(s->event);
	free(s);
	return NULL;
}

unsigned rpc_server_n_connections(rpc_server_t *s)
{
	return s->n_conns;
}

void rpc_server_set_observer(rpc_server_t *s, rpc_observer_t fn, void *userdata)
{
	s->observe = fn;
	s->observe_data = userdata;
}

void *rpc_server_get_userdata(rpc_server_t *s)
{
	return s->userdata;
}

void rpc_server_get_stats(rpc_server_t *s, rpc_server_stats_t *ret)
{
	rpc_server_stats_t st = {
		.n_connections = s->n_conns,
		.n_accepted = s->n_accepted,
		.n_rejected = s->n_rejected,
		.n_dropped = s->n_dropped,
		.output_held = s->out_held,
	};
	for (rpc_conn_t *c = s->conns; c; c = c->next) {
		st.input_bytes += c->in_len - c->in_start;
		st.output_bytes += c->out_len - c->out_start;
		st.buffer_bytes += c->in_alloc + c->out_alloc;
		st.pending_calls += c->n_pending;
	}
	*ret = st;
}
