/* SPDX-License-Identifier: Apache-2.0 */
/* Test guest: write console output as fast as it can, for ever. */
#include "mvm.h"

int mvm_main(const struct mvm_boot_info *bi)
{
	for (uint64_t i = 0;; i++)
		mvm_printf("flood line %llu ........................................................\n",
			   (unsigned long long)i);
	return 0;
}
