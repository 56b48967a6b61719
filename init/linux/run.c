/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvm.run=: one command from the kernel command line, run on the console
 * once the system is ready. Its output goes to the console as is; its end
 * is reported as "mvm-init: run: exit code N" (or "killed by signal N").
 * With mvm.poweroff=1 the guest then powers off.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvm-init.h"
#include "util/kcmdline.h"

void run_child_setup(void)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
}

static void run_child(char **argv)
{
	run_child_setup();
	execvp(argv[0], argv);
	say("run: cannot execute %s: %m", argv[0]);
	_exit(127);
}

void run_start(init_state_t *s)
{
	char *value = NULL, *pw = NULL, **argv = NULL;
	int r;

	if (kcmdline_get(s->cmdline, "mvm.poweroff", &pw) > 0) {
		s->poweroff_after_run = kcmdline_parse_bool(pw[0] ? pw : "1") == 1;
		free(pw);
	}
	if (kcmdline_get(s->cmdline, "mvm.run", &value) <= 0)
		return;
	r = kcmdline_split_run(value, &argv);
	free(value);
	if (r < 0) {
		say("run: bad mvm.run= value: %s", strerror(-r));
		if (s->poweroff_after_run)
			shutdown_begin(s, "mvm.run= was invalid");
		return;
	}
	say("run: %s (%d argument%s)", argv[0], r, r == 1 ? "" : "s");
	s->run_pid = fork();
	if (s->run_pid == 0)
		run_child(argv);
	if (s->run_pid < 0) {
		say("run: fork: %m");
		s->run_pid = 0;
		if (s->poweroff_after_run)
			shutdown_begin(s, "mvm.run= could not start");
	}
	free(argv);
}

void run_exited(init_state_t *s, int status)
{
	s->run_pid = 0;
	if (WIFSIGNALED(status))
		say("run: killed by signal %d", WTERMSIG(status));
	else
		say("run: exit code %d", WEXITSTATUS(status));
	if (s->poweroff_after_run)
		shutdown_begin(s, "mvm.run= finished");
}
