/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stage 2: function-body validation (the algorithm of the spec's appendix:
 * an operand-type stack and a control stack), driving compile.c. Numeric
 * and memory instructions come from the tables in opcodes.h.
 */
#include "compile.h"

#define I32 WASM_I32
#define I64 WASM_I64
#define F32 WASM_F32
#define F64 WASM_F64

static const uint8_t vt_single[] = { WASM_I32, WASM_I64, WASM_F32, WASM_F64, WASM_V128, WASM_FUNCREF, WASM_EXTERNREF };

static const uint8_t *single(uint8_t t)
{
	for (unsigned i = 0; i < sizeof(vt_single); i++)
		if (vt_single[i] == t)
			return &vt_single[i];
	return vt_single;
}

int wasmi_vd_invalid(struct fc *c, const char *msg)
{
	return wasmi_cc_fail(c, WASM_ERR_INVALID, msg);
}

/* Double the array *p of *cap elements (first to min). */
static int grow(struct fc *c, void **p, uint32_t *cap, uint32_t min, size_t elem)
{
	uint32_t ncap = *cap ? *cap * 2 : min;
	void *n = wasm_realloc(c->cfg, *p, (size_t)*cap * elem, (size_t)ncap * elem);
	if (!n)
		return wasmi_cc_fail(c, WASM_ERR_NOMEM, "out of memory");
	*p = n;
	*cap = ncap;
	return 0;
}

static int push(struct fc *c, uint8_t t)
{
	if (c->vh == c->vcap)
		TRY(grow(c, (void **)&c->vs, &c->vcap, 64, sizeof(*c->vs)));
	uint32_t slot = next_slot(c);
	c->vs[c->vh++] = (struct vent){ .type = t, .slot = slot, .local = NO_LOCAL };
	if (slot + width_of(t) > c->smax) {
		c->smax = slot + width_of(t);
		if (c->smax > c->cfg->max_value_stack)
			return wasmi_cc_fail(c, WASM_ERR_LIMIT, "operand stack exceeds configured limit");
	}
	return 0;
}

/* Pop one value; returns its type (TY_UNKNOWN when polymorphic), or -1. */
static int pop(struct fc *c, uint8_t expect)
{
	struct ctrl *t = &c->cs[c->ch - 1];
	if (c->vh == t->height) {
		if (t->unreachable)
			return TY_UNKNOWN;
		return wasmi_vd_invalid(c, "type mismatch (operand stack underflow)");
	}
	uint8_t got = c->vs[--c->vh].type;
	if (expect != TY_UNKNOWN && got != TY_UNKNOWN && got != expect)
		return wasmi_vd_invalid(c, "type mismatch");
	return got;
}

static int pop_vals(struct fc *c, uint32_t n, const uint8_t *types)
{
	for (uint32_t i = n; i-- > 0;)
		if (pop(c, types[i]) < 0)
			return -1;
	return 0;
}

static int push_vals(struct fc *c, uint32_t n, const uint8_t *types)
{
	for (uint32_t i = 0; i < n; i++)
		TRY(push(c, types[i]));
	return 0;
}

static void set_unreachable(struct fc *c)
{
	struct ctrl *t = &c->cs[c->ch - 1];
	c->vh = t->height;
	t->unreachable = true;
	c->dead = true;
}

static int push_ctrl(struct fc *c, uint8_t kind, uint32_t np, const uint8_t *p, uint32_t nr, const uint8_t *r)
{
	if (c->ch == c->ccap) {
		if (c->ccap >= c->cfg->max_nesting)
			return wasmi_cc_fail(c, WASM_ERR_LIMIT, "block nesting exceeds configured limit");
		TRY(grow(c, (void **)&c->cs, &c->ccap, 16, sizeof(*c->cs)));
	}
	struct ctrl *t = &c->cs[c->ch++];
	*t = (struct ctrl){ .kind = kind, .entry_dead = c->dead, .height = c->vh,
			    .slot_base = next_slot(c), .nparams = np,
			    .nresults = nr, .params = p, .results = r, .loop_pos = NO_POS,
			    .fixups = NO_POS, .else_fix = NO_POS };
	return push_vals(c, np, p);
}

static int read_blocktype(struct fc *c, uint32_t *np, const uint8_t **p, uint32_t *nr, const uint8_t **r)
{
	int64_t bt;
	TRY(wasmi_rd_s33(c->r, &bt));
	*np = 0, *p = NULL;
	if (bt == -64) {
		*nr = 0, *r = NULL;
		return 0;
	}
	if (bt < 0) {
		uint8_t t = (uint8_t)(bt & 0x7f);
		if (t != WASM_I32 && t != WASM_I64 && t != WASM_F32 && t != WASM_F64 && t != WASM_V128 &&
		    !wasmi_is_reftype(t))
			return wasmi_cc_fail(c, WASM_ERR_MALFORMED, "malformed value type");
		*nr = 1, *r = single(t);
		return 0;
	}
	if ((uint64_t)bt >= c->m->ntypes)
		return wasmi_vd_invalid(c, "unknown type");
	const struct functype *ft = &c->m->types[bt];
	*np = ft->nparams, *p = ft->types;
	*nr = ft->nresults, *r = ft->types + ft->nparams;
	return 0;
}

static uint32_t label_arity(const struct ctrl *t)
{
	return t->kind == CT_LOOP ? t->nparams : t->nresults;
}

static const uint8_t *label_types(const struct ctrl *t)
{
	return t->kind == CT_LOOP ? t->params : t->results;
}

/*
 * Type-check the label's values without consuming them: the spec's
 * push_vals(pop_vals(label_types)) — values that came from the polymorphic
 * (unreachable) stack come back as unknown, below the real ones.
 */
static int check_label(struct fc *c, uint32_t depth)
{
	struct ctrl *t = &c->cs[c->ch - 1 - depth];
	uint32_t n = label_arity(t);
	uint32_t vh = c->vh;
	TRY(pop_vals(c, n, label_types(t)));
	uint32_t low = c->vh, k = vh - low, u = n - k;
	if (u == 0) {
		c->vh = vh;
		return 0;
	}
	c->vh = vh;
	for (uint32_t i = 0; i < u; i++) /* grow above the real entries */
		TRY(push(c, TY_UNKNOWN));
	__builtin_memmove(&c->vs[low + u], &c->vs[low], k * sizeof(struct vent));
	for (uint32_t i = 0; i < u; i++)
		c->vs[low + i] = (struct vent){ .type = TY_UNKNOWN, .slot = c->vs[low].slot, .local = NO_LOCAL };
	c->vh = low + n;
	return 0;
}

static int read_label(struct fc *c, uint32_t *ret)
{
	TRY(wasmi_rd_u32(c->r, ret));
	if (*ret >= c->ch)
		return wasmi_vd_invalid(c, "unknown label");
	return 0;
}

int wasmi_vd_zero_byte(struct fc *c)
{
	uint8_t b;
	TRY(wasmi_rd_u8(c->r, &b));
	if (b != 0)
		return wasmi_cc_fail(c, WASM_ERR_MALFORMED, "zero byte expected");
	return 0;
}

int wasmi_vd_need_memory(struct fc *c)
{
	if (c->m->nmems == 0)
		return wasmi_vd_invalid(c, "unknown memory 0");
	return 0;
}

int wasmi_vd_read_table(struct fc *c, uint32_t *ret)
{
	TRY(wasmi_rd_u32(c->r, ret));
	if (*ret >= c->m->ntables)
		return wasmi_vd_invalid(c, "unknown table");
	return 0;
}

/* emit [op] followed by n operand cells */
static int emit(struct fc *c, unsigned op, unsigned n, const uint64_t *ops, int dst_index)
{
	TRY(wasmi_cc_op(c, op));
	for (unsigned i = 0; i < n; i++) {
		TRY(wasmi_cc_emit(c, ops[i]));
		if ((int)i == dst_index)
			wasmi_cc_mark_dst(c);
	}
	return 0;
}
#define EMIT(op, dsti, ...)                                                       \
	do {                                                                      \
		const uint64_t ops_[] = { __VA_ARGS__ };                          \
		TRY(emit(c, op, sizeof(ops_) / sizeof(ops_[0]), ops_, dsti));     \
	} while (0)

static unsigned imm_variant(unsigned op)
{
	switch (op) {
#define X_IMMV(name, expr) \
	case OP_##name:    \
		return OP_##name##_imm;
		WASM_IMM_I32_OPS(X_IMMV)
		WASM_IMM_I64_OPS(X_IMMV)
#undef X_IMMV
	default:
		return OP_MAX;
	}
}

int wasmi_vd_numeric(struct fc *c, unsigned op, uint8_t a, uint8_t b, uint8_t out)
{
	uint32_t ha, hb = 0;
	if (b) {
		TRY(pop(c, b));
		hb = c->vh;
	}
	TRY(pop(c, a));
	ha = c->vh;
	if (c->dead)
		return push(c, out);
	if (op == OP_i32_eqz && wasmi_cc_fold_eqz(c, ha)) {
		TRY(push(c, out)); /* same slot: the rewritten instruction's result */
		return 0;
	}
	uint64_t sa = operand_slot(c, ha), sb = b ? operand_slot(c, hb) : 0;
	unsigned iop = b ? imm_variant(op) : OP_MAX;
	if (iop != OP_MAX && c->vs[hb].is_const && c->vs[hb].local == NO_LOCAL &&
	    c->last_kind == OP_const && c->last_dst != NO_POS && c->code[c->last_dst].u == slot_of(c, hb)) {
		uint64_t imm = c->vs[hb].cval;
		c->len = c->last_op; /* drop the const: its value becomes an immediate */
		TRY(push(c, out));
		EMIT(iop, 0, slot_of(c, ha), sa, imm);
		return 0;
	}
	if (op == OP_i32_add && c->vs[hb].local == NO_LOCAL && c->last_kind == OP_i32_shl_imm &&
	    c->last_dst != NO_POS && c->last_dst == c->last_op + 1 && c->code[c->last_dst].u == slot_of(c, hb) &&
	    sa != slot_of(c, hb)) {
		/* a + (i << k): fold the shift into the add (array indexing) */
		uint64_t i = c->code[c->last_op + 2].u, k = c->code[c->last_op + 3].u;
		c->len = c->last_op;
		TRY(push(c, out));
		EMIT(OP_i32_add_shl, 0, slot_of(c, ha), sa, i, k);
		return 0;
	}
	TRY(push(c, out));
	if (b)
		EMIT(op, 0, slot_of(c, ha), sa, sb);
	else
		EMIT(op, 0, slot_of(c, ha), sa);
	return 0;
}

static int push_const(struct fc *c, uint8_t t, uint64_t v)
{
	TRY(push(c, t));
	if (c->dead)
		return 0;
	EMIT(OP_const, 0, slot_of(c, c->vh - 1), v);
	c->vs[c->vh - 1].is_const = true;
	c->vs[c->vh - 1].cval = v;
	return 0;
}

static int op_call(struct fc *c, const struct functype *ft, unsigned op, uint64_t a1, uint64_t a2,
		   bool indirect)
{
	uint64_t es = 0;
	if (indirect) {
		TRY(pop(c, I32));
		es = c->dead ? 0 : operand_slot(c, c->vh);
	}
	if (!c->dead)
		for (uint32_t i = 0; i < ft->nparams && i < c->vh; i++)
			TRY(wasmi_cc_materialize(c, c->vh - 1 - i));
	TRY(pop_vals(c, ft->nparams, ft->types));
	uint32_t base = next_slot(c);
	if (indirect)
		EMIT(op, -1, a1, a2, base, es);
	else
		EMIT(op, -1, a1, base);
	/* the callee's frame starts at base and needs room for its results */
	TRY(push_vals(c, ft->nresults, ft->types + ft->nparams));
	return 0;
}

/* The end of a block's (or then-arm's) body: pop its results, no more. */
static int pop_results(struct fc *c, struct ctrl *t, const char *mismatch)
{
	uint32_t n = t->nresults;
	if (!c->dead)
		for (uint32_t i = 0; i < n && i < c->vh - t->height; i++)
			TRY(wasmi_cc_materialize(c, c->vh - 1 - i));
	TRY(pop_vals(c, n, t->results));
	if (c->vh != t->height)
		return wasmi_vd_invalid(c, mismatch);
	return 0;
}

static int end_block(struct fc *c)
{
	struct ctrl *t = &c->cs[c->ch - 1];
	uint32_t n = t->nresults;
	TRY(pop_results(c, t, "type mismatch (values remaining on stack at end of block)"));
	if (t->kind == CT_IF) {
		if (t->nparams != n || (n && __builtin_memcmp(t->params, t->results, n)))
			return wasmi_vd_invalid(c, "type mismatch (if without else)");
	}
	c->dead = t->entry_dead;
	wasmi_cc_bind_fixups(c, t);
	return 0;
}

static int body(struct fc *c)
{
	struct rd *r = c->r;
	wasm_module *m = c->m;
	for (;;) {
		uint8_t op;
		uint32_t x;
		uint64_t s[3];
		if (r->p >= r->end)
			return wasmi_cc_fail(c, WASM_ERR_MALFORMED, "unexpected end of function body");
		TRY(wasmi_rd_u8(r, &op));
		switch (op) {
		case 0x00:
			EMIT(OP_unreachable, -1, 0);
			set_unreachable(c);
			break;
		case 0x01:
			break;
		case 0x02: case 0x03: case 0x04: {
			uint32_t np, nr;
			const uint8_t *p, *rs;
			TRY(read_blocktype(c, &np, &p, &nr, &rs));
			uint32_t cond = 0;
			if (op == 0x04) {
				TRY(pop(c, I32));
				cond = c->vh;
			}
			if (!c->dead)
				for (uint32_t h = 0; h < c->vh; h++)
					TRY(wasmi_cc_materialize(c, h));
			uint32_t fix = NO_POS;
			if (op == 0x04 && !c->dead) {
				fix = wasmi_cc_fuse_branch(c, cond, true);
				if (fix == NO_POS) {
					fix = c->len;
					EMIT(OP_br_if_z, -1, operand_slot(c, cond), 0);
				}
			}
			TRY(pop_vals(c, np, p));
			TRY(push_ctrl(c, op == 0x02 ? CT_BLOCK : op == 0x03 ? CT_LOOP : CT_IF, np, p, nr, rs));
			struct ctrl *t = &c->cs[c->ch - 1];
			if (op == 0x03) {
				/* no loop header: backward jumps pay the fuel */
				wasmi_cc_reset_peephole(c);
				t->loop_pos = c->len;
			} else if (op == 0x04) {
				/* else_fix: start of the branch to the else arm; its
				 * offset is the branch's last cell (kept in loop_pos) */
				t->else_fix = fix;
				t->loop_pos = fix == NO_POS ? NO_POS : c->len - 1;
			}
			break;
		}
		case 0x05: {
			struct ctrl *t = &c->cs[c->ch - 1];
			if (t->kind != CT_IF)
				return wasmi_cc_fail(c, WASM_ERR_MALFORMED, "else without if");
			TRY(pop_results(c, t, "type mismatch"));
			if (!c->dead) {
				uint32_t at = c->len;
				EMIT(OP_br, -1, 0);
				TRY(wasmi_cc_jump_to(c, at, at + 1, 0));
			}
			c->dead = t->entry_dead;
			if (!t->entry_dead)
				wasmi_cc_patch_here(c, t->else_fix, t->loop_pos);
			t->kind = CT_ELSE;
			t->unreachable = false;
			t->else_fix = NO_POS;
			TRY(push_vals(c, t->nparams, t->params));
			break;
		}
		case 0x0b: {
			struct ctrl *t = &c->cs[c->ch - 1];
			if (t->kind == CT_IF) {
				/* end_block patches using else_fix + 2; use the recorded rel cell */
				uint32_t opstart = t->else_fix, rel = t->loop_pos;
				t->else_fix = NO_POS;
				TRY(end_block(c));
				if (!t->entry_dead && opstart != NO_POS)
					c->code[rel].i = (int64_t)c->len - (int64_t)opstart;
			} else {
				TRY(end_block(c));
			}
			if (t->kind == CT_FUNC) {
				c->ch--;
				c->dead = false;
				c->vh = 0;
				TRY(push_vals(c, c->nresults, c->results));
				TRY(wasmi_cc_return(c));
				return 0;
			}
			uint32_t nr = t->nresults;
			const uint8_t *rs = t->results;
			c->ch--;
			TRY(push_vals(c, nr, rs));
			break;
		}
		case 0x0c:
			TRY(read_label(c, &x));
			TRY(check_label(c, x));
			TRY(wasmi_cc_branch(c, x));
			set_unreachable(c);
			break;
		case 0x0d: {
			TRY(read_label(c, &x));
			TRY(pop(c, I32));
			uint32_t ch = c->vh;
			TRY(check_label(c, x));
			{ /* br_if pushes back the label types, not the popped values */
				struct ctrl *t = &c->cs[c->ch - 1 - x];
				uint32_t n = label_arity(t);
				for (uint32_t i = 0; i < n; i++)
					c->vs[c->vh - n + i].type = label_types(t)[i];
			}
			TRY(wasmi_cc_br_if(c, x, ch));
			break;
		}
		case 0x0e: {
			uint32_t n, def;
			TRY(wasmi_rd_u32(r, &n));
			if (n > c->cfg->max_br_table)
				return wasmi_cc_fail(c, WASM_ERR_LIMIT, "br_table exceeds configured limit");
			if ((uint64_t)n > (uint64_t)(r->end - r->p))
				return wasmi_cc_fail(c, WASM_ERR_MALFORMED, "unexpected end");
			const uint8_t *targets = r->p;
			for (uint32_t i = 0; i < n; i++)
				TRY(read_label(c, &x));
			TRY(read_label(c, &def));
			TRY(pop(c, I32));
			uint32_t hi = c->vh;
			uint32_t arity = label_arity(&c->cs[c->ch - 1 - def]);
			const uint8_t *after = r->p;
			r->p = targets;
			for (uint32_t i = 0; i <= n; i++) {
				if (i < n)
					TRY(wasmi_rd_u32(r, &x));
				else
					x = def;
				if (label_arity(&c->cs[c->ch - 1 - x]) != arity)
					return wasmi_vd_invalid(c, "type mismatch (br_table arity)");
				TRY(check_label(c, x));
			}
			r->p = after;
			if (!c->dead) {
				uint32_t at = c->len;
				EMIT(OP_br_table, -1, operand_slot(c, hi), n);
				for (uint32_t i = 0; i <= n; i++)
					TRY(wasmi_cc_emit(c, 0));
				/* direct targets, or stubs after the table that move values */
				for (int pass = 0; pass < 2; pass++) {
					r->p = targets;
					for (uint32_t i = 0; i <= n; i++) {
						if (i < n)
							TRY(wasmi_rd_u32(r, &x));
						else
							x = def;
						struct ctrl *t = &c->cs[c->ch - 1 - x];
						bool need = false;
						for (uint32_t k = 0; k < arity; k++)
							if (operand_slot(c, c->vh - arity + k) != wasmi_cc_label_slot(t, k))
								need = true;
						if (pass == 0 && !need)
							TRY(wasmi_cc_jump_to(c, at, at + 3 + i, x));
						if (pass == 1 && need) {
							c->code[at + 3 + i].i = (int64_t)c->len - (int64_t)at;
							TRY(wasmi_cc_branch(c, x));
						}
					}
				}
				r->p = after;
			}
			set_unreachable(c);
			break;
		}
		case 0x0f:
			TRY(pop_vals(c, c->nresults, c->results));
			if (!c->dead) {
				c->vh += c->nresults;
				TRY(wasmi_cc_return(c));
			}
			set_unreachable(c);
			break;
		case 0x10:
			TRY(wasmi_rd_u32(r, &x));
			if (x >= m->nfuncs)
				return wasmi_vd_invalid(c, "unknown function");
			TRY(op_call(c, &m->types[m->func_types[x]], OP_call, x, 0, false));
			break;
		case 0x11: {
			uint32_t ti, tab;
			TRY(wasmi_rd_u32(r, &ti));
			TRY(wasmi_vd_read_table(c, &tab));
			if (ti >= m->ntypes)
				return wasmi_vd_invalid(c, "unknown type");
			if (m->tables[tab].elem != WASM_FUNCREF)
				return wasmi_vd_invalid(c, "type mismatch (call_indirect on non-funcref table)");
			TRY(op_call(c, &m->types[ti], OP_call_indirect, tab, ti, true));
			break;
		}
		case 0x1a:
			TRY(pop(c, TY_UNKNOWN));
			break;
		case 0x1b: case 0x1c: {
			uint8_t t = TY_UNKNOWN;
			if (op == 0x1c) {
				uint32_t n;
				TRY(wasmi_rd_u32(r, &n));
				if (n != 1)
					return wasmi_vd_invalid(c, "invalid result arity");
				TRY(wasmi_rd_valtype(r, &t));
			}
			TRY(pop(c, I32));
			uint32_t hc = c->vh;
			int t2 = pop(c, t);
			TRY(t2);
			uint32_t hb = c->vh;
			int t1 = pop(c, t);
			TRY(t1);
			uint32_t ha = c->vh;
			if (op == 0x1b) {
				if ((t1 && wasmi_is_reftype((uint8_t)t1)) || (t2 && wasmi_is_reftype((uint8_t)t2)))
					return wasmi_vd_invalid(c, "type mismatch (select on reference types needs a type)");
				if (t1 && t2 && t1 != t2)
					return wasmi_vd_invalid(c, "type mismatch");
				t = (uint8_t)(t1 ? t1 : t2);
			}
			if (c->dead)
				TRY(push(c, t));
			else {
				uint64_t sa = operand_slot(c, ha), sb = operand_slot(c, hb), sc = operand_slot(c, hc);
				TRY(push(c, t));
				EMIT(t == WASM_V128 ? OP_select2 : OP_select, 0, slot_of(c, ha), sa, sb, sc);
			}
			break;
		}
		case 0x20:
			TRY(wasmi_rd_u32(r, &x));
			if (x >= c->nlocals)
				return wasmi_vd_invalid(c, "unknown local");
			TRY(push(c, c->ltypes[x]));
			if (!c->dead)
				c->vs[c->vh - 1].local = c->lslot[x];
			break;
		case 0x21: case 0x22: {
			TRY(wasmi_rd_u32(r, &x));
			if (x >= c->nlocals)
				return wasmi_vd_invalid(c, "unknown local");
			uint32_t vh = c->vh;
			TRY(pop(c, c->ltypes[x]));
			if (c->vh == vh) { /* polymorphic: nothing to move */
				if (op == 0x22)
					TRY(push(c, c->ltypes[x]));
				break;
			}
			c->vh++;
			c->vs[c->vh - 1].type = c->ltypes[x];
			TRY(wasmi_cc_local_set(c, x, op == 0x22));
			break;
		}
		case 0x23:
			TRY(wasmi_rd_u32(r, &x));
			if (x >= m->nglobals)
				return wasmi_vd_invalid(c, "unknown global");
			TRY(push(c, m->globals[x].type));
			EMIT(m->globals[x].type == WASM_V128 ? OP_global_get2 : OP_global_get, 0, slot_of(c, c->vh - 1), x);
			break;
		case 0x24:
			TRY(wasmi_rd_u32(r, &x));
			if (x >= m->nglobals)
				return wasmi_vd_invalid(c, "unknown global");
			if (!m->globals[x].mut)
				return wasmi_vd_invalid(c, "global is immutable");
			TRY(pop(c, m->globals[x].type));
			EMIT(m->globals[x].type == WASM_V128 ? OP_global_set2 : OP_global_set, -1, x,
			     c->dead ? 0 : operand_slot(c, c->vh));
			break;
		case 0x25: {
			TRY(wasmi_vd_read_table(c, &x));
			TRY(pop(c, I32));
			uint32_t hi = c->vh;
			uint64_t si = c->dead ? 0 : operand_slot(c, hi);
			TRY(push(c, m->tables[x].elem));
			EMIT(OP_table_get, 0, slot_of(c, hi), x, si);
			break;
		}
		case 0x26: {
			TRY(wasmi_vd_read_table(c, &x));
			TRY(pop(c, m->tables[x].elem));
			uint64_t sv = c->dead ? 0 : operand_slot(c, c->vh);
			TRY(pop(c, I32));
			EMIT(OP_table_set, -1, x, c->dead ? 0 : operand_slot(c, c->vh), sv);
			break;
		}
#define X_MEM(code, type, align, name, st)                                   \
	case code:                                                           \
		TRY(wasmi_vd_memop(c, OP_##name, WASM_##type, align, st));            \
		break;
		WASM_MEM_OPS(X_MEM)
#undef X_MEM
		case 0x3f:
			TRY(wasmi_vd_zero_byte(c));
			TRY(wasmi_vd_need_memory(c));
			TRY(push(c, I32));
			EMIT(OP_memory_size, 0, slot_of(c, c->vh - 1));
			break;
		case 0x40: {
			TRY(wasmi_vd_zero_byte(c));
			TRY(wasmi_vd_need_memory(c));
			TRY(wasmi_vd_pop_i32s(c, 1, s));
			TRY(push(c, I32));
			EMIT(OP_memory_grow, 0, slot_of(c, c->vh - 1), s[0]);
			break;
		}
		case 0x41: {
			int32_t v;
			TRY(wasmi_rd_s32(r, &v));
			TRY(push_const(c, I32, (uint32_t)v));
			break;
		}
		case 0x42: {
			int64_t v;
			TRY(wasmi_rd_s64(r, &v));
			TRY(push_const(c, I64, (uint64_t)v));
			break;
		}
		case 0x43: {
			uint32_t v;
			TRY(wasmi_rd_fixed(r, &v, 4));
			TRY(push_const(c, F32, v));
			break;
		}
		case 0x44: {
			uint64_t v;
			TRY(wasmi_rd_fixed(r, &v, 8));
			TRY(push_const(c, F64, v));
			break;
		}
#define X_NUM(code, name, a, b, o)                                                   \
	case code:                                                                   \
		TRY(wasmi_vd_numeric(c, OP_##name, WASM_##a, (uint8_t)(b + 0), WASM_##o));    \
		break;
#define WASM_0 0
			WASM_NUMERIC_OPS(X_NUM)
#undef X_NUM
		case 0xbc: case 0xbd: case 0xbe: case 0xbf: {
			static const uint8_t from[] = { F32, F64, I32, I64 }, to[] = { I32, I64, F32, F64 };
			/* same bits in the same slot: only the type changes */
			uint32_t vh = c->vh;
			TRY(pop(c, from[op - 0xbc]));
			if (c->vh == vh) {
				TRY(push(c, to[op - 0xbc]));
			} else {
				c->vh++;
				c->vs[c->vh - 1].type = to[op - 0xbc];
				c->vs[c->vh - 1].is_const = false;
			}
			break;
		}
		case 0xd0: {
			uint8_t t;
			TRY(wasmi_rd_reftype(r, &t));
			TRY(push_const(c, t, 0));
			c->vs[c->vh - 1].is_const = false;
			break;
		}
		case 0xd1: {
			int t = pop(c, TY_UNKNOWN);
			TRY(t);
			if (t != TY_UNKNOWN && !wasmi_is_reftype((uint8_t)t))
				return wasmi_vd_invalid(c, "type mismatch");
			uint32_t ha = c->vh;
			uint64_t sa = c->dead ? 0 : operand_slot(c, ha);
			TRY(push(c, I32));
			EMIT(OP_ref_is_null, 0, slot_of(c, ha), sa);
			break;
		}
		case 0xd2:
			TRY(wasmi_rd_u32(r, &x));
			if (x >= m->nfuncs)
				return wasmi_vd_invalid(c, "unknown function");
			if (!(m->declared_funcs[x >> 3] & (1u << (x & 7))))
				return wasmi_vd_invalid(c, "undeclared function reference");
			TRY(push(c, WASM_FUNCREF));
			EMIT(OP_ref_func, 0, slot_of(c, c->vh - 1), x);
			break;
		case 0xfc:
			TRY(wasmi_vd_op_fc(c));
			break;
		case 0xfd:
			TRY(wasmi_validate_simd(c));
			break;
		default:
			r->p--;
			return wasmi_cc_fail(c, WASM_ERR_MALFORMED, "illegal opcode");
		}
	}
}

int wasmi_vd_push(struct fc *c, uint8_t t)
{
	return push(c, t);
}

int wasmi_vd_pop(struct fc *c, uint8_t expect)
{
	return pop(c, expect);
}

int wasmi_vd_emit(struct fc *c, unsigned op, unsigned n, const uint64_t *ops, int dst_index)
{
	return emit(c, op, n, ops, dst_index);
}

int wasmi_validate_function(wasm_module *m, uint32_t fi, const uint8_t *bytes, wasm_error *err)
{
	struct func_code *code = &m->code[fi];
	const struct functype *ft = &m->types[m->func_types[m->nfunc_imports + fi]];
	struct rd r = { bytes, bytes + code->body_off, bytes + code->body_off + code->body_len, err, &m->cfg };
	struct fc c = { .m = m, .cfg = &m->cfg, .r = &r };
	int rc = -1;

	c.nlocals = ft->nparams + code->nlocals;
	c.ltypes = wasm_alloc(c.cfg, (size_t)c.nlocals + 1);
	if (!c.ltypes) {
		wasmi_rd_fail(&r, WASM_ERR_NOMEM, "out of memory");
		goto out;
	}
	__builtin_memcpy(c.ltypes, ft->types, ft->nparams);
	__builtin_memcpy(c.ltypes + ft->nparams, code->local_types, code->nlocals);
	c.lslot = wasm_alloc(c.cfg, ((size_t)c.nlocals + 1) * sizeof(uint32_t));
	if (!c.lslot) {
		wasmi_rd_fail(&r, WASM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < c.nlocals; i++) {
		c.lslot[i] = c.nlslots;
		c.nlslots += width_of(c.ltypes[i]);
		if (i + 1 == ft->nparams)
			code->param_slots = c.nlslots;
	}
	code->local_slots = c.nlslots - code->param_slots;
	c.smax = c.nlslots;
	c.nresults = ft->nresults;
	c.results = ft->types + ft->nparams;
	wasmi_cc_reset_peephole(&c);
	if (push_ctrl(&c, CT_FUNC, 0, NULL, ft->nresults, c.results) < 0)
		goto out;
	if (body(&c) < 0)
		goto out;
	if (r.p != r.end) {
		wasmi_rd_fail(&r, WASM_ERR_MALFORMED, "section size mismatch (operators after final end)");
		goto out;
	}
	if (wasmi_cc_finish(&c, code) < 0)
		goto out;
	rc = 0;
out:
	wasm_free(c.cfg, c.ltypes, 0);
	wasm_free(c.cfg, c.lslot, 0);
	wasm_free(c.cfg, c.code, 0);
	wasm_free(c.cfg, c.vs, 0);
	wasm_free(c.cfg, c.cs, 0);
	wasm_free(c.cfg, c.fx, 0);
	return rc;
}
