/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pause, resume and snapshot of a ch VM through cloud-hypervisor's API:
 *
 *   pause:    PUT vm.pause                          → Paused
 *   resume:   PUT vm.resume                         → Running
 *   snapshot: (Running: PUT vm.pause → Paused)
 *             PUT vm.snapshot {"destination_url": "file://DIR"}
 *             (Running before: PUT vm.resume → Running)
 *
 * cloud-hypervisor snapshots a paused VM only. A snapshot that fails on
 * a VM paused for it still resumes it, then reports the snapshot's error.
 * One operation at a time, and only once the VM is up (PHASE_RUNNING):
 * the one request in flight is then always the operation's, which a stop
 * cancels (ch_op_abort), answering the operation -ECANCELED.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/ch-vm.h"
#include "util/macro.h"

void ch_op_finish(ch_vm_t *c, int error, const char *cause)
{
	manager_done_fn done = c->op_done;
	void *userdata = c->op_userdata;
	_cleanup_free_ char *why = TAKE_PTR(c->op_cause);

	c->op = _CH_API_OP_MAX;
	c->op_done = NULL;
	c->op_userdata = NULL;
	c->op_resume = false;
	c->op_error = 0;
	free(c->op_body);
	c->op_body = NULL;
	json_object_put(c->op_device);
	c->op_device = NULL;
	if (done)
		done(c->m, c->vm->id, error, cause ? cause : why, userdata);
}

void ch_op_abort(ch_vm_t *c, const char *cause)
{
	if (!c->op_done)
		return;
	ch_http_cancel(c->req);
	c->req = NULL;
	ch_op_finish(c, -ECANCELED, cause);
}

/* What cloud-hypervisor said (or why it could not be asked), printable. */
char *ch_op_refusal(ch_api_op_t op, int error, long status, const char *body, size_t len)
{
	char said[256], *s = NULL;
	size_t n = 0;

	for (size_t i = 0; i < len && n < sizeof(said) - 1; i++)
		said[n++] = (unsigned char)body[i] < ' ' || body[i] == 0x7f ? ' ' : body[i];
	said[n] = '\0';
	if (error < 0 && asprintf(&s, "cloud-hypervisor's %s failed: %s", ch_api_op_to_string(op), strerror(-error)) < 0)
		return NULL;
	if (error == 0 && asprintf(&s, "cloud-hypervisor refused %s (HTTP %ld)%s%s", ch_api_op_to_string(op), status,
				   n ? ": " : "", said) < 0)
		return NULL;
	return s;
}

static void on_answer(int error, long status, const char *body, size_t len, void *userdata);

static int step(ch_vm_t *c, ch_api_op_t op)
{
	c->op = op;
	return ch_vm_api_send(c, op, on_answer);
}

/* The next request of the operation, or its end when it cannot be sent. */
static void step_or_finish(ch_vm_t *c, ch_api_op_t op)
{
	int r = step(c, op);

	if (r < 0) {
		_cleanup_free_ char *why = NULL;
		if (asprintf(&why, "cannot send %s to cloud-hypervisor: %s", ch_api_op_to_string(op), strerror(-r)) < 0)
			why = NULL;
		ch_op_finish(c, r, why);
	}
}

static void on_answer(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;
	ch_api_op_t op = c->op;

	c->req = NULL;
	if (error < 0 || ch_api_check_status(op, status) < 0) {
		_cleanup_free_ char *why = ch_op_refusal(op, error, status, body, len);
		int r = error < 0 ? error : -EPROTO;

		if (op == CH_API_VM_SNAPSHOT && c->op_resume) {
			/* Paused for the snapshot: running again, then the error. */
			c->op_error = r;
			c->op_cause = TAKE_PTR(why);
			step_or_finish(c, CH_API_VM_RESUME);
			return;
		}
		if (op == CH_API_VM_RESUME && c->op_resume) {
			_cleanup_free_ char *both = NULL;
			if (asprintf(&both, "%s%s%s; the VM stays Paused", c->op_cause ? c->op_cause : "",
				     c->op_cause ? "; then " : "", why ? why : "vm.resume failed") < 0)
				both = NULL;
			ch_op_finish(c, r, both);
			return;
		}
		ch_op_finish(c, r, why);
		return;
	}
	switch (op) {
	case CH_API_VM_PAUSE:
		c->paused = true;
		(void)manager_transition(c->m, c->vm, VM_STATE_PAUSED, c->op_resume ? "paused for a snapshot" : "paused");
		if (c->op_resume)
			step_or_finish(c, CH_API_VM_SNAPSHOT);
		else
			ch_op_finish(c, 0, NULL);
		break;
	case CH_API_VM_RESUME:
		c->paused = false;
		(void)manager_transition(c->m, c->vm, VM_STATE_RUNNING, c->op_resume ? "resumed after a snapshot" : "resumed");
		ch_op_finish(c, c->op_error, NULL);
		break;
	case CH_API_VM_SNAPSHOT:
		if (c->op_resume)
			step_or_finish(c, CH_API_VM_RESUME);
		else
			ch_op_finish(c, 0, NULL);
		break;
	default:
		ch_op_finish(c, -EPROTO, "unexpected request");
		break;
	}
}

static int op_begin(vm_t *vm, ch_api_op_t first, manager_done_fn done, void *userdata)
{
	ch_vm_t *c = vm->backend_data;
	int r;

	if (!c)
		return -ESRCH;
	/* Only once up, and one at a time: a boot, a stop or another
	 * operation has the API now. */
	if (c->op_done || c->req || c->phase != PHASE_RUNNING)
		return -EBUSY;
	c->op_done = done;
	c->op_userdata = userdata;
	r = step(c, first);
	if (r < 0) {
		c->op_done = NULL; /* refused: done is not called */
		ch_op_finish(c, r, NULL);
	}
	return r;
}

int ch_pause_vm(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata)
{
	return op_begin(vm, CH_API_VM_PAUSE, done, userdata);
}

int ch_resume_vm(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata)
{
	return op_begin(vm, CH_API_VM_RESUME, done, userdata);
}

int ch_snapshot_vm(manager_t *m, vm_t *vm, const char *dir, manager_done_fn done, void *userdata)
{
	ch_vm_t *c = vm->backend_data;
	char *body = NULL;
	int r;

	if (!c)
		return -ESRCH;
	if (c->op_done || c->req || c->phase != PHASE_RUNNING)
		return -EBUSY;
	r = ch_api_snapshot_body(dir, &body);
	if (r < 0)
		return r;
	free(c->op_body);
	c->op_body = body;
	c->op_resume = vm->state == VM_STATE_RUNNING;
	return op_begin(vm, c->op_resume ? CH_API_VM_PAUSE : CH_API_VM_SNAPSHOT, done, userdata);
}
