/* SPDX-License-Identifier: Apache-2.0 */
/* cloud-hypervisor's REST API as mvmd uses it: the requests, the statuses
 * each accepts, and the strict vmm.ping / vm.info body parsers. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ch/api.h"
#include "mvmt-main.h"

START_TEST(test_requests)
{
	static const struct {
		ch_api_op_t op;
		const char *method, *path, *name;
		bool body, takes;
	} want[] = {
		{ CH_API_PING, "GET", "/api/v1/vmm.ping", "vmm.ping", true },
		{ CH_API_INFO, "GET", "/api/v1/vm.info", "vm.info", true },
		{ CH_API_POWER_BUTTON, "PUT", "/api/v1/vm.power-button", "vm.power-button", false },
		{ CH_API_VM_SHUTDOWN, "PUT", "/api/v1/vm.shutdown", "vm.shutdown", false },
		{ CH_API_VMM_SHUTDOWN, "PUT", "/api/v1/vmm.shutdown", "vmm.shutdown", false },
		{ CH_API_VM_CREATE, "PUT", "/api/v1/vm.create", "vm.create", false, true },
		{ CH_API_VM_BOOT, "PUT", "/api/v1/vm.boot", "vm.boot", false },
		{ CH_API_VM_PAUSE, "PUT", "/api/v1/vm.pause", "vm.pause", false },
		{ CH_API_VM_RESUME, "PUT", "/api/v1/vm.resume", "vm.resume", false },
		{ CH_API_VM_SNAPSHOT, "PUT", "/api/v1/vm.snapshot", "vm.snapshot", false, true },
		{ CH_API_VM_RESTORE, "PUT", "/api/v1/vm.restore", "vm.restore", false, true },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const ch_api_request_t *r = ch_api_request(want[i].op);
		ck_assert_ptr_nonnull(r);
		ck_assert_str_eq(r->method, want[i].method);
		ck_assert_str_eq(r->path, want[i].path);
		ck_assert_int_eq(r->has_body, want[i].body);
		ck_assert_int_eq(r->takes_body, want[i].takes);
		ck_assert_str_eq(ch_api_op_to_string(want[i].op), want[i].name);
	}
	ck_assert_ptr_null(ch_api_request(_CH_API_OP_MAX));
	ck_assert_ptr_null(ch_api_request((ch_api_op_t)-1));
}
END_TEST

START_TEST(test_status)
{
	ck_assert_int_eq(ch_api_check_status(CH_API_PING, 200), 0);
	ck_assert_int_eq(ch_api_check_status(CH_API_PING, 204), -EPROTO);
	ck_assert_int_eq(ch_api_check_status(CH_API_INFO, 500), -EPROTO);
	ck_assert_int_eq(ch_api_check_status(CH_API_POWER_BUTTON, 204), 0);
	ck_assert_int_eq(ch_api_check_status(CH_API_VM_SHUTDOWN, 200), 0);
	ck_assert_int_eq(ch_api_check_status(CH_API_VMM_SHUTDOWN, 404), -EPROTO);
	ck_assert_int_eq(ch_api_check_status(CH_API_POWER_BUTTON, 500), -EPROTO);
	ck_assert_int_eq(ch_api_check_status(CH_API_VM_CREATE, 204), 0);
	ck_assert_int_eq(ch_api_check_status(CH_API_VM_CREATE, 400), -EPROTO);
	ck_assert_int_eq(ch_api_check_status(CH_API_VM_BOOT, 204), 0);
	ck_assert_int_eq(ch_api_check_status(CH_API_VM_BOOT, 404), -EPROTO);
	ck_assert_int_eq(ch_api_check_status(_CH_API_OP_MAX, 200), -EINVAL);
}
END_TEST

static int info(const char *body, ch_vm_state_t *s)
{
	return ch_api_parse_info(body, strlen(body), s);
}

START_TEST(test_info)
{
	ch_vm_state_t s = _CH_VM_STATE_INVALID;
	const char *real = "{\"config\":{\"cpus\":{\"boot_vcpus\":1,\"max_vcpus\":1,\"topology\":null},"
			   "\"memory\":{\"size\":268435456}},\"state\":\"Running\",\"memory_actual_size\":268435456,"
			   "\"device_tree\":{\"_serial\":{\"id\":\"_serial\",\"children\":[],\"pci_bdf\":null}}}\r\n";

	ck_assert_int_eq(info(real, &s), 0);
	ck_assert_int_eq(s, CH_VM_RUNNING);
	ck_assert_int_eq(info("{\"state\":\"Created\"}", &s), 0);
	ck_assert_int_eq(s, CH_VM_CREATED);
	ck_assert_int_eq(info("{\"state\":\"Shutdown\"}", &s), 0);
	ck_assert_int_eq(s, CH_VM_SHUTDOWN);
	ck_assert_int_eq(info("{\"state\":\"Paused\"}", &s), 0);
	ck_assert_int_eq(s, CH_VM_PAUSED);
	ck_assert_int_eq(info("{\"state\":\"BreakPoint\"}", &s), 0);
	ck_assert_int_eq(s, CH_VM_BREAKPOINT);

	s = CH_VM_PAUSED;
	static const char *const bad[] = {
		"", "null", "[]", "\"Running\"", "{}", "{\"state\":\"running\"}", "{\"state\":1}",
		"{\"state\":\"Running\"", "{\"state\":\"Running\"} {}", "{\"state\":\"Running\"}x",
		"{\"state\":\"Run\\u0000ning\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(info(bad[i], &s) == -EBADMSG, "accepted %s", bad[i]);
	ck_assert_int_eq(s, CH_VM_PAUSED); /* untouched on error */
	ck_assert_int_eq(ch_api_parse_info("{\"state\":\"Running\"}\0", 21, &s), -EBADMSG);
	ck_assert_int_eq(ch_api_parse_info(NULL, 0, &s), -EBADMSG);

	/* Deep nesting is refused, not recursed into. */
	char deep[400] = "";
	for (int i = 0; i < 100; i++)
		strcat(deep, "[");
	ck_assert_int_eq(info(deep, &s), -EBADMSG);
}
END_TEST

START_TEST(test_ping)
{
	char *v = NULL;
	const char *real = "{\"build_version\":\"v40.0.0-12-gabcdef\",\"version\":\"40.0.0\",\"pid\":1234,"
			   "\"features\":[\"kvm\",\"io_uring\"]}";

	ck_assert_int_eq(ch_api_parse_ping(real, strlen(real), &v), 0);
	ck_assert_str_eq(v, "40.0.0");
	free(v);
	ck_assert_int_eq(ch_api_parse_ping("{\"build_version\":\"v36.0\"}", 25, &v), 0);
	ck_assert_str_eq(v, "v36.0");
	free(v);
	v = NULL;
	ck_assert_int_eq(ch_api_parse_ping("{}", 2, &v), -EBADMSG);
	ck_assert_int_eq(ch_api_parse_ping("{\"version\":\"\"}", 14, &v), -EBADMSG);
	ck_assert_int_eq(ch_api_parse_ping("{\"version\":3}", 13, &v), -EBADMSG);
	ck_assert_int_eq(ch_api_parse_ping("{\"version\":\"a\\u0000b\"}", 22, &v), -EBADMSG);
	ck_assert_ptr_null(v);
}
END_TEST

START_TEST(test_states)
{
	for (int i = 0; i < _CH_VM_STATE_MAX; i++)
		ck_assert_int_eq(ch_vm_state_from_string(ch_vm_state_to_string((ch_vm_state_t)i)), i);
	ck_assert_int_eq(ch_vm_state_from_string("Stopped"), _CH_VM_STATE_INVALID);
	ck_assert_int_eq(ch_vm_state_from_string(NULL), _CH_VM_STATE_INVALID);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "ch_api",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_requests),
			MVMT_TEST(test_status),
			MVMT_TEST(test_info),
			MVMT_TEST(test_ping),
			MVMT_TEST(test_states)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "ch_api", .tcases = tcases)
