/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Staged mass stop (docs/density.md): at most teardown_max kvm workers
 * are being torn down at a time. A worker is in teardown from the moment
 * mvmd asks it to end (a STOP frame, a kill) until its process is gone,
 * counted by the supervisor (sv_teardown) whether the runtime still
 * watches it or let it go after its RESULT: a worker that sent its RESULT
 * is still freeing its guest memory, its vCPUs and its KVM VM, and that
 * is the work that, done by thousands of processes at once, leaves the
 * host unresponsive. A stop beyond the cap waits in a FIFO (its VM stays
 * Stopping) and is sent when one in teardown is gone; its grace
 * (timeout_ms) counts from then.
 */
#include <errno.h>
#include <json-c/json.h>

#include "kvm-runtime.h"
#include "util/macro.h"

#define STOP_GRACE_MS 2000u

/* Ask the worker to end now: the stop as kvm_stop() always sent it. */
static int stop_now(kvm_runtime_t *k, bool force, uint64_t timeout_ms)
{
	int r;

	sv_teardown(k->proc);
	if (force || !k->w.ctl || timeout_ms == 0)
		return sv_kill(k->proc, "forced stop");
	r = kvm_ctl_send_stop(k->w.ctl, (uint32_t)MIN(timeout_ms, (uint64_t)STOP_GRACE_MS));
	kvm_runtime_ctl_update(k);
	if (r < 0)
		return sv_kill(k->proc, "forced stop");
	/* A worker that does not end in time is killed. */
	return sv_kill_after(k->proc, timeout_ms * 1000u, "stop timeout");
}

static bool full(const kvm_backend_t *b)
{
	return b->teardown_max && supervisor_teardowns(b->sv) >= b->teardown_max;
}

void kvm_teardown_dequeue(kvm_runtime_t *k)
{
	kvm_backend_t *b = k->b;

	if (!k->stop_queued)
		return;
	if (k->stop_prev)
		k->stop_prev->stop_next = k->stop_next;
	else
		b->stop_head = k->stop_next;
	if (k->stop_next)
		k->stop_next->stop_prev = k->stop_prev;
	else
		b->stop_tail = k->stop_prev;
	k->stop_next = k->stop_prev = NULL;
	k->stop_queued = false;
	b->n_stops_queued--;
}

int kvm_teardown_stop(kvm_runtime_t *k, bool force, uint64_t timeout_ms)
{
	kvm_backend_t *b = k->b;

	if (k->stop_queued) {
		/* Waiting its turn already: a forced stop stays queued, but
		 * is forced when its turn comes. */
		k->stop_force |= force;
		return 1;
	}
	/* In teardown already (a forced stop after a gentle one): at once. */
	if (sv_in_teardown(k->proc) || !full(b))
		return stop_now(k, force, timeout_ms);
	k->stop_force = force;
	k->stop_timeout_ms = timeout_ms;
	k->stop_queued = true;
	k->stop_prev = b->stop_tail;
	if (b->stop_tail)
		b->stop_tail->stop_next = k;
	else
		b->stop_head = k;
	b->stop_tail = k;
	b->n_stops_queued++;
	return 1;
}

void kvm_teardown_kill(kvm_runtime_t *k)
{
	/* Not queued (the VM is removed at once) but counted: the next
	 * stops wait for it too. */
	kvm_teardown_dequeue(k);
	sv_teardown(k->proc);
	(void)sv_kill(k->proc, NULL);
}

void kvm_teardown_next(void *userdata)
{
	kvm_backend_t *b = userdata;

	while (b->stop_head && !full(b)) {
		kvm_runtime_t *k = b->stop_head;
		kvm_teardown_dequeue(k);
		(void)stop_now(k, k->stop_force, k->stop_timeout_ms);
	}
}

json_object *kvm_teardown_describe(const kvm_backend_t *b)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "max", json_object_new_int64((int64_t)b->teardown_max));
	json_object_object_add(o, "active", json_object_new_int64((int64_t)supervisor_teardowns(b->sv)));
	json_object_object_add(o, "queued", json_object_new_int64((int64_t)b->n_stops_queued));
	return o;
}
