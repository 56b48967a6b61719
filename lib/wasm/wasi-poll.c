/* SPDX-License-Identifier: Apache-2.0 */
/*
 * poll_oneoff: what sleep(), nanosleep() and Rust's thread::sleep use.
 * Freestanding.
 *
 * subscription (48 bytes): userdata u64 @0, tag u8 @8, then for a clock:
 * id u32 @16, timeout u64 @24, precision u64 @32, flags u16 @40; for
 * fd_read/fd_write: fd u32 @16.
 * event (32 bytes): userdata u64 @0, error u16 @8, type u8 @10,
 * nbytes u64 @16, flags u16 @24.
 *
 * The stdio streams are blocking and there is nothing else to wait for,
 * so fd subscriptions are ready at once and a poll that has any of them
 * never sleeps. Otherwise it sleeps in the host until the earliest clock
 * deadline (in a micro-VM: blocked in the host, not spinning in the
 * guest), then reports every clock subscription that has expired.
 */
#include "wasm/wasi-int.h"

#define SUB_SIZE 48
#define EVENT_SIZE 32
#define EVENTTYPE_CLOCK 0
#define EVENTTYPE_FD_READ 1
#define EVENTTYPE_FD_WRITE 2
#define SUBCLOCK_ABSTIME 1

static void put_event(wasi_mem *mem, uint32_t at, uint64_t userdata, uint16_t error,
		      uint8_t type)
{
	fill(mem, at, EVENT_SIZE, 0);
	put_u64(mem, at, userdata);
	put_u16(mem, at + 8, error);
	mem->base[at + 10] = type;
}

/* Absolute deadline of clock subscription `sub`, read against `now`. */
static uint64_t deadline(const wasi_mem *mem, uint32_t sub, uint64_t now)
{
	uint64_t timeout = get_u64(mem, sub + 24);

	if (get_u16(mem, sub + 40) & SUBCLOCK_ABSTIME)
		return timeout;
	return timeout > UINT64_MAX - now ? UINT64_MAX : now + timeout;
}

uint32_t wasi_poll_oneoff(wasi_ctx *ctx, wasi_mem *mem, uint32_t in, uint32_t out, uint32_t n,
			  uint32_t ret_nevents)
{
	const wasi_host *h = ctx->host;
	uint32_t nevents = 0, clock_id = 0;
	uint64_t start = 0, now = 0, earliest = UINT64_MAX;
	bool any_fd = false, any_clock = false;

	if (n == 0)
		return WASI_ERRNO_INVAL; /* would block forever */
	if (!mem_ok(mem, in, (uint64_t)n * SUB_SIZE) || !mem_ok(mem, out, (uint64_t)n * EVENT_SIZE) ||
	    !mem_ok(mem, ret_nevents, 4))
		return WASI_ERRNO_FAULT;

	/* First pass: validate everything, so a refused poll changes nothing. */
	for (uint32_t i = 0; i < n; i++) {
		uint32_t sub = in + i * SUB_SIZE;
		uint8_t tag = mem->base[sub + 8];

		if (tag == EVENTTYPE_CLOCK) {
			uint32_t id = get_u32(mem, sub + 16);
			if (!granted(ctx, WASI_CAP_CLOCK))
				return WASI_ERRNO_NOTCAPABLE;
			if (id > WASI_CLOCK_MONOTONIC)
				return WASI_ERRNO_NOTSUP; /* CPU-time clocks cannot be slept on */
			if (any_clock && id != clock_id)
				return WASI_ERRNO_NOTSUP; /* one clock per poll keeps it simple */
			if (!h->clock_time || !h->sleep_until)
				return WASI_ERRNO_NOSYS;
			clock_id = id;
			any_clock = true;
		} else if (tag == EVENTTYPE_FD_READ || tag == EVENTTYPE_FD_WRITE) {
			uint32_t fd = get_u32(mem, sub + 16);
			bool ok = tag == EVENTTYPE_FD_READ ? fd == 0 : fd == 1 || fd == 2;
			if (!fd_open(ctx, fd) || !ok)
				return WASI_ERRNO_BADF;
			any_fd = true;
		} else {
			return WASI_ERRNO_INVAL;
		}
	}

	if (any_clock) {
		/* Relative timeouts count from here, however long the sleep. */
		int r = h->clock_time(h->user, clock_id, &start);
		if (r < 0)
			return host_errno(r);
		now = start;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t sub = in + i * SUB_SIZE;
			if (mem->base[sub + 8] == EVENTTYPE_CLOCK && deadline(mem, sub, start) < earliest)
				earliest = deadline(mem, sub, start);
		}
		if (!any_fd && earliest > now) {
			r = h->sleep_until(h->user, clock_id, earliest);
			if (r < 0)
				return host_errno(r);
			r = h->clock_time(h->user, clock_id, &now);
			if (r < 0)
				return host_errno(r);
			if (now < earliest)
				now = earliest; /* the host slept as asked; trust it */
		}
	}

	for (uint32_t i = 0; i < n; i++) {
		uint32_t sub = in + i * SUB_SIZE;
		uint8_t tag = mem->base[sub + 8];
		uint64_t userdata = get_u64(mem, sub);

		if (tag == EVENTTYPE_CLOCK) {
			if (deadline(mem, sub, start) > now)
				continue;
		} else if (tag != EVENTTYPE_FD_READ && tag != EVENTTYPE_FD_WRITE) {
			continue;
		}
		put_event(mem, out + nevents * EVENT_SIZE, userdata, WASI_ERRNO_SUCCESS, tag);
		nevents++;
	}
	put_u32(mem, ret_nevents, nevents);
	return WASI_ERRNO_SUCCESS;
}
