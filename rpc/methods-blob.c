/* SPDX-License-Identifier: Apache-2.0 */
/* compute.blob.*: the content-addressed store (docs/blobs.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "kvm/backend-kvm.h"
#include "methods.h"
#include "util/macro.h"
#include "util/text.h"
#include "wasm-check.h"

/* The one spelling of a hash on the wire; the schema rejects every other
 * (uppercase, short, no prefix, "sha256:../../etc") with -32602 before a
 * handler runs, so no other string ever reaches the file system. */
#define HASH_PATTERN "sha256:[0-9a-f]{64}"
#define HASH_SCHEMA(desc) { .type = RPC_TYPE_STRING, .description = desc, .pattern = HASH_PATTERN }

static json_object *ref_json(const char *hex)
{
	char ref[BLOB_REF_LEN + 1];

	snprintf(ref, sizeof(ref), BLOB_REF_PREFIX "%s", hex);
	return json_object_new_string(ref);
}

static json_object *info_json(const blob_info_t *info)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "hash", ref_json(info->hex));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)info->size));
	json_object_object_add(o, "created", methods_time_to_json(info->created_usec));
	return o;
}

/* params.<name> as hex; the schema guarantees the form. */
static bool param_hex(json_object *params, const char *name, char hex[static BLOB_HEX_LEN + 1])
{
	json_object *v;

	return json_object_object_get_ex(params, name, &v) && blob_ref_to_hex(json_object_get_string(v), hex) == 0;
}

static bool param_bool(json_object *params, const char *name)
{
	json_object *v;

	return json_object_object_get_ex(params, name, &v) && json_object_get_boolean(v);
}

/* Ids of the VMs whose spec.workload.hash is this blob (NULL on ENOMEM). */
static json_object *blob_users(manager_t *m, const char *hex)
{
	json_object *users = json_object_new_array(), *w, *h;
	char ref[BLOB_REF_LEN + 1];
	size_t n;
	vm_t *const *vms = manager_vms(m, &n);

	if (!users)
		return NULL;
	snprintf(ref, sizeof(ref), BLOB_REF_PREFIX "%s", hex);
	for (size_t i = 0; i < n; i++)
		if (vms[i]->spec && json_object_object_get_ex(vms[i]->spec, "workload", &w) &&
		    json_object_is_type(w, json_type_object) && json_object_object_get_ex(w, "hash", &h) &&
		    json_object_is_type(h, json_type_string) && strcmp(json_object_get_string(h), ref) == 0)
			json_object_array_add(users, json_object_new_string(vms[i]->id));
	return users;
}

static void reply_not_found(rpc_call_t *call, const char *hex)
{
	json_object *data = json_object_new_object();

	json_object_object_add(data, "hash", ref_json(hex));
	json_object_object_add(data, "reason", json_object_new_string("no such blob"));
	rpc_call_error(call, RPC_ERROR_NOT_FOUND, "Blob not found", data);
}

/* -32602 naming param, with errno and extra members. */
static void reply_param_errno(rpc_call_t *call, int code, const char *param, int r, const char *reason)
{
	json_object *data = json_object_new_object();

	json_object_object_add(data, "param", json_object_new_string(param));
	if (r && rpc_errno_name(r))
		json_object_object_add(data, "errno", json_object_new_string(rpc_errno_name(r)));
	json_object_object_add(data, "reason", json_object_new_string(reason));
	rpc_call_error(call, code, NULL, data);
}

/* --- compute.blob.put ------------------------------------------------- */

static const char *const kind_values[] = { "raw", "wasm", "snapshot", NULL };

static const rpc_field_t put_params[] = {
	{ "data", false, { .type = RPC_TYPE_STRING, .description = "the content, base64 (RFC 4648, padded); bounded by the request size limit",
			   .limit = "rpc.max_request_bytes" } },
	{ "path", false, { .type = RPC_TYPE_STRING, .description = "absolute path of a regular host file readable by mvmd (a symlink as last component is refused)",
			   .pattern = "/.*", .has_max = true, .max = 4095 } },
	{ "expect", false, HASH_SCHEMA("the hash the content must have; nothing is stored otherwise") },
	{ "kind", false, { .type = RPC_TYPE_STRING, .description = "\"raw\" (default), \"wasm\": refuse a module that does not validate, "
			   "or \"snapshot\": refuse what is not a whole kvm snapshot (docs/snapshots.md)",
			   .enum_values = kind_values } },
	{ NULL },
};

static void put_failed(rpc_call_t *call, int r, const char *param, const blob_put_opts_t *opts,
		       const wasm_check_t *wc, const char *path, const kvm_snapshot_blob_check_t *sc)
{
	char reason[512];

	if (sc->failed && r == -EINVAL) {
		snprintf(reason, sizeof(reason), "not a snapshot: %s", sc->why);
		reply_param_errno(call, RPC_ERROR_INVALID_PARAMS, param, -EBADMSG, reason);
		return;
	}

	if (r == -EBADMSG && opts->expect_hex) {
		json_object *data = json_object_new_object();
		snprintf(reason, sizeof(reason), "content hash " BLOB_REF_PREFIX "%s does not match expect " BLOB_REF_PREFIX "%s",
			 opts->actual_hex, opts->expect_hex);
		json_object_object_add(data, "param", json_object_new_string("expect"));
		json_object_object_add(data, "reason", json_object_new_string(reason));
		json_object_object_add(data, "expected", ref_json(opts->expect_hex));
		json_object_object_add(data, "actual", ref_json(opts->actual_hex));
		rpc_call_error(call, RPC_ERROR_INVALID_PARAMS, NULL, data);
		return;
	}
	if (wc->failed && r == -EINVAL) {
		json_object *data = json_object_new_object();
		snprintf(reason, sizeof(reason), "not a valid WebAssembly module: %s at byte offset %" PRIu32,
			 wc->err.message, wc->err.offset);
		json_object_object_add(data, "param", json_object_new_string(param));
		json_object_object_add(data, "reason", json_object_new_string(reason));
		json_object_object_add(data, "offset", json_object_new_int64(wc->err.offset));
		json_object_object_add(data, "wasm_error", json_object_new_string(wasm_error_kind_to_string(wc->err.kind)));
		rpc_call_error(call, RPC_ERROR_INVALID_PARAMS, NULL, data);
		return;
	}
	if (r == -EFBIG && opts->check) {
		reply_param_errno(call, RPC_ERROR_RESOURCE_LIMIT, param, r, "content too large to validate as a WebAssembly module");
		return;
	}
	if (r == -E2BIG) {
		json_object *data = json_object_new_object();
		snprintf(reason, sizeof(reason), "content larger than the blob size limit (%" PRIu64 " bytes)",
			 (uint64_t)BLOB_DEFAULT_MAX_SIZE);
		json_object_object_add(data, "param", json_object_new_string(param));
		json_object_object_add(data, "errno", json_object_new_string("E2BIG"));
		json_object_object_add(data, "limit", json_object_new_int64((int64_t)BLOB_DEFAULT_MAX_SIZE));
		json_object_object_add(data, "reason", json_object_new_string(reason));
		rpc_call_error(call, RPC_ERROR_RESOURCE_LIMIT, NULL, data);
		return;
	}
	if (path) {
		/* Problems with the named file, as opposed to the store. */
		switch (r) {
		case -ENOENT:
		case -ENOTDIR:
			snprintf(reason, sizeof(reason), "%s: no such file", path);
			reply_param_errno(call, RPC_ERROR_NOT_FOUND, "path", r, reason);
			return;
		case -EACCES:
		case -EPERM:
			snprintf(reason, sizeof(reason), "%s: permission denied", path);
			reply_param_errno(call, RPC_ERROR_SERVER, "path", r, reason);
			return;
		case -EISDIR:
			snprintf(reason, sizeof(reason), "%s: is a directory", path);
			reply_param_errno(call, RPC_ERROR_INVALID_PARAMS, "path", r, reason);
			return;
		case -ELOOP:
			snprintf(reason, sizeof(reason), "%s: is a symbolic link (not followed)", path);
			reply_param_errno(call, RPC_ERROR_INVALID_PARAMS, "path", r, reason);
			return;
		case -EINVAL:
		case -ENXIO: /* a socket (or a device without a driver) swapped in after the lstat */
			snprintf(reason, sizeof(reason), "%s: not a regular file", path);
			reply_param_errno(call, RPC_ERROR_INVALID_PARAMS, "path", r, reason);
			return;
		}
	}
	snprintf(reason, sizeof(reason), "cannot store the blob: %s", strerror(-r));
	rpc_call_errno(call, r, reason);
}

static const char *file_type_name(mode_t mode)
{
	return S_ISSOCK(mode) ? "a socket" : S_ISFIFO(mode) ? "a FIFO" : S_ISCHR(mode) ? "a character device"
	       : S_ISBLK(mode) ? "a block device" : "not a file";
}

static void blob_put(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	blob_store_t *bs = manager_blobs(ctx->manager);
	json_object *vdata = NULL, *vpath = NULL, *v, *res;
	char expect[BLOB_HEX_LEN + 1];
	blob_put_opts_t opts = { 0 };
	wasm_check_t wc = { 0 };
	kvm_snapshot_blob_check_t sc = { 0 };
	blob_info_t info;
	bool created;
	int r;

	json_object_object_get_ex(params, "data", &vdata);
	json_object_object_get_ex(params, "path", &vpath);
	if (!vdata == !vpath) {
		rpc_call_invalid_param(call, vdata ? "path" : "data", "exactly one of \"data\" and \"path\" is required");
		return;
	}
	if (param_hex(params, "expect", expect))
		opts.expect_hex = expect;
	if (json_object_object_get_ex(params, "kind", &v) && strcmp(json_object_get_string(v), "wasm") == 0) {
		opts.check = wasm_check_module;
		opts.check_userdata = &wc;
	}
	if (json_object_object_get_ex(params, "kind", &v) && strcmp(json_object_get_string(v), "snapshot") == 0) {
		opts.check = backend_kvm_snapshot_blob_check;
		opts.check_userdata = &sc;
		opts.check_max = BLOB_DEFAULT_MAX_SIZE;
	}

	if (vdata) {
		_cleanup_free_ void *bytes = NULL;
		size_t len;
		r = base64_decode(json_object_get_string(vdata), (size_t)json_object_get_string_len(vdata), &bytes, &len);
		if (r == -ENOMEM) {
			rpc_call_errno(call, r, "cannot decode data");
			return;
		}
		if (r < 0) {
			rpc_call_invalid_param(call, "data", "invalid base64 (RFC 4648 standard alphabet, padded, no whitespace)");
			return;
		}
		r = blob_put_data(bs, bytes, len, &opts, &info, &created);
		if (r < 0) {
			put_failed(call, r, "data", &opts, &wc, NULL, &sc);
			return;
		}
	} else {
		const char *path = json_object_get_string(vpath);
		if (!methods_peer_may_name_host_files(call)) {
			reply_param_errno(call, RPC_ERROR_SERVER, "path", EPERM,
					  "only clients running as root (or as mvmd's user) may put host files by path; send data instead");
			return;
		}
		/* Opening a FIFO or a device can block or act (a tape
		 * rewinds, a tty is taken): refuse anything but a regular
		 * file, a directory or a symlink (those get their own
		 * answers below) from its lstat, before opening it. The
		 * blob store checks again after opening, for the race. */
		struct stat st;
		if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
			char reason[512];
			snprintf(reason, sizeof(reason), "%s: not a regular file (%s)", path, file_type_name(st.st_mode));
			reply_param_errno(call, RPC_ERROR_INVALID_PARAMS, "path", -EINVAL, reason);
			return;
		}
		r = blob_put_path(bs, path, &opts, &info, &created);
		if (r < 0) {
			put_failed(call, r, "path", &opts, &wc, path, &sc);
			return;
		}
	}

	res = json_object_new_object();
	json_object_object_add(res, "hash", ref_json(info.hex));
	json_object_object_add(res, "size", json_object_new_int64((int64_t)info.size));
	json_object_object_add(res, "created", json_object_new_boolean(created));
	rpc_call_reply(call, res);
}

/* blob_stat()'s r: true when it found the blob, else false with the
 * call answered (no such blob, an I/O error). */
static bool stat_answered(rpc_call_t *call, const char *hex, int r)
{
	if (r == -ENOENT) {
		reply_not_found(call, hex);
		return false;
	}
	if (r < 0) {
		rpc_call_errno(call, r, "cannot stat the blob");
		return false;
	}
	return true;
}

/* params' "hash" into hex; false with the call answered when it is bad. */
static bool hash_of_params(rpc_call_t *call, json_object *params, char hex[BLOB_HEX_LEN + 1])
{
	if (param_hex(params, "hash", hex))
		return true;
	rpc_call_invalid_param(call, "hash", "expected sha256:<64 lowercase hex>");
	return false;
}

/* The blob that params' "hash" names, stat'ed into *info; false when
 * the call was answered (a bad hash, no such blob, an I/O error). */
static bool blob_of_params(rpc_call_t *call, blob_store_t *bs, json_object *params, char hex[BLOB_HEX_LEN + 1],
			   blob_info_t *info)
{
	return hash_of_params(call, params, hex) && stat_answered(call, hex, blob_stat(bs, hex, info));
}

/* --- compute.blob.stat -------------------------------------------------- */

static const rpc_field_t stat_params[] = {
	{ "hash", true, HASH_SCHEMA("the blob") },
	{ "verify", false, { .type = RPC_TYPE_BOOLEAN, .description = "re-hash the file and report whether it still matches its name" } },
	{ NULL },
};

/* Not here yet but on its way (compute.blob.pull): say how far; false
 * when no pull of it is in flight. */
static bool stat_pulling(rpc_call_t *call, methods_ctx_t *ctx, const char *hex)
{
	pull_progress_t pp;
	size_t waiters = 0;
	json_object *res;

	if (!puller_in_flight(manager_puller(ctx->manager), hex, &pp, &waiters))
		return false;
	res = json_object_new_object();
	json_object_object_add(res, "hash", ref_json(hex));
	json_object_object_add(res, "pulling", json_object_new_boolean(true));
	json_object_object_add(res, "source", pp.source ? json_object_new_string(pp.source) : NULL);
	json_object_object_add(res, "bytes", json_object_new_int64((int64_t)pp.bytes));
	json_object_object_add(res, "total", json_object_new_int64((int64_t)pp.total));
	json_object_object_add(res, "waiters", json_object_new_int64((int64_t)waiters));
	rpc_call_reply(call, res);
	return true;
}

static void blob_stat_method(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	blob_store_t *bs = manager_blobs(ctx->manager);
	char hex[BLOB_HEX_LEN + 1], actual[BLOB_HEX_LEN + 1];
	blob_info_t info;
	json_object *res;
	int r;

	if (!hash_of_params(call, params, hex))
		return;
	/* One stat: a blob missing here may be on its way (a pull). */
	r = blob_stat(bs, hex, &info);
	if (r == -ENOENT && stat_pulling(call, ctx, hex))
		return;
	if (!stat_answered(call, hex, r))
		return;
	res = info_json(&info);
	json_object_object_add(res, "used_by", blob_users(ctx->manager, hex));
	if (param_bool(params, "verify")) {
		r = blob_verify(bs, hex, actual);
		if (r < 0 && r != -EBADMSG) {
			json_object_put(res);
			if (r == -ENOENT)
				reply_not_found(call, hex);
			else
				rpc_call_errno(call, r, "cannot read the blob to verify it");
			return;
		}
		json_object_object_add(res, "verified", json_object_new_boolean(r == 0));
		if (r == -EBADMSG)
			json_object_object_add(res, "actual", ref_json(actual));
	}
	rpc_call_reply(call, res);
}

/* --- compute.blob.list -------------------------------------------------- */

static const rpc_field_t list_params[] = {
	{ "after", false, HASH_SCHEMA("list the blobs after this hash (pass the previous page's next)") },
	{ "limit", false, { .type = RPC_TYPE_INTEGER, .description = "at most this many (default 1000)",
			    .has_min = true, .min = 1, .has_max = true, .max = 100000 } },
	{ NULL },
};

static void blob_list_method(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	blob_store_t *bs = manager_blobs(ctx->manager);
	_cleanup_free_ blob_info_t *v = NULL;
	char after[BLOB_HEX_LEN + 1];
	bool has_after = param_hex(params, "after", after), more;
	size_t limit = 1000, n;
	uint64_t count, bytes;
	json_object *lv, *res, *arr;
	int r;

	if (json_object_object_get_ex(params, "limit", &lv))
		limit = (size_t)json_object_get_int64(lv);
	r = blob_list(bs, has_after ? after : NULL, limit, &v, &n, &more);
	if (r < 0) {
		rpc_call_errno(call, r, "cannot list blobs");
		return;
	}
	res = json_object_new_object();
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, info_json(&v[i]));
	json_object_object_add(res, "blobs", arr);
	json_object_object_add(res, "more", json_object_new_boolean(more));
	if (more)
		json_object_object_add(res, "next", ref_json(v[n - 1].hex));
	blob_store_usage(bs, &count, &bytes);
	json_object_object_add(res, "count", json_object_new_int64((int64_t)count));
	json_object_object_add(res, "bytes", json_object_new_int64((int64_t)bytes));
	rpc_call_reply(call, res);
}

/* --- compute.blob.remove ------------------------------------------------ */

static const rpc_field_t remove_params[] = {
	{ "hash", true, HASH_SCHEMA("the blob") },
	{ "force", false, { .type = RPC_TYPE_BOOLEAN, .description = "remove even while VMs reference it" } },
	{ NULL },
};

static void blob_remove_method(rpc_call_t *call, json_object *params, void *userdata)
{
	methods_ctx_t *ctx = userdata;
	blob_store_t *bs = manager_blobs(ctx->manager);
	char hex[BLOB_HEX_LEN + 1];
	blob_info_t info;
	json_object *users, *res;
	int r;

	if (!blob_of_params(call, bs, params, hex, &info))
		return;
	users = blob_users(ctx->manager, hex);
	if (!users) {
		rpc_call_errno(call, -ENOMEM, "out of memory");
		return;
	}
	if (json_object_array_length(users) > 0 && !param_bool(params, "force")) {
		json_object *data = json_object_new_object();
		char reason[128];
		snprintf(reason, sizeof(reason), "blob is the workload of %zu VM(s); remove them or pass force",
			 json_object_array_length(users));
		json_object_object_add(data, "hash", ref_json(hex));
		json_object_object_add(data, "reason", json_object_new_string(reason));
		json_object_object_add(data, "used_by", users);
		rpc_call_error(call, RPC_ERROR_IN_USE, NULL, data);
		return;
	}
	json_object_put(users);
	r = blob_remove(bs, hex);
	if (r == -ENOENT) {
		reply_not_found(call, hex);
		return;
	}
	if (r < 0) {
		rpc_call_errno(call, r, "cannot remove the blob");
		return;
	}
	res = json_object_new_object();
	json_object_object_add(res, "hash", ref_json(hex));
	json_object_object_add(res, "removed", json_object_new_boolean(true));
	rpc_call_reply(call, res);
}

/* --- table ---------------------------------------------------------------- */

static const rpc_field_t blob_fields[] = {
	{ "hash", true, HASH_SCHEMA("its content's SHA-256") },
	{ "size", true, { .type = RPC_TYPE_INTEGER, .description = "bytes", .has_min = true, .min = 0 } },
	{ "created", true, { .type = RPC_TYPE_STRING, .description = "when it was stored (RFC 3339)", .format = "date-time" } },
	{ NULL },
};
static const rpc_schema_t blob_schema = {
	.type = RPC_TYPE_OBJECT, .component = "Blob", .description = "A blob in the store", .fields = blob_fields,
};

static const rpc_field_t put_result_fields[] = {
	{ "hash", true, HASH_SCHEMA("its content's SHA-256") },
	{ "size", true, { .type = RPC_TYPE_INTEGER, .description = "bytes", .has_min = true, .min = 0 } },
	{ "created", true, { .type = RPC_TYPE_BOOLEAN, .description = "false when the content was already stored" } },
	{ NULL },
};
static const rpc_schema_t put_result = { .type = RPC_TYPE_OBJECT, .fields = put_result_fields };

static const rpc_field_t stat_result_fields[] = {
	{ "hash", true, HASH_SCHEMA("its content's SHA-256") },
	{ "size", false, { .type = RPC_TYPE_INTEGER, .description = "bytes (a stored blob)", .has_min = true, .min = 0 } },
	{ "created", false, { .type = RPC_TYPE_STRING, .description = "when it was stored (RFC 3339)", .format = "date-time" } },
	{ "used_by", false, { .type = RPC_TYPE_ARRAY, .description = "ids of the VMs whose workload it is",
			     .items = &(const rpc_schema_t){ .type = RPC_TYPE_STRING } } },
	{ "pulling", false, { .type = RPC_TYPE_BOOLEAN, .description = "true: not stored yet, a pull of it is in flight (compute.blob.pull)" } },
	{ "source", false, { .type = RPC_TYPE_STRING, .nullable = true, .description = "pulling: the source it comes from" } },
	{ "bytes", false, { .type = RPC_TYPE_INTEGER, .description = "pulling: bytes so far", .has_min = true, .min = 0 } },
	{ "total", false, { .type = RPC_TYPE_INTEGER, .description = "pulling: its size, 0 when not known yet", .has_min = true, .min = 0 } },
	{ "waiters", false, { .type = RPC_TYPE_INTEGER, .description = "pulling: requests and creates waiting for it", .has_min = true, .min = 0 } },
	{ "verified", false, { .type = RPC_TYPE_BOOLEAN, .description = "verify: the content still has its hash" } },
	{ "actual", false, HASH_SCHEMA("verify: the hash the content has now, when it is not its name") },
	{ NULL },
};
static const rpc_schema_t stat_result = { .type = RPC_TYPE_OBJECT, .fields = stat_result_fields };

static const rpc_field_t list_result_fields[] = {
	{ "blobs", true, { .type = RPC_TYPE_ARRAY, .description = "sorted by hash", .items = &blob_schema } },
	{ "more", true, { .type = RPC_TYPE_BOOLEAN, .description = "limit cut the list: pass next as after" } },
	{ "next", false, HASH_SCHEMA("the last hash of this page (with more)") },
	{ "count", true, { .type = RPC_TYPE_INTEGER, .description = "blobs in the store", .has_min = true, .min = 0 } },
	{ "bytes", true, { .type = RPC_TYPE_INTEGER, .description = "their bytes in all", .has_min = true, .min = 0 } },
	{ NULL },
};
static const rpc_schema_t list_result = { .type = RPC_TYPE_OBJECT, .fields = list_result_fields };

static const rpc_field_t remove_result_fields[] = {
	{ "hash", true, HASH_SCHEMA("the removed blob") },
	{ "removed", true, { .type = RPC_TYPE_BOOLEAN } },
	{ NULL },
};
static const rpc_schema_t remove_result = { .type = RPC_TYPE_OBJECT, .fields = remove_result_fields };

#define EX_HASH "\"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\""
static const rpc_example_t put_examples[] = {
	{ "\"hello\"", "{\"data\":\"aGVsbG8=\"}", "{\"hash\":" EX_HASH ",\"size\":5,\"created\":true}" },
	{ NULL },
};
static const rpc_example_t list_examples[] = {
	{ "the first page", "{\"limit\":1}",
	  "{\"blobs\":[{\"hash\":" EX_HASH ",\"size\":5,\"created\":\"2026-12-07T14:30:07.123456Z\"}],\"more\":false,\"count\":1,\"bytes\":5}" },
	{ NULL },
};

const rpc_method_t methods_blob[] = {
	{ "compute.blob.put", "Store content (base64 data or a host path) by its SHA-256; idempotent", put_params,
	  &put_result, blob_put, 0, METHODS_ERRORS(RPC_ERROR_NOT_FOUND, RPC_ERROR_SERVER), put_examples },
	{ "compute.blob.stat", "Size and time of a blob, the VMs using it; verify re-hashes it", stat_params,
	  &stat_result, blob_stat_method, 0, METHODS_ERRORS(RPC_ERROR_NOT_FOUND, RPC_ERROR_SERVER), NULL },
	{ "compute.blob.list", "Blobs sorted by hash, paged with after/limit", list_params, &list_result,
	  blob_list_method, 0, METHODS_ERRORS(RPC_ERROR_SERVER), list_examples },
	{ "compute.blob.remove", "Remove a blob no VM references (force: even then)", remove_params, &remove_result,
	  blob_remove_method, 0, METHODS_ERRORS(RPC_ERROR_NOT_FOUND, RPC_ERROR_IN_USE, RPC_ERROR_SERVER), NULL },
};
const size_t methods_blob_n = ELEMENTSOF(methods_blob);
