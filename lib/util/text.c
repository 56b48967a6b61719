/* SPDX-License-Identifier: Apache-2.0 */
#include "text.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
	unsigned char c = p[0];
	size_t n;
	uint32_t cp;

	if (c >= 0x01 && c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0; /* NUL, continuation byte, overlong lead, > U+10FFFF */
	}
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int utf8_sanitize(const void *buf, size_t len, char **ret, size_t *ret_len)
{
	const unsigned char *p = buf;
	char *out = malloc(len * 3 + 1); /* worst case: every byte → U+FFFD */
	size_t o = 0;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(p + i, len - i);
		if (n) {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	*ret = out;
	if (ret_len)
		*ret_len = o;
	return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_encode(const void *buf, size_t len, char **ret, size_t *ret_len)
{
	const unsigned char *p = buf;
	size_t olen = (len + 2) / 3 * 4;
	char *out = malloc(olen + 1), *o = out;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
	}
	*o = '\0';
	*ret = out;
	if (ret_len)
		*ret_len = olen;
	return 0;
}

static int b64_val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

int base64_decode(const char *text, size_t len, void **ret, size_t *ret_len)
{
	unsigned char *out;
	size_t o = 0;

	if (len % 4)
		return -EINVAL;
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		bool last = i + 4 == len;
		for (int j = 0; j < 4; j++) {
			v[j] = b64_val(text[i + j]);
			/* '=' only as the last one or two characters of the input */
			if (v[j] < 0 && !(last && text[i + j] == '=' && j >= 2 && (j == 3 || text[i + 3] == '='))) {
				free(out);
				return -EINVAL;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)(v[2] < 0 ? 0 : v[2]) << 6 |
			     (uint32_t)(v[3] < 0 ? 0 : v[3]);
		/* The bits after the last whole byte must be zero (RFC 4648
		 * §3.5): otherwise "YR==" and "YQ==" would both mean "a", and
		 * one content would have many spellings. */
		if ((v[2] < 0 && (w & 0xFFFF)) || (v[3] < 0 && (w & 0xFF))) {
			free(out);
			return -EINVAL;
		}
		out[o++] = (unsigned char)(w >> 16);
		if (v[2] >= 0)
			out[o++] = (unsigned char)(w >> 8);
		if (v[3] >= 0)
			out[o++] = (unsigned char)w;
	}
	*ret = out;
	*ret_len = o;
	return 0;
}
