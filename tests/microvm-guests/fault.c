/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test guest: fault in the way argv[0] says; with no IDT every exception
 * is a triple fault (KVM_EXIT_SHUTDOWN). It prints the faulting address
 * first ("fault-rip=0x...") so the test can compare RIP.
 * Kinds: ud2 gp pf null hlt int3 port in mmio-read mmio-far hypercall abort
 * stack (unbounded recursion into the guard page); wait-max (not a fault:
 * wait with the largest timeout, exit 0 when told to stop).
 */
#include "mvm.h"

extern char fault_ud2[], fault_gp[], fault_pf[], fault_hlt[], fault_int3[], fault_in[];

static volatile int depth_limit = 1 << 30; /* never reached: the guard is */

static int __attribute__((noinline)) recurse(int n)
{
	volatile char pad[256];
	pad[0] = (char)n;
	if (n > depth_limit)
		return 0;
	return recurse(n + 1) + pad[0];
}

int mvm_main(const struct mvm_boot_info *bi)
{
	char **argv = (char **)(uintptr_t)bi->argv;
	const char *kind = bi->argc ? argv[0] : "ud2";

	if (!strcmp(kind, "ud2")) {
		mvm_printf("fault-rip=%p\n", (void *)fault_ud2);
		mvm_console_flush();
		__asm__ volatile("fault_ud2: ud2");
	} else if (!strcmp(kind, "gp")) {
		mvm_printf("fault-rip=%p\n", (void *)fault_gp);
		mvm_console_flush();
		/* privileged at CPL3 */
		__asm__ volatile("fault_gp: mov %%cr0, %%rax" ::: "rax");
	} else if (!strcmp(kind, "pf")) {
		mvm_printf("fault-rip=%p\n", (void *)fault_pf);
		mvm_console_flush();
		/* the page tables themselves are supervisor-only */
		__asm__ volatile("fault_pf: movq $1, 0x1000" ::: "memory");
	} else if (!strcmp(kind, "null")) {
		mvm_console_flush();
		*(volatile int *)(uintptr_t)mvm_atol("0") = 1;
	} else if (!strcmp(kind, "hlt")) {
		mvm_printf("fault-rip=%p\n", (void *)fault_hlt);
		mvm_console_flush();
		__asm__ volatile("fault_hlt: hlt");
	} else if (!strcmp(kind, "int3")) {
		mvm_printf("fault-rip=%p\n", (void *)fault_int3);
		mvm_console_flush();
		__asm__ volatile("fault_int3: int3");
	} else if (!strcmp(kind, "port")) {
		mvm_console_flush();
		__asm__ volatile("outb %%al, $0x80" ::"a"(0));
	} else if (!strcmp(kind, "in")) {
		mvm_console_flush();
		uint8_t v;
		__asm__ volatile("fault_in: inb $0xe0, %%al" : "=a"(v));
	} else if (!strcmp(kind, "mmio-read")) {
		/* the doorbell is mapped but has no memory: reading it is MMIO */
		mvm_console_flush();
		(void)*(volatile uint8_t *)(uintptr_t)MVM_HC_DOORBELL;
	} else if (!strcmp(kind, "mmio-far")) {
		mvm_console_flush();
		*(volatile uint8_t *)(uintptr_t)(MVM_HC_DOORBELL + 0x1000) = 1;
	} else if (!strcmp(kind, "hypercall")) {
		mvm_console_flush();
		mvm_hypercall(MVM_HC_MAX, 0, 0); /* no such call: bad port */
	} else if (!strcmp(kind, "stack")) {
		mvm_console_flush();
		return recurse(0);
	} else if (!strcmp(kind, "bootinfo-write")) {
		mvm_console_flush();
		*(volatile uint64_t *)(uintptr_t)MVM_GUEST_BOOT_INFO = 0;
	} else if (!strcmp(kind, "jump-doorbell")) {
		mvm_console_flush();
		((void (*)(void))(uintptr_t)MVM_HC_DOORBELL)();
	} else if (!strcmp(kind, "jump-far")) {
		mvm_console_flush();
		((void (*)(void))(uintptr_t)0x7fff00000000ull)();
	} else if (!strcmp(kind, "syscall")) {
		mvm_console_flush();
		__asm__ volatile("syscall" ::: "rcx", "r11", "memory");
	} else if (!strcmp(kind, "int80")) {
		mvm_console_flush();
		__asm__ volatile("int $0x80" ::: "memory");
	} else if (!strcmp(kind, "sysenter")) {
		mvm_console_flush();
		__asm__ volatile("sysenter" ::: "memory");
	} else if (!strcmp(kind, "xsetbv")) {
		mvm_console_flush();
		__asm__ volatile("xsetbv" ::"a"(7), "d"(0), "c"(0));
	} else if (!strcmp(kind, "rsp0")) {
		mvm_console_flush();
		__asm__ volatile("xor %%esp, %%esp; push %%rax" ::: "memory");
	} else if (!strcmp(kind, "wait-max")) {
		/* not a fault: the longest timeout must not upset the host */
		mvm_printf("waiting\n");
		uint32_t ev = mvm_wait(INT64_MAX);
		mvm_printf("woke %u\n", ev);
		return ev == MVM_EV_STOP ? 0 : 1;
	} else if (!strcmp(kind, "abort")) {
		mvm_abort("guest gave up");
	}
	return 100; /* not reached for a known kind */
}
