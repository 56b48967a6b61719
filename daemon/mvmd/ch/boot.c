/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A ch VM from its spawn to Running, through cloud-hypervisor's REST API
 * (daemon/mvmd/ch/http.h, never blocking the loop): GET vmm.ping until the
 * API answers, PUT vm.create with the VmConfig, PUT vm.boot, GET vm.info
 * until "Running". A restore (compute.vm.start with "snapshot") sends
 * PUT vm.restore {"source_url": "file://<snapshot dir>"} then PUT vm.resume
 * instead of vm.create and vm.boot: cloud-hypervisor restores a VM
 * Paused. One request in flight; a tick polls every TICK_USEC until
 * READY_TIMEOUT_USEC. A VM re-adopted while Starting sends what the mvmd
 * that died did not (vm.info says which step is missing: no VM, "Created"
 * or, for a restore, "Paused", which is resumed: the start asked for a
 * Running VM).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/ch-vm.h"
#include "util/fault.h"
#include "util/macro.h"

static uint64_t now_usec(manager_t *m)
{
	uint64_t t = 0;

	sd_event_now(manager_event(m), CLOCK_MONOTONIC, &t);
	return t;
}

/* A readiness request that failed for want of fds or memory would fail
 * again on every tick until the start's deadline: the start fails now,
 * and says why (-32005 with data.errno, as a spawn that fails so). */
static bool start_starved(ch_vm_t *c, int error)
{
	if (error != -EMFILE && error != -ENFILE && error != -ENOMEM && error != -ENOBUFS)
		return false;
	if (c->vm->state != VM_STATE_STARTING || sv_killed(c->proc))
		return false;
	c->vm->start_errno = error;
	(void)sv_kill(c->proc, error == -EMFILE || error == -ENFILE
				       ? "cannot reach its API: mvmd is out of file descriptors"
				       : "cannot reach its API: out of memory");
	return true;
}

static void on_ping(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;
	_cleanup_free_ char *version = NULL;

	c->req = NULL;
	if (start_starved(c, error))
		return;
	if (error == 0 && ch_api_check_status(CH_API_PING, status) == 0 &&
	    ch_api_parse_ping(body, len, &version) == 0 && c->phase == PHASE_PING)
		c->phase = !c->vmconfig || c->adopted ? PHASE_INFO : c->restoring ? PHASE_RESTORE : PHASE_CREATE;
	ch_boot_tick_arm(c);
}

/* cloud-hypervisor refused the VM (or could not be asked): the start fails
 * with what it said, and the process goes (backend-ch.c's on_exit_ reports it). */
static void start_fail(ch_vm_t *c, ch_api_op_t op, int error, long status, const char *body, size_t len)
{
	char said[256];
	size_t n = 0;

	for (size_t i = 0; i < len && n < sizeof(said) - 1; i++)
		said[n++] = (unsigned char)body[i] < ' ' || body[i] == 0x7f ? ' ' : body[i];
	said[n] = '\0';
	free(c->start_error);
	c->start_error = NULL;
	if (error < 0 && asprintf(&c->start_error, "cloud-hypervisor's %s failed: %s", ch_api_op_to_string(op),
				  strerror(-error)) < 0)
		c->start_error = NULL;
	else if (error == 0 && asprintf(&c->start_error, "cloud-hypervisor refused %s (HTTP %ld)%s%s",
					ch_api_op_to_string(op), status, n ? ": " : "", said) < 0)
		c->start_error = NULL;
	(void)sv_kill(c->proc, c->start_error ? NULL : "the VM could not be created");
}

static void on_create(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;

	c->req = NULL;
	if (start_starved(c, error))
		return;
	if (c->phase != PHASE_CREATE) {
		ch_boot_tick_arm(c);
		return;
	}
	if (error < 0 || ch_api_check_status(CH_API_VM_CREATE, status) < 0) {
		start_fail(c, CH_API_VM_CREATE, error, status, body, len);
		return;
	}
	free(c->vmconfig);
	c->vmconfig = NULL;
	c->phase = PHASE_BOOT;
	ch_boot_tick_arm(c);
}

static void on_restore(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;

	c->req = NULL;
	if (start_starved(c, error))
		return;
	if (c->phase != PHASE_RESTORE) {
		ch_boot_tick_arm(c);
		return;
	}
	if (error < 0 || ch_api_check_status(CH_API_VM_RESTORE, status) < 0) {
		start_fail(c, CH_API_VM_RESTORE, error, status, body, len);
		return;
	}
	free(c->vmconfig);
	c->vmconfig = NULL;
	c->phase = PHASE_RESUME;
	fault_point("restore.restored");
	ch_boot_tick_arm(c);
}

static void on_resume(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;

	c->req = NULL;
	if (start_starved(c, error))
		return;
	if (c->phase != PHASE_RESUME) {
		ch_boot_tick_arm(c);
		return;
	}
	/* An adopted VM may have been resumed by the mvmd that died:
	 * vm.info decides. */
	if (!c->adopted && (error < 0 || ch_api_check_status(CH_API_VM_RESUME, status) < 0)) {
		start_fail(c, CH_API_VM_RESUME, error, status, body, len);
		return;
	}
	c->phase = PHASE_INFO;
	ch_boot_tick_arm(c);
}

static void on_boot(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;

	c->req = NULL;
	if (start_starved(c, error))
		return;
	if (c->phase != PHASE_BOOT) {
		ch_boot_tick_arm(c);
		return;
	}
	/* An adopted VM may have been booted by the mvmd that died: vm.info
	 * decides. */
	if (!c->adopted && (error < 0 || ch_api_check_status(CH_API_VM_BOOT, status) < 0)) {
		start_fail(c, CH_API_VM_BOOT, error, status, body, len);
		return;
	}
	c->phase = PHASE_INFO;
	ch_boot_tick_arm(c);
}

static void on_info(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;
	ch_vm_state_t s;

	c->req = NULL;
	if (start_starved(c, error))
		return;
	if (c->phase != PHASE_INFO) {
		ch_boot_tick_arm(c);
		return;
	}
	if (error == 0 && ch_api_check_status(CH_API_INFO, status) == 0 && ch_api_parse_info(body, len, &s) == 0) {
		if (s == CH_VM_RUNNING) {
			c->phase = PHASE_RUNNING;
			if (c->vm->state == VM_STATE_STARTING)
				(void)manager_transition(c->m, c->vm, VM_STATE_RUNNING, "guest running");
		} else if (s == CH_VM_CREATED && c->adopted && !c->boot_tried && !c->restoring) {
			c->boot_tried = true;
			c->phase = PHASE_BOOT;
		} else if (s == CH_VM_PAUSED && c->adopted && !c->resume_tried && c->restoring) {
			/* Restored by the mvmd that died, not yet resumed. */
			c->resume_tried = true;
			c->phase = PHASE_RESUME;
		}
	} else if (error == 0 && c->adopted && c->vmconfig) {
		/* No VM: the mvmd that spawned it died before its vm.create
		 * (vm.restore). */
		c->adopted = false;
		c->phase = c->restoring ? PHASE_RESTORE : PHASE_CREATE;
	}
	ch_boot_tick_arm(c);
}

int ch_vm_api_send(ch_vm_t *c, ch_api_op_t op, ch_http_done_fn done)
{
	const ch_api_request_t *rq = ch_api_request(op);
	/* Setting up, and hotplug: cloud-hypervisor opens files and tells
	 * the guest before it answers. */
	bool slow = op == CH_API_VM_CREATE || op == CH_API_VM_BOOT || op == CH_API_VM_RESTORE || op == CH_API_VM_ADD_DISK ||
		    op == CH_API_VM_ADD_NET || op == CH_API_VM_REMOVE_DEVICE;
	unsigned timeout = slow ? SETUP_TIMEOUT_MS : API_TIMEOUT_MS;

	ch_http_cancel(c->req);
	c->req = NULL;
	const char *body = !rq->takes_body ? NULL
			   : op == CH_API_VM_CREATE || op == CH_API_VM_RESTORE ? c->vmconfig
									      : c->op_body;

	return ch_http_request_body(c->b->http, c->api, rq->method, rq->path, body, timeout, CH_API_BODY_MAX, done, c,
				    &c->req);
}

static bool phase_starting(ch_phase_t p)
{
	return p == PHASE_PING || p == PHASE_CREATE || p == PHASE_BOOT || p == PHASE_RESTORE || p == PHASE_RESUME ||
	       p == PHASE_INFO;
}

/* The request the start's phase waits on. */
static int api_send_phase(ch_vm_t *c)
{
	switch (c->phase) {
	case PHASE_PING:
		return ch_vm_api_send(c, CH_API_PING, on_ping);
	case PHASE_CREATE:
		return ch_vm_api_send(c, CH_API_VM_CREATE, on_create);
	case PHASE_BOOT:
		return ch_vm_api_send(c, CH_API_VM_BOOT, on_boot);
	case PHASE_RESTORE:
		return ch_vm_api_send(c, CH_API_VM_RESTORE, on_restore);
	case PHASE_RESUME:
		return ch_vm_api_send(c, CH_API_VM_RESUME, on_resume);
	default:
		return ch_vm_api_send(c, CH_API_INFO, on_info);
	}
}

int ch_boot_on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	ch_vm_t *c = userdata;

	if (c->serial_fd < 0)
		(void)ch_serial_connect(c);
	if (phase_starting(c->phase) && now_usec(c->m) > c->ready_deadline) {
		(void)sv_kill(c->proc, "the VM was not running 30 s after start");
		return 0;
	}
	if (!c->req && phase_starting(c->phase)) {
		int r = api_send_phase(c);
		if (r < 0 && !start_starved(c, r))
			ch_boot_tick_arm(c);
	} else
		ch_boot_tick_arm(c);
	return 0;
}

void ch_boot_tick_arm(ch_vm_t *c)
{
	bool want = phase_starting(c->phase) ||
		    (c->serial_fd < 0 && c->phase != PHASE_STOPPING);

	if (!c->tick)
		return;
	if (!want || c->req) {
		sd_event_source_set_enabled(c->tick, SD_EVENT_OFF);
		return;
	}
	sd_event_source_set_time_relative(c->tick, TICK_USEC);
	sd_event_source_set_enabled(c->tick, SD_EVENT_ONESHOT);
}
