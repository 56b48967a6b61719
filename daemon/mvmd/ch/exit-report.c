/* SPDX-License-Identifier: Apache-2.0 */
#include "ch/exit-report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/macro.h"

struct ch_exit_report {
	char *path;
	int listen_fd, conn_fd;
	sd_event_source *listen_src, *conn_src;
	char buf[CH_EXIT_REPORT_MAX];
	size_t len;
	ch_exit_report_fn fn;
	void *userdata;
};

int ch_exit_report_parse(const char *buf, size_t len, int *ret_code)
{
	static const char prefix[] = "exit_code ";
	size_t p = sizeof(prefix) - 1;
	int code = 0;

	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len <= p || len > p + 3 || memcmp(buf, prefix, p) != 0)
		return -EBADMSG;
	if (buf[p] == '0' && len > p + 1)
		return -EBADMSG;
	for (size_t i = p; i < len; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -EBADMSG;
		code = code * 10 + (buf[i] - '0');
	}
	if (code > 255)
		return -EBADMSG;
	*ret_code = code;
	return 0;
}

static void conn_close(ch_exit_report_t *r)
{
	r->conn_src = sd_event_source_disable_unref(r->conn_src);
	r->conn_fd = safe_close(r->conn_fd);
	r->len = 0;
}

static int on_conn(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	ch_exit_report_t *r = userdata;
	ssize_t n = read(fd, r->buf + r->len, sizeof(r->buf) - r->len);
	int code;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n > 0) {
		r->len += (size_t)n;
		if (!memchr(r->buf, '\n', r->len) && r->len < sizeof(r->buf))
			return 0;
	}
	/* A line, the end, an error or too much: judge what came. */
	if (r->len && ch_exit_report_parse(r->buf, r->len, &code) == 0)
		r->fn(code, r->userdata);
	conn_close(r);
	return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	ch_exit_report_t *r = userdata;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (c < 0)
		return 0;
	conn_close(r);
	if (sd_event_add_io(sd_event_source_get_event(s), &r->conn_src, c, EPOLLIN, on_conn, r) < 0) {
		close(c);
		return 0;
	}
	/* Before the pidfd's exit: a guest reports, then powers off at once. */
	sd_event_source_set_priority(r->conn_src, -10);
	r->conn_fd = c;
	return 0;
}

ch_exit_report_t *ch_exit_report_stop(ch_exit_report_t *r)
{
	if (!r)
		return NULL;
	conn_close(r);
	sd_event_source_disable_unref(r->listen_src);
	if (r->listen_fd >= 0) {
		close(r->listen_fd);
		unlink(r->path);
	}
	free(r->path);
	free(r);
	return NULL;
}

int ch_exit_report_start(sd_event *e, const char *path, ch_exit_report_fn fn, void *userdata,
			 ch_exit_report_t **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	ch_exit_report_t *r;
	int err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->listen_fd = r->conn_fd = -1;
	r->fn = fn;
	r->userdata = userdata;
	r->path = strdup(path);
	if (!r->path) {
		ch_exit_report_stop(r);
		return -ENOMEM;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	r->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->listen_fd < 0 || bind(r->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(r->listen_fd, 4) < 0) {
		err = negative_errno();
		if (r->listen_fd >= 0)
			close(r->listen_fd);
		r->listen_fd = -1;
		ch_exit_report_stop(r);
		return err;
	}
	err = sd_event_add_io(e, &r->listen_src, r->listen_fd, EPOLLIN, on_accept, r);
	if (err < 0) {
		ch_exit_report_stop(r);
		return err;
	}
	sd_event_source_set_priority(r->listen_src, -10);
	*ret = r;
	return 0;
}
