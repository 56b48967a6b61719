/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The compiler's fused forms against a C oracle: every i32 compare (and
 * "and" as a bit test) with register or immediate operands, used as a
 * value, under i32.eqz, as a br_if condition and as an if condition —
 * each combination is compiled to a different internal instruction
 * (compare-and-branch, negated compare, immediate forms, test-zero).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "wasm-build.h"
#include "mvmt-main.h"

static const uint8_t I32[] = { 0x7f }, I32I32[] = { 0x7f, 0x7f };
static const int32_t vals[] = { 0, 1, -1, 2, 100, -100, INT32_MIN, INT32_MAX, 16, 17 };

/* wasm opcode, C oracle */
static const struct {
	uint8_t op;
	const char *name;
} cmps[] = {
	{ 0x46, "eq" }, { 0x47, "ne" }, { 0x48, "lt_s" }, { 0x49, "lt_u" }, { 0x4a, "gt_s" },
	{ 0x4b, "gt_u" }, { 0x4c, "le_s" }, { 0x4d, "le_u" }, { 0x4e, "ge_s" }, { 0x4f, "ge_u" },
	{ 0x71, "and" },
};

static bool oracle(uint8_t op, int32_t a, int32_t b)
{
	uint32_t ua = (uint32_t)a, ub = (uint32_t)b;
	switch (op) {
	case 0x46: return a == b;
	case 0x47: return a != b;
	case 0x48: return a < b;
	case 0x49: return ua < ub;
	case 0x4a: return a > b;
	case 0x4b: return ua > ub;
	case 0x4c: return a <= b;
	case 0x4d: return ua <= ub;
	case 0x4e: return a >= b;
	case 0x4f: return ua >= ub;
	case 0x71: return (ua & ub) != 0;
	}
	abort();
}

enum use { USE_VALUE, USE_BR_IF, USE_IF, USE_MAX };

/* operands: local 0 and (local 1 | i32.const imm); optional eqz; a use */
static size_t body(uint8_t *b, uint8_t op, bool imm, int32_t k, bool eqz, enum use use)
{
	struct wb w = { 0 };
	if (use == USE_BR_IF) { /* block (result i32) i32.const 1 <cond> br_if 0 drop i32.const 0 end */
		static const uint8_t pre[] = { 0x02, 0x7f, 0x41, 1 };
		wb_bytes(&w, pre, sizeof(pre));
	}
	wb_u8(&w, 0x20), wb_u8(&w, 0);
	if (imm) {
		wb_u8(&w, 0x41);
		wb_s64(&w, k);
	} else {
		wb_u8(&w, 0x20), wb_u8(&w, 1);
	}
	wb_u8(&w, op);
	if (op == 0x71 && use == USE_VALUE) { /* "and" as a value: normalise to 0/1 */
		wb_u8(&w, 0x41), wb_u8(&w, 0), wb_u8(&w, 0x47);
	}
	if (eqz)
		wb_u8(&w, 0x45);
	if (use == USE_BR_IF) {
		static const uint8_t post[] = { 0x0d, 0, 0x1a, 0x41, 0, 0x0b };
		wb_bytes(&w, post, sizeof(post));
	} else if (use == USE_IF) {
		static const uint8_t post[] = { 0x04, 0x7f, 0x41, 1, 0x05, 0x41, 0, 0x0b };
		wb_bytes(&w, post, sizeof(post));
	}
	wb_u8(&w, 0x0b);
	memcpy(b, w.b, w.n);
	size_t n = w.n;
	wb_free(&w);
	return n;
}

START_TEST(test_fused_compares)
{
	wasm_config cfg;
	wb_config(&cfg);
	wasm_store *s = wasm_store_new(&cfg);
	int checked = 0;
	for (size_t c = 0; c < sizeof(cmps) / sizeof(cmps[0]); c++)
		for (int imm = 0; imm < 2; imm++)
			for (size_t ki = 0; ki < (imm ? sizeof(vals) / sizeof(vals[0]) : 1); ki++)
				for (int eqz = 0; eqz < 2; eqz++)
					for (int use = 0; use < USE_MAX; use++) {
						uint8_t code[64];
						int32_t k = vals[ki];
						size_t n = body(code, cmps[c].op, imm, k, eqz, use);
						struct wb_func spec = { I32I32, 2, I32, 1, 0, code, n, -1, -1, NULL, NULL };
						struct wb w = { 0 };
						wasm_module *m;
						wasm_instance *inst;
						wasm_error err;
						wb_module(&w, &spec);
						ck_assert_msg(wasm_module_new(&cfg, w.b, w.n, &m, &err) == 0, "%s: %s",
							      cmps[c].name, err.message);
						ck_assert_int_eq(wasm_instantiate(s, m, NULL, NULL, &inst, &err), 0);
						wasm_func *f = wasm_instance_func(inst, "f");
						for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
							for (size_t j = 0; j < sizeof(vals) / sizeof(vals[0]); j++) {
								wasm_val in[2] = { { .type = WASM_I32, .of.i32 = vals[i] },
										   { .type = WASM_I32, .of.i32 = vals[j] } };
								wasm_val out;
								ck_assert_int_eq(wasm_call(f, in, 2, &out, 1, NULL, NULL), 0);
								bool want = oracle(cmps[c].op, vals[i], imm ? k : vals[j]) != eqz;
								ck_assert_msg(out.of.i32 == want, "%s imm=%d k=%d eqz=%d use=%d a=%d b=%d: got %d",
									      cmps[c].name, imm, k, eqz, use, vals[i], vals[j], out.of.i32);
								checked++;
							}
						wasm_module_free(m);
						wb_free(&w);
					}
	ck_assert_int_gt(checked, 10000);
	wasm_store_free(s);
}
END_TEST

START_TEST(test_const_address_load)
{
	/* i32.const 8; i32.load offset=4 (folded to one absolute load); and the
	 * same past the end of memory must still trap */
	static const uint8_t ok[] = { 0x41, 0x08, 0x28, 0x02, 0x04, 0x0b };
	static const uint8_t oob[] = { 0x41, 0xfd, 0xff, 0x03, 0x28, 0x02, 0x00, 0x0b }; /* 65533 */
	wasm_config cfg;
	wb_config(&cfg);
	wasm_store *s = wasm_store_new(&cfg);
	const uint8_t *bodies[] = { ok, oob };
	size_t lens[] = { sizeof(ok), sizeof(oob) };
	for (int i = 0; i < 2; i++) {
		struct wb_func spec = { NULL, 0, I32, 1, 0, bodies[i], lens[i], 1, 1, NULL, NULL };
		struct wb w = { 0 };
		wasm_module *m;
		wasm_instance *inst;
		wb_module(&w, &spec);
		ck_assert_int_eq(wasm_module_new(&cfg, w.b, w.n, &m, NULL), 0);
		ck_assert_int_eq(wasm_instantiate(s, m, NULL, NULL, &inst, NULL), 0);
		uint64_t size;
		uint8_t *mem = wasm_memory_data(wasm_instance_memory(inst, 0), &size);
		memcpy(mem + 12, "\x78\x56\x34\x12", 4);
		wasm_val out;
		wasm_trap_kind k = wasm_call(wasm_instance_func(inst, "f"), NULL, 0, &out, 1, NULL, NULL);
		if (i == 0) {
			ck_assert_int_eq(k, WASM_TRAP_NONE);
			ck_assert_int_eq(out.of.i32, 0x12345678);
		} else {
			ck_assert_int_eq(k, WASM_TRAP_OOB_MEMORY);
		}
		wasm_module_free(m);
		wb_free(&w);
	}
	wasm_store_free(s);
}
END_TEST

/* "i32.add; load" is one instruction: the add must still wrap at 32 bits
 * before the offset is added (0xffffffff + 1 + offset 4 reads address 4) */
START_TEST(test_add_load_wraps)
{
	static const uint8_t imm32[] = { 0x20, 0, 0x41, 1, 0x6a, 0x28, 2, 4, 0x0b };
	static const uint8_t reg8[] = { 0x20, 0, 0x20, 1, 0x6a, 0x2d, 0, 4, 0x0b };
	static const uint8_t imm64[] = { 0x20, 0, 0x41, 1, 0x6a, 0x29, 3, 4, 0xa7, 0x0b }; /* wrap to i32 */
	const uint8_t *bodies[] = { imm32, reg8, imm64 };
	size_t lens[] = { sizeof(imm32), sizeof(reg8), sizeof(imm64) };
	wasm_config cfg;
	wb_config(&cfg);
	wasm_store *s = wasm_store_new(&cfg);
	for (int i = 0; i < 3; i++) {
		struct wb_func spec = { I32I32, 2, I32, 1, 0, bodies[i], lens[i], 1, 1, NULL, NULL };
		struct wb w = { 0 };
		wasm_module *m;
		wasm_instance *inst;
		wb_module(&w, &spec);
		ck_assert_int_eq(wasm_module_new(&cfg, w.b, w.n, &m, NULL), 0);
		ck_assert_int_eq(wasm_instantiate(s, m, NULL, NULL, &inst, NULL), 0);
		uint8_t *mem = wasm_memory_data(wasm_instance_memory(inst, 0), NULL);
		memcpy(mem + 4, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
		wasm_func *f = wasm_instance_func(inst, "f");
		wasm_val in[2] = { { .type = WASM_I32, .of.i32 = -1 }, { .type = WASM_I32, .of.i32 = 1 } }, out;
		ck_assert_int_eq(wasm_call(f, in, 2, &out, 1, NULL, NULL), WASM_TRAP_NONE);
		ck_assert_int_eq(out.of.i32, i == 1 ? 0x11 : 0x44332211);
		/* and past the end it still traps */
		in[0].of.i32 = 65530;
		in[1].of.i32 = 8;
		ck_assert_int_eq(wasm_call(f, in, 2, &out, 1, NULL, NULL), WASM_TRAP_OOB_MEMORY);
		wasm_module_free(m);
		wb_free(&w);
	}
	wasm_store_free(s);
}
END_TEST

/* same for "i32.add; local.get; store": wraps, then traps past the end */
START_TEST(test_add_store_wraps)
{
	/* store(x + 1, offset 4) = y; return load(4) */
	static const uint8_t body[] = { 0x20, 0, 0x41, 1, 0x6a, 0x20, 1, 0x36, 2, 4, 0x41, 0, 0x28, 2, 4, 0x0b };
	wasm_config cfg;
	wb_config(&cfg);
	wasm_store *s = wasm_store_new(&cfg);
	struct wb_func spec = { I32I32, 2, I32, 1, 0, body, sizeof(body), 1, 1, NULL, NULL };
	struct wb w = { 0 };
	wasm_module *m;
	wasm_instance *inst;
	wb_module(&w, &spec);
	ck_assert_int_eq(wasm_module_new(&cfg, w.b, w.n, &m, NULL), 0);
	ck_assert_int_eq(wasm_instantiate(s, m, NULL, NULL, &inst, NULL), 0);
	wasm_func *f = wasm_instance_func(inst, "f");
	wasm_val in[2] = { { .type = WASM_I32, .of.i32 = -1 }, { .type = WASM_I32, .of.i32 = 0x5eed } }, out;
	ck_assert_int_eq(wasm_call(f, in, 2, &out, 1, NULL, NULL), WASM_TRAP_NONE);
	ck_assert_int_eq(out.of.i32, 0x5eed);
	in[0].of.i32 = 65530;
	ck_assert_int_eq(wasm_call(f, in, 2, &out, 1, NULL, NULL), WASM_TRAP_OOB_MEMORY);
	wasm_module_free(m);
	wb_free(&w);
	wasm_store_free(s);
}
END_TEST

/* "a + (i << 2)" then load or store (array indexing) is one instruction;
 * the sum still wraps at 32 bits before the offset */
START_TEST(test_indexed_access)
{
	/* mem[a + (i << 2) + 4] = i; return mem[a + (i << 2) + 4] */
	static const uint8_t body[] = {
		0x20, 0, 0x20, 1, 0x41, 2, 0x74, 0x6a, 0x20, 1, 0x36, 2, 4, /* indexed store */
		0x20, 0, 0x20, 1, 0x41, 2, 0x74, 0x6a, 0x28, 2, 4, 0x0b,    /* indexed load */
	};
	wasm_config cfg;
	wb_config(&cfg);
	wasm_store *s = wasm_store_new(&cfg);
	struct wb_func spec = { I32I32, 2, I32, 1, 0, body, sizeof(body), 1, 1, NULL, NULL };
	struct wb w = { 0 };
	wasm_module *m;
	wasm_instance *inst;
	wb_module(&w, &spec);
	ck_assert_int_eq(wasm_module_new(&cfg, w.b, w.n, &m, NULL), 0);
	ck_assert_int_eq(wasm_instantiate(s, m, NULL, NULL, &inst, NULL), 0);
	uint8_t *mem = wasm_memory_data(wasm_instance_memory(inst, 0), NULL);
	wasm_func *f = wasm_instance_func(inst, "f");
	/* a = 0xfffffff0, i = 5: (a + 20) wraps to 4 */
	wasm_val in[2] = { { .type = WASM_I32, .of.i32 = (int32_t)0xfffffff0u }, { .type = WASM_I32, .of.i32 = 5 } }, out;
	ck_assert_int_eq(wasm_call(f, in, 2, &out, 1, NULL, NULL), WASM_TRAP_NONE);
	ck_assert_int_eq(out.of.i32, 5);
	ck_assert_mem_eq(mem + 8, "\x05\x00\x00\x00", 4);
	in[0].of.i32 = 65520;
	in[1].of.i32 = 4; /* 65536: out of bounds */
	ck_assert_int_eq(wasm_call(f, in, 2, &out, 1, NULL, NULL), WASM_TRAP_OOB_MEMORY);
	wasm_module_free(m);
	wb_free(&w);
	wasm_store_free(s);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "fuse",
		.timeout = 60,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_fused_compares),
			MVMT_TEST(test_const_address_load),
			MVMT_TEST(test_add_load_wraps),
			MVMT_TEST(test_add_store_wraps),
			MVMT_TEST(test_indexed_access)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "wasm_fuse", .tcases = tcases)
