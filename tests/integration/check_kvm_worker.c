/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mvm-vmm worker on real /dev/kvm, driven through the parent-side
 * library (daemon/mvmd/kvm/worker.h) as mvmd will drive it: console over the
 * control connection, stop, reconnect after the parent went away, the
 * result file, the sandbox, 50 concurrent workers.
 */
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "kvm-helpers.h"
#include "supervise.h"
#include "mvmtest.h"
#include "mvmt-main.h"

START_TEST(test_hello_banner_then_stop)
{
	tvm_t t;
	const char *args[] = { "alpha", "beta gamma" };
	tvm_start(&t, "mvm-guest", args, 2);
	tvm_wait_console(&t, "mvm-guest: ready", 10000);
	ck_assert(t.got_ready);
	ck_assert_ptr_nonnull(strstr(t.console, "mvm-guest: booted: 16 MiB, 1 vcpu(s)"));
	ck_assert_ptr_nonnull(strstr(t.console, "arg[0]=alpha"));
	ck_assert_ptr_nonnull(strstr(t.console, "arg[1]=beta gamma"));
	ck_assert_ptr_nonnull(strstr(t.console, "memory 0x200000-"));
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 0), 0);
	int st = tvm_finish(&t, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_STOPPED);
	ck_assert(t.res.regs_valid);
	tvm_cleanup(&t);
}
END_TEST

START_TEST(test_hello_exits_zero_and_result_file)
{
	tvm_t t;
	kvm_result_t f;
	tvm_start(&t, "hello", NULL, 0);
	int st = tvm_finish(&t, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_ptr_nonnull(strstr(t.console, "hello from the guest"));
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_EXIT);
	ck_assert_int_eq(t.res.exit_code, 0);
	ck_assert_int_eq(kvm_result_read(t.result, &f), 0);
	ck_assert_int_eq(f.outcome, KVM_OUTCOME_EXIT);
	ck_assert_int_eq(f.exit_code, 0);
	tvm_cleanup(&t);
}
END_TEST

/* The exit call's code, a u32 whole: the guest passes an int, the host
 * keeps rdi's low 32 bits (-2147483648 is 2^31). */
static const struct {
	const char *arg;
	uint32_t code;
} exit_codes[] = {
	{ "0", 0 }, { "1", 1 }, { "42", 42 }, { "255", 255 }, { "300", 300 }, { "65536", 65536 },
	{ "-2147483648", 2147483648u }, { "4294967295", 4294967295u },
};

START_TEST(test_exit_code_from_args)
{
	tvm_t t;
	const char *args[] = { exit_codes[_i].arg };
	tvm_start(&t, "exitcode", args, 1);
	tvm_finish(&t, 10000);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_EXIT);
	ck_assert_uint_eq(t.res.exit_code, exit_codes[_i].code);
	tvm_cleanup(&t);
}
END_TEST

/* The worker keeps nothing open but what it was given. */
START_TEST(test_result_file_without_reading)
{
	tvm_t t;
	kvm_result_t f;
	const char *args[] = { "7" };
	int st;
	tvm_start(&t, "exitcode", args, 1);
	/* Walk away at once, like a parent that died: the file still tells. */
	t.w.ctl = kvm_ctl_free(t.w.ctl);
	ck_assert_int_eq(kvm_worker_wait(&t.w, 10000, &st), 0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(kvm_result_read(t.result, &f), 0);
	ck_assert_int_eq(f.outcome, KVM_OUTCOME_EXIT);
	ck_assert_int_eq(f.exit_code, 7);
	tvm_cleanup(&t);
}
END_TEST

START_TEST(test_endless_loop_is_stoppable)
{
	tvm_t t;
	kvm_msg_status_t s;
	kvm_msg_t m;
	tvm_start(&t, "loop", NULL, 0);
	tvm_wait_console(&t, "looping", 10000);
	usleep(200 * 1000);
	/* Still running, not stuck in the host. */
	ck_assert_int_eq(kvm_ctl_send_status_req(t.w.ctl), 0);
	for (;;) {
		ck_assert_int_gt(kvm_ctl_recv(t.w.ctl, 5000, &m), 0);
		if (m.type == KVM_MSG_STATUS)
			break;
	}
	ck_assert_int_eq(kvm_msg_get_status(&m, &s), 0);
	ck_assert_int_eq(s.state, KVM_VM_RUNNING);
	int64_t t0 = tnow_ms();
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 0), 0);
	int st = tvm_finish(&t, 10000);
	ck_assert_int_lt(tnow_ms() - t0, 2000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_STOPPED);
	/* Interrupted inside the guest image, at CPL3. */
	ck_assert_uint_ge(t.res.regs[KVM_REG_RIP], 0x200000);
	ck_assert_uint_lt(t.res.regs[KVM_REG_RIP], 0x300000);
	tvm_cleanup(&t);
}
END_TEST

START_TEST(test_stop_with_grace_lets_guest_exit)
{
	tvm_t t;
	tvm_start(&t, "mvm-guest", NULL, 0);
	tvm_wait_console(&t, "mvm-guest: ready", 10000);
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 5000), 0);
	tvm_finish(&t, 10000);
	ck_assert_ptr_nonnull(strstr(t.console, "mvm-guest: stopping"));
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_EXIT);
	ck_assert_int_eq(t.res.exit_code, 0);
	tvm_cleanup(&t);
}
END_TEST

START_TEST(test_stop_grace_expires_for_busy_guest)
{
	tvm_t t;
	tvm_start(&t, "loop", NULL, 0);
	tvm_wait_console(&t, "looping", 10000);
	int64_t t0 = tnow_ms();
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 300), 0);
	tvm_finish(&t, 10000);
	int64_t took = tnow_ms() - t0;
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_STOPPED);
	ck_assert_int_ge(took, 250);
	ck_assert_int_lt(took, 3000);
	tvm_cleanup(&t);
}
END_TEST

static long proc_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	long v = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

/* A guest writing as fast as it can to a parent that does not read costs
 * bounded host memory: the console ring drops the oldest bytes. */
START_TEST(test_output_flood_is_bounded)
{
	tvm_t t;
	kvm_msg_status_t s;
	kvm_msg_t m;
	tvm_start(&t, "flood", NULL, 0);
	tvm_wait_console(&t, "flood line", 10000);
	usleep(300 * 1000);
	long rss0 = proc_kib(t.w.pid, "VmRSS:");
	usleep(1500 * 1000); /* not reading: socket, queue and ring fill up */
	long rss1 = proc_kib(t.w.pid, "VmRSS:");
	ck_assert_msg(rss1 - rss0 < 2048, "worker grew from %ld to %ld KiB", rss0, rss1);
	/* Disconnected: only the ring keeps output. */
	t.w.ctl = kvm_ctl_free(t.w.ctl);
	usleep(500 * 1000);
	long rss2 = proc_kib(t.w.pid, "VmRSS:");
	ck_assert_msg(rss2 - rss0 < 2048, "worker grew from %ld to %ld KiB", rss0, rss2);
	ck_assert_int_eq(kvm_worker_connect(t.ctl, &t.w.ctl), 0);
	ck_assert_int_eq(kvm_ctl_send_status_req(t.w.ctl), 0);
	for (;;) {
		ck_assert_int_gt(kvm_ctl_recv(t.w.ctl, 5000, &m), 0);
		if (m.type == KVM_MSG_STATUS)
			break;
	}
	ck_assert_int_eq(kvm_msg_get_status(&m, &s), 0);
	ck_assert_uint_gt(s.console_dropped, 0);
	ck_assert_uint_gt(s.console_bytes, s.console_dropped);
	ck_assert_uint_le(s.console_buffered, 64 << 10);
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 0), 0);
	tvm_finish(&t, 10000);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_STOPPED);
	tvm_cleanup(&t);
}
END_TEST

START_TEST(test_reconnect_then_console_and_stop)
{
	tvm_t t;
	tvm_start(&t, "mvm-guest", NULL, 0);
	tvm_wait_console(&t, "mvm-guest: ready", 10000);
	/* mvmd restarts: the first connection goes away. */
	t.w.ctl = kvm_ctl_free(t.w.ctl);
	usleep(100 * 1000);
	ck_assert_int_eq(kill(t.w.pid, 0), 0);
	ck_assert_int_eq(kvm_worker_connect(t.ctl, &t.w.ctl), 0);
	ck_assert_int_eq(tvm_step(&t, 5000), KVM_MSG_HELLO);
	ck_assert_int_eq(t.hello_state, KVM_VM_RUNNING);
	ck_assert_int_eq(kvm_ctl_send_console(t.w.ctl, "ping\n", 5), 0);
	tvm_wait_console(&t, "echo: ping", 10000);
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 0), 0);
	tvm_finish(&t, 10000);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_STOPPED);
	tvm_cleanup(&t);
}
END_TEST

/* The worker outlives its parent; a process that is not its parent
 * re-adopts it by pid + start time, talks to it, and learns the end from
 * the result file. The test is a subreaper so the orphan comes to us. */
START_TEST(test_survives_parent_death_and_readopt)
{
	tvm_t t;
	kvm_worker_config_t c;
	int pfd[2], pidfd, st;
	struct { pid_t pid; uint64_t start; } info;
	kvm_result_t f;

	memset(&t, 0, sizeof(t));
	tvm_config(&t, "mvm-guest", &c);
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(pipe(pfd), 0);
	pid_t mid = fork();
	ck_assert_int_ge(mid, 0);
	if (mid == 0) {
		kvm_worker_t w;
		if (kvm_worker_spawn(&c, &w) < 0)
			_exit(1);
		info.pid = w.pid;
		info.start = w.start_time;
		if (write(pfd[1], &info, sizeof(info)) != sizeof(info))
			_exit(1);
		_exit(0); /* the "old mvmd" dies without a word */
	}
	ck_assert_int_eq(read(pfd[0], &info, sizeof(info)), sizeof(info));
	ck_assert_int_eq(waitpid(mid, &st, 0), mid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	usleep(100 * 1000);

	ck_assert_int_eq(sv_adopt(info.pid, info.start, &pidfd), 0);
	ck_assert_int_eq(sv_adopt(info.pid, info.start + 1, &st), -ESRCH);
	t.w.pid = info.pid;
	t.w.pidfd = pidfd;
	ck_assert_int_eq(kvm_worker_connect(t.ctl, &t.w.ctl), 0);
	tvm_wait_console(&t, "mvm-guest: ready", 10000); /* buffered while nobody listened */
	ck_assert_int_eq(t.hello_state, KVM_VM_RUNNING);
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 0), 0);
	st = tvm_finish(&t, 10000); /* reaped by us as subreaper */
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(kvm_result_read(t.result, &f), 0);
	ck_assert_int_eq(f.outcome, KVM_OUTCOME_STOPPED);
	ck_assert_int_eq(sv_adopt(info.pid, info.start, &st), -ESRCH);
	close(pfd[0]);
	close(pfd[1]);
	tvm_cleanup(&t);
}
END_TEST

static void status_line(pid_t pid, const char *key, char *out, size_t n)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	out[0] = 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0) {
			char *v = line + strlen(key);
			while (*v == ' ' || *v == '\t')
				v++;
			v[strcspn(v, "\n")] = 0;
			snprintf(out, n, "%s", v);
		}
	fclose(f);
}

START_TEST(test_sandbox_while_running)
{
	tvm_t t;
	char v[64];
	setenv("MVM_TEST_SECRET", "hunter2", 1);
	tvm_start(&t, "mvm-guest", NULL, 0);
	tvm_wait_console(&t, "mvm-guest: ready", 10000);
	status_line(t.w.pid, "CapEff:", v, sizeof(v));
	ck_assert_str_eq(v, "0000000000000000");
	status_line(t.w.pid, "CapPrm:", v, sizeof(v));
	ck_assert_str_eq(v, "0000000000000000");
	status_line(t.w.pid, "CapBnd:", v, sizeof(v));
	ck_assert_str_eq(v, "0000000000000000");
	status_line(t.w.pid, "NoNewPrivs:", v, sizeof(v));
	ck_assert_str_eq(v, "1");
	status_line(t.w.pid, "Seccomp:", v, sizeof(v));
	ck_assert_str_eq(v, "2");
	/* Only the fds it was given (0-2, the socket and result file) plus
	 * its own VM, vCPU, eventfd and connection fds; /dev/kvm, the image
	 * and the CPUID table were closed once the VM was built. */
	char fdpath[64], target[256];
	int nfds = 0;
	for (int fd = 0; fd < 1024; fd++) {
		snprintf(fdpath, sizeof(fdpath), "/proc/%d/fd/%d", (int)t.w.pid, fd);
		ssize_t n = readlink(fdpath, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = 0;
		nfds++;
		ck_assert_msg(strcmp(target, "/dev/kvm") != 0, "fd %d is /dev/kvm", fd);
		ck_assert_msg(strcmp(target, t.image) != 0, "fd %d is the image", fd);
		ck_assert_msg(!strstr(target, "mvm-cpuid"), "fd %d is the CPUID memfd", fd);
	}
	/* 0-2, socket, result, connection, VM, vCPU, two eventfds: none of
	 * the test's own fds leaked in. */
	ck_assert_int_le(nfds, 10);
	/* Nor did the parent's environment (set before the spawn, below). */
	char envpath[64], env[4096];
	snprintf(envpath, sizeof(envpath), "/proc/%d/environ", (int)t.w.pid);
	FILE *ef = fopen(envpath, "re");
	ck_assert_ptr_nonnull(ef);
	size_t en = fread(env, 1, sizeof(env) - 1, ef);
	fclose(ef);
	for (size_t i = 0; i < en; i++)
		if (env[i] == 0)
			env[i] = '\n';
	env[en] = 0;
	ck_assert_msg(!strstr(env, "MVM_TEST_SECRET"), "worker environment: %s", env);
	ck_assert_msg(!strstr(env, "PATH="), "worker environment: %s", env);
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 0), 0);
	tvm_finish(&t, 10000);
	tvm_cleanup(&t);
}
END_TEST

static const unsigned forbidden[] = { KVM_WORKER_DEBUG_FORBIDDEN_SYSCALL, KVM_WORKER_DEBUG_EXEC_MAPPING };

/* A syscall off the allow-list (socket), or an allowed one with a refused
 * argument (mmap with PROT_EXEC), kills the whole worker. */
START_TEST(test_forbidden_syscall_kills_worker)
{
	tvm_t t;
	kvm_worker_config_t c;
	int st;
	memset(&t, 0, sizeof(t));
	tvm_config(&t, "mvm-guest", &c);
	c.debug = forbidden[_i];
	ck_assert_int_eq(kvm_worker_spawn(&c, &t.w), 0);
	ck_assert_int_eq(kvm_worker_wait(&t.w, 10000, &st), 0);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "status 0x%x", st);
	tvm_cleanup(&t);
}
END_TEST

static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long ut = 0, st = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st), 2);
	return (long)(ut + st);
}

/* wait blocks in the host: an idle VM burns no CPU (a spinning one would
 * burn ~100 ticks a second). */
START_TEST(test_idle_guest_uses_no_cpu)
{
	tvm_t t;
	tvm_start(&t, "mvm-guest", NULL, 0);
	tvm_wait_console(&t, "mvm-guest: ready", 10000);
	usleep(100 * 1000);
	long c0 = cpu_ticks(t.w.pid);
	usleep(1000 * 1000);
	long c1 = cpu_ticks(t.w.pid);
	ck_assert_msg(c1 - c0 <= 2, "idle worker used %ld ticks in 1 s", c1 - c0);
	/* The loop guest, for contrast, does use its CPU: the measure works. */
	tvm_t l;
	tvm_start(&l, "loop", NULL, 0);
	tvm_wait_console(&l, "looping", 10000);
	c0 = cpu_ticks(l.w.pid);
	usleep(500 * 1000);
	c1 = cpu_ticks(l.w.pid);
	ck_assert_msg(c1 - c0 >= 5, "busy worker used only %ld ticks", c1 - c0);
	ck_assert_int_eq(kvm_ctl_send_stop(l.w.ctl, 0), 0);
	tvm_finish(&l, 10000);
	tvm_cleanup(&l);
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 0), 0);
	tvm_finish(&t, 10000);
	tvm_cleanup(&t);
}
END_TEST

/* A second connection replaces the first (a restarted mvmd whose
 * predecessor's socket is still open). */
START_TEST(test_newest_connection_wins)
{
	tvm_t t;
	kvm_ctl_t *second;
	kvm_msg_t m;
	tvm_start(&t, "mvm-guest", NULL, 0);
	tvm_wait_console(&t, "mvm-guest: ready", 10000);
	ck_assert_int_eq(kvm_worker_connect(t.ctl, &second), 0);
	ck_assert_int_eq(kvm_ctl_recv(second, 5000, &m), 1);
	ck_assert_uint_eq(m.type, KVM_MSG_HELLO);
	int r;
	while ((r = kvm_ctl_recv(t.w.ctl, 5000, &m)) > 0)
		;
	ck_assert_int_eq(r, -ECONNRESET);
	kvm_ctl_free(t.w.ctl);
	t.w.ctl = second;
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 0), 0);
	tvm_finish(&t, 10000);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_STOPPED);
	tvm_cleanup(&t);
}
END_TEST

/* A confused parent loses its connection, not the VM. */
START_TEST(test_protocol_violation_drops_connection_only)
{
	tvm_t t;
	kvm_msg_t m;
	kvm_result_t fake = { .outcome = KVM_OUTCOME_EXIT };
	tvm_start(&t, "mvm-guest", NULL, 0);
	tvm_wait_console(&t, "mvm-guest: ready", 10000);
	ck_assert_int_eq(kvm_ctl_queue(t.w.ctl, KVM_MSG_RESULT, &fake, sizeof(fake)), 0);
	int r;
	while ((r = kvm_ctl_recv(t.w.ctl, 5000, &m)) > 0)
		;
	ck_assert_int_eq(r, -ECONNRESET);
	t.w.ctl = kvm_ctl_free(t.w.ctl);
	/* Garbage bytes: same. */
	ck_assert_int_eq(kvm_worker_connect(t.ctl, &t.w.ctl), 0);
	ck_assert_int_eq(write(kvm_ctl_fd(t.w.ctl), "\xff\xff\xff\xff\0\0\0\0", 8), 8);
	while ((r = kvm_ctl_recv(t.w.ctl, 5000, &m)) > 0)
		;
	ck_assert_int_eq(r, -ECONNRESET);
	t.w.ctl = kvm_ctl_free(t.w.ctl);
	ck_assert_int_eq(kill(t.w.pid, 0), 0);
	ck_assert_int_eq(kvm_worker_connect(t.ctl, &t.w.ctl), 0);
	ck_assert_int_eq(tvm_step(&t, 5000), KVM_MSG_HELLO);
	ck_assert_int_eq(t.hello_state, KVM_VM_RUNNING);
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 0), 0);
	tvm_finish(&t, 10000);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_STOPPED);
	tvm_cleanup(&t);
}
END_TEST

#define NCONC 50

START_TEST(test_fifty_concurrent_workers)
{
	static tvm_t t[NCONC];
	static char codes[NCONC][8];
	for (int i = 0; i < NCONC; i++) {
		const char *args[] = { codes[i] };
		snprintf(codes[i], sizeof(codes[i]), "%d", i);
		tvm_start(&t[i], "exitcode", args, 1);
	}
	for (int i = 0; i < NCONC; i++) {
		int st = tvm_finish(&t[i], 60000);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker %d status 0x%x", i, st);
		ck_assert_int_eq(t[i].res.outcome, KVM_OUTCOME_EXIT);
		ck_assert_int_eq(t[i].res.exit_code, i);
		tvm_cleanup(&t[i]);
	}
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "worker",
		.timeout = 60,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_hello_banner_then_stop),
			MVMT_TEST(test_hello_exits_zero_and_result_file),
			MVMT_LOOP(test_exit_code_from_args, ELEMENTSOF(exit_codes)),
			MVMT_TEST(test_result_file_without_reading),
			MVMT_TEST(test_endless_loop_is_stoppable),
			MVMT_TEST(test_stop_with_grace_lets_guest_exit),
			MVMT_TEST(test_stop_grace_expires_for_busy_guest),
			MVMT_TEST(test_output_flood_is_bounded),
			MVMT_TEST(test_reconnect_then_console_and_stop),
			MVMT_TEST(test_survives_parent_death_and_readopt),
			MVMT_TEST(test_sandbox_while_running),
			MVMT_LOOP(test_forbidden_syscall_kills_worker, ELEMENTSOF(forbidden)),
			MVMT_TEST(test_idle_guest_uses_no_cpu),
			MVMT_TEST(test_newest_connection_wins),
			MVMT_TEST(test_protocol_violation_drops_connection_only)),
	},
	{
		.name = "concurrency",
		.timeout = 180,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_fifty_concurrent_workers)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "kvm-worker", .tcases = tcases, .skip = mvmt_kvm_skip_reason, .init = mvmt_ignore_sigpipe)
