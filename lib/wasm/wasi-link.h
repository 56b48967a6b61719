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
 * or, for the last two steps, wasi_link_run_command(), which every runner
 * of a WASI command uses (mvm-wasm, mvm-init, the micro-VM guest's
 * workload and its exec agent).
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

/* What became of a command run by wasi_link_run_command(). */
typedef enum wasi_run_status {
	WASI_RUN_EXITED,           /* _start returned or proc_exit was called: exit_code */
	WASI_RUN_TRAPPED,          /* trap, with in_start_function when instantiating */
	WASI_RUN_NO_START,         /* no _start of type [] -> []: not a WASI command */
	WASI_RUN_NOT_INSTANTIATED, /* err says why (unlinkable, out of memory, a limit) */
} wasi_run_status;

typedef struct wasi_run_result {
	wasi_run_status status;
	uint32_t exit_code; /* whole: WASI's exit code is a u32 */
	wasm_trap trap;
	wasm_error err;
	bool in_start_function;
} wasi_run_result;

/*
 * Instantiate m in the link's store, resolving imports with resolve
 * (NULL: wasi_link_resolve on this link), and run its _start with opts
 * (NULL: no fuel). proc_exit from the module's start function counts as
 * an exit, as from _start. The instance belongs to the store; the caller
 * keeps its reference to m. Returns ret->status.
 */
wasi_run_status wasi_link_run_command(wasi_link *link, wasm_module *m, wasm_resolve_fn resolve,
				      void *resolve_ud, const wasm_call_opts *opts, wasi_run_result *ret);

#endif
