/* SPDX-License-Identifier: Apache-2.0 */
/* Test guest: print one line and exit 0. */
#include "mvm.h"

int mvm_main(const struct mvm_boot_info *bi)
{
	mvm_printf("hello from the guest: %u args\n", bi->argc);
	return 0;
}
