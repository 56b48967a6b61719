/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stage 1: binary decoder. Reads the sections of a module into struct
 * wasm_module; function bodies are only located here (validate.c reads
 * them). Every count read from the module is checked against a cap from
 * wasm_config and against the bytes left, before anything is allocated,
 * so a hostile module cannot make us allocate more than ~its own size.
 */
#include "decode.h"

static int rd_limits(struct rd *r, wasm_limits *lim, uint64_t bound, const char *what)
{
	uint8_t flag;
	uint32_t v;
	TRY(wasmi_rd_u8(r, &flag));
	if (flag > 1) {
		r->p--;
		return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "integer too large (limits flag)");
	}
	uint32_t at = rd_off(r);
	TRY(wasmi_rd_u32(r, &v));
	lim->min = v;
	lim->has_max = flag == 1;
	lim->max = 0;
	if (lim->has_max) {
		TRY(wasmi_rd_u32(r, &v));
		lim->max = v;
	}
	if (lim->min > bound || (lim->has_max && lim->max > bound)) {
		wasmi_set_error(r->err, WASM_ERR_INVALID, at, what);
		return -1;
	}
	if (lim->has_max && lim->max < lim->min) {
		wasmi_set_error(r->err, WASM_ERR_INVALID, at, "size minimum must not be greater than maximum");
		return -1;
	}
	return 0;
}

static int rd_table_type(struct rd *r, struct table_type *t)
{
	TRY(wasmi_rd_reftype(r, &t->elem));
	return rd_limits(r, &t->lim, 0xffffffffu, "table size");
}

static int rd_mem_type(struct rd *r, wasm_limits *l)
{
	return rd_limits(r, l, WASM_MAX_PAGES, "memory size must be at most 65536 pages (4GiB)");
}

static int rd_global_type(struct rd *r, struct global_type *g)
{
	uint8_t mut;
	TRY(wasmi_rd_valtype(r, &g->type));
	TRY(wasmi_rd_u8(r, &mut));
	if (mut > 1) {
		r->p--;
		return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "malformed mutability");
	}
	g->mut = mut;
	return 0;
}

/* Constant expression: one instruction then end, typed `want`. */
static int rd_cexpr(struct rd *r, wasm_module *m, uint8_t want, uint32_t nglobals_visible,
		    struct cexpr *e)
{
	uint8_t op;
	uint32_t at = rd_off(r);
	TRY(wasmi_rd_u8(r, &op));
	e->idx = 0;
	e->hi = 0;
	e->value = 0;
	switch (op) {
	case 0x41: {
		int32_t v;
		TRY(wasmi_rd_s32(r, &v));
		e->kind = CEXPR_CONST, e->type = WASM_I32, e->value = (uint32_t)v;
		break;
	}
	case 0x42: {
		int64_t v;
		TRY(wasmi_rd_s64(r, &v));
		e->kind = CEXPR_CONST, e->type = WASM_I64, e->value = (uint64_t)v;
		break;
	}
	case 0x43: {
		uint32_t v;
		TRY(wasmi_rd_fixed(r, &v, 4));
		e->kind = CEXPR_CONST, e->type = WASM_F32, e->value = v;
		break;
	}
	case 0x44: {
		uint64_t v;
		TRY(wasmi_rd_fixed(r, &v, 8));
		e->kind = CEXPR_CONST, e->type = WASM_F64, e->value = v;
		break;
	}
	case 0x23: {
		TRY(wasmi_rd_u32(r, &e->idx));
		if (e->idx >= nglobals_visible || e->idx >= m->nglobals) {
			wasmi_set_error(r->err, WASM_ERR_INVALID, at, "unknown global");
			return -1;
		}
		if (m->globals[e->idx].mut) {
			wasmi_set_error(r->err, WASM_ERR_INVALID, at, "constant expression required");
			return -1;
		}
		e->kind = CEXPR_GLOBAL, e->type = m->globals[e->idx].type;
		break;
	}
	case 0xd2:
		TRY(wasmi_rd_u32(r, &e->idx));
		if (e->idx >= m->nfuncs) {
			wasmi_set_error(r->err, WASM_ERR_INVALID, at, "unknown function");
			return -1;
		}
		e->kind = CEXPR_REF_FUNC, e->type = WASM_FUNCREF;
		m->declared_funcs[e->idx >> 3] |= (uint8_t)(1u << (e->idx & 7));
		break;
	case 0xd0:
		TRY(wasmi_rd_reftype(r, &e->type));
		e->kind = CEXPR_REF_NULL;
		break;
	case 0xfd: {
		uint32_t sub;
		TRY(wasmi_rd_u32(r, &sub));
		if (sub != 12) {
			wasmi_set_error(r->err, WASM_ERR_INVALID, at, "constant expression required");
			return -1;
		}
		TRY(wasmi_rd_fixed(r, &e->value, 8));
		TRY(wasmi_rd_fixed(r, &e->hi, 8));
		e->kind = CEXPR_CONST, e->type = WASM_V128;
		break;
	}
	default:
		wasmi_set_error(r->err, WASM_ERR_INVALID, at, "constant expression required");
		return -1;
	}
	at = rd_off(r);
	TRY(wasmi_rd_u8(r, &op));
	if (op != 0x0b) {
		wasmi_set_error(r->err, WASM_ERR_INVALID, at, "constant expression required (type mismatch)");
		return -1;
	}
	if (e->type != want) {
		wasmi_set_error(r->err, WASM_ERR_INVALID, at, "type mismatch");
		return -1;
	}
	return 0;
}

static int sec_type(struct rd *r, wasm_module *m)
{
	TRY(wasmi_rd_count(r, r->cfg->max_types, 3, &m->ntypes));
	m->types = wasm_zalloc(r->cfg, (size_t)m->ntypes * sizeof(*m->types));
	if (m->ntypes && !m->types)
		return wasmi_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
	for (uint32_t i = 0; i < m->ntypes; i++) {
		struct functype *t = &m->types[i];
		uint8_t form;
		uint32_t np, nr;
		TRY(wasmi_rd_u8(r, &form));
		if (form != 0x60) {
			r->p--;
			return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "integer representation too long (bad type form)");
		}
		TRY(wasmi_rd_count(r, r->cfg->max_params, 1, &np));
		const uint8_t *pp = r->p;
		for (uint32_t k = 0; k < np; k++) {
			uint8_t vt;
			TRY(wasmi_rd_valtype(r, &vt));
		}
		TRY(wasmi_rd_count(r, r->cfg->max_params, 1, &nr));
		const uint8_t *rp = r->p;
		for (uint32_t k = 0; k < nr; k++) {
			uint8_t vt;
			TRY(wasmi_rd_valtype(r, &vt));
		}
		t->types = wasm_alloc(r->cfg, (size_t)np + nr + 1);
		if (!t->types)
			return wasmi_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
		__builtin_memcpy(t->types, pp, np);
		__builtin_memcpy(t->types + np, rp, nr);
		t->nparams = np, t->nresults = nr;
		if (wasmi_functype_init_pub(r->cfg, t) < 0)
			return wasmi_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
	}
	return 0;
}

static int grow_space(struct rd *r, void **arr, uint32_t have, uint32_t add, size_t elsz, uint32_t cap)
{
	if ((uint64_t)have + add > cap)
		return wasmi_rd_fail(r, WASM_ERR_LIMIT, "count exceeds configured limit");
	void *n = wasm_realloc(r->cfg, *arr, (size_t)have * elsz, (size_t)(have + add) * elsz);
	if (!n && have + add)
		return wasmi_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
	__builtin_memset((char *)n + (size_t)have * elsz, 0, (size_t)add * elsz);
	*arr = n;
	return 0;
}

static int sec_import(struct rd *r, wasm_module *m)
{
	uint32_t n;
	TRY(wasmi_rd_count(r, r->cfg->max_imports, 4, &n));
	m->imports = wasm_zalloc(r->cfg, (size_t)n * sizeof(*m->imports));
	if (n && !m->imports)
		return wasmi_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		struct import *im = &m->imports[i];
		m->nimports = i + 1;
		TRY(wasmi_rd_name(r, &im->module));
		TRY(wasmi_rd_name(r, &im->name));
		TRY(wasmi_rd_u8(r, &im->kind));
		uint32_t at = rd_off(r);
		switch (im->kind) {
		case WASM_EXTERN_FUNC: {
			uint32_t t;
			TRY(wasmi_rd_u32(r, &t));
			if (t >= m->ntypes) {
				wasmi_set_error(r->err, WASM_ERR_INVALID, at, "unknown type");
				return -1;
			}
			TRY(grow_space(r, (void **)&m->func_types, m->nfuncs, 1, 4, r->cfg->max_functions));
			im->idx = m->nfuncs++;
			m->nfunc_imports++;
			m->func_types[im->idx] = t;
			break;
		}
		case WASM_EXTERN_TABLE:
			TRY(grow_space(r, (void **)&m->tables, m->ntables, 1, sizeof(*m->tables), r->cfg->max_tables));
			im->idx = m->ntables++;
			m->ntable_imports++;
			TRY(rd_table_type(r, &m->tables[im->idx]));
			break;
		case WASM_EXTERN_MEMORY:
			TRY(grow_space(r, (void **)&m->mems, m->nmems, 1, sizeof(*m->mems), r->cfg->max_memories));
			im->idx = m->nmems++;
			m->nmem_imports++;
			TRY(rd_mem_type(r, &m->mems[im->idx]));
			break;
		case WASM_EXTERN_GLOBAL:
			TRY(grow_space(r, (void **)&m->globals, m->nglobals, 1, sizeof(*m->globals), r->cfg->max_globals));
			im->idx = m->nglobals++;
			m->nglobal_imports++;
			TRY(rd_global_type(r, &m->globals[im->idx]));
			break;
		default:
			r->p--;
			return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "malformed import kind");
		}
	}
	return 0;
}

static int sec_function(struct rd *r, wasm_module *m, uint32_t *ndefined)
{
	uint32_t n;
	TRY(wasmi_rd_count(r, r->cfg->max_functions, 1, &n));
	TRY(grow_space(r, (void **)&m->func_types, m->nfuncs, n, 4, r->cfg->max_functions));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t at = rd_off(r), t;
		TRY(wasmi_rd_u32(r, &t));
		if (t >= m->ntypes) {
			wasmi_set_error(r->err, WASM_ERR_INVALID, at, "unknown type");
			return -1;
		}
		m->func_types[m->nfuncs + i] = t;
	}
	m->nfuncs += n;
	*ndefined = n;
	return 0;
}

static int sec_table(struct rd *r, wasm_module *m)
{
	uint32_t n;
	TRY(wasmi_rd_count(r, r->cfg->max_tables, 3, &n));
	TRY(grow_space(r, (void **)&m->tables, m->ntables, n, sizeof(*m->tables), r->cfg->max_tables));
	for (uint32_t i = 0; i < n; i++)
		TRY(rd_table_type(r, &m->tables[m->ntables++]));
	return 0;
}

static int sec_memory(struct rd *r, wasm_module *m)
{
	uint32_t n;
	uint32_t at = rd_off(r);
	TRY(wasmi_rd_count(r, r->cfg->max_memories, 2, &n));
	TRY(grow_space(r, (void **)&m->mems, m->nmems, n, sizeof(*m->mems), r->cfg->max_memories));
	for (uint32_t i = 0; i < n; i++)
		TRY(rd_mem_type(r, &m->mems[m->nmems++]));
	if (m->nmems > 1) {
		wasmi_set_error(r->err, WASM_ERR_INVALID, at, "multiple memories");
		return -1;
	}
	return 0;
}

static int sec_global(struct rd *r, wasm_module *m)
{
	uint32_t n;
	TRY(wasmi_rd_count(r, r->cfg->max_globals, 4, &n));
	uint32_t visible = m->nglobal_imports;
	TRY(grow_space(r, (void **)&m->globals, m->nglobals, n, sizeof(*m->globals), r->cfg->max_globals));
	for (uint32_t i = 0; i < n; i++) {
		struct global_type *g = &m->globals[m->nglobals];
		TRY(rd_global_type(r, g));
		m->nglobals++;
		TRY(rd_cexpr(r, m, g->type, visible, &g->init));
	}
	return 0;
}

static int sec_export(struct rd *r, wasm_module *m)
{
	uint32_t n;
	TRY(wasmi_rd_count(r, r->cfg->max_exports, 3, &n));
	m->exports = wasm_zalloc(r->cfg, (size_t)n * sizeof(*m->exports));
	if (n && !m->exports)
		return wasmi_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		struct export *e = &m->exports[i];
		uint32_t at = rd_off(r);
		m->nexports = i + 1;
		TRY(wasmi_rd_name_len(r, &e->name, &e->name_len));
		TRY(wasmi_rd_u8(r, &e->kind));
		TRY(wasmi_rd_u32(r, &e->idx));
		uint32_t lim;
		switch (e->kind) {
		case WASM_EXTERN_FUNC: lim = m->nfuncs; break;
		case WASM_EXTERN_TABLE: lim = m->ntables; break;
		case WASM_EXTERN_MEMORY: lim = m->nmems; break;
		case WASM_EXTERN_GLOBAL: lim = m->nglobals; break;
		default:
			return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "malformed export kind");
		}
		if (e->idx >= lim) {
			wasmi_set_error(r->err, WASM_ERR_INVALID, at, "unknown export index");
			return -1;
		}
		if (e->kind == WASM_EXTERN_FUNC)
			m->declared_funcs[e->idx >> 3] |= (uint8_t)(1u << (e->idx & 7));
		/* Duplicate names: quadratic but bounded by max_exports. */
		for (uint32_t k = 0; k < i; k++)
			if (m->exports[k].name_len == e->name_len &&
			    !__builtin_memcmp(m->exports[k].name, e->name, e->name_len)) {
				wasmi_set_error(r->err, WASM_ERR_INVALID, at, "duplicate export name");
				return -1;
			}
	}
	return 0;
}

static int sec_start(struct rd *r, wasm_module *m)
{
	uint32_t at = rd_off(r);
	TRY(wasmi_rd_u32(r, &m->start));
	if (m->start >= m->nfuncs) {
		wasmi_set_error(r->err, WASM_ERR_INVALID, at, "unknown function");
		return -1;
	}
	const struct functype *t = &m->types[m->func_types[m->start]];
	if (t->nparams || t->nresults) {
		wasmi_set_error(r->err, WASM_ERR_INVALID, at, "start function must have type [] -> []");
		return -1;
	}
	m->has_start = true;
	return 0;
}

static int check_table(struct rd *r, wasm_module *m, uint32_t at, uint32_t t)
{
	if (t >= m->ntables) {
		wasmi_set_error(r->err, WASM_ERR_INVALID, at, "unknown table");
		return -1;
	}
	return 0;
}

static int sec_elem(struct rd *r, wasm_module *m)
{
	uint32_t n;
	TRY(wasmi_rd_count(r, r->cfg->max_segments, 1, &n));
	m->elems = wasm_zalloc(r->cfg, (size_t)n * sizeof(*m->elems));
	if (n && !m->elems)
		return wasmi_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		struct elem_seg *s = &m->elems[i];
		uint32_t flags, at = rd_off(r);
		m->nelems = i + 1;
		TRY(wasmi_rd_u32(r, &flags));
		if (flags > 7)
			return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "malformed elements segment kind");
		s->mode = (flags & 1) ? ((flags & 2) ? SEG_DECLARATIVE : SEG_PASSIVE) : SEG_ACTIVE;
		s->table = 0;
		s->type = WASM_FUNCREF;
		if (s->mode == SEG_ACTIVE) {
			at = rd_off(r);
			if (flags & 2)
				TRY(wasmi_rd_u32(r, &s->table));
			TRY(check_table(r, m, at, s->table));
			TRY(rd_cexpr(r, m, WASM_I32, m->nglobal_imports, &s->offset));
		}
		bool exprs = flags & 4;
		if (flags & 3) {
			if (exprs) {
				TRY(wasmi_rd_reftype(r, &s->type));
			} else {
				uint8_t kind;
				TRY(wasmi_rd_u8(r, &kind));
				if (kind != 0)
					return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "malformed element kind");
			}
		}
		TRY(wasmi_rd_count(r, r->cfg->max_segment_elems, 1, &s->n));
		s->items = wasm_zalloc(r->cfg, (size_t)s->n * sizeof(*s->items));
		if (s->n && !s->items)
			return wasmi_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
		for (uint32_t k = 0; k < s->n; k++) {
			struct cexpr *e = &s->items[k];
			if (exprs) {
				TRY(rd_cexpr(r, m, s->type, m->nglobal_imports, e));
			} else {
				uint32_t fat = rd_off(r);
				TRY(wasmi_rd_u32(r, &e->idx));
				if (e->idx >= m->nfuncs) {
					wasmi_set_error(r->err, WASM_ERR_INVALID, fat, "unknown function");
					return -1;
				}
				e->kind = CEXPR_REF_FUNC, e->type = WASM_FUNCREF;
				m->declared_funcs[e->idx >> 3] |= (uint8_t)(1u << (e->idx & 7));
			}
		}
		if (s->mode == SEG_ACTIVE && m->tables[s->table].elem != s->type) {
			wasmi_set_error(r->err, WASM_ERR_INVALID, at, "type mismatch");
			return -1;
		}
	}
	return 0;
}

static int sec_code(struct rd *r, wasm_module *m, uint32_t ndefined)
{
	uint32_t n;
	TRY(wasmi_rd_count(r, r->cfg->max_functions, 1, &n));
	if (n != ndefined)
		return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "function and code section have inconsistent lengths");
	for (uint32_t i = 0; i < n; i++) {
		struct func_code *c = &m->code[i];
		uint32_t size;
		TRY(wasmi_rd_u32(r, &size));
		if (size > (uint32_t)(r->end - r->p))
			return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "unexpected end (code size)");
		if (size > r->cfg->max_function_size)
			return wasmi_rd_fail(r, WASM_ERR_LIMIT, "function body exceeds configured limit");
		struct rd b = { r->base, r->p, r->p + size, r->err, r->cfg };
		uint32_t ngroups;
		uint64_t total = 0;
		TRY(wasmi_rd_count(&b, 0xffffffffu, 2, &ngroups));
		const uint8_t *groups = b.p;
		const struct functype *ft = &m->types[m->func_types[m->nfunc_imports + i]];
		for (uint32_t g = 0; g < ngroups; g++) {
			uint32_t cnt;
			uint8_t vt;
			TRY(wasmi_rd_u32(&b, &cnt));
			TRY(wasmi_rd_valtype(&b, &vt));
			total += cnt;
			if (total > 0xffffffffu)
				return wasmi_rd_fail(&b, WASM_ERR_MALFORMED, "too many locals");
		}
		if (total + ft->nparams > r->cfg->max_locals)
			return wasmi_rd_fail(&b, WASM_ERR_LIMIT, "too many locals (configured limit)");
		c->nlocals = (uint32_t)total;
		c->local_types = wasm_alloc(r->cfg, (size_t)total + 1);
		if (!c->local_types)
			return wasmi_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
		b.p = groups;
		uint32_t k = 0;
		for (uint32_t g = 0; g < ngroups; g++) {
			uint32_t cnt;
			uint8_t vt;
			TRY(wasmi_rd_u32(&b, &cnt));
			TRY(wasmi_rd_valtype(&b, &vt));
			__builtin_memset(c->local_types + k, vt, cnt);
			k += cnt;
		}
		c->body_off = rd_off(&b);
		c->body_len = (uint32_t)(b.end - b.p);
		r->p += size;
	}
	return 0;
}

static int sec_data(struct rd *r, wasm_module *m)
{
	uint32_t n;
	TRY(wasmi_rd_count(r, r->cfg->max_segments, 1, &n));
	if (m->has_datacount && n != m->datacount)
		return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "data count and data section have inconsistent lengths");
	m->datas = wasm_zalloc(r->cfg, (size_t)n * sizeof(*m->datas));
	if (n && !m->datas)
		return wasmi_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		struct data_seg *s = &m->datas[i];
		uint32_t flags, at = rd_off(r);
		m->ndatas = i + 1;
		TRY(wasmi_rd_u32(r, &flags));
		if (flags > 2)
			return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "malformed data segment kind");
		s->mode = flags == 1 ? SEG_PASSIVE : SEG_ACTIVE;
		if (flags == 2)
			TRY(wasmi_rd_u32(r, &s->mem));
		if (s->mode == SEG_ACTIVE) {
			if (s->mem >= m->nmems) {
				wasmi_set_error(r->err, WASM_ERR_INVALID, at, "unknown memory");
				return -1;
			}
			TRY(rd_cexpr(r, m, WASM_I32, m->nglobal_imports, &s->offset));
		}
		TRY(wasmi_rd_u32(r, &s->len));
		if (s->len > (uint32_t)(r->end - r->p))
			return wasmi_rd_fail(r, WASM_ERR_MALFORMED, "unexpected end of section or function");
		s->bytes = wasm_alloc(r->cfg, (size_t)s->len + 1);
		if (!s->bytes)
			return wasmi_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
		TRY(wasmi_rd_fixed(r, s->bytes, s->len));
	}
	return 0;
}

/* Section ids in the order the binary format requires them. */
static int section_rank(uint8_t id)
{
	static const int8_t rank[13] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10 };
	return id <= 12 ? rank[id] : -1;
}

int wasmi_decode_module(wasm_module *m, const uint8_t *bytes, size_t len, wasm_error *err)
{
	struct rd r = { bytes, bytes, bytes + len, err, &m->cfg };
	uint8_t hdr[8];
	static const uint8_t want[8] = { 0, 'a', 's', 'm', 1, 0, 0, 0 };
	int last = 0;
	uint32_t ndefined = 0;
	bool have_func_sec = false, have_code_sec = false;

	if (len > m->cfg.max_module_size)
		return wasmi_rd_fail(&r, WASM_ERR_LIMIT, "module exceeds configured size limit");
	if (len < 4 || __builtin_memcmp(bytes, want, 4))
		return wasmi_rd_fail(&r, WASM_ERR_MALFORMED, "magic header not detected");
	if (len < 8 || __builtin_memcmp(bytes + 4, want + 4, 4)) {
		r.p = bytes + 4;
		return wasmi_rd_fail(&r, WASM_ERR_MALFORMED, "unknown binary version");
	}
	TRY(wasmi_rd_fixed(&r, hdr, 8));
	/* bitmap for ref.func declarations; grown once nfuncs is known */
	while (r.p < r.end) {
		uint8_t id;
		uint32_t size;
		uint32_t at = rd_off(&r);
		TRY(wasmi_rd_u8(&r, &id));
		TRY(wasmi_rd_u32(&r, &size));
		if (size > (uint32_t)(r.end - r.p))
			return wasmi_rd_fail(&r, WASM_ERR_MALFORMED, "section size mismatch (length out of bounds)");
		int rank = section_rank(id);
		if (rank < 0) {
			wasmi_set_error(err, WASM_ERR_MALFORMED, at, "malformed section id");
			return -1;
		}
		if (rank && rank <= last) {
			wasmi_set_error(err, WASM_ERR_MALFORMED, at, "unexpected content after last section (section order)");
			return -1;
		}
		if (rank)
			last = rank;
		struct rd s = { bytes, r.p, r.p + size, err, &m->cfg };
		int rc = 0;
		switch (id) {
		case 0:
			rc = wasmi_rd_name(&s, NULL);
			s.p = s.end;
			break;
		case 1: rc = sec_type(&s, m); break;
		case 2: rc = sec_import(&s, m); break;
		case 3:
			rc = sec_function(&s, m, &ndefined);
			have_func_sec = true;
			break;
		case 4: rc = sec_table(&s, m); break;
		case 5: rc = sec_memory(&s, m); break;
		case 6: rc = sec_global(&s, m); break;
		case 7: rc = sec_export(&s, m); break;
		case 8: rc = sec_start(&s, m); break;
		case 9: rc = sec_elem(&s, m); break;
		case 12:
			rc = wasmi_rd_u32(&s, &m->datacount);
			if (rc == 0 && m->datacount > m->cfg.max_segments)
				rc = wasmi_rd_fail(&s, WASM_ERR_LIMIT, "count exceeds configured limit");
			m->has_datacount = true;
			break;
		case 10:
			rc = sec_code(&s, m, ndefined);
			have_code_sec = true;
			break;
		case 11: rc = sec_data(&s, m); break;
		}
		if (rc < 0)
			return -1;
		if (s.p != s.end) {
			wasmi_set_error(err, WASM_ERR_MALFORMED, rd_off(&s), "section size mismatch");
			return -1;
		}
		r.p = s.end;
		/* Allocate per-function state as soon as the function section ends,
		 * and the ref.func bitmap once the function count is final. */
		if (id == 3 || (id == 2 && !have_func_sec)) {
			size_t bm = ((size_t)m->nfuncs + 8) / 8;
			uint8_t *nb = wasm_zalloc(&m->cfg, bm);
			if (!nb)
				return wasmi_rd_fail(&r, WASM_ERR_NOMEM, "out of memory");
			wasm_free(&m->cfg, m->declared_funcs, 0);
			m->declared_funcs = nb;
		}
		if (id == 3 && ndefined) {
			m->code = wasm_zalloc(&m->cfg, (size_t)ndefined * sizeof(*m->code));
			if (!m->code)
				return wasmi_rd_fail(&r, WASM_ERR_NOMEM, "out of memory");
		}
		if (id < 3 && id != 0 && !m->declared_funcs) {
			/* keep the invariant "bitmap exists" for later sections */
		}
	}
	if (!m->declared_funcs) {
		m->declared_funcs = wasm_zalloc(&m->cfg, ((size_t)m->nfuncs + 8) / 8);
		if (!m->declared_funcs)
			return wasmi_rd_fail(&r, WASM_ERR_NOMEM, "out of memory");
	}
	if (m->nmems > 1)
		return wasmi_rd_fail(&r, WASM_ERR_INVALID, "multiple memories");
	if (ndefined && !have_code_sec)
		return wasmi_rd_fail(&r, WASM_ERR_MALFORMED, "function and code section have inconsistent lengths");
	if (m->has_datacount && m->datacount != m->ndatas)
		return wasmi_rd_fail(&r, WASM_ERR_MALFORMED, "data count and data section have inconsistent lengths");
	return 0;
}
