/* SPDX-License-Identifier: Apache-2.0 */
/* Actors' mailboxes in mvmd: see actor.h and docs/actors.md. */
#include "actor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "interface.h"
#include "kvm/backend-kvm.h"
#include "manager.h"
#include "util/macro.h"

typedef struct actor_box actor_box_t;

struct actor_msg {
	actors_t *a;
	actor_box_t *box;
	actor_msg_t *next;   /* in box's queue */
	uint64_t id;
	uint32_t from;       /* 0 an RPC client, k the handler's k-th interface */
	uint64_t sender;
	uint8_t *data;
	size_t len;
	sd_event_source *timer;
	actor_done_fn done;  /* NULL: cancelled or timed out, nobody waits */
	void *userdata;
};

/* One VM's mailbox: made with its first message, gone when it is empty. */
struct actor_box {
	actor_box_t *next;
	char vm[VM_ID_LEN + 1];
	actor_msg_t *head, *tail; /* waiting, oldest first */
	size_t n;
	actor_msg_t *inflight;    /* delivered, its answer not come yet */
	uint64_t last_sender;     /* whose message was delivered last */
};

struct actors {
	sd_event *event;
	manager_t *m;
	actor_box_t *boxes;
	uint64_t next_id;
	size_t queued_bytes;
	interfaces_t *ifs;
};

int actors_new(sd_event *e, manager_t *m, actors_t **ret)
{
	struct timespec ts;
	actors_t *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->event = e;
	a->m = m;
	/* Ids never repeat across restarts in practice (an answer for a
	 * message of the last mvmd must not match one of ours): they start
	 * from the wall clock in µs. */
	clock_gettime(CLOCK_REALTIME, &ts);
	a->next_id = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	int r = interfaces_new(e, m, a, &a->ifs);
	if (r < 0) {
		free(a);
		return r;
	}
	*ret = a;
	return 0;
}

static actor_box_t *box_find(actors_t *a, const char *vm_id)
{
	for (actor_box_t *b = a->boxes; b; b = b->next)
		if (strcmp(b->vm, vm_id) == 0)
			return b;
	return NULL;
}

static void box_drop_if_empty(actors_t *a, actor_box_t *b)
{
	if (b->head || b->inflight)
		return;
	for (actor_box_t **p = &a->boxes; *p; p = &(*p)->next) {
		if (*p == b) {
			*p = b->next;
			break;
		}
	}
	free(b);
}

static void msg_free(actor_msg_t *msg)
{
	msg->timer = sd_event_source_disable_unref(msg->timer);
	free(msg->data);
	free(msg);
}

/* End msg (already out of its box's queue and slot) and free it. */
static void msg_end(actor_msg_t *msg, int status, const uint8_t *data, size_t len)
{
	actor_done_fn done = msg->done;

	msg->done = NULL;
	if (done)
		done(msg, status, data, len, msg->userdata);
	msg_free(msg);
}

static actor_msg_t *queue_pop(actors_t *a, actor_box_t *b)
{
	actor_msg_t *msg = b->head;

	if (!msg)
		return NULL;
	b->head = msg->next;
	if (!b->head)
		b->tail = NULL;
	b->n--;
	a->queued_bytes -= msg->len;
	msg->next = NULL;
	return msg;
}

static void queue_remove(actors_t *a, actor_box_t *b, actor_msg_t *msg);

/* The next message to deliver: the oldest of another sender than the
 * last one delivered, if any, else the oldest (actor_origin_t). */
static actor_msg_t *queue_pop_fair(actors_t *a, actor_box_t *b)
{
	for (actor_msg_t *x = b->head; x; x = x->next) {
		if (x->sender != b->last_sender) {
			queue_remove(a, b, x);
			return x;
		}
	}
	return queue_pop(a, b);
}

static void queue_remove(actors_t *a, actor_box_t *b, actor_msg_t *msg)
{
	actor_msg_t *prev = NULL;

	for (actor_msg_t *x = b->head; x; prev = x, x = x->next) {
		if (x != msg)
			continue;
		if (prev)
			prev->next = x->next;
		else
			b->head = x->next;
		if (b->tail == x)
			b->tail = prev;
		b->n--;
		a->queued_bytes -= x->len;
		x->next = NULL;
		return;
	}
}

static int deliver(actors_t *a, actor_box_t *b, actor_msg_t *msg)
{
	vm_t *vm = manager_find(a->m, b->vm);
	kvm_msg_actor_t h = { .id = msg->id, .kind = KVM_ACTOR_REQUEST, .from = msg->from };
	int r;

	if (!vm)
		return -EPIPE;
	r = backend_kvm_actor_deliver(vm, &h, msg->data, msg->len);
	if (r < 0)
		return r;
	b->inflight = msg;
	b->last_sender = msg->sender;
	/* The guest has the bytes now; mvmd keeps only the id. */
	free(msg->data);
	msg->data = NULL;
	return 0;
}

/* Hand the next waiting message to the guest, once it answered the last.
 * A message that cannot be delivered ends with the reason, and the next
 * is tried. */
static void box_pump(actors_t *a, actor_box_t *b)
{
	while (!b->inflight && b->head) {
		actor_msg_t *msg = queue_pop_fair(a, b);
		int r = deliver(a, b, msg);
		if (r < 0)
			msg_end(msg, r == -EPIPE ? -EPIPE : -ENOTCONN, NULL, 0);
	}
	box_drop_if_empty(a, b);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	actor_msg_t *msg = userdata;
	actors_t *a = msg->a;
	actor_box_t *b = msg->box;

	(void)s;
	(void)usec;
	/* The request fails; the VM is not killed. A delivered message
	 * gives up its slot: the next one goes to the guest (which gets it
	 * at its next wait), and a late answer to this one is dropped. */
	if (b->inflight == msg)
		b->inflight = NULL;
	else
		queue_remove(a, b, msg);
	msg_end(msg, -ETIMEDOUT, NULL, 0);
	box_pump(a, b);
	return 0;
}

static size_t sender_queued(const actor_box_t *b, uint64_t sender)
{
	size_t n = 0;
	for (const actor_msg_t *x = b->head; x; x = x->next)
		n += x->sender == sender;
	return n;
}

int actors_send(actors_t *a, vm_t *vm, const actor_origin_t *origin, const void *data, size_t len, uint64_t timeout_ms,
		actor_done_fn done, void *userdata, actor_msg_t **ret)
{
	actor_box_t *b = box_find(a, vm->id);
	actor_msg_t *msg;
	int r;

	if (len > ACTOR_MSG_MAX)
		return -EMSGSIZE;
	if (vm->backend != VM_BACKEND_KVM)
		return -EOPNOTSUPP;
	if (b && (b->n >= ACTOR_MAILBOX_MAX || a->queued_bytes + len > ACTOR_QUEUED_BYTES_MAX ||
		  sender_queued(b, origin->sender) >= ACTOR_MAILBOX_PER_SENDER))
		return -EAGAIN;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return -ENOMEM;
		memcpy(b->vm, vm->id, sizeof(b->vm));
		b->next = a->boxes;
		a->boxes = b;
	}
	msg = calloc(1, sizeof(*msg));
	if (!msg || !(msg->data = malloc(len ? len : 1))) {
		free(msg);
		box_drop_if_empty(a, b);
		return -ENOMEM;
	}
	memcpy(msg->data, data, len);
	msg->len = len;
	msg->a = a;
	msg->box = b;
	msg->id = a->next_id++;
	msg->from = origin->from;
	msg->sender = origin->sender;
	msg->done = done;
	msg->userdata = userdata;
	if (timeout_ms) {
		r = sd_event_add_time_relative(a->event, &msg->timer, CLOCK_MONOTONIC, timeout_ms * 1000u, 1000,
					       on_timeout, msg);
		if (r < 0) {
			msg_free(msg);
			box_drop_if_empty(a, b);
			return r;
		}
	}
	if (!b->inflight && !b->head) {
		/* An idle actor gets it at once; a failure is this call's. */
		r = deliver(a, b, msg);
		if (r < 0) {
			msg_free(msg);
			box_drop_if_empty(a, b);
			return r == -EPIPE ? -ENOTCONN : r;
		}
	} else {
		if (b->tail)
			b->tail->next = msg;
		else
			b->head = msg;
		b->tail = msg;
		b->n++;
		a->queued_bytes += len;
	}
	*ret = msg;
	return 0;
}

actor_full_t actors_full_why(actors_t *a, const char *vm_id, const actor_origin_t *origin, size_t len)
{
	actor_box_t *b = box_find(a, vm_id);

	if (b && b->n >= ACTOR_MAILBOX_MAX)
		return ACTOR_FULL_MAILBOX;
	if (a->queued_bytes + len > ACTOR_QUEUED_BYTES_MAX)
		return ACTOR_FULL_NODE;
	return ACTOR_FULL_SENDER;
}

size_t actors_queued_bytes(actors_t *a)
{
	return a->queued_bytes;
}

uint64_t actor_msg_id(const actor_msg_t *msg)
{
	return msg->id;
}

void actor_msg_cancel(actor_msg_t *msg)
{
	actors_t *a = msg->a;
	actor_box_t *b = msg->box;

	msg->done = NULL;
	/* A delivered one keeps its slot (and its timer, which frees the
	 * slot if no answer comes); its answer is dropped. */
	if (b->inflight == msg)
		return;
	queue_remove(a, b, msg);
	msg_free(msg);
	box_drop_if_empty(a, b);
}

size_t actors_queued(actors_t *a, const char *vm_id)
{
	actor_box_t *b = box_find(a, vm_id);
	return b ? b->n : 0;
}

void actors_answer(actors_t *a, const char *vm_id, uint64_t id, const uint8_t *data, size_t len)
{
	actor_box_t *b = box_find(a, vm_id);
	actor_msg_t *msg;

	if (!b || !b->inflight || b->inflight->id != id)
		return; /* not the message it has: a late or a made-up id */
	msg = b->inflight;
	b->inflight = NULL;
	msg_end(msg, 0, data, len);
	box_pump(a, b);
}

void actors_vm_ended(actors_t *a, const char *vm_id)
{
	actor_box_t *b = box_find(a, vm_id);
	actor_msg_t *msg;

	if (!b)
		return;
	/* Out of the list first: a done callback may send again. */
	for (actor_box_t **p = &a->boxes; *p; p = &(*p)->next) {
		if (*p == b) {
			*p = b->next;
			break;
		}
	}
	if ((msg = b->inflight)) {
		b->inflight = NULL;
		msg_end(msg, -EPIPE, NULL, 0);
	}
	while ((msg = queue_pop(a, b)))
		msg_end(msg, -EPIPE, NULL, 0);
	free(b);
}

void actors_guest_send(actors_t *a, vm_t *vm, uint64_t send_id, const char *iface, const uint8_t *data, size_t len)
{
	interfaces_route(a->ifs, vm, send_id, iface, data, len);
}

interfaces_t *actors_interfaces(actors_t *a)
{
	return a->ifs;
}

actors_t *actors_free(actors_t *a)
{
	if (!a)
		return NULL;
	/* Mailboxes first: a message routed through an interface answers
	 * its sender through the interfaces (interface.c), which go last. */
	while (a->boxes)
		actors_vm_ended(a, a->boxes->vm);
	a->ifs = interfaces_free(a->ifs);
	free(a);
	return NULL;
}
