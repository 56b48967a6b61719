/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.interface.*: an RPC connection as the handler of an interface
 * (docs/actors.md, "Interfaces"): compute.interface.handle registers it,
 * each message an actor sends to the interface reaches it as a
 * compute.interface.message notification, and compute.interface.answer
 * answers one. compute.interface.release, or the connection closing,
 * stops its handling and fails the messages it held.
 * compute.interface.list shows who handles what. The routing is
 * daemon/mvmd/interface.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "actor.h"
#include "interface.h"
#include "methods.h"
#include "util/macro.h"
#include "util/text.h"

static interfaces_t *ifs_of(methods_ctx_t *ctx)
{
	return actors_interfaces(manager_actors(ctx->manager));
}

/* interface_handler_ops_t.deliver: userdata is the connection. */
static int deliver(void *userdata, const char *iface, uint64_t message_id, const uint8_t *data, size_t len)
{
	rpc_conn_t *conn = userdata;
	_cleanup_free_ char *b64 = NULL;
	size_t n;
	json_object *p;

	if (base64_encode(data, len, &b64, &n) < 0)
		return -ENOMEM;
	p = json_object_new_object();
	json_object_object_add(p, "interface", json_object_new_string(iface));
	json_object_object_add(p, "message_id", json_object_new_uint64(message_id));
	json_object_object_add(p, "data_base64", json_object_new_string_len(b64, (int)n));
	return rpc_conn_notify(conn, "compute.interface.message", p);
}

static const interface_handler_ops_t handler_ops = { .deliver = deliver };

static void on_conn_close(rpc_conn_t *c, void *userdata)
{
	(void)interfaces_release(userdata, c, NULL);
}

static void iface_handle(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	rpc_conn_t *conn = rpc_call_get_conn(call);
	const char *iface = json_object_get_string(json_object_object_get(params, "interface")), *vm = NULL;
	int r;

	if (!conn) {
		rpc_call_errno(call, -ECONNRESET, NULL);
		return;
	}
	r = interfaces_handle(ifs_of(ctx), iface, &handler_ops, conn, &vm);
	if (r == -EBUSY) {
		json_object *data = json_object_new_object();
		json_object_object_add(data, "interface", json_object_new_string(iface));
		json_object_object_add(data, "reason", json_object_new_string(
			vm[0] ? "a Running VM handles it" : "another connection handles it"));
		if (vm[0])
			json_object_object_add(data, "id", json_object_new_string(vm));
		rpc_call_error(call, RPC_ERROR_IN_USE, "In use", data);
		return;
	}
	/* One hook per connection, however many interfaces it handles (a
	 * hook also keeps the idle timeout off it: rpc/conn.c). */
	if (r == 0) {
		rpc_conn_remove_close_hook(conn, on_conn_close, ifs_of(ctx));
		if (rpc_conn_add_close_hook(conn, on_conn_close, ifs_of(ctx)) < 0) {
			(void)interfaces_release(ifs_of(ctx), conn, NULL);
			r = -ECONNRESET;
		}
	}
	if (r < 0) {
		rpc_call_errno(call, r, "cannot handle the interface");
		return;
	}
	json_object *res = json_object_new_object();
	json_object_object_add(res, "interface", json_object_new_string(iface));
	rpc_call_reply(call, res);
}

static void iface_release(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	rpc_conn_t *conn = rpc_call_get_conn(call);
	const char *iface = json_object_get_string(json_object_object_get(params, "interface"));

	if (!conn || interfaces_release(ifs_of(ctx), conn, iface) < 0) {
		json_object *data = json_object_new_object();
		json_object_object_add(data, "interface", json_object_new_string(iface));
		json_object_object_add(data, "reason", json_object_new_string("this connection does not handle it"));
		rpc_call_error(call, RPC_ERROR_NOT_FOUND, "Interface not handled here", data);
		return;
	}
	/* Nothing left to handle: the connection is an ordinary one again. */
	if (!interfaces_handles_any(ifs_of(ctx), conn))
		rpc_conn_remove_close_hook(conn, on_conn_close, ifs_of(ctx));
	json_object *res = json_object_new_object();
	json_object_object_add(res, "interface", json_object_new_string(iface));
	rpc_call_reply(call, res);
}

static void iface_answer(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	json_object *text = NULL, *b64 = NULL;
	_cleanup_free_ void *decoded = NULL;
	const void *bytes;
	size_t len;
	uint64_t id = (uint64_t)json_object_get_int64(json_object_object_get(params, "message_id"));
	int r;

	json_object_object_get_ex(params, "data", &text);
	json_object_object_get_ex(params, "data_base64", &b64);
	if (!text == !b64) {
		rpc_call_invalid_param(call, text ? "data_base64" : "data", "give exactly one of data and data_base64");
		return;
	}
	if (!methods_message_bytes(call, text, b64, &bytes, &len, &decoded))
		return;
	r = interfaces_answer(ifs_of(ctx), rpc_call_get_conn(call), id, bytes, len);
	if (r == -ENOENT) {
		json_object *data = json_object_new_object();
		json_object_object_add(data, "message_id", json_object_new_uint64(id));
		json_object_object_add(data, "reason", json_object_new_string(
			"no message with this id waits for this connection's answer (answered, timed out, or never sent to it)"));
		rpc_call_error(call, RPC_ERROR_NOT_FOUND, "Message not found", data);
		return;
	}
	json_object *res = json_object_new_object();
	json_object_object_add(res, "message_id", json_object_new_uint64(id));
	rpc_call_reply(call, res);
}

static void list_one(const char *iface, const vm_t *vm, void *ud)
{
	json_object *e = json_object_new_object();

	json_object_object_add(e, "interface", json_object_new_string(iface));
	if (vm) {
		json_object_object_add(e, "handler", json_object_new_string("vm"));
		json_object_object_add(e, "id", json_object_new_string(vm->id));
		json_object_object_add(e, "state", json_object_new_string(vm_state_to_string(vm->state)));
	} else {
		json_object_object_add(e, "handler", json_object_new_string("connection"));
	}
	json_object_array_add(ud, e);
}

static void iface_list(rpc_call_t *call, json_object *params, void *userdata)
{
	json_object *res = json_object_new_object(), *a = json_object_new_array();

	(void)params;
	interfaces_foreach(ifs_of(userdata), list_one, a);
	json_object_object_add(res, "interfaces", a);
	rpc_call_reply(call, res);
}

/* --- schemas --------------------------------------------------------------- */

#define IFACE_SCHEMA { .type = RPC_TYPE_STRING, .description = "an interface, \"sha256:<64 lowercase hex>\"", .pattern = "sha256:[0-9a-f]{64}" }

static const rpc_field_t handle_params[] = {
	{ "interface", true, IFACE_SCHEMA },
	{ NULL },
};
static const rpc_field_t handle_result_fields[] = {
	{ "interface", true, IFACE_SCHEMA },
	{ NULL },
};
static const rpc_schema_t handle_result = { .type = RPC_TYPE_OBJECT, .description = "This connection handles it now",
					    .fields = handle_result_fields };

static const rpc_schema_t release_result = { .type = RPC_TYPE_OBJECT,
					     .description = "This connection no longer handles it; the messages it held failed for their senders",
					     .fields = handle_result_fields };

static const rpc_field_t answer_params[] = {
	{ "message_id", true, { .type = RPC_TYPE_INTEGER, .description = "from compute.interface.message", .has_min = true, .min = 1 } },
	{ "data", false, { .type = RPC_TYPE_STRING, .description = "the answer as text (at most 65536 bytes of UTF-8)",
			   .has_max = true, .max = ACTOR_MSG_MAX, .max_bytes = true } },
	{ "data_base64", false, { .type = RPC_TYPE_STRING, .description = "the answer as base64 (at most 65536 bytes decoded)",
				  .has_max = true, .max = 87384 } },
	{ NULL },
};
static const rpc_field_t answer_result_fields[] = {
	{ "message_id", true, { .type = RPC_TYPE_INTEGER } },
	{ NULL },
};
static const rpc_schema_t answer_result = { .type = RPC_TYPE_OBJECT, .description = "The answer went to its sender",
					    .fields = answer_result_fields };

static const char *const handler_kinds[] = { "vm", "connection", NULL };
static const rpc_field_t entry_fields[] = {
	{ "interface", true, IFACE_SCHEMA },
	{ "handler", true, { .type = RPC_TYPE_STRING, .enum_values = handler_kinds } },
	{ "id", false, { .type = RPC_TYPE_STRING, .description = "the handling VM" } },
	{ "state", false, { .type = RPC_TYPE_STRING, .description = "its state" } },
	{ NULL },
};
static const rpc_schema_t entry_schema = { .type = RPC_TYPE_OBJECT, .fields = entry_fields };
static const rpc_field_t list_result_fields[] = {
	{ "interfaces", true, { .type = RPC_TYPE_ARRAY, .items = &entry_schema } },
	{ NULL },
};
static const rpc_schema_t list_result = { .type = RPC_TYPE_OBJECT, .description = "Every interface with an active handler",
					  .fields = list_result_fields };

static const rpc_field_t message_fields[] = {
	{ "interface", true, IFACE_SCHEMA },
	{ "message_id", true, { .type = RPC_TYPE_INTEGER, .description = "answer with compute.interface.answer" } },
	{ "data_base64", true, { .type = RPC_TYPE_STRING, .description = "the message, base64" } },
	{ NULL },
};

static const rpc_example_t list_examples[] = {
	{ "one", "{}", "{\"interfaces\":[{\"interface\":\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"handler\":\"connection\"}]}" },
	{ NULL },
};

const rpc_method_t methods_interface[] = {
	{ "compute.interface.handle", "Handle an interface on this connection: its messages come as compute.interface.message notifications",
	  handle_params, &handle_result, iface_handle, 0, METHODS_ERRORS(RPC_ERROR_IN_USE), NULL },
	{ "compute.interface.release", "Stop handling an interface on this connection, which stays open: the messages it held fail (-EPIPE) for their senders",
	  handle_params, &release_result, iface_release, 0, METHODS_ERRORS(RPC_ERROR_NOT_FOUND), NULL },
	{ "compute.interface.answer", "Answer a message this connection got as a handler", answer_params, &answer_result,
	  iface_answer, 0, METHODS_ERRORS(RPC_ERROR_NOT_FOUND), NULL },
	{ "compute.interface.list", "Who handles which interface on this node", NULL, &list_result, iface_list, 0,
	  METHODS_NO_ERRORS, list_examples },
	{ "compute.interface.message", "Notification: an actor sent this message to an interface this connection handles",
	  message_fields, NULL, NULL, RPC_METHOD_NOTIFICATION, NULL, NULL },
};
const size_t methods_interface_n = ELEMENTSOF(methods_interface);
