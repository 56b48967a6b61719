/* SPDX-License-Identifier: Apache-2.0 */
#include "methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/macro.h"

const rpc_method_t *methods_table(size_t *ret_n)
{
	static rpc_method_t table[64];
	static size_t n;

	if (!n) {
		const struct {
			const rpc_method_t *m;
			size_t n;
		} parts[] = {
			{ methods_node, methods_node_n },
			{ methods_vm, methods_vm_n },
			{ methods_run, methods_run_n },
			{ methods_oneshot, methods_oneshot_n },
			{ methods_pause, methods_pause_n },
			{ methods_devices, methods_devices_n },
			{ methods_exec, methods_exec_n },
			{ methods_actor, methods_actor_n },
			{ methods_interface, methods_interface_n },
			{ methods_blob, methods_blob_n },
			{ methods_pull, methods_pull_n },
		};
		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
			for (size_t j = 0; j < parts[i].n && n < sizeof(table) / sizeof(table[0]); j++)
				table[n++] = parts[i].m[j];
	}
	*ret_n = n;
	return table;
}

json_object *methods_time_to_json(uint64_t wall_usec)
{
	time_t secs = (time_t)(wall_usec / 1000000u);
	struct tm tm;
	char buf[64];

	if (!gmtime_r(&secs, &tm))
		return NULL;
	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%06uZ", (unsigned)(wall_usec % 1000000u));
	return json_object_new_string(buf);
}

json_object *methods_event_to_json(const fsm_event_t *ev)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "seq", json_object_new_int64((int64_t)ev->seq));
	json_object_object_add(o, "time", methods_time_to_json(ev->wall_usec));
	json_object_object_add(o, "vm", json_object_new_string(ev->vm));
	json_object_object_add(o, "from", json_object_new_string(vm_state_to_string(ev->from)));
	/* "Removed" is no state: only a removal event says it. */
	json_object_object_add(o, "to", json_object_new_string(ev->removed ? "Removed" : vm_state_to_string(ev->to)));
	json_object_object_add(o, "cause", ev->cause ? json_object_new_string(ev->cause) : NULL);
	return o;
}

static json_object *vm_view(manager_t *m, const vm_t *vm, bool with_transitions)
{
	json_object *o = json_object_new_object(), *v;

	if (!o)
		return NULL;
	json_object_object_add(o, "id", json_object_new_string(vm->id));
	json_object_object_add(o, "name", vm->name ? json_object_new_string(vm->name) : NULL);
	json_object_object_add(o, "backend", json_object_new_string(vm_backend_to_string(vm->backend)));
	json_object_object_add(o, "state", json_object_new_string(vm_state_to_string(vm->state)));
	json_object_object_add(o, "cause", vm->cause ? json_object_new_string(vm->cause) : NULL);
	json_object_object_add(o, "vcpus", json_object_new_int((int)vm->vcpus));
	json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)vm->memory_mib));
	if (vm->spec && json_object_object_get_ex(vm->spec, "labels", &v))
		json_object_object_add(o, "labels", json_object_get(v));
	else
		json_object_object_add(o, "labels", json_object_new_object());
	json_object_object_add(o, "created", vm->created_usec ? methods_time_to_json(vm->created_usec) : NULL);
	/* ch: what the VM boots, and where exec reaches it (hybrid vsock). */
	if (vm->backend == VM_BACKEND_CH && vm->spec) {
		static const char *const keys[] = { "kernel", "initramfs", "cmdline", "disks", "net", "root", "process" };
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (json_object_object_get_ex(vm->spec, keys[i], &v))
				json_object_object_add(o, keys[i], json_object_get(v));
		if (vm->backend_state && json_object_object_get_ex(vm->backend_state, "vsock_socket", &v))
			json_object_object_add(o, "vsock_socket", json_object_get(v));
	}
	/* The workload as stored: hash, args, env, granted capabilities. */
	if (vm->spec && json_object_object_get_ex(vm->spec, "workload", &v))
		json_object_object_add(o, "workload", json_object_get(v));
	if (vm->ephemeral)
		json_object_object_add(o, "run", json_object_new_boolean(true));
	if (vm->pid > 0)
		json_object_object_add(o, "pid", json_object_new_int(vm->pid));
	if (vm->has_exit_code)
		json_object_object_add(o, "exit_code", json_object_new_int64(vm->exit_code));
	if (vm->load_error)
		json_object_object_add(o, "state_file_error", json_object_new_string(vm->load_error));

	if (with_transitions) {
		json_object *arr = json_object_new_array();
		for (size_t i = 0; arr && i < vm->transitions.count; i++)
			json_object_array_add(arr, methods_event_to_json(fsm_ring_get(&vm->transitions, i)));
		json_object_object_add(o, "transitions", arr);
	}
	return o;
}

json_object *methods_vm_to_json(manager_t *m, const vm_t *vm, bool with_transitions)
{
	vm_t *w = (vm_t *)vm; /* the cache is not part of the VM's value */

	if (!with_transitions)
		return vm_view(m, vm, false);
	if (!w->view)
		w->view = vm_view(m, vm, true);
	return w->view ? json_object_get(w->view) : NULL;
}

bool methods_peer_may_name_host_files(rpc_call_t *call)
{
	rpc_conn_t *c = rpc_call_get_conn(call);
	const struct ucred *cred = c ? rpc_conn_peer(c) : NULL;

	return cred && (cred->uid == 0 || cred->uid == geteuid());
}

void methods_reply_host_file_denied(rpc_call_t *call, const char *param)
{
	json_object *data = json_object_new_object();

	json_object_object_add(data, "param", json_object_new_string(param));
	json_object_object_add(data, "errno", json_object_new_string("EPERM"));
	json_object_object_add(data, "reason", json_object_new_string(
		"only clients running as root (or as mvmd's user) may name host files"));
	rpc_call_error(call, RPC_ERROR_SERVER, "Server error", data);
}

void methods_vm_error(rpc_call_t *call, int code, const char *message, const char *id, const vm_t *vm,
		      const char *reason, int error)
{
	json_object *data = json_object_new_object();

	json_object_object_add(data, "id", json_object_new_string(id));
	if (vm)
		json_object_object_add(data, "state", json_object_new_string(vm_state_to_string(vm->state)));
	if (error && rpc_errno_name(error))
		json_object_object_add(data, "errno", json_object_new_string(rpc_errno_name(error)));
	if (reason)
		json_object_object_add(data, "reason", json_object_new_string(reason));
	rpc_call_error(call, code, message, data);
}

void methods_reply_backend_unsupported(rpc_call_t *call, const vm_t *vm, const char *op)
{
	_cleanup_free_ char *reason = NULL;
	json_object *data = json_object_new_object();
	const char *backend = vm_backend_to_string(vm->backend);

	if (asprintf(&reason, "%s is not supported by the %s backend", op, backend) < 0)
		reason = NULL;
	json_object_object_add(data, "id", json_object_new_string(vm->id));
	json_object_object_add(data, "backend", json_object_new_string(backend));
	json_object_object_add(data, "reason", json_object_new_string(reason ? reason : "not supported"));
	rpc_call_error(call, RPC_ERROR_INVALID_PARAMS, NULL, data);
}

vm_t *methods_find_vm(rpc_call_t *call, manager_t *m, json_object *params)
{
	json_object *v;
	const char *id = NULL;
	vm_t *vm;

	if (json_object_object_get_ex(params, "id", &v))
		id = json_object_get_string(v);
	vm = manager_find(m, id);
	if (!vm) {
		json_object *data = json_object_new_object();
		json_object_object_add(data, "id", id ? json_object_new_string(id) : NULL);
		rpc_call_error(call, RPC_ERROR_NOT_FOUND, "VM not found", data);
	}
	return vm;
}
