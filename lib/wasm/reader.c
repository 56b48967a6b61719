/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Byte-level reading for the decoder and the validator: LEB128 with the
 * format's length and range rules, value types, names (UTF-8 checked),
 * and counts checked against caps and the bytes left.
 */
#include "decode.h"

void wasmi_set_error(wasm_error *err, wasm_error_kind kind, uint32_t off, const char *msg)
{
	if (!err || err->kind != WASM_ERR_NONE)
		return;
	err->kind = kind;
	err->offset = off;
	size_t i = 0;
	for (; msg[i] && i + 1 < sizeof(err->message); i++)
		err->message[i] = msg[i];
	err->message[i] = 0;
}

int wasmi_rd_fail(struct rd *r, wasm_error_kind kind, const char *msg)
{
	wasmi_set_error(r->err, kind, rd_off(r), msg);
	return -1;
}

int wasmi_rd_u8(struct rd *r, uint8_t *ret)
{
	if (r->p >= r->end)
		return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "unexpected end");
	*ret = *r->p++;
	return 0;
}

static int rd_leb(struct rd *r, unsigned bits, bool sign, uint64_t *ret)
{
	uint64_t v = 0;
	unsigned shift = 0;
	unsigned maxbytes = (bits + 6) / 7;
	for (unsigned i = 0;; i++) {
		uint8_t b;
		if (r->p >= r->end)
			return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "unexpected end of LEB128");
		b = *r->p++;
		if (i == maxbytes - 1) {
			/* last byte: continuation bit clear, unused bits zero (or sign) */
			if (b & 0x80)
				return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "integer representation too long");
			unsigned used = bits - shift; /* bits this byte contributes */
			if (used < 7) {
				uint8_t extra = (uint8_t)(b & 0x7f) >> (used - (sign ? 1 : 0));
				uint8_t allones = (uint8_t)(0x7f >> (used - (sign ? 1 : 0)));
				if (!(extra == 0 || (sign && extra == allones)))
					return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "integer too large");
			}
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (sign && shift < 64 && (b & 0x40))
				v |= ~(uint64_t)0 << shift;
			break;
		}
	}
	*ret = v;
	return 0;
}

int wasmi_rd_u32(struct rd *r, uint32_t *ret)
{
	uint64_t v;
	TRY(rd_leb(r, 32, false, &v));
	*ret = (uint32_t)v;
	return 0;
}

int wasmi_rd_s32(struct rd *r, int32_t *ret)
{
	uint64_t v;
	TRY(rd_leb(r, 32, true, &v));
	*ret = (int32_t)(uint32_t)v;
	return 0;
}

int wasmi_rd_s33(struct rd *r, int64_t *ret)
{
	uint64_t v;
	TRY(rd_leb(r, 33, true, &v));
	*ret = (int64_t)v;
	return 0;
}

int wasmi_rd_s64(struct rd *r, int64_t *ret)
{
	uint64_t v;
	TRY(rd_leb(r, 64, true, &v));
	*ret = (int64_t)v;
	return 0;
}

int wasmi_rd_fixed(struct rd *r, void *dst, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "unexpected end");
	__builtin_memcpy(dst, r->p, n);
	r->p += n;
	return 0;
}

bool wasmi_is_reftype(uint8_t t)
{
	return t == WASM_FUNCREF || t == WASM_EXTERNREF;
}

int wasmi_rd_valtype(struct rd *r, uint8_t *ret)
{
	uint8_t t;
	TRY(wasmi_rd_u8(r, &t));
	switch (t) {
	case WASM_I32: case WASM_I64: case WASM_F32: case WASM_F64: case WASM_V128:
	case WASM_FUNCREF: case WASM_EXTERNREF:
		*ret = t;
		return 0;
	default:
		r->p--;
		return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "malformed value type");
	}
}

int wasmi_rd_reftype(struct rd *r, uint8_t *ret)
{
	uint8_t t;
	TRY(wasmi_rd_u8(r, &t));
	if (!wasmi_is_reftype(t)) {
		r->p--;
		return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "malformed reference type");
	}
	*ret = t;
	return 0;
}

/* A count that will be followed by at least min_bytes per item. */
int wasmi_rd_count(struct rd *r, uint32_t cap, uint32_t min_bytes, uint32_t *ret)
{
	uint32_t n;
	TRY(wasmi_rd_u32(r, &n));
	if (n > cap)
		return wasmi_rd_fail(r, WASM_ERR_LIMIT, "count exceeds configured limit");
	if (min_bytes && (uint64_t)n * min_bytes > (uint64_t)(r->end - r->p))
		return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "unexpected end (length out of bounds)");
	*ret = n;
	return 0;
}

static bool utf8_valid(const uint8_t *s, uint32_t n)
{
	uint32_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		uint32_t len, cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (uint32_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

int wasmi_rd_name_len(struct rd *r, char **ret, uint32_t *ret_len)
{
	uint32_t n;
	TRY(wasmi_rd_u32(r, &n));
	if (n > (uint32_t)(r->end - r->p))
		return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "unexpected end (length out of bounds)");
	if (!utf8_valid(r->p, n))
		return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "malformed UTF-8 encoding");
	if (ret) {
		char *s = wasm_alloc(r->cfg, (size_t)n + 1);
		if (!s)
			return wasmi_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
		__builtin_memcpy(s, r->p, n);
		s[n] = 0;
		*ret = s;
	}
	if (ret_len)
		*ret_len = n;
	r->p += n;
	return 0;
}

int wasmi_rd_name(struct rd *r, char **ret)
{
	return wasmi_rd_name_len(r, ret, NULL);
}
