/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmctl device add-disk/add-net/rm over compute.vm.add-disk, add-net and
 * remove-device: hotplug on a Running ch VM (docs/rpc-methods.md). Prints
 * the device's id (or, with --json, the whole result).
 */
#include "mvmctl.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int call_device(ctl_t *c, const char *method, json_object *p)
{
	json_object *res = NULL, *dev = NULL;
	int r = ctl_connect(c);

	if (r != CTL_OK) {
		json_object_put(p);
		return r;
	}
	r = ctl_call(c, method, p, &res, NULL);
	if (r != CTL_OK)
		return r;
	if (c->json) {
		ctl_print_json(res, false);
	} else {
		(void)json_object_object_get_ex(res, "device", &dev);
		printf("%s\n", ctl_str(dev, "id"));
	}
	json_object_put(res);
	return CTL_OK;
}

/* add-disk ID PATH [--readonly] [--serial S]; add-net ID TAP [--mac MAC] */
static int device_add(ctl_t *c, int argc, char **argv, bool net)
{
	static const struct option opts[] = {
		{ "readonly", no_argument, NULL, 'r' },
		{ "serial", required_argument, NULL, 's' },
		{ "mac", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	json_object *p = json_object_new_object();
	int opt;

	while ((opt = getopt_long(argc, argv, net ? "m:" : "rs:", opts, NULL)) != -1) {
		if (!net && opt == 'r') {
			json_object_object_add(p, "readonly", json_object_new_boolean(1));
		} else if (!net && opt == 's') {
			json_object_object_add(p, "serial", json_object_new_string(optarg));
		} else if (net && opt == 'm') {
			json_object_object_add(p, "mac", json_object_new_string(optarg));
		} else {
			json_object_put(p);
			return ctl_usage_error("usage: mvmctl device %s", net ? "add-net ID TAP [--mac MAC]"
									 : "add-disk ID PATH [--readonly] [--serial S]");
		}
	}
	if (optind + 2 != argc) {
		json_object_put(p);
		return ctl_usage_error("usage: mvmctl device %s", net ? "add-net ID TAP [--mac MAC]"
								 : "add-disk ID PATH [--readonly] [--serial S]");
	}
	json_object_object_add(p, "id", json_object_new_string(argv[optind]));
	json_object_object_add(p, net ? "tap" : "path", json_object_new_string(argv[optind + 1]));
	return call_device(c, net ? "compute.vm.add-net" : "compute.vm.add-disk", p);
}

static int device_rm(ctl_t *c, int argc, char **argv)
{
	json_object *p;

	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
		return ctl_usage_error("usage: mvmctl device rm ID DEVICE");
	p = json_object_new_object();
	json_object_object_add(p, "id", json_object_new_string(argv[1]));
	json_object_object_add(p, "device", json_object_new_string(argv[2]));
	return call_device(c, "compute.vm.remove-device", p);
}

int ctl_cmd_device(ctl_t *c, int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage_error("usage: mvmctl device add-disk|add-net|rm ...");
	optind = 0;
	if (strcmp(argv[1], "add-disk") == 0)
		return device_add(c, argc - 1, argv + 1, false);
	if (strcmp(argv[1], "add-net") == 0)
		return device_add(c, argc - 1, argv + 1, true);
	if (strcmp(argv[1], "rm") == 0)
		return device_rm(c, argc - 1, argv + 1);
	return ctl_usage_error("device: unknown command '%s' (add-disk, add-net, rm)", argv[1]);
}
