/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.vm.pause / resume / snapshot (docs/rpc-methods.md). Each is
 * answered when the backend's VMM has done it (daemon/mvmd/manager.h,
 * manager_done_fn), never blocking other clients. A backend that cannot
 * answers -32602 with data.backend, and a compute.vm.run VM -32602 with
 * data.param "id", whatever the VM's state: no state of the VM would
 * make the request valid.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"
#include "util/log.h"
#include "util/macro.h"
#include "vmlog.h"

typedef enum { OP_PAUSE, OP_RESUME, OP_SNAPSHOT } op_kind_t;

static const char *const op_names[] = { "pause", "resume", "snapshot" };
static const char *const op_failed[] = { "Pause failed", "Resume failed", "Snapshot failed" };
static const char *const op_from[] = { "pause is allowed from Running", "resume is allowed from Paused",
				       "snapshot is allowed from Running and Paused" };

typedef struct pending {
	rpc_call_t *call;
	op_kind_t kind;
	char *snapshot; /* its name (snapshots/<name>) */
} pending_t;

static json_object *snapshot_to_json(manager_t *m, const vm_t *vm, const char *name)
{
	_cleanup_free_ char *path = manager_snapshot_path(m, vm, name);
	json_object *res = json_object_new_object(), *snap = json_object_new_object();
	char hash[BLOB_REF_LEN + 1];

	json_object_object_add(snap, "name", json_object_new_string(name));
	/* kvm: the blob it was stored as (compute.vm.create {snapshot}). */
	if (manager_snapshot_hash(m, vm, name, hash) == 0)
		json_object_object_add(snap, "hash", json_object_new_string(hash));
	json_object_object_add(snap, "path", path ? json_object_new_string(path) : NULL);
	json_object_object_add(snap, "created", methods_time_to_json(fsm_now_wall_usec()));
	json_object_object_add(res, "id", json_object_new_string(vm->id));
	json_object_object_add(res, "state", json_object_new_string(vm_state_to_string(vm->state)));
	json_object_object_add(res, "snapshot", snap);
	return res;
}

static void on_done(manager_t *m, const char *vm_id, int error, const char *cause, void *userdata)
{
	pending_t *p = userdata;
	vm_t *vm = manager_find(m, vm_id);

	if (!vm)
		methods_vm_error(p->call, RPC_ERROR_NOT_FOUND, "VM not found", vm_id, NULL,
				 "removed while the request waited", 0);
	else if (error == -ECANCELED)
		/* A stop (or the VM's end) came first. */
		methods_vm_error(p->call, RPC_ERROR_INVALID_STATE, "Invalid state transition", vm_id, vm, cause, 0);
	else if (error == -ETIMEDOUT) {
		/* Its VMM did not answer in time (kvm: the worker was killed). */
		vmlog_vm(LOG_WARNING, vm, "vm %s: %s timed out: %s", vm_id, op_names[p->kind], cause ? cause : "");
		methods_vm_error(p->call, RPC_ERROR_TIMEOUT, "Timeout", vm_id, vm, cause ? cause : strerror(-error), error);
	} else if (error < 0) {
		vmlog_vm(LOG_WARNING, vm, "vm %s: %s failed: %s", vm_id, op_names[p->kind], cause ? cause : strerror(-error));
		methods_vm_error(p->call, RPC_ERROR_SERVER, op_failed[p->kind], vm_id, vm, cause ? cause : strerror(-error),
				 error);
	} else if (p->kind == OP_SNAPSHOT) {
		vmlog_vm(LOG_INFO, vm, "vm %s: snapshot %s written", vm_id, p->snapshot);
		rpc_call_reply(p->call, snapshot_to_json(m, vm, p->snapshot));
	} else {
		vmlog_vm(LOG_INFO, vm, "vm %s: %s", vm_id, p->kind == OP_PAUSE ? "paused" : "resumed");
		rpc_call_reply(p->call, methods_vm_to_json(m, vm, true));
	}
	free(p->snapshot);
	free(p);
}

static void run(rpc_call_t *call, json_object *params, void *userdata, op_kind_t kind)
{
	methods_ctx_t *ctx = userdata;
	vm_t *vm = methods_find_vm(call, ctx->manager, params);
	pending_t *p;
	int r;

	if (!vm)
		return;
	p = calloc(1, sizeof(*p));
	if (!p) {
		rpc_call_errno(call, -ENOMEM, NULL);
		return;
	}
	*p = (pending_t){ .call = call, .kind = kind };
	r = kind == OP_PAUSE    ? manager_pause_vm(ctx->manager, vm, on_done, p)
	    : kind == OP_RESUME ? manager_resume_vm(ctx->manager, vm, on_done, p)
				: manager_snapshot_vm(ctx->manager, vm, on_done, p, &p->snapshot);
	if (r >= 0)
		return; /* on_done answers */
	free(p);
	if (r == -EOPNOTSUPP) {
		methods_reply_backend_unsupported(call, vm, op_names[kind]);
	} else if (r == -EPERM) {
		/* A run VM: no state of it would make the request valid. */
		_cleanup_free_ char *reason = NULL;
		json_object *data = json_object_new_object();

		if (asprintf(&reason, "%s of a compute.vm.run VM is not allowed: a run is one-shot and not durable",
			     op_names[kind]) < 0)
			reason = NULL;
		json_object_object_add(data, "id", json_object_new_string(vm->id));
		json_object_object_add(data, "param", json_object_new_string("id"));
		json_object_object_add(data, "reason", json_object_new_string(reason ? reason : "a compute.vm.run VM"));
		rpc_call_error(call, RPC_ERROR_INVALID_PARAMS, NULL, data);
	} else if (r == -EBUSY) {
		bool right = kind == OP_PAUSE ? vm->state == VM_STATE_RUNNING
			     : kind == OP_RESUME ? vm->state == VM_STATE_PAUSED
						 : vm->state == VM_STATE_RUNNING || vm->state == VM_STATE_PAUSED;
		methods_vm_error(call, RPC_ERROR_INVALID_STATE, "Invalid state transition", vm->id, vm,
				 right ? "another pause, resume or snapshot of the VM is in progress" : op_from[kind], 0);
	} else {
		int code = rpc_error_from_errno(r) == RPC_ERROR_RESOURCE_LIMIT ? RPC_ERROR_RESOURCE_LIMIT : RPC_ERROR_SERVER;
		methods_vm_error(call, code, op_failed[kind], vm->id, vm, strerror(-r), r);
	}
}

static void vm_pause(rpc_call_t *call, json_object *params, void *userdata)
{
	run(call, params, userdata, OP_PAUSE);
}

static void vm_resume(rpc_call_t *call, json_object *params, void *userdata)
{
	run(call, params, userdata, OP_RESUME);
}

static void vm_snapshot(rpc_call_t *call, json_object *params, void *userdata)
{
	run(call, params, userdata, OP_SNAPSHOT);
}

/* --- tables (documentation: rpc.discover) ------------------------------ */

static const rpc_field_t id_params[] = {
	{ "id", true, METHODS_VM_REF_SCHEMA },
	{ NULL },
};

static const rpc_field_t snapshot_fields[] = {
	{ "name", true, { .type = RPC_TYPE_STRING, .description = "its number among the VM's snapshots: \"1\", \"2\", ..." } },
	{ "path", true, { .type = RPC_TYPE_STRING, .description = "its directory, STATE_DIR/vms/<id>/snapshots/<name>" } },
	{ "created", true, { .type = RPC_TYPE_STRING, .description = "when it was written", .format = "date-time" } },
	{ "hash", false, { .type = RPC_TYPE_STRING, .description = "kvm: the snapshot blob (kind snapshot) in the store, \"sha256:<hex>\"; "
			   "compute.vm.create {snapshot} makes a VM from it (docs/snapshots.md)" } },
	{ NULL },
};
static const rpc_field_t snapshot_result_fields[] = {
	{ "id", true, { .type = RPC_TYPE_STRING, .description = "the VM's id" } },
	{ "state", true, { .type = RPC_TYPE_STRING, .description = "the VM's state after it (as before it)" } },
	{ "snapshot", true, { .type = RPC_TYPE_OBJECT, .fields = snapshot_fields } },
	{ NULL },
};
static const rpc_schema_t snapshot_result = { .type = RPC_TYPE_OBJECT, .fields = snapshot_result_fields };

#define EX_VM(state, cause) \
	"{\"id\":\"7d1c0f9e-3b6a-4c1e-9f2d-5a8b7c6d5e4f\",\"name\":\"web\",\"backend\":\"ch\",\"state\":\"" state "\"," \
	"\"cause\":" cause ",\"vcpus\":1,\"memory_mib\":64,\"labels\":{},\"created\":\"2026-12-07T14:30:07.123456Z\"}"
static const rpc_example_t pause_examples[] = {
	{ "pause", "{\"id\":\"web\"}", EX_VM("Paused", "\"paused\"") },
	{ NULL },
};
static const rpc_example_t resume_examples[] = {
	{ "resume", "{\"id\":\"web\"}", EX_VM("Running", "\"resumed\"") },
	{ NULL },
};
static const rpc_example_t snapshot_examples[] = {
	{ "snapshot a paused VM", "{\"id\":\"web\"}",
	  "{\"id\":\"7d1c0f9e-3b6a-4c1e-9f2d-5a8b7c6d5e4f\",\"state\":\"Paused\",\"snapshot\":{\"name\":\"1\","
	  "\"path\":\"/var/lib/mvmd/vms/7d1c0f9e-3b6a-4c1e-9f2d-5a8b7c6d5e4f/snapshots/1\","
	  "\"created\":\"2026-12-07T14:31:00.000000Z\"}}" },
	{ NULL },
};

#define PAUSE_ERRORS RPC_ERROR_NOT_FOUND, RPC_ERROR_INVALID_STATE, RPC_ERROR_TIMEOUT, RPC_ERROR_SERVER

const rpc_method_t methods_pause[] = {
	{ "compute.vm.pause", "Pause a Running VM (its vCPUs stop; memory, console and state stay); answered once it is Paused", id_params,
	  &methods_vm_schema, vm_pause, 0, METHODS_ERRORS(PAUSE_ERRORS), pause_examples },
	{ "compute.vm.resume", "Resume a Paused VM; answered once it is Running", id_params,
	  &methods_vm_schema, vm_resume, 0, METHODS_ERRORS(PAUSE_ERRORS), resume_examples },
	{ "compute.vm.snapshot", "Snapshot a Paused or Running VM into its directory's snapshots/<n> (kvm: also a blob of kind snapshot, its hash)",
	  id_params, &snapshot_result, vm_snapshot, 0, METHODS_ERRORS(PAUSE_ERRORS), snapshot_examples },
};
const size_t methods_pause_n = ELEMENTSOF(methods_pause);
