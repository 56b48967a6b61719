/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SHA-256 (FIPS 180-4) in plain C, the one every program but mvmd uses:
 * the static musl mvm-init verifies Wasm modules it fetched from the host
 * against their hash (docs/blob-protocol.md), and the sandboxed worker
 * checks a workload module and the blobs granted at exec time
 * (daemon/vmm/module.c, grants.c). There OpenSSL's first digest in a
 * fresh process costs ~0.9 ms of provider setup; this costs ~0.1 ms for a
 * 30 KiB module and nothing to set up. mvmd itself keeps OpenSSL's EVP
 * (daemon/mvmd/blob.c). Freestanding (no libc, no allocation; only
 * memcpy/memset, which `make check` proves), so a micro-VM guest can link
 * it too. tests/unit/check_sha256.c holds it to the FIPS vectors and to
 * OpenSSL.
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

/* One-shot. */
void sha256(const void *data, size_t len, uint8_t ret[SHA256_DIGEST_LEN]);
/* One-shot, as 64 lowercase hex characters plus NUL. */
void sha256_hex(const void *data, size_t len, char ret_hex[65]);

#endif
