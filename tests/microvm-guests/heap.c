/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test guest: stress the guest heap with random malloc/realloc/free, every
 * block filled with a pattern checked before it is touched again; then
 * free everything and check the heap coalesced back to one block.
 * argv[0]: number of operations (default 20000).
 */
#include "mvm.h"

#define SLOTS 256

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill(uint8_t *p, size_t n, unsigned tag)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(tag * 31 + i);
}

static void check(const uint8_t *p, size_t n, unsigned tag)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)(tag * 31 + i))
			mvm_abort("heap block corrupted");
}

int mvm_main(const struct mvm_boot_info *bi)
{
	static uint8_t *ptr[SLOTS];
	static size_t len[SLOTS];
	char **argv = (char **)(uintptr_t)bi->argv;
	long ops = bi->argc ? mvm_atol(argv[0]) : 20000;
	size_t free0, largest0, free1, largest1;

	if (mvm_heap_init_boot(bi) < 0)
		mvm_abort("no heap");
	mvm_heap_stats(&free0, &largest0);
	for (long op = 0; op < ops; op++) {
		unsigned s = (unsigned)(next() % SLOTS);
		size_t n = (next() % 64 == 0) ? (size_t)(next() % (1 << 20)) + 1 : (size_t)(next() % 4096) + 1;
		if (ptr[s])
			check(ptr[s], len[s], s);
		switch (next() % 3) {
		case 0:
			mvm_free(ptr[s]);
			ptr[s] = mvm_malloc(n);
			break;
		case 1: {
			uint8_t *q = mvm_realloc(ptr[s], n);
			if (!q)
				continue; /* ptr[s] is still valid */
			if (ptr[s] || q)
				check(q, len[s] < n ? len[s] : n, s);
			ptr[s] = q;
			break;
		}
		default:
			mvm_free(ptr[s]);
			ptr[s] = 0;
			n = 0;
			break;
		}
		if (((uintptr_t)ptr[s]) & 15)
			mvm_abort("misaligned block");
		len[s] = ptr[s] ? n : 0;
		if (ptr[s])
			fill(ptr[s], n, s);
	}
	for (unsigned s = 0; s < SLOTS; s++) {
		if (ptr[s])
			check(ptr[s], len[s], s);
		mvm_free(ptr[s]);
	}
	mvm_heap_stats(&free1, &largest1);
	if (free1 != free0 || largest1 != largest0)
		mvm_abort("heap did not coalesce back");
	void *all = mvm_malloc(largest0);
	if (!all || mvm_malloc(16))
		mvm_abort("whole-heap allocation failed");
	mvm_free(all);
	mvm_printf("heap ok: %ld ops, %lu KiB heap\n", ops, (unsigned long)(free0 >> 10));
	return 0;
}
