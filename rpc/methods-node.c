/* SPDX-License-Identifier: Apache-2.0 */
/* compute.node.*: what this node is and can do. */
#include <stdlib.h>
#include <sys/utsname.h>

#include "capacity.h"
#include "methods.h"
#include "metrics.h"
#include "util/macro.h"

static json_object *backend_info(manager_t *m, vm_backend_t b)
{
	json_object *o = json_object_new_object();
	_cleanup_free_ char *reason = NULL;
	bool usable = manager_backend_usable(m, b, &reason);

	json_object_object_add(o, "usable", json_object_new_boolean(usable));
	if (reason)
		json_object_object_add(o, "reason", json_object_new_string(reason));
	manager_backend_describe(m, b, o);
	return o;
}

static void node_info(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	const manager_config_t *cfg = manager_config(ctx->manager);
	json_object *res = json_object_new_object(), *backends, *limits, *paths;
	struct utsname u;
	size_t n_vms;

	manager_vms(ctx->manager, &n_vms);
	json_object_object_add(res, "version", json_object_new_string(MVM_VERSION));
	if (uname(&u) == 0) {
		json_object_object_add(res, "hostname", json_object_new_string(u.nodename));
		json_object_object_add(res, "kernel", json_object_new_string(u.release));
		json_object_object_add(res, "arch", json_object_new_string(u.machine));
	}

	backends = json_object_new_object();
	for (int b = 0; b < _VM_BACKEND_MAX; b++)
		json_object_object_add(backends, vm_backend_to_string(b), backend_info(ctx->manager, b));
	json_object_object_add(res, "backends", backends);

	limits = json_object_new_object();
	json_object_object_add(limits, "max_vms", json_object_new_int64(cfg->max_vms));
	json_object_object_add(limits, "max_vcpus", json_object_new_int64(cfg->max_vcpus));
	json_object_object_add(limits, "max_memory_mib", json_object_new_int64((int64_t)cfg->max_memory_mib));
	json_object_object_add(limits, "max_request_bytes", json_object_new_int64((int64_t)ctx->limits->max_request_bytes));
	json_object_object_add(limits, "max_clients", json_object_new_int64(ctx->limits->max_clients));
	json_object_object_add(limits, "max_answer_bytes", json_object_new_int64((int64_t)ctx->limits->max_answer_bytes));
	json_object_object_add(limits, "event_ring_capacity", json_object_new_int64((int64_t)cfg->node_ring_capacity));
	json_object_object_add(limits, "vm_transition_ring_capacity", json_object_new_int64(FSM_VM_RING_CAPACITY));
	json_object_object_add(res, "limits", limits);

	paths = json_object_new_object();
	json_object_object_add(paths, "state_dir", json_object_new_string(cfg->state_dir));
	json_object_object_add(paths, "console_dir", json_object_new_string(cfg->console_dir));
	json_object_object_add(res, "paths", paths);

	json_object_object_add(res, "vms", json_object_new_int64((int64_t)n_vms));

	/* The budget starts check against: what VMs from Starting to
	 * Stopping hold, and what is left. */
	capacity_use_t cu;
	json_object *cap = json_object_new_object();
	capacity_use(ctx->manager, &cu);
	json_object_object_add(cap, "memory_mib_limit", json_object_new_int64((int64_t)cu.memory_mib_limit));
	json_object_object_add(cap, "memory_mib_used", json_object_new_int64((int64_t)cu.memory_mib_used));
	json_object_object_add(cap, "memory_mib_free", json_object_new_int64(
		cu.memory_mib_used < cu.memory_mib_limit ? (int64_t)(cu.memory_mib_limit - cu.memory_mib_used) : 0));
	json_object_object_add(cap, "vcpus_limit", json_object_new_int64((int64_t)cu.vcpus_limit));
	json_object_object_add(cap, "vcpus_used", json_object_new_int64((int64_t)cu.vcpus_used));
	json_object_object_add(cap, "vcpus_free", json_object_new_int64(
		cu.vcpus_used < cu.vcpus_limit ? (int64_t)(cu.vcpus_limit - cu.vcpus_used) : 0));
	json_object_object_add(res, "capacity", cap);

	uint64_t n_blobs, blob_bytes;
	json_object *blobs = json_object_new_object();
	blob_store_usage(manager_blobs(ctx->manager), &n_blobs, &blob_bytes);
	json_object_object_add(blobs, "count", json_object_new_int64((int64_t)n_blobs));
	json_object_object_add(blobs, "bytes", json_object_new_int64((int64_t)blob_bytes));
	json_object_object_add(blobs, "max_blob_bytes", json_object_new_int64((int64_t)BLOB_DEFAULT_MAX_SIZE));
	json_object_object_add(res, "blobs", blobs);
	rpc_call_reply(call, res);
}

static const rpc_schema_t info_result = {
	.type = RPC_TYPE_OBJECT,
	.description = "{version, hostname, kernel, arch, backends: {kvm: {usable, reason?, min_memory_mib, max_memory_mib, max_vcpus}, ch: {usable, reason?, min_version, default_initramfs, binary?, version?, version_output?}}, limits: {...}, paths: {...}, vms, capacity: {memory_mib_limit, memory_mib_used, memory_mib_free, vcpus_limit, vcpus_used, vcpus_free}, blobs: {count, bytes, max_blob_bytes}}",
};

/* The node's metrics in Prometheus's text format, for a scraper that
 * reaches mvmd only through its socket (docs/operating.md, "Metrics"). */
static void node_metrics(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = metrics_render(ctx->manager, &text, &len);

	if (r < 0) {
		rpc_call_errno(call, r, "cannot build the metrics");
		return;
	}
	json_object *res = json_object_new_object();
	json_object_object_add(res, "text", json_object_new_string_len(text, (int)len));
	json_object_object_add(res, "content_type", json_object_new_string(METRICS_CONTENT_TYPE));
	rpc_call_reply(call, res);
}

static const rpc_schema_t metrics_result = {
	.type = RPC_TYPE_OBJECT,
	.description = "{text: the metrics in Prometheus's text exposition format 0.0.4, content_type: \"" METRICS_CONTENT_TYPE "\"}",
};

const rpc_method_t methods_node[] = {
	{ "compute.node.info", "Version, backends and whether each is usable here, limits", NULL, &info_result, node_info, 0 },
	{ "compute.node.metrics", "The node's metrics in Prometheus's text exposition format", NULL, &metrics_result,
	  node_metrics, 0 },
};
const size_t methods_node_n = ELEMENTSOF(methods_node);
