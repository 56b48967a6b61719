/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-sources: lib/proto/exec-frame.c */
/*
 * Feed arbitrary bytes to the exec frame decoder in input-derived chunk
 * sizes; parse every frame it returns; re-encode parsed requests, exits and
 * errors and check they decode to the same thing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/exec-frame.h"

static uint8_t buf[EXEC_MAX_PAYLOAD];
static uint8_t out[EXEC_MAX_REQUEST + EXEC_FRAME_HEADER_SIZE];
static exec_request_t req, req2;

static void check_frame(const exec_frame_t *f)
{
	exec_exit_t ex, ex2;
	exec_str_t msg;
	uint32_t code;
	int n;

	switch (f->type) {
	case EXEC_FRAME_REQUEST:
		if (exec_parse_request(f->payload, f->len, &req) < 0)
			abort(); /* the decoder already validated it */
		n = exec_encode_request(out, sizeof(out), &req);
		if (n != (int)(f->len + EXEC_FRAME_HEADER_SIZE) || memcmp(out + 8, f->payload, f->len))
			abort();
		if (exec_parse_request(out + 8, f->len, &req2) < 0 || req2.argc != req.argc)
			abort();
		break;
	case EXEC_FRAME_EXIT:
		if (exec_parse_exit(f->payload, f->len, &ex) < 0)
			abort();
		n = exec_encode_exit(out, sizeof(out), &ex);
		if (n != 16 || exec_parse_exit(out + 8, 8, &ex2) < 0 || memcmp(&ex, &ex2, sizeof(ex)))
			abort();
		break;
	case EXEC_FRAME_ERROR:
		if (exec_parse_error(f->payload, f->len, &code, &msg) < 0)
			abort();
		n = exec_encode_error(out, sizeof(out), code, msg.ptr, msg.len);
		if (n != (int)(f->len + 8) || memcmp(out + 8, f->payload, f->len))
			abort();
		break;
	default:
		if (exec_frame_max_payload(f->type) < (int)f->len)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	exec_decoder_t d;
	exec_frame_t f;
	size_t off = 0, used;
	unsigned step;
	int r = 0;

	if (size < 1)
		return 0;
	step = data[0] ? data[0] : 1; /* first byte: chunk size */
	data++, size--;
	exec_decoder_init(&d, buf, sizeof(buf));
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		r = exec_decoder_feed(&d, data + off, n, &used, &f);
		if (r < 0)
			break;
		if (used > n)
			abort();
		off += used;
		if (r == 1)
			check_frame(&f);
	}
	if (r < 0 && exec_decoder_feed(&d, data, size, &used, &f) != r)
		abort(); /* errors are sticky */
	return 0;
}
