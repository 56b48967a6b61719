/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the WASI layer's guest-pointer checks: each input is a sequence of
 * calls (function index + raw arguments) against a small guest memory
 * whose contents also come from the input (iovec arrays point anywhere).
 * ASan catches any access outside the memory; the host stubs check the
 * buffers they are handed lie inside it.
 */
/* fuzz-sources: lib/wasm/wasi.c lib/wasm/wasi-dispatch.c lib/wasm/wasi-poll.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/wasi.h"

#define MEM_SIZE 1024

static uint8_t *mem_base;

static void in_memory(const void *p, size_t len)
{
	const uint8_t *b = p;
	if (b < mem_base || b + len > mem_base + MEM_SIZE || len == 0)
		abort();
}

static int64_t fz_iov(void *user, int fd, const wasi_iovec *iov, int n)
{
	int64_t total = 0;
	if (n <= 0 || n > WASI_IOV_BATCH)
		abort();
	for (int i = 0; i < n; i++) {
		in_memory(iov[i].buf, iov[i].len);
		total += (int64_t)iov[i].len;
	}
	return total > 7 ? total - 7 : total; /* short transfers too */
}

static int fz_clock(void *user, uint32_t id, uint64_t *ret)
{
	*ret = id;
	return id == 3 ? -WASI_ERRNO_INVAL : 0;
}

static int fz_random(void *user, void *buf, size_t len)
{
	in_memory(buf, len);
	memset(buf, 0x5a, len);
	return 0;
}

static int fz_sleep(void *user, uint32_t id, uint64_t deadline)
{
	return 0; /* instantly "slept" */
}

static const wasi_host fz_host = {
	.writev = fz_iov, .readv = fz_iov, .clock_time = fz_clock,
	.clock_res = fz_clock, .random = fz_random, .sleep_until = fz_sleep,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const argv[] = { "prog", "arg" };
	static const char *const envp[] = { "A=1" };
	wasi_ctx ctx;
	wasi_mem mem;

	if (size < 2)
		return 0;
	mem_base = malloc(MEM_SIZE); /* exact size: ASan sees any overrun */
	size_t pre = size < MEM_SIZE ? size : MEM_SIZE;
	memcpy(mem_base, data, pre);
	memset(mem_base + pre, 0, MEM_SIZE - pre);
	mem = (wasi_mem){ mem_base, MEM_SIZE };
	wasi_ctx_init(&ctx, &fz_host, data[0] | (uint32_t)data[1] << 8, 2, argv, 1, envp);
	/* Calls come from the tail: 1 byte index + 9 arguments of 4 bytes. */
	for (size_t off = 2; off + 37 <= size; off += 37) {
		uint64_t a[9];
		for (int i = 0; i < 9; i++) {
			uint32_t v;
			memcpy(&v, data + off + 1 + 4 * i, 4);
			/* Bias towards small and edge values so checks are exercised. */
			a[i] = (v & 3) == 0 ? v >> 22 : (v & 3) == 1 ? MEM_SIZE - (v >> 24) : v;
		}
		wasi_dispatch(&ctx, &mem, data[off] % (WASI_NFUNCS + 1), a);
	}
	free(mem_base);
	return 0;
}
