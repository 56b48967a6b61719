/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Actors as mvmd sees them (docs/actors.md): each kvm VM has a mailbox of
 * messages for its guest, handed to it one at a time (the next only once
 * the guest answered the last, or its timeout passed), in the order they
 * came, bounded; every
 * message ends exactly once: answered, timed out, or failed because the
 * VM ended. Messages live in memory only (at-most-once, never durable).
 *
 * The backend delivers (kvm_runtime_actor_deliver, daemon/mvmd/kvm/) and
 * reports answers and the VM's end here; callers (rpc/methods-actor.c)
 * send and are told the outcome through their done callback, always from
 * the event loop, never inside actors_send().
 */
#ifndef MVM_ACTOR_H
#define MVM_ACTOR_H

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "vm.h"

#define ACTOR_MSG_MAX 65536u       /* bytes of a message or an answer */
#define ACTOR_MAILBOX_MAX 64u      /* messages waiting per VM, besides the one delivered */
#define ACTOR_MAILBOX_PER_SENDER 32u /* of which one sender may hold */
#define ACTOR_QUEUED_BYTES_MAX (64u << 20) /* waiting on the whole node */

typedef struct manager manager_t;
typedef struct actors actors_t;
typedef struct actor_msg actor_msg_t;
typedef struct interfaces interfaces_t;

/*
 * How a message ended: status 0 and the answer (data, len), or -errno:
 * -ETIMEDOUT its timeout passed (the VM keeps running; the next message
 * is delivered and a late answer to this one is dropped), -EPIPE the VM ended (or was stopped) before it answered,
 * -ENOTCONN mvmd could not reach its worker. The message is freed after.
 */
typedef void (*actor_done_fn)(actor_msg_t *msg, int status, const uint8_t *data, size_t len, void *userdata);

int actors_new(sd_event *e, manager_t *m, actors_t **ret);
/* Every message still held ends -EPIPE. */
actors_t *actors_free(actors_t *a);

/* Where a message comes from. from: what the guest's wait says of it, 0
 * an RPC client, k > 0 its k-th handled interface (interface.c). sender:
 * who sent it (a connection, a VM's worker), for fairness: one sender
 * holds at most ACTOR_MAILBOX_PER_SENDER places of a mailbox, and the
 * next message delivered is the oldest of another sender than the last
 * one's, when there is one, so a flooding sender cannot starve others. */
typedef struct actor_origin {
	uint32_t from;
	uint64_t sender;
} actor_origin_t;

/*
 * Queue len bytes for vm, to time out after timeout_ms (0: never).
 * -EAGAIN: its mailbox (or the node's, or this sender's share) is full; -ENOTCONN: the VM's
 * worker cannot take messages now; -ENOMEM. On success *ret is the
 * message (its id: actor_msg_id) and done will be called exactly once,
 * unless actor_msg_cancel() comes first.
 */
int actors_send(actors_t *a, vm_t *vm, const actor_origin_t *origin, const void *data, size_t len, uint64_t timeout_ms,
		actor_done_fn done, void *userdata, actor_msg_t **ret);
uint64_t actor_msg_id(const actor_msg_t *msg);
/* Nobody waits for it any more: done is not called; a message not yet
 * delivered is dropped, a delivered one's answer will be. */
void actor_msg_cancel(actor_msg_t *msg);
/* Messages waiting for vm (not counting the one delivered). */
size_t actors_queued(actors_t *a, const char *vm_id);
/* Bytes of the messages waiting on the whole node. */
size_t actors_queued_bytes(actors_t *a);

/* Which bound made actors_send() say -EAGAIN for len bytes from origin. */
typedef enum actor_full {
	ACTOR_FULL_MAILBOX, /* the VM's ACTOR_MAILBOX_MAX */
	ACTOR_FULL_NODE,    /* ACTOR_QUEUED_BYTES_MAX on the node */
	ACTOR_FULL_SENDER,  /* this sender's ACTOR_MAILBOX_PER_SENDER */
	ACTOR_FULL_MAX
} actor_full_t;
actor_full_t actors_full_why(actors_t *a, const char *vm_id, const actor_origin_t *origin, size_t len);

/* --- from the backend ------------------------------------------------------ */

/* The guest answered message id. Unknown or late ids are dropped. */
void actors_answer(actors_t *a, const char *vm_id, uint64_t id, const uint8_t *data, size_t len);
/* The guest of vm sent len bytes to interface iface ("sha256:<hex>",
 * 71 bytes) as its send send_id: route it, and its answer back. */
void actors_guest_send(actors_t *a, vm_t *vm, uint64_t send_id, const char *iface, const uint8_t *data, size_t len);
/* The VM ended: every message for it ends -EPIPE. */
void actors_vm_ended(actors_t *a, const char *vm_id);
/* Who handles which interface (daemon/mvmd/interface.h). */
interfaces_t *actors_interfaces(actors_t *a);

#endif
