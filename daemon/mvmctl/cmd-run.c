/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmctl run: compute.vm.run, a Wasm module by hash run once in a fresh
 * micro-VM. As exec does, it asks for stdout and stderr in base64 so the
 * bytes reach mvmctl's stdout and stderr unchanged, and exits with the
 * workload's status (its code's low 8 bits; 124 after its timeout, as
 * timeout(1); 134 when it ended without an exit code: a trap or a fault,
 * its cause on stderr); mvmctl's own failures are 255.
 */
#include "mvmctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

#define RUN_STDIN_MAX (64 * 1024)

static int add_stdin(json_object *p)
{
	char *in = NULL, *b64 = NULL;
	size_t len = 0, blen = 0;
	int r = ctl_read_file("-", RUN_STDIN_MAX, &in, &len);

	if (r < 0) {
		fprintf(stderr, "mvmctl: run: cannot read stdin: %s%s\n", strerror(-r),
			r == -E2BIG ? " (compute.vm.run takes at most 64 KiB)" : "");
		return r;
	}
	r = base64_encode(in, len, &b64, &blen);
	free(in);
	if (r < 0)
		return r;
	json_object_object_add(p, "stdin", json_object_new_string_len(b64, (int)blen));
	free(b64);
	return 0;
}

int ctl_cmd_run(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stdin", no_argument, NULL, 'i' },
		{ "env", required_argument, NULL, 'e' },
		{ "cap", required_argument, NULL, 'c' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "max-output-bytes", required_argument, NULL, 'o' },
		{ "memory-mib", required_argument, NULL, 'm' },
		{ "reuse-key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	json_object *p = json_object_new_object(), *w = json_object_new_object(), *env = NULL, *caps = NULL, *res = NULL;
	bool send_stdin = false;
	char *end;
	int opt, r;

	json_object_object_add(p, "workload", w);
	while ((opt = getopt_long(argc, argv, "ie:c:t:o:m:k:", opts, NULL)) != -1) {
		if (opt == 'i') {
			send_stdin = true;
		} else if (opt == 'e') {
			const char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg)
				goto usage;
			if (!env)
				json_object_object_add(w, "env", env = json_object_new_object());
			char *k = strndup(optarg, (size_t)(eq - optarg));
			json_object_object_add(env, k, json_object_new_string(eq + 1));
			free(k);
		} else if (opt == 'c') {
			if (!caps)
				json_object_object_add(w, "capabilities", caps = json_object_new_array());
			json_object_array_add(caps, json_object_new_string(optarg));
		} else if (opt == 'k') {
			json_object_object_add(p, "reuse_key", json_object_new_string(optarg));
		} else if ((opt == 't' || opt == 'o' || opt == 'm') && optarg[0] != '-') {
			long long v = strtoll(optarg, &end, 10);
			if (*end || !*optarg)
				goto usage;
			json_object_object_add(p, opt == 't' ? "timeout_ms" : opt == 'o' ? "max_output_bytes" : "memory_mib",
					       json_object_new_int64(v));
		} else {
			goto usage;
		}
	}
	/* run [OPTIONS] HASH [-- ARGS...]: the module's argv after "--". */
	if (argc - optind < 1)
		goto usage;
	json_object_object_add(w, "hash", json_object_new_string(argv[optind]));
	if (argc - optind > 1) {
		json_object *args = json_object_new_array();
		for (int i = optind + 1; i < argc; i++)
			json_object_array_add(args, json_object_new_string(argv[i]));
		json_object_object_add(w, "args", args);
	}
	if (send_stdin && add_stdin(p) < 0) {
		json_object_put(p);
		return CTL_ERR_EXEC;
	}
	if (!c->json)
		json_object_object_add(p, "encoding", json_object_new_string("base64"));
	if (ctl_connect(c) != CTL_OK) {
		json_object_put(p);
		return CTL_ERR_EXEC;
	}
	if (ctl_call(c, "compute.vm.run", p, &res, NULL) != CTL_OK)
		return CTL_ERR_EXEC;
	if (c->json) {
		ctl_print_json(res, false);
	} else if (ctl_write_b64(res, "stdout", 1) < 0 || ctl_write_b64(res, "stderr", 2) < 0) {
		json_object_put(res);
		return CTL_ERR_EXEC;
	}
	if (json_object_get_boolean(json_object_object_get(res, "truncated")))
		fprintf(stderr, "mvmctl: run: output truncated (--max-output-bytes)\n");
	if (json_object_get_boolean(json_object_object_get(res, "timed_out"))) {
		fprintf(stderr, "mvmctl: run: the workload timed out and was killed\n");
		r = 124;
	} else if (json_object_get_type(json_object_object_get(res, "exit_code")) != json_type_int) {
		fprintf(stderr, "mvmctl: run: %s\n", ctl_str(res, "cause"));
		r = 134;
	} else {
		r = (int)(ctl_int(res, "exit_code") & 255);
	}
	json_object_put(res);
	return r;
usage:
	json_object_put(p);
	ctl_usage_error("usage: mvmctl run HASH [-i] [-e NAME=VALUE]... [-c CAP]... [--timeout-ms N] "
			"[--max-output-bytes N] [--memory-mib N] [--reuse-key KEY] [-- ARGS...]");
	return CTL_ERR_EXEC;
}
