/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test guest: hand the host a buffer it must refuse (argv[0]):
 *   far      console write from far outside guest memory
 *   wrap     a length that wraps the address space
 *   bootinfo console read into the read-only boot info
 *   random   random bytes into the page tables
 *   biglen   a console write longer than MVM_HC_CONSOLE_MAX
 */
#include "mvm.h"

int mvm_main(const struct mvm_boot_info *bi)
{
	char **argv = (char **)(uintptr_t)bi->argv;
	const char *kind = bi->argc ? argv[0] : "far";
	int64_t r = 0;

	if (!strcmp(kind, "far"))
		r = mvm_hypercall(MVM_HC_CONSOLE_WRITE, 0x7fff00000000ull, 16);
	else if (!strcmp(kind, "wrap"))
		r = mvm_hypercall(MVM_HC_CONSOLE_WRITE, 0x300000, 0xffffffffffff0000ull);
	else if (!strcmp(kind, "bootinfo"))
		r = mvm_hypercall(MVM_HC_CONSOLE_READ, MVM_GUEST_BOOT_INFO, 16);
	else if (!strcmp(kind, "random"))
		r = mvm_hypercall(MVM_HC_RANDOM, MVM_GUEST_PML4, 16);
	else if (!strcmp(kind, "biglen"))
		r = mvm_hypercall(MVM_HC_CONSOLE_WRITE, 0x300000, MVM_HC_CONSOLE_MAX + 1);
	mvm_printf("host accepted the bad pointer: %lld\n", (long long)r);
	return 99;
}
