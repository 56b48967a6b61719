/* SPDX-License-Identifier: Apache-2.0 */
/* The default initramfs's `.kernel` file as compute.node.info reports it:
 * read once, kept while the file stays the same, read again when it is
 * rewritten, replaced or removed. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ch/guest-process.h"
#include "mvmt-main.h"

static char dir[64], initramfs[128], kfile[160];

static void setup(void)
{
	strcpy(dir, "/tmp/ch-guest-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(initramfs, sizeof(initramfs), "%s/initramfs.cpio.gz", dir);
	snprintf(kfile, sizeof(kfile), "%s.kernel", initramfs);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* Sets path's mtime to st's: a change the cache can only see by size or
 * inode. */
static void set_mtime(const char *path, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Waits for the file system's clock (the coarse one) to pass st's
 * ctime, so that the next change of the file gives it another one. */
static void wait_ctime_passed(const struct stat *st)
{
	struct timespec now;

	for (;;) {
		ck_assert_int_eq(clock_gettime(CLOCK_REALTIME_COARSE, &now), 0);
		if (now.tv_sec > st->st_ctim.tv_sec ||
		    (now.tv_sec == st->st_ctim.tv_sec && now.tv_nsec > st->st_ctim.tv_nsec))
			return;
		usleep(1000);
	}
}

static const char *kernel_of(ch_kernel_cache_t *c)
{
	const char *k = "unset";

	ck_assert_int_eq(ch_initramfs_kernel(c, &k), 0);
	return k;
}

START_TEST(test_kernel_cache)
{
	ch_kernel_cache_t c;
	struct stat st;
	char tmp[192];

	ck_assert_int_eq(ch_kernel_cache_init(&c, initramfs), 0);
	ck_assert_ptr_null(kernel_of(&c)); /* no file: no modules */

	write_file(kfile, "6.1.0-1-cloud-amd64\n");
	ck_assert_str_eq(kernel_of(&c), "6.1.0-1-cloud-amd64");
	ck_assert_str_eq(kernel_of(&c), "6.1.0-1-cloud-amd64");

	/* Rewritten in place with the same size and the mtime put back:
	 * only the ctime tells. */
	ck_assert_int_eq(stat(kfile, &st), 0);
	wait_ctime_passed(&st);
	write_file(kfile, "6.1.0-2-cloud-amd64\n");
	set_mtime(kfile, &st);
	ck_assert_str_eq(kernel_of(&c), "6.1.0-2-cloud-amd64");

	/* another size */
	write_file(kfile, "6.1.0-10-cloud-amd64\n");
	ck_assert_str_eq(kernel_of(&c), "6.1.0-10-cloud-amd64");

	/* replaced by rename: same size and mtime, another inode */
	ck_assert_int_eq(stat(kfile, &st), 0);
	snprintf(tmp, sizeof(tmp), "%s.new", kfile);
	write_file(tmp, "6.1.0-11-cloud-amd64\n");
	set_mtime(tmp, &st);
	ck_assert_int_eq(rename(tmp, kfile), 0);
	ck_assert_str_eq(kernel_of(&c), "6.1.0-11-cloud-amd64");

	/* emptied: an initramfs without modules */
	write_file(kfile, "");
	ck_assert_ptr_null(kernel_of(&c));

	/* a link is not what make writes: never followed */
	ck_assert_int_eq(unlink(kfile), 0);
	write_file(tmp, "6.1.0-12-cloud-amd64\n");
	ck_assert_int_eq(symlink(tmp, kfile), 0);
	ck_assert_ptr_null(kernel_of(&c));

	/* back as a file, then removed */
	ck_assert_int_eq(unlink(kfile), 0);
	ck_assert_int_eq(rename(tmp, kfile), 0);
	ck_assert_str_eq(kernel_of(&c), "6.1.0-12-cloud-amd64");
	ck_assert_int_eq(unlink(kfile), 0);
	ck_assert_ptr_null(kernel_of(&c));

	ch_kernel_cache_done(&c);
	ck_assert_ptr_null(c.path);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "ch_guest_process",
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(MVMT_TEST(test_kernel_cache)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "ch_guest_process", .tcases = tcases)
