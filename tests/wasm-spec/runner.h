/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MVM_WASM_SPEC_RUNNER_H
#define MVM_WASM_SPEC_RUNNER_H

#include <errno.h>
#include <stddef.h>

#include "wasm/wasm.h"

struct spectest {
	wasm_func *print, *print_i32, *print_i64, *print_f32, *print_f64, *print_i32_f32, *print_f64_f64;
	wasm_global *global_i32, *global_i64, *global_f32, *global_f64;
	wasm_table *table;
	wasm_memory *memory;
};

int spectest_init(struct spectest *st, wasm_store *s);
int spectest_lookup(struct spectest *st, const char *name, wasm_extern *ret);

#endif
