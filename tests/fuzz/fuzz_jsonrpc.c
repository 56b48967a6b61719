/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: bytes off the socket -> lines -> JSON-RPC entries ->
 * params validation -> encoded responses, exactly as the server runs them
 * (without the socket). Also cross-checks the strict syntax scanner with
 * json-c: ASCII text the scanner accepts must parse.
 */
/* fuzz-sources: rpc/jsonrpc.c rpc/jsonscan.c rpc/schema.c rpc/errors.c */
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

static void one_line(const char *p, size_t n)
{
	rpc_line_t l;
	size_t len;

	bool ascii = true;
	for (size_t i = 0; i < n && ascii; i++)
		ascii = (unsigned char)p[i] < 0x80;

	if (rpc_line_parse(p, n, 64, &l) < 0)
		return;
	if (ascii && rpc_json_check(p, n, 64, NULL, NULL) == 0 && l.n_entries == 1 &&
	    l.entries[0].error_code == RPC_ERROR_PARSE)
		abort(); /* the scanner and json-c disagree */

	json_object *out = json_object_new_array();
	for (size_t i = 0; i < l.n_entries; i++) {
		rpc_entry_t *e = &l.entries[i];
		json_object *resp, *data = NULL, *params = NULL;
		if (e->error_code) {
			resp = rpc_response_error(e->id, e->error_code, NULL, TAKE_PTR(e->error_data));
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
				resp = rpc_response_error(e->id, RPC_ERROR_INVALID_PARAMS, NULL, data);
			else
				resp = rpc_response_result(e->id, json_object_get(params));
			json_object_put(params);
		}
		json_object_array_add(out, resp);
	}
	char *s = rpc_to_line(out, &len);
	if (s && memchr(s, '\n', len - 1))
		abort(); /* a response must be one line */
	free(s);
	json_object_put(out);
	rpc_line_done(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!cache) {
		cache = rpc_regex_cache_new();
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
