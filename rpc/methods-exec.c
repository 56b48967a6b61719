/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.vm.exec: run a command in a guest through its exec agent.
 *
 * One code path for every VM kind (docs/design.md §7): mvmd's exec proxy
 * (daemon/mvmd/exec-proxy.c) connects to the VM's hybrid vsock socket
 * STATE_DIR/vms/<id>/vsock.sock, says "CONNECT 52" and speaks the exec
 * protocol from the event loop. This file turns params into a request and
 * the outcome into the answer, which is deferred: the call is answered
 * when the proxy is done, and an exec whose client went away is cancelled
 * (its connection's close hook), which frees everything it held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "exec-proxy.h"
#include "methods.h"
#include "metrics.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/text.h"
#include "workload.h"

#define EXEC_DEFAULT_TIMEOUT_MS 30000
#define EXEC_DEFAULT_OUTPUT (1u << 20)
#define EXEC_MAX_OUTPUT (8u << 20)

/* One exec waiting for its answer. */
typedef struct exec_job {
	rpc_call_t *call;
	metrics_t *metrics; /* counts how it ended */
	rpc_conn_t *conn; /* alive while the job is: its close hook frees the job */
	exec_op_t *op;
	char vm[VM_ID_LEN + 1];
	bool base64;
	uint64_t host_timeout_ms;
} exec_job_t;

/* The request while it is built: strings point into `strings`. The proxy
 * encodes it at once, so it lives only as long as the handler. */
typedef struct exec_req_buf {
	exec_request_t req;
	char *strings;
	void *stdin_buf;
} exec_req_buf_t;

static void req_buf_free(exec_req_buf_t *b)
{
	if (!b)
		return;
	free(b->strings);
	free(b->stdin_buf);
	free(b);
}

static json_object *text_json(const uint8_t *buf, size_t len, bool b64)
{
	_cleanup_free_ char *s = NULL;
	size_t n;

	if ((b64 ? base64_encode(buf, len, &s, &n) : utf8_sanitize(buf, len, &s, &n)) < 0)
		return NULL;
	return json_object_new_string_len(s, (int)n);
}

/* A kvm worker gets the module over its control socket before the exec
 * connects; when that fails the exec could not load it. */
static void reply_grant_failed(rpc_call_t *call, const char *vm, int r)
{
	json_object *data = json_object_new_object();

	json_object_object_add(data, "id", json_object_new_string(vm));
	json_object_object_add(data, "reason", json_object_new_string(
		r == -EAGAIN ? "cannot hand the module to the VM's worker now: its control socket is busy"
		: r == -ENOTCONN ? "cannot hand the module to the VM's worker: not connected to it"
		: "cannot hand the module to the VM"));
	json_object_object_add(data, "errno", json_object_new_string(strerror(-r)));
	rpc_call_error(call, RPC_ERROR_SERVER, "Exec failed", data);
}

static void job_reply(exec_job_t *j, int rc, const exec_result_t *r, const exec_proxy_prelude_t *pre)
{
	json_object *data;

	/* Its prelude's errnos are not the exchange's (a pull's -ENOENT is
	 * not an unreachable agent). */
	metrics_exec(j->metrics, pre ? METRICS_EXEC_ERROR : metrics_exec_classify(rc, r));
	if (pre && pre->pull) {
		/* Its module is on no source (or not a valid one): what
		 * compute.blob.pull of it would answer. */
		methods_pull_reply_failed(j->call, pre->pull);
		return;
	}
	if (pre && pre->grant) {
		reply_grant_failed(j->call, j->vm, rc);
		return;
	}
	if (rc == -EIDRM) {
		/* Removed meanwhile: what a request naming it now would get,
		 * as for a start or stop that waited (methods-run.c). */
		data = json_object_new_object();
		json_object_object_add(data, "id", json_object_new_string(j->vm));
		json_object_object_add(data, "reason", json_object_new_string("removed while the request waited"));
		rpc_call_error(j->call, RPC_ERROR_NOT_FOUND, "VM not found", data);
		return;
	}
	if (rc == -ECONNREFUSED || rc == -ENOENT || (rc == -ECONNRESET && !r->exited)) {
		data = json_object_new_object();
		json_object_object_add(data, "id", json_object_new_string(j->vm));
		json_object_object_add(data, "reason", json_object_new_string(
			rc == -ECONNRESET ? "the exec agent closed the connection"
					  : "no exec agent listening in the guest (vsock port 52)"));
		rpc_call_error(j->call, RPC_ERROR_SERVER, "Exec agent unreachable", data);
		return;
	}
	if (rc == -ETIMEDOUT) {
		data = json_object_new_object();
		json_object_object_add(data, "id", json_object_new_string(j->vm));
		json_object_object_add(data, "timeout_ms", json_object_new_int64((int64_t)j->host_timeout_ms));
		rpc_call_error(j->call, RPC_ERROR_TIMEOUT, "Timeout", data);
		return;
	}
	if (rc < 0) {
		rpc_call_errno(j->call, rc, "exec failed");
		return;
	}
	if (!r->exited) {
		/* The agent answered with an error frame. */
		data = json_object_new_object();
		json_object_object_add(data, "id", json_object_new_string(j->vm));
		json_object_object_add(data, "agent_error", json_object_new_string(exec_error_code_to_string((int)r->error_code)));
		json_object_object_add(data, "reason", json_object_new_string(r->error_message));
		rpc_call_error(j->call, r->error_code == EXEC_ERROR_NOT_FOUND ? RPC_ERROR_NOT_FOUND : RPC_ERROR_SERVER,
			       "Exec failed", data);
		return;
	}
	json_object *res = json_object_new_object();
	if (r->kind == EXEC_EXIT_CODE) {
		json_object_object_add(res, "exit_code", json_object_new_int64(r->value)); /* a u32 */
	} else {
		json_object_object_add(res, "exit_code", NULL);
		json_object_object_add(res, "signal", json_object_new_int((int)r->value));
	}
	json_object_object_add(res, "timed_out", json_object_new_boolean(r->timed_out));
	json_object_object_add(res, "stdout", text_json(r->out, r->out_len, j->base64));
	json_object_object_add(res, "stderr", text_json(r->err, r->err_len, j->base64));
	json_object_object_add(res, "truncated", json_object_new_boolean(r->truncated));
	json_object_object_add(res, "encoding", json_object_new_string(j->base64 ? "base64" : "utf-8"));
	rpc_call_reply(j->call, res);
}

static void on_conn_close(rpc_conn_t *c, void *userdata);

/* The proxy is done: answer, and the job is over. */
static void on_exec_done(int rc, exec_result_t *result, const exec_proxy_prelude_t *pre, void *userdata)
{
	exec_job_t *j = userdata;

	rpc_conn_remove_close_hook(j->conn, on_conn_close, j);
	job_reply(j, rc, result, pre);
	free(j);
}

/* The client went away (or mvmd is shutting down, which closes every
 * connection first): nobody waits for this exec any more. Stopping it
 * closes its vsock connection, and the agent kills the command. */
static void on_conn_close(rpc_conn_t *c, void *userdata)
{
	exec_job_t *j = userdata;

	exec_op_cancel(j->op);
	rpc_call_errno(j->call, -ECONNRESET, NULL); /* into the void: frees the call */
	free(j);
}

/* Copy argv strings and "K=V" env strings into one buffer the request points into. */
static int build_request(exec_req_buf_t *b, json_object *argv, json_object *env)
{
	size_t total = 0, off = 0;

	for (size_t i = 0; i < json_object_array_length(argv); i++)
		total += (size_t)json_object_get_string_len(json_object_array_get_idx(argv, i));
	if (env) {
		json_object_object_foreach(env, k, v)
			total += strlen(k) + 1 + (size_t)json_object_get_string_len(v);
	}
	b->strings = malloc(total + 1);
	if (!b->strings)
		return -ENOMEM;

	b->req.version = EXEC_PROTOCOL_VERSION;
	for (size_t i = 0; i < json_object_array_length(argv); i++) {
		json_object *a = json_object_array_get_idx(argv, i);
		size_t n = (size_t)json_object_get_string_len(a);
		memcpy(b->strings + off, json_object_get_string(a), n);
		b->req.argv[b->req.argc++] = (exec_str_t){ b->strings + off, (uint32_t)n };
		off += n;
	}
	if (env) {
		json_object_object_foreach(env, k, v) {
			size_t kn = strlen(k), vn = (size_t)json_object_get_string_len(v);
			char *p = b->strings + off;
			memcpy(p, k, kn);
			p[kn] = '=';
			memcpy(p + kn + 1, json_object_get_string(v), vn);
			b->req.envp[b->req.envc++] = (exec_str_t){ p, (uint32_t)(kn + 1 + vn) };
			off += kn + 1 + vn;
		}
	}
	return 0;
}

/* Frame strings (docs/exec-protocol.md): bytes, whatever the characters. */
static const rpc_schema_t exec_arg = { .type = RPC_TYPE_STRING, .has_min = true, .min = 0, .has_max = true, .max = EXEC_MAX_STRING,
				       .max_bytes = true };
static const rpc_schema_t env_key = { .type = RPC_TYPE_STRING, .pattern = "[A-Za-z_][A-Za-z0-9_]{0,127}" };
static const rpc_schema_t env_value = { .type = RPC_TYPE_STRING, .has_max = true, .max = 3968, .max_bytes = true };
static const char *const encodings[] = { "utf-8", "base64", NULL };

static const rpc_field_t exec_params[] = {
	{ "id", true, METHODS_VM_REF_SCHEMA },
	{ "argv", true, { .type = RPC_TYPE_ARRAY, .description = "the command; argv[0] a program, a built-in (mvm.echo, mvm.info) or sha256:<hex> of a Wasm module",
			  .has_min = true, .min = 1, .has_max = true, .max = EXEC_MAX_ARGC, .items = &exec_arg } },
	{ "env", false, { .type = RPC_TYPE_OBJECT, .description = "environment, NAME → value (at most 256)", .has_max = true, .max = EXEC_MAX_ENVC,
			  .keys = &env_key, .values = &env_value } },
	{ "stdin", false, { .type = RPC_TYPE_STRING, .description = "standard input, base64 (at most 64 KiB decoded)", .has_max = true, .max = 87384 } },
	{ "timeout_ms", false, { .type = RPC_TYPE_INTEGER, .description = "kill the command after this long (default 30000)", .has_min = true, .min = 1, .has_max = true, .max = EXEC_MAX_TIMEOUT_MS } },
	{ "max_output_bytes", false, { .type = RPC_TYPE_INTEGER, .description = "bytes kept per stream (default 1 MiB, at most 8 MiB); beyond: truncated", .has_min = true, .min = 0, .has_max = true, .max = EXEC_MAX_OUTPUT } },
	{ "encoding", false, { .type = RPC_TYPE_STRING, .description = "stdout/stderr as \"utf-8\" (default) or \"base64\"", .enum_values = encodings } },
	{ NULL },
};

static void vm_exec(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	vm_t *vm = methods_find_vm(call, ctx->manager, params);
	json_object *argv, *env = NULL, *v;
	exec_client_opts_t opts = { 0 };
	exec_req_buf_t *b = NULL;
	exec_job_t *j = NULL;
	char pull_hex[BLOB_HEX_LEN + 1] = "";
	int r;

	if (!vm)
		return;
	if (vm->state != VM_STATE_RUNNING) {
		json_object *data = json_object_new_object();
		json_object_object_add(data, "id", json_object_new_string(vm->id));
		json_object_object_add(data, "state", json_object_new_string(vm_state_to_string(vm->state)));
		json_object_object_add(data, "reason", json_object_new_string("exec needs a Running VM"));
		rpc_call_error(call, RPC_ERROR_INVALID_STATE, "Invalid state transition", data);
		return;
	}
	if (workload_present(vm)) {
		/* A workload micro-VM runs its module on its only vCPU and
		 * nothing else (docs/workloads.md): no agent listens. Say so
		 * instead of an unreachable agent after a round trip. */
		json_object *data = json_object_new_object();
		json_object_object_add(data, "id", json_object_new_string(vm->id));
		json_object_object_add(data, "state", json_object_new_string(vm_state_to_string(vm->state)));
		json_object_object_add(data, "reason", json_object_new_string(
			"busy: the VM runs its Wasm workload, which has no exec agent; exec needs a VM without a workload"));
		rpc_call_error(call, RPC_ERROR_INVALID_STATE, "Invalid state transition", data);
		return;
	}
	if (exec_proxy_full(ctx->execs)) {
		json_object *data = json_object_new_object();
		json_object_object_add(data, "limit", json_object_new_int(EXEC_PROXY_MAX_IN_FLIGHT));
		rpc_call_error(call, RPC_ERROR_RESOURCE_LIMIT, "Resource limit", data);
		return;
	}
	b = calloc(1, sizeof(*b));
	j = calloc(1, sizeof(*j));
	if (!b || !j) {
		r = -ENOMEM;
		goto fail;
	}
	j->metrics = manager_metrics(ctx->manager);
	memcpy(j->vm, vm->id, sizeof(j->vm));
	json_object_object_get_ex(params, "argv", &argv);
	json_object_object_get_ex(params, "env", &env);
	if (json_object_object_get_ex(params, "encoding", &v))
		j->base64 = strcmp(json_object_get_string(v), "base64") == 0;

	r = build_request(b, argv, env);
	if (r < 0)
		goto fail;
	if (b->req.argc > 0 && b->req.argv[0].len == BLOB_REF_LEN) {
		/* A Wasm module by hash: a Linux guest fetches it from mvmd
		 * (docs/blob-protocol.md), so let this VM have this one. */
		char ref[BLOB_REF_LEN + 1], hex[BLOB_HEX_LEN + 1];
		memcpy(ref, b->req.argv[0].ptr, BLOB_REF_LEN);
		ref[BLOB_REF_LEN] = '\0';
		if (blob_ref_to_hex(ref, hex) == 0) {
			blob_info_t info;

			if (blob_stat(manager_blobs(ctx->manager), hex, &info) == -ENOENT &&
			    puller_has_sources(manager_puller(ctx->manager))) {
				/* Missing here: the exec pulls it first, then
				 * grants it (exec-proxy.c, PULL). */
				memcpy(pull_hex, hex, sizeof(pull_hex));
			} else {
				r = manager_vm_grant_blob(ctx->manager, vm, hex);
				if (r < 0 && r != -EOPNOTSUPP) {
					reply_grant_failed(call, vm->id, r);
					goto out;
				}
			}
		}
	}
	b->req.stdin_mode = EXEC_STDIN_NONE;
	if (json_object_object_get_ex(params, "stdin", &v)) {
		size_t n;
		if (base64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), &b->stdin_buf, &n) < 0) {
			rpc_call_invalid_param(call, "stdin", "not valid base64");
			goto out;
		}
		if (n > EXEC_MAX_INLINE_STDIN) {
			rpc_call_invalid_param(call, "stdin", "more than 64 KiB");
			goto out;
		}
		b->req.stdin_mode = EXEC_STDIN_INLINE;
		b->req.stdin_data = b->stdin_buf;
		b->req.stdin_len = (uint32_t)n;
	}
	b->req.timeout_ms = json_object_object_get_ex(params, "timeout_ms", &v) ? (uint32_t)json_object_get_int64(v)
										   : EXEC_DEFAULT_TIMEOUT_MS;
	/* The agent kills the command at timeout_ms; the host gives it a
	 * little more to say so, then gives up on the connection. */
	j->host_timeout_ms = exec_proxy_host_timeout_ms(b->req.timeout_ms);
	opts.output_cap = json_object_object_get_ex(params, "max_output_bytes", &v) ? (size_t)json_object_get_int64(v)
										       : EXEC_DEFAULT_OUTPUT;
	if (opts.output_cap == 0)
		opts.output_cap = EXEC_OUTPUT_NONE; /* the exec client's 0 is its default */

	j->call = call;
	j->conn = rpc_call_get_conn(call);
	if (!j->conn || rpc_conn_add_close_hook(j->conn, on_conn_close, j) < 0) {
		/* The client is gone already: nothing to run it for. */
		rpc_call_errno(call, -ECONNRESET, NULL);
		goto out;
	}
	r = exec_proxy_start(ctx->execs, vm, &b->req, &opts, pull_hex[0] ? pull_hex : NULL, on_exec_done, j, &j->op);
	if (r < 0) {
		rpc_conn_remove_close_hook(j->conn, on_conn_close, j);
		/* The request itself (too big to encode) or no memory: the
		 * same answer as when the exchange failed. */
		rpc_call_errno(call, r, "exec failed");
		goto out;
	}
	req_buf_free(b);
	return;
fail:
	rpc_call_errno(call, r, "cannot start exec");
out:
	req_buf_free(b);
	free(j);
}

/* --- result, errors, examples (documentation: rpc.discover) ----------- */

static const rpc_field_t exec_result_fields[] = {
	{ "exit_code", true, { .type = RPC_TYPE_INTEGER, .description = "null when a signal ended it", .has_min = true, .min = 0,
			       .has_max = true, .max = UINT32_MAX, .nullable = true } },
	{ "signal", false, { .type = RPC_TYPE_INTEGER, .description = "the signal that ended it" } },
	{ "timed_out", true, { .type = RPC_TYPE_BOOLEAN, .description = "timeout_ms passed and it was killed" } },
	{ "stdout", true, { .type = RPC_TYPE_STRING, .description = "in the encoding" } },
	{ "stderr", true, { .type = RPC_TYPE_STRING, .description = "in the encoding" } },
	{ "truncated", true, { .type = RPC_TYPE_BOOLEAN, .description = "output beyond max_output_bytes was dropped" } },
	{ "encoding", true, { .type = RPC_TYPE_STRING, .enum_values = encodings } },
	{ NULL },
};
static const rpc_schema_t exec_result = {
	.type = RPC_TYPE_OBJECT,
	.component = "ExecResult",
	.description = "How a command in a VM ended and what it printed",
	.fields = exec_result_fields,
};

static const rpc_example_t exec_examples[] = {
	{ "echo", "{\"id\":\"web\",\"argv\":[\"mvm.echo\",\"hi\"]}",
	  "{\"exit_code\":0,\"timed_out\":false,\"stdout\":\"hi\\n\",\"stderr\":\"\",\"truncated\":false,\"encoding\":\"utf-8\"}" },
	{ NULL },
};

const rpc_method_t methods_exec[] = {
	{ "compute.vm.exec", "Run a command in a Running VM through its exec agent", exec_params, &exec_result, vm_exec, 0,
	  METHODS_ERRORS(RPC_ERROR_NOT_FOUND, RPC_ERROR_INVALID_STATE, RPC_ERROR_RESOURCE_LIMIT, RPC_ERROR_TIMEOUT, RPC_ERROR_SERVER),
	  exec_examples },
};
const size_t methods_exec_n = ELEMENTSOF(methods_exec);
