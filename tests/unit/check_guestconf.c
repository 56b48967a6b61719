/* SPDX-License-Identifier: Apache-2.0 */
/* The process config mvmd writes and mvm-init reads (lib/util/guestconf.h):
 * every key, the %XX encoding both ways, defaults, and what is refused. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/guestconf.h"
#include "mvmt-main.h"

static int parse(const char *text, guestconf_t *c)
{
	return guestconf_parse(text, strlen(text), c);
}

START_TEST(test_all_keys)
{
	guestconf_t c;

	ck_assert_int_eq(parse("# comment\nroot.disk=2\nroot.fstype=xfs\nroot.readonly=1\narg=/bin/sh\narg=-c\n"
			       "arg=echo%20%22a%25b%22%0Aline\nenv=PATH=/bin\nenv=A=b=c\ncwd=/srv/app\nuser=1000:100\n"
			       "keep_running=1\n",
			       &c),
			 0);
	ck_assert(c.has_root);
	ck_assert_int_eq(c.root_disk, 2);
	ck_assert_ptr_null(c.root_serial);
	ck_assert_str_eq(c.root_fstype, "xfs");
	ck_assert(c.root_readonly);
	ck_assert_int_eq(c.n_args, 3);
	ck_assert_str_eq(c.args[2], "echo \"a%b\"\nline");
	ck_assert_ptr_null(c.args[3]);
	ck_assert_int_eq(c.n_env, 2);
	ck_assert_str_eq(c.env[1], "A=b=c");
	ck_assert_ptr_null(c.env[2]);
	ck_assert_str_eq(c.cwd, "/srv/app");
	ck_assert_uint_eq(c.uid, 1000);
	ck_assert_uint_eq(c.gid, 100);
	ck_assert(c.keep_running);
	guestconf_done(&c);
}
END_TEST

START_TEST(test_defaults)
{
	guestconf_t c;

	ck_assert_int_eq(parse("root.serial=root\narg=/init\nuser=7", &c), 0); /* no final newline */
	ck_assert(c.has_root);
	ck_assert_int_eq(c.root_disk, -1);
	ck_assert_str_eq(c.root_serial, "root");
	ck_assert_str_eq(c.root_fstype, "ext4");
	ck_assert(!c.root_readonly);
	ck_assert_str_eq(c.cwd, "/");
	ck_assert_ptr_nonnull(c.env);
	ck_assert_ptr_null(c.env[0]);
	ck_assert_uint_eq(c.uid, 7);
	ck_assert_uint_eq(c.gid, 0);
	ck_assert(!c.keep_running);
	guestconf_done(&c);

	/* No process, no root: a config may hold neither. */
	ck_assert_int_eq(parse("", &c), 0);
	ck_assert(!c.has_root);
	ck_assert_ptr_null(c.args);
	guestconf_done(&c);
}
END_TEST

START_TEST(test_refused)
{
	static const char *const bad[] = {
		"color=blue\n",         /* unknown key */
		"arg\n",                /* no '=' */
		"=x\n",                 /* no key */
		"arg=a b\n",            /* a raw space */
		"arg=%4\n",             /* short escape */
		"arg=%zz\n",            /* not hex */
		"arg=a%00b\n",          /* NUL */
		"env=NOVALUE\n",        /* env without '=' */
		"env==v\n",             /* env without a name */
		"cwd=relative\n",       /* cwd not absolute */
		"user=root\n",          /* not numeric */
		"user=1:2:3\n",         /* trailing */
		"user=4294967296\n",    /* > u32 */
		"root.disk=-1\n",       /* not a number */
		"root.disk=256\n",      /* beyond any VM */
	};
	guestconf_t c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i], &c) == -EINVAL, "accepted: %s", bad[i]);
	ck_assert_int_eq(guestconf_parse("arg=x", GUESTCONF_MAX + 1, &c), -EINVAL);
}
END_TEST

/* What guestconf_append writes, guestconf_parse reads back: any bytes but NUL. */
START_TEST(test_round_trip)
{
	char *buf = NULL, all[256];
	size_t len = 0;
	guestconf_t c;

	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	ck_assert_int_eq(guestconf_append(&buf, &len, "arg", all), 0);
	ck_assert_int_eq(guestconf_append(&buf, &len, "arg", ""), 0);
	ck_assert_int_eq(guestconf_append(&buf, &len, "env", "K=v w\n%"), 0);
	ck_assert_int_eq(guestconf_append(&buf, &len, "cwd", "/a b"), 0);
	ck_assert_int_eq(strlen(buf), len);
	ck_assert_ptr_null(strchr(buf, ' '));
	ck_assert_int_eq(guestconf_parse(buf, len, &c), 0);
	ck_assert_str_eq(c.args[0], all);
	ck_assert_str_eq(c.args[1], "");
	ck_assert_str_eq(c.env[0], "K=v w\n%");
	ck_assert_str_eq(c.cwd, "/a b");
	guestconf_done(&c);
	free(buf);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "guestconf",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_all_keys),
			MVMT_TEST(test_defaults),
			MVMT_TEST(test_refused),
			MVMT_TEST(test_round_trip)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "guestconf", .tcases = tcases)
