/* SPDX-License-Identifier: Apache-2.0 */
/*
 * poll_oneoff: sleeping on clock subscriptions through the host,
 * immediate readiness of stdio, refusals before any effect.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "wasm/wasi.h"
#include "wasm/wasi-posix.h"
#include "mvmt-main.h"

#define MEM_SIZE 2048

static uint8_t membuf[MEM_SIZE];
static wasi_mem mem;
static wasi_ctx ctx;
static uint64_t fake_now, slept_until;
static int sleeps;

static int fake_clock_time(void *user, uint32_t id, uint64_t *ret)
{
	*ret = fake_now + id; /* monotonic (1) reads one ns ahead of realtime */
	return 0;
}

static int fake_sleep_until(void *user, uint32_t id, uint64_t deadline)
{
	sleeps++;
	slept_until = deadline;
	fake_now = deadline - id; /* the clock has reached the deadline */
	return 0;
}

static const wasi_host fake_host = {
	.clock_time = fake_clock_time,
	.sleep_until = fake_sleep_until,
};

static void setup(void)
{
	memset(membuf, 0x55, sizeof(membuf));
	mem = (wasi_mem){ membuf, MEM_SIZE };
	wasi_ctx_init(&ctx, &fake_host, WASI_CAP_ALL, 0, NULL, 0, NULL);
	fake_now = 1000000;
	slept_until = 0;
	sleeps = 0;
}

static void put64(uint32_t a, uint64_t v) { memcpy(membuf + a, &v, 8); }
static void put32(uint32_t a, uint32_t v) { memcpy(membuf + a, &v, 4); }
static void put16(uint32_t a, uint16_t v) { memcpy(membuf + a, &v, 2); }
static uint64_t get64(uint32_t a) { uint64_t v; memcpy(&v, membuf + a, 8); return v; }
static uint32_t get32(uint32_t a) { uint32_t v; memcpy(&v, membuf + a, 4); return v; }
static uint16_t get16(uint32_t a) { uint16_t v; memcpy(&v, membuf + a, 2); return v; }

/* Subscription i of the array at 0: 48 bytes each. */
static void sub_clock(int i, uint64_t userdata, uint32_t id, uint64_t timeout, uint16_t flags)
{
	uint32_t s = 48 * (uint32_t)i;
	memset(membuf + s, 0, 48);
	put64(s, userdata);
	membuf[s + 8] = 0;
	put32(s + 16, id);
	put64(s + 24, timeout);
	put16(s + 40, flags);
}

static void sub_fd(int i, uint64_t userdata, uint8_t type, uint32_t fd)
{
	uint32_t s = 48 * (uint32_t)i;
	memset(membuf + s, 0, 48);
	put64(s, userdata);
	membuf[s + 8] = type;
	put32(s + 16, fd);
}

#define OUT 1024
#define NEV 2000

START_TEST(test_relative_sleep)
{
	sub_clock(0, 0xabc, WASI_CLOCK_MONOTONIC, 5000, 0);
	ck_assert_uint_eq(wasi_poll_oneoff(&ctx, &mem, 0, OUT, 1, NEV), WASI_ERRNO_SUCCESS);
	ck_assert_int_eq(sleeps, 1);
	ck_assert_uint_eq(slept_until, 1000001 + 5000);
	ck_assert_uint_eq(get32(NEV), 1);
	ck_assert_uint_eq(get64(OUT), 0xabc);
	ck_assert_uint_eq(get16(OUT + 8), 0);
	ck_assert_uint_eq(membuf[OUT + 10], 0);
}
END_TEST

START_TEST(test_earliest_of_several)
{
	sub_clock(0, 1, WASI_CLOCK_REALTIME, 9000, 0);
	sub_clock(1, 2, WASI_CLOCK_REALTIME, 3000, 0);
	sub_clock(2, 3, WASI_CLOCK_REALTIME, 1000000 + 2000, 1 /* abstime */);
	ck_assert_uint_eq(wasi_poll_oneoff(&ctx, &mem, 0, OUT, 3, NEV), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(slept_until, 1002000);
	ck_assert_uint_eq(get32(NEV), 1); /* only the abstime one expired */
	ck_assert_uint_eq(get64(OUT), 3);
}
END_TEST

START_TEST(test_past_deadline_no_sleep)
{
	sub_clock(0, 7, WASI_CLOCK_REALTIME, 10, 1 /* abstime, long past */);
	ck_assert_uint_eq(wasi_poll_oneoff(&ctx, &mem, 0, OUT, 1, NEV), WASI_ERRNO_SUCCESS);
	ck_assert_int_eq(sleeps, 0);
	ck_assert_uint_eq(get32(NEV), 1);
	ck_assert_uint_eq(get64(OUT), 7);
}
END_TEST

START_TEST(test_fd_ready_at_once)
{
	sub_clock(0, 1, WASI_CLOCK_MONOTONIC, 1000000000, 0);
	sub_fd(1, 2, 2 /* fd_write */, 1);
	sub_fd(2, 3, 1 /* fd_read */, 0);
	ck_assert_uint_eq(wasi_poll_oneoff(&ctx, &mem, 0, OUT, 3, NEV), WASI_ERRNO_SUCCESS);
	ck_assert_int_eq(sleeps, 0);
	ck_assert_uint_eq(get32(NEV), 2);
	ck_assert_uint_eq(get64(OUT), 2);
	ck_assert_uint_eq(membuf[OUT + 10], 2);
	ck_assert_uint_eq(get64(OUT + 32), 3);
	ck_assert_uint_eq(membuf[OUT + 32 + 10], 1);
}
END_TEST

START_TEST(test_refusals)
{
	ck_assert_uint_eq(wasi_poll_oneoff(&ctx, &mem, 0, OUT, 0, NEV), WASI_ERRNO_INVAL);
	sub_fd(0, 1, 1, 1); /* fd_read on stdout */
	ck_assert_uint_eq(wasi_poll_oneoff(&ctx, &mem, 0, OUT, 1, NEV), WASI_ERRNO_BADF);
	sub_fd(0, 1, 2, 9);
	ck_assert_uint_eq(wasi_poll_oneoff(&ctx, &mem, 0, OUT, 1, NEV), WASI_ERRNO_BADF);
	sub_fd(0, 1, 7, 1); /* no such event type */
	ck_assert_uint_eq(wasi_poll_oneoff(&ctx, &mem, 0, OUT, 1, NEV), WASI_ERRNO_INVAL);
	sub_clock(0, 1, WASI_CLOCK_PROCESS_CPUTIME, 5, 0);
	ck_assert_uint_eq(wasi_poll_oneoff(&ctx, &mem, 0, OUT, 1, NEV), WASI_ERRNO_NOTSUP);
	/* Arrays out of range. */
	sub_clock(0, 1, WASI_CLOCK_MONOTONIC, 5, 0);
	ck_assert_uint_eq(wasi_poll_oneoff(&ctx, &mem, MEM_SIZE - 47, OUT, 1, NEV), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_poll_oneoff(&ctx, &mem, 0, MEM_SIZE - 31, 1, NEV), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_poll_oneoff(&ctx, &mem, 0, OUT, 1, MEM_SIZE - 3), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_poll_oneoff(&ctx, &mem, 0, OUT, 0x10000000, NEV), WASI_ERRNO_FAULT);
	/* Clock denied: NOTCAPABLE, and no sleep. */
	wasi_ctx_init(&ctx, &fake_host, WASI_CAP_ALL & ~WASI_CAP_CLOCK, 0, NULL, 0, NULL);
	put32(NEV, 0xdeadbeef);
	ck_assert_uint_eq(wasi_poll_oneoff(&ctx, &mem, 0, OUT, 1, NEV), WASI_ERRNO_NOTCAPABLE);
	ck_assert_int_eq(sleeps, 0);
	ck_assert_uint_eq(get32(NEV), 0xdeadbeef);
}
END_TEST

START_TEST(test_posix_sleep)
{
	/* The real host: a 20 ms relative sleep takes at least 20 ms. */
	wasi_ctx pctx;
	wasi_ctx_init(&pctx, &wasi_host_posix, WASI_CAP_ALL, 0, NULL, 0, NULL);
	ck_assert_uint_eq(wasi_clock_time_get(&pctx, &mem, WASI_CLOCK_MONOTONIC, 0, 1500), 0);
	sub_clock(0, 5, WASI_CLOCK_MONOTONIC, 20000000, 0);
	ck_assert_uint_eq(wasi_poll_oneoff(&pctx, &mem, 0, OUT, 1, NEV), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(wasi_clock_time_get(&pctx, &mem, WASI_CLOCK_MONOTONIC, 0, 1508), 0);
	ck_assert_uint_ge(get64(1508) - get64(1500), 20000000);
	ck_assert_uint_eq(get32(NEV), 1);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "poll_oneoff",
		.timeout = 10,
		.setup = setup,
		.teardown = NULL,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_relative_sleep),
			MVMT_TEST(test_earliest_of_several),
			MVMT_TEST(test_past_deadline_no_sleep),
			MVMT_TEST(test_fd_ready_at_once),
			MVMT_TEST(test_refusals),
			MVMT_TEST(test_posix_sleep)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "wasi_poll", .tcases = tcases)
