/* SPDX-License-Identifier: Apache-2.0 */
#include "ch/guest-process.h"
#include "ch/process.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cause.h"
#include "util/guestconf.h"
#include "util/macro.h"

static json_object *spec_member(const vm_t *vm, const char *key, json_type type)
{
	json_object *o;

	if (vm->spec && json_object_object_get_ex(vm->spec, key, &o) && json_object_is_type(o, type))
		return o;
	return NULL;
}

static json_object *member(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

bool ch_guest_process_wanted(const vm_t *vm)
{
	return spec_member(vm, "process", json_type_object) != NULL;
}

int ch_guest_process_validate(const vm_t *vm, char **ret_detail)
{
	json_object *root = spec_member(vm, "root", json_type_object), *disks = spec_member(vm, "disks", json_type_array);
	json_object *which = member(root, "disk");
	size_t n = disks ? json_object_array_length(disks) : 0, len = 0;
	_cleanup_free_ char *text = NULL;
	int r;

	if (root && !ch_guest_process_wanted(vm))
		return set_cause(ret_detail, -EINVAL, "root: needs a process to run on it");
	if (root && json_object_is_type(which, json_type_int)) {
		int64_t i = json_object_get_int64(which);
		if (i < 0 || (size_t)i >= n)
			return set_cause(ret_detail, -EINVAL, "root.disk: %lld is not an index of disks (the VM has %zu)", (long long)i, n);
	} else if (root && json_object_is_type(which, json_type_string)) {
		bool found = false;
		for (size_t i = 0; i < n && !found; i++) {
			json_object *s = member(json_object_array_get_idx(disks, i), "serial");
			found = s && strcmp(json_object_get_string(s), json_object_get_string(which)) == 0;
		}
		if (!found)
			return set_cause(ret_detail, -EINVAL, "root.disk: no disk has the serial \"%s\"", json_object_get_string(which));
	} else if (root) {
		return set_cause(ret_detail, -EINVAL, "root.disk: the index of a disk, or a disk's serial");
	}
	if (!ch_guest_process_wanted(vm))
		return 0;
	r = ch_guest_process_conf(vm, &text, &len);
	if (r < 0)
		return r;
	if (len > CH_GUEST_CONF_MAX)
		return set_cause(ret_detail, -EINVAL, "process: %zu bytes encoded, at most %u", len, CH_GUEST_CONF_MAX);
	return 0;
}

int ch_guest_process_conf(const vm_t *vm, char **ret, size_t *ret_len)
{
	json_object *root = spec_member(vm, "root", json_type_object), *p = spec_member(vm, "process", json_type_object);
	json_object *v;
	char *buf = NULL, num[32];
	size_t len = 0;
	int r = 0;

	if (!(buf = strdup("")))
		return -ENOMEM;
	if (root) {
		v = member(root, "disk");
		if (json_object_is_type(v, json_type_int)) {
			snprintf(num, sizeof(num), "%lld", (long long)json_object_get_int64(v));
			r = guestconf_append(&buf, &len, "root.disk", num);
		} else {
			r = guestconf_append(&buf, &len, "root.serial", json_object_get_string(v));
		}
		if (r == 0 && (v = member(root, "fstype")))
			r = guestconf_append(&buf, &len, "root.fstype", json_object_get_string(v));
		if (r == 0 && json_object_get_boolean(member(root, "readonly")))
			r = guestconf_append(&buf, &len, "root.readonly", "1");
	}
	if (r == 0 && (v = member(p, "args")))
		for (size_t i = 0; r == 0 && i < json_object_array_length(v); i++)
			r = guestconf_append(&buf, &len, "arg", json_object_get_string(json_object_array_get_idx(v, i)));
	if (r == 0 && (v = member(p, "env"))) {
		json_object_object_foreach(v, key, val) {
			_cleanup_free_ char *kv = NULL;
			if (r < 0)
				break;
			if (asprintf(&kv, "%s=%s", key, json_object_get_string(val)) < 0) {
				kv = NULL;
				r = -ENOMEM;
				break;
			}
			r = guestconf_append(&buf, &len, "env", kv);
		}
	}
	if (r == 0 && (v = member(p, "cwd")))
		r = guestconf_append(&buf, &len, "cwd", json_object_get_string(v));
	if (r == 0 && (v = member(p, "user")))
		r = guestconf_append(&buf, &len, "user", json_object_get_string(v));
	if (r == 0 && json_object_get_boolean(member(p, "keep_running")))
		r = guestconf_append(&buf, &len, "keep_running", "1");
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int write_all_fd(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return negative_errno();
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One cpio newc entry: header, name (NUL, padded to 4), data (padded to 4). */
static int cpio_entry(int fd, unsigned ino, unsigned mode, const char *name, const void *data, size_t len)
{
	static const char zeros[4];
	char h[111];
	size_t nlen = strlen(name) + 1;
	int r;

	snprintf(h, sizeof(h), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode, 0u, 0u,
		 (mode & 0170000) == 0040000 ? 2u : 1u, 0u, (unsigned)len, 0u, 0u, 0u, 0u, (unsigned)nlen, 0u);
	r = write_all_fd(fd, h, 110);
	if (r == 0)
		r = write_all_fd(fd, name, nlen);
	if (r == 0)
		r = write_all_fd(fd, zeros, (4 - (110 + nlen) % 4) % 4);
	if (r == 0 && len)
		r = write_all_fd(fd, data, len);
	if (r == 0)
		r = write_all_fd(fd, zeros, (4 - len % 4) % 4);
	return r;
}

int ch_guest_initramfs_write(const char *base, const char *out, const char *conf, size_t len)
{
	_cleanup_close_ int in = -1, fd = -1;
	_cleanup_free_ char *tmp = NULL;
	char buf[65536];
	uint64_t total = 0;
	int r = 0;

	if (asprintf(&tmp, "%s.tmp", out) < 0)
		return -ENOMEM;
	in = open(base, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return negative_errno();
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return negative_errno();
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = negative_errno();
			break;
		}
		if (n == 0)
			break;
		r = write_all_fd(fd, buf, (size_t)n);
		if (r < 0)
			break;
		total += (uint64_t)n;
	}
	memset(buf, 0, 4);
	if (r == 0)
		r = write_all_fd(fd, buf, (4 - total % 4) % 4);
	if (r == 0)
		r = cpio_entry(fd, 1, 0040755, "mvm", NULL, 0);
	if (r == 0)
		r = cpio_entry(fd, 2, 0100400, "mvm/process.conf", conf, len);
	if (r == 0)
		r = cpio_entry(fd, 0, 0, "TRAILER!!!", NULL, 0);
	if (r == 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r == 0 && rename(tmp, out) < 0)
		r = negative_errno();
	if (r < 0)
		unlink(tmp);
	return r;
}

int ch_kernel_cache_init(ch_kernel_cache_t *c, const char *initramfs)
{
	*c = (ch_kernel_cache_t){ 0 };
	if (asprintf(&c->path, "%s.kernel", initramfs) < 0) {
		c->path = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void kernel_cache_forget(ch_kernel_cache_t *c)
{
	c->known = false;
	free(c->text);
	c->text = NULL;
}

void ch_kernel_cache_done(ch_kernel_cache_t *c)
{
	kernel_cache_forget(c);
	free(c->path);
	c->path = NULL;
}

/* Reads the file into the cache, with the identity of the file it read
 * (fstat of the fd, not the path's stat before it: a file replaced in
 * between is then read again on the next call). */
static int kernel_cache_read(ch_kernel_cache_t *c)
{
	_cleanup_close_ int fd = -1;
	char buf[256];
	struct stat st;
	ssize_t n;

	fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return negative_errno();
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (buf[0] && !(c->text = strdup(buf)))
		return -ENOMEM;
	c->st = st;
	c->known = true;
	return 0;
}

int ch_initramfs_kernel(ch_kernel_cache_t *c, const char **ret)
{
	struct stat st;
	int r;

	*ret = NULL;
	if (!c->path)
		return -EINVAL;
	r = lstat(c->path, &st) < 0 ? (errno == ENOENT ? 0 : negative_errno()) : 1;
	if (r <= 0 || !S_ISREG(st.st_mode)) {
		/* missing, or not what make writes (O_NOFOLLOW refused a
		 * link before the cache too): no modules */
		kernel_cache_forget(c);
		return r < 0 ? r : 0;
	}
	/* ctime too: a rewrite that keeps the size and puts the mtime back
	 * still changes it. */
	if (!c->known || !ch_same_file(&c->st, &st) || c->st.st_ctim.tv_sec != st.st_ctim.tv_sec ||
	    c->st.st_ctim.tv_nsec != st.st_ctim.tv_nsec) {
		kernel_cache_forget(c);
		r = kernel_cache_read(c);
		if (r < 0)
			return r;
	}
	*ret = c->text;
	return 0;
}
