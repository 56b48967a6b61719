/* SPDX-License-Identifier: Apache-2.0 */
/*
 * line-echo: the floor for the RPC benchmark. A single-threaded epoll Unix
 * socket server that sends every complete line straight back, with the
 * same event-loop shape as mvmd (one thread, nonblocking sockets, one read
 * and one write per wakeup) but no parsing at all.
 *
 *   line-echo SOCKET_PATH
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct conn {
	int fd;
	char in[256 * 1024];
	size_t in_len;
	char *out;
	size_t out_len, out_alloc;
	bool watching_out;
} conn_t;

static int ep;

static void conn_drop(conn_t *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

static void conn_io(conn_t *c, uint32_t ev)
{
	if (ev & EPOLLIN) {
		ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
			conn_drop(c);
			return;
		}
		if (n > 0)
			c->in_len += (size_t)n;
		char *last = memrchr(c->in, '\n', c->in_len);
		if (last) {
			size_t k = (size_t)(last + 1 - c->in);
			if (c->out_len + k > c->out_alloc) {
				c->out_alloc = c->out_len + k;
				c->out = realloc(c->out, c->out_alloc);
			}
			memcpy(c->out + c->out_len, c->in, k);
			c->out_len += k;
			memmove(c->in, c->in + k, c->in_len - k);
			c->in_len -= k;
		} else if (c->in_len == sizeof(c->in)) {
			conn_drop(c);
			return;
		}
	}
	if (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN) {
			conn_drop(c);
			return;
		}
		if (n > 0) {
			memmove(c->out, c->out + n, c->out_len - (size_t)n);
			c->out_len -= (size_t)n;
		}
	}
	/* Touch the interest set only when it changes: a floor should not
	 * pay for a syscall the server under test does not make. */
	bool want_out = c->out_len > 0;
	if (want_out != c->watching_out) {
		struct epoll_event e = { .events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c };
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
		c->watching_out = want_out;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: line-echo SOCKET_PATH\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0) {
		perror("line-echo: listen");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event le = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &le);
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		struct epoll_event ev[64];
		int n = epoll_wait(ep, ev, 64, -1);
		for (int i = 0; i < n; i++) {
			if (!ev[i].data.ptr) {
				int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd < 0)
					continue;
				conn_t *c = calloc(1, sizeof(*c));
				c->fd = fd;
				struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
			} else
				conn_io(ev[i].data.ptr, ev[i].events);
		}
	}
}
