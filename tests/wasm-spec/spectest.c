/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `spectest` host module the official test suite imports, as the spec
 * interpreter defines it: print functions, four globals, a table of 10..20
 * funcrefs and a memory of 1..2 pages.
 */
#include "runner.h"

#include <string.h>

static wasm_trap_kind print_fn(wasm_instance *inst, const wasm_val *args, wasm_val *results, void *ud)
{
	(void)inst, (void)args, (void)results, (void)ud;
	return WASM_TRAP_NONE;
}

static wasm_func *host(wasm_store *s, uint32_t np, const wasm_valtype *p)
{
	wasm_functype t = { np, 0, p, NULL };
	return wasm_func_new_host(s, &t, print_fn, NULL);
}

int spectest_init(struct spectest *st, wasm_store *s)
{
	static const wasm_valtype i32[] = { WASM_I32 }, i64[] = { WASM_I64 }, f32[] = { WASM_F32 },
				  f64[] = { WASM_F64 }, i32f32[] = { WASM_I32, WASM_F32 },
				  f64f64[] = { WASM_F64, WASM_F64 };
	wasm_val v;
	memset(st, 0, sizeof(*st));
	st->print = host(s, 0, NULL);
	st->print_i32 = host(s, 1, i32);
	st->print_i64 = host(s, 1, i64);
	st->print_f32 = host(s, 1, f32);
	st->print_f64 = host(s, 1, f64);
	st->print_i32_f32 = host(s, 2, i32f32);
	st->print_f64_f64 = host(s, 2, f64f64);
	v.type = WASM_I32, v.of.i64 = 0, v.of.i32 = 666;
	st->global_i32 = wasm_global_new(s, v, false);
	v.type = WASM_I64, v.of.i64 = 666;
	st->global_i64 = wasm_global_new(s, v, false);
	v.type = WASM_F32, v.of.i64 = 0, v.of.f32 = 666.6f;
	st->global_f32 = wasm_global_new(s, v, false);
	v.type = WASM_F64, v.of.f64 = 666.6;
	st->global_f64 = wasm_global_new(s, v, false);
	st->table = wasm_table_new(s, WASM_FUNCREF, (wasm_limits){ 10, 20, true });
	st->memory = wasm_memory_new(s, (wasm_limits){ 1, 2, true });
	if (!st->print || !st->print_i32 || !st->print_i64 || !st->print_f32 || !st->print_f64 ||
	    !st->print_i32_f32 || !st->print_f64_f64 || !st->global_i32 || !st->global_i64 ||
	    !st->global_f32 || !st->global_f64 || !st->table || !st->memory)
		return -ENOMEM;
	return 0;
}

int spectest_lookup(struct spectest *st, const char *name, wasm_extern *ret)
{
	static const struct {
		const char *name;
		wasm_externkind kind;
		size_t off;
	} tab[] = {
#define F(n) { #n, WASM_EXTERN_FUNC, offsetof(struct spectest, n) }
#define G(n) { #n, WASM_EXTERN_GLOBAL, offsetof(struct spectest, n) }
		F(print), F(print_i32), F(print_i64), F(print_f32), F(print_f64), F(print_i32_f32),
		F(print_f64_f64), G(global_i32), G(global_i64), G(global_f32), G(global_f64),
		{ "table", WASM_EXTERN_TABLE, offsetof(struct spectest, table) },
		{ "memory", WASM_EXTERN_MEMORY, offsetof(struct spectest, memory) },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strcmp(tab[i].name, name))
			continue;
		void *p = *(void **)((char *)st + tab[i].off);
		ret->kind = tab[i].kind;
		switch (tab[i].kind) {
		case WASM_EXTERN_FUNC: ret->of.func = p; break;
		case WASM_EXTERN_GLOBAL: ret->of.global = p; break;
		case WASM_EXTERN_TABLE: ret->of.table = p; break;
		case WASM_EXTERN_MEMORY: ret->of.memory = p; break;
		default: break;
		}
		return 0;
	}
	return -ENOENT;
}
