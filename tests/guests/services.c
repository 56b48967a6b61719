/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test guest: exercise the host services and print what they returned, in
 * "key=value" lines the test checks against the host's own view.
 */
#include "mvm.h"

int mvm_main(const struct mvm_boot_info *bi)
{
	uint64_t mono0, real0, mono1;
	uint8_t r1[16], r2[16];
	char **caps = (char **)(uintptr_t)bi->caps;

	mvm_clock(&mono0, &real0);
	mvm_printf("realtime_s=%llu\n", (unsigned long long)(real0 / 1000000000ull));
	int64_t n1 = mvm_random(r1, sizeof(r1)), n2 = mvm_random(r2, sizeof(r2));
	mvm_printf("random_len=%lld,%lld\n", (long long)n1, (long long)n2);
	mvm_printf("random_differs=%d\n", memcmp(r1, r2, sizeof(r1)) != 0);
	/* WAIT with a timeout and nothing pending returns 0 after it. */
	uint32_t ev = mvm_wait(50000000);
	mvm_clock(&mono1, 0);
	mvm_printf("wait_ev=%u\n", ev);
	mvm_printf("wait_ms=%llu\n", (unsigned long long)((mono1 - mono0) / 1000000ull));
	mvm_printf("vcpus=%u\n", bi->vcpus);
	mvm_printf("mem_mib=%llu\n", (unsigned long long)(bi->mem_size >> 20));
	mvm_printf("workload=%s\n", bi->workload);
	for (uint32_t i = 0; i < bi->ncaps; i++)
		mvm_printf("cap=%s\n", caps[i]);
	mvm_printf("read_empty=%lld\n", (long long)mvm_console_read(r1, sizeof(r1)));
	return 0;
}
