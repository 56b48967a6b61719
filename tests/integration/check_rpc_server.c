/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON-RPC server over a real Unix socket and a real sd-event loop (in
 * a forked child): every example of JSON-RPC 2.0 section 7, hostile input,
 * pipelining, async methods, the client cap, backpressure, notifications,
 * close hooks and fd hygiene.
 */
#include "rpc-test-server.h"
#include "mvmt-main.h"

static rts_server_t srv;
static rpc_limits_t limits;

static void setup(void)
{
	rts_limits(&limits);
	rts_start(&srv, &limits);
}

static void teardown(void)
{
	rts_stop(&srv);
}

/* Compares a response with the spec's, ignoring the error "data" member
 * (which the spec examples omit and we always add: checked separately). */
static void strip_data(json_object *o)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			strip_data(json_object_array_get_idx(o, i));
		return;
	}
	json_object *e;
	if (json_object_object_get_ex(o, "error", &e)) {
		json_object *d;
		ck_assert_msg(json_object_object_get_ex(e, "data", &d) && json_object_is_type(d, json_type_object),
			      "error without a data object: %s", json_object_to_json_string(o));
		json_object_object_del(e, "data");
	}
}

/* Batch responses may come in any order: sort by the id's text. */
static int cmp_by_id(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b, *ix, *iy;
	json_object_object_get_ex(x, "id", &ix);
	json_object_object_get_ex(y, "id", &iy);
	return strcmp(json_object_to_json_string(ix), json_object_to_json_string(iy));
}

static void expect(rts_client_t *c, const char *request, const char *expected)
{
	json_object *got = rts_call(c, request), *want = json_tokener_parse(expected);
	ck_assert_ptr_nonnull(want);
	strip_data(got);
	if (json_object_is_type(got, json_type_array) && json_object_is_type(want, json_type_array)) {
		json_object_array_sort(got, cmp_by_id);
		json_object_array_sort(want, cmp_by_id);
	}
	ck_assert_msg(json_object_equal(got, want), "request %s\n got %s\nwant %s", request,
		      json_object_to_json_string(got), json_object_to_json_string(want));
	json_object_put(got);
	json_object_put(want);
}

/* Nothing may be answered: the next line must be the answer to a probe. */
static void expect_nothing(rts_client_t *c, const char *request)
{
	rts_send(c, request);
	expect(c, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":\"probe\"}\n",
	       "{\"jsonrpc\":\"2.0\",\"result\":[\"hello\",5],\"id\":\"probe\"}");
}

START_TEST(spec_examples)
{
	rts_client_t c;
	rts_open(&c, srv.path);
	/* positional parameters */
	expect(&c, "{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [42, 23], \"id\": 1}\n",
	       "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 1}");
	expect(&c, "{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [23, 42], \"id\": 2}\n",
	       "{\"jsonrpc\": \"2.0\", \"result\": -19, \"id\": 2}");
	/* named parameters */
	expect(&c, "{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": {\"subtrahend\": 23, \"minuend\": 42}, \"id\": 3}\n",
	       "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 3}");
	expect(&c, "{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": {\"minuend\": 42, \"subtrahend\": 23}, \"id\": 4}\n",
	       "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 4}");
	/* notifications */
	expect_nothing(&c, "{\"jsonrpc\": \"2.0\", \"method\": \"update\", \"params\": [1,2,3,4,5]}\n");
	expect_nothing(&c, "{\"jsonrpc\": \"2.0\", \"method\": \"foobar\"}\n");
	/* non-existent method */
	expect(&c, "{\"jsonrpc\": \"2.0\", \"method\": \"foobar\", \"id\": \"1\"}\n",
	       "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32601, \"message\": \"Method not found\"}, \"id\": \"1\"}");
	/* invalid JSON */
	expect(&c, "{\"jsonrpc\": \"2.0\", \"method\": \"foobar, \"params\": \"bar\", \"baz]\n",
	       "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32700, \"message\": \"Parse error\"}, \"id\": null}");
	/* invalid Request object */
	expect(&c, "{\"jsonrpc\": \"2.0\", \"method\": 1, \"params\": \"bar\"}\n",
	       "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": \"Invalid Request\"}, \"id\": null}");
	/* batch, invalid JSON */
	expect(&c, "[ {\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], \"id\": \"1\"}, {\"jsonrpc\": \"2.0\", \"method\" ]\n",
	       "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32700, \"message\": \"Parse error\"}, \"id\": null}");
	/* empty array */
	expect(&c, "[]\n",
	       "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": \"Invalid Request\"}, \"id\": null}");
	/* invalid batch, not empty */
	expect(&c, "[1]\n",
	       "[{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": \"Invalid Request\"}, \"id\": null}]");
	/* invalid batch */
	expect(&c, "[1,2,3]\n",
	       "[{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": \"Invalid Request\"}, \"id\": null},"
	       " {\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": \"Invalid Request\"}, \"id\": null},"
	       " {\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": \"Invalid Request\"}, \"id\": null}]");
	/* batch */
	expect(&c, "[ {\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], \"id\": \"1\"},"
		   " {\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", \"params\": [7]},"
		   " {\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [42,23], \"id\": \"2\"},"
		   " {\"foo\": \"boo\"},"
		   " {\"jsonrpc\": \"2.0\", \"method\": \"foo.get\", \"params\": {\"name\": \"myself\"}, \"id\": \"5\"},"
		   " {\"jsonrpc\": \"2.0\", \"method\": \"get_data\", \"id\": \"9\"} ]\n",
	       "[ {\"jsonrpc\": \"2.0\", \"result\": 7, \"id\": \"1\"},"
	       " {\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": \"2\"},"
	       " {\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": \"Invalid Request\"}, \"id\": null},"
	       " {\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32601, \"message\": \"Method not found\"}, \"id\": \"5\"},"
	       " {\"jsonrpc\": \"2.0\", \"result\": [\"hello\", 5], \"id\": \"9\"} ]");
	/* batch of notifications only */
	expect_nothing(&c, "[ {\"jsonrpc\": \"2.0\", \"method\": \"notify_sum\", \"params\": [1,2,4]},"
			   " {\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", \"params\": [7]} ]\n");
	rts_close(&c);
}
END_TEST

START_TEST(ids_and_request_validation)
{
	rts_client_t c;
	rts_open(&c, srv.path);
	/* Ids come back exactly as sent. */
	const char *ids[] = { "0", "-7", "1.5", "1e3", "-2.50E+2", "9007199254740993", "\"\"", "\"x\\ny\"", "null" };
	for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
		char req[256], want[256];
		snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":%s}\n", ids[i]);
		snprintf(want, sizeof(want), "{\"jsonrpc\":\"2.0\",\"result\":[\"hello\",5],\"id\":%s}", ids[i]);
		rts_send(&c, req);
		char *line = rts_readline(&c);
		ck_assert_str_eq(line, want);
		free(line);
	}
	/* Wrong id types, wrong jsonrpc, unknown members, bad params. */
	const char *bad[] = {
		"{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":{}}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":[1]}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":true}",
		"{\"jsonrpc\":\"2.0 \",\"method\":\"get_data\",\"id\":1}",
		"{\"jsonrpc\":2.0,\"method\":\"get_data\",\"id\":1}",
		"{\"method\":\"get_data\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"params\":3,\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"extra\":3,\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"get\\u0000data\",\"id\":1}",
		"\"just a string\"",
		"42",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		char req[256];
		snprintf(req, sizeof(req), "%s\n", bad[i]);
		json_object *r = rts_call(&c, req);
		ck_assert_msg(rts_int(r, "error.code") == -32600, "%s -> %s", bad[i], json_object_to_json_string(r));
		ck_assert_ptr_nonnull(rts_get(r, "error.data.reason"));
		json_object_put(r);
	}
	/* Invalid params: by name only, unknown keys, nested paths. */
	json_object *r = rts_call(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1],\"id\":1}\n");
	ck_assert_int_eq(rts_int(r, "error.code"), -32602);
	json_object_put(r);
	r = rts_call(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"workload\":{\"hash\":\"sha256:"
			    "0000000000000000000000000000000000000000000000000000000000000000\",\"args\":[\"a\",\"b\",3]}},\"id\":1}\n");
	ck_assert_int_eq(rts_int(r, "error.code"), -32602);
	ck_assert_str_eq(rts_str(r, "error.data.param"), "workload.args[2]");
	ck_assert_str_eq(rts_str(r, "error.data.reason"), "expected string");
	json_object_put(r);
	r = rts_call(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"nmae\":\"x\"},\"id\":1}\n");
	ck_assert_str_eq(rts_str(r, "error.data.param"), "nmae");
	ck_assert_str_eq(rts_str(r, "error.data.reason"), "unknown parameter");
	json_object_put(r);
	r = rts_call(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"memory_mib\":0},\"id\":1}\n");
	ck_assert_str_eq(rts_str(r, "error.data.param"), "memory_mib");
	json_object_put(r);
	/* Valid params reach the handler unchanged. */
	r = rts_call(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"name\":\"vm1\",\"backend\":\"ch\","
			    "\"workload\":{\"hash\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\","
			    "\"env\":{\"A_B\":\"c\"}}},\"id\":1}\n");
	ck_assert_str_eq(rts_str(r, "result.workload.env.A_B"), "c");
	json_object_put(r);
	/* Methods without params take none, [] or {}. */
	expect(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"params\":[],\"id\":1}\n",
	       "{\"jsonrpc\":\"2.0\",\"result\":[\"hello\",5],\"id\":1}");
	expect(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"params\":{},\"id\":1}\n",
	       "{\"jsonrpc\":\"2.0\",\"result\":[\"hello\",5],\"id\":1}");
	r = rts_call(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"params\":{\"x\":1},\"id\":1}\n");
	ck_assert_int_eq(rts_int(r, "error.code"), -32602);
	json_object_put(r);
	/* errno answers. */
	r = rts_call(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"params\":{\"errno\":2},\"id\":1}\n");
	ck_assert_int_eq(rts_int(r, "error.code"), -32001);
	ck_assert_str_eq(rts_str(r, "error.data.errno"), "ENOENT");
	ck_assert_str_eq(rts_str(r, "error.data.reason"), "asked to fail");
	json_object_put(r);
	r = rts_call(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"params\":{\"errno\":5},\"id\":1}\n");
	ck_assert_int_eq(rts_int(r, "error.code"), -32000);
	ck_assert_str_eq(rts_str(r, "error.data.errno"), "EIO");
	json_object_put(r);
	/* CRLF and blank lines are tolerated. */
	rts_send(&c, "\n   \n");
	expect(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":7}\r\n",
	       "{\"jsonrpc\":\"2.0\",\"result\":[\"hello\",5],\"id\":7}");
	rts_close(&c);
}
END_TEST

START_TEST(discover)
{
	rts_client_t c;
	rts_open(&c, srv.path);
	json_object *r = rts_call(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"rpc.discover\",\"id\":1}\n");
	ck_assert_str_eq(rts_str(r, "result.openrpc"), "1.3.2");
	ck_assert_str_eq(rts_str(r, "result.info.title"), "rpc-test");
	json_object *methods = rts_get(r, "result.methods");
	ck_assert_int_eq(json_object_array_length(methods), rts_method_count + 1);
	ck_assert_int_eq(rts_int(r, "result.components.errors.NotFound.code"), -32001);
	json_object_put(r);
	rts_close(&c);
}
END_TEST

START_TEST(hostile_input)
{
	rts_client_t c, probe;
	rts_open(&probe, srv.path);
	/* sd-event opens its timerfd on first use: not a leak, so make it
	 * exist before counting. */
	json_object_put(rts_call(&probe, "{\"jsonrpc\":\"2.0\",\"method\":\"slow\",\"params\":{\"ms\":0},\"id\":0}\n"));
	json_object *s0 = rts_stats(&probe);
	int fds0 = (int)rts_int(s0, "fds");
	json_object_put(s0);

	rts_open(&c, srv.path);
	/* binary garbage, NULs, invalid UTF-8, trailing junk, JSON extensions */
	static const char garbage[] = "\x00\xff\xfe{\x01\x02\"\x80\"}\n";
	ck_assert_int_eq(send(c.fd, garbage, sizeof(garbage) - 1, 0), (ssize_t)sizeof(garbage) - 1);
	json_object *r = rts_read_json(&c);
	ck_assert_int_eq(rts_int(r, "error.code"), -32700);
	json_object_put(r);
	const char *bad_json[] = {
		"{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1} {}",
		"{'jsonrpc':'2.0','method':'get_data','id':1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":NaN}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":01}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1,}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"\xc3\x28\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\tb\",\"id\":1}",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad_json); i++) {
		char req[256];
		snprintf(req, sizeof(req), "%s\n", bad_json[i]);
		r = rts_call(&c, req);
		ck_assert_msg(rts_int(r, "error.code") == -32700, "%s -> %s", bad_json[i], json_object_to_json_string(r));
		json_object *id;
		ck_assert_msg(json_object_object_get_ex(r, "id", &id) && !id, "id not null");
		json_object_put(r);
	}
	/* Nesting: 64 levels are fine, 65 are not. */
	char deep[1024];
	size_t n = 0;
	n += (size_t)sprintf(deep + n, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"blob\":");
	for (int i = 0; i < 62; i++)
		deep[n++] = '[';
	for (int i = 0; i < 62; i++)
		deep[n++] = ']';
	n += (size_t)sprintf(deep + n, "},\"id\":1}\n");
	r = rts_call(&c, deep);
	ck_assert_msg(rts_get(r, "result") != NULL, "depth 64 refused: %s", json_object_to_json_string(r));
	json_object_put(r);
	n = 0;
	for (int i = 0; i < 65; i++)
		deep[n++] = '[';
	for (int i = 0; i < 65; i++)
		deep[n++] = ']';
	deep[n++] = '\n';
	deep[n] = '\0';
	r = rts_call(&c, deep);
	ck_assert_int_eq(rts_int(r, "error.code"), -32700);
	ck_assert_str_eq(rts_str(r, "error.data.reason"), "nesting too deep");
	json_object_put(r);
	/* Still alive after all that. */
	expect(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1}\n",
	       "{\"jsonrpc\":\"2.0\",\"result\":[\"hello\",5],\"id\":1}");
	rts_close(&c);

	/* Half a line, then close. */
	rts_open(&c, srv.path);
	rts_send(&c, "{\"jsonrpc\":\"2.0\",\"meth");
	rts_close(&c);
	/* A complete request then a half-close: answered, then EOF. */
	rts_open(&c, srv.path);
	rts_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"slow\",\"params\":{\"ms\":50},\"id\":1}\n{\"jsonrpc\":");
	shutdown(c.fd, SHUT_WR);
	r = rts_read_json(&c);
	ck_assert_ptr_nonnull(rts_get(r, "result.slept"));
	json_object_put(r);
	ck_assert_ptr_null(rts_readline(&c));
	rts_close(&c);

	json_object *s1 = rts_stats_wait(&probe, "connections", 1);
	ck_assert_int_eq(rts_int(s1, "fds"), fds0);
	ck_assert_int_eq(rts_int(s1, "input_bytes"), 0);
	json_object_put(s1);
	rts_close(&probe);
}
END_TEST

START_TEST(oversized_line)
{
	rts_client_t c, probe;
	rts_open(&probe, srv.path);
	/* sd-event opens its timerfd on first use: not a leak, so make it
	 * exist before counting. */
	json_object_put(rts_call(&probe, "{\"jsonrpc\":\"2.0\",\"method\":\"slow\",\"params\":{\"ms\":0},\"id\":0}\n"));
	json_object *s0 = rts_stats(&probe);
	int fds0 = (int)rts_int(s0, "fds");
	json_object_put(s0);

	rts_open(&c, srv.path);
	/* One good request first: its answer comes before the error. */
	rts_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1}\n");
	/* Then 8 MiB without a newline (limit 64 KiB): the server must answer
	 * and close long before reading it all, so our writes fail. */
	size_t chunk = 64 * 1024, sent = 0;
	char *buf = malloc(chunk);
	memset(buf, 'x', chunk);
	buf[0] = '"';
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (sent < 8u * 1024 * 1024) {
		ssize_t w = send(c.fd, buf, chunk, MSG_NOSIGNAL);
		if (w < 0)
			break;
		sent += (size_t)w;
	}
	free(buf);
	ck_assert_msg(sent < 8u * 1024 * 1024, "server read all %zu bytes", sent);
	json_object *r = rts_read_json(&c);
	ck_assert_ptr_nonnull(rts_get(r, "result"));
	json_object_put(r);
	char *line = rts_readline(&c);
	ck_assert_ptr_nonnull(line);
	r = json_tokener_parse(line);
	free(line);
	ck_assert_int_eq(rts_int(r, "error.code"), -32008);
	ck_assert_int_eq(rts_int(r, "error.data.limit"), 64 * 1024);
	ck_assert(json_object_is_type(rts_get(r, "id"), json_type_null));
	json_object_put(r);
	ck_assert_ptr_null(rts_readline(&c));
	rts_close(&c);

	json_object *s1 = rts_stats_wait(&probe, "connections", 1);
	ck_assert_int_eq(rts_int(s1, "fds"), fds0);
	json_object_put(s1);
	rts_close(&probe);
}
END_TEST

START_TEST(pipelined_1000)
{
	rts_client_t c;
	rts_open(&c, srv.path);
	size_t cap = 1000 * 128, n = 0;
	char *req = malloc(cap);
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(req + n, cap - n,
				      "{\"jsonrpc\":\"2.0\",\"method\":\"subtract\",\"params\":[%d,1],\"id\":%d}\n", i, i);
	rts_send(&c, req);
	free(req);
	for (int i = 0; i < 1000; i++) {
		json_object *r = rts_read_json(&c);
		ck_assert_int_eq(rts_int(r, "id"), i);
		ck_assert_int_eq(rts_int(r, "result"), i - 1);
		json_object_put(r);
	}

	/* A big line (under the 64 KiB limit) grows the buffers; they are
	 * given back once it is handled. */
	char *big = malloc(70 * 1024);
	n = (size_t)sprintf(big, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"blob\":\"");
	memset(big + n, 'b', 60 * 1024);
	n += 60 * 1024;
	sprintf(big + n, "\"},\"id\":\"big\"}\n");
	json_object *r = rts_call(&c, big);
	free(big);
	ck_assert_str_eq(rts_str(r, "id"), "big");
	json_object_put(r);
	json_object_put(rts_call(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1}\n"));
	json_object *st = rts_stats(&c);
	ck_assert_msg(rts_int(st, "buffer_bytes") <= 64 * 1024, "buffers still hold %lld bytes",
		      (long long)rts_int(st, "buffer_bytes"));
	json_object_put(st);
	rts_close(&c);
}
END_TEST

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

START_TEST(async_does_not_block)
{
	rts_client_t a, b;
	rts_open(&a, srv.path);
	rts_open(&b, srv.path);
	double t0 = now_s();
	rts_send(&a, "{\"jsonrpc\":\"2.0\",\"method\":\"slow\",\"params\":{\"ms\":1500},\"id\":\"slow\"}\n");
	/* Another client is served meanwhile ... */
	expect(&b, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1}\n",
	       "{\"jsonrpc\":\"2.0\",\"result\":[\"hello\",5],\"id\":1}");
	ck_assert_msg(now_s() - t0 < 1.0, "second client waited for the slow call");
	/* ... and so is a later request on the same connection: answers may
	 * overtake a pending async call (documented in docs/rpc.md). */
	json_object *r = rts_call(&a, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":\"fast\"}\n");
	ck_assert_str_eq(rts_str(r, "id"), "fast");
	ck_assert_msg(now_s() - t0 < 1.0, "pipelined request waited for the slow call");
	json_object_put(r);
	r = rts_read_json(&a);
	ck_assert_str_eq(rts_str(r, "id"), "slow");
	ck_assert_msg(now_s() - t0 >= 1.4, "slow call answered early");
	json_object_put(r);
	/* A batch with an async member is one line, sent when all are done. */
	r = rts_call(&a, "[{\"jsonrpc\":\"2.0\",\"method\":\"slow\",\"params\":{\"ms\":100},\"id\":1},"
			    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":2}]\n");
	ck_assert_int_eq(json_object_array_length(r), 2);
	json_object_put(r);
	rts_close(&a);
	rts_close(&b);
}
END_TEST

START_TEST(client_cap)
{
	rts_client_t c[16], extra;
	for (int i = 0; i < 16; i++) {
		rts_open(&c[i], srv.path);
		json_object *r = rts_call(&c[i], "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1}\n");
		json_object_put(r);
	}
	rts_open(&extra, srv.path);
	json_object *r = rts_read_json(&extra);
	ck_assert_int_eq(rts_int(r, "error.code"), -32005);
	ck_assert_int_eq(rts_int(r, "error.data.limit"), 16);
	json_object_put(r);
	ck_assert_ptr_null(rts_readline(&extra));
	rts_close(&extra);
	rts_close(&c[15]);
	json_object *s = rts_stats_wait(&c[0], "connections", 15);
	ck_assert_int_ge(rts_int(s, "rejected"), 1);
	json_object_put(s);
	rts_open(&extra, srv.path);
	r = rts_call(&extra, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1}\n");
	ck_assert_ptr_nonnull(rts_get(r, "result"));
	json_object_put(r);
	rts_close(&extra);
	for (int i = 0; i < 15; i++)
		rts_close(&c[i]);
}
END_TEST

START_TEST(backpressure)
{
	rts_client_t hog, other;
	rts_open(&hog, srv.path);
	rts_open(&other, srv.path);
	/* The hog writes requests with ~1 KiB answers and never reads. */
	char req[1400];
	char pad[1001];
	memset(pad, 'p', 1000);
	pad[1000] = '\0';
	int n = snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"name\":\"x\",\"blob\":\"%s\"},\"id\":1}\n", pad);
	int flags = fcntl(hog.fd, F_GETFL);
	fcntl(hog.fd, F_SETFL, flags | O_NONBLOCK);
	size_t sent_reqs = 0, partial = 0;
	double t0 = now_s();
	/* Write until the kernel buffers stay full for 300 ms. */
	double last_progress = now_s();
	while (now_s() - last_progress < 0.3 && now_s() - t0 < 20) {
		ssize_t w = send(hog.fd, req + partial, (size_t)n - partial, MSG_NOSIGNAL);
		if (w > 0) {
			partial += (size_t)w;
			if (partial == (size_t)n) {
				partial = 0;
				sent_reqs++;
			}
			last_progress = now_s();
		} else {
			ck_assert_int_eq(errno, EAGAIN);
			usleep(1000);
		}
	}
	ck_assert_int_eq(partial, 0);
	ck_assert_msg(sent_reqs > 100, "only %zu requests fit: no backpressure to test", sent_reqs);
	printf("backpressure: %zu requests written before the kernel buffers filled\n", sent_reqs);
	/* The server stopped reading: its buffers for the hog stay bounded. */
	json_object *s = rts_stats(&other);
	int64_t out = rts_int(s, "output_bytes"), in = rts_int(s, "input_bytes");
	ck_assert_msg(out <= (int64_t)limits.max_output_bytes + 4096 && in <= (int64_t)limits.max_request_bytes + 1,
		      "unbounded buffering: out %lld in %lld", (long long)out, (long long)in);
	/* and so does the memory behind them (both connections) */
	int64_t mem = rts_int(s, "buffer_bytes");
	ck_assert_msg(mem <= 2 * (int64_t)(limits.max_output_bytes + limits.max_request_bytes) + 64 * 1024,
		      "buffers hold %lld bytes", (long long)mem);
	json_object_put(s);
	/* The other client is still served. */
	expect(&other, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1}\n",
	       "{\"jsonrpc\":\"2.0\",\"result\":[\"hello\",5],\"id\":1}");
	/* Reading resumes everything: every request gets its answer. */
	fcntl(hog.fd, F_SETFL, flags);
	for (size_t i = 0; i < sent_reqs; i++) {
		char *line = rts_readline(&hog);
		ck_assert_msg(line != NULL, "answer %zu of %zu missing", i, sent_reqs);
		free(line);
	}
	rts_close(&hog);
	rts_close(&other);
}
END_TEST

START_TEST(notifications_and_hooks)
{
	rts_client_t a, probe;
	rts_open(&probe, srv.path);
	rts_open(&a, srv.path);
	json_object *r = rts_call(&a, "{\"jsonrpc\":\"2.0\",\"method\":\"subscribe\",\"params\":{\"count\":3},\"id\":1}\n");
	ck_assert_msg(json_object_get_boolean(rts_get(r, "result")), "%s", json_object_to_json_string(r));
	json_object_put(r);
	for (int i = 0; i < 3; i++) {
		r = rts_read_json(&a);
		ck_assert_str_eq(rts_str(r, "method"), "tick");
		ck_assert_int_eq(rts_int(r, "params.n"), i);
		ck_assert_ptr_null(rts_get(r, "id"));
		json_object_put(r);
	}
	rts_close(&a);
	json_object *s = rts_stats_wait(&probe, "close_hooks", 1);
	json_object_put(s);
	s = rts_stats_wait(&probe, "connections", 1);
	/* peer credentials are ours */
	ck_assert_int_eq(rts_int(s, "peer_pid"), getpid());
	ck_assert_int_eq(rts_int(s, "peer_uid"), (int64_t)getuid());
	json_object_put(s);

	/* A follower that never reads is cut off at the hard cap. */
	rts_open(&a, srv.path);
	r = rts_call(&a, "{\"jsonrpc\":\"2.0\",\"method\":\"flood\",\"id\":1}\n");
	json_object_put(r);
	s = rts_stats_wait(&probe, "flood_result", -ENOBUFS);
	ck_assert_int_eq(rts_int(s, "connections"), 1);
	ck_assert_int_ge(rts_int(s, "flood_sent"), 256 * 1024 / 300);
	json_object_put(s);
	rts_close(&a);
	rts_close(&probe);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "server",
		.timeout = 60,
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(spec_examples),
			MVMT_TEST(ids_and_request_validation),
			MVMT_TEST(discover),
			MVMT_TEST(hostile_input),
			MVMT_TEST(oversized_line),
			MVMT_TEST(pipelined_1000),
			MVMT_TEST(async_does_not_block),
			MVMT_TEST(client_cap),
			MVMT_TEST(backpressure),
			MVMT_TEST(notifications_and_hooks)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "rpc_server", .tcases = tcases)
