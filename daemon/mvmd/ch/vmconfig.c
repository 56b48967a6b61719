/* SPDX-License-Identifier: Apache-2.0 */
#include "ch/vmconfig.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool is_path(const char *s)
{
	return s && s[0] == '/';
}

/* json_object_object_add that reports a failed allocation. */
static bool add(json_object *o, const char *key, json_object *v)
{
	if (!v)
		return false;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

/* A DiskConfig {path, readonly, serial?, id?}; NULL when out of memory. */
static json_object *disk_object(const ch_disk_t *d)
{
	json_object *o = json_object_new_object();

	if (!o || !add(o, "path", json_object_new_string(d->path)) ||
	    !add(o, "readonly", json_object_new_boolean(d->readonly)) ||
	    (d->serial && !add(o, "serial", json_object_new_string(d->serial))) ||
	    (d->id && !add(o, "id", json_object_new_string(d->id)))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* A NetConfig {tap, mac, id?}; NULL when out of memory. */
static json_object *net_object(const ch_net_t *n)
{
	json_object *o = json_object_new_object();

	if (!o || !add(o, "tap", json_object_new_string(n->tap)) || !add(o, "mac", json_object_new_string(n->mac)) ||
	    (n->id && !add(o, "id", json_object_new_string(n->id)))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static bool append(json_object *arr, json_object *o)
{
	if (!o)
		return false;
	if (json_object_array_add(arr, o) < 0) {
		json_object_put(o);
		return false;
	}
	return true;
}

/* "disks": [DiskConfig] and "net": [NetConfig], absent when there are none. */
static bool add_devices(json_object *root, const ch_launch_t *l)
{
	json_object *arr = NULL;

	if (l->n_disks && !add(root, "disks", arr = json_object_new_array()))
		return false;
	for (size_t i = 0; i < l->n_disks; i++)
		if (!append(arr, disk_object(&l->disks[i])))
			return false;
	if (l->n_nets && !add(root, "net", arr = json_object_new_array()))
		return false;
	for (size_t i = 0; i < l->n_nets; i++)
		if (!append(arr, net_object(&l->nets[i])))
			return false;
	return true;
}

static bool tap_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 15)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

static bool mac_ok(const char *s)
{
	if (!s || strlen(s) != 17)
		return false;
	for (size_t i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* A device id: 1-32 bytes of [A-Za-z0-9_-]. cloud-hypervisor's own
 * start with '_', so these never meet them. */
static bool id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 32 || s[0] == '_')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

int ch_vmconfig_build(const ch_launch_t *l, char **ret_json)
{
	json_object *root, *payload, *cpus, *memory, *serial, *console, *vsock;
	const char *text;
	char *copy;
	bool ok;

	if (!l || !is_path(l->kernel) || (l->initramfs && !is_path(l->initramfs)) || !is_path(l->serial_socket) ||
	    !is_path(l->vsock_socket))
		return -EINVAL;
	if (l->vcpus < 1 || l->vcpus > 256 || l->memory_mib < 1 || l->memory_mib > (UINT64_C(1) << 32) || l->cid < 3)
		return -EINVAL;
	if (l->cmdline && strlen(l->cmdline) > CH_VMCONFIG_CMDLINE_MAX)
		return -EINVAL;
	if (l->n_disks > CH_DISKS_MAX || l->n_nets > CH_NETS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < l->n_disks; i++)
		if (!is_path(l->disks[i].path) || (l->disks[i].id && !id_ok(l->disks[i].id)))
			return -EINVAL;
	for (size_t i = 0; i < l->n_nets; i++)
		if (!tap_ok(l->nets[i].tap) || !mac_ok(l->nets[i].mac) || (l->nets[i].id && !id_ok(l->nets[i].id)))
			return -EINVAL;

	root = json_object_new_object();
	if (!root)
		return -ENOMEM;
	ok = add(root, "payload", payload = json_object_new_object()) && add(payload, "kernel", json_object_new_string(l->kernel)) &&
	     (!l->initramfs || add(payload, "initramfs", json_object_new_string(l->initramfs))) &&
	     (!l->cmdline || add(payload, "cmdline", json_object_new_string(l->cmdline))) &&
	     add(root, "cpus", cpus = json_object_new_object()) &&
	     add(cpus, "boot_vcpus", json_object_new_int64(l->vcpus)) &&
	     add(cpus, "max_vcpus", json_object_new_int64(l->vcpus)) &&
	     add(root, "memory", memory = json_object_new_object()) &&
	     /* MemoryConfig.size is in bytes (int64). */
	     add(memory, "size", json_object_new_int64((int64_t)(l->memory_mib << 20))) &&
	     add(root, "serial", serial = json_object_new_object()) &&
	     add(serial, "mode", json_object_new_string("Socket")) &&
	     add(serial, "socket", json_object_new_string(l->serial_socket)) &&
	     add(root, "console", console = json_object_new_object()) &&
	     add(console, "mode", json_object_new_string("Off")) &&
	     add(root, "vsock", vsock = json_object_new_object()) &&
	     add(vsock, "cid", json_object_new_int64(l->cid)) && add(vsock, "socket", json_object_new_string(l->vsock_socket));
	ok = ok && add_devices(root, l);
	text = ok ? json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
	copy = text ? strdup(text) : NULL;
	json_object_put(root);
	if (!copy)
		return -ENOMEM;
	*ret_json = copy;
	return 0;
}

static int to_text(json_object *o, char **ret)
{
	char *copy = o ? strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE))
		       : NULL;

	json_object_put(o);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

int ch_vmconfig_disk_body(const ch_disk_t *d, char **ret_json)
{
	if (!d || !is_path(d->path) || !id_ok(d->id))
		return -EINVAL;
	return to_text(disk_object(d), ret_json);
}

int ch_vmconfig_net_body(const ch_net_t *n, char **ret_json)
{
	if (!n || !tap_ok(n->tap) || !mac_ok(n->mac) || !id_ok(n->id))
		return -EINVAL;
	return to_text(net_object(n), ret_json);
}

int ch_vmconfig_remove_body(const char *id, char **ret_json)
{
	json_object *o;

	if (!id_ok(id))
		return -EINVAL;
	o = json_object_new_object();
	if (o && !add(o, "id", json_object_new_string(id))) {
		json_object_put(o);
		o = NULL;
	}
	return to_text(o, ret_json);
}
