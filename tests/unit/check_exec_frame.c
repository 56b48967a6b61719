/* SPDX-License-Identifier: Apache-2.0 */
/* The exec frame codec: round trips, every cap, truncated and corrupt input. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/exec-frame.h"
#include "mvmt-main.h"

_Static_assert(EXEC_E2BIG == E2BIG && EXEC_EINVAL == EINVAL && EXEC_ENOSPC == ENOSPC &&
		       EXEC_EPROTO == EPROTO && EXEC_EBADMSG == EBADMSG &&
		       EXEC_EMSGSIZE == EMSGSIZE && EXEC_EPROTONOSUPPORT == EPROTONOSUPPORT,
	       "EXEC_E* must be Linux errno values");

static uint8_t wire[EXEC_MAX_REQUEST + 64];
static uint8_t dbuf[EXEC_MAX_PAYLOAD];

static exec_str_t S(const char *s)
{
	return (exec_str_t){ s, (uint32_t)strlen(s) };
}

static exec_request_t *req_new(void)
{
	exec_request_t *r = calloc(1, sizeof(*r));
	ck_assert_ptr_nonnull(r);
	r->version = EXEC_PROTOCOL_VERSION;
	r->argc = 2;
	r->argv[0] = S("/bin/echo");
	r->argv[1] = S("hello world");
	r->envc = 1;
	r->envp[0] = S("PATH=/bin");
	r->timeout_ms = 1500;
	return r;
}

/* Feed n bytes in chunks of `step`, expect exactly one frame at the end. */
static int decode_all(const uint8_t *b, size_t n, size_t step, exec_frame_t *f, size_t *frames)
{
	exec_decoder_t d;
	size_t off = 0, used;
	int r = 0;

	exec_decoder_init(&d, dbuf, sizeof(dbuf));
	*frames = 0;
	while (off < n) {
		size_t chunk = n - off < step ? n - off : step;
		r = exec_decoder_feed(&d, b + off, chunk, &used, f);
		if (r < 0)
			return r;
		ck_assert_uint_le(used, chunk);
		off += used;
		if (r == 1)
			(*frames)++;
	}
	return exec_decoder_idle(&d) ? (int)*frames : -1000;
}

START_TEST(test_request_roundtrip)
{
	exec_request_t *r = req_new(), *p = calloc(1, sizeof(*p));
	static const uint8_t in[] = "stdin bytes\0with nul";
	exec_frame_t f;
	size_t frames;

	r->stdin_mode = EXEC_STDIN_INLINE;
	r->stdin_data = in;
	r->stdin_len = sizeof(in);
	int n = exec_encode_request(wire, sizeof(wire), r);
	ck_assert_int_eq(n, exec_request_encoded_size(r));
	ck_assert_int_eq(n, 8 + 16 + 4 + 9 + 4 + 11 + 4 + 9 + (int)sizeof(in));
	ck_assert_int_eq(wire[0], 'M');
	ck_assert_int_eq(wire[1], 'X');
	ck_assert_int_eq(wire[2], EXEC_FRAME_REQUEST);
	for (size_t step = 1; step <= (size_t)n; step += (step < 16 ? 1 : 37)) {
		ck_assert_int_eq(decode_all(wire, n, step, &f, &frames), 1);
		ck_assert_int_eq(f.type, EXEC_FRAME_REQUEST);
		ck_assert_int_eq(exec_parse_request(f.payload, f.len, p), 0);
		ck_assert_uint_eq(p->argc, 2);
		ck_assert_uint_eq(p->envc, 1);
		ck_assert_uint_eq(p->timeout_ms, 1500);
		ck_assert_int_eq(p->stdin_mode, EXEC_STDIN_INLINE);
		ck_assert_mem_eq(p->argv[1].ptr, "hello world", 11);
		ck_assert_mem_eq(p->envp[0].ptr, "PATH=/bin", 9);
		ck_assert_uint_eq(p->stdin_len, sizeof(in));
		ck_assert_mem_eq(p->stdin_data, in, sizeof(in));
	}
	free(r);
	free(p);
}
END_TEST

START_TEST(test_stream_of_frames)
{
	/* stdout, stderr, empty stdout, stdin-eof, exit, error back to back */
	uint8_t *b = wire;
	size_t n = 0, used, off = 0;
	exec_exit_t ex = { EXEC_EXIT_SIGNAL, EXEC_EXIT_FLAG_TIMED_OUT, 9 }, ex2;
	exec_decoder_t d;
	exec_frame_t f;
	int types[6], nt = 0, r;

	n += exec_encode_data(b + n, sizeof(wire) - n, EXEC_FRAME_STDOUT, "out", 3);
	n += exec_encode_data(b + n, sizeof(wire) - n, EXEC_FRAME_STDERR, "err!", 4);
	n += exec_encode_data(b + n, sizeof(wire) - n, EXEC_FRAME_STDOUT, "", 0);
	n += exec_encode_data(b + n, sizeof(wire) - n, EXEC_FRAME_STDIN_EOF, NULL, 0);
	n += exec_encode_exit(b + n, sizeof(wire) - n, &ex);
	n += exec_encode_error(b + n, sizeof(wire) - n, EXEC_ERROR_NOT_FOUND, "nope", 4);
	ck_assert_uint_eq(n, 11 + 12 + 8 + 8 + 16 + 18);
	exec_decoder_init(&d, dbuf, sizeof(dbuf));
	while ((r = exec_decoder_feed(&d, b + off, n - off, &used, &f)) == 1) {
		off += used;
		types[nt++] = f.type;
		if (f.type == EXEC_FRAME_STDERR)
			ck_assert_mem_eq(f.payload, "err!", 4);
		if (f.type == EXEC_FRAME_EXIT) {
			ck_assert_int_eq(exec_parse_exit(f.payload, f.len, &ex2), 0);
			ck_assert_int_eq(ex2.kind, EXEC_EXIT_SIGNAL);
			ck_assert_int_eq(ex2.flags, EXEC_EXIT_FLAG_TIMED_OUT);
			ck_assert_uint_eq(ex2.value, 9);
		}
		if (f.type == EXEC_FRAME_ERROR) {
			uint32_t code;
			exec_str_t msg;
			ck_assert_int_eq(exec_parse_error(f.payload, f.len, &code, &msg), 0);
			ck_assert_uint_eq(code, EXEC_ERROR_NOT_FOUND);
			ck_assert_uint_eq(msg.len, 4);
		}
	}
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(nt, 6);
	ck_assert_int_eq(types[0], EXEC_FRAME_STDOUT);
	ck_assert_int_eq(types[2], EXEC_FRAME_STDOUT);
	ck_assert_int_eq(types[3], EXEC_FRAME_STDIN_EOF);
	ck_assert_int_eq(types[5], EXEC_FRAME_ERROR);
	ck_assert(exec_decoder_idle(&d));
}
END_TEST

START_TEST(test_encoder_caps)
{
	exec_request_t *r = req_new();
	static char big[EXEC_MAX_STRING + 2];
	static uint8_t data[EXEC_MAX_DATA + 1];
	exec_exit_t ex = { EXEC_EXIT_CODE, 0, 256 };

	/* A Wasm module's exit code is a u32: any value is an exit code. */
	ck_assert_int_eq(exec_encode_exit(wire, sizeof(wire), &ex), EXEC_FRAME_HEADER_SIZE + 8);
	ex.value = UINT32_MAX;
	ck_assert_int_eq(exec_encode_exit(wire, sizeof(wire), &ex), EXEC_FRAME_HEADER_SIZE + 8);
	ex = (exec_exit_t){ EXEC_EXIT_SIGNAL, 0, 65 };
	memset(big, 'a', sizeof(big));
	r->argv[1] = (exec_str_t){ big, EXEC_MAX_STRING };
	ck_assert_int_gt(exec_encode_request(wire, sizeof(wire), r), 0);
	r->argv[1].len = EXEC_MAX_STRING + 1;
	ck_assert_int_eq(exec_encode_request(wire, sizeof(wire), r), -E2BIG);
	r->argv[1].len = 3;
	r->argc = 0;
	ck_assert_int_eq(exec_encode_request(wire, sizeof(wire), r), -E2BIG);
	r->argc = EXEC_MAX_ARGC + 1;
	ck_assert_int_eq(exec_encode_request(wire, sizeof(wire), r), -E2BIG);
	r->argc = 1;
	r->envc = EXEC_MAX_ENVC + 1;
	ck_assert_int_eq(exec_encode_request(wire, sizeof(wire), r), -E2BIG);
	r->envc = 1;
	r->envp[0] = S("NOEQUALS");
	ck_assert_int_eq(exec_encode_request(wire, sizeof(wire), r), -EINVAL);
	r->envp[0] = S("=x");
	ck_assert_int_eq(exec_encode_request(wire, sizeof(wire), r), -EINVAL);
	r->envp[0] = S("A=1");
	r->argv[0] = (exec_str_t){ "a\0b", 3 };
	ck_assert_int_eq(exec_encode_request(wire, sizeof(wire), r), -EINVAL);
	r->argv[0] = S("");
	ck_assert_int_eq(exec_encode_request(wire, sizeof(wire), r), -EINVAL);
	r->argv[0] = S("x");
	r->stdin_len = 1;
	r->stdin_data = data;
	ck_assert_int_eq(exec_encode_request(wire, sizeof(wire), r), -EINVAL); /* mode NONE */
	r->stdin_mode = EXEC_STDIN_INLINE;
	r->stdin_len = EXEC_MAX_INLINE_STDIN + 1;
	ck_assert_int_eq(exec_encode_request(wire, sizeof(wire), r), -E2BIG);
	r->stdin_len = 0;
	r->stdin_mode = EXEC_STDIN_MODE_MAX;
	ck_assert_int_eq(exec_encode_request(wire, sizeof(wire), r), -EINVAL);
	r->stdin_mode = 0;
	r->timeout_ms = EXEC_MAX_TIMEOUT_MS + 1;
	ck_assert_int_eq(exec_encode_request(wire, sizeof(wire), r), -EINVAL);
	r->timeout_ms = 0;
	/* Total payload cap: 256 args of 4 KiB each exceed 128 KiB. */
	r->argc = EXEC_MAX_ARGC;
	for (unsigned i = 0; i < EXEC_MAX_ARGC; i++)
		r->argv[i] = (exec_str_t){ big, EXEC_MAX_STRING };
	ck_assert_int_eq(exec_request_encoded_size(r), -E2BIG);
	r->argc = 1;
	ck_assert_int_eq(exec_encode_request(wire, 10, r), -ENOSPC);

	ck_assert_int_eq(exec_encode_data(wire, sizeof(wire), EXEC_FRAME_STDOUT, data, EXEC_MAX_DATA),
			 8 + EXEC_MAX_DATA);
	ck_assert_int_eq(exec_encode_data(wire, sizeof(wire), EXEC_FRAME_STDOUT, data, EXEC_MAX_DATA + 1),
			 -E2BIG);
	ck_assert_int_eq(exec_encode_data(wire, sizeof(wire), EXEC_FRAME_EXIT, data, 1), -EINVAL);
	ck_assert_int_eq(exec_encode_data(wire, sizeof(wire), EXEC_FRAME_STDIN_EOF, data, 1), -E2BIG);
	ck_assert_int_eq(exec_encode_data(wire, 8, EXEC_FRAME_STDOUT, data, 1), -ENOSPC);
	ck_assert_int_eq(exec_encode_exit(wire, sizeof(wire), &ex), -EINVAL);
	ex = (exec_exit_t){ EXEC_EXIT_SIGNAL, 0, 0 };
	ck_assert_int_eq(exec_encode_exit(wire, sizeof(wire), &ex), -EINVAL);
	ex = (exec_exit_t){ EXEC_EXIT_CODE, 0x80, 0 };
	ck_assert_int_eq(exec_encode_exit(wire, sizeof(wire), &ex), -EINVAL);
	ck_assert_int_eq(exec_encode_error(wire, sizeof(wire), 0, "x", 1), -EINVAL);
	ck_assert_int_eq(exec_encode_error(wire, sizeof(wire), EXEC_ERROR_CODE_MAX, "x", 1), -EINVAL);
	/* Long messages are truncated to the cap, not refused. */
	ck_assert_int_eq(exec_encode_error(wire, sizeof(wire), EXEC_ERROR_INTERNAL, big, sizeof(big)),
			 8 + 6 + EXEC_MAX_ERROR_MESSAGE);
	ck_assert_int_eq(exec_encode_header(wire, sizeof(wire), 0x55, 0), -EINVAL);
	free(r);
}
END_TEST

static int decode_one(const uint8_t *b, size_t n)
{
	exec_frame_t f;
	size_t frames;
	return decode_all(b, n, n ? n : 1, &f, &frames);
}

START_TEST(test_decoder_rejects_headers)
{
	uint8_t h[8];
	exec_decoder_t d;
	exec_frame_t f;
	size_t used;

	exec_encode_header(h, 8, EXEC_FRAME_STDOUT, 1);
	h[0] = 'm';
	ck_assert_int_eq(decode_one(h, 8), -EBADMSG);
	exec_encode_header(h, 8, EXEC_FRAME_STDOUT, 1);
	h[3] = 1; /* flags */
	ck_assert_int_eq(decode_one(h, 8), -EBADMSG);
	exec_encode_header(h, 8, EXEC_FRAME_STDOUT, 1);
	h[2] = 0x7f; /* unknown type */
	ck_assert_int_eq(decode_one(h, 8), -EPROTO);
	/* Oversized lengths are refused at the header, before buffering. */
	exec_encode_header(h, 8, EXEC_FRAME_STDOUT, 0);
	h[4] = 0x01; h[5] = 0x80; h[6] = 0; h[7] = 0; /* 32769 */
	ck_assert_int_eq(decode_one(h, 8), -EMSGSIZE);
	h[4] = h[5] = h[6] = h[7] = 0xff;
	ck_assert_int_eq(decode_one(h, 8), -EMSGSIZE);
	exec_encode_header(h, 8, EXEC_FRAME_STDIN_EOF, 0);
	h[4] = 1;
	ck_assert_int_eq(decode_one(h, 8), -EMSGSIZE);
	exec_encode_header(h, 8, EXEC_FRAME_EXIT, 8);
	h[4] = 9;
	ck_assert_int_eq(decode_one(h, 8), -EMSGSIZE);
	/* A small decoder buffer lowers the cap. */
	exec_decoder_init(&d, dbuf, 16);
	exec_encode_header(h, 8, EXEC_FRAME_STDOUT, 17);
	ck_assert_int_eq(exec_decoder_feed(&d, h, 8, &used, &f), -EMSGSIZE);
	/* Errors are sticky. */
	exec_encode_header(h, 8, EXEC_FRAME_STDIN_EOF, 0);
	ck_assert_int_eq(exec_decoder_feed(&d, h, 8, &used, &f), -EMSGSIZE);
}
END_TEST

START_TEST(test_decoder_truncated)
{
	exec_request_t *r = req_new();
	int n = exec_encode_request(wire, sizeof(wire), r);
	exec_decoder_t d;
	exec_frame_t f;
	size_t used;

	/* Every proper prefix is "need more", never a frame; not idle. */
	for (int k = 1; k < n; k++) {
		exec_decoder_init(&d, dbuf, sizeof(dbuf));
		ck_assert_int_eq(exec_decoder_feed(&d, wire, k, &used, &f), 0);
		ck_assert_uint_eq(used, (size_t)k);
		ck_assert(!exec_decoder_idle(&d));
	}
	free(r);
}
END_TEST

/* Patch a byte of an encoded request and expect the decoder to refuse it. */
static int corrupt_request(size_t at, uint8_t val)
{
	exec_request_t *r = req_new();
	int n = exec_encode_request(wire, sizeof(wire), r);
	free(r);
	wire[at] = val;
	return decode_one(wire, n);
}

START_TEST(test_decoder_corrupt_request)
{
	const size_t P = 8; /* payload offset */

	ck_assert_int_eq(corrupt_request(P + 0, 2), -EPROTONOSUPPORT); /* version 2 */
	ck_assert_int_eq(corrupt_request(P + 0, 0), -EPROTONOSUPPORT);
	ck_assert_int_eq(corrupt_request(P + 2, 3), -EBADMSG);          /* stdin mode */
	ck_assert_int_eq(corrupt_request(P + 3, 1), -EBADMSG);          /* reserved */
	ck_assert_int_eq(corrupt_request(P + 7, 0xff), -EBADMSG);       /* timeout */
	ck_assert_int_eq(corrupt_request(P + 8, 0), -E2BIG);            /* argc 0 */
	ck_assert_int_eq(corrupt_request(P + 9, 1), -E2BIG);            /* argc 258 */
	ck_assert_int_eq(corrupt_request(P + 8, 3), -EBADMSG);          /* argc past end */
	ck_assert_int_eq(corrupt_request(P + 11, 1), -E2BIG);           /* envc 257 */
	ck_assert_int_eq(corrupt_request(P + 12, 1), -EBADMSG);         /* stdin w/o mode */
	ck_assert_int_eq(corrupt_request(P + 18, 1), -E2BIG);           /* strlen 65545 */
	ck_assert_int_eq(corrupt_request(P + 16, 0), -EBADMSG);         /* empty argv[0] */
	ck_assert_int_lt(corrupt_request(P + 16, 10), 0);               /* misaligned */
	ck_assert_int_eq(corrupt_request(P + 20, 0), -EBADMSG);         /* NUL in argv */
	ck_assert_int_eq(corrupt_request(P + 16 + 4 + 9 + 4 + 11 + 4 + 4, 'x'), -EBADMSG); /* env '=' */
	/* A request shorter than its fixed part. */
	uint8_t h[8 + 15] = { 0 };
	exec_encode_header(h, sizeof(h), EXEC_FRAME_REQUEST, 15);
	ck_assert_int_eq(decode_one(h, sizeof(h)), -EBADMSG);
}
END_TEST

START_TEST(test_decoder_corrupt_small_frames)
{
	uint8_t b[64];
	exec_exit_t ex = { EXEC_EXIT_CODE, 0, 3 };
	int n;

	n = exec_encode_exit(b, sizeof(b), &ex);
	ck_assert_int_eq(decode_one(b, n), 1);
	b[8] = 2;
	ck_assert_int_eq(decode_one(b, n), -EBADMSG); /* kind */
	n = exec_encode_exit(b, sizeof(b), &ex);
	b[12] = 0; b[13] = 1; /* code 256: a u32 exit code is whole */
	ck_assert_int_eq(decode_one(b, n), 1);
	b[8] = EXEC_EXIT_SIGNAL; /* signal 256 */
	ck_assert_int_eq(decode_one(b, n), -EBADMSG);
	n = exec_encode_exit(b, sizeof(b), &ex);
	b[10] = 1; /* reserved */
	ck_assert_int_eq(decode_one(b, n), -EBADMSG);
	n = exec_encode_exit(b, sizeof(b), &ex);
	b[9] = 2; /* unknown flag */
	ck_assert_int_eq(decode_one(b, n), -EBADMSG);
	ex = (exec_exit_t){ EXEC_EXIT_SIGNAL, 0, 65 };
	ck_assert_int_eq(exec_encode_exit(b, sizeof(b), &ex), -EINVAL);
	n = exec_encode_exit(b, sizeof(b), &(exec_exit_t){ EXEC_EXIT_SIGNAL, 0, 15 });
	b[12] = 65;
	ck_assert_int_eq(decode_one(b, n), -EBADMSG);
	/* error frames */
	n = exec_encode_error(b, sizeof(b), EXEC_ERROR_PROTOCOL, "bad", 3);
	ck_assert_int_eq(decode_one(b, n), 1);
	b[12] = 4; /* msg_len mismatch */
	ck_assert_int_eq(decode_one(b, n), -EBADMSG);
	n = exec_encode_error(b, sizeof(b), EXEC_ERROR_PROTOCOL, "bad", 3);
	b[8] = 0; /* code 0 */
	ck_assert_int_eq(decode_one(b, n), -EBADMSG);
	n = exec_encode_error(b, sizeof(b), EXEC_ERROR_PROTOCOL, "bad", 3);
	b[15] = 0; /* NUL in message */
	ck_assert_int_eq(decode_one(b, n), -EBADMSG);
	n = exec_encode_error(b, sizeof(b), EXEC_ERROR_PROTOCOL, "a\0b", 3);
	ck_assert_int_eq(n, 8 + 6 + 1); /* encoder stops at NUL */
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(exec_frame_type_to_string(EXEC_FRAME_STDIN_EOF), "stdin-eof");
	ck_assert_ptr_null(exec_frame_type_to_string(0));
	ck_assert_str_eq(exec_error_code_to_string(EXEC_ERROR_NOT_SUPPORTED), "not-supported");
	ck_assert_ptr_null(exec_error_code_to_string(0));
	ck_assert_ptr_null(exec_error_code_to_string(EXEC_ERROR_CODE_MAX));
	for (int t = 0; t < 256; t++) {
		const char *n = exec_frame_type_to_string(t);
		ck_assert_int_eq(exec_frame_max_payload(t) >= 0, n != NULL);
		if (n)
			ck_assert_int_eq(exec_frame_type_from_string(n), t);
	}
	for (int c = 1; c < EXEC_ERROR_CODE_MAX; c++)
		ck_assert_int_eq(exec_error_code_from_string(exec_error_code_to_string(c)), c);
	for (int m = 0; m < EXEC_STDIN_MODE_MAX; m++)
		ck_assert_int_eq(exec_stdin_mode_from_string(exec_stdin_mode_to_string(m)), m);
	for (int k = 0; k < EXEC_EXIT_KIND_MAX; k++)
		ck_assert_int_eq(exec_exit_kind_from_string(exec_exit_kind_to_string(k)), k);
	ck_assert_str_eq(exec_exit_kind_to_string(EXEC_EXIT_SIGNAL), "signaled");
	ck_assert_int_eq(exec_frame_type_from_string("stdin-eo"), -EINVAL);
	ck_assert_int_eq(exec_error_code_from_string(""), -EINVAL);
	ck_assert_int_eq(exec_stdin_mode_from_string(NULL), -EINVAL);
	ck_assert_ptr_null(exec_stdin_mode_to_string(EXEC_STDIN_MODE_MAX));
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "codec",
		.timeout = 30,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_request_roundtrip),
			MVMT_TEST(test_stream_of_frames),
			MVMT_TEST(test_encoder_caps),
			MVMT_TEST(test_decoder_rejects_headers),
			MVMT_TEST(test_decoder_truncated),
			MVMT_TEST(test_decoder_corrupt_request),
			MVMT_TEST(test_decoder_corrupt_small_frames),
			MVMT_TEST(test_names)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "exec_frame", .tcases = tcases)
