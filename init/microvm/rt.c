/* SPDX-License-Identifier: Apache-2.0 */
/* The guest's support layer: hypercall wrappers and the console buffer. */
#include "mvm.h"

#define CONSOLE_BUF 4096

static const struct mvm_boot_info *boot_info;
static char console_buf[CONSOLE_BUF];
static size_t console_len;

const struct mvm_boot_info *mvm_boot_info(void) { return boot_info; }

void mvm_console_flush(void)
{
	if (console_len)
		mvm_hypercall(MVM_HC_CONSOLE_WRITE, console_buf, console_len);
	console_len = 0;
}

void mvm_console_put(const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		size_t k = CONSOLE_BUF - console_len;
		if (k > len)
			k = len;
		memcpy(console_buf + console_len, p, k);
		console_len += k;
		p += k;
		len -= k;
		if (console_len == CONSOLE_BUF)
			mvm_console_flush();
	}
}

int64_t mvm_console_read(void *buf, size_t cap)
{
	return mvm_hypercall(MVM_HC_CONSOLE_READ, buf, cap);
}

void mvm_exit(int code)
{
	mvm_console_flush();
	mvm_hypercall(MVM_HC_EXIT, code, 0);
	__builtin_unreachable();
}

void mvm_abort(const char *msg)
{
	mvm_console_flush();
	mvm_hypercall(MVM_HC_ABORT, msg, strlen(msg));
	__builtin_unreachable();
}

/* A call without arguments whose answer is rax and rdx (one exit). */
#define HC_RAX_RDX(nr, rax, rdx)                                                       \
	do {                                                                           \
		register uint64_t _a0 __asm__("rdi") = 0;                              \
		register uint64_t _a1 __asm__("rsi") = 0;                              \
		__asm__ volatile("movabs %%al, %P[port]"                               \
				 : "=a"(rax), "=d"(rdx), "+r"(_a0), "+r"(_a1)           \
				 : [port] "i"(MVM_HC_(nr)), "a"(0)                      \
				 : "memory");                                           \
	} while (0)

void mvm_clock(uint64_t *mono_ns, uint64_t *real_ns)
{
	uint64_t rax, rdx;
	HC_RAX_RDX(MVM_HC_CLOCK, rax, rdx);
	if (mono_ns)
		*mono_ns = rax;
	if (real_ns)
		*real_ns = rdx;
}

int64_t mvm_config(uint64_t *mono_ns)
{
	uint64_t rax, rdx;
	HC_RAX_RDX(MVM_HC_CONFIG, rax, rdx);
	if (mono_ns)
		*mono_ns = rdx;
	return (int64_t)rax;
}

uint64_t mvm_clock_monotonic(void)
{
	uint64_t m;
	mvm_clock(&m, 0);
	return m;
}

int64_t mvm_random(void *buf, size_t len)
{
	return mvm_hypercall(MVM_HC_RANDOM, buf, len);
}

uint32_t mvm_wait(int64_t timeout_ns)
{
	mvm_console_flush(); /* whoever we wait for may want to see it */
	return (uint32_t)mvm_hypercall(MVM_HC_WAIT, timeout_ns, 0);
}

long mvm_atol(const char *s)
{
	long v = 0, sign = 1;
	if (*s == '-') {
		sign = -1;
		s++;
	}
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	return v * sign;
}

/*
 * A warm VM (MVM_BOOT_F_WARM) pays its first touches now, before it has a
 * job: under nested KVM the guest's first write to each page costs an exit
 * into the host's shadow paging even when the host page is there. Every
 * page of the image (code and data: a read, then a write of the same
 * byte), the first warm_bytes of the largest free region (the heap) and
 * the top 64 KiB of the stack (below our own frame: the stack grows down
 * into it).
 */
static void touch(uint64_t base, uint64_t len, int write)
{
	for (uint64_t a = base & ~4095ull; a < base + len; a += 4096) {
		volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)a;
		uint8_t v = *p;
		if (write)
			*p = v;
	}
}

extern char __image_rw[]; /* guest.ld */

static void warm_up(const struct mvm_boot_info *bi)
{
	const struct mvm_mem_region *heap = 0;
	uint8_t here;

	for (uint32_t i = 0; i < bi->nregions && i < MVM_BOOT_REGIONS_MAX; i++) {
		const struct mvm_mem_region *r = &bi->regions[i];
		/* Code and constants are read only: the host maps them from
		 * one page-cache copy for every VM (docs/density.md), and a
		 * write would give this VM a copy of its own. */
		uint64_t rw = (uint64_t)(uintptr_t)__image_rw;
		if (r->type == MVM_MEM_IMAGE && rw > r->base && rw < r->base + r->size) {
			touch(r->base, rw - r->base, 0);
			touch(rw, r->base + r->size - rw, 1);
		} else if (r->type == MVM_MEM_IMAGE) {
			touch(r->base, r->size, 1);
		}
		if (r->type == MVM_MEM_FREE && (!heap || r->size > heap->size))
			heap = r;
	}
	if (heap)
		touch(heap->base, bi->warm_bytes < heap->size ? bi->warm_bytes : heap->size, 1);
	uint64_t sp = (uint64_t)(uintptr_t)&here & ~4095ull;
	touch(sp - (60u << 10), 60u << 10, 1);
}

void mvm_start(const struct mvm_boot_info *bi) __attribute__((noreturn, used));
void mvm_start(const struct mvm_boot_info *bi)
{
	if (bi->magic != MVM_BOOT_MAGIC || bi->version != MVM_BOOT_VERSION)
		mvm_abort("bad boot info");
	if (bi->flags & MVM_BOOT_F_WARM) {
		warm_up(bi);
		/* Returns once the host has written the real boot info in
		 * place of this one (same memory map, flags now clear). */
		if (mvm_hypercall(MVM_HC_CONFIG, 0, 0) != 0 || bi->magic != MVM_BOOT_MAGIC ||
		    bi->version != MVM_BOOT_VERSION || (bi->flags & MVM_BOOT_F_WARM))
			mvm_abort("bad boot info after configuration");
		/* Primed: only a workload runner has a use for it (workload.c);
		 * any other guest asks for the rest at once. */
		if ((bi->flags & MVM_BOOT_F_PRIMED) && !bi->workload[0])
			mvm_abort("bad boot info: primed without a workload");
	}
	boot_info = bi;
	mvm_exit(mvm_main(bi));
}
