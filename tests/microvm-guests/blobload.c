/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test guest for the workload ABI (boot info version 2, blob_load):
 * argv[0] selects what to do.
 *   info     print workload, workload_size and envp
 *   load     load the module into the heap and print its size and a
 *            checksum of its bytes
 *   short    ask with a buffer one byte short: print the result
 *   bad-ptr  ask to load over the boot info: a bad-pointer fault
 *   far-ptr  ask to load past the end of memory: a bad-pointer fault
 */
#include "mvm.h"

int mvm_main(const struct mvm_boot_info *bi)
{
	char **argv = (char **)(uintptr_t)bi->argv, **envp = (char **)(uintptr_t)bi->envp;
	const char *what = bi->argc ? argv[0] : "info";
	int64_t r;

	if (!strcmp(what, "info")) {
		mvm_printf("version=%u\nworkload=%s\nworkload_size=%llu\nenvc=%u\n", bi->version, bi->workload,
			   (unsigned long long)bi->workload_size, bi->envc);
		for (uint32_t i = 0; i < bi->envc; i++)
			mvm_printf("env[%u]=%s\n", i, envp[i]);
		mvm_printf("env-end=%s\n", envp[bi->envc] ? "bad" : "null");
		return 0;
	}
	if (mvm_heap_init_boot(bi) < 0)
		mvm_abort("no heap");
	uint8_t *buf = mvm_malloc(bi->workload_size + 1);
	if (!buf)
		mvm_abort("no memory");
	if (!strcmp(what, "load")) {
		r = mvm_hypercall(MVM_HC_BLOB_LOAD, buf, bi->workload_size);
		uint64_t sum = 0;
		for (uint64_t i = 0; r > 0 && i < (uint64_t)r; i++)
			sum = (sum * 31 + buf[i]) & 0x7fffffff;
		mvm_printf("load=%lld\nsum=%llu\n", (long long)r, (unsigned long long)sum);
		return 0;
	}
	if (!strcmp(what, "short")) {
		r = mvm_hypercall(MVM_HC_BLOB_LOAD, buf, bi->workload_size - 1);
		mvm_printf("short=%lld\n", (long long)r);
		return 0;
	}
	if (!strcmp(what, "bad-ptr")) {
		r = mvm_hypercall(MVM_HC_BLOB_LOAD, MVM_GUEST_BOOT_INFO, bi->workload_size);
		mvm_printf("bad-ptr returned %lld\n", (long long)r);
		return 1;
	}
	if (!strcmp(what, "far-ptr")) {
		r = mvm_hypercall(MVM_HC_BLOB_LOAD, bi->mem_size - 16, bi->workload_size);
		mvm_printf("far-ptr returned %lld\n", (long long)r);
		return 1;
	}
	mvm_abort("unknown mode");
}
