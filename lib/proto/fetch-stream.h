/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decoder of mvm-fetch's data pipe (lib/proto/fetch-proto.h): frames in,
 * blob bytes and restarts out, in order. The bytes come from the
 * sandboxed helper, so every header is checked; a frame cut at the end
 * of the stream is an error too. Freestanding like exec-frame.c (only
 * memcpy); errors are negative Linux errno numbers. Nothing allocates:
 * the bytes handed to on_data point into the buffer given to the feed.
 */
#ifndef MVM_PROTO_FETCH_STREAM_H
#define MVM_PROTO_FETCH_STREAM_H

#include <stddef.h>
#include <stdint.h>

#define FETCH_STREAM_EPROTO 71

typedef struct fetch_stream_ops {
	int (*on_data)(const void *data, size_t len, void *userdata);
	int (*on_restart)(void *userdata);
} fetch_stream_ops_t;

typedef struct fetch_stream {
	uint8_t head[8];  /* a header read in part */
	size_t head_len;
	uint32_t left;    /* bytes of the current DATA frame still to come */
	int error;        /* once set, every feed returns it */
} fetch_stream_t;

/* Decode len bytes: calls ops in stream order. 0, a callback's error
 * (returned as is), or -FETCH_STREAM_EPROTO for a malformed header. */
int fetch_stream_feed(fetch_stream_t *s, const void *buf, size_t len, const fetch_stream_ops_t *ops, void *userdata);

/* The stream ended (EOF): 0 at a frame boundary, else -FETCH_STREAM_EPROTO. */
int fetch_stream_end(const fetch_stream_t *s);

#endif
