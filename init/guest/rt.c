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

void mvm_clock(uint64_t *mono_ns, uint64_t *real_ns)
{
	register uint64_t a0 __asm__("rdi") = 0;
	register uint64_t a1 __asm__("rsi") = 0;
	uint64_t rax, rdx;
	__asm__ volatile("movabs %%al, %P[port]"
			 : "=a"(rax), "=d"(rdx), "+r"(a0), "+r"(a1)
			 : [port] "i"(MVM_HC_(MVM_HC_CLOCK)), "a"(0)
			 : "memory");
	if (mono_ns)
		*mono_ns = rax;
	if (real_ns)
		*real_ns = rdx;
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

void mvm_start(const struct mvm_boot_info *bi) __attribute__((noreturn, used));
void mvm_start(const struct mvm_boot_info *bi)
{
	if (bi->magic != MVM_BOOT_MAGIC || bi->version != MVM_BOOT_VERSION)
		mvm_abort("bad boot info");
	boot_info = bi;
	mvm_exit(mvm_main(bi));
}
