/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-VM blob server; see blob-serve.h and docs/blob-protocol.md.
 *
 * A connection goes READ (request, request timeout) → WRITE (header, then
 * the blob in BUF_SIZE chunks, stall timeout reset on every progress) →
 * closed. The listener is switched off while max_connections are open, so
 * further guests wait in the kernel's backlog instead of costing fds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "blob-serve.h"
#include "util/list.h"
#include "util/macro.h"

#define BUF_SIZE (64 * 1024)
#define DEFAULT_MAX_CONNECTIONS 16
#define DEFAULT_REQUEST_TIMEOUT_MS 10000
#define DEFAULT_STALL_TIMEOUT_MS 30000

typedef struct conn conn_t;

struct blob_serve {
	sd_event *event;
	blob_store_t *store;
	blob_serve_opts_t opts;
	char *path;
	int listen_fd;
	sd_event_source *listen_src;
	conn_t *conns;
	unsigned nconns;
	char (*grants)[BLOB_HEX_LEN + 1];
	size_t ngrants, grants_cap;
	blob_serve_stats_t stats;
};

struct conn {
	blob_serve_t *srv;
	conn_t *prev, *next;
	int fd, file_fd;
	sd_event_source *io, *timer;
	bool writing;
	uint8_t req[BLOB_PROTO_REQUEST_MAX];
	size_t req_len;
	uint8_t hdr[BLOB_PROTO_HEADER_LEN];
	size_t hdr_off;
	uint64_t size, sent;
	uint8_t *buf; /* BUF_SIZE, while streaming */
	size_t buf_off, buf_len;
};

int blob_serve_parse_request(const void *buf, size_t len, char ret_hex[static BLOB_HEX_LEN + 1])
{
	static const char prefix[] = BLOB_REF_PREFIX;
	const uint8_t *p = buf;
	const size_t plen = sizeof(prefix) - 1;

	for (size_t i = 0; i < len && i < BLOB_PROTO_REQUEST_LEN; i++) {
		uint8_t c = p[i];
		if (i < plen) {
			if (c != (uint8_t)prefix[i])
				return -EBADMSG;
		} else if (i < plen + BLOB_HEX_LEN) {
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
				return -EBADMSG;
		} else if (c != '\n') {
			return -EBADMSG;
		}
	}
	if (len < BLOB_PROTO_REQUEST_LEN)
		return -EAGAIN;
	memcpy(ret_hex, p + plen, BLOB_HEX_LEN);
	ret_hex[BLOB_HEX_LEN] = '\0';
	return 0;
}

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void listener_update(blob_serve_t *s)
{
	if (s->listen_src)
		sd_event_source_set_enabled(s->listen_src,
					    s->nconns < s->opts.max_connections ? SD_EVENT_ON : SD_EVENT_OFF);
}

static void conn_free(conn_t *c)
{
	blob_serve_t *s = c->srv;

	LIST_REMOVE(s->conns, c);
	s->nconns--;
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->timer);
	safe_close(c->fd);
	safe_close(c->file_fd);
	free(c->buf);
	free(c);
	listener_update(s);
}

static int arm_timer(conn_t *c, unsigned ms)
{
	int r = sd_event_source_set_time(c->timer, now_usec() + (uint64_t)ms * 1000u);
	return r < 0 ? r : sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	conn_t *c = userdata;

	c->srv->stats.timed_out++;
	conn_free(c);
	return 0;
}

static bool blob_serve_granted(const blob_serve_t *s, const char *hex)
{
	for (size_t i = 0; i < s->ngrants; i++)
		if (memcmp(s->grants[i], hex, BLOB_HEX_LEN) == 0)
			return true;
	return false;
}

/* Decide the answer to a complete (or malformed) request; switch to WRITE. */
static int conn_answer(conn_t *c, int parse_r, const char *hex)
{
	blob_serve_t *s = c->srv;
	uint32_t status = BLOB_STATUS_OK;
	int r;

	if (parse_r < 0) {
		status = BLOB_STATUS_BAD_REQUEST;
	} else if (!blob_serve_granted(s, hex)) {
		status = BLOB_STATUS_UNAVAILABLE;
	} else {
		r = blob_open(s->store, hex, false, &c->file_fd, &c->size);
		if (r == -ENOENT)
			status = BLOB_STATUS_UNAVAILABLE;
		else if (r < 0)
			status = BLOB_STATUS_IO_ERROR;
		else if (!(c->buf = malloc(BUF_SIZE)))
			status = BLOB_STATUS_IO_ERROR;
	}
	if (status != BLOB_STATUS_OK) {
		c->file_fd = safe_close(c->file_fd);
		c->size = 0;
		s->stats.refused++;
	} else {
		s->stats.served++;
	}
	blob_proto_header_encode(c->hdr, status, c->size);
	c->writing = true;
	r = sd_event_source_set_io_events(c->io, EPOLLOUT);
	return r < 0 ? r : arm_timer(c, s->opts.stall_timeout_ms);
}

static int conn_read(conn_t *c)
{
	char hex[BLOB_HEX_LEN + 1];
	ssize_t n;
	int r;

	n = recv(c->fd, c->req + c->req_len, sizeof(c->req) - c->req_len, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET; /* gone before asking */
	c->req_len += (size_t)n;
	r = blob_serve_parse_request(c->req, c->req_len, hex);
	if (r == -EAGAIN)
		return c->req_len < sizeof(c->req) ? 0 : conn_answer(c, -EBADMSG, NULL);
	return conn_answer(c, r, hex);
}

/* Returns 1 when everything was sent, 0 to wait for EPOLLOUT, or -errno. */
static int conn_write(conn_t *c)
{
	for (unsigned rounds = 0; rounds < 16; rounds++) { /* then let other sources run */
		const void *p;
		size_t len;
		ssize_t n;

		if (c->hdr_off < sizeof(c->hdr)) {
			p = c->hdr + c->hdr_off;
			len = sizeof(c->hdr) - c->hdr_off;
		} else {
			if (c->buf_off == c->buf_len) {
				uint64_t left = c->size - c->sent;
				if (left == 0 || c->file_fd < 0)
					return 1;
				do
					n = pread(c->file_fd, c->buf, left < BUF_SIZE ? (size_t)left : BUF_SIZE,
						  (off_t)c->sent);
				while (n < 0 && errno == EINTR);
				if (n < 0)
					return -errno;
				if (n == 0)
					return -EIO; /* the file shrank: the guest sees a short blob */
				c->buf_off = 0;
				c->buf_len = (size_t)n;
			}
			p = c->buf + c->buf_off;
			len = c->buf_len - c->buf_off;
		}
		n = send(c->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (c->hdr_off < sizeof(c->hdr)) {
			c->hdr_off += (size_t)n;
		} else {
			c->buf_off += (size_t)n;
			c->sent += (uint64_t)n;
			c->srv->stats.bytes += (uint64_t)n;
		}
		int r = arm_timer(c, c->srv->opts.stall_timeout_ms);
		if (r < 0)
			return r;
	}
	return 0;
}

static int on_conn_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	conn_t *c = userdata;
	int r;

	if (!c->writing) {
		r = conn_read(c);
		if (r < 0)
			conn_free(c);
		return 0;
	}
	r = conn_write(c);
	if (r != 0)
		conn_free(c); /* done, or the guest went away */
	return 0;
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	blob_serve_t *s = userdata;
	conn_t *c;
	int cfd, r;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return 0; /* EAGAIN, or a connection that died in the backlog */
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return 0;
	}
	c->srv = s;
	c->fd = cfd;
	c->file_fd = -1;
	LIST_PREPEND(s->conns, c);
	s->nconns++;
	s->stats.accepted++;
	r = sd_event_add_io(s->event, &c->io, cfd, EPOLLIN, on_conn_io, c);
	if (r >= 0)
		r = sd_event_add_time(s->event, &c->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_timer, c);
	if (r >= 0)
		r = arm_timer(c, s->opts.request_timeout_ms);
	if (r < 0)
		conn_free(c);
	else
		listener_update(s);
	return 0;
}

int blob_serve_start_at(sd_event *e, blob_store_t *store, const char *socket_path,
			const blob_serve_opts_t *opts, blob_serve_t **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	blob_serve_t *s;
	int r;

	if (!e || !store || !socket_path || !ret)
		return -EINVAL;
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->listen_fd = -1;
	s->event = sd_event_ref(e);
	s->store = store;
	if (opts)
		s->opts = *opts;
	if (!s->opts.max_connections)
		s->opts.max_connections = DEFAULT_MAX_CONNECTIONS;
	if (!s->opts.request_timeout_ms)
		s->opts.request_timeout_ms = DEFAULT_REQUEST_TIMEOUT_MS;
	if (!s->opts.stall_timeout_ms)
		s->opts.stall_timeout_ms = DEFAULT_STALL_TIMEOUT_MS;
	s->path = strdup(socket_path);
	if (!s->path) {
		r = -ENOMEM;
		goto fail;
	}
	strcpy(sa.sun_path, socket_path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		r = -errno;
		goto fail;
	}
	(void)unlink(socket_path); /* a stale socket of an earlier run */
	if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s->listen_fd, 64) < 0) {
		r = -errno;
		goto fail;
	}
	r = sd_event_add_io(e, &s->listen_src, s->listen_fd, EPOLLIN, on_accept, s);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	if (s->listen_fd >= 0 && r != -EADDRINUSE)
		(void)unlink(socket_path);
	blob_serve_stop(s);
	return r;
}

int blob_serve_start(sd_event *e, blob_store_t *store, const char *vsock_path, const blob_serve_opts_t *opts,
		     blob_serve_t **ret)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];

	if (!vsock_path)
		return -EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "%s_%u", vsock_path, BLOB_PROTO_PORT) >= sizeof(path))
		return -ENAMETOOLONG;
	return blob_serve_start_at(e, store, path, opts, ret);
}

blob_serve_t *blob_serve_stop(blob_serve_t *s)
{
	if (!s)
		return NULL;
	while (s->conns)
		conn_free(s->conns);
	s->listen_src = sd_event_source_disable_unref(s->listen_src);
	if (s->listen_fd >= 0 && s->path)
		(void)unlink(s->path);
	safe_close(s->listen_fd);
	sd_event_unref(s->event);
	free(s->grants);
	free(s->path);
	free(s);
	return NULL;
}

int blob_serve_grant(blob_serve_t *s, const char *hex)
{
	if (!s || !hex || !blob_hex_is_valid(hex))
		return -EINVAL;
	if (blob_serve_granted(s, hex))
		return 0;
	if (s->ngrants >= BLOB_SERVE_MAX_GRANTS)
		return -ENOSPC;
	if (s->ngrants == s->grants_cap) {
		size_t cap = s->grants_cap ? s->grants_cap * 2 : 8;
		void *g = reallocarray(s->grants, cap, sizeof(*s->grants));
		if (!g)
			return -ENOMEM;
		s->grants = g;
		s->grants_cap = cap;
	}
	memcpy(s->grants[s->ngrants], hex, BLOB_HEX_LEN + 1);
	s->ngrants++;
	return 0;
}

unsigned blob_serve_connections(const blob_serve_t *s)
{
	return s->nconns;
}

void blob_serve_get_stats(const blob_serve_t *s, blob_serve_stats_t *ret)
{
	*ret = s->stats;
}

const char *blob_serve_path(const blob_serve_t *s)
{
	return s->path;
}
