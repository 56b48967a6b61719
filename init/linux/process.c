/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image's process: /mvm/process.conf (lib/util/guestconf.h), put
 * there by mvmd in a per-VM archive appended to the initramfs. mvm-init
 * mounts the root disk and moves into it (root.c), then runs the process
 * with exactly its argv, environment, working directory and user, stdio on
 * the console, in a session of its own. mvm-init stays PID 1: it reaps,
 * serves the exec agent and handles signals and the power button. The
 * process's end is "mvm-init: process: exit code N" (a signal N is 128+N,
 * as a shell says), and the VM powers off unless keep_running.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blob-fetch.h"
#include "mvm-init.h"

#define EXIT_REPORT_PORT 1026 /* the host's end: daemon/mvmd/ch/exit-report.h */

static const char *exit_unix; /* --exit-unix: report on AF_UNIX instead of vsock */

void process_set_exit_unix(const char *path)
{
	exit_unix = path;
}

/* Tell the host how the process ended ("exit_code N"), so the VM ends with
 * that code. No host end (QEMU, no vsock): said once, nothing else. */
static void report_exit(int code)
{
	blob_fetch_transport_t t = exit_unix ? blob_fetch_transport_unix(exit_unix)
					     : blob_fetch_transport_vsock(2, EXIT_REPORT_PORT);
	char line[32];
	int fd = t.connect(&t), n;

	if (fd < 0) {
		errno = -fd;
		say("process: cannot report the exit code to the host: %m");
		return;
	}
	n = snprintf(line, sizeof(line), "exit_code %d\n", code);
	if (write(fd, line, (size_t)n) != n)
		say("process: cannot report the exit code to the host: %m");
	close(fd);
}

static guestconf_t conf;

/* Read and parse PROCESS_CONF. 0: none; 1: loaded; <0: unusable (said). */
int process_load(init_state_t *s, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	struct stat st;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : (say("process: cannot open %s: %m", path), -errno);
	if (fstat(fd, &st) < 0 || st.st_size > GUESTCONF_MAX || !(text = malloc((size_t)st.st_size + 1))) {
		close(fd);
		say("process: %s is unreadable or too large", path);
		return -EINVAL;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, text + len, (size_t)st.st_size - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	r = guestconf_parse(text, len, &conf);
	free(text);
	if (r < 0) {
		say("process: %s: %s", path, r == -ENOMEM ? "out of memory" : "invalid");
		return r;
	}
	s->root_mounted = false;
	return 1;
}

int process_enter_root(init_state_t *s)
{
	int r = conf.has_root ? root_enter(&conf) : 0;

	s->root_mounted = conf.has_root && r == 0;
	return r;
}

/* argv[0] as execvp would find it, but in the process's own PATH. */
static void exec_in_path(char **argv, char **envp)
{
	const char *path = INIT_DEFAULT_PATH;
	char buf[4096];

	for (char **e = envp; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, envp);
		return;
	}
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");
		if (n && n + 1 + strlen(argv[0]) < sizeof(buf)) {
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, argv[0]);
			execve(buf, argv, envp);
		}
		p += n + (p[n] == ':');
	}
	errno = ENOENT;
}

static void __attribute__((noreturn)) child(void)
{
	run_child_setup();
	if (chdir(conf.cwd) < 0) {
		say("process: cannot change to %s: %m", conf.cwd);
		_exit(126);
	}
	if (setgroups(0, NULL) < 0 || setgid(conf.gid) < 0 || setuid(conf.uid) < 0) {
		say("process: cannot become %u:%u: %m", conf.uid, conf.gid);
		_exit(126);
	}
	exec_in_path(conf.args, conf.env);
	say("process: cannot execute %s: %m", conf.args[0]);
	_exit(errno == ENOENT ? 127 : 126);
}

void process_start(init_state_t *s)
{
	if (!conf.args) {
		guestconf_done(&conf);
		return;
	}
	s->poweroff_after_process = !conf.keep_running;
	say("process: %s (%zu argument%s, %zu environment variable%s, cwd %s, user %u:%u)", conf.args[0], conf.n_args,
	    conf.n_args == 1 ? "" : "s", conf.n_env, conf.n_env == 1 ? "" : "s", conf.cwd, conf.uid, conf.gid);
	s->process_pid = fork();
	if (s->process_pid == 0)
		child();
	if (s->process_pid < 0) {
		say("process: fork: %m");
		s->process_pid = 0;
		process_failed(s, "the process could not start");
	}
	/* The child has its copy; tenant data leaves PID 1's memory. */
	guestconf_done(&conf);
}

void process_failed(init_state_t *s, const char *why)
{
	say("process: exit code 126 (%s)", why);
	report_exit(126);
	shutdown_begin(s, why);
}

void process_exited(init_state_t *s, int status)
{
	int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);

	s->process_pid = 0;
	if (WIFSIGNALED(status))
		say("process: killed by signal %d: exit code %d", WTERMSIG(status), code);
	else
		say("process: exit code %d", code);
	report_exit(code);
	if (s->poweroff_after_process)
		shutdown_begin(s, "the process ended");
}
