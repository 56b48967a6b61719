/* SPDX-License-Identifier: Apache-2.0 */
/* The worker's side of actors: see actor.h and docs/actors.md. */
#include "actor.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/guest-abi.h"
#include "util/macro.h"

/* Bytes of answers and sends waiting for the control connection: a
 * guest that sends faster than mvmd takes is refused (-EAGAIN). */
#define ACTOR_OUTBOX_MAX (1u << 20)
/* Sanity bound of the inbox: mvmd delivers far less (actor.h). */
#define ACTOR_INBOX_MAX 256u

typedef struct actor_item {
	struct actor_item *next;
	uint32_t type; /* KVM_MSG_ACTOR_* */
	kvm_msg_actor_t h;
	size_t len;    /* of data; for ACTOR_SEND data starts with the interface */
	uint8_t data[];
} actor_item_t;

typedef struct actor_queue {
	actor_item_t *head, *tail;
	size_t n, bytes;
} actor_queue_t;

struct kvm_actor {
	pthread_mutex_t lock;
	actor_queue_t in, out;
	uint64_t next_send_id;
	uint64_t waiting[MVM_MSG_SENDS_MAX]; /* send ids without an answer yet, 0 free */
	int wake_vcpu, wake_main;
};

static void efd_signal(int fd)
{
	uint64_t one = 1;
	ssize_t _unused_ k = write(fd, &one, sizeof(one));
}

static void q_push(actor_queue_t *q, actor_item_t *it)
{
	it->next = NULL;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->n++;
	q->bytes += sizeof(*it) + it->len;
}

static actor_item_t *q_pop(actor_queue_t *q)
{
	actor_item_t *it = q->head;
	if (!it)
		return NULL;
	q->head = it->next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	q->bytes -= sizeof(*it) + it->len;
	return it;
}

static void q_clear(actor_queue_t *q)
{
	actor_item_t *it;
	while ((it = q_pop(q)))
		free(it);
}

static actor_item_t *item_new(uint32_t type, const kvm_msg_actor_t *h, const void *a, size_t alen,
			      const void *b, size_t blen)
{
	actor_item_t *it = malloc(sizeof(*it) + alen + blen);
	if (!it)
		return NULL;
	it->type = type;
	it->h = *h;
	it->len = alen + blen;
	if (alen)
		memcpy(it->data, a, alen);
	if (blen)
		memcpy(it->data + alen, b, blen);
	return it;
}

int kvm_actor_new(int wake_vcpu, int wake_main, kvm_actor_t **ret)
{
	kvm_actor_t *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	a->wake_vcpu = wake_vcpu;
	a->wake_main = wake_main;
	a->next_send_id = 1;
	*ret = a;
	return 0;
}

void kvm_actor_free(kvm_actor_t *a)
{
	if (!a)
		return;
	q_clear(&a->in);
	q_clear(&a->out);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

bool kvm_actor_inbox_ready(kvm_actor_t *a)
{
	pthread_mutex_lock(&a->lock);
	bool r = a->in.head != NULL;
	pthread_mutex_unlock(&a->lock);
	return r;
}

static bool iface_ok(const char *s)
{
	if (memcmp(s, "sha256:", 7) != 0)
		return false;
	for (unsigned i = 7; i < MVM_BLOB_REF_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Queue the guest's frame for mvmd; -EAGAIN when the outbox is full. */
static int outbox_put(kvm_actor_t *a, uint32_t type, const kvm_msg_actor_t *h, const void *x, size_t xlen,
		      const void *y, size_t ylen)
{
	actor_item_t *it;

	if (a->out.bytes + xlen + ylen > ACTOR_OUTBOX_MAX)
		return -EAGAIN;
	it = item_new(type, h, x, xlen, y, ylen);
	if (!it)
		return -ENOMEM;
	q_push(&a->out, it);
	return 0;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int hc_send(kvm_actor_t *a, kvm_vm_t *vm, uint64_t gpa, uint64_t *rax, uint64_t *fault_addr)
{
	struct mvm_hc_send s;
	const void *blk = kvm_vm_guest_ptr(vm, gpa, sizeof(s), false), *data;
	unsigned slot;
	int r;

	if (!blk) {
		*fault_addr = gpa;
		return KVM_FAULT_BAD_POINTER;
	}
	memcpy(&s, blk, sizeof(s));
	if (s.len > MVM_MSG_MAX) {
		*rax = (uint64_t)-EMSGSIZE;
		return 0;
	}
	data = kvm_vm_guest_ptr(vm, s.buf, s.len, false);
	if (!data) {
		*fault_addr = s.buf;
		return KVM_FAULT_BAD_POINTER;
	}
	if (!iface_ok(s.iface)) {
		*rax = (uint64_t)-EINVAL;
		return 0;
	}
	pthread_mutex_lock(&a->lock);
	for (slot = 0; slot < MVM_MSG_SENDS_MAX && a->waiting[slot]; slot++)
		;
	if (slot == MVM_MSG_SENDS_MAX) {
		r = -EAGAIN; /* too many sends waiting for their answers */
	} else {
		kvm_msg_actor_t h = { .id = a->next_send_id };
		r = outbox_put(a, KVM_MSG_ACTOR_SEND, &h, s.iface, MVM_BLOB_REF_LEN, data, s.len);
		if (r == 0) {
			a->waiting[slot] = a->next_send_id++;
			*rax = h.id;
		}
	}
	pthread_mutex_unlock(&a->lock);
	if (r < 0)
		*rax = (uint64_t)r;
	else
		efd_signal(a->wake_main);
	return 0;
}

/* The answer part of a wait or answer block. */
static int put_answer(kvm_actor_t *a, kvm_vm_t *vm, const struct mvm_hc_msg *b, uint64_t *rax, uint64_t *fault_addr)
{
	const void *data;
	int r;

	*rax = 0;
	if (!b->answer_id)
		return 0;
	if (b->answer_len > MVM_MSG_MAX) {
		*rax = (uint64_t)-EMSGSIZE;
		return 0;
	}
	data = kvm_vm_guest_ptr(vm, b->answer_buf, b->answer_len, false);
	if (!data) {
		*fault_addr = b->answer_buf;
		return KVM_FAULT_BAD_POINTER;
	}
	kvm_msg_actor_t h = { .id = b->answer_id };
	pthread_mutex_lock(&a->lock);
	/* A full outbox means mvmd has not read for a megabyte: the answer
	 * is dropped and its sender's timeout tells it (docs/actors.md). */
	r = outbox_put(a, KVM_MSG_ACTOR_ANSWER, &h, data, b->answer_len, NULL, 0);
	pthread_mutex_unlock(&a->lock);
	if (r == 0)
		efd_signal(a->wake_main);
	return 0;
}

int kvm_actor_hypercall(kvm_actor_t *a, kvm_vm_t *vm, unsigned nr, uint64_t gpa,
			kvm_msg_wait_t (*wait)(void *ud, int64_t deadline_ns), void *ud,
			uint64_t *rax, uint64_t *fault_addr)
{
	struct mvm_hc_msg b;
	void *blk;
	uint8_t *buf = NULL;
	int f;

	if (nr == MVM_HC_MSG_SEND)
		return hc_send(a, vm, gpa, rax, fault_addr);
	blk = kvm_vm_guest_ptr(vm, gpa, sizeof(b), true);
	if (!blk) {
		*fault_addr = gpa;
		return KVM_FAULT_BAD_POINTER;
	}
	memcpy(&b, blk, sizeof(b));
	if (nr == MVM_HC_MSG_WAIT) {
		/* Checked before the answer goes: a bad wait does nothing. */
		if (b.cap > MVM_MSG_MAX) {
			*rax = (uint64_t)-EINVAL;
			return 0;
		}
		buf = b.cap ? kvm_vm_guest_ptr(vm, b.buf, b.cap, true) : NULL;
		if (b.cap && !buf) {
			*fault_addr = b.buf;
			return KVM_FAULT_BAD_POINTER;
		}
	}
	f = put_answer(a, vm, &b, rax, fault_addr);
	if (f || nr == MVM_HC_MSG_ANSWER || (int64_t)*rax < 0)
		return f;

	int64_t now = mono_ns();
	int64_t deadline = b.timeout_ns < 0 ? -1 : b.timeout_ns > INT64_MAX - now ? INT64_MAX : now + b.timeout_ns;
	actor_item_t *it;
	for (;;) {
		pthread_mutex_lock(&a->lock);
		it = q_pop(&a->in);
		if (it && it->h.kind == KVM_ACTOR_ANSWER) {
			for (unsigned i = 0; i < MVM_MSG_SENDS_MAX; i++)
				if (a->waiting[i] == it->h.id)
					a->waiting[i] = 0;
		}
		pthread_mutex_unlock(&a->lock);
		if (it)
			break;
		/* The vCPU sleeps in the host until something comes: an idle
		 * actor costs no CPU. */
		kvm_msg_wait_t w = wait(ud, deadline);
		if (w == KVM_MSG_WAIT_STOP) {
			b.kind = MVM_MSG_STOP;
			goto out;
		}
		/* A pause ends the wait early: the vCPU must leave the
		 * hypercall to park with its state whole. The guest's runtime
		 * waits again (init/microvm/actor.c) once it runs again. */
		if (w == KVM_MSG_WAIT_PAUSE) {
			b.kind = MVM_MSG_AGAIN;
			if (deadline >= 0) {
				int64_t left = deadline - mono_ns();
				b.timeout_ns = left > 0 ? left : 0;
			}
			goto out;
		}
		if (deadline >= 0 && mono_ns() >= deadline && !kvm_actor_inbox_ready(a)) {
			b.kind = MVM_MSG_TIMEOUT;
			goto out;
		}
	}
	b.kind = it->h.kind == KVM_ACTOR_REQUEST ? MVM_MSG_REQUEST : MVM_MSG_ANSWER;
	b.id = it->h.id;
	b.len = (uint32_t)it->len;
	b.status = it->h.status;
	b.from = it->h.from;
	if (buf)
		memcpy(buf, it->data, MIN(it->len, (size_t)b.cap));
	free(it);
out:
	*rax = b.kind;
	memcpy(blk, &b, sizeof(b));
	return 0;
}

int kvm_actor_deliver(kvm_actor_t *a, const kvm_msg_t *msg)
{
	kvm_msg_actor_t h;
	const char *iface;
	const uint8_t *data;
	size_t len;
	actor_item_t *it;

	if (msg->type != KVM_MSG_ACTOR_DELIVER || kvm_msg_get_actor(msg, &h, &iface, &data, &len) < 0 ||
	    (h.kind != KVM_ACTOR_REQUEST && h.kind != KVM_ACTOR_ANSWER))
		return -EBADMSG;
	pthread_mutex_lock(&a->lock);
	if (a->in.n >= ACTOR_INBOX_MAX) {
		pthread_mutex_unlock(&a->lock);
		return -EBADMSG; /* far more than mvmd ever sends: a confused peer */
	}
	it = item_new(KVM_MSG_ACTOR_DELIVER, &h, data, len, NULL, 0);
	if (it)
		q_push(&a->in, it);
	pthread_mutex_unlock(&a->lock);
	if (!it)
		return -ENOMEM;
	efd_signal(a->wake_vcpu);
	return 0;
}

void kvm_actor_pump(kvm_actor_t *a, kvm_ctl_t *conn)
{
	static uint8_t frame[KVM_MSG_FRAME_MAX];

	for (;;) {
		pthread_mutex_lock(&a->lock);
		actor_item_t *it = a->out.head;
		size_t n = it ? sizeof(it->h) + it->len : 0;
		if (!it || kvm_ctl_space(conn) < sizeof(kvm_msg_hdr_t) + n) {
			pthread_mutex_unlock(&a->lock);
			return;
		}
		(void)q_pop(&a->out); /* it */
		pthread_mutex_unlock(&a->lock);
		memcpy(frame, &it->h, sizeof(it->h));
		memcpy(frame + sizeof(it->h), it->data, it->len);
		(void)kvm_ctl_queue(conn, it->type, frame, n);
		free(it);
	}
}

void kvm_actor_reset(kvm_actor_t *a)
{
	bool woke = false;

	pthread_mutex_lock(&a->lock);
	q_clear(&a->in);
	q_clear(&a->out);
	for (unsigned i = 0; i < MVM_MSG_SENDS_MAX; i++) {
		if (!a->waiting[i])
			continue;
		kvm_msg_actor_t h = { .id = a->waiting[i], .kind = KVM_ACTOR_ANSWER, .status = -ECONNRESET };
		actor_item_t *it = item_new(KVM_MSG_ACTOR_DELIVER, &h, NULL, 0, NULL, 0);
		if (it) {
			q_push(&a->in, it);
			woke = true;
		}
	}
	pthread_mutex_unlock(&a->lock);
	if (woke)
		efd_signal(a->wake_vcpu);
}
