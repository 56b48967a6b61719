/* SPDX-License-Identifier: Apache-2.0 */
/* compute.vm.*: create, list, status, remove, events.tail. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capacity.h"
#include "kvm/backend-kvm.h"
#include "methods.h"
#include "util/log.h"
#include "util/macro.h"
#include "vmlog.h"

#define NAME_PATTERN METHODS_NAME_PATTERN

static const char *const backend_values[] = { "kvm", "ch", NULL };
static const char *const state_values[] = { "Pending", "Provisioning", "Configured", "Starting", "Running",
					    "StartFailed", "Stopping", "Stopped", "Failed", "Paused", NULL };

static const rpc_schema_t label_key = {
	.type = RPC_TYPE_STRING,
	.pattern = "[A-Za-z0-9][A-Za-z0-9._/-]{0,62}",
};
static const rpc_schema_t label_value = {
	.type = RPC_TYPE_STRING, .has_max = true, .max = 256,
};
static const rpc_schema_t labels_schema = {
	.type = RPC_TYPE_OBJECT,
	.description = "free-form key/value labels (at most 64)",
	.has_max = true, .max = 64,
	.keys = &label_key,
	.values = &label_value,
};

/* --- compute.vm.create ------------------------------------------------- */

static const rpc_schema_t guest_arg = { .type = RPC_TYPE_STRING, .has_max = true, .max = 4096 };
static const rpc_field_t guest_fields[] = {
	{ "image", false, { .type = RPC_TYPE_STRING, .description = "absolute path of a freestanding guest ELF on the host",
			    .pattern = "/.*", .has_max = true, .max = 4095 } },
	{ "args", false, { .type = RPC_TYPE_ARRAY, .description = "the guest's boot arguments", .has_max = true, .max = 64,
			   .items = &guest_arg } },
	{ NULL },
};

/* ch: prepared disk images and existing taps (daemon/mvmd/ch/spec-devices.h):
 * METHODS_DISK_FIELDS, METHODS_NET_FIELDS in methods.h. */
static const rpc_field_t disk_fields[] = {
	METHODS_DISK_FIELDS,
	{ NULL },
};
const rpc_schema_t methods_disk_schema = { .type = RPC_TYPE_OBJECT, .fields = disk_fields };
static const rpc_field_t net_fields[] = {
	METHODS_NET_FIELDS,
	{ NULL },
};
const rpc_schema_t methods_net_schema = { .type = RPC_TYPE_OBJECT, .fields = net_fields };

/* As status shows them: with the id mvmd gave each (compute.vm.remove-device). */
#define DEVICE_ID_FIELD \
	{ "id", true, { .type = RPC_TYPE_STRING, .description = "the device's id: disk0, disk1, ... / net0, ... (compute.vm.remove-device)", \
			.pattern = "(disk|net)[0-9]{1,5}" } }
static const rpc_field_t disk_status_fields[] = {
	DEVICE_ID_FIELD, METHODS_DISK_FIELDS, { NULL },
};
const rpc_schema_t methods_disk_status_schema = { .type = RPC_TYPE_OBJECT, .fields = disk_status_fields };
static const rpc_field_t net_status_fields[] = {
	DEVICE_ID_FIELD, METHODS_NET_FIELDS, { NULL },
};
const rpc_schema_t methods_net_status_schema = { .type = RPC_TYPE_OBJECT, .fields = net_status_fields };

/* ch: the image's process and its root disk (daemon/mvmd/ch/guest-process.h). */
const rpc_field_t methods_root_fields[] = {
	{ "disk", true, { .type = RPC_TYPE_ANY, .description = "the root disk: an index of disks, or a disk's serial" } },
	{ "fstype", false, { .type = RPC_TYPE_STRING, .description = "its filesystem type (default ext4)", .pattern = "[a-z0-9_]{1,16}" } },
	{ "readonly", false, { .type = RPC_TYPE_BOOLEAN, .description = "mount it read-only (default false)" } },
	{ NULL },
};
static const rpc_schema_t proc_arg = { .type = RPC_TYPE_STRING, .has_max = true, .max = 4096, .max_bytes = true };
static const rpc_schema_t proc_env_key = { .type = RPC_TYPE_STRING, .pattern = "[A-Za-z_][A-Za-z0-9_]{0,127}" };
const rpc_field_t methods_process_fields[] = {
	{ "args", true, { .type = RPC_TYPE_ARRAY, .description = "argv (1..256 strings); argv[0] without '/' is looked up in the env's PATH",
			  .has_min = true, .min = 1, .has_max = true, .max = 256, .items = &proc_arg } },
	{ "env", false, { .type = RPC_TYPE_OBJECT, .description = "the environment, exactly, NAME -> value", .has_max = true, .max = 256,
			  .keys = &proc_env_key, .values = &proc_arg } },
	{ "cwd", false, { .type = RPC_TYPE_STRING, .description = "working directory (default /)", .pattern = "/.*", .has_max = true, .max = 4095 } },
	{ "user", false, { .type = RPC_TYPE_STRING, .description = "numeric UID[:GID] (default 0:0)", .pattern = "[0-9]{1,10}(:[0-9]{1,10})?" } },
	{ "keep_running", false, { .type = RPC_TYPE_BOOLEAN, .description = "the VM stays up when the process ends (default false: it powers off)" } },
	{ NULL },
};

static const rpc_field_t create_params[] = {
	{ "name", false, { .type = RPC_TYPE_STRING, .description = "unique name", .pattern = NAME_PATTERN } },
	{ "backend", false, { .type = RPC_TYPE_STRING, .description = "\"kvm\" (default) or \"ch\"", .enum_values = backend_values } },
	{ "vcpus", false, { .type = RPC_TYPE_INTEGER, .description = "virtual CPUs (default 1); the maximum is this node's (beyond: -32005 at create)",
			    .has_min = true, .min = 1, .has_max = true, .max = 256, .limit = "node.max_vcpus" } },
	{ "memory_mib", true, { .type = RPC_TYPE_INTEGER, .description = "guest memory in MiB; the maximum is this node's (beyond: -32005 at create)",
				.has_min = true, .min = 1, .has_max = true, .max = 1 << 22, .limit = "node.max_memory_mib" } },
	{ "labels", false, labels_schema },
	{ "guest", false, { .type = RPC_TYPE_OBJECT, .description = "kvm: a custom guest image and boot arguments (needs mvmd --allow-custom-guests)",
			    .fields = guest_fields } },
	{ "kernel", false, METHODS_CH_PATH_SCHEMA("ch (required): absolute host path of the guest kernel (vmlinux or bzImage)") },
	{ "initramfs", false, METHODS_CH_PATH_SCHEMA("ch: absolute host path of the initramfs (default: mvmd's, mvm-init as /init)") },
	{ "cmdline", false, { .type = RPC_TYPE_STRING, .description = "ch: kernel command line (default \"console=ttyS0 reboot=k panic=1 quiet\")",
			      .pattern = "[ -~]*", .has_max = true, .max = 2047 } },
	{ "disks", false, { .type = RPC_TYPE_ARRAY, .description = "ch: disks, the guest's vda, vdb, ... (at most 16)",
			    .has_max = true, .max = 16, .items = &methods_disk_schema } },
	{ "net", false, { .type = RPC_TYPE_ARRAY, .description = "ch: network interfaces backed by existing taps (at most 16)",
			  .has_max = true, .max = 16, .items = &methods_net_schema } },
	{ "root", false, { .type = RPC_TYPE_OBJECT, .description = "ch: the disk mvm-init mounts as / for the process", .fields = methods_root_fields } },
	{ "process", false, { .type = RPC_TYPE_OBJECT, .description = "ch: the process mvm-init runs (an image's Entrypoint/Cmd, Env, WorkingDir, User)",
			      .fields = methods_process_fields } },
	{ "workload", false, { .type = RPC_TYPE_OBJECT, .description = "kvm: a Wasm module by hash to run (docs/workloads.md)",
			       .fields = methods_workload_fields } },
	{ "snapshot", false, { .type = RPC_TYPE_STRING, .description = "kvm: continue from this snapshot blob (compute.vm.snapshot's hash) "
			       "instead of booting; memory_mib must be the snapshot's (docs/snapshots.md)",
			       .pattern = "sha256:[0-9a-f]{64}" } },
	{ NULL },
};

/*
 * create {snapshot}: a kvm VM that continues from a snapshot blob
 * (docs/snapshots.md). The snapshot is checked whole here, so a corrupt,
 * truncated or foreign one is refused before anything is made; its size
 * is the VM's (memory_mib must say the same, vcpus too when given) and
 * its workload the VM's (added to the spec when the params name none).
 */
static int snapshot_prepare(rpc_call_t *call, methods_ctx_t *ctx, json_object *params, json_object *spec,
			    vm_backend_t backend)
{
	_cleanup_free_ char *why = NULL, *msg = NULL;
	kvm_snapshot_info_t si;
	json_object *v, *w, *h;
	const char *ref;

	if (!json_object_object_get_ex(params, "snapshot", &v))
		return 0;
	ref = json_object_get_string(v);
	if (backend != VM_BACKEND_KVM) {
		rpc_call_invalid_param(call, "snapshot", "only for the kvm backend (a ch VM restores its own snapshots: compute.vm.start {snapshot})");
		return -EINVAL;
	}
	if (json_object_object_get_ex(params, "guest", NULL)) {
		rpc_call_invalid_param(call, "guest", "a VM made from a snapshot runs the snapshot's guest");
		return -EINVAL;
	}
	if (backend_kvm_snapshot_check(ctx->manager, ref, &si, &why) < 0) {
		rpc_call_invalid_param(call, "snapshot", why ? why : "not a usable snapshot");
		return -EINVAL;
	}
	if (json_object_object_get_ex(params, "memory_mib", &v) && json_object_get_int64(v) != (int64_t)si.memory_mib) {
		if (asprintf(&msg, "the snapshot is of a VM with %u MiB", si.memory_mib) < 0)
			msg = NULL;
		rpc_call_invalid_param(call, "memory_mib", msg ? msg : "not the snapshot's");
		return -EINVAL;
	}
	if (json_object_object_get_ex(params, "vcpus", &v) && json_object_get_int64(v) != (int64_t)si.vcpus) {
		if (asprintf(&msg, "the snapshot is of a VM with %u vCPUs", si.vcpus) < 0)
			msg = NULL;
		rpc_call_invalid_param(call, "vcpus", msg ? msg : "not the snapshot's");
		return -EINVAL;
	}
	json_object_object_add(spec, "vcpus", json_object_new_int((int32_t)si.vcpus));
	if (json_object_object_get_ex(params, "workload", &w)) {
		if (!si.workload[0] || !json_object_object_get_ex(w, "hash", &h) ||
		    strcmp(json_object_get_string(h), si.workload) != 0) {
			rpc_call_invalid_param(call, "workload", "not the workload the snapshot runs");
			return -EINVAL;
		}
	} else if (si.workload[0]) {
		w = json_object_new_object();
		json_object_object_add(w, "hash", json_object_new_string(si.workload));
		json_object_object_add(spec, "workload", w);
	}
	return 0;
}

static void vm_create(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	_cleanup_free_ char *detail = NULL;
	json_object *v, *spec;
	vm_backend_t backend = VM_BACKEND_KVM;
	vm_t *vm;
	int r;

	if (json_object_object_get_ex(params, "backend", &v))
		backend = vm_backend_from_string(json_object_get_string(v));
	/* kernel, initramfs and guest.image name host files (methods.h). */
	if (!methods_peer_may_name_host_files(call)) {
		static const char *const files[] = { "kernel", "initramfs", "disks" };
		json_object *g;
		for (size_t i = 0; i < ELEMENTSOF(files); i++)
			if (json_object_object_get_ex(params, files[i], NULL)) {
				methods_reply_host_file_denied(call, files[i]);
				return;
			}
		if (json_object_object_get_ex(params, "guest", &g) && json_object_object_get_ex(g, "image", NULL)) {
			methods_reply_host_file_denied(call, "guest.image");
			return;
		}
	}
	/* A guest image is any host file mvmd can read, loaded where the
	 * guest can print it: only an operator who said so may allow that. */
	if (json_object_object_get_ex(params, "guest", NULL) && !ctx->allow_custom_guests) {
		rpc_call_invalid_param(call, "guest", "custom guests are disabled (mvmd --allow-custom-guests)");
		return;
	}
	if (json_object_object_get_ex(params, "guest", NULL) && backend != VM_BACKEND_KVM) {
		rpc_call_invalid_param(call, "guest", "only for the kvm backend");
		return;
	}
	/* ch VMs boot a kernel; kvm micro-VMs have none. */
	if (backend == VM_BACKEND_CH && !json_object_object_get_ex(params, "kernel", NULL)) {
		rpc_call_invalid_param(call, "kernel", "required for the ch backend");
		return;
	}
	if (backend != VM_BACKEND_CH) {
		static const char *const ch_only[] = { "kernel", "initramfs", "cmdline", "disks", "net", "root", "process" };
		for (size_t i = 0; i < ELEMENTSOF(ch_only); i++)
			if (json_object_object_get_ex(params, ch_only[i], NULL)) {
				rpc_call_invalid_param(call, ch_only[i], "only for the ch backend");
				return;
			}
	}
	/* A backend that is not built cannot get VMs; one that is built but
	 * unusable on this host (no /dev/kvm) can: start reports why. */
	if (!manager_backend_registered(ctx->manager, backend)) {
		json_object *data = json_object_new_object();
		json_object_object_add(data, "backend", json_object_new_string(vm_backend_to_string(backend)));
		json_object_object_add(data, "reason", json_object_new_string("backend not implemented in this build"));
		rpc_call_error(call, RPC_ERROR_BACKEND_UNAVAILABLE, "Backend unavailable", data);
		return;
	}

	/* The stored spec is the validated params, defaults filled in. */
	spec = json_object_new_object();
	if (!spec) {
		rpc_call_errno(call, -ENOMEM, NULL);
		return;
	}
	json_object_object_foreach(params, key, val)
		json_object_object_add(spec, key, json_object_get(val));
	if (!json_object_object_get_ex(spec, "backend", NULL))
		json_object_object_add(spec, "backend", json_object_new_string("kvm"));
	if (!json_object_object_get_ex(spec, "vcpus", NULL))
		json_object_object_add(spec, "vcpus", json_object_new_int(1));
	if (snapshot_prepare(call, ctx, params, spec, backend) < 0 || methods_workload_prepare(call, spec, backend) < 0) {
		json_object_put(spec);
		return;
	}

	r = manager_create_vm(ctx->manager, spec, &vm, &detail);
	json_object_put(spec);
	if (r < 0) {
		if (r != -EEXIST && r != -ENOSPC)
			log_error_errno(r, "create failed: %s: %m", detail ? detail : "");
		rpc_call_errno(call, r, detail);
		return;
	}
	vmlog_vm(LOG_INFO, vm, "vm %s%s%s created: %s", vm->id, vm->name ? " " : "", vm->name ? vm->name : "",
		 vm_state_to_string(vm->state));
	rpc_call_reply(call, methods_vm_to_json(ctx->manager, vm, true));
}

/* --- compute.vm.list ------------------------------------------------- */

static const rpc_field_t list_params[] = {
	{ "state", false, { .type = RPC_TYPE_STRING, .description = "only VMs in this state", .enum_values = state_values } },
	{ "labels", false, labels_schema },
	{ NULL },
};

static bool labels_match(const vm_t *vm, json_object *want)
{
	json_object *have = NULL, *v;

	if (vm->spec)
		json_object_object_get_ex(vm->spec, "labels", &have);
	json_object_object_foreach(want, key, val) {
		if (!have || !json_object_object_get_ex(have, key, &v) ||
		    strcmp(json_object_get_string(v), json_object_get_string(val)) != 0)
			return false;
	}
	return true;
}

static void vm_list(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	json_object *v, *labels = NULL, *arr, *res;
	vm_state_t state = _VM_STATE_INVALID;
	size_t n;
	vm_t *const *vms = manager_vms(ctx->manager, &n);

	if (json_object_object_get_ex(params, "state", &v))
		state = vm_state_from_string(json_object_get_string(v));
	json_object_object_get_ex(params, "labels", &labels);

	arr = json_object_new_array();
	res = json_object_new_object();
	for (size_t i = 0; arr && i < n; i++) {
		if (state != _VM_STATE_INVALID && vms[i]->state != state)
			continue;
		if (labels && !labels_match(vms[i], labels))
			continue;
		json_object_array_add(arr, methods_vm_to_json(ctx->manager, vms[i], false));
	}
	json_object_object_add(res, "vms", arr);
	rpc_call_reply(call, res);
}

/* --- compute.vm.status / remove ----------------------------------------- */

static const rpc_field_t id_params[] = {
	{ "id", true, METHODS_VM_REF_SCHEMA },
	{ NULL },
};

static void vm_status(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	vm_t *vm = methods_find_vm(call, ctx->manager, params);
	json_object *view, *res;
	capacity_proc_t pc;

	if (!vm)
		return;
	view = methods_vm_to_json(ctx->manager, vm, true);
	/* What its process costs is read now, never cached with the view;
	 * absent when no process runs. */
	if (!view || vm->pid <= 0 || capacity_proc_read(vm->pid, vm->pid_starttime, &pc) < 0) {
		rpc_call_reply(call, view);
		return;
	}
	res = json_object_new_object();
	json_object_object_foreach(view, key, val)
		json_object_object_add(res, key, json_object_get(val));
	json_object_put(view);
	json_object_object_add(res, "cpu_seconds", json_object_new_double(pc.cpu_seconds));
	json_object_object_add(res, "rss_bytes", json_object_new_int64((int64_t)pc.rss_bytes));
	rpc_call_reply(call, res);
}

static const rpc_field_t remove_params[] = {
	{ "id", true, METHODS_VM_REF_SCHEMA },
	{ "force", false, { .type = RPC_TYPE_BOOLEAN, .description = "stop a running VM first" } },
	{ NULL },
};

static void vm_remove(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	vm_t *vm = methods_find_vm(call, ctx->manager, params);
	_cleanup_free_ char *name = NULL;
	json_object *v, *res;
	bool force = false;
	char id[VM_ID_LEN + 1];
	vm_state_t was;
	int r;

	if (!vm)
		return;
	if (json_object_object_get_ex(params, "force", &v))
		force = json_object_get_boolean(v);
	memcpy(id, vm->id, sizeof(id));
	was = vm->state;
	if (vm->name && !(name = strdup(vm->name))) {
		rpc_call_errno(call, -ENOMEM, NULL);
		return;
	}

	r = manager_remove_vm(ctx->manager, vm, force);
	if (r == -EBUSY) {
		json_object *data = json_object_new_object();
		json_object_object_add(data, "id", json_object_new_string(id));
		json_object_object_add(data, "state", json_object_new_string(vm_state_to_string(vm->state)));
		json_object_object_add(data, "reason", json_object_new_string("VM is active; stop it first or pass \"force\": true"));
		rpc_call_error(call, RPC_ERROR_INVALID_STATE, "Invalid state transition", data);
		return;
	}
	if (r < 0) {
		log_error_errno(r, "vm %s: remove failed: %m", id);
		rpc_call_errno(call, r, "remove failed");
		return;
	}
	/* A VM's end, when its worker was killed for it (see vmlog_vm_end in daemon/mvmd/vmlog.c). */
	if (fsm_state_is_active(was))
		vmlog_id(LOG_NOTICE, id, name, "vm %s%s%s%s: removed by force while %s: its worker was killed", id, name ? " \"" : "",
			   name ? name : "", name ? "\"" : "", vm_state_to_string(was));
	else
		vmlog_id(LOG_INFO, id, name, "vm %s%s%s%s removed", id, name ? " \"" : "", name ? name : "", name ? "\"" : "");
	res = json_object_new_object();
	json_object_object_add(res, "id", json_object_new_string(id));
	json_object_object_add(res, "removed", json_object_new_boolean(1));
	rpc_call_reply(call, res);
}

/* --- compute.vm.events.tail -------------------------------------------- */

typedef struct follower {
	manager_t *manager;
	rpc_conn_t *conn; /* reference */
	char vm[VM_ID_LEN + 1]; /* "" = every VM */
} follower_t;

static void follower_free(follower_t *f)
{
	rpc_conn_unref(f->conn);
	free(f);
}

static void follower_on_event(manager_t *m, const fsm_event_t *ev, void *userdata)
{
	follower_t *f = userdata;

	if (f->vm[0] && strcmp(f->vm, ev->vm) != 0)
		return;
	/* A follower too slow to drain its queue is disconnected by the
	 * server (-ENOBUFS); its close hook then unsubscribes it. */
	(void)rpc_conn_notify(f->conn, "compute.vm.event", methods_event_to_json(ev));
}

static void follower_on_close(rpc_conn_t *c, void *userdata)
{
	follower_t *f = userdata;

	manager_unsubscribe(f->manager, follower_on_event, f);
	follower_free(f);
}

static const rpc_field_t tail_params[] = {
	{ "id", false, METHODS_VM_REF_SCHEMA },
	{ "since", false, { .type = RPC_TYPE_INTEGER, .description = "first sequence number wanted (default: oldest held)", .has_min = true, .min = 0 } },
	{ "limit", false, { .type = RPC_TYPE_INTEGER, .description = "at most this many events (default 100); 0: none, only \"next\" (with follow: just follow)", .has_min = true, .min = 0, .has_max = true, .max = 10000 } },
	{ "follow", false, { .type = RPC_TYPE_BOOLEAN, .description = "keep sending compute.vm.event notifications on this connection" } },
	{ NULL },
};

static void vm_events_tail(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	const fsm_ring_t *ring = manager_events(ctx->manager);
	json_object *v, *arr, *res;
	uint64_t since = 0, limit = 100, next;
	bool follow = false, more = false;
	char vm_id[VM_ID_LEN + 1] = "";
	size_t i, count = 0;

	if (json_object_object_get_ex(params, "id", &v)) {
		vm_t *vm = methods_find_vm(call, ctx->manager, params);
		if (!vm)
			return;
		memcpy(vm_id, vm->id, sizeof(vm_id));
	}
	if (json_object_object_get_ex(params, "since", &v))
		since = (uint64_t)json_object_get_int64(v);
	if (json_object_object_get_ex(params, "limit", &v))
		limit = (uint64_t)json_object_get_int64(v);
	if (json_object_object_get_ex(params, "follow", &v))
		follow = json_object_get_boolean(v);

	arr = json_object_new_array();
	next = MAX(since, ring->next_seq);
	/* limit 0 asks for no backlog at all, not for all of it as
	 * notifications: a follower that only wants what happens next. */
	for (i = 0; arr && limit > 0 && i < ring->count; i++) {
		const fsm_event_t *e = fsm_ring_get(ring, i);
		if (e->seq < since || (vm_id[0] && strcmp(e->vm, vm_id) != 0))
			continue;
		if (count == limit) {
			more = true;
			next = e->seq;
			break;
		}
		json_object_array_add(arr, methods_event_to_json(e));
		count++;
	}

	res = json_object_new_object();
	json_object_object_add(res, "events", arr);
	json_object_object_add(res, "next", json_object_new_int64((int64_t)next));
	json_object_object_add(res, "first", json_object_new_int64((int64_t)fsm_ring_first_seq(ring)));
	if (since > 0 && since < fsm_ring_first_seq(ring))
		json_object_object_add(res, "missed", json_object_new_int64((int64_t)(fsm_ring_first_seq(ring) - since)));
	json_object_object_add(res, "more", json_object_new_boolean(more && !follow));

	if (follow) {
		rpc_conn_t *conn = rpc_call_get_conn(call);
		follower_t *f;

		if (!conn || rpc_call_is_notification(call)) {
			rpc_call_reply(call, res);
			return;
		}
		f = calloc(1, sizeof(*f));
		if (!f || manager_subscribe(ctx->manager, follower_on_event, f) < 0) {
			free(f);
			json_object_put(res);
			rpc_call_errno(call, -ENOMEM, "cannot follow");
			return;
		}
		f->manager = ctx->manager;
		f->conn = rpc_conn_ref(conn);
		memcpy(f->vm, vm_id, sizeof(vm_id));
		if (rpc_conn_add_close_hook(conn, follower_on_close, f) < 0) {
			manager_unsubscribe(ctx->manager, follower_on_event, f);
			follower_free(f);
			json_object_put(res);
			rpc_call_errno(call, -EPIPE, "connection closed");
			return;
		}
		rpc_call_reply(call, res);
		/* What did not fit in the reply follows as notifications, so a
		 * follower sees every event exactly once. */
		for (; more && i < ring->count; i++) {
			const fsm_event_t *e = fsm_ring_get(ring, i);
			if (!vm_id[0] || strcmp(e->vm, vm_id) == 0)
				follower_on_event(ctx->manager, e, f);
		}
		return;
	}
	rpc_call_reply(call, res);
}

/* --- results, errors, examples (documentation: rpc.discover) ---------- */

static const rpc_field_t list_result_fields[] = {
	{ "vms", true, { .type = RPC_TYPE_ARRAY, .description = "VM objects without transitions", .items = &methods_vm_schema } },
	{ NULL },
};
static const rpc_schema_t list_result = { .type = RPC_TYPE_OBJECT, .fields = list_result_fields };

static const rpc_field_t remove_result_fields[] = {
	{ "id", true, { .type = RPC_TYPE_STRING, .description = "the removed VM's id" } },
	{ "removed", true, { .type = RPC_TYPE_BOOLEAN } },
	{ NULL },
};
static const rpc_schema_t remove_result = { .type = RPC_TYPE_OBJECT, .fields = remove_result_fields };

static const rpc_field_t tail_result_fields[] = {
	{ "events", true, { .type = RPC_TYPE_ARRAY, .description = "oldest first", .items = &methods_event_schema } },
	{ "next", true, { .type = RPC_TYPE_INTEGER, .description = "pass as since to continue", .has_min = true, .min = 0 } },
	{ "first", true, { .type = RPC_TYPE_INTEGER, .description = "the oldest sequence number still held", .has_min = true, .min = 0 } },
	{ "missed", false, { .type = RPC_TYPE_INTEGER, .description = "events after since no longer held", .has_min = true, .min = 1 } },
	{ "more", true, { .type = RPC_TYPE_BOOLEAN, .description = "limit cut the backlog (never with follow: the rest follows as notifications)" } },
	{ NULL },
};
static const rpc_schema_t tail_result = { .type = RPC_TYPE_OBJECT, .fields = tail_result_fields };

#define EX_ID "\"id\":\"7d1c0f9e-3b6a-4c1e-9f2d-5a8b7c6d5e4f\""
#define EX_EVENT(seq, from, to, cause) \
	"{\"seq\":" #seq ",\"time\":\"2026-12-07T14:30:07.123456Z\",\"vm\":\"7d1c0f9e-3b6a-4c1e-9f2d-5a8b7c6d5e4f\"," \
	"\"from\":\"" from "\",\"to\":\"" to "\",\"cause\":" cause "}"
#define EX_VM(state, cause, transitions) \
	"{" EX_ID ",\"name\":\"web\",\"backend\":\"kvm\",\"state\":\"" state "\",\"cause\":" cause "," \
	"\"vcpus\":1,\"memory_mib\":64,\"labels\":{\"team\":\"a\"},\"created\":\"2026-12-07T14:30:07.123456Z\"" transitions "}"

static const rpc_example_t create_examples[] = {
	{ "a kvm micro-VM", "{\"name\":\"web\",\"memory_mib\":64,\"labels\":{\"team\":\"a\"}}",
	  EX_VM("Configured", "null", ",\"transitions\":[" EX_EVENT(1, "Pending", "Provisioning", "\"created\"") ","
				     EX_EVENT(2, "Provisioning", "Configured", "null") "]") },
	{ NULL },
};
static const rpc_example_t list_examples[] = {
	{ "VMs with a label", "{\"labels\":{\"team\":\"a\"}}", "{\"vms\":[" EX_VM("Running", "null", "") "]}" },
	{ NULL },
};
static const rpc_example_t status_examples[] = {
	{ "by name", "{\"id\":\"web\"}",
	  EX_VM("Configured", "null", ",\"transitions\":[" EX_EVENT(2, "Provisioning", "Configured", "null") "]") },
	{ NULL },
};
static const rpc_example_t remove_examples[] = {
	{ "a stopped VM", "{\"id\":\"web\"}", "{" EX_ID ",\"removed\":true}" },
	{ NULL },
};
static const rpc_example_t tail_examples[] = {
	{ "follow one VM", "{\"id\":\"web\",\"since\":2,\"follow\":true}",
	  "{\"events\":[" EX_EVENT(2, "Provisioning", "Configured", "null") "],\"next\":3,\"first\":1,\"more\":false}" },
	{ NULL },
};
static const rpc_example_t event_examples[] = {
	{ "a VM started", EX_EVENT(4, "Starting", "Running", "null"), NULL },
	{ NULL },
};

const rpc_method_t methods_vm[] = {
	{ "compute.vm.create", "Create a VM (Pending → Provisioning → Configured, or Failed with the cause)",
	  create_params, &methods_vm_schema, vm_create, 0,
	  METHODS_ERRORS(RPC_ERROR_SERVER, RPC_ERROR_NOT_FOUND, RPC_ERROR_EXISTS, RPC_ERROR_BACKEND_UNAVAILABLE),
	  create_examples },
	{ "compute.vm.list", "List VMs, optionally filtered by state and labels", list_params, &list_result, vm_list, 0,
	  METHODS_NO_ERRORS, list_examples },
	{ "compute.vm.status", "One VM with its recent transitions", id_params, &methods_vm_schema, vm_status, 0,
	  METHODS_ERRORS(RPC_ERROR_NOT_FOUND), status_examples },
	{ "compute.vm.remove", "Remove a VM that is not active (force: stop it first)", remove_params, &remove_result,
	  vm_remove, 0, METHODS_ERRORS(RPC_ERROR_NOT_FOUND, RPC_ERROR_INVALID_STATE, RPC_ERROR_SERVER), remove_examples },
	{ "compute.vm.events.tail", "Recent transitions node-wide or of one VM; follow streams compute.vm.event notifications",
	  tail_params, &tail_result, vm_events_tail, 0, METHODS_ERRORS(RPC_ERROR_NOT_FOUND, RPC_ERROR_SERVER), tail_examples },
	{ "compute.vm.event", "Notification: a VM changed state (sent after compute.vm.events.tail with follow)",
	  methods_event_fields, NULL, NULL, RPC_METHOD_NOTIFICATION, NULL, event_examples },
};
const size_t methods_vm_n = ELEMENTSOF(methods_vm);
