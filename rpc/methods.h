/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd's method table. Each methods-<area>.c contributes the methods of
 * one namespace; methods.c joins them into the one table that both
 * dispatch and rpc.discover read. A method is in the table only when the
 * work behind it exists.
 */
#ifndef MVM_RPC_METHODS_H
#define MVM_RPC_METHODS_H

#include <json-c/json.h>

#include "exec-proxy.h"
#include "manager.h"
#include "rpc.h"

/* What every handler gets as userdata. */
typedef struct methods_ctx {
	manager_t *manager;
	exec_proxy_t *execs; /* compute.vm.exec's exchanges */
	const rpc_limits_t *limits;
	bool allow_custom_guests; /* --allow-custom-guests: create accepts "guest" */
} methods_ctx_t;

extern const rpc_method_t methods_node[];
extern const size_t methods_node_n;
extern const rpc_method_t methods_vm[];
extern const size_t methods_vm_n;
extern const rpc_method_t methods_run[];
extern const size_t methods_run_n;
/* compute.vm.run, one-shot runs (methods-oneshot.c). */
extern const rpc_method_t methods_oneshot[];
extern const size_t methods_oneshot_n;
/* compute.vm.pause / resume / snapshot (methods-pause.c). */
extern const rpc_method_t methods_pause[];
extern const size_t methods_pause_n;
/* compute.vm.add-disk / add-net / remove-device (methods-devices.c). */
extern const rpc_method_t methods_devices[];
extern const size_t methods_devices_n;
/* compute.vm.exec: joins the table once micro-VMs serve hybrid vsock. */
extern const rpc_method_t methods_exec[];
extern const size_t methods_exec_n;
/* compute.vm.send and its compute.vm.answer notification (methods-actor.c). */
extern const rpc_method_t methods_actor[];
extern const size_t methods_actor_n;
/* compute.interface.* and compute.interface.message (methods-interface.c). */
extern const rpc_method_t methods_interface[];
extern const size_t methods_interface_n;
extern const rpc_method_t methods_blob[];
extern const size_t methods_blob_n;
extern const rpc_method_t methods_pull[];
extern const size_t methods_pull_n;

/* The joined table (static storage; built once). */
const rpc_method_t *methods_table(size_t *ret_n);

/* Shared schema pieces and views, for the methods-*.c files. */
#define METHODS_NAME_PATTERN "[A-Za-z0-9][A-Za-z0-9._-]{0,62}"
/* "id": a VM's id or name (a macro: struct initialisers must be constant) */
#define METHODS_VM_REF_SCHEMA \
	{ .type = RPC_TYPE_STRING, .description = "VM id (UUID) or name", .pattern = METHODS_NAME_PATTERN }
/* ch: host paths of the guest kernel and initramfs, the kernel command line
 * (printable ASCII; the x86 kernel takes at most 2048 bytes). */
#define METHODS_CH_PATH_SCHEMA(desc) \
	{ .type = RPC_TYPE_STRING, .description = desc, .pattern = "/.*", .has_max = true, .max = 4095 }

/* ch: prepared disk images and existing taps (daemon/mvmd/ch/spec-devices.h),
 * as create's disks[] / net[] and compute.vm.add-disk / add-net take them. */
#define METHODS_DISK_FIELDS \
	{ "path", true, METHODS_CH_PATH_SCHEMA("absolute host path of a regular file or block device (no \".\" or \"..\" components)") }, \
	{ "readonly", false, { .type = RPC_TYPE_BOOLEAN, .description = "the guest cannot write it (default false)" } }, \
	{ "serial", false, { .type = RPC_TYPE_STRING, .description = "the virtio-blk serial the guest sees (/sys/block/vdX/serial)", \
			     .pattern = "[A-Za-z0-9_.-]{1,20}" } }
#define METHODS_NET_FIELDS \
	{ "tap", true, { .type = RPC_TYPE_STRING, .description = "an existing tap device's name", .pattern = "[A-Za-z0-9_.-]{1,15}" } }, \
	{ "mac", false, { .type = RPC_TYPE_STRING, .description = "the guest's MAC (default: derived from the VM id and the device's id, locally administered)", \
			  .pattern = "[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}" } }
/* The objects several methods answer with (methods-schema.c), and the
 * error lists and examples the tables share. */
extern const rpc_schema_t methods_vm_schema;    /* components.schemas.VM */
extern const rpc_schema_t methods_event_schema; /* components.schemas.Event */
extern const rpc_field_t methods_event_fields[];
#define METHODS_ERRORS(...) ((const int[]){ __VA_ARGS__, 0 })
#define METHODS_NO_ERRORS ((const int[]){ 0 })
/* rpc_limit_fn_t for rpc.discover: "node.max_memory_mib", "node.max_vcpus". */
int methods_limit(const char *name, int64_t *ret, void *userdata);

json_object *methods_vm_to_json(manager_t *m, const vm_t *vm, bool with_transitions);
json_object *methods_event_to_json(const fsm_event_t *ev);
/* RFC 3339 UTC with microseconds, e.g. "2026-11-21T20:26:23.123456Z". */
json_object *methods_time_to_json(uint64_t wall_usec);

/* compute.vm.create's "workload" (methods-workload.c): its fields, and
 * the check + defaults applied to the spec being stored (answers the call
 * and returns < 0 when refused). */
extern const rpc_field_t methods_workload_fields[];
/* A ch VM's disks, taps, root and process, as create takes them and status
 * shows them (rpc/methods-vm.c). */
extern const rpc_schema_t methods_disk_schema, methods_net_schema;
/* The same with the "id" mvmd gives each device (status, hotplug answers). */
extern const rpc_schema_t methods_disk_status_schema, methods_net_status_schema;
extern const rpc_field_t methods_root_fields[], methods_process_fields[];
int methods_workload_prepare(rpc_call_t *call, json_object *spec, vm_backend_t backend);

/*
 * Privilege decision: mvmd runs as root and can read any host file, but its
 * clients need not be root (--socket-group grants the socket to a group).
 * A request that names a host file — a blob to copy into the store, a
 * kernel, initramfs or guest image to load into a VM — would let such a
 * client read what it could not (through a hash, or from inside a guest).
 * Only clients with root's or mvmd's own uid (SO_PEERCRED) may name them.
 */
bool methods_peer_may_name_host_files(rpc_call_t *call);

/* -32000 with data {param, errno: "EPERM", reason} for such a request. */
void methods_reply_host_file_denied(rpc_call_t *call, const char *param);

/* An error about VM id: data {id, state (when vm), errno (when error
 * has a name), reason (when given)}. */
void methods_vm_error(rpc_call_t *call, int code, const char *message, const char *id, const vm_t *vm,
		      const char *reason, int error);
/* -32602 with data {id, backend, reason: "<op> is not supported by the
 * <backend> backend"}: no state of the VM would make the request valid. */
void methods_reply_backend_unsupported(rpc_call_t *call, const vm_t *vm, const char *op);

/* Look up params.id; answers -32001 and returns NULL when there is none. */
vm_t *methods_find_vm(rpc_call_t *call, manager_t *m, json_object *params);
/* A message's bytes from its "data" (text) or "data_base64" (exactly one
 * given, checked by the caller): *ret_decoded holds what base64 decoded
 * (the caller frees it). false: the call was answered -32602 (not
 * base64, over ACTOR_MSG_MAX). compute.vm.send, compute.interface.answer. */
bool methods_message_bytes(rpc_call_t *call, json_object *text, json_object *b64, const void **ret_bytes,
			   size_t *ret_len, void **ret_decoded);
/* Answer call with a failed pull's error (methods-pull.c): the one shape
 * of compute.blob.pull, also for an exec whose module could not be pulled. */
void methods_pull_reply_failed(rpc_call_t *call, const pull_result_t *res);

#endif
