/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test guest for pause, resume and snapshots: argv[0] steps (default 3).
 * Each step waits (in the host) for one byte of console input, adds it
 * to a sum kept in memory, and prints
 * "step <i> sum=<s>". After the last it prints "done sum=<s>" and exits
 * with the sum's low byte. A VM restored from a snapshot goes on from the
 * step it was at, so its output and exit code say whether its memory,
 * registers (the step counter) came back.
 */
#include "mvm.h"

static uint64_t sum; /* in guest memory */

int mvm_main(const struct mvm_boot_info *bi)
{
	char **argv = (char **)(uintptr_t)bi->argv;
	long steps = bi->argc ? mvm_atol(argv[0]) : 3;

	mvm_printf("steps=%ld\n", steps);
	mvm_console_flush();
	for (long i = 1; i <= steps; i++) {
		uint8_t c;
		while (mvm_console_read(&c, 1) != 1)
			mvm_wait(-1);
		sum += c;
		mvm_printf("step %ld sum=%llu\n", i, (unsigned long long)sum);
		mvm_console_flush();
	}
	mvm_printf("done sum=%llu\n", (unsigned long long)sum);
	return (int)(sum & 0xff);
}
