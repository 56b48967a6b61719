/* SPDX-License-Identifier: Apache-2.0 */
#include "ch/cmdline.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 4

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
	char api[4200];
	const char *args[MAX_ARGS];
	size_t n = 0, total = 0;
	char **argv, *p;

	if (!l || !l->binary || !*l->binary || !is_path(l->api_socket) || !is_kv_safe(l->api_socket))
		return -EINVAL;
	if (snprintf(api, sizeof(api), "path=%s", l->api_socket) >= (int)sizeof(api))
		return -ENAMETOOLONG;

	/* The VM itself (kernel, command line, sizes, devices) goes through
	 * PUT vm.create: nothing of it shows in /proc/PID/cmdline. */
	args[n++] = l->binary;
	args[n++] = "--api-socket";
	args[n++] = api;
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
