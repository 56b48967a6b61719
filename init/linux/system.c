/* SPDX-License-Identifier: Apache-2.0 */
/* The guest's base system: pseudo filesystems, console, hostname. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mvm-init.h"
#include "util/kcmdline.h"

static const struct {
	const char *source, *target, *type;
	unsigned long flags;
	const char *data;
	mode_t mode;
} mounts[] = {
	{ "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555 },
	{ "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555 },
	{ "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", 0755 },
	{ "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666", 0755 },
	{ "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777 },
	{ "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", 0755 },
	{ "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777 },
};

void system_mount_all(void)
{
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		if (mkdir(mounts[i].target, mounts[i].mode) < 0 && errno != EEXIST)
			say("cannot create %s: %m", mounts[i].target);
		if (mount(mounts[i].source, mounts[i].target, mounts[i].type, mounts[i].flags,
			  mounts[i].data) < 0 && errno != EBUSY)
			say("cannot mount %s on %s: %m", mounts[i].type, mounts[i].target);
	}
}

/* The kernel opened /dev/console from the initramfs (if it has one) for
 * fds 0-2; make sure they exist after /dev became devtmpfs. */
void system_console(void)
{
	int fd;

	if (fcntl(1, F_GETFD) >= 0 && fcntl(2, F_GETFD) >= 0)
		return;
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return;
	for (int i = 0; i < 3; i++)
		if (fcntl(i, F_GETFD) < 0)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

void system_hostname(const init_state_t *s)
{
	char *name = NULL;

	if (kcmdline_get(s->cmdline, "mvm.hostname", &name) <= 0)
		return;
	if (!name[0] || strlen(name) > 64)
		say("ignoring mvm.hostname: must be 1-64 bytes");
	else if (sethostname(name, strlen(name)) < 0)
		say("cannot set hostname %s: %m", name);
	else
		say("hostname %s", name);
	free(name);
}

/*
 * Load the kernel modules shipped in the initramfs under MODULES_DIR, in
 * name order (so "10-vsock.ko" comes before "20-..."; the initramfs builder
 * orders them by dependency). Debian's cloud kernel, for one, has vsock and
 * virtio transports as modules, and the exec agent needs them.
 */
#define MODULES_DIR "/lib/modules/mvm-init"

static int ko_filter(const struct dirent *de)
{
	size_t n = strlen(de->d_name);
	return n > 3 && strcmp(de->d_name + n - 3, ".ko") == 0;
}

void system_load_modules(void)
{
	struct dirent **list = NULL;
	int n = scandir(MODULES_DIR, &list, ko_filter, alphasort);

	for (int i = 0; i < n; i++) {
		char path[512];
		int fd;

		snprintf(path, sizeof(path), "%s/%s", MODULES_DIR, list[i]->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			say("cannot open module %s: %m", path);
		else if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
			say("cannot load module %s: %m", list[i]->d_name);
		else
			say("loaded module %s", list[i]->d_name);
		if (fd >= 0)
			close(fd);
		free(list[i]);
	}
	free(list);
}
