/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel command line parsing used by mvm-init. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/kcmdline.h"
#include "mvmt-main.h"

static const char *get(const char *cmdline, const char *key)
{
	static char buf[256];
	char *v = NULL;
	int r = kcmdline_get(cmdline, key, &v);

	if (r <= 0)
		return r == 0 ? "<none>" : "<error>";
	strncpy(buf, v, sizeof(buf) - 1);
	free(v);
	return buf;
}

START_TEST(test_get)
{
	const char *c = "console=ttyS0 mvm.hostname=web-1 quiet mvm.run=\"/bin/sh,-c,echo hi\" "
			"mvm.hostnamex=no mvm.flag mvm.hostname=web-2 -- mvm.hostname=init-arg";

	ck_assert_str_eq(get(c, "mvm.hostname"), "web-2");     /* last wins, stops at -- */
	ck_assert_str_eq(get(c, "mvm.run"), "/bin/sh,-c,echo hi"); /* quotes group */
	ck_assert_str_eq(get(c, "mvm.flag"), "");
	ck_assert_str_eq(get(c, "mvm.host"), "<none>");
	ck_assert_str_eq(get(c, "console"), "ttyS0");
	ck_assert_str_eq(get("\"mvm.run=a b\"\n", "mvm.run"), "a b");
	ck_assert_str_eq(get("", "x"), "<none>");
	ck_assert_str_eq(get("   \t\n", "x"), "<none>");
	char *big = malloc(KCMDLINE_MAX + 2);
	memset(big, 'a', KCMDLINE_MAX + 1);
	big[KCMDLINE_MAX + 1] = '\0';
	char *v;
	ck_assert_int_eq(kcmdline_get(big, "a", &v), -E2BIG);
	free(big);
}
END_TEST

START_TEST(test_bool)
{
	ck_assert_int_eq(kcmdline_parse_bool("1"), 1);
	ck_assert_int_eq(kcmdline_parse_bool("on"), 1);
	ck_assert_int_eq(kcmdline_parse_bool("no"), 0);
	ck_assert_int_eq(kcmdline_parse_bool(""), -EINVAL);
	ck_assert_int_eq(kcmdline_parse_bool("2"), -EINVAL);
}
END_TEST

START_TEST(test_split_run)
{
	char **argv;

	ck_assert_int_eq(kcmdline_split_run("/bin/sh,-c,echo%20a%2Cb%25,", &argv), 4);
	ck_assert_str_eq(argv[0], "/bin/sh");
	ck_assert_str_eq(argv[1], "-c");
	ck_assert_str_eq(argv[2], "echo a,b%");
	ck_assert_str_eq(argv[3], "");
	ck_assert_ptr_null(argv[4]);
	free(argv);
	ck_assert_int_eq(kcmdline_split_run("prog", &argv), 1);
	ck_assert_str_eq(argv[0], "prog");
	free(argv);
	ck_assert_int_eq(kcmdline_split_run("", &argv), -EINVAL);
	ck_assert_int_eq(kcmdline_split_run(",x", &argv), -EINVAL);
	ck_assert_int_eq(kcmdline_split_run("a%2", &argv), -EINVAL);
	ck_assert_int_eq(kcmdline_split_run("a%zz", &argv), -EINVAL);
	ck_assert_int_eq(kcmdline_split_run("a%00", &argv), -EINVAL);
	char many[KCMDLINE_MAX_ARGS * 2 + 2];
	for (int i = 0; i < KCMDLINE_MAX_ARGS; i++)
		many[2 * i] = 'x', many[2 * i + 1] = ',';
	many[2 * KCMDLINE_MAX_ARGS - 1] = '\0'; /* exactly 256 args */
	ck_assert_int_eq(kcmdline_split_run(many, &argv), KCMDLINE_MAX_ARGS);
	free(argv);
	many[2 * KCMDLINE_MAX_ARGS - 1] = ',';
	many[2 * KCMDLINE_MAX_ARGS] = 'y';
	many[2 * KCMDLINE_MAX_ARGS + 1] = '\0';
	ck_assert_int_eq(kcmdline_split_run(many, &argv), -E2BIG);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "kcmdline",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_get),
			MVMT_TEST(test_bool),
			MVMT_TEST(test_split_run)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "kcmdline", .tcases = tcases)
