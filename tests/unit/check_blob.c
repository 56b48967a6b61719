/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The blob store on a real temp directory: round trips, idempotency,
 * expect mismatch, crash leftovers, corruption, removal, path input, blobs
 * streamed in (a pull's), and that no error (refusal, file too large,
 * disk full) leaves a temp file.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "util/fs.h"
#include "util/macro.h"
#include "mvmt-main.h"

/* sha256("abc"), FIPS 180-2 appendix B.1 */
#define ABC_HEX "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/* sha256("") */
#define EMPTY_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static char dir[] = "/tmp/mvm-blob-XXXXXX";
static char blobdir[128];
static blob_store_t *bs;

static void setup(void)
{
	strcpy(dir, "/tmp/mvm-blob-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(blobdir, sizeof(blobdir), "%s/blobs/sha256", dir);
	ck_assert_int_eq(blob_store_open(dir, &bs), 0);
}

static void teardown(void)
{
	bs = blob_store_free(bs);
	rm_rf_at(AT_FDCWD, dir);
}

/* Entries of the blob directory: all, and those that are temp files. */
static size_t count_entries(const char *d, size_t *ret_tmp)
{
	DIR *dd = opendir(d);
	struct dirent *de;
	size_t n = 0, tmp = 0;

	ck_assert_ptr_nonnull(dd);
	while ((de = readdir(dd))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		n++;
		if (!strncmp(de->d_name, BLOB_TMP_PREFIX, strlen(BLOB_TMP_PREFIX)))
			tmp++;
	}
	closedir(dd);
	if (ret_tmp)
		*ret_tmp = tmp;
	return n;
}

static void assert_no_tmp(void)
{
	size_t tmp;
	count_entries(blobdir, &tmp);
	ck_assert_uint_eq(tmp, 0);
}

static void write_path(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static char *read_fd_all(int fd, size_t *ret_len)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)n;
		if (len == cap)
			buf = realloc(buf, cap *= 2);
	}
	ck_assert_int_eq(n, 0);
	*ret_len = len;
	return buf;
}

START_TEST(test_hex_and_ref)
{
	char hex[BLOB_HEX_LEN + 1];

	ck_assert(blob_hex_is_valid(ABC_HEX));
	ck_assert(!blob_hex_is_valid("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
	ck_assert(!blob_hex_is_valid("ba7816bf"));
	ck_assert(!blob_hex_is_valid(ABC_HEX "0"));
	ck_assert(!blob_hex_is_valid("../../etc"));
	ck_assert(!blob_hex_is_valid(""));
	ck_assert(!blob_hex_is_valid(NULL));
	ck_assert_int_eq(blob_ref_to_hex("sha256:" ABC_HEX, hex), 0);
	ck_assert_str_eq(hex, ABC_HEX);
	ck_assert_int_eq(blob_ref_to_hex(ABC_HEX, hex), -EINVAL);
	ck_assert_int_eq(blob_ref_to_hex("sha512:" ABC_HEX, hex), -EINVAL);
	ck_assert_int_eq(blob_ref_to_hex("sha256:../../etc", hex), -EINVAL);
	ck_assert_int_eq(blob_ref_to_hex("SHA256:" ABC_HEX, hex), -EINVAL);
	ck_assert_int_eq(blob_hash_data("abc", 3, hex), 0);
	ck_assert_str_eq(hex, ABC_HEX);
	ck_assert_int_eq(blob_hash_data("", 0, hex), 0);
	ck_assert_str_eq(hex, EMPTY_HEX);
}
END_TEST

START_TEST(test_round_trip_and_idempotent)
{
	blob_info_t info, again, st;
	bool created;
	uint64_t count, bytes, size;
	int fd;
	struct stat sb;
	char path[256];

	ck_assert_int_eq(blob_put_data(bs, "abc", 3, NULL, &info, &created), 0);
	ck_assert(created);
	ck_assert_str_eq(info.hex, ABC_HEX);
	ck_assert_uint_eq(info.size, 3);
	ck_assert_uint_gt(info.created_usec, 0);

	/* the file: named by its hash, 0400, holding the bytes */
	snprintf(path, sizeof(path), "%s/%s", blobdir, ABC_HEX);
	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_int_eq(sb.st_mode & 07777, BLOB_FILE_MODE);

	ck_assert_int_eq(blob_open(bs, ABC_HEX, true, &fd, &size), 0);
	ck_assert_uint_eq(size, 3);
	size_t len;
	char *got = read_fd_all(fd, &len);
	ck_assert_uint_eq(len, 3);
	ck_assert(memcmp(got, "abc", 3) == 0);
	free(got);
	/* read-only: writing through the fd fails */
	ck_assert_int_eq(write(fd, "x", 1), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	/* the same bytes again: no error, not created, nothing new on disk */
	ck_assert_int_eq(blob_put_data(bs, "abc", 3, NULL, &again, &created), 0);
	ck_assert(!created);
	ck_assert_str_eq(again.hex, ABC_HEX);
	ck_assert_uint_eq(again.created_usec, info.created_usec);
	ck_assert_uint_eq(count_entries(blobdir, NULL), 1);
	blob_store_usage(bs, &count, &bytes);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(bytes, 3);

	ck_assert_int_eq(blob_stat(bs, ABC_HEX, &st), 0);
	ck_assert_uint_eq(st.size, 3);
	ck_assert_uint_eq(st.created_usec, info.created_usec);

	/* the empty blob is a blob too */
	ck_assert_int_eq(blob_put_data(bs, "", 0, NULL, &info, &created), 0);
	ck_assert(created);
	ck_assert_str_eq(info.hex, EMPTY_HEX);
	ck_assert_int_eq(blob_verify(bs, EMPTY_HEX, NULL), 0);

	/* the counters survive a reopen (they are rebuilt from the files) */
	blob_store_free(bs);
	ck_assert_int_eq(blob_store_open(dir, &bs), 0);
	blob_store_usage(bs, &count, &bytes);
	ck_assert_uint_eq(count, 2);
	ck_assert_uint_eq(bytes, 3);
	ck_assert_uint_eq(blob_store_cleaned(bs), 0);

	/* bad names never reach the file system */
	ck_assert_int_eq(blob_stat(bs, "../../etc/passwd", &st), -EINVAL);
	ck_assert_int_eq(blob_open(bs, "ABC", false, &fd, NULL), -EINVAL);
	ck_assert_int_eq(blob_remove(bs, ".."), -EINVAL);
	ck_assert_int_eq(blob_stat(bs, "0000000000000000000000000000000000000000000000000000000000000000", &st), -ENOENT);
}
END_TEST

START_TEST(test_expect)
{
	blob_put_opts_t opts = { .expect_hex = EMPTY_HEX };
	blob_info_t info;
	bool created;

	ck_assert_int_eq(blob_put_data(bs, "abc", 3, &opts, &info, &created), -EBADMSG);
	ck_assert_str_eq(opts.actual_hex, ABC_HEX);
	ck_assert_uint_eq(count_entries(blobdir, NULL), 0);

	char src[256];
	snprintf(src, sizeof(src), "%s/src", dir);
	write_path(src, "abc", 3);
	memset(opts.actual_hex, 0, sizeof(opts.actual_hex));
	ck_assert_int_eq(blob_put_path(bs, src, &opts, &info, &created), -EBADMSG);
	ck_assert_str_eq(opts.actual_hex, ABC_HEX);
	ck_assert_uint_eq(count_entries(blobdir, NULL), 0);

	/* a malformed expect is refused before anything happens */
	opts.expect_hex = "ABC";
	ck_assert_int_eq(blob_put_data(bs, "abc", 3, &opts, &info, &created), -EINVAL);

	opts.expect_hex = ABC_HEX;
	ck_assert_int_eq(blob_put_path(bs, src, &opts, &info, &created), 0);
	ck_assert(created);
	ck_assert_str_eq(info.hex, ABC_HEX);
	/* already stored: still checked against expect */
	opts.expect_hex = EMPTY_HEX;
	ck_assert_int_eq(blob_put_data(bs, "abc", 3, &opts, &info, &created), -EBADMSG);
	ck_assert_uint_eq(count_entries(blobdir, NULL), 1);
}
END_TEST

START_TEST(test_crash_leftovers_cleaned)
{
	char path[256];
	blob_info_t info;
	bool created;

	ck_assert_int_eq(blob_put_data(bs, "abc", 3, NULL, &info, &created), 0);
	blob_store_free(bs);
	bs = NULL;
	/* what a crash between create and rename leaves, plus a stranger */
	snprintf(path, sizeof(path), "%s/" BLOB_TMP_PREFIX "0123456789abcdef", blobdir);
	write_path(path, "partial", 7);
	snprintf(path, sizeof(path), "%s/" BLOB_TMP_PREFIX "x", blobdir);
	write_path(path, "", 0);
	snprintf(path, sizeof(path), "%s/README", blobdir);
	write_path(path, "not ours", 8);
	ck_assert_uint_eq(count_entries(blobdir, NULL), 4);

	ck_assert_int_eq(blob_store_open(dir, &bs), 0);
	ck_assert_uint_eq(blob_store_cleaned(bs), 2);
	assert_no_tmp();
	/* the blob and the foreign file stay; only the blob is listed */
	ck_assert_uint_eq(count_entries(blobdir, NULL), 2);
	blob_info_t *v;
	size_t n;
	bool more;
	ck_assert_int_eq(blob_list(bs, NULL, 0, &v, &n, &more), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].hex, ABC_HEX);
	free(v);
}
END_TEST

START_TEST(test_corruption_detected)
{
	char path[256], actual[BLOB_HEX_LEN + 1];
	blob_info_t info;
	bool created;
	int fd;

	ck_assert_int_eq(blob_put_data(bs, "abc", 3, NULL, &info, &created), 0);
	ck_assert_int_eq(blob_verify(bs, ABC_HEX, actual), 0);
	ck_assert_str_eq(actual, ABC_HEX);

	/* bit rot: same size, different bytes */
	snprintf(path, sizeof(path), "%s/%s", blobdir, ABC_HEX);
	fd = open(path, O_WRONLY | O_CLOEXEC); /* root ignores the 0400 */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "b", 1, 0), 1);
	close(fd);
	ck_assert_int_eq(blob_verify(bs, ABC_HEX, actual), -EBADMSG);
	char bbc[BLOB_HEX_LEN + 1];
	blob_hash_data("bbc", 3, bbc);
	ck_assert_str_eq(actual, bbc);
	ck_assert_int_eq(blob_open(bs, ABC_HEX, true, &fd, NULL), -EBADMSG);
	/* without verify, open does not read (cheap) */
	ck_assert_int_eq(blob_open(bs, ABC_HEX, false, &fd, NULL), 0);
	close(fd);

	/* truncation: a put of the right bytes repairs it */
	ck_assert_int_eq(truncate(path, 1), 0);
	ck_assert_int_eq(blob_verify(bs, ABC_HEX, NULL), -EBADMSG);
	ck_assert_int_eq(blob_put_data(bs, "abc", 3, NULL, &info, &created), 0);
	ck_assert(created);
	ck_assert_int_eq(blob_verify(bs, ABC_HEX, NULL), 0);
	uint64_t count, bytes;
	blob_store_usage(bs, &count, &bytes);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(bytes, 3);
	assert_no_tmp();
}
END_TEST

START_TEST(test_remove)
{
	blob_info_t info;
	bool created;
	uint64_t count, bytes;

	ck_assert_int_eq(blob_put_data(bs, "abc", 3, NULL, &info, &created), 0);
	ck_assert_int_eq(blob_put_data(bs, "hello", 5, NULL, &info, &created), 0);
	ck_assert_int_eq(blob_remove(bs, ABC_HEX), 0);
	ck_assert_int_eq(blob_stat(bs, ABC_HEX, &info), -ENOENT);
	ck_assert_int_eq(blob_remove(bs, ABC_HEX), -ENOENT);
	int fd;
	ck_assert_int_eq(blob_open(bs, ABC_HEX, false, &fd, NULL), -ENOENT);
	blob_store_usage(bs, &count, &bytes);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(bytes, 5);
	ck_assert_uint_eq(count_entries(blobdir, NULL), 1);
	/* and it can come back */
	ck_assert_int_eq(blob_put_data(bs, "abc", 3, NULL, &info, &created), 0);
	ck_assert(created);
}
END_TEST

START_TEST(test_list_sorted_paged)
{
	blob_info_t info, *v;
	bool created, more;
	size_t n;
	char buf[16];

	for (int i = 0; i < 25; i++) {
		int len = snprintf(buf, sizeof(buf), "blob-%d", i);
		ck_assert_int_eq(blob_put_data(bs, buf, (size_t)len, NULL, &info, &created), 0);
	}
	ck_assert_int_eq(blob_list(bs, NULL, 0, &v, &n, &more), 0);
	ck_assert_uint_eq(n, 25);
	ck_assert(!more);
	for (size_t i = 1; i < n; i++)
		ck_assert_int_lt(strcmp(v[i - 1].hex, v[i].hex), 0);
	char all[25][BLOB_HEX_LEN + 1];
	for (size_t i = 0; i < n; i++)
		strcpy(all[i], v[i].hex);
	free(v);

	/* pages of 10 by cursor cover everything exactly once */
	const char *after = NULL;
	char cursor[BLOB_HEX_LEN + 1];
	size_t seen = 0;
	do {
		ck_assert_int_eq(blob_list(bs, after, 10, &v, &n, &more), 0);
		for (size_t i = 0; i < n; i++)
			ck_assert_str_eq(v[i].hex, all[seen + i]);
		seen += n;
		if (n) {
			strcpy(cursor, v[n - 1].hex);
			after = cursor;
		}
		free(v);
	} while (more);
	ck_assert_uint_eq(seen, 25);
	ck_assert_int_eq(blob_list(bs, "zz", 10, &v, &n, &more), -EINVAL);
}
END_TEST

START_TEST(test_path_input)
{
	char src[256], link[256], sub[256], fifo[256], viadir[256];
	blob_info_t info;
	bool created;

	/* a file bigger than the copy chunk, streamed */
	size_t big = (3u << 20) + 12345;
	char *data = malloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)(i * 7 + (i >> 13));
	char want[BLOB_HEX_LEN + 1];
	blob_hash_data(data, big, want);
	snprintf(src, sizeof(src), "%s/big", dir);
	write_path(src, data, big);
	ck_assert_int_eq(blob_put_path(bs, src, NULL, &info, &created), 0);
	ck_assert(created);
	ck_assert_str_eq(info.hex, want);
	ck_assert_uint_eq(info.size, big);
	ck_assert_int_eq(blob_verify(bs, want, NULL), 0);
	ck_assert_int_eq(blob_put_path(bs, src, NULL, &info, &created), 0);
	ck_assert(!created);
	free(data);
	assert_no_tmp();

	/* a symlink as the last component is refused, even to a good file */
	snprintf(link, sizeof(link), "%s/link", dir);
	ck_assert_int_eq(symlink(src, link), 0);
	ck_assert_int_eq(blob_put_path(bs, link, NULL, &info, &created), -ELOOP);
	/* symlinks in the parent path are followed */
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	write_path(strcat(strcpy(viadir, sub), "/f"), "abc", 3);
	snprintf(link, sizeof(link), "%s/sublink", dir);
	ck_assert_int_eq(symlink(sub, link), 0);
	snprintf(viadir, sizeof(viadir), "%s/sublink/f", dir);
	ck_assert_int_eq(blob_put_path(bs, viadir, NULL, &info, &created), 0);
	ck_assert_str_eq(info.hex, ABC_HEX);

	/* not regular files */
	ck_assert_int_eq(blob_put_path(bs, sub, NULL, &info, &created), -EISDIR);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	/* must not block waiting for a writer */
	alarm(5);
	ck_assert_int_eq(blob_put_path(bs, fifo, NULL, &info, &created), -EINVAL);
	alarm(0);
	ck_assert_int_eq(blob_put_path(bs, "/dev/null", NULL, &info, &created), -EINVAL);
	snprintf(src, sizeof(src), "%s/nonexistent", dir);
	ck_assert_int_eq(blob_put_path(bs, src, NULL, &info, &created), -ENOENT);
	snprintf(src, sizeof(src), "%s/sub/f/x", dir);
	ck_assert_int_eq(blob_put_path(bs, src, NULL, &info, &created), -ENOTDIR);
	assert_no_tmp();
	ck_assert_uint_eq(count_entries(blobdir, NULL), 2);
}
END_TEST

static int refuse_odd(const void *data, size_t len, void *userdata)
{
	(*(int *)userdata)++;
	return len % 2 ? -EINVAL : 0;
}

START_TEST(test_check_refuses)
{
	int calls = 0;
	blob_put_opts_t opts = { .check = refuse_odd, .check_userdata = &calls };
	blob_info_t info;
	bool created;
	char src[256];

	ck_assert_int_eq(blob_put_data(bs, "abc", 3, &opts, &info, &created), -EINVAL);
	ck_assert_int_eq(calls, 1);
	ck_assert_uint_eq(count_entries(blobdir, NULL), 0);
	snprintf(src, sizeof(src), "%s/src", dir);
	write_path(src, "abc", 3);
	ck_assert_int_eq(blob_put_path(bs, src, &opts, &info, &created), -EINVAL);
	ck_assert_int_eq(calls, 2);
	ck_assert_uint_eq(count_entries(blobdir, NULL), 0);
	/* an accepted one is stored */
	write_path(src, "abcd", 4);
	ck_assert_int_eq(blob_put_path(bs, src, &opts, &info, &created), 0);
	ck_assert_int_eq(calls, 3);
	ck_assert(created);
	/* stored already (without a check) is no way around the check */
	opts.check = NULL;
	ck_assert_int_eq(blob_put_data(bs, "xyz", 3, &opts, &info, &created), 0);
	ck_assert(created);
	opts.check = refuse_odd;
	ck_assert_int_eq(blob_put_data(bs, "xyz", 3, &opts, &info, &created), -EINVAL);
	ck_assert_int_eq(calls, 4);
	write_path(src, "xyz", 3);
	ck_assert_int_eq(blob_put_path(bs, src, &opts, &info, &created), -EINVAL);
	ck_assert_int_eq(calls, 5);
	ck_assert_uint_eq(count_entries(blobdir, NULL), 2);
	assert_no_tmp();
	write_path(src, "abcd", 4);
	/* content over check_max never reaches the check */
	opts.check_max = 2;
	ck_assert_int_eq(blob_put_path(bs, src, &opts, &info, &created), -EFBIG);
	ck_assert_int_eq(blob_put_data(bs, "abcdef", 6, &opts, &info, &created), -EFBIG);
	ck_assert_int_eq(calls, 5);
	ck_assert_uint_eq(count_entries(blobdir, NULL), 2);
}
END_TEST

START_TEST(test_size_cap)
{
	blob_put_opts_t opts = { .max_size = 4 };
	blob_info_t info;
	bool created;
	char src[256];

	ck_assert_int_eq(blob_put_data(bs, "abcde", 5, &opts, &info, &created), -E2BIG);
	ck_assert_int_eq(blob_put_data(bs, "abcd", 4, &opts, &info, &created), 0);
	snprintf(src, sizeof(src), "%s/src", dir);
	write_path(src, "abcde", 5);
	ck_assert_int_eq(blob_put_path(bs, src, &opts, &info, &created), -E2BIG);
	assert_no_tmp();
	/* the default cap refuses a huge (sparse) file before reading it */
	int fd = open(src, O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)BLOB_DEFAULT_MAX_SIZE + 1), 0);
	close(fd);
	ck_assert_int_eq(blob_put_path(bs, src, NULL, &info, &created), -E2BIG);
	assert_no_tmp();
	ck_assert_uint_eq(count_entries(blobdir, NULL), 1);
}
END_TEST

/* A write error in the middle of a put (file size limit: EFBIG from
 * write(2), SIGXFSZ ignored) leaves no temp file. */
START_TEST(test_write_error_leaves_nothing)
{
	char src[256];
	blob_info_t info;
	bool created;
	size_t len = 256 * 1024;
	char *data = calloc(1, len);

	snprintf(src, sizeof(src), "%s/src", dir);
	write_path(src, data, len);
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit rl = { 64 * 1024, 64 * 1024 };
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);

	ck_assert_int_eq(blob_put_path(bs, src, NULL, &info, &created), -EFBIG);
	assert_no_tmp();
	data[0] = 1;
	ck_assert_int_eq(blob_put_data(bs, data, len, NULL, &info, &created), -EFBIG);
	ck_assert_uint_eq(count_entries(blobdir, NULL), 0);
	uint64_t count, bytes;
	blob_store_usage(bs, &count, &bytes);
	ck_assert_uint_eq(count, 0);
	/* below the limit it works */
	ck_assert_int_eq(blob_put_data(bs, data, 1000, NULL, &info, &created), 0);
	free(data);
}
END_TEST

/* A real full disk: a 256 KiB tmpfs in a private mount namespace (root
 * only; this test process is forked, so the namespace dies with it). */
START_TEST(test_disk_full_leaves_nothing)
{
	char mnt[256], src[256];
	blob_store_t *small;
	blob_info_t info;
	bool created;

	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		MVMT_SKIP("the disk-full case needs root and a mount namespace");
	}
	snprintf(mnt, sizeof(mnt), "%s/small", dir);
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	ck_assert_int_eq(mount("tmpfs", mnt, "tmpfs", 0, "size=256k"), 0);
	ck_assert_int_eq(blob_store_open(mnt, &small), 0);

	size_t len = 1 << 20;
	char *data = malloc(len);
	memset(data, 'z', len);
	snprintf(src, sizeof(src), "%s/src", dir);
	write_path(src, data, len);
	ck_assert_int_eq(blob_put_path(small, src, NULL, &info, &created), -ENOSPC);
	char smalldir[300];
	snprintf(smalldir, sizeof(smalldir), "%s/blobs/sha256", mnt);
	ck_assert_uint_eq(count_entries(smalldir, NULL), 0);
	ck_assert_int_eq(blob_put_data(small, data, len, NULL, &info, &created), -ENOSPC);
	ck_assert_uint_eq(count_entries(smalldir, NULL), 0);
	/* the space came back: a small blob still fits */
	ck_assert_int_eq(blob_put_data(small, data, 100 * 1024, NULL, &info, &created), 0);
	ck_assert_uint_eq(count_entries(smalldir, NULL), 1);
	free(data);
	blob_store_free(small);
	umount2(mnt, MNT_DETACH);
}
END_TEST

/* A pull's blob: pieces hashed as written, a restart voids what came
 * before, the commit checks the running hash without reading back. */
START_TEST(test_tmp_streamed)
{
	blob_put_opts_t opts = { .expect_hex = ABC_HEX };
	blob_info_t info;
	blob_tmp_t *t;
	bool created;
	size_t n;

	ck_assert_int_eq(blob_tmp_new(bs, &t), 0);
	ck_assert_int_eq(blob_tmp_write(t, "xyz", 3), 0);
	ck_assert_uint_eq(blob_tmp_size(t), 3);
	ck_assert_int_eq(blob_tmp_restart(t), 0); /* the source started over */
	ck_assert_uint_eq(blob_tmp_size(t), 0);
	ck_assert_int_eq(blob_tmp_write(t, "a", 1), 0);
	ck_assert_int_eq(blob_tmp_write(t, "bc", 2), 0);
	ck_assert_uint_eq(count_entries(blobdir, &n), 1);
	ck_assert_uint_eq(n, 1); /* the temp file, until the commit */
	ck_assert_int_eq(blob_tmp_commit(bs, t, &opts, &info, &created), 0);
	ck_assert(created);
	ck_assert_str_eq(info.hex, ABC_HEX);
	ck_assert_uint_eq(info.size, 3);
	ck_assert_int_eq(blob_verify(bs, ABC_HEX, NULL), 0); /* the file holds what was hashed */
	assert_no_tmp();

	/* a mismatch names the hash of what came, and leaves nothing */
	opts.expect_hex = EMPTY_HEX;
	ck_assert_int_eq(blob_tmp_new(bs, &t), 0);
	ck_assert_int_eq(blob_tmp_write(t, "abc", 3), 0);
	ck_assert_int_eq(blob_tmp_commit(bs, t, &opts, &info, &created), -EBADMSG);
	ck_assert_str_eq(opts.actual_hex, ABC_HEX);
	assert_no_tmp();

	/* over the cap at the commit; and a discarded one */
	opts = (blob_put_opts_t){ .max_size = 2 };
	ck_assert_int_eq(blob_tmp_new(bs, &t), 0);
	ck_assert_int_eq(blob_tmp_write(t, "abc", 3), 0);
	ck_assert_int_eq(blob_tmp_commit(bs, t, &opts, &info, &created), -E2BIG);
	ck_assert_int_eq(blob_tmp_new(bs, &t), 0);
	ck_assert_int_eq(blob_tmp_write(t, "abc", 3), 0);
	blob_tmp_discard(bs, t);
	assert_no_tmp();
	ck_assert_uint_eq(count_entries(blobdir, NULL), 1);
}
END_TEST

/* Larger than the writeback step, in odd pieces: the same bytes and hash
 * as a put of the whole. */
START_TEST(test_tmp_streamed_large)
{
	size_t len = (9u << 20) + 12345, piece = 65537;
	char *data = malloc(len), hex[BLOB_HEX_LEN + 1];
	blob_info_t info;
	blob_tmp_t *t;
	bool created;

	ck_assert_ptr_nonnull(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)(i * 131 + (i >> 13));
	ck_assert_int_eq(blob_hash_data(data, len, hex), 0);
	ck_assert_int_eq(blob_tmp_new(bs, &t), 0);
	for (size_t off = 0; off < len; off += piece)
		ck_assert_int_eq(blob_tmp_write(t, data + off, off + piece > len ? len - off : piece), 0);
	ck_assert_int_eq(blob_tmp_commit(bs, t, NULL, &info, &created), 0);
	ck_assert_str_eq(info.hex, hex);
	ck_assert_uint_eq(info.size, len);
	ck_assert_int_eq(blob_verify(bs, hex, NULL), 0);
	free(data);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "store",
		.timeout = 60,
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_hex_and_ref),
			MVMT_TEST(test_round_trip_and_idempotent),
			MVMT_TEST(test_expect),
			MVMT_TEST(test_crash_leftovers_cleaned),
			MVMT_TEST(test_corruption_detected),
			MVMT_TEST(test_remove),
			MVMT_TEST(test_list_sorted_paged),
			MVMT_TEST(test_path_input),
			MVMT_TEST(test_check_refuses),
			MVMT_TEST(test_size_cap),
			MVMT_TEST(test_write_error_leaves_nothing),
			MVMT_TEST(test_disk_full_leaves_nothing),
			MVMT_TEST(test_tmp_streamed),
			MVMT_TEST(test_tmp_streamed_large)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "blob", .tcases = tcases)
