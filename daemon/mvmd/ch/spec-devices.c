/* SPDX-License-Identifier: Apache-2.0 */
#include "ch/spec-devices.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cause.h"
#include "util/sha256.h"

static json_object *spec_array(const vm_t *vm, const char *key)
{
	json_object *a;

	if (vm->spec && json_object_object_get_ex(vm->spec, key, &a) && json_object_is_type(a, json_type_array))
		return a;
	return NULL;
}

static const char *member_string(json_object *o, const char *key)
{
	json_object *v;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static bool member_true(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

/* Absolute, and no "." or ".." component: the path names the file the
 * operator meant, not one reached by walking out of a directory. */
static bool path_plain(const char *p)
{
	if (p[0] != '/')
		return false;
	for (const char *s = p; *s;) {
		size_t n;
		while (*s == '/')
			s++;
		n = strcspn(s, "/");
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
	}
	return true;
}

static bool tap_plain(const char *t)
{
	size_t n = strlen(t);

	if (n < 1 || n > 15)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && !strchr("_.-", t[i]))
			return false;
	return true;
}

static int disk_check(size_t i, json_object *d, char **ret_detail)
{
	const char *path = member_string(d, "path");
	bool ro = member_true(d, "readonly");
	struct stat st;

	if (!path || !path_plain(path))
		return set_cause(ret_detail, -EINVAL, "disks[%zu].path: an absolute path without \".\" or \"..\" components", i);
	if (stat(path, &st) < 0)
		return set_cause(ret_detail, -EINVAL, "disks[%zu].path: %s: %s", i, path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return set_cause(ret_detail, -EINVAL,
				 "disks[%zu].path: %s: is a directory (a disk is a regular file or a block device)", i, path);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return set_cause(ret_detail, -EINVAL, "disks[%zu].path: %s: neither a regular file nor a block device", i, path);
	if (access(path, ro ? R_OK : R_OK | W_OK) < 0)
		return set_cause(ret_detail, -EINVAL, "disks[%zu].path: %s: cannot be opened %s: %s", i, path,
				 ro ? "for reading" : "for reading and writing", strerror(errno));
	return 0;
}

int ch_spec_devices_validate(const vm_t *vm, char **ret_detail)
{
	json_object *disks = spec_array(vm, "disks"), *nets = spec_array(vm, "net");
	size_t nd = disks ? json_object_array_length(disks) : 0, nn = nets ? json_object_array_length(nets) : 0;
	int r;

	if (nd > CH_DISKS_MAX)
		return set_cause(ret_detail, -EINVAL, "disks: at most %d", CH_DISKS_MAX);
	if (nn > CH_NETS_MAX)
		return set_cause(ret_detail, -EINVAL, "net: at most %d", CH_NETS_MAX);
	for (size_t i = 0; i < nd; i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		const char *serial = member_string(d, "serial");
		r = disk_check(i, d, ret_detail);
		if (r < 0)
			return r;
		for (size_t j = 0; serial && j < i; j++) {
			const char *other = member_string(json_object_array_get_idx(disks, j), "serial");
			if (other && strcmp(other, serial) == 0)
				return set_cause(ret_detail, -EINVAL, "disks[%zu].serial: \"%s\" is also disks[%zu]'s", i, serial, j);
		}
	}
	for (size_t i = 0; i < nn; i++) {
		const char *tap = member_string(json_object_array_get_idx(nets, i), "tap");
		if (!tap || !tap_plain(tap))
			return set_cause(ret_detail, -EINVAL, "net[%zu].tap: an interface name of 1-15 bytes from [A-Za-z0-9_.-]", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(tap, member_string(json_object_array_get_idx(nets, j), "tap")) == 0)
				return set_cause(ret_detail, -EINVAL, "net[%zu].tap: \"%s\" is also net[%zu]'s", i, tap, j);
	}
	return 0;
}

void ch_spec_mac(const char *vm_id, size_t index, char ret[18])
{
	uint8_t h[SHA256_DIGEST_LEN];
	char seed[96];
	sha256_ctx c;
	int n;

	n = snprintf(seed, sizeof(seed), "mvmd-net:%s:%zu", vm_id, index);
	sha256_init(&c);
	sha256_update(&c, seed, (size_t)n < sizeof(seed) ? (size_t)n : sizeof(seed) - 1);
	sha256_final(&c, h);
	/* Bit 1 of the first octet: locally administered; bit 0 clear: unicast. */
	h[0] = (uint8_t)((h[0] & 0xfc) | 0x02);
	snprintf(ret, 18, "%02x:%02x:%02x:%02x:%02x:%02x", h[0], h[1], h[2], h[3], h[4], h[5]);
}

/* N of an id "<prefix>N" (N decimal, no leading zero), else -1. */
static long id_number(const char *id, const char *prefix)
{
	size_t n = strlen(prefix);
	char *end;
	long v;

	if (!id || strncmp(id, prefix, n) != 0 || id[n] < '0' || id[n] > '9' || (id[n] == '0' && id[n + 1]))
		return -1;
	errno = 0;
	v = strtol(id + n, &end, 10);
	return errno || *end || v > 99999 ? -1 : v;
}

/* One above the highest "<prefix>N" in arr: ids are never reused while
 * a higher one is there, so a device being ejected keeps its own. */
static long next_number(json_object *arr, const char *prefix)
{
	long next = 0;

	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		long v = id_number(member_string(json_object_array_get_idx(arr, i), "id"), prefix);
		if (v >= next)
			next = v + 1;
	}
	return next;
}

static int add_string(json_object *o, const char *key, const char *value)
{
	json_object *v = json_object_new_string(value);

	if (!v || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* Give entry the id "<prefix><next>" (and a net its MAC) when it has none. */
static int name_device(const vm_t *vm, json_object *arr, json_object *entry, bool net)
{
	const char *prefix = net ? "net" : "disk";
	long n = id_number(member_string(entry, "id"), prefix);
	char text[40];
	int r;

	if (!member_string(entry, "id")) {
		n = next_number(arr, prefix);
		snprintf(text, sizeof(text), "%s%ld", prefix, n);
		r = add_string(entry, "id", text);
		if (r < 0)
			return r;
	}
	if (net && !member_string(entry, "mac")) {
		ch_spec_mac(vm->id, n >= 0 ? (size_t)n : 0, text);
		return add_string(entry, "mac", text);
	}
	return 0;
}

int ch_spec_devices_fill(vm_t *vm)
{
	json_object *disks = spec_array(vm, "disks"), *nets = spec_array(vm, "net");
	int r;

	for (size_t i = 0; disks && i < json_object_array_length(disks); i++)
		if ((r = name_device(vm, disks, json_object_array_get_idx(disks, i), false)) < 0)
			return r;
	for (size_t i = 0; nets && i < json_object_array_length(nets); i++)
		if ((r = name_device(vm, nets, json_object_array_get_idx(nets, i), true)) < 0)
			return r;
	return 0;
}

int ch_spec_device_new(const vm_t *vm, json_object *entry, bool net, char **ret_detail)
{
	json_object *arr = spec_array(vm, net ? "net" : "disks");
	size_t n = arr ? json_object_array_length(arr) : 0;
	const char *key = net ? "tap" : "serial", *value = member_string(entry, key);
	int r;

	if (n >= (net ? CH_NETS_MAX : CH_DISKS_MAX))
		return set_cause(ret_detail, -EINVAL, "the VM has %zu %s, at most %d", n, net ? "taps" : "disks",
				 net ? CH_NETS_MAX : CH_DISKS_MAX);
	if (net && (!value || !tap_plain(value)))
		return set_cause(ret_detail, -EINVAL, "tap: an interface name of 1-15 bytes from [A-Za-z0-9_.-]");
	if (!net && (r = disk_check(n, entry, ret_detail)) < 0)
		return r;
	for (size_t j = 0; value && j < n; j++) {
		const char *other = member_string(json_object_array_get_idx(arr, j), key);
		if (other && strcmp(other, value) == 0)
			return set_cause(ret_detail, -EINVAL, "%s: \"%s\" is also %s[%zu]'s", key, value, net ? "net" : "disks", j);
	}
	if (member_string(entry, "id"))
		return set_cause(ret_detail, -EINVAL, "id: mvmd names the devices it adds");
	return name_device(vm, arr, entry, net);
}

int ch_spec_device_append(vm_t *vm, json_object *entry, bool net)
{
	const char *key = net ? "net" : "disks";
	json_object *arr = spec_array(vm, key);

	if (!arr) {
		arr = json_object_new_array();
		if (!arr || json_object_object_add(vm->spec, key, arr) < 0) {
			json_object_put(arr);
			return -ENOMEM;
		}
	}
	if (json_object_array_add(arr, json_object_get(entry)) < 0) {
		json_object_put(entry);
		return -ENOMEM;
	}
	return 0;
}

json_object *ch_spec_device_find(const vm_t *vm, const char *id, bool *ret_net, size_t *ret_index)
{
	for (int net = 0; net < 2; net++) {
		json_object *arr = spec_array(vm, net ? "net" : "disks");
		for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
			json_object *e = json_object_array_get_idx(arr, i);
			const char *eid = member_string(e, "id");
			if (eid && strcmp(eid, id) == 0) {
				*ret_net = net;
				*ret_index = i;
				return e;
			}
		}
	}
	return NULL;
}

/* root: {"disk": N or serial}, the disk the image's process runs on. */
static json_object *root_disk(const vm_t *vm)
{
	json_object *root, *d;

	if (vm->spec && json_object_object_get_ex(vm->spec, "root", &root) && json_object_object_get_ex(root, "disk", &d))
		return d;
	return NULL;
}

int ch_spec_device_removable(const vm_t *vm, bool net, size_t index, char **ret_detail)
{
	json_object *which = root_disk(vm), *arr = spec_array(vm, "disks");
	const char *serial;

	if (net || !which || !arr || index >= json_object_array_length(arr))
		return 0;
	serial = member_string(json_object_array_get_idx(arr, index), "serial");
	if ((json_object_is_type(which, json_type_int) && json_object_get_int64(which) == (int64_t)index) ||
	    (json_object_is_type(which, json_type_string) && serial && strcmp(serial, json_object_get_string(which)) == 0))
		return set_cause(ret_detail, -EINVAL, "disks[%zu] is the root disk of the VM's process", index);
	return 0;
}

int ch_spec_device_drop(vm_t *vm, bool net, size_t index)
{
	json_object *arr = spec_array(vm, net ? "net" : "disks"), *root, *which = root_disk(vm);

	if (!arr || index >= json_object_array_length(arr))
		return -ENOENT;
	if (json_object_array_del_idx(arr, index, 1) < 0)
		return -ENOMEM;
	/* root.disk by index names the same disk at the next boot: the
	 * disks after the removed one moved down by one. */
	if (!net && which && json_object_is_type(which, json_type_int) && json_object_get_int64(which) > (int64_t)index &&
	    json_object_object_get_ex(vm->spec, "root", &root)) {
		json_object *v = json_object_new_int64(json_object_get_int64(which) - 1);
		if (!v || json_object_object_add(root, "disk", v) < 0) {
			json_object_put(v);
			return -ENOMEM;
		}
	}
	return 0;
}

void ch_spec_devices_launch(const vm_t *vm, ch_launch_t *l)
{
	json_object *disks = spec_array(vm, "disks"), *nets = spec_array(vm, "net");

	l->n_disks = 0;
	for (size_t i = 0; disks && i < json_object_array_length(disks) && l->n_disks < CH_DISKS_MAX; i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		l->disks[l->n_disks++] = (ch_disk_t){
			.path = member_string(d, "path"),
			.readonly = member_true(d, "readonly"),
			.serial = member_string(d, "serial"),
			.id = member_string(d, "id"),
		};
	}
	l->n_nets = 0;
	for (size_t i = 0; nets && i < json_object_array_length(nets) && l->n_nets < CH_NETS_MAX; i++) {
		json_object *n = json_object_array_get_idx(nets, i);
		l->nets[l->n_nets++] = (ch_net_t){
			.tap = member_string(n, "tap"),
			.mac = member_string(n, "mac"),
			.id = member_string(n, "id"),
		};
	}
}
