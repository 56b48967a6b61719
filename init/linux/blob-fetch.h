/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest side of the blob protocol (docs/blob-protocol.md): fetch one
 * blob by hash from the host and verify that its bytes hash to the name
 * asked for, with the guest's own SHA-256 (lib/util/sha256.c): the guest
 * trusts no byte it did not check. Blocking; used by mvm-init in the
 * forked child that runs a Wasm module. Builds against glibc and musl.
 */
#ifndef MVM_BLOB_FETCH_H
#define MVM_BLOB_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "proto/blob-proto.h"

/* Where the host is: AF_VSOCK (cid 2 = the host) in a guest, AF_UNIX in tests. */
typedef struct blob_fetch_transport {
	const char *name; /* for messages: "vsock:2:1025", "unix:/path" */
	/* Return a connected, blocking, close-on-exec socket or -errno. */
	int (*connect)(const struct blob_fetch_transport *t);
	const char *path; /* AF_UNIX path */
	unsigned cid, port; /* AF_VSOCK */
} blob_fetch_transport_t;

#define BLOB_FETCH_HOST_CID 2u
blob_fetch_transport_t blob_fetch_transport_vsock(unsigned cid, unsigned port);
blob_fetch_transport_t blob_fetch_transport_unix(const char *path);

typedef struct blob_fetch_opts {
	uint64_t max_size;   /* a larger blob is refused before it is read (-EFBIG); 0: 256 MiB */
	unsigned timeout_ms; /* per send/receive; 0: 30000 */
} blob_fetch_opts_t;

/*
 * Fetch "sha256:<hex>". 0 and *ret_data (free()) / *ret_len on success.
 * Errors: -EINVAL (malformed hex), -ENOENT (the host says unavailable),
 * -EBADMSG (the bytes do not hash to hex), -EFBIG (over max_size),
 * -EPROTO (bad header, bad-request status, short blob), -EIO (the host
 * could not read it), or the transport's -errno. ret_status (may be NULL)
 * receives the host's status when a header arrived.
 */
int blob_fetch(const blob_fetch_transport_t *t, const char *hex, const blob_fetch_opts_t *opts,
	       uint8_t **ret_data, size_t *ret_len, uint32_t *ret_status);

#endif
