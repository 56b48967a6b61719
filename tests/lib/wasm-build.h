/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny WebAssembly binary builder for tests: modules are spelled as
 * bytes, with helpers for LEB128 and section sizes (sizes are written as
 * padded 5-byte LEB128, which the format allows).
 */
#ifndef MVM_TESTS_WASM_BUILD_H
#define MVM_TESTS_WASM_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasm/wasm.h"

struct wb {
	uint8_t *b;
	size_t n, cap;
};

void wb_free(struct wb *w);
void wb_u8(struct wb *w, uint8_t v);
void wb_bytes(struct wb *w, const void *p, size_t n);
void wb_u32(struct wb *w, uint32_t v);
void wb_s64(struct wb *w, int64_t v);
size_t wb_begin(struct wb *w); /* 5-byte size placeholder */
void wb_end(struct wb *w, size_t at);
void wb_header(struct wb *w);
size_t wb_section(struct wb *w, uint8_t id);

/*
 * One-function module: type (params -> results), optional memory
 * (min, max; max < 0 = none), the function exported as "f", memory as
 * "mem". body is the code after the locals, including the final 0x0b.
 */
struct wb_func {
	const uint8_t *params;
	uint32_t nparams;
	const uint8_t *results;
	uint32_t nresults;
	uint32_t nlocals_i32;
	const uint8_t *body;
	size_t body_len;
	int64_t mem_min, mem_max; /* mem_min < 0: no memory */
	const char *import_module, *import_name; /* optional import as func 0: () -> i32 */
};
void wb_module(struct wb *w, const struct wb_func *f);

/* malloc-backed allocator hook for tests, counting live blocks */
void *wb_alloc(void *ud, void *p, size_t old, size_t n);
void wb_config(wasm_config *c);

#endif
