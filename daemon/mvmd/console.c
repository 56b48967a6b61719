/* SPDX-License-Identifier: Apache-2.0 */
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/macro.h"

typedef struct client {
	console_t *console;
	int fd;
	sd_event_source *io;
	char *queue;
	size_t len, cap;
	struct client *next;
} client_t;

struct console {
	sd_event *event;
	console_config_t cfg;
	char *socket_path, *log_path, *log_old_path;
	int listen_fd;
	sd_event_source *listen_io;
	int log_fd;        /* open while in the cache below, else -1 */
	console_t *log_prev, *log_next;
	uint64_t log_size;
	client_t *clients;
	unsigned n_clients;
};

/*
 * The open console logs, most recently written first. A log is opened
 * when its console writes and stays open only while it is among the
 * CONSOLE_LOG_FDS_MAX most recent writers, so mvmd holds no fd for the
 * log of a VM that says nothing (docs/density.md): a chatty VM keeps its
 * fd, an idle one costs none. mvmd runs one event loop: one cache.
 */
#define CONSOLE_LOG_FDS_MAX 32u
static console_t *log_mru, *log_lru;
static unsigned log_n_open;

static void log_unlink(console_t *c)
{
	if (c->log_prev)
		c->log_prev->log_next = c->log_next;
	else if (log_mru == c)
		log_mru = c->log_next;
	if (c->log_next)
		c->log_next->log_prev = c->log_prev;
	else if (log_lru == c)
		log_lru = c->log_prev;
	c->log_prev = c->log_next = NULL;
}

static void log_close(console_t *c)
{
	if (c->log_fd < 0)
		return;
	log_unlink(c);
	c->log_fd = safe_close(c->log_fd);
	log_n_open--;
}

/* The log's fd, opened (created) if need be, now the most recent. */
static int log_open(console_t *c)
{
	struct stat st;

	if (c->log_fd >= 0) {
		log_unlink(c);
	} else {
		int fd = open(c->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return negative_errno();
		/* Its size again: it may have been rotated or removed while closed. */
		if (fstat(fd, &st) < 0) {
			int r = negative_errno();
			close(fd);
			return r;
		}
		while (log_n_open >= CONSOLE_LOG_FDS_MAX && log_lru)
			log_close(log_lru);
		c->log_fd = fd;
		c->log_size = (uint64_t)st.st_size;
		log_n_open++;
	}
	c->log_next = log_mru;
	if (log_mru)
		log_mru->log_prev = c;
	log_mru = c;
	if (!log_lru)
		log_lru = c;
	return c->log_fd;
}

static void client_free(client_t *cl)
{
	console_t *c = cl->console;

	for (client_t **p = &c->clients; *p; p = &(*p)->next)
		if (*p == cl) {
			*p = cl->next;
			c->n_clients--;
			break;
		}
	sd_event_source_disable_unref(cl->io);
	safe_close(cl->fd);
	free(cl->queue);
	free(cl);
}

static int client_flush(client_t *cl)
{
	while (cl->len) {
		ssize_t n = send(cl->fd, cl->queue, cl->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return negative_errno();
		}
		memmove(cl->queue, cl->queue + n, cl->len - (size_t)n);
		cl->len -= (size_t)n;
	}
	/* Watch for writability only while output is queued. */
	return sd_event_source_set_io_events(cl->io, cl->len ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static int client_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	client_t *cl = userdata;
	console_t *c = cl->console;

	if (revents & EPOLLIN) {
		char buf[4096];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_free(cl);
			return 0;
		}
		if (n > 0 && c->cfg.on_input)
			(void)c->cfg.on_input(buf, (size_t)n, c->cfg.userdata);
	}
	if (revents & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
		if (client_flush(cl) < 0 || (revents & (EPOLLHUP | EPOLLERR) && !(revents & EPOLLIN)))
			client_free(cl);
	}
	return 0;
}

int console_add_client(console_t *c, int cfd)
{
	int type = 0, fl;
	socklen_t len = sizeof(type);

	/* Only a stream socket is a console client: a worker hands these
	 * over, and what it hands over is not trusted further than that. */
	if (getsockopt(cfd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM ||
	    (fl = fcntl(cfd, F_GETFL)) < 0 || fcntl(cfd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(cfd);
		return -EBADF;
	}
	if (c->n_clients >= c->cfg.max_clients) {
		static const char msg[] = "mvmd: too many console clients\r\n";
		(void)!write(cfd, msg, sizeof(msg) - 1);
		close(cfd);
		return -EUSERS;
	}
	client_t *cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(cfd);
		return -ENOMEM;
	}
	cl->console = c;
	cl->fd = cfd;
	int r = sd_event_add_io(c->event, &cl->io, cfd, EPOLLIN, client_on_io, cl);
	if (r < 0) {
		close(cfd);
		free(cl);
		return r;
	}
	cl->next = c->clients;
	c->clients = cl;
	c->n_clients++;
	return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	console_t *c = userdata;

	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return 0; /* EAGAIN, or a transient error: try at the next event */
		(void)console_add_client(c, cfd);
	}
}

int console_listen(const char *path, bool socket_group, gid_t socket_gid, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	if (unlink(path) < 0 && errno != ENOENT)
		return negative_errno();
	/* Bind under a restrictive umask so the socket is never briefly open. */
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return negative_errno();
	/* The group first, then its access; no one connects before listen(). */
	if (socket_group && (chown(path, (uid_t)-1, socket_gid) < 0 || chmod(path, 0660) < 0)) {
		r = negative_errno();
		unlink(path);
		return r;
	}
	if (listen(fd, 16) < 0)
		return negative_errno();
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int console_listen_at(console_t *c, const char *socket_path)
{
	int r;

	if (c->listen_fd >= 0)
		return -EALREADY;
	c->socket_path = strdup(socket_path);
	if (!c->socket_path)
		return -ENOMEM;
	r = console_listen(c->socket_path, c->cfg.socket_group, c->cfg.socket_gid, &c->listen_fd);
	if (r < 0)
		return r;
	return sd_event_add_io(c->event, &c->listen_io, c->listen_fd, EPOLLIN, on_accept, c);
}

int console_new(sd_event *e, const console_config_t *cfg, console_t **ret)
{
	console_t *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->event = sd_event_ref(e);
	c->cfg = *cfg;
	c->cfg.socket_path = NULL; /* c->socket_path once it listens */
	c->listen_fd = c->log_fd = -1;
	if (!c->cfg.log_max_bytes)
		c->cfg.log_max_bytes = 4u << 20;
	if (!c->cfg.client_queue_max)
		c->cfg.client_queue_max = 1u << 20;
	if (!c->cfg.max_clients)
		c->cfg.max_clients = 16;
	c->log_path = strdup(cfg->log_path);
	if (!c->log_path || asprintf(&c->log_old_path, "%s.1", cfg->log_path) < 0) {
		c->log_old_path = NULL;
		r = -ENOMEM;
		goto fail;
	}
	/* Made now (an empty log is a log), and its size learnt. */
	r = log_open(c);
	if (r < 0)
		goto fail;
	if (cfg->socket_path) {
		r = console_listen_at(c, cfg->socket_path);
		if (r < 0)
			goto fail;
	}
	*ret = c;
	return 0;
fail:
	console_free(c);
	return r;
}

console_t *console_free(console_t *c)
{
	if (!c)
		return NULL;
	while (c->clients)
		client_free(c->clients);
	sd_event_source_disable_unref(c->listen_io);
	if (c->listen_fd >= 0) {
		safe_close(c->listen_fd);
		unlink(c->socket_path);
	}
	log_close(c);
	sd_event_unref(c->event);
	free(c->socket_path);
	free(c->log_path);
	free(c->log_old_path);
	free(c);
	return NULL;
}

unsigned console_n_clients(const console_t *c)
{
	return c->n_clients;
}

static void log_rotate(console_t *c)
{
	if (rename(c->log_path, c->log_old_path) < 0)
		return; /* keep appending; the cap is then exceeded, not the disk */
	/* The next write opens (creates) LOG anew. */
	log_close(c);
	c->log_size = 0;
}

static void log_append(console_t *c, const char *buf, size_t len)
{
	uint64_t half = c->cfg.log_max_bytes / 2;

	while (len) {
		int fd = log_open(c);
		if (fd < 0)
			return; /* no log (no fd, no disk): the output is lost, never guest progress */
		if (c->log_size >= half) {
			log_rotate(c);
			if ((fd = log_open(c)) < 0)
				return;
		}
		size_t chunk = len;
		if (c->log_size < half && chunk > half - c->log_size)
			chunk = (size_t)(half - c->log_size);
		ssize_t n = write(fd, buf, chunk);
		if (n <= 0)
			return; /* a full disk loses log output, never guest progress */
		c->log_size += (uint64_t)n;
		buf += n;
		len -= (size_t)n;
	}
}

int console_output(console_t *c, const void *buf, size_t len)
{
	log_append(c, buf, len);

	for (client_t *cl = c->clients, *next; cl; cl = next) {
		next = cl->next;
		if (cl->len + len > c->cfg.client_queue_max) {
			/* A client that does not read cannot hold the guest back. */
			client_free(cl);
			continue;
		}
		if (cl->len + len > cl->cap) {
			size_t nc = MAX(cl->cap * 2, cl->len + len);
			char *q = realloc(cl->queue, nc);
			if (!q) {
				client_free(cl);
				continue;
			}
			cl->queue = q;
			cl->cap = nc;
		}
		memcpy(cl->queue + cl->len, buf, len);
		cl->len += len;
		if (client_flush(cl) < 0)
			client_free(cl);
	}
	return 0;
}

static int read_tail(const char *path, uint64_t want, char *dst, size_t *io_len, uint64_t *io_size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;

	if (fd < 0)
		return errno == ENOENT ? 0 : negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	*io_size += (uint64_t)st.st_size;
	uint64_t take = MIN(want, (uint64_t)st.st_size);
	ssize_t n = pread(fd, dst + *io_len, (size_t)take, st.st_size - (off_t)take);
	if (n < 0)
		return negative_errno();
	*io_len += (size_t)n;
	return 1;
}

int console_log_read(const char *log_path, uint64_t tail, char **ret_data, size_t *ret_len, uint64_t *ret_size)
{
	_cleanup_free_ char *old = NULL, *buf = NULL;
	struct stat st_new, st_old;
	uint64_t size_new = 0, size_old = 0, size = 0;
	size_t len = 0;
	int r;

	if (asprintf(&old, "%s.1", log_path) < 0)
		return -ENOMEM;
	if (stat(log_path, &st_new) == 0)
		size_new = (uint64_t)st_new.st_size;
	else if (errno != ENOENT)
		return negative_errno();
	if (stat(old, &st_old) == 0)
		size_old = (uint64_t)st_old.st_size;
	if (!size_new && !size_old && access(log_path, F_OK) < 0)
		return -ENOENT;

	/* The newest bytes are at the end of LOG; older ones at the end of LOG.1. */
	uint64_t from_new = MIN(tail, size_new), from_old = MIN(tail - from_new, size_old);
	buf = malloc((size_t)(from_new + from_old) + 1);
	if (!buf)
		return -ENOMEM;
	if (from_old) {
		r = read_tail(old, from_old, buf, &len, &size);
		if (r < 0)
			return r;
	} else {
		size += size_old;
	}
	r = read_tail(log_path, from_new, buf, &len, &size);
	if (r < 0)
		return r;
	buf[len] = '\0';
	*ret_data = TAKE_PTR(buf);
	*ret_len = len;
	if (ret_size)
		*ret_size = size;
	return 0;
}
