/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SHA-256 (FIPS 180-4) in plain C, for code that cannot use OpenSSL: the
 * static musl mvm-init verifies Wasm modules it fetched from the host
 * against their hash (docs/blob-protocol.md). Host code uses OpenSSL's EVP
 * (daemon/mvmd/blob.c); tests/unit/check_sha256.c holds this one to the FIPS
 * vectors and to OpenSSL. No allocation, no libc beyond memcpy/memset.
 */
#ifndef MVM_UTIL_SHA256_H
#define MVM_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32

typedef struct sha256_ctx {
	uint32_t h[8];
	uint64_t len; /* bytes hashed so far */
	uint8_t buf[64];
	size_t buf_len;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, uint8_t ret[SHA256_DIGEST_LEN]);

/* One-shot, as 64 lowercase hex characters plus NUL. */
void sha256_hex(const void *data, size_t len, char ret_hex[65]);

#endif
