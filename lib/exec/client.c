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

#include "exec/client.h"
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
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

void exec_result_clear(exec_result_t *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

static int append(uint8_t **buf, size_t *len, size_t cap, const uint8_t *p, size_t n, bool *trunc)
{
	uint8_t *b;

	if (*len + n > cap) {
		*trunc = true;
		n = cap - *len;
	}
	b = realloc(*buf, *len + n + 1);
	if (!b)
		return -ENOMEM;
	memcpy(b + *len, p, n);
	*len += n;
	b[*len] = '\0';
	*buf = b;
	return 0;
}

/* Everything the host sends, encoded up front. */
static int build_outgoing(const exec_request_t *req, const exec_client_opts_t *o, uint8_t **ret,
			  size_t *ret_len)
{
	int n = exec_request_encoded_size(req);
	size_t chunks = 0, total;
	uint8_t *b;

	if (n < 0)
		return n;
	if (req->stdin_mode == EXEC_STDIN_STREAM)
		chunks = (o->stream_stdin_len + EXEC_MAX_DATA - 1) / EXEC_MAX_DATA + 1;
	total = (size_t)n + chunks * EXEC_FRAME_HEADER_SIZE + o->stream_stdin_len;
	b = malloc(total);
	if (!b)
		return -ENOMEM;
	n = exec_encode_request(b, total, req);
	if (n < 0) {
		free(b);
		return n;
	}
	size_t off = (size_t)n;
	if (req->stdin_mode == EXEC_STDIN_STREAM) {
		const uint8_t *s = o->stream_stdin;
		for (size_t left = o->stream_stdin_len; left;) {
			size_t k = MIN(left, (size_t)EXEC_MAX_DATA);
			off += (size_t)exec_encode_data(b + off, total - off, EXEC_FRAME_STDIN_DATA, s, k);
			s += k;
			left -= k;
		}
		off += (size_t)exec_encode_data(b + off, total - off, EXEC_FRAME_STDIN_EOF, NULL, 0);
	}
	*ret = b;
	*ret_len = off;
	return 0;
}

static int handle_frame(const exec_frame_t *f, size_t cap, exec_result_t *res)
{
	exec_exit_t ex;
	exec_str_t msg;
	int r;

	switch (f->type) {
	case EXEC_FRAME_STDOUT:
		return append(&res->out, &res->out_len, cap, f->payload, f->len, &res->truncated);
	case EXEC_FRAME_STDERR:
		return append(&res->err, &res->err_len, cap, f->payload, f->len, &res->truncated);
	case EXEC_FRAME_EXIT:
		if ((r = exec_parse_exit(f->payload, f->len, &ex)) < 0)
			return r;
		res->exited = true;
		res->kind = ex.kind;
		res->value = ex.value;
		res->timed_out = ex.flags & EXEC_EXIT_FLAG_TIMED_OUT;
		return 1;
	case EXEC_FRAME_ERROR:
		if ((r = exec_parse_error(f->payload, f->len, &res->error_code, &msg)) < 0)
			return r;
		memcpy(res->error_message, msg.ptr, msg.len);
		res->error_message[msg.len] = '\0';
		return 1;
	default:
		return -EBADMSG; /* a host-bound frame type from the guest */
	}
}

int exec_client_run(int fd, const exec_request_t *req, const exec_client_opts_t *opts,
		    exec_result_t *ret)
{
	static const exec_client_opts_t defaults = { 0 };
	const exec_client_opts_t *o = opts ? opts : &defaults;
	size_t cap = o->output_cap ? o->output_cap : 1024 * 1024;
	int64_t deadline = o->timeout_ms > 0 ? now_ms() + o->timeout_ms : -1;
	_cleanup_free_ uint8_t *outgoing = NULL, *dbuf = NULL;
	size_t out_len = 0, out_off = 0;
	exec_result_t res = { 0 };
	exec_decoder_t dec;
	int r;

	r = build_outgoing(req, o, &outgoing, &out_len);
	if (r < 0)
		return r;
	dbuf = malloc(EXEC_MAX_PAYLOAD);
	if (!dbuf)
		return -ENOMEM;
	exec_decoder_init(&dec, dbuf, EXEC_MAX_PAYLOAD);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint8_t buf[16384];
		ssize_t n;

		if (out_off < out_len)
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
		if ((p.revents & POLLOUT) && out_off < out_len) {
			n = send(fd, outgoing + out_off, out_len - out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				out_off += (size_t)n;
			else if (n < 0 && errno == EPIPE)
				out_off = out_len; /* the agent answered and closed; read that */
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
			r = errno == ECONNRESET ? -ECONNRESET : -errno;
			break;
		}
		if (n == 0) {
			r = -ECONNRESET;
			break;
		}
		for (size_t off = 0, used; off < (size_t)n; off += used) {
			exec_frame_t f;
			r = exec_decoder_feed(&dec, buf + off, (size_t)n - off, &used, &f);
			if (r < 0)
				r = -EBADMSG;
			else if (r == 1)
				r = handle_frame(&f, cap, &res);
			if (r != 0)
				break;
		}
		if (r == 1) {
			*ret = res;
			return 0;
		}
		if (r < 0)
			break;
	}
	exec_result_clear(&res);
	return r;
}
