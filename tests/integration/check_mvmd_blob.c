/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.blob.* through the real mvmd on temporary directories, over its
 * real socket: put/stat/list/remove, idempotency, hash syntax, expect,
 * Wasm validation, references from VMs, restarts, the request size cap,
 * and that no error leaves a file (or an fd) behind.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvmtest.h"
#include "util/text.h"
#include "mvmt-main.h"

/* sha256("hello"), sha256("") */
#define HELLO_REF "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define HELLO_HEX "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define EMPTY_REF "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static mvmt_daemon_t d;
static int fd;

static void setup(void)
{
	mvmt_daemon_init(&d);
	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);
}

static void teardown(void)
{
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_cleanup(&d);
}

/* Entries in STATE_DIR/blobs/sha256 (all, and temp files). */
static size_t blob_entries(size_t *ret_tmp)
{
	char path[256];
	DIR *dd;
	struct dirent *de;
	size_t n = 0, tmp = 0;

	snprintf(path, sizeof(path), "%s/blobs/sha256", d.state);
	dd = opendir(path);
	ck_assert_ptr_nonnull(dd);
	while ((de = readdir(dd))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		n++;
		if (!strncmp(de->d_name, ".tmp.", 5))
			tmp++;
	}
	closedir(dd);
	if (ret_tmp)
		*ret_tmp = tmp;
	return n;
}

static void assert_store_empty(void)
{
	ck_assert_uint_eq(blob_entries(NULL), 0);
}

static char *b64(const void *data, size_t len)
{
	char *out;
	size_t n;
	ck_assert_int_eq(base64_encode(data, len, &out, &n), 0);
	return out;
}

/* {"data": base64(bytes), extra...} */
static json_object *put_bytes(const void *data, size_t len, const char *extra)
{
	char *enc = b64(data, len);
	size_t cap = strlen(enc) + 512;
	char *params = malloc(cap);
	snprintf(params, cap, "{\"data\":\"%s\"%s%s}", enc, extra ? "," : "", extra ? extra : "");
	json_object *resp = mvmt_call(fd, "compute.blob.put", params);
	free(params);
	free(enc);
	return resp;
}

static int resp_code(json_object *resp)
{
	ck_assert_msg(mvmt_get(resp, "error"), "expected an error: %s", json_object_to_json_string(resp));
	return (int)mvmt_int(resp, "error.code");
}

/* sha256sum(1) of a file: an oracle independent of mvmd's code. */
static void sha256sum(const char *path, char out[72])
{
	char cmd[512], hex[80] = "";
	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(fscanf(p, "%64s", hex), 1);
	pclose(p);
	snprintf(out, 72, "sha256:%s", hex);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(f, 0);
	ck_assert_int_eq(write(f, data, len), (ssize_t)len);
	close(f);
}

START_TEST(test_put_stat_list_remove)
{
	json_object *r;
	char path[256];
	struct stat st;

	r = mvmt_result(fd, "compute.blob.put", "{\"data\":\"aGVsbG8=\"}"); /* "hello" */
	ck_assert_str_eq(mvmt_str(r, "hash"), HELLO_REF);
	ck_assert_int_eq(mvmt_int(r, "size"), 5);
	ck_assert(json_object_get_boolean(mvmt_get(r, "created")));
	json_object_put(r);

	/* on disk: named by the hash, 0400, the bytes */
	snprintf(path, sizeof(path), "%s/blobs/sha256/" HELLO_HEX, d.state);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0400);
	ck_assert_int_eq(st.st_size, 5);

	/* idempotent */
	r = mvmt_result(fd, "compute.blob.put", "{\"data\":\"aGVsbG8=\",\"expect\":\"" HELLO_REF "\"}");
	ck_assert_str_eq(mvmt_str(r, "hash"), HELLO_REF);
	ck_assert(!json_object_get_boolean(mvmt_get(r, "created")));
	json_object_put(r);
	r = mvmt_result(fd, "compute.blob.put", "{\"data\":\"\"}");
	ck_assert_str_eq(mvmt_str(r, "hash"), EMPTY_REF);
	ck_assert_int_eq(mvmt_int(r, "size"), 0);
	json_object_put(r);
	ck_assert_uint_eq(blob_entries(NULL), 2);

	r = mvmt_result(fd, "compute.blob.stat", "{\"hash\":\"" HELLO_REF "\"}");
	ck_assert_str_eq(mvmt_str(r, "hash"), HELLO_REF);
	ck_assert_int_eq(mvmt_int(r, "size"), 5);
	ck_assert_int_eq(strlen(mvmt_str(r, "created")), strlen("2026-11-21T20:26:23.123456Z"));
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "used_by")), 0);
	ck_assert_ptr_null(mvmt_get(r, "verified"));
	json_object_put(r);
	r = mvmt_result(fd, "compute.blob.stat", "{\"hash\":\"" HELLO_REF "\",\"verify\":true}");
	ck_assert(json_object_get_boolean(mvmt_get(r, "verified")));
	json_object_put(r);

	r = mvmt_result(fd, "compute.blob.list", NULL);
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "blobs")), 2);
	/* sorted by hash: 2cf2... before e3b0... */
	ck_assert_str_eq(mvmt_str(r, "blobs.0.hash"), HELLO_REF);
	ck_assert_str_eq(mvmt_str(r, "blobs.1.hash"), EMPTY_REF);
	ck_assert_int_eq(mvmt_int(r, "count"), 2);
	ck_assert_int_eq(mvmt_int(r, "bytes"), 5);
	ck_assert(!json_object_get_boolean(mvmt_get(r, "more")));
	json_object_put(r);
	r = mvmt_result(fd, "compute.blob.list", "{\"limit\":1}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "blobs")), 1);
	ck_assert(json_object_get_boolean(mvmt_get(r, "more")));
	ck_assert_str_eq(mvmt_str(r, "next"), HELLO_REF);
	json_object_put(r);
	r = mvmt_result(fd, "compute.blob.list", "{\"limit\":1,\"after\":\"" HELLO_REF "\"}");
	ck_assert_str_eq(mvmt_str(r, "blobs.0.hash"), EMPTY_REF);
	ck_assert(!json_object_get_boolean(mvmt_get(r, "more")));
	json_object_put(r);

	r = mvmt_result(fd, "compute.node.info", NULL);
	ck_assert_int_eq(mvmt_int(r, "blobs.count"), 2);
	ck_assert_int_eq(mvmt_int(r, "blobs.bytes"), 5);
	json_object_put(r);

	r = mvmt_result(fd, "compute.blob.remove", "{\"hash\":\"" HELLO_REF "\"}");
	ck_assert(json_object_get_boolean(mvmt_get(r, "removed")));
	json_object_put(r);
	ck_assert_int_eq(lstat(path, &st), -1);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.blob.stat", "{\"hash\":\"" HELLO_REF "\"}"), -32001);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.blob.remove", "{\"hash\":\"" HELLO_REF "\"}"), -32001);
	r = mvmt_result(fd, "compute.node.info", NULL);
	ck_assert_int_eq(mvmt_int(r, "blobs.count"), 1);
	ck_assert_int_eq(mvmt_int(r, "blobs.bytes"), 0);
	json_object_put(r);
}
END_TEST

START_TEST(test_bad_hash_strings)
{
	static const char *const bad[] = {
		"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",          /* no prefix */
		"sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",   /* uppercase */
		"SHA256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",   /* uppercase prefix */
		"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982",    /* 63 */
		"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98240",  /* 65 */
		"sha256:2cf24dba",                                                            /* short */
		"sha256:../../etc",                                                           /* traversal */
		"sha256:../../../../../../../../../../../../../../../../../../etc/passwd",
		"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982g",   /* not hex */
		"sha512:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
		"sha256:",
		"",
	};
	static const char *const methods[] = { "compute.blob.stat", "compute.blob.remove" };
	char params[512];

	json_object_put(mvmt_result(fd, "compute.blob.put", "{\"data\":\"aGVsbG8=\"}"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (size_t m = 0; m < 2; m++) {
			snprintf(params, sizeof(params), "{\"hash\":\"%s\"}", bad[i]);
			json_object *resp = mvmt_call(fd, methods[m], params);
			ck_assert_int_eq(resp_code(resp), -32602);
			ck_assert_str_eq(mvmt_str(resp, "error.data.param"), "hash");
			json_object_put(resp);
		}
		snprintf(params, sizeof(params), "{\"data\":\"aGVsbG8=\",\"expect\":\"%s\"}", bad[i]);
		json_object *resp = mvmt_call(fd, "compute.blob.put", params);
		ck_assert_int_eq(resp_code(resp), -32602);
		ck_assert_str_eq(mvmt_str(resp, "error.data.param"), "expect");
		json_object_put(resp);
		snprintf(params, sizeof(params), "{\"after\":\"%s\"}", bad[i]);
		ck_assert_int_eq(mvmt_error_code(fd, "compute.blob.list", params), -32602);
	}
	/* not a string at all */
	ck_assert_int_eq(mvmt_error_code(fd, "compute.blob.stat", "{\"hash\":5}"), -32602);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.blob.stat", "{}"), -32602);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.blob.stat", "{\"hash\":\"" HELLO_REF "\",\"x\":1}"), -32602);
	/* the blob is untouched by all of that */
	json_object *r = mvmt_result(fd, "compute.blob.stat", "{\"hash\":\"" HELLO_REF "\",\"verify\":true}");
	ck_assert(json_object_get_boolean(mvmt_get(r, "verified")));
	json_object_put(r);
	ck_assert_uint_eq(blob_entries(NULL), 1);
}
END_TEST

/* Make path a sparse file one byte over the node's blob size limit and
 * check the put is refused with -32005 and the limit. */
static void assert_over_cap_refused(const char *path)
{
	json_object *info = mvmt_result(fd, "compute.node.info", NULL);
	int64_t limit = mvmt_int(info, "blobs.max_blob_bytes");
	json_object_put(info);
	ck_assert_int_eq(truncate(path, (off_t)limit + 1), 0);
	char params[512];
	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", path);
	json_object *resp = mvmt_call(fd, "compute.blob.put", params);
	ck_assert_int_eq(resp_code(resp), -32005);
	ck_assert_int_eq(mvmt_int(resp, "error.data.limit"), limit);
	ck_assert_str_eq(mvmt_str(resp, "error.data.param"), "path");
	json_object_put(resp);
}

START_TEST(test_put_errors_leave_nothing)
{
	json_object *resp;
	char params[512], path[256];

	/* exactly one of data and path */
	ck_assert_int_eq(mvmt_error_code(fd, "compute.blob.put", "{}"), -32602);
	snprintf(params, sizeof(params), "{\"data\":\"aGVsbG8=\",\"path\":\"%s/x\"}", d.dir);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.blob.put", params), -32602);

	/* bad base64 */
	/* ... the last three: not the canonical spelling (bits after the
	 * last byte set: "YQ==" is "a", "YR==" must not be too) */
	static const char *const bad64[] = { "aGVsbG8", "aGVsbG8=\\n", "aGVs bG8=", "a===", "!!!!", "aGVsbG8==",
					     "YR==", "aGVsbG9=", "aGVsbG8hYWJ=" };
	for (size_t i = 0; i < sizeof(bad64) / sizeof(bad64[0]); i++) {
		snprintf(params, sizeof(params), "{\"data\":\"%s\"}", bad64[i]);
		resp = mvmt_call(fd, "compute.blob.put", params);
		ck_assert_int_eq(resp_code(resp), -32602);
		ck_assert_str_eq(mvmt_str(resp, "error.data.param"), "data");
		json_object_put(resp);
	}

	/* expect mismatch: both hashes named, nothing stored */
	resp = mvmt_call(fd, "compute.blob.put", "{\"data\":\"aGVsbG8=\",\"expect\":\"" EMPTY_REF "\"}");
	ck_assert_int_eq(resp_code(resp), -32602);
	ck_assert_str_eq(mvmt_str(resp, "error.data.param"), "expect");
	ck_assert_str_eq(mvmt_str(resp, "error.data.expected"), EMPTY_REF);
	ck_assert_str_eq(mvmt_str(resp, "error.data.actual"), HELLO_REF);
	ck_assert_ptr_nonnull(strstr(mvmt_str(resp, "error.data.reason"), HELLO_REF));
	ck_assert_ptr_nonnull(strstr(mvmt_str(resp, "error.data.reason"), EMPTY_REF));
	json_object_put(resp);
	/* the same through a host file */
	snprintf(path, sizeof(path), "%s/hello", d.dir);
	write_file(path, "hello", 5);
	snprintf(params, sizeof(params), "{\"path\":\"%s\",\"expect\":\"" EMPTY_REF "\"}", path);
	resp = mvmt_call(fd, "compute.blob.put", params);
	ck_assert_int_eq(resp_code(resp), -32602);
	ck_assert_str_eq(mvmt_str(resp, "error.data.actual"), HELLO_REF);
	json_object_put(resp);
	assert_store_empty();

	/* paths: missing, directory, symlink, FIFO (must not hang), device, relative */
	snprintf(params, sizeof(params), "{\"path\":\"%s/missing\"}", d.dir);
	resp = mvmt_call(fd, "compute.blob.put", params);
	ck_assert_int_eq(resp_code(resp), -32001);
	ck_assert_str_eq(mvmt_str(resp, "error.data.param"), "path");
	ck_assert_str_eq(mvmt_str(resp, "error.data.errno"), "ENOENT");
	json_object_put(resp);

	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", d.dir);
	resp = mvmt_call(fd, "compute.blob.put", params);
	ck_assert_int_eq(resp_code(resp), -32602);
	ck_assert_str_eq(mvmt_str(resp, "error.data.errno"), "EISDIR");
	json_object_put(resp);

	char link[256];
	snprintf(link, sizeof(link), "%s/link", d.dir);
	ck_assert_int_eq(symlink(path, link), 0);
	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", link);
	resp = mvmt_call(fd, "compute.blob.put", params);
	ck_assert_int_eq(resp_code(resp), -32602);
	ck_assert_str_eq(mvmt_str(resp, "error.data.errno"), "ELOOP");
	json_object_put(resp);

	char fifo[256];
	snprintf(fifo, sizeof(fifo), "%s/fifo", d.dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", fifo);
	resp = mvmt_call(fd, "compute.blob.put", params);
	ck_assert_int_eq(resp_code(resp), -32602);
	ck_assert_ptr_nonnull(strstr(mvmt_str(resp, "error.data.reason"), "not a regular file"));
	json_object_put(resp);

	/* a socket file: refused as not regular (not -32000 ENXIO from
	 * trying to open it) */
	char sockpath[100];
	snprintf(sockpath, sizeof(sockpath), "%s/sock", d.dir);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sockpath);
	int sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(sfd, 0);
	ck_assert_int_eq(bind(sfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", sockpath);
	resp = mvmt_call(fd, "compute.blob.put", params);
	ck_assert_msg(resp_code(resp) == -32602, "%s", json_object_to_json_string(resp));
	ck_assert_str_eq(mvmt_str(resp, "error.data.param"), "path");
	ck_assert_ptr_nonnull(strstr(mvmt_str(resp, "error.data.reason"), "not a regular file"));
	json_object_put(resp);
	close(sfd);

	/* over the blob size cap (a sparse file): refused before it is read */
	char huge[256];
	snprintf(huge, sizeof(huge), "%s/huge", d.dir);
	write_file(huge, "", 0);
	assert_over_cap_refused(huge);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.blob.put", "{\"path\":\"/dev/zero\"}"), -32602);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.blob.put", "{\"path\":\"relative/file\"}"), -32602);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.blob.put", "{\"path\":\"/dev/zero\",\"kind\":\"elf\"}"), -32602);
	assert_store_empty();

	/* and the good file works afterwards */
	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", path);
	json_object *r = mvmt_result(fd, "compute.blob.put", params);
	ck_assert_str_eq(mvmt_str(r, "hash"), HELLO_REF);
	json_object_put(r);
	ck_assert_uint_eq(blob_entries(NULL), 1);
}
END_TEST

/* () -> i32 { i32.const 42 } exported as "f" */
static const unsigned char good_module[] = {
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,       /* type: () -> i32 */
	0x03, 0x02, 0x01, 0x00,                         /* func: type 0 */
	0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00,       /* export "f" func 0 */
	0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b, /* code: i32.const 42; end */
};
#define GOOD_CONST_OP 31 /* offset of the 0x41 (i32.const) */

START_TEST(test_wasm_kind)
{
	json_object *resp, *r;
	unsigned char bad[sizeof(good_module)];
	char params[512], path[256], want[72];

	/* valid: accepted */
	r = mvmt_result(fd, "compute.blob.put", "{\"data\":\"AGFzbQEAAAA=\",\"kind\":\"wasm\"}");
	ck_assert_int_eq(mvmt_int(r, "size"), 8); /* the empty module is valid */
	json_object_put(r);
	resp = put_bytes(good_module, sizeof(good_module), "\"kind\":\"wasm\"");
	ck_assert_msg(mvmt_get(resp, "result"), "%s", json_object_to_json_string(resp));
	ck_assert_int_eq(mvmt_int(resp, "result.size"), sizeof(good_module));
	json_object_put(resp);

	/* invalid (type error: i64.const where i32 is returned): refused
	 * with the validator's message and the byte offset, nothing stored */
	memcpy(bad, good_module, sizeof(bad));
	ck_assert_int_eq(bad[GOOD_CONST_OP], 0x41);
	bad[GOOD_CONST_OP] = 0x42;
	resp = put_bytes(bad, sizeof(bad), "\"kind\":\"wasm\"");
	ck_assert_int_eq(resp_code(resp), -32602);
	ck_assert_str_eq(mvmt_str(resp, "error.data.param"), "data");
	ck_assert_str_eq(mvmt_str(resp, "error.data.wasm_error"), "invalid");
	int64_t off = mvmt_int(resp, "error.data.offset");
	/* the mismatch is found at the function's end (the validator reports
	 * the offset just past its "end"), after the i64.const */
	ck_assert_int_gt(off, GOOD_CONST_OP);
	ck_assert_int_le(off, sizeof(bad));
	char needle[64];
	snprintf(needle, sizeof(needle), "at byte offset %lld", (long long)off);
	ck_assert_ptr_nonnull(strstr(mvmt_str(resp, "error.data.reason"), needle));
	json_object_put(resp);

	/* malformed: bad magic at offset 0; truncated in the code section */
	memcpy(bad, good_module, sizeof(bad));
	bad[1] = 'x';
	resp = put_bytes(bad, sizeof(bad), "\"kind\":\"wasm\"");
	ck_assert_int_eq(resp_code(resp), -32602);
	ck_assert_str_eq(mvmt_str(resp, "error.data.wasm_error"), "malformed");
	ck_assert_int_eq(mvmt_int(resp, "error.data.offset"), 0);
	json_object_put(resp);
	resp = put_bytes(good_module, sizeof(good_module) - 3, "\"kind\":\"wasm\"");
	ck_assert_int_eq(resp_code(resp), -32602);
	ck_assert_str_eq(mvmt_str(resp, "error.data.wasm_error"), "malformed");
	ck_assert_int_ge(mvmt_int(resp, "error.data.offset"), 26);
	json_object_put(resp);
	ck_assert_uint_eq(blob_entries(NULL), 2);

	/* without kind the same bytes are just bytes */
	resp = put_bytes(bad, sizeof(bad), NULL);
	ck_assert_msg(mvmt_get(resp, "result"), "%s", json_object_to_json_string(resp));
	json_object_put(resp);
	ck_assert_uint_eq(blob_entries(NULL), 3);
	/* and once stored raw, putting them again as wasm is still refused */
	resp = put_bytes(bad, sizeof(bad), "\"kind\":\"wasm\"");
	ck_assert_int_eq(resp_code(resp), -32602);
	ck_assert_int_eq(mvmt_int(resp, "error.data.offset"), 0);
	json_object_put(resp);

	/* a real program from a host path, hash checked against sha256sum */
	snprintf(path, sizeof(path), "%s/wasm-programs/printf.wasm", getenv("MVM_BUILD_DIR") ? getenv("MVM_BUILD_DIR") : "build");
	sha256sum(path, want);
	snprintf(params, sizeof(params), "{\"path\":\"%s\",\"kind\":\"wasm\",\"expect\":\"%s\"}", path, want);
	r = mvmt_result(fd, "compute.blob.put", params);
	ck_assert_str_eq(mvmt_str(r, "hash"), want);
	json_object_put(r);

	/* and a corrupted copy of it from a path is refused, with no temp left */
	snprintf(path, sizeof(path), "%s/broken.wasm", d.dir);
	write_file(path, good_module, sizeof(good_module) - 3);
	snprintf(params, sizeof(params), "{\"path\":\"%s\",\"kind\":\"wasm\"}", path);
	resp = mvmt_call(fd, "compute.blob.put", params);
	ck_assert_int_eq(resp_code(resp), -32602);
	ck_assert_str_eq(mvmt_str(resp, "error.data.param"), "path");
	ck_assert_ptr_nonnull(mvmt_get(resp, "error.data.offset"));
	json_object_put(resp);
	size_t tmp;
	ck_assert_uint_eq(blob_entries(&tmp), 4);
	ck_assert_uint_eq(tmp, 0);
}
END_TEST

/* Give a VM a workload reference the way state.json will carry it
 * (spec.workload.hash), by editing the file mvmd wrote, with mvmd down. */
static void set_workload(const char *id, const char *ref)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/vms/%s/state.json", d.state, id);
	json_object *doc = json_object_from_file(path);
	ck_assert_ptr_nonnull(doc);
	json_object *spec = mvmt_get(doc, "spec"), *w = json_object_new_object();
	json_object_object_add(w, "hash", json_object_new_string(ref));
	json_object_object_add(spec, "workload", w);
	ck_assert_int_eq(json_object_to_file(path, doc), 0);
	json_object_put(doc);
}

START_TEST(test_remove_refused_while_referenced)
{
	json_object *r, *resp;
	char ida[64], idb[64], params[128];

	json_object_put(mvmt_result(fd, "compute.blob.put", "{\"data\":\"aGVsbG8=\"}"));
	json_object_put(mvmt_result(fd, "compute.blob.put", "{\"data\":\"\"}"));
	r = mvmt_result(fd, "compute.vm.create", "{\"name\":\"user-a\",\"memory_mib\":16}");
	snprintf(ida, sizeof(ida), "%s", mvmt_str(r, "id"));
	json_object_put(r);
	r = mvmt_result(fd, "compute.vm.create", "{\"name\":\"user-b\",\"memory_mib\":16}");
	snprintf(idb, sizeof(idb), "%s", mvmt_str(r, "id"));
	json_object_put(r);

	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGTERM);
	set_workload(ida, HELLO_REF);
	set_workload(idb, EMPTY_REF);
	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);

	/* the edited VMs loaded as VMs (not as broken files) */
	r = mvmt_result(fd, "compute.vm.status", "{\"id\":\"user-a\"}");
	ck_assert_str_eq(mvmt_str(r, "state"), "Configured");
	json_object_put(r);

	r = mvmt_result(fd, "compute.blob.stat", "{\"hash\":\"" HELLO_REF "\"}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "used_by")), 1);
	ck_assert_str_eq(mvmt_str(r, "used_by.0"), ida);
	json_object_put(r);

	resp = mvmt_call(fd, "compute.blob.remove", "{\"hash\":\"" HELLO_REF "\"}");
	ck_assert_int_eq(resp_code(resp), -32007);
	ck_assert_str_eq(mvmt_str(resp, "error.data.used_by.0"), ida);
	json_object_put(resp);
	resp = mvmt_call(fd, "compute.blob.remove", "{\"hash\":\"" HELLO_REF "\",\"force\":false}");
	ck_assert_int_eq(resp_code(resp), -32007);
	json_object_put(resp);
	/* still there, intact */
	r = mvmt_result(fd, "compute.blob.stat", "{\"hash\":\"" HELLO_REF "\",\"verify\":true}");
	ck_assert(json_object_get_boolean(mvmt_get(r, "verified")));
	json_object_put(r);

	/* force removes it */
	r = mvmt_result(fd, "compute.blob.remove", "{\"hash\":\"" HELLO_REF "\",\"force\":true}");
	ck_assert(json_object_get_boolean(mvmt_get(r, "removed")));
	json_object_put(r);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.blob.stat", "{\"hash\":\"" HELLO_REF "\"}"), -32001);

	/* once its VM is gone, a blob is removable without force */
	ck_assert_int_eq(mvmt_error_code(fd, "compute.blob.remove", "{\"hash\":\"" EMPTY_REF "\"}"), -32007);
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", idb);
	json_object_put(mvmt_result(fd, "compute.vm.remove", params));
	r = mvmt_result(fd, "compute.blob.remove", "{\"hash\":\"" EMPTY_REF "\"}");
	ck_assert(json_object_get_boolean(mvmt_get(r, "removed")));
	json_object_put(r);
	assert_store_empty();
}
END_TEST

START_TEST(test_survives_restart_and_cleans_temps)
{
	json_object *r;
	char path[256];

	json_object_put(mvmt_result(fd, "compute.blob.put", "{\"data\":\"aGVsbG8=\"}"));
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGKILL);
	/* what a put interrupted by a crash leaves */
	snprintf(path, sizeof(path), "%s/blobs/sha256/.tmp.00000000deadbeef", d.state);
	write_file(path, "half", 4);
	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);

	size_t tmp;
	ck_assert_uint_eq(blob_entries(&tmp), 1);
	ck_assert_uint_eq(tmp, 0);
	r = mvmt_result(fd, "compute.blob.stat", "{\"hash\":\"" HELLO_REF "\",\"verify\":true}");
	ck_assert_int_eq(mvmt_int(r, "size"), 5);
	ck_assert(json_object_get_boolean(mvmt_get(r, "verified")));
	json_object_put(r);
	r = mvmt_result(fd, "compute.blob.put", "{\"data\":\"aGVsbG8=\"}");
	ck_assert(!json_object_get_boolean(mvmt_get(r, "created")));
	json_object_put(r);
	r = mvmt_result(fd, "compute.node.info", NULL);
	ck_assert_int_eq(mvmt_int(r, "blobs.count"), 1);
	json_object_put(r);

	/* the daemon said what it cleaned */
	FILE *f = fopen(d.log, "r");
	char line[512];
	bool seen = false;
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "blob store") && strstr(line, "1 interrupted puts cleaned"))
			seen = true;
	fclose(f);
	ck_assert(seen);
}
END_TEST

START_TEST(test_corruption_detected_on_verify)
{
	json_object *r;
	char path[256];

	json_object_put(mvmt_result(fd, "compute.blob.put", "{\"data\":\"aGVsbG8=\"}"));
	snprintf(path, sizeof(path), "%s/blobs/sha256/" HELLO_HEX, d.state);
	int f = open(path, O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(f, 0);
	ck_assert_int_eq(pwrite(f, "j", 1, 0), 1); /* "jello" */
	close(f);

	r = mvmt_result(fd, "compute.blob.stat", "{\"hash\":\"" HELLO_REF "\",\"verify\":true}");
	ck_assert(!json_object_get_boolean(mvmt_get(r, "verified")));
	char want[72];
	sha256sum(path, want);
	ck_assert_str_eq(mvmt_str(r, "actual"), want);
	json_object_put(r);
}
END_TEST

START_TEST(test_oversized_data_hits_cap)
{
	mvmt_daemon_t d2;
	mvmt_daemon_init(&d2);
	mvmt_daemon_start(&d2, "--max-request-bytes", "4096", NULL);
	int c = mvmt_connect(d2.sock);

	/* 6 KiB of content is 8 KiB of base64: over the 4 KiB line cap */
	size_t len = 6144;
	char *raw = malloc(len);
	memset(raw, 'q', len);
	char *enc = b64(raw, len);
	size_t cap = strlen(enc) + 128;
	char *line = malloc(cap);
	snprintf(line, cap, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"compute.blob.put\",\"params\":{\"data\":\"%s\"}}", enc);
	mvmt_send_line(c, line);
	char *resp = mvmt_read_line(c, 5000);
	ck_assert_ptr_nonnull(resp);
	json_object *o = json_tokener_parse(resp);
	ck_assert_int_eq(mvmt_int(o, "error.code"), -32008);
	json_object_put(o);
	free(resp);
	ck_assert(mvmt_wait_closed(c, 5000));
	close(c);
	mvmt_forget_fd(c);

	char dir[256];
	snprintf(dir, sizeof(dir), "%s/blobs/sha256", d2.state);
	DIR *dd = opendir(dir);
	ck_assert_ptr_nonnull(dd);
	struct dirent *de;
	while ((de = readdir(dd)))
		ck_assert_msg(de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")),
			      "left behind: %s", de->d_name);
	closedir(dd);

	/* under the cap it is stored; the daemon still serves */
	c = mvmt_connect(d2.sock);
	char *small = b64(raw, 1024);
	snprintf(line, cap, "{\"data\":\"%s\"}", small);
	o = mvmt_result(c, "compute.blob.put", line);
	ck_assert_int_eq(mvmt_int(o, "size"), 1024);
	json_object_put(o);
	close(c);
	mvmt_forget_fd(c);
	free(small);
	free(line);
	free(enc);
	free(raw);
	mvmt_daemon_cleanup(&d2);
}
END_TEST

START_TEST(test_no_fd_leak)
{
	char params[512], path[256];

	json_object_put(mvmt_result(fd, "compute.blob.list", NULL));
	mvmt_wait_pool_settled(fd);
	int base = mvmt_count_fds(d.pid);
	snprintf(path, sizeof(path), "%s/src", d.dir);
	for (int i = 0; i < 200; i++) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "blob number %d", i);
		json_object_put(put_bytes(buf, (size_t)n, NULL));
		json_object_put(put_bytes(buf, (size_t)n, "\"expect\":\"" EMPTY_REF "\""));
		json_object_put(put_bytes(buf, (size_t)n, "\"kind\":\"wasm\""));
		write_file(path, buf, (size_t)n);
		snprintf(params, sizeof(params), "{\"path\":\"%s\"}", path);
		json_object_put(mvmt_call(fd, "compute.blob.put", params));
		snprintf(params, sizeof(params), "{\"path\":\"%s\"}", d.dir);
		json_object_put(mvmt_call(fd, "compute.blob.put", params));
		json_object_put(mvmt_call(fd, "compute.blob.stat", "{\"hash\":\"" HELLO_REF "\",\"verify\":true}"));
	}
	json_object *r = mvmt_result(fd, "compute.blob.list", "{\"limit\":100000}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "blobs")), 200);
	json_object_put(r);
	mvmt_wait_pool_settled(fd);
	ck_assert_int_eq(mvmt_count_fds(d.pid), base);
	size_t tmp;
	ck_assert_uint_eq(blob_entries(&tmp), 200);
	ck_assert_uint_eq(tmp, 0);
}
END_TEST

/* A client that is not root (the socket granted to a group) cannot have
 * mvmd read host files for it, whatever their mode; data still works. */
START_TEST(test_path_needs_privileged_client)
{
	mvmt_daemon_t d2;
	char world[256], secret[256], params[512];
	json_object *o;

	mvmt_daemon_init(&d2);
	/* let nobody reach run/rpc.sock (as an operator's /run/mvmd would) */
	char run[256];
	snprintf(run, sizeof(run), "%s/run", d2.dir);
	ck_assert_int_eq(chmod(d2.dir, 0711), 0);
	ck_assert_int_eq(mkdir(run, 0711), 0);
	mvmt_daemon_start(&d2, "--socket-group", "nogroup", NULL);
	snprintf(world, sizeof(world), "%s/world", d2.dir);
	snprintf(secret, sizeof(secret), "%s/secret", d2.dir);
	write_file(world, "hello", 5);
	write_file(secret, "hello", 5);
	ck_assert_int_eq(chmod(secret, 0600), 0);

	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", secret);
	o = mvmt_call_as_nobody(d2.sock, "compute.blob.put", params);
	ck_assert_int_eq(mvmt_int(o, "error.code"), -32000);
	ck_assert_str_eq(mvmt_str(o, "error.data.param"), "path");
	ck_assert_str_eq(mvmt_str(o, "error.data.errno"), "EPERM");
	json_object_put(o);
	snprintf(params, sizeof(params), "{\"path\":\"%s\",\"expect\":\"" EMPTY_REF "\"}", world);
	o = mvmt_call_as_nobody(d2.sock, "compute.blob.put", params);
	ck_assert_int_eq(mvmt_int(o, "error.code"), -32000);
	ck_assert_ptr_null(mvmt_get(o, "error.data.actual")); /* no hash leaked */
	json_object_put(o);

	o = mvmt_call_as_nobody(d2.sock, "compute.blob.put", "{\"data\":\"aGVsbG8=\"}");
	ck_assert_str_eq(mvmt_str(o, "result.hash"), HELLO_REF);
	json_object_put(o);

	/* root may */
	int c = mvmt_connect(d2.sock);
	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", secret);
	o = mvmt_result(c, "compute.blob.put", params);
	ck_assert_str_eq(mvmt_str(o, "hash"), HELLO_REF);
	ck_assert(!json_object_get_boolean(mvmt_get(o, "created")));
	json_object_put(o);
	close(c);
	mvmt_forget_fd(c);
	mvmt_daemon_cleanup(&d2);
}
END_TEST

START_TEST(test_discover_lists_blob_methods)
{
	json_object *r = mvmt_result(fd, "rpc.discover", NULL);
	const char *text = json_object_to_json_string(r);
	ck_assert_ptr_nonnull(strstr(text, "\"compute.blob.put\""));
	ck_assert_ptr_nonnull(strstr(text, "\"compute.blob.stat\""));
	ck_assert_ptr_nonnull(strstr(text, "\"compute.blob.list\""));
	ck_assert_ptr_nonnull(strstr(text, "\"compute.blob.remove\""));
	json_object_put(r);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "blob",
		.timeout = 60,
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_put_stat_list_remove),
			MVMT_TEST(test_bad_hash_strings),
			MVMT_TEST(test_put_errors_leave_nothing),
			MVMT_TEST(test_wasm_kind),
			MVMT_TEST(test_remove_refused_while_referenced),
			MVMT_TEST(test_survives_restart_and_cleans_temps),
			MVMT_TEST(test_corruption_detected_on_verify),
			MVMT_TEST(test_oversized_data_hits_cap),
			MVMT_TEST(test_no_fd_leak),
			MVMT_TEST(test_path_needs_privileged_client),
			MVMT_TEST(test_discover_lists_blob_methods)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd_blob", .tcases = tcases)
