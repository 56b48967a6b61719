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

/* --- result (documentation: rpc.discover) ----------------------------- */

#define COUNT(desc) { .type = RPC_TYPE_INTEGER, .description = desc, .has_min = true, .min = 0 }
#define TEXT(desc) { .type = RPC_TYPE_STRING, .description = desc }

static const rpc_field_t pool_fields[] = {
	{ "size", true, COUNT("workers the pool keeps") },
	{ "memory_mib", true, COUNT("guest memory of each") },
	{ "ready", true, COUNT("workers ready to take a VM") },
	{ "warming", true, COUNT("workers being made ready") },
	{ "primed", true, COUNT("ready workers with the prime module loaded") },
	{ "prime", false, TEXT("the module ready workers load ahead") },
	{ "hits", true, COUNT("starts served from the pool") },
	{ "primed_hits", true, COUNT("of which with the module already loaded") },
	{ "misses", true, COUNT("starts that found no ready worker") },
	{ "failures", true, COUNT("workers that failed to become ready") },
	{ "reusable", true, COUNT("workers kept after a run with a reuse_key, ready for the next of that key") },
	{ "reuse_max", true, COUNT("the most workers kept for reuse") },
	{ "reuse_hits", true, COUNT("runs served by a kept worker") },
	{ "reuse_kept", true, COUNT("workers kept after a run") },
	{ "reuse_expired", true, COUNT("kept workers let go after their idle timeout") },
	{ "templates", true, COUNT("templates of a primed module written (one per module primed)") },
	{ "restores", true, COUNT("workers primed by restoring the template instead of compiling") },
	{ "last_error", false, TEXT("why the last one failed") },
	{ NULL },
};
static const rpc_field_t teardown_fields[] = {
	{ "max", true, COUNT("workers torn down at once (--kvm-max-teardowns), 0 no cap") },
	{ "active", true, COUNT("workers asked to end whose process is not gone yet") },
	{ "queued", true, COUNT("stops waiting for their turn") },
	{ NULL },
};
static const rpc_field_t backend_fields[] = {
	{ "usable", true, { .type = RPC_TYPE_BOOLEAN, .description = "VMs of this backend can start here" } },
	{ "reason", false, TEXT("why not") },
	/* kvm */
	{ "pool", false, { .type = RPC_TYPE_OBJECT, .description = "kvm: the warm pool of workers", .fields = pool_fields } },
	{ "teardown", false, { .type = RPC_TYPE_OBJECT, .description = "kvm: the staged mass stop", .fields = teardown_fields } },
	{ "min_memory_mib", false, COUNT("kvm: the least guest memory a VM takes") },
	{ "max_memory_mib", false, COUNT("kvm: the most guest memory a VM takes") },
	{ "max_vcpus", false, COUNT("kvm: the most vCPUs a VM takes") },
	/* ch */
	{ "min_version", false, TEXT("ch: the oldest cloud-hypervisor mvmd drives") },
	{ "default_initramfs", false, TEXT("ch: the initramfs VMs boot unless they name one") },
	{ "initramfs_kernel", false, { .type = RPC_TYPE_STRING, .nullable = true,
				       .description = "ch: the guest kernel whose modules the default initramfs carries, null when none" } },
	{ "binary", false, TEXT("ch: the cloud-hypervisor found") },
	{ "version", false, TEXT("ch: its version") },
	{ "version_output", false, TEXT("ch: what its --version printed") },
	{ NULL },
};
static const rpc_schema_t backend_schema = {
	.type = RPC_TYPE_OBJECT, .component = "Backend", .description = "A VM backend as this node has it",
	.fields = backend_fields,
};
static const rpc_field_t backends_fields[] = {
	{ "kvm", true, backend_schema },
	{ "ch", true, backend_schema },
	{ NULL },
};
static const rpc_field_t limits_fields[] = {
	{ "max_vms", true, COUNT("VMs this node holds at most") },
	{ "max_vcpus", true, COUNT("vCPUs of the VMs running at once (the capacity budget)") },
	{ "max_memory_mib", true, COUNT("guest memory of the VMs running at once") },
	{ "max_request_bytes", true, COUNT("a request line's bytes") },
	{ "max_clients", true, COUNT("connections at once") },
	{ "max_answer_bytes", true, COUNT("an answer line's bytes") },
	{ "event_ring_capacity", true, COUNT("node events compute.vm.events.tail holds") },
	{ "vm_transition_ring_capacity", true, COUNT("transitions status holds per VM") },
	{ NULL },
};
static const rpc_field_t paths_fields[] = {
	{ "state_dir", true, TEXT("where VMs' state lives") },
	{ "console_dir", true, TEXT("where console sockets live") },
	{ NULL },
};
static const rpc_field_t capacity_fields[] = {
	{ "memory_mib_limit", true, COUNT(NULL) }, { "memory_mib_used", true, COUNT(NULL) },
	{ "memory_mib_free", true, COUNT(NULL) },  { "vcpus_limit", true, COUNT(NULL) },
	{ "vcpus_used", true, COUNT(NULL) },       { "vcpus_free", true, COUNT(NULL) },
	{ NULL },
};
static const rpc_field_t blobs_fields[] = {
	{ "count", true, COUNT("blobs stored") },
	{ "bytes", true, COUNT("their bytes in all") },
	{ "max_blob_bytes", true, COUNT("the largest blob put takes") },
	{ NULL },
};
static const rpc_field_t info_fields[] = {
	{ "version", true, TEXT("mvmd's version") },
	{ "hostname", false, TEXT(NULL) },
	{ "kernel", false, TEXT("the host kernel's release") },
	{ "arch", false, TEXT("the host's machine") },
	{ "backends", true, { .type = RPC_TYPE_OBJECT, .fields = backends_fields } },
	{ "limits", true, { .type = RPC_TYPE_OBJECT, .fields = limits_fields } },
	{ "paths", true, { .type = RPC_TYPE_OBJECT, .fields = paths_fields } },
	{ "vms", true, COUNT("VMs on this node") },
	{ "capacity", true, { .type = RPC_TYPE_OBJECT, .description = "what VMs from Starting to Stopping hold, and what is left",
			      .fields = capacity_fields } },
	{ "blobs", true, { .type = RPC_TYPE_OBJECT, .description = "the blob store", .fields = blobs_fields } },
	{ NULL },
};
static const rpc_schema_t info_result = {
	.type = RPC_TYPE_OBJECT, .component = "NodeInfo", .description = "What this node is and can do",
	.fields = info_fields,
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

static const rpc_field_t metrics_fields[] = {
	{ "text", true, TEXT("the metrics in Prometheus's text exposition format 0.0.4 (docs/operating.md, \"Metrics\")") },
	{ "content_type", true, TEXT("\"" METRICS_CONTENT_TYPE "\"") },
	{ NULL },
};
static const rpc_schema_t metrics_result = {
	.type = RPC_TYPE_OBJECT, .description = "The node's metrics, as a scraper would read them", .fields = metrics_fields,
};

const rpc_method_t methods_node[] = {
	{ "compute.node.info", "Version, backends and whether each is usable here, limits", NULL, &info_result, node_info, 0,
	  METHODS_NO_ERRORS, NULL },
	{ "compute.node.metrics", "The node's metrics in Prometheus's text exposition format", NULL, &metrics_result,
	  node_metrics, 0, METHODS_ERRORS(RPC_ERROR_SERVER), NULL },
};
const size_t methods_node_n = ELEMENTSOF(methods_node);
