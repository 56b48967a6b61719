/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pure parts of rpc/: the strict JSON check, request parsing, response
 * encoding, schema validation, the errno table and the OpenRPC document.
 */
#include <check.h>
#include <errno.h>
#include <string.h>
#include "rpc-internal.h"
#include "util/log.h"
#include "mvmt-main.h"

/* --- syntax ------------------------------------------------------------------ */

START_TEST(json_check)
{
	static const char *const good[] = {
		"{}", "[]", "0", "-0", "1.5e-3", "\"\\u00e9\\n\"", " [1, {\"a\": [true, false, null]}] ",
		"{\"a\":\"\xc3\xa9\"}", "1E+2", "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]",
		"\"\\ud83d\\ude00\"", "\"\\uDBFF\\uDFFFx\"", "\"\\ud7ff\\ue000\"",
	};
	static const char *const bad[] = {
		"", " ", "{", "[1,]", "{\"a\":1,}", "{'a':1}", "NaN", "Infinity", "01", "1.", ".5", "-", "1e",
		"\"abc", "\"\\x\"", "\"\\u12G4\"", "\"a\tb\"", "{\"a\" 1}", "{1:2}", "[1 2]", "{} {}", "tru", "nul",
		"[1]]", "+1", "{\"a\":1}x",
		/* lone UTF-16 surrogates: no character, no UTF-8 form */
		"\"\\ud800\"", "\"\\udc00\"", "\"\\ud800x\"", "\"\\ud800\\u0041\"", "\"\\udbff\\ud800\"",
		"\"\\ud83d\\ude00\\udc00\"", "{\"\\ud800\":1}", "\"\\ud800\\",
	};
	for (size_t i = 0; i < ELEMENTSOF(good); i++)
		ck_assert_msg(rpc_json_check(good[i], strlen(good[i]), 64, NULL, NULL) == 0, "refused %s", good[i]);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		size_t off = 999;
		const char *reason = NULL;
		ck_assert_msg(rpc_json_check(bad[i], strlen(bad[i]), 64, &off, &reason) == -EINVAL, "accepted %s", bad[i]);
		ck_assert_ptr_nonnull(reason);
		ck_assert_uint_le(off, strlen(bad[i]));
	}
	/* Depth: exactly max_depth containers pass. */
	char deep[200];
	memset(deep, '[', 64);
	memset(deep + 64, ']', 64);
	ck_assert_int_eq(rpc_json_check(deep, 128, 64, NULL, NULL), 0);
	ck_assert_int_eq(rpc_json_check(deep, 128, 63, NULL, NULL), -EINVAL);
	/* Even an absurd max_depth is capped by the scanner's own limit. */
	char *huge = malloc(4000);
	memset(huge, '[', 2000);
	memset(huge + 2000, ']', 2000);
	ck_assert_int_eq(rpc_json_check(huge, 4000, 100000, NULL, NULL), -EINVAL);
	free(huge);
}
END_TEST

/* --- request parsing ---------------------------------------------------------- */

static void parse(const char *s, rpc_line_t *l)
{
	ck_assert_int_eq(rpc_line_parse(s, strlen(s), 64, l), 0);
}

START_TEST(parse_requests)
{
	rpc_line_t l;

	parse("{\"jsonrpc\":\"2.0\",\"method\":\"a.b\",\"params\":{\"x\":1},\"id\":7}", &l);
	ck_assert(!l.batch);
	ck_assert_int_eq(l.n_entries, 1);
	ck_assert_int_eq(l.entries[0].error_code, 0);
	ck_assert_str_eq(l.entries[0].method, "a.b");
	ck_assert(l.entries[0].has_id);
	ck_assert_int_eq(l.entries[0].id_len, 1);
	ck_assert_int_eq(l.entries[0].id[0], '7');
	ck_assert_ptr_nonnull(l.entries[0].params);
	rpc_line_done(&l);

	/* notification; null id is a request, not a notification */
	parse("{\"jsonrpc\":\"2.0\",\"method\":\"n\"}", &l);
	ck_assert(!l.entries[0].has_id);
	rpc_line_done(&l);
	parse("{\"jsonrpc\":\"2.0\",\"method\":\"n\",\"id\":null}", &l);
	ck_assert(l.entries[0].has_id);
	ck_assert_ptr_null(l.entries[0].id);
	rpc_line_done(&l);

	/* parse error: one error entry with the offset */
	parse("{\"jsonrpc\":\"2.0\",", &l);
	ck_assert_int_eq(l.n_entries, 1);
	ck_assert_int_eq(l.entries[0].error_code, RPC_ERROR_PARSE);
	json_object *off;
	ck_assert(json_object_object_get_ex(l.entries[0].error_data, "offset", &off));
	ck_assert_ptr_null(l.entries[0].id);
	rpc_line_done(&l);

	/* invalid UTF-8 passes the scanner but not json-c */
	parse("{\"jsonrpc\":\"2.0\",\"method\":\"\xff\"}", &l);
	ck_assert_int_eq(l.entries[0].error_code, RPC_ERROR_PARSE);
	rpc_line_done(&l);

	/* empty batch: one non-batch error */
	parse("[]", &l);
	ck_assert(!l.batch);
	ck_assert_int_eq(l.entries[0].error_code, RPC_ERROR_INVALID_REQUEST);
	rpc_line_done(&l);

	/* mixed batch */
	parse("[{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":\"x\"}, 5, {\"jsonrpc\":\"2.0\",\"method\":\"b\"},"
	      "{\"jsonrpc\":\"2.0\",\"method\":\"c\",\"id\":{}}, {\"jsonrpc\":\"1.0\",\"method\":\"d\",\"id\":3}]", &l);
	ck_assert(l.batch);
	ck_assert_int_eq(l.n_entries, 5);
	ck_assert_int_eq(l.entries[0].error_code, 0);
	ck_assert_int_eq(l.entries[1].error_code, RPC_ERROR_INVALID_REQUEST);
	ck_assert(l.entries[1].has_id); /* errors are answered */
	ck_assert_int_eq(l.entries[2].error_code, 0);
	ck_assert(!l.entries[2].has_id);
	ck_assert_int_eq(l.entries[3].error_code, RPC_ERROR_INVALID_REQUEST);
	ck_assert_ptr_null(l.entries[3].id); /* a bad id is answered as null */
	ck_assert_int_eq(l.entries[4].error_code, RPC_ERROR_INVALID_REQUEST);
	ck_assert_int_eq(l.entries[4].id[0], '3'); /* a good id is kept */
	rpc_line_done(&l);

	/* top-level scalars and bad member types */
	static const char *const invalid[] = {
		"1", "\"x\"", "null", "true",
		"{\"jsonrpc\":\"2.0\",\"method\":[]}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":\"s\"}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":null}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":false}",
		"{\"jsonrpc\":\"2.00\",\"method\":\"a\"}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"x\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\\u0000b\"}",
		/* a member twice: the first must not be quietly replaced */
		"{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.remove\",\"method\":\"compute.node.info\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"jsonrpc\":\"2.0\",\"method\":\"a\"}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":{},\"params\":{}}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"\\u006dethod\":\"b\"}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":{\"id\":\"x\",\"id\":\"y\"},\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":{\"w\":{\"env\":{\"K\":\"1\",\"K\":\"2\"}}}}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":[{\"x\":1,\"x\":1}]}",
	};
	for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
		parse(invalid[i], &l);
		ck_assert_msg(l.entries[0].error_code == RPC_ERROR_INVALID_REQUEST, "%s", invalid[i]);
		rpc_line_done(&l);
	}
	/* Two ids: neither is echoed. */
	parse("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1,\"id\":2}", &l);
	ck_assert_int_eq(l.entries[0].error_code, RPC_ERROR_INVALID_REQUEST);
	ck_assert_ptr_null(l.entries[0].id);
	rpc_line_done(&l);
	/* A lone surrogate anywhere in the line is a parse error. */
	parse("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":{\"name\":\"\\ud800\"},\"id\":1}", &l);
	ck_assert_int_eq(l.entries[0].error_code, RPC_ERROR_PARSE);
	rpc_line_done(&l);
}
END_TEST

START_TEST(encode_responses)
{
	rpc_line_t l;
	size_t len;

	/* ids are echoed token for token, numbers included */
	parse("[{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1.50},{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":-1e3},"
	      "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":\"\\u00e9/\"},"
	      "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":123456789012345678901234567890}]", &l);
	const char *want[] = {
		"{\"jsonrpc\":\"2.0\",\"result\":{\"ok\":true},\"id\":1.50}",
		"{\"jsonrpc\":\"2.0\",\"result\":{\"ok\":true},\"id\":-1e3}",
		"{\"jsonrpc\":\"2.0\",\"result\":{\"ok\":true},\"id\":\"\\u00e9/\"}",
		"{\"jsonrpc\":\"2.0\",\"result\":{\"ok\":true},\"id\":123456789012345678901234567890}",
	};
	ck_assert_int_eq(l.n_entries, 4);
	for (size_t i = 0; i < 4; i++) {
		json_object *res = json_object_new_object();
		json_object_object_add(res, "ok", json_object_new_boolean(true));
		char *s = rpc_response_result(l.entries[i].id, l.entries[i].id_len, res, &len);
		ck_assert_str_eq(s, want[i]);
		ck_assert_uint_eq(len, strlen(want[i]));
		free(s);
	}
	rpc_line_done(&l);

	char *s = rpc_response_error(NULL, 0, RPC_ERROR_NOT_FOUND, NULL, NULL, &len);
	ck_assert_str_eq(s, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32001,\"message\":\"Not found\",\"data\":{}},\"id\":null}");
	free(s);
	s = rpc_response_result("\"x\"", 3, NULL, &len);
	ck_assert_str_eq(s, "{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":\"x\"}");
	free(s);

	/* strings with newlines never break the framing */
	s = rpc_response_result(NULL, 0, json_object_new_string("a\nb\r\n"), &len);
	ck_assert_ptr_null(memchr(s, '\n', len));
	free(s);
	json_object *o = json_object_new_string("z\n");
	s = rpc_to_line(o, &len);
	ck_assert_str_eq(s, "\"z\\n\"\n");
	free(s);
	json_object_put(o);

	/* keys and values written with escapes mean the same */
	parse("{\"json\\u0072pc\":\"\\u0032.0\",\"\\u006dethod\":\"a\\/b\",\"id\":1}", &l);
	ck_assert_int_eq(l.entries[0].error_code, 0);
	ck_assert_str_eq(l.entries[0].method, "a/b");
	rpc_line_done(&l);
	parse("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"i\\u0000d\":1}", &l);
	ck_assert_int_eq(l.entries[0].error_code, RPC_ERROR_INVALID_REQUEST);
	rpc_line_done(&l);
}
END_TEST

START_TEST(build_and_append)
{
	/* Our builder and writer agree with json-c on ordinary documents. */
	static const char *const docs[] = {
		"{}", "[]", "{\"a\":[1,-2,3.25,-0.5e3,true,false,null,\"x\"],\"b\":{\"c\":{}}}",
		"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\u00e9\\u20ac\\ud83d\\ude00\"]",
		"{\"k\\u0041\":\"v\",\"k\\u0042\":\"w\"}", "[9223372036854775807,-9223372036854775808]",
		"[1e400, 18446744073709551615]",
	};
	for (size_t i = 0; i < ELEMENTSOF(docs); i++) {
		json_object *mine = NULL, *theirs = json_tokener_parse(docs[i]);
		ck_assert_int_eq(rpc_json_check(docs[i], strlen(docs[i]), 64, NULL, NULL), 0);
		ck_assert_int_eq(rpc_json_build(docs[i], strlen(docs[i]), &mine), 0);
		ck_assert_msg(json_object_equal(mine, theirs), "%s: %s vs %s", docs[i], json_object_to_json_string(mine),
			      json_object_to_json_string(theirs));
		rpc_buf_t b = { 0 };
		ck_assert_int_eq(rpc_json_append(&b, mine, 0), 0);
		json_object *back = json_tokener_parse(b.p);
		ck_assert_msg(json_object_equal(back, theirs), "%s written as %s", docs[i], b.p);
		free(b.p);
		json_object_put(back);
		json_object_put(mine);
		json_object_put(theirs);
	}
	/* Exact text of numbers and escapes on the way out. */
	json_object *o = NULL;
	const char *d = "[1.50,-0,1E+2,\"\\u00e9\\u0000\\u001f\"]";
	ck_assert_int_eq(rpc_json_build(d, strlen(d), &o), 0);
	rpc_buf_t b = { 0 };
	ck_assert_int_eq(rpc_json_append(&b, o, 0), 0);
	ck_assert_str_eq(b.p, "[1.50,0,1E+2,\"\xc3\xa9\\u0000\\u001f\"]");
	free(b.p);
	json_object_put(o);
	/* A member named twice, at any depth and however it is spelled, is
	 * refused: json-c keeps the last, other readers the first. */
	static const char *const dups[] = {
		"{\"a\":1,\"a\":2}", "{\"k\\u0041\":\"v\",\"kA\":\"w\"}", "[1,{\"x\":{\"b\":[],\"b\":null}}]",
	};
	for (size_t i = 0; i < ELEMENTSOF(dups); i++) {
		o = NULL;
		ck_assert_msg(rpc_json_build(dups[i], strlen(dups[i]), &o) == -EEXIST, "built %s", dups[i]);
		ck_assert_ptr_null(o);
	}
	/* a member name with U+0000 is refused */
	d = "{\"a\\u0000b\":1}";
	ck_assert_int_eq(rpc_json_build(d, strlen(d), &o), -EBADMSG);
	/* a cycle cannot hang the writer */
	json_object *a = json_object_new_array();
	json_object_array_add(a, json_object_get(a));
	b = (rpc_buf_t){ 0 };
	ck_assert_int_eq(rpc_json_append(&b, a, 0), -ELOOP);
	free(b.p);
	json_object_array_put_idx(a, 0, NULL); /* break the cycle */
	json_object_put(a);
}
END_TEST

/* The fast matcher agrees with regexec on every pattern it takes. */
START_TEST(patterns)
{
	static const char *const fast[] = {
		"[A-Za-z0-9][A-Za-z0-9._/-]{0,62}", "sha256:[0-9a-f]{64}", "/.*", "a*", "a+b?c{2,3}",
		"[^a-c]+x", "[]a]*", "[^]a]{1,}", "[a-]?-", "x{0}", "\\.+\\*", ".{2,4}", "a*a*a*b", "[0-9]{3,}",
	};
	static const char *const slow[] = { "(a|b)", "a|b", "^a", "a$", "[[:alpha:]]+", "a**", "(ab)+" };
	static const char *const subjects[] = {
		"", "a", "b", "ab", "abc", "aacc", "abccc", "abcccc", "vm-1", "VM_1", "-vm", "a/b.c-d_e", "x", "xx",
		"]]]", "]a]", "d", "dx", "a-", "-", "a--", ".*", "..*", "abcd", "abcde", "123", "12", "1234",
		"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "/", "/etc/x", "aab",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "\xc3\xa9", "a.b",
	};
	for (size_t i = 0; i < ELEMENTSOF(fast) + ELEMENTSOF(slow); i++) {
		bool want_fast = i < ELEMENTSOF(fast);
		const char *pat = want_fast ? fast[i] : slow[i - ELEMENTSOF(fast)];
		rpc_pattern_t *p;
		regex_t re;
		char full[128];
		snprintf(full, sizeof(full), "^(%s)$", pat);
		ck_assert_int_eq(regcomp(&re, full, REG_EXTENDED | REG_NOSUB), 0);
		ck_assert_int_eq(rpc_pattern_compile(pat, &p), 0);
		ck_assert_msg(rpc_pattern_is_fast(p) == want_fast, "%s: fast %d", pat, rpc_pattern_is_fast(p));
		for (size_t j = 0; j < ELEMENTSOF(subjects); j++) {
			bool want = regexec(&re, subjects[j], 0, NULL, 0) == 0;
			ck_assert_msg(rpc_pattern_match(p, subjects[j], strlen(subjects[j])) == want, "%s on \"%s\": want %d",
				      pat, subjects[j], want);
		}
		regfree(&re);
		rpc_pattern_free(p);
	}
	rpc_pattern_t *p;
	ck_assert_int_eq(rpc_pattern_compile("a(", &p), -EINVAL);
	ck_assert_int_eq(rpc_pattern_compile("[z-a]", &p), -EINVAL);
}
END_TEST

/* --- schema validation ----------------------------------------------------------- */

static const rpc_schema_t str_schema = { .type = RPC_TYPE_STRING };
static const rpc_schema_t label_key = { .type = RPC_TYPE_STRING, .pattern = "[a-z][a-z0-9.-]*", .has_max = true, .max = 8 };
static const rpc_schema_t label_value = { .type = RPC_TYPE_STRING, .has_max = true, .max = 4 };
static const char *const colours[] = { "red", "green", NULL };
static const rpc_field_t inner[] = {
	{ "hash", true, { .type = RPC_TYPE_STRING, .pattern = "sha256:[0-9a-f]{4}" } },
	{ "args", false, { .type = RPC_TYPE_ARRAY, .items = &str_schema, .has_min = true, .min = 1, .has_max = true, .max = 3 } },
	{ NULL },
};
static const rpc_field_t fields[] = {
	{ "name", false, { .type = RPC_TYPE_STRING, .has_min = true, .min = 2, .has_max = true, .max = 3 } },
	{ "n", false, { .type = RPC_TYPE_INTEGER, .has_min = true, .min = -5, .has_max = true, .max = 10 } },
	{ "big", false, { .type = RPC_TYPE_INTEGER } },
	{ "x", false, { .type = RPC_TYPE_NUMBER } },
	{ "flag", false, { .type = RPC_TYPE_BOOLEAN } },
	{ "colour", false, { .type = RPC_TYPE_STRING, .enum_values = colours } },
	{ "workload", false, { .type = RPC_TYPE_OBJECT, .fields = inner } },
	{ "labels", false, { .type = RPC_TYPE_OBJECT, .values = &label_value, .keys = &label_key, .has_max = true, .max = 2 } },
	{ "free", false, { .type = RPC_TYPE_OBJECT } },
	{ "any", false, { .type = RPC_TYPE_ANY } },
	{ "req", true, { .type = RPC_TYPE_BOOLEAN } },
	{ NULL },
};

/* Validates "{\"req\":true, <members>}"; returns 0 or the reason and path. */
static int check_params(const char *members, char *ret_param, char *ret_reason)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "{\"req\":true%s%s}", *members ? "," : "", members);
	json_object *p = json_tokener_parse(buf), *data = NULL;
	ck_assert_msg(p != NULL, "bad test JSON %s", buf);
	rpc_regex_cache_t *cache = rpc_regex_cache_new();
	ck_assert_int_eq(rpc_regex_cache_add_fields(cache, fields), 0);
	int r = rpc_validate_params(fields, p, cache, &data);
	/* The cache only saves work: the answer is the same without it. */
	json_object *data2 = NULL;
	ck_assert_int_eq(rpc_validate_params(fields, p, NULL, &data2), r);
	if (r < 0) {
		ck_assert_int_eq(r, -EINVAL);
		ck_assert(json_object_equal(data, data2));
		strcpy(ret_param, json_object_get_string(json_object_object_get(data, "param")));
		strcpy(ret_reason, json_object_get_string(json_object_object_get(data, "reason")));
	}
	json_object_put(data);
	json_object_put(data2);
	json_object_put(p);
	rpc_regex_cache_free(cache);
	return r;
}

static void ok(const char *members)
{
	char param[256], reason[256];
	ck_assert_msg(check_params(members, param, reason) == 0, "refused %s", members);
}

static void bad(const char *members, const char *want_param, const char *want_reason)
{
	char param[256] = "", reason[256] = "";
	ck_assert_msg(check_params(members, param, reason) == -EINVAL, "accepted %s", members);
	ck_assert_msg(strcmp(param, want_param) == 0, "%s: param %s, want %s", members, param, want_param);
	if (want_reason)
		ck_assert_msg(strstr(reason, want_reason), "%s: reason \"%s\" lacks \"%s\"", members, reason, want_reason);
}

START_TEST(schema_validation)
{
	ok("");
	bad("\"req\":1", "req", "expected boolean");
	char param[256], reason[256];
	json_object *empty = json_object_new_object(), *data = NULL;
	ck_assert_int_eq(rpc_validate_params(fields, empty, NULL, &data), -EINVAL);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(data, "param")), "req");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(data, "reason")), "missing required parameter");
	json_object_put(data);
	(void)param, (void)reason;

	/* strings: length in characters, NUL refused */
	ok("\"name\":\"ab\"");
	ok("\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\""); /* 3 characters, 6 bytes */
	bad("\"name\":\"a\"", "name", "at least 2");
	bad("\"name\":\"abcd\"", "name", "at most 3");
	bad("\"name\":\"a\\u0000\"", "name", "NUL");
	bad("\"name\":5", "name", "expected string");
	/* integers */
	ok("\"n\":-5");
	ok("\"n\":10");
	ok("\"n\":3.0");
	bad("\"n\":11", "n", "at most 10");
	bad("\"n\":-6", "n", "at least -5");
	bad("\"n\":1.5", "n", "expected integer");
	bad("\"n\":\"1\"", "n", "expected integer");
	ok("\"big\":9223372036854775807");
	bad("\"big\":9223372036854775808", "big", "out of range");
	bad("\"big\":1e300", "big", "out of range");
	/* numbers, booleans */
	ok("\"x\":1");
	ok("\"x\":-1.5e3");
	bad("\"x\":true", "x", "expected number");
	bad("\"x\":1e999", "x", "out of range");
	ok("\"flag\":false");
	bad("\"flag\":0", "flag", "expected boolean");
	/* enums */
	ok("\"colour\":\"green\"");
	bad("\"colour\":\"blue\"", "colour", "one of \"red\", \"green\"");
	/* nested objects, patterns, arrays */
	ok("\"workload\":{\"hash\":\"sha256:00af\",\"args\":[\"a\"]}");
	bad("\"workload\":{\"hash\":\"sha256:00afx\"}", "workload.hash", "pattern");
	bad("\"workload\":{\"hash\":\"xsha256:00af\"}", "workload.hash", "pattern");
	bad("\"workload\":{}", "workload.hash", "missing");
	bad("\"workload\":{\"hash\":\"sha256:00af\",\"args\":[\"a\",\"b\",3]}", "workload.args[2]", "expected string");
	bad("\"workload\":{\"hash\":\"sha256:00af\",\"args\":[]}", "workload.args", "at least 1 items");
	bad("\"workload\":{\"hash\":\"sha256:00af\",\"args\":[\"a\",\"b\",\"c\",\"d\"]}", "workload.args", "at most 3");
	bad("\"workload\":{\"hash\":\"sha256:00af\",\"argz\":[]}", "workload.argz", "unknown parameter");
	bad("\"workload\":[]", "workload", "expected object");
	/* maps */
	ok("\"labels\":{\"a\":\"b\",\"c.d\":\"e\"}");
	bad("\"labels\":{\"a\":\"b\",\"c\":\"d\",\"e\":\"f\"}", "labels", "at most 2 members");
	bad("\"labels\":{\"a\":5}", "labels.a", "expected string");
	bad("\"labels\":{\"a\":\"toolong\"}", "labels.a", "at most 4");
	bad("\"labels\":{\"Bad\":\"x\"}", "labels.Bad", "key does not match");
	bad("\"labels\":{\"a b\":\"x\"}", "labels[\"a b\"]", "key does not match");
	/* free-form objects and any */
	ok("\"free\":{\"anything\":[1,{\"goes\":null}]}");
	ok("\"any\":[null]");
	/* unknown top-level key */
	bad("\"nmae\":\"x\"", "nmae", "unknown parameter");

	/* methods without params accept only {} */
	json_object *p = json_tokener_parse("{\"a\":1}");
	ck_assert_int_eq(rpc_validate_params(NULL, p, NULL, &data), -EINVAL);
	json_object_put(data);
	json_object_put(p);
	ck_assert_int_eq(rpc_validate_params(NULL, empty, NULL, &data), 0);
	json_object_put(empty);
}
END_TEST

START_TEST(positional)
{
	static const rpc_field_t two[] = {
		{ "a", true, { .type = RPC_TYPE_INTEGER } },
		{ "b", false, { .type = RPC_TYPE_INTEGER } },
		{ NULL },
	};
	json_object *arr = json_tokener_parse("[1,2]"), *o = NULL, *data = NULL;
	ck_assert_int_eq(rpc_params_from_array(two, arr, &o, &data), 0);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "b")), 2);
	json_object_put(o);
	json_object_put(arr);
	arr = json_tokener_parse("[1,2,3]");
	ck_assert_int_eq(rpc_params_from_array(two, arr, &o, &data), -EINVAL);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(data, "param")), "[2]");
	json_object_put(data);
	json_object_put(arr);
}
END_TEST

static void nop(rpc_call_t *call, json_object *params, void *userdata)
{
	rpc_call_reply(call, NULL);
}

START_TEST(server_rejects_bad_tables)
{
	sd_event *e;
	rpc_server_t *s = NULL;
	static const rpc_field_t badpat[] = { { "x", false, { .type = RPC_TYPE_STRING, .pattern = "a(" } }, { NULL } };
	const rpc_method_t m1[] = { { .name = "a", .params = badpat, .handler = nop } };
	const rpc_method_t m2[] = { { .name = "a", .handler = nop }, { .name = "a", .handler = nop } };
	const rpc_method_t m3[] = { { .name = "rpc.discover", .handler = nop } };
	rpc_limits_t l;

	ck_assert_int_eq(sd_event_new(&e), 0);
	ck_assert_int_eq(rpc_server_new(e, m1, 1, NULL, "t", "1", NULL, &s), -EINVAL);
	ck_assert_int_eq(rpc_server_new(e, m2, 2, NULL, "t", "1", NULL, &s), -EINVAL);
	ck_assert_int_eq(rpc_server_new(e, m3, 1, NULL, "t", "1", NULL, &s), -EINVAL);
	rpc_limits_default(&l);
	l.max_depth = 0;
	ck_assert_int_eq(rpc_server_new(e, m2, 1, &l, "t", "1", NULL, &s), -EINVAL);
	ck_assert_int_eq(rpc_server_new(e, m2, 1, NULL, "t", "1", NULL, &s), 0);
	ck_assert_uint_eq(rpc_server_n_connections(s), 0);
	ck_assert_ptr_null(rpc_server_free(s));
	sd_event_unref(e);
}
END_TEST

/* --- errors ----------------------------------------------------------------------- */

START_TEST(errno_table)
{
	static const struct {
		int error, code;
	} want[] = {
		{ ENOENT, -32001 }, { EBUSY, -32002 }, { EALREADY, -32002 }, { ESTALE, -32002 },
		{ EEXIST, -32003 }, { ENODEV, -32004 }, { EOPNOTSUPP, -32004 }, { ENOSPC, -32005 },
		{ EMFILE, -32005 }, { ENFILE, -32005 }, { ENOMEM, -32005 }, { EDQUOT, -32005 },
		{ E2BIG, -32005 }, { EAGAIN, -32005 }, { ETIMEDOUT, -32006 }, { ENOTEMPTY, -32007 },
		{ EINVAL, -32602 }, { EIO, -32000 }, { EPERM, -32000 }, { 9999, -32000 },
	};
	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		ck_assert_int_eq(rpc_error_from_errno(-want[i].error), want[i].code);
		ck_assert_int_eq(rpc_error_from_errno(want[i].error), want[i].code);
	}
	ck_assert_str_eq(rpc_errno_name(-EIO), "EIO");
	ck_assert_str_eq(rpc_errno_name(ENOENT), "ENOENT");
	ck_assert_ptr_null(rpc_errno_name(0));

	json_object *d = rpc_errno_data(-EIO, "disk");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(d, "errno")), "EIO");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(d, "reason")), "disk");
	json_object_put(d);

	/* every application code -32000..-32008 is in the table, once */
	for (int code = -32008; code <= -32000; code++)
		ck_assert_ptr_nonnull(rpc_error_lookup(code));
	for (size_t i = 0; i < rpc_error_table_size; i++)
		for (size_t j = i + 1; j < rpc_error_table_size; j++) {
			ck_assert_int_ne(rpc_error_table[i].code, rpc_error_table[j].code);
			ck_assert_str_ne(rpc_error_table[i].name, rpc_error_table[j].name);
		}
	ck_assert_str_eq(rpc_error_message(-32601), "Method not found");
	ck_assert_str_eq(rpc_error_message(-32050), "Server error");
}
END_TEST

/* --- OpenRPC ------------------------------------------------------------------------ */

START_TEST(openrpc)
{
	static const rpc_schema_t result = { .type = RPC_TYPE_OBJECT, .description = "the VM" };
	static const rpc_method_t m[] = {
		{ "compute.vm.create", "Create a VM", fields, &result, nop, 0 },
		{ "compute.node.info", "Node info", NULL, NULL, nop, 0 },
	};
	json_object *doc = rpc_openrpc_document(m, ELEMENTSOF(m), "mvmd", "0.1.0"), *v, *meth, *params;
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(doc, "openrpc")), "1.3.2");
	ck_assert(json_object_object_get_ex(doc, "methods", &v));
	ck_assert_int_eq(json_object_array_length(v), 3);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(json_object_array_get_idx(v, 0), "name")),
			 "rpc.discover");
	meth = json_object_array_get_idx(v, 1);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(meth, "name")), "compute.vm.create");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(meth, "paramStructure")), "by-name");
	params = json_object_object_get(meth, "params");
	ck_assert_int_eq(json_object_array_length(params), ELEMENTSOF(fields) - 1);
	/* every param, in table order, with its schema */
	for (size_t i = 0; i + 1 < ELEMENTSOF(fields); i++) {
		json_object *p = json_object_array_get_idx(params, i);
		ck_assert_str_eq(json_object_get_string(json_object_object_get(p, "name")), fields[i].name);
		ck_assert_int_eq(json_object_get_boolean(json_object_object_get(p, "required")), fields[i].required);
	}
	const char *s = json_object_to_json_string_ext(json_object_array_get_idx(params, 1), JSON_C_TO_STRING_PLAIN);
	ck_assert_str_eq(s, "{\"name\":\"n\",\"required\":false,\"schema\":{\"type\":\"integer\",\"minimum\":-5,\"maximum\":10}}");
	s = json_object_to_json_string_ext(json_object_array_get_idx(params, 6), JSON_C_TO_STRING_PLAIN |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	ck_assert_str_eq(s, "{\"name\":\"workload\",\"required\":false,\"schema\":{\"type\":\"object\",\"properties\":"
			    "{\"hash\":{\"type\":\"string\",\"pattern\":\"^(sha256:[0-9a-f]{4})$\"},\"args\":{\"type\":"
			    "\"array\",\"minItems\":1,\"maxItems\":3,\"items\":{\"type\":\"string\"}}},\"required\":[\"hash\"],"
			    "\"additionalProperties\":false}}");
	s = json_object_to_json_string_ext(json_object_array_get_idx(params, 7), JSON_C_TO_STRING_PLAIN);
	ck_assert_msg(strstr(s, "\"additionalProperties\":{\"type\":\"string\",\"maxLength\":4}") &&
		      strstr(s, "\"propertyNames\""), "%s", s);
	s = json_object_to_json_string_ext(json_object_array_get_idx(params, 5), JSON_C_TO_STRING_PLAIN);
	ck_assert_msg(strstr(s, "\"enum\":[\"red\",\"green\"]"), "%s", s);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(json_object_object_get(meth, "result"), "description")),
			 "the VM");
	/* the error table as components */
	json_object *errors = json_object_object_get(json_object_object_get(doc, "components"), "errors");
	ck_assert_int_eq(json_object_object_length(errors), (int)rpc_error_table_size);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(json_object_object_get(errors, "InUse"), "code")), -32007);
	json_object_put(doc);
}
END_TEST

START_TEST(log_levels)
{
	ck_assert_int_eq(log_level_from_string("err"), LOG_ERR);
	ck_assert_int_eq(log_level_from_string("warning"), LOG_WARNING);
	ck_assert_int_eq(log_level_from_string("notice"), LOG_NOTICE);
	ck_assert_int_eq(log_level_from_string("info"), LOG_INFO);
	ck_assert_int_eq(log_level_from_string("debug"), LOG_DEBUG);
	ck_assert_int_eq(log_level_from_string("7"), LOG_DEBUG);
	ck_assert_int_eq(log_level_from_string("loud"), -EINVAL);
	ck_assert_str_eq(log_level_to_string(LOG_NOTICE), "notice");
	log_set_max_level(LOG_WARNING);
	ck_assert_int_eq(log_debug_errno(EIO, "not shown"), -EIO);
	ck_assert_int_eq(log_info("not shown"), 0);
	ck_assert_int_eq(log_warning_errno(-ENOENT, "shown: %m"), -ENOENT);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "core",
		.tests = MVMT_TESTS(
			MVMT_TEST(json_check),
			MVMT_TEST(parse_requests),
			MVMT_TEST(encode_responses),
			MVMT_TEST(build_and_append),
			MVMT_TEST(patterns),
			MVMT_TEST(schema_validation),
			MVMT_TEST(positional),
			MVMT_TEST(server_rejects_bad_tables),
			MVMT_TEST(errno_table),
			MVMT_TEST(openrpc),
			MVMT_TEST(log_levels)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "jsonrpc", .tcases = tcases)
