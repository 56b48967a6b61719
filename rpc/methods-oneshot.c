/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.vm.run: a Wasm module by hash, run once in a fresh kvm micro-VM
 * and answered with its exit code and output (daemon/mvmd/run.h, which
 * does the work; docs/workloads.md, "One-shot runs"). This file turns
 * params into a run and its outcome into the deferred answer; a run whose
 * client went away is abandoned (its connection's close hook): its VM is
 * killed and removed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "methods.h"
#include "run.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/text.h"

#define RUN_DEFAULT_TIMEOUT_MS 30000
#define RUN_DEFAULT_OUTPUT (1u << 20)
#define RUN_MAX_OUTPUT (8u << 20)
#define RUN_MAX_STDIN (64u << 10) /* the worker's input ring (daemon/vmm/vmm.h) */

typedef struct run_job {
	rpc_call_t *call;
	rpc_conn_t *conn; /* its close hook abandons the run */
	run_t *run;
	bool base64;
} run_job_t;

static json_object *text_json(const uint8_t *buf, size_t len, bool b64)
{
	_cleanup_free_ char *s = NULL;
	size_t n;

	if ((b64 ? base64_encode(buf ? buf : (const uint8_t *)"", len, &s, &n)
		 : utf8_sanitize(buf ? buf : (const uint8_t *)"", len, &s, &n)) < 0)
		return NULL;
	return json_object_new_string_len(s, (int)n);
}

static void run_error(rpc_call_t *call, const run_outcome_t *o)
{
	json_object *data = json_object_new_object();
	int code = o->error == -ENOENT ? RPC_ERROR_NOT_FOUND
		   : o->error == -ENODEV ? RPC_ERROR_BACKEND_UNAVAILABLE
		   : rpc_error_from_errno(o->error) == RPC_ERROR_RESOURCE_LIMIT ? RPC_ERROR_RESOURCE_LIMIT
										  : RPC_ERROR_SERVER;

	json_object_object_add(data, "id", json_object_new_string(o->vm_id));
	if (o->state != VM_STATE_PENDING)
		json_object_object_add(data, "state", json_object_new_string(vm_state_to_string(o->state)));
	if (rpc_errno_name(o->error))
		json_object_object_add(data, "errno", json_object_new_string(rpc_errno_name(o->error)));
	json_object_object_add(data, "reason", json_object_new_string(o->cause ? o->cause : strerror(-o->error)));
	rpc_call_error(call, code, code == RPC_ERROR_SERVER ? "Run failed" : rpc_error_message(code), data);
}

static void on_conn_close(rpc_conn_t *c, void *userdata);

static void on_run_done(const run_outcome_t *o, void *userdata)
{
	run_job_t *j = userdata;
	json_object *res;

	rpc_conn_remove_close_hook(j->conn, on_conn_close, j);
	if (o->error < 0) {
		run_error(j->call, o);
		free(j);
		return;
	}
	res = json_object_new_object();
	json_object_object_add(res, "id", json_object_new_string(o->vm_id));
	json_object_object_add(res, "exit_code", o->has_exit_code ? json_object_new_int64(o->exit_code) : NULL);
	json_object_object_add(res, "timed_out", json_object_new_boolean(o->timed_out));
	json_object_object_add(res, "stdout", text_json(o->out, o->out_len, j->base64));
	json_object_object_add(res, "stderr", text_json(o->err, o->err_len, j->base64));
	json_object_object_add(res, "truncated", json_object_new_boolean(o->truncated));
	json_object_object_add(res, "encoding", json_object_new_string(j->base64 ? "base64" : "utf-8"));
	json_object_object_add(res, "state", json_object_new_string(vm_state_to_string(o->state)));
	json_object_object_add(res, "cause", o->cause ? json_object_new_string(o->cause) : NULL);
	rpc_call_reply(j->call, res);
	free(j);
}

/* The client left (or mvmd is shutting down): nobody waits for the run. */
static void on_conn_close(rpc_conn_t *c, void *userdata)
{
	run_job_t *j = userdata;

	manager_run_abandon(j->run);
	rpc_call_errno(j->call, -ECONNRESET, NULL); /* into the void: frees the call */
	free(j);
}

static bool has_string(json_object *arr, const char *s)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), s) == 0)
			return true;
	return false;
}

/*
 * The workload as compute.vm.create would store it (defaults filled),
 * with the run's timeout and, when stdin is given and the capabilities
 * were left to their default, the stdin grant: a run's input always ends,
 * so reading it cannot hang. NULL when the call was answered.
 */
static json_object *run_workload(rpc_call_t *call, json_object *params, bool with_stdin)
{
	json_object *holder = json_object_new_object(), *w, *v;
	bool explicit_caps;

	if (!holder || !json_object_object_get_ex(params, "workload", &w)) {
		json_object_put(holder);
		rpc_call_errno(call, -ENOMEM, NULL);
		return NULL;
	}
	explicit_caps = json_object_object_get_ex(w, "capabilities", NULL);
	json_object_object_add(holder, "workload", json_object_get(w));
	if (methods_workload_prepare(call, holder, VM_BACKEND_KVM) < 0) {
		json_object_put(holder);
		return NULL;
	}
	json_object_object_get_ex(holder, "workload", &w);
	w = json_object_get(w);
	json_object_put(holder);
	json_object_object_get_ex(w, "capabilities", &v);
	if (with_stdin && !has_string(v, "stdin")) {
		if (explicit_caps) {
			json_object_put(w);
			rpc_call_invalid_param(call, "stdin", "the workload's capabilities do not grant \"stdin\"");
			return NULL;
		}
		json_object_array_add(v, json_object_new_string("stdin"));
	}
	/* The run's timeout is its workload's: the VM ends as any workload VM past its time. */
	if (json_object_object_get_ex(params, "timeout_ms", &v))
		json_object_object_add(w, "timeout_ms", json_object_get(v));
	else if (!json_object_object_get_ex(w, "timeout_ms", NULL))
		json_object_object_add(w, "timeout_ms", json_object_new_int64(RUN_DEFAULT_TIMEOUT_MS));
	return w;
}

static const char *const encodings[] = { "utf-8", "base64", NULL };
static const rpc_schema_t run_workload_schema = { .type = RPC_TYPE_OBJECT, .fields = methods_workload_fields,
						  .description = "as compute.vm.create's workload" };

static const rpc_field_t run_params[] = {
	{ "workload", true, run_workload_schema },
	{ "stdin", false, { .type = RPC_TYPE_STRING, .description = "the workload's whole standard input, base64 (at most 64 KiB decoded); then end of input", .has_max = true, .max = 87384 } },
	{ "timeout_ms", false, { .type = RPC_TYPE_INTEGER, .description = "kill the run after this long (default 30000; workload.timeout_ms when only that is given)", .has_min = true, .min = 1, .has_max = true, .max = 7 * 24 * 3600 * 1000ll } },
	{ "max_output_bytes", false, { .type = RPC_TYPE_INTEGER, .description = "bytes kept per stream (default 1 MiB, at most 8 MiB); beyond: truncated", .has_min = true, .min = 0, .has_max = true, .max = RUN_MAX_OUTPUT } },
	{ "reuse_key", false, { .type = RPC_TYPE_STRING, .description = "the orchestrator's key for worker reuse (1..128 of A-Z a-z 0-9 . _ : @ / + = -); a worker whose run exited is reset and serves only later runs of the same module with the same key; none: never reused", .pattern = "[A-Za-z0-9._:@/+=-]{1,128}" } },
	{ "memory_mib", false, { .type = RPC_TYPE_INTEGER, .description = "guest memory in MiB (default: the warm pool's size)", .has_min = true, .min = 1, .has_max = true, .max = 1 << 22, .limit = "node.max_memory_mib" } },
	{ "encoding", false, { .type = RPC_TYPE_STRING, .description = "stdout/stderr as \"utf-8\" (default) or \"base64\"", .enum_values = encodings } },
	{ NULL },
};

static void vm_run(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	_cleanup_free_ void *in = NULL;
	_cleanup_free_ char *detail = NULL;
	run_params_t p = { .max_output = RUN_DEFAULT_OUTPUT };
	json_object *v, *w = NULL;
	run_job_t *j = NULL;
	int r;

	if (!manager_backend_registered(ctx->manager, VM_BACKEND_KVM)) {
		json_object *data = json_object_new_object();
		json_object_object_add(data, "backend", json_object_new_string("kvm"));
		json_object_object_add(data, "reason", json_object_new_string("backend not implemented in this build"));
		rpc_call_error(call, RPC_ERROR_BACKEND_UNAVAILABLE, "Backend unavailable", data);
		return;
	}
	if (json_object_object_get_ex(params, "stdin", &v)) {
		if (base64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), &in, &p.stdin_len) < 0) {
			rpc_call_invalid_param(call, "stdin", "not valid base64");
			return;
		}
		if (p.stdin_len > RUN_MAX_STDIN) {
			rpc_call_invalid_param(call, "stdin", "more than 64 KiB");
			return;
		}
		p.stdin_data = in;
	}
	w = run_workload(call, params, json_object_object_get_ex(params, "stdin", NULL));
	if (!w)
		return;
	p.workload = w;
	if (json_object_object_get_ex(params, "max_output_bytes", &v))
		p.max_output = (size_t)json_object_get_int64(v);
	if (json_object_object_get_ex(params, "memory_mib", &v))
		p.memory_mib = (uint64_t)json_object_get_int64(v);
	if (json_object_object_get_ex(params, "reuse_key", &v))
		p.reuse_key = json_object_get_string(v);

	j = calloc(1, sizeof(*j));
	if (!j) {
		rpc_call_errno(call, -ENOMEM, NULL);
		goto out;
	}
	j->call = call;
	j->base64 = json_object_object_get_ex(params, "encoding", &v) && strcmp(json_object_get_string(v), "base64") == 0;
	j->conn = rpc_call_get_conn(call);
	if (!j->conn) {
		rpc_call_errno(call, -ECONNRESET, NULL); /* the client is gone already */
		free(j);
		goto out;
	}
	r = manager_run_start(ctx->manager, &p, on_run_done, j, &j->run, &detail);
	if (r < 0) {
		if (r != -ENOSPC && r != -EEXIST)
			log_error_errno(r, "run failed: %s: %m", detail ? detail : "");
		rpc_call_errno(call, r, detail);
		free(j);
		goto out;
	}
	if (rpc_conn_add_close_hook(j->conn, on_conn_close, j) < 0)
		on_conn_close(j->conn, j); /* closing meanwhile: nobody will read the answer */
out:
	json_object_put(w);
}

/* --- result, errors, examples (documentation: rpc.discover) ----------- */

static const rpc_field_t run_result_fields[] = {
	{ "id", true, { .type = RPC_TYPE_STRING, .description = "the run's VM, in list and events while it ran; removed now" } },
	{ "exit_code", true, { .type = RPC_TYPE_INTEGER, .description = "the workload's exit code; null when it did not exit (timeout, trap, fault)", .has_min = true, .min = 0,
			       .has_max = true, .max = UINT32_MAX, .nullable = true } },
	{ "timed_out", true, { .type = RPC_TYPE_BOOLEAN, .description = "timeout_ms passed and the run was killed" } },
	{ "stdout", true, { .type = RPC_TYPE_STRING, .description = "in the encoding" } },
	{ "stderr", true, { .type = RPC_TYPE_STRING, .description = "in the encoding" } },
	{ "truncated", true, { .type = RPC_TYPE_BOOLEAN, .description = "output beyond max_output_bytes was dropped" } },
	{ "encoding", true, { .type = RPC_TYPE_STRING, .enum_values = encodings } },
	{ "state", true, { .type = RPC_TYPE_STRING, .description = "how its VM ended: Stopped (it exited) or Failed" } },
	{ "cause", true, { .type = RPC_TYPE_STRING, .description = "the VM's last cause (\"guest exited with code 0\", a trap, \"killed by workload timeout ...\")", .nullable = true } },
	{ NULL },
};
static const rpc_schema_t run_result = {
	.type = RPC_TYPE_OBJECT,
	.component = "RunResult",
	.description = "How a one-shot run ended and what it printed",
	.fields = run_result_fields,
};

static const rpc_example_t run_examples[] = {
	{ "hello", "{\"workload\":{\"hash\":\"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}}",
	  "{\"id\":\"7d1c0f9e-3b6a-4c1e-9f2d-5a8b7c6d5e4f\",\"exit_code\":0,\"timed_out\":false,\"stdout\":\"hi\\n\",\"stderr\":\"\","
	  "\"truncated\":false,\"encoding\":\"utf-8\",\"state\":\"Stopped\",\"cause\":\"guest exited with code 0\"}" },
	{ NULL },
};

const rpc_method_t methods_oneshot[] = {
	{ "compute.vm.run", "Run a Wasm module once in a fresh micro-VM; answered with its exit code and output when it ends",
	  run_params, &run_result, vm_run, 0,
	  METHODS_ERRORS(RPC_ERROR_NOT_FOUND, RPC_ERROR_BACKEND_UNAVAILABLE, RPC_ERROR_SERVER), run_examples },
};
const size_t methods_oneshot_n = ELEMENTSOF(methods_oneshot);
