/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd's pool of warm kvm workers (daemon/mvmd/kvm/kvm-pool.h), through the real
 * mvmd on the real /dev/kvm: starts served by idle workers, the pool
 * keeping its memory size and following the module asked for last, a module that
 * cannot be primed, idle workers killed from outside or left behind by a
 * dying mvmd, failures that pause the pool, and its options.
 */
#include "workload-daemon.h"
#include "mvmt-main.h"

static long long pool_num(const char *key)
{
	char path[64];
	json_object *r = mvmt_result(wl.fd, "compute.node.info", NULL);
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
	mvmt_wait_pool_settled(wl.fd);
	long long size = pool_num("size"), hits = pool_num("hits");
	ck_assert_int_eq(size, 4);
	ck_assert_int_eq(pool_num("ready"), size);
	pid_t idle[16];
	size_t nidle = vmm_children(wl.d.pid, idle, 16);
	ck_assert_uint_eq(nidle, (size_t)size);
	json_object_put(wl_create("from-pool", "hello", 16, "\"args\":[\"hello\",\"pool\"]"));
	json_object *r = wl_call_id("compute.vm.start", "from-pool", NULL);
	pid_t pid = (pid_t)mvmt_int(r, "result.pid");
	json_object_put(r);
	/* The VM's worker is one of the idle ones, not a new process. */
	bool was_idle = false;
	for (size_t i = 0; i < nidle; i++)
		was_idle |= idle[i] == pid;
	ck_assert_msg(was_idle, "pid %d was not an idle pool worker", (int)pid);
	json_object *st = wl_wait_end("from-pool", 10000);
	ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(st, "exit_code"), 0);
	json_object_put(st);
	char *l = wl_logs("from-pool");
	wl_assert_contains(l, "argv[1] = pool\n");
	free(l);
	ck_assert_int_eq(pool_num("hits"), hits + 1);
	mvmt_wait_pool_settled(wl.fd);
	ck_assert_int_eq(pool_num("ready"), size);
	ck_assert_int_eq(pool_num("failures"), 0);
}
END_TEST

static char *pool_str(const char *key)
{
	char path[64];
	json_object *r = mvmt_result(wl.fd, "compute.node.info", NULL);
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
	char *hello = wl_put_prog("hello");
	json_object *pi;
	json_object *st = wl_run("p-1", "hello", 16, NULL);
	ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
	json_object_put(st);
	char *prime = pool_str("prime");
	ck_assert_str_eq(prime, hello);
	free(prime);
	wait_primed(2);
	long long primed_hits = pool_num("primed_hits"), hits = pool_num("hits");
	st = wl_run("p-2", "hello", 16, "\"args\":[\"hello\",\"primed\"],\"env\":{\"WHO\":\"p-2\"}");
	ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(st, "exit_code"), 0);
	json_object_put(st);
	ck_assert_int_eq(pool_num("primed_hits"), primed_hits + 1);
	char *l = wl_logs("p-2");
	wl_assert_contains(l, "argv[1] = primed\n");
	wl_assert_contains(l, "env WHO=p-2\n");
	free(l);
	/* another module: an unprimed worker (a hit, not a primed one) */
	mvmt_wait_pool_settled(wl.fd);
	hits = pool_num("hits");
	primed_hits = pool_num("primed_hits");
	st = wl_run("p-3", "exit", 16, "\"args\":[\"exit\",\"7\"]");
	ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(st, "exit_code"), 7);
	json_object_put(st);
	pi = mvmt_result(wl.fd, "compute.node.info", NULL);
	ck_assert_msg(mvmt_int(pi, "backends.kvm.pool.hits") == hits + 1, "not a hit: %s",
		      json_object_to_json_string(mvmt_get(pi, "backends.kvm.pool")));
	json_object_put(pi);
	ck_assert_int_eq(pool_num("primed_hits"), primed_hits);
	char *exitmod = wl_put_prog("exit");
	prime = pool_str("prime");
	ck_assert_str_eq(prime, exitmod);
	free(prime);
	/* the hello-primed workers are replaced by exit-primed ones */
	wait_primed(2);
	mvmt_wait_pool_settled(wl.fd);
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
	mvmt_wait_pool_settled(wl.fd);
	json_object *r = mvmt_result(wl.fd, "compute.blob.put", "{\"data\":\"bm90IGEgd2FzbSBtb2R1bGUK\"}");
	char p[512], *hash = strdup(mvmt_str(r, "hash"));
	json_object_put(r);
	snprintf(p, sizeof(p), "{\"name\":\"bad\",\"memory_mib\":16,\"workload\":{\"hash\":\"%s\"}}", hash);
	json_object_put(mvmt_result(wl.fd, "compute.vm.create", p));
	json_object_put(wl_call_id("compute.vm.start", "bad", NULL));
	json_object *st = wl_wait_end("bad", 10000);
	ck_assert_str_eq(mvmt_str(st, "state"), "Failed");
	json_object_put(st);
	char *prime = pool_str("prime");
	ck_assert_str_eq(prime, hash);
	free(prime);
	for (int i = 0; i < 500 && pool_num("failures") == 0; i++)
		usleep(10000);
	ck_assert_int_ge(pool_num("failures"), 1);
	char *err = pool_str("last_error");
	wl_assert_contains(err, "exited with status");
	free(err);
	mvmt_wait_pool_settled(wl.fd);
	long long failures = pool_num("failures");
	usleep(500000);
	mvmt_wait_pool_settled(wl.fd);
	ck_assert_int_eq(pool_num("failures"), failures);
	/* at most the workers primed at once before the first one failed */
	ck_assert_int_le(failures, (pool_num("size") + 1) / 2);
	ck_assert_int_eq(pool_num("primed"), 0);
	ck_assert_int_eq(pool_num("ready"), pool_num("size"));
	free(hash);
}
END_TEST

/* Whether /proc/PID/cmdline has the argument arg. */
static bool cmdline_has(pid_t pid, const char *arg)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return false;
	ssize_t n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return false;
	buf[n] = 0;
	for (char *p = buf; p < buf + n; p += strlen(p) + 1)
		if (strcmp(p, arg) == 0)
			return true;
	return false;
}

START_TEST(test_pool_keeps_its_size)
{
	/* 32 MiB while the pool holds 16 MiB workers: a cold start (a miss)
	 * that leaves the pool as it was, full of 16 MiB workers; so is the
	 * next one. A 16 MiB start is still a hit. */
	mvmt_wait_pool_settled(wl.fd);
	long long hits = pool_num("hits"), misses = pool_num("misses"), size = pool_num("size");
	ck_assert_int_eq(pool_num("memory_mib"), 16);
	for (int i = 0; i < 2; i++) {
		char name[32];
		snprintf(name, sizeof(name), "big-%d", i);
		json_object *st = wl_run(name, "hello", 32, NULL);
		ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
		json_object_put(st);
		json_object *b = mvmt_status(wl.fd, name);
		ck_assert_int_eq(mvmt_int(b, "memory_mib"), 32);
		json_object_put(b);
		ck_assert_int_eq(pool_num("misses"), misses + 1 + i);
		ck_assert_int_eq(pool_num("memory_mib"), 16);
		mvmt_wait_pool_settled(wl.fd);
		ck_assert_int_eq(pool_num("ready"), size);
		ck_assert_int_eq(pool_num("hits"), hits);
	}
	/* every idle worker is a 16 MiB one (once the VMs' own workers,
	 * mvmd's children too, are reaped: a zombie has no cmdline) */
	pid_t idle[16];
	size_t n = 0, sized = 0;
	for (int t = 0; t < 1000 && !(n == (size_t)size && sized == n); t++) {
		if (t)
			usleep(10000);
		n = vmm_children(wl.d.pid, idle, 16);
		sized = 0;
		for (size_t i = 0; i < n; i++)
			sized += cmdline_has(idle[i], "--memory-mib=16");
	}
	ck_assert_uint_eq(n, (size_t)size);
	ck_assert_uint_eq(sized, n);
	json_object *st = wl_run("small", "hello", 16, NULL);
	ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
	json_object_put(st);
	ck_assert_int_eq(pool_num("hits"), hits + 1);
	ck_assert_int_eq(pool_num("failures"), 0);
}
END_TEST

START_TEST(test_pool_worker_killed_while_idle)
{
	/* An idle worker killed from outside is reaped and replaced; it was
	 * ready, so that is no failure; starts keep working. */
	mvmt_wait_pool_settled(wl.fd);
	pid_t idle[16];
	size_t n = vmm_children(wl.d.pid, idle, 16);
	ck_assert_uint_ge(n, 2);
	kill(idle[0], SIGKILL);
	kill(idle[1], SIGKILL);
	json_object *st = wl_run("after-kill", "hello", 16, NULL);
	ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
	json_object_put(st);
	mvmt_wait_pool_settled(wl.fd);
	ck_assert_int_eq(pool_num("ready"), pool_num("size"));
	ck_assert_int_eq(pool_num("failures"), 0);
	/* no zombies left behind: soon every child is a live pool worker
	 * (the VM's own worker is reaped moments after its end) */
	pid_t now[16];
	size_t zombies = 0;
	for (int i = 0; i < 300; i++) {
		n = vmm_children(wl.d.pid, now, 16);
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
		mvmt_wait_pool_settled(wl.fd);
		pid_t idle[16];
		size_t n = vmm_children(wl.d.pid, idle, 16);
		ck_assert_uint_eq(n, 4);
		close(wl.fd);
		mvmt_forget_fd(wl.fd);
		mvmt_daemon_stop(&wl.d, sig);
		for (size_t i = 0; i < n; i++) {
			int k = 0;
			while (kill(idle[i], 0) == 0 && k++ < 500)
				usleep(10000);
			ck_assert_msg(kill(idle[i], 0) < 0, "idle worker %d outlived mvmd (signal %d)", (int)idle[i], sig);
		}
		mvmt_daemon_start(&wl.d, NULL);
		wl.fd = mvmt_connect(wl.d.sock);
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
	wl_assert_contains(mvmt_str(r, "backends.kvm.pool.last_error"), "not ready within 1 ms");
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

/* Until the pool's counter key is at least n. */
static void wait_num(const char *key, long long n)
{
	for (int i = 0; i < 3000 && pool_num(key) < n; i++)
		usleep(10000);
	ck_assert_msg(pool_num(key) >= n, "pool %s stayed below %lld", key, n);
}

START_TEST(test_pool_restores_from_template)
{
	/* One primed worker writes the module's template (compiled once);
	 * workers primed after it restore it instead of compiling, and run
	 * the module as a compiled one does, each with its own arguments. */
	json_object *st = wl_run("t-0", "hello", 16, NULL);
	ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
	json_object_put(st);
	wait_primed(2);
	wait_num("templates", 1);
	long long restores = pool_num("restores");
	for (int i = 1; i <= 4; i++) {
		char name[16], extra[128];
		snprintf(name, sizeof(name), "t-%d", i);
		snprintf(extra, sizeof(extra), "\"args\":[\"hello\",\"run-%d\"],\"env\":{\"WHO\":\"t-%d\"}", i, i);
		st = wl_run(name, "hello", 16, extra);
		ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
		ck_assert_int_eq(mvmt_int(st, "exit_code"), 0);
		json_object_put(st);
		char *l = wl_logs(name), want[64];
		snprintf(want, sizeof(want), "argv[1] = run-%d\n", i);
		wl_assert_contains(l, want);
		snprintf(want, sizeof(want), "env WHO=t-%d\n", i);
		wl_assert_contains(l, want);
		free(l);
		wait_primed(2);
	}
	/* the taken primed workers were replaced by restored ones */
	ck_assert_int_ge(pool_num("restores"), restores + 3);
	ck_assert_int_eq(pool_num("templates"), 1);
	ck_assert_int_eq(pool_num("failures"), 0);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "pool",
		.timeout = 120,
		.setup = wl_setup,
		.teardown = wl_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_pool_serves_starts),
			MVMT_TEST(test_pool_keeps_its_size),
			MVMT_TEST(test_pool_primes_the_last_module),
			MVMT_TEST(test_pool_restores_from_template),
			MVMT_TEST(test_pool_does_not_reprime_a_bad_module),
			MVMT_TEST(test_pool_worker_killed_while_idle),
			MVMT_TEST(test_pool_leaves_with_mvmd),
			MVMT_TEST(test_pool_options),
			MVMT_TEST(test_pool_failures_pause_it)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd-pool", .tcases = tcases, .skip = mvmt_kvm_skip_reason)
