/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's side of connections coming and going: listeners, accepting
 * with the client cap (and refusing over it), lingering on refused
 * sockets, and the sweep timer that applies the connection timeouts.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include "rpc-internal.h"
#include "util/log.h"

/* --- listeners ---------------------------------------------------------------- */

static void server_listeners_enable(rpc_server_t *s, int enabled)
{
	for (size_t i = 0; i < s->n_listeners; i++)
		sd_event_source_set_enabled(s->listeners[i].io, enabled);
}

static int server_on_accept_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	server_listeners_enable(userdata, SD_EVENT_ON);
	return 0;
}

/* Reads and discards what a refused client sent; true once it is done
 * (EOF or an error). */
static bool linger_drain(int fd)
{
	char buf[4096];
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
		if (n < 0 && errno == EAGAIN)
			return false;
	}
	return false;
}

static void linger_close(rpc_server_t *s, unsigned i)
{
	sd_event_source_disable_unref(s->lingers[i].io);
	safe_close(s->lingers[i].fd);
	s->lingers[i] = s->lingers[--s->n_lingers];
}

static int server_on_linger(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	rpc_server_t *s = userdata;
	for (unsigned i = 0; i < s->n_lingers; i++)
		if (s->lingers[i].fd == fd) {
			if (linger_drain(fd))
				linger_close(s, i);
			break;
		}
	return 0;
}

/* Over the cap the connection is accepted, told why in one error line,
 * and closed: a client learns the reason at once instead of hanging in
 * the listen backlog. Closing a socket with unread input resets it, and
 * the client would see ECONNRESET where it expects its answer: so the
 * server stops writing (the client reads the line, then EOF) and drains
 * what the client sends until it closes, for a short while. */
static void server_reject(rpc_server_t *s, int fd)
{
	json_object *d = rpc_error_data("too many connections");
	if (d)
		json_object_object_add(d, "limit", json_object_new_int64(s->limits.max_clients));
	size_t len;
	char *line = rpc_response_error(NULL, 0, RPC_ERROR_RESOURCE_LIMIT, NULL, d, &len);
	if (line) {
		line[len] = '\n'; /* replaces the NUL: sent with its length */
		(void)!send(fd, line, len + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	free(line);
	s->n_rejected++;
	(void)shutdown(fd, SHUT_WR);
	if (linger_drain(fd) || s->n_lingers >= RPC_LINGER_MAX) {
		safe_close(fd);
		return;
	}
	struct rpc_linger *l = &s->lingers[s->n_lingers];
	if (sd_event_add_io(s->event, &l->io, fd, EPOLLIN, server_on_linger, s) < 0) {
		safe_close(fd);
		return;
	}
	uint64_t now = 0;
	(void)sd_event_now(s->event, CLOCK_MONOTONIC, &now);
	l->fd = fd;
	l->deadline = now + RPC_LINGER_USEC;
	s->n_lingers++;
	rpc_server_sweep_update(s);
}

/* --- timeouts ---------------------------------------------------------------- */

static bool server_has_timeouts(rpc_server_t *s)
{
	return s->limits.idle_timeout_usec || s->limits.line_timeout_usec || s->limits.send_timeout_usec;
}

/* A quarter of the shortest timeout, within 10 ms..1 s: a connection
 * goes at most that much after its time. */
static uint64_t server_sweep_interval(rpc_server_t *s)
{
	uint64_t m = RPC_LINGER_USEC;
	const uint64_t t[] = { s->limits.idle_timeout_usec, s->limits.line_timeout_usec, s->limits.send_timeout_usec };
	for (size_t i = 0; i < ELEMENTSOF(t); i++)
		if (t[i])
			m = MIN(m, t[i]);
	return MIN(MAX(m / 4, 10 * 1000ull), RPC_USEC_PER_SEC);
}

static int server_on_sweep(sd_event_source *src, uint64_t usec, void *userdata)
{
	rpc_server_t *s = userdata;
	uint64_t now = 0;

	(void)sd_event_now(s->event, CLOCK_MONOTONIC, &now);
	/* Sweeping closes from the loop (close_later): the list stays. */
	for (rpc_conn_t *c = s->conns; c; c = c->next)
		rpc_conn_sweep(c, now);
	for (unsigned i = s->n_lingers; i > 0; i--)
		if (now >= s->lingers[i - 1].deadline)
			linger_close(s, i - 1);
	rpc_server_sweep_update(s);
	return 0;
}

void rpc_server_sweep_update(rpc_server_t *s)
{
	bool need = s->n_lingers > 0 || (s->n_conns > 0 && server_has_timeouts(s));
	int enabled = SD_EVENT_OFF;
	uint64_t interval = server_sweep_interval(s);

	if (!need) {
		if (s->sweep)
			sd_event_source_set_enabled(s->sweep, SD_EVENT_OFF);
		return;
	}
	if (!s->sweep) {
		if (sd_event_add_time_relative(s->event, &s->sweep, CLOCK_MONOTONIC, interval, interval / 8,
					       server_on_sweep, s) < 0)
			log_warning("rpc: cannot arm the connection timeouts");
		return;
	}
	/* From inside server_on_sweep the source is off (one-shot) again. */
	if (sd_event_source_get_enabled(s->sweep, &enabled) >= 0 && enabled != SD_EVENT_OFF)
		return;
	sd_event_source_set_time_relative(s->sweep, interval);
	sd_event_source_set_enabled(s->sweep, SD_EVENT_ONESHOT);
}

static int server_on_listener(sd_event_source *src, int lfd, uint32_t revents, void *userdata)
{
	rpc_server_t *s = userdata;

	for (int i = 0; i < 32; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				return 0;
			/* Out of fds or memory: pause accepting for a moment
			 * rather than spin on a listener we cannot drain. */
			log_warning_errno(errno, "rpc: accept failed: %m; pausing for 100ms");
			server_listeners_enable(s, SD_EVENT_OFF);
			if (!s->accept_retry)
				sd_event_add_time_relative(s->event, &s->accept_retry, CLOCK_MONOTONIC, 100 * 1000, 0,
							   server_on_accept_retry, s);
			else {
				sd_event_source_set_time_relative(s->accept_retry, 100 * 1000);
				sd_event_source_set_enabled(s->accept_retry, SD_EVENT_ONESHOT);
			}
			return 0;
		}
		if (s->n_conns >= s->limits.max_clients) {
			log_warning("rpc: connection refused: %u clients already connected", s->n_conns);
			server_reject(s, fd);
			continue;
		}
		int r = rpc_conn_new(s, fd, NULL);
		if (r < 0)
			log_warning_errno(r, "rpc: cannot set up connection: %m");
	}
	return 0;
}

int rpc_server_add_listener(rpc_server_t *s, int fd)
{
	_cleanup_close_ int owned = fd;
	int fl = fcntl(fd, F_GETFL);

	/* The accept loop runs until EAGAIN: a blocking listener (as systemd
	 * passes them) would stall the whole event loop on the second accept. */
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return -errno;
	void *v = realloc(s->listeners, (s->n_listeners + 1) * sizeof(*s->listeners));
	if (!v)
		return -ENOMEM;
	s->listeners = v;
	struct rpc_listener *l = &s->listeners[s->n_listeners];
	int r = sd_event_add_io(s->event, &l->io, fd, EPOLLIN, server_on_listener, s);
	if (r < 0)
		return r;
	l->fd = TAKE_FD(owned);
	s->n_listeners++;
	return 0;
}

void rpc_server_accept_free(rpc_server_t *s)
{
	for (size_t i = 0; i < s->n_listeners; i++) {
		sd_event_source_disable_unref(s->listeners[i].io);
		safe_close(s->listeners[i].fd);
	}
	free(s->listeners);
	s->listeners = NULL;
	s->n_listeners = 0;
	while (s->n_lingers)
		linger_close(s, s->n_lingers - 1);
	s->sweep = sd_event_source_disable_unref(s->sweep);
	s->accept_retry = sd_event_source_disable_unref(s->accept_retry);
}
