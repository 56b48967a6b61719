/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"
#include "mvmt-main.h"

static void sanitize_eq(const char *in, size_t len, const char *want)
{
	char *out;
	size_t n;
	ck_assert_int_eq(utf8_sanitize(in, len, &out, &n), 0);
	ck_assert_str_eq(out, want);
	ck_assert_uint_eq(n, strlen(want));
	free(out);
}

START_TEST(test_utf8)
{
	sanitize_eq("plain", 5, "plain");
	sanitize_eq("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
	sanitize_eq("\xff", 1, "\xef\xbf\xbd");
	sanitize_eq("a\0b", 3, "a\xef\xbf\xbd" "b");                 /* NUL */
	sanitize_eq("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd");        /* overlong */
	sanitize_eq("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
	sanitize_eq("\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* > U+10FFFF */
	sanitize_eq("\xe2\x82", 2, "\xef\xbf\xbd\xef\xbf\xbd");        /* truncated */
	sanitize_eq("", 0, "");
}
END_TEST

START_TEST(test_base64_round_trip)
{
	static const char *cases[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *enc;
		void *dec;
		size_t n;
		ck_assert_int_eq(base64_encode(cases[i][0], strlen(cases[i][0]), &enc, &n), 0);
		ck_assert_str_eq(enc, cases[i][1]);
		ck_assert_int_eq(base64_decode(enc, n, &dec, &n), 0);
		ck_assert_uint_eq(n, strlen(cases[i][0]));
		ck_assert(memcmp(dec, cases[i][0], n) == 0);
		free(enc);
		free(dec);
	}
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	char *enc;
	void *dec;
	size_t n;
	ck_assert_int_eq(base64_encode(all, 256, &enc, &n), 0);
	ck_assert_int_eq(base64_decode(enc, n, &dec, &n), 0);
	ck_assert_uint_eq(n, 256);
	ck_assert(memcmp(dec, all, 256) == 0);
	free(enc);
	free(dec);
}
END_TEST

START_TEST(test_base64_rejects)
{
	/* The last four: bits after the last byte that are not zero, so a
	 * second spelling of "a" ("YQ==") and of "ab" ("YWI="). */
	static const char *bad[] = { "Zg=", "Zg", "Z===", "Zm9v\n", "Zm 9", "Zg=a", "=Zg=", "Zm9v====", "Zm-v", "ab=c",
				     "YR==", "Yf==", "YWJ=", "Zm9vYh==" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *dec;
		size_t n;
		ck_assert_msg(base64_decode(bad[i], strlen(bad[i]), &dec, &n) < 0, "accepted %s", bad[i]);
	}
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "core",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_utf8),
			MVMT_TEST(test_base64_round_trip),
			MVMT_TEST(test_base64_rejects)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "text", .tcases = tcases)
