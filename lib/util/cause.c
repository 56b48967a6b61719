/* SPDX-License-Identifier: Apache-2.0 */
#include "cause.h"

#include <stdarg.h>
#include <stdio.h>

int set_cause(char **ret_cause, int r, const char *fmt, ...)
{
	va_list ap;

	if (!ret_cause)
		return r;
	va_start(ap, fmt);
	if (vasprintf(ret_cause, fmt, ap) < 0)
		*ret_cause = NULL;
	va_end(ap);
	return r;
}
