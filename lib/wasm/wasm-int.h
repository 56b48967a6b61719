/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal structures shared by the stages of the interpreter:
 *   decode.c   bytes -> wasm_module (sections, types, segments, raw bodies)
 *   validate.c type-checks each body and drives compile.c
 *   compile.c  emits the internal form (threaded code over frame slots)
 *   interp.c   executes it
 *   instance.c store, linking, instantiation, calls
 */
#ifndef MVM_WASM_INT_H
#define MVM_WASM_INT_H

#include "wasm.h"

#define WASM_PAGE 65536u
#define WASM_MAX_PAGES 65536u
#define WASM_HOST_MAX_PARAMS 64u

typedef uint64_t slot_t;

/* One cell of internal code: a handler address/op number or an operand. */
typedef union cell {
	uint64_t u;
	int64_t i;
	const void *p;
} cell;

/* Allocation through the embedder's hook. */
void *wasm_alloc(const wasm_config *c, size_t n);
void *wasm_zalloc(const wasm_config *c, size_t n);
void *wasm_realloc(const wasm_config *c, void *p, size_t old, size_t n);
void wasm_free(const wasm_config *c, void *p, size_t n);

struct functype {
	uint32_t nparams, nresults;
	uint8_t *types; /* params then results */
	wasm_functype pub;
};

bool wasmi_functype_eq(const struct functype *a, const struct functype *b);
int wasmi_functype_init_pub(const wasm_config *c, struct functype *t);

enum obj_kind { OBJ_FUNC, OBJ_MEMORY, OBJ_TABLE, OBJ_GLOBAL, OBJ_INSTANCE };

/* constant expression (Wasm 2.0: exactly one instruction) */
enum cexpr_kind { CEXPR_CONST, CEXPR_GLOBAL, CEXPR_REF_FUNC, CEXPR_REF_NULL };
struct cexpr {
	uint8_t kind;
	uint8_t type;
	uint32_t idx;
	uint64_t value, hi; /* hi: upper half of a v128.const */
};

struct import {
	char *module, *name;
	uint8_t kind;
	uint32_t idx; /* index in its space (func/table/mem/global) */
};

struct table_type {
	uint8_t elem;
	wasm_limits lim;
};

struct global_type {
	uint8_t type;
	bool mut;
	struct cexpr init; /* defined globals */
};

struct export {
	char *name;
	uint32_t name_len; /* names may contain NUL */
	uint8_t kind;
	uint32_t idx;
};

enum seg_mode { SEG_ACTIVE, SEG_PASSIVE, SEG_DECLARATIVE };

struct elem_seg {
	uint8_t mode, type;
	uint32_t table;
	struct cexpr offset;
	uint32_t n;
	struct cexpr *items;
};

struct data_seg {
	uint8_t mode;
	uint32_t mem;
	struct cexpr offset;
	uint32_t len;
	uint8_t *bytes;
};

struct func_code {
	uint32_t body_off, body_len; /* into the module bytes, during load */
	uint32_t nlocals; /* declared locals (not params) */
	uint32_t param_slots, local_slots; /* frame slots they take (v128: 2) */
	uint8_t *local_types;
	cell *code; /* compiled */
	uint32_t code_len;
	uint32_t frame_slots; /* params + locals + max operand height + scratch */
};

struct wasm_module {
	wasm_config cfg;
	uint32_t refs;
	uint32_t ntypes;
	struct functype *types;
	uint32_t nimports;
	struct import *imports;
	uint32_t nfuncs, nfunc_imports;
	uint32_t *func_types; /* type index per function */
	struct func_code *code; /* nfuncs - nfunc_imports */
	uint32_t ntables, ntable_imports;
	struct table_type *tables;
	uint32_t nmems, nmem_imports;
	wasm_limits *mems;
	uint32_t nglobals, nglobal_imports;
	struct global_type *globals;
	uint32_t nexports;
	struct export *exports;
	bool has_start;
	uint32_t start;
	uint32_t nelems;
	struct elem_seg *elems;
	uint32_t ndatas;
	struct data_seg *datas;
	bool has_datacount;
	uint32_t datacount;
	uint8_t *declared_funcs; /* bitmap: func refs allowed by ref.func */
	uint64_t code_cells;
};

/* ---- runtime objects ---- */

struct wasm_func {
	const struct functype *type;
	wasm_store *store;
	wasm_instance *inst; /* owning instance for wasm functions */
	bool host;
	const cell *code;
	uint32_t nparams, nlocals, frame_slots;
	wasm_host_fn fn;
	void *ud;
	struct functype own_type; /* host functions */
};

struct wasm_memory {
	uint8_t *data;
	uint64_t size; /* bytes */
	uint32_t pages, max; /* max already clamped to the embedder's cap */
	bool has_max;
	wasm_limits decl;
	wasm_store *store;
};

struct wasm_table {
	uint64_t *elems; /* wasm_func* or externref */
	uint32_t size, max; /* max already clamped to the embedder's cap */
	bool has_max;
	uint64_t decl_max; /* declared maximum, for import matching */
	uint8_t elem;
	wasm_store *store;
};

struct wasm_global {
	slot_t val[2]; /* v128 uses both */
	uint8_t type;
	bool mut;
};

struct wasm_instance {
	wasm_store *store;
	wasm_module *mod;
	wasm_func **funcs;
	wasm_table **tables;
	wasm_memory **mems;
	wasm_global **globals;
	wasm_func *own_funcs; /* array of defined functions */
	uint8_t *elem_dropped;
	uint8_t *data_dropped;
	void *userdata;
};

struct frame {
	const cell *ret_ip;
	slot_t *fp;
	wasm_instance *inst;
};

/* list node of every object a store owns */
struct obj {
	struct obj *next;
	uint8_t kind;
	size_t size;
};

struct wasm_store {
	wasm_config cfg;
	struct obj *objs;
	slot_t *stack; /* value stack, max_value_stack slots */
	struct frame *frames; /* max_call_depth + 1 */
	uint32_t depth; /* frames in use (nested calls keep adding) */
	slot_t *sp; /* first free slot for a new entry call */
	uint64_t fuel;
	uint64_t mem_epoch; /* bumped by every memory grow */
	uint32_t host_nesting;
	int32_t exit_code; /* set by wasm_trap_exit */
	const char *trap_msg; /* set by wasm_trap_host */
};

void *wasmi_store_new_obj(wasm_store *s, uint8_t kind, size_t size);

/* interp.c */
const void *wasmi_interp_handler(unsigned op);
wasm_trap_kind wasmi_interp_call(wasm_store *s, wasm_func *f, slot_t *args, wasm_trap *ret_trap);
int64_t wasmi_memory_grow(wasm_memory *m, uint32_t delta);
int64_t wasmi_table_grow(wasm_table *t, uint32_t delta, uint64_t init);

/* validate.c: validate and compile one function body */
struct dec;
int wasmi_validate_function(wasm_module *m, uint32_t fidx, const uint8_t *bytes, wasm_error *err);

/* decode.c */
int wasmi_decode_module(wasm_module *m, const uint8_t *bytes, size_t len, wasm_error *err);
void wasmi_set_error(wasm_error *err, wasm_error_kind kind, uint32_t off, const char *msg);


/* instance.c */
/* ret gets one slot, or two for v128 */
int wasmi_cexpr_eval(wasm_instance *inst, const struct cexpr *e, slot_t *ret);
/* wasm_val <-> frame slots; both return the number of slots (1 or 2) */
uint32_t wasmi_val_to_slots(const wasm_val *v, uint8_t type, slot_t *dst);
uint32_t wasmi_slots_to_val(uint8_t type, const slot_t *src, wasm_val *v);

static inline size_t wasm_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static inline int wasm_strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

#endif
