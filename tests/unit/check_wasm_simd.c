/* SPDX-License-Identifier: Apache-2.0 */
/*
 * v128 through the embedder API (values take two frame slots inside) and
 * the SIMD bugs fixed so far.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "wasm-build.h"
#include "mvmt-main.h"

static const uint8_t V2[] = { 0x7b, 0x7b }, V1[] = { 0x7b }, I32[] = { 0x7f };

static wasm_func *build(wasm_store *s, const wasm_config *cfg, const struct wb_func *spec, wasm_instance **ret)
{
	struct wb w = { 0 };
	wasm_module *m;
	wasm_error err;
	wb_module(&w, spec);
	ck_assert_msg(wasm_module_new(cfg, w.b, w.n, &m, &err) == 0, "%s", err.message);
	ck_assert_int_eq(wasm_instantiate(s, m, NULL, NULL, ret, &err), 0);
	wasm_module_free(m);
	wb_free(&w);
	return wasm_instance_func(*ret, "f");
}

START_TEST(test_v128_args_results)
{
	/* f(a: v128, b: v128, k: i32) -> (v128, i32): (i32x4.add a b, k + 1);
	 * mixed widths check the slot layout of params and results */
	static const uint8_t params[] = { 0x7b, 0x7b, 0x7f }, results[] = { 0x7b, 0x7f };
	static const uint8_t body[] = { 0x20, 0, 0x20, 1, 0xfd, 0xae, 0x01, 0x20, 2, 0x41, 1, 0x6a, 0x0b };
	struct wb_func spec = { params, 3, results, 2, 0, body, sizeof(body), -1, -1, NULL, NULL };
	wasm_config cfg;
	wasm_instance *inst;
	wb_config(&cfg);
	wasm_store *s = wasm_store_new(&cfg);
	wasm_func *f = build(s, &cfg, &spec, &inst);
	wasm_val in[3], out[2];
	memset(in, 0, sizeof(in));
	in[0].type = in[1].type = WASM_V128;
	in[2].type = WASM_I32;
	for (int i = 0; i < 4; i++) {
		int32_t a = 1000 * i - 1, b = INT32_MAX - i;
		memcpy(in[0].of.v128 + 4 * i, &a, 4);
		memcpy(in[1].of.v128 + 4 * i, &b, 4);
	}
	in[2].of.i32 = 41;
	ck_assert_int_eq(wasm_call(f, in, 3, out, 2, NULL, NULL), WASM_TRAP_NONE);
	ck_assert_int_eq(out[0].type, WASM_V128);
	for (int i = 0; i < 4; i++) {
		uint32_t r;
		memcpy(&r, out[0].of.v128 + 4 * i, 4);
		ck_assert_uint_eq(r, (uint32_t)(1000 * i - 1) + (uint32_t)(INT32_MAX - i));
	}
	ck_assert_int_eq(out[1].of.i32, 42);
	wasm_store_free(s);
}
END_TEST

/* Regression: v128.load32_zero / load64_zero must clear the other lanes
 * (they used to leave whatever was on the C stack). The result slot is
 * first filled with ones so stale data would show. */
START_TEST(test_regress_load_zero)
{
	/* v128.const -1 (drop) ; v128.load32_zero (i32.const 0) */
	struct wb body = { 0 };
	static const uint8_t ones[] = { 0xfd, 0x0c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1a };
	wb_bytes(&body, ones, sizeof(ones));
	static const uint8_t load[] = { 0x41, 0, 0xfd, 0x5c, 2, 0, 0x0b };
	wb_bytes(&body, load, sizeof(load));
	struct wb_func spec = { NULL, 0, V1, 1, 0, body.b, body.n, 1, 1, NULL, NULL };
	wasm_config cfg;
	wasm_instance *inst;
	wb_config(&cfg);
	wasm_store *s = wasm_store_new(&cfg);
	wasm_func *f = build(s, &cfg, &spec, &inst);
	memcpy(wasm_memory_data(wasm_instance_memory(inst, 0), NULL), "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	wasm_val out;
	ck_assert_int_eq(wasm_call(f, NULL, 0, &out, 1, NULL, NULL), WASM_TRAP_NONE);
	static const uint8_t want[16] = { 1, 2, 3, 4 };
	ck_assert_mem_eq(out.of.v128, want, 16);
	wb_free(&body);
	wasm_store_free(s);
}
END_TEST

START_TEST(test_v128_local_moves)
{
	/* locals and branches move v128 values as two slots: swap through a
	 * block result and a local, then return lane 3 of the first */
	static const uint8_t body[] = {
		0x02, 0x7b, 0x20, 1, 0x0c, 0, 0x0b, /* block (result v128) local.get 1 br 0 end */
		0x21, 2,			  /* local.set 2 (a v128 local) */
		0x20, 2, 0xfd, 0x1b, 3,		  /* i32x4.extract_lane 3 */
		0x20, 0, 0xfd, 0x1b, 0, 0x6a, 0x0b, /* + lane 0 of param 0 */
	};
	/* wb_module() only declares i32 locals: this module is spelled out
	 * to get a v128 local */
	struct wb w = { 0 };
	wb_header(&w);
	size_t s1 = wb_section(&w, 1);
	wb_u32(&w, 1), wb_u8(&w, 0x60), wb_u32(&w, 2), wb_bytes(&w, V2, 2), wb_u32(&w, 1), wb_bytes(&w, I32, 1);
	wb_end(&w, s1);
	s1 = wb_section(&w, 3);
	wb_u32(&w, 1), wb_u32(&w, 0);
	wb_end(&w, s1);
	s1 = wb_section(&w, 7);
	wb_u32(&w, 1), wb_u32(&w, 1), wb_u8(&w, 'f'), wb_u8(&w, 0), wb_u32(&w, 0);
	wb_end(&w, s1);
	s1 = wb_section(&w, 10);
	wb_u32(&w, 1);
	size_t b = wb_begin(&w);
	wb_u32(&w, 1), wb_u32(&w, 1), wb_u8(&w, 0x7b);
	wb_bytes(&w, body, sizeof(body));
	wb_end(&w, b);
	wb_end(&w, s1);
	wasm_config cfg;
	wasm_module *m;
	wasm_instance *inst;
	wasm_error err;
	wb_config(&cfg);
	wasm_store *s = wasm_store_new(&cfg);
	ck_assert_msg(wasm_module_new(&cfg, w.b, w.n, &m, &err) == 0, "%s", err.message);
	ck_assert_int_eq(wasm_instantiate(s, m, NULL, NULL, &inst, &err), 0);
	wasm_val in[2], out;
	memset(in, 0, sizeof(in));
	in[0].type = in[1].type = WASM_V128;
	int32_t a0 = 5, b3 = 37;
	memcpy(in[0].of.v128, &a0, 4);
	memcpy(in[1].of.v128 + 12, &b3, 4);
	ck_assert_int_eq(wasm_call(wasm_instance_func(inst, "f"), in, 2, &out, 1, NULL, NULL), WASM_TRAP_NONE);
	ck_assert_int_eq(out.of.i32, 42);
	wasm_module_free(m);
	wb_free(&w);
	wasm_store_free(s);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "simd",
		.timeout = 60,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_v128_args_results),
			MVMT_TEST(test_regress_load_zero),
			MVMT_TEST(test_v128_local_moves)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "wasm_simd", .tcases = tcases)
