/* SPDX-License-Identifier: Apache-2.0 */
/* Host side of the exec protocol: connect, hybrid vsock handshake, run. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "exec-client.h"
#include "util/macro.h"

#define HVSOCK_LINE_MAX 64

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1: none), for poll(). */
static int left_ms(int64_t deadline)
{
	int64_t l;

	if (deadline < 0)
		return -1;
	l = deadline - now_ms();
	return l < 0 ? 0 : (int)MIN(l, (int64_t)1 << 30);
}

static int wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r;

	do
		r = poll(&p, 1, left_ms(deadline));
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

int exec_client_connect_unix(const char *path, int *ret_fd)
{
	return exec_client_connect_unix_flags(path, 0, ret_fd);
}

int exec_client_connect_unix_flags(const char *path, int sock_flags, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | sock_flags, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int exec_hvsock_handshake(int fd, unsigned port, int timeout_ms, unsigned *ret_host_port)
{
	int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
	char line[HVSOCK_LINE_MAX + 1];
	size_t len = 0, off = 0;
	int n, r;

	n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	while (off < (size_t)n) {
		ssize_t w = send(fd, line + off, (size_t)n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if ((r = wait_fd(fd, POLLOUT, deadline)) < 0)
				return r;
			continue;
		}
		if (w < 0)
			return -errno;
		off += (size_t)w;
	}
	/* Byte by byte: what follows "\n" already belongs to the agent. */
	for (;;) {
		ssize_t rd = recv(fd, line + len, 1, MSG_DONTWAIT);
		if (rd < 0 && (errno == EAGAIN || errno == EINTR)) {
			if ((r = wait_fd(fd, POLLIN, deadline)) < 0)
				return r;
			continue;
		}
		if (rd < 0)
			return -errno;
		if (rd == 0)
			return -ECONNRESET;
		if (line[len] == '\n')
			break;
		if (++len >= HVSOCK_LINE_MAX)
			return -EBADMSG;
	}
	line[len] = '\0';
	return exec_hvsock_parse_reply(line, ret_host_port);
}

int exec_hvsock_parse_reply(const char *line, unsigned *ret_host_port)
{
	unsigned long hp = 0;
	const char *p;

	if (strncmp(line, "OK ", 3) != 0)
		return -ECONNREFUSED;
	/* Digits only: strtoul would take signs and spaces. */
	for (p = line + 3; *p >= '0' && *p <= '9'; p++) {
		hp = hp * 10 + (unsigned long)(*p - '0');
		if (hp > UINT32_MAX)
			return -EBADMSG;
	}
	if (p == line + 3 || *p != '\0')
		return -EBADMSG;
	if (ret_host_port)
		*ret_host_port = (unsigned)hp;
	return 0;
}

int exec_client_connect_hvsock(const char *uds_path, unsigned port, int timeout_ms, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	int r = exec_client_connect_unix(uds_path, &fd);

	if (r < 0)
		return r;
	r = exec_hvsock_handshake(fd, port, timeout_ms, NULL);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int exec_client_run(int fd, const exec_request_t *req, const exec_client_opts_t *opts,
		    exec_result_t *ret)
{
	int64_t deadline = opts && opts->timeout_ms > 0 ? now_ms() + opts->timeout_ms : -1;
	exec_call_t *call = NULL;
	int r;

	r = exec_call_new(req, opts, &call);
	if (r < 0)
		return r;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		const uint8_t *out;
		uint8_t buf[16384];
		size_t out_len;
		ssize_t n;

		exec_call_output(call, &out, &out_len);
		if (out_len)
			p.events |= POLLOUT;
		r = poll(&p, 1, left_ms(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			break;
		}
		if (r == 0) {
			r = -ETIMEDOUT;
			break;
		}
		if ((p.revents & POLLOUT) && out_len) {
			n = send(fd, out, out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				exec_call_output_done(call, (size_t)n);
			else if (n < 0 && errno == EPIPE)
				exec_call_output_done(call, out_len); /* it answered and closed: read that */
			else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				r = -errno;
				break;
			}
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		r = exec_call_feed(call, buf, (size_t)n);
		if (r == 1) {
			r = exec_call_take_result(call, ret);
			break;
		}
		if (r < 0)
			break;
	}
	exec_call_free(call);
	return r;
}
