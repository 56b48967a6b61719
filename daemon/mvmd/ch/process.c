/* SPDX-License-Identifier: Apache-2.0 */
#include "ch/process.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "supervise.h"
#include "util/cause.h"
#include "util/macro.h"

extern char **environ;

static bool is_executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int ch_binary_find(const char *name, char **ret)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL;

	if (!name || !*name)
		return -EINVAL;
	if (strchr(name, '/')) {
		if (!is_executable_file(name))
			return access(name, F_OK) == 0 ? -EACCES : -ENOENT;
		*ret = strdup(name);
		return *ret ? 0 : -ENOMEM;
	}
	copy = strdup(path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	if (!copy)
		return -ENOMEM;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char *cand;
		if (dir[0] != '/')
			continue; /* a relative PATH entry depends on mvmd's cwd: never */
		if (asprintf(&cand, "%s/%s", dir, name) < 0) {
			free(copy);
			return -ENOMEM;
		}
		if (is_executable_file(cand)) {
			free(copy);
			*ret = cand;
			return 0;
		}
		free(cand);
	}
	free(copy);
	return -ENOENT;
}

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * cloud-hypervisor gets none of mvmd's environment (NOTIFY_SOCKET,
 * credentials, whatever an operator set), as mvm-vmm does: only the
 * sanitizer options that make sanitized test runs work. It needs nothing
 * else: every path it uses is absolute, and the VM comes through its API.
 */
static const char *const env_keep[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };

static void child_env(char *envp[static 4])
{
	size_t n = 0;

	for (size_t i = 0; i < ELEMENTSOF(env_keep); i++)
		for (char **e = environ; e && *e; e++)
			if (strncmp(*e, env_keep[i], strlen(env_keep[i])) == 0 && (*e)[strlen(env_keep[i])] == '=') {
				envp[n++] = *e;
				break;
			}
	envp[n] = NULL;
}

/* Close every fd from 3 up but keep_a and keep_b (-1: none). */
static void close_all_but(int keep_a, int keep_b)
{
	const int keep[2] = { MIN(keep_a, keep_b), MAX(keep_a, keep_b) };
	unsigned from = 3;

	for (int i = 0; i < 2; i++) {
		if (keep[i] < (int)from)
			continue;
		if ((unsigned)keep[i] > from)
			close_range(from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	close_range(from, ~0u, 0);
}

/*
 * In the child: fds 0-2 set up, everything else closed, then (with a
 * gate_fd) wait for the parent's go, then exec. A gate that reads EOF
 * means the parent died (or gave up) before the go: exit, never exec.
 */
static _Noreturn void child_exec(char *const argv[], int in_fd, int out_fd, int err_fd, int report_fd, int gate_fd)
{
	char *envp[ELEMENTSOF(env_keep) + 1];

	child_env(envp);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		goto fail;
	/* Every fd of mvmd but the report and gate pipes (CLOEXEC) goes. */
	close_all_but(report_fd, gate_fd);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (gate_fd >= 0) {
		char go;
		ssize_t n;
		do
			n = read(gate_fd, &go, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			_exit(127);
	}
	execve(argv[0], argv, envp);
fail:;
	int e = errno;
	if (report_fd >= 0)
		(void)!write(report_fd, &e, sizeof(e));
	_exit(127);
}

/* /dev/null and a CLOEXEC pipe, what every child this file forks needs. */
static int null_and_pipe(int *ret_null, int *ret_rd, int *ret_wr)
{
	int pipefd[2];

	*ret_null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (*ret_null < 0)
		return negative_errno();
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return negative_errno();
	*ret_rd = pipefd[0];
	*ret_wr = pipefd[1];
	return 0;
}

/* Kill and reap a child that must not run on and that we hold no pidfd
 * for (pidfd_open failed: out of fds or memory). Without a pidfd the loop
 * cannot hear it end, and leaving it would leave a zombie for mvmd's
 * lifetime, so this one wait stays blocking. It is short: the child was
 * forked a moment ago and is either still before its exec (waiting on a
 * pipe, which SIGKILL interrupts) or has just exec'd, not yet in any
 * uninterruptible I/O; the wait is for the kernel's exit path only. A
 * child with a pidfd is handed to the supervisor instead (sv_abandon). */
static void child_abort(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

int ch_version_spawn(const char *binary, pid_t *ret_pid, int *ret_pidfd, int *ret_rd)
{
	_cleanup_close_ int null_fd = -1, rd = -1, wr = -1;
	char *argv[] = { (char *)binary, (char *)"--version", NULL };
	pid_t pid;
	int pidfd, r;

	r = null_and_pipe(&null_fd, &rd, &wr);
	if (r < 0)
		return r;
	pid = fork();
	if (pid < 0)
		return negative_errno();
	if (pid == 0)
		child_exec(argv, null_fd, wr, null_fd, -1, -1);
	pidfd = pidfd_open_(pid);
	if (pidfd < 0) {
		r = negative_errno();
		child_abort(pid);
		return r;
	}
	*ret_pid = pid;
	*ret_pidfd = pidfd;
	*ret_rd = TAKE_FD(rd);
	return 0;
}

int ch_version_result(char *buf, size_t len, bool full, bool exited_ok, ch_version_t *ret, char *ret_text,
		      size_t text_size)
{
	int r;

	/* Killed for being chatty, it may not have exited well: its first
	 * line is all that counts. */
	if (!exited_ok && !full)
		return -ENOEXEC;
	buf[len] = '\0';
	r = ch_version_parse(buf, len, ret);
	if (r < 0)
		return r;
	if (ret_text && text_size) {
		size_t n = strcspn(buf, "\n");
		snprintf(ret_text, text_size, "%.*s", (int)MIN(n, (size_t)127), buf);
	}
	return 0;
}

int ch_binary_version(const char *binary, int timeout_ms, ch_version_t *ret, char *ret_text, size_t text_size)
{
	_cleanup_close_ int rd = -1, pidfd = -1;
	char buf[CH_VERSION_OUTPUT_MAX];
	size_t len = 0;
	int st = 0, r = 0;
	pid_t pid;
	struct timespec t0, t1;

	r = ch_version_spawn(binary, &pid, &pidfd, &rd);
	if (r < 0)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = rd, .events = POLLIN };
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long left = timeout_ms - ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		int n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n == 0 ? -ETIMEDOUT : negative_errno();
			break;
		}
		ssize_t k = read(rd, buf + len, sizeof(buf) - 1 - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
		if (len == sizeof(buf) - 1)
			break; /* the first line is all that counts */
	}
	if (r < 0 || len == sizeof(buf) - 1)
		kill(pid, SIGKILL); /* late, or chatty beyond reason: no need to wait for it */
	/* The blocking wait is for callers without an event loop (mvmd's
	 * start-up, before the loop runs, and tests); mvmd's loop runs the
	 * probe through the supervisor (ch/probe.c). */
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (r < 0)
		return r;
	return ch_version_result(buf, len, len == sizeof(buf) - 1, WIFEXITED(st) && WEXITSTATUS(st) == 0, ret,
				 ret_text, text_size);
}

int ch_process_spawn(supervisor_t *sv, char *const argv[], int log_fd, ch_spawn_hook_t before_exec, void *userdata,
		     pid_t *ret_pid, int *ret_pidfd)
{
	_cleanup_close_ int null_fd = -1, rd = -1, wr = -1, gate_rd = -1, gate_wr = -1;
	int pipefd[2], err = 0, pidfd, r;
	ssize_t n;
	pid_t pid;

	if (!sv || !argv || !argv[0] || log_fd < 0)
		return -EINVAL;
	/* A CLOEXEC pipe: EOF means exec happened, an int means it failed. */
	r = null_and_pipe(&null_fd, &rd, &wr);
	if (r < 0)
		return r;
	/* The gate: the child execs only once the parent wrote its go, and
	 * the write end lives in the parent alone, so a parent killed before
	 * its go leaves a child that reads EOF and exits. */
	if (before_exec) {
		if (pipe2(pipefd, O_CLOEXEC) < 0)
			return negative_errno();
		gate_rd = pipefd[0];
		gate_wr = pipefd[1];
	}
	pid = fork();
	if (pid < 0)
		return negative_errno();
	if (pid == 0) {
		/* Its own session: no controlling terminal, not in mvmd's
		 * process group, so signals to mvmd's group miss it. */
		if (setsid() < 0) {
			int e = errno;
			(void)!write(wr, &e, sizeof(e));
			_exit(127);
		}
		child_exec(argv, null_fd, log_fd, log_fd, wr, gate_rd);
	}
	wr = safe_close(wr);
	gate_rd = safe_close(gate_rd);
	pidfd = pidfd_open_(pid);
	if (pidfd < 0) {
		r = negative_errno();
		child_abort(pid);
		return r;
	}
	r = 0;
	if (before_exec) {
		r = before_exec(pid, userdata);
		if (r < 0) {
			/* Killed before its exec; the supervisor reaps it. */
			sv_abandon(sv, pidfd, true);
			return r;
		}
		/* EPIPE: the child is gone already (its setsid failed), and
		 * its report says why. */
		if (write(gate_wr, "g", 1) != 1)
			r = negative_errno();
		gate_wr = safe_close(gate_wr);
	}
	do
		n = read(rd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n == sizeof(err) || r < 0) {
		sv_abandon(sv, pidfd, true);
		return n == sizeof(err) ? (err > 0 ? -err : -EIO) : r;
	}
	*ret_pid = pid;
	*ret_pidfd = pidfd;
	return 0;
}

int ch_probe_find(const char *name, char **ret_path, struct stat *ret_st, char **ret_cause)
{
	_cleanup_free_ char *path = NULL;
	int r = ch_binary_find(name, &path);

	if (r < 0) {
		if (strchr(name, '/'))
			return set_cause(ret_cause, r, "%s: %s", name, strerror(-r));
		return set_cause(ret_cause, r, "%s not found on PATH (install it, or pass mvmd --ch-binary)", name);
	}
	if (stat(path, ret_st) < 0)
		return negative_errno();
	*ret_path = TAKE_PTR(path);
	return 0;
}

bool ch_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

bool ch_probe_fresh(const ch_probe_t *p, const char *path, const struct stat *st)
{
	return p->path && strcmp(p->path, path) == 0 && ch_same_file(&p->st, st);
}

int ch_probe_set(ch_probe_t *p, const char *path, const struct stat *st, int error, const ch_version_t *v,
		 const char *text)
{
	char *copy = strdup(path);

	if (!copy)
		return -ENOMEM;
	free(p->path);
	p->path = copy;
	p->st = *st;
	p->error = error;
	p->version = error == 0 && v ? *v : (ch_version_t){ 0 };
	snprintf(p->text, sizeof(p->text), "%s", error == 0 && text ? text : "");
	return 0;
}

int ch_probe_verdict(const ch_probe_t *p, char **ret_cause)
{
	if (!p->path)
		return set_cause(ret_cause, -EAGAIN, "the binary's --version is still being checked");
	if (p->error < 0) {
		return set_cause(ret_cause, p->error, "%s --version: %s", p->path,
				 p->error == -EINVAL ? "output is not a version" : strerror(-p->error));
	}
	if (!ch_version_supported(&p->version)) {
		return set_cause(ret_cause, -EPROTONOSUPPORT, "%s is %u.%u.%u, older than the minimum " CH_VERSION_MIN_TEXT,
				 p->path, p->version.major, p->version.minor, p->version.patch);
	}
	return 0;
}

int ch_probe_binary(ch_probe_t *p, const char *name, int timeout_ms, char **ret_path, char **ret_cause)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;
	int r;

	r = ch_probe_find(name, &path, &st, ret_cause);
	if (r < 0)
		return r;
	if (!ch_probe_fresh(p, path, &st)) {
		ch_version_t v;
		char text[sizeof(p->text)] = "";
		int e = ch_binary_version(path, timeout_ms, &v, text, sizeof(text));
		r = ch_probe_set(p, path, &st, e, &v, text);
		if (r < 0)
			return r;
	}
	r = ch_probe_verdict(p, ret_cause);
	if (r == 0 && ret_path)
		*ret_path = TAKE_PTR(path);
	return r;
}

void ch_probe_done(ch_probe_t *p)
{
	free(p->path);
	*p = (ch_probe_t){ 0 };
}

char *ch_log_last_line(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char buf[512], *nl, *line;
	struct stat st;
	ssize_t n;
	off_t off;

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	off = st.st_size > (off_t)sizeof(buf) - 1 ? st.st_size - (off_t)sizeof(buf) + 1 : 0;
	n = pread(fd, buf, sizeof(buf) - 1, off);
	if (n <= 0)
		return NULL;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	nl = strrchr(buf, '\n');
	line = nl ? nl + 1 : buf;
	for (char *q = line; *q; q++)
		if ((unsigned char)*q < ' ' || *q == 0x7f)
			*q = ' ';
	return *line ? strdup(line) : NULL;
}
