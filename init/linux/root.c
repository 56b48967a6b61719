/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The root disk: find the VM's disk (by index among the virtio disks vda,
 * vdb, ..., or by its serial), mount it, and move into it the way
 * switch_root does (mount --move onto /, chroot): the initramfs is rootfs,
 * which pivot_root cannot leave. mvm-init keeps running from memory as
 * PID 1; /dev, /proc, /sys and /run move along, so the exec agent and the
 * process see the image's filesystem with the usual mounts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mvm-init.h"

#define NEWROOT "/newroot"
#define DISK_WAIT_MS 10000 /* virtio disks probe after their modules load */

static int vd_filter(const struct dirent *de)
{
	return strncmp(de->d_name, "vd", 2) == 0 && de->d_name[2];
}

/* vda < vdb < ... < vdz < vdaa: by length, then by name. */
static int vd_order(const struct dirent **a, const struct dirent **b)
{
	size_t la = strlen((*a)->d_name), lb = strlen((*b)->d_name);

	return la != lb ? (la < lb ? -1 : 1) : strcmp((*a)->d_name, (*b)->d_name);
}

static void serial_of(const char *dev, char *buf, size_t size)
{
	char path[300];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/sys/block/%s/serial", dev);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* The device name (e.g. "vda") of the wanted disk, in ret; -ENOENT. */
static int find_disk(const guestconf_t *c, char *ret, size_t size, int *ret_count)
{
	struct dirent **list = NULL;
	int n = scandir("/sys/block", &list, vd_filter, vd_order), r = -ENOENT;

	*ret_count = n < 0 ? 0 : n;
	for (int i = 0; i < n; i++) {
		char serial[64];
		if (r < 0 && c->root_serial) {
			serial_of(list[i]->d_name, serial, sizeof(serial));
			if (strcmp(serial, c->root_serial) == 0) {
				snprintf(ret, size, "%s", list[i]->d_name);
				r = 0;
			}
		} else if (r < 0 && i == c->root_disk) {
			snprintf(ret, size, "%s", list[i]->d_name);
			r = 0;
		}
		free(list[i]);
	}
	free(list);
	return r;
}

/* Move the initramfs's mount at `what` into the new root (made if missing
 * and the root is writable; else left where it is, reachable no more). */
static void root_move_mount(const char *what, bool readonly)
{
	char dest[64];
	struct stat st;

	snprintf(dest, sizeof(dest), NEWROOT "%s", what);
	if (stat(dest, &st) < 0 && (readonly || mkdir(dest, 0755) < 0)) {
		say("root: the image has no %s and it cannot be made: %m", what);
		umount2(what, MNT_DETACH);
		return;
	}
	if (mount(what, dest, NULL, MS_MOVE, NULL) < 0) {
		say("root: cannot move %s into the image: %m", what);
		umount2(what, MNT_DETACH);
	}
}

int root_enter(const guestconf_t *c)
{
	char dev[256], path[300], which[80];
	uint64_t deadline = init_now_ms() + DISK_WAIT_MS;
	unsigned long flags = c->root_readonly ? MS_RDONLY : 0;
	int count = 0, r;

	if (c->root_serial)
		snprintf(which, sizeof(which), "the disk with serial \"%.40s\"", c->root_serial);
	else
		snprintf(which, sizeof(which), "disk %d", c->root_disk);
	while ((r = find_disk(c, dev, sizeof(dev), &count)) < 0 && init_now_ms() < deadline) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (r < 0) {
		say("root: %s not found: the VM has %d virtio disk%s", which, count, count == 1 ? "" : "s");
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "/dev/%s", dev);
	if (mkdir(NEWROOT, 0755) < 0 && errno != EEXIST) {
		say("root: cannot make %s: %m", NEWROOT);
		return -errno;
	}
	if (mount(path, NEWROOT, c->root_fstype, flags, NULL) < 0) {
		r = -errno;
		say("root: cannot mount %s (%s) as %s%s: %m%s", path, which, c->root_fstype,
		    c->root_readonly ? " read-only" : "",
		    r == -EINVAL ? " (no such filesystem on it)" : r == -ENODEV ? " (filesystem type unknown to this kernel)" : "");
		return r;
	}
	root_move_mount("/dev", c->root_readonly);
	root_move_mount("/proc", c->root_readonly);
	root_move_mount("/sys", c->root_readonly);
	root_move_mount("/run", c->root_readonly);
	if (chdir(NEWROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0) {
		r = -errno;
		say("root: cannot move into %s: %m", path);
		return r;
	}
	say("root: %s (%s, %s%s) mounted as /", path, which, c->root_fstype, c->root_readonly ? ", read-only" : "");
	return 0;
}
