/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM lifecycle state machine (docs/design.md §3) and the transition ring buffer.
 *
 * fsm_check() is the only place that decides whether a transition is legal;
 * every caller that changes a VM's state goes through it.
 */
#ifndef MVM_FSM_H
#define MVM_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum vm_state {
	VM_STATE_PENDING,
	VM_STATE_PROVISIONING,
	VM_STATE_CONFIGURED,
	VM_STATE_STARTING,
	VM_STATE_RUNNING,
	VM_STATE_START_FAILED,
	VM_STATE_STOPPING,
	VM_STATE_STOPPED,
	VM_STATE_FAILED,
	VM_STATE_PAUSED, /* after the others: persisted by name, never by number */
	_VM_STATE_MAX,
	_VM_STATE_INVALID = -1,
} vm_state_t;

/* Exact names: "Pending", "StartFailed", ... */
const char *vm_state_to_string(vm_state_t s);
vm_state_t vm_state_from_string(const char *s);

/* 0 when from → to is in the table, -EBUSY when it is not (the RPC layer
 * maps that to "invalid state transition"), -EINVAL for out-of-range states. */
int fsm_check(vm_state_t from, vm_state_t to);

/* States a VM may be removed from without force. */
bool fsm_state_is_active(vm_state_t s);

/* One transition. `vm` is the VM id; `cause` is owned by the ring entry. */
typedef struct fsm_event {
	uint64_t seq;       /* per-ring sequence number, starts at 1 */
	uint64_t node_seq;  /* node-wide sequence number (equal to seq in the node ring) */
	uint64_t wall_usec; /* CLOCK_REALTIME */
	uint64_t mono_usec; /* CLOCK_MONOTONIC (0 when loaded from an older boot) */
	vm_state_t from, to;
	/* Not a transition: the VM was removed (to == from, its last state).
	 * Only in the node ring, never in a VM's own ring or file; RPC shows
	 * it as "to": "Removed" (docs/rpc-methods.md). */
	bool removed;
	char vm[40];
	char *cause;
} fsm_event_t;

/* A fixed-capacity ring of the most recent transitions. Sequence numbers
 * keep increasing when old entries are overwritten, so a reader can tell
 * how much it missed. */
typedef struct fsm_ring {
	fsm_event_t *entries;
	size_t capacity;
	size_t count;  /* valid entries, <= capacity */
	size_t head;   /* index of the oldest entry */
	uint64_t next_seq;
} fsm_ring_t;

#define FSM_VM_RING_CAPACITY 64

int fsm_ring_init(fsm_ring_t *r, size_t capacity);
void fsm_ring_done(fsm_ring_t *r);

/* Append a copy of *ev (cause duplicated). ev->seq is ignored unless
 * keep_seq is true (used when reloading history); the assigned sequence
 * number is returned through ret_seq when non-NULL. */
int fsm_ring_push(fsm_ring_t *r, const fsm_event_t *ev, bool keep_seq, uint64_t *ret_seq);

/* Take back the newest entry, as if it had never been pushed. When the
 * push evicted the oldest entry (the ring was full), *evicted is a copy of
 * it made before the push, put back as the oldest (its cause is taken
 * over); NULL otherwise. */
void fsm_ring_unpush(fsm_ring_t *r, fsm_event_t *evicted);

/* The i-th oldest entry, 0 <= i < count. */
const fsm_event_t *fsm_ring_get(const fsm_ring_t *r, size_t i);

/* Oldest sequence number still held (next_seq when empty). */
uint64_t fsm_ring_first_seq(const fsm_ring_t *r);

uint64_t fsm_now_wall_usec(void);
uint64_t fsm_now_mono_usec(void);

#endif
