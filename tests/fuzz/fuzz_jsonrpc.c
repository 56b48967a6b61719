/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: bytes off the socket -> lines -> JSON-RPC entries ->
 * params validation -> encoded responses, exactly as the server runs them
 * (without the socket). Also cross-checks the strict syntax scanner with
 * json-c: ASCII text the scanner accepts must parse.
 */
/* fuzz-sources: rpc/jsonrpc.c rpc/jsonscan.c rpc/json.c rpc/schema.c rpc/pattern.c rpc/errors.c */
#include <stdlib.h>
#include <string.h>
#include "rpc-internal.h"

static const rpc_schema_t str_schema = { .type = RPC_TYPE_STRING, .has_max = true, .max = 16 };
static const rpc_schema_t key_schema = { .type = RPC_TYPE_STRING, .pattern = "[a-z][a-z0-9._-]*" };
static const char *const backends[] = { "kvm", "ch", NULL };
static const rpc_field_t workload[] = {
	{ "hash", true, { .type = RPC_TYPE_STRING, .pattern = "sha256:[0-9a-f]{64}" } },
	{ "args", false, { .type = RPC_TYPE_ARRAY, .items = &str_schema, .has_max = true, .max = 8 } },
	{ "env", false, { .type = RPC_TYPE_OBJECT, .values = &str_schema, .keys = &key_schema } },
	{ NULL },
};
static const rpc_field_t fields[] = {
	{ "id", false, { .type = RPC_TYPE_STRING, .has_min = true, .min = 1, .has_max = true, .max = 64 } },
	{ "backend", false, { .type = RPC_TYPE_STRING, .enum_values = backends } },
	{ "vcpus", false, { .type = RPC_TYPE_INTEGER, .has_min = true, .min = 1, .has_max = true, .max = 64 } },
	{ "ratio", false, { .type = RPC_TYPE_NUMBER } },
	{ "force", false, { .type = RPC_TYPE_BOOLEAN } },
	{ "workload", false, { .type = RPC_TYPE_OBJECT, .fields = workload } },
	{ "labels", false, { .type = RPC_TYPE_OBJECT, .values = &str_schema, .keys = &key_schema, .has_max = true, .max = 4 } },
	{ "any", false, { .type = RPC_TYPE_ANY } },
	{ NULL },
};

static rpc_regex_cache_t *cache;
static struct json_tokener *tok;

static void one_line(const char *p, size_t n)
{
	rpc_line_t l;
	size_t len;

	bool ascii = true;
	for (size_t i = 0; i < n && ascii; i++)
		ascii = (unsigned char)p[i] < 0x80;

	if (rpc_line_parse(p, n, 64, &l) < 0)
		return;
	/* ASCII text the scanner accepts must be JSON to json-c too. */
	if (ascii && rpc_json_check(p, n, 64, NULL, NULL) == 0) {
		json_tokener_reset(tok);
		json_object *o = json_tokener_parse_ex(tok, p, (int)n);
		if (json_tokener_get_error(tok) == json_tokener_continue) {
			o = json_tokener_parse_ex(tok, " ", 1);
		}
		if (json_tokener_get_error(tok) != json_tokener_success)
			abort(); /* the scanner and json-c disagree */
		/* Our builder must read it as json-c does, except where json-c
		 * is lossy (\u escapes of surrogates, integers past 64 bits). */
		json_object *mine = NULL;
		int r = rpc_json_build(p, n, &mine);
		bool comparable = r == 0 && !memmem(p, n, "\\u", 2);
		for (size_t i = 0, run = 0; i < n && comparable; i++) {
			run = (p[i] >= '0' && p[i] <= '9') ? run + 1 : 0;
			comparable = run < 18;
		}
		if (comparable && !json_object_equal(mine, o))
			abort();
		/* What we write, we read back the same. */
		if (r == 0) {
			rpc_buf_t b = { 0 };
			if (rpc_json_append(&b, mine, 0) == 0) {
				json_object *again = NULL;
				if (rpc_json_check(b.p, b.len, 1100, NULL, NULL) < 0 || rpc_json_build(b.p, b.len, &again) < 0)
					abort();
				rpc_buf_t b2 = { 0 };
				if (rpc_json_append(&b2, again, 0) < 0 || b2.len != b.len || memcmp(b.p, b2.p, b.len))
					abort();
				free(b2.p);
				json_object_put(again);
			}
			free(b.p);
		}
		json_object_put(mine);
		json_object_put(o);
	}

	for (size_t i = 0; i < l.n_entries; i++) {
		rpc_entry_t *e = &l.entries[i];
		json_object *data = NULL, *params = NULL;
		char *s;
		if (e->error_code) {
			s = rpc_response_error(e->id, e->id_len, e->error_code, NULL, TAKE_PTR(e->error_data), &len);
		} else {
			int r = 0;
			if (!e->params)
				params = json_object_new_object();
			else if (json_object_is_type(e->params, json_type_array))
				r = rpc_params_from_array(fields, e->params, &params, &data);
			else
				params = json_object_get(e->params);
			if (r == 0)
				r = rpc_validate_params(fields, params, cache, &data);
			if (r < 0)
				s = rpc_response_error(e->id, e->id_len, RPC_ERROR_INVALID_PARAMS, NULL, data, &len);
			else
				s = rpc_response_result(e->id, e->id_len, json_object_get(params), &len);
			json_object_put(params);
		}
		/* Every answer is one line of JSON that json-c reads back. */
		if (s) {
			if (memchr(s, '\n', len))
				abort();
			json_tokener_reset(tok);
			json_object *o = json_tokener_parse_ex(tok, s, (int)len + 1);
			if (!o)
				abort();
			json_object_put(o);
		}
		free(s);
	}
	rpc_line_done(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!cache) {
		cache = rpc_regex_cache_new();
		tok = json_tokener_new_ex(200);
		if (rpc_regex_cache_add_fields(cache, fields) < 0)
			abort();
	}
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		one_line(p, n);
		p += n + 1;
	}
	return 0;
}
