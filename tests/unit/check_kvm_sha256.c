/* SPDX-License-Identifier: Apache-2.0 */
/* daemon/vmm/sha256.c against the FIPS 180-4 examples and against OpenSSL
 * (blob_hash_data) on inputs of every length around the block edges. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "sha256.h"
#include "mvmt-main.h"

START_TEST(test_vectors)
{
	static const struct { const char *in, *hex; } v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	char hex[65];
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		kvm_sha256_hex(v[i].in, strlen(v[i].in), hex);
		ck_assert_str_eq(hex, v[i].hex);
	}
}
END_TEST

START_TEST(test_against_openssl)
{
	static uint8_t buf[4096];
	char a[65], b[BLOB_HEX_LEN + 1];
	unsigned seed = 12345;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand_r(&seed);
	for (size_t n = 0; n <= 300; n++) {
		kvm_sha256_hex(buf, n, a);
		ck_assert_int_eq(blob_hash_data(buf, n, b), 0);
		ck_assert_msg(strcmp(a, b) == 0, "length %zu", n);
	}
	kvm_sha256_hex(buf, sizeof(buf), a);
	ck_assert_int_eq(blob_hash_data(buf, sizeof(buf), b), 0);
	ck_assert_str_eq(a, b);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "sha256",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_vectors),
			MVMT_TEST(test_against_openssl)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "kvm-sha256", .tcases = tcases)
