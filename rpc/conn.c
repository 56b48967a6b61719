/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One client connection: line framing on the input side, the output queue
 * on the other, and the flow control between them.
 *
 * Flow control: a connection is read only while its output queue is below
 * max_output_bytes and fewer than max_pending of its lines are unanswered;
 * otherwise its input stays in the kernel (the client's writes block) and
 * the lines already buffered wait. EPOLLOUT is watched only while output is
 * queued. A line longer than max_request_bytes is answered with -32008 and
 * the connection closed without reading the rest.
 *
 * Memory: the output held for a client (its queue's buffer, counted by
 * its size, not only by the bytes still in it, and the finished answers
 * of a batch still waiting for its other members) is counted against
 * the client's max_queue_bytes and the node's max_total_output_bytes
 * (rpc_conn_hold). The buffer follows the bytes both ways: it keeps
 * little slack as it grows, shrinks as a slow client takes a big answer,
 * and is no longer counted once empty (a small one is kept). Stopping to read a client bounds
 * what it can ask for, not what it is owed: one answer can be megabytes,
 * and a client that never reads would keep it for ever. So over its own
 * cap a client is disconnected, and over the node's the clients whose
 * output has waited longest go first: those are the ones not reading.
 *
 * Timeouts (checked by the server's sweep, rpc_conn_sweep): a connection
 * that does nothing holds one of max_clients slots, so an idle one is
 * closed, one stuck in the middle of a request line is answered -32006
 * and closed, and one that takes none of its output is disconnected.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include "rpc-internal.h"
#include "util/list.h"
#include "util/log.h"

#define CONN_IN_MIN (16 * 1024)
/* What an output buffer may keep beyond the bytes queued in it. */
#define CONN_OUT_SLACK (64 * 1024)
/* An empty output buffer up to this size is kept (not counted). */
#define CONN_OUT_KEEP (2 * CONN_IN_MIN)

static uint64_t conn_now(rpc_server_t *s)
{
	uint64_t t = 0;
	(void)sd_event_now(s->event, CLOCK_MONOTONIC, &t);
	return t;
}

static void conn_free(rpc_conn_t *c)
{
	free(c->in);
	free(c->out);
	free(c->hooks);
	free(c);
}

rpc_conn_t *rpc_conn_ref(rpc_conn_t *c)
{
	if (c)
		c->n_ref++;
	return c;
}

rpc_conn_t *rpc_conn_unref(rpc_conn_t *c)
{
	if (c && --c->n_ref == 0)
		conn_free(c);
	return NULL;
}

bool rpc_conn_is_open(rpc_conn_t *c)
{
	return c && !c->closed && !c->dying;
}

const struct ucred *rpc_conn_peer(rpc_conn_t *c)
{
	return &c->peer;
}

static bool conn_blocked(rpc_conn_t *c)
{
	rpc_server_t *s = c->server;
	return c->out_len - c->out_start > s->limits.max_output_bytes || c->n_pending >= s->limits.max_pending;
}

/* A complete request line is buffered, not handled yet. */
static bool conn_has_line(rpc_conn_t *c)
{
	return c->in_len > c->in_start && memchr(c->in + c->in_start, '\n', c->in_len - c->in_start);
}

static void conn_update_events(rpc_conn_t *c)
{
	if (c->closed || c->dying)
		return;
	uint32_t ev = 0;
	if (!c->eof && !c->too_large && !conn_blocked(c))
		ev |= EPOLLIN;
	if (c->out_len > c->out_start)
		ev |= EPOLLOUT;
	/* After the client's end of file, calls still to answer and nothing
	 * else to read: a half-close (shutdown(SHUT_WR), as socat does)
	 * still wants the answers, a client that closed its socket does
	 * not. Epoll reports that hang-up (EPOLLHUP: both directions shut)
	 * with no events asked; conn_on_io then closes, and the calls'
	 * close hooks cancel what they were doing for it (an exec). */
	bool hangup_watch = c->eof && c->n_pending > 0 && !conn_has_line(c);
	if (ev || hangup_watch) {
		sd_event_source_set_io_events(c->io, ev);
		sd_event_source_set_enabled(c->io, SD_EVENT_ON);
	} else
		sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
}

/* Drops everything held for output: the queue and the finished answers
 * of batches still open (those will never be sent). */
static void conn_discard_output(rpc_conn_t *c)
{
	rpc_reply_detach_all(c);
	if (c->server)
		c->server->out_held -= c->held;
	c->held = 0;
	c->out_counted = 0;
	free(c->out);
	c->out = NULL;
	c->out_start = c->out_len = c->out_alloc = 0;
}

/* The queue is empty: its buffer is no longer counted, so what a client
 * holds is what it has not taken yet. A small one is kept for the next
 * answer (freeing and making it again for every answer cost about a
 * sixth of the read throughput in bench/load.sh); a big one goes. */
static void conn_out_release(rpc_conn_t *c)
{
	rpc_conn_unhold(c, c->out_counted);
	c->out_counted = 0;
	c->out_start = c->out_len = 0;
	if (c->out_alloc > CONN_OUT_KEEP || c->out_alloc > c->server->limits.max_queue_bytes / 4) {
		free(c->out);
		c->out = NULL;
		c->out_alloc = 0;
	}
}

void rpc_conn_close(rpc_conn_t *c)
{
	rpc_server_t *s = c->server;

	if (c->closed)
		return;
	c->closed = true;
	rpc_conn_ref(c);
	c->io = sd_event_source_disable_unref(c->io);
	c->defer = sd_event_source_disable_unref(c->defer);
	c->fd = safe_close(c->fd);
	conn_discard_output(c);
	/* While a line is being dispatched its text (ids, a batch's other
	 * members) lives in c->in: a handler closing the connection must not
	 * pull it away. conn_free() releases it then. */
	if (!c->processing) {
		free(c->in);
		c->in = NULL;
		c->in_start = c->in_len = c->in_alloc = c->in_scan = 0;
	}

	log_debug("rpc: connection %" PRIu64 " closed", c->id);

	/* Hooks may add or remove hooks or drop references: run a copy. */
	rpc_hook_t *hooks = TAKE_PTR(c->hooks);
	size_t n = c->n_hooks;
	c->n_hooks = 0;
	for (size_t i = 0; i < n; i++)
		hooks[i].fn(c, hooks[i].userdata);
	free(hooks);

	LIST_REMOVE(s->conns, c);
	s->n_conns--;
	rpc_server_sweep_update(s);
	c->server = NULL;
	c->n_ref--; /* the server's; ours (above) keeps it above zero */
	rpc_conn_unref(c);
}

/* Sends what can be sent now. Returns -EPIPE on a dead peer: the caller
 * closes. */
static int conn_flush(rpc_conn_t *c)
{
	while (c->out_len > c->out_start) {
		ssize_t n = send(c->fd, c->out + c->out_start, c->out_len - c->out_start, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			log_debug_errno(errno, "rpc: connection %" PRIu64 ": write failed: %m", c->id);
			return -EPIPE;
		}
		c->out_start += (size_t)n;
		c->out_usec = c->active_usec = conn_now(c->server);
	}
	size_t left = c->out_len - c->out_start;
	if (left == 0) {
		conn_out_release(c);
	} else if (c->out_start >= c->out_alloc / 4 && c->out_alloc - left > 2 * CONN_OUT_SLACK) {
		/* A big answer partly taken: give back what the client took
		 * (each move is paid for by the quarter sent before it). */
		memmove(c->out, c->out + c->out_start, left);
		c->out_start = 0;
		c->out_len = left;
		char *v = realloc(c->out, left + CONN_OUT_SLACK);
		if (v) {
			rpc_conn_unhold(c, c->out_counted - (left + CONN_OUT_SLACK));
			c->out = v;
			c->out_alloc = c->out_counted = left + CONN_OUT_SLACK;
		}
	}
	return 0;
}

/* Closes from the event loop instead of now. Used where the close is
 * caused by an API call a handler made (an answer or a notification that
 * cannot be written): close hooks then never run, and free things, under
 * the feet of that handler. Output is dropped at once. */
void rpc_conn_close_later(rpc_conn_t *c)
{
	if (c->closed || c->dying)
		return;
	c->dying = true;
	conn_discard_output(c);
	sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
	sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT);
}

/* Closes c from the loop because a limit or a timeout says so. */
static void conn_drop(rpc_conn_t *c)
{
	c->server->n_dropped++;
	rpc_conn_close_later(c);
}

/* The client whose held output has waited longest: the one least
 * likely to be reading. (An order, not a time: the loop's clock is the
 * same for everything one iteration does.) */
static rpc_conn_t *conn_slowest(rpc_server_t *s)
{
	rpc_conn_t *worst = NULL;
	for (rpc_conn_t *c = s->conns; c; c = c->next)
		if (c->held && !c->dying && (!worst || c->queued_seq < worst->queued_seq))
			worst = c;
	return worst;
}

int rpc_conn_hold(rpc_conn_t *c, size_t n)
{
	rpc_server_t *s = c->server;

	if (c->closed || c->dying)
		return -EPIPE;
	if (n > s->limits.max_queue_bytes - MIN(c->held, s->limits.max_queue_bytes)) {
		log_info("rpc: connection %" PRIu64 " (pid %d): %zu bytes of output would wait for it (limit %zu): "
			 "it does not read; disconnecting", c->id, (int)c->peer.pid, c->held + n, s->limits.max_queue_bytes);
		conn_drop(c);
		return -ENOBUFS;
	}
	while (n > s->limits.max_total_output_bytes - MIN(s->out_held, s->limits.max_total_output_bytes)) {
		rpc_conn_t *v = conn_slowest(s);
		if (!v)
			break; /* nothing else to let go of: c's own bytes are within its cap */
		log_warning("rpc: output waiting for all clients would pass %zu bytes; disconnecting the slowest, "
			    "connection %" PRIu64 " (pid %d): %zu bytes waiting for %" PRIu64 " ms",
			    s->limits.max_total_output_bytes, v->id, (int)v->peer.pid, v->held,
			    (conn_now(s) - v->queued_usec) / 1000);
		conn_drop(v);
		if (v == c)
			return -ENOBUFS;
	}
	if (c->held == 0) {
		c->queued_usec = conn_now(s);
		c->queued_seq = ++s->next_queued_seq;
	}
	c->held += n;
	s->out_held += n;
	return 0;
}

void rpc_conn_unhold(rpc_conn_t *c, size_t n)
{
	assert(n <= c->held);
	c->held -= n;
	if (c->server)
		c->server->out_held -= n;
}

/* Room for n more bytes in c's output buffer, the growth counted
 * (rpc_conn_hold): -ENOBUFS when c is dropped for it, -EPIPE when it is
 * closing, -ENOMEM. The buffer doubles while small, but never keeps more
 * than CONN_OUT_SLACK beyond what is queued, nor any slack that would
 * put the client over its cap. */
static int conn_out_reserve(rpc_conn_t *c, size_t n)
{
	const rpc_limits_t *l = &c->server->limits;
	size_t left = c->out_len - c->out_start;
	int r;

	if (c->out_start > 0 && c->out_alloc - c->out_len < n) {
		memmove(c->out, c->out + c->out_start, left);
		c->out_start = 0;
		c->out_len = left;
	}
	size_t need = left + n, want = c->out_alloc;
	if (c->out_alloc - c->out_len < n) {
		want = MAX(need, MIN(MAX(c->out_alloc * 2, (size_t)CONN_IN_MIN), need + CONN_OUT_SLACK));
		if (want - c->out_counted > l->max_queue_bytes - MIN(c->held, l->max_queue_bytes))
			want = need;
	}
	/* A kept buffer counts again from its first byte queued. */
	size_t add = want - c->out_counted;
	if (add && (r = rpc_conn_hold(c, add)) < 0)
		return r;
	if (want != c->out_alloc) {
		char *v = realloc(c->out, want);
		if (!v) {
			rpc_conn_unhold(c, add);
			return -ENOMEM;
		}
		c->out = v;
		c->out_alloc = want;
	}
	c->out_counted = want;
	return 0;
}

/* Queues one line. While the connection processes input (c->processing)
 * output is only collected, and sent once per read, so a pipelined burst
 * costs one write; otherwise it is sent at once. */
int rpc_conn_queue_line(rpc_conn_t *c, const char *s, size_t len)
{
	int r;

	if (c->closed || c->dying)
		return -EPIPE;
	if ((r = conn_out_reserve(c, len + 1)) < 0) {
		if (r == -ENOMEM) {
			log_warning("rpc: connection %" PRIu64 ": out of memory queueing output, closing", c->id);
			rpc_conn_close_later(c);
		}
		return r;
	}
	if (c->out_len == c->out_start)
		c->out_usec = conn_now(c->server); /* the send timeout counts from here */
	memcpy(c->out + c->out_len, s, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	if (!c->processing) {
		if ((r = conn_flush(c)) < 0) {
			rpc_conn_close_later(c);
			return r;
		}
		conn_update_events(c);
	}
	return 0;
}

static int rpc_conn_queue_json(rpc_conn_t *c, json_object *obj)
{
	rpc_buf_t b = { .max = c->server ? c->server->limits.max_answer_bytes : 0 };
	int r = rpc_json_append(&b, obj, 0);
	if (r >= 0)
		r = rpc_conn_queue_line(c, b.p, b.len);
	free(b.p);
	return r;
}

int rpc_conn_notify(rpc_conn_t *c, const char *method, json_object *params)
{
	if (!c || c->closed || c->dying) {
		json_object_put(params);
		return -EPIPE;
	}
	json_object *n = json_object_new_object();
	if (!n) {
		json_object_put(params);
		return -ENOMEM;
	}
	json_object_object_add(n, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(n, "method", json_object_new_string(method));
	if (params)
		json_object_object_add(n, "params", params);
	int r = rpc_conn_queue_json(c, n);
	json_object_put(n);
	return r;
}

int rpc_conn_add_close_hook(rpc_conn_t *c, void (*fn)(rpc_conn_t *c, void *userdata), void *userdata)
{
	if (c->closed || c->dying)
		return -EPIPE;
	void *v = realloc(c->hooks, (c->n_hooks + 1) * sizeof(*c->hooks));
	if (!v)
		return -ENOMEM;
	c->hooks = v;
	c->hooks[c->n_hooks++] = (rpc_hook_t){ fn, userdata };
	return 0;
}

void rpc_conn_remove_close_hook(rpc_conn_t *c, void (*fn)(rpc_conn_t *c, void *userdata), void *userdata)
{
	for (size_t i = c->n_hooks; i > 0; i--)
		if (c->hooks[i - 1].fn == fn && c->hooks[i - 1].userdata == userdata) {
			memmove(&c->hooks[i - 1], &c->hooks[i], (c->n_hooks - i) * sizeof(*c->hooks));
			c->n_hooks--;
			return;
		}
}

/* The peer sent a line longer than the limit: answer once, drop what was
 * buffered, stop reading, close when the answer is out. */
static void conn_too_large(rpc_conn_t *c)
{
	size_t limit = c->server->limits.max_request_bytes;
	json_object *d = rpc_error_data("request line too long; closing the connection");

	log_info("rpc: connection %" PRIu64 " (pid %d): request line over %zu bytes, closing", c->id,
		 (int)c->peer.pid, limit);
	if (d)
		json_object_object_add(d, "limit", json_object_new_int64((int64_t)limit));
	size_t len;
	char *err = rpc_response_error(NULL, 0, RPC_ERROR_REQUEST_TOO_LARGE, NULL, d, &len);
	c->too_large = true;
	c->partial_usec = 0;
	free(c->in);
	c->in = NULL;
	c->in_start = c->in_len = c->in_alloc = c->in_scan = 0;
	if (err)
		(void)rpc_conn_queue_line(c, err, len);
	free(err);
}

/* Whether the connection has nothing left to do and can be closed. */
static bool conn_done(rpc_conn_t *c)
{
	if (c->out_len > c->out_start)
		return false;
	if (c->too_large)
		return true;
	return c->eof && c->n_pending == 0 && !conn_has_line(c);
}

/* Handles the complete lines in the input buffer as far as flow control
 * allows, then sends the collected output. */
static void conn_process(rpc_conn_t *c)
{
	if (c->closed || c->dying || c->processing)
		return;
	rpc_conn_ref(c);
	c->processing = true;

	size_t max = c->server->limits.max_request_bytes;
	while (!c->closed && !c->dying && !c->too_large) {
		if (conn_blocked(c)) {
			/* Try to drain before giving up on this batch. */
			if (c->out_len - c->out_start > c->server->limits.max_output_bytes && conn_flush(c) < 0) {
				rpc_conn_close(c);
				break;
			}
			if (conn_blocked(c))
				break;
		}
		char *start = c->in + c->in_start;
		char *nl = c->in_len > c->in_scan ? memchr(c->in + c->in_scan, '\n', c->in_len - c->in_scan) : NULL;
		if (!nl) {
			c->in_scan = c->in_len;
			if (c->in_len - c->in_start > max)
				conn_too_large(c);
			break;
		}
		size_t n = (size_t)(nl - start);
		c->in_start = c->in_scan = (size_t)(nl + 1 - c->in);
		if (n > max) {
			conn_too_large(c);
			break;
		}
		if (n > 0 && start[n - 1] == '\r')
			n--;
		bool blank = true;
		for (size_t i = 0; i < n && blank; i++)
			blank = start[i] == ' ' || start[i] == '\t';
		if (!blank)
			rpc_server_dispatch_line(c, start, n);
	}

	c->processing = false;
	if (c->closed || c->dying)
		; /* gone, or going from the loop */
	else if (conn_flush(c) < 0 || conn_done(c))
		rpc_conn_close(c);
	else
		conn_update_events(c);
	rpc_conn_unref(c);
}

/* No more input: the unterminated tail is forgotten, complete lines
 * still count. */
static void conn_stop_reading(rpc_conn_t *c)
{
	c->eof = true;
	c->partial_usec = 0;
	char *last = c->in ? memrchr(c->in + c->in_start, '\n', c->in_len - c->in_start) : NULL;
	c->in_len = last ? (size_t)(last + 1 - c->in) : c->in_start;
	if (c->in_scan > c->in_len)
		c->in_scan = c->in_len;
}

static int conn_read(rpc_conn_t *c)
{
	size_t max = c->server->limits.max_request_bytes;

	if (c->in_start > 0) {
		memmove(c->in, c->in + c->in_start, c->in_len - c->in_start);
		c->in_len -= c->in_start;
		c->in_scan -= c->in_start;
		c->in_start = 0;
	}
	if (c->in_len == 0 && c->in_alloc > 2 * CONN_IN_MIN) {
		/* One big line made the buffer grow: give it back. */
		free(c->in);
		c->in = NULL;
		c->in_alloc = c->in_scan = 0;
	}
	if (c->in_alloc == c->in_len) {
		/* Never hold more than one line's limit (plus its '\n'). */
		size_t want = MIN(MAX(c->in_alloc * 2, (size_t)CONN_IN_MIN), max + 1);
		if (want <= c->in_alloc)
			return 0; /* full of an unterminated line: conn_process rejects it */
		char *v = realloc(c->in, want);
		if (!v)
			return -ENOMEM;
		c->in = v;
		c->in_alloc = want;
	}
	ssize_t n = recv(c->fd, c->in + c->in_len, c->in_alloc - c->in_len, MSG_DONTWAIT);
	uint64_t now = conn_now(c->server);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		return -errno;
	}
	if (n == 0) {
		if (c->in_len > c->in_start)
			log_debug("rpc: connection %" PRIu64 ": dropping %zu bytes of an unterminated line at EOF", c->id,
				  c->in_len - c->in_start);
		conn_stop_reading(c);
		return 0;
	}
	/* Where the unterminated line at the end began (line timeout). */
	char *nl = memrchr(c->in + c->in_len, '\n', (size_t)n);
	if (nl)
		c->partial_usec = nl + 1 < c->in + c->in_len + n ? now : 0;
	else if (!c->partial_usec)
		c->partial_usec = now;
	c->in_len += (size_t)n;
	c->active_usec = now;
	return 0;
}

static int conn_on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	rpc_conn_t *c = userdata;

	rpc_conn_ref(c);
	if (c->dying)
		goto out;
	if (revents & EPOLLOUT) {
		if (conn_flush(c) < 0) {
			rpc_conn_close(c);
			goto out;
		}
	}
	if ((revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->eof && !c->too_large && !conn_blocked(c)) {
		int r = conn_read(c);
		if (r < 0) {
			log_debug_errno(r, "rpc: connection %" PRIu64 ": read failed: %m", c->id);
			rpc_conn_close(c);
			goto out;
		}
	} else if ((revents & (EPOLLHUP | EPOLLERR)) && c->out_len == c->out_start && !(revents & EPOLLIN)) {
		/* Nothing to send and not reading: nothing will clear this. */
		rpc_conn_close(c);
		goto out;
	}
	conn_process(c);
out:
	rpc_conn_unref(c);
	return 0;
}

static int conn_on_defer(sd_event_source *src, void *userdata)
{
	rpc_conn_t *c = userdata;
	if (c->dying)
		rpc_conn_close(c);
	else
		conn_process(c);
	return 0;
}

void rpc_conn_reply_done(rpc_conn_t *c)
{
	/* An async answer may unblock reading or end a half-closed
	 * connection: look again from the loop, not from inside the
	 * handler that answered. */
	if (!c->processing && !c->closed && !c->dying)
		sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT);
	if (c->server)
		c->active_usec = conn_now(c->server);
}

/* A request line begun and not finished in time: say so, read no more,
 * and end the connection once the answers to earlier lines are out. */
static void conn_line_timeout(rpc_conn_t *c, uint64_t limit)
{
	json_object *d = rpc_error_data("request line not finished in time; closing the connection");

	log_info("rpc: connection %" PRIu64 " (pid %d): request line not finished within %" PRIu64 " ms, closing",
		 c->id, (int)c->peer.pid, limit / 1000);
	if (d)
		json_object_object_add(d, "timeout_ms", json_object_new_int64((int64_t)(limit / 1000)));
	size_t len;
	char *err = rpc_response_error(NULL, 0, RPC_ERROR_TIMEOUT, NULL, d, &len);
	conn_stop_reading(c);
	c->server->n_dropped++;
	if (err)
		(void)rpc_conn_queue_line(c, err, len);
	free(err);
	if (!c->closed && !c->dying) {
		conn_update_events(c);
		sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT); /* conn_process closes it when done */
	}
}

void rpc_conn_sweep(rpc_conn_t *c, uint64_t now)
{
	const rpc_limits_t *l = &c->server->limits;

	if (c->closed || c->dying)
		return;
	if (c->out_len > c->out_start) {
		if (l->send_timeout_usec && now - c->out_usec >= l->send_timeout_usec) {
			log_info("rpc: connection %" PRIu64 " (pid %d) took none of its %zu bytes of output in %" PRIu64
				 " ms; disconnecting", c->id, (int)c->peer.pid, c->out_len - c->out_start,
				 l->send_timeout_usec / 1000);
			conn_drop(c);
		}
		return;
	}
	if (c->partial_usec) {
		if (conn_blocked(c))
			c->partial_usec = now; /* we are not reading: not the client's delay */
		else if (l->line_timeout_usec && now - c->partial_usec >= l->line_timeout_usec)
			conn_line_timeout(c, l->line_timeout_usec);
		return;
	}
	if (l->idle_timeout_usec && c->n_pending == 0 && c->n_hooks == 0 && c->in_len == c->in_start && !c->eof &&
	    now - c->active_usec >= l->idle_timeout_usec) {
		log_debug("rpc: connection %" PRIu64 " (pid %d) idle for %" PRIu64 " ms, closing", c->id,
			  (int)c->peer.pid, l->idle_timeout_usec / 1000);
		conn_drop(c);
	}
}

int rpc_conn_new(rpc_server_t *s, int fd, rpc_conn_t **ret)
{
	_cleanup_close_ int owned = fd;
	socklen_t sl = sizeof(struct ucred);
	rpc_conn_t *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->n_ref = 1;
	c->fd = -1;
	c->id = ++s->next_conn_id;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->peer, &sl) < 0)
		c->peer = (struct ucred){ .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };

	r = sd_event_add_io(s->event, &c->io, fd, EPOLLIN, conn_on_io, c);
	if (r < 0)
		goto fail;
	r = sd_event_add_defer(s->event, &c->defer, conn_on_defer, c);
	if (r < 0)
		goto fail;
	sd_event_source_set_enabled(c->defer, SD_EVENT_OFF);

	c->fd = TAKE_FD(owned);
	c->server = s;
	LIST_PREPEND(s->conns, c);
	s->n_conns++;
	s->n_accepted++;
	c->active_usec = conn_now(s);
	rpc_server_sweep_update(s);
	log_debug("rpc: connection %" PRIu64 " from pid=%d uid=%u gid=%u", c->id, (int)c->peer.pid,
		  (unsigned)c->peer.uid, (unsigned)c->peer.gid);
	if (ret)
		*ret = c;
	return 0;
fail:
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->defer);
	free(c);
	return r;
}
