/* SPDX-License-Identifier: Apache-2.0 */
#include "fsm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const state_names[_VM_STATE_MAX] = {
	[VM_STATE_PENDING] = "Pending",
	[VM_STATE_PROVISIONING] = "Provisioning",
	[VM_STATE_CONFIGURED] = "Configured",
	[VM_STATE_STARTING] = "Starting",
	[VM_STATE_RUNNING] = "Running",
	[VM_STATE_START_FAILED] = "StartFailed",
	[VM_STATE_STOPPING] = "Stopping",
	[VM_STATE_STOPPED] = "Stopped",
	[VM_STATE_FAILED] = "Failed",
	[VM_STATE_PAUSED] = "Paused",
};

/*
 * The transition table, docs/design.md §3. Rows are "from", bits are "to".
 *
 * Beyond the diagram's arrows:
 *  - start is allowed from Configured, Stopped, StartFailed and Failed;
 *  - Running → Stopped: a workload that finishes on its own;
 *  - Running → Failed: the worker died or the guest faulted;
 *  - Starting → Failed: the worker died after it reported the guest
 *    running but before mvmd saw it (and a lost worker on re-adoption);
 *  - Starting → Stopping: a stop (or forced remove) that arrives while the
 *    worker is still starting;
 *  - Running ⇄ Paused: compute.vm.pause / resume (and a snapshot of a
 *    Running VM, which pauses it around the snapshot); a Paused VM is
 *    stopped (Stopping), killed (Stopped) or its process dies (Failed)
 *    like a Running one.
 */
#define B(s) (1u << (s))
static const unsigned transitions[_VM_STATE_MAX] = {
	[VM_STATE_PENDING] = B(VM_STATE_PROVISIONING),
	[VM_STATE_PROVISIONING] = B(VM_STATE_CONFIGURED) | B(VM_STATE_FAILED),
	[VM_STATE_CONFIGURED] = B(VM_STATE_STARTING),
	[VM_STATE_STARTING] = B(VM_STATE_RUNNING) | B(VM_STATE_START_FAILED) |
			      B(VM_STATE_FAILED) | B(VM_STATE_STOPPING),
	[VM_STATE_RUNNING] = B(VM_STATE_STOPPING) | B(VM_STATE_STOPPED) | B(VM_STATE_FAILED) |
			     B(VM_STATE_PAUSED),
	[VM_STATE_PAUSED] = B(VM_STATE_RUNNING) | B(VM_STATE_STOPPING) | B(VM_STATE_STOPPED) | B(VM_STATE_FAILED),
	[VM_STATE_START_FAILED] = B(VM_STATE_STARTING),
	[VM_STATE_STOPPING] = B(VM_STATE_STOPPED) | B(VM_STATE_FAILED),
	[VM_STATE_STOPPED] = B(VM_STATE_STARTING),
	[VM_STATE_FAILED] = B(VM_STATE_STARTING),
};
#undef B

const char *vm_state_to_string(vm_state_t s)
{
	if (s < 0 || s >= _VM_STATE_MAX)
		return NULL;
	return state_names[s];
}

vm_state_t vm_state_from_string(const char *s)
{
	if (!s)
		return _VM_STATE_INVALID;
	for (int i = 0; i < _VM_STATE_MAX; i++)
		if (strcmp(state_names[i], s) == 0)
			return (vm_state_t)i;
	return _VM_STATE_INVALID;
}

int fsm_check(vm_state_t from, vm_state_t to)
{
	if (from < 0 || from >= _VM_STATE_MAX || to < 0 || to >= _VM_STATE_MAX)
		return -EINVAL;
	return (transitions[from] & (1u << to)) ? 0 : -EBUSY;
}

bool fsm_state_is_active(vm_state_t s)
{
	return s == VM_STATE_STARTING || s == VM_STATE_RUNNING || s == VM_STATE_STOPPING || s == VM_STATE_PAUSED;
}

int fsm_ring_init(fsm_ring_t *r, size_t capacity)
{
	if (capacity == 0)
		return -EINVAL;
	*r = (fsm_ring_t){ .capacity = capacity, .next_seq = 1 };
	r->entries = calloc(capacity, sizeof(*r->entries));
	return r->entries ? 0 : -ENOMEM;
}

void fsm_ring_done(fsm_ring_t *r)
{
	if (!r->entries)
		return;
	for (size_t i = 0; i < r->capacity; i++)
		free(r->entries[i].cause);
	free(r->entries);
	r->entries = NULL;
	r->count = r->head = 0;
}

int fsm_ring_push(fsm_ring_t *r, const fsm_event_t *ev, bool keep_seq, uint64_t *ret_seq)
{
	char *cause = NULL;

	if (keep_seq && ev->seq < r->next_seq)
		return -EINVAL; /* history must be replayed in order */
	if (ev->cause) {
		cause = strdup(ev->cause);
		if (!cause)
			return -ENOMEM;
	}

	size_t slot;
	if (r->count < r->capacity) {
		slot = (r->head + r->count) % r->capacity;
		r->count++;
	} else {
		slot = r->head;
		r->head = (r->head + 1) % r->capacity;
	}

	fsm_event_t *e = &r->entries[slot];
	free(e->cause);
	*e = *ev;
	e->cause = cause;
	e->seq = keep_seq ? ev->seq : r->next_seq;
	r->next_seq = e->seq + 1;
	if (ret_seq)
		*ret_seq = e->seq;
	return 0;
}

void fsm_ring_unpush(fsm_ring_t *r, fsm_event_t *evicted)
{
	size_t slot;

	if (!r->count)
		return;
	slot = (r->head + r->count - 1) % r->capacity;
	free(r->entries[slot].cause);
	r->next_seq = r->entries[slot].seq;
	if (evicted) {
		/* A full ring's push overwrote the oldest, at the old head. */
		r->entries[slot] = *evicted;
		evicted->cause = NULL;
		r->head = slot;
	} else {
		r->entries[slot] = (fsm_event_t){ 0 };
		r->count--;
	}
}

const fsm_event_t *fsm_ring_get(const fsm_ring_t *r, size_t i)
{
	if (i >= r->count)
		return NULL;
	return &r->entries[(r->head + i) % r->capacity];
}

uint64_t fsm_ring_first_seq(const fsm_ring_t *r)
{
	return r->count ? r->entries[r->head].seq : r->next_seq;
}

static uint64_t now_usec(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t fsm_now_wall_usec(void)
{
	return now_usec(CLOCK_REALTIME);
}

uint64_t fsm_now_mono_usec(void)
{
	return now_usec(CLOCK_MONOTONIC);
}
