/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.vm.send: a message to an actor (a Running kvm VM whose Wasm
 * workload waits with mvm.wait, docs/actors.md), answered with the
 * actor's answer; or, with "wait": false, answered at once with the
 * message's id, the answer following as a compute.vm.answer
 * notification on the same connection. The mailbox and its rules are
 * daemon/mvmd/actor.c's; this file turns params into a message and the
 * outcome into the answer. A sender whose connection closes cancels its
 * message (dropped if not delivered yet, its answer dropped if it was).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "actor.h"
#include "methods.h"
#include "util/macro.h"
#include "util/text.h"

#define SEND_DEFAULT_TIMEOUT_MS 30000
#define SEND_MAX_TIMEOUT_MS 3600000

typedef struct send_job {
	rpc_call_t *call;  /* NULL once answered (the no-wait form) */
	rpc_conn_t *conn;  /* valid while the job is: its close hook ends the job */
	actor_msg_t *msg;
	char vm[VM_ID_LEN + 1];
	bool base64;
	uint64_t timeout_ms;
} send_job_t;

static json_object *text_json(const uint8_t *buf, size_t len, bool b64)
{
	_cleanup_free_ char *s = NULL;
	size_t n;

	if ((b64 ? base64_encode(buf, len, &s, &n) : utf8_sanitize(buf, len, &s, &n)) < 0)
		return NULL;
	return json_object_new_string_len(s, (int)n);
}

/* The error of a message that got no answer: code, message, data. */
static int failure(const send_job_t *j, uint64_t id, int status, const char **ret_message, json_object **ret_data)
{
	json_object *data = json_object_new_object();

	json_object_object_add(data, "id", json_object_new_string(j->vm));
	json_object_object_add(data, "message_id", json_object_new_uint64(id));
	*ret_data = data;
	if (status == -ETIMEDOUT) {
		json_object_object_add(data, "timeout_ms", json_object_new_uint64(j->timeout_ms));
		json_object_object_add(data, "reason", json_object_new_string(
			"no answer in time; the actor keeps running and its late answer is dropped"));
		*ret_message = "Timeout";
		return RPC_ERROR_TIMEOUT;
	}
	json_object_object_add(data, "reason", json_object_new_string(
		status == -EPIPE ? "the VM ended before its actor answered"
				 : "cannot reach the VM's worker"));
	*ret_message = "Send failed";
	return RPC_ERROR_SERVER;
}

static void on_conn_close(rpc_conn_t *c, void *userdata);

static void on_done(actor_msg_t *msg, int status, const uint8_t *data, size_t len, void *userdata)
{
	send_job_t *j = userdata;
	uint64_t id = actor_msg_id(msg);
	json_object *res = NULL, *err_data = NULL;
	const char *err_msg = NULL;
	int code = 0;

	rpc_conn_remove_close_hook(j->conn, on_conn_close, j);
	if (status == 0) {
		res = json_object_new_object();
		json_object_object_add(res, "message_id", json_object_new_uint64(id));
		json_object_object_add(res, "data", text_json(data, len, j->base64));
		json_object_object_add(res, "encoding", json_object_new_string(j->base64 ? "base64" : "utf-8"));
	} else {
		code = failure(j, id, status, &err_msg, &err_data);
	}
	if (j->call) {
		if (res)
			rpc_call_reply(j->call, res);
		else
			rpc_call_error(j->call, code, err_msg, err_data);
	} else {
		/* The no-wait form: the outcome as a notification. */
		json_object *n = res ? res : json_object_new_object();
		json_object_object_add(n, "id", json_object_new_string(j->vm));
		if (!res) {
			json_object *e = json_object_new_object();
			json_object_object_add(n, "message_id", json_object_new_uint64(id));
			json_object_object_add(e, "code", json_object_new_int(code));
			json_object_object_add(e, "message", json_object_new_string(err_msg));
			json_object_object_add(e, "data", err_data);
			json_object_object_add(n, "error", e);
		}
		(void)rpc_conn_notify(j->conn, "compute.vm.answer", n);
	}
	free(j);
}

static void on_conn_close(rpc_conn_t *c, void *userdata)
{
	send_job_t *j = userdata;

	(void)c;
	actor_msg_cancel(j->msg);
	if (j->call)
		rpc_call_errno(j->call, -ECONNRESET, NULL); /* into the void: frees the call */
	free(j);
}

static void reply_state(rpc_call_t *call, const vm_t *vm, const char *reason)
{
	json_object *data = json_object_new_object();

	json_object_object_add(data, "id", json_object_new_string(vm->id));
	json_object_object_add(data, "state", json_object_new_string(vm_state_to_string(vm->state)));
	json_object_object_add(data, "reason", json_object_new_string(reason));
	rpc_call_error(call, RPC_ERROR_INVALID_STATE, "Invalid state transition", data);
}

bool methods_message_bytes(rpc_call_t *call, json_object *text, json_object *b64, const void **ret_bytes,
			   size_t *ret_len, void **ret_decoded)
{
	if (!b64) {
		*ret_bytes = json_object_get_string(text);
		*ret_len = (size_t)json_object_get_string_len(text);
		return true;
	}
	if (base64_decode(json_object_get_string(b64), (size_t)json_object_get_string_len(b64), ret_decoded, ret_len) < 0) {
		rpc_call_invalid_param(call, "data_base64", "not valid base64");
		return false;
	}
	if (*ret_len > ACTOR_MSG_MAX) {
		rpc_call_invalid_param(call, "data_base64", "more than 65536 bytes");
		return false;
	}
	*ret_bytes = *ret_decoded;
	return true;
}

/* -32005's data: which bound the message hit (actors_full_why). */
static json_object *full_data(actors_t *a, const char *vm_id, const actor_origin_t *origin, size_t len)
{
	json_object *data = json_object_new_object();
	actor_full_t why = actors_full_why(a, vm_id, origin, len);

	json_object_object_add(data, "id", json_object_new_string(vm_id));
	json_object_object_add(data, "queued", json_object_new_uint64(actors_queued(a, vm_id)));
	switch (why) {
	case ACTOR_FULL_NODE:
		json_object_object_add(data, "limit_bytes", json_object_new_uint64(ACTOR_QUEUED_BYTES_MAX));
		json_object_object_add(data, "queued_bytes", json_object_new_uint64(actors_queued_bytes(a)));
		json_object_object_add(data, "reason", json_object_new_string("the node's mailboxes hold all the bytes they may"));
		break;
	case ACTOR_FULL_MAILBOX:
		json_object_object_add(data, "limit", json_object_new_int(ACTOR_MAILBOX_MAX));
		json_object_object_add(data, "reason", json_object_new_string("the actor's mailbox is full"));
		break;
	default:
		json_object_object_add(data, "limit", json_object_new_int(ACTOR_MAILBOX_PER_SENDER));
		json_object_object_add(data, "reason", json_object_new_string("this connection holds its share of the actor's mailbox"));
		break;
	}
	return data;
}

static void vm_send(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	vm_t *vm = methods_find_vm(call, ctx->manager, params);
	json_object *text = NULL, *b64 = NULL, *v;
	_cleanup_free_ void *decoded = NULL;
	const void *bytes;
	size_t len;
	bool wait = true;
	send_job_t *j;
	int r;

	if (!vm)
		return;
	json_object_object_get_ex(params, "data", &text);
	json_object_object_get_ex(params, "data_base64", &b64);
	if (!text == !b64) {
		rpc_call_invalid_param(call, text ? "data_base64" : "data", "give exactly one of data and data_base64");
		return;
	}
	if (vm->backend != VM_BACKEND_KVM) {
		reply_state(call, vm, "only kvm micro-VMs are actors");
		return;
	}
	if (vm->state != VM_STATE_RUNNING) {
		reply_state(call, vm, "a message needs a Running VM");
		return;
	}
	if (!methods_message_bytes(call, text, b64, &bytes, &len, &decoded))
		return;
	j = calloc(1, sizeof(*j));
	if (!j) {
		rpc_call_errno(call, -ENOMEM, "cannot send");
		return;
	}
	memcpy(j->vm, vm->id, sizeof(j->vm));
	j->base64 = b64 != NULL;
	if (json_object_object_get_ex(params, "encoding", &v))
		j->base64 = strcmp(json_object_get_string(v), "base64") == 0;
	if (json_object_object_get_ex(params, "wait", &v))
		wait = json_object_get_boolean(v);
	j->timeout_ms = json_object_object_get_ex(params, "timeout_ms", &v) ? (uint64_t)json_object_get_int64(v)
									   : SEND_DEFAULT_TIMEOUT_MS;
	j->call = call;
	j->conn = rpc_call_get_conn(call);
	if (!j->conn || rpc_conn_add_close_hook(j->conn, on_conn_close, j) < 0) {
		rpc_call_errno(call, -ECONNRESET, NULL);
		free(j);
		return;
	}
	/* Each connection is one sender (fairness, daemon/mvmd/actor.h). */
	actor_origin_t origin = { .from = 0, .sender = (uint64_t)(uintptr_t)j->conn };
	r = actors_send(manager_actors(ctx->manager), vm, &origin, bytes, len, j->timeout_ms, on_done, j, &j->msg);
	if (r < 0) {
		rpc_conn_remove_close_hook(j->conn, on_conn_close, j);
		free(j);
		if (r == -EAGAIN) {
			rpc_call_error(call, RPC_ERROR_RESOURCE_LIMIT, "Resource limit",
				       full_data(manager_actors(ctx->manager), vm->id, &origin, len));
		} else if (r == -ENOTCONN) {
			json_object *data = json_object_new_object();
			json_object_object_add(data, "id", json_object_new_string(vm->id));
			json_object_object_add(data, "reason", json_object_new_string("cannot reach the VM's worker"));
			rpc_call_error(call, RPC_ERROR_SERVER, "Send failed", data);
		} else {
			rpc_call_errno(call, r, "cannot send");
		}
		return;
	}
	if (!wait) {
		json_object *res = json_object_new_object();
		json_object_object_add(res, "message_id", json_object_new_uint64(actor_msg_id(j->msg)));
		rpc_call_reply(call, res);
		j->call = NULL;
	}
}

static const char *const encodings[] = { "utf-8", "base64", NULL };

static const rpc_field_t send_params[] = {
	{ "id", true, METHODS_VM_REF_SCHEMA },
	{ "data", false, { .type = RPC_TYPE_STRING, .description = "the message as text (at most 65536 bytes of UTF-8)",
			   .has_max = true, .max = ACTOR_MSG_MAX, .max_bytes = true } },
	{ "data_base64", false, { .type = RPC_TYPE_STRING, .description = "the message as base64 (at most 65536 bytes decoded)",
				  .has_max = true, .max = 87384 } },
	{ "timeout_ms", false, { .type = RPC_TYPE_INTEGER, .description = "fail the request after this long without an answer (default 30000); the actor keeps running",
				 .has_min = true, .min = 1, .has_max = true, .max = SEND_MAX_TIMEOUT_MS } },
	{ "wait", false, { .type = RPC_TYPE_BOOLEAN, .description = "false: answer at once with message_id; the answer follows as a compute.vm.answer notification" } },
	{ "encoding", false, { .type = RPC_TYPE_STRING, .description = "the answer's data as \"utf-8\" or \"base64\" (default: as the message came)",
			       .enum_values = encodings } },
	{ NULL },
};

static const rpc_field_t send_result_fields[] = {
	{ "message_id", true, { .type = RPC_TYPE_INTEGER, .description = "the message's id on this node" } },
	{ "data", false, { .type = RPC_TYPE_STRING, .description = "the actor's answer, in the encoding (absent with wait false)" } },
	{ "encoding", false, { .type = RPC_TYPE_STRING, .enum_values = encodings } },
	{ NULL },
};
static const rpc_schema_t send_result = {
	.type = RPC_TYPE_OBJECT,
	.description = "The actor's answer, or (wait false) the id its notification will carry",
	.fields = send_result_fields,
};

static const rpc_schema_t answer_error = { .type = RPC_TYPE_OBJECT, .description = "code, message, data: the error compute.vm.send would have answered" };
static const rpc_field_t answer_fields[] = {
	{ "id", true, { .type = RPC_TYPE_STRING, .description = "the VM's id" } },
	{ "message_id", true, { .type = RPC_TYPE_INTEGER, .description = "what compute.vm.send answered" } },
	{ "data", false, { .type = RPC_TYPE_STRING, .description = "the answer, in the encoding" } },
	{ "encoding", false, { .type = RPC_TYPE_STRING, .enum_values = encodings } },
	{ "error", false, answer_error },
	{ NULL },
};

static const rpc_example_t send_examples[] = {
	{ "counter", "{\"id\":\"kv\",\"data\":\"incr\"}", "{\"message_id\":1733590000000001,\"data\":\"1\",\"encoding\":\"utf-8\"}" },
	{ NULL },
};

const rpc_method_t methods_actor[] = {
	{ "compute.vm.send", "Send a message to an actor VM and get its answer (docs/actors.md)", send_params, &send_result,
	  vm_send, 0, METHODS_ERRORS(RPC_ERROR_NOT_FOUND, RPC_ERROR_INVALID_STATE, RPC_ERROR_TIMEOUT, RPC_ERROR_SERVER),
	  send_examples },
	{ "compute.vm.answer", "Notification: the answer to a compute.vm.send with wait false (or why there is none)",
	  answer_fields, NULL, NULL, RPC_METHOD_NOTIFICATION, NULL, NULL },
};
const size_t methods_actor_n = ELEMENTSOF(methods_actor);
