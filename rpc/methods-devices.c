/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.vm.add-disk / add-net / remove-device (docs/rpc.md): hotplug on
 * a Running ch VM, answered once cloud-hypervisor has done it
 * (daemon/mvmd/manager.h, manager_done_fn), never blocking other clients.
 * The device is checked as create checks disks[] and net[]; a disk names
 * a host file, so only clients that may name host files may add one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"
#include "util/log.h"
#include "util/macro.h"
#include "vmlog.h"

typedef enum { OP_ADD_DISK, OP_ADD_NET, OP_REMOVE } op_kind_t;

static const char *const op_names[] = { "add-disk", "add-net", "remove-device" };
static const char *const op_failed[] = { "Add disk failed", "Add net failed", "Remove device failed" };

typedef struct pending {
	rpc_call_t *call;
	op_kind_t kind;
	json_object *device; /* the spec entry added or removed */
} pending_t;

static void pending_free(pending_t *p)
{
	json_object_put(p->device);
	free(p);
}

/* {"id", "state", "device": {...}}: the device as status shows it now
 * (added) or showed it (removed). */
static json_object *result(const vm_t *vm, json_object *device)
{
	json_object *res = json_object_new_object();

	json_object_object_add(res, "id", json_object_new_string(vm->id));
	json_object_object_add(res, "state", json_object_new_string(vm_state_to_string(vm->state)));
	json_object_object_add(res, "device", json_object_get(device));
	return res;
}

static void on_done(manager_t *m, const char *vm_id, int error, const char *cause, void *userdata)
{
	pending_t *p = userdata;
	vm_t *vm = manager_find(m, vm_id);
	json_object *id = NULL;

	json_object_object_get_ex(p->device, "id", &id);
	if (!vm)
		methods_vm_error(p->call, RPC_ERROR_NOT_FOUND, "VM not found", vm_id, NULL, "removed while the request waited", 0);
	else if (error == -ECANCELED)
		/* A stop (or the VM's end) came first. */
		methods_vm_error(p->call, RPC_ERROR_INVALID_STATE, "Invalid state transition", vm_id, vm, cause, 0);
	else if (error < 0) {
		vmlog_vm(LOG_WARNING, vm, "vm %s: %s failed: %s", vm_id, op_names[p->kind], cause ? cause : strerror(-error));
		methods_vm_error(p->call, RPC_ERROR_SERVER, op_failed[p->kind], vm_id, vm, cause ? cause : strerror(-error), error);
	} else {
		vmlog_vm(LOG_INFO, vm, "vm %s: %s %s", vm_id, p->kind == OP_REMOVE ? "removed device" : "added device",
			 id ? json_object_get_string(id) : "?");
		rpc_call_reply(p->call, result(vm, p->device));
	}
	pending_free(p);
}

/* The refusals a request gets before anything is asked of the VMM. */
static void refused(rpc_call_t *call, vm_t *vm, op_kind_t kind, int r, const char *cause)
{
	if (r == -EOPNOTSUPP) {
		methods_reply_backend_unsupported(call, vm, op_names[kind]);
	} else if (r == -EBUSY) {
		methods_vm_error(call, RPC_ERROR_INVALID_STATE, "Invalid state transition", vm->id, vm,
				 vm->state == VM_STATE_RUNNING ? "another operation on the VM's devices or state is in progress"
							       : "devices are added and removed while the VM is Running",
				 0);
	} else if (r == -EINVAL || r == -ENOENT) {
		const char *param = kind == OP_REMOVE ? "device" : kind == OP_ADD_NET ? "tap" : "path";
		if (cause && strncmp(cause, "serial", 6) == 0)
			param = "serial";
		rpc_call_invalid_param(call, param, cause ? cause : strerror(-r));
	} else {
		int code = rpc_error_from_errno(r) == RPC_ERROR_RESOURCE_LIMIT ? RPC_ERROR_RESOURCE_LIMIT : RPC_ERROR_SERVER;
		methods_vm_error(call, code, op_failed[kind], vm->id, vm, cause ? cause : strerror(-r), r);
	}
}

static void run(rpc_call_t *call, json_object *params, void *userdata, op_kind_t kind)
{
	methods_ctx_t *ctx = userdata;
	_cleanup_free_ char *cause = NULL;
	vm_t *vm;
	pending_t *p;
	int r;

	/* A disk names a host file (methods.h). */
	if (kind == OP_ADD_DISK && !methods_peer_may_name_host_files(call)) {
		methods_reply_host_file_denied(call, "path");
		return;
	}
	vm = methods_find_vm(call, ctx->manager, params);
	if (!vm)
		return;
	p = calloc(1, sizeof(*p));
	if (!p) {
		rpc_call_errno(call, -ENOMEM, NULL);
		return;
	}
	*p = (pending_t){ .call = call, .kind = kind };
	if (kind == OP_REMOVE) {
		json_object *dev = NULL;
		json_object_object_get_ex(params, "device", &dev);
		/* The entry as it is now: the answer shows what was removed. */
		r = manager_remove_device(ctx->manager, vm, json_object_get_string(dev), &p->device, &cause, on_done, p);
	} else {
		/* The device as given, without the VM's id: the backend names it. */
		p->device = json_object_new_object();
		if (!p->device) {
			pending_free(p);
			rpc_call_errno(call, -ENOMEM, NULL);
			return;
		}
		json_object_object_foreach(params, key, val)
			if (strcmp(key, "id") != 0)
				json_object_object_add(p->device, key, json_object_get(val));
		r = manager_add_device(ctx->manager, vm, p->device, kind == OP_ADD_NET, &cause, on_done, p);
	}
	if (r >= 0)
		return; /* on_done answers */
	pending_free(p);
	refused(call, vm, kind, r, cause);
}

static void vm_add_disk(rpc_call_t *call, json_object *params, void *userdata)
{
	run(call, params, userdata, OP_ADD_DISK);
}

static void vm_add_net(rpc_call_t *call, json_object *params, void *userdata)
{
	run(call, params, userdata, OP_ADD_NET);
}

static void vm_remove_device(rpc_call_t *call, json_object *params, void *userdata)
{
	run(call, params, userdata, OP_REMOVE);
}

/* --- tables (documentation: rpc.discover) ------------------------------ */

static const rpc_field_t add_disk_params[] = {
	{ "id", true, METHODS_VM_REF_SCHEMA },
	METHODS_DISK_FIELDS,
	{ NULL },
};
static const rpc_field_t add_net_params[] = {
	{ "id", true, METHODS_VM_REF_SCHEMA },
	METHODS_NET_FIELDS,
	{ NULL },
};
static const rpc_field_t remove_params[] = {
	{ "id", true, METHODS_VM_REF_SCHEMA },
	{ "device", true, { .type = RPC_TYPE_STRING, .description = "the device's id as status shows it (disk0, net1, ...)",
			    .pattern = "[A-Za-z0-9_-]{1,32}" } },
	{ NULL },
};

static const rpc_schema_t device_schema = {
	.type = RPC_TYPE_ANY,
	.description = "the disk {id, path, readonly, serial?} or tap {id, tap, mac} as status shows it",
};
static const rpc_field_t result_fields[] = {
	{ "id", true, { .type = RPC_TYPE_STRING, .description = "the VM's id" } },
	{ "state", true, { .type = RPC_TYPE_STRING, .description = "the VM's state (Running)" } },
	{ "device", true, device_schema },
	{ NULL },
};
static const rpc_schema_t result_schema = { .type = RPC_TYPE_OBJECT, .fields = result_fields };

#define EX_ID "7d1c0f9e-3b6a-4c1e-9f2d-5a8b7c6d5e4f"
static const rpc_example_t add_disk_examples[] = {
	{ "add a data disk", "{\"id\":\"web\",\"path\":\"/srv/images/data.img\",\"serial\":\"data\"}",
	  "{\"id\":\"" EX_ID "\",\"state\":\"Running\",\"device\":{\"path\":\"/srv/images/data.img\",\"serial\":\"data\","
	  "\"id\":\"disk1\"}}" },
	{ NULL },
};
static const rpc_example_t add_net_examples[] = {
	{ "add a tap", "{\"id\":\"web\",\"tap\":\"tap-web1\"}",
	  "{\"id\":\"" EX_ID "\",\"state\":\"Running\",\"device\":{\"tap\":\"tap-web1\",\"id\":\"net1\","
	  "\"mac\":\"26:4f:0b:9a:77:10\"}}" },
	{ NULL },
};
static const rpc_example_t remove_examples[] = {
	{ "remove a disk", "{\"id\":\"web\",\"device\":\"disk1\"}",
	  "{\"id\":\"" EX_ID "\",\"state\":\"Running\",\"device\":{\"path\":\"/srv/images/data.img\",\"serial\":\"data\","
	  "\"id\":\"disk1\"}}" },
	{ NULL },
};

#define DEVICE_ERRORS RPC_ERROR_INVALID_PARAMS, RPC_ERROR_NOT_FOUND, RPC_ERROR_INVALID_STATE, RPC_ERROR_SERVER

const rpc_method_t methods_devices[] = {
	{ "compute.vm.add-disk", "Attach a disk to a Running ch VM (kept for its next boots); answered once attached",
	  add_disk_params, &result_schema, vm_add_disk, 0, METHODS_ERRORS(DEVICE_ERRORS), add_disk_examples },
	{ "compute.vm.add-net", "Attach a tap to a Running ch VM (kept for its next boots); answered once attached",
	  add_net_params, &result_schema, vm_add_net, 0, METHODS_ERRORS(DEVICE_ERRORS), add_net_examples },
	{ "compute.vm.remove-device", "Detach a disk or tap from a Running ch VM (and from its next boots)", remove_params,
	  &result_schema, vm_remove_device, 0, METHODS_ERRORS(DEVICE_ERRORS), remove_examples },
};
const size_t methods_devices_n = ELEMENTSOF(methods_devices);
