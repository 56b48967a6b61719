/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvm-init: the only program mvmd puts in a Linux guest's initramfs.
 * Startup order: mounts → console → signals → command line → hostname →
 * exec agent → "mvm-init: ready" → mvm.run= → loop (reap, signals,
 * agent) until an orderly poweroff. See docs/linux-guests.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/exec-frame.h"
#include "mvm-init.h"
#include "util/kcmdline.h"

#ifndef MVM_VERSION
#define MVM_VERSION "0"
#endif

void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n, e = errno;

	memcpy(buf, "mvm-init: ", 10);
	va_start(ap, fmt);
	errno = e; /* for %m */
	n = vsnprintf(buf + 10, sizeof(buf) - 11, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	n = 10 + (n < (int)sizeof(buf) - 11 ? n : (int)sizeof(buf) - 12);
	buf[n++] = '\n';
	if (write(STDOUT_FILENO, buf, (size_t)n) < 0) {
		/* no console: nothing to do */
	}
	errno = e;
}

uint64_t init_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void usage(void)
{
	printf("usage: mvm-init [--no-mount] [--agent-unix PATH] [--blob-unix PATH] [--cmdline STRING] [--process-conf PATH] [--exit-unix PATH]\n"
	       "PID 1 of an mvmd Linux guest; options are for tests (docs/linux-guests.md).\n");
}

static int parse_args(init_state_t *s, int argc, char **argv, const char **cmdline)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-mount") == 0)
			s->no_mount = true;
		else if (strcmp(argv[i], "--agent-unix") == 0 && i + 1 < argc)
			s->agent_unix = argv[++i];
		else if (strcmp(argv[i], "--blob-unix") == 0 && i + 1 < argc)
			init_wasm_set_blob_unix(argv[++i]);
		else if (strcmp(argv[i], "--cmdline") == 0 && i + 1 < argc)
			*cmdline = argv[++i];
		else if (strcmp(argv[i], "--process-conf") == 0 && i + 1 < argc)
			s->process_conf = argv[++i];
		else if (strcmp(argv[i], "--exit-unix") == 0 && i + 1 < argc)
			process_set_exit_unix(argv[++i]);
		else if (strcmp(argv[i], "--version") == 0) {
			printf("mvm-init %s\n", MVM_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0) {
			usage();
			return 0;
		} else if (!s->pid1) {
			/* As PID 1 the kernel passes unknown words here: ignore. */
			usage();
			return -EINVAL;
		}
	}
	return 1;
}

static char *read_cmdline(const char *override)
{
	char *buf;
	ssize_t n;
	int fd;

	if (override)
		return strdup(override);
	buf = calloc(1, KCMDLINE_MAX + 1);
	fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (buf && fd >= 0 && (n = read(fd, buf, KCMDLINE_MAX)) > 0)
		buf[n] = '\0';
	if (fd >= 0)
		close(fd);
	return buf ? buf : strdup("");
}

static void start_agent(init_state_t *s)
{
	exec_agent_config_t cfg = { .platform = "mvm-init", .wasm_main = init_wasm_main };
	int r;

	cfg.transport = s->agent_unix ? exec_transport_unix(s->agent_unix)
				      : exec_transport_vsock(EXEC_AGENT_PORT);
	r = exec_agent_new(&cfg, &s->agent);
	if (r == -EAFNOSUPPORT || (r == -ENODEV && !s->agent_unix))
		say("exec agent disabled: AF_VSOCK is not available in this kernel (%s); continuing without it",
		    strerror(-r));
	else if (r < 0)
		say("exec agent disabled: cannot listen on %s: %s", s->agent_unix ? s->agent_unix : "vsock",
		    strerror(-r));
	else if (s->agent_unix)
		say("exec agent listening on unix:%s", s->agent_unix);
	else
		say("exec agent listening on vsock port %u", EXEC_AGENT_PORT);
}

static int setup_signals(void)
{
	sigset_t mask;

	/* Blocked signals reach PID 1 even without handlers; read them from
	 * a signalfd. SIGINT is what the kernel sends on Ctrl-Alt-Del once
	 * RB_DISABLE_CAD is set; SIGPWR is the power button / ACPI poweroff. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGPWR);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void reap(init_state_t *s)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == s->run_pid)
			run_exited(s, st);
		else if (pid == s->process_pid)
			process_exited(s, st);
		else if (!(s->agent && exec_agent_child_exited(s->agent, pid, st)))
			s->reaped_orphans++;
	}
}

static void handle_signals(init_state_t *s, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM: shutdown_begin(s, "SIGTERM"); break;
		case SIGINT: shutdown_begin(s, "SIGINT"); break;
		case SIGPWR: shutdown_begin(s, "SIGPWR"); break;
		default: break; /* SIGCHLD: reaped below; SIGHUP: ignored */
		}
	}
}

static int min_timeout(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

int main(int argc, char **argv)
{
	init_state_t s = { .pid1 = getpid() == 1, .stop_timeout_ms = INIT_DEFAULT_STOP_TIMEOUT_MS,
			   .process_conf = INIT_PROCESS_CONF, .power_button_fd = -1 };
	const char *unusable = NULL;
	const char *cmdline_override = NULL;
	char *v = NULL;
	int sfd, r;

	r = parse_args(&s, argc, argv, &cmdline_override);
	if (r <= 0 && !s.pid1)
		return r < 0 ? 2 : 0;
	if (s.pid1 && !s.no_mount)
		system_mount_all();
	system_console();
	setenv("PATH", INIT_DEFAULT_PATH, 0);
	sfd = setup_signals();
	if (sfd < 0)
		say("signalfd: %m; signals will not be handled");
	if (s.pid1)
		reboot(RB_DISABLE_CAD); /* Ctrl-Alt-Del → SIGINT → orderly poweroff */
	else
		prctl(PR_SET_CHILD_SUBREAPER, 1); /* reap what our children leave */
	say("starting (version %s, pid %d)", MVM_VERSION, (int)getpid());
	s.cmdline = read_cmdline(cmdline_override);
	if (kcmdline_get(s.cmdline, "mvm.stop_timeout_ms", &v) > 0) {
		s.stop_timeout_ms = (unsigned)strtoul(v, NULL, 10);
		free(v);
	}
	system_hostname(&s);
	if (s.pid1 && !s.no_mount) {
		system_load_modules();
		s.power_button_fd = power_button_open();
	}
	/* The image's process: its root disk first, so the agent and the
	 * process see the image's filesystem. */
	r = process_load(&s, s.process_conf);
	if (r < 0)
		unusable = "its process config is invalid";
	else if (r > 0 && process_enter_root(&s) < 0)
		unusable = "the root disk is unusable";
	start_agent(&s);
	say("ready");
	run_start(&s);
	if (unusable)
		process_failed(&s, unusable);
	else
		process_start(&s);

	for (;;) {
		size_t max = 2 + (s.agent ? exec_agent_max_pollfds(s.agent) : 0), n = 0;
		struct pollfd *fds = calloc(max, sizeof(*fds));
		int timeout;

		if (!fds) {
			/* Out of memory as PID 1: keep reaping, slowly. */
			sleep(1);
			reap(&s);
			continue;
		}
		fds[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = s.power_button_fd, .events = POLLIN }; /* -1: ignored by poll */
		if (s.agent)
			n = exec_agent_pollfds(s.agent, fds + 2, max - 2);
		timeout = min_timeout(s.agent ? exec_agent_timeout_ms(s.agent) : -1, shutdown_timeout_ms(&s));
		if (sfd < 0)
			timeout = min_timeout(timeout, 1000);
		if (poll(fds, 2 + n, timeout) < 0 && errno != EINTR)
			say("poll: %m");
		if (sfd >= 0)
			handle_signals(&s, sfd);
		if (fds[1].revents && power_button_pressed(s.power_button_fd))
			shutdown_begin(&s, "power button");
		reap(&s);
		if (s.agent && exec_agent_dispatch(s.agent, fds + 2, n) < 0) {
			say("exec agent failed; disabling it");
			s.agent = exec_agent_free(s.agent);
		}
		free(fds);
		shutdown_step(&s);
	}
}
