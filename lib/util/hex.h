/* SPDX-License-Identifier: Apache-2.0 */
/* One hex digit's value, for the %XX escapes of guestconf.c and
 * kcmdline.c (both linked into mvm-init too: header only, libc-free). */
#ifndef MVM_UTIL_HEX_H
#define MVM_UTIL_HEX_H

/* 0..15, or -1 when c is no hex digit (either case). */
static inline int hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
