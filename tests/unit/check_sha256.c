/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's SHA-256 (lib/util/sha256.c): the FIPS 180-2 appendix B
 * vectors, and agreement with OpenSSL (blob_hash_data) for every length
 * around the block and padding boundaries, fed whole and in odd pieces.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "util/sha256.h"
#include "mvmt-main.h"

static const char *hex_of(const void *p, size_t n)
{
	static char h[65];
	sha256_hex(p, n, h);
	return h;
}

START_TEST(test_fips_vectors)
{
	ck_assert_str_eq(hex_of("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_assert_str_eq(hex_of("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_str_eq(hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56),
			 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(test_million_a_in_pieces)
{
	static uint8_t a[1000];
	uint8_t d[32];
	char h[65];
	sha256_ctx c;

	memset(a, 'a', sizeof(a));
	sha256_init(&c);
	for (int i = 0; i < 1000; i++)
		sha256_update(&c, a, 1000);
	sha256_final(&c, d);
	for (int i = 0; i < 32; i++)
		sprintf(h + 2 * i, "%02x", d[i]);
	ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(test_matches_openssl)
{
	static uint8_t buf[1100];
	char want[65], got[65];

	srand(7);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	for (size_t len = 0; len <= sizeof(buf); len++) {
		uint8_t d[32];
		sha256_ctx c;
		size_t off = 0, step = 1 + len % 67;

		ck_assert_int_eq(blob_hash_data(buf, len, want), 0);
		ck_assert_str_eq(hex_of(buf, len), want);
		/* Uneven updates cross the 64-byte blocks at every offset. */
		sha256_init(&c);
		while (off < len) {
			size_t n = len - off < step ? len - off : step;
			sha256_update(&c, buf + off, n);
			off += n;
		}
		sha256_final(&c, d);
		for (int i = 0; i < 32; i++)
			sprintf(got + 2 * i, "%02x", d[i]);
		ck_assert_msg(strcmp(got, want) == 0, "len %zu step %zu", len, step);
	}
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "sha256",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_fips_vectors),
			MVMT_TEST(test_million_a_in_pieces),
			MVMT_TEST(test_matches_openssl)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "sha256", .tcases = tcases)
