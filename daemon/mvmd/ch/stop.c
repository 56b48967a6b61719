/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stopping a ch VM: PUT vm.power-button; at timeout_ms PUT vm.shutdown
 * then PUT vmm.shutdown; STOP_GRACE_MS later SIGKILL (daemon/mvmd/supervise.h).
 * A paused VM (ch/pause.c) goes straight to vm.shutdown: its guest cannot
 * hear the button. A forced stop kills at once. How it ended is backend-ch.c's to say, when
 * the process is gone.
 */
#include <errno.h>

#include "ch/ch-vm.h"
#include "util/macro.h"

static void arm_stop_timer(ch_vm_t *c, uint64_t ms, sd_event_time_handler_t fn)
{
	c->stop_timer = sd_event_source_disable_unref(c->stop_timer);
	if (sd_event_add_time_relative(manager_event(c->m), &c->stop_timer, CLOCK_MONOTONIC, ms * 1000u, 1000, fn, c) < 0)
		/* Without a timer nothing would end it: end it now. */
		(void)sv_kill(c->proc, "stop timeout");
}

static void on_vmm_shutdown(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;

	c->req = NULL;
}

static void on_vm_shutdown(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;

	c->req = NULL;
	/* The VM is down (or the API is gone): the VMM process goes next. */
	if (ch_vm_api_send(c, CH_API_VMM_SHUTDOWN, on_vmm_shutdown) < 0)
		(void)sv_kill(c->proc, "stop timeout");
}

void ch_stop_escalate(ch_vm_t *c, const char *cause)
{
	c->stop_cause = cause;
	c->stop_timer = sd_event_source_disable_unref(c->stop_timer);
	(void)sv_kill_after(c->proc, STOP_GRACE_MS * 1000ull, "stop timeout");
	if (ch_vm_api_send(c, CH_API_VM_SHUTDOWN, on_vm_shutdown) < 0)
		(void)sv_kill(c->proc, "stop timeout");
}

static int on_stop_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	ch_stop_escalate(userdata, "stopped by vm.shutdown (the guest ignored the power button)");
	return 0;
}

static void on_power_button(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;

	c->req = NULL;
	/* No API yet (a stop right after the spawn): no guest to ask either. */
	if (error == -ECONNREFUSED) {
		(void)sv_kill(c->proc, "stop (cloud-hypervisor's API was not up yet)");
		return;
	}
	if (error < 0 || ch_api_check_status(CH_API_POWER_BUTTON, status) < 0) {
		c->stop_timer = sd_event_source_disable_unref(c->stop_timer);
		ch_stop_escalate(c, "stopped by vm.shutdown (the power button request failed)");
	}
}

int ch_stop_vm(manager_t *m, vm_t *vm, bool force, uint64_t timeout_ms)
{
	ch_vm_t *c = vm->backend_data;

	if (!c)
		return -ESRCH;
	ch_op_abort(c, "the VM is being stopped");
	if (force || timeout_ms == 0)
		return sv_kill(c->proc, "forced stop");
	c->phase = PHASE_STOPPING;
	c->stop_cause = "stopped (power button)";
	if (c->tick)
		sd_event_source_set_enabled(c->tick, SD_EVENT_OFF);
	/* A paused guest cannot hear the power button: shut it down. */
	if (c->paused) {
		ch_stop_escalate(c, "stopped by vm.shutdown (the VM was paused)");
		return 0;
	}
	if (ch_vm_api_send(c, CH_API_POWER_BUTTON, on_power_button) < 0) {
		ch_stop_escalate(c, "stopped by vm.shutdown (the power button request failed)");
		return 0;
	}
	arm_stop_timer(c, timeout_ms, on_stop_timer);
	return 0;
}

