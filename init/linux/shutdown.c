/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Orderly poweroff: SIGTERM to every process, wait up to
 * mvm.stop_timeout_ms (default 3000), SIGKILL to what is left, wait up to
 * 2 s more, sync, reboot(RB_POWER_OFF). PID 1 never exits (that would
 * panic the kernel); in a PID namespace the same reboot() call ends the
 * namespace, whose parent sees its init killed by SIGINT. Not PID 1 (run
 * by hand), mvm-init signals only its own children and exits 0.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvm-init.h"

#define KILL_WAIT_MS 2000

/* Our children's pids from /proc (for the not-PID-1 case). */
static void kill_children(int sig)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[300], buf[512], *p;
		FILE *f;
		int ppid = 0;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && sscanf(p + 2, "%*c %d", &ppid) == 1 &&
		    ppid == self)
			kill((pid_t)atoi(de->d_name), sig);
		fclose(f);
	}
	closedir(d);
}

static void kill_all(const init_state_t *s, int sig)
{
	if (s->pid1)
		kill(-1, sig); /* everyone in our PID namespace but us */
	else
		kill_children(sig);
}

static bool any_child_left(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	/* As PID 1 every process is (or becomes) our child. */
	return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

void shutdown_begin(init_state_t *s, const char *why)
{
	if (s->stopping)
		return;
	say("shutting down (%s): sending SIGTERM to all processes", why);
	kill_all(s, SIGTERM);
	s->stopping = 1;
	s->stop_deadline_ms = init_now_ms() + s->stop_timeout_ms;
}

static void __attribute__((noreturn)) finish(init_state_t *s)
{
	s->agent = exec_agent_free(s->agent);
	sync();
	/* The root disk is mounted as /, which cannot be unmounted: read-only
	 * leaves it clean, as an unmount would. */
	if (s->root_mounted && mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
		say("cannot remount / read-only: %m");
	say("powering off");
	if (!s->pid1)
		exit(0);
	reboot(RB_POWER_OFF);
	say("poweroff failed: %m; halting here");
	for (;;)
		pause();
}

void shutdown_step(init_state_t *s)
{
	if (!s->stopping)
		return;
	if (!any_child_left())
		finish(s);
	if (init_now_ms() < s->stop_deadline_ms)
		return;
	if (s->stopping == 1) {
		say("processes left after %u ms: sending SIGKILL", s->stop_timeout_ms);
		/* The agent's connections go with it; nothing to report to. */
		s->agent = exec_agent_free(s->agent);
		kill_all(s, SIGKILL);
		s->stopping = 2;
		s->stop_deadline_ms = init_now_ms() + KILL_WAIT_MS;
		return;
	}
	say("processes survived SIGKILL; powering off anyway");
	finish(s);
}

int shutdown_timeout_ms(const init_state_t *s)
{
	uint64_t now = init_now_ms();

	if (!s->stopping)
		return -1;
	return s->stop_deadline_ms <= now ? 0 : (int)(s->stop_deadline_ms - now);
}
