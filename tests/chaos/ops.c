/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The clients: each connection sends batches of 1-4 pipelined requests
 * (one write) and reads their answers, until the driver kills mvmd (or a
 * fault point does). Only an answer proves something: an answered create
 * is a VM that must survive every restart, an answered remove one that
 * must never come back; what was still in flight at the kill is settled
 * by the next check (chaos.h, chaos_create_t).
 */
#include "chaos.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/sha256.h"
#include "util/text.h"

#define MAX_LIVE 40     /* VMs held at most (creates turn into removes) */
#define MAX_BLOBS 400   /* blob.put requests over a whole run */
#define BATCH_MAX 4

typedef enum op {
	OP_CREATE,
	OP_START,
	OP_STOP,
	OP_REMOVE,
	OP_BLOB,
	OP_STATUS,
} op_t;

typedef struct pend {
	int id;
	op_t op;
	size_t vm;   /* index in c->vms */
	size_t blob; /* index in c->blobs */
} pend_t;

typedef struct client {
	chaos_conn_t k;
	pend_t q[BATCH_MAX * 2];
	unsigned nq;
} client_t;

static int next_req_id = 1000000;

/* WASI's exit code is a u32: the last two must come back whole. */
static const int codes[] = { 0, 1, 2, 3, 7, 42, 99, 127, 200, 255, 256, 1000 };

static size_t live_vms(chaos_t *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_vms; i++)
		if ((c->vms[i].created == CR_SENT || c->vms[i].created == CR_ACKED) && c->vms[i].removed != RM_ACKED)
			n++;
	return n;
}

/* A random VM the clients may act on, or -1. */
static ssize_t pick_vm(chaos_t *c, bool for_remove)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_vms; i++)
		if (chaos_vm_usable(&c->vms[i]) && (!for_remove || c->vms[i].pending == 0))
			n++;
	if (!n)
		return -1;
	size_t k = chaos_below(c, (unsigned)n);
	for (size_t i = 0; i < c->n_vms; i++)
		if (chaos_vm_usable(&c->vms[i]) && (!for_remove || c->vms[i].pending == 0) && k-- == 0)
			return (ssize_t)i;
	return -1;
}

static void add_req(chaos_t *c, client_t *cl, char **batch, op_t op, size_t vm, size_t blob, const char *method,
		    const char *params)
{
	char *line = NULL;
	int id = next_req_id++;

	if (asprintf(&line, "%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\",\"params\":%s}\n", *batch ? *batch : "",
		     id, method, params) < 0)
		exit(2);
	free(*batch);
	*batch = line;
	cl->q[cl->nq++] = (pend_t){ .id = id, .op = op, .vm = vm, .blob = blob };
	if (op != OP_BLOB)
		c->vms[vm].pending++;
	if (op == OP_START)
		c->vms[vm].start_acked = false; /* a new run, unanswered yet */
	c->ops++;
}

static void gen_create(chaos_t *c, client_t *cl, char **batch)
{
	chaos_vm_t *v = chaos_vm_new(c);
	size_t vi = (size_t)(v - c->vms);
	char params[512], wl[256] = "";
	unsigned roll = chaos_below(c, 100);

	snprintf(v->name, sizeof(v->name), "chaos-%u", c->next_name++);
	/* Without KVM the kvm VMs still are created, started (and refused:
	 * StartFailed) and removed; the ch VMs then carry the processes. */
	if (c->have_kvm)
		v->kind = roll < 30 ? KIND_EXIT : roll < 60 ? KIND_SLEEP : roll < 68 ? KIND_SPIN : roll < 80 ? KIND_PLAIN : KIND_CH;
	else
		v->kind = roll < 20 ? KIND_EXIT : roll < 35 ? KIND_SLEEP : roll < 40 ? KIND_SPIN : roll < 50 ? KIND_PLAIN : KIND_CH;
	v->code = codes[chaos_below(c, sizeof(codes) / sizeof(codes[0]))];
	v->sleep_ms = 300 + (int)chaos_below(c, 1200);
	switch (v->kind) {
	case KIND_EXIT:
		snprintf(wl, sizeof(wl), ",\"workload\":{\"hash\":\"%s\",\"args\":[\"exit\",\"%d\"]}", c->hash_exit, v->code);
		break;
	case KIND_SLEEP:
		snprintf(wl, sizeof(wl), ",\"workload\":{\"hash\":\"%s\",\"args\":[\"sleep\",\"%d\",\"%d\"]}", c->hash_sleep,
			 v->sleep_ms, v->code);
		break;
	case KIND_SPIN: /* bounded: a spinning guest burns a core */
		snprintf(wl, sizeof(wl), ",\"workload\":{\"hash\":\"%s\",\"timeout_ms\":%u}", c->hash_spin,
			 500 + chaos_below(c, 2000));
		break;
	case KIND_CH:
		snprintf(wl, sizeof(wl), ",\"backend\":\"ch\",\"kernel\":\"%s\"", c->kernel);
		break;
	default:
		break;
	}
	snprintf(params, sizeof(params), "{\"name\":\"%s\",\"memory_mib\":%d%s}", v->name,
		 v->kind == KIND_CH ? 64 : chaos_below(c, 4) ? 16 : 32, wl);
	add_req(c, cl, batch, OP_CREATE, vi, 0, "compute.vm.create", params);
	/* Pipelined behind its create on the same connection: answered in
	 * order, so the create's answer is known when the start's arrives. */
	if (chaos_below(c, 2) && cl->nq < BATCH_MAX * 2) {
		snprintf(params, sizeof(params), "{\"id\":\"%s\"}", v->name);
		add_req(c, cl, batch, OP_START, vi, 0, "compute.vm.start", params);
	}
}

static void gen_blob(chaos_t *c, client_t *cl, char **batch)
{
	size_t len = 1 + chaos_below(c, 8192);
	unsigned char *data = malloc(len);
	char *b64 = NULL, *params = NULL;
	size_t b64_len;

	if (!data)
		exit(2);
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)chaos_rand(c);
	if (c->n_blobs == c->cap_blobs) {
		c->cap_blobs = c->cap_blobs ? c->cap_blobs * 2 : 64;
		c->blobs = realloc(c->blobs, c->cap_blobs * sizeof(*c->blobs));
		if (!c->blobs)
			exit(2);
	}
	chaos_blob_t *b = &c->blobs[c->n_blobs];
	*b = (chaos_blob_t){ 0 };
	sha256_hex(data, len, b->hex);
	if (base64_encode(data, len, &b64, &b64_len) < 0 || asprintf(&params, "{\"data\":\"%s\"}", b64) < 0)
		exit(2);
	add_req(c, cl, batch, OP_BLOB, 0, c->n_blobs++, "compute.blob.put", params);
	free(params);
	free(b64);
	free(data);
}

/* One batch of requests for a client with nothing in flight. */
static void gen_batch(chaos_t *c, client_t *cl)
{
	char *batch = NULL, params[256];
	unsigned n = 1 + chaos_below(c, BATCH_MAX);

	for (unsigned i = 0; i < n && cl->nq < BATCH_MAX; i++) {
		unsigned roll = chaos_below(c, 100);
		bool full = live_vms(c) >= MAX_LIVE;
		ssize_t vi;

		if (roll < 8 && c->n_blobs < MAX_BLOBS) {
			gen_blob(c, cl, &batch);
			continue;
		}
		if ((roll < 30 && !full) || (vi = pick_vm(c, roll >= 75 || full)) < 0) {
			if (!full)
				gen_create(c, cl, &batch);
			continue;
		}
		chaos_vm_t *v = &c->vms[vi];
		/* by id or by name: both must lead to the same VM */
		const char *ref = chaos_below(c, 2) ? v->id : v->name;
		if (roll >= 75 || full) {
			snprintf(params, sizeof(params), "{\"id\":\"%s\"%s}", ref, chaos_below(c, 2) ? ",\"force\":true" : "");
			v->removed = RM_SENT;
			add_req(c, cl, &batch, OP_REMOVE, (size_t)vi, 0, "compute.vm.remove", params);
		} else if (roll < 52) {
			snprintf(params, sizeof(params), "{\"id\":\"%s\"}", ref);
			add_req(c, cl, &batch, OP_START, (size_t)vi, 0, "compute.vm.start", params);
		} else if (roll < 68) {
			static const char *const how[] = { "", ",\"force\":true", ",\"timeout_ms\":200", ",\"timeout_ms\":3000" };
			snprintf(params, sizeof(params), "{\"id\":\"%s\"%s}", ref, how[chaos_below(c, 4)]);
			add_req(c, cl, &batch, OP_STOP, (size_t)vi, 0, "compute.vm.stop", params);
		} else {
			snprintf(params, sizeof(params), "{\"id\":\"%s\"}", ref);
			add_req(c, cl, &batch, OP_STATUS, (size_t)vi, 0, "compute.vm.status", params);
		}
	}
	if (batch && conn_send(&cl->k, batch, strlen(batch)) < 0)
		cl->k.eof = true; /* mvmd died under us: the requests stay unanswered */
	free(batch);
}

static const char *op_name(op_t op)
{
	static const char *const names[] = { "create", "start", "stop", "remove", "blob.put", "status" };
	return names[op];
}

/* What one answer proves. */
static void on_answer(chaos_t *c, const pend_t *p, json_object *o)
{
	json_object *err = json_at(o, "error"), *res = json_at(o, "result");
	int code = err ? json_object_get_int(json_at(err, "code")) : 0;
	chaos_vm_t *v = p->op == OP_BLOB ? NULL : &c->vms[p->vm];

	c->acked++;
	if (v)
		v->pending--;
	if (code == -32603)
		chaos_violation(c, "%s %s: internal error: %s", op_name(p->op), v ? v->name : "",
				json_object_to_json_string(o));
	switch (p->op) {
	case OP_BLOB: {
		const char *h = json_str_at(res, "hash");
		chaos_blob_t *b = &c->blobs[p->blob];
		if (!res)
			break;
		if (!h || strncmp(h, "sha256:", 7) || strcmp(h + 7, b->hex))
			chaos_violation(c, "blob.put answered hash %s for data of hash %s", h ? h : "(none)", b->hex);
		b->acked = true;
		return;
	}
	case OP_CREATE:
		if (res) {
			const char *id = json_str_at(res, "id"), *name = json_str_at(res, "name");
			if (!id || !name || strcmp(name, v->name)) {
				chaos_violation(c, "create %s answered %s", v->name, json_object_to_json_string(o));
				v->created = CR_REFUSED;
				return;
			}
			snprintf(v->id, sizeof(v->id), "%s", id);
			v->created = CR_ACKED;
		} else {
			v->created = CR_REFUSED;
		}
		return;
	case OP_START: {
		const char *st = json_str_at(res, "state");
		/* Answered started (Running, or already ended): it ran. */
		if (st && strcmp(st, "StartFailed") && strcmp(st, "Starting"))
			v->start_acked = true;
		break;
	}
	case OP_REMOVE:
		if (res) {
			v->removed = RM_ACKED;
			return;
		}
		v->removed = RM_NONE;
		break;
	default:
		break;
	}
	if (code == -32001 && v->created == CR_ACKED && v->removed == RM_NONE)
		chaos_violation(c, "%s %s (%s): an acknowledged VM is not found", op_name(p->op), v->name, v->id);
}

static void on_line(chaos_t *c, client_t *cl, json_object *o)
{
	json_object *idv = json_at(o, "id");

	if (!idv || !json_object_is_type(idv, json_type_int)) {
		chaos_violation(c, "answer without a request id: %s", json_object_to_json_string(o));
		return;
	}
	int id = json_object_get_int(idv);
	for (unsigned i = 0; i < cl->nq; i++)
		if (cl->q[i].id == id) {
			pend_t p = cl->q[i];
			cl->q[i] = cl->q[--cl->nq];
			on_answer(c, &p, o);
			return;
		}
	chaos_violation(c, "answer to no pending request: %s", json_object_to_json_string(o));
}

static void read_client(chaos_t *c, client_t *cl, int timeout_ms)
{
	json_object *o;

	conn_fill(&cl->k, timeout_ms);
	while ((o = conn_next(&cl->k))) {
		on_line(c, cl, o);
		json_object_put(o);
	}
}

bool chaos_ops_run(chaos_t *c, unsigned clients, unsigned budget, long long kill_at_ms)
{
	client_t cl[8] = { 0 };
	unsigned sent_batches = 0;
	bool died = false;
	int st;

	if (clients > 8)
		clients = 8;
	for (unsigned i = 0; i < clients; i++)
		if (conn_open(&cl[i].k, c->sock) < 0)
			cl[i].k.eof = true;
	for (;;) {
		pid_t w = waitpid(c->pid, &st, WNOHANG);
		if (w == c->pid) {
			died = true;
			break;
		}
		long long now = chaos_now_ms();
		if (now >= kill_at_ms) {
			kill(c->pid, SIGKILL);
			while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
				;
			break;
		}
		struct pollfd p[9];
		for (unsigned i = 0; i < clients; i++) {
			if (!cl[i].k.eof && cl[i].nq == 0 && sent_batches < budget) {
				gen_batch(c, &cl[i]);
				sent_batches++;
			}
			p[i] = (struct pollfd){ .fd = cl[i].k.eof ? -1 : cl[i].k.fd, .events = POLLIN };
		}
		p[clients] = (struct pollfd){ .fd = c->follow.fd, .events = POLLIN };
		long long left = kill_at_ms - now;
		if (poll(p, clients + 1, left < 20 ? (int)left : 20) < 0 && errno != EINTR)
			break;
		for (unsigned i = 0; i < clients; i++)
			if (p[i].revents)
				read_client(c, &cl[i], 0);
		chaos_events_drain(c, 0);
	}
	if (died && !(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
		chaos_violation(c, "mvmd ended by itself with status 0x%x (not a fault-point kill)", st);
	c->pid = 0;

	/* What mvmd wrote before it died was answered all the same. */
	long long deadline = chaos_now_ms() + 5000;
	for (unsigned i = 0; i < clients; i++) {
		while (!cl[i].k.eof && chaos_now_ms() < deadline)
			read_client(c, &cl[i], 100);
		read_client(c, &cl[i], 0);
		for (unsigned j = 0; j < cl[i].nq; j++)
			if (cl[i].q[j].op != OP_BLOB)
				c->vms[cl[i].q[j].vm].pending--;
		conn_close(&cl[i].k);
	}
	chaos_events_stop(c);
	return died;
}
