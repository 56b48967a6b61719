/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd as a systemd service: socket modes, socket activation through the
 * real systemd-socket-activate, sd_notify (READY, STATUS, WATCHDOG,
 * STOPPING) to a NOTIFY_SOCKET this test listens on, one daemon per state
 * directory, command-line handling.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvmtest.h"
#include "mvmt-main.h"

static mvmt_daemon_t d;

static void setup(void)
{
	mvmt_daemon_init(&d);
}

static void teardown(void)
{
	mvmt_daemon_cleanup(&d);
}

START_TEST(test_socket_mode_default)
{
	struct stat st;

	mvmt_daemon_start(&d, NULL);
	ck_assert_int_eq(stat(d.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_uid, 0);
	ck_assert_int_eq(st.st_gid, 0);
}
END_TEST

/* mvmd raises its soft fd limit to the hard one: VMs cost fds. */
START_TEST(test_fd_limit_raised)
{
	struct rlimit rl;
	char path[64], line[256];
	unsigned long soft = 0, hard = 0;
	FILE *f;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max <= 1024) {
		snprintf(line, sizeof(line), "the hard fd limit is %lu: nothing to raise", (unsigned long)rl.rlim_max);
		MVMT_SKIP(line);
	}
	rl.rlim_cur = 1024; /* mvmd inherits 1024 / hard */
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	mvmt_daemon_start(&d, NULL);
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)d.pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Max open files", 14) == 0)
			ck_assert_int_eq(sscanf(line + 14, "%lu %lu", &soft, &hard), 2);
	fclose(f);
	ck_assert_uint_eq(hard, (unsigned long)rl.rlim_max);
	ck_assert_uint_eq(soft, hard);
}
END_TEST

START_TEST(test_socket_group)
{
	/* any group other than root's will do */
	const char *names[] = { "daemon", "adm", "users", "nogroup" };
	struct group *g = NULL;
	struct stat st;

	for (size_t i = 0; i < 4 && !g; i++)
		g = getgrnam(names[i]);
	ck_assert_ptr_nonnull(g);
	gid_t gid = g->gr_gid;
	char name[64];
	snprintf(name, sizeof(name), "%s", g->gr_name);
	mvmt_daemon_start(&d, "--socket-group", name, NULL);
	ck_assert_int_eq(stat(d.sock, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0660);
	ck_assert_int_eq(st.st_gid, gid);
}
END_TEST

static int run_mvmd(const char *a1, const char *a2)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 1);
		dup2(nul, 2);
		execl(mvmt_bin("mvmd"), "mvmd", "--rpc-socket", d.sock, "--state-dir", d.state, "--console-dir",
		      d.console, a1, a2, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(test_command_line)
{
	ck_assert_int_eq(run_mvmd("--help", NULL), 0);
	ck_assert_int_eq(run_mvmd("--version", NULL), 0);
	ck_assert_int_eq(run_mvmd("--bogus", NULL), 2);
	ck_assert_int_eq(run_mvmd("--log-level", "loud"), 2);
	ck_assert_int_eq(run_mvmd("--socket-group", "no-such-group-xyz"), 2);
	ck_assert_int_eq(run_mvmd("--max-request-bytes", "-1"), 2);
	ck_assert_int_eq(run_mvmd("--max-clients", "0"), 2);
	ck_assert_int_eq(run_mvmd("--max-vms", "0"), 2);
	ck_assert_int_eq(run_mvmd("extra", NULL), 2);
}
END_TEST

START_TEST(test_one_daemon_per_state_dir)
{
	mvmt_daemon_start(&d, NULL);
	/* same state dir, other socket: the lock refuses it */
	mvmt_daemon_t d2 = d;
	snprintf(d2.sock, sizeof(d2.sock), "%s/other.sock", d.dir);
	pid_t pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 2);
		execl(mvmt_bin("mvmd"), "mvmd", "--rpc-socket", d2.sock, "--state-dir", d.state, "--console-dir",
		      d.console, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	ck_assert_int_eq(access(d2.sock, F_OK), -1);

	/* same socket, other state dir: the live socket is not stolen */
	char other[160];
	snprintf(other, sizeof(other), "%s/state2", d.dir);
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 2);
		execl(mvmt_bin("mvmd"), "mvmd", "--rpc-socket", d.sock, "--state-dir", other, "--console-dir",
		      d.console, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	int fd = mvmt_connect(d.sock);
	json_object_put(mvmt_result(fd, "compute.vm.list", NULL));
	close(fd);
	mvmt_forget_fd(fd);
}
END_TEST

START_TEST(test_socket_activation)
{
	const char *act = "/usr/bin/systemd-socket-activate";
	if (access(act, X_OK) != 0)
		MVMT_SKIP("/usr/bin/systemd-socket-activate is not installed");
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(d.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 2);
		dup2(fd, 1);
		execl(act, act, "-l", d.sock, "--fdname=rpc", mvmt_bin("mvmd"), "--state-dir", d.state, "--console-dir",
		      d.console, "--rpc-socket", "/nonexistent/ignored.sock", (char *)NULL);
		_exit(127);
	}
	d.pid = pid; /* it execs mvmd in place on the first connection */
	int fd = -1;
	for (int i = 0; i < 500 && fd < 0; i++) {
		if (access(d.sock, F_OK) == 0)
			fd = mvmt_connect(d.sock);
		else
			usleep(10000);
	}
	ck_assert_int_ge(fd, 0);
	json_object *r = mvmt_result(fd, "compute.vm.create", "{\"name\":\"activated\",\"memory_mib\":8}");
	ck_assert_str_eq(mvmt_str(r, "state"), "Configured");
	json_object_put(r);
	close(fd);
	mvmt_forget_fd(fd);

	/* the daemon took the socket from systemd; it did not create its own */
	ck_assert_int_eq(access("/nonexistent/ignored.sock", F_OK), -1);
	char line[256];
	FILE *f = fopen(d.log, "r");
	bool saw = false;
	while (f && fgets(line, sizeof(line), f))
		saw |= strstr(line, "listening socket(s) from systemd") != NULL;
	if (f)
		fclose(f);
	ck_assert(saw);
}
END_TEST

/* A datagram socket standing in for systemd's notify socket. */
static int notify_listen(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memcpy(sa.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Wait for a datagram containing `what`; returns true when seen. */
static bool notify_wait(int fd, const char *what, int timeout_ms)
{
	char buf[4096];

	for (int waited = 0; waited < timeout_ms; waited += 50) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = 0;
		if (strstr(buf, what))
			return true;
	}
	return false;
}

START_TEST(test_sd_notify)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/notify.sock", d.dir);
	int nfd = notify_listen(path);

	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	unsetenv("WATCHDOG_PID");
	mvmt_daemon_start(&d, NULL);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");

	ck_assert(notify_wait(nfd, "READY=1", 5000));
	ck_assert(notify_wait(nfd, "STATUS=0 VMs: 0 running, 0 failed", 2000));
	/* STATUS follows the VMs */
	int c = mvmt_connect(d.sock);
	json_object_put(mvmt_result(c, "compute.vm.create", "{\"memory_mib\":8}"));
	ck_assert(notify_wait(nfd, "STATUS=1 VMs: 0 running, 0 failed", 2000));
	close(c);
	mvmt_forget_fd(c);
	/* sd-event pings at half the watchdog interval */
	ck_assert(notify_wait(nfd, "WATCHDOG=1", 2000));
	ck_assert(notify_wait(nfd, "WATCHDOG=1", 2000));
	kill(d.pid, SIGTERM);
	ck_assert(notify_wait(nfd, "STOPPING=1", 5000));
	int st = mvmt_daemon_stop(&d, SIGTERM);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(nfd);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "service",
		.timeout = 60,
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_socket_mode_default),
			MVMT_TEST(test_socket_group),
			MVMT_TEST(test_fd_limit_raised),
			MVMT_TEST(test_command_line),
			MVMT_TEST(test_one_daemon_per_state_dir),
			MVMT_TEST(test_socket_activation),
			MVMT_TEST(test_sd_notify)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd-systemd", .tcases = tcases)
