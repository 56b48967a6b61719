/* SPDX-License-Identifier: Apache-2.0 */

#include "ch/api.h"

#include <errno.h>
#include <stdio.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#define JSON_DEPTH 64

static const ch_api_request_t requests[_CH_API_OP_MAX] = {
	[CH_API_PING] = { "GET", "/api/v1/vmm.ping", true },
	[CH_API_INFO] = { "GET", "/api/v1/vm.info", true },
	[CH_API_POWER_BUTTON] = { "PUT", "/api/v1/vm.power-button", false },
	[CH_API_VM_SHUTDOWN] = { "PUT", "/api/v1/vm.shutdown", false },
	[CH_API_VMM_SHUTDOWN] = { "PUT", "/api/v1/vmm.shutdown", false },
	[CH_API_VM_CREATE] = { "PUT", "/api/v1/vm.create", false, true },
	[CH_API_VM_BOOT] = { "PUT", "/api/v1/vm.boot", false },
	[CH_API_VM_PAUSE] = { "PUT", "/api/v1/vm.pause", false },
	[CH_API_VM_RESUME] = { "PUT", "/api/v1/vm.resume", false },
	[CH_API_VM_SNAPSHOT] = { "PUT", "/api/v1/vm.snapshot", false, true },
	[CH_API_VM_RESTORE] = { "PUT", "/api/v1/vm.restore", false, true },
	/* 200 with a PciDeviceInfo mvmd does not need (the bdf changes at
	 * each boot), or 204: both are success. */
	[CH_API_VM_ADD_DISK] = { "PUT", "/api/v1/vm.add-disk", false, true },
	[CH_API_VM_ADD_NET] = { "PUT", "/api/v1/vm.add-net", false, true },
	[CH_API_VM_REMOVE_DEVICE] = { "PUT", "/api/v1/vm.remove-device", false, true },
};

static const char *const op_names[_CH_API_OP_MAX] = {
	[CH_API_PING] = "vmm.ping",
	[CH_API_INFO] = "vm.info",
	[CH_API_POWER_BUTTON] = "vm.power-button",
	[CH_API_VM_SHUTDOWN] = "vm.shutdown",
	[CH_API_VMM_SHUTDOWN] = "vmm.shutdown",
	[CH_API_VM_CREATE] = "vm.create",
	[CH_API_VM_BOOT] = "vm.boot",
	[CH_API_VM_PAUSE] = "vm.pause",
	[CH_API_VM_RESUME] = "vm.resume",
	[CH_API_VM_SNAPSHOT] = "vm.snapshot",
	[CH_API_VM_RESTORE] = "vm.restore",
	[CH_API_VM_ADD_DISK] = "vm.add-disk",
	[CH_API_VM_ADD_NET] = "vm.add-net",
	[CH_API_VM_REMOVE_DEVICE] = "vm.remove-device",
};

static const char *const state_names[_CH_VM_STATE_MAX] = {
	[CH_VM_CREATED] = "Created",
	[CH_VM_RUNNING] = "Running",
	[CH_VM_SHUTDOWN] = "Shutdown",
	[CH_VM_PAUSED] = "Paused",
	[CH_VM_BREAKPOINT] = "BreakPoint",
};

const ch_api_request_t *ch_api_request(ch_api_op_t op)
{
	return op >= 0 && op < _CH_API_OP_MAX ? &requests[op] : NULL;
}

const char *ch_api_op_to_string(ch_api_op_t op)
{
	return op >= 0 && op < _CH_API_OP_MAX ? op_names[op] : NULL;
}

int ch_api_check_status(ch_api_op_t op, long status)
{
	const ch_api_request_t *r = ch_api_request(op);

	if (!r)
		return -EINVAL;
	if (r->has_body)
		return status == 200 ? 0 : -EPROTO;
	/* The actions answer 204 No Content; 200 is accepted as well. */
	return status == 204 || status == 200 ? 0 : -EPROTO;
}

const char *ch_vm_state_to_string(ch_vm_state_t s)
{
	return s >= 0 && s < _CH_VM_STATE_MAX ? state_names[s] : NULL;
}

ch_vm_state_t ch_vm_state_from_string(const char *s)
{
	for (int i = 0; s && i < _CH_VM_STATE_MAX; i++)
		if (strcmp(s, state_names[i]) == 0)
			return (ch_vm_state_t)i;
	return _CH_VM_STATE_INVALID;
}

/* The whole body must be one JSON object (trailing whitespace allowed). */
static int parse_object(const char *body, size_t len, json_object **ret)
{
	json_tokener *tok;
	json_object *o;
	size_t used;

	if (!body || len == 0 || len > CH_API_BODY_MAX || memchr(body, '\0', len))
		return -EBADMSG;
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, body, (int)len);
	used = (size_t)json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!o)
		return -EBADMSG;
	for (; used < len; used++)
		if (!strchr(" \t\r\n", body[used])) {
			json_object_put(o);
			return -EBADMSG;
		}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EBADMSG;
	}
	*ret = o;
	return 0;
}

int ch_api_parse_info(const char *body, size_t len, ch_vm_state_t *ret)
{
	json_object *o, *v;
	ch_vm_state_t s = _CH_VM_STATE_INVALID;
	int r;

	r = parse_object(body, len, &o);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(o, "state", &v) && json_object_is_type(v, json_type_string))
		s = ch_vm_state_from_string(json_object_get_string(v));
	json_object_put(o);
	if (s == _CH_VM_STATE_INVALID)
		return -EBADMSG;
	*ret = s;
	return 0;
}

int ch_api_parse_ping(const char *body, size_t len, char **ret_version)
{
	json_object *o, *v = NULL;
	char *copy = NULL;
	int r, n = 0;

	r = parse_object(body, len, &o);
	if (r < 0)
		return r;
	if ((json_object_object_get_ex(o, "version", &v) && json_object_is_type(v, json_type_string)) ||
	    (json_object_object_get_ex(o, "build_version", &v) && json_object_is_type(v, json_type_string)))
		n = json_object_get_string_len(v);
	else
		v = NULL;
	/* A short printable string, no embedded NUL ("\u0000"). */
	r = -EBADMSG;
	if (v && n > 0 && n <= 128 && strlen(json_object_get_string(v)) == (size_t)n) {
		copy = strdup(json_object_get_string(v));
		r = copy ? 0 : -ENOMEM;
	}
	json_object_put(o);
	if (r < 0)
		return r;
	*ret_version = copy;
	return 0;
}

static int url_body(const char *key, const char *dir, char **ret)
{
	json_object *o;
	char *url = NULL, *copy;
	int r = -ENOMEM;

	if (!dir || dir[0] != '/')
		return -EINVAL;
	if (asprintf(&url, "file://%s", dir) < 0)
		return -ENOMEM;
	o = json_object_new_object();
	if (o && json_object_object_add(o, key, json_object_new_string(url)) == 0) {
		copy = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		if (copy) {
			*ret = copy;
			r = 0;
		}
	}
	json_object_put(o);
	free(url);
	return r;
}

int ch_api_snapshot_body(const char *dir, char **ret)
{
	return url_body("destination_url", dir, ret);
}

int ch_api_restore_body(const char *dir, char **ret)
{
	return url_body("source_url", dir, ret);
}
