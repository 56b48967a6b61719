/* SPDX-License-Identifier: Apache-2.0 */
/*
 * When a VM's state goes to disk (docs/state.md, "Writes"): what is written
 * at once and what behind, with fsync or without, and what happens to a
 * write that fails: the VM stays pending and is written again on a timer
 * with a backoff until it is on disk, and once more at a clean exit.
 */
#include <errno.h>

#include "manager-internal.h"
#include "util/macro.h"

static size_t flush_pending(manager_t *m);
static int on_save(sd_event_source *s, void *userdata);
static int on_retry(sd_event_source *s, uint64_t usec, void *userdata);

/* A state write that failed (ENOSPC, EIO, EMFILE) is tried again after
 * RETRY_MIN_USEC, the wait doubling up to RETRY_MAX_USEC while it fails. */
#define RETRY_MIN_USEC (100 * 1000ULL)
#define RETRY_MAX_USEC (5 * 1000 * 1000ULL)

int manager_save_init(manager_t *m)
{
	int r;

	if (!m->event)
		return 0;
	r = sd_event_add_defer(m->event, &m->save_src, on_save, m);
	if (r < 0)
		return r;
	/* After the answers: a defer source stays pending while enabled,
	 * the oldest first, so at the same priority as a connection's it
	 * would always go before it. */
	sd_event_source_set_priority(m->save_src, SD_EVENT_PRIORITY_NORMAL + 1);
	sd_event_source_set_enabled(m->save_src, SD_EVENT_OFF);
	r = sd_event_add_time_relative(m->event, &m->retry_src, CLOCK_MONOTONIC, RETRY_MIN_USEC, 0, on_retry, m);
	if (r < 0)
		return r;
	sd_event_source_set_enabled(m->retry_src, SD_EVENT_OFF);
	return 0;
}

void manager_save_done(manager_t *m)
{
	flush_pending(m);
	m->save_src = sd_event_source_disable_unref(m->save_src);
	m->retry_src = sd_event_source_disable_unref(m->retry_src);
}

/*
 * Which states are written with fsync (docs/state.md). Every write is an
 * atomic rename, so a crashed or restarted mvmd always reads a whole file
 * from the page cache. fsync only buys survival of a power cut, and after
 * one no worker is alive: Starting, Running and Stopping (and the pid) would
 * be read back only to be declared lost. What a power cut must not lose is
 * what cannot be found again: a VM's existence and spec (Configured, from
 * create) and how it ended (Stopped with its exit code, the causes of
 * StartFailed and Failed).
 */
bool manager_state_is_durable(vm_state_t s)
{
	return !fsm_state_is_active(s);
}

/*
 * Try again, after a backoff, to write what could not be written. Until
 * it is on disk the VM's file says something older (an end that a
 * restarted mvmd would take for a lost worker), so mvmd keeps trying for
 * as long as it runs, and once more as it exits (manager_flush).
 */
static void arm_retry(manager_t *m)
{
	int enabled = SD_EVENT_OFF;
	uint64_t now;

	if (!m->retry_src || (sd_event_source_get_enabled(m->retry_src, &enabled) >= 0 && enabled != SD_EVENT_OFF))
		return;
	m->retry_usec = m->retry_usec ? MIN(m->retry_usec * 2, RETRY_MAX_USEC) : RETRY_MIN_USEC;
	if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0)
		return;
	sd_event_source_set_time(m->retry_src, now + m->retry_usec);
	sd_event_source_set_enabled(m->retry_src, SD_EVENT_ONESHOT);
}

/* Write the VM now. A failure leaves it pending (and the retry armed),
 * except for a VM whose file is never rewritten (-EROFS: it failed to
 * load). */
int manager_save_now(manager_t *m, vm_t *vm)
{
	/* A run's VM is never written (vm.h): nothing is pending for it. */
	int r = vm->ephemeral ? 0 : store_save(m->store, vm, manager_state_is_durable(vm->state));

	if (r >= 0 || r == -EROFS) {
		vm->save_pending = false;
		if (r >= 0)
			vm->disk_active = fsm_state_is_active(vm->state);
		return r;
	}
	vm->save_pending = true;
	arm_retry(m);
	return r;
}

/* Write every pending VM; the number still unwritten. */
static size_t flush_pending(manager_t *m)
{
	size_t left = 0;

	for (size_t i = 0; i < m->n_vms; i++) {
		vm_t *vm = m->vms[i];
		if (vm->save_pending && manager_save_now(m, vm) < 0 && vm->save_pending)
			left++;
	}
	if (!left)
		m->retry_usec = 0;
	return left;
}

size_t manager_flush(manager_t *m)
{
	return flush_pending(m);
}

static int on_save(sd_event_source *s, void *userdata)
{
	flush_pending(userdata);
	return 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	flush_pending(userdata);
	return 0;
}

/*
 * Write a VM's state. Entering an active state from an inactive one (the
 * Starting of a start) is written at once, before the backend starts a
 * process: a restarted mvmd must know to look for it. Transitions between
 * active states (Running, Stopping), and a kvm worker's pid, are written
 * behind (lazy), on a turn of the loop after the answers it had pending:
 * a restarted mvmd learns each of them again from the backend (a kvm
 * worker's HELLO carries its pid and state; cloud-hypervisor's vm.info
 * says Running), so they cost no write on a start's path; and a VM that
 * ends before then has its whole history written once, with its end.
 * Paused, and the Running a resume leads to, are written at once: the
 * backend is not asked again which of the two its VM is in.
 */
int manager_save_vm(manager_t *m, vm_t *vm, bool lazy)
{
	bool active = fsm_state_is_active(vm->state);
	const fsm_event_t *last = vm->transitions.count ? fsm_ring_get(&vm->transitions, vm->transitions.count - 1) : NULL;

	vm_touch(vm);
	/* Into or out of Paused: nothing tells a restarted mvmd which it is
	 * (it adopts the process as it was recorded), so it is written now. */
	if (last && (last->to == VM_STATE_PAUSED || last->from == VM_STATE_PAUSED))
		lazy = false;
	if (lazy && active && vm->disk_active && m->save_src) {
		vm->save_pending = true;
		sd_event_source_set_enabled(m->save_src, SD_EVENT_ONESHOT);
		return 0;
	}
	return manager_save_now(m, vm);
}

int manager_save(manager_t *m, vm_t *vm)
{
	return manager_save_vm(m, vm, false);
}

int manager_save_lazy(manager_t *m, vm_t *vm)
{
	return manager_save_vm(m, vm, true);
}
