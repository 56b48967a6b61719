/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wasm workloads by hash in micro-VMs, through the real mvmd on the real
 * /dev/kvm: modules built by `make` from tests/workloads/
 * (build/wasm-programs/wl-*.wasm) are stored with compute.blob.put and
 * run with compute.vm.create {workload}. Exit codes, traps, missing
 * imports, capabilities, timeouts, memory limits, output floods, stdin,
 * 20 VMs at once, and kill -9 of mvmd while a workload runs.
 */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mvmtest.h"

static mvmt_daemon_t d;
static int fd;

static void setup(void)
{
	mvmt_daemon_init(&d);
	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);
}

static void teardown(void)
{
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_stop_running_vms(&d); /* workers outlive mvmd by design */
	mvmt_daemon_cleanup(&d);
}

/* compute.blob.put of build/wasm-programs/wl-<prog>.wasm; the hash. */
static char *put_prog(const char *prog)
{
	char rel[256], abs[4096], p[4200];
	const char *b = getenv("MVM_BUILD_DIR");
	snprintf(rel, sizeof(rel), "%s/wasm-programs/wl-%s.wasm", b && *b ? b : "build", prog);
	ck_assert_msg(realpath(rel, abs) != NULL, "%s not built", rel);
	snprintf(p, sizeof(p), "{\"path\":\"%s\"}", abs);
	json_object *r = mvmt_result(fd, "compute.blob.put", p);
	char *h = strdup(mvmt_str(r, "hash"));
	json_object_put(r);
	return h;
}

/* create {name, memory, workload {hash of prog, extra members}}; the VM. */
static json_object *create_wl(const char *name, const char *prog, int mem, const char *extra)
{
	char p[8192];
	char *h = put_prog(prog);
	snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":%d,\"workload\":{\"hash\":\"%s\"%s%s}}", name, mem, h,
		 extra ? "," : "", extra ? extra : "");
	free(h);
	return mvmt_result(fd, "compute.vm.create", p);
}

static json_object *call_id(const char *method, const char *name, const char *extra)
{
	return mvmt_call_id(fd, method, name, extra);
}

static json_object *status(const char *name)
{
	return mvmt_status(fd, name);
}

static bool is_final(const char *s)
{
	return !strcmp(s, "Stopped") || !strcmp(s, "Failed") || !strcmp(s, "StartFailed");
}

/* Poll status until the VM is Stopped/Failed/StartFailed (timeout_ms). */
static json_object *wait_end(const char *name, int timeout_ms)
{
	for (int i = 0; i < timeout_ms / 10; i++) {
		json_object *s = status(name);
		if (is_final(mvmt_str(s, "state")))
			return s;
		json_object_put(s);
		usleep(10000);
	}
	json_object *s = status(name);
	ck_abort_msg("%s never ended: %s", name, json_object_to_json_string(s));
	return s;
}

/* The VM's console log (caller frees). */
static char *logs(const char *name)
{
	json_object *r = call_id("compute.vm.logs", name, "\"tail_bytes\":1048576");
	char *s = strdup(mvmt_str(r, "result.data"));
	json_object_put(r);
	return s;
}

/* create + start + wait until it ended; returns the final status. */
static json_object *run_wl(const char *name, const char *prog, int mem, const char *extra)
{
	json_object_put(create_wl(name, prog, mem, extra));
	json_object *r = call_id("compute.vm.start", name, NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
	json_object_put(r);
	return wait_end(name, 10000);
}

static void assert_contains(const char *hay, const char *needle)
{
	ck_assert_msg(hay && strstr(hay, needle), "\"%s\" not in \"%s\"", needle, hay ? hay : "(null)");
}

START_TEST(test_hello_args_env)
{
	json_object *s = run_wl("hello", "hello", 16, "\"args\":[\"hello\",\"two words\",\"\"],\"env\":{\"GREETING\":\"hi there\",\"EMPTY\":\"\"}");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
	ck_assert_str_eq(mvmt_str(s, "cause"), "guest exited with code 0");
	/* the granted (default) capabilities are in status */
	json_object *caps = mvmt_get(s, "workload.capabilities");
	ck_assert_int_eq(json_object_array_length(caps), 6);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(caps, 0)), "stdout");
	json_object_put(s);
	char *l = logs("hello");
	ck_assert_str_eq(l, "hello from a Wasm workload in a micro-VM\n"
			    "argv[0] = hello\nargv[1] = two words\nargv[2] = \n"
			    "env GREETING=hi there\nenv EMPTY=\n");
	free(l);
	/* a finished workload runs again on start */
	json_object_put(call_id("compute.vm.start", "hello", NULL));
	s = wait_end("hello", 10000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	json_object_put(s);
}
END_TEST

START_TEST(test_exit_codes)
{
	const int codes[] = { 0, 1, 42 };
	for (int i = 0; i < 3; i++) {
		char name[32], extra[64], want[64];
		snprintf(name, sizeof(name), "exit-%d", codes[i]);
		snprintf(extra, sizeof(extra), "\"args\":[\"exit\",\"%d\"]", codes[i]);
		json_object *s = run_wl(name, "exit", 16, extra);
		ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
		ck_assert_int_eq(mvmt_int(s, "exit_code"), codes[i]);
		json_object_put(s);
		char *l = logs(name);
		snprintf(want, sizeof(want), "exiting with %d\n", codes[i]);
		ck_assert_str_eq(l, want);
		free(l);
	}
}
END_TEST

START_TEST(test_traps)
{
	static const struct { const char *arg, *kind; } t[] = {
		{ "div", "wasm trap: integer divide by zero" },
		{ "unreachable", "wasm trap: unreachable" },
		{ "oob", "wasm trap: out of bounds memory access" },
		{ "deep", "wasm trap: call stack exhausted" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char name[32], extra[64], want[64];
		snprintf(name, sizeof(name), "trap-%s", t[i].arg);
		snprintf(extra, sizeof(extra), "\"args\":[\"trap\",\"%s\"]", t[i].arg);
		json_object *s = run_wl(name, "trap", 16, extra);
		ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
		assert_contains(mvmt_str(s, "cause"), t[i].kind);
		ck_assert_ptr_null(mvmt_get(s, "exit_code"));
		json_object_put(s);
		/* output written before the trap is not lost */
		char *l = logs(name);
		snprintf(want, sizeof(want), "about to trap: %s\n", t[i].arg);
		ck_assert_str_eq(l, want);
		free(l);
	}
}
END_TEST

START_TEST(test_missing_import_and_bad_module)
{
	json_object *s = run_wl("missing", "missing", 16, NULL);
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	assert_contains(mvmt_str(s, "cause"), "unknown import env.mvm_no_such_function");
	json_object_put(s);

	/* bytes that are no Wasm module, stored as a plain blob */
	json_object *r = mvmt_result(fd, "compute.blob.put", "{\"data\":\"bm90IGEgd2FzbSBtb2R1bGUK\"}");
	char p[512];
	snprintf(p, sizeof(p), "{\"name\":\"bad\",\"memory_mib\":16,\"workload\":{\"hash\":\"%s\"}}", mvmt_str(r, "hash"));
	json_object_put(r);
	json_object_put(mvmt_result(fd, "compute.vm.create", p));
	json_object_put(call_id("compute.vm.start", "bad", NULL));
	s = wait_end("bad", 10000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	assert_contains(mvmt_str(s, "cause"), "workload: invalid module");
	json_object_put(s);
}
END_TEST

START_TEST(test_blob_not_found_and_bad_specs)
{
	const char *h0 = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	char p[512];
	snprintf(p, sizeof(p), "{\"name\":\"nope\",\"memory_mib\":16,\"workload\":{\"hash\":\"%s\"}}", h0);
	json_object *r = mvmt_result(fd, "compute.vm.create", p);
	ck_assert_str_eq(mvmt_str(r, "state"), "Failed");
	char want[128];
	snprintf(want, sizeof(want), "blob not found: %s", h0);
	ck_assert_str_eq(mvmt_str(r, "cause"), want);
	json_object_put(r);
	/* the VM exists for inspection and removal */
	r = status("nope");
	ck_assert_str_eq(mvmt_str(r, "state"), "Failed");
	json_object_put(r);
	json_object_put(mvmt_result(fd, "compute.vm.remove", "{\"id\":\"nope\"}"));

	/* malformed specs are invalid params, naming the member */
	static const char *bad[] = {
		"{\"memory_mib\":16,\"workload\":{\"hash\":\"sha256:ABC\"}}",
		"{\"memory_mib\":16,\"workload\":{\"hash\":\"sha256:00000000000000000000000000000000000000000000000000000000000000000\"}}",
		"{\"memory_mib\":16,\"workload\":{}}",
		"{\"memory_mib\":16,\"workload\":{\"hash\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\",\"args\":[1]}}",
		"{\"memory_mib\":16,\"workload\":{\"hash\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\",\"env\":{\"A=B\":\"x\"}}}",
		"{\"memory_mib\":16,\"workload\":{\"hash\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\",\"capabilities\":[\"network\"]}}",
		"{\"memory_mib\":16,\"workload\":{\"hash\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\",\"timeout_ms\":0}}",
		"{\"memory_mib\":16,\"workload\":{\"hash\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\",\"color\":1}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *e = mvmt_call(fd, "compute.vm.create", bad[i]);
		ck_assert_msg(mvmt_int(e, "error.code") == -32602, "%s: %s", bad[i], json_object_to_json_string(e));
		assert_contains(mvmt_str(e, "error.data.param"), "workload");
		json_object_put(e);
	}
	r = mvmt_result(fd, "compute.vm.list", NULL);
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "vms")), 0);
	json_object_put(r);
}
END_TEST

START_TEST(test_blob_in_use)
{
	json_object *s = run_wl("user", "exit", 16, NULL);
	char p[256];
	snprintf(p, sizeof(p), "{\"hash\":\"%s\"}", mvmt_str(s, "workload.hash"));
	json_object_put(s);
	json_object *e = mvmt_call(fd, "compute.blob.remove", p);
	ck_assert_ptr_nonnull(mvmt_get(e, "error"));
	json_object_put(e);
	json_object_put(mvmt_result(fd, "compute.vm.remove", "{\"id\":\"user\"}"));
	json_object_put(mvmt_result(fd, "compute.blob.remove", p));
}
END_TEST

START_TEST(test_capabilities)
{
	/* everything granted: every call works (fd_read(0) too: no input
	 * is waiting, so it would block; not reached with len 0) */
	json_object *s = run_wl("caps-all", "caps", 16,
				"\"capabilities\":[\"stdin\",\"stdout\",\"stderr\",\"clock\",\"random\",\"env\",\"args\"]");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	json_object_put(s);
	char *l = logs("caps-all");
	assert_contains(l, "random_get: 0\n");
	assert_contains(l, "clock_time_get: 0\n");
	assert_contains(l, "args_sizes_get: 0\n");
	assert_contains(l, "environ_sizes_get: 0\n");
	assert_contains(l, "stderr line\n");
	assert_contains(l, "fd_read(0): 0\n");
	free(l);

	/* the default set: all but stdin */
	s = run_wl("caps-default", "caps", 16, NULL);
	json_object_put(s);
	l = logs("caps-default");
	assert_contains(l, "random_get: 0\n");
	assert_contains(l, "fd_read(0): 76\n");
	free(l);

	/* stdout only: the rest is denied with 76 (notcapable), and stderr
	 * output does not appear */
	s = run_wl("caps-none", "caps", 16, "\"capabilities\":[\"stdout\"]");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(json_object_array_length(mvmt_get(s, "workload.capabilities")), 1);
	json_object_put(s);
	l = logs("caps-none");
	ck_assert_str_eq(l, "random_get: 76\nclock_time_get: 76\nargs_sizes_get: 76\nenviron_sizes_get: 76\n"
			    "fd_write(2): 76\nfd_read(0): 76\n");
	free(l);
}
END_TEST

START_TEST(test_timeout)
{
	json_object_put(create_wl("spin", "spin", 16, "\"timeout_ms\":300"));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	json_object *r = call_id("compute.vm.start", "spin", NULL);
	int pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	json_object *s = wait_end("spin", 10000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	assert_contains(mvmt_str(s, "cause"), "timeout");
	json_object_put(s);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_msg(ms >= 250 && ms < 5000, "ended after %ld ms", ms);
	ck_assert(pid <= 0 || mvmt_process_ended(pid));
	char *l = logs("spin");
	ck_assert_str_eq(l, "spinning\n");
	free(l);
}
END_TEST

START_TEST(test_memory_grow_bounded)
{
	json_object *s = run_wl("grow", "grow", 8, NULL);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
	json_object_put(s);
	char *l = logs("grow");
	assert_contains(l, "memory.grow: -1 after ");
	assert_contains(l, "last byte 42");
	/* an 8 MiB VM cannot give 8 MiB of linear memory */
	unsigned long grown = 0, from = 0, to = 0;
	ck_assert_int_eq(sscanf(l, "memory.grow: -1 after %lu pages (from %lu to %lu", &grown, &from, &to), 3);
	ck_assert(grown > 8 && to * 65536 < 8u << 20);
	free(l);
}
END_TEST

START_TEST(test_flood)
{
	/* 32 MiB of output as fast as the guest can write it */
	json_object_put(create_wl("flood", "flood", 16, "\"args\":[\"flood\",\"32\"]"));
	json_object_put(call_id("compute.vm.start", "flood", NULL));
	/* mvmd stays responsive meanwhile */
	for (int i = 0; i < 20; i++) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		json_object_put(mvmt_result(fd, "compute.node.info", NULL));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		ck_assert_msg(ms < 1000, "node.info took %ld ms during the flood", ms);
		usleep(20000);
	}
	json_object *s = wait_end("flood", 60000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
	json_object_put(s);
	/* the log is capped, and ends with the last line */
	json_object *r = call_id("compute.vm.logs", "flood", "\"tail_bytes\":64");
	assert_contains(mvmt_str(r, "result.data"), "flood done\n");
	ck_assert(mvmt_int(r, "result.size") < 32 << 20);
	json_object_put(r);
}
END_TEST

START_TEST(test_stdin)
{
	json_object_put(create_wl("cat", "cat", 16, "\"capabilities\":[\"stdin\",\"stdout\"]"));
	json_object_put(call_id("compute.vm.start", "cat", NULL));
	json_object *r = call_id("compute.vm.console.endpoint", "cat", NULL);
	int c = mvmt_connect(mvmt_str(r, "result.path"));
	json_object_put(r);
	usleep(50000);
	mvmt_write(c, "line one\n", 9);
	char *line = mvmt_read_line(c, 5000);
	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(line, "got: line one");
	free(line);
	/* a stop (with grace) reads as end of input: the program exits */
	r = call_id("compute.vm.stop", "cat", "\"timeout_ms\":5000");
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	json_object_put(r);
	json_object *s = status("cat");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
	json_object_put(s);
	char *l = logs("cat");
	ck_assert_str_eq(l, "got: line one\nend of input\n");
	free(l);
	close(c);
	mvmt_forget_fd(c);
}
END_TEST

START_TEST(test_twenty_parallel)
{
	char *h = put_prog("hello");
	char p[512];
	for (int i = 0; i < 20; i++) {
		snprintf(p, sizeof(p), "{\"name\":\"par-%d\",\"memory_mib\":16,\"workload\":{\"hash\":\"%s\",\"args\":[\"vm\",\"%d\"]}}",
			 i, h, i);
		json_object_put(mvmt_result(fd, "compute.vm.create", p));
	}
	free(h);
	/* all starts in one batch line: mvmd starts them concurrently */
	size_t cap = 8192, len = 0;
	char *batch = malloc(cap);
	len += (size_t)snprintf(batch + len, cap - len, "[");
	for (int i = 0; i < 20; i++)
		len += (size_t)snprintf(batch + len, cap - len,
					"%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"compute.vm.start\",\"params\":{\"id\":\"par-%d\"}}",
					i ? "," : "", i, i);
	snprintf(batch + len, cap - len, "]");
	json_object *resp = mvmt_request(fd, batch);
	free(batch);
	ck_assert_int_eq(json_object_array_length(resp), 20);
	json_object_put(resp);
	for (int i = 0; i < 20; i++) {
		char name[32], want[64];
		snprintf(name, sizeof(name), "par-%d", i);
		json_object *s = wait_end(name, 20000);
		ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
		ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
		json_object_put(s);
		char *l = logs(name);
		snprintf(want, sizeof(want), "argv[1] = %d\n", i);
		assert_contains(l, want);
		free(l);
	}
}
END_TEST

START_TEST(test_kill9_while_running)
{
	json_object_put(create_wl("sleeper", "sleep", 16, "\"args\":[\"sleep\",\"1500\",\"7\"]"));
	json_object *r = call_id("compute.vm.start", "sleeper", NULL);
	int pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	ck_assert_int_gt(pid, 0);
	/* output that reached mvmd before it died stays in the log (output
	 * still in the worker when it ends with mvmd down is not kept) */
	for (int i = 0; i < 500; i++) {
		char *l = logs("sleeper");
		bool seen = strstr(l, "sleeping") != NULL;
		free(l);
		if (seen)
			break;
		usleep(10000);
	}
	close(fd);
	mvmt_forget_fd(fd);
	int st = mvmt_daemon_stop(&d, SIGKILL);
	ck_assert(WIFSIGNALED(st));
	/* the workload keeps running without mvmd, and finishes */
	ck_assert(!mvmt_process_ended(pid));
	for (int i = 0; i < 500 && !mvmt_process_ended(pid); i++)
		usleep(10000);
	ck_assert(mvmt_wait_process_ended(pid, 5000));
	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);
	json_object *s = status("sleeper");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 7);
	json_object_put(s);
	char *l = logs("sleeper");
	assert_contains(l, "sleeping 1500 ms\n");
	free(l);
}
END_TEST

START_TEST(test_kill9_readopt_running)
{
	/* mvmd comes back while the workload still runs: it re-adopts it and
	 * sees it end; the timeout is re-armed from the worker's start time */
	json_object_put(create_wl("late", "sleep", 16, "\"args\":[\"sleep\",\"1000\",\"3\"]"));
	json_object_put(create_wl("late-spin", "spin", 16, "\"timeout_ms\":1500"));
	json_object_put(call_id("compute.vm.start", "late", NULL));
	json_object_put(call_id("compute.vm.start", "late-spin", NULL));
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGKILL);
	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);
	json_object *s = status("late");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	json_object_put(s);
	s = wait_end("late", 10000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 3);
	json_object_put(s);
	s = wait_end("late-spin", 10000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	assert_contains(mvmt_str(s, "cause"), "timeout");
	json_object_put(s);
}
END_TEST

START_TEST(test_hand_edited_state)
{
	/* a state file whose workload members have the wrong types: mvmd
	 * loads it and starts the VM without crashing on them */
	json_object *r = create_wl("edited", "hello", 16, "\"args\":[\"a\"],\"env\":{\"A\":\"1\"}");
	char path[512];
	snprintf(path, sizeof(path), "%s/vms/%s/state.json", d.state, mvmt_str(r, "id"));
	json_object_put(r);
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGTERM);
	json_object *st = json_object_from_file(path), *w;
	ck_assert_ptr_nonnull(st);
	ck_assert(json_object_object_get_ex(json_object_object_get(st, "spec"), "workload", &w));
	json_object_object_add(w, "args", json_object_new_string("not an array"));
	json_object_object_add(w, "env", json_object_new_int(5));
	json_object_object_add(w, "capabilities", json_object_new_object());
	json_object_object_add(w, "timeout_ms", json_object_new_string("soon"));
	ck_assert_int_eq(json_object_to_file(path, st), 0);
	json_object_put(st);
	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);
	json_object_put(call_id("compute.vm.start", "edited", NULL));
	json_object *s = wait_end("edited", 10000);
	/* nothing granted any more: libc cannot read its environment and
	 * exits 71 (EX_OSERR); what matters is that mvmd is still here */
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 71);
	json_object_put(s);
	json_object_put(mvmt_result(fd, "compute.node.info", NULL));
}
END_TEST

/* --- the warm pool (lib/kvm-pool.h) -------------------------------------- */

static long long pool_num(const char *key)
{
	char path[64];
	json_object *r = mvmt_result(fd, "compute.node.info", NULL);
	snprintf(path, sizeof(path), "backends.kvm.pool.%s", key);
	long long v = mvmt_int(r, path);
	json_object_put(r);
	return v;
}

/* mvmd's children that are mvm-vmm processes (idle pool workers and the
 * workers of VMs it started itself). */
static size_t vmm_children(pid_t parent, pid_t *out, size_t max)
{
	char path[64], buf[8192], comm[64];
	size_t n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)parent, (int)parent);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t k = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[k] = 0;
	for (char *t = strtok(buf, " \n"); t && n < max; t = strtok(NULL, " \n")) {
		snprintf(path, sizeof(path), "/proc/%s/comm", t);
		FILE *c = fopen(path, "re");
		if (!c)
			continue;
		bool vmm = fgets(comm, sizeof(comm), c) && strncmp(comm, "mvm-vmm", 7) == 0;
		fclose(c);
		if (vmm)
			out[n++] = (pid_t)atoi(t);
	}
	return n;
}

START_TEST(test_pool_serves_starts)
{
	/* A full pool: the start takes a warm worker, the workload runs as
	 * from a cold one (output, exit code, sandbox), the pool refills. */
	mvmt_wait_pool_settled(fd);
	long long size = pool_num("size"), hits = pool_num("hits");
	ck_assert_int_eq(size, 4);
	ck_assert_int_eq(pool_num("ready"), size);
	pid_t idle[16];
	size_t nidle = vmm_children(d.pid, idle, 16);
	ck_assert_uint_eq(nidle, (size_t)size);
	json_object_put(create_wl("from-pool", "hello", 16, "\"args\":[\"hello\",\"pool\"]"));
	json_object *r = call_id("compute.vm.start", "from-pool", NULL);
	pid_t pid = (pid_t)mvmt_int(r, "result.pid");
	json_object_put(r);
	/* The VM's worker is one of the idle ones, not a new process. */
	bool was_idle = false;
	for (size_t i = 0; i < nidle; i++)
		was_idle |= idle[i] == pid;
	ck_assert_msg(was_idle, "pid %d was not an idle pool worker", (int)pid);
	json_object *st = wait_end("from-pool", 10000);
	ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(st, "exit_code"), 0);
	json_object_put(st);
	char *l = logs("from-pool");
	assert_contains(l, "argv[1] = pool\n");
	free(l);
	ck_assert_int_eq(pool_num("hits"), hits + 1);
	mvmt_wait_pool_settled(fd);
	ck_assert_int_eq(pool_num("ready"), size);
	ck_assert_int_eq(pool_num("failures"), 0);
}
END_TEST

static char *pool_str(const char *key)
{
	char path[64];
	json_object *r = mvmt_result(fd, "compute.node.info", NULL);
	snprintf(path, sizeof(path), "backends.kvm.pool.%s", key);
	json_object *v = mvmt_get(r, path);
	char *s = v ? strdup(json_object_get_string(v)) : NULL;
	json_object_put(r);
	return s;
}

/* Until the pool holds n ready workers primed with the current module. */
static void wait_primed(long long n)
{
	for (int i = 0; i < 1000 && pool_num("primed") < n; i++)
		usleep(10000);
	ck_assert_int_ge(pool_num("primed"), n);
}

START_TEST(test_pool_primes_the_last_module)
{
	/* After a start that ran hello, half the pool holds hello compiled;
	 * the next hello start takes one of those and still gets its own
	 * arguments and environment; another module is served by an
	 * unprimed worker and then becomes the one primed. */
	char *hello = put_prog("hello");
	json_object *pi;
	json_object *st = run_wl("p-1", "hello", 16, NULL);
	ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
	json_object_put(st);
	char *prime = pool_str("prime");
	ck_assert_str_eq(prime, hello);
	free(prime);
	wait_primed(2);
	long long primed_hits = pool_num("primed_hits"), hits = pool_num("hits");
	st = run_wl("p-2", "hello", 16, "\"args\":[\"hello\",\"primed\"],\"env\":{\"WHO\":\"p-2\"}");
	ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(st, "exit_code"), 0);
	json_object_put(st);
	ck_assert_int_eq(pool_num("primed_hits"), primed_hits + 1);
	char *l = logs("p-2");
	assert_contains(l, "argv[1] = primed\n");
	assert_contains(l, "env WHO=p-2\n");
	free(l);
	/* another module: an unprimed worker (a hit, not a primed one) */
	mvmt_wait_pool_settled(fd);
	hits = pool_num("hits");
	primed_hits = pool_num("primed_hits");
	st = run_wl("p-3", "exit", 16, "\"args\":[\"exit\",\"7\"]");
	ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(st, "exit_code"), 7);
	json_object_put(st);
	pi = mvmt_result(fd, "compute.node.info", NULL);
	ck_assert_msg(mvmt_int(pi, "backends.kvm.pool.hits") == hits + 1, "not a hit: %s",
		      json_object_to_json_string(mvmt_get(pi, "backends.kvm.pool")));
	json_object_put(pi);
	ck_assert_int_eq(pool_num("primed_hits"), primed_hits);
	char *exitmod = put_prog("exit");
	prime = pool_str("prime");
	ck_assert_str_eq(prime, exitmod);
	free(prime);
	/* the hello-primed workers are replaced by exit-primed ones */
	wait_primed(2);
	mvmt_wait_pool_settled(fd);
	ck_assert_int_eq(pool_num("failures"), 0);
	free(hello);
	free(exitmod);
}
END_TEST

START_TEST(test_pool_does_not_reprime_a_bad_module)
{
	/* A start of bytes that are no module makes the pool prime with
	 * them; a primed worker whose guest cannot compile its module ends
	 * before it is ready again (a failure), and that module is not
	 * primed again: the pool settles full of unprimed workers. */
	mvmt_wait_pool_settled(fd);
	json_object *r = mvmt_result(fd, "compute.blob.put", "{\"data\":\"bm90IGEgd2FzbSBtb2R1bGUK\"}");
	char p[512], *hash = strdup(mvmt_str(r, "hash"));
	json_object_put(r);
	snprintf(p, sizeof(p), "{\"name\":\"bad\",\"memory_mib\":16,\"workload\":{\"hash\":\"%s\"}}", hash);
	json_object_put(mvmt_result(fd, "compute.vm.create", p));
	json_object_put(call_id("compute.vm.start", "bad", NULL));
	json_object *st = wait_end("bad", 10000);
	ck_assert_str_eq(mvmt_str(st, "state"), "Failed");
	json_object_put(st);
	char *prime = pool_str("prime");
	ck_assert_str_eq(prime, hash);
	free(prime);
	for (int i = 0; i < 500 && pool_num("failures") == 0; i++)
		usleep(10000);
	ck_assert_int_ge(pool_num("failures"), 1);
	char *err = pool_str("last_error");
	assert_contains(err, "exited with status");
	free(err);
	mvmt_wait_pool_settled(fd);
	long long failures = pool_num("failures");
	usleep(500000);
	mvmt_wait_pool_settled(fd);
	ck_assert_int_eq(pool_num("failures"), failures);
	/* at most the workers primed at once before the first one failed */
	ck_assert_int_le(failures, (pool_num("size") + 1) / 2);
	ck_assert_int_eq(pool_num("primed"), 0);
	ck_assert_int_eq(pool_num("ready"), pool_num("size"));
	free(hash);
}
END_TEST

START_TEST(test_pool_follows_the_size_asked)
{
	/* 32 MiB while the pool holds 16 MiB workers: a cold start (a miss);
	 * the pool then makes 32 MiB workers, and the next start is a hit. */
	mvmt_wait_pool_settled(fd);
	long long hits = pool_num("hits"), misses = pool_num("misses");
	json_object *st = run_wl("big-1", "hello", 32, NULL);
	ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
	json_object_put(st);
	ck_assert_int_eq(pool_num("misses"), misses + 1);
	ck_assert_int_eq(pool_num("memory_mib"), 32);
	/* until a 32 MiB worker is ready */
	int ready = 0;
	for (int i = 0; i < 500 && !ready; i++) {
		json_object *ps = mvmt_result(fd, "compute.node.info", NULL);
		ready = (int)mvmt_int(ps, "backends.kvm.pool.ready") > 0 && (int)mvmt_int(ps, "backends.kvm.pool.warming") == 0;
		json_object_put(ps);
		usleep(10000);
	}
	mvmt_wait_pool_settled(fd);
	st = run_wl("big-2", "hello", 32, NULL);
	ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
	json_object *b = mvmt_status(fd, "big-2");
	ck_assert_int_eq(mvmt_int(b, "memory_mib"), 32);
	json_object_put(b);
	json_object_put(st);
	ck_assert_int_eq(pool_num("hits"), hits + 1);
}
END_TEST

START_TEST(test_pool_worker_killed_while_idle)
{
	/* An idle worker killed from outside is reaped and replaced; it was
	 * ready, so that is no failure; starts keep working. */
	mvmt_wait_pool_settled(fd);
	pid_t idle[16];
	size_t n = vmm_children(d.pid, idle, 16);
	ck_assert_uint_ge(n, 2);
	kill(idle[0], SIGKILL);
	kill(idle[1], SIGKILL);
	json_object *st = run_wl("after-kill", "hello", 16, NULL);
	ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
	json_object_put(st);
	mvmt_wait_pool_settled(fd);
	ck_assert_int_eq(pool_num("ready"), pool_num("size"));
	ck_assert_int_eq(pool_num("failures"), 0);
	/* no zombies left behind: soon every child is a live pool worker
	 * (the VM's own worker is reaped moments after its end) */
	pid_t now[16];
	size_t zombies = 0;
	for (int i = 0; i < 300; i++) {
		n = vmm_children(d.pid, now, 16);
		zombies = 0;
		for (size_t j = 0; j < n; j++) {
			char path[64], state = 0;
			snprintf(path, sizeof(path), "/proc/%d/stat", (int)now[j]);
			FILE *f = fopen(path, "re");
			if (f && fscanf(f, "%*d %*s %c", &state) == 1 && state == 'Z')
				zombies++;
			if (f)
				fclose(f);
		}
		if (!zombies && n == (size_t)pool_num("size"))
			break;
		usleep(10000);
	}
	ck_assert_uint_eq(zombies, 0);
	ck_assert_uint_eq(n, (size_t)pool_num("size"));
}
END_TEST

START_TEST(test_pool_leaves_with_mvmd)
{
	/* Idle workers are mvmd's, not VMs: when mvmd goes (SIGTERM or
	 * kill -9) they go too, by themselves (EOF on their pool socket). */
	for (int sig = SIGTERM; sig; sig = sig == SIGTERM ? SIGKILL : 0) {
		mvmt_wait_pool_settled(fd);
		pid_t idle[16];
		size_t n = vmm_children(d.pid, idle, 16);
		ck_assert_uint_eq(n, 4);
		close(fd);
		mvmt_forget_fd(fd);
		mvmt_daemon_stop(&d, sig);
		for (size_t i = 0; i < n; i++) {
			int k = 0;
			while (kill(idle[i], 0) == 0 && k++ < 500)
				usleep(10000);
			ck_assert_msg(kill(idle[i], 0) < 0, "idle worker %d outlived mvmd (signal %d)", (int)idle[i], sig);
		}
		mvmt_daemon_start(&d, NULL);
		fd = mvmt_connect(d.sock);
	}
}
END_TEST

START_TEST(test_pool_failures_pause_it)
{
	/* Warm workers that are never ready in time (here: a 1 ms limit no
	 * VM build meets) are killed and counted; three in a row pause the
	 * pool, and starts keep working, cold. */
	mvmt_daemon_t d2;
	mvmt_daemon_init(&d2);
	mvmt_daemon_start(&d2, "--kvm-pool", "2", "--kvm-pool-ready-timeout-ms", "1", NULL);
	int c = mvmt_connect(d2.sock);
	json_object *r = NULL;
	for (int i = 0; i < 500; i++) {
		json_object_put(r);
		r = mvmt_result(c, "compute.node.info", NULL);
		if (mvmt_int(r, "backends.kvm.pool.failures") >= 3 && mvmt_int(r, "backends.kvm.pool.warming") == 0)
			break;
		usleep(10000);
	}
	ck_assert_int_ge(mvmt_int(r, "backends.kvm.pool.failures"), 3);
	ck_assert_int_eq(mvmt_int(r, "backends.kvm.pool.ready"), 0);
	assert_contains(mvmt_str(r, "backends.kvm.pool.last_error"), "not ready within 1 ms");
	long long failures = mvmt_int(r, "backends.kvm.pool.failures");
	json_object_put(r);
	/* paused: nothing new is tried for a while, and nothing is left */
	usleep(300000);
	r = mvmt_result(c, "compute.node.info", NULL);
	ck_assert_int_eq(mvmt_int(r, "backends.kvm.pool.failures"), failures);
	ck_assert_int_eq(mvmt_int(r, "backends.kvm.pool.warming"), 0);
	json_object_put(r);
	pid_t kids[8];
	for (int i = 0; i < 200 && vmm_children(d2.pid, kids, 8) > 0; i++)
		usleep(10000);
	ck_assert_uint_eq(vmm_children(d2.pid, kids, 8), 0);
	/* a start is a miss, spawned cold, and runs */
	char p[4200], rel[256], abs[4096];
	const char *b = getenv("MVM_BUILD_DIR");
	snprintf(rel, sizeof(rel), "%s/wasm-programs/wl-hello.wasm", b && *b ? b : "build");
	ck_assert_ptr_nonnull(realpath(rel, abs));
	snprintf(p, sizeof(p), "{\"path\":\"%s\"}", abs);
	r = mvmt_result(c, "compute.blob.put", p);
	snprintf(p, sizeof(p), "{\"name\":\"cold\",\"memory_mib\":16,\"workload\":{\"hash\":\"%s\"}}", mvmt_str(r, "hash"));
	json_object_put(r);
	json_object_put(mvmt_result(c, "compute.vm.create", p));
	json_object_put(mvmt_call_id(c, "compute.vm.start", "cold", NULL));
	json_object *st = mvmt_wait_state(c, "cold", "Stopped");
	ck_assert_int_eq(mvmt_int(st, "exit_code"), 0);
	json_object_put(st);
	r = mvmt_result(c, "compute.node.info", NULL);
	ck_assert_int_ge(mvmt_int(r, "backends.kvm.pool.misses"), 1);
	ck_assert_int_eq(mvmt_int(r, "backends.kvm.pool.hits"), 0);
	json_object_put(r);
	close(c);
	mvmt_forget_fd(c);
	mvmt_daemon_cleanup(&d2);
}
END_TEST

START_TEST(test_pool_options)
{
	/* --kvm-pool 0: no pool at all; a bad value: mvmd refuses to start. */
	mvmt_daemon_t d2;
	mvmt_daemon_init(&d2);
	mvmt_daemon_start(&d2, "--kvm-pool", "0", NULL);
	int c = mvmt_connect(d2.sock);
	json_object *r = mvmt_result(c, "compute.node.info", NULL);
	ck_assert_ptr_null(mvmt_get(r, "backends.kvm.pool"));
	json_object_put(r);
	close(c);
	mvmt_forget_fd(c);
	pid_t kids[4];
	ck_assert_uint_eq(vmm_children(d2.pid, kids, 4), 0);
	mvmt_daemon_cleanup(&d2);
	const char *bad[][2] = { { "--kvm-pool", "-1" }, { "--kvm-pool", "100000" }, { "--kvm-pool-memory-mib", "2" } };
	for (size_t i = 0; i < 3; i++) {
		char cmd[1024];
		snprintf(cmd, sizeof(cmd), "%s %s %s --rpc-socket /tmp/mvmd-pool-bad.sock --state-dir /tmp/mvmd-pool-bad "
			 "--console-dir /tmp/mvmd-pool-bad/c >/dev/null 2>&1", mvmt_bin("mvmd"), bad[i][0], bad[i][1]);
		int st = system(cmd);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "mvmd took %s %s", bad[i][0], bad[i][1]);
	}
}
END_TEST

int main(void)
{
	const char *why = mvmt_kvm_skip_reason();
	if (why) {
		printf("SKIP: %s\n", why);
		return 77;
	}
	if (!mvmt_have_kvm()) {
		printf("SKIP: /dev/kvm is not available: workloads cannot run here\n");
		return 77;
	}
	Suite *s = suite_create("mvmd-workload");
	TCase *tc = tcase_create("workload");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_hello_args_env);
	tcase_add_test(tc, test_exit_codes);
	tcase_add_test(tc, test_traps);
	tcase_add_test(tc, test_missing_import_and_bad_module);
	tcase_add_test(tc, test_blob_not_found_and_bad_specs);
	tcase_add_test(tc, test_blob_in_use);
	tcase_add_test(tc, test_capabilities);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_memory_grow_bounded);
	tcase_add_test(tc, test_flood);
	tcase_add_test(tc, test_stdin);
	tcase_add_test(tc, test_twenty_parallel);
	tcase_add_test(tc, test_kill9_while_running);
	tcase_add_test(tc, test_kill9_readopt_running);
	tcase_add_test(tc, test_hand_edited_state);
	tcase_add_test(tc, test_pool_serves_starts);
	tcase_add_test(tc, test_pool_follows_the_size_asked);
	tcase_add_test(tc, test_pool_primes_the_last_module);
	tcase_add_test(tc, test_pool_does_not_reprime_a_bad_module);
	tcase_add_test(tc, test_pool_worker_killed_while_idle);
	tcase_add_test(tc, test_pool_leaves_with_mvmd);
	tcase_add_test(tc, test_pool_options);
	tcase_add_test(tc, test_pool_failures_pause_it);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
