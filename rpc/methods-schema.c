/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The objects more than one method answers with, as schemas: what
 * rpc.discover documents under components.schemas and what the OpenRPC
 * test (tests/suites/openrpc.sh) checks real answers against. Data only:
 * keep each in step with the code that builds the object (methods.c).
 */
#include <errno.h>
#include <string.h>

#include "methods.h"
#include "util/macro.h"

static const char *const backend_values[] = { "kvm", "ch", NULL };
static const char *const state_values[] = { "Pending", "Provisioning", "Configured", "Starting", "Running",
					    "StartFailed", "Stopping", "Stopped", "Failed", "Paused", NULL };
/* An event's "to" is a state, or "Removed" for a VM's removal. */
static const char *const to_values[] = { "Pending", "Provisioning", "Configured", "Starting", "Running",
					 "StartFailed", "Stopping", "Stopped", "Failed", "Paused", "Removed", NULL };

#define TIME_SCHEMA(desc, null) \
	{ .type = RPC_TYPE_STRING, .description = desc, .format = "date-time", .nullable = null }

const rpc_field_t methods_event_fields[] = {
	{ "seq", true, { .type = RPC_TYPE_INTEGER, .description = "node-wide sequence number", .has_min = true, .min = 0 } },
	{ "time", true, TIME_SCHEMA("RFC 3339 UTC with microseconds", false) },
	{ "vm", true, { .type = RPC_TYPE_STRING, .description = "the VM's id" } },
	{ "from", true, { .type = RPC_TYPE_STRING, .enum_values = state_values } },
	{ "to", true, { .type = RPC_TYPE_STRING, .description = "the new state; \"Removed\" when the VM was removed", .enum_values = to_values } },
	{ "cause", true, { .type = RPC_TYPE_STRING, .description = "why, when known", .nullable = true } },
	{ NULL },
};

const rpc_schema_t methods_event_schema = {
	.type = RPC_TYPE_OBJECT,
	.component = "Event",
	.description = "One state transition of a VM",
	.fields = methods_event_fields,
};

static const rpc_schema_t label_value = { .type = RPC_TYPE_STRING, .has_max = true, .max = 256 };
static const rpc_schema_t label_key = { .type = RPC_TYPE_STRING, .pattern = "[A-Za-z0-9][A-Za-z0-9._/-]{0,62}" };

static const rpc_field_t vm_fields[] = {
	{ "id", true, { .type = RPC_TYPE_STRING, .description = "UUID", .pattern = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}" } },
	{ "name", true, { .type = RPC_TYPE_STRING, .pattern = METHODS_NAME_PATTERN, .nullable = true } },
	{ "backend", true, { .type = RPC_TYPE_STRING, .enum_values = backend_values } },
	{ "state", true, { .type = RPC_TYPE_STRING, .enum_values = state_values } },
	{ "cause", true, { .type = RPC_TYPE_STRING, .description = "why the VM is in its state (Failed, Stopped, ...)", .nullable = true } },
	{ "vcpus", true, { .type = RPC_TYPE_INTEGER, .has_min = true, .min = 1 } },
	{ "memory_mib", true, { .type = RPC_TYPE_INTEGER, .has_min = true, .min = 1 } },
	{ "labels", true, { .type = RPC_TYPE_OBJECT, .keys = &label_key, .values = &label_value } },
	{ "created", true, TIME_SCHEMA("when it was created", true) },
	{ "kernel", false, { .type = RPC_TYPE_STRING, .description = "ch: the guest kernel's host path" } },
	{ "initramfs", false, { .type = RPC_TYPE_STRING, .description = "ch: the initramfs's host path" } },
	{ "cmdline", false, { .type = RPC_TYPE_STRING, .description = "ch: the kernel command line" } },
	{ "disks", false, { .type = RPC_TYPE_ARRAY, .description = "ch: its disks", .items = &methods_disk_status_schema } },
	{ "net", false, { .type = RPC_TYPE_ARRAY, .description = "ch: its network interfaces, each with its MAC", .items = &methods_net_status_schema } },
	{ "root", false, { .type = RPC_TYPE_OBJECT, .description = "ch: the disk mvm-init mounts as /", .fields = methods_root_fields } },
	{ "process", false, { .type = RPC_TYPE_OBJECT, .description = "ch: the process mvm-init runs", .fields = methods_process_fields } },
	{ "vsock_socket", false, { .type = RPC_TYPE_STRING, .description = "ch: the hybrid vsock socket exec reaches the guest through" } },
	{ "workload", false, { .type = RPC_TYPE_OBJECT, .description = "kvm: the Wasm workload as stored, defaults filled in",
			       .fields = methods_workload_fields } },
	{ "run", false, { .type = RPC_TYPE_BOOLEAN, .description = "kvm: the VM of a compute.vm.run in progress: never written to disk, removed once the run is answered" } },
	{ "pid", false, { .type = RPC_TYPE_INTEGER, .description = "the VM's process (worker or cloud-hypervisor) while it runs", .has_min = true, .min = 1 } },
	{ "exit_code", false, { .type = RPC_TYPE_INTEGER, .description = "the guest's exit code, once it ended with one" } },
	{ "state_file_error", false, { .type = RPC_TYPE_STRING, .description = "why the VM's state file could not be read at startup" } },
	{ "transitions", false, { .type = RPC_TYPE_ARRAY, .description = "its recent transitions, oldest first (not in list)", .items = &methods_event_schema } },
	{ "cpu_seconds", false, { .type = RPC_TYPE_NUMBER, .description = "status: CPU time of its running process" } },
	{ "rss_bytes", false, { .type = RPC_TYPE_INTEGER, .description = "status: resident memory of its running process", .has_min = true, .min = 0 } },
	{ NULL },
};

const rpc_schema_t methods_vm_schema = {
	.type = RPC_TYPE_OBJECT,
	.component = "VM",
	.description = "A VM as create, status, start, stop and list show it",
	.fields = vm_fields,
};

/* The largest of the registered backends' own maxima (create refuses
 * beyond the VM's backend's, usable here or not): INT64_MAX when one has
 * none (describe gives no such key). */
static int64_t backends_max(manager_t *m, const char *key)
{
	int64_t best = 0;

	for (int b = 0; b < _VM_BACKEND_MAX; b++) {
		json_object *o, *v;
		if (!manager_backend_registered(m, b) || !(o = json_object_new_object()))
			continue;
		manager_backend_describe(m, b, o);
		int64_t max = json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : INT64_MAX;
		json_object_put(o);
		if (max > best)
			best = max;
	}
	return best ? best : INT64_MAX;
}

/*
 * This node's bounds for the schemas' "limit" names, read each time
 * rpc.discover is answered: a create beyond them is refused (-32005), so
 * a client generated from the document refuses it first.
 */
int methods_limit(const char *name, int64_t *ret, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	const manager_config_t *cfg = ctx ? manager_config(ctx->manager) : NULL;
	int64_t node, backends;

	if (!cfg)
		return -ENOENT;
	if (strcmp(name, "node.max_memory_mib") == 0) {
		node = (int64_t)cfg->max_memory_mib;
		backends = backends_max(ctx->manager, "max_memory_mib");
	} else if (strcmp(name, "node.max_vcpus") == 0) {
		node = (int64_t)cfg->max_vcpus;
		backends = backends_max(ctx->manager, "max_vcpus");
	} else
		return -ENOENT;
	*ret = MIN(node, backends);
	return 0;
}
