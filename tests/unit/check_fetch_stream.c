/* SPDX-License-Identifier: Apache-2.0 */
/* The decoder of mvm-fetch's data pipe (lib/proto/fetch-stream.c): frames
 * split anywhere across reads, restarts in order, and every malformed
 * header or cut frame refused. */
#include <check.h>
#include <string.h>

#include "proto/fetch-proto.h"
#include "proto/fetch-stream.h"
#include "mvmt-main.h"

typedef struct sink {
	char data[256];
	size_t len;
	int restarts;
	int fail; /* on_data returns this when set */
} sink_t;

static int on_data(const void *p, size_t n, void *ud)
{
	sink_t *k = ud;
	if (k->fail)
		return k->fail;
	ck_assert_uint_le(k->len + n, sizeof(k->data));
	memcpy(k->data + k->len, p, n);
	k->len += n;
	return 0;
}

static int on_restart(void *ud)
{
	sink_t *k = ud;
	k->restarts++;
	k->len = 0;
	return 0;
}

static const fetch_stream_ops_t ops = { .on_data = on_data, .on_restart = on_restart };

static size_t frame(uint8_t *out, uint32_t type, const char *payload, uint32_t len)
{
	fetch_frame_t f = { .type = type, .len = len };
	memcpy(out, &f, sizeof(f));
	if (payload)
		memcpy(out + sizeof(f), payload, len);
	return sizeof(f) + (payload ? len : 0);
}

START_TEST(test_split_anywhere)
{
	uint8_t buf[128];
	size_t n = 0;

	n += frame(buf + n, FETCH_FRAME_DATA, "junk", 4);
	n += frame(buf + n, FETCH_FRAME_RESTART, NULL, 0);
	n += frame(buf + n, FETCH_FRAME_DATA, "hello ", 6);
	n += frame(buf + n, FETCH_FRAME_DATA, "world", 5);
	/* every split of the stream into two reads gives the same */
	for (size_t cut = 0; cut <= n; cut++) {
		fetch_stream_t s = { 0 };
		sink_t k = { 0 };
		ck_assert_int_eq(fetch_stream_feed(&s, buf, cut, &ops, &k), 0);
		ck_assert_int_eq(fetch_stream_feed(&s, buf + cut, n - cut, &ops, &k), 0);
		ck_assert_int_eq(fetch_stream_end(&s), 0);
		ck_assert_int_eq(k.restarts, 1);
		ck_assert_uint_eq(k.len, 11);
		ck_assert(memcmp(k.data, "hello world", 11) == 0);
	}
	/* and byte by byte */
	fetch_stream_t s = { 0 };
	sink_t k = { 0 };
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(fetch_stream_feed(&s, buf + i, 1, &ops, &k), 0);
	ck_assert_int_eq(fetch_stream_end(&s), 0);
	ck_assert(memcmp(k.data, "hello world", 11) == 0);
}
END_TEST

START_TEST(test_refused)
{
	static const struct { uint32_t type, len; } bad[] = {
		{ FETCH_FRAME_DATA, 0 },                   /* empty data */
		{ FETCH_FRAME_DATA, FETCH_FRAME_MAX + 1 }, /* over the frame cap */
		{ FETCH_FRAME_RESTART, 1 },                /* a restart with a payload */
		{ 0, 0 }, { 3, 4 }, { 0xffffffffu, 1 },    /* unknown types */
	};
	uint8_t buf[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fetch_stream_t s = { 0 };
		sink_t k = { 0 };
		size_t n = frame(buf, bad[i].type, NULL, bad[i].len);
		ck_assert_int_eq(fetch_stream_feed(&s, buf, n, &ops, &k), -FETCH_STREAM_EPROTO);
		/* a dead stream stays dead */
		n = frame(buf, FETCH_FRAME_DATA, "ok", 2);
		ck_assert_int_eq(fetch_stream_feed(&s, buf, n, &ops, &k), -FETCH_STREAM_EPROTO);
		ck_assert_uint_eq(k.len, 0);
	}
}
END_TEST

START_TEST(test_cut_and_sink_errors)
{
	uint8_t buf[32];
	size_t n = frame(buf, FETCH_FRAME_DATA, "abcdef", 6);
	fetch_stream_t s = { 0 };
	sink_t k = { 0 };

	/* cut inside the payload, inside a header: not a complete stream */
	ck_assert_int_eq(fetch_stream_feed(&s, buf, n - 1, &ops, &k), 0);
	ck_assert_int_eq(fetch_stream_end(&s), -FETCH_STREAM_EPROTO);
	s = (fetch_stream_t){ 0 };
	ck_assert_int_eq(fetch_stream_feed(&s, buf, 3, &ops, &k), 0);
	ck_assert_int_eq(fetch_stream_end(&s), -FETCH_STREAM_EPROTO);
	/* the sink's error (a full disk, the size cap) ends the stream with it */
	s = (fetch_stream_t){ 0 };
	k = (sink_t){ .fail = -28 };
	ck_assert_int_eq(fetch_stream_feed(&s, buf, n, &ops, &k), -28);
	ck_assert_int_eq(fetch_stream_end(&s), -28);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "fetch_stream",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_split_anywhere),
			MVMT_TEST(test_refused),
			MVMT_TEST(test_cut_and_sink_errors)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "fetch_stream", .tcases = tcases)
