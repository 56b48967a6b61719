/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvm WebAssembly 2.0 interpreter — public embedder API.
 *
 * The library is freestanding: it never calls libc except memcpy, memset,
 * memmove and memcmp, which the embedder links in. All memory comes from
 * the allocator hook in wasm_config.
 *
 * Object model and ownership (the spec's "store" model):
 *   - wasm_module: decoded + validated + compiled code. Created by
 *     wasm_module_new(), released by wasm_module_free(). Reference counted:
 *     every instance made from it holds a reference, so the embedder may
 *     free its module handle right after instantiating.
 *   - wasm_store: owns every runtime object created in it — instances,
 *     host functions, memories, tables, globals. They live until
 *     wasm_store_free(), which frees them all at once. Objects from one
 *     store may be linked only with objects of the same store.
 *   - Strings and arrays passed in are copied; nothing passed in is kept
 *     unless said so (userdata pointers are kept and never freed).
 *   - Pointers returned by getters (names, types, memory data) are borrowed
 *     and stay valid as long as their owner. Memory data moves when the
 *     memory grows: re-read wasm_memory_data() after anything that may grow.
 *
 * Errors: functions returning int return 0 on success and a negative
 * errno-style value (-WASM_EINVAL, -WASM_ENOMEM, ...) on failure.
 * Traps are values (wasm_trap_kind), never crashes or longjmps.
 *
 * API stability: this header is what other components build on. Change it
 * only compatibly (add fields at the end of structs the library zeroes,
 * add functions) and note the change in the log at the bottom.
 */
#ifndef MVM_WASM_H
#define MVM_WASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* errno values (Linux numbering) without needing <errno.h> */
#define WASM_ENOMEM 12
#define WASM_EINVAL 22
#define WASM_ENOENT 2
#define WASM_E2BIG 7
#define WASM_ERANGE 34

typedef struct wasm_module wasm_module;
typedef struct wasm_store wasm_store;
typedef struct wasm_instance wasm_instance;
typedef struct wasm_func wasm_func;
typedef struct wasm_memory wasm_memory;
typedef struct wasm_table wasm_table;
typedef struct wasm_global wasm_global;

/* ---- values ------------------------------------------------------------ */

typedef enum wasm_valtype {
	WASM_I32 = 0x7f,
	WASM_I64 = 0x7e,
	WASM_F32 = 0x7d,
	WASM_F64 = 0x7c,
	WASM_V128 = 0x7b,
	WASM_FUNCREF = 0x70,
	WASM_EXTERNREF = 0x6f,
} wasm_valtype;

/*
 * A typed value. Floats travel as raw bits (f32_bits/f64_bits alias
 * f32/f64) so NaN payloads survive. funcref is a wasm_func* (NULL = null
 * ref); externref is an opaque host pointer (NULL = null ref).
 */
typedef struct wasm_val {
	wasm_valtype type;
	union {
		int32_t i32;
		int64_t i64;
		uint32_t f32_bits;
		uint64_t f64_bits;
		float f32;
		double f64;
		wasm_func *func;
		void *ref;
		uint8_t v128[16];
	} of;
} wasm_val;

typedef struct wasm_functype {
	uint32_t nparams;
	uint32_t nresults;
	const wasm_valtype *params; /* nparams entries */
	const wasm_valtype *results; /* nresults entries */
} wasm_functype;

typedef struct wasm_limits {
	uint64_t min;
	uint64_t max; /* valid if has_max */
	bool has_max;
} wasm_limits;

typedef enum wasm_externkind {
	WASM_EXTERN_FUNC = 0,
	WASM_EXTERN_TABLE = 1,
	WASM_EXTERN_MEMORY = 2,
	WASM_EXTERN_GLOBAL = 3,
	WASM_EXTERN_MAX,
} wasm_externkind;

typedef struct wasm_extern {
	wasm_externkind kind;
	union {
		wasm_func *func;
		wasm_table *table;
		wasm_memory *memory;
		wasm_global *global;
	} of;
} wasm_extern;

/* ---- traps --------------------------------------------------------------- */

typedef enum wasm_trap_kind {
	WASM_TRAP_NONE = 0, /* success */
	WASM_TRAP_UNREACHABLE,
	WASM_TRAP_INT_OVERFLOW,
	WASM_TRAP_DIV_BY_ZERO,
	WASM_TRAP_INVALID_CONVERSION,
	WASM_TRAP_OOB_MEMORY,
	WASM_TRAP_UNDEFINED_ELEMENT,
	WASM_TRAP_UNINITIALIZED_ELEMENT,
	WASM_TRAP_INDIRECT_CALL_MISMATCH,
	WASM_TRAP_OOB_TABLE,
	WASM_TRAP_STACK_EXHAUSTED, /* call depth or value stack cap */
	WASM_TRAP_EXIT, /* host asked to exit (proc_exit); see exit_code */
	WASM_TRAP_HOST, /* host function failed; see message */
	WASM_TRAP_OUT_OF_FUEL, /* wasm_call_opts.fuel ran out */
	WASM_TRAP_NOMEM, /* allocator failed during execution */
	WASM_TRAP_BAD_CALL, /* wrong argument count/types given to wasm_call */
	WASM_TRAP_MAX,
} wasm_trap_kind;

typedef struct wasm_trap {
	wasm_trap_kind kind;
	int32_t exit_code; /* for WASM_TRAP_EXIT */
	const char *message; /* static string, or set by wasm_trap_host() */
} wasm_trap;

/* Spec-test wording ("integer divide by zero", ...); never NULL. */
const char *wasm_trap_kind_to_string(wasm_trap_kind k);
/* Inverse of the above; -WASM_EINVAL for an unknown string (added in v3). */
int wasm_trap_kind_from_string(const char *s);

/* ---- configuration --------------------------------------------------------- */

/*
 * One allocator hook, Lua style: alloc(ud, ptr, old_size, new_size).
 * new_size == 0 frees ptr (returns NULL); ptr == NULL allocates; otherwise
 * reallocates. old_size is the size of the block when the library knows
 * it and 0 otherwise, so the hook must not depend on it (malloc-style). Must return memory aligned for any scalar (16 bytes).
 * Linear memories are allocated through it too.
 */
typedef void *(*wasm_alloc_fn)(void *ud, void *ptr, size_t old_size, size_t new_size);

typedef struct wasm_config {
	wasm_alloc_fn alloc; /* required */
	void *alloc_ud;

	/* Runtime limits (0 = library default, see wasm_config_init). */
	uint32_t max_memory_pages; /* per memory; memory.grow returns -1 past it */
	uint32_t max_table_elems; /* per table; table.grow returns -1 past it */
	uint32_t max_call_depth; /* wasm frames; deeper calls trap STACK_EXHAUSTED */
	uint32_t max_value_stack; /* 8-byte slots for locals + operands, per call */

	/* Caps on counts read from a module (decode fails with WASM_ERR_LIMIT). */
	uint32_t max_module_size; /* bytes */
	uint32_t max_types;
	uint32_t max_functions;
	uint32_t max_imports;
	uint32_t max_exports;
	uint32_t max_globals;
	uint32_t max_tables;
	uint32_t max_memories;
	uint32_t max_segments; /* data and element segments, each */
	uint32_t max_segment_elems; /* items in one element segment */
	uint32_t max_params; /* params or results of one function type */
	uint32_t max_locals; /* per function, params included */
	uint32_t max_nesting; /* block nesting depth */
	uint32_t max_br_table; /* br_table targets */
	uint32_t max_function_size; /* bytes of one function body */
	uint32_t max_code_size; /* bytes of internal code for a whole module */

	/* Optional diagnostics; the library never logs otherwise. */
	void (*log)(void *ud, const char *msg);
	void *log_ud;

	/*
	 * Optional: called when a call's fuel (wasm_call_opts.fuel) runs out.
	 * Return more fuel to go on where execution stopped, or 0 to trap
	 * WASM_TRAP_OUT_OF_FUEL. This lets an embedder run a module in slices
	 * and check a deadline between them without a trap; NULL: trap. It
	 * must not call into the store.
	 */
	uint64_t (*refuel)(void *ud);
	void *refuel_ud;
} wasm_config;

/* Fill defaults: every limit set, alloc left as given (zeroed by caller). */
void wasm_config_init(wasm_config *cfg);

/* ---- modules ------------------------------------------------------------------- */

typedef enum wasm_error_kind {
	WASM_ERR_NONE = 0,
	WASM_ERR_MALFORMED, /* binary format error (assert_malformed) */
	WASM_ERR_INVALID, /* validation error (assert_invalid) */
	WASM_ERR_LIMIT, /* a wasm_config cap was exceeded */
	WASM_ERR_NOMEM,
	WASM_ERR_UNLINKABLE, /* import missing or of the wrong type */
	WASM_ERR_TRAP, /* trap while instantiating (segments, start) */
	WASM_ERR_MAX,
} wasm_error_kind;

typedef struct wasm_error {
	wasm_error_kind kind;
	uint32_t offset; /* byte offset in the module where it was found */
	wasm_trap trap; /* for WASM_ERR_TRAP */
	char message[160];
} wasm_error;

const char *wasm_error_kind_to_string(wasm_error_kind k);
int wasm_error_kind_from_string(const char *s); /* v3 */
const char *wasm_externkind_to_string(wasm_externkind k); /* v3: "func", "table", ... */
int wasm_externkind_from_string(const char *s); /* v3 */

/*
 * Decode, validate and compile a module. `bytes` is not kept. On failure
 * returns a negative errno and fills *ret_err (if non-NULL). cfg is copied.
 */
int wasm_module_new(const wasm_config *cfg, const uint8_t *bytes, size_t len,
		    wasm_module **ret_module, wasm_error *ret_err);
/* Drops the caller's reference; NULL is a no-op. */
void wasm_module_free(wasm_module *m);

typedef struct wasm_import_desc {
	const char *module; /* borrowed from the module */
	const char *name;
	wasm_externkind kind;
	wasm_functype func; /* kind == FUNC */
	wasm_limits limits; /* kind == TABLE or MEMORY */
	wasm_valtype elem_type; /* kind == TABLE */
	wasm_valtype global_type; /* kind == GLOBAL */
	bool global_mutable;
} wasm_import_desc;

uint32_t wasm_module_import_count(const wasm_module *m);
int wasm_module_import(const wasm_module *m, uint32_t i, wasm_import_desc *ret);
uint32_t wasm_module_export_count(const wasm_module *m);
/* name and kind of export i; the name is borrowed */
int wasm_module_export(const wasm_module *m, uint32_t i, const char **ret_name,
		       wasm_externkind *ret_kind);

/* ---- store and host objects --------------------------------------------------------- */

wasm_store *wasm_store_new(const wasm_config *cfg);
/* Frees every instance and object of the store; NULL is a no-op. */
void wasm_store_free(wasm_store *s);

/*
 * Host function. `inst` is the instance whose code called it (NULL when
 * the embedder calls the host function directly); `args` has nparams
 * values, `results` has room for nresults values that the function must
 * fill. Return WASM_TRAP_NONE, or a trap: use wasm_trap_exit() for
 * proc_exit and wasm_trap_host() for a failure with a message.
 */
typedef wasm_trap_kind (*wasm_host_fn)(wasm_instance *inst, const wasm_val *args,
				       wasm_val *results, void *userdata);

/* The function type is copied; userdata is kept (not freed). */
wasm_func *wasm_func_new_host(wasm_store *s, const wasm_functype *type, wasm_host_fn fn,
			      void *userdata);
const wasm_functype *wasm_func_type(const wasm_func *f);

wasm_memory *wasm_memory_new(wasm_store *s, wasm_limits limits);
wasm_table *wasm_table_new(wasm_store *s, wasm_valtype elem_type, wasm_limits limits);
wasm_global *wasm_global_new(wasm_store *s, wasm_val init, bool mutable_);

/* ---- instances ---------------------------------------------------------------------- */

/*
 * Import resolver: find the extern named (module, name). The library
 * checks the kind and type against the import itself (a mismatch makes the
 * module unlinkable). Return 0 and fill *ret, or a negative errno.
 */
typedef int (*wasm_resolve_fn)(void *ud, const wasm_import_desc *want, wasm_extern *ret);

/*
 * Instantiate: resolve imports, allocate, run segment initialisation and
 * the start function (with the store's default fuel: unlimited).
 * The instance belongs to the store. On failure returns a negative errno
 * and fills *ret_err: WASM_ERR_UNLINKABLE, WASM_ERR_TRAP (trap in a
 * segment or the start function; side effects on imported objects stay,
 * as the spec says), WASM_ERR_NOMEM, WASM_ERR_LIMIT.
 */
int wasm_instantiate(wasm_store *s, wasm_module *m, wasm_resolve_fn resolve, void *resolve_ud,
		     wasm_instance **ret_inst, wasm_error *ret_err);

/* Export by name; -WASM_ENOENT if there is none. */
int wasm_instance_export(wasm_instance *inst, const char *name, wasm_extern *ret);
/* Same, for names that may contain NUL bytes (added in v2). */
int wasm_instance_export_n(wasm_instance *inst, const char *name, size_t len, wasm_extern *ret);
/* Convenience: exported function by name, or NULL. */
wasm_func *wasm_instance_func(wasm_instance *inst, const char *name);
/* Memory index idx of the instance (defined or imported), or NULL. */
wasm_memory *wasm_instance_memory(wasm_instance *inst, uint32_t idx);
wasm_store *wasm_instance_store(wasm_instance *inst);
/* Free-form embedder pointer (e.g. the WASI context); kept, never freed. */
void wasm_instance_set_userdata(wasm_instance *inst, void *ud);
void *wasm_instance_userdata(const wasm_instance *inst);

/* ---- calling ---------------------------------------------------------------------------- */

typedef struct wasm_call_opts {
	uint64_t fuel; /* 0 = unlimited; else roughly calls + loop iterations */
} wasm_call_opts;

/*
 * Call a function (wasm or host). args must match the function type
 * (count and types), results must have room for nresults. Returns
 * WASM_TRAP_NONE on success; otherwise the trap kind, with details in
 * *ret_trap if non-NULL. The interpreter never recurses on the C stack
 * per wasm call; host -> wasm re-entry is allowed but bounded.
 */
wasm_trap_kind wasm_call(wasm_func *f, const wasm_val *args, uint32_t nargs, wasm_val *results,
			 uint32_t nresults, const wasm_call_opts *opts, wasm_trap *ret_trap);

/* For host functions: return the value of these to trap. */
wasm_trap_kind wasm_trap_exit(wasm_instance *inst, int32_t code);
wasm_trap_kind wasm_trap_host(wasm_instance *inst, const char *static_message);

/* ---- memories, tables, globals ---------------------------------------------------------------- */

/* Base pointer and size in bytes; both change when the memory grows. */
uint8_t *wasm_memory_data(wasm_memory *mem, uint64_t *ret_size);
uint32_t wasm_memory_pages(const wasm_memory *mem);
/* Grow by delta pages; returns the old page count or -1 (like memory.grow). */
int64_t wasm_memory_grow(wasm_memory *mem, uint32_t delta);
/*
 * Bounds helper for host functions: pointer to [addr, addr+len) of the
 * memory, or NULL if any byte is out of range (len 0 at size is valid).
 */
void *wasm_memory_ptr(wasm_memory *mem, uint64_t addr, uint64_t len);

uint32_t wasm_table_size(const wasm_table *t);
int wasm_table_get(wasm_table *t, uint32_t i, wasm_val *ret);
int wasm_table_set(wasm_table *t, uint32_t i, wasm_val v);

wasm_val wasm_global_get(const wasm_global *g);
int wasm_global_set(wasm_global *g, wasm_val v); /* -EINVAL if immutable or wrong type */

/*
 * Change log (compatible changes only):
 *   v1: initial API.
 *   v2: wasm_instance_export_n().
 *   v3: *_from_string for the enums, wasm_externkind_to_string.
 */

#ifdef __cplusplus
}
#endif
#endif
