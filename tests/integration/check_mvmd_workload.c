/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wasm workloads by hash in micro-VMs, through the real mvmd on the real
 * /dev/kvm: modules built by `make` from tests/workloads/
 * (build/wasm-programs/wl-*.wasm) are stored with compute.blob.put and
 * run with compute.vm.create {workload}. Exit codes, traps, missing
 * imports, capabilities, timeouts, memory limits, output floods, stdin,
 * 20 VMs at once, and kill -9 of mvmd while a workload runs. The warm
 * pool that starts are served from has its own suite, check_mvmd_pool.
 */
#include "workload-daemon.h"
#include "mvmt-main.h"

START_TEST(test_hello_args_env)
{
	json_object *s = wl_run("hello", "hello", 16, "\"args\":[\"hello\",\"two words\",\"\"],\"env\":{\"GREETING\":\"hi there\",\"EMPTY\":\"\"}");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
	ck_assert_str_eq(mvmt_str(s, "cause"), "guest exited with code 0");
	/* the granted (default) capabilities are in status */
	json_object *caps = mvmt_get(s, "workload.capabilities");
	ck_assert_int_eq(json_object_array_length(caps), 6);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(caps, 0)), "stdout");
	json_object_put(s);
	char *l = wl_logs("hello");
	ck_assert_str_eq(l, "hello from a Wasm workload in a micro-VM\n"
			    "argv[0] = hello\nargv[1] = two words\nargv[2] = \n"
			    "env GREETING=hi there\nenv EMPTY=\n");
	free(l);
	/* a finished workload runs again on start */
	json_object_put(wl_call_id("compute.vm.start", "hello", NULL));
	s = wl_wait_end("hello", 10000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	json_object_put(s);
}
END_TEST

/*
 * WASI's exit code is a u32: every one is reported whole, in status, in
 * the cause and in the stored state (a restart reads it back); none of
 * them may turn into another (256 used to read as 0, a success).
 */
START_TEST(test_exit_codes)
{
	static const uint32_t codes[] = { 0, 1, 42, 255, 256, 65536, 2147483647u, 2147483648u, 4294967295u };
	const size_t n = sizeof(codes) / sizeof(codes[0]);
	char name[32], extra[64], want[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "exit-%u", codes[i]);
		snprintf(extra, sizeof(extra), "\"args\":[\"exit\",\"%u\"]", codes[i]);
		json_object *s = wl_run(name, "exit", 16, extra);
		ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
		ck_assert_int_eq(mvmt_int(s, "exit_code"), (int64_t)codes[i]);
		snprintf(want, sizeof(want), "guest exited with code %u", codes[i]);
		ck_assert_str_eq(mvmt_str(s, "cause"), want);
		json_object_put(s);
		char *l = wl_logs(name);
		snprintf(want, sizeof(want), "exiting with %u\n", codes[i]);
		ck_assert_str_eq(l, want);
		free(l);
	}
	/* the same after a restart: state.json holds the codes whole */
	close(wl.fd);
	mvmt_forget_fd(wl.fd);
	mvmt_daemon_stop(&wl.d, SIGTERM);
	mvmt_daemon_start(&wl.d, NULL);
	wl.fd = mvmt_connect(wl.d.sock);
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "exit-%u", codes[i]);
		json_object *s = wl_status(name);
		ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
		ck_assert_int_eq(mvmt_int(s, "exit_code"), (int64_t)codes[i]);
		json_object_put(s);
	}
}
END_TEST

/*
 * A program that reads its environment and arguments, run without the
 * env and args grants: it must not die in libc's start-up (exit 71) but
 * see argv = [argv[0]] and an empty environment.
 */
START_TEST(test_denied_env_args)
{
	json_object *s = wl_run("envargs", "envargs", 16,
				"\"args\":[\"myname\",\"secret-arg\"],\"env\":{\"X\":\"secret-env\"},"
				"\"capabilities\":[\"stdout\"]");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
	json_object_put(s);
	char *l = wl_logs("envargs");
	ck_assert_str_eq(l, "argc=1\nargv[0]=myname\nX=(unset)\nenvc=0\n");
	free(l);
	/* granted, the same program sees them all */
	s = wl_run("envargs-all", "envargs", 16,
		   "\"args\":[\"myname\",\"an arg\"],\"env\":{\"X\":\"x value\"},"
		   "\"capabilities\":[\"stdout\",\"args\",\"env\"]");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
	json_object_put(s);
	l = wl_logs("envargs-all");
	ck_assert_str_eq(l, "argc=2\nargv[0]=myname\nargv[1]=an arg\nX=x value\nenvc=1\n");
	free(l);
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
		json_object *s = wl_run(name, "trap", 16, extra);
		ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
		wl_assert_contains(mvmt_str(s, "cause"), t[i].kind);
		ck_assert_ptr_null(mvmt_get(s, "exit_code"));
		json_object_put(s);
		/* output written before the trap is not lost */
		char *l = wl_logs(name);
		snprintf(want, sizeof(want), "about to trap: %s\n", t[i].arg);
		ck_assert_str_eq(l, want);
		free(l);
	}
}
END_TEST

START_TEST(test_missing_import_and_bad_module)
{
	json_object *s = wl_run("missing", "missing", 16, NULL);
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	wl_assert_contains(mvmt_str(s, "cause"), "unknown import env.mvm_no_such_function");
	json_object_put(s);

	/* bytes that are no Wasm module, stored as a plain blob */
	json_object *r = mvmt_result(wl.fd, "compute.blob.put", "{\"data\":\"bm90IGEgd2FzbSBtb2R1bGUK\"}");
	char p[512];
	snprintf(p, sizeof(p), "{\"name\":\"bad\",\"memory_mib\":16,\"workload\":{\"hash\":\"%s\"}}", mvmt_str(r, "hash"));
	json_object_put(r);
	json_object_put(mvmt_result(wl.fd, "compute.vm.create", p));
	json_object_put(wl_call_id("compute.vm.start", "bad", NULL));
	s = wl_wait_end("bad", 10000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	wl_assert_contains(mvmt_str(s, "cause"), "workload: invalid module");
	json_object_put(s);
}
END_TEST

START_TEST(test_blob_not_found_and_bad_specs)
{
	const char *h0 = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	char p[512];
	snprintf(p, sizeof(p), "{\"name\":\"nope\",\"memory_mib\":16,\"workload\":{\"hash\":\"%s\"}}", h0);
	json_object *r = mvmt_result(wl.fd, "compute.vm.create", p);
	ck_assert_str_eq(mvmt_str(r, "state"), "Failed");
	char want[128];
	snprintf(want, sizeof(want), "blob not found: %s", h0);
	ck_assert_str_eq(mvmt_str(r, "cause"), want);
	json_object_put(r);
	/* the VM exists for inspection and removal */
	r = wl_status("nope");
	ck_assert_str_eq(mvmt_str(r, "state"), "Failed");
	json_object_put(r);
	json_object_put(mvmt_result(wl.fd, "compute.vm.remove", "{\"id\":\"nope\"}"));

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
		json_object *e = mvmt_call(wl.fd, "compute.vm.create", bad[i]);
		ck_assert_msg(mvmt_int(e, "error.code") == -32602, "%s: %s", bad[i], json_object_to_json_string(e));
		wl_assert_contains(mvmt_str(e, "error.data.param"), "workload");
		json_object_put(e);
	}
	r = mvmt_result(wl.fd, "compute.vm.list", NULL);
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "vms")), 0);
	json_object_put(r);
}
END_TEST

START_TEST(test_blob_in_use)
{
	json_object *s = wl_run("user", "exit", 16, NULL);
	char p[256];
	snprintf(p, sizeof(p), "{\"hash\":\"%s\"}", mvmt_str(s, "workload.hash"));
	json_object_put(s);
	json_object *e = mvmt_call(wl.fd, "compute.blob.remove", p);
	ck_assert_ptr_nonnull(mvmt_get(e, "error"));
	json_object_put(e);
	json_object_put(mvmt_result(wl.fd, "compute.vm.remove", "{\"id\":\"user\"}"));
	json_object_put(mvmt_result(wl.fd, "compute.blob.remove", p));
}
END_TEST

START_TEST(test_capabilities)
{
	/* everything granted: every call works (fd_read(0) too: no input
	 * is waiting, so it would block; not reached with len 0) */
	json_object *s = wl_run("caps-all", "caps", 16,
				"\"capabilities\":[\"stdin\",\"stdout\",\"stderr\",\"clock\",\"random\",\"env\",\"args\"]");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	json_object_put(s);
	char *l = wl_logs("caps-all");
	wl_assert_contains(l, "random_get: 0\n");
	wl_assert_contains(l, "clock_time_get: 0\n");
	wl_assert_contains(l, "args_sizes_get: 0\n");
	wl_assert_contains(l, "environ_sizes_get: 0\n");
	wl_assert_contains(l, "stderr line\n");
	wl_assert_contains(l, "fd_read(0): 0\n");
	free(l);

	/* the default set: all but stdin */
	s = wl_run("caps-default", "caps", 16, NULL);
	json_object_put(s);
	l = wl_logs("caps-default");
	wl_assert_contains(l, "random_get: 0\n");
	wl_assert_contains(l, "fd_read(0): 76\n");
	free(l);

	/* stdout only: the rest is denied with 76 (notcapable), and stderr
	 * output does not appear */
	s = wl_run("caps-none", "caps", 16, "\"capabilities\":[\"stdout\"]");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(json_object_array_length(mvmt_get(s, "workload.capabilities")), 1);
	json_object_put(s);
	l = wl_logs("caps-none");
	/* args and env denied are not errors but argv = [argv0] and an
	 * empty environment (test_denied_env_args) */
	ck_assert_str_eq(l, "random_get: 76\nclock_time_get: 76\nargs_sizes_get: 0\nenviron_sizes_get: 0\n"
			    "fd_write(2): 76\nfd_read(0): 76\n");
	free(l);
}
END_TEST

/* The module spins until its timeout kills it: never before timeout_ms
 * (a lower bound only: a slow host, TCG in kvm-in-qemu, makes it later,
 * never earlier), and long enough that even there the guest has
 * compiled the module and said "spinning". */
START_TEST(test_timeout)
{
	json_object_put(wl_create("spin", "spin", 16, "\"timeout_ms\":3000"));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	json_object *r = wl_call_id("compute.vm.start", "spin", NULL);
	int pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	json_object *s = wl_wait_end("spin", 60000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	wl_assert_contains(mvmt_str(s, "cause"), "timeout");
	json_object_put(s);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_msg(ms >= 2950, "ended after %ld ms", ms);
	ck_assert(pid <= 0 || mvmt_process_ended(pid));
	char *l = wl_logs("spin");
	ck_assert_str_eq(l, "spinning\n");
	free(l);
}
END_TEST

START_TEST(test_memory_grow_bounded)
{
	json_object *s = wl_run("grow", "grow", 8, NULL);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
	json_object_put(s);
	char *l = wl_logs("grow");
	wl_assert_contains(l, "memory.grow: -1 after ");
	wl_assert_contains(l, "last byte 42");
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
	json_object_put(wl_create("flood", "flood", 16, "\"args\":[\"flood\",\"32\"]"));
	json_object_put(wl_call_id("compute.vm.start", "flood", NULL));
	/* mvmd keeps answering meanwhile (how fast is bench/'s business) */
	for (int i = 0; i < 20; i++)
		json_object_put(mvmt_result(wl.fd, "compute.node.info", NULL));
	json_object *s = wl_wait_end("flood", 60000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
	json_object_put(s);
	/* the log is capped, and ends with the last line */
	json_object *r = wl_call_id("compute.vm.logs", "flood", "\"tail_bytes\":64");
	wl_assert_contains(mvmt_str(r, "result.data"), "flood done\n");
	ck_assert(mvmt_int(r, "result.size") < 32 << 20);
	json_object_put(r);
}
END_TEST

START_TEST(test_stdin)
{
	json_object_put(wl_create("cat", "cat", 16, "\"capabilities\":[\"stdin\",\"stdout\"]"));
	json_object_put(wl_call_id("compute.vm.start", "cat", NULL));
	json_object *r = wl_call_id("compute.vm.console.endpoint", "cat", NULL);
	int c = mvmt_connect(mvmt_str(r, "result.path"));
	json_object_put(r);
	usleep(50000);
	mvmt_write(c, "line one\n", 9);
	char *line = mvmt_read_line(c, 5000);
	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(line, "got: line one");
	free(line);
	/* a stop (with grace) reads as end of input: the program exits */
	r = wl_call_id("compute.vm.stop", "cat", "\"timeout_ms\":5000");
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	json_object_put(r);
	json_object *s = wl_status("cat");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
	json_object_put(s);
	char *l = wl_logs("cat");
	ck_assert_str_eq(l, "got: line one\nend of input\n");
	free(l);
	close(c);
	mvmt_forget_fd(c);
}
END_TEST

START_TEST(test_twenty_parallel)
{
	char *h = wl_put_prog("hello");
	char p[512];
	for (int i = 0; i < 20; i++) {
		snprintf(p, sizeof(p), "{\"name\":\"par-%d\",\"memory_mib\":16,\"workload\":{\"hash\":\"%s\",\"args\":[\"vm\",\"%d\"]}}",
			 i, h, i);
		json_object_put(mvmt_result(wl.fd, "compute.vm.create", p));
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
	json_object *resp = mvmt_request(wl.fd, batch);
	free(batch);
	ck_assert_int_eq(json_object_array_length(resp), 20);
	json_object_put(resp);
	for (int i = 0; i < 20; i++) {
		char name[32], want[64];
		snprintf(name, sizeof(name), "par-%d", i);
		json_object *s = wl_wait_end(name, 20000);
		ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
		ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
		json_object_put(s);
		char *l = wl_logs(name);
		snprintf(want, sizeof(want), "argv[1] = %d\n", i);
		wl_assert_contains(l, want);
		free(l);
	}
}
END_TEST

START_TEST(test_kill9_while_running)
{
	/* an exit code above INT32_MAX: the result file keeps it whole */
	json_object_put(wl_create("sleeper", "sleep", 16, "\"args\":[\"sleep\",\"1500\",\"3000000007\"]"));
	json_object *r = wl_call_id("compute.vm.start", "sleeper", NULL);
	int pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	ck_assert_int_gt(pid, 0);
	/* output that reached mvmd before it died stays in the log (output
	 * still in the worker when it ends with mvmd down is not kept) */
	for (int i = 0; i < 500; i++) {
		char *l = wl_logs("sleeper");
		bool seen = strstr(l, "sleeping") != NULL;
		free(l);
		if (seen)
			break;
		usleep(10000);
	}
	close(wl.fd);
	mvmt_forget_fd(wl.fd);
	int st = mvmt_daemon_stop(&wl.d, SIGKILL);
	ck_assert(WIFSIGNALED(st));
	/* the workload keeps running without mvmd, and finishes */
	ck_assert(!mvmt_process_ended(pid));
	ck_assert(mvmt_wait_process_ended(pid, MVMT_EVENT_TIMEOUT_MS));
	mvmt_daemon_start(&wl.d, NULL);
	wl.fd = mvmt_connect(wl.d.sock);
	json_object *s = wl_status("sleeper");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 3000000007);
	ck_assert_str_eq(mvmt_str(s, "cause"), "guest exited with code 3000000007");
	json_object_put(s);
	char *l = wl_logs("sleeper");
	wl_assert_contains(l, "sleeping 1500 ms\n");
	free(l);
}
END_TEST

START_TEST(test_kill9_readopt_running)
{
	/* mvmd comes back while the workload still runs: it re-adopts it and
	 * sees it end; the timeout is re-armed from the worker's start time.
	 * The sleep is long enough for a restart under TCG (kvm-in-qemu),
	 * where one second was not. */
	json_object_put(wl_create("late", "sleep", 16, "\"args\":[\"sleep\",\"8000\",\"3\"]"));
	json_object_put(wl_create("late-spin", "spin", 16, "\"timeout_ms\":1500"));
	json_object_put(wl_call_id("compute.vm.start", "late", NULL));
	json_object_put(wl_call_id("compute.vm.start", "late-spin", NULL));
	close(wl.fd);
	mvmt_forget_fd(wl.fd);
	mvmt_daemon_stop(&wl.d, SIGKILL);
	mvmt_daemon_start(&wl.d, NULL);
	wl.fd = mvmt_connect(wl.d.sock);
	json_object *s = wl_status("late");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	json_object_put(s);
	s = wl_wait_end("late", 60000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 3);
	json_object_put(s);
	s = wl_wait_end("late-spin", 10000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	wl_assert_contains(mvmt_str(s, "cause"), "timeout");
	json_object_put(s);
}
END_TEST

START_TEST(test_hand_edited_state)
{
	/* a state file whose workload members have the wrong types: mvmd
	 * loads it and starts the VM without crashing on them */
	json_object *r = wl_create("edited", "hello", 16, "\"args\":[\"a\"],\"env\":{\"A\":\"1\"}");
	char path[512];
	snprintf(path, sizeof(path), "%s/vms/%s/state.json", wl.d.state, mvmt_str(r, "id"));
	json_object_put(r);
	close(wl.fd);
	mvmt_forget_fd(wl.fd);
	mvmt_daemon_stop(&wl.d, SIGTERM);
	json_object *st = json_object_from_file(path), *w;
	ck_assert_ptr_nonnull(st);
	ck_assert(json_object_object_get_ex(json_object_object_get(st, "spec"), "workload", &w));
	json_object_object_add(w, "args", json_object_new_string("not an array"));
	json_object_object_add(w, "env", json_object_new_int(5));
	json_object_object_add(w, "capabilities", json_object_new_object());
	json_object_object_add(w, "timeout_ms", json_object_new_string("soon"));
	ck_assert_int_eq(json_object_to_file(path, st), 0);
	json_object_put(st);
	mvmt_daemon_start(&wl.d, NULL);
	wl.fd = mvmt_connect(wl.d.sock);
	json_object_put(wl_call_id("compute.vm.start", "edited", NULL));
	json_object *s = wl_wait_end("edited", 10000);
	/* nothing granted any more: no output, an empty environment and
	 * only argv[0], so hello still ends well; and mvmd is still here */
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
	json_object_put(s);
	json_object_put(mvmt_result(wl.fd, "compute.node.info", NULL));
}
END_TEST

/*
 * A workload that ended while mvmd was down is read from its result file
 * when mvmd starts: its exit code whole, in the format workers write now
 * (a u32) and in the one older workers wrote (an int32; 0..255 in
 * practice). No worker runs here, the files say it all: no /dev/kvm
 * needed.
 */
START_TEST(test_result_file_at_restart)
{
	static const struct {
		const char *name, *line;
		int64_t code;
	} c[] = {
		{ "res-u32", "exit_code=4294967295", 4294967295 },
		{ "res-big", "exit_code=3000000007", 3000000007 },
		{ "res-old", "exit_code=42", 42 },
		{ "res-neg", "exit_code=-2147483648", 2147483648 },
	};
	const size_t n = sizeof(c) / sizeof(c[0]);
	char ids[4][64], path[512], want[64];

	for (size_t i = 0; i < n; i++) {
		json_object *r = wl_create(c[i].name, "exit", 16, NULL);
		snprintf(ids[i], sizeof(ids[i]), "%s", mvmt_str(r, "id"));
		json_object_put(r);
	}
	pid_t gone = fork(); /* a pid whose process is no more */
	ck_assert_int_ge(gone, 0);
	if (gone == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(gone, NULL, 0), gone);
	close(wl.fd);
	mvmt_forget_fd(wl.fd);
	mvmt_daemon_stop(&wl.d, SIGTERM);
	for (size_t i = 0; i < n; i++) {
		/* as a mvmd killed while the worker ran left it */
		snprintf(path, sizeof(path), "%s/vms/%s/state.json", wl.d.state, ids[i]);
		json_object *st = json_object_from_file(path), *rt;
		ck_assert(json_object_object_get_ex(st, "runtime", &rt));
		json_object_object_add(rt, "state", json_object_new_string("Running"));
		json_object_object_add(rt, "pid", json_object_new_int(gone));
		json_object_object_add(rt, "pid_starttime", json_object_new_int(1));
		ck_assert_int_eq(json_object_to_file(path, st), 0);
		json_object_put(st);
		snprintf(path, sizeof(path), "%s/vms/%s/result", wl.d.state, ids[i]);
		FILE *f = fopen(path, "we");
		ck_assert_ptr_nonnull(f);
		fprintf(f, "mvm-result=1\noutcome=exit\n%s\nfault=none\nfault_addr=0x0\nerror=0\nmessage=\n", c[i].line);
		ck_assert_int_eq(fclose(f), 0);
	}
	for (int round = 0; round < 2; round++) {
		mvmt_daemon_start(&wl.d, NULL);
		wl.fd = mvmt_connect(wl.d.sock);
		for (size_t i = 0; i < n; i++) {
			json_object *s = wl_status(c[i].name);
			ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
			ck_assert_int_eq(mvmt_int(s, "exit_code"), c[i].code);
			snprintf(want, sizeof(want), "guest exited with code %lld", (long long)c[i].code);
			ck_assert_str_eq(mvmt_str(s, "cause"), want);
			json_object_put(s);
		}
		if (round == 0) { /* and again from state.json alone */
			close(wl.fd);
			mvmt_forget_fd(wl.fd);
			mvmt_daemon_stop(&wl.d, SIGTERM);
		}
	}
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "result-file",
		.timeout = 60,
		.setup = wl_setup,
		.teardown = wl_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_result_file_at_restart)),
	},
	{
		.name = "workload",
		.timeout = 120,
		.setup = wl_setup,
		.teardown = wl_teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_hello_args_env),
			MVMT_TEST(test_exit_codes),
			MVMT_TEST(test_denied_env_args),
			MVMT_TEST(test_traps),
			MVMT_TEST(test_missing_import_and_bad_module),
			MVMT_TEST(test_blob_not_found_and_bad_specs),
			MVMT_TEST(test_blob_in_use),
			MVMT_TEST(test_capabilities),
			MVMT_TEST(test_timeout),
			MVMT_TEST(test_memory_grow_bounded),
			MVMT_TEST(test_flood),
			MVMT_TEST(test_stdin),
			MVMT_TEST(test_twenty_parallel),
			MVMT_TEST(test_kill9_while_running),
			MVMT_TEST(test_kill9_readopt_running),
			MVMT_TEST(test_hand_edited_state)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd-workload", .tcases = tcases)
