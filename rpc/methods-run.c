/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.vm.start / stop / console.endpoint / logs: running VMs.
 *
 * start and stop are answered when the VM reaches the state they lead to
 * (a waiter subscribed to the manager's transitions), so a slow boot never
 * blocks other clients; a timeout answers -32006 and leaves the VM going;
 * the VM's removal (an event too) answers -32001 at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capacity.h"
#include "console.h"
#include "actor.h"
#include "interface.h"
#include "methods.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/text.h"
#include "vmlog.h"

#define START_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 10000
#define LOGS_DEFAULT_BYTES 65536
#define LOGS_MAX_BYTES (4u << 20)

typedef enum { WAIT_START, WAIT_STOP } wait_kind_t;

typedef struct waiter {
	rpc_call_t *call;
	manager_t *manager;
	wait_kind_t kind;
	char vm[VM_ID_LEN + 1];
	sd_event_source *timer;
} waiter_t;

static bool is_target(wait_kind_t kind, vm_state_t s)
{
	if (kind == WAIT_START)
		return s == VM_STATE_RUNNING || s == VM_STATE_START_FAILED || s == VM_STATE_FAILED ||
		       s == VM_STATE_STOPPED;
	return s == VM_STATE_STOPPED || s == VM_STATE_FAILED;
}

static void vm_error(rpc_call_t *call, int code, const char *message, const vm_t *vm, const char *reason)
{
	json_object *data = json_object_new_object();

	json_object_object_add(data, "id", json_object_new_string(vm->id));
	json_object_object_add(data, "state", json_object_new_string(vm_state_to_string(vm->state)));
	if (reason || vm->cause)
		json_object_object_add(data, "reason", json_object_new_string(reason ? reason : vm->cause));
	rpc_call_error(call, code, message, data);
}

/* The same for a failure with a system error: data.errno names it. */
static void vm_error_errno(rpc_call_t *call, int code, const char *message, const vm_t *vm, const char *reason,
			   int error)
{
	json_object *data = json_object_new_object();

	json_object_object_add(data, "id", json_object_new_string(vm->id));
	json_object_object_add(data, "state", json_object_new_string(vm_state_to_string(vm->state)));
	if (rpc_errno_name(error))
		json_object_object_add(data, "errno", json_object_new_string(rpc_errno_name(error)));
	json_object_object_add(data, "reason", json_object_new_string(reason));
	rpc_call_error(call, code, message, data);
}

/* Over the node's budget: which resource, used, free, limit, requested. */
static void capacity_error(rpc_call_t *call, manager_t *m, const vm_t *vm, const char *reason)
{
	json_object *data = json_object_new_object();
	capacity_refusal_t ref;

	json_object_object_add(data, "id", json_object_new_string(vm->id));
	json_object_object_add(data, "state", json_object_new_string(vm_state_to_string(vm->state)));
	/* The manager refused with the same check; nothing ran in between. */
	if (capacity_check(m, vm, &ref) < 0) {
		json_object_object_add(data, "resource", json_object_new_string(ref.resource));
		json_object_object_add(data, "used", json_object_new_int64((int64_t)ref.used));
		json_object_object_add(data, "free", json_object_new_int64(
			ref.used < ref.limit ? (int64_t)(ref.limit - ref.used) : 0));
		json_object_object_add(data, "limit", json_object_new_int64((int64_t)ref.limit));
		json_object_object_add(data, "requested", json_object_new_int64((int64_t)ref.requested));
	}
	json_object_object_add(data, "errno", json_object_new_string("EDQUOT"));
	if (reason)
		json_object_object_add(data, "reason", json_object_new_string(reason));
	rpc_call_error(call, RPC_ERROR_RESOURCE_LIMIT, "Resource limit", data);
}

static void on_transition(manager_t *m, const fsm_event_t *ev, void *userdata);

static void waiter_finish(waiter_t *w, bool timed_out)
{
	vm_t *vm = manager_find(w->manager, w->vm);

	manager_unsubscribe(w->manager, on_transition, w);
	sd_event_source_disable_unref(w->timer);
	if (!vm) {
		/* Removed meanwhile: what a request naming it now would get. */
		json_object *data = json_object_new_object();
		json_object_object_add(data, "id", json_object_new_string(w->vm));
		json_object_object_add(data, "reason", json_object_new_string("removed while the request waited"));
		rpc_call_error(w->call, RPC_ERROR_NOT_FOUND, "VM not found", data);
	} else if (timed_out) {
		vm_error(w->call, RPC_ERROR_TIMEOUT, "Timeout", vm,
			 w->kind == WAIT_START ? "VM did not come up in time; it keeps starting"
					       : "VM did not stop in time; it keeps stopping");
	} else if (w->kind == WAIT_START && vm->state == VM_STATE_START_FAILED && vm->start_errno &&
		   rpc_error_from_errno(vm->start_errno) == RPC_ERROR_RESOURCE_LIMIT) {
		/* Out of fds or memory after the spawn: -32005, as before it. */
		vm_error_errno(w->call, RPC_ERROR_RESOURCE_LIMIT, "Start failed", vm, vm->cause, vm->start_errno);
	} else if (w->kind == WAIT_START && (vm->state == VM_STATE_START_FAILED || vm->state == VM_STATE_FAILED)) {
		vm_error(w->call, RPC_ERROR_SERVER, "Start failed", vm, NULL);
	} else {
		rpc_call_reply(w->call, methods_vm_to_json(w->manager, vm, true));
	}
	free(w);
}

static void on_transition(manager_t *m, const fsm_event_t *ev, void *userdata)
{
	waiter_t *w = userdata;

	if (strcmp(ev->vm, w->vm) == 0 && (ev->removed || is_target(w->kind, ev->to)))
		waiter_finish(w, false);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	waiter_finish(userdata, true);
	return 0;
}

/* Answer once vm reaches what kind waits for, or -32006 after timeout_ms (0: no deadline). */
static void wait_for(rpc_call_t *call, manager_t *m, vm_t *vm, wait_kind_t kind, uint64_t timeout_ms)
{
	waiter_t *w = calloc(1, sizeof(*w));

	if (!w || manager_subscribe(m, on_transition, w) < 0) {
		free(w);
		rpc_call_errno(call, -ENOMEM, NULL);
		return;
	}
	*w = (waiter_t){ .call = call, .manager = m, .kind = kind };
	memcpy(w->vm, vm->id, sizeof(w->vm));
	if (timeout_ms && sd_event_add_time_relative(manager_event(m), &w->timer, CLOCK_MONOTONIC, timeout_ms * 1000u, 1000,
				       on_timeout, w) < 0) {
		manager_unsubscribe(m, on_transition, w);
		free(w);
		rpc_call_errno(call, -ENOMEM, NULL);
	}
}

static uint64_t get_u64(json_object *params, const char *key, uint64_t dflt)
{
	json_object *v;

	return json_object_object_get_ex(params, key, &v) ? (uint64_t)json_object_get_int64(v) : dflt;
}

static bool get_bool(json_object *params, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(params, key, &v) && json_object_get_boolean(v);
}

/* --- start / stop --------------------------------------------------------- */

static const rpc_field_t start_params[] = {
	{ "id", true, METHODS_VM_REF_SCHEMA },
	{ "timeout_ms", false, { .type = RPC_TYPE_INTEGER, .description = "answer -32006 if not Running by then (default 30000)", .has_min = true, .min = 1, .has_max = true, .max = 600000 } },
	{ "snapshot", false, { .type = RPC_TYPE_STRING, .description = "restore the VM from this snapshot of its own (compute.vm.snapshot's name) instead of booting it" } },
	{ NULL },
};

/* -32602 with data: a restore the backend cannot do, or no such snapshot. */
static void restore_refused(rpc_call_t *call, const vm_t *vm, int r, const char *snapshot, const char *detail)
{
	_cleanup_free_ char *reason = NULL;
	json_object *data = json_object_new_object();
	const char *backend = vm_backend_to_string(vm->backend);

	json_object_object_add(data, "param", json_object_new_string("snapshot"));
	json_object_object_add(data, "id", json_object_new_string(vm->id));
	json_object_object_add(data, "snapshot", json_object_new_string(snapshot));
	if (r == -EOPNOTSUPP) {
		json_object_object_add(data, "backend", json_object_new_string(backend));
		if (asprintf(&reason, "restore is not supported by the %s backend", backend) < 0)
			reason = NULL;
	}
	json_object_object_add(data, "reason", json_object_new_string(reason ? reason : detail ? detail : "no such snapshot"));
	rpc_call_error(call, RPC_ERROR_INVALID_PARAMS, NULL, data);
}

static void vm_start(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	vm_t *vm = methods_find_vm(call, ctx->manager, params);
	_cleanup_free_ char *detail = NULL;
	const char *snapshot = NULL;
	json_object *v;
	int r;

	if (!vm)
		return;
	if (json_object_object_get_ex(params, "snapshot", &v))
		snapshot = json_object_get_string(v);
	/* One handler per interface on the node (docs/actors.md): a second
	 * is refused until the first stops; the operator decides which. */
	const char *iface = NULL;
	bool active = vm->state == VM_STATE_STARTING || vm->state == VM_STATE_RUNNING || vm->state == VM_STATE_PAUSED ||
		      vm->state == VM_STATE_STOPPING;
	if (!active && interfaces_start_conflict(actors_interfaces(manager_actors(ctx->manager)), vm, &iface) < 0) {
		json_object *data = json_object_new_object();
		json_object_object_add(data, "id", json_object_new_string(vm->id));
		json_object_object_add(data, "interface", json_object_new_string(iface));
		json_object_object_add(data, "reason", json_object_new_string("another handler of this interface is active"));
		rpc_call_error(call, RPC_ERROR_IN_USE, "In use", data);
		return;
	}
	r = snapshot ? manager_restore_vm(ctx->manager, vm, snapshot, &detail) : manager_start_vm(ctx->manager, vm, &detail);
	if (snapshot && (r == -EOPNOTSUPP || r == -ENOENT)) {
		restore_refused(call, vm, r, snapshot, detail);
		return;
	}
	if (r == -EBUSY) {
		vm_error(call, RPC_ERROR_INVALID_STATE, "Invalid state transition", vm,
			 detail ? detail : "start is allowed from Configured, Stopped, StartFailed and Failed");
		return;
	}
	if (r == -ENODEV) {
		vm_error(call, RPC_ERROR_BACKEND_UNAVAILABLE, "Backend unavailable", vm, detail);
		return;
	}
	if (r == -EDQUOT) {
		capacity_error(call, ctx->manager, vm, detail);
		return;
	}
	if (r < 0) {
		vmlog_vm(LOG_WARNING, vm, "vm %s: start failed: %s", vm->id, detail ? detail : strerror(-r));
		/* Out of fds, memory or disk: -32005; anything else -32000. */
		int code = rpc_error_from_errno(r) == RPC_ERROR_RESOURCE_LIMIT ? RPC_ERROR_RESOURCE_LIMIT : RPC_ERROR_SERVER;
		vm_error_errno(call, code, "Start failed", vm, detail ? detail : strerror(-r), r);
		return;
	}
	if (snapshot)
		vmlog_vm(LOG_INFO, vm, "vm %s: restoring from snapshot %s, worker pid %d", vm->id, snapshot, (int)vm->pid);
	else
		vmlog_vm(LOG_INFO, vm, "vm %s: starting, worker pid %d", vm->id, (int)vm->pid);
	if (is_target(WAIT_START, vm->state)) {
		rpc_call_reply(call, methods_vm_to_json(ctx->manager, vm, true));
		return;
	}
	wait_for(call, ctx->manager, vm, WAIT_START, get_u64(params, "timeout_ms", START_TIMEOUT_MS));
}

static const rpc_field_t stop_params[] = {
	{ "id", true, METHODS_VM_REF_SCHEMA },
	{ "force", false, { .type = RPC_TYPE_BOOLEAN, .description = "kill the VM now" } },
	{ "timeout_ms", false, { .type = RPC_TYPE_INTEGER, .description = "kill the VM if it has not stopped by then (default 10000)", .has_min = true, .min = 0, .has_max = true, .max = 600000 } },
	{ NULL },
};

static void vm_stop(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	vm_t *vm = methods_find_vm(call, ctx->manager, params);
	uint64_t timeout = get_u64(params, "timeout_ms", STOP_TIMEOUT_MS);
	int r;

	if (!vm)
		return;
	r = manager_stop_vm(ctx->manager, vm, get_bool(params, "force"), timeout);
	if (r == -EBUSY || r == -EALREADY) {
		vm_error(call, RPC_ERROR_INVALID_STATE, "Invalid state transition", vm,
			 r == -EALREADY ? "already stopping; pass \"force\": true to kill it"
					: "stop is allowed from Starting, Running and Paused");
		return;
	}
	if (r < 0 && !is_target(WAIT_STOP, vm->state)) {
		log_warning_errno(r, "vm %s: stop: %m", vm->id);
		vm_error_errno(call, RPC_ERROR_SERVER, "Stop failed", vm, strerror(-r), r);
		return;
	}
	vmlog_vm(LOG_INFO, vm, "vm %s: stopping%s", vm->id, get_bool(params, "force") ? " (forced)" : "");
	if (is_target(WAIT_STOP, vm->state)) {
		rpc_call_reply(call, methods_vm_to_json(ctx->manager, vm, true));
		return;
	}
	/* The worker is killed at timeout_ms; give the kill time to land. A
	 * stop queued behind other teardowns (r 1, docs/density.md) has its
	 * timeout from its turn on, which comes as those end: no deadline. */
	wait_for(call, ctx->manager, vm, WAIT_STOP, r > 0 ? 0 : timeout + 5000);
}

/* --- console --------------------------------------------------------------- */

static const rpc_field_t id_params[] = {
	{ "id", true, METHODS_VM_REF_SCHEMA },
	{ NULL },
};

static void vm_console_endpoint(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	vm_t *vm = methods_find_vm(call, ctx->manager, params);
	_cleanup_free_ char *path = NULL;
	json_object *res;

	if (!vm)
		return;
	path = manager_vm_console_path(ctx->manager, vm);
	if (!path) {
		rpc_call_errno(call, -ENOMEM, NULL);
		return;
	}
	res = json_object_new_object();
	json_object_object_add(res, "path", json_object_new_string(path));
	json_object_object_add(res, "protocol", json_object_new_string("raw"));
	/* The socket exists while the VM's worker does. */
	json_object_object_add(res, "active", json_object_new_boolean(fsm_state_is_active(vm->state)));
	rpc_call_reply(call, res);
}

static const char *const encodings[] = { "utf-8", "base64", NULL };

static const rpc_field_t logs_params[] = {
	{ "id", true, METHODS_VM_REF_SCHEMA },
	{ "tail_bytes", false, { .type = RPC_TYPE_INTEGER, .description = "the last N bytes (default 65536, at most 4 MiB)", .has_min = true, .min = 0, .has_max = true, .max = LOGS_MAX_BYTES } },
	{ "encoding", false, { .type = RPC_TYPE_STRING, .description = "\"utf-8\" (default; invalid sequences become U+FFFD) or \"base64\"", .enum_values = encodings } },
	{ NULL },
};

static void vm_logs(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	vm_t *vm = methods_find_vm(call, ctx->manager, params);
	_cleanup_free_ char *path = NULL, *raw = NULL, *text = NULL;
	json_object *v, *res;
	uint64_t size = 0;
	size_t len = 0, tlen;
	bool b64 = false;
	int r;

	if (!vm)
		return;
	if (json_object_object_get_ex(params, "encoding", &v))
		b64 = strcmp(json_object_get_string(v), "base64") == 0;
	if (store_vm_path(manager_store(ctx->manager), vm->id, "console.log", &path) < 0) {
		rpc_call_errno(call, -ENOMEM, NULL);
		return;
	}
	r = console_log_read(path, get_u64(params, "tail_bytes", LOGS_DEFAULT_BYTES), &raw, &len, &size);
	if (r == -ENOENT) {
		raw = strdup("");
		r = raw ? 0 : -ENOMEM;
	}
	if (r < 0) {
		rpc_call_errno(call, r, "cannot read the console log");
		return;
	}
	r = b64 ? base64_encode(raw, len, &text, &tlen) : utf8_sanitize(raw, len, &text, &tlen);
	if (r < 0) {
		rpc_call_errno(call, r, NULL);
		return;
	}
	res = json_object_new_object();
	json_object_object_add(res, "data", json_object_new_string_len(text, (int)tlen));
	json_object_object_add(res, "encoding", json_object_new_string(b64 ? "base64" : "utf-8"));
	json_object_object_add(res, "bytes", json_object_new_int64((int64_t)len));
	json_object_object_add(res, "size", json_object_new_int64((int64_t)size));
	rpc_call_reply(call, res);
}

/* --- results, errors, examples (documentation: rpc.discover) ---------- */

static const char *const protocol_values[] = { "raw", NULL };
static const rpc_field_t endpoint_fields[] = {
	{ "path", true, { .type = RPC_TYPE_STRING, .description = "the console's Unix socket" } },
	{ "protocol", true, { .type = RPC_TYPE_STRING, .description = "bytes as they are, both ways", .enum_values = protocol_values } },
	{ "active", true, { .type = RPC_TYPE_BOOLEAN, .description = "the socket exists (the VM is active)" } },
	{ NULL },
};
static const rpc_schema_t endpoint_result = { .type = RPC_TYPE_OBJECT, .fields = endpoint_fields };

static const rpc_field_t logs_fields[] = {
	{ "data", true, { .type = RPC_TYPE_STRING, .description = "the log's tail in the encoding" } },
	{ "encoding", true, { .type = RPC_TYPE_STRING, .enum_values = encodings } },
	{ "bytes", true, { .type = RPC_TYPE_INTEGER, .description = "bytes of log in data", .has_min = true, .min = 0 } },
	{ "size", true, { .type = RPC_TYPE_INTEGER, .description = "the log's whole size", .has_min = true, .min = 0 } },
	{ NULL },
};
static const rpc_schema_t logs_result = { .type = RPC_TYPE_OBJECT, .fields = logs_fields };

#define EX_VM(state, cause) \
	"{\"id\":\"7d1c0f9e-3b6a-4c1e-9f2d-5a8b7c6d5e4f\",\"name\":\"web\",\"backend\":\"kvm\",\"state\":\"" state "\"," \
	"\"cause\":" cause ",\"vcpus\":1,\"memory_mib\":64,\"labels\":{},\"created\":\"2026-12-07T14:30:07.123456Z\"}"
static const rpc_example_t start_examples[] = {
	{ "start", "{\"id\":\"web\"}", EX_VM("Running", "null") },
	{ "restore from snapshot 1 (ch)", "{\"id\":\"web\",\"snapshot\":\"1\"}", EX_VM("Running", "null") },
	{ NULL },
};
static const rpc_example_t stop_examples[] = {
	{ "stop, killing it after 5 s", "{\"id\":\"web\",\"timeout_ms\":5000}", EX_VM("Stopped", "\"stopped\"") },
	{ NULL },
};
static const rpc_example_t logs_examples[] = {
	{ "the last 64 bytes", "{\"id\":\"web\",\"tail_bytes\":64}",
	  "{\"data\":\"hello\\n\",\"encoding\":\"utf-8\",\"bytes\":6,\"size\":6}" },
	{ NULL },
};

/* start and stop wait: the VM may go (-32001), time out (-32006) or fail. */
#define WAIT_ERRORS RPC_ERROR_NOT_FOUND, RPC_ERROR_INVALID_STATE, RPC_ERROR_TIMEOUT, RPC_ERROR_SERVER

const rpc_method_t methods_run[] = {
	{ "compute.vm.start", "Start a VM (or restore it from one of its snapshots); answered once it is Running (or failed to start)",
	  start_params, &methods_vm_schema, vm_start, 0,
	  METHODS_ERRORS(WAIT_ERRORS, RPC_ERROR_BACKEND_UNAVAILABLE, RPC_ERROR_IN_USE), start_examples },
	{ "compute.vm.stop", "Stop a VM; answered once it is Stopped (force, or timeout_ms, kill it)", stop_params,
	  &methods_vm_schema, vm_stop, 0, METHODS_ERRORS(WAIT_ERRORS), stop_examples },
	{ "compute.vm.console.endpoint", "The VM's serial console socket", id_params, &endpoint_result, vm_console_endpoint, 0,
	  METHODS_ERRORS(RPC_ERROR_NOT_FOUND), NULL },
	{ "compute.vm.logs", "The tail of the VM's console log", logs_params, &logs_result, vm_logs, 0,
	  METHODS_ERRORS(RPC_ERROR_NOT_FOUND, RPC_ERROR_SERVER), logs_examples },
};
const size_t methods_run_n = ELEMENTSOF(methods_run);
