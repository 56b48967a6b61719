/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stage 3: emission of the internal form (see compile.h). validate.c calls
 * these helpers once an instruction type-checks. While the code is dead
 * (after br/return/unreachable) nothing is emitted.
 */
#include "compile.h"

int wasmi_cc_fail(struct fc *c, wasm_error_kind kind, const char *msg)
{
	return wasmi_rd_fail(c->r, kind, msg);
}

int wasmi_cc_emit(struct fc *c, uint64_t v)
{
	if (c->dead)
		return 0;
	if (c->len == c->cap) {
		uint32_t ncap = c->cap ? c->cap * 2 : 64;
		if ((c->m->code_cells + ncap) * sizeof(cell) > c->cfg->max_code_size)
			return wasmi_cc_fail(c, WASM_ERR_LIMIT, "compiled code exceeds configured limit");
		cell *n = wasm_realloc(c->cfg, c->code, (size_t)c->cap * sizeof(cell), (size_t)ncap * sizeof(cell));
		if (!n)
			return wasmi_cc_fail(c, WASM_ERR_NOMEM, "out of memory");
		c->code = n;
		c->cap = ncap;
	}
	c->code[c->len++].u = v;
	return 0;
}

int wasmi_cc_op(struct fc *c, unsigned op)
{
	if (c->dead)
		return 0;
	c->last_op = c->len;
	c->last_dst = NO_POS;
	c->last_kind = op;
	return wasmi_cc_emit(c, (uint64_t)(uintptr_t)wasmi_interp_handler(op));
}

void wasmi_cc_mark_dst(struct fc *c)
{
	if (!c->dead)
		c->last_dst = c->len - 1;
}

void wasmi_cc_reset_peephole(struct fc *c)
{
	c->last_op = c->last_dst = NO_POS;
	c->last_kind = OP_MAX;
}

static int cc_copy(struct fc *c, uint32_t dst, uint32_t src, uint8_t type)
{
	if (dst == src || c->dead)
		return 0;
	TRY(wasmi_cc_op(c, width_of(type) == 2 ? OP_copy2 : OP_copy));
	TRY(wasmi_cc_emit(c, dst));
	wasmi_cc_mark_dst(c);
	return wasmi_cc_emit(c, src);
}

int wasmi_cc_materialize(struct fc *c, uint32_t h)
{
	struct vent *e = &c->vs[h];
	if (e->local == NO_LOCAL)
		return 0;
	uint32_t l = e->local;
	e->local = NO_LOCAL;
	return cc_copy(c, slot_of(c, h), l, e->type);
}

static int cc_materialize_local(struct fc *c, uint32_t local)
{
	for (uint32_t h = 0; h < c->vh; h++)
		if (c->vs[h].local == local)
			TRY(wasmi_cc_materialize(c, h));
	return 0;
}

static struct ctrl *target(struct fc *c, uint32_t depth)
{
	return &c->cs[c->ch - 1 - depth];
}

static uint32_t label_arity(const struct ctrl *t)
{
	return t->kind == CT_LOOP ? t->nparams : t->nresults;
}

uint32_t wasmi_cc_label_slot(const struct ctrl *t, uint32_t i)
{
	const uint8_t *types = t->kind == CT_LOOP ? t->params : t->results;
	uint32_t s = t->slot_base;
	for (uint32_t k = 0; k < i; k++)
		s += width_of(types[k]);
	return s;
}

/* Does a branch to `depth` need value moves? */
static bool needs_moves(struct fc *c, uint32_t depth)
{
	struct ctrl *t = target(c, depth);
	uint32_t n = label_arity(t);
	for (uint32_t i = 0; i < n; i++)
		if (operand_slot(c, c->vh - n + i) != wasmi_cc_label_slot(t, i))
			return true;
	return false;
}

static int emit_moves(struct fc *c, uint32_t depth)
{
	struct ctrl *t = target(c, depth);
	uint32_t n = label_arity(t);
	/* ascending: destinations never lie above their sources */
	for (uint32_t i = 0; i < n; i++)
		TRY(cc_copy(c, wasmi_cc_label_slot(t, i), operand_slot(c, c->vh - n + i), c->vs[c->vh - n + i].type));
	return 0;
}

int wasmi_cc_jump_to(struct fc *c, uint32_t opstart, uint32_t rel_cell, uint32_t depth)
{
	if (c->dead)
		return 0;
	struct ctrl *t = target(c, depth);
	if (t->kind == CT_LOOP) {
		c->code[rel_cell].i = (int64_t)t->loop_pos - (int64_t)opstart;
		return 0;
	}
	if (c->nfx == c->fxcap) {
		uint32_t ncap = c->fxcap ? c->fxcap * 2 : 32;
		struct fixup *n = wasm_realloc(c->cfg, c->fx, (size_t)c->fxcap * sizeof(*n), (size_t)ncap * sizeof(*n));
		if (!n)
			return wasmi_cc_fail(c, WASM_ERR_NOMEM, "out of memory");
		c->fx = n;
		c->fxcap = ncap;
	}
	c->fx[c->nfx] = (struct fixup){ rel_cell, opstart, t->fixups };
	t->fixups = c->nfx++;
	return 0;
}

int wasmi_cc_patch_here(struct fc *c, uint32_t opstart, uint32_t rel_cell)
{
	if (opstart != NO_POS)
		c->code[rel_cell].i = (int64_t)c->len - (int64_t)opstart;
	wasmi_cc_reset_peephole(c);
	return 0;
}

int wasmi_cc_bind_fixups(struct fc *c, struct ctrl *t)
{
	for (uint32_t f = t->fixups; f != NO_POS; f = c->fx[f].next)
		c->code[c->fx[f].cell].i = (int64_t)c->len - (int64_t)c->fx[f].opstart;
	t->fixups = NO_POS;
	wasmi_cc_reset_peephole(c);
	return 0;
}

int wasmi_cc_branch(struct fc *c, uint32_t depth)
{
	if (c->dead)
		return 0;
	TRY(emit_moves(c, depth));
	uint32_t at = c->len;
	TRY(wasmi_cc_op(c, OP_br));
	TRY(wasmi_cc_emit(c, 0));
	return wasmi_cc_jump_to(c, at, at + 1, depth);
}

/* Turn "compare; br_if" into one compare-and-branch instruction. */
static const struct { uint16_t cmp, br, neg; } fusable[] = {
	{ OP_i32_eqz, OP_br_eqz32, OP_br_nez32 },
	{ OP_i32_eq, OP_br_eq32, OP_br_ne32 }, { OP_i32_ne, OP_br_ne32, OP_br_eq32 },
	{ OP_i32_lt_s, OP_br_lt_s32, OP_br_ge_s32 }, { OP_i32_lt_u, OP_br_lt_u32, OP_br_ge_u32 },
	{ OP_i32_gt_s, OP_br_gt_s32, OP_br_le_s32 }, { OP_i32_gt_u, OP_br_gt_u32, OP_br_le_u32 },
	{ OP_i32_le_s, OP_br_le_s32, OP_br_gt_s32 }, { OP_i32_le_u, OP_br_le_u32, OP_br_gt_u32 },
	{ OP_i32_ge_s, OP_br_ge_s32, OP_br_lt_s32 }, { OP_i32_ge_u, OP_br_ge_u32, OP_br_lt_u32 },
	{ OP_i32_eq_imm, OP_br_eq32_imm, OP_br_ne32_imm }, { OP_i32_ne_imm, OP_br_ne32_imm, OP_br_eq32_imm },
	{ OP_i32_lt_s_imm, OP_br_lt_s32_imm, OP_br_ge_s32_imm }, { OP_i32_lt_u_imm, OP_br_lt_u32_imm, OP_br_ge_u32_imm },
	{ OP_i32_gt_s_imm, OP_br_gt_s32_imm, OP_br_le_s32_imm }, { OP_i32_gt_u_imm, OP_br_gt_u32_imm, OP_br_le_u32_imm },
	{ OP_i32_le_s_imm, OP_br_le_s32_imm, OP_br_gt_s32_imm }, { OP_i32_le_u_imm, OP_br_le_u32_imm, OP_br_gt_u32_imm },
	{ OP_i32_ge_s_imm, OP_br_ge_s32_imm, OP_br_lt_s32_imm }, { OP_i32_ge_u_imm, OP_br_ge_u32_imm, OP_br_lt_u32_imm },
	{ OP_i32_and_imm, OP_br_and_nz32_imm, OP_br_and_z32_imm },
	{ OP_i32_tst_z_imm, OP_br_and_z32_imm, OP_br_and_nz32_imm },
};

/* integer compares and their negations, for "compare; i32.eqz" */
static const uint16_t negations[][2] = {
	{ OP_i32_eq, OP_i32_ne }, { OP_i32_lt_s, OP_i32_ge_s }, { OP_i32_lt_u, OP_i32_ge_u },
	{ OP_i32_gt_s, OP_i32_le_s }, { OP_i32_gt_u, OP_i32_le_u },
	{ OP_i64_eq, OP_i64_ne }, { OP_i64_lt_s, OP_i64_ge_s }, { OP_i64_lt_u, OP_i64_ge_u },
	{ OP_i64_gt_s, OP_i64_le_s }, { OP_i64_gt_u, OP_i64_le_u },
	{ OP_i32_eq_imm, OP_i32_ne_imm }, { OP_i32_lt_s_imm, OP_i32_ge_s_imm },
	{ OP_i32_lt_u_imm, OP_i32_ge_u_imm }, { OP_i32_gt_s_imm, OP_i32_le_s_imm },
	{ OP_i32_gt_u_imm, OP_i32_le_u_imm },
	{ OP_i64_eq_imm, OP_i64_ne_imm }, { OP_i64_lt_s_imm, OP_i64_ge_s_imm },
	{ OP_i64_lt_u_imm, OP_i64_ge_u_imm }, { OP_i64_gt_s_imm, OP_i64_le_s_imm },
	{ OP_i64_gt_u_imm, OP_i64_le_u_imm },
	{ OP_i32_and_imm, OP_i32_tst_z_imm }, /* one way only: see cc_fold_eqz */
};

/*
 * i32.eqz of a value the previous instruction just computed: negate that
 * compare in place (or turn "and imm" into "test zero") and emit nothing.
 * Returns true when folded. Valid for integer compares only (float
 * compares are not negations of each other because of NaN).
 */
bool wasmi_cc_fold_eqz(struct fc *c, uint32_t h)
{
	if (c->dead || c->last_dst == NO_POS || c->vs[h].local != NO_LOCAL ||
	    c->code[c->last_dst].u != slot_of(c, h) || c->last_dst != c->last_op + 1)
		return false;
	for (unsigned i = 0; i < sizeof(negations) / sizeof(negations[0]); i++) {
		for (unsigned k = 0; k < 2; k++) {
			if (negations[i][k] != c->last_kind)
				continue;
			if (k == 1 && negations[i][0] == OP_i32_and_imm)
				return false;
			unsigned neg = negations[i][1 - k];
			c->code[c->last_op].u = (uint64_t)(uintptr_t)wasmi_interp_handler(neg);
			c->last_kind = neg;
			return true;
		}
	}
	return false;
}

/*
 * If the condition at height cond_h was just computed by a fusable
 * compare, rewrite that compare in place into a compare-and-branch and
 * return the cell that must receive the branch offset; else NO_POS.
 */
unsigned wasmi_cc_fuse_branch(struct fc *c, uint32_t cond_h, bool negate)
{
	if (c->dead || c->last_dst == NO_POS || c->vs[cond_h].local != NO_LOCAL ||
	    c->code[c->last_dst].u != slot_of(c, cond_h) || c->last_dst != c->last_op + 1)
		return NO_POS;
	for (unsigned i = 0; i < sizeof(fusable) / sizeof(fusable[0]); i++) {
		if (fusable[i].cmp != c->last_kind)
			continue;
		unsigned op = negate ? fusable[i].neg : fusable[i].br;
		uint32_t at = c->last_op;
		/* [cmp][dst][a][b] -> [br][a][b][rel]; [eqz][dst][a] -> [br][a][rel] */
		c->code[at].u = (uint64_t)(uintptr_t)wasmi_interp_handler(op);
		uint32_t n = c->len - at;
		for (uint32_t k = 1; k + 1 < n; k++)
			c->code[at + k] = c->code[at + k + 1];
		wasmi_cc_reset_peephole(c);
		return at;
	}
	return NO_POS;
}

int wasmi_cc_br_if(struct fc *c, uint32_t depth, uint32_t cond_h)
{
	if (c->dead)
		return 0;
	if (!needs_moves(c, depth)) {
		uint32_t at = wasmi_cc_fuse_branch(c, cond_h, false);
		if (at != NO_POS)
			return wasmi_cc_jump_to(c, at, c->len - 1, depth);
		at = c->len;
		TRY(wasmi_cc_op(c, OP_br_if_nz));
		TRY(wasmi_cc_emit(c, operand_slot(c, cond_h)));
		TRY(wasmi_cc_emit(c, 0));
		return wasmi_cc_jump_to(c, at, at + 2, depth);
	}
	uint32_t skip = c->len;
	TRY(wasmi_cc_op(c, OP_br_if_z));
	TRY(wasmi_cc_emit(c, operand_slot(c, cond_h)));
	TRY(wasmi_cc_emit(c, 0));
	TRY(wasmi_cc_branch(c, depth));
	return wasmi_cc_patch_here(c, skip, skip + 2);
}

int wasmi_cc_return(struct fc *c)
{
	if (c->dead)
		return 0;
	uint32_t n = c->nresults;
	if (n == 0)
		return wasmi_cc_op(c, OP_ret0);
	if (n == 1 && width_of(c->vs[c->vh - 1].type) == 1) {
		TRY(wasmi_cc_op(c, OP_ret1));
		return wasmi_cc_emit(c, operand_slot(c, c->vh - 1));
	}
	for (uint32_t i = c->vh - n; i < c->vh; i++)
		TRY(wasmi_cc_materialize(c, i));
	TRY(wasmi_cc_op(c, OP_ret));
	TRY(wasmi_cc_emit(c, next_slot(c) - slot_of(c, c->vh - n)));
	return wasmi_cc_emit(c, slot_of(c, c->vh - n));
}

int wasmi_cc_local_set(struct fc *c, uint32_t index, bool tee)
{
	uint32_t local = c->lslot[index];
	uint32_t top = c->vh - 1;
	struct vent e = c->vs[top];
	if (!c->dead && e.local != local) {
		TRY(cc_materialize_local(c, local));
		if (e.local == NO_LOCAL && c->last_dst != NO_POS && c->code[c->last_dst].u == slot_of(c, top))
			c->code[c->last_dst].u = local;
		else
			TRY(cc_copy(c, local, operand_slot(c, top), e.type));
		wasmi_cc_reset_peephole(c);
	}
	if (tee) {
		c->vs[top].local = local;
		c->vs[top].is_const = false;
	} else {
		c->vh--;
	}
	return 0;
}

int wasmi_cc_finish(struct fc *c, struct func_code *out)
{
	uint32_t slots = c->smax + 1;
	uint32_t rslots = 0;
	for (uint32_t i = 0; i < c->nresults; i++)
		rslots += width_of(c->results[i]);
	if (slots < rslots)
		slots = rslots;
	out->frame_slots = slots;
	out->code = wasm_realloc(c->cfg, c->code, (size_t)c->cap * sizeof(cell), (size_t)c->len * sizeof(cell));
	if (!out->code && c->len)
		return wasmi_cc_fail(c, WASM_ERR_NOMEM, "out of memory");
	out->code_len = c->len;
	c->m->code_cells += c->len;
	c->code = NULL;
	c->cap = 0;
	return 0;
}
