/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.vm.start {"id", "snapshot"}: a ch VM restored from one of its
 * own snapshots through the real mvmd, against the cloud-hypervisor TEST
 * DOUBLE (tests/lib/ch-api-double.c: vm.restore only into a VMM with no
 * VM, from a directory holding the snapshot's config.json, leaving it
 * Paused until vm.resume). What this proves: the exact API requests of a
 * restore (vm.restore, vm.resume; no vm.create, no vm.boot), Running at
 * the end, the errors (no such snapshot, a name that is no snapshot's, a
 * state that forbids a start, a snapshot the VM lacks) with nothing spawned, and
 * a kill -9 of mvmd before vm.restore or between vm.restore and vm.resume
 * (fault points start.spawned, restore.restored) finished by the next
 * mvmd. The fixture is tests/lib/ch-daemon.c.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ch-daemon.h"
#include "durability-helpers.h"
#include "mvmt-main.h"
#include "mvmtest.h"

static json_object *ok(const char *method, const char *name, const char *extra)
{
	json_object *r = chd_call_id(method, name, extra);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "%s failed: %s", method, json_object_to_json_string(r));
	json_object *res = json_object_get(mvmt_get(r, "result"));
	json_object_put(r);
	return res;
}

static const char *requests(const char *name)
{
	static char path[512];

	chd_vm_file(name, "fake-ch.requests", path, sizeof(path));
	const char *reqs = chd_slurp(path);
	ck_assert_ptr_nonnull(reqs);
	return reqs;
}

/* Forget what the double recorded so far: the next process's requests
 * and argv are then the only ones. */
static void forget_double(const char *name)
{
	char path[512];

	chd_vm_file(name, "fake-ch.requests", path, sizeof(path));
	ck_assert_int_eq(unlink(path), 0);
	chd_vm_file(name, "fake-ch.argv", path, sizeof(path));
	ck_assert_int_eq(unlink(path), 0);
}

static bool double_spawned(const char *name)
{
	char path[512];

	chd_vm_file(name, "fake-ch.argv", path, sizeof(path));
	return access(path, F_OK) == 0;
}

/* A Running VM `name` with snapshot 1, then Stopped; the double forgotten. */
static void snapshot_and_stop(const char *name)
{
	chd_create(name);
	json_object *r = ok("compute.vm.start", name, NULL);
	ck_assert_str_eq(mvmt_str(r, "state"), "Running");
	int pid = (int)mvmt_int(r, "pid");
	json_object_put(r);
	r = ok("compute.vm.snapshot", name, NULL);
	ck_assert_str_eq(mvmt_str(r, "snapshot.name"), "1");
	json_object_put(r);
	r = ok("compute.vm.stop", name, NULL);
	ck_assert_str_eq(mvmt_str(r, "state"), "Stopped");
	json_object_put(r);
	chd_wait_ended(pid);
	forget_double(name);
}

/* "PUT /api/v1/vm.restore body=N\n" for snapshot 1 of name. */
static void restore_line(const char *name, char *buf, size_t size)
{
	char dir[512];

	chd_vm_file(name, "snapshots/1", dir, sizeof(dir));
	snprintf(buf, size, "PUT /api/v1/vm.restore body=%zu\n", strlen("{\"source_url\":\"file://\"}") + strlen(dir));
}

static void assert_no_boot(const char *name)
{
	ck_assert_msg(!strstr(requests(name), "vm.create") && !strstr(requests(name), "vm.boot"), "%s", requests(name));
}

START_TEST(test_restore)
{
	char line[600], expect[1024];

	chd_start(NULL);
	snapshot_and_stop("r");
	json_object *r = ok("compute.vm.start", "r", "\"snapshot\":\"1\"");
	ck_assert_str_eq(mvmt_str(r, "state"), "Running");
	int pid = (int)mvmt_int(r, "pid");
	ck_assert_int_gt(pid, 0);
	json_object_put(r);

	/* vm.restore then vm.resume, in place of vm.create and vm.boot */
	restore_line("r", line, sizeof(line));
	snprintf(expect, sizeof(expect), "GET /api/v1/vmm.ping\n%sPUT /api/v1/vm.resume\nGET /api/v1/vm.info\n", line);
	ck_assert_msg(strstr(requests("r"), expect), "%s", requests("r"));
	assert_no_boot("r");
	json_object *s = chd_status("r");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	json_object *t = mvmt_get(s, "transitions");
	const char *ts = json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN);
	ck_assert_msg(strstr(ts, "\"cause\":\"restore from snapshot 1 requested\""), "%s", ts);
	json_object_put(s);
	/* the restored guest's serial port is relayed as a booted one's */
	chd_wait_log("r", "mvm-init: ready");

	/* It is a VM like any other: pause, resume, stop. */
	json_object_put(ok("compute.vm.pause", "r", NULL));
	json_object_put(ok("compute.vm.resume", "r", NULL));
	r = ok("compute.vm.stop", "r", NULL);
	ck_assert_str_eq(mvmt_str(r, "state"), "Stopped");
	json_object_put(r);
	chd_wait_ended(pid);
}
END_TEST

/* The error's code, asserting data.reason holds want_reason. */
static int64_t restore_err(const char *name, const char *extra, const char *want_reason)
{
	json_object *r = chd_call_id("compute.vm.start", name, extra);
	ck_assert_msg(mvmt_get(r, "error") != NULL, "answered: %s", json_object_to_json_string(r));
	if (want_reason)
		ck_assert_msg(strstr(mvmt_str(r, "error.data.reason"), want_reason), "%s", json_object_to_json_string(r));
	int64_t code = mvmt_int(r, "error.code");
	json_object_put(r);
	return code;
}

START_TEST(test_restore_errors)
{
	chd_start(NULL);
	snapshot_and_stop("e");
	/* No such snapshot, or a name that is none: -32602, nothing spawned,
	 * still Stopped. */
	json_object *r = chd_call_id("compute.vm.start", "e", "\"snapshot\":\"7\"");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32602);
	ck_assert_str_eq(mvmt_str(r, "error.data.snapshot"), "7");
	ck_assert_str_eq(mvmt_str(r, "error.data.param"), "snapshot");
	ck_assert_str_eq(mvmt_str(r, "error.data.reason"), "the VM has no snapshot 7");
	json_object_put(r);
	ck_assert_int_eq(restore_err("e", "\"snapshot\":\"../1\"", "is no snapshot name"), -32602);
	ck_assert_int_eq(restore_err("e", "\"snapshot\":\"01\"", "is no snapshot name"), -32602);
	ck_assert_int_eq(restore_err("e", "\"snapshot\":\"\"", "is no snapshot name"), -32602);
	ck_assert_int_eq(restore_err("e", "\"snapshot\":1", NULL), -32602);
	ck_assert(!double_spawned("e"));
	json_object *s = chd_status("e");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	const char *ts = json_object_to_json_string_ext(mvmt_get(s, "transitions"), JSON_C_TO_STRING_PLAIN);
	ck_assert_msg(!strstr(ts, "restore"), "%s", ts);
	json_object_put(s);

	/* Running: a start is refused, as without "snapshot" */
	json_object_put(ok("compute.vm.start", "e", "\"snapshot\":\"1\""));
	ck_assert_int_eq(restore_err("e", "\"snapshot\":\"1\"", "start is allowed from"), -32002);

	/* Another VM's snapshot is not this one's: each VM has its own. */
	chd_create("other");
	ck_assert_int_eq(restore_err("other", "\"snapshot\":\"1\"", "the VM has no snapshot 1"), -32602);

	/* A kvm VM restores its own snapshots too: one it lacks, nothing made. */
	json_object_put(mvmt_result(chd.fd, "compute.vm.create", "{\"name\":\"k\",\"memory_mib\":64,\"vcpus\":1}"));
	ck_assert_int_eq(restore_err("k", "\"snapshot\":\"1\"", "the VM has no snapshot 1"), -32602);
	s = chd_status("k");
	ck_assert_str_eq(mvmt_str(s, "state"), "Configured");
	json_object_put(s);
}
END_TEST

/* Snapshot, stop, then restore on an mvmd that dies at `fault`; the next
 * mvmd finishes the restore. */
static void restore_across_death(const char *name, const char *fault)
{
	const char *extra[] = { "--ch-binary", chd.fake, "--kvm-device", chd.fake_kvm, NULL };
	char line[1024];

	chd_start(NULL);
	snapshot_and_stop(name);
	close(chd.fd);
	mvmt_forget_fd(chd.fd);
	mvmt_daemon_stop(&chd.d, SIGTERM);

	dh_start_fault_with(&chd.d, fault, true, extra);
	chd.fd = mvmt_connect(chd.d.sock);
	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"compute.vm.start\",\"params\":{\"id\":\"%s\",\"snapshot\":\"1\"}}",
		 name);
	dh_call_expect_death(&chd.d, chd.fd, line);
	close(chd.fd);
	mvmt_forget_fd(chd.fd);

	chd_start(NULL);
	json_object *s = chd_wait_state(name, "Running");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	json_object_put(s);
	assert_no_boot(name);
}

START_TEST(test_restore_readopt_before_restore)
{
	char line[600], expect[1024];

	/* Died once cloud-hypervisor was spawned, before its vm.restore:
	 * vm.info finds no VM, the next mvmd restores and resumes it. */
	restore_across_death("a", "start.spawned");
	restore_line("a", line, sizeof(line));
	snprintf(expect, sizeof(expect), "GET /api/v1/vm.info\n%sPUT /api/v1/vm.resume\n", line);
	ck_assert_msg(strstr(requests("a"), expect), "%s", requests("a"));
}
END_TEST

START_TEST(test_restore_readopt_paused)
{
	char line[600], *after;

	/* Died between vm.restore and vm.resume: vm.info says "Paused", the
	 * next mvmd resumes it (the start asked for a Running VM), and
	 * restores nothing twice. */
	restore_across_death("b", "restore.restored");
	restore_line("b", line, sizeof(line));
	after = strstr(requests("b"), line);
	ck_assert_msg(after, "%s", requests("b"));
	after += strlen(line);
	ck_assert_msg(!strstr(after, "vm.restore"), "%s", requests("b"));
	ck_assert_msg(strstr(after, "GET /api/v1/vm.info\nPUT /api/v1/vm.resume\n"), "%s", requests("b"));
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "mvmd_ch_restore",
		.timeout = 90,
		.setup = chd_setup,
		.teardown = chd_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_restore),
			MVMT_TEST(test_restore_errors),
			MVMT_TEST(test_restore_readopt_before_restore),
			MVMT_TEST(test_restore_readopt_paused)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd_ch_restore", .tcases = tcases)
