/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON-RPC 2.0 request parsing and response encoding for one line.
 *
 * A line becomes a list of entries: a single request is one entry, a batch
 * one per element. Entries that are not valid Request objects carry their
 * error here already, so the server only has to dispatch the valid ones
 * and collect answers in order.
 */
#include <stdlib.h>
#include <string.h>
#include "rpc-internal.h"

json_object *rpc_error_data(const char *reason)
{
	json_object *d = json_object_new_object();
	if (d && reason)
		json_object_object_add(d, "reason", json_object_new_string(reason));
	return d;
}

json_object *rpc_errno_data(int error, const char *reason)
{
	json_object *d = json_object_new_object();
	const char *name = rpc_errno_name(error);
	if (!d)
		return NULL;
	if (name)
		json_object_object_add(d, "errno", json_object_new_string(name));
	else
		json_object_object_add(d, "errno", json_object_new_int(error < 0 ? -error : error));
	if (reason)
		json_object_object_add(d, "reason", json_object_new_string(reason));
	return d;
}

static json_object *response_new(json_object *id)
{
	json_object *r = json_object_new_object();
	if (!r)
		return NULL;
	json_object_object_add(r, "jsonrpc", json_object_new_string("2.0"));
	return r;
}

json_object *rpc_response_result(json_object *id, json_object *result)
{
	json_object *r = response_new(id);
	if (!r) {
		json_object_put(result);
		return NULL;
	}
	json_object_object_add(r, "result", result);
	json_object_object_add(r, "id", json_object_get(id));
	return r;
}

json_object *rpc_response_error(json_object *id, int code, const char *message, json_object *data)
{
	json_object *r = response_new(id), *e = json_object_new_object();
	if (!r || !e) {
		json_object_put(r);
		json_object_put(e);
		json_object_put(data);
		return NULL;
	}
	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(message ? message : rpc_error_message(code)));
	json_object_object_add(e, "data", data ? data : json_object_new_object());
	json_object_object_add(r, "error", e);
	json_object_object_add(r, "id", json_object_get(id));
	return r;
}

char *rpc_to_line(json_object *obj, size_t *ret_len)
{
	size_t len;
	const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (!s)
		return NULL;
	char *buf = malloc(len + 2);
	if (!buf)
		return NULL;
	memcpy(buf, s, len);
	buf[len] = '\n';
	buf[len + 1] = '\0';
	*ret_len = len + 1;
	return buf;
}

static void entry_error(rpc_entry_t *e, int code, const char *reason)
{
	e->error_code = code;
	e->error_data = rpc_error_data(reason);
	e->has_id = true; /* errors are always answered */
}

static bool valid_id(json_object *id)
{
	switch (json_object_get_type(id)) {
	case json_type_null:
	case json_type_string:
	case json_type_int:
	case json_type_double:
		return true;
	default:
		return false;
	}
}

/* Fills e from one request object. */
static void entry_parse(rpc_entry_t *e, json_object *req)
{
	json_object *v;
	bool have_jsonrpc = false;

	if (!json_object_is_type(req, json_type_object))
		return entry_error(e, RPC_ERROR_INVALID_REQUEST, "a request must be a JSON object");

	/* Find the id first so even an invalid request is answered with it
	 * when it can be told. */
	if (json_object_object_get_ex(req, "id", &v)) {
		if (!valid_id(v))
			return entry_error(e, RPC_ERROR_INVALID_REQUEST, "\"id\" must be a string, a number or null");
		e->id = v;
		e->has_id = true;
	}

	json_object_object_foreach(req, key, val) {
		if (strcmp(key, "jsonrpc") == 0) {
			if (!json_object_is_type(val, json_type_string) || strcmp(json_object_get_string(val), "2.0") != 0 ||
			    json_object_get_string_len(val) != 3)
				return entry_error(e, RPC_ERROR_INVALID_REQUEST, "\"jsonrpc\" must be exactly \"2.0\"");
			have_jsonrpc = true;
		} else if (strcmp(key, "method") == 0) {
			if (!json_object_is_type(val, json_type_string))
				return entry_error(e, RPC_ERROR_INVALID_REQUEST, "\"method\" must be a string");
			if ((size_t)json_object_get_string_len(val) != strlen(json_object_get_string(val)))
				return entry_error(e, RPC_ERROR_INVALID_REQUEST, "\"method\" contains NUL");
			e->method = json_object_get_string(val);
		} else if (strcmp(key, "params") == 0) {
			if (!json_object_is_type(val, json_type_object) && !json_object_is_type(val, json_type_array))
				return entry_error(e, RPC_ERROR_INVALID_REQUEST, "\"params\" must be an object or an array");
			e->params = val;
		} else if (strcmp(key, "id") != 0) {
			return entry_error(e, RPC_ERROR_INVALID_REQUEST, "unknown member in request object");
		}
	}
	if (!have_jsonrpc)
		return entry_error(e, RPC_ERROR_INVALID_REQUEST, "missing \"jsonrpc\": \"2.0\"");
	if (!e->method)
		return entry_error(e, RPC_ERROR_INVALID_REQUEST, "missing \"method\"");
}

static int line_single_error(rpc_line_t *l, int code, json_object *data)
{
	l->batch = false;
	l->entries = calloc(1, sizeof(rpc_entry_t));
	if (!l->entries) {
		json_object_put(data);
		return -ENOMEM;
	}
	l->n_entries = 1;
	l->entries[0].error_code = code;
	l->entries[0].error_data = data;
	l->entries[0].has_id = true;
	return 0;
}

int rpc_line_parse(const char *p, size_t n, unsigned max_depth, rpc_line_t *ret)
{
	rpc_line_t l = { 0 };
	const char *reason;
	size_t off;

	*ret = l;
	if (rpc_json_check(p, n, max_depth, &off, &reason) < 0) {
		json_object *d = rpc_error_data(reason);
		if (d)
			json_object_object_add(d, "offset", json_object_new_int64((int64_t)off));
		return line_single_error(ret, RPC_ERROR_PARSE, d);
	}

	struct json_tokener *tok = json_tokener_new_ex((int)max_depth + 2);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8 | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	l.root = json_tokener_parse_ex(tok, p, (int)n);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		/* A bare number at the very end needs a terminator. */
		l.root = json_tokener_parse_ex(tok, " ", 1);
		jerr = json_tokener_get_error(tok);
	}
	if (jerr != json_tokener_success) { /* a NULL root is JSON null */
		json_object *d = rpc_error_data(json_tokener_error_desc(jerr));
		if (d)
			json_object_object_add(d, "offset", json_object_new_int64((int64_t)json_tokener_get_parse_end(tok)));
		json_tokener_free(tok);
		json_object_put(l.root);
		return line_single_error(ret, RPC_ERROR_PARSE, d);
	}
	json_tokener_free(tok);

	if (json_object_is_type(l.root, json_type_array)) {
		size_t len = json_object_array_length(l.root);
		if (len == 0) {
			int r = line_single_error(&l, RPC_ERROR_INVALID_REQUEST, rpc_error_data("empty batch"));
			*ret = l;
			return r;
		}
		l.batch = true;
		l.entries = calloc(len, sizeof(rpc_entry_t));
		if (!l.entries) {
			json_object_put(l.root);
			return -ENOMEM;
		}
		l.n_entries = len;
		for (size_t i = 0; i < len; i++)
			entry_parse(&l.entries[i], json_object_array_get_idx(l.root, i));
	} else {
		l.entries = calloc(1, sizeof(rpc_entry_t));
		if (!l.entries) {
			json_object_put(l.root);
			return -ENOMEM;
		}
		l.n_entries = 1;
		entry_parse(&l.entries[0], l.root);
	}
	*ret = l;
	return 0;
}

void rpc_line_done(rpc_line_t *l)
{
	for (size_t i = 0; i < l->n_entries; i++)
		json_object_put(l->entries[i].error_data);
	free(l->entries);
	json_object_put(l->root);
	*l = (rpc_line_t){ 0 };
}
