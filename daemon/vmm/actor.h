/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's side of actors (docs/actors.md): messages between the
 * guest's calls MVM_HC_MSG_SEND/WAIT/ANSWER (guest-abi.h) and mvmd's
 * ACTOR_* control frames (lib/proto/ctl.h).
 *
 * Two queues, each used by both threads under the actor's own lock: the
 * inbox (frames from mvmd, taken by the guest's wait) and the outbox
 * (answers and sends of the guest, moved onto the control connection by
 * the main thread). mvmd bounds what it delivers (one message at a time,
 * the answers to at most MVM_MSG_SENDS_MAX sends), so the inbox needs no
 * other bound than a sanity one; the outbox is bounded in bytes and a
 * send beyond it is refused with -EAGAIN.
 */
#ifndef MVM_VMM_ACTOR_H
#define MVM_VMM_ACTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm-vm.h"
#include "proto/ctl.h"

typedef struct kvm_actor kvm_actor_t;

/* wake_vcpu is signalled when the inbox gets something, wake_main when
 * the outbox does (both borrowed). */
int kvm_actor_new(int wake_vcpu, int wake_main, kvm_actor_t **ret);
void kvm_actor_free(kvm_actor_t *a);

/* --- the vCPU thread ----------------------------------------------------- */

/* Something waits in the inbox. */
bool kvm_actor_inbox_ready(kvm_actor_t *a);

/*
 * MVM_HC_MSG_SEND / MSG_WAIT / MSG_ANSWER with block gpa. wait(ud,
 * deadline_ns) blocks until the inbox is ready, a stop or a pause was
 * asked for or the deadline (CLOCK_MONOTONIC ns, -1 none) passed, and
 * returns a kvm_msg_wait_t (kvm-vm.h). Sets *rax; returns 0, or a
 * kvm_fault_t (bad pointer, with *fault_addr) that ends the VM.
 */
int kvm_actor_hypercall(kvm_actor_t *a, kvm_vm_t *vm, unsigned nr, uint64_t gpa,
			kvm_msg_wait_t (*wait)(void *ud, int64_t deadline_ns), void *ud,
			uint64_t *rax, uint64_t *fault_addr);

/* --- the main thread ----------------------------------------------------- */

/* An ACTOR_DELIVER from mvmd. -EBADMSG for anything else (drop the peer). */
int kvm_actor_deliver(kvm_actor_t *a, const kvm_msg_t *msg);
/* Move the outbox onto conn while it has room. */
void kvm_actor_pump(kvm_actor_t *a, kvm_ctl_t *conn);
/*
 * A new parent connection: what was queued for or from the last one is
 * dropped (its messages failed with it), and each send still waiting for
 * its answer gets one now, -ECONNRESET: the answer would have come from
 * the mvmd that went away.
 */
void kvm_actor_reset(kvm_actor_t *a);

#endif
