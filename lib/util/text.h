/* SPDX-License-Identifier: Apache-2.0 */
/* Making arbitrary bytes safe for JSON strings. */
#ifndef MVM_UTIL_TEXT_H
#define MVM_UTIL_TEXT_H

#include <stddef.h>

/* Valid UTF-8 copy of buf: every invalid sequence (and NUL) becomes U+FFFD.
 * NUL-terminated; *ret_len without the NUL. */
int utf8_sanitize(const void *buf, size_t len, char **ret, size_t *ret_len);

/* Standard base64 with padding (RFC 4648 §4), NUL-terminated. */
int base64_encode(const void *buf, size_t len, char **ret, size_t *ret_len);
/* Strict decoder of the canonical form only: padding required, no
 * whitespace, zero bits after the last byte; -EINVAL otherwise. */
int base64_decode(const char *text, size_t len, void **ret, size_t *ret_len);

#endif
