/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A strict RFC 8259 syntax check run before json-c parses a request line.
 *
 * json-c's strict mode still accepts single-quoted strings, NaN/Infinity
 * and a few other extensions; JSON-RPC clients must get -32700 for those,
 * not a lenient reading. This scanner builds nothing: it walks the bytes
 * once with an explicit depth counter (no recursion, so hostile nesting
 * costs no stack) and reports the first offending offset. Strings must be
 * valid UTF-8, and \u escapes of UTF-16 surrogates must pair up: a lone
 * surrogate is refused rather than silently turned into U+FFFD (RFC 8259
 * §8.2 leaves it undefined; I-JSON, RFC 7493, forbids it).
 */
#include <stdbool.h>
#include <string.h>
#include "rpc-internal.h"

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Length of the valid UTF-8 sequence at p[i] (lead byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n, size_t i)
{
	unsigned char c = p[i];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len;

	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F; /* no UTF-16 surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n - i < len || p[i + 1] < lo || p[i + 1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if ((p[i + k] & 0xC0) != 0x80)
			return 0;
	return len;
}

/* Whether p[i..i+4) are four hex digits. */
static bool hex4_at(const char *p, size_t n, size_t i)
{
	return i + 4 <= n && is_hex(p[i]) && is_hex(p[i + 1]) && is_hex(p[i + 2]) && is_hex(p[i + 3]);
}

static unsigned hex4_value(const char *p)
{
	unsigned v = 0;
	for (int k = 0; k < 4; k++)
		v = v * 16 + (unsigned)(p[k] <= '9' ? p[k] - '0' : (p[k] | 0x20) - 'a' + 10);
	return v;
}

/* Returns the offset after the string starting at p[i] == '"', or 0. */
static size_t scan_string(const char *p, size_t n, size_t i, const char **reason)
{
	for (i++; i < n; i++) {
		unsigned char c = p[i];
		if (c == '"')
			return i + 1;
		if (c < 0x20) {
			*reason = "control character in string";
			return 0;
		}
		if (c >= 0x80) {
			size_t l = utf8_len((const unsigned char *)p, n, i);
			if (!l) {
				*reason = "invalid UTF-8 in string";
				return 0;
			}
			i += l - 1;
			continue;
		}
		if (c == '\\') {
			if (++i >= n)
				break;
			switch (p[i]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				break;
			case 'u': {
				if (!hex4_at(p, n, i + 1)) {
					*reason = "bad \\u escape";
					return 0;
				}
				unsigned cp = hex4_value(p + i + 1);
				i += 4;
				/* A surrogate must come as a high-low pair: a lone
				 * one is no character and has no UTF-8 form, so it
				 * would have to be replaced, changing the text. */
				if (cp >= 0xDC00 && cp <= 0xDFFF) {
					*reason = "lone UTF-16 surrogate in \\u escape";
					return 0;
				}
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					unsigned lo = i + 2 < n && p[i + 1] == '\\' && p[i + 2] == 'u' && hex4_at(p, n, i + 3)
						? hex4_value(p + i + 3) : 0;
					if (lo < 0xDC00 || lo > 0xDFFF) {
						*reason = "lone UTF-16 surrogate in \\u escape";
						return 0;
					}
					i += 6;
				}
				break;
			}
			default:
				*reason = "bad escape";
				return 0;
			}
		}
	}
	*reason = "unterminated string";
	return 0;
}

static size_t scan_number(const char *p, size_t n, size_t i, const char **reason)
{
	if (i < n && p[i] == '-')
		i++;
	if (i < n && p[i] == '0')
		i++;
	else if (i < n && is_digit(p[i]))
		while (i < n && is_digit(p[i]))
			i++;
	else
		goto bad;
	if (i < n && p[i] == '.') {
		i++;
		if (i >= n || !is_digit(p[i]))
			goto bad;
		while (i < n && is_digit(p[i]))
			i++;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		if (i >= n || !is_digit(p[i]))
			goto bad;
		while (i < n && is_digit(p[i]))
			i++;
	}
	if (i < n && (is_digit(p[i]) || p[i] == '.'))
		goto bad; /* "01", "1.2.3" */
	return i;
bad:
	*reason = "malformed number";
	return 0;
}

int rpc_json_check(const char *p, size_t n, unsigned max_depth, size_t *ret_offset, const char **ret_reason)
{
	/* The container stack as a bit string: 1 = object, 0 = array. */
	unsigned char stack[(RPC_MAX_DEPTH_LIMIT + 7) / 8] = { 0 };
	unsigned depth = 0;
	const char *reason = NULL;
	size_t i = 0;
	enum { VALUE, AFTER_VALUE, KEY_OR_END, KEY, VALUE_OR_END } want = VALUE;

	if (max_depth > RPC_MAX_DEPTH_LIMIT)
		max_depth = RPC_MAX_DEPTH_LIMIT;

	for (;;) {
		while (i < n && is_ws(p[i]))
			i++;
		if (want == AFTER_VALUE && depth == 0)
			break;
		if (i >= n) {
			reason = "unexpected end of input";
			goto fail;
		}
		char c = p[i];
		bool in_object = depth > 0 && (stack[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1;

		switch (want) {
		case AFTER_VALUE:
			if (c == ',') {
				i++;
				want = in_object ? KEY : VALUE;
			} else if (c == (in_object ? '}' : ']')) {
				i++;
				depth--;
			} else {
				reason = in_object ? "expected ',' or '}'" : "expected ',' or ']'";
				goto fail;
			}
			continue;
		case KEY_OR_END:
			if (c == '}') {
				i++;
				depth--;
				want = AFTER_VALUE;
				continue;
			}
			__attribute__((fallthrough));
		case KEY:
			if (c != '"') {
				reason = "expected a string key";
				goto fail;
			}
			if (!(i = scan_string(p, n, i, &reason)))
				goto fail_at_end;
			while (i < n && is_ws(p[i]))
				i++;
			if (i >= n || p[i] != ':') {
				reason = "expected ':'";
				goto fail;
			}
			i++;
			want = VALUE;
			continue;
		case VALUE_OR_END:
			if (c == ']') {
				i++;
				depth--;
				want = AFTER_VALUE;
				continue;
			}
			__attribute__((fallthrough));
		case VALUE:
			break;
		}

		/* A value. */
		if (c == '{' || c == '[') {
			if (depth >= max_depth) {
				reason = "nesting too deep";
				goto fail;
			}
			if (c == '{')
				stack[depth / 8] |= 1u << (depth % 8);
			else
				stack[depth / 8] &= ~(1u << (depth % 8));
			depth++;
			i++;
			want = c == '{' ? KEY_OR_END : VALUE_OR_END;
			continue;
		}
		if (c == '"') {
			if (!(i = scan_string(p, n, i, &reason)))
				goto fail_at_end;
		} else if (c == '-' || is_digit(c)) {
			size_t start = i;
			if (!(i = scan_number(p, n, i, &reason))) {
				i = start;
				goto fail;
			}
		} else if (n - i >= 4 && memcmp(p + i, "true", 4) == 0) {
			i += 4;
		} else if (n - i >= 5 && memcmp(p + i, "false", 5) == 0) {
			i += 5;
		} else if (n - i >= 4 && memcmp(p + i, "null", 4) == 0) {
			i += 4;
		} else {
			reason = "unexpected character";
			goto fail;
		}
		want = AFTER_VALUE;
	}

	if (i < n) {
		reason = "trailing characters after the JSON value";
		goto fail;
	}
	return 0;

fail_at_end:
	/* scan_string does not report where; the string starts before here. */
	i = n;
fail:
	if (ret_offset)
		*ret_offset = i;
	if (ret_reason)
		*ret_reason = reason;
	return -EINVAL;
}
