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

int ch_spec_devices_fill(vm_t *vm)
{
	json_object *nets = spec_array(vm, "net");

	for (size_t i = 0; nets && i < json_object_array_length(nets); i++) {
		json_object *n = json_object_array_get_idx(nets, i), *mac;
		char text[18];
		if (member_string(n, "mac"))
			continue;
		ch_spec_mac(vm->id, i, text);
		mac = json_object_new_string(text);
		if (!mac || json_object_object_add(n, "mac", mac) < 0) {
			json_object_put(mac);
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
		};
	}
	l->n_nets = 0;
	for (size_t i = 0; nets && i < json_object_array_length(nets) && l->n_nets < CH_NETS_MAX; i++) {
		json_object *n = json_object_array_get_idx(nets, i);
		l->nets[l->n_nets++] = (ch_net_t){ .tap = member_string(n, "tap"), .mac = member_string(n, "mac") };
	}
}
