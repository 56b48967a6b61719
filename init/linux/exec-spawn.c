/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starting a requested program: pipes for stdin/stdout/stderr, fork, a new
 * process group (so a timeout kills everything it started), a clean signal
 * state and fd table, PATH search in the request's environment, and an
 * exec-error pipe so a missing program is an error frame, not exit 127.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec-agent-internal.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void agent_kill_group(exec_conn_t *c)
{
	/* The child leads its own group; kill the group and, in case the
	 * setpgid raced with an early exec, the child itself. */
	kill(-c->pid, SIGKILL);
	kill(c->pid, SIGKILL);
}

/* One allocation holding NUL-terminated copies and the pointer arrays. */
static char **strv_new(const exec_str_t *s, uint32_t n)
{
	size_t size = (n + 1) * sizeof(char *);
	char **v, *p;

	for (uint32_t i = 0; i < n; i++)
		size += s[i].len + 1;
	v = malloc(size);
	if (!v)
		return NULL;
	p = (char *)(v + n + 1);
	for (uint32_t i = 0; i < n; i++) {
		v[i] = p;
		memcpy(p, s[i].ptr, s[i].len);
		p[s[i].len] = '\0';
		p += s[i].len + 1;
	}
	v[n] = NULL;
	return v;
}

static void close_from(int lowfd, int keep)
{
#ifdef SYS_close_range
	if (keep > lowfd && syscall(SYS_close_range, lowfd, keep - 1, 0) == 0 &&
	    syscall(SYS_close_range, keep + 1, ~0u, 0) == 0)
		return;
#endif
	long max = sysconf(_SC_OPEN_MAX);
	for (int fd = lowfd; fd < (max > 0 ? max : 1024); fd++)
		if (fd != keep)
			close(fd);
}

/* In the child: never returns. Reports exec failure as an int on errfd. */
static void child_exec(const exec_agent_config_t *cfg, char **argv, char **envp, int fds[3], int errfd)
{
	const char *path = DEFAULT_PATH;
	sigset_t all;
	int err = ENOENT;

	setpgid(0, 0);
	/* mvm-init blocks and ignores signals; a program must start clean. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* Lift the fds above 2 first so no dup2 clobbers another source. */
	for (int i = 0; i < 3; i++)
		if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0)
			goto fail;
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			goto fail;
	close_from(3, errfd);

	if (cfg->wasm_main && agent_wasm_hash(argv[0], strlen(argv[0]))) {
		int argc = 0;
		while (argv[argc])
			argc++;
		/* No execve to close errfd: the module "started" now. */
		close(errfd);
		_exit(cfg->wasm_main(argv[0] + 7, argc, argv, envp) & 0xff);
	}
	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, envp);
		err = errno;
		goto fail;
	}
	for (char **e = envp; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	for (const char *p = path;;) {
		const char *end = strchrnul(p, ':');
		size_t dl = (size_t)(end - p), nl = strlen(argv[0]);
		char buf[4096 + 4096 + 2];

		if (dl + nl + 2 <= sizeof(buf)) {
			/* An empty element means the current directory. */
			memcpy(buf, dl ? p : ".", dl ? dl : 1);
			buf[dl ? dl : 1] = '/';
			memcpy(buf + (dl ? dl : 1) + 1, argv[0], nl + 1);
			execve(buf, argv, envp);
			/* Keep the most telling error: EACCES beats ENOENT. */
			if (errno != ENOENT && errno != ENOTDIR)
				err = errno;
		}
		if (!*end)
			break;
		p = end + 1;
	}
fail:
	if (write(errfd, &err, sizeof(err)) < 0) {
		/* nothing left to tell */
	}
	_exit(127);
}

static int exec_error_code(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR: return EXEC_ERROR_NOT_FOUND;
	case EACCES:
	case EPERM: return EXEC_ERROR_PERMISSION;
	case ENOMEM:
	case EAGAIN:
	case EMFILE:
	case ENFILE: return EXEC_ERROR_RESOURCES;
	default: return EXEC_ERROR_EXEC_FAILED;
	}
}

int agent_spawn(exec_conn_t *c, const exec_request_t *req)
{
	char **argv = strv_new(req->argv, req->argc), **envp = strv_new(req->envp, req->envc);
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, ep[2] = { -1, -1 };
	int child_fds[3], e = 0, r = 0;
	ssize_t n;
	pid_t pid;

	if (!argv || !envp) {
		r = -ENOMEM;
		goto fail;
	}
	if (req->stdin_mode == EXEC_STDIN_NONE)
		in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	else if (pipe2(in, O_CLOEXEC) < 0)
		in[0] = -1;
	if (in[0] < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    pipe2(ep, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	child_fds[0] = in[0];
	child_fds[1] = out[1];
	child_fds[2] = err[1];
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto fail;
	}
	if (pid == 0) {
		close(ep[0]);
		child_exec(&c->agent->cfg, argv, envp, child_fds, ep[1]);
	}
	setpgid(pid, pid); /* both sides, so kill(-pid) works at once */
	c->pid = pid;
	close(ep[1]);
	ep[1] = -1;
	do
		n = read(ep[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == sizeof(e)) {
		int st;
		/* It never ran: reap it here and answer with an error frame. */
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		c->pid = 0;
		conn_queue_error(c, (uint32_t)exec_error_code(e), "%s: %s", argv[0], strerror(e));
		goto out;
	}
	if (req->timeout_ms)
		c->deadline_ms = agent_now_ms() + req->timeout_ms;
	if (req->stdin_mode != EXEC_STDIN_NONE) {
		c->in_fd = in[1];
		in[1] = -1;
		fcntl(c->in_fd, F_SETFL, O_NONBLOCK);
		if (req->stdin_len) {
			c->in_buf = malloc(req->stdin_len);
			if (c->in_buf) {
				memcpy(c->in_buf, req->stdin_data, req->stdin_len);
				c->in_len = req->stdin_len;
			}
		}
		if (c->in_eof && c->in_len == 0)
			c->in_fd = (close(c->in_fd), -1);
	}
	c->out_fd = out[0];
	c->err_fd = err[0];
	out[0] = err[0] = -1;
	fcntl(c->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(c->err_fd, F_SETFL, O_NONBLOCK);
	goto out;
fail:
	conn_queue_error(c, (uint32_t)exec_error_code(-r), "cannot start %s: %s",
			 argv ? argv[0] : "program", strerror(-r));
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	free(argv);
	free(envp);
	return r;
}
