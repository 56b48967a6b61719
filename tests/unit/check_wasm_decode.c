/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/wasm decoding and validation: error kinds and byte offsets, caps on
 * counts read from hostile modules, and one module per validator bug fixed.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "wasm-build.h"
#include "mvmt-main.h"

static const uint8_t I32[] = { 0x7f };

static int load(const wasm_config *cfg, const uint8_t *b, size_t n, wasm_error *err)
{
	wasm_module *m = NULL;
	int r = wasm_module_new(cfg, b, n, &m, err);
	wasm_module_free(m);
	return r;
}

static int load_func(const wasm_config *cfg, const uint8_t *body, size_t n, uint32_t nlocals, wasm_error *err)
{
	struct wb w = { 0 };
	struct wb_func spec = { NULL, 0, I32, 1, nlocals, body, n, -1, -1, NULL, NULL };
	wb_module(&w, &spec);
	int r = load(cfg, w.b, w.n, err);
	wb_free(&w);
	return r;
}

/* offset of the body's first instruction in a wb_module() without memory */
static uint32_t body_offset(const uint8_t *body, size_t n)
{
	struct wb w = { 0 };
	struct wb_func spec = { NULL, 0, I32, 1, 0, body, n, -1, -1, NULL, NULL };
	wb_module(&w, &spec);
	uint32_t off = (uint32_t)(w.n - n);
	wb_free(&w);
	return off;
}

START_TEST(test_bad_magic)
{
	wasm_config cfg;
	wasm_error err;
	static const uint8_t b[] = { 0, 'a', 's', 'n', 1, 0, 0, 0 };
	wb_config(&cfg);
	ck_assert_int_lt(load(&cfg, b, sizeof(b), &err), 0);
	ck_assert_int_eq(err.kind, WASM_ERR_MALFORMED);
	ck_assert_uint_eq(err.offset, 0);
	static const uint8_t v[] = { 0, 'a', 's', 'm', 2, 0, 0, 0 };
	ck_assert_int_lt(load(&cfg, v, sizeof(v), &err), 0);
	ck_assert_uint_eq(err.offset, 4);
	ck_assert_int_lt(load(&cfg, b, 0, &err), 0);
}
END_TEST

START_TEST(test_type_mismatch_offset)
{
	/* i32.const 1; i64.const 2; i32.add -> invalid at the add */
	static const uint8_t body[] = { 0x41, 1, 0x42, 2, 0x6a, 0x0b };
	wasm_config cfg;
	wasm_error err;
	wb_config(&cfg);
	ck_assert_int_lt(load_func(&cfg, body, sizeof(body), 0, &err), 0);
	ck_assert_int_eq(err.kind, WASM_ERR_INVALID);
	/* the error is found after reading the opcode at body+4 */
	ck_assert_uint_eq(err.offset, body_offset(body, sizeof(body)) + 5);
	ck_assert_ptr_nonnull(strstr(err.message, "type mismatch"));
}
END_TEST

START_TEST(test_illegal_opcode_offset)
{
	static const uint8_t body[] = { 0x41, 1, 0xff, 0x0b };
	wasm_config cfg;
	wasm_error err;
	wb_config(&cfg);
	ck_assert_int_lt(load_func(&cfg, body, sizeof(body), 0, &err), 0);
	ck_assert_int_eq(err.kind, WASM_ERR_MALFORMED);
	ck_assert_uint_eq(err.offset, body_offset(body, sizeof(body)) + 2);
}
END_TEST

START_TEST(test_missing_end)
{
	static const uint8_t body[] = { 0x41, 1 };
	wasm_config cfg;
	wasm_error err;
	wb_config(&cfg);
	ck_assert_int_lt(load_func(&cfg, body, sizeof(body), 0, &err), 0);
	ck_assert_int_eq(err.kind, WASM_ERR_MALFORMED);
}
END_TEST

START_TEST(test_huge_counts)
{
	/* a type section claiming 2^32-1 types in 5 bytes: refused before any
	 * allocation of that size */
	static const uint8_t b[] = { 0, 'a', 's', 'm', 1, 0, 0, 0, 1, 5, 0xff, 0xff, 0xff, 0xff, 0x0f };
	wasm_config cfg;
	wasm_error err;
	wb_config(&cfg);
	ck_assert_int_lt(load(&cfg, b, sizeof(b), &err), 0);
	ck_assert(err.kind == WASM_ERR_LIMIT || err.kind == WASM_ERR_MALFORMED);
	/* under the cap but more than the bytes left: malformed, not allocated */
	cfg.max_types = 0xffffffffu;
	ck_assert_int_lt(load(&cfg, b, sizeof(b), &err), 0);
	ck_assert_int_eq(err.kind, WASM_ERR_MALFORMED);
}
END_TEST

START_TEST(test_type_cap)
{
	struct wb w = { 0 };
	wasm_config cfg;
	wasm_error err;
	wb_header(&w);
	size_t s = wb_section(&w, 1);
	wb_u32(&w, 10);
	for (int i = 0; i < 10; i++) {
		static const uint8_t t[] = { 0x60, 0, 0 };
		wb_bytes(&w, t, 3);
	}
	wb_end(&w, s);
	wb_config(&cfg);
	ck_assert_int_eq(load(&cfg, w.b, w.n, &err), 0);
	cfg.max_types = 9;
	ck_assert_int_eq(load(&cfg, w.b, w.n, &err), -WASM_E2BIG);
	ck_assert_int_eq(err.kind, WASM_ERR_LIMIT);
	wb_free(&w);
}
END_TEST

START_TEST(test_too_many_locals)
{
	struct wb w = { 0 };
	wasm_config cfg;
	wasm_error err;
	static const uint8_t body[] = { 0x41, 0, 0x0b };
	wb_config(&cfg);
	cfg.max_locals = 100;
	ck_assert_int_eq(load_func(&cfg, body, sizeof(body), 99, &err), 0);
	ck_assert_int_lt(load_func(&cfg, body, sizeof(body), 101, &err), 0);
	ck_assert_int_eq(err.kind, WASM_ERR_LIMIT);
	/* 2^32-1 + 1 locals in two groups: malformed regardless of the cap */
	cfg.max_locals = 0xffffffffu;
	wb_header(&w);
	static const uint8_t rest[] = {
		1, 4, 1, 0x60, 0, 0,	      /* type () -> () */
		3, 2, 1, 0,		      /* one function */
		10, 16, 1, 14, 2,	      /* code: one body, two local groups */
		0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 1, 0x7f, 0x0b,
	};
	wb_bytes(&w, rest, sizeof(rest));
	ck_assert_int_lt(load(&cfg, w.b, w.n, &err), 0);
	wb_free(&w);
}
END_TEST

START_TEST(test_deep_nesting)
{
	/* 100000 nested blocks: a LIMIT error, no recursion, no crash */
	struct wb body = { 0 };
	wasm_config cfg;
	wasm_error err;
	for (int i = 0; i < 100000; i++) {
		wb_u8(&body, 0x02);
		wb_u8(&body, 0x40);
	}
	for (int i = 0; i < 100000; i++)
		wb_u8(&body, 0x0b);
	wb_u8(&body, 0x41);
	wb_u8(&body, 0);
	wb_u8(&body, 0x0b);
	wb_config(&cfg);
	cfg.max_nesting = 1000;
	ck_assert_int_lt(load_func(&cfg, body.b, body.n, 0, &err), 0);
	ck_assert_int_eq(err.kind, WASM_ERR_LIMIT);
	cfg.max_nesting = 200000;
	ck_assert_int_eq(load_func(&cfg, body.b, body.n, 0, &err), 0);
	wb_free(&body);
}
END_TEST

START_TEST(test_br_table_cap)
{
	struct wb body = { 0 };
	wasm_config cfg;
	wasm_error err;
	wb_u8(&body, 0x02), wb_u8(&body, 0x40);
	wb_u8(&body, 0x41), wb_u8(&body, 0);
	wb_u8(&body, 0x0e);
	wb_u32(&body, 5000);
	for (int i = 0; i <= 5000; i++)
		wb_u8(&body, 0);
	wb_u8(&body, 0x0b);
	wb_u8(&body, 0x41), wb_u8(&body, 0), wb_u8(&body, 0x0b);
	wb_config(&cfg);
	ck_assert_int_eq(load_func(&cfg, body.b, body.n, 0, &err), 0);
	cfg.max_br_table = 4999;
	ck_assert_int_lt(load_func(&cfg, body.b, body.n, 0, &err), 0);
	ck_assert_int_eq(err.kind, WASM_ERR_LIMIT);
	wb_free(&body);
}
END_TEST

START_TEST(test_module_size_cap)
{
	wasm_config cfg;
	wasm_error err;
	static const uint8_t b[] = { 0, 'a', 's', 'm', 1, 0, 0, 0 };
	wb_config(&cfg);
	ck_assert_int_eq(load(&cfg, b, sizeof(b), &err), 0);
	cfg.max_module_size = 7;
	ck_assert_int_lt(load(&cfg, b, sizeof(b), &err), 0);
	ck_assert_int_eq(err.kind, WASM_ERR_LIMIT);
}
END_TEST

/* Regression: br_if must push back the label's types even when its operands
 * came from the polymorphic stack (unreached-invalid.wast:687). */
START_TEST(test_regress_br_if_retypes)
{
	static const uint8_t m[] = { 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01,
				     0x60, 0x00, 0x01, 0x7e, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x08, 0x01,
				     0x06, 0x00, 0x00, 0x0d, 0x00, 0xad, 0x0b };
	wasm_config cfg;
	wasm_error err;
	wb_config(&cfg);
	ck_assert_int_lt(load(&cfg, m, sizeof(m), &err), 0);
	ck_assert_int_eq(err.kind, WASM_ERR_INVALID);
}
END_TEST

/* Regression: br_table in unreachable code to labels of different types
 * must type-check (unreached-valid.wast "meet-bottom"). */
START_TEST(test_regress_br_table_bottom)
{
	/* block (result f64) block (result f32) unreachable br_table 0 1 1 (i32.const 1)
	 * end drop f64.const 0 end drop */
	static const uint8_t body[] = { 0x02, 0x7c, 0x02, 0x7d, 0x00, 0x41, 0x01, 0x0e, 0x02, 0x00, 0x01,
					0x01, 0x0b, 0x1a, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b, 0x1a,
					0x41, 0, 0x0b };
	wasm_config cfg;
	wasm_error err;
	wb_config(&cfg);
	ck_assert_msg(load_func(&cfg, body, sizeof(body), 0, &err) == 0, "%s", err.message);
}
END_TEST

/* Regression: two memories through imports are invalid (imports.wast:488). */
START_TEST(test_regress_two_imported_memories)
{
	struct wb w = { 0 };
	wasm_config cfg;
	wasm_error err;
	wb_header(&w);
	size_t s = wb_section(&w, 2);
	wb_u32(&w, 2);
	for (int i = 0; i < 2; i++) {
		static const uint8_t imp[] = { 1, 'a', 1, 'b', 2, 0, 0 };
		wb_bytes(&w, imp, sizeof(imp));
	}
	wb_end(&w, s);
	wb_config(&cfg);
	ck_assert_int_lt(load(&cfg, w.b, w.n, &err), 0);
	ck_assert_int_eq(err.kind, WASM_ERR_INVALID);
	wb_free(&w);
}
END_TEST

START_TEST(test_random_bytes)
{
	/* hostile input: mutated valid module; must only ever fail cleanly */
	static const uint8_t body[] = { 0x20, 0, 0x41, 3, 0x6c, 0x0b };
	struct wb w = { 0 };
	struct wb_func spec = { I32, 1, I32, 1, 2, body, sizeof(body), 1, 2, NULL, NULL };
	wasm_config cfg;
	wasm_error err;
	wb_config(&cfg);
	wb_module(&w, &spec);
	uint8_t *copy = malloc(w.n);
	srand(1234);
	for (int i = 0; i < 20000; i++) {
		memcpy(copy, w.b, w.n);
		for (int k = 0; k < 1 + i % 4; k++)
			copy[8 + rand() % (int)(w.n - 8)] = (uint8_t)rand();
		wasm_module *m = NULL;
		if (wasm_module_new(&cfg, copy, w.n - (size_t)(i % 3), &m, &err) == 0)
			wasm_module_free(m);
	}
	free(copy);
	wb_free(&w);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "decode",
		.timeout = 60,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_bad_magic),
			MVMT_TEST(test_type_mismatch_offset),
			MVMT_TEST(test_illegal_opcode_offset),
			MVMT_TEST(test_missing_end),
			MVMT_TEST(test_huge_counts),
			MVMT_TEST(test_type_cap),
			MVMT_TEST(test_too_many_locals),
			MVMT_TEST(test_deep_nesting),
			MVMT_TEST(test_br_table_cap),
			MVMT_TEST(test_module_size_cap),
			MVMT_TEST(test_regress_br_if_retypes),
			MVMT_TEST(test_regress_br_table_bottom),
			MVMT_TEST(test_regress_two_imported_memories),
			MVMT_TEST(test_random_bytes)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "wasm_decode", .tcases = tcases)
