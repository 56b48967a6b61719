/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.vm.exec on micro-VMs, end to end: the real mvmd, the real
 * mvm-vmm worker on /dev/kvm, its hybrid vsock socket and mvm-guest's exec
 * agent. Also the raw socket as an operator sees it (CONNECT lines, good
 * and bad), backpressure both ways, many execs, and a kill -9 of mvmd.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mvmtest.h"
#include "mvmt-main.h"

static mvmt_daemon_t d;
static int fd;
static char guests[4096];

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void setup(void)
{
	const char *b = getenv("MVM_BUILD_DIR");
	char rel[200];
	snprintf(rel, sizeof(rel), "%s/guest/tests", b && *b ? b : "build");
	ck_assert_ptr_nonnull(realpath(rel, guests));
	mvmt_daemon_init(&d);
	mvmt_daemon_start(&d, "--allow-custom-guests", NULL);
	fd = mvmt_connect(d.sock);
}

static void teardown(void)
{
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_stop_running_vms(&d); /* workers outlive mvmd by design */
	mvmt_daemon_cleanup(&d);
}

/* Create and start `name` (mvm-guest, or tests/microvm-guests/<guest>); wait until
 * the guest said it is ready. Returns the VM's id (static buffer). */
static const char *start_vm(const char *name, const char *guest, const char *ready)
{
	static char id[64];
	char p[5200];
	if (guest)
		snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":16,\"guest\":{\"image\":\"%s/%s\"}}", name, guests, guest);
	else
		snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":16}", name);
	json_object *r = mvmt_result(fd, "compute.vm.create", p);
	snprintf(id, sizeof(id), "%s", mvmt_str(r, "id"));
	json_object_put(r);
	snprintf(p, sizeof(p), "{\"id\":\"%s\"}", name);
	r = mvmt_call(fd, "compute.vm.start", p);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	for (int i = 0; i < 500; i++) {
		r = mvmt_call(fd, "compute.vm.logs", p);
		bool found = strstr(mvmt_str(r, "result.data"), ready) != NULL;
		json_object_put(r);
		if (found)
			return id;
		usleep(10000);
	}
	ck_abort_msg("%s never said %s", name, ready);
	return NULL;
}

/* compute.vm.exec {id: name, argv: argv_json, extra...}: the whole reply. */
static json_object *exec_on(int c, const char *name, const char *argv_json, const char *extra)
{
	char p[8192];
	snprintf(p, sizeof(p), "{\"id\":\"%s\",\"argv\":%s%s%s}", name, argv_json, extra ? "," : "", extra ? extra : "");
	return mvmt_call(c, "compute.vm.exec", p);
}

static json_object *exec_ok(const char *name, const char *argv_json, const char *extra)
{
	json_object *r = exec_on(fd, name, argv_json, extra);
	if (!mvmt_get(r, "result")) {
		char p[128];
		snprintf(p, sizeof(p), "{\"id\":\"%s\"}", name);
		json_object *s = mvmt_call(fd, "compute.vm.status", p);
		ck_abort_msg("exec %s: %s; VM: %s", argv_json, json_object_to_json_string(r),
			     mvmt_str(s, "result.cause"));
	}
	return r;
}

static void vsock_path(const char *id, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/vms/%s/vsock.sock", d.state, id);
}

/* Connect to the VM's hybrid vsock socket and send `line` raw. */
static int hv_connect(const char *id, const char *line)
{
	char path[256];
	vsock_path(id, path, sizeof(path));
	int c = mvmt_connect(path);
	if (line && *line)
		mvmt_write(c, line, strlen(line));
	return c;
}

/* Read until "\n" or EOF (at most cap-1 bytes, 5 s); returns bytes read,
 * -1 on EOF before any byte. */
static ssize_t read_reply(int c, char *buf, size_t cap)
{
	size_t n = 0;
	int64_t end = now_ms() + 5000;
	while (n + 1 < cap && now_ms() < end) {
		struct pollfd p = { .fd = c, .events = POLLIN };
		if (poll(&p, 1, (int)(end - now_ms())) <= 0)
			break;
		ssize_t k = read(c, buf + n, 1);
		if (k <= 0)
			break;
		n += (size_t)k;
		if (buf[n - 1] == '\n')
			break;
	}
	buf[n] = 0;
	return n ? (ssize_t)n : -1;
}

START_TEST(test_echo_args_stdin_exit_codes_stderr)
{
	start_vm("ex", NULL, "mvm-guest: ready");
	/* stdin "abc\n" in base64 */
	json_object *r = exec_ok("ex", "[\"mvm.echo\",\"hello\",\"wide world\"]", "\"stdin\":\"YWJjCg==\"");
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 0);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "hello wide world\nabc\n");
	ck_assert_str_eq(mvmt_str(r, "result.stderr"), "");
	ck_assert(!json_object_get_boolean(mvmt_get(r, "result.truncated")));
	ck_assert(!json_object_get_boolean(mvmt_get(r, "result.timed_out")));
	json_object_put(r);

	/* exit codes and stderr kept apart */
	r = exec_ok("ex", "[\"mvm.exit\",\"3\",\"to stdout\",\"to stderr\"]", NULL);
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 3);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "to stdout\n");
	ck_assert_str_eq(mvmt_str(r, "result.stderr"), "to stderr\n");
	json_object_put(r);
	r = exec_ok("ex", "[\"mvm.exit\",\"255\"]", NULL);
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 255);
	json_object_put(r);

	/* base64 output encoding */
	r = exec_ok("ex", "[\"mvm.echo\",\"hi\"]", "\"encoding\":\"base64\"");
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "aGkK");
	json_object_put(r);

	/* mvm.info describes this guest */
	r = exec_ok("ex", "[\"mvm.info\"]", NULL);
	ck_assert_ptr_nonnull(strstr(mvmt_str(r, "result.stdout"), "platform: mvm-guest\n"));
	ck_assert_ptr_nonnull(strstr(mvmt_str(r, "result.stdout"), "memory-mib: 16\n"));
	json_object_put(r);

	/* unknown built-ins, programs and modules not in the store: agent errors */
	r = exec_on(fd, "ex", "[\"mvm.nope\"]", NULL);
	ck_assert_str_eq(mvmt_str(r, "error.data.agent_error"), "not-found");
	json_object_put(r);
	r = exec_on(fd, "ex", "[\"/bin/sh\"]", NULL);
	ck_assert_str_eq(mvmt_str(r, "error.data.agent_error"), "not-found");
	json_object_put(r);
	r = exec_on(fd, "ex", "[\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"]", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32001);
	ck_assert_str_eq(mvmt_str(r, "error.data.agent_error"), "not-found");
	ck_assert_ptr_nonnull(strstr(mvmt_str(r, "error.data.reason"), "not granted"));
	json_object_put(r);
}
END_TEST

START_TEST(test_output_cap_timeout_and_state)
{
	/* not Running: -32002 */
	json_object_put(mvmt_result(fd, "compute.vm.create", "{\"name\":\"idle\",\"memory_mib\":16}"));
	json_object *r = exec_on(fd, "idle", "[\"mvm.echo\"]", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32002);
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), "Configured");
	json_object_put(r);

	/* exec right after start, before the guest's agent listens: mvmd
	 * asks again until it does */
	json_object_put(mvmt_result(fd, "compute.vm.create", "{\"name\":\"quick\",\"memory_mib\":16}"));
	json_object_put(mvmt_result(fd, "compute.vm.start", "{\"id\":\"quick\"}"));
	r = exec_ok("quick", "[\"mvm.echo\",\"at once\"]", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "at once\n");
	json_object_put(r);

	start_vm("cap", NULL, "mvm-guest: ready");
	/* 300 000 bytes of output, 1000 kept */
	r = exec_ok("cap", "[\"mvm.yes\",\"300000\"]", "\"max_output_bytes\":1000");
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 0);
	ck_assert(json_object_get_boolean(mvmt_get(r, "result.truncated")));
	ck_assert_int_eq(strlen(mvmt_str(r, "result.stdout")), 1000);
	json_object_put(r);
	/* all of it when it fits */
	r = exec_ok("cap", "[\"mvm.yes\",\"300000\"]", NULL);
	ck_assert(!json_object_get_boolean(mvmt_get(r, "result.truncated")));
	ck_assert_int_eq(strlen(mvmt_str(r, "result.stdout")), 300000);
	json_object_put(r);

	/* a command that never ends: killed at timeout_ms */
	int64_t t0 = now_ms();
	r = exec_ok("cap", "[\"mvm.sleep\"]", "\"timeout_ms\":300");
	int64_t took = now_ms() - t0;
	ck_assert(json_object_get_boolean(mvmt_get(r, "result.timed_out")));
	ck_assert_ptr_null(mvmt_get(r, "result.exit_code"));
	ck_assert_int_eq(mvmt_int(r, "result.signal"), 9);
	ck_assert_int_ge(took, 290);
	ck_assert_int_lt(took, 3000);
	json_object_put(r);
	/* a sleep that ends in time */
	r = exec_ok("cap", "[\"mvm.sleep\",\"50\"]", "\"timeout_ms\":5000");
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 0);
	ck_assert(!json_object_get_boolean(mvmt_get(r, "result.timed_out")));
	json_object_put(r);
}
END_TEST

START_TEST(test_raw_hybrid_vsock)
{
	const char *id = start_vm("raw", NULL, "mvm-guest: ready");
	char buf[256];
	int64_t t0 = now_ms();
	/* a client that never sends its line: closed after the handshake bound */
	int silent = hv_connect(id, NULL);

	/* CONNECT 52 and then nothing: the agent never sees it (its port
	 * defers accept), the worker closes it after 10 s */
	int mute = hv_connect(id, "CONNECT 52\n");
	ck_assert_int_gt(read_reply(mute, buf, sizeof(buf)), 0);

	/* CONNECT to the agent's port: OK <n>, then the exec protocol */
	int c = hv_connect(id, "CONNECT 52\n");
	ck_assert_int_gt(read_reply(c, buf, sizeof(buf)), 0);
	ck_assert_msg(strncmp(buf, "OK ", 3) == 0 && buf[strlen(buf) - 1] == '\n', "reply: %s", buf);
	ck_assert_int_ge(atol(buf + 3), 1073741824L);
	close(c);

	/* no listener on the port: closed, no answer */
	c = hv_connect(id, "CONNECT 53\n");
	ck_assert_int_eq(read_reply(c, buf, sizeof(buf)), -1);
	close(c);
	/* malformed lines: closed */
	const char *bad[] = {
		"GARBAGE\n", "CONNECT\n", "CONNECT x52\n", "CONNECT 52x\n", "CONNECT 4294967296\n",
		"CONNECT 99999999999999999999\n", "connect 52\n", "CONNECT -1\n", "\n",
		"CONNECT 52                                                  ", /* no "\n" within the bound */
		"\x00\x01\x02\x03\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = hv_connect(id, "");
		mvmt_write(c, bad[i], i == sizeof(bad) / sizeof(bad[0]) - 1 ? 5 : strlen(bad[i]));
		ck_assert_msg(read_reply(c, buf, sizeof(buf)) == -1, "answered %s to line %zu", buf, i);
		close(c);
	}
	/* accepted variants: several spaces, CRLF */
	c = hv_connect(id, "CONNECT   52 \r\n");
	ck_assert_int_gt(read_reply(c, buf, sizeof(buf)), 0);
	ck_assert_int_eq(strncmp(buf, "OK ", 3), 0);
	close(c);

	/* the silent client is closed after ~5 s, not kept for ever */
	ck_assert(mvmt_wait_closed(silent, 8000));
	ck_assert_int_ge(now_ms() - t0, 4000);
	close(silent);

	ck_assert(mvmt_wait_closed(mute, 12000));
	ck_assert_int_ge(now_ms() - t0, 9000);
	close(mute);

	/* the VM is fine and still serves */
	json_object *r = exec_ok("raw", "[\"mvm.echo\",\"still\"]", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "still\n");
	json_object_put(r);
}
END_TEST

static int worker_rss_kib(const char *name)
{
	char p[128], path[64], line[256];
	int rss = -1;
	snprintf(p, sizeof(p), "{\"id\":\"%s\"}", name);
	json_object *r = mvmt_result(fd, "compute.vm.status", p);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)mvmt_int(r, "pid"));
	json_object_put(r);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %d", &rss) == 1)
			break;
	fclose(f);
	return rss;
}

START_TEST(test_backpressure_host_never_reads)
{
	const char *id = start_vm("bp", NULL, "mvm-guest: ready");
	int rss0 = worker_rss_kib("bp");
	char buf[64];
	/* A raw client asks for 64 MiB of output and never reads it. */
	int c = hv_connect(id, "CONNECT 52\n");
	ck_assert_int_gt(read_reply(c, buf, sizeof(buf)), 0);
	/* request{v1, stdin none, no timeout, argv ["mvm.yes", "67108864"]} */
	uint8_t frame[64];
	const char *a0 = "mvm.yes", *a1 = "67108864";
	size_t n = 0;
	uint32_t len = 16 + 4 + 7 + 4 + 8;
	frame[n++] = 'M'; frame[n++] = 'X'; frame[n++] = 0x01; frame[n++] = 0;
	memcpy(frame + n, &len, 4); n += 4;
	uint8_t hdr[16] = { 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0 };
	memcpy(frame + n, hdr, 16); n += 16;
	uint32_t l0 = 7, l1 = 8;
	memcpy(frame + n, &l0, 4); n += 4; memcpy(frame + n, a0, 7); n += 7;
	memcpy(frame + n, &l1, 4); n += 4; memcpy(frame + n, a1, 8); n += 8;
	mvmt_write(c, frame, n);
	sleep(2);
	/* The worker did not buffer it: its RSS grew by far less than 64 MiB. */
	int rss1 = worker_rss_kib("bp");
	ck_assert_msg(rss1 - rss0 < 8 * 1024, "worker RSS grew from %d to %d KiB", rss0, rss1);
	/* and others are served meanwhile */
	json_object *r = exec_ok("bp", "[\"mvm.echo\",\"meanwhile\"]", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "meanwhile\n");
	json_object_put(r);
	close(c);
	/* closing it aborts the command; the agent keeps serving */
	r = exec_ok("bp", "[\"mvm.echo\",\"after\"]", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "after\n");
	json_object_put(r);
}
END_TEST

START_TEST(test_many_sequential_and_concurrent)
{
	start_vm("many", NULL, "mvm-guest: ready");
	start_vm("other", NULL, "mvm-guest: ready");
	for (int i = 0; i < 100; i++) {
		char argv[64], want[32];
		snprintf(argv, sizeof(argv), "[\"mvm.echo\",\"n%d\"]", i);
		snprintf(want, sizeof(want), "n%d\n", i);
		json_object *r = exec_ok(i % 2 ? "many" : "other", argv, NULL);
		ck_assert_str_eq(mvmt_str(r, "result.stdout"), want);
		json_object_put(r);
	}
	/* 10 at once, over two VMs, each on its own RPC connection; some
	 * sleep, so they really overlap */
	int c[10];
	for (int i = 0; i < 10; i++) {
		char line[256];
		c[i] = mvmt_connect(d.sock);
		snprintf(line, sizeof(line),
			 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"compute.vm.exec\",\"params\":{\"id\":\"%s\",\"argv\":%s}}",
			 i, i % 2 ? "many" : "other", i % 3 ? "[\"mvm.sleep\",\"200\"]" : "[\"mvm.echo\",\"x\"]");
		mvmt_send_line(c[i], line);
	}
	int64_t t0 = now_ms();
	for (int i = 0; i < 10; i++) {
		char *line = mvmt_read_line(c[i], 10000);
		ck_assert_ptr_nonnull(line);
		json_object *o = json_tokener_parse(line);
		free(line);
		ck_assert_msg(mvmt_get(o, "result") != NULL, "exec %d: %s", i, json_object_to_json_string(o));
		ck_assert_int_eq(mvmt_int(o, "result.exit_code"), 0);
		json_object_put(o);
		close(c[i]);
		mvmt_forget_fd(c[i]);
	}
	/* six 200 ms sleeps ran concurrently, not one after another */
	ck_assert_int_lt(now_ms() - t0, 1100);
}
END_TEST

START_TEST(test_exec_after_mvmd_kill9)
{
	start_vm("ad", NULL, "mvm-guest: ready");
	json_object *r = exec_ok("ad", "[\"mvm.echo\",\"before\"]", NULL);
	json_object_put(r);
	close(fd);
	mvmt_forget_fd(fd);
	int st = mvmt_daemon_stop(&d, SIGKILL);
	ck_assert(WIFSIGNALED(st));
	mvmt_daemon_start(&d, "--allow-custom-guests", NULL);
	fd = mvmt_connect(d.sock);
	json_object *s = mvmt_result(fd, "compute.vm.status", "{\"id\":\"ad\"}");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	json_object_put(s);
	r = exec_ok("ad", "[\"mvm.echo\",\"after\",\"restart\"]", "\"stdin\":\"eA==\"");
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "after restart\nx");
	json_object_put(r);
}
END_TEST

/* A micro-VM running a Wasm workload has no agent: exec says busy at once;
 * the same module exec'd by hash in an idle VM runs there. */
START_TEST(test_workload_vm_busy_and_wasm_by_hash)
{
	char rel[256], abs[4096], p[8192];
	const char *b = getenv("MVM_BUILD_DIR");
	snprintf(rel, sizeof(rel), "%s/wasm-programs/wl-sleep.wasm", b && *b ? b : "build");
	ck_assert_msg(realpath(rel, abs) != NULL, "%s not built", rel);
	snprintf(p, sizeof(p), "{\"path\":\"%s\"}", abs);
	json_object *r = mvmt_result(fd, "compute.blob.put", p);
	char hash[128];
	snprintf(hash, sizeof(hash), "%s", mvmt_str(r, "hash"));
	json_object_put(r);
	snprintf(p, sizeof(p), "{\"name\":\"wl\",\"memory_mib\":16,\"workload\":{\"hash\":\"%s\",\"args\":[\"sleep\",\"3000\",\"0\"]}}", hash);
	json_object_put(mvmt_result(fd, "compute.vm.create", p));
	r = mvmt_call(fd, "compute.vm.start", "{\"id\":\"wl\"}");
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	int64_t t0 = now_ms();
	r = exec_on(fd, "wl", "[\"mvm.echo\"]", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32002);
	ck_assert_ptr_nonnull(strstr(mvmt_str(r, "error.data.reason"), "busy"));
	ck_assert_int_lt(now_ms() - t0, 1000);
	json_object_put(r);

	/* the same hash in an idle mvm-guest runs there */
	start_vm("idle", NULL, "mvm-guest: ready");
	char argv[256];
	snprintf(argv, sizeof(argv), "[\"%s\",\"1\",\"0\"]", hash);
	r = exec_ok("idle", argv, NULL);
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 0);
	json_object_put(r);
}
END_TEST

/* Put build/wasm-programs/<name> into the blob store: its "sha256:<hex>". */
static const char *put_program(const char *name, char *hash, size_t cap)
{
	char rel[256], abs[4096], p[4200];
	const char *b = getenv("MVM_BUILD_DIR");
	snprintf(rel, sizeof(rel), "%s/wasm-programs/%s", b && *b ? b : "build", name);
	ck_assert_msg(realpath(rel, abs) != NULL, "%s not built", rel);
	snprintf(p, sizeof(p), "{\"path\":\"%s\"}", abs);
	json_object *r = mvmt_result(fd, "compute.blob.put", p);
	snprintf(hash, cap, "%s", mvmt_str(r, "hash"));
	json_object_put(r);
	return hash;
}

static size_t heap_free(const char *vm)
{
	json_object *r = exec_ok(vm, "[\"mvm.info\"]", NULL);
	const char *s = strstr(mvmt_str(r, "result.stdout"), "heap-free: ");
	ck_assert_ptr_nonnull(s);
	size_t v = (size_t)strtoull(s + 11, NULL, 10);
	json_object_put(r);
	return v;
}

START_TEST(test_wasm_by_hash_args_env_stdin_codes)
{
	char h[128], argv[512];
	put_program("wl-exectest.wasm", h, sizeof(h));
	start_vm("wx", NULL, "mvm-guest: ready");

	/* args, env, stdin ("line1\nline2\n"), stdout and stderr apart */
	snprintf(argv, sizeof(argv), "[\"%s\",\"0\",\"a b\",\"c\"]", h);
	json_object *r = exec_ok("wx", argv, "\"env\":{\"GREETING\":\"hi there\"},\"stdin\":\"bGluZTEKbGluZTIK\"");
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 0);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"),
			 "argc=4\nargv[1]=0\nargv[2]=a b\nargv[3]=c\nGREETING=hi there\nline1\nline2\n");
	ck_assert_str_eq(mvmt_str(r, "result.stderr"), "to stderr\n");
	ck_assert(!json_object_get_boolean(mvmt_get(r, "result.timed_out")));
	ck_assert(!json_object_get_boolean(mvmt_get(r, "result.truncated")));
	json_object_put(r);

	/* exit codes: returned from main, and through proc_exit; WASI's
	 * code is a u32 and the answer carries it whole */
	const struct { const char *args; int64_t code; } codes[] = {
		{ "\"1\"", 1 }, { "\"42\"", 42 }, { "\"42\",\"exit\"", 42 }, { "\"0\",\"exit\"", 0 },
		{ "\"256\"", 256 }, { "\"2147483648\",\"exit\"", 2147483648 }, { "\"4294967295\"", 4294967295 },
	};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		snprintf(argv, sizeof(argv), "[\"%s\",%s]", h, codes[i].args);
		r = exec_ok("wx", argv, NULL);
		ck_assert_int_eq(mvmt_int(r, "result.exit_code"), codes[i].code);
		ck_assert_str_eq(mvmt_str(r, "result.stderr"), "to stderr\n");
		json_object_put(r);
	}

	/* the output cap */
	snprintf(argv, sizeof(argv), "[\"%s\",\"0\"]", h);
	r = exec_ok("wx", argv, "\"max_output_bytes\":10");
	ck_assert(json_object_get_boolean(mvmt_get(r, "result.truncated")));
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "argc=2\narg");
	json_object_put(r);
}
END_TEST

START_TEST(test_wasm_by_hash_trap_timeout_missing_big)
{
	char trap[128], spin[128], ok[128], argv[512], p[4200];
	put_program("wl-trap.wasm", trap, sizeof(trap));
	put_program("wl-spin.wasm", spin, sizeof(spin));
	put_program("wl-exectest.wasm", ok, sizeof(ok));
	start_vm("wt", NULL, "mvm-guest: ready");

	/* a trap: exit 134, its kind on stderr (as mvm-init's agent) */
	snprintf(argv, sizeof(argv), "[\"%s\",\"div\"]", trap);
	json_object *r = exec_ok("wt", argv, NULL);
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 134);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "about to trap: div\n");
	ck_assert_msg(strncmp(mvmt_str(r, "result.stderr"), "mvm-guest: wasm: trap: ", 23) == 0, "stderr: %s",
		      mvmt_str(r, "result.stderr"));
	json_object_put(r);
	snprintf(argv, sizeof(argv), "[\"%s\",\"deep\"]", trap);
	r = exec_ok("wt", argv, NULL);
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 134);
	json_object_put(r);

	/* an endless module ends at timeout_ms, as built-ins do */
	snprintf(argv, sizeof(argv), "[\"%s\"]", spin);
	r = exec_ok("wt", argv, "\"timeout_ms\":300");
	ck_assert(json_object_get_boolean(mvmt_get(r, "result.timed_out")));
	ck_assert_ptr_null(mvmt_get(r, "result.exit_code"));
	ck_assert_int_eq(mvmt_int(r, "result.signal"), 9);
	ck_assert_str_eq(mvmt_str(r, "result.stdout"), "spinning\n");
	json_object_put(r);
	/* and the VM serves the next one */
	snprintf(argv, sizeof(argv), "[\"%s\",\"7\"]", ok);
	r = exec_ok("wt", argv, NULL);
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 7);
	json_object_put(r);

	/* a well-formed hash that is not in the store: not-found */
	r = exec_on(fd, "wt", "[\"sha256:1111111111111111111111111111111111111111111111111111111111111111\"]", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32001);
	ck_assert_str_eq(mvmt_str(r, "error.data.agent_error"), "not-found");
	json_object_put(r);

	/* a blob larger than the guest's memory (16 MiB): resources, no fault */
	char path[] = "/tmp/mvm-big-XXXXXX";
	int bfd = mkstemp(path);
	ck_assert_int_ge(bfd, 0);
	ck_assert_int_eq(ftruncate(bfd, 17 << 20), 0);
	ck_assert_int_eq(pwrite(bfd, "\0asm\1\0\0\0", 8, 0), 8);
	close(bfd);
	snprintf(p, sizeof(p), "{\"path\":\"%s\"}", path);
	json_object *b = mvmt_result(fd, "compute.blob.put", p);
	unlink(path);
	snprintf(argv, sizeof(argv), "[\"%s\"]", mvmt_str(b, "hash"));
	json_object_put(b);
	r = exec_on(fd, "wt", argv, NULL);
	ck_assert_str_eq(mvmt_str(r, "error.data.agent_error"), "resources");
	ck_assert_ptr_nonnull(strstr(mvmt_str(r, "error.data.reason"), "larger than guest memory"));
	json_object_put(r);
	json_object *s = mvmt_result(fd, "compute.vm.status", "{\"id\":\"wt\"}");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	json_object_put(s);
}
END_TEST

/* An exec's timeout counts from its request, not from when the agent last
 * woke: a request that comes while another exec's Wasm module sleeps is
 * read once that run is over, in the same round. Ending before timeout_ms
 * after it was sent is the defect (a lower bound: slowness cannot fail it). */
START_TEST(test_timeout_counts_from_request)
{
	char sleep_h[128], spin[128], p[1024];
	put_program("wl-sleep.wasm", sleep_h, sizeof(sleep_h));
	put_program("wl-spin.wasm", spin, sizeof(spin));
	start_vm("tc", NULL, "mvm-guest: ready");

	int fd2 = mvmt_connect(d.sock);
	snprintf(p, sizeof(p),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"compute.vm.exec\","
		 "\"params\":{\"id\":\"tc\",\"argv\":[\"%s\",\"2000\"]}}",
		 sleep_h);
	mvmt_send_line(fd2, p);
	usleep(300 * 1000);
	int64_t t0 = now_ms();
	snprintf(p, sizeof(p), "[\"%s\"]", spin);
	json_object *r = exec_ok("tc", p, "\"timeout_ms\":3000");
	int64_t took = now_ms() - t0;
	ck_assert(json_object_get_boolean(mvmt_get(r, "result.timed_out")));
	ck_assert_msg(took >= 3000, "a 3000 ms timeout ended %lld ms after its request", (long long)took);
	json_object_put(r);

	char *line = mvmt_read_line(fd2, 60000);
	ck_assert_ptr_nonnull(line);
	r = json_tokener_parse(line);
	free(line);
	ck_assert_int_eq(mvmt_int(r, "result.exit_code"), 0);
	ck_assert_ptr_nonnull(strstr(mvmt_str(r, "result.stdout"), "woke up"));
	json_object_put(r);
	close(fd2);
	mvmt_forget_fd(fd2);
}
END_TEST

/* Twenty in a row: every instance freed, the guest's heap as before. */
START_TEST(test_wasm_by_hash_twenty_no_leak)
{
	char h[128], argv[512], want[64];
	put_program("wl-exectest.wasm", h, sizeof(h));
	start_vm("wl20", NULL, "mvm-guest: ready");
	snprintf(argv, sizeof(argv), "[\"%s\",\"3\"]", h);
	json_object_put(exec_ok("wl20", argv, NULL)); /* warm: the agent's spare connection */
	size_t before = heap_free("wl20");
	for (int i = 0; i < 20; i++) {
		snprintf(argv, sizeof(argv), "[\"%s\",\"%d\",\"n%d\"]", h, i, i);
		snprintf(want, sizeof(want), "argv[2]=n%d\n", i);
		json_object *r = exec_ok("wl20", argv, NULL);
		ck_assert_int_eq(mvmt_int(r, "result.exit_code"), i);
		ck_assert_ptr_nonnull(strstr(mvmt_str(r, "result.stdout"), want));
		json_object_put(r);
	}
	ck_assert_uint_eq(heap_free("wl20"), before);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "exec",
		.timeout = 60,
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_echo_args_stdin_exit_codes_stderr),
			MVMT_TEST(test_output_cap_timeout_and_state),
			MVMT_TEST(test_raw_hybrid_vsock),
			MVMT_TEST(test_backpressure_host_never_reads),
			MVMT_TEST(test_many_sequential_and_concurrent),
			MVMT_TEST(test_exec_after_mvmd_kill9),
			MVMT_TEST(test_workload_vm_busy_and_wasm_by_hash),
			MVMT_TEST(test_wasm_by_hash_args_env_stdin_codes),
			MVMT_TEST(test_wasm_by_hash_trap_timeout_missing_big),
			MVMT_TEST(test_timeout_counts_from_request),
			MVMT_TEST(test_wasm_by_hash_twenty_no_leak)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd-exec", .tcases = tcases, .skip = mvmt_kvm_skip_reason)
