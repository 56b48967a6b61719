/* SPDX-License-Identifier: Apache-2.0 */
#include "ch/cmdline.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 24

/* A value inside "key=value,key=value": ',' would start a new key. */
static bool is_kv_safe(const char *s)
{
	return s && *s && !strchr(s, ',') && !strchr(s, '\n');
}

static bool is_path(const char *s)
{
	return s && s[0] == '/' && !strchr(s, '\n');
}

int ch_cmdline_build(const ch_launch_t *l, char ***ret_argv)
{
	char cpus[32], memory[48], api[4200], serial[4200], vsock[4300];
	const char *args[MAX_ARGS];
	size_t n = 0, total = 0;
	char **argv, *p;

	if (!l || !l->binary || !*l->binary || !is_path(l->kernel) || !is_path(l->api_socket) ||
	    !is_kv_safe(l->api_socket) || !is_path(l->serial_socket) || !is_kv_safe(l->serial_socket) ||
	    !is_path(l->vsock_socket) || !is_kv_safe(l->vsock_socket) || (l->initramfs && !is_path(l->initramfs)))
		return -EINVAL;
	if (l->vcpus < 1 || l->vcpus > 256 || l->memory_mib < 1 || l->memory_mib > (UINT64_C(1) << 32) || l->cid < 3)
		return -EINVAL;
	if (snprintf(api, sizeof(api), "path=%s", l->api_socket) >= (int)sizeof(api) ||
	    snprintf(serial, sizeof(serial), "socket=%s", l->serial_socket) >= (int)sizeof(serial) ||
	    snprintf(vsock, sizeof(vsock), "cid=%" PRIu32 ",socket=%s", l->cid, l->vsock_socket) >= (int)sizeof(vsock))
		return -ENAMETOOLONG;
	snprintf(cpus, sizeof(cpus), "boot=%u", l->vcpus);
	snprintf(memory, sizeof(memory), "size=%" PRIu64 "M", l->memory_mib);

	args[n++] = l->binary;
	args[n++] = "--api-socket";
	args[n++] = api;
	args[n++] = "--kernel";
	args[n++] = l->kernel;
	if (l->initramfs) {
		args[n++] = "--initramfs";
		args[n++] = l->initramfs;
	}
	if (l->cmdline) {
		args[n++] = "--cmdline";
		args[n++] = l->cmdline;
	}
	args[n++] = "--cpus";
	args[n++] = cpus;
	args[n++] = "--memory";
	args[n++] = memory;
	args[n++] = "--serial";
	args[n++] = serial;
	/* The virtio console stays off: the kernel's console is the serial port. */
	args[n++] = "--console";
	args[n++] = "off";
	args[n++] = "--vsock";
	args[n++] = vsock;

	/* One allocation: the pointer array, then the strings. */
	for (size_t i = 0; i < n; i++)
		total += strlen(args[i]) + 1;
	argv = malloc((n + 1) * sizeof(char *) + total);
	if (!argv)
		return -ENOMEM;
	p = (char *)(argv + n + 1);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(args[i]) + 1;
		memcpy(p, args[i], len);
		argv[i] = p;
		p += len;
	}
	argv[n] = NULL;
	*ret_argv = argv;
	return 0;
}
