/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The micro-VM guest runtime: freestanding, no libc. A program defines
 * mvm_main(); the runtime's _start calls it and exits with its result.
 * Console output is buffered in guest memory and flushed with one
 * hypercall (one VM exit) per buffer, before waiting and before exiting.
 */
#ifndef MVM_GUEST_H
#define MVM_GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/guest-abi.h"

#define MVM_HC_(nr) (MVM_HC_DOORBELL + 8 * (nr))

/* One exit: a byte written to the call's doorbell slot (an MMIO exit);
 * args in rdi, rsi; result in rax (guest-abi.h). */
#define mvm_hypercall(nr, a0, a1)                                               \
	({                                                                      \
		register uint64_t _a0 __asm__("rdi") = (uint64_t)(a0);          \
		register uint64_t _a1 __asm__("rsi") = (uint64_t)(a1);          \
		uint64_t _rax, _rdx;                                            \
		__asm__ volatile("movabs %%al, %P[port]"                           \
				 : "=a"(_rax), "=d"(_rdx), "+r"(_a0), "+r"(_a1) \
				 : [port] "i"(MVM_HC_(nr)), "a"(0)              \
				 : "memory");                                   \
		(void)_rdx;                                                     \
		(int64_t)_rax;                                                  \
	})

int mvm_main(const struct mvm_boot_info *bi);
/* MVM_HC_CONFIG (guest-abi.h); *mono_ns: CLOCK_MONOTONIC when it returned. */
int64_t mvm_config(uint64_t *mono_ns);
/* Run the boot info's Wasm workload (workload.c); returns its exit code
 * (WASI's u32, in an int's bits). */
int mvm_workload_run(const struct mvm_boot_info *bi);

const struct mvm_boot_info *mvm_boot_info(void);
/* The host reports code's low 32 bits whole, as an unsigned number. */
void mvm_exit(int code) __attribute__((noreturn));
void mvm_abort(const char *msg) __attribute__((noreturn));
uint64_t mvm_clock_monotonic(void);
/* The TSC: no exit (CPL3 may read it). Its rate is the host's business,
 * so it only tells "about this many ticks went by". */
static inline uint64_t mvm_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}
void mvm_clock(uint64_t *mono_ns, uint64_t *real_ns);
int64_t mvm_random(void *buf, size_t len);
uint32_t mvm_wait(int64_t timeout_ns);
int64_t mvm_console_read(void *buf, size_t cap);
void mvm_console_put(const void *buf, size_t len);
void mvm_console_flush(void);
int mvm_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int mvm_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int mvm_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
long mvm_atol(const char *s);

/* The heap (heap.c): 16-byte aligned; NULL when out of memory. */
int mvm_heap_init(void *base, size_t size);
int mvm_heap_init_boot(const struct mvm_boot_info *bi); /* largest free region */
void *mvm_malloc(size_t n);
void *mvm_realloc(void *p, size_t n);
void mvm_free(void *p);
void *mvm_heap_hook(void *ud, void *ptr, size_t old_size, size_t new_size);
void mvm_heap_stats(size_t *free_bytes, size_t *largest);

void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

#endif
