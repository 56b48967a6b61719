/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shipped fault_point(): nothing. It lives alone in its archive
 * member so that a test link that defines fault_point() first (see
 * tests/fault/fault-inject.c) never pulls this one in.
 */
#include "util/fault.h"

void fault_point(const char *name)
{
	(void)name;
}
