/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests that mean two things, or that mvmd used to read leniently,
 * through the real mvmd: a member named twice, lone UTF-16 surrogates,
 * and events.tail's "no backlog, just follow" (limit 0). Non-canonical
 * base64 and non-regular blob paths are in check_mvmd_blob.c.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvmtest.h"
#include "mvmt-main.h"

static mvmt_daemon_t d;
static int fd;

static void setup(void)
{
	mvmt_daemon_init(&d);
	mvmt_daemon_start(&d, "--kvm-pool", "0", NULL);
	fd = mvmt_connect(d.sock);
}

static void teardown(void)
{
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_cleanup(&d);
}

static int64_t code_of(json_object *resp)
{
	json_object *c = mvmt_get(resp, "error.code");
	ck_assert_msg(c != NULL, "expected an error: %s", json_object_to_json_string(resp));
	return json_object_get_int64(c);
}

static int64_t n_vms(void)
{
	json_object *r = mvmt_result(fd, "compute.vm.list", NULL);
	int64_t n = (int64_t)json_object_array_length(mvmt_get(r, "vms"));
	json_object_put(r);
	return n;
}

START_TEST(test_duplicate_members_refused)
{
	json_object *r = mvmt_result(fd, "compute.vm.create", "{\"name\":\"keep\",\"memory_mib\":16}");
	json_object_put(r);

	/* Today's main ran the second method (node.info); a proxy that
	 * allowed the first (a remove) would be fooled either way. */
	r = mvmt_request(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.remove\",\"method\":\"compute.node.info\","
			     "\"params\":{\"id\":\"keep\"},\"id\":1}");
	ck_assert_int_eq(code_of(r), -32600);
	ck_assert_int_eq(mvmt_int(r, "id"), 1);
	ck_assert_ptr_nonnull(strstr(mvmt_str(r, "error.data.reason"), "duplicate"));
	json_object_put(r);

	/* In params, at any depth, however the name is spelled. */
	static const char *const lines[] = {
		"{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.remove\",\"params\":{\"id\":\"nosuch\",\"id\":\"keep\"},\"id\":2}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.remove\",\"params\":{\"id\":\"keep\",\"\\u0069d\":\"keep\"},\"id\":2}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.create\",\"params\":{\"name\":\"dup\",\"memory_mib\":16,"
		"\"labels\":{\"a\":\"1\",\"a\":\"2\"}},\"id\":2}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.list\",\"params\":{},\"params\":{},\"id\":2}",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		r = mvmt_request(fd, lines[i]);
		ck_assert_msg(code_of(r) == -32600, "%s -> %s", lines[i], json_object_to_json_string(r));
		json_object_put(r);
	}
	/* Two ids: neither is echoed. */
	r = mvmt_request(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"compute.node.info\",\"id\":3,\"id\":4}");
	ck_assert_int_eq(code_of(r), -32600);
	ck_assert(json_object_is_type(mvmt_get(r, "id"), json_type_null));
	json_object_put(r);

	/* Nothing ran: the VM is still there, no other was made. */
	ck_assert_int_eq(n_vms(), 1);
	r = mvmt_result(fd, "compute.vm.status", "{\"id\":\"keep\"}");
	json_object_put(r);
}
END_TEST

START_TEST(test_lone_surrogates_refused)
{
	/* A name made of a lone surrogate used to become U+FFFD. */
	static const char *const names[] = { "\\ud800", "a\\udc00", "\\ud800\\u0041", "\\udbff\\udbff" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char line[256];
		snprintf(line, sizeof(line),
			 "{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.create\",\"params\":{\"name\":\"%s\",\"memory_mib\":16},"
			 "\"id\":5}", names[i]);
		json_object *r = mvmt_request(fd, line);
		ck_assert_msg(code_of(r) == -32700, "%s -> %s", names[i], json_object_to_json_string(r));
		ck_assert_ptr_nonnull(strstr(mvmt_str(r, "error.data.reason"), "surrogate"));
		json_object_put(r);
	}
	ck_assert_int_eq(n_vms(), 0);
	/* A proper pair is a character like any other. */
	json_object *r = mvmt_request(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"compute.node.info\",\"id\":\"\\ud83d\\ude00\"}");
	ck_assert_ptr_nonnull(mvmt_get(r, "result"));
	ck_assert_str_eq(mvmt_str(r, "id"), "\xf0\x9f\x98\x80");
	json_object_put(r);
}
END_TEST

START_TEST(test_events_tail_limit_zero_follows_without_backlog)
{
	json_object *r = mvmt_result(fd, "compute.vm.create", "{\"name\":\"old\",\"memory_mib\":16}");
	json_object_put(r);

	int f = mvmt_connect(d.sock);
	r = mvmt_result(f, "compute.vm.events.tail", "{\"follow\":true,\"limit\":0}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "events")), 0);
	ck_assert(!json_object_get_boolean(mvmt_get(r, "more")));
	int64_t next = mvmt_int(r, "next");
	ck_assert_int_gt(next, 0);
	json_object_put(r);

	/* No backlog follows as notifications: the first one is new. */
	r = mvmt_result(fd, "compute.vm.create", "{\"name\":\"new\",\"memory_mib\":16}");
	json_object_put(r);
	char *line = mvmt_read_line(f, 10000);
	ck_assert_ptr_nonnull(line);
	json_object *n = json_tokener_parse(line);
	free(line);
	ck_assert_str_eq(mvmt_str(n, "method"), "compute.vm.event");
	ck_assert_int_eq(mvmt_int(n, "params.seq"), next);
	json_object_put(n);
	close(f);
	mvmt_forget_fd(f);

	/* Without follow, limit 0 tells where the stream is. */
	r = mvmt_result(fd, "compute.vm.events.tail", "{\"limit\":0}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "events")), 0);
	ck_assert_int_gt(mvmt_int(r, "next"), next);
	json_object_put(r);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.events.tail", "{\"limit\":-1}"), -32602);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "input",
		.timeout = 60,
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_duplicate_members_refused),
			MVMT_TEST(test_lone_surrogates_refused),
			MVMT_TEST(test_events_tail_limit_zero_follows_without_backlog)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd_input", .tcases = tcases)
