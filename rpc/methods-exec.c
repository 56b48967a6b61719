/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.vm.exec: run a command in a guest through its exec agent.
 *
 * One code path for every VM kind (docs/design.md §7): connect to the VM's hybrid
 * vsock socket STATE_DIR/vms/<id>/vsock.sock, "CONNECT 52", then the
 * binary exec protocol (daemon/mvmd/exec-client.c). The exchange is blocking by design of
 * daemon/mvmd/exec-client, so each exec runs on a thread of its own and hands its
 * result back to the event loop through a pipe; the loop never waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "exec-client.h"
#include "methods.h"
#include "metrics.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/text.h"
#include "workload.h"

#define EXEC_DEFAULT_TIMEOUT_MS 30000
#define EXEC_DEFAULT_OUTPUT (1u << 20)
#define EXEC_MAX_OUTPUT (8u << 20)
#define EXEC_MAX_IN_FLIGHT 64
#define EXEC_CONNECT_SLACK_MS 2000

typedef struct exec_job {
	rpc_call_t *call;
	metrics_t *metrics; /* counts how it ended */
	char vm[VM_ID_LEN + 1];
	char *vsock_path;
	bool base64;
	/* the request: strings point into `strings` */
	exec_request_t req;
	char *strings;
	void *stdin_buf;
	exec_client_opts_t opts;
	int host_timeout_ms;
	/* the outcome, written by the thread */
	int rc;
	exec_result_t result;
	/* thread → loop */
	pthread_t thread;
	int pipe[2];
	sd_event_source *done;
} exec_job_t;

static unsigned in_flight;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void job_free(exec_job_t *j)
{
	sd_event_source_disable_unref(j->done);
	safe_close(j->pipe[0]);
	safe_close(j->pipe[1]);
	exec_result_clear(&j->result);
	free(j->vsock_path);
	free(j->strings);
	free(j->stdin_buf);
	free(j);
}

static void *job_run(void *p)
{
	exec_job_t *j = p;
	int fd = -1;

	/* A VM is Running as soon as its guest runs, which is a moment
	 * before the guest's agent listens: a start followed at once by an
	 * exec finds the port closed. Ask again for a little while. */
	int64_t give_up = now_ms() + EXEC_CONNECT_SLACK_MS;
	for (;;) {
		j->rc = exec_client_connect_hvsock(j->vsock_path, EXEC_AGENT_PORT, EXEC_CONNECT_SLACK_MS, &fd);
		if ((j->rc != -ECONNRESET && j->rc != -ECONNREFUSED) || now_ms() >= give_up)
			break;
		usleep(10000);
	}
	if (j->rc == 0) {
		j->opts.timeout_ms = j->host_timeout_ms;
		j->rc = exec_client_run(fd, &j->req, &j->opts, &j->result);
		close(fd);
	}
	char one = 1;
	(void)!write(j->pipe[1], &one, 1);
	return NULL;
}

static json_object *text_json(const uint8_t *buf, size_t len, bool b64)
{
	_cleanup_free_ char *s = NULL;
	size_t n;

	if ((b64 ? base64_encode(buf, len, &s, &n) : utf8_sanitize(buf, len, &s, &n)) < 0)
		return NULL;
	return json_object_new_string_len(s, (int)n);
}

static void job_reply(exec_job_t *j)
{
	exec_result_t *r = &j->result;
	json_object *data;

	metrics_exec(j->metrics, metrics_exec_classify(j->rc, r));
	if (j->rc == -ECONNREFUSED || j->rc == -ENOENT || (j->rc == -ECONNRESET && !r->exited)) {
		data = json_object_new_object();
		json_object_object_add(data, "id", json_object_new_string(j->vm));
		json_object_object_add(data, "reason", json_object_new_string(
			j->rc == -ECONNRESET ? "the exec agent closed the connection"
					     : "no exec agent listening in the guest (vsock port 52)"));
		rpc_call_error(j->call, RPC_ERROR_SERVER, "Exec agent unreachable", data);
		return;
	}
	if (j->rc == -ETIMEDOUT) {
		data = json_object_new_object();
		json_object_object_add(data, "id", json_object_new_string(j->vm));
		json_object_object_add(data, "timeout_ms", json_object_new_int64(j->host_timeout_ms));
		rpc_call_error(j->call, RPC_ERROR_TIMEOUT, "Timeout", data);
		return;
	}
	if (j->rc < 0) {
		rpc_call_errno(j->call, j->rc, "exec failed");
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

static int on_job_done(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	exec_job_t *j = userdata;

	pthread_join(j->thread, NULL);
	in_flight--;
	job_reply(j);
	job_free(j);
	return 0;
}

/* Copy argv strings and "K=V" env strings into one buffer the request points into. */
static int build_request(exec_job_t *j, json_object *argv, json_object *env)
{
	size_t total = 0, off = 0;

	for (size_t i = 0; i < json_object_array_length(argv); i++)
		total += (size_t)json_object_get_string_len(json_object_array_get_idx(argv, i));
	if (env) {
		json_object_object_foreach(env, k, v)
			total += strlen(k) + 1 + (size_t)json_object_get_string_len(v);
	}
	j->strings = malloc(total + 1);
	if (!j->strings)
		return -ENOMEM;

	j->req.version = EXEC_PROTOCOL_VERSION;
	for (size_t i = 0; i < json_object_array_length(argv); i++) {
		json_object *a = json_object_array_get_idx(argv, i);
		size_t n = (size_t)json_object_get_string_len(a);
		memcpy(j->strings + off, json_object_get_string(a), n);
		j->req.argv[j->req.argc++] = (exec_str_t){ j->strings + off, (uint32_t)n };
		off += n;
	}
	if (env) {
		json_object_object_foreach(env, k, v) {
			size_t kn = strlen(k), vn = (size_t)json_object_get_string_len(v);
			char *p = j->strings + off;
			memcpy(p, k, kn);
			p[kn] = '=';
			memcpy(p + kn + 1, json_object_get_string(v), vn);
			j->req.envp[j->req.envc++] = (exec_str_t){ p, (uint32_t)(kn + 1 + vn) };
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
	exec_job_t *j;
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
	if (in_flight >= EXEC_MAX_IN_FLIGHT) {
		json_object *data = json_object_new_object();
		json_object_object_add(data, "limit", json_object_new_int(EXEC_MAX_IN_FLIGHT));
		rpc_call_error(call, RPC_ERROR_RESOURCE_LIMIT, "Resource limit", data);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		rpc_call_errno(call, -ENOMEM, NULL);
		return;
	}
	j->pipe[0] = j->pipe[1] = -1;
	j->metrics = manager_metrics(ctx->manager);
	memcpy(j->vm, vm->id, sizeof(j->vm));
	json_object_object_get_ex(params, "argv", &argv);
	json_object_object_get_ex(params, "env", &env);
	if (json_object_object_get_ex(params, "encoding", &v))
		j->base64 = strcmp(json_object_get_string(v), "base64") == 0;

	r = build_request(j, argv, env);
	if (r < 0)
		goto fail;
	if (j->req.argc > 0 && j->req.argv[0].len == BLOB_REF_LEN) {
		/* A Wasm module by hash: a Linux guest fetches it from mvmd
		 * (docs/blob-protocol.md), so let this VM have this one. */
		char ref[BLOB_REF_LEN + 1], hex[BLOB_HEX_LEN + 1];
		memcpy(ref, j->req.argv[0].ptr, BLOB_REF_LEN);
		ref[BLOB_REF_LEN] = '\0';
		if (blob_ref_to_hex(ref, hex) == 0) {
			r = manager_vm_grant_blob(ctx->manager, vm, hex);
			if (r < 0 && r != -EOPNOTSUPP) {
				/* A kvm worker gets the module over its control
				 * socket now, or the exec could not load it. */
				json_object *data = json_object_new_object();
				json_object_object_add(data, "id", json_object_new_string(vm->id));
				json_object_object_add(data, "reason", json_object_new_string(
					r == -EAGAIN ? "cannot hand the module to the VM's worker now: its control socket is busy"
					: r == -ENOTCONN ? "cannot hand the module to the VM's worker: not connected to it"
					: "cannot hand the module to the VM"));
				json_object_object_add(data, "errno", json_object_new_string(strerror(-r)));
				job_free(j);
				rpc_call_error(call, RPC_ERROR_SERVER, "Exec failed", data);
				return;
			}
		}
	}
	j->req.stdin_mode = EXEC_STDIN_NONE;
	if (json_object_object_get_ex(params, "stdin", &v)) {
		size_t n;
		if (base64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), &j->stdin_buf, &n) < 0) {
			job_free(j);
			rpc_call_invalid_param(call, "stdin", "not valid base64");
			return;
		}
		if (n > EXEC_MAX_INLINE_STDIN) {
			job_free(j);
			rpc_call_invalid_param(call, "stdin", "more than 64 KiB");
			return;
		}
		j->req.stdin_mode = EXEC_STDIN_INLINE;
		j->req.stdin_data = j->stdin_buf;
		j->req.stdin_len = (uint32_t)n;
	}
	j->req.timeout_ms = json_object_object_get_ex(params, "timeout_ms", &v) ? (uint32_t)json_object_get_int64(v)
										   : EXEC_DEFAULT_TIMEOUT_MS;
	/* The agent kills the command at timeout_ms; the host gives it a
	 * little more to say so, then gives up on the connection. */
	j->host_timeout_ms = (int)MIN((uint64_t)j->req.timeout_ms + EXEC_CONNECT_SLACK_MS, (uint64_t)INT32_MAX);
	j->opts.output_cap = json_object_object_get_ex(params, "max_output_bytes", &v) ? (size_t)json_object_get_int64(v)
											  : EXEC_DEFAULT_OUTPUT;
	if (j->opts.output_cap == 0)
		j->opts.output_cap = EXEC_OUTPUT_NONE; /* the exec client's 0 is its default */
	r = store_vm_path(manager_store(ctx->manager), vm->id, "vsock.sock", &j->vsock_path);
	if (r < 0)
		goto fail;
	if (pipe2(j->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = negative_errno();
		goto fail;
	}
	r = sd_event_add_io(manager_event(ctx->manager), &j->done, j->pipe[0], EPOLLIN, on_job_done, j);
	if (r < 0)
		goto fail;
	j->call = call;
	r = -pthread_create(&j->thread, NULL, job_run, j);
	if (r < 0) {
		j->call = NULL;
		goto fail;
	}
	in_flight++;
	return;
fail:
	job_free(j);
	rpc_call_errno(call, r, "cannot start exec");
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
	  METHODS_ERRORS(RPC_ERROR_NOT_FOUND, RPC_ERROR_INVALID_STATE, RPC_ERROR_TIMEOUT, RPC_ERROR_SERVER), exec_examples },
};
const size_t methods_exec_n = ELEMENTSOF(methods_exec);
