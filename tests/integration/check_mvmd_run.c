/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.vm.run, one-shot runs (docs/workloads.md, "One-shot runs"),
 * through the real mvmd: output on both streams kept apart, stdin and its
 * end, exit codes, the timeout, the output cap, the run's VM in list and
 * events while it runs and gone after, nothing written to disk, a client
 * that leaves, kill -9 of mvmd mid-run (the worker stops by itself,
 * the next mvmd finds nothing), no pause, resume or snapshot of a run.
 * The "params" case runs without KVM.
 * The "reuse" case: runs with a reuse_key (docs/workloads.md, "Reused
 * workers"): a reused worker shows nothing of the run before (memory,
 * stdin), keys never share a worker, a run without a key is never
 * reused, a reused worker still obeys its timeout and output cap, and a
 * kill -9 of mvmd leaves no kept worker behind.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "workload-daemon.h"
#include "mvmt-main.h"
#include "util/text.h"

/* Entries of dir but . and .. (0 when it does not exist). */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int count_in_state(const char *sub)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", wl.d.state, sub);
	return count_entries(p);
}

/* compute.vm.run of prog with extra top-level params and workload members. */
static json_object *run(int fd, const char *prog, const char *wl_extra, const char *extra)
{
	char p[8192];
	char *h = wl_put_prog(prog);

	snprintf(p, sizeof(p), "{\"workload\":{\"hash\":\"%s\"%s%s}%s%s}", h, wl_extra ? "," : "", wl_extra ? wl_extra : "",
		 extra ? "," : "", extra ? extra : "");
	free(h);
	return mvmt_call(fd, "compute.vm.run", p);
}

/* Nothing of any run is left: no VM, no file. */
static void assert_nothing_left(void)
{
	json_object *l = mvmt_result(wl.fd, "compute.vm.list", "{}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(l, "vms")), 0);
	json_object_put(l);
	ck_assert_int_eq(count_in_state("vms"), 0);
	ck_assert_int_eq(count_in_state("runs"), 0);
}

START_TEST(test_streams_and_exit_code)
{
	json_object *r = run(wl.fd, "streams", "\"args\":[\"streams\",\"7\"]", NULL);
	ck_assert_msg(mvmt_get(r, "error") == NULL, "%s", json_object_to_json_string(r));
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 7);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "out 1\nout 2\n");
	ck_assert_str_eq(mvmt_str(r, "result.stderr"), "err 1\nerr 2\n");
	ck_assert(!json_object_get_boolean(mvmt_get(r, "result.truncated")));
	ck_assert(!json_object_get_boolean(mvmt_get(r, "result.timed_out")));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	ck_assert_str_eq(mvmt_str(r, "result.cause"), "guest exited with code 7");
	json_object_put(r);
	assert_nothing_left();
}
END_TEST

START_TEST(test_exit_codes)
{
	static const char *const codes[] = { "0", "1", "255", "256", "4294967295" };
	char a[64];

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		snprintf(a, sizeof(a), "\"args\":[\"exit\",\"%s\"]", codes[i]);
		json_object *r = run(wl.fd, "exit", a, NULL);
		ck_assert_str_eq(json_object_to_json_string(mvmt_get(r, "result.exit_code")), codes[i]);
		json_object_put(r);
	}
	assert_nothing_left();
}
END_TEST

START_TEST(test_stdin)
{
	/* "a\nb\n": the workload reads both lines, then the end of input */
	json_object *r = run(wl.fd, "cat", NULL, "\"stdin\":\"YQpiCg==\"");
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 0);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "got: a\ngot: b\nend of input\n");
	json_object_put(r);
	/* no stdin at all: end of input at once */
	r = run(wl.fd, "cat", "\"capabilities\":[\"stdin\",\"stdout\"]", "\"stdin\":\"\"");
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "end of input\n");
	json_object_put(r);
	assert_nothing_left();
}
END_TEST

START_TEST(test_timeout)
{
	json_object *r = run(wl.fd, "spin", NULL, "\"timeout_ms\":1000");
	ck_assert(json_object_get_boolean(mvmt_get(r, "result.timed_out")));
	ck_assert(mvmt_get(r, "result.exit_code") == NULL);
	/* Failed; StartFailed where the guest is slower to come up than that */
	ck_assert_str_ne(mvmt_str(r, "result.state"), "Stopped");
	wl_assert_contains(mvmt_str(r, "result.cause"), "timeout");
	json_object_put(r);
	assert_nothing_left();
}
END_TEST

START_TEST(test_output_cap)
{
	json_object *r = run(wl.fd, "flood", "\"args\":[\"flood\",\"1\"]", "\"max_output_bytes\":1000");
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 0);
	ck_assert(json_object_get_boolean(mvmt_get(r, "result.truncated")));
	ck_assert_int_eq(strlen(mvmt_str(r, "result.stdout")), 1000);
	json_object_put(r);
	/* under the cap: whole */
	r = run(wl.fd, "flood", "\"args\":[\"flood\",\"1\"]", "\"max_output_bytes\":2000000,\"encoding\":\"base64\"");
	ck_assert(!json_object_get_boolean(mvmt_get(r, "result.truncated")));
	ck_assert_int_eq(strlen(mvmt_str(r, "result.stdout")), (1048576 + 11 + 2) / 3 * 4);
	json_object_put(r);
	assert_nothing_left();
}
END_TEST

START_TEST(test_trap)
{
	json_object *r = run(wl.fd, "trap", "\"args\":[\"trap\",\"unreachable\"]", NULL);
	ck_assert(mvmt_get(r, "result.exit_code") == NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Failed");
	wl_assert_contains(mvmt_str(r, "result.cause"), "wasm trap");
	json_object_put(r);
	assert_nothing_left();
}
END_TEST

static bool is_running(json_object *ev, void *arg)
{
	(void)arg;
	return strcmp(mvmt_str(ev, "to"), "Running") == 0;
}

/* Send a run of a sleeper on a connection of its own (answered later);
 * the run's VM once it is Running: its status. */
static json_object *start_sleeper(int *ret_fd, mvmt_follow_t *f, const char *ms)
{
	char p[512], *h = wl_put_prog("sleep");
	int fd = mvmt_connect(wl.d.sock);

	snprintf(p, sizeof(p), "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"compute.vm.run\",\"params\":"
		 "{\"workload\":{\"hash\":\"%s\",\"args\":[\"sleep\",\"%s\",\"5\"]},\"timeout_ms\":600000}}", h, ms);
	free(h);
	mvmt_send_line(fd, p);
	json_object *ev = mvmt_follow_next(f, MVMT_EVENT_TIMEOUT_MS, is_running, NULL);
	ck_assert_msg(ev != NULL, "the run's VM never ran");
	json_object *s = mvmt_status(wl.fd, mvmt_str(ev, "vm"));
	json_object_put(ev);
	*ret_fd = fd;
	return s;
}

START_TEST(test_list_and_events)
{
	mvmt_follow_t f;
	int fd;

	mvmt_follow_open(&f, wl.d.sock);
	json_object *s = start_sleeper(&fd, &f, "1500");
	char id[64];
	snprintf(id, sizeof(id), "%s", mvmt_str(s, "id"));
	ck_assert(json_object_get_boolean(mvmt_get(s, "run")));
	ck_assert_str_eq(mvmt_str(s, "workload.args.1"), "1500");
	json_object_put(s);
	/* in list while it runs, and nothing of it on disk */
	json_object *l = mvmt_result(wl.fd, "compute.vm.list", "{}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(l, "vms")), 1);
	json_object_put(l);
	ck_assert_int_eq(count_in_state("vms"), 0);
	ck_assert_int_eq(count_in_state("runs"), 0);
	/* the answer; then its end and its removal were events */
	char *line = mvmt_read_line(fd, MVMT_EVENT_TIMEOUT_MS);
	ck_assert_msg(line != NULL, "no answer");
	json_object *r = json_tokener_parse(line);
	free(line);
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 5);
	ck_assert_str_eq(mvmt_str(r, "result.id"), id);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "sleeping 1500 ms\nwoke up, exiting with 5\n");
	json_object_put(r);
	json_object_put(mvmt_follow_wait_state(&f, id, "Stopped"));
	json_object_put(mvmt_follow_wait_state(&f, id, "Removed"));
	mvmt_follow_close(&f);
	close(fd);
	mvmt_forget_fd(fd);
	assert_nothing_left();
}
END_TEST

/* The client of run id (worker pid) closes fd, its connection: nobody
 * waits for the run any more, so it is killed and removed, nothing left. */
static void client_leaves(mvmt_follow_t *f, int fd, const char *id, pid_t pid)
{
	close(fd);
	mvmt_forget_fd(fd);
	json_object_put(mvmt_follow_wait_state(f, id, "Removed"));
	mvmt_follow_close(f);
	ck_assert(mvmt_wait_process_ended(pid, MVMT_EVENT_TIMEOUT_MS));
	assert_nothing_left();
}

START_TEST(test_client_leaves)
{
	mvmt_follow_t f;
	int fd;

	mvmt_follow_open(&f, wl.d.sock);
	json_object *s = start_sleeper(&fd, &f, "600000");
	pid_t pid = (pid_t)mvmt_int(s, "pid");
	char id[64];
	snprintf(id, sizeof(id), "%s", mvmt_str(s, "id"));
	json_object_put(s);
	client_leaves(&f, fd, id, pid);
}
END_TEST

/* A run VM is never paused, resumed or snapshotted: -32602, whatever its
 * state, and it runs on untouched. */
START_TEST(test_no_pause_or_snapshot)
{
	static const char *const methods[] = { "compute.vm.pause", "compute.vm.resume", "compute.vm.snapshot" };
	mvmt_follow_t f;
	int fd;

	mvmt_follow_open(&f, wl.d.sock);
	json_object *s = start_sleeper(&fd, &f, "600000");
	pid_t pid = (pid_t)mvmt_int(s, "pid");
	char id[64], want[128];
	snprintf(id, sizeof(id), "%s", mvmt_str(s, "id"));
	json_object_put(s);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		json_object *r = mvmt_call_id(wl.fd, methods[i], id, NULL);
		ck_assert_msg(mvmt_int(r, "error.code") == -32602, "%s: %s", methods[i], json_object_to_json_string(r));
		ck_assert_str_eq(mvmt_str(r, "error.data.param"), "id");
		snprintf(want, sizeof(want), "%s of a compute.vm.run VM is not allowed", methods[i] + strlen("compute.vm."));
		ck_assert_msg(strstr(mvmt_str(r, "error.data.reason"), want), "%s", json_object_to_json_string(r));
		json_object_put(r);
	}
	s = mvmt_status(wl.fd, id);
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	ck_assert_int_eq(mvmt_int(s, "pid"), pid);
	const char *ts = json_object_to_json_string(mvmt_get(s, "transitions"));
	ck_assert_msg(!strstr(ts, "Paused"), "%s", ts);
	json_object_put(s);
	/* no snapshot was made: nothing under vms/ (a run writes none) */
	ck_assert_int_eq(count_in_state("vms"), 0);
	client_leaves(&f, fd, id, pid);
}
END_TEST

START_TEST(test_kill9_mid_run)
{
	mvmt_follow_t f;
	int fd;

	mvmt_follow_open(&f, wl.d.sock);
	json_object *s = start_sleeper(&fd, &f, "600000");
	pid_t pid = (pid_t)mvmt_int(s, "pid");
	json_object_put(s);
	mvmt_follow_close(&f);
	close(fd);
	mvmt_forget_fd(fd);
	close(wl.fd);
	mvmt_forget_fd(wl.fd);
	int st = mvmt_daemon_stop(&wl.d, SIGKILL);
	ck_assert(WIFSIGNALED(st));
	/* nothing durable names the run: its worker stops by itself */
	ck_assert(mvmt_wait_process_ended(pid, MVMT_EVENT_TIMEOUT_MS));
	ck_assert_int_eq(count_in_state("vms"), 0);
	ck_assert_int_eq(count_in_state("runs"), 0);
	/* what an older mvmd, which kept a run's files, left: removed */
	char old[512];
	snprintf(old, sizeof(old), "%s/runs", wl.d.state);
	ck_assert_int_eq(mkdir(old, 0700), 0);
	snprintf(old, sizeof(old), "%s/runs/0123456789abcdef", wl.d.state);
	ck_assert_int_eq(mkdir(old, 0700), 0);
	snprintf(old, sizeof(old), "%s/runs/0123456789abcdef/worker.log", wl.d.state);
	int lf = open(old, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(lf, 0);
	close(lf);
	mvmt_daemon_start(&wl.d, NULL);
	wl.fd = mvmt_connect(wl.d.sock);
	char *l = mvmt_daemon_log_line(&wl.d, 10000, "removed the files of 1 one-shot runs", NULL);
	ck_assert_msg(l != NULL, "the restarted mvmd did not clean an older mvmd's run files");
	free(l);
	assert_nothing_left();
	/* and runs go on */
	json_object *r = run(wl.fd, "exit", "\"args\":[\"exit\",\"3\"]", NULL);
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 3);
	json_object_put(r);
}
END_TEST

/* A guest that exits before it took its stdin: the run ends as the guest
 * did. Its worker closes the control connection right after its RESULT,
 * often while mvmd is still writing the 63 KiB of stdin; mvmd once took
 * the refused write for a broken worker and killed it ("the run's stdin
 * could not be sent"), so that such a run now and then ended Failed. */
START_TEST(test_exit_before_stdin)
{
	enum { DECODED = 63u << 10, RUNS = 40 };
	char *h = wl_put_prog("hi"), *b64 = malloc(DECODED / 3 * 4 + 1), *p = NULL;

	ck_assert(b64 != NULL);
	memset(b64, 'A', DECODED / 3 * 4); /* base64 of zeros */
	b64[DECODED / 3 * 4] = '\0';
	ck_assert(asprintf(&p, "{\"workload\":{\"hash\":\"%s\"},\"stdin\":\"%s\"}", h, b64) > 0);
	for (int i = 0; i < RUNS; i++) {
		json_object *r = mvmt_call(wl.fd, "compute.vm.run", p);
		ck_assert_msg(mvmt_get(r, "error") == NULL, "run %d: %s", i, json_object_to_json_string(r));
		ck_assert_msg(strcmp(mvmt_str(r, "result.state"), "Stopped") == 0, "run %d: %s", i,
			      json_object_to_json_string(r));
		ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 0);
		ck_assert_str_eq(mvmt_str(r, "result.stdout"), "hi\n");
		json_object_put(r);
	}
	free(p);
	free(b64);
	free(h);
	assert_nothing_left();
}
END_TEST

/* Without KVM: what a run refuses before anything runs, and a run on a
 * node whose kvm backend cannot start VMs; nothing left either way. */
START_TEST(test_params)
{
	char p[512];
	char *h = wl_put_prog("hi");

	snprintf(p, sizeof(p), "{\"workload\":{\"hash\":\"%s\"},\"reuse_key\":\"has space\"}", h);
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.run", p), -32602);
	snprintf(p, sizeof(p), "{\"workload\":{\"hash\":\"%s\"},\"reuse_key\":\"\"}", h);
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.run", p), -32602);
	snprintf(p, sizeof(p), "{\"workload\":{\"hash\":\"%s\"},\"stdin\":\"!!\"}", h);
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.run", p), -32602);
	snprintf(p, sizeof(p), "{\"workload\":{\"hash\":\"%s\",\"capabilities\":[\"stdout\"]},\"stdin\":\"YQ==\"}", h);
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.run", p), -32602);
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.run", "{\"workload\":{}}"), -32602);
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.run",
					 "{\"workload\":{\"hash\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"}}"),
			 -32001);
	if (!mvmt_have_kvm()) {
		snprintf(p, sizeof(p), "{\"workload\":{\"hash\":\"%s\"},\"reuse_key\":\"tenant-a/fn:1\"}", h);
		ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.run", p), -32004);
	}
	free(h);
	assert_nothing_left();
}
END_TEST

/* --- reuse ------------------------------------------------------------------ */

#define SECRET "QUICKSILVER-7f3a9c"
#define SECRET_REV "c9a3f7-REVLISKCIUQ"

static long long pool_num(const char *key)
{
	char path[64];
	json_object *r = mvmt_result(wl.fd, "compute.node.info", NULL);
	snprintf(path, sizeof(path), "backends.kvm.pool.%s", key);
	long long v = mvmt_int(r, path);
	json_object_put(r);
	return v;
}

/* Until the pool's counter key is at least n (the pool works after the
 * answers, at idle priority). */
static void wait_pool(const char *key, long long n)
{
	for (int i = 0; i < 3000 && pool_num(key) < n; i++)
		usleep(10000);
	ck_assert_msg(pool_num(key) >= n, "pool %s stayed below %lld", key, n);
}

/* A run of the secret module on a connection of its own: its answer,
 * and in *ret_pid the pid of the worker that ran it (seen while it was
 * Running: each mode that is asked for one sleeps at its end). */
static json_object *run_secret(mvmt_follow_t *f, const char *args, const char *extra, pid_t *ret_pid)
{
	char *h = wl_put_prog("secret"), *p = NULL;
	int fd = mvmt_connect(wl.d.sock);

	ck_assert(asprintf(&p, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"compute.vm.run\",\"params\":"
			   "{\"workload\":{\"hash\":\"%s\",\"args\":%s}%s%s}}", h, args, extra ? "," : "",
			   extra ? extra : "") > 0);
	free(h);
	mvmt_send_line(fd, p);
	free(p);
	/* each run's Running event, in turn (one run at a time here) */
	json_object *ev = mvmt_follow_next(f, MVMT_EVENT_TIMEOUT_MS, is_running, NULL);
	ck_assert_msg(ev != NULL, "the run's VM never ran");
	if (ret_pid) {
		json_object *st = mvmt_status(wl.fd, mvmt_str(ev, "vm"));
		*ret_pid = (pid_t)mvmt_int(st, "pid");
		ck_assert_int_gt(*ret_pid, 0);
		json_object_put(st);
	}
	json_object_put(ev);
	char *line = mvmt_read_line(fd, 120000);
	ck_assert_msg(line != NULL, "no answer to the run");
	json_object *r = json_tokener_parse(line);
	ck_assert_msg(r && !mvmt_get(r, "error"), "%s", line);
	free(line);
	close(fd);
	mvmt_forget_fd(fd);
	return r;
}

/* The pool primes the secret module (one run of it, then ready primed
 * workers), so that the next run with a key gets one it can keep. */
static void prime_secret(mvmt_follow_t *f)
{
	json_object_put(run_secret(f, "[\"secret\",\"flood\"]", NULL, NULL));
	wait_pool("primed", 1);
}

/* A run with key writes its secret; its worker, kept: its pid. */
static pid_t write_secret(mvmt_follow_t *f, const char *key)
{
	char *in = NULL, *b64 = NULL, *extra = NULL;
	size_t n;
	pid_t pid;
	long long kept = pool_num("reuse_kept");

	/* far more than it reads: the rest would still wait for the next run */
	ck_assert(asprintf(&in, "%s", SECRET) > 0);
	for (int i = 0; i < 200; i++) {
		char *more = NULL;
		ck_assert(asprintf(&more, "%s" SECRET, in) > 0);
		free(in);
		in = more;
	}
	ck_assert_int_eq(base64_encode(in, strlen(in), &b64, &n), 0);
	ck_assert(asprintf(&extra, "\"reuse_key\":\"%s\",\"stdin\":\"%s\"", key, b64) > 0);
	json_object *r = run_secret(f, "[\"secret\",\"write\",\"1500\"]", extra, &pid);
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 0);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "wrote 64\n");
	json_object_put(r);
	free(in);
	free(b64);
	free(extra);
	wait_pool("reuse_kept", kept + 1);
	wait_pool("reusable", 1);
	return pid;
}

START_TEST(test_reuse_leaves_nothing)
{
	mvmt_follow_t f;
	pid_t pid1, pid2;

	mvmt_follow_open(&f, wl.d.sock);
	prime_secret(&f);
	pid1 = write_secret(&f, "tenant-a");
	long long hits = pool_num("reuse_hits");
	/* same module, same key: the same worker, reset */
	json_object *r = run_secret(&f, "[\"secret\",\"scan\",\"" SECRET_REV "\",\"1500\"]",
				    "\"reuse_key\":\"tenant-a\"", &pid2);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "clean, 0 bytes of stdin\n");
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 0);
	ck_assert_str_eq(mvmt_str(r, "result.stderr"), "");
	json_object_put(r);
	ck_assert_int_eq(pid2, pid1);
	ck_assert_int_eq(pool_num("reuse_hits"), hits + 1);
	/* and again: a reset worker is kept again */
	wait_pool("reusable", 1);
	pid_t pid3;
	r = run_secret(&f, "[\"secret\",\"scan\",\"" SECRET_REV "\",\"1500\"]", "\"reuse_key\":\"tenant-a\"", &pid3);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "clean, 0 bytes of stdin\n");
	json_object_put(r);
	ck_assert_int_eq(pid3, pid1);
	ck_assert_int_eq(pool_num("reuse_hits"), hits + 2);
	mvmt_follow_close(&f);
	assert_nothing_left();
}
END_TEST

START_TEST(test_reuse_keys_apart)
{
	mvmt_follow_t f;
	pid_t a, b, none;

	mvmt_follow_open(&f, wl.d.sock);
	prime_secret(&f);
	a = write_secret(&f, "tenant-a");
	long long hits = pool_num("reuse_hits");
	/* another key: never tenant-a's worker */
	json_object *r = run_secret(&f, "[\"secret\",\"scan\",\"" SECRET_REV "\",\"1500\"]",
				    "\"reuse_key\":\"tenant-b\"", &b);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "clean, 0 bytes of stdin\n");
	json_object_put(r);
	ck_assert_int_ne(b, a);
	ck_assert_int_eq(pool_num("reuse_hits"), hits);
	/* no key: never a kept worker, and never kept itself */
	long long kept = pool_num("reuse_kept");
	r = run_secret(&f, "[\"secret\",\"scan\",\"" SECRET_REV "\",\"1500\"]", NULL, &none);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "clean, 0 bytes of stdin\n");
	json_object_put(r);
	ck_assert_int_ne(none, a);
	ck_assert_int_ne(none, b);
	ck_assert_int_eq(pool_num("reuse_hits"), hits);
	ck_assert_int_eq(pool_num("reuse_kept"), kept);
	ck_assert(mvmt_wait_process_ended(none, MVMT_EVENT_TIMEOUT_MS));
	/* tenant-a's worker is still there for tenant-a */
	ck_assert(!mvmt_process_ended(a));
	mvmt_follow_close(&f);
	assert_nothing_left();
}
END_TEST

START_TEST(test_reuse_still_capped)
{
	mvmt_follow_t f;
	pid_t a, t;

	mvmt_follow_open(&f, wl.d.sock);
	prime_secret(&f);
	a = write_secret(&f, "tenant-a");
	/* the kept worker runs a flood: its output is still capped */
	long long hits = pool_num("reuse_hits");
	json_object *r = run_secret(&f, "[\"secret\",\"flood\"]", "\"reuse_key\":\"tenant-a\",\"max_output_bytes\":1000", NULL);
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 0);
	ck_assert(json_object_get_boolean(mvmt_get(r, "result.truncated")));
	ck_assert_int_eq(strlen(mvmt_str(r, "result.stdout")), 1000);
	json_object_put(r);
	ck_assert_int_eq(pool_num("reuse_hits"), hits + 1);
	ck_assert(!mvmt_process_ended(a));
	/* ... and its timeout: it is ended, not kept */
	wait_pool("reusable", 1);
	r = run_secret(&f, "[\"secret\",\"spin\"]", "\"reuse_key\":\"tenant-a\",\"timeout_ms\":1500", &t);
	ck_assert(json_object_get_boolean(mvmt_get(r, "result.timed_out")));
	json_object_put(r);
	ck_assert_int_eq(t, a);
	ck_assert_int_eq(pool_num("reuse_hits"), hits + 2);
	ck_assert(mvmt_wait_process_ended(a, MVMT_EVENT_TIMEOUT_MS));
	mvmt_follow_close(&f);
	assert_nothing_left();
}
END_TEST

START_TEST(test_reuse_kill9)
{
	mvmt_follow_t f;

	mvmt_follow_open(&f, wl.d.sock);
	prime_secret(&f);
	pid_t a = write_secret(&f, "tenant-a");
	mvmt_follow_close(&f);
	close(wl.fd);
	mvmt_forget_fd(wl.fd);
	int st = mvmt_daemon_stop(&wl.d, SIGKILL);
	ck_assert(WIFSIGNALED(st));
	/* a kept worker waits on its pool socket: mvmd's death ends it */
	ck_assert(mvmt_wait_process_ended(a, MVMT_EVENT_TIMEOUT_MS));
	mvmt_daemon_start(&wl.d, NULL);
	wl.fd = mvmt_connect(wl.d.sock);
	assert_nothing_left();
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "params",
		.timeout = 60,
		.setup = wl_setup,
		.teardown = wl_teardown,
		.tests = MVMT_TESTS(MVMT_TEST(test_params)),
	},
	{
		.name = "run",
		.timeout = 180,
		.setup = wl_setup,
		.teardown = wl_teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_streams_and_exit_code),
			MVMT_TEST(test_exit_codes),
			MVMT_TEST(test_stdin),
			MVMT_TEST(test_timeout),
			MVMT_TEST(test_output_cap),
			MVMT_TEST(test_trap),
			MVMT_TEST(test_list_and_events),
			MVMT_TEST(test_client_leaves),
			MVMT_TEST(test_no_pause_or_snapshot),
			MVMT_TEST(test_exit_before_stdin),
			MVMT_TEST(test_kill9_mid_run)),
	},
	{
		.name = "reuse",
		.timeout = 300,
		.setup = wl_setup,
		.teardown = wl_teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_reuse_leaves_nothing),
			MVMT_TEST(test_reuse_keys_apart),
			MVMT_TEST(test_reuse_still_capped),
			MVMT_TEST(test_reuse_kill9)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd-run", .tcases = tcases)
