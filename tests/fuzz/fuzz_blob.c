/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-sources: daemon/mvmd/blob.c lib/util/fs.c lib/util/fault.c lib/util/io.c */
/*
 * The blob store's untrusted inputs: hash strings from requests and
 * content bytes.
 *
 * - As a hash string, blob_ref_to_hex() must accept exactly what the RPC
 *   schema's pattern accepts (checked against regexec with that pattern),
 *   and never anything that could name a file outside the store.
 * - As content (with an expect hash taken from the input, and a content
 *   check that refuses some inputs), a put either succeeds and the blob
 *   reads back as the same bytes and verifies, or fails and leaves
 *   nothing in the store directory.
 */
#include <dirent.h>
#include <fcntl.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob.h"
#include "util/fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static blob_store_t *store;
static char blobdir[256];
static regex_t pattern;

static char dir[] = "/tmp/mvm-fuzz-blob-XXXXXX";

static void cleanup(void)
{
	store = blob_store_free(store);
	rm_rf_at(AT_FDCWD, dir);
}

static void init(void)
{
	if (!mkdtemp(dir) || blob_store_open(dir, &store) < 0)
		abort();
	atexit(cleanup);
	snprintf(blobdir, sizeof(blobdir), "%s/blobs/sha256", dir);
	if (regcomp(&pattern, "^(sha256:[0-9a-f]{64})$", REG_EXTENDED | REG_NOSUB))
		abort();
}

static size_t entries(void)
{
	DIR *d = opendir(blobdir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		abort();
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static int refuse_if_first_byte_odd(const void *data, size_t len, void *userdata)
{
	return len && (((const uint8_t *)data)[0] & 1) ? -22 : 0;
}

static void fuzz_ref(const uint8_t *data, size_t size)
{
	char *s = strndup((const char *)data, size), hex[BLOB_HEX_LEN + 1];

	if (!s)
		return;
	int ok = blob_ref_to_hex(s, hex) == 0;
	int want = strlen(s) == size && regexec(&pattern, s, 0, NULL, 0) == 0;
	if (ok != want)
		abort();
	if (ok && (strchr(hex, '/') || strchr(hex, '.') || !blob_hex_is_valid(hex)))
		abort();
	free(s);
}

static void fuzz_put(const uint8_t *data, size_t size)
{
	blob_put_opts_t opts = { 0 };
	char expect[BLOB_HEX_LEN + 1];
	blob_info_t info;
	bool created;
	uint8_t flags = size ? data[0] : 0;

	if (size) {
		data++;
		size--;
	}
	if (flags & 1)
		opts.check = refuse_if_first_byte_odd;
	if (flags & 2) {
		/* an expect that is right half of the time */
		if (blob_hash_data(data, size, expect) < 0)
			abort();
		if (flags & 4)
			expect[0] = expect[0] == '0' ? '1' : '0';
		opts.expect_hex = expect;
	}
	int r = blob_put_data(store, data, size, &opts, &info, &created);
	if (r < 0) {
		if (entries() != 0)
			abort();
		return;
	}
	int fd;
	uint64_t got_size;
	if (!created || info.size != size || blob_open(store, info.hex, true, &fd, &got_size) < 0 || got_size != size)
		abort();
	uint8_t *back = malloc(size + 1);
	if (!back || pread(fd, back, size + 1, 0) != (ssize_t)size || memcmp(back, data, size) != 0)
		abort();
	free(back);
	close(fd);
	if (blob_remove(store, info.hex) < 0 || entries() != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!store)
		init();
	if (size && data[0] == 's')
		fuzz_ref(data + 1, size - 1);
	else
		fuzz_put(data, size);
	return 0;
}
