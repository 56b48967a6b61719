/* SPDX-License-Identifier: Apache-2.0 */
/* The ch backend's pure pieces of a VM's devices and process: the MAC
 * derived from a VM id, and the exit report's parser. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/exit-report.h"
#include "ch/spec-devices.h"
#include "mvmt-main.h"

START_TEST(test_mac_stable_local_unicast)
{
	char a[18], b[18], c[18];
	unsigned first;

	ch_spec_mac("0123456789abcdef0123456789abcdef", 0, a);
	ch_spec_mac("0123456789abcdef0123456789abcdef", 0, b);
	ch_spec_mac("0123456789abcdef0123456789abcdef", 1, c);
	ck_assert_str_eq(a, b);    /* the same VM and index: the same MAC */
	ck_assert_str_ne(a, c);    /* another index: another */
	ck_assert_int_eq(strlen(a), 17);
	ck_assert_int_eq(sscanf(a, "%2x", &first), 1);
	ck_assert_int_eq(first & 3, 2); /* locally administered, unicast */
	ch_spec_mac("fedcba9876543210fedcba9876543210", 0, b);
	ck_assert_str_ne(a, b);    /* another VM: another */
}
END_TEST

START_TEST(test_exit_report_parse)
{
	static const struct {
		const char *text;
		int code;
	} good[] = { { "exit_code 0\n", 0 }, { "exit_code 3", 3 }, { "exit_code 137\n", 137 }, { "exit_code 255\n", 255 } };
	static const char *const bad[] = { "",		"exit_code\n",	  "exit_code \n",    "exit_code 256\n",
					   "exit_code -1\n", "exit_code 03\n", "exit_code 1000\n", "exit_code 3 \n",
					   "exit_code 3\n\n", "EXIT_CODE 3\n",  "exit_code 0x1\n" };
	int code;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		code = -1;
		ck_assert_int_eq(ch_exit_report_parse(good[i].text, strlen(good[i].text), &code), 0);
		ck_assert_int_eq(code, good[i].code);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ch_exit_report_parse(bad[i], strlen(bad[i]), &code) == -EBADMSG, "accepted: %s", bad[i]);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "ch_spec",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_mac_stable_local_unicast),
			MVMT_TEST(test_exit_report_parse)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "ch_spec", .tcases = tcases)
