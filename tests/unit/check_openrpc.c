/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc/openrpc.c: what the document says beyond params (result schemas as
 * components, errors, examples, notifications, this node's bounds), and
 * that every method of mvmd's table documents its result and errors, so a
 * method added without them fails here (docs/hacking.md says how to add
 * them).
 */
#include <check.h>
#include <errno.h>
#include <string.h>
#include "methods.h"
#include "rpc-internal.h"
#include "util/macro.h"
#include "mvmt-main.h"

static void nop(rpc_call_t *call, json_object *params, void *userdata)
{
	rpc_call_reply(call, NULL);
}

static const char *plain(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static json_object *method(json_object *doc, const char *name)
{
	json_object *ms = json_object_object_get(doc, "methods");
	for (size_t i = 0; i < json_object_array_length(ms); i++) {
		json_object *m = json_object_array_get_idx(ms, i);
		if (strcmp(json_object_get_string(json_object_object_get(m, "name")), name) == 0)
			return m;
	}
	return NULL;
}

static const rpc_field_t thing_fields[] = {
	{ "id", true, { .type = RPC_TYPE_STRING } },
	{ "note", true, { .type = RPC_TYPE_STRING, .nullable = true } },
	{ "when", false, { .type = RPC_TYPE_STRING, .format = "date-time" } },
	{ NULL },
};
static const rpc_schema_t thing = { .type = RPC_TYPE_OBJECT, .component = "Thing", .fields = thing_fields };
static const rpc_field_t list_fields[] = {
	{ "things", true, { .type = RPC_TYPE_ARRAY, .items = &thing } },
	{ NULL },
};
static const rpc_schema_t list_result = { .type = RPC_TYPE_OBJECT, .fields = list_fields };
static const rpc_field_t size_params[] = {
	{ "mib", true, { .type = RPC_TYPE_INTEGER, .has_min = true, .min = 1, .has_max = true, .max = 1000, .limit = "t.mib" } },
	{ "data", false, { .type = RPC_TYPE_STRING, .limit = "rpc.max_request_bytes" } },
	{ "n", false, { .type = RPC_TYPE_INTEGER, .has_max = true, .max = 10, .limit = "t.unknown" } },
	{ NULL },
};
static const rpc_example_t get_examples[] = {
	{ "one", "{\"mib\":5}", "{\"id\":\"a\",\"note\":null}" },
	{ NULL },
};

static int limit_fn(const char *name, int64_t *ret, void *userdata)
{
	ck_assert_ptr_eq(userdata, (void *)nop);
	if (strcmp(name, "t.mib") != 0)
		return -ENOENT;
	*ret = 300;
	return 0;
}

static const int get_errors[] = { RPC_ERROR_NOT_FOUND, RPC_ERROR_INVALID_PARAMS, 0 };
static const int no_errors[] = { 0 };
static const int unknown_errors[] = { -31999, 0 };

START_TEST(components_errors_examples)
{
	static const rpc_method_t m[] = {
		{ "t.get", "Get", size_params, &thing, nop, 0, get_errors, get_examples },
		{ "t.list", "List", NULL, &list_result, nop, 0, no_errors, NULL },
		{ "t.changed", "Notification", thing_fields, NULL, NULL, RPC_METHOD_NOTIFICATION, NULL, NULL },
	};
	rpc_limits_t l;
	json_object *doc = NULL, *get, *v;

	rpc_limits_default(&l);
	ck_assert_int_eq(rpc_openrpc_build(m, ELEMENTSOF(m), "t", "1", &l, limit_fn, (void *)nop, &doc), 0);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(doc, "openrpc")), "1.3.2");
	/* Thing once under components, $ref where used (twice) */
	v = json_object_object_get(json_object_object_get(json_object_object_get(doc, "components"), "schemas"), "Thing");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(plain(v), "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},"
				   "\"note\":{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]},"
				   "\"when\":{\"type\":\"string\",\"format\":\"date-time\"}},"
				   "\"required\":[\"id\",\"note\"],\"additionalProperties\":false,\"title\":\"Thing\"}");
	get = method(doc, "t.get");
	ck_assert_str_eq(plain(json_object_object_get(json_object_object_get(get, "result"), "schema")),
			 "{\"$ref\":\"#/components/schemas/Thing\"}");
	ck_assert_ptr_nonnull(strstr(plain(method(doc, "t.list")), "\"items\":{\"$ref\":\"#/components/schemas/Thing\"}"));
	/* the node's bound where lower; the server's own; unknown: static */
	ck_assert_ptr_nonnull(strstr(plain(get), "\"name\":\"mib\",\"required\":true,\"schema\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":300}"));
	ck_assert_ptr_nonnull(strstr(plain(get), "\"schema\":{\"type\":\"string\",\"maxLength\":1048576}"));
	ck_assert_ptr_nonnull(strstr(plain(get), "\"maximum\":10}"));
	/* the common errors first, then the method's, each once */
	ck_assert_str_eq(plain(json_object_object_get(get, "errors")),
			 "[{\"$ref\":\"#/components/errors/InvalidParams\"},{\"$ref\":\"#/components/errors/InternalError\"},"
			 "{\"$ref\":\"#/components/errors/ResourceLimit\"},{\"$ref\":\"#/components/errors/NotFound\"}]");
	ck_assert_str_eq(plain(json_object_object_get(get, "examples")),
			 "[{\"name\":\"one\",\"params\":[{\"name\":\"mib\",\"value\":5}],"
			 "\"result\":{\"name\":\"result\",\"value\":{\"id\":\"a\",\"note\":null}}}]");
	/* a notification: marked, no errors, its result null (never sent) */
	v = method(doc, "t.changed");
	ck_assert_str_eq(plain(json_object_object_get(json_object_object_get(v, "result"), "schema")), "{\"type\":\"null\"}");
	ck_assert(!json_object_object_get_ex(v, "errors", NULL));
	ck_assert(json_object_get_boolean(json_object_object_get(v, "x-notification")));
	ck_assert_int_eq(json_object_array_length(json_object_object_get(v, "params")), 3);
	/* the server's bounds */
	v = json_object_object_get(json_object_object_get(doc, "info"), "x-limits");
	ck_assert_int_eq(json_object_get_int64(json_object_object_get(v, "max_request_bytes")), (int64_t)l.max_request_bytes);
	json_object_put(doc);

	/* without limit_fn or limits: the static bound */
	doc = rpc_openrpc_document(m, ELEMENTSOF(m), "t", "1");
	ck_assert_ptr_nonnull(strstr(plain(method(doc, "t.get")), "\"minimum\":1,\"maximum\":1000}"));
	ck_assert(!json_object_object_get_ex(json_object_object_get(doc, "info"), "x-limits", NULL));
	json_object_put(doc);
}
END_TEST

START_TEST(tables_that_document_themselves_wrongly)
{
	static const rpc_schema_t other = { .type = RPC_TYPE_STRING, .component = "Thing" };
	static const rpc_example_t bad_json[] = { { "x", "{\"mib\":", NULL }, { NULL } };
	static const rpc_example_t not_object[] = { { "x", "[1]", NULL }, { NULL } };
	const rpc_method_t two_things[] = { { "a", NULL, NULL, &thing, nop, 0, NULL, NULL },
					    { "b", NULL, NULL, &other, nop, 0, NULL, NULL } };
	const rpc_method_t unknown_code[] = { { "a", NULL, NULL, &thing, nop, 0, unknown_errors, NULL } };
	const rpc_method_t bad_example[] = { { "a", NULL, NULL, &thing, nop, 0, NULL, bad_json } };
	const rpc_method_t params_not_object[] = { { "a", NULL, NULL, &thing, nop, 0, NULL, not_object } };
	/* A copy of a component's struct is the same component. */
	const rpc_field_t copies[] = { { "x", true, thing }, { "y", true, thing }, { NULL } };
	const rpc_schema_t pair = { .type = RPC_TYPE_OBJECT, .fields = copies };
	const rpc_method_t copied[] = { { "a", NULL, NULL, &pair, nop, 0, NULL, NULL } };
	json_object *doc = NULL;
	sd_event *e = NULL;
	rpc_server_t *s = NULL;

	ck_assert_int_eq(rpc_openrpc_build(two_things, 2, "t", "1", NULL, NULL, NULL, &doc), -EINVAL);
	ck_assert_int_eq(rpc_openrpc_build(unknown_code, 1, "t", "1", NULL, NULL, NULL, &doc), -EINVAL);
	ck_assert_int_eq(rpc_openrpc_build(bad_example, 1, "t", "1", NULL, NULL, NULL, &doc), -EINVAL);
	ck_assert_int_eq(rpc_openrpc_build(params_not_object, 1, "t", "1", NULL, NULL, NULL, &doc), -EINVAL);
	ck_assert_ptr_null(doc);
	ck_assert_int_eq(rpc_openrpc_build(copied, 1, "t", "1", NULL, NULL, NULL, &doc), 0);
	json_object_put(doc);
	/* ... and the server refuses such a table at startup */
	ck_assert_int_ge(sd_event_new(&e), 0);
	ck_assert_int_eq(rpc_server_new(e, two_things, 2, NULL, "t", "1", NULL, &s), -EINVAL);
	ck_assert_int_eq(rpc_server_new(e, copied, 1, NULL, "t", "1", NULL, &s), 0);
	rpc_server_free(s);
	sd_event_unref(e);
}
END_TEST

/* The check a method added without its documentation fails. */
START_TEST(mvmd_table_documents_every_method)
{
	size_t n;
	const rpc_method_t *m = methods_table(&n);
	json_object *doc = NULL;
	unsigned notifications = 0;

	ck_assert_int_gt(n, 10);
	for (size_t i = 0; i < n; i++) {
		if (m[i].flags & RPC_METHOD_NOTIFICATION) {
			ck_assert_msg(!m[i].handler && !m[i].result, "%s: a notification has no handler or result", m[i].name);
			notifications++;
			continue;
		}
		const rpc_schema_t *r = m[i].result;
		ck_assert_msg(r, "%s has no result schema (docs/hacking.md: adding a method)", m[i].name);
		ck_assert_msg(r->type != RPC_TYPE_OBJECT || r->fields || r->values,
			      "%s: its result is an untyped object: list its fields", m[i].name);
		ck_assert_msg(m[i].errors, "%s declares no errors (METHODS_ERRORS or METHODS_NO_ERRORS)", m[i].name);
	}
	ck_assert_uint_eq(notifications, 4); /* compute.vm.event, compute.blob.pull.progress, compute.vm.answer, compute.interface.message */
	ck_assert_int_eq(rpc_openrpc_build(m, n, "mvmd", "0", NULL, NULL, NULL, &doc), 0);
	json_object_put(doc);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "core",
		.tests = MVMT_TESTS(
			MVMT_TEST(components_errors_examples),
			MVMT_TEST(tables_that_document_themselves_wrongly),
			MVMT_TEST(mvmd_table_documents_every_method)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "openrpc", .tcases = tcases)
