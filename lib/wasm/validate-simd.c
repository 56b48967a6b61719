/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Validation and emission of the SIMD prefix (0xFD), driven by the shape
 * column of WASM_SIMD_OPS in opcodes.h: each shape is one function below.
 */
#include "compile.h"

#define V WASM_V128

/* slot of the value just popped at height vh (0 when dead) */
static uint64_t popped(struct fc *c)
{
	return c->dead ? 0 : operand_slot(c, c->vh);
}

static int lane(struct fc *c, unsigned lanes, uint64_t *ret)
{
	uint8_t l;
	TRY(wasmi_rd_u8(c->r, &l));
	if (l >= lanes)
		return wasmi_cc_fail(c, WASM_ERR_INVALID, "invalid lane index");
	*ret = l;
	return 0;
}

/* pop n operands of the given types (last pushed last), push `out` */
static int generic(struct fc *c, unsigned op, unsigned n, const uint8_t *in, uint8_t out,
		   const uint64_t *extra, unsigned nextra)
{
	uint64_t ops[8];
	for (unsigned i = n; i-- > 0;) {
		if (wasmi_vd_pop(c, in[i]) < 0)
			return -1;
		ops[1 + i] = popped(c);
	}
	uint32_t k = 0;
	if (out) {
		TRY(wasmi_vd_push(c, out));
		ops[0] = c->dead ? 0 : slot_of(c, c->vh - 1);
		k = 1;
	}
	for (unsigned i = 0; i < n; i++)
		ops[k + i] = ops[1 + i];
	for (unsigned i = 0; i < nextra; i++)
		ops[k + n + i] = extra[i];
	if (c->dead)
		return 0;
	return wasmi_vd_emit(c, op, k + n + nextra, ops, out ? 0 : -1);
}

static int s_BIN(struct fc *c, unsigned op, unsigned lanes, unsigned align)
{
	static const uint8_t in[] = { V, V };
	return generic(c, op, 2, in, V, NULL, 0);
}

static int s_UN(struct fc *c, unsigned op, unsigned lanes, unsigned align)
{
	static const uint8_t in[] = { V };
	return generic(c, op, 1, in, V, NULL, 0);
}

static int s_TERN(struct fc *c, unsigned op, unsigned lanes, unsigned align)
{
	static const uint8_t in[] = { V, V, V };
	return generic(c, op, 3, in, V, NULL, 0);
}

static int s_SHIFT(struct fc *c, unsigned op, unsigned lanes, unsigned align)
{
	static const uint8_t in[] = { V, WASM_I32 };
	return generic(c, op, 2, in, V, NULL, 0);
}

static int s_TEST(struct fc *c, unsigned op, unsigned lanes, unsigned align)
{
	static const uint8_t in[] = { V };
	return generic(c, op, 1, in, WASM_I32, NULL, 0);
}

#define SPLAT(T)                                                                       \
	static int s_SPLAT_##T(struct fc *c, unsigned op, unsigned lanes, unsigned align) \
	{                                                                              \
		static const uint8_t in[] = { WASM_##T };                               \
		return generic(c, op, 1, in, V, NULL, 0);                              \
	}                                                                              \
	static int s_EXTRACT_##T(struct fc *c, unsigned op, unsigned lanes, unsigned align) \
	{                                                                              \
		static const uint8_t in[] = { V };                                      \
		uint64_t l;                                                            \
		TRY(lane(c, lanes, &l));                                               \
		return generic(c, op, 1, in, WASM_##T, &l, 1);                         \
	}                                                                              \
	static int s_REPLACE_##T(struct fc *c, unsigned op, unsigned lanes, unsigned align) \
	{                                                                              \
		static const uint8_t in[] = { V, WASM_##T };                            \
		uint64_t l;                                                            \
		TRY(lane(c, lanes, &l));                                               \
		return generic(c, op, 2, in, V, &l, 1);                                \
	}
SPLAT(I32)
SPLAT(I64)
SPLAT(F32)
SPLAT(F64)

static int s_LOAD(struct fc *c, unsigned op, unsigned lanes, unsigned align)
{
	static const uint8_t in[] = { WASM_I32 };
	uint32_t off;
	uint64_t o;
	TRY(wasmi_vd_memarg(c, align, &off));
	o = off;
	return generic(c, op, 1, in, V, &o, 1);
}

static int s_STORE(struct fc *c, unsigned op, unsigned lanes, unsigned align)
{
	static const uint8_t in[] = { WASM_I32, V };
	uint32_t off;
	uint64_t ops[3];
	TRY(wasmi_vd_memarg(c, align, &off));
	TRY(wasmi_vd_pop(c, V));
	ops[0] = popped(c);
	TRY(wasmi_vd_pop(c, WASM_I32));
	ops[1] = popped(c);
	ops[2] = off;
	(void)in;
	return c->dead ? 0 : wasmi_vd_emit(c, op, 3, ops, -1);
}

/* [op][dst][addr][offset][vector][lane] */
static int s_LOAD_LANE(struct fc *c, unsigned op, unsigned lanes, unsigned align)
{
	uint32_t off;
	uint64_t l = 0, ops[5];
	TRY(wasmi_vd_memarg(c, align, &off));
	TRY(lane(c, lanes, &l));
	TRY(wasmi_vd_pop(c, V));
	ops[3] = popped(c);
	TRY(wasmi_vd_pop(c, WASM_I32));
	ops[1] = popped(c);
	TRY(wasmi_vd_push(c, V));
	if (c->dead)
		return 0;
	ops[0] = slot_of(c, c->vh - 1);
	ops[2] = off;
	ops[4] = l;
	return wasmi_vd_emit(c, op, 5, ops, 0);
}

/* [op][vector][addr][offset][lane] */
static int s_STORE_LANE(struct fc *c, unsigned op, unsigned lanes, unsigned align)
{
	uint32_t off;
	uint64_t l = 0, ops[4];
	TRY(wasmi_vd_memarg(c, align, &off));
	TRY(lane(c, lanes, &l));
	TRY(wasmi_vd_pop(c, V));
	ops[0] = popped(c);
	TRY(wasmi_vd_pop(c, WASM_I32));
	ops[1] = popped(c);
	ops[2] = off;
	ops[3] = l;
	return c->dead ? 0 : wasmi_vd_emit(c, op, 4, ops, -1);
}

static int s_CONST(struct fc *c, unsigned op, unsigned lanes, unsigned align)
{
	uint64_t v[2];
	TRY(wasmi_rd_fixed(c->r, v, 16));
	return generic(c, op, 0, NULL, V, v, 2);
}

static int s_SHUFFLE(struct fc *c, unsigned op, unsigned lanes, unsigned align)
{
	static const uint8_t in[] = { V, V };
	uint8_t idx[16];
	uint64_t imm[2];
	TRY(wasmi_rd_fixed(c->r, idx, 16));
	for (int i = 0; i < 16; i++)
		if (idx[i] >= 32)
			return wasmi_cc_fail(c, WASM_ERR_INVALID, "invalid lane index");
	__builtin_memcpy(imm, idx, 16);
	return generic(c, op, 2, in, V, imm, 2);
}

int wasmi_validate_simd(struct fc *c)
{
	uint32_t sub;
	TRY(wasmi_rd_u32(c->r, &sub));
	switch (sub) {
#define X_SIMD(code, name, shape, lanes, align) \
	case code:                              \
		return s_##shape(c, OP_##name, lanes, align);
		WASM_SIMD_OPS(X_SIMD)
#undef X_SIMD
	default:
		return wasmi_cc_fail(c, WASM_ERR_MALFORMED, "illegal opcode");
	}
}
