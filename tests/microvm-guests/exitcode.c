/* SPDX-License-Identifier: Apache-2.0 */
/* Test guest: exit with the code given as argv[0] (0 without args). */
#include "mvm.h"

int mvm_main(const struct mvm_boot_info *bi)
{
	char **argv = (char **)(uintptr_t)bi->argv;
	return bi->argc ? (int)mvm_atol(argv[0]) : 0;
}
