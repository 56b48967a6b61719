/* SPDX-License-Identifier: Apache-2.0 */
/* daemon/mvmd/supervise.c on a real sd-event loop with real children. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvmtest.h"
#include "supervise.h"
#include "mvmt-main.h"

static sd_event *ev;
static supervisor_t *sv;
static bool ended;
static sv_exit_t how;
static char killed_why[64];

static void setup(void)
{
	ck_assert_int_ge(sd_event_new(&ev), 0);
	ck_assert_int_eq(supervisor_new(ev, &sv), 0);
	ended = false;
	killed_why[0] = '\0';
}

static void teardown(void)
{
	sv = supervisor_free(sv);
	ev = sd_event_unref(ev);
}

static void on_exit_(sv_proc_t *p, const sv_exit_t *x, void *userdata)
{
	how = *x;
	snprintf(killed_why, sizeof(killed_why), "%s", x->killed ? x->killed : "");
	ended = true;
	sv_release(p);
}

/* A child that waits until pfd[0] reads EOF (or it is killed), then exits
 * with code. */
static pid_t child(const int pfd[2], int code)
{
	pid_t pid = fork();
	char c;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(pfd[1]);
		while (read(pfd[0], &c, 1) > 0)
			;
		_exit(code);
	}
	return pid;
}

static sv_proc_t *watch(pid_t pid)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	sv_proc_t *p = NULL;

	ck_assert_int_ge(pidfd, 0);
	ck_assert_int_eq(sv_watch(sv, pid, pidfd, true, on_exit_, NULL, &p), 0);
	return p;
}

static void run_until(bool *flag)
{
	for (int i = 0; i < 1000 && !*flag; i++)
		ck_assert_int_ge(sd_event_run(ev, 10000), 0);
	ck_assert(*flag);
}

static bool reaped(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD;
}

START_TEST(test_exit_status)
{
	int pfd[2];
	char text[128];

	ck_assert_int_eq(pipe(pfd), 0);
	pid_t pid = child(pfd, 3);
	(void)watch(pid);
	close(pfd[1]);
	run_until(&ended);
	ck_assert(how.known && how.exited);
	ck_assert_int_eq(how.status, 3);
	ck_assert_ptr_null(how.killed);
	ck_assert(sv_exit_text(&how, "worker", text, sizeof(text)));
	ck_assert_str_eq(text, "worker exited with status 3");
	ck_assert(reaped(pid));
	close(pfd[0]);
}
END_TEST

START_TEST(test_kill_now_and_at_deadline)
{
	int pfd[2];
	char text[128];

	ck_assert_int_eq(pipe(pfd), 0);
	pid_t pid = child(pfd, 0);
	sv_proc_t *p = watch(pid);
	ck_assert_int_eq(sv_kill(p, "forced stop"), 0);
	ck_assert_str_eq(sv_killed(p), "forced stop");
	run_until(&ended);
	ck_assert(how.known && !how.exited);
	ck_assert_int_eq(how.status, SIGKILL);
	ck_assert_str_eq(killed_why, "forced stop");
	ck_assert(sv_exit_text(&how, "cloud-hypervisor", text, sizeof(text)));
	ck_assert_str_eq(text, "cloud-hypervisor killed by signal 9 (Killed)");
	ck_assert(reaped(pid));

	ended = false;
	pid = child(pfd, 0);
	p = watch(pid);
	ck_assert_int_eq(sv_kill_after(p, 1000, "stop timeout"), 0);
	ck_assert_ptr_null(sv_killed(p));
	run_until(&ended);
	ck_assert_str_eq(killed_why, "stop timeout");
	ck_assert(reaped(pid));
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

/* A process let go while it runs is not waited for: the loop goes on, and
 * the supervisor reaps it once it is gone. */
START_TEST(test_release_never_waits)
{
	int pfd[2];

	ck_assert_int_eq(pipe(pfd), 0);
	pid_t pid = child(pfd, 0);
	sv_proc_t *p = watch(pid);
	ck_assert_ptr_null(sv_release(p));
	ck_assert(!mvmt_process_ended(pid));
	ck_assert_uint_eq(supervisor_pending(sv), 1);
	close(pfd[1]);
	for (int i = 0; i < 1000 && supervisor_pending(sv); i++)
		ck_assert_int_ge(sd_event_run(ev, 10000), 0);
	ck_assert_uint_eq(supervisor_pending(sv), 0);
	ck_assert(reaped(pid));
	ck_assert(!ended); /* the owner let go: it hears nothing */
	close(pfd[0]);
}
END_TEST

static unsigned td_calls;
static void on_td(void *userdata)
{
	td_calls++;
}

/* A process in teardown counts until it is gone: watched, let go before
 * it ended (a worker tearing its VM down after its RESULT), or not our
 * child; and the owner hears each end from the loop. */
START_TEST(test_teardown_counts_until_gone)
{
	int pa[2], pb[2], pc[2];

	td_calls = 0;
	supervisor_on_teardown_done(sv, on_td, NULL);
	ck_assert_int_eq(pipe(pa), 0);
	ck_assert_int_eq(pipe(pb), 0);
	ck_assert_int_eq(pipe(pc), 0);
	pid_t a = child(pa, 0), b = child(pb, 0), c = child(pc, 0);
	sv_proc_t *pa_ = watch(a), *pb_ = watch(b), *pc_ = NULL;
	int cfd = (int)syscall(SYS_pidfd_open, c, 0);
	ck_assert_int_eq(sv_watch(sv, c, cfd, false, on_exit_, NULL, &pc_), 0); /* as if re-adopted */
	sv_teardown(pa_);
	sv_teardown(pa_); /* once */
	sv_teardown(pb_);
	sv_teardown(pc_);
	ck_assert(sv_in_teardown(pa_));
	ck_assert_uint_eq(supervisor_teardowns(sv), 3);
	/* b and c let go while still running: they still count */
	sv_release(pb_);
	sv_release(pc_);
	ck_assert_uint_eq(supervisor_teardowns(sv), 3);
	/* a ends while watched (killed: the other children hold the pipes too) */
	ck_assert_int_eq(sv_kill(pa_, "test"), 0);
	run_until(&ended);
	ck_assert_uint_eq(supervisor_teardowns(sv), 2);
	for (int i = 0; i < 100 && !td_calls; i++)
		ck_assert_int_ge(sd_event_run(ev, 10000), 0);
	ck_assert_uint_ge(td_calls, 1);
	kill(b, SIGKILL);
	kill(c, SIGKILL);
	for (int i = 0; i < 1000 && supervisor_teardowns(sv); i++)
		ck_assert_int_ge(sd_event_run(ev, 10000), 0);
	ck_assert_uint_eq(supervisor_teardowns(sv), 0);
	ck_assert(reaped(b));
	ck_assert_uint_eq(supervisor_pending(sv), 0);
	/* c is not our child: waited for, not reaped */
	ck_assert_int_eq(waitpid(c, NULL, 0), c);
	for (int i = 0; i < 2; i++) {
		int *p = i ? pb : pa;
		close(p[0]);
		close(p[1]);
	}
	close(pc[0]);
	close(pc[1]);
}
END_TEST

/* Killing a process and letting go of it at once (a forced remove) leaves
 * its reaping to the supervisor too. */
START_TEST(test_abandon)
{
	int pfd[2];

	ck_assert_int_eq(pipe(pfd), 0);
	pid_t pid = child(pfd, 0);
	sv_abandon(sv, (int)syscall(SYS_pidfd_open, pid, 0), true);
	for (int i = 0; i < 1000 && !reaped(pid); i++)
		ck_assert_int_ge(sd_event_run(ev, 10000), 0);
	ck_assert(reaped(pid));
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

/* Adoption: the same pid and start time, and not a zombie. */
START_TEST(test_adopt)
{
	int pfd[2], pidfd = -1, st;
	uint64_t start;

	ck_assert_int_eq(pipe(pfd), 0);
	pid_t pid = child(pfd, 0);
	ck_assert_int_eq(sv_proc_start_time(pid, &start), 0);
	ck_assert_int_eq(sv_adopt(pid, start, &pidfd), 0);
	close(pidfd);
	ck_assert_int_eq(sv_adopt(pid, start + 1, &pidfd), -ESRCH);
	ck_assert_int_eq(sv_adopt(0, start, &pidfd), -ESRCH);
	/* Dead and not reaped: a zombie is gone all the same. */
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	for (int i = 0; i < 1000 && !mvmt_process_ended(pid); i++)
		usleep(10000);
	ck_assert_int_eq(sv_adopt(pid, start, &pidfd), -ESRCH);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(sv_proc_start_time(pid, &start), -ESRCH);
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

/* A status that is not ours to know has no words here: the backend says. */
START_TEST(test_unknown_status)
{
	sv_exit_t x = { .known = false };
	char text[32] = "untouched";

	ck_assert(!sv_exit_text(&x, "worker", text, sizeof(text)));
	ck_assert_str_eq(text, "untouched");
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "core",
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_exit_status),
			MVMT_TEST(test_kill_now_and_at_deadline),
			MVMT_TEST(test_release_never_waits),
			MVMT_TEST(test_abandon),
			MVMT_TEST(test_teardown_counts_until_gone),
			MVMT_TEST(test_adopt),
			MVMT_TEST(test_unknown_status)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "supervise", .tcases = tcases)
