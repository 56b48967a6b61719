/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The blob fetch protocol between a Linux guest and mvmd
 * (docs/blob-protocol.md): the guest connects to the host on vsock port
 * BLOB_PROTO_PORT, sends "sha256:<64 hex>\n" and gets a 16-byte header and
 * then (status ok) exactly `size` bytes, after which mvmd closes. One
 * request per connection. Shared by the server (daemon/mvmd/blob-serve.c, mvmd)
 * and the client (init/linux/blob-fetch.c, mvm-init); no libc beyond <stdint.h>.
 */
#ifndef MVM_BLOB_PROTO_H
#define MVM_BLOB_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Host vsock port the guest connects to (with hybrid vsock mvmd listens
 * on "<vm vsock socket>_1025"). */
#define BLOB_PROTO_PORT 1025u

/* "sha256:" + 64 lowercase hex + "\n" */
#define BLOB_PROTO_REQUEST_LEN 72u
/* The server reads at most this much before judging a request. */
#define BLOB_PROTO_REQUEST_MAX 128u

#define BLOB_PROTO_MAGIC "MVB1"
#define BLOB_PROTO_HEADER_LEN 16u

/* Status codes (header bytes 4..7, little endian). */
enum {
	BLOB_STATUS_OK = 0,
	BLOB_STATUS_BAD_REQUEST = 1, /* not "sha256:<64 lowercase hex>\n" */
	BLOB_STATUS_UNAVAILABLE = 2, /* not in the store, or not granted to this VM: the same answer */
	BLOB_STATUS_IO_ERROR = 3,    /* the host could not read it */
};

static inline void blob_proto_header_encode(uint8_t h[BLOB_PROTO_HEADER_LEN], uint32_t status, uint64_t size)
{
	h[0] = 'M', h[1] = 'V', h[2] = 'B', h[3] = '1';
	for (int i = 0; i < 4; i++)
		h[4 + i] = (uint8_t)(status >> (8 * i));
	for (int i = 0; i < 8; i++)
		h[8 + i] = (uint8_t)(size >> (8 * i));
}

/* 0, or -1 when the magic is wrong. */
static inline int blob_proto_header_decode(const uint8_t h[BLOB_PROTO_HEADER_LEN], uint32_t *ret_status,
					   uint64_t *ret_size)
{
	uint32_t st = 0;
	uint64_t sz = 0;

	if (h[0] != 'M' || h[1] != 'V' || h[2] != 'B' || h[3] != '1')
		return -1;
	for (int i = 0; i < 4; i++)
		st |= (uint32_t)h[4 + i] << (8 * i);
	for (int i = 0; i < 8; i++)
		sz |= (uint64_t)h[8 + i] << (8 * i);
	*ret_status = st;
	*ret_size = sz;
	return 0;
}

static inline const char *blob_proto_status_to_string(uint32_t status)
{
	switch (status) {
	case BLOB_STATUS_OK: return "ok";
	case BLOB_STATUS_BAD_REQUEST: return "bad-request";
	case BLOB_STATUS_UNAVAILABLE: return "unavailable";
	case BLOB_STATUS_IO_ERROR: return "io-error";
	default: return "unknown";
	}
}

#endif
