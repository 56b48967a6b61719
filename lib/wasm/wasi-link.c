/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WASI preview1 as host functions of the interpreter: one host function
 * per preview1 name, all running wasi_dispatch() with the raw arguments.
 * Freestanding.
 */
#include "wasm/wasi-link.h"

static bool link_str_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

void wasi_link_init(wasi_link *link, wasi_ctx *ctx, wasm_store *store)
{
	*link = (wasi_link){ .ctx = ctx, .store = store };
	for (uint32_t i = 0; i < WASI_NFUNCS; i++)
		link->fn[i] = (wasi_link_fn){ .link = link, .index = i };
}

static wasm_trap_kind wasi_link_call(wasm_instance *inst, const wasm_val *args,
				     wasm_val *results, void *userdata)
{
	const wasi_link_fn *fn = userdata;
	const wasi_func_desc *d = &wasi_funcs[fn->index];
	wasi_ctx *ctx = fn->link->ctx;
	wasi_mem mem = { 0 };
	uint64_t a[10];
	uint32_t r;

	for (uint32_t i = 0; d->params[i]; i++)
		a[i] = d->params[i] == 'I' ? (uint64_t)args[i].of.i64 : (uint32_t)args[i].of.i32;
	/*
	 * Re-read the memory on every call: it moves when the guest grows it.
	 * Without a memory, mem stays empty and every pointer faults.
	 */
	wasm_memory *m = inst ? wasm_instance_memory(inst, 0) : NULL;
	if (m)
		mem.base = wasm_memory_data(m, &mem.size);
	r = wasi_dispatch(ctx, &mem, fn->index, a);
	if (r == WASI_DISPATCH_EXIT)
		return wasm_trap_exit(inst, (int32_t)ctx->exit_code);
	if (d->has_result) {
		results[0].type = WASM_I32;
		results[0].of.i32 = (int32_t)r;
	}
	return WASM_TRAP_NONE;
}

static wasm_func *wasi_link_func(wasi_link *link, uint32_t index)
{
	const wasi_func_desc *d = &wasi_funcs[index];
	wasm_valtype params[10], result = WASM_I32;
	wasm_functype type = { 0 };

	if (link->funcs[index])
		return link->funcs[index];
	for (type.nparams = 0; d->params[type.nparams]; type.nparams++)
		params[type.nparams] = d->params[type.nparams] == 'I' ? WASM_I64 : WASM_I32;
	type.params = params;
	type.nresults = d->has_result ? 1 : 0;
	type.results = &result;
	link->funcs[index] = wasm_func_new_host(link->store, &type, wasi_link_call, &link->fn[index]);
	return link->funcs[index];
}

int wasi_link_resolve(void *ud, const wasm_import_desc *want, wasm_extern *ret)
{
	wasi_link *link = ud;
	int index;

	if (!link_str_eq(want->module, WASI_MODULE_NAME) || want->kind != WASM_EXTERN_FUNC)
		return -WASM_ENOENT;
	index = wasi_func_lookup(want->name);
	if (index < 0)
		return -WASM_ENOENT;
	wasm_func *f = wasi_link_func(link, (uint32_t)index);
	if (!f)
		return -WASM_ENOMEM;
	ret->kind = WASM_EXTERN_FUNC;
	ret->of.func = f;
	return 0;
}

int wasi_link_run_start(wasm_instance *inst, wasi_ctx *ctx, const wasm_call_opts *opts,
			uint32_t *ret_exit_code, wasm_trap *ret_trap)
{
	wasm_func *start = wasm_instance_func(inst, "_start");
	wasm_trap trap = { 0 };
	wasm_trap_kind k;

	if (!start)
		return -WASM_ENOENT;
	const wasm_functype *t = wasm_func_type(start);
	if (t->nparams != 0 || t->nresults != 0)
		return -WASM_ENOENT;
	k = wasm_call(start, NULL, 0, NULL, 0, opts, &trap);
	if (k == WASM_TRAP_NONE) {
		*ret_exit_code = 0;
		return 0;
	}
	if (k == WASM_TRAP_EXIT) {
		/* wasi-libc's exit() and main's return both end in proc_exit. */
		*ret_exit_code = ctx->exited ? ctx->exit_code : (uint32_t)trap.exit_code;
		return 0;
	}
	trap.kind = k;
	if (ret_trap)
		*ret_trap = trap;
	return 1;
}

wasi_run_status wasi_link_run_command(wasi_link *link, wasm_module *m, wasm_resolve_fn resolve,
				      void *resolve_ud, const wasm_call_opts *opts, wasi_run_result *ret)
{
	wasm_instance *inst = NULL;
	int r;

	*ret = (wasi_run_result){ 0 };
	if (!resolve) {
		resolve = wasi_link_resolve;
		resolve_ud = link;
	}
	if (wasm_instantiate(link->store, m, resolve, resolve_ud, &inst, &ret->err) < 0) {
		if (ret->err.kind == WASM_ERR_TRAP && ret->err.trap.kind == WASM_TRAP_EXIT) {
			/* proc_exit from the module's start function: an exit
			 * like any other, not a trap */
			ret->exit_code = link->ctx->exited ? link->ctx->exit_code : (uint32_t)ret->err.trap.exit_code;
			return ret->status = WASI_RUN_EXITED;
		}
		if (ret->err.kind == WASM_ERR_TRAP) {
			ret->trap = ret->err.trap;
			ret->in_start_function = true;
			return ret->status = WASI_RUN_TRAPPED;
		}
		return ret->status = WASI_RUN_NOT_INSTANTIATED;
	}
	wasm_instance_set_userdata(inst, link->ctx);
	r = wasi_link_run_start(inst, link->ctx, opts, &ret->exit_code, &ret->trap);
	if (r < 0)
		return ret->status = WASI_RUN_NO_START;
	return ret->status = r > 0 ? WASI_RUN_TRAPPED : WASI_RUN_EXITED;
}
