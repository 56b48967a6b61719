/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The function compiler shared by validate.c (which type-checks and
 * decides what to emit) and compile.c (which emits threaded code).
 *
 * Internal form: an array of cells; each instruction is a handler cell
 * followed by operand cells. Operands are frame-slot indices: every wasm
 * value has a fixed slot because the operand-stack height is static, so
 * each entry gets the next slot after the one below it (v128 takes
 * two). local.get is not emitted: the stack entry
 * remembers the local ("lazy") and consumers read the local's slot
 * directly; a following local.set rewrites the producer's destination.
 * Branch targets are cell offsets relative to the instruction start.
 */
#ifndef MVM_WASM_COMPILE_H
#define MVM_WASM_COMPILE_H

#include "decode.h"
#include "opcodes.h"

#define TY_UNKNOWN 0
#define NO_LOCAL 0xffffffffu
#define NO_POS 0xffffffffu

struct vent {
	uint8_t type;
	uint32_t slot; /* frame slot of this value (v128 takes two) */
	uint32_t local; /* NO_LOCAL, or the slot of the local this entry still aliases */
	bool is_const; /* produced by the `const` op at last_op */
	uint64_t cval;
};

enum ctrl_kind { CT_BLOCK, CT_LOOP, CT_IF, CT_ELSE, CT_FUNC };

struct ctrl {
	uint8_t kind;
	bool unreachable;
	bool entry_dead;
	uint32_t height;
	uint32_t slot_base; /* first slot of the label's values */
	uint32_t nparams, nresults;
	const uint8_t *params, *results;
	uint32_t loop_pos; /* CT_LOOP: target of branches */
	uint32_t fixups; /* forward branches to patch at end */
	uint32_t else_fix; /* CT_IF: the br_if_z to patch at else/end */
};

struct fixup {
	uint32_t cell, opstart, next;
};

struct fc {
	wasm_module *m;
	const wasm_config *cfg;
	struct rd *r;
	cell *code;
	uint32_t len, cap;
	struct vent *vs;
	uint32_t vh, vcap, smax; /* smax: highest slot used + 1 */
	struct ctrl *cs;
	uint32_t ch, ccap;
	struct fixup *fx;
	uint32_t nfx, fxcap;
	uint32_t nlocals; /* params + declared locals */
	uint8_t *ltypes;
	uint32_t *lslot; /* slot of each local */
	uint32_t nlslots; /* slots taken by params + locals */
	uint32_t nresults;
	const uint8_t *results;
	uint32_t last_op, last_dst; /* peephole state, NO_POS when invalid */
	unsigned last_kind; /* internal op at last_op */
	bool dead;
};

static inline uint32_t width_of(uint8_t t)
{
	return t == WASM_V128 ? 2 : 1;
}

/* slot of the entry at height h (also valid for entries just popped) */
static inline uint32_t slot_of(const struct fc *c, uint32_t h)
{
	return c->vs[h].slot;
}

/* slot the next pushed value will get */
static inline uint32_t next_slot(const struct fc *c)
{
	return c->vh ? c->vs[c->vh - 1].slot + width_of(c->vs[c->vh - 1].type) : c->nlslots;
}

/* where a stack entry's value can be read */
static inline uint32_t operand_slot(const struct fc *c, uint32_t h)
{
	return c->vs[h].local != NO_LOCAL ? c->vs[h].local : slot_of(c, h);
}

int wasmi_cc_emit(struct fc *c, uint64_t v);
int wasmi_cc_op(struct fc *c, unsigned op);
void wasmi_cc_mark_dst(struct fc *c); /* the cell just emitted is the op's destination */
void wasmi_cc_reset_peephole(struct fc *c);
int wasmi_cc_materialize(struct fc *c, uint32_t h);
uint32_t wasmi_cc_label_slot(const struct ctrl *t, uint32_t i);
int wasmi_cc_branch(struct fc *c, uint32_t depth); /* unconditional br with value moves */
int wasmi_cc_br_if(struct fc *c, uint32_t depth, uint32_t cond_slot);
int wasmi_cc_jump_to(struct fc *c, uint32_t opstart, uint32_t rel_cell, uint32_t depth);
int wasmi_cc_bind_fixups(struct fc *c, struct ctrl *ct);
int wasmi_cc_patch_here(struct fc *c, uint32_t opstart, uint32_t rel_cell);
int wasmi_cc_return(struct fc *c);
int wasmi_cc_local_set(struct fc *c, uint32_t local, bool tee);
int wasmi_cc_fail(struct fc *c, wasm_error_kind kind, const char *msg);
int wasmi_cc_finish(struct fc *c, struct func_code *out);
unsigned wasmi_cc_fuse_branch(struct fc *c, uint32_t cond_h, bool negate);
bool wasmi_cc_fold_eqz(struct fc *c, uint32_t h);

/* validate.c helpers shared with validate-simd.c */
int wasmi_vd_push(struct fc *c, uint8_t t);
int wasmi_vd_pop(struct fc *c, uint8_t expect); /* type, TY_UNKNOWN, or -1 */
int wasmi_vd_emit(struct fc *c, unsigned op, unsigned n, const uint64_t *ops, int dst_index);
int wasmi_vd_memarg(struct fc *c, unsigned natural_align, uint32_t *ret_offset);
int wasmi_vd_invalid(struct fc *c, const char *msg);
int wasmi_vd_zero_byte(struct fc *c);
int wasmi_vd_need_memory(struct fc *c);
int wasmi_vd_read_table(struct fc *c, uint32_t *ret);
int wasmi_vd_numeric(struct fc *c, unsigned op, uint8_t a, uint8_t b, uint8_t out);
/* validate-mem.c */
int wasmi_vd_memop(struct fc *c, unsigned op, uint8_t type, unsigned align, bool store);
int wasmi_vd_op_fc(struct fc *c);
int wasmi_vd_pop_i32s(struct fc *c, unsigned n, uint64_t *slots); /* slots in push order */
int wasmi_validate_simd(struct fc *c);

#endif
