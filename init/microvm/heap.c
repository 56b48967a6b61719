/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest heap: first-fit over an explicit free list, boundary tags for
 * coalescing, 16-byte aligned payloads (what the Wasm runtime's allocator
 * hook needs). It manages one contiguous region, normally the largest free
 * region of the boot-info memory map (mvm_heap_init_boot()).
 *
 * Layout: [sentinel][block][block]...[sentinel]; each block is a 16-byte
 * header {size | USED, prev_size} followed by size payload bytes. Free
 * blocks keep {next, prev} list links in their payload.
 */
#include "mvm.h"

#define USED 1ull
#define HDR 16ull
#define MIN_PAYLOAD 16ull

typedef struct blk {
	uint64_t size_used;
	uint64_t prev_size;
} blk_t;

typedef struct links {
	blk_t *next, *prev;
} links_t;

static blk_t *free_head;
static uint64_t heap_lo, heap_hi;

static uint64_t bsize(const blk_t *b) { return b->size_used & ~USED; }
static int bused(const blk_t *b) { return (int)(b->size_used & USED); }
static links_t *L(blk_t *b) { return (links_t *)(b + 1); }
static blk_t *bnext(blk_t *b) { return (blk_t *)((char *)b + HDR + bsize(b)); }
static blk_t *bprev(blk_t *b) { return (blk_t *)((char *)b - HDR - b->prev_size); }

static void set_size(blk_t *b, uint64_t size, int used)
{
	b->size_used = size | (used ? USED : 0);
	bnext(b)->prev_size = size;
}

static void list_remove(blk_t *b)
{
	links_t *l = L(b);
	if (l->prev)
		L(l->prev)->next = l->next;
	else
		free_head = l->next;
	if (l->next)
		L(l->next)->prev = l->prev;
}

static void list_push(blk_t *b)
{
	L(b)->prev = 0;
	L(b)->next = free_head;
	if (free_head)
		L(free_head)->prev = b;
	free_head = b;
}

int mvm_heap_init(void *base, size_t size)
{
	uint64_t lo = ((uint64_t)(uintptr_t)base + 15) & ~15ull;
	uint64_t hi = ((uint64_t)(uintptr_t)base + size) & ~15ull;

	if (hi <= lo || hi - lo < 4 * HDR + MIN_PAYLOAD)
		return -1;
	blk_t *start = (blk_t *)(uintptr_t)lo, *first = start + 1;
	blk_t *end = (blk_t *)(uintptr_t)(hi - HDR);
	start->size_used = 0 | USED;
	start->prev_size = 0;
	first->size_used = (uint64_t)((char *)end - (char *)first) - HDR;
	first->prev_size = 0;
	end->size_used = 0 | USED;
	end->prev_size = bsize(first);
	free_head = 0;
	list_push(first);
	heap_lo = lo;
	heap_hi = hi;
	return 0;
}

int mvm_heap_init_boot(const struct mvm_boot_info *bi)
{
	uint64_t best = 0, base = 0;
	for (uint32_t i = 0; i < bi->nregions && i < MVM_BOOT_REGIONS_MAX; i++)
		if (bi->regions[i].type == MVM_MEM_FREE && bi->regions[i].size > best) {
			best = bi->regions[i].size;
			base = bi->regions[i].base;
		}
	return best ? mvm_heap_init((void *)(uintptr_t)base, best) : -1;
}

/* Split b (used, payload >= need) so the tail becomes a free block. */
static void split(blk_t *b, uint64_t need)
{
	uint64_t size = bsize(b);
	if (size < need + HDR + MIN_PAYLOAD)
		return;
	set_size(b, need, 1);
	blk_t *rest = bnext(b);
	set_size(rest, size - need - HDR, 0);
	/* The block after rest may be free: merge so free blocks never touch. */
	blk_t *after = bnext(rest);
	if (!bused(after)) {
		list_remove(after);
		set_size(rest, bsize(rest) + HDR + bsize(after), 0);
	}
	list_push(rest);
}

static uint64_t round_size(size_t n)
{
	uint64_t s = ((uint64_t)n + 15) & ~15ull;
	return s < MIN_PAYLOAD ? MIN_PAYLOAD : s;
}

void *mvm_malloc(size_t n)
{
	if (n == 0 || n > heap_hi - heap_lo)
		return 0;
	uint64_t need = round_size(n);
	for (blk_t *b = free_head; b; b = L(b)->next) {
		if (bsize(b) < need)
			continue;
		list_remove(b);
		set_size(b, bsize(b), 1);
		split(b, need);
		return b + 1;
	}
	return 0;
}

void mvm_free(void *p)
{
	if (!p)
		return;
	blk_t *b = (blk_t *)p - 1;
	if (!bused(b))
		mvm_abort("mvm_free: double free");
	set_size(b, bsize(b), 0);
	blk_t *n = bnext(b);
	if (!bused(n)) {
		list_remove(n);
		set_size(b, bsize(b) + HDR + bsize(n), 0);
	}
	blk_t *pv = bprev(b);
	if (!bused(pv)) {
		list_remove(pv);
		set_size(pv, bsize(pv) + HDR + bsize(b), 0);
		b = pv;
	}
	list_push(b);
}

void *mvm_realloc(void *p, size_t n)
{
	if (!p)
		return mvm_malloc(n);
	if (n == 0) {
		mvm_free(p);
		return 0;
	}
	if (n > heap_hi - heap_lo)
		return 0;
	blk_t *b = (blk_t *)p - 1;
	uint64_t need = round_size(n), size = bsize(b);
	if (need <= size) {
		split(b, need);
		return p;
	}
	blk_t *nx = bnext(b);
	if (!bused(nx) && size + HDR + bsize(nx) >= need) {
		list_remove(nx);
		set_size(b, size + HDR + bsize(nx), 1);
		split(b, need);
		return p;
	}
	void *q = mvm_malloc(n);
	if (!q)
		return 0;
	memcpy(q, p, size);
	mvm_free(p);
	return q;
}

/* The Wasm runtime's allocator hook (lib/wasm/wasm.h: wasm_alloc_fn). */
void *mvm_heap_hook(void *ud, void *ptr, size_t old_size, size_t new_size)
{
	(void)ud;
	(void)old_size;
	return mvm_realloc(ptr, new_size);
}

/* Bytes in free blocks, and the largest one (for tests and status). */
void mvm_heap_stats(size_t *free_bytes, size_t *largest)
{
	size_t f = 0, l = 0;
	for (blk_t *b = free_head; b; b = L(b)->next) {
		f += bsize(b);
		if (bsize(b) > l)
			l = bsize(b);
	}
	*free_bytes = f;
	*largest = l;
}
