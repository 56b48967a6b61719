/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stage 5: modules, stores, linking and instantiation, and the call entry.
 */
#include "wasm-int.h"

/* ---- allocation ---- */

void *wasm_alloc(const wasm_config *c, size_t n)
{
	return c->alloc(c->alloc_ud, NULL, 0, n ? n : 1);
}

void *wasm_zalloc(const wasm_config *c, size_t n)
{
	void *p = wasm_alloc(c, n);
	if (p)
		__builtin_memset(p, 0, n ? n : 1);
	return p;
}

void *wasm_realloc(const wasm_config *c, void *p, size_t old, size_t n)
{
	return c->alloc(c->alloc_ud, p, old, n ? n : 1);
}

void wasm_free(const wasm_config *c, void *p, size_t n)
{
	if (p)
		c->alloc(c->alloc_ud, p, n, 0);
}

bool wasmi_functype_eq(const struct functype *a, const struct functype *b)
{
	return a == b || (a->nparams == b->nparams && a->nresults == b->nresults &&
			  !__builtin_memcmp(a->types, b->types, a->nparams + a->nresults));
}

int wasmi_functype_init_pub(const wasm_config *c, struct functype *t)
{
	uint32_t n = t->nparams + t->nresults;
	wasm_valtype *v = wasm_alloc(c, (size_t)(n + 1) * sizeof(*v));
	if (!v)
		return -WASM_ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		v[i] = (wasm_valtype)t->types[i];
	t->pub.nparams = t->nparams;
	t->pub.nresults = t->nresults;
	t->pub.params = v;
	t->pub.results = v + t->nparams;
	return 0;
}

static void functype_fini(const wasm_config *c, struct functype *t)
{
	wasm_free(c, t->types, 0);
	wasm_free(c, (void *)t->pub.params, 0);
}

/* ---- modules ---- */

static void module_destroy(wasm_module *m)
{
	const wasm_config *c = &m->cfg;
	for (uint32_t i = 0; i < m->ntypes; i++)
		functype_fini(c, &m->types[i]);
	wasm_free(c, m->types, 0);
	for (uint32_t i = 0; i < m->nimports; i++) {
		wasm_free(c, m->imports[i].module, 0);
		wasm_free(c, m->imports[i].name, 0);
	}
	wasm_free(c, m->imports, 0);
	if (m->code)
		for (uint32_t i = 0; i < m->nfuncs - m->nfunc_imports; i++) {
			wasm_free(c, m->code[i].local_types, 0);
			wasm_free(c, m->code[i].code, 0);
		}
	wasm_free(c, m->code, 0);
	wasm_free(c, m->func_types, 0);
	wasm_free(c, m->tables, 0);
	wasm_free(c, m->mems, 0);
	wasm_free(c, m->globals, 0);
	for (uint32_t i = 0; i < m->nexports; i++)
		wasm_free(c, m->exports[i].name, 0);
	wasm_free(c, m->exports, 0);
	for (uint32_t i = 0; i < m->nelems; i++)
		wasm_free(c, m->elems[i].items, 0);
	wasm_free(c, m->elems, 0);
	for (uint32_t i = 0; i < m->ndatas; i++)
		wasm_free(c, m->datas[i].bytes, 0);
	wasm_free(c, m->datas, 0);
	wasm_free(c, m->declared_funcs, 0);
	wasm_free(c, m, sizeof(*m));
}

void wasm_module_free(wasm_module *m)
{
	if (m && --m->refs == 0)
		module_destroy(m);
}

int wasm_module_new(const wasm_config *cfg, const uint8_t *bytes, size_t len, wasm_module **ret_module,
		    wasm_error *ret_err)
{
	wasm_error dummy;
	wasm_error *err = ret_err ? ret_err : &dummy;
	__builtin_memset(err, 0, sizeof(*err));
	if (!cfg || !cfg->alloc) {
		wasmi_set_error(err, WASM_ERR_INVALID, 0, "no allocator configured");
		return -WASM_EINVAL;
	}
	wasm_module *m = wasm_zalloc(cfg, sizeof(*m));
	if (!m) {
		wasmi_set_error(err, WASM_ERR_NOMEM, 0, "out of memory");
		return -WASM_ENOMEM;
	}
	m->cfg = *cfg;
	wasm_config_init(&m->cfg);
	m->refs = 1;
	int r = wasmi_decode_module(m, bytes, len, err);
	for (uint32_t i = 0; r == 0 && i < m->nfuncs - m->nfunc_imports; i++)
		r = wasmi_validate_function(m, i, bytes, err);
	if (r < 0) {
		module_destroy(m);
		return err->kind == WASM_ERR_NOMEM ? -WASM_ENOMEM : err->kind == WASM_ERR_LIMIT ? -WASM_E2BIG : -WASM_EINVAL;
	}
	*ret_module = m;
	return 0;
}

uint32_t wasm_module_import_count(const wasm_module *m)
{
	return m->nimports;
}

int wasm_module_import(const wasm_module *m, uint32_t i, wasm_import_desc *d)
{
	if (i >= m->nimports)
		return -WASM_ENOENT;
	const struct import *im = &m->imports[i];
	__builtin_memset(d, 0, sizeof(*d));
	d->module = im->module;
	d->name = im->name;
	d->kind = (wasm_externkind)im->kind;
	switch (im->kind) {
	case WASM_EXTERN_FUNC:
		d->func = m->types[m->func_types[im->idx]].pub;
		break;
	case WASM_EXTERN_TABLE:
		d->limits = m->tables[im->idx].lim;
		d->elem_type = (wasm_valtype)m->tables[im->idx].elem;
		break;
	case WASM_EXTERN_MEMORY:
		d->limits = m->mems[im->idx];
		break;
	case WASM_EXTERN_GLOBAL:
		d->global_type = (wasm_valtype)m->globals[im->idx].type;
		d->global_mutable = m->globals[im->idx].mut;
		break;
	}
	return 0;
}

uint32_t wasm_module_export_count(const wasm_module *m)
{
	return m->nexports;
}

int wasm_module_export(const wasm_module *m, uint32_t i, const char **ret_name, wasm_externkind *ret_kind)
{
	if (i >= m->nexports)
		return -WASM_ENOENT;
	*ret_name = m->exports[i].name;
	*ret_kind = (wasm_externkind)m->exports[i].kind;
	return 0;
}

/* ---- stores ---- */

wasm_store *wasm_store_new(const wasm_config *cfg)
{
	if (!cfg || !cfg->alloc)
		return NULL;
	wasm_store *s = wasm_zalloc(cfg, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	wasm_config_init(&s->cfg);
	return s;
}

void *wasmi_store_new_obj(wasm_store *s, uint8_t kind, size_t size)
{
	struct obj *o = wasm_zalloc(&s->cfg, sizeof(struct obj) + size);
	if (!o)
		return NULL;
	o->kind = kind;
	o->size = size;
	o->next = s->objs;
	s->objs = o;
	return o + 1;
}

static void obj_fini(wasm_store *s, struct obj *o)
{
	const wasm_config *c = &s->cfg;
	void *p = o + 1;
	switch (o->kind) {
	case OBJ_FUNC: {
		wasm_func *f = p;
		if (f->host)
			functype_fini(c, &f->own_type);
		break;
	}
	case OBJ_MEMORY:
		wasm_free(c, ((wasm_memory *)p)->data, 0);
		break;
	case OBJ_TABLE:
		wasm_free(c, ((wasm_table *)p)->elems, 0);
		break;
	case OBJ_INSTANCE: {
		wasm_instance *i = p;
		wasm_free(c, i->funcs, 0);
		wasm_free(c, i->tables, 0);
		wasm_free(c, i->mems, 0);
		wasm_free(c, i->globals, 0);
		wasm_free(c, i->own_funcs, 0);
		wasm_free(c, i->elem_dropped, 0);
		wasm_free(c, i->data_dropped, 0);
		wasm_module_free(i->mod);
		break;
	}
	}
}

void wasm_store_free(wasm_store *s)
{
	if (!s)
		return;
	for (struct obj *o = s->objs, *n; o; o = n) {
		n = o->next;
		obj_fini(s, o);
		wasm_free(&s->cfg, o, 0);
	}
	wasm_free(&s->cfg, s->stack, 0);
	wasm_free(&s->cfg, s->frames, 0);
	wasm_free(&s->cfg, s, sizeof(*s));
}

/* ---- instantiation ---- */

int wasmi_cexpr_eval(wasm_instance *inst, const struct cexpr *e, slot_t *ret)
{
	switch (e->kind) {
	case CEXPR_CONST:
		ret[0] = e->value;
		if (e->type == WASM_V128)
			ret[1] = e->hi;
		break;
	case CEXPR_GLOBAL:
		ret[0] = inst->globals[e->idx]->val[0];
		if (e->type == WASM_V128)
			ret[1] = inst->globals[e->idx]->val[1];
		break;
	case CEXPR_REF_FUNC: *ret = (uintptr_t)inst->funcs[e->idx]; break;
	default: *ret = 0; break;
	}
	return 0;
}

static bool limits_match(uint64_t have_min, bool have_has_max, uint64_t have_max, const wasm_limits *want)
{
	if (have_min < want->min)
		return false;
	if (want->has_max && (!have_has_max || have_max > want->max))
		return false;
	return true;
}

static int link_import(wasm_instance *inst, uint32_t i, wasm_resolve_fn resolve, void *ud, wasm_error *err)
{
	wasm_module *m = inst->mod;
	const struct import *im = &m->imports[i];
	wasm_import_desc d;
	wasm_extern ext = { 0 };
	wasm_module_import(m, i, &d);
	if (!resolve || resolve(ud, &d, &ext) < 0) {
		wasmi_set_error(err, WASM_ERR_UNLINKABLE, 0, "unknown import");
		return -1;
	}
	if (ext.kind != (wasm_externkind)im->kind)
		goto mismatch;
	switch (im->kind) {
	case WASM_EXTERN_FUNC:
		if (!ext.of.func || ext.of.func->store != inst->store ||
		    !wasmi_functype_eq(ext.of.func->type, &m->types[m->func_types[im->idx]]))
			goto mismatch;
		inst->funcs[im->idx] = ext.of.func;
		break;
	case WASM_EXTERN_TABLE: {
		wasm_table *t = ext.of.table;
		const struct table_type *tt = &m->tables[im->idx];
		if (!t || t->store != inst->store || t->elem != tt->elem ||
		    !limits_match(t->size, t->has_max, t->decl_max, &tt->lim))
			goto mismatch;
		inst->tables[im->idx] = t;
		break;
	}
	case WASM_EXTERN_MEMORY: {
		wasm_memory *mem = ext.of.memory;
		if (!mem || mem->store != inst->store ||
		    !limits_match(mem->pages, mem->decl.has_max, mem->decl.max, &m->mems[im->idx]))
			goto mismatch;
		inst->mems[im->idx] = mem;
		break;
	}
	case WASM_EXTERN_GLOBAL: {
		wasm_global *g = ext.of.global;
		const struct global_type *gt = &m->globals[im->idx];
		if (!g || g->type != gt->type || g->mut != gt->mut)
			goto mismatch;
		inst->globals[im->idx] = g;
		break;
	}
	}
	return 0;
mismatch:
	wasmi_set_error(err, WASM_ERR_UNLINKABLE, 0, "incompatible import type");
	return -1;
}

static int instance_trap(wasm_error *err, wasm_trap_kind k, const char *msg)
{
	wasmi_set_error(err, WASM_ERR_TRAP, 0, msg ? msg : wasm_trap_kind_to_string(k));
	err->trap.kind = k;
	err->trap.message = wasm_trap_kind_to_string(k);
	return -1;
}

static int init_segments(wasm_instance *inst, wasm_error *err)
{
	wasm_module *m = inst->mod;
	for (uint32_t i = 0; i < m->nelems; i++) {
		const struct elem_seg *sg = &m->elems[i];
		if (sg->mode == SEG_ACTIVE) {
			slot_t off;
			wasmi_cexpr_eval(inst, &sg->offset, &off);
			wasm_table *t = inst->tables[sg->table];
			if ((uint64_t)(uint32_t)off + sg->n > t->size)
				return instance_trap(err, WASM_TRAP_OOB_TABLE, NULL);
			for (uint32_t k = 0; k < sg->n; k++) {
				slot_t v;
				wasmi_cexpr_eval(inst, &sg->items[k], &v);
				t->elems[(uint32_t)off + k] = v;
			}
		}
		if (sg->mode != SEG_PASSIVE)
			inst->elem_dropped[i] = 1;
	}
	for (uint32_t i = 0; i < m->ndatas; i++) {
		const struct data_seg *sg = &m->datas[i];
		if (sg->mode != SEG_ACTIVE)
			continue;
		slot_t off;
		wasmi_cexpr_eval(inst, &sg->offset, &off);
		wasm_memory *mem = inst->mems[sg->mem];
		if ((uint64_t)(uint32_t)off + sg->len > mem->size)
			return instance_trap(err, WASM_TRAP_OOB_MEMORY, NULL);
		if (sg->len)
			__builtin_memcpy(mem->data + (uint32_t)off, sg->bytes, sg->len);
		inst->data_dropped[i] = 1;
	}
	return 0;
}

int wasm_instantiate(wasm_store *s, wasm_module *m, wasm_resolve_fn resolve, void *resolve_ud,
		     wasm_instance **ret_inst, wasm_error *ret_err)
{
	wasm_error dummy;
	wasm_error *err = ret_err ? ret_err : &dummy;
	const wasm_config *c = &s->cfg;
	__builtin_memset(err, 0, sizeof(*err));
	wasm_instance *inst = wasmi_store_new_obj(s, OBJ_INSTANCE, sizeof(*inst));
	if (!inst)
		goto nomem;
	inst->store = s;
	inst->mod = m;
	m->refs++;
	uint32_t ndef = m->nfuncs - m->nfunc_imports;
	inst->funcs = wasm_zalloc(c, (size_t)m->nfuncs * sizeof(void *));
	inst->tables = wasm_zalloc(c, (size_t)m->ntables * sizeof(void *));
	inst->mems = m->nmems ? wasm_zalloc(c, (size_t)m->nmems * sizeof(void *)) : NULL;
	inst->globals = wasm_zalloc(c, (size_t)m->nglobals * sizeof(void *));
	inst->own_funcs = wasm_zalloc(c, (size_t)ndef * sizeof(wasm_func));
	inst->elem_dropped = wasm_zalloc(c, m->nelems);
	inst->data_dropped = wasm_zalloc(c, m->ndatas);
	if (!inst->funcs || !inst->tables || (m->nmems && !inst->mems) || !inst->globals || !inst->own_funcs ||
	    !inst->elem_dropped || !inst->data_dropped)
		goto nomem;
	for (uint32_t i = 0; i < m->nimports; i++)
		if (link_import(inst, i, resolve, resolve_ud, err) < 0)
			return -WASM_EINVAL;
	for (uint32_t i = 0; i < ndef; i++) {
		wasm_func *f = &inst->own_funcs[i];
		const struct func_code *fc = &m->code[i];
		f->type = &m->types[m->func_types[m->nfunc_imports + i]];
		f->store = s;
		f->inst = inst;
		f->code = fc->code;
		f->nparams = fc->param_slots;
		f->nlocals = fc->local_slots;
		f->frame_slots = fc->frame_slots;
		inst->funcs[m->nfunc_imports + i] = f;
	}
	for (uint32_t i = m->ntable_imports; i < m->ntables; i++) {
		const struct table_type *tt = &m->tables[i];
		wasm_limits lim = tt->lim;
		if (lim.min > c->max_table_elems) {
			wasmi_set_error(err, WASM_ERR_LIMIT, 0, "table exceeds configured limit");
			return -WASM_E2BIG;
		}
		wasm_table *t = wasm_table_new(s, (wasm_valtype)tt->elem, lim);
		if (!t)
			goto nomem;
		inst->tables[i] = t;
	}
	for (uint32_t i = m->nmem_imports; i < m->nmems; i++) {
		if (m->mems[i].min > c->max_memory_pages) {
			wasmi_set_error(err, WASM_ERR_LIMIT, 0, "memory exceeds configured limit");
			return -WASM_E2BIG;
		}
		wasm_memory *mem = wasm_memory_new(s, m->mems[i]);
		if (!mem)
			goto nomem;
		inst->mems[i] = mem;
	}
	for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
		wasm_global *g = wasmi_store_new_obj(s, OBJ_GLOBAL, sizeof(*g));
		if (!g)
			goto nomem;
		g->type = m->globals[i].type;
		g->mut = m->globals[i].mut;
		wasmi_cexpr_eval(inst, &m->globals[i].init, g->val);
		inst->globals[i] = g;
	}
	if (init_segments(inst, err) < 0)
		return -WASM_EINVAL;
	if (m->has_start) {
		wasm_trap t;
		wasm_trap_kind k = wasm_call(inst->funcs[m->start], NULL, 0, NULL, 0, NULL, &t);
		if (k != WASM_TRAP_NONE) {
			instance_trap(err, k, t.message);
			err->trap = t;
			return -WASM_EINVAL;
		}
	}
	*ret_inst = inst;
	return 0;
nomem:
	wasmi_set_error(err, WASM_ERR_NOMEM, 0, "out of memory");
	return -WASM_ENOMEM;
}

int wasm_instance_export(wasm_instance *inst, const char *name, wasm_extern *ret)
{
	return wasm_instance_export_n(inst, name, wasm_strlen(name), ret);
}

int wasm_instance_export_n(wasm_instance *inst, const char *name, size_t len, wasm_extern *ret)
{
	const wasm_module *m = inst->mod;
	for (uint32_t i = 0; i < m->nexports; i++) {
		const struct export *e = &m->exports[i];
		if (e->name_len != len || __builtin_memcmp(e->name, name, len))
			continue;
		ret->kind = (wasm_externkind)e->kind;
		switch (e->kind) {
		case WASM_EXTERN_FUNC: ret->of.func = inst->funcs[e->idx]; break;
		case WASM_EXTERN_TABLE: ret->of.table = inst->tables[e->idx]; break;
		case WASM_EXTERN_MEMORY: ret->of.memory = inst->mems[e->idx]; break;
		case WASM_EXTERN_GLOBAL: ret->of.global = inst->globals[e->idx]; break;
		}
		return 0;
	}
	return -WASM_ENOENT;
}

wasm_func *wasm_instance_func(wasm_instance *inst, const char *name)
{
	wasm_extern e;
	if (wasm_instance_export(inst, name, &e) < 0 || e.kind != WASM_EXTERN_FUNC)
		return NULL;
	return e.of.func;
}

wasm_memory *wasm_instance_memory(wasm_instance *inst, uint32_t idx)
{
	return inst && idx < inst->mod->nmems ? inst->mems[idx] : NULL;
}

wasm_store *wasm_instance_store(wasm_instance *inst)
{
	return inst->store;
}

void wasm_instance_set_userdata(wasm_instance *inst, void *ud)
{
	inst->userdata = ud;
}

void *wasm_instance_userdata(const wasm_instance *inst)
{
	return inst->userdata;
}

/* ---- calls ---- */

uint32_t wasmi_val_to_slots(const wasm_val *v, uint8_t type, slot_t *dst)
{
	switch (type) {
	case WASM_I32: case WASM_F32: dst[0] = (uint32_t)v->of.i32; return 1;
	case WASM_FUNCREF: case WASM_EXTERNREF: dst[0] = (uintptr_t)v->of.ref; return 1;
	case WASM_V128: __builtin_memcpy(dst, v->of.v128, 16); return 2;
	default: dst[0] = (uint64_t)v->of.i64; return 1;
	}
}

uint32_t wasmi_slots_to_val(uint8_t type, const slot_t *src, wasm_val *v)
{
	__builtin_memset(v, 0, sizeof(*v));
	v->type = (wasm_valtype)type;
	switch (type) {
	case WASM_I32: case WASM_F32: v->of.i32 = (int32_t)(uint32_t)src[0]; return 1;
	case WASM_FUNCREF: case WASM_EXTERNREF: v->of.ref = (void *)(uintptr_t)src[0]; return 1;
	case WASM_V128: __builtin_memcpy(v->of.v128, src, 16); return 2;
	default: v->of.i64 = (int64_t)src[0]; return 1;
	}
}

static void fill_trap(wasm_store *s, wasm_trap_kind k, wasm_trap *t)
{
	if (!t)
		return;
	t->kind = k;
	t->exit_code = k == WASM_TRAP_EXIT ? s->exit_code : 0;
	t->message = k == WASM_TRAP_HOST && s->trap_msg ? s->trap_msg : wasm_trap_kind_to_string(k);
}

wasm_trap_kind wasm_call(wasm_func *f, const wasm_val *args, uint32_t nargs, wasm_val *results,
			 uint32_t nresults, const wasm_call_opts *opts, wasm_trap *ret_trap)
{
	wasm_store *s = f->store;
	const struct functype *t = f->type;
	if (nargs != t->nparams || nresults != t->nresults) {
		fill_trap(s, WASM_TRAP_BAD_CALL, ret_trap);
		return WASM_TRAP_BAD_CALL;
	}
	for (uint32_t i = 0; i < nargs; i++)
		if (args[i].type != t->types[i]) {
			fill_trap(s, WASM_TRAP_BAD_CALL, ret_trap);
			return WASM_TRAP_BAD_CALL;
		}
	if (!s->stack) {
		s->stack = wasm_alloc(&s->cfg, (size_t)s->cfg.max_value_stack * sizeof(slot_t));
		s->frames = wasm_alloc(&s->cfg, ((size_t)s->cfg.max_call_depth + 1) * sizeof(struct frame));
		if (!s->stack || !s->frames) {
			wasm_free(&s->cfg, s->stack, 0);
			wasm_free(&s->cfg, s->frames, 0);
			s->stack = NULL;
			s->frames = NULL;
			fill_trap(s, WASM_TRAP_NOMEM, ret_trap);
			return WASM_TRAP_NOMEM;
		}
		s->sp = s->stack;
	}
	slot_t *base = s->sp;
	uint32_t need = 2 * (t->nparams > t->nresults ? t->nparams : t->nresults);
	if (s->host_nesting > 64 || base + need > s->stack + s->cfg.max_value_stack) {
		fill_trap(s, WASM_TRAP_STACK_EXHAUSTED, ret_trap);
		return WASM_TRAP_STACK_EXHAUSTED;
	}
	for (uint32_t i = 0, k = 0; i < nargs; i++)
		k += wasmi_val_to_slots(&args[i], t->types[i], base + k);
	uint64_t saved_fuel = s->fuel;
	if (opts && opts->fuel)
		s->fuel = opts->fuel;
	else if (s->host_nesting == 0)
		s->fuel = ~(uint64_t)0;
	s->trap_msg = NULL;
	wasm_trap_kind k = wasmi_interp_call(s, f, base, ret_trap);
	if (s->host_nesting == 0)
		s->fuel = saved_fuel;
	s->sp = base;
	if (k != WASM_TRAP_NONE) {
		fill_trap(s, k, ret_trap);
		return k;
	}
	for (uint32_t i = 0, n = 0; i < nresults; i++)
		n += wasmi_slots_to_val(t->types[t->nparams + i], base + n, &results[i]);
	fill_trap(s, WASM_TRAP_NONE, ret_trap);
	return WASM_TRAP_NONE;
}

wasm_trap_kind wasm_trap_exit(wasm_instance *inst, int32_t code)
{
	if (inst)
		inst->store->exit_code = code;
	return WASM_TRAP_EXIT;
}

wasm_trap_kind wasm_trap_host(wasm_instance *inst, const char *msg)
{
	if (inst)
		inst->store->trap_msg = msg;
	return WASM_TRAP_HOST;
}
