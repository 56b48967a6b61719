/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hot-add and hot-remove of disks and taps on a Running ch VM through
 * cloud-hypervisor's API (docs/linux-guests.md, "Hotplug"):
 *
 *   add:    PUT vm.add-disk {"path", "readonly", "serial"?, "id"}
 *           PUT vm.add-net  {"tap", "mac", "id"}          → 200 (or 204)
 *   remove: PUT vm.remove-device {"id"}                   → 204
 *
 * The entry is checked as create checks the spec's devices and named
 * ("disk3", "net1": ch/spec-devices.h) before anything is asked; once
 * cloud-hypervisor accepted, it joins (or leaves) the spec, which is
 * written at once: status shows the VM's devices as they are, a
 * re-adopting mvmd keeps them, and the next cold boot's VmConfig is
 * built from the same spec, so it boots with them. An operation at a
 * time, shared with pause/resume/snapshot (ch/pause.c): the request in
 * flight is the operation's, which a stop cancels.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/ch-vm.h"
#include "ch/spec-devices.h"
#include "ch/vmconfig.h"
#include "util/cause.h"
#include "util/log.h"
#include "util/macro.h"

static const char *entry_string(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
												 : NULL;
}

static void on_answer(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;
	ch_api_op_t op = c->op;
	int r;

	c->req = NULL;
	if (error < 0 || ch_api_check_status(op, status) < 0) {
		_cleanup_free_ char *why = ch_op_refusal(op, error, status, body, len);
		ch_op_finish(c, error < 0 ? error : -EPROTO, why);
		return;
	}
	r = op == CH_API_VM_REMOVE_DEVICE ? ch_spec_device_drop(c->vm, c->op_net, c->op_index)
					  : ch_spec_device_append(c->vm, c->op_device, c->op_net);
	if (r < 0) {
		ch_op_finish(c, r, "the VM's spec could not be updated");
		return;
	}
	/* Written now: nothing else would tell a restarted mvmd. A failed
	 * write stays pending and is retried (manager_save); the device is
	 * attached either way, so the answer is the same. */
	r = manager_save(c->m, c->vm);
	if (r < 0)
		log_warning_errno(r, "vm %s: %s done, its state file not written yet: %m", c->vm->id, ch_api_op_to_string(op));
	ch_op_finish(c, 0, NULL);
}

static int begin(ch_vm_t *c, ch_api_op_t op, char *body, json_object *entry, bool net, size_t index,
		 manager_done_fn done, void *userdata)
{
	int r;

	free(c->op_body);
	c->op_body = body;
	json_object_put(c->op_device);
	c->op_device = json_object_get(entry);
	c->op_net = net;
	c->op_index = index;
	c->op = op;
	c->op_done = done;
	c->op_userdata = userdata;
	r = ch_vm_api_send(c, op, on_answer);
	if (r < 0) {
		c->op_done = NULL; /* refused: done is not called */
		ch_op_finish(c, r, NULL);
	}
	return r;
}

/* Up, and nothing else in flight: a boot, a stop or another operation
 * has the API otherwise. */
static ch_vm_t *ready(vm_t *vm, int *ret)
{
	ch_vm_t *c = vm->backend_data;

	*ret = !c ? -ESRCH : c->op_done || c->req || c->phase != PHASE_RUNNING || c->paused ? -EBUSY : 0;
	return *ret < 0 ? NULL : c;
}

int ch_add_device(manager_t *m, vm_t *vm, json_object *entry, bool net, char **ret_cause, manager_done_fn done,
		  void *userdata)
{
	json_object *v;
	char *body = NULL;
	ch_vm_t *c;
	int r;

	if (!(c = ready(vm, &r)))
		return r;
	r = ch_spec_device_new(vm, entry, net, ret_cause);
	if (r < 0)
		return r;
	if (net) {
		ch_net_t n = { .tap = entry_string(entry, "tap"), .mac = entry_string(entry, "mac"), .id = entry_string(entry, "id") };
		r = ch_vmconfig_net_body(&n, &body);
	} else {
		ch_disk_t d = {
			.path = entry_string(entry, "path"),
			.readonly = json_object_object_get_ex(entry, "readonly", &v) && json_object_get_boolean(v),
			.serial = entry_string(entry, "serial"),
			.id = entry_string(entry, "id"),
		};
		r = ch_vmconfig_disk_body(&d, &body);
	}
	if (r < 0)
		return set_cause(ret_cause, r, "cannot build the %s body: %s", net ? "vm.add-net" : "vm.add-disk", strerror(-r));
	return begin(c, net ? CH_API_VM_ADD_NET : CH_API_VM_ADD_DISK, body, entry, net, 0, done, userdata);
}

int ch_remove_device(manager_t *m, vm_t *vm, const char *device, json_object **ret_device,
			 char **ret_cause, manager_done_fn done, void *userdata)
{
	json_object *entry;
	char *body = NULL;
	size_t index = 0;
	bool net = false;
	ch_vm_t *c;
	int r;

	if (!(c = ready(vm, &r)))
		return r;
	entry = ch_spec_device_find(vm, device, &net, &index);
	if (!entry)
		return set_cause(ret_cause, -ENOENT, "the VM has no device \"%s\"", device);
	r = ch_spec_device_removable(vm, net, index, ret_cause);
	if (r < 0)
		return r;
	r = ch_vmconfig_remove_body(device, &body);
	if (r < 0)
		return set_cause(ret_cause, r, "cannot build the vm.remove-device body: %s", strerror(-r));
	r = begin(c, CH_API_VM_REMOVE_DEVICE, body, entry, net, index, done, userdata);
	if (r >= 0)
		*ret_device = json_object_get(entry);
	return r;
}
