/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmctl exec and call. exec is compute.vm.exec with stdout and stderr
 * asked for in base64, so the command's bytes reach mvmctl's stdout and
 * stderr unchanged, and mvmctl exits with the command's status as a
 * shell would report it (128+N for signal N, 124 after its timeout, as
 * timeout(1)); its own failures are 255, as ssh's are, so they cannot
 * pass for a command's 1 or 2.
 */
#include "mvmctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/io.h"
#include "util/text.h"

/* The most compute.vm.exec takes as stdin (decoded). */
#define EXEC_STDIN_MAX (64 * 1024)

/* Read all of fd, at most max bytes (-E2BIG beyond). */
static int read_all(int fd, size_t max, char **ret, size_t *ret_len)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			char *b = realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				return -ENOMEM;
			}
			buf = b;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;
			free(buf);
			return e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			free(buf);
			return -E2BIG;
		}
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int ctl_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = read_all(fd, max, ret, ret_len);
	if (fd > 0)
		close(fd);
	return r;
}

int ctl_write_b64(json_object *res, const char *key, int fd)
{
	const char *text = ctl_str(res, key);
	void *raw = NULL;
	size_t len = 0;
	int r = base64_decode(text, strlen(text), &raw, &len);

	if (r == 0)
		r = write_all(fd, raw, len);
	free(raw);
	return r;
}

int ctl_cmd_exec(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stdin", no_argument, NULL, 'i' },
		{ "env", required_argument, NULL, 'e' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "max-output-bytes", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	json_object *p = json_object_new_object(), *env = NULL, *args, *res = NULL;
	bool send_stdin = false;
	char *end;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "ie:t:o:", opts, NULL)) != -1) {
		if (opt == 'i') {
			send_stdin = true;
		} else if (opt == 'e') {
			const char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg)
				goto usage;
			if (!env)
				json_object_object_add(p, "env", env = json_object_new_object());
			char *k = strndup(optarg, (size_t)(eq - optarg));
			json_object_object_add(env, k, json_object_new_string(eq + 1));
			free(k);
		} else if ((opt == 't' || opt == 'o') && optarg[0] != '-') {
			long long v = strtoll(optarg, &end, 10);
			if (*end || !*optarg)
				goto usage;
			json_object_object_add(p, opt == 't' ? "timeout_ms" : "max_output_bytes", json_object_new_int64(v));
		} else {
			goto usage;
		}
	}
	/* exec [OPTIONS] ID [OPTIONS] -- ARGV...: getopt moved the options
	 * before the words and consumed the "--", after which nothing is an
	 * option of mvmctl's. */
	if (argc - optind < 2)
		goto usage;
	json_object_object_add(p, "id", json_object_new_string(argv[optind]));
	args = json_object_new_array();
	for (int i = optind + 1; i < argc; i++)
		json_object_array_add(args, json_object_new_string(argv[i]));
	json_object_object_add(p, "argv", args);
	if (json_object_array_length(args) == 0)
		goto usage;
	if (send_stdin) {
		char *in = NULL, *b64 = NULL;
		size_t len = 0, blen = 0;
		r = read_all(0, EXEC_STDIN_MAX, &in, &len);
		if (r < 0) {
			fprintf(stderr, "mvmctl: exec: cannot read stdin: %s%s\n", strerror(-r),
				r == -E2BIG ? " (compute.vm.exec takes at most 64 KiB)" : "");
			json_object_put(p);
			return CTL_ERR_EXEC;
		}
		r = base64_encode(in, len, &b64, &blen);
		free(in);
		if (r < 0) {
			json_object_put(p);
			return CTL_ERR_EXEC;
		}
		json_object_object_add(p, "stdin", json_object_new_string_len(b64, (int)blen));
		free(b64);
	}
	if (!c->json)
		json_object_object_add(p, "encoding", json_object_new_string("base64"));
	if (ctl_connect(c) != CTL_OK) {
		json_object_put(p);
		return CTL_ERR_EXEC;
	}
	if (ctl_call(c, "compute.vm.exec", p, &res, NULL) != CTL_OK)
		return CTL_ERR_EXEC;
	if (c->json) {
		ctl_print_json(res, false);
	} else if (ctl_write_b64(res, "stdout", 1) < 0 || ctl_write_b64(res, "stderr", 2) < 0) {
		json_object_put(res);
		return CTL_ERR_EXEC;
	}
	if (json_object_get_boolean(json_object_object_get(res, "truncated")))
		fprintf(stderr, "mvmctl: exec: output truncated (--max-output-bytes)\n");
	if (json_object_get_boolean(json_object_object_get(res, "timed_out"))) {
		fprintf(stderr, "mvmctl: exec: the command timed out and was killed\n");
		r = 124;
	} else if (ctl_has(res, "signal")) {
		r = 128 + (int)(ctl_int(res, "signal") & 127);
	} else {
		r = (int)(ctl_int(res, "exit_code") & 255);
	}
	json_object_put(res);
	return r;
usage:
	json_object_put(p);
	ctl_usage_error("usage: mvmctl exec ID [-i] [-e NAME=VALUE]... [--timeout-ms N] -- ARGV...");
	return CTL_ERR_EXEC;
}

/* call METHOD [JSON|-]: any method, its result as JSON (pretty for
 * people, one line with --json). */
int ctl_cmd_call(ctl_t *c, int argc, char **argv)
{
	json_object *params = NULL, *res = NULL;
	char *text = NULL;
	int r;

	if (argc < 2 || argc > 3 || argv[1][0] == '-')
		return ctl_usage_error("usage: mvmctl call METHOD [JSON|-]");
	if (argc == 3) {
		const char *src = argv[2];
		size_t len;
		if (strcmp(src, "-") == 0) {
			r = read_all(0, 64 << 20, &text, &len);
			if (r < 0) {
				fprintf(stderr, "mvmctl: call: cannot read stdin: %s\n", strerror(-r));
				return CTL_ERR_CONNECT;
			}
			char *t = realloc(text, len + 1);
			if (!t) {
				free(text);
				return CTL_ERR_CONNECT;
			}
			text = t;
			text[len] = '\0';
			src = text;
		}
		enum json_tokener_error jerr;
		params = json_tokener_parse_verbose(src, &jerr);
		free(text);
		if (!params)
			return ctl_usage_error("call: the params are not JSON: %s", json_tokener_error_desc(jerr));
	}
	r = ctl_connect(c);
	if (r != CTL_OK) {
		json_object_put(params);
		return r;
	}
	r = ctl_call(c, argv[1], params, &res, NULL);
	if (r != CTL_OK)
		return r;
	ctl_print_json(res, !c->json);
	json_object_put(res);
	return CTL_OK;
}
