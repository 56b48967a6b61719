/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The exec proxy (exec-proxy.h). One exec goes
 *
 *   CONNECT    a non-blocking connect to the VM's vsock socket (AF_UNIX
 *              connects or fails at once: EAGAIN when the VMM's backlog is
 *              full, asked again after EXEC_PROXY_RETRY_MS)
 *   HANDSHAKE  "CONNECT 52\n" out, the VMM's "OK <n>\n" in; a VMM that
 *              closes or says anything else has no listener on the port
 *              yet: back to CONNECT until EXEC_PROXY_SLACK_MS have passed
 *   EXCHANGE   the request's frames out, the agent's frames in, decoded
 *              and collected by exec_call_* up to the output cap, until
 *              the exit or error frame; the host timeout runs from here
 *
 * preceded, for a module argv[0] names by hash that the store lacks, by
 *
 *   PULL       waiting on the puller (pull.h) for the module; then it is
 *              granted to the VM and the exec goes on to CONNECT
 *
 * and ends in finish(), which is the only place an exec leaves the list.
 * The one timer of an exec is, by phase: the next connect attempt, the
 * handshake's deadline, the host timeout. The same bounds as the blocking
 * client had (docs/rpc-methods.md, compute.vm.exec).
 */
#include "exec-proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "util/macro.h"

#define HVSOCK_LINE_MAX 64 /* as exec_hvsock_handshake */
#define READ_CHUNK 65536

typedef enum { OP_PULL, OP_CONNECT, OP_HANDSHAKE, OP_EXCHANGE } op_phase_t;

struct exec_op {
	exec_proxy_t *proxy;
	exec_op_t *prev, *next;
	char vm[VM_ID_LEN + 1];
	char *path;
	exec_call_t *call;
	op_phase_t phase;
	int fd;
	sd_event_source *io, *timer;
	uint64_t give_up_usec;  /* CONNECT: a closed port is not asked again after this */
	uint64_t busy_usec;     /* CONNECT: a full backlog is not asked again after this */
	uint64_t host_timeout_usec;
	size_t hello_sent;
	char line[HVSOCK_LINE_MAX + 1];
	size_t line_len;
	char pull_hex[BLOB_HEX_LEN + 1];
	pull_waiter_t *waiter; /* PULL */
	exec_proxy_done_fn done;
	void *userdata;
};

struct exec_proxy {
	manager_t *manager;
	exec_op_t *ops;
	unsigned n_ops;
	uint8_t buf[READ_CHUNK]; /* one read at a time: the loop is single-threaded */
};

static const char hello[] = "CONNECT 52\n";
_Static_assert(EXEC_AGENT_PORT == 52, "the CONNECT line names the agent's port");

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void op_free(exec_op_t *op)
{
	pull_waiter_cancel(op->waiter); /* the pull goes on for the others */
	sd_event_source_disable_unref(op->io);
	sd_event_source_disable_unref(op->timer);
	safe_close(op->fd);
	exec_call_free(op->call);
	free(op->path);
	free(op);
}

static void op_unlink(exec_op_t *op)
{
	exec_proxy_t *p = op->proxy;

	if (op->prev)
		op->prev->next = op->next;
	else
		p->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	p->n_ops--;
}

/* The exec is over: its client hears how (rc, or the result when 0; pre
 * when it ended before the exchange, see exec_proxy_prelude_t). */
static void finish_pre(exec_op_t *op, int rc, const exec_proxy_prelude_t *pre)
{
	exec_result_t res = { 0 };

	op_unlink(op);
	/* The socket goes before the answer: what the client sees next
	 * (a count of mvmd's fds) no longer holds it. */
	op->io = sd_event_source_disable_unref(op->io);
	op->fd = safe_close(op->fd);
	if (rc == 0 && exec_call_take_result(op->call, &res) < 0)
		rc = -EBADMSG;
	op->done(rc, &res, pre, op->userdata);
	exec_result_clear(&res);
	op_free(op);
}

static void finish(exec_op_t *op, int rc)
{
	finish_pre(op, rc, NULL);
}

static int arm_timer(exec_op_t *op, uint64_t usec)
{
	int r = sd_event_source_set_time(op->timer, usec);

	if (r >= 0)
		r = sd_event_source_set_enabled(op->timer, SD_EVENT_ONESHOT);
	return r;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static int watch(exec_op_t *op, uint32_t events)
{
	if (op->io)
		return sd_event_source_set_io_events(op->io, events);
	return sd_event_add_io(manager_event(op->proxy->manager), &op->io, op->fd, events, on_io, op);
}

/* A closed port (or a VMM that said no): ask again shortly, unless the
 * slack is over. */
static void retry_or_finish(exec_op_t *op, int rc, uint64_t until)
{
	uint64_t now = now_usec();
	int r;

	op->io = sd_event_source_disable_unref(op->io);
	op->fd = safe_close(op->fd);
	op->phase = OP_CONNECT;
	if (now >= until)
		return finish(op, rc);
	r = arm_timer(op, now + EXEC_PROXY_RETRY_MS * 1000u);
	if (r < 0)
		finish(op, r);
}

static void try_connect(exec_op_t *op)
{
	int r = exec_client_connect_unix_flags(op->path, SOCK_NONBLOCK, &op->fd);

	if (r == -ECONNREFUSED)
		return retry_or_finish(op, r, op->give_up_usec);
	if (r == -EAGAIN) /* the VMM's backlog is full: it is alive, but busy */
		return retry_or_finish(op, -ETIMEDOUT, op->busy_usec);
	if (r < 0)
		return finish(op, r);
	op->phase = OP_HANDSHAKE;
	op->hello_sent = op->line_len = 0;
	r = watch(op, EPOLLIN | EPOLLOUT);
	if (r >= 0)
		r = arm_timer(op, now_usec() + EXEC_PROXY_SLACK_MS * 1000ull);
	if (r < 0)
		finish(op, r);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	exec_op_t *op = userdata;

	if (op->phase == OP_CONNECT)
		try_connect(op);
	else
		finish(op, -ETIMEDOUT); /* the pull or the handshake outlasted its deadline, or the host timeout */
	return 0;
}

/* Hand received bytes to the decoder: the exec ends on its last frame
 * or a malformed one. */
static void feed(exec_op_t *op, const uint8_t *data, size_t len)
{
	int r = exec_call_feed(op->call, data, len);

	if (r != 0)
		finish(op, r == 1 ? 0 : r);
}

static int exchange_events(exec_op_t *op)
{
	const uint8_t *out;
	size_t len;

	exec_call_output(op->call, &out, &len);
	return watch(op, EPOLLIN | (len ? EPOLLOUT : 0));
}

static void enter_exchange(exec_op_t *op, const uint8_t *rest, size_t len)
{
	int r;

	op->phase = OP_EXCHANGE;
	r = arm_timer(op, now_usec() + op->host_timeout_usec);
	if (r >= 0)
		r = exchange_events(op);
	if (r < 0)
		return finish(op, r);
	/* What followed "OK <n>\n" in the same read already is the agent's. */
	if (len)
		feed(op, rest, len);
}

static void on_handshake(exec_op_t *op, uint32_t revents)
{
	ssize_t n;

	if (op->hello_sent < sizeof(hello) - 1 && (revents & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		n = send(op->fd, hello + op->hello_sent, sizeof(hello) - 1 - op->hello_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return retry_or_finish(op, errno == EPIPE ? -ECONNRESET : -errno, op->give_up_usec);
		if (n > 0)
			op->hello_sent += (size_t)n;
		if (op->hello_sent == sizeof(hello) - 1 && watch(op, EPOLLIN) < 0)
			return finish(op, -ENOMEM);
	}
	if (!(revents & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	n = recv(op->fd, op->proxy->buf, READ_CHUNK, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0)
		return retry_or_finish(op, -errno, op->give_up_usec);
	if (n == 0)
		return retry_or_finish(op, -ECONNRESET, op->give_up_usec);
	for (size_t i = 0; i < (size_t)n; i++) {
		char ch = (char)op->proxy->buf[i];
		unsigned port;
		int r;

		if (ch != '\n') {
			op->line[op->line_len] = ch;
			if (++op->line_len >= HVSOCK_LINE_MAX)
				return finish(op, -EBADMSG);
			continue;
		}
		op->line[op->line_len] = '\0';
		r = exec_hvsock_parse_reply(op->line, &port);
		if (r == -ECONNREFUSED)
			return retry_or_finish(op, r, op->give_up_usec);
		if (r < 0)
			return finish(op, r);
		return enter_exchange(op, op->proxy->buf + i + 1, (size_t)n - i - 1);
	}
}

static void on_exchange(exec_op_t *op, uint32_t revents)
{
	const uint8_t *out;
	size_t len;
	ssize_t n;

	exec_call_output(op->call, &out, &len);
	if (len && (revents & EPOLLOUT)) {
		n = send(op->fd, out, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			exec_call_output_done(op->call, (size_t)n);
		else if (n < 0 && errno == EPIPE)
			exec_call_output_done(op->call, len); /* it answered and closed: read that */
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			return finish(op, -errno);
		if (exchange_events(op) < 0)
			return finish(op, -ENOMEM);
	}
	if (!(revents & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	n = recv(op->fd, op->proxy->buf, READ_CHUNK, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0)
		return finish(op, -errno);
	feed(op, op->proxy->buf, (size_t)n); /* 0: EOF, which the decoder judges */
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	exec_op_t *op = userdata;

	if (op->phase == OP_HANDSHAKE)
		on_handshake(op, revents);
	else
		on_exchange(op, revents);
	return 0;
}

/* The connect phases' clocks start now: the pull took what it took. */
static void connect_soon(exec_op_t *op)
{
	uint64_t now = now_usec();
	int r;

	op->phase = OP_CONNECT;
	op->give_up_usec = now + EXEC_PROXY_SLACK_MS * 1000ull;
	op->busy_usec = now + op->host_timeout_usec;
	r = arm_timer(op, now);
	if (r < 0)
		finish(op, r);
}

/* The module's pull ended (the waiter is freed after this returns). */
static void on_pulled(const pull_result_t *res, void *userdata)
{
	exec_op_t *op = userdata;
	exec_proxy_prelude_t pre = { 0 };
	vm_t *vm;
	int r;

	op->waiter = NULL;
	if (res->error) {
		pre.pull = res;
		return finish_pre(op, res->error, &pre);
	}
	/* A removal would have ended this exec already (on_event). */
	vm = manager_find(op->proxy->manager, op->vm);
	if (!vm)
		return finish(op, -EIDRM);
	/* As compute.vm.exec does for a module that was here: the VM may
	 * load this one (a kvm worker gets its fd before the exec connects). */
	r = manager_vm_grant_blob(op->proxy->manager, vm, op->pull_hex);
	if (r < 0 && r != -EOPNOTSUPP) {
		pre.grant = true;
		return finish_pre(op, r, &pre);
	}
	connect_soon(op);
}

/* A removal is an event (manager.h): it answers the VM's execs at once
 * instead of when its socket closes (or never, for a VMM that lingers). */
static void on_event(manager_t *m, const fsm_event_t *ev, void *userdata)
{
	exec_proxy_t *p = userdata;

	if (!ev->removed)
		return;
	for (exec_op_t *op = p->ops, *next; op; op = next) {
		next = op->next;
		if (strcmp(op->vm, ev->vm) == 0)
			finish(op, -EIDRM);
	}
}

int exec_proxy_new(manager_t *m, exec_proxy_t **ret)
{
	exec_proxy_t *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->manager = m;
	r = manager_subscribe(m, on_event, p);
	if (r < 0) {
		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

exec_proxy_t *exec_proxy_free(exec_proxy_t *p)
{
	if (!p)
		return NULL;
	while (p->ops)
		finish(p->ops, -ECANCELED);
	manager_unsubscribe(p->manager, on_event, p);
	free(p);
	return NULL;
}

bool exec_proxy_full(const exec_proxy_t *p)
{
	return p->n_ops >= EXEC_PROXY_MAX_IN_FLIGHT;
}

uint64_t exec_proxy_host_timeout_ms(uint32_t timeout_ms)
{
	return (uint64_t)timeout_ms + EXEC_PROXY_SLACK_MS;
}

int exec_proxy_start(exec_proxy_t *p, const vm_t *vm, const exec_request_t *req, const exec_client_opts_t *opts,
		     const char *pull_hex, exec_proxy_done_fn done, void *userdata, exec_op_t **ret)
{
	exec_op_t *op;
	uint64_t now = now_usec();
	int r;

	if (exec_proxy_full(p))
		return -EBUSY;
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	*op = (exec_op_t){ .proxy = p, .fd = -1, .phase = OP_CONNECT, .done = done, .userdata = userdata };
	memcpy(op->vm, vm->id, sizeof(op->vm));
	op->host_timeout_usec = exec_proxy_host_timeout_ms(req->timeout_ms) * 1000u;
	op->give_up_usec = now + EXEC_PROXY_SLACK_MS * 1000ull;
	op->busy_usec = now + op->host_timeout_usec;
	r = exec_call_new(req, opts, &op->call);
	if (r >= 0)
		r = store_vm_path(manager_store(p->manager), vm->id, "vsock.sock", &op->path);
	/* The first attempt runs from the loop too: done never runs inside
	 * this call, whatever the socket says. While a pull runs, the timer
	 * is its deadline. */
	if (r >= 0)
		r = sd_event_add_time(manager_event(p->manager), &op->timer, CLOCK_MONOTONIC,
				      pull_hex ? now + op->host_timeout_usec : now, 1, on_timer, op);
	if (r >= 0 && pull_hex) {
		pull_spec_t spec = { .wasm = true }; /* an exec loads it as a module */

		op->phase = OP_PULL;
		snprintf(op->pull_hex, sizeof(op->pull_hex), "%s", pull_hex);
		memcpy(spec.hex, op->pull_hex, sizeof(spec.hex));
		r = puller_start(manager_puller(p->manager), &spec, on_pulled, NULL, op, &op->waiter);
	}
	if (r < 0) {
		op_free(op);
		return r;
	}
	op->next = p->ops;
	if (p->ops)
		p->ops->prev = op;
	p->ops = op;
	p->n_ops++;
	if (ret)
		*ret = op;
	return 0;
}

void exec_op_cancel(exec_op_t *op)
{
	if (!op)
		return;
	op_unlink(op);
	op_free(op);
}
