/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The exec agent's connections: accept, decode frames, route stdin to the
 * child, child output to frames, queue and flush, timeouts, teardown.
 * Process creation is in agent-spawn.c, built-ins in agent-builtin.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec-agent-internal.h"

uint64_t agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int out_reserve(exec_conn_t *c, size_t len)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_cap - c->out_len >= len)
		return 0;
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_cap - c->out_len >= len)
			return 0;
	}
	size_t cap = c->out_cap ? c->out_cap : 4096;
	while (cap - c->out_len < len)
		cap *= 2;
	uint8_t *p = realloc(c->out, cap);
	if (!p)
		return -ENOMEM;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

static int conn_queue(exec_conn_t *c, const void *frame, size_t len)
{
	if (out_reserve(c, len) < 0)
		return -ENOMEM;
	memcpy(c->out + c->out_len, frame, len);
	c->out_len += len;
	return 0;
}

/* Reserve room for a frame of up to len payload bytes; returns where the
 * payload goes (header is written by conn_commit_data). */
static uint8_t *conn_reserve_data(exec_conn_t *c, size_t len)
{
	if (out_reserve(c, EXEC_FRAME_HEADER_SIZE + len) < 0)
		return NULL;
	return c->out + c->out_len + EXEC_FRAME_HEADER_SIZE;
}

static void conn_commit_data(exec_conn_t *c, int type, size_t len)
{
	exec_encode_header(c->out + c->out_len, EXEC_FRAME_HEADER_SIZE, type, (uint32_t)len);
	c->out_len += EXEC_FRAME_HEADER_SIZE + len;
}

int conn_queue_data(exec_conn_t *c, int type, const void *data, size_t len)
{
	const uint8_t *p = data;

	do {
		size_t n = len > EXEC_MAX_DATA ? EXEC_MAX_DATA : len;
		uint8_t *dst = conn_reserve_data(c, n);
		if (!dst)
			return -ENOMEM;
		if (n)
			memcpy(dst, p, n);
		conn_commit_data(c, type, n);
		p += n;
		len -= n;
	} while (len > 0);
	return 0;
}

int conn_queue_error(exec_conn_t *c, uint32_t code, const char *fmt, ...)
{
	uint8_t frame[EXEC_FRAME_HEADER_SIZE + 6 + EXEC_MAX_ERROR_MESSAGE];
	char msg[EXEC_MAX_ERROR_MESSAGE + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	n = exec_encode_error(frame, sizeof(frame), code, msg, strlen(msg));
	if (n < 0)
		return n;
	c->state = CONN_CLOSING;
	return conn_queue(c, frame, (size_t)n);
}

int conn_queue_exit(exec_conn_t *c, int kind, unsigned value, bool timed_out)
{
	uint8_t frame[EXEC_FRAME_HEADER_SIZE + 8];
	exec_exit_t ex = { (uint8_t)kind, timed_out ? EXEC_EXIT_FLAG_TIMED_OUT : 0, value };
	int n = exec_encode_exit(frame, sizeof(frame), &ex);

	if (n < 0)
		return n;
	c->state = CONN_CLOSING;
	return conn_queue(c, frame, (size_t)n);
}

static void close_child_fds(exec_conn_t *c)
{
	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->out_fd >= 0)
		close(c->out_fd);
	if (c->err_fd >= 0)
		close(c->err_fd);
	c->in_fd = c->out_fd = c->err_fd = -1;
}

static void conn_free(exec_conn_t *c)
{
	if (c->fd >= 0)
		close(c->fd);
	close_child_fds(c);
	free(c->dbuf);
	free(c->out);
	free(c->in_buf);
	free(c);
}

/* Abort whatever runs: the host is gone or broke the protocol. */
static void conn_abort(exec_conn_t *c)
{
	if (c->pid > 0 && !c->exited)
		agent_kill_group(c);
	close_child_fds(c);
	c->echo = false;
	c->state = CONN_CLOSING;
}

static void conn_protocol_error(exec_conn_t *c, int r)
{
	conn_abort(c);
	if (r == -EPROTONOSUPPORT)
		conn_queue_error(c, EXEC_ERROR_VERSION, "supported protocol version: %u",
				 EXEC_PROTOCOL_VERSION);
	else
		conn_queue_error(c, EXEC_ERROR_PROTOCOL, "malformed frame: %s", strerror(-r));
}

static void conn_start(exec_conn_t *c, const exec_frame_t *f)
{
	exec_request_t *req = malloc(sizeof(*req));
	int r;

	if (!req) {
		conn_queue_error(c, EXEC_ERROR_RESOURCES, "out of memory");
		return;
	}
	r = exec_parse_request(f->payload, f->len, req);
	if (r < 0) {
		conn_protocol_error(c, r);
	} else {
		c->stdin_mode = req->stdin_mode;
		c->state = CONN_RUNNING;
		c->in_eof = req->stdin_mode != EXEC_STDIN_STREAM;
		if (agent_builtin(c, req) == 0)
			agent_spawn(c, req);
	}
	free(req);
}

static void conn_stdin(exec_conn_t *c, const exec_frame_t *f)
{
	if (c->stdin_mode != EXEC_STDIN_STREAM || c->in_eof) {
		conn_protocol_error(c, -EPROTO);
		return;
	}
	if (f->type == EXEC_FRAME_STDIN_EOF) {
		c->in_eof = true;
		if (c->echo)
			conn_queue_exit(c, EXEC_EXIT_CODE, 0, false);
		else if (c->in_fd >= 0 && c->in_off == c->in_len)
			c->in_fd = (close(c->in_fd), -1);
		return;
	}
	if (c->echo) {
		conn_queue_data(c, EXEC_FRAME_STDOUT, f->payload, f->len);
		return;
	}
	if (c->in_fd < 0)
		return; /* the child closed its stdin: drop, as a pipe would */
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
	uint8_t *p = realloc(c->in_buf, c->in_len + f->len + 1);
	if (!p) {
		conn_abort(c);
		conn_queue_error(c, EXEC_ERROR_RESOURCES, "out of memory");
		return;
	}
	c->in_buf = p;
	memcpy(c->in_buf + c->in_len, f->payload, f->len);
	c->in_len += f->len;
}

static void conn_read(exec_conn_t *c)
{
	uint8_t buf[16384];
	ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	size_t off = 0, used;
	exec_frame_t f;
	int r;

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		conn_abort(c);
		c->fd = (close(c->fd), -1);
		return;
	}
	if (n == 0) {
		/* The host went away before the last frame (stdin ends with a
		 * stdin-eof frame, never with a half-close): stop everything. */
		c->peer_eof = true;
		conn_abort(c);
		c->fd = (close(c->fd), -1);
		return;
	}
	while (off < (size_t)n && c->state != CONN_CLOSING) {
		r = exec_decoder_feed(&c->dec, buf + off, (size_t)n - off, &used, &f);
		if (r < 0) {
			conn_protocol_error(c, r);
			return;
		}
		off += used;
		if (r == 0)
			break;
		if (c->state == CONN_WAIT_REQUEST && f.type == EXEC_FRAME_REQUEST)
			conn_start(c, &f);
		else if (c->state == CONN_RUNNING &&
			 (f.type == EXEC_FRAME_STDIN_DATA || f.type == EXEC_FRAME_STDIN_EOF))
			conn_stdin(c, &f);
		else
			conn_protocol_error(c, -EPROTO);
	}
}

static void conn_write(exec_conn_t *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			conn_abort(c);
			c->out_off = c->out_len = 0;
			c->fd = (close(c->fd), -1);
			return;
		}
		c->out_off += (size_t)n;
	}
}

static void child_read(exec_conn_t *c, int *fdp, int type)
{
	uint8_t *dst = conn_reserve_data(c, EXEC_MAX_DATA);
	ssize_t n;

	if (!dst)
		return;
	n = read(*fdp, dst, EXEC_MAX_DATA);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		*fdp = (close(*fdp), -1);
		return;
	}
	conn_commit_data(c, type, (size_t)n);
}

static void child_write(exec_conn_t *c)
{
	ssize_t n = write(c->in_fd, c->in_buf + c->in_off, c->in_len - c->in_off);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		/* EPIPE: the child closed stdin; drop the rest, as a pipe would. */
		c->in_fd = (close(c->in_fd), -1);
		return;
	}
	c->in_off += (size_t)n;
	if (c->in_off == c->in_len && c->in_eof)
		c->in_fd = (close(c->in_fd), -1);
}

/* Send the exit frame once the child is reaped and its output drained. */
static void conn_check_done(exec_conn_t *c, uint64_t now)
{
	if (c->state != CONN_RUNNING || c->pid <= 0 || !c->exited)
		return;
	if (c->out_fd >= 0 || c->err_fd >= 0) {
		if (!c->drain_deadline_ms)
			c->drain_deadline_ms = now + AGENT_DRAIN_MS;
		if (now < c->drain_deadline_ms)
			return;
		/* Something the child left behind still holds the pipes. */
	}
	close_child_fds(c);
	if (WIFSIGNALED(c->status))
		conn_queue_exit(c, EXEC_EXIT_SIGNAL, (unsigned)WTERMSIG(c->status), c->timed_out);
	else
		conn_queue_exit(c, EXEC_EXIT_CODE, (unsigned)WEXITSTATUS(c->status), c->timed_out);
}

static void conn_tick(exec_conn_t *c, uint64_t now)
{
	if (c->state == CONN_WAIT_REQUEST && c->fd >= 0 && now >= c->request_deadline_ms)
		conn_queue_error(c, EXEC_ERROR_PROTOCOL, "no request within %u ms",
				 c->agent->cfg.request_timeout_ms);
	if (c->pid > 0 && !c->exited && c->deadline_ms && now >= c->deadline_ms && !c->timed_out) {
		c->timed_out = true;
		agent_kill_group(c);
	}
	conn_check_done(c, now);
	if (c->state == CONN_CLOSING && c->fd >= 0 && c->out_off == c->out_len) {
		shutdown(c->fd, SHUT_RDWR);
		c->fd = (close(c->fd), -1);
	}
}

static void agent_accept(exec_agent_t *a)
{
	for (;;) {
		int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		exec_conn_t *c;

		if (fd < 0)
			return; /* EAGAIN, or a transient error: poll again */
		c = calloc(1, sizeof(*c));
		if (c)
			c->dbuf = malloc(EXEC_MAX_PAYLOAD);
		if (!c || !c->dbuf) {
			if (c)
				free(c);
			close(fd);
			continue;
		}
		c->agent = a;
		c->fd = fd;
		c->request_deadline_ms = agent_now_ms() + a->cfg.request_timeout_ms;
		c->in_fd = c->out_fd = c->err_fd = -1;
		exec_decoder_init(&c->dec, c->dbuf, EXEC_MAX_PAYLOAD);
		c->next = a->conns;
		a->conns = c;
		a->nconns++;
		if (a->nconns >= a->cfg.max_connections)
			return;
	}
}

int exec_agent_new(const exec_agent_config_t *cfg, exec_agent_t **ret)
{
	exec_agent_t *a = calloc(1, sizeof(*a));
	int fd;

	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	if (!a->cfg.max_connections)
		a->cfg.max_connections = AGENT_DEFAULT_MAX_CONNECTIONS;
	if (!a->cfg.request_timeout_ms)
		a->cfg.request_timeout_ms = AGENT_DEFAULT_REQUEST_TIMEOUT_MS;
	if (!a->cfg.platform)
		a->cfg.platform = "unknown";
	fd = cfg->transport.listen(&cfg->transport);
	if (fd < 0) {
		free(a);
		return fd;
	}
	a->listen_fd = fd;
	*ret = a;
	return 0;
}

exec_agent_t *exec_agent_free(exec_agent_t *a)
{
	if (!a)
		return NULL;
	while (a->conns) {
		exec_conn_t *c = a->conns;
		a->conns = c->next;
		if (c->pid > 0 && !c->exited)
			agent_kill_group(c);
		conn_free(c);
	}
	if (a->listen_fd >= 0)
		close(a->listen_fd);
	free(a->refs);
	free(a);
	return NULL;
}

size_t exec_agent_max_pollfds(const exec_agent_t *a)
{
	return 1 + 4 * (size_t)a->nconns;
}

static void add_fd(exec_agent_t *a, struct pollfd *fds, size_t *n, int fd, short ev,
		   exec_conn_t *c, int which)
{
	fds[*n] = (struct pollfd){ .fd = fd, .events = ev };
	a->refs[*n] = (struct poll_ref){ c, which };
	(*n)++;
}

size_t exec_agent_pollfds(exec_agent_t *a, struct pollfd *fds, size_t max)
{
	size_t n = 0, need = exec_agent_max_pollfds(a);

	if (a->refs_cap < need) {
		struct poll_ref *r = realloc(a->refs, need * sizeof(*r));
		if (!r)
			return 0;
		a->refs = r;
		a->refs_cap = need;
	}
	if (max < need)
		return 0;
	if (a->nconns < a->cfg.max_connections)
		add_fd(a, fds, &n, a->listen_fd, POLLIN, NULL, POLL_SOCK);
	for (exec_conn_t *c = a->conns; c; c = c->next) {
		bool out_full = c->out_len - c->out_off >= AGENT_OUT_HIGH_WATER;
		short ev = 0;

		if (c->fd >= 0) {
			if (c->state != CONN_CLOSING && !c->peer_eof &&
			    c->in_len - c->in_off < AGENT_IN_HIGH_WATER && !out_full)
				ev |= POLLIN;
			if (c->out_off < c->out_len)
				ev |= POLLOUT;
			add_fd(a, fds, &n, c->fd, ev, c, POLL_SOCK);
		}
		if (c->in_fd >= 0 && c->in_off < c->in_len)
			add_fd(a, fds, &n, c->in_fd, POLLOUT, c, POLL_CHILD_IN);
		if (!out_full && c->out_fd >= 0)
			add_fd(a, fds, &n, c->out_fd, POLLIN, c, POLL_CHILD_OUT);
		if (!out_full && c->err_fd >= 0)
			add_fd(a, fds, &n, c->err_fd, POLLIN, c, POLL_CHILD_ERR);
	}
	return n;
}

static void agent_sweep(exec_agent_t *a)
{
	uint64_t now = agent_now_ms();

	for (exec_conn_t **pc = &a->conns; *pc;) {
		exec_conn_t *c = *pc;
		conn_tick(c, now);
		/* Free once the host side is closed and the child is reaped. */
		if (c->fd < 0 && (c->pid <= 0 || c->exited)) {
			*pc = c->next;
			a->nconns--;
			conn_free(c);
			continue;
		}
		pc = &c->next;
	}
}

int exec_agent_dispatch(exec_agent_t *a, const struct pollfd *fds, size_t n)
{
	bool accept = false;

	for (size_t i = 0; i < n; i++) {
		exec_conn_t *c = a->refs[i].conn;
		short re = fds[i].revents;

		if (!re)
			continue;
		if (!c) {
			if (re & (POLLERR | POLLNVAL))
				return -EIO;
			accept = true;
			continue;
		}
		switch (a->refs[i].which) {
		case POLL_SOCK:
			if (c->fd != fds[i].fd)
				break; /* closed earlier in this round */
			if (re & POLLOUT)
				conn_write(c);
			if (c->fd >= 0 && (re & (POLLIN | POLLHUP | POLLERR)))
				conn_read(c);
			if (c->fd >= 0 && c->out_off < c->out_len)
				conn_write(c); /* flush what reading produced */
			break;
		case POLL_CHILD_IN:
			if (c->in_fd == fds[i].fd)
				child_write(c);
			break;
		case POLL_CHILD_OUT:
			if (c->out_fd == fds[i].fd)
				child_read(c, &c->out_fd, EXEC_FRAME_STDOUT);
			break;
		case POLL_CHILD_ERR:
			if (c->err_fd == fds[i].fd)
				child_read(c, &c->err_fd, EXEC_FRAME_STDERR);
			break;
		}
	}
	if (accept)
		agent_accept(a);
	agent_sweep(a);
	/* Flush frames queued by the sweep (exit frames) right away. */
	for (exec_conn_t *c = a->conns; c; c = c->next)
		if (c->fd >= 0 && c->out_off < c->out_len)
			conn_write(c);
	agent_sweep(a);
	return 0;
}

int exec_agent_timeout_ms(const exec_agent_t *a)
{
	uint64_t now = agent_now_ms(), next = UINT64_MAX;

	for (exec_conn_t *c = a->conns; c; c = c->next) {
		if (c->state == CONN_WAIT_REQUEST && c->fd >= 0 && c->request_deadline_ms < next)
			next = c->request_deadline_ms;
		if (c->pid > 0 && !c->exited && c->deadline_ms && !c->timed_out && c->deadline_ms < next)
			next = c->deadline_ms;
		if (c->exited && c->state == CONN_RUNNING) {
			uint64_t d = c->drain_deadline_ms ? c->drain_deadline_ms : now;
			if (d < next)
				next = d;
		}
	}
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

bool exec_agent_child_exited(exec_agent_t *a, pid_t pid, int status)
{
	for (exec_conn_t *c = a->conns; c; c = c->next)
		if (c->pid == pid && !c->exited) {
			/* Only mark it: the caller may hold pollfds that refer to
			 * this connection; exec_agent_dispatch() tidies up. */
			c->exited = true;
			c->status = status;
			return true;
		}
	return false;
}

int exec_agent_run(exec_agent_t *a, int stop_fd)
{
	sigset_t mask;
	int sfd, r = 0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return -errno;
	for (;;) {
		size_t max = 2 + exec_agent_max_pollfds(a), n;
		struct pollfd *fds = calloc(max, sizeof(*fds));
		struct signalfd_siginfo si;

		if (!fds) {
			r = -ENOMEM;
			break;
		}
		fds[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
		n = exec_agent_pollfds(a, fds + 2, max - 2);
		if (poll(fds, n + 2, exec_agent_timeout_ms(a)) < 0 && errno != EINTR) {
			r = -errno;
			free(fds);
			break;
		}
		if (fds[1].revents) {
			free(fds);
			break;
		}
		while (read(sfd, &si, sizeof(si)) == sizeof(si))
			;
		/* Reap only our own children: this process may have others. */
		for (exec_conn_t *c = a->conns, *next; c; c = next) {
			int st;
			next = c->next;
			if (c->pid > 0 && !c->exited && waitpid(c->pid, &st, WNOHANG) == c->pid) {
				c->exited = true;
				c->status = st;
			}
		}
		r = exec_agent_dispatch(a, fds + 2, n);
		free(fds);
		if (r < 0)
			break;
	}
	close(sfd);
	return r;
}
