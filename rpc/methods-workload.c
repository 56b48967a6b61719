/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.vm.create's "workload": a Wasm module by content hash, run by
 * mvm-guest in a kvm micro-VM (docs/workloads.md). The schema, and the
 * defaults filled into the stored spec so that status shows exactly what
 * was granted.
 */
#include <errno.h>
#include <string.h>

#include "methods.h"

/* Boot info is 64 KiB in all (lib/proto/guest-abi.h); args and env share it
 * with the memory map and the capability names. */
#define WORKLOAD_STRINGS_MAX (48u << 10)


/*
 * The default grant when "capabilities" is absent: what a batch job
 * expects of a Unix process (write its output, read its arguments,
 * environment and the time, get random numbers), minus stdin. Console
 * input comes only from whoever attaches to the console socket, so a
 * program reading stdin by default would hang until its timeout;
 * without the grant it gets an error at once. Interactive workloads ask
 * for "stdin".
 */
static const char *const cap_default[] = { "stdout", "stderr", "clock", "random", "args", "env", NULL };

/* 4 KiB of boot info each: bytes of UTF-8, whatever the characters. */
static const rpc_schema_t arg_schema = { .type = RPC_TYPE_STRING, .description = "at most 4096 bytes of UTF-8",
					 .has_max = true, .max = 4096, .max_bytes = true };
static const rpc_schema_t env_key = { .type = RPC_TYPE_STRING, .pattern = "[A-Za-z_][A-Za-z0-9_]{0,127}" };
static const rpc_schema_t env_value = { .type = RPC_TYPE_STRING, .description = "at most 4096 bytes of UTF-8",
					.has_max = true, .max = 4096, .max_bytes = true };
/* A WASI grant, or "send:sha256:<hex>": the actor may send to that
 * interface (docs/actors.md). */
static const rpc_schema_t cap_schema = { .type = RPC_TYPE_STRING,
					 .description = "stdin, stdout, stderr, clock, random, env, args, or send:sha256:<64 hex>",
					 .pattern = "stdin|stdout|stderr|clock|random|env|args|send:sha256:[0-9a-f]{64}" };
static const rpc_schema_t iface_schema = { .type = RPC_TYPE_STRING, .description = "an interface, \"sha256:<64 lowercase hex>\"",
					   .pattern = "sha256:[0-9a-f]{64}" };

const rpc_field_t methods_workload_fields[] = {
	{ "hash", true, { .type = RPC_TYPE_STRING, .description = "the module's content hash, \"sha256:<64 lowercase hex>\" (compute.blob.put)",
			  .pattern = "sha256:[0-9a-f]{64}" } },
	{ "args", false, { .type = RPC_TYPE_ARRAY, .description = "WASI argv, args[0] being the program name by convention (default [\"workload\"])",
			   .has_max = true, .max = 256, .items = &arg_schema } },
	{ "env", false, { .type = RPC_TYPE_OBJECT, .description = "WASI environment, NAME -> value",
			  .has_max = true, .max = 256, .keys = &env_key, .values = &env_value } },
	{ "capabilities", false, { .type = RPC_TYPE_ARRAY, .description = "host functions granted: stdin, stdout, stderr, clock, random, env, args "
						      "(default stdout, stderr, clock, random, args, env); the rest fail with WASI errno 76 (notcapable); "
						      "send:sha256:<hex> lets the actor send to that interface (docs/actors.md)",
				   .has_max = true, .max = 7 + 64, .items = &cap_schema } },
	{ "handles", false, { .type = RPC_TYPE_ARRAY, .description = "interfaces this actor handles while it runs, at most one handler per interface on the node (docs/actors.md)",
			      .has_max = true, .max = 16, .items = &iface_schema } },
	{ "send_timeout_ms", false, { .type = RPC_TYPE_INTEGER, .description = "how long each of this actor's sends to an interface waits for its answer before it fails -ETIMEDOUT (default 30000; docs/actors.md)",
				      .has_min = true, .min = 1, .has_max = true, .max = 3600 * 1000ll } },
	{ "timeout_ms", false, { .type = RPC_TYPE_INTEGER, .description = "wall-clock limit from start; the VM then ends Failed (\"timeout\")",
				 .has_min = true, .min = 1, .has_max = true, .max = 7 * 24 * 3600 * 1000ll } },
	{ NULL },
};

int methods_workload_prepare(rpc_call_t *call, json_object *spec, vm_backend_t backend)
{
	json_object *w, *copy, *v;
	size_t bytes = 0;

	if (!json_object_object_get_ex(spec, "workload", &w))
		return 0;
	if (backend != VM_BACKEND_KVM) {
		rpc_call_invalid_param(call, "workload", "only for the kvm backend");
		return -EINVAL;
	}
	if (json_object_object_get_ex(w, "args", &v))
		for (size_t i = 0; i < json_object_array_length(v); i++)
			bytes += strlen(json_object_get_string(json_object_array_get_idx(v, i))) + 9;
	if (json_object_object_get_ex(w, "env", &v)) {
		json_object_object_foreach(v, key, val)
			bytes += strlen(key) + strlen(json_object_get_string(val)) + 10;
	}
	if (json_object_object_get_ex(w, "handles", &v)) {
		for (size_t i = 0; i < json_object_array_length(v); i++)
			for (size_t k = 0; k < i; k++)
				if (strcmp(json_object_get_string(json_object_array_get_idx(v, i)),
					   json_object_get_string(json_object_array_get_idx(v, k))) == 0) {
					rpc_call_invalid_param(call, "workload.handles", "an interface is named twice");
					return -EINVAL;
				}
	}
	if (bytes > WORKLOAD_STRINGS_MAX) {
		rpc_call_invalid_param(call, "workload", "args and env exceed 48 KiB in all");
		return -EINVAL;
	}
	/* Defaults go into a copy: the stored spec says what was granted. */
	copy = NULL;
	if (json_object_deep_copy(w, &copy, NULL) < 0 || !copy) {
		rpc_call_errno(call, -ENOMEM, NULL);
		return -ENOMEM;
	}
	if (!json_object_object_get_ex(copy, "args", NULL)) {
		json_object *a = json_object_new_array();
		json_object_array_add(a, json_object_new_string("workload"));
		json_object_object_add(copy, "args", a);
	}
	if (!json_object_object_get_ex(copy, "env", NULL))
		json_object_object_add(copy, "env", json_object_new_object());
	if (!json_object_object_get_ex(copy, "capabilities", NULL)) {
		json_object *a = json_object_new_array();
		for (size_t i = 0; cap_default[i]; i++)
			json_object_array_add(a, json_object_new_string(cap_default[i]));
		json_object_object_add(copy, "capabilities", a);
	}
	json_object_object_add(spec, "workload", copy);
	return 0;
}
