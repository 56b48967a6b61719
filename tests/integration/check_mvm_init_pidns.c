/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvm-init as the real PID 1 of a PID namespace (unshare --pid --fork
 * --mount-proc --uts), with its exec agent on AF_UNIX (--agent-unix) and
 * --no-mount (the namespace shares our filesystem). Covers the agent
 * against a real init, orphan reaping, mvm.run=/mvm.poweroff=, and the
 * signal-driven shutdown. Poweroff is observable: reboot(RB_POWER_OFF) in a
 * PID namespace kills its init with SIGINT, which unshare passes on.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec-cases.h"

static char dir[64], sock[128], logpath[128], init_bin[512];
static pid_t unshare_pid, init_pid;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *slurp(const char *path)
{
	static char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static bool log_has(const char *s)
{
	return strstr(slurp(logpath), s) != NULL;
}

static bool wait_log(const char *s, double secs)
{
	for (double end = now_s() + secs; now_s() < end; usleep(10000))
		if (log_has(s))
			return true;
	return false;
}

/* Percent-encode argv for mvm.run= (docs/linux-guests.md). */
static char *run_param(const char *const *argv)
{
	static char buf[4096];
	size_t n = 0;

	n += (size_t)snprintf(buf, sizeof(buf), "mvm.run=");
	for (int i = 0; argv[i]; i++) {
		if (i)
			buf[n++] = ',';
		for (const char *s = argv[i]; *s; s++) {
			if (isalnum((unsigned char)*s) || strchr("/-._", *s))
				buf[n++] = *s;
			else
				n += (size_t)sprintf(buf + n, "%%%02X", (unsigned char)*s);
		}
	}
	buf[n] = '\0';
	return buf;
}

/* Start mvm-init in new PID+mount+UTS namespaces; returns false to skip. */
static bool start_init(const char *cmdline)
{
	char children[64], *p;
	int st;

	snprintf(dir, sizeof(dir), "/tmp/mvm-pidns-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
	snprintf(logpath, sizeof(logpath), "%s/console.log", dir);
	snprintf(init_bin, sizeof(init_bin), "%s/bin/mvm-init",
		 getenv("MVM_BUILD_DIR") ? getenv("MVM_BUILD_DIR") : "build");
	exec_cases_path = sock;
	exec_cases_platform = "mvm-init";
	unshare_pid = fork();
	ck_assert_int_ge(unshare_pid, 0);
	if (unshare_pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("unshare", "unshare", "--pid", "--fork", "--mount-proc", "--uts", init_bin,
		       "--no-mount", "--agent-unix", sock, "--cmdline", cmdline, (char *)NULL);
		_exit(127);
	}
	for (double end = now_s() + 10; now_s() < end; usleep(10000)) {
		if (log_has("mvm-init: ready"))
			break;
		if (waitpid(unshare_pid, &st, WNOHANG) == unshare_pid) {
			printf("SKIP: cannot start mvm-init in a PID namespace: %s\n", slurp(logpath));
			unshare_pid = 0;
			return false;
		}
	}
	ck_assert_msg(log_has("mvm-init: ready"), "no ready banner: %s", slurp(logpath));
	/* unshare's only child is the namespace's init. */
	snprintf(children, sizeof(children), "/proc/%d/task/%d/children", unshare_pid, unshare_pid);
	p = slurp(children);
	init_pid = atoi(p); /* 0 if it already powered off (mvm.poweroff=1) */
	return true;
}

static void kill_init(int sig)
{
	ck_assert_int_gt(init_pid, 0);
	ck_assert_int_eq(kill(init_pid, sig), 0);
}

/* Wait for the namespace to end; returns unshare's wait status. */
static int wait_end(double secs)
{
	int st;

	for (double end = now_s() + secs; now_s() < end; usleep(10000))
		if (waitpid(unshare_pid, &st, WNOHANG) == unshare_pid) {
			unshare_pid = 0;
			return st;
		}
	kill(unshare_pid, SIGKILL);
	ck_abort_msg("mvm-init did not power off; console:\n%s", slurp(logpath));
	return -1;
}

static void assert_powered_off(int st)
{
	/* reboot(RB_POWER_OFF) in a PID namespace = its init killed by SIGINT. */
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT, "status %#x; console:\n%s", st,
		      slurp(logpath));
	ck_assert(log_has("mvm-init: powering off"));
}

static void cleanup_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static bool skipping;

static void agent_setup(void)
{
	skipping = !start_init("quiet mvm.hostname=pidns-test");
}

static void agent_teardown(void)
{
	if (unshare_pid > 0) {
		kill_init(SIGTERM);
		assert_powered_off(wait_end(10));
	}
	cleanup_dir();
}

#define SKIP_IF_NO_NS() \
	do { \
		if (skipping || unshare_pid == 0) \
			return; \
	} while (0)

START_TEST(test_init_is_pid1)
{
	SKIP_IF_NO_NS();
	const char *out = exec_cases_sh("echo $PPID; tr '\\0' ' ' < /proc/1/cmdline");
	ck_assert_msg(strncmp(out, "1\n", 2) == 0 && strstr(out, "/bin/mvm-init --no-mount"), "%s", out);
}
END_TEST

START_TEST(test_hostname)
{
	SKIP_IF_NO_NS();
	ck_assert_str_eq(exec_cases_sh("cat /proc/sys/kernel/hostname"), "pidns-test\n");
	ck_assert(log_has("mvm-init: hostname pidns-test"));
}
END_TEST

START_TEST(test_orphans_reaped)
{
	char script[256], pid[32];
	const char *out;

	SKIP_IF_NO_NS();
	/* The inner sh outlives its parent: it is reparented to PID 1. */
	out = exec_cases_sh("sh -c 'sleep 0.4' >/dev/null 2>&1 & echo $!");
	snprintf(pid, sizeof(pid), "%.*s", (int)strcspn(out, "\n"), out);
	snprintf(script, sizeof(script), "grep PPid /proc/%s/status | tr -d '\\t'", pid);
	ck_assert_str_eq(exec_cases_sh(script), "PPid:1\n");
	/* Gone, not left a zombie: mvm-init reaped it (poll: CI may be slow). */
	snprintf(script, sizeof(script),
		 "for i in $(seq 250); do test -e /proc/%s || { echo gone; exit 0; }; sleep 0.02; done;"
		 " cat /proc/%s/stat", pid, pid);
	ck_assert_str_eq(exec_cases_sh(script), "gone\n");
	ck_assert_str_eq(exec_cases_sh("grep -l '^[0-9]* ([^)]*) Z' /proc/[0-9]*/stat 2>/dev/null | wc -l"),
			 "0\n");
}
END_TEST

START_TEST(test_many_orphans)
{
	SKIP_IF_NO_NS();
	/* 50 orphans exit at about the same time; none is left a zombie. */
	exec_cases_sh("for i in $(seq 50); do sh -c 'sleep 0.3' >/dev/null 2>&1 & done; exit 0");
	/* No sleep is left at all, zombie or not. */
	ck_assert_str_eq(exec_cases_sh("for i in $(seq 250); do n=$(cat /proc/[0-9]*/stat 2>/dev/null |"
				       " grep -c '(sleep)'); [ $n = 0 ] && break; sleep 0.02; done; echo $n"),
			 "0\n");
	ck_assert_str_eq(exec_cases_sh("grep -l '^[0-9]* ([^)]*) Z' /proc/[0-9]*/stat 2>/dev/null | wc -l"),
			 "0\n");
}
END_TEST

START_TEST(test_run_and_poweroff)
{
	const char *argv[] = { "/bin/sh", "-c", "echo run-out; echo run-err >&2; exit 5", NULL };
	char cmdline[4200];

	snprintf(cmdline, sizeof(cmdline), "console=ttyS0 %s mvm.poweroff=1", run_param(argv));
	if (!start_init(cmdline))
		return;
	assert_powered_off(wait_end(10));
	ck_assert(log_has("run-out\n"));
	ck_assert(log_has("run-err\n"));
	ck_assert(log_has("mvm-init: run: exit code 5\n"));
	ck_assert(strstr(slurp(logpath), "mvm-init: ready") < strstr(slurp(logpath), "run-out"));
	cleanup_dir();
}
END_TEST

START_TEST(test_run_signal_and_bad_value)
{
	const char *argv[] = { "/bin/sh", "-c", "kill -9 $$", NULL };
	char cmdline[4200];

	snprintf(cmdline, sizeof(cmdline), "%s mvm.poweroff=yes", run_param(argv));
	if (!start_init(cmdline))
		return;
	assert_powered_off(wait_end(10));
	ck_assert(log_has("mvm-init: run: killed by signal 9\n"));
	cleanup_dir();
	if (!start_init("mvm.run=/bin/true,%zz mvm.poweroff=1"))
		return;
	assert_powered_off(wait_end(10));
	ck_assert(log_has("mvm-init: run: bad mvm.run= value"));
	cleanup_dir();
	/* A program that does not exist: said, exit code 127, still powers off. */
	if (!start_init("mvm.run=no-such-program-mvm,x mvm.poweroff=1"))
		return;
	assert_powered_off(wait_end(10));
	ck_assert(log_has("mvm-init: run: cannot execute no-such-program-mvm: No such file or directory\n"));
	ck_assert(log_has("mvm-init: run: exit code 127\n"));
	cleanup_dir();
}
END_TEST

/* SIGTERM: TERM to everyone, wait mvm.stop_timeout_ms, KILL the rest. */
START_TEST(test_sigterm_shutdown_sequence)
{
	char script[512], cmdline[4200], marker[160];
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	double t0;
	int st;

	snprintf(dir, sizeof(dir), "/tmp/mvm-pidns-XXXXXX"); /* marker lives outside the run */
	char mdir[] = "/tmp/mvm-term-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(mdir));
	snprintf(marker, sizeof(marker), "%s/term", mdir);
	snprintf(script, sizeof(script),
		 "trap 'echo got-term > %s; exit 0' TERM; "
		 "(trap '' TERM; echo armed; exec sleep 100) & while :; do sleep 0.05; done", marker);
	/* "armed" comes from the child once it ignores TERM: announced by the
	 * parent right after the fork, a SIGTERM could beat the child's trap. */
	snprintf(cmdline, sizeof(cmdline), "mvm.stop_timeout_ms=500 %s", run_param(argv));
	if (!start_init(cmdline))
		return;
	ck_assert_msg(wait_log("armed\n", 5), "%s", slurp(logpath));
	t0 = now_s();
	kill_init(SIGTERM);
	st = wait_end(10);
	assert_powered_off(st);
	/* The TERM-ignoring sleep forces the KILL step after 0.5 s. */
	ck_assert_msg(now_s() - t0 >= 0.45 && now_s() - t0 < 5, "took %.2fs", now_s() - t0);
	ck_assert_str_eq(slurp(marker), "got-term\n");
	ck_assert(log_has("mvm-init: shutting down (SIGTERM): sending SIGTERM to all processes"));
	ck_assert(log_has("mvm-init: processes left after 500 ms: sending SIGKILL"));
	ck_assert(log_has("mvm-init: run: exit code 0"));
	unlink(marker);
	rmdir(mdir);
	cleanup_dir();
}
END_TEST

static void signal_poweroff(int sig, const char *name)
{
	char want[96];
	double t0;

	if (!start_init("mvm.hostname=sig"))
		return;
	t0 = now_s();
	kill_init(sig);
	assert_powered_off(wait_end(10));
	/* Nothing else runs: no wait for the stop timeout. */
	ck_assert_msg(now_s() - t0 < 2.5, "took %.2fs", now_s() - t0); /* < stop timeout */
	snprintf(want, sizeof(want), "mvm-init: shutting down (%s)", name);
	ck_assert(log_has(want));
	ck_assert(!log_has("SIGKILL"));
	cleanup_dir();
}

START_TEST(test_sigpwr_sigint_poweroff)
{
	signal_poweroff(SIGPWR, "SIGPWR");
	signal_poweroff(SIGINT, "SIGINT");
}
END_TEST

START_TEST(test_not_pid1)
{
	char cmd[1024];
	const char *b = getenv("MVM_BUILD_DIR") ? getenv("MVM_BUILD_DIR") : "build";

	/* Outside a namespace it is a subreaper and exits instead of rebooting. */
	snprintf(cmd, sizeof(cmd),
		 "%s/bin/mvm-init --no-mount --agent-unix /tmp/mvm-notpid1-%d.sock "
		 "--cmdline 'mvm.run=/bin/sh,-c,echo%%20hi mvm.poweroff=1' > /tmp/mvm-notpid1-%d.log 2>&1",
		 b, (int)getpid(), (int)getpid());
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "grep -q 'run: exit code 0' /tmp/mvm-notpid1-%d.log", (int)getpid());
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -f /tmp/mvm-notpid1-%d.log /tmp/mvm-notpid1-%d.sock", (int)getpid(),
		 (int)getpid());
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mvm_init_pidns");
	TCase *agent = tcase_create("agent");
	TCase *life = tcase_create("lifecycle");
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		printf("SKIP: PID namespaces and reboot() need root\n");
		return 77;
	}
	tcase_set_timeout(agent, 30);
	tcase_add_checked_fixture(agent, agent_setup, agent_teardown);
	tcase_add_test(agent, test_init_is_pid1);
	tcase_add_test(agent, test_hostname);
	tcase_add_test(agent, test_orphans_reaped);
	tcase_add_test(agent, test_many_orphans);
	exec_cases_add(agent);
	suite_add_tcase(s, agent);
	tcase_set_timeout(life, 30);
	tcase_add_test(life, test_run_and_poweroff);
	tcase_add_test(life, test_run_signal_and_bad_value);
	tcase_add_test(life, test_sigterm_shutdown_sequence);
	tcase_add_test(life, test_sigpwr_sigint_poweroff);
	tcase_add_test(life, test_not_pid1);
	suite_add_tcase(s, life);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
