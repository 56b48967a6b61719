/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmctl console, logs -f and events -f (daemon/mvmctl/cmd-console.c) with
 * the real mvmctl and mvmd, the console driven through a pty as a person
 * would: raw mode, Enter sent as LF, the log replayed once, Ctrl-C passed
 * to the guest, Ctrl-] detaching, and the terminal restored on a detach,
 * a SIGTERM and the VM stopping. The guest is the cloud-hypervisor TEST
 * DOUBLE (tests/doubles/fake-cloud-hypervisor.c), whose serial console
 * prints "mvm-init: ready" to mvmd and echoes input as "echo: ...".
 */
#include <pty.h>
#include <sys/wait.h>
#include <termios.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvmctl-run.h"
#include "mvmt-main.h"

static mvmt_ctl_t t;

static void setup(void)
{
	mvmt_ctl_init(&t);
	mvmt_ctl_start(&t, NULL);
}

static void teardown(void)
{
	mvmt_ctl_cleanup(&t);
	unsetenv("MVM_FAKE_CH_DELAY_MS");
}

#define RUN(r, in, ...)                                                 \
	do {                                                            \
		const char *const args_[] = { __VA_ARGS__, NULL };      \
		mvmt_ctl_run(&t, (r), t.d.sock, (in), args_);           \
	} while (0)

static void expect_ok(const mvmt_run_t *r)
{
	ck_assert_msg(r->status == 0, "mvmctl exited %d: stdout \"%s\" stderr \"%s\"", r->status, r->out, r->err);
}

/* Create a ch VM through mvmctl; returns its id (static buffer). */
static const char *create_ch(const char *name)
{
	static char id[64];
	mvmt_run_t r;

	RUN(&r, NULL, "create", "--name", name, "--backend", "ch", "--memory", "64", "--vcpus", "2", "--kernel", t.kernel,
	    "--label", "tier=front");
	expect_ok(&r);
	ck_assert_int_eq(strlen(r.out), 37); /* a UUID and its newline */
	snprintf(id, sizeof(id), "%.36s", r.out);
	return id;
}

static void start_web(void)
{
	mvmt_run_t r;

	create_ch("web");
	RUN(&r, NULL, "start", "web");
	expect_ok(&r);
	mvmt_wait_log(t.fd, "web", "mvm-init: ready");
}

START_TEST(test_follow)
{
	const char *const ev[] = { "events", "-f", NULL };
	int evout, logout;
	mvmt_run_t r;

	pid_t evpid = mvmt_ctl_spawn(&t, ev, &evout);
	create_ch("web");
	mvmt_expect_output(evout, "Configured");
	RUN(&r, NULL, "start", "web");
	expect_ok(&r);
	mvmt_expect_output(evout, "Running");

	const char *const lg[] = { "logs", "-f", "web", NULL };
	pid_t lgpid = mvmt_ctl_spawn(&t, lg, &logout);
	mvmt_expect_output(logout, "mvm-init: ready\n");
	/* Input from another console client reaches the follower live. */
	json_object *ep = mvmt_result(t.fd, "compute.vm.console.endpoint", "{\"id\":\"web\"}");
	int c = mvmt_connect(mvmt_str(ep, "path"));
	json_object_put(ep);
	mvmt_write(c, "typed\n", 6);
	char *seen = mvmt_expect_output(logout, "echo: typed\n");
	ck_assert_ptr_null(strstr(seen, "mvm-init: ready")); /* the replay came once */
	close(c);

	RUN(&r, NULL, "stop", "web");
	expect_ok(&r);
	/* The console closes with the VM: logs -f ends, 0. */
	ck_assert_int_eq(mvmt_wait_exit(lgpid), 0);
	close(logout);
	mvmt_expect_output(evout, "Stopped");
	kill(evpid, SIGTERM);
	mvmt_wait_exit(evpid);
	close(evout);
}
END_TEST

/* --- console through a pty ------------------------------------------------------ */

typedef struct term {
	int master;
	pid_t pid;
	struct termios before;
} term_t;

static void console_attach(term_t *tm, const char *vm)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };

	tm->pid = forkpty(&tm->master, NULL, NULL, &ws);
	ck_assert_int_ge(tm->pid, 0);
	if (tm->pid == 0) {
		execl(t.bin, t.bin, "--socket", t.d.sock, "console", vm, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(tcgetattr(tm->master, &tm->before), 0);
	ck_assert(tm->before.c_lflag & ICANON);
	ck_assert(tm->before.c_lflag & ECHO);
}

/* Until mvmctl put the pty in raw mode (5 s). */
static void wait_raw(const term_t *tm)
{
	struct termios now;

	for (int i = 0; i < 500; i++) {
		ck_assert_int_eq(tcgetattr(tm->master, &now), 0);
		if (!(now.c_lflag & (ICANON | ECHO | ISIG)) && !(now.c_iflag & ICRNL))
			return;
		usleep(10000);
	}
	ck_abort_msg("mvmctl console never made the terminal raw");
}

static void expect_restored(const term_t *tm)
{
	struct termios now;

	ck_assert_int_eq(tcgetattr(tm->master, &now), 0);
	ck_assert_int_eq(now.c_lflag, tm->before.c_lflag);
	ck_assert_int_eq(now.c_iflag, tm->before.c_iflag);
	ck_assert_int_eq(now.c_oflag, tm->before.c_oflag);
}

START_TEST(test_console)
{
	term_t tm;

	start_web();
	console_attach(&tm, "web");
	char *seen = mvmt_expect_output(tm.master, "mvm-init: ready\r\n");
	ck_assert_ptr_nonnull(strstr(seen, "Escape character is ^]"));
	wait_raw(&tm);

	/* Enter is CR in raw mode; the guest gets LF, and its LF shows as
	 * CR LF on the terminal (output processing kept). */
	mvmt_put(tm.master, "hello\r", 6);
	seen = mvmt_expect_output(tm.master, "echo: hello\r\n");
	mvmt_wait_log(t.fd, "web", "echo: hello\n");
	json_object *lg = mvmt_result(t.fd, "compute.vm.logs", "{\"id\":\"web\"}");
	ck_assert_ptr_null(strstr(mvmt_str(lg, "data"), "\r"));
	json_object_put(lg);
	/* Raw: the pty did not echo what was typed. */
	ck_assert_ptr_null(strstr(seen, "hello\r\necho"));
	/* Ctrl-C goes to the guest, it does not end mvmctl. */
	mvmt_put(tm.master, "\x03" "x\r", 3);
	mvmt_expect_output(tm.master, "echo: \x03x\r\n");

	mvmt_put(tm.master, "\x1d", 1);
	seen = mvmt_expect_output(tm.master, "Detached");
	ck_assert_int_eq(mvmt_wait_exit(tm.pid), 0);
	expect_restored(&tm);
	close(tm.master);

	/* A second attach replays the log, each line once: what was typed
	 * before shows up, and the banner is not doubled by the live part. */
	console_attach(&tm, "web");
	seen = mvmt_expect_output(tm.master, "echo: \x03x\r\n");
	char *first = strstr(seen, "echo: hello\r\n");
	ck_assert_ptr_nonnull(first);
	ck_assert_ptr_null(strstr(first + 1, "echo: hello"));
	wait_raw(&tm);
	kill(tm.pid, SIGTERM);
	ck_assert_int_eq(mvmt_wait_exit(tm.pid), 128 + SIGTERM);
	expect_restored(&tm);
	close(tm.master);
}
END_TEST

START_TEST(test_console_ends_with_vm)
{
	term_t tm;
	mvmt_run_t r;

	start_web();
	console_attach(&tm, "web");
	mvmt_expect_output(tm.master, "mvm-init: ready");
	wait_raw(&tm);
	RUN(&r, NULL, "stop", "web");
	expect_ok(&r);
	mvmt_expect_output(tm.master, "closed");
	ck_assert_int_eq(mvmt_wait_exit(tm.pid), 0);
	expect_restored(&tm);
	close(tm.master);

	/* A VM that is not running has no console: 1, the terminal as it was. */
	console_attach(&tm, "web");
	mvmt_expect_output(tm.master, "not running");
	ck_assert_int_eq(mvmt_wait_exit(tm.pid), 1);
	expect_restored(&tm);
	close(tm.master);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "ch-double",
		.timeout = 120,
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_follow),
			MVMT_TEST(test_console),
			MVMT_TEST(test_console_ends_with_vm)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmctl_console", .tcases = tcases)
