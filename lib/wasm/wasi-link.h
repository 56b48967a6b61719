/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Binding WASI preview1 into the interpreter (wasm.h): an import resolver
 * that answers every "wasi_snapshot_preview1" function import with a host
 * function running wasi_dispatch(), and a runner for a command's _start.
 * Freestanding, like the rest of the runtime.
 *
 *   wasi_ctx ctx; wasi_link link;
 *   wasi_ctx_init(&ctx, &host, caps, argc, argv, envc, envp);
 *   wasi_link_init(&link, &ctx, store);
 *   wasm_instantiate(store, module, wasi_link_resolve, &link, &inst, &err);
 *   wasi_link_run_start(inst, &ctx, &code, &trap);
 *
 * The link must outlive the store's use of it (host functions keep a
 * pointer into it); it owns nothing and needs no cleanup: the host
 * functions belong to the store.
 *
 * Guest memory is the calling instance's memory 0 (wasi-libc programs
 * define exactly one memory and export it as "memory").
 */
#ifndef MVM_WASI_LINK_H
#define MVM_WASI_LINK_H

#include "wasm/wasi.h"
#include "wasm/wasm.h"

typedef struct wasi_link wasi_link;

typedef struct wasi_link_fn {
	wasi_link *link;
	uint32_t index;
} wasi_link_fn;

struct wasi_link {
	wasi_ctx *ctx;
	wasm_store *store;
	wasm_func *funcs[WASI_NFUNCS]; /* created on first import, then shared */
	wasi_link_fn fn[WASI_NFUNCS];
};

void wasi_link_init(wasi_link *link, wasi_ctx *ctx, wasm_store *store);

/*
 * wasm_resolve_fn for wasm_instantiate (ud = the wasi_link). Imports from
 * other modules, or names preview1 does not define, get -WASM_ENOENT (the
 * module is then unlinkable); the library checks the function type.
 */
int wasi_link_resolve(void *ud, const wasm_import_desc *want, wasm_extern *ret);

/*
 * Run the command's "_start". Returns 0 and sets *ret_exit_code to the
 * proc_exit code, whole (WASI's exit code is a u32; 0 when _start returns); returns -WASM_ENOENT if there is
 * no _start of type [] -> []; returns 1 if it trapped, with *ret_trap set.
 */
int wasi_link_run_start(wasm_instance *inst, wasi_ctx *ctx, const wasm_call_opts *opts,
			uint32_t *ret_exit_code, wasm_trap *ret_trap);

#endif
