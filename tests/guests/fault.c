/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test guest: fault in the way argv[0] says; with no IDT every exception
 * is a triple fault (KVM_EXIT_SHUTDOWN). It prints the faulting address
 * first ("fault-rip=0x...") so the test can compare RIP.
 * Kinds: ud2 gp pf null hlt int3 port in mmio-read mmio-far hypercall abort.
 */
#include "mvm.h"

extern char fault_ud2[], fault_gp[], fault_pf[], fault_hlt[], fault_int3[], fault_in[];

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
	} else if (!strcmp(kind, "abort")) {
		mvm_abort("guest gave up");
	}
	return 100; /* not reached for a known kind */
}
