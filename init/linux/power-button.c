/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ACPI power button (cloud-hypervisor's vm.power-button, QEMU's
 * system_powerdown). With the kernel's `button` driver (a module in
 * Debian's cloud kernel, so it ships in the initramfs) the press is an
 * input event, KEY_POWER, from the input device named "Power Button",
 * read through evdev (/dev/input/eventN, also a module there). No acpid,
 * no logind: mvm-init reads it itself and starts its orderly shutdown.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>

#include "mvm-init.h"

/* <linux/input.h>'s ABI (musl ships no kernel headers): 64-bit layout. */
struct input_event {
	struct timeval time;
	uint16_t type, code;
	int32_t value;
};
#define EVIOCGNAME(len) _IOC(_IOC_READ, 'E', 0x06, len)
#define EV_KEY 0x01
#define KEY_POWER 116

#define BUTTON_NAME "Power Button"

int power_button_open(void)
{
	DIR *d = opendir("/dev/input");
	struct dirent *de;
	int found = -1;

	if (!d) {
		say("power button: no /dev/input (the kernel has no evdev): the button is ignored");
		return -1;
	}
	while (found < 0 && (de = readdir(d))) {
		char path[300], name[64] = "";
		int fd;

		if (strncmp(de->d_name, "event", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/input/%s", de->d_name);
		fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (ioctl(fd, EVIOCGNAME(sizeof(name) - 1), name) >= 0 && strcmp(name, BUTTON_NAME) == 0) {
			say("power button: %s", path);
			found = fd;
		} else {
			close(fd);
		}
	}
	closedir(d);
	if (found < 0)
		say("power button: no \"%s\" input device (no ACPI or no button driver): the button is ignored", BUTTON_NAME);
	return found;
}

/* Drain the events; true when one was a press of KEY_POWER. */
bool power_button_pressed(int fd)
{
	struct input_event ev[16];
	bool pressed = false;
	ssize_t n;

	while ((n = read(fd, ev, sizeof(ev))) > 0)
		for (size_t i = 0; i < (size_t)n / sizeof(ev[0]); i++)
			if (ev[i].type == EV_KEY && ev[i].code == KEY_POWER && ev[i].value == 1)
				pressed = true;
	return pressed;
}
