/* SPDX-License-Identifier: Apache-2.0 */
/* compute.blob.pull: a blob from the configured registries (docs/blobs.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"
#include "proto/fetch-proto.h"
#include "util/log.h"
#include "util/macro.h"

static const char *const kind_values[] = { "raw", "wasm", NULL };

static const rpc_field_t pull_params[] = {
	{ "hash", false, { .type = RPC_TYPE_STRING, .description = "the blob's hash: asked of each source in order (HEAD/GET /v2/<repository>/blobs/<hash>)",
			   .pattern = "sha256:[0-9a-f]{64}" } },
	{ "reference", false, { .type = RPC_TYPE_STRING,
				.description = "SOURCE[/REPOSITORY]:TAG or SOURCE[/REPOSITORY]@sha256:<hex>: the Wasm layer of that image or artifact",
				.pattern = "[A-Za-z0-9][A-Za-z0-9._-]{0,62}[/:@].{1,400}" } },
	{ "kind", false, { .type = RPC_TYPE_STRING, .description = "\"raw\" (default) or \"wasm\": refuse a module that does not validate",
			   .enum_values = kind_values } },
	{ "progress", false, { .type = RPC_TYPE_BOOLEAN,
			       .description = "send compute.blob.pull.progress notifications {hash|reference, source, bytes, total} on this connection" } },
	{ NULL },
};

typedef struct pull_call {
	rpc_call_t *call;
	rpc_conn_t *conn;   /* for progress notifications; NULL without */
	char what[512];     /* "hash" or "reference" value, for notifications */
	bool by_reference;
} pull_call_t;

static json_object *ref_json(const char *hex)
{
	char ref[BLOB_REF_LEN + 1];

	snprintf(ref, sizeof(ref), BLOB_REF_PREFIX "%s", hex);
	return json_object_new_string(ref);
}

static void pull_call_free(pull_call_t *pc)
{
	rpc_conn_unref(pc->conn);
	free(pc);
}

static void on_progress(const pull_progress_t *p, void *userdata)
{
	pull_call_t *pc = userdata;
	json_object *o;

	if (!pc->conn || !rpc_conn_is_open(pc->conn))
		return;
	o = json_object_new_object();
	json_object_object_add(o, pc->by_reference ? "reference" : "hash", json_object_new_string(pc->what));
	if (p->source)
		json_object_object_add(o, "source", json_object_new_string(p->source));
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)p->bytes));
	json_object_object_add(o, "total", json_object_new_int64((int64_t)p->total));
	(void)rpc_conn_notify(pc->conn, "compute.blob.pull.progress", o);
}

/* The error of a failed pull: stable code, data {error, reason, answers, source?}. */
void methods_pull_reply_failed(rpc_call_t *call, const pull_result_t *res)
{
	json_object *data = json_object_new_object();
	int code = RPC_ERROR_SERVER;
	const char *cls = res->error_class ? res->error_class : FETCH_ERR_INTERNAL;

	if (strcmp(cls, FETCH_ERR_NOT_FOUND) == 0)
		code = RPC_ERROR_NOT_FOUND;
	else if (strcmp(cls, FETCH_ERR_TOO_LARGE) == 0)
		code = RPC_ERROR_RESOURCE_LIMIT;
	else if (strcmp(cls, "invalid_wasm") == 0) {
		code = RPC_ERROR_INVALID_PARAMS;
		json_object_object_add(data, "param", json_object_new_string("kind"));
	}
	json_object_object_add(data, "error", json_object_new_string(cls));
	if (res->error && rpc_errno_name(res->error))
		json_object_object_add(data, "errno", json_object_new_string(rpc_errno_name(res->error)));
	json_object_object_add(data, "reason", json_object_new_string(res->reason ? res->reason : "pull failed"));
	if (res->source)
		json_object_object_add(data, "source", json_object_new_string(res->source));
	json_object_object_add(data, "answers", res->answers ? json_object_get(res->answers) : json_object_new_array());
	rpc_call_error(call, code, "Pull failed", data);
}

static void on_done(const pull_result_t *res, void *userdata)
{
	pull_call_t *pc = userdata;
	json_object *o;

	if (res->error) {
		methods_pull_reply_failed(pc->call, res);
		pull_call_free(pc);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "hash", ref_json(res->info.hex));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)res->info.size));
	json_object_object_add(o, "source", res->source ? json_object_new_string(res->source) : NULL);
	json_object_object_add(o, "manifest_digest",
			       res->manifest_digest ? json_object_new_string(res->manifest_digest) : NULL);
	json_object_object_add(o, "created", json_object_new_boolean(res->created));
	rpc_call_reply(pc->call, o);
	pull_call_free(pc);
}

/* A pull that needs the network on a node with no sources: -32004. */
static bool refuse_without_sources(rpc_call_t *call, puller_t *p)
{
	if (puller_has_sources(p))
		return false;
	json_object *data = json_object_new_object();
	json_object_object_add(data, "errno", json_object_new_string("ENOMEDIUM"));
	json_object_object_add(data, "reason", json_object_new_string("no blob sources are configured (mvmd --blob-source)"));
	rpc_call_error(call, RPC_ERROR_BACKEND_UNAVAILABLE, NULL, data);
	return true;
}

static void blob_pull(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	puller_t *p = manager_puller(ctx->manager);
	json_object *vhash = NULL, *vref = NULL, *v;
	pull_spec_t spec = { 0 };
	pull_call_t *pc;
	blob_info_t info;
	int r;

	json_object_object_get_ex(params, "hash", &vhash);
	json_object_object_get_ex(params, "reference", &vref);
	if (!vhash == !vref) {
		rpc_call_invalid_param(call, vhash ? "reference" : "hash", "exactly one of \"hash\" and \"reference\" is required");
		return;
	}
	spec.wasm = json_object_object_get_ex(params, "kind", &v) && strcmp(json_object_get_string(v), "wasm") == 0;
	if (vhash) {
		if (blob_ref_to_hex(json_object_get_string(vhash), spec.hex) < 0) {
			rpc_call_invalid_param(call, "hash", "expected sha256:<64 lowercase hex>");
			return;
		}
		/* Already here: nothing to fetch, sources or not. */
		if (blob_stat(manager_blobs(ctx->manager), spec.hex, &info) == 0) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "hash", ref_json(info.hex));
			json_object_object_add(o, "size", json_object_new_int64((int64_t)info.size));
			json_object_object_add(o, "source", NULL);
			json_object_object_add(o, "manifest_digest", NULL);
			json_object_object_add(o, "created", json_object_new_boolean(false));
			rpc_call_reply(call, o);
			return;
		}
		if (refuse_without_sources(call, p))
			return;
	} else {
		_cleanup_free_ char *err = NULL;
		if (refuse_without_sources(call, p))
			return;
		r = pull_reference_parse(puller_config(p), json_object_get_string(vref), &spec, &err);
		if (r < 0) {
			rpc_call_invalid_param(call, "reference", err ? err : "invalid reference");
			return;
		}
	}

	pc = calloc(1, sizeof(*pc));
	if (!pc) {
		rpc_call_errno(call, -ENOMEM, "out of memory");
		return;
	}
	pc->call = call;
	pc->by_reference = vref != NULL;
	snprintf(pc->what, sizeof(pc->what), "%s", json_object_get_string(vref ? vref : vhash));
	if (json_object_object_get_ex(params, "progress", &v) && json_object_get_boolean(v) && rpc_call_get_conn(call))
		pc->conn = rpc_conn_ref(rpc_call_get_conn(call));
	r = puller_start(p, &spec, on_done, on_progress, pc, NULL);
	if (r < 0) {
		pull_call_free(pc);
		log_error_errno(r, "cannot start a pull: %m");
		rpc_call_errno(call, r, "cannot start the pull (mvm-fetch)");
	}
}

#define PULL_HASH(desc) { .type = RPC_TYPE_STRING, .description = desc, .pattern = "sha256:[0-9a-f]{64}" }
static const rpc_field_t pull_result_fields[] = {
	{ "hash", true, PULL_HASH("the blob's hash, as stored") },
	{ "size", true, { .type = RPC_TYPE_INTEGER, .description = "bytes", .has_min = true, .min = 0 } },
	{ "source", true, { .type = RPC_TYPE_STRING, .nullable = true, .description = "the source that served it; null: it was stored already" } },
	{ "manifest_digest", true, { .type = RPC_TYPE_STRING, .nullable = true, .pattern = "sha256:[0-9a-f]{64}",
				     .description = "by reference: the manifest's digest; null for a pull by hash" } },
	{ "created", true, { .type = RPC_TYPE_BOOLEAN, .description = "false when the blob was in the store already" } },
	{ NULL },
};
static const rpc_schema_t pull_result_schema = { .type = RPC_TYPE_OBJECT, .fields = pull_result_fields };

static const rpc_field_t progress_fields[] = {
	{ "hash", false, PULL_HASH("the pull by hash this is about") },
	{ "reference", false, { .type = RPC_TYPE_STRING, .description = "the pull by reference this is about" } },
	{ "source", false, { .type = RPC_TYPE_STRING, .nullable = true, .description = "the source it comes from" } },
	{ "bytes", true, { .type = RPC_TYPE_INTEGER, .description = "bytes so far", .has_min = true, .min = 0 } },
	{ "total", true, { .type = RPC_TYPE_INTEGER, .description = "its size, 0 when not known yet", .has_min = true, .min = 0 } },
	{ NULL },
};

const rpc_method_t methods_pull[] = {
	{ "compute.blob.pull", "Fetch a blob from the configured registries by hash or image reference; stored only when its hash matches",
	  pull_params, &pull_result_schema, blob_pull, 0,
	  METHODS_ERRORS(RPC_ERROR_NOT_FOUND, RPC_ERROR_RESOURCE_LIMIT, RPC_ERROR_BACKEND_UNAVAILABLE, RPC_ERROR_SERVER), NULL },
	{ "compute.blob.pull.progress", "Notification: how far a pull has come (sent during compute.blob.pull with progress)",
	  progress_fields, NULL, NULL, RPC_METHOD_NOTIFICATION, NULL, NULL },
};
const size_t methods_pull_n = ELEMENTSOF(methods_pull);
