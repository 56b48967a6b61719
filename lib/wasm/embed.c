/* SPDX-License-Identifier: Apache-2.0 */
/* The embedder's side of the API: configuration defaults, names, and host
 * objects (functions, memories, tables, globals). */
#include "wasm-int.h"

#define DEF(field, v)              \
	do {                       \
		if (!cfg->field)   \
			cfg->field = (v); \
	} while (0)

void wasm_config_init(wasm_config *cfg)
{
	DEF(max_memory_pages, WASM_MAX_PAGES);
	DEF(max_table_elems, 1000000);
	DEF(max_call_depth, 10000);
	DEF(max_value_stack, 1u << 20);
	DEF(max_module_size, 256u << 20);
	DEF(max_types, 1000000);
	DEF(max_functions, 1000000);
	DEF(max_imports, 100000);
	DEF(max_exports, 100000);
	DEF(max_globals, 1000000);
	DEF(max_tables, 100000);
	DEF(max_memories, 16);
	DEF(max_segments, 100000);
	DEF(max_segment_elems, 1000000);
	DEF(max_params, 1000);
	DEF(max_locals, 50000);
	DEF(max_nesting, 10000);
	DEF(max_br_table, 1000000);
	DEF(max_function_size, 8u << 20);
	DEF(max_code_size, 512u << 20);
	if (cfg->max_memory_pages > WASM_MAX_PAGES)
		cfg->max_memory_pages = WASM_MAX_PAGES;
}

const char *wasm_trap_kind_to_string(wasm_trap_kind k)
{
	static const char *const names[WASM_TRAP_MAX] = {
		[WASM_TRAP_NONE] = "no trap",
		[WASM_TRAP_UNREACHABLE] = "unreachable",
		[WASM_TRAP_INT_OVERFLOW] = "integer overflow",
		[WASM_TRAP_DIV_BY_ZERO] = "integer divide by zero",
		[WASM_TRAP_INVALID_CONVERSION] = "invalid conversion to integer",
		[WASM_TRAP_OOB_MEMORY] = "out of bounds memory access",
		[WASM_TRAP_UNDEFINED_ELEMENT] = "undefined element",
		[WASM_TRAP_UNINITIALIZED_ELEMENT] = "uninitialized element",
		[WASM_TRAP_INDIRECT_CALL_MISMATCH] = "indirect call type mismatch",
		[WASM_TRAP_OOB_TABLE] = "out of bounds table access",
		[WASM_TRAP_STACK_EXHAUSTED] = "call stack exhausted",
		[WASM_TRAP_EXIT] = "exit",
		[WASM_TRAP_HOST] = "host error",
		[WASM_TRAP_OUT_OF_FUEL] = "out of fuel",
		[WASM_TRAP_NOMEM] = "out of memory",
		[WASM_TRAP_BAD_CALL] = "bad call arguments",
	};
	return (unsigned)k < WASM_TRAP_MAX && names[k] ? names[k] : "unknown trap";
}

const char *wasm_error_kind_to_string(wasm_error_kind k)
{
	static const char *const names[WASM_ERR_MAX] = {
		[WASM_ERR_NONE] = "none",	  [WASM_ERR_MALFORMED] = "malformed",
		[WASM_ERR_INVALID] = "invalid",	  [WASM_ERR_LIMIT] = "limit",
		[WASM_ERR_NOMEM] = "nomem",	  [WASM_ERR_UNLINKABLE] = "unlinkable",
		[WASM_ERR_TRAP] = "trap",
	};
	return (unsigned)k < WASM_ERR_MAX ? names[k] : "unknown";
}

static int lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; s && i < n; i++)
		if (names[i] && !wasm_strcmp(names[i], s))
			return i;
	return -WASM_EINVAL;
}

int wasm_trap_kind_from_string(const char *s)
{
	for (int k = 0; s && k < WASM_TRAP_MAX; k++)
		if (!wasm_strcmp(wasm_trap_kind_to_string((wasm_trap_kind)k), s))
			return k;
	return -WASM_EINVAL;
}

int wasm_error_kind_from_string(const char *s)
{
	for (int k = 0; s && k < WASM_ERR_MAX; k++)
		if (!wasm_strcmp(wasm_error_kind_to_string((wasm_error_kind)k), s))
			return k;
	return -WASM_EINVAL;
}

static const char *const extern_names[WASM_EXTERN_MAX] = { "func", "table", "memory", "global" };

const char *wasm_externkind_to_string(wasm_externkind k)
{
	return (unsigned)k < WASM_EXTERN_MAX ? extern_names[k] : "unknown";
}

int wasm_externkind_from_string(const char *s)
{
	return lookup(extern_names, WASM_EXTERN_MAX, s);
}

static bool valtype_ok(wasm_valtype t)
{
	return t == WASM_I32 || t == WASM_I64 || t == WASM_F32 || t == WASM_F64 || t == WASM_FUNCREF ||
	       t == WASM_EXTERNREF || t == WASM_V128;
}

wasm_func *wasm_func_new_host(wasm_store *s, const wasm_functype *type, wasm_host_fn fn, void *userdata)
{
	if (!s || !type || !fn || type->nparams > WASM_HOST_MAX_PARAMS || type->nresults > WASM_HOST_MAX_PARAMS)
		return NULL;
	uint32_t n = type->nparams + type->nresults;
	for (uint32_t i = 0; i < type->nparams; i++)
		if (!valtype_ok(type->params[i]))
			return NULL;
	for (uint32_t i = 0; i < type->nresults; i++)
		if (!valtype_ok(type->results[i]))
			return NULL;
	wasm_func *f = wasmi_store_new_obj(s, OBJ_FUNC, sizeof(*f));
	if (!f)
		return NULL;
	f->host = true;
	f->store = s;
	f->fn = fn;
	f->ud = userdata;
	f->own_type.nparams = type->nparams;
	f->own_type.nresults = type->nresults;
	f->own_type.types = wasm_alloc(&s->cfg, (size_t)n + 1);
	if (!f->own_type.types)
		return NULL; /* the object stays in the store and is freed with it */
	for (uint32_t i = 0; i < type->nparams; i++)
		f->own_type.types[i] = (uint8_t)type->params[i];
	for (uint32_t i = 0; i < type->nresults; i++)
		f->own_type.types[type->nparams + i] = (uint8_t)type->results[i];
	if (wasmi_functype_init_pub(&s->cfg, &f->own_type) < 0)
		return NULL;
	f->type = &f->own_type;
	f->nparams = type->nparams;
	return f;
}

const wasm_functype *wasm_func_type(const wasm_func *f)
{
	return &f->type->pub;
}

wasm_memory *wasm_memory_new(wasm_store *s, wasm_limits lim)
{
	if (lim.min > s->cfg.max_memory_pages || (lim.has_max && lim.max < lim.min) ||
	    (lim.has_max && lim.max > WASM_MAX_PAGES))
		return NULL;
	wasm_memory *m = wasmi_store_new_obj(s, OBJ_MEMORY, sizeof(*m));
	if (!m)
		return NULL;
	m->store = s;
	m->decl = lim;
	m->has_max = lim.has_max;
	m->max = lim.has_max && lim.max < s->cfg.max_memory_pages ? (uint32_t)lim.max : s->cfg.max_memory_pages;
	m->pages = 0;
	if (lim.min && wasmi_memory_grow(m, (uint32_t)lim.min) < 0)
		return NULL;
	return m;
}

wasm_table *wasm_table_new(wasm_store *s, wasm_valtype elem, wasm_limits lim)
{
	if ((elem != WASM_FUNCREF && elem != WASM_EXTERNREF) || lim.min > s->cfg.max_table_elems ||
	    (lim.has_max && lim.max < lim.min))
		return NULL;
	wasm_table *t = wasmi_store_new_obj(s, OBJ_TABLE, sizeof(*t));
	if (!t)
		return NULL;
	t->store = s;
	t->elem = (uint8_t)elem;
	t->has_max = lim.has_max;
	t->max = lim.has_max && lim.max < s->cfg.max_table_elems ? (uint32_t)lim.max : s->cfg.max_table_elems;
	/* linking checks the declared maximum, not the embedder's cap */
	t->decl_max = lim.has_max ? lim.max : 0;
	if (lim.min && wasmi_table_grow(t, (uint32_t)lim.min, 0) < 0)
		return NULL;
	return t;
}

static void wasm_global_set_raw(wasm_global *g, wasm_val v)
{
	wasmi_val_to_slots(&v, g->type, g->val);
}

wasm_global *wasm_global_new(wasm_store *s, wasm_val init, bool mutable_)
{
	if (!valtype_ok(init.type))
		return NULL;
	wasm_global *g = wasmi_store_new_obj(s, OBJ_GLOBAL, sizeof(*g));
	if (!g)
		return NULL;
	g->type = (uint8_t)init.type;
	g->mut = mutable_;
	wasm_global_set_raw(g, init);
	return g;
}

wasm_val wasm_global_get(const wasm_global *g)
{
	wasm_val v;
	wasmi_slots_to_val(g->type, g->val, &v);
	return v;
}

int wasm_global_set(wasm_global *g, wasm_val v)
{
	if (!g->mut || v.type != g->type)
		return -WASM_EINVAL;
	wasm_global_set_raw(g, v);
	return 0;
}

uint8_t *wasm_memory_data(wasm_memory *mem, uint64_t *ret_size)
{
	if (ret_size)
		*ret_size = mem->size;
	return mem->data;
}

uint32_t wasm_memory_pages(const wasm_memory *mem)
{
	return mem->pages;
}

int64_t wasm_memory_grow(wasm_memory *mem, uint32_t delta)
{
	return wasmi_memory_grow(mem, delta);
}

void *wasm_memory_ptr(wasm_memory *mem, uint64_t addr, uint64_t len)
{
	if (!mem || addr > mem->size || len > mem->size - addr)
		return NULL;
	return mem->data + addr;
}

uint32_t wasm_table_size(const wasm_table *t)
{
	return t->size;
}

int wasm_table_get(wasm_table *t, uint32_t i, wasm_val *ret)
{
	if (i >= t->size)
		return -WASM_ERANGE;
	ret->type = (wasm_valtype)t->elem;
	ret->of.i64 = 0;
	ret->of.ref = (void *)(uintptr_t)t->elems[i];
	return 0;
}

int wasm_table_set(wasm_table *t, uint32_t i, wasm_val v)
{
	if (i >= t->size)
		return -WASM_ERANGE;
	if (v.type != t->elem)
		return -WASM_EINVAL;
	t->elems[i] = (uintptr_t)v.of.ref;
	return 0;
}
