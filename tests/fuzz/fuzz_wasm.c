/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for lib/wasm: decode + validate + compile, then
 * instantiate against synthesized imports and call every exported
 * function with zero arguments under a fuel limit.
 *
 */
/* fuzz-sources: lib/wasm/embed.c lib/wasm/compile.c lib/wasm/decode.c lib/wasm/instance.c lib/wasm/interp.c lib/wasm/validate.c lib/wasm/validate-simd.c lib/wasm/validate-mem.c lib/wasm/reader.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/wasm.h"

static void *fz_alloc(void *ud, void *p, size_t old, size_t n)
{
	(void)ud, (void)old;
	if (n == 0) {
		free(p);
		return NULL;
	}
	if (n > (64u << 20))
		return NULL; /* keep the fuzzer's RSS bounded */
	return realloc(p, n);
}

static wasm_trap_kind stub(wasm_instance *inst, const wasm_val *args, wasm_val *results, void *ud)
{
	(void)inst, (void)args, (void)results;
	/* every third call exits, to cover the unwinding path */
	static unsigned n;
	if (ud && ++n % 3 == 0)
		return wasm_trap_exit(inst, 3);
	return WASM_TRAP_NONE;
}

static int resolve(void *ud, const wasm_import_desc *d, wasm_extern *ret)
{
	wasm_store *s = ud;
	ret->kind = d->kind;
	switch (d->kind) {
	case WASM_EXTERN_FUNC:
		ret->of.func = wasm_func_new_host(s, &d->func, stub, (void *)(uintptr_t)(d->name[0] == 'x'));
		return ret->of.func ? 0 : -1;
	case WASM_EXTERN_MEMORY:
		ret->of.memory = wasm_memory_new(s, d->limits);
		return ret->of.memory ? 0 : -1;
	case WASM_EXTERN_TABLE:
		ret->of.table = wasm_table_new(s, d->elem_type, d->limits);
		return ret->of.table ? 0 : -1;
	case WASM_EXTERN_GLOBAL: {
		wasm_val v;
		memset(&v, 0, sizeof(v));
		v.type = d->global_type;
		ret->of.global = wasm_global_new(s, v, d->global_mutable);
		return ret->of.global ? 0 : -1;
	}
	default:
		return -1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wasm_config cfg;
	wasm_module *m;
	wasm_error err;
	memset(&cfg, 0, sizeof(cfg));
	cfg.alloc = fz_alloc;
	cfg.max_memory_pages = 32;
	cfg.max_table_elems = 10000;
	cfg.max_call_depth = 2000;
	cfg.max_value_stack = 1u << 16;
	cfg.max_functions = 10000;
	cfg.max_segment_elems = 100000;
	wasm_config_init(&cfg);
	if (wasm_module_new(&cfg, data, size, &m, &err) < 0)
		return 0;
	wasm_store *s = wasm_store_new(&cfg);
	wasm_instance *inst;
	if (s && wasm_instantiate(s, m, resolve, s, &inst, &err) == 0) {
		uint32_t n = wasm_module_export_count(m);
		for (uint32_t i = 0; i < n && i < 16; i++) {
			const char *name;
			wasm_externkind kind;
			wasm_extern e;
			if (wasm_module_export(m, i, &name, &kind) < 0 || kind != WASM_EXTERN_FUNC)
				continue;
			if (wasm_instance_export(inst, name, &e) < 0)
				continue;
			const wasm_functype *ft = wasm_func_type(e.of.func);
			wasm_val args[64], res[64];
			if (ft->nparams > 64 || ft->nresults > 64)
				continue;
			for (uint32_t k = 0; k < ft->nparams; k++) {
				memset(&args[k], 0, sizeof(args[k]));
				args[k].type = ft->params[k];
			}
			wasm_call_opts o = { .fuel = 20000 };
			wasm_trap t;
			wasm_call(e.of.func, args, ft->nparams, res, ft->nresults, &o, &t);
		}
	}
	wasm_store_free(s);
	wasm_module_free(m);
	return 0;
}
