/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The micro-VM exec agent: connections, frames, deadlines (agent.h). The
 * commands themselves are in agent-builtin.c.
 *
 * Per connection: read the request (A_REQUEST, at most AGENT_REQUEST_MS),
 * run the command (A_RUNNING: it emits output as the out buffer has room,
 * the request's timeout ends it with exit{signal 9, timed_out} like the
 * Linux agent's SIGKILL), then flush the final frame and close (A_FLUSH).
 * Output is flow-controlled: nothing is produced while AGENT_OUT_CAP bytes
 * wait for the host, and the worker's write returns -EAGAIN while its own
 * bounded buffer is full. The host closing early aborts the command.
 */
#include "agent.h"

#define OUT_RESERVE 1024u /* kept for the final frame */
#define NS_PER_MS 1000000ull

uint32_t agent_out_space(const agent_conn_t *c)
{
	uint32_t used = c->out_len - c->out_off;
	return AGENT_OUT_CAP - OUT_RESERVE - used > AGENT_OUT_CAP ? 0 : AGENT_OUT_CAP - OUT_RESERVE - used;
}

static void out_compact(agent_conn_t *c)
{
	if (c->out_off == 0)
		return;
	memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
	c->out_len -= c->out_off;
	c->out_off = 0;
}

void agent_emit(agent_conn_t *c, int type, const void *data, size_t len)
{
	out_compact(c);
	int n = exec_encode_data(c->out + c->out_len, AGENT_OUT_CAP - c->out_len, type, data, len);
	if (n > 0)
		c->out_len += (uint32_t)n;
}

void agent_finish_exit(agent_conn_t *c, uint8_t kind, uint8_t flags, uint32_t value)
{
	exec_exit_t ex = { .kind = kind, .flags = flags, .value = value };
	out_compact(c);
	int n = exec_encode_exit(c->out + c->out_len, AGENT_OUT_CAP - c->out_len, &ex);
	if (n > 0)
		c->out_len += (uint32_t)n;
	c->phase = A_FLUSH;
	c->deadline_ns = 0;
}

void agent_finish_error(agent_conn_t *c, uint32_t code, const char *msg)
{
	out_compact(c);
	int n = exec_encode_error(c->out + c->out_len, AGENT_OUT_CAP - c->out_len, code, msg, strlen(msg));
	if (n > 0)
		c->out_len += (uint32_t)n;
	c->phase = A_FLUSH;
	c->deadline_ns = 0;
}

int mvm_agent_init(mvm_agent_t *a, const struct mvm_boot_info *bi)
{
	memset(a, 0, sizeof(*a));
	a->bi = bi;
	a->boot_ns = mvm_clock_monotonic();
	/* Deferred: a connection is offered once its request is there, so
	 * accept reads it at once (one exit instead of accept, read, wait). */
	int64_t r = mvm_vsock_listen(EXEC_AGENT_PORT, MVM_VSOCK_LISTEN_DEFER);
	if (r < 0)
		return (int)r;
	a->listening = true;
	return 0;
}

static void conn_drop(mvm_agent_t *a, unsigned i, bool close)
{
	if (close)
		mvm_vsock_close(a->conns[i]->id, 0, 0);
	mvm_free(a->conns[i]);
	a->conns[i] = a->conns[--a->nconns];
	a->conns[a->nconns] = NULL;
}

/* `now` is the host's time when the agent last woke. A round that ran a
 * command since (a Wasm exec runs to its end inside one) may have left it
 * far behind, and a deadline counted from it would start early. Ask the
 * host again (one exit) only when the TSC says that much time went by. */
static uint64_t agent_now(const mvm_agent_t *a, uint64_t now)
{
	return mvm_rdtsc() - a->woke_tsc < AGENT_STALE_TICKS ? now : mvm_clock_monotonic();
}

/* The spare connection took accepted connection id, hint as accept's rdx. */
static void conn_setup(mvm_agent_t *a, int64_t id, uint64_t hint, uint64_t now)
{
	agent_conn_t *c = a->spare;

	a->spare = NULL;
	memset(c, 0, offsetof(agent_conn_t, rbuf));
	uint32_t got = (uint32_t)hint;
	c->id = id;
	c->phase = A_REQUEST;
	c->pending = c->rbuf;
	c->pending_len = got;
	/* All that was there came with the accept (0: maybe an EOF to see). */
	c->readable = got == 0 || got == sizeof(c->rbuf);
	c->deadline_ns = agent_now(a, now) + AGENT_REQUEST_MS * NS_PER_MS;
	exec_decoder_init(&c->dec, c->dbuf, sizeof(c->dbuf));
	a->conns[a->nconns++] = c;
	a->served++;
}

/* -1: nothing to accept; else 1 if more are queued. */
static int accept_one(mvm_agent_t *a, uint64_t now)
{
	uint64_t hint = 0;
	agent_conn_t *c = a->spare ? a->spare : mvm_malloc(sizeof(*c));

	a->spare = c;
	if (!c)
		return -1; /* out of memory: they wait in the backlog */
	int64_t id = mvm_vsock_accept(EXEC_AGENT_PORT, c->rbuf, sizeof(c->rbuf), &hint);
	if (id < 0)
		return -1;
	conn_setup(a, id, hint, now);
	return (hint >> 32) > 0;
}

struct mvm_wait_accept *mvm_agent_wait_block(mvm_agent_t *a)
{
	if (!a->listening || a->nconns >= AGENT_CONNS)
		return NULL;
	if (!a->spare)
		a->spare = mvm_malloc(sizeof(*a->spare));
	if (!a->spare)
		return NULL;
	a->wa = (struct mvm_wait_accept){ .port = EXEC_AGENT_PORT, .buf = (uint64_t)(uintptr_t)a->spare->rbuf,
					  .cap = sizeof(a->spare->rbuf) };
	return &a->wa;
}

bool mvm_agent_waited(mvm_agent_t *a, bool used_block, uint32_t ev, uint64_t now)
{
	a->woke_tsc = mvm_rdtsc();
	if (!(ev & MVM_EV_VSOCK))
		return false;
	if (!used_block)
		return true;
	/* The event for the connections we have; the host already tried
	 * accept: more only if it said so. */
	for (unsigned i = 0; i < a->nconns; i++)
		a->conns[i]->readable = true;
	a->accept_pending = false;
	if (ev & MVM_EV_ACCEPTED) {
		a->accept_pending = (a->wa.hint >> 32) > 0;
		conn_setup(a, a->wa.id, a->wa.hint, now);
	}
	return false;
}

static void on_frame(mvm_agent_t *a, agent_conn_t *c, const exec_frame_t *f, uint64_t now)
{
	if (c->phase == A_REQUEST) {
		if (f->type != EXEC_FRAME_REQUEST || exec_parse_request(f->payload, f->len, &c->req) < 0) {
			agent_finish_error(c, EXEC_ERROR_PROTOCOL, "expected a request frame");
			return;
		}
		c->phase = A_RUNNING;
		now = agent_now(a, now); /* the timeout counts from the request */
		c->deadline_ns = c->req.timeout_ms ? now + c->req.timeout_ms * NS_PER_MS : 0;
		agent_cmd_start(a, c, now);
		return;
	}
	if (c->phase != A_RUNNING)
		return; /* flushing: the rest is not needed */
	if (c->req.stdin_mode != EXEC_STDIN_STREAM || c->stdin_eof ||
	    (f->type != EXEC_FRAME_STDIN_DATA && f->type != EXEC_FRAME_STDIN_EOF)) {
		agent_finish_error(c, EXEC_ERROR_PROTOCOL, "unexpected frame");
		return;
	}
	if (f->type == EXEC_FRAME_STDIN_EOF)
		c->stdin_eof = true;
	else
		agent_cmd_stdin(c, f);
}

/* Feed what was read while the command can take it. The request's strings
 * point into the decoder's buffer, so nothing is fed while a command still
 * reads them (agent_cmd_wants_stdin). */
static bool feed(mvm_agent_t *a, agent_conn_t *c, uint64_t now)
{
	bool progress = false;

	while (c->pending_len && (c->phase == A_REQUEST || c->phase == A_FLUSH ||
				  (c->phase == A_RUNNING && agent_cmd_wants_stdin(c)))) {
		exec_frame_t f;
		size_t used = 0;
		if (c->phase == A_FLUSH) {
			c->pending_len = 0;
			break;
		}
		int r = exec_decoder_feed(&c->dec, c->pending, c->pending_len, &used, &f);
		c->pending += used;
		c->pending_len -= used;
		progress = true;
		if (r < 0) {
			c->pending_len = 0;
			if (r == -EXEC_EPROTONOSUPPORT)
				agent_finish_error(c, EXEC_ERROR_VERSION, "supported protocol version: 1");
			else
				agent_finish_error(c, EXEC_ERROR_PROTOCOL, "malformed frame");
			break;
		}
		if (r == 1)
			on_frame(a, c, &f, now);
	}
	return progress;
}

/* One connection; returns -1 when it is gone, else whether anything happened. */
static int conn_step(mvm_agent_t *a, agent_conn_t *c, uint64_t now)
{
	bool progress = false;
	int64_t n;

	if (c->phase == A_REQUEST && c->deadline_ns && now >= c->deadline_ns) {
		agent_finish_error(c, EXEC_ERROR_PROTOCOL, "the request did not arrive in time");
		progress = true;
	}
	if (c->phase == A_RUNNING && c->deadline_ns && now >= c->deadline_ns) {
		agent_finish_exit(c, EXEC_EXIT_SIGNAL, EXEC_EXIT_FLAG_TIMED_OUT, 9);
		progress = true;
	}
	/* Read when the bytes can go somewhere. */
	if (c->readable && !c->pending_len && !c->host_eof) {
		uint64_t left = 0;
		n = mvm_vsock_read(c->id, c->rbuf, sizeof(c->rbuf), &left);
		if (n > 0) {
			c->pending = c->rbuf;
			c->pending_len = (size_t)n;
			c->readable = left > 0;
			progress = true;
		} else if (n == 0) {
			c->host_eof = true;
			/* Stdin ends only with stdin-eof: EOF before the final
			 * frame aborts the command. */
			if (c->phase != A_FLUSH)
				return -1;
		} else if (n == -EAGAIN) {
			c->readable = false;
		} else {
			return -1;
		}
	}
	if (feed(a, c, now))
		progress = true;
	/* Run the command as far as its buffer allows, so that a short one
	 * ends here and its output leaves with the close. */
	while (c->phase == A_RUNNING && agent_cmd_step(a, c, now))
		progress = true;
	if (c->phase == A_RUNNING && c->pending_len && feed(a, c, now))
		progress = true;
	/* Done: the final bytes go with the close (one exit), if they fit. */
	if (c->phase == A_FLUSH && c->out_len - c->out_off <= MVM_HC_VSOCK_IO_MAX) {
		n = mvm_vsock_close(c->id, c->out + c->out_off, c->out_len - c->out_off);
		if (n != -EAGAIN)
			return -2; /* closed (or gone) */
	}
	/* Flush. */
	if (c->out_len > c->out_off) {
		n = mvm_vsock_write(c->id, c->out + c->out_off, MIN(c->out_len - c->out_off, MVM_HC_VSOCK_IO_MAX));
		if (n > 0) {
			c->out_off += (uint32_t)n;
			if (c->out_off == c->out_len)
				c->out_off = c->out_len = 0;
			progress = true;
		} else if (n != -EAGAIN) {
			return -1;
		}
	}
	if (c->phase == A_FLUSH && c->out_len == 0)
		return -1; /* done: close */
	return progress;
}

bool mvm_agent_step(mvm_agent_t *a, bool vsock_event, uint64_t now)
{
	bool progress = false;

	if (!a->listening)
		return false;
	if (vsock_event) {
		for (unsigned i = 0; i < a->nconns; i++)
			a->conns[i]->readable = true;
		a->accept_pending = true;
	}
	while (a->accept_pending && a->nconns < AGENT_CONNS) {
		int r = accept_one(a, now);
		a->accept_pending = r > 0;
		progress |= r >= 0;
	}
	for (unsigned i = 0; i < a->nconns;) {
		int r = conn_step(a, a->conns[i], now);
		if (r < 0) {
			conn_drop(a, i, r == -1);
			progress = true;
			continue;
		}
		progress |= r > 0;
		i++;
	}
	return progress;
}

int64_t mvm_agent_timeout_ns(const mvm_agent_t *a, uint64_t now)
{
	uint64_t best = 0;

	for (unsigned i = 0; i < a->nconns; i++) {
		const agent_conn_t *c = a->conns[i];
		uint64_t d = c->deadline_ns;
		if (c->phase == A_RUNNING && c->until_ns && (!d || c->until_ns < d))
			d = c->until_ns;
		if (d && (!best || d < best))
			best = d;
	}
	if (!best)
		return -1;
	now = agent_now(a, now); /* else the wait would sleep past it */
	return best > now ? (int64_t)(best - now) : 0;
}
