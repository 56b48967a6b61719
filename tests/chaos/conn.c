/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Line-delimited JSON-RPC connections for the chaos driver. Unlike the
 * Check helpers of tests/lib/mvmtest.c, nothing here fails a test: a
 * daemon killed in the middle of a request is the point of the campaign,
 * so EOF and timeouts are answers the caller looks at.
 */
#include "chaos.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int conn_open(chaos_conn_t *k, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	*k = (chaos_conn_t){ .fd = -1 };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	k->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (k->fd < 0)
		return -errno;
	/* A non-blocking connect to a Unix socket completes or fails at once
	 * (EAGAIN: the backlog is full). */
	if (connect(k->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(k->fd);
		k->fd = -1;
		return r;
	}
	return 0;
}

void conn_close(chaos_conn_t *k)
{
	if (k->fd >= 0)
		close(k->fd);
	free(k->buf);
	*k = (chaos_conn_t){ .fd = -1 };
}

int conn_fill(chaos_conn_t *k, int timeout_ms)
{
	char tmp[65536];
	bool got = false;

	if (k->fd < 0 || k->eof)
		return -1;
	for (;;) {
		ssize_t n = read(k->fd, tmp, sizeof(tmp));
		if (n > 0) {
			char *nb = realloc(k->buf, k->len + (size_t)n + 1);
			if (!nb)
				return -1;
			k->buf = nb;
			memcpy(k->buf + k->len, tmp, (size_t)n);
			k->len += (size_t)n;
			got = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || errno != EAGAIN) {
			k->eof = true;
			return got ? 1 : -1;
		}
		if (got || timeout_ms <= 0)
			return got;
		struct pollfd p = { .fd = k->fd, .events = POLLIN };
		if (poll(&p, 1, timeout_ms) <= 0)
			return 0;
		timeout_ms = 0; /* read what arrived, then return */
	}
}

json_object *conn_next(chaos_conn_t *k)
{
	char *nl = k->len ? memchr(k->buf, '\n', k->len) : NULL;

	if (!nl)
		return NULL;
	*nl = '\0';
	json_object *o = json_tokener_parse(k->buf);
	if (!o)
		o = json_object_new_string(k->buf);
	size_t used = (size_t)(nl - k->buf) + 1;
	memmove(k->buf, nl + 1, k->len - used);
	k->len -= used;
	return o;
}

int conn_send(chaos_conn_t *k, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(k->fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = k->fd, .events = POLLOUT };
			if (poll(&p, 1, 10000) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

json_object *conn_call(chaos_conn_t *k, const char *method, const char *params, int timeout_ms)
{
	static int next_id = 1;
	char *line = NULL;
	int id = next_id++, n;

	n = params ? asprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\",\"params\":%s}\n", id, method, params)
		   : asprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"}\n", id, method);
	if (n < 0)
		return NULL;
	int r = conn_send(k, line, (size_t)n);
	free(line);
	if (r < 0)
		return NULL;
	long long deadline = chaos_now_ms() + timeout_ms;
	for (;;) {
		json_object *o;
		while ((o = conn_next(k))) {
			json_object *v;
			if (json_object_object_get_ex(o, "id", &v) && json_object_get_int(v) == id)
				return o;
			json_object_put(o); /* a notification or a stale answer */
		}
		long long left = deadline - chaos_now_ms();
		if (left <= 0 || conn_fill(k, (int)left) < 0)
			return NULL;
	}
}

json_object *json_at(json_object *o, const char *dotted)
{
	char key[64];
	const char *p = dotted;

	while (o && *p) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &o))
			return NULL;
		p += n;
		if (*p == '.')
			p++;
	}
	return o;
}

const char *json_str_at(json_object *o, const char *dotted)
{
	json_object *v = json_at(o, dotted);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}
