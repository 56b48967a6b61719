/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON-RPC 2.0 request parsing and response encoding for one line.
 *
 * A line becomes a list of entries: a single request is one entry, a batch
 * one per element. Entries that are not valid Request objects carry their
 * error here already, so the server only has to dispatch the valid ones
 * and collect answers in order.
 *
 * The line is first checked by the strict scanner (jsonscan.c), so the
 * walkers below may assume well-formed JSON. Only params become json-c
 * objects (built by json.c, not json-c's tokener): building objects is
 * what costs most, and the envelope is needed only as text.
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

/* "<head><body>,\"id\":<id>}", at most max bytes (0: any) */
static char *response_build(const char *head, size_t head_len, json_object *body, const char *id, size_t id_len,
			    size_t max, size_t *ret_len, int *ret_error)
{
	rpc_buf_t b = { .max = max };
	int r;

	if (!id) {
		id = "null";
		id_len = 4;
	}
	if ((r = rpc_buf_reserve(&b, head_len + id_len + 64)) < 0 || (r = rpc_buf_add(&b, head, head_len)) < 0 ||
	    (r = rpc_json_append(&b, body, 0)) < 0 || (r = rpc_buf_add(&b, ",\"id\":", 6)) < 0 ||
	    (r = rpc_buf_add(&b, id, id_len)) < 0 || (r = rpc_buf_add(&b, "}", 1)) < 0) {
		free(b.p);
		if (ret_error)
			*ret_error = r;
		return NULL;
	}
	*ret_len = b.len;
	return b.p;
}

char *rpc_response_result_max(const char *id, size_t id_len, json_object *result, size_t max, size_t *ret_len,
			      int *ret_error)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"result\":";
	char *s = response_build(head, sizeof(head) - 1, result, id, id_len, max, ret_len, ret_error);
	json_object_put(result);
	return s;
}

char *rpc_response_result(const char *id, size_t id_len, json_object *result, size_t *ret_len)
{
	return rpc_response_result_max(id, id_len, result, 0, ret_len, NULL);
}

char *rpc_response_error(const char *id, size_t id_len, int code, const char *message, json_object *data,
			 size_t *ret_len)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"error\":";
	json_object *e = json_object_new_object();

	if (!e) {
		json_object_put(data);
		return NULL;
	}
	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(message ? message : rpc_error_message(code)));
	json_object_object_add(e, "data", data ? data : json_object_new_object());
	char *s = response_build(head, sizeof(head) - 1, e, id, id_len, 0, ret_len, NULL);
	json_object_put(e);
	return s;
}

static const int json_flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;

char *rpc_to_line(json_object *obj, size_t *ret_len)
{
	size_t len;
	const char *s = json_object_to_json_string_length(obj, json_flags, &len);
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

/* --- walking checked JSON ------------------------------------------------------ */

static size_t skip_ws(const char *p, size_t n, size_t i)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i;
}

static size_t skip_string(const char *p, size_t n, size_t i)
{
	for (i++; i < n && p[i] != '"'; i++)
		if (p[i] == '\\')
			i++;
	return i + 1;
}

static size_t skip_value(const char *p, size_t n, size_t i)
{
	if (p[i] == '"')
		return skip_string(p, n, i);
	if (p[i] == '{' || p[i] == '[') {
		unsigned depth = 0;
		for (; i < n; i++) {
			char c = p[i];
			if (c == '"')
				i = skip_string(p, n, i) - 1;
			else if (c == '{' || c == '[')
				depth++;
			else if ((c == '}' || c == ']') && --depth == 0)
				return i + 1;
		}
		return n;
	}
	for (; i < n; i++)
		switch (p[i]) {
		case ',': case ']': case '}': case ' ': case '\t': case '\r': case '\n':
			return i;
		}
	return i;
}

/* The string token p[0..len) (quotes included), decoded. Sets *has_nul
 * when it contains U+0000. */
static char *decode_string(const char *p, size_t len, bool *has_nul)
{
	char *out = malloc(len);
	if (!out)
		return NULL;
	size_t n = rpc_json_unescape(p + 1, len - 2, out);
	out[n] = '\0';
	*has_nul = strlen(out) != n;
	return out;
}

static bool key_is(const char *p, size_t len, const char *name, const char *decoded)
{
	if (decoded)
		return strcmp(decoded, name) == 0;
	size_t nl = strlen(name);
	return len == nl + 2 && memcmp(p + 1, name, nl) == 0;
}

/* --- request objects ----------------------------------------------------------- */

static void entry_free_method(rpc_entry_t *e)
{
	if (e->method != e->method_buf)
		free(e->method);
	e->method = NULL;
}

static void entry_error(rpc_entry_t *e, int code, const char *reason)
{
	e->error_code = code;
	e->error_data = rpc_error_data(reason);
	e->has_id = true; /* errors are always answered */
	entry_free_method(e);
	json_object_put(e->params);
	e->params = NULL;
}

/* Fills e from the request p[0..n) (one JSON value). */
static void entry_parse(rpc_entry_t *e, const char *p, size_t n)
{
	const char *reason = NULL;
	bool bad_id = false, have_jsonrpc = false, nul;
	/* Members seen: a second "method" must not quietly replace the
	 * first (a proxy that checked the first would be fooled). */
	enum { SEEN_ID = 1, SEEN_JSONRPC = 2, SEEN_METHOD = 4, SEEN_PARAMS = 8 };
	unsigned seen = 0, seen_twice = 0, member;
	size_t i;

	if (p[0] != '{')
		return entry_error(e, RPC_ERROR_INVALID_REQUEST, "a request must be a JSON object");

	i = skip_ws(p, n, 1);
	while (i < n && p[i] == '"') {
		size_t ks = i, ke = skip_string(p, n, i);
		_cleanup_free_ char *key = NULL;
		if (memchr(p + ks, '\\', ke - ks)) {
			if (!(key = decode_string(p + ks, ke - ks, &nul)))
				return entry_error(e, RPC_ERROR_INTERNAL, "out of memory");
			if (nul)
				key[0] = '\0'; /* matches no member name: unknown */
		}
		i = skip_ws(p, n, ke) + 1; /* ':' */
		size_t vs = skip_ws(p, n, i), ve;
		const char *v = p + vs;
		bool is_params = key_is(p + ks, ke - ks, "params", key);
		member = is_params ? SEEN_PARAMS : key_is(p + ks, ke - ks, "id", key) ? SEEN_ID
			 : key_is(p + ks, ke - ks, "jsonrpc", key) ? SEEN_JSONRPC
			 : key_is(p + ks, ke - ks, "method", key) ? SEEN_METHOD : 0;
		if (seen & member) {
			reason = reason ? reason : "duplicate member in request object";
			seen_twice |= member;
		}
		seen |= member;
		/* params are built while walked; everything else is skipped */
		ve = is_params && (v[0] == '{' || v[0] == '[') ? vs : skip_value(p, n, vs);
		size_t vl = ve - vs;

		if (member == SEEN_ID) {
			if (v[0] == '"' || v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
				e->id = v;
				e->id_len = vl;
			} else if (v[0] == 'n') {
				e->id = NULL;
			} else
				bad_id = true;
			e->has_id = true;
		} else if (member == SEEN_JSONRPC) {
			_cleanup_free_ char *ver = NULL;
			bool exact = vl == 5 && memcmp(v, "\"2.0\"", 5) == 0;
			if (!exact && (v[0] != '"' || !(ver = decode_string(v, vl, &nul)) || strcmp(ver, "2.0") != 0 || nul))
				reason = reason ? reason : "\"jsonrpc\" must be exactly \"2.0\"";
			else
				have_jsonrpc = true;
		} else if (member == SEEN_METHOD) {
			entry_free_method(e);
			nul = false;
			if (v[0] != '"')
				reason = reason ? reason : "\"method\" must be a string";
			else if (vl - 2 < sizeof(e->method_buf) && !memchr(v, '\\', vl)) {
				e->method = memcpy(e->method_buf, v + 1, vl - 2);
				e->method[vl - 2] = '\0';
			} else if (!(e->method = decode_string(v, vl, &nul)))
				return entry_error(e, RPC_ERROR_INTERNAL, "out of memory");
			else if (nul)
				reason = reason ? reason : "\"method\" contains NUL";
		} else if (is_params) {
			json_object_put(e->params);
			e->params = NULL;
			if (v[0] != '{' && v[0] != '[') {
				reason = reason ? reason : "\"params\" must be an object or an array";
			} else {
				int r = rpc_json_build_at(p, n, &ve, &e->params);
				if (r == -EBADMSG)
					reason = reason ? reason : "a params member name contains U+0000";
				else if (r == -EEXIST)
					reason = reason ? reason : "duplicate member name in params";
				else if (r < 0)
					return entry_error(e, RPC_ERROR_INTERNAL, "out of memory");
			}
		} else {
			reason = reason ? reason : "unknown member in request object";
		}
		i = skip_ws(p, n, ve);
		if (i < n && p[i] == ',')
			i = skip_ws(p, n, i + 1);
	}

	/* Two ids: which one the client would match is anyone's guess. */
	if (seen_twice & SEEN_ID)
		e->id = NULL;
	/* An id of the wrong type cannot be echoed: answer with null. */
	if (bad_id) {
		e->id = NULL;
		return entry_error(e, RPC_ERROR_INVALID_REQUEST, "\"id\" must be a string, a number or null");
	}
	if (reason)
		return entry_error(e, RPC_ERROR_INVALID_REQUEST, reason);
	if (!have_jsonrpc)
		return entry_error(e, RPC_ERROR_INVALID_REQUEST, "missing \"jsonrpc\": \"2.0\"");
	if (!e->method)
		return entry_error(e, RPC_ERROR_INVALID_REQUEST, "missing \"method\"");
}

static int line_single_error(rpc_line_t *l, int code, json_object *data)
{
	l->batch = false;
	l->entries = &l->one;
	l->n_entries = 1;
	l->entries[0].error_code = code;
	l->entries[0].error_data = data;
	l->entries[0].has_id = true;
	return 0;
}

int rpc_line_parse(const char *p, size_t n, unsigned max_depth, rpc_line_t *ret)
{
	const char *reason;
	size_t off, i;
	int r = 0;

	*ret = (rpc_line_t){ 0 };
	if (rpc_json_check(p, n, max_depth, &off, &reason) < 0) {
		json_object *d = rpc_error_data(reason);
		if (d)
			json_object_object_add(d, "offset", json_object_new_int64((int64_t)off));
		return line_single_error(ret, RPC_ERROR_PARSE, d);
	}

	i = skip_ws(p, n, 0);
	if (p[i] == '[') {
		/* Count the elements, then parse each. */
		size_t count = 0;
		for (size_t j = skip_ws(p, n, i + 1); j < n && p[j] != ']';) {
			count++;
			j = skip_ws(p, n, skip_value(p, n, j));
			if (p[j] == ',')
				j = skip_ws(p, n, j + 1);
		}
		if (count == 0) {
			r = line_single_error(ret, RPC_ERROR_INVALID_REQUEST, rpc_error_data("empty batch"));
			goto out;
		}
		ret->entries = calloc(count, sizeof(rpc_entry_t));
		if (!ret->entries) {
			r = -ENOMEM;
			goto out;
		}
		ret->batch = true;
		ret->n_entries = count;
		size_t j = skip_ws(p, n, i + 1);
		for (size_t k = 0; k < count; k++) {
			size_t end = skip_value(p, n, j);
			entry_parse(&ret->entries[k], p + j, end - j);
			j = skip_ws(p, n, end);
			if (p[j] == ',')
				j = skip_ws(p, n, j + 1);
		}
	} else {
		ret->entries = &ret->one;
		ret->n_entries = 1;
		/* The scanner proved the value runs to the end of the line
		 * (bar trailing blanks, which the walker skips). */
		entry_parse(&ret->entries[0], p + i, n - i);
	}
out:
	return r;
}

void rpc_line_done(rpc_line_t *l)
{
	for (size_t i = 0; i < l->n_entries; i++) {
		json_object_put(l->entries[i].error_data);
		json_object_put(l->entries[i].params);
		entry_free_method(&l->entries[i]);
	}
	if (l->entries != &l->one)
		free(l->entries);
	*l = (rpc_line_t){ 0 };
}
