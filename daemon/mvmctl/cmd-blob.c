/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmctl blob put/ls/rm over compute.blob.*. A put sends the file's
 * content in the request when it fits one request line, so it works for
 * any client that may use the socket and for files mvmd cannot see (the
 * unit's PrivateTmp hides the caller's /tmp); a larger file is sent as
 * its absolute path, which mvmd streams itself (root or mvmd's user only,
 * docs/rpc-methods.md).
 */
#include "mvmctl.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/text.h"

/* Base64 of this much stays well under mvmd's 1 MiB request line. */
#define BLOB_INLINE_MAX (512 * 1024)

static int blob_put(ctl_t *c, int argc, char **argv)
{
	enum { O_KIND = 'k', O_EXPECT = 'x', O_PATH = 256, O_DATA };
	static const struct option opts[] = {
		{ "kind", required_argument, NULL, O_KIND },
		{ "expect", required_argument, NULL, O_EXPECT },
		{ "path", no_argument, NULL, O_PATH },
		{ "data", no_argument, NULL, O_DATA },
		{ NULL, 0, NULL, 0 },
	};
	json_object *p = json_object_new_object(), *res = NULL;
	int opt, r, how = 0; /* 0 automatic, O_PATH, O_DATA */
	const char *file;
	struct stat st;

	while ((opt = getopt_long(argc, argv, "k:x:", opts, NULL)) != -1) {
		if (opt == O_KIND || opt == O_EXPECT) {
			json_object_object_add(p, opt == O_KIND ? "kind" : "expect", json_object_new_string(optarg));
		} else if (opt == O_PATH || opt == O_DATA) {
			how = opt;
		} else {
			json_object_put(p);
			return CTL_ERR_USAGE;
		}
	}
	if (optind + 1 != argc) {
		json_object_put(p);
		return ctl_usage_error("usage: mvmctl blob put FILE|- [--kind wasm] [--expect HASH] [--path|--data]");
	}
	file = argv[optind];
	if (strcmp(file, "-") == 0 && how == O_PATH) {
		json_object_put(p);
		return ctl_usage_error("blob put: --path needs a FILE, not stdin");
	}
	if (how == 0)
		how = strcmp(file, "-") == 0 || (stat(file, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= BLOB_INLINE_MAX)
			      ? O_DATA : O_PATH;
	if (how == O_PATH) {
		char abs[PATH_MAX];
		if (!realpath(file, abs)) {
			fprintf(stderr, "mvmctl: blob put: %s: %m\n", file);
			json_object_put(p);
			return CTL_ERR_CONNECT;
		}
		json_object_object_add(p, "path", json_object_new_string(abs));
	} else {
		char *raw = NULL, *b64 = NULL;
		size_t len = 0, blen = 0;
		r = ctl_read_file(file, BLOB_INLINE_MAX, &raw, &len);
		if (r == 0)
			r = base64_encode(raw, len, &b64, &blen);
		free(raw);
		if (r < 0) {
			fprintf(stderr, "mvmctl: blob put: %s: %s%s\n", file, strerror(-r),
				r == -E2BIG ? " (over 512 KiB: give a file mvmd can read, it is sent by path)" : "");
			json_object_put(p);
			return CTL_ERR_CONNECT;
		}
		json_object_object_add(p, "data", json_object_new_string_len(b64, (int)blen));
		free(b64);
	}
	r = ctl_connect(c);
	if (r != CTL_OK) {
		json_object_put(p);
		return r;
	}
	r = ctl_call(c, "compute.blob.put", p, &res, NULL);
	if (r != CTL_OK)
		return r;
	if (c->json)
		ctl_print_json(res, false);
	else
		printf("%s\n", ctl_str(res, "hash"));
	json_object_put(res);
	return CTL_OK;
}

/* Every page of compute.blob.list (--json: each page's raw result). */
static int blob_ls(ctl_t *c, int argc, char **argv)
{
	static const char *const hdr[] = { "HASH", "SIZE", "CREATED" };
	char *after = NULL;
	ctl_table_t *t = NULL;
	int r;

	if (argc != 1)
		return ctl_usage_error("usage: mvmctl blob ls");
	r = ctl_connect(c);
	if (r != CTL_OK)
		return r;
	if (!c->json)
		t = ctl_table_new(3, hdr);
	for (;;) {
		json_object *p = json_object_new_object(), *res = NULL, *blobs = NULL;
		if (after)
			json_object_object_add(p, "after", json_object_new_string(after));
		free(after);
		after = NULL;
		r = ctl_call(c, "compute.blob.list", p, &res, NULL);
		if (r != CTL_OK)
			break;
		if (c->json)
			ctl_print_json(res, false);
		json_object_object_get_ex(res, "blobs", &blobs);
		for (size_t i = 0; t && blobs && i < json_object_array_length(blobs); i++) {
			json_object *b = json_object_array_get_idx(blobs, i);
			const char *row[] = { ctl_str(b, "hash"), ctl_str(b, "size"), ctl_str(b, "created") };
			ctl_table_add(t, row);
		}
		if (json_object_get_boolean(json_object_object_get(res, "more")) && ctl_has(res, "next"))
			after = strdup(ctl_str(res, "next"));
		json_object_put(res);
		if (!after)
			break;
	}
	ctl_table_print(t);
	ctl_table_free(t);
	return r;
}

static int blob_rm(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	json_object *p = json_object_new_object(), *res = NULL;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (opt != 'f') {
			json_object_put(p);
			return CTL_ERR_USAGE;
		}
		json_object_object_add(p, "force", json_object_new_boolean(1));
	}
	if (optind + 1 != argc) {
		json_object_put(p);
		return ctl_usage_error("usage: mvmctl blob rm HASH [--force]");
	}
	json_object_object_add(p, "hash", json_object_new_string(argv[optind]));
	r = ctl_connect(c);
	if (r != CTL_OK) {
		json_object_put(p);
		return r;
	}
	r = ctl_call(c, "compute.blob.remove", p, &res, NULL);
	if (r != CTL_OK)
		return r;
	if (c->json)
		ctl_print_json(res, false);
	else
		printf("removed %s\n", ctl_str(res, "hash"));
	json_object_put(res);
	return CTL_OK;
}

int ctl_cmd_blob(ctl_t *c, int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage_error("usage: mvmctl blob put|ls|rm ...");
	optind = 0;
	if (strcmp(argv[1], "put") == 0)
		return blob_put(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "ls") == 0 || strcmp(argv[1], "list") == 0)
		return blob_ls(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "rm") == 0)
		return blob_rm(c, argc - 1, argv + 1);
	return ctl_usage_error("blob: unknown command '%s' (put, ls, rm)", argv[1]);
}
