/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strings a tenant gives a workload (args, environment; also its
 * capabilities and hash), through the real mvmd:
 * - they are in no process's argv or environment, however its start is
 *   served: with the pool off, with the pool on but a memory size it does
 *   not hold (both spawn mvm-vmm cold), and from the pool. While each VM
 *   runs, every /proc/PID/cmdline and /proc/PID/environ is read as root,
 *   and again as nobody (what any local user sees). Needs /dev/kvm.
 * - each is at most 4096 bytes of UTF-8, counted in bytes (the boot info
 *   they go into is bytes), not characters; so are an exec's argv strings
 *   and env values (exec frames are bytes too). Needs no /dev/kvm.
 */
#include "util/macro.h"
#include "workload-daemon.h"
#include "mvmt-main.h"
#include "proc-scan.h"

/* Distinct per run, so nothing left from another run can match. */
static char arg_secret[64], env_secret[64], env_key[64];

static void make_secrets(void)
{
	snprintf(arg_secret, sizeof(arg_secret), "ARG-SECRET-%d-%ld", (int)getpid(), (long)time(NULL));
	snprintf(env_secret, sizeof(env_secret), "ENV-SECRET-%d-%ld", (int)getpid(), (long)time(NULL));
	snprintf(env_key, sizeof(env_key), "MVMT_KEY_%d", (int)getpid());
}

/*
 * Start a VM running sleep.wasm (it waits in the host) with the secrets
 * as an argument and an environment entry, at mem MiB; while it runs,
 * scan as root and as nobody. Returns the worker's pid.
 */
static pid_t start_and_scan(const char *name, int mem)
{
	char extra[512];
	make_secrets();
	snprintf(extra, sizeof(extra),
		 "\"args\":[\"sleep\",\"60000\",\"0\",\"--password=%s\"],\"env\":{\"%s\":\"%s\"}",
		 arg_secret, env_key, env_secret);
	json_object_put(wl_create(name, "sleep", mem, extra));
	char *hash = wl_put_prog("sleep"); /* the same bytes: the same hash */
	json_object *r = wl_call_id("compute.vm.start", name, NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
	pid_t pid = (pid_t)mvmt_int(r, "result.pid");
	json_object_put(r);
	/* Running, and the guest has its args: it parsed argv[1]. A cold
	 * start on a loaded host may take a while: 30 s. */
	bool seen = false;
	for (int i = 0; i < 3000 && !seen; i++) {
		if (i)
			usleep(10000);
		char *l = wl_logs(name);
		seen = strstr(l, "sleeping 60000 ms") != NULL;
		free(l);
	}
	ck_assert_msg(seen, "%s never said it was sleeping", name);
	ck_assert_msg(!mvmt_process_ended(pid), "worker %d is gone", (int)pid);

	/* The workload's hash is the tenant's choice too: its hex must not
	 * show either. */
	ck_assert_int_eq(strncmp(hash, "sha256:", 7), 0);
	const char *secrets[] = { arg_secret, env_secret, env_key, hash + 7 };
	mvmt_proc_scan_t s;
	mvmt_proc_scan(secrets, ELEMENTSOF(secrets), pid, &s);
	ck_assert_msg(s.hits == 0, "as root: %d hits, first: %s", s.hits, s.first);
	ck_assert_msg(s.saw_pid, "as root: the worker %d was not scanned", (int)pid);
	mvmt_proc_scan_as_nobody(secrets, ELEMENTSOF(secrets), pid, &s);
	ck_assert_msg(s.hits == 0, "as nobody: %d hits, first: %s", s.hits, s.first);
	/* Root's processes' cmdlines are readable by anyone: the scan saw them. */
	ck_assert_msg(s.saw_pid, "as nobody: the worker %d's cmdline was not readable", (int)pid);
	ck_assert_int_gt(s.cmdlines_read, 1);
	free(hash);
	return pid;
}

static long long pool_num(const char *key)
{
	char path[64];
	json_object *r = mvmt_result(wl.fd, "compute.node.info", NULL);
	snprintf(path, sizeof(path), "backends.kvm.pool.%s", key);
	long long v = mvmt_int(r, path);
	json_object_put(r);
	return v;
}

static void setup_no_pool(void)
{
	mvmt_daemon_init(&wl.d);
	mvmt_daemon_start(&wl.d, "--kvm-pool", "0", NULL);
	wl.fd = mvmt_connect(wl.d.sock);
}

START_TEST(test_cold_start_pool_off)
{
	start_and_scan("cold-off", 16);
}
END_TEST

START_TEST(test_cold_start_size_not_pooled)
{
	/* The pool holds 16 MiB workers: a 32 MiB VM is spawned cold. */
	mvmt_wait_pool_settled(wl.fd);
	long long misses = pool_num("misses"), hits = pool_num("hits");
	start_and_scan("cold-32", 32);
	ck_assert_int_eq(pool_num("misses"), misses + 1);
	ck_assert_int_eq(pool_num("hits"), hits);
}
END_TEST

START_TEST(test_start_from_pool)
{
	mvmt_wait_pool_settled(wl.fd);
	long long hits = pool_num("hits");
	start_and_scan("warm-16", 16);
	ck_assert_int_eq(pool_num("hits"), hits + 1);
}
END_TEST

/* n copies of the UTF-8 sequence u, then tail. */
static char *repeat(const char *u, size_t n, const char *tail)
{
	size_t l = strlen(u);
	char *s = malloc(l * n + strlen(tail) + 1);
	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * l, u, l);
	strcpy(s + l * n, tail);
	return s;
}

/* create with member (0: one arg, 1: one env value) v: the error code,
 * 0 if created. */
static int create_with(size_t member, const char *v)
{
	static const char *h0 = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	static const char *open_[] = { "\"args\":[\"", "\"env\":{\"K\":\"" }, *close_[] = { "\"]", "\"}" };
	char *q;
	ck_assert_int_ge(asprintf(&q, "{\"memory_mib\":16,\"workload\":{\"hash\":\"%s\",%s%s%s}}", h0, open_[member], v,
				  close_[member]), 0);
	json_object *r = mvmt_call(wl.fd, "compute.vm.create", q);
	int code = mvmt_get(r, "result") ? 0 : (int)mvmt_int(r, "error.code");
	if (code) {
		wl_assert_contains(mvmt_str(r, "error.data.param"), "workload");
		wl_assert_contains(json_object_to_json_string(r), "4096 bytes");
	}
	json_object_put(r);
	free(q);
	return code;
}

START_TEST(test_string_caps_count_bytes)
{
	/* 2-, 3- and 4-byte characters to exactly 4096 bytes pass; one byte
	 * more is refused, though it is far fewer than 4096 characters. */
	static const struct { const char *u; size_t n; const char *tail, *over; } cases[] = {
		{ "\xc3\xa9", 2048, "", "b" },            /* é: 2048 characters */
		{ "\xe2\x82\xac", 1365, "a", "ab" },      /* €: 1366 characters */
		{ "\xf0\x9f\x98\x80", 1024, "", "b" },    /* U+1F600: 1024 characters */
	};
	static const char *members[] = { "an arg", "an env value" };
	size_t created = 0;
	for (size_t m = 0; m < ELEMENTSOF(members); m++)
		for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
			char *ok = repeat(cases[i].u, cases[i].n, cases[i].tail);
			char *over = repeat(cases[i].u, cases[i].n, cases[i].over);
			ck_assert_uint_eq(strlen(ok), 4096);
			ck_assert_uint_eq(strlen(over), 4097);
			ck_assert_msg(create_with(m, ok) == 0, "%s of 4096 bytes refused", members[m]);
			created++;
			ck_assert_int_eq(create_with(m, over), -32602);
			free(ok);
			free(over);
		}
	/* 4096 one-byte characters still pass; refused creates left nothing */
	char *ascii = repeat("x", 4096, "");
	ck_assert_int_eq(create_with(0, ascii), 0);
	free(ascii);
	created++;
	json_object *r = mvmt_result(wl.fd, "compute.vm.list", NULL);
	ck_assert_uint_eq(json_object_array_length(mvmt_get(r, "vms")), created);
	json_object_put(r);
}
END_TEST

/* compute.vm.exec on a VM that does not exist with one argv string or
 * env value v: -32602 when the params are refused, -32001 past them. */
static int exec_with(bool env, const char *v)
{
	char *q;
	ck_assert_int_ge(asprintf(&q, env ? "{\"id\":\"nope\",\"argv\":[\"x\"],\"env\":{\"K\":\"%s\"}}"
					  : "{\"id\":\"nope\",\"argv\":[\"%s\"]}", v), 0);
	int code = mvmt_error_code(wl.fd, "compute.vm.exec", q);
	free(q);
	return code;
}

START_TEST(test_exec_string_caps_count_bytes)
{
	/* An exec frame holds 4096 bytes per argv string (3968 per env
	 * value, with its key): 2048 "é" pass, 2049 (4098 bytes) do not. */
	char *ok = repeat("\xc3\xa9", 2048, ""), *over = repeat("\xc3\xa9", 2049, "");
	ck_assert_int_eq(exec_with(false, ok), -32001);
	ck_assert_int_eq(exec_with(false, over), -32602);
	free(ok);
	free(over);
	ok = repeat("\xc3\xa9", 1984, "");
	over = repeat("\xc3\xa9", 1985, "");
	ck_assert_int_eq(exec_with(true, ok), -32001);
	ck_assert_int_eq(exec_with(true, over), -32602);
	free(ok);
	free(over);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "caps",
		.timeout = 120,
		.setup = wl_setup,
		.teardown = wl_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_string_caps_count_bytes),
			MVMT_TEST(test_exec_string_caps_count_bytes)),
	},
	{
		.name = "pool-off",
		.timeout = 120,
		.setup = setup_no_pool,
		.teardown = wl_teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_cold_start_pool_off)),
	},
	{
		.name = "pool-on",
		.timeout = 120,
		.setup = wl_setup,
		.teardown = wl_teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_cold_start_size_not_pooled),
			MVMT_TEST(test_start_from_pool)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd-secrets", .tcases = tcases)
