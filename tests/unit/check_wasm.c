/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/wasm runtime behaviour the spec suite does not pin: trap values,
 * embedder limits (memory cap, call depth, value stack, fuel), host
 * functions (exit, memory access, re-entry).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wasm-build.h"
#include "mvmt-main.h"

static const uint8_t I32[] = { 0x7f }, I32I32[] = { 0x7f, 0x7f };

struct rig {
	wasm_config cfg;
	wasm_store *s;
	wasm_module *m;
	wasm_instance *inst;
	wasm_func *f;
};

static int resolve_host(void *ud, const wasm_import_desc *want, wasm_extern *ret)
{
	wasm_func *f = ud;
	if (!f || strcmp(want->module, "env"))
		return -ENOENT;
	ret->kind = WASM_EXTERN_FUNC;
	ret->of.func = f;
	return 0;
}

/* build + instantiate; returns the instantiate result */
static int rig_up(struct rig *r, const struct wb_func *spec, wasm_func *import)
{
	struct wb w = { 0 };
	wasm_error err;
	if (!r->cfg.alloc)
		wb_config(&r->cfg);
	wb_module(&w, spec);
	if (!r->s)
		r->s = wasm_store_new(&r->cfg);
	ck_assert_ptr_nonnull(r->s);
	int rc = wasm_module_new(&r->cfg, w.b, w.n, &r->m, &err);
	wb_free(&w);
	ck_assert_msg(rc == 0, "module: %s at %u", err.message, err.offset);
	rc = wasm_instantiate(r->s, r->m, resolve_host, import, &r->inst, &err);
	if (rc == 0)
		r->f = wasm_instance_func(r->inst, "f");
	return rc;
}

static void rig_down(struct rig *r)
{
	wasm_module_free(r->m);
	wasm_store_free(r->s);
}

static wasm_trap_kind call1(struct rig *r, int32_t a, int32_t b, int32_t *ret, wasm_trap *t)
{
	const wasm_functype *ft = wasm_func_type(r->f);
	wasm_val in[2] = { { .type = WASM_I32, .of.i32 = a }, { .type = WASM_I32, .of.i32 = b } };
	wasm_val out[1];
	wasm_trap_kind k = wasm_call(r->f, in, ft->nparams, out, ft->nresults, NULL, t);
	if (k == WASM_TRAP_NONE && ft->nresults && ret)
		*ret = out[0].of.i32;
	return k;
}

START_TEST(test_div_traps)
{
	/* (a / b) signed */
	static const uint8_t body[] = { 0x20, 0, 0x20, 1, 0x6d, 0x0b };
	struct wb_func spec = { I32I32, 2, I32, 1, 0, body, sizeof(body), -1, -1, NULL, NULL };
	struct rig r = { 0 };
	wasm_trap t;
	int32_t v = 0;
	ck_assert_int_eq(rig_up(&r, &spec, NULL), 0);
	ck_assert_int_eq(call1(&r, 7, 2, &v, &t), WASM_TRAP_NONE);
	ck_assert_int_eq(v, 3);
	ck_assert_int_eq(call1(&r, 7, 0, &v, &t), WASM_TRAP_DIV_BY_ZERO);
	ck_assert_str_eq(t.message, "integer divide by zero");
	ck_assert_int_eq(call1(&r, INT32_MIN, -1, &v, &t), WASM_TRAP_INT_OVERFLOW);
	ck_assert_str_eq(t.message, "integer overflow");
	/* the store stays usable after a trap */
	ck_assert_int_eq(call1(&r, -9, 3, &v, &t), WASM_TRAP_NONE);
	ck_assert_int_eq(v, -3);
	rig_down(&r);
}
END_TEST

START_TEST(test_unreachable_and_bad_call)
{
	static const uint8_t body[] = { 0x00, 0x0b };
	struct wb_func spec = { NULL, 0, NULL, 0, 0, body, sizeof(body), -1, -1, NULL, NULL };
	struct rig r = { 0 };
	wasm_trap t;
	ck_assert_int_eq(rig_up(&r, &spec, NULL), 0);
	ck_assert_int_eq(wasm_call(r.f, NULL, 0, NULL, 0, NULL, &t), WASM_TRAP_UNREACHABLE);
	wasm_val extra = { .type = WASM_I32 };
	ck_assert_int_eq(wasm_call(r.f, &extra, 1, NULL, 0, NULL, &t), WASM_TRAP_BAD_CALL);
	rig_down(&r);
}
END_TEST

START_TEST(test_memory_cap)
{
	/* memory.grow(local 0) with an unbounded memory, embedder cap 3 pages */
	static const uint8_t body[] = { 0x20, 0, 0x40, 0, 0x0b };
	struct wb_func spec = { I32, 1, I32, 1, 0, body, sizeof(body), 1, -1, NULL, NULL };
	struct rig r = { 0 };
	int32_t v = 0;
	wb_config(&r.cfg);
	r.cfg.max_memory_pages = 3;
	ck_assert_int_eq(rig_up(&r, &spec, NULL), 0);
	ck_assert_int_eq(call1(&r, 1, 0, &v, NULL), WASM_TRAP_NONE);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(call1(&r, 2, 0, &v, NULL), WASM_TRAP_NONE);
	ck_assert_int_eq(v, -1); /* 2 + 2 > 3 */
	ck_assert_int_eq(call1(&r, 1, 0, &v, NULL), WASM_TRAP_NONE);
	ck_assert_int_eq(v, 2);
	wasm_memory *mem = wasm_instance_memory(r.inst, 0);
	ck_assert_uint_eq(wasm_memory_pages(mem), 3);
	rig_down(&r);
}
END_TEST

START_TEST(test_memory_cap_at_instantiation)
{
	static const uint8_t body[] = { 0x0b };
	struct wb_func spec = { NULL, 0, NULL, 0, 0, body, sizeof(body), 10, -1, NULL, NULL };
	struct rig r = { 0 };
	wb_config(&r.cfg);
	r.cfg.max_memory_pages = 4;
	ck_assert_int_lt(rig_up(&r, &spec, NULL), 0);
	rig_down(&r);
}
END_TEST

START_TEST(test_oob_memory)
{
	/* i32.load offset=0 (local 0) */
	static const uint8_t body[] = { 0x20, 0, 0x28, 2, 0, 0x0b };
	struct wb_func spec = { I32, 1, I32, 1, 0, body, sizeof(body), 1, 1, NULL, NULL };
	struct rig r = { 0 };
	int32_t v;
	wasm_trap t;
	ck_assert_int_eq(rig_up(&r, &spec, NULL), 0);
	ck_assert_int_eq(call1(&r, 65532, 0, &v, &t), WASM_TRAP_NONE);
	ck_assert_int_eq(call1(&r, 65533, 0, &v, &t), WASM_TRAP_OOB_MEMORY);
	ck_assert_int_eq(call1(&r, -1, 0, &v, &t), WASM_TRAP_OOB_MEMORY);
	rig_down(&r);
}
END_TEST

START_TEST(test_call_depth_exhaustion)
{
	/* f calls itself forever: a trap, not a C stack overflow */
	static const uint8_t body[] = { 0x10, 0, 0x0b };
	struct wb_func spec = { NULL, 0, NULL, 0, 0, body, sizeof(body), -1, -1, NULL, NULL };
	struct rig r = { 0 };
	wasm_trap t;
	wb_config(&r.cfg);
	r.cfg.max_call_depth = 1000000; /* deep: proves no C recursion per call */
	r.cfg.max_value_stack = 1u << 24;
	ck_assert_int_eq(rig_up(&r, &spec, NULL), 0);
	ck_assert_int_eq(wasm_call(r.f, NULL, 0, NULL, 0, NULL, &t), WASM_TRAP_STACK_EXHAUSTED);
	ck_assert_str_eq(t.message, "call stack exhausted");
	rig_down(&r);
}
END_TEST

START_TEST(test_value_stack_exhaustion)
{
	/* recursion with many locals runs out of value stack first */
	static const uint8_t body[] = { 0x10, 0, 0x0b };
	struct wb_func spec = { NULL, 0, NULL, 0, 1000, body, sizeof(body), -1, -1, NULL, NULL };
	struct rig r = { 0 };
	wb_config(&r.cfg);
	r.cfg.max_value_stack = 100000;
	ck_assert_int_eq(rig_up(&r, &spec, NULL), 0);
	ck_assert_int_eq(wasm_call(r.f, NULL, 0, NULL, 0, NULL, NULL), WASM_TRAP_STACK_EXHAUSTED);
	rig_down(&r);
}
END_TEST

START_TEST(test_fuel)
{
	/* loop br 0 end: runs forever without fuel */
	static const uint8_t body[] = { 0x03, 0x40, 0x0c, 0, 0x0b, 0x0b };
	struct wb_func spec = { NULL, 0, NULL, 0, 0, body, sizeof(body), -1, -1, NULL, NULL };
	struct rig r = { 0 };
	wasm_call_opts o = { .fuel = 100000 };
	ck_assert_int_eq(rig_up(&r, &spec, NULL), 0);
	ck_assert_int_eq(wasm_call(r.f, NULL, 0, NULL, 0, &o, NULL), WASM_TRAP_OUT_OF_FUEL);
	rig_down(&r);
}
END_TEST

static uint64_t refuel_count(void *ud)
{
	unsigned *n = ud;
	return ++*n < 5 ? 1000 : 0; /* four more slices, then stop */
}

/* A run in fuel slices: the hook gives more where the loop stopped, until
 * it says no (an embedder's deadline), and then the call traps. */
START_TEST(test_fuel_refuel_hook)
{
	static const uint8_t body[] = { 0x03, 0x40, 0x0c, 0, 0x0b, 0x0b };
	struct wb_func spec = { NULL, 0, NULL, 0, 0, body, sizeof(body), -1, -1, NULL, NULL };
	struct rig r = { 0 };
	unsigned n = 0;
	wasm_call_opts o = { .fuel = 1000 };
	wb_config(&r.cfg);
	r.cfg.refuel = refuel_count;
	r.cfg.refuel_ud = &n;
	ck_assert_int_eq(rig_up(&r, &spec, NULL), 0);
	ck_assert_int_eq(wasm_call(r.f, NULL, 0, NULL, 0, &o, NULL), WASM_TRAP_OUT_OF_FUEL);
	ck_assert_uint_eq(n, 5);
	rig_down(&r);
}
END_TEST

static wasm_trap_kind host_exit(wasm_instance *inst, const wasm_val *a, wasm_val *res, void *ud)
{
	(void)a, (void)res, (void)ud;
	return wasm_trap_exit(inst, 42);
}

START_TEST(test_host_exit)
{
	/* import env.x: () -> i32; f = x() + 1, nested in a few wasm frames */
	static const uint8_t body[] = { 0x10, 0, 0x41, 1, 0x6a, 0x0b };
	struct wb_func spec = { NULL, 0, I32, 1, 0, body, sizeof(body), -1, -1, "env", "x" };
	struct rig r = { 0 };
	wasm_trap t;
	static const wasm_valtype ri32[] = { WASM_I32 };
	wasm_functype ft = { 0, 1, NULL, ri32 };
	wb_config(&r.cfg);
	r.s = wasm_store_new(&r.cfg);
	wasm_func *x = wasm_func_new_host(r.s, &ft, host_exit, NULL);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(rig_up(&r, &spec, x), 0);
	wasm_val out;
	ck_assert_int_eq(wasm_call(r.f, NULL, 0, &out, 1, NULL, &t), WASM_TRAP_EXIT);
	ck_assert_int_eq(t.exit_code, 42);
	rig_down(&r);
}
END_TEST

static wasm_trap_kind host_peek(wasm_instance *inst, const wasm_val *a, wasm_val *res, void *ud)
{
	(void)a, (void)ud;
	wasm_memory *m = wasm_instance_memory(inst, 0);
	uint64_t size;
	uint8_t *base = wasm_memory_data(m, &size);
	if (!wasm_memory_ptr(m, size - 4, 4) || wasm_memory_ptr(m, size - 3, 4) || wasm_memory_ptr(m, ~0ull, 2))
		return wasm_trap_host(inst, "bounds helper wrong");
	res[0].of.i32 = base[16] + (int32_t)size / 65536;
	return WASM_TRAP_NONE;
}

START_TEST(test_host_memory_access)
{
	/* store8 [16] = 7; return x() */
	static const uint8_t body[] = { 0x41, 16, 0x41, 7, 0x3a, 0, 0, 0x10, 0, 0x0b };
	struct wb_func spec = { NULL, 0, I32, 1, 0, body, sizeof(body), 2, -1, "env", "x" };
	struct rig r = { 0 };
	static const wasm_valtype ri32[] = { WASM_I32 };
	wasm_functype ft = { 0, 1, NULL, ri32 };
	wasm_trap t;
	wb_config(&r.cfg);
	r.s = wasm_store_new(&r.cfg);
	wasm_func *x = wasm_func_new_host(r.s, &ft, host_peek, NULL);
	ck_assert_int_eq(rig_up(&r, &spec, x), 0);
	wasm_val out;
	ck_assert_int_eq(wasm_call(r.f, NULL, 0, &out, 1, NULL, &t), WASM_TRAP_NONE);
	ck_assert_int_eq(out.of.i32, 7 + 2);
	rig_down(&r);
}
END_TEST

static wasm_func *reenter_target;

static wasm_trap_kind host_reenter(wasm_instance *inst, const wasm_val *a, wasm_val *res, void *ud)
{
	(void)a, (void)ud, (void)inst;
	wasm_val in[2] = { { .type = WASM_I32, .of.i32 = 40 }, { .type = WASM_I32, .of.i32 = 2 } };
	return wasm_call(reenter_target, in, 2, res, 1, NULL, NULL);
}

START_TEST(test_host_reentry)
{
	static const uint8_t add[] = { 0x20, 0, 0x20, 1, 0x6a, 0x0b };
	static const uint8_t callx[] = { 0x41, 5, 0x10, 0, 0x6a, 0x0b }; /* 5 + x() */
	struct wb_func s1 = { I32I32, 2, I32, 1, 0, add, sizeof(add), -1, -1, NULL, NULL };
	struct wb_func s2 = { NULL, 0, I32, 1, 0, callx, sizeof(callx), -1, -1, "env", "x" };
	struct rig r1 = { 0 }, r2 = { 0 };
	static const wasm_valtype ri32[] = { WASM_I32 };
	wasm_functype ft = { 0, 1, NULL, ri32 };
	ck_assert_int_eq(rig_up(&r1, &s1, NULL), 0);
	r2.cfg = r1.cfg;
	r2.s = r1.s;
	reenter_target = r1.f;
	wasm_func *x = wasm_func_new_host(r1.s, &ft, host_reenter, NULL);
	ck_assert_int_eq(rig_up(&r2, &s2, x), 0);
	wasm_val out;
	ck_assert_int_eq(wasm_call(r2.f, NULL, 0, &out, 1, NULL, NULL), WASM_TRAP_NONE);
	ck_assert_int_eq(out.of.i32, 47);
	wasm_module_free(r2.m);
	rig_down(&r1);
}
END_TEST

START_TEST(test_unlinkable)
{
	static const uint8_t body[] = { 0x10, 0, 0x0b };
	struct wb_func spec = { NULL, 0, I32, 1, 0, body, sizeof(body), -1, -1, "env", "missing" };
	struct rig r = { 0 };
	wasm_config cfg;
	struct wb w = { 0 };
	wasm_error err;
	wb_config(&cfg);
	wb_module(&w, &spec);
	r.s = wasm_store_new(&cfg);
	ck_assert_int_eq(wasm_module_new(&cfg, w.b, w.n, &r.m, &err), 0);
	ck_assert_int_lt(wasm_instantiate(r.s, r.m, resolve_host, NULL, &r.inst, &err), 0);
	ck_assert_int_eq(err.kind, WASM_ERR_UNLINKABLE);
	wb_free(&w);
	rig_down(&r);
}
END_TEST

START_TEST(test_loop_sum)
{
	/* sum 1..n with a loop: exercises fused compare-branch and imm ops */
	static const uint8_t body[] = {
		0x03, 0x40,		/* loop */
		0x20, 2, 0x20, 0, 0x6a, 0x21, 2, /* acc += n */
		0x20, 0, 0x41, 1, 0x6b, 0x22, 0, /* n = n - 1 (tee) */
		0x41, 0, 0x4a, 0x0d, 0, /* br_if n > 0 */
		0x0b, 0x20, 2, 0x0b,
	};
	struct wb_func spec = { I32I32, 2, I32, 1, 1, body, sizeof(body), -1, -1, NULL, NULL };
	struct rig r = { 0 };
	int32_t v = 0;
	ck_assert_int_eq(rig_up(&r, &spec, NULL), 0);
	ck_assert_int_eq(call1(&r, 100000, 0, &v, NULL), WASM_TRAP_NONE);
	ck_assert_int_eq(v, (int32_t)(100000ll * 100001 / 2));
	rig_down(&r);
}
END_TEST

START_TEST(test_enum_strings)
{
	for (int k = 0; k < WASM_TRAP_MAX; k++)
		ck_assert_int_eq(wasm_trap_kind_from_string(wasm_trap_kind_to_string((wasm_trap_kind)k)), k);
	for (int k = 0; k < WASM_ERR_MAX; k++)
		ck_assert_int_eq(wasm_error_kind_from_string(wasm_error_kind_to_string((wasm_error_kind)k)), k);
	for (int k = 0; k < WASM_EXTERN_MAX; k++)
		ck_assert_int_eq(wasm_externkind_from_string(wasm_externkind_to_string((wasm_externkind)k)), k);
	ck_assert_int_eq(wasm_trap_kind_from_string("no such trap"), -WASM_EINVAL);
	ck_assert_int_eq(wasm_externkind_from_string(NULL), -WASM_EINVAL);
	ck_assert_str_eq(wasm_trap_kind_to_string(WASM_TRAP_MAX), "unknown trap");
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "runtime",
		.timeout = 60,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_div_traps),
			MVMT_TEST(test_unreachable_and_bad_call),
			MVMT_TEST(test_memory_cap),
			MVMT_TEST(test_memory_cap_at_instantiation),
			MVMT_TEST(test_oob_memory),
			MVMT_TEST(test_call_depth_exhaustion),
			MVMT_TEST(test_value_stack_exhaustion),
			MVMT_TEST(test_fuel),
			MVMT_TEST(test_fuel_refuel_hook),
			MVMT_TEST(test_host_exit),
			MVMT_TEST(test_host_memory_access),
			MVMT_TEST(test_host_reentry),
			MVMT_TEST(test_unlinkable),
			MVMT_TEST(test_loop_sum),
			MVMT_TEST(test_enum_strings)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "wasm", .tcases = tcases)
