/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test guest: exercise the host services and print what they returned, in
 * "key=value" lines the test checks against the host's own view.
 */
#include "mvm.h"

/* SSE always; AVX (ymm) when CPUID says the host has it: XCR0 must then
 * carry the ymm state (bit 2) and a 256-bit add must work at CPL3. */
static void simd(void)
{
	uint32_t a, b, c, d, lo, hi;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	int has_avx = !!(c & (1u << 28)), osxsave = !!(c & (1u << 27));
	mvm_printf("osxsave=%d\n", osxsave);
	if (osxsave) {
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		mvm_printf("xcr0=%u\n", lo);
	}
	float x[4] = { 1, 2, 3, 4 }, y[4] = { 10, 20, 30, 40 };
	__asm__ volatile("movups %1, %%xmm0; movups %2, %%xmm1; addps %%xmm1, %%xmm0; movups %%xmm0, %0"
			 : "=m"(x) : "m"(x), "m"(y) : "xmm0", "xmm1");
	mvm_printf("sse=%s\n", x[0] == 11 && x[3] == 44 ? "ok" : "bad");
	if (!has_avx) {
		mvm_printf("avx=none\n");
		return;
	}
	float u[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, v[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
	__asm__ volatile("vmovups %1, %%ymm0; vmovups %2, %%ymm1; vaddps %%ymm1, %%ymm0, %%ymm0; vmovups %%ymm0, %0"
			 : "=m"(u) : "m"(u), "m"(v) : "xmm0", "xmm1");
	int ok = 1;
	for (int i = 0; i < 8; i++)
		ok &= u[i] == 9;
	mvm_printf("avx=%s\n", ok ? "ok" : "bad");
}

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
	simd();
	return 0;
}
