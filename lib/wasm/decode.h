/* SPDX-License-Identifier: Apache-2.0 */
/* Byte reader shared by the decoder and the function-body validator. */
#ifndef MVM_WASM_DECODE_H
#define MVM_WASM_DECODE_H

#include "wasm-int.h"

struct rd {
	const uint8_t *base, *p, *end;
	wasm_error *err;
	const wasm_config *cfg;
};

static inline uint32_t rd_off(const struct rd *r)
{
	return (uint32_t)(r->p - r->base);
}

int wasmi_rd_fail(struct rd *r, wasm_error_kind kind, const char *msg);
int wasmi_rd_u8(struct rd *r, uint8_t *ret);
int wasmi_rd_u32(struct rd *r, uint32_t *ret);
int wasmi_rd_s32(struct rd *r, int32_t *ret);
int wasmi_rd_s33(struct rd *r, int64_t *ret);
int wasmi_rd_s64(struct rd *r, int64_t *ret);
int wasmi_rd_fixed(struct rd *r, void *dst, size_t n);
int wasmi_rd_valtype(struct rd *r, uint8_t *ret);
int wasmi_rd_reftype(struct rd *r, uint8_t *ret);
bool wasmi_is_reftype(uint8_t t);
/* a count followed by at least min_bytes per item, capped */
int wasmi_rd_count(struct rd *r, uint32_t cap, uint32_t min_bytes, uint32_t *ret);
/* a name, copied NUL-terminated into *ret (if ret) */
int wasmi_rd_name_len(struct rd *r, char **ret, uint32_t *ret_len);
int wasmi_rd_name(struct rd *r, char **ret);

#define TRY(x)                       \
	do {                         \
		if ((x) < 0)         \
			return -1;   \
	} while (0)

#endif
