/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The actor commands (docs/actors.md). mvmctl send: compute.vm.send. The
 * message goes as base64 and the answer is asked for in base64, so any
 * bytes pass both ways unchanged: the answer is written to stdout as the
 * actor made it. mvmctl interface list: compute.interface.list.
 */
#include "mvmctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/io.h"
#include "util/text.h"

/* The most compute.vm.send takes (bytes). */
#define SEND_MAX 65536

int ctl_cmd_send(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout-ms", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	json_object *p = json_object_new_object(), *res = NULL;
	char *msg = NULL, *b64 = NULL, *end;
	size_t len = 0, blen = 0;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
		long long v;
		if (opt != 't' || optarg[0] == '-')
			goto usage;
		v = strtoll(optarg, &end, 10);
		if (*end || !*optarg)
			goto usage;
		json_object_object_add(p, "timeout_ms", json_object_new_int64(v));
	}
	if (argc - optind < 1 || argc - optind > 2)
		goto usage;
	json_object_object_add(p, "id", json_object_new_string(argv[optind]));
	if (argc - optind == 2 && strcmp(argv[optind + 1], "-") != 0) {
		msg = strdup(argv[optind + 1]);
		len = msg ? strlen(msg) : 0;
		r = msg ? 0 : -ENOMEM;
	} else {
		r = ctl_read_file("-", SEND_MAX, &msg, &len);
	}
	if (r < 0) {
		fprintf(stderr, "mvmctl: send: cannot read the message: %s%s\n", strerror(-r),
			r == -E2BIG ? " (a message is at most 64 KiB)" : "");
		json_object_put(p);
		return CTL_ERR_CONNECT;
	}
	r = base64_encode(msg, len, &b64, &blen);
	free(msg);
	if (r < 0) {
		json_object_put(p);
		return CTL_ERR_CONNECT;
	}
	json_object_object_add(p, "data_base64", json_object_new_string_len(b64, (int)blen));
	free(b64);
	if (ctl_connect(c) != CTL_OK) {
		json_object_put(p);
		return CTL_ERR_CONNECT;
	}
	r = ctl_call(c, "compute.vm.send", p, &res, NULL);
	if (r != CTL_OK)
		return r;
	if (c->json) {
		ctl_print_json(res, false);
	} else {
		const char *text = ctl_str(res, "data");
		void *raw = NULL;
		size_t n = 0;
		r = base64_decode(text, strlen(text), &raw, &n);
		if (r == 0)
			r = write_all(1, raw, n);
		free(raw);
		if (r < 0) {
			json_object_put(res);
			return CTL_ERR_CONNECT;
		}
	}
	json_object_put(res);
	return CTL_OK;
usage:
	json_object_put(p);
	return ctl_usage_error("usage: mvmctl send ID [--timeout-ms N] [MESSAGE|-]");
}

/* Who handles which interface: a VM (its id and state) or a connection. */
static int interface_list(ctl_t *c, int argc)
{
	static const char *const hdr[] = { "INTERFACE", "HANDLER", "ID", "STATE" };
	json_object *res = NULL, *ifs = NULL;
	int r;

	if (argc != 1)
		return ctl_usage_error("usage: mvmctl interface list");
	r = ctl_connect(c);
	if (r != CTL_OK)
		return r;
	r = ctl_call(c, "compute.interface.list", json_object_new_object(), &res, NULL);
	if (r != CTL_OK)
		return r;
	if (c->json) {
		ctl_print_json(res, false);
		json_object_put(res);
		return CTL_OK;
	}
	ctl_table_t *t = ctl_table_new(4, hdr);
	json_object_object_get_ex(res, "interfaces", &ifs);
	for (size_t i = 0; t && ifs && i < json_object_array_length(ifs); i++) {
		json_object *e = json_object_array_get_idx(ifs, i);
		const char *row[] = { ctl_str(e, "interface"), ctl_str(e, "handler"),
				      ctl_has(e, "id") ? ctl_str(e, "id") : "-", ctl_has(e, "state") ? ctl_str(e, "state") : "-" };
		ctl_table_add(t, row);
	}
	ctl_table_print(t);
	ctl_table_free(t);
	json_object_put(res);
	return CTL_OK;
}

int ctl_cmd_interface(ctl_t *c, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "ls") == 0))
		return interface_list(c, argc - 1);
	return ctl_usage_error("usage: mvmctl interface list");
}
