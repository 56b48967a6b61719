/* SPDX-License-Identifier: Apache-2.0 */
/* Test guest: say so, then spin for ever at CPL3 (never exits to the host). */
#include "mvm.h"

int mvm_main(const struct mvm_boot_info *bi)
{
	mvm_printf("looping\n");
	mvm_console_flush();
	for (volatile uint64_t i = 0;; i++)
		;
	return 0;
}
