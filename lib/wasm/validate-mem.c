/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Validation and emission of memory instructions (with the address
 * fusions) and of the 0xFC prefix: saturating truncation, bulk memory,
 * table instructions.
 */
#include "compile.h"

#define I32 WASM_I32

#define EMIT(op, dsti, ...)                                                       \
	do {                                                                      \
		const uint64_t ops_[] = { __VA_ARGS__ };                          \
		TRY(wasmi_vd_emit(c, op, sizeof(ops_) / sizeof(ops_[0]), ops_, dsti));  \
	} while (0)

int wasmi_vd_memarg(struct fc *c, unsigned natural_align, uint32_t *ret_offset)
{
	uint32_t a;
	TRY(wasmi_rd_u32(c->r, &a));
	TRY(wasmi_rd_u32(c->r, ret_offset));
	TRY(wasmi_vd_need_memory(c));
	if (a > natural_align)
		return wasmi_vd_invalid(c, "alignment must not be larger than natural");
	return 0;
}

int wasmi_vd_memop(struct fc *c, unsigned op, uint8_t type, unsigned align, bool store)
{
	uint32_t off;
	TRY(wasmi_vd_memarg(c, align, &off));
	if (store) {
		TRY(wasmi_vd_pop(c, type));
		uint32_t hv = c->vh;
		TRY(wasmi_vd_pop(c, I32));
		if (c->dead)
			return 0;
		uint32_t ha = c->vh;
		/* address computed by the last instruction (the value came from
		 * a local or is already in place): fuse the add into the store */
		if (c->vs[ha].local == NO_LOCAL && c->last_dst != NO_POS && c->last_dst == c->last_op + 1 &&
		    c->code[c->last_dst].u == slot_of(c, ha) && c->code[c->last_dst].u != operand_slot(c, hv) &&
		    c->last_kind == OP_i32_add_shl && (op == OP_st32 || op == OP_st64 || op == OP_st8)) {
			unsigned sop = op == OP_st32 ? OP_st32_idx : op == OP_st64 ? OP_st64_idx : OP_st8_idx;
			uint64_t a = c->code[c->last_op + 2].u, i = c->code[c->last_op + 3].u, k = c->code[c->last_op + 4].u;
			c->len = c->last_op;
			EMIT(sop, -1, operand_slot(c, hv), a, off, i, k);
			return 0;
		}
		if (c->vs[ha].local == NO_LOCAL && c->last_dst != NO_POS && c->last_dst == c->last_op + 1 &&
		    c->code[c->last_dst].u == slot_of(c, ha) && c->code[c->last_dst].u != operand_slot(c, hv) &&
		    (c->last_kind == OP_i32_add_imm || c->last_kind == OP_i32_add) &&
		    (op == OP_st32 || op == OP_st64 || op == OP_st8)) {
			bool imm = c->last_kind == OP_i32_add_imm;
			unsigned sop = op == OP_st32 ? (imm ? OP_st32_addi : OP_st32_addr)
				     : op == OP_st64 ? (imm ? OP_st64_addi : OP_st64_addr)
						     : (imm ? OP_st8_addi : OP_st8_addr);
			uint64_t x = c->code[c->last_op + 2].u, y = c->code[c->last_op + 3].u;
			c->len = c->last_op;
			EMIT(sop, -1, operand_slot(c, hv), x, off, y);
			return 0;
		}
		EMIT(op, -1, operand_slot(c, hv), operand_slot(c, ha), off);
		return 0;
	}
	TRY(wasmi_vd_pop(c, I32));
	uint32_t ha = c->vh;
	uint64_t sa = c->dead ? 0 : operand_slot(c, ha);
	unsigned abs_op = op == OP_ld32 ? OP_ld32_abs : op == OP_ld64 ? OP_ld64_abs : op == OP_ld8u ? OP_ld8u_abs
			: op == OP_ld16u ? OP_ld16u_abs : OP_MAX;
	if (!c->dead && abs_op != OP_MAX && c->vs[ha].is_const && c->vs[ha].local == NO_LOCAL &&
	    c->last_kind == OP_const && c->last_dst != NO_POS && c->code[c->last_dst].u == slot_of(c, ha)) {
		/* constant address: fold it and the offset into one immediate */
		uint64_t ea = (uint64_t)(uint32_t)c->vs[ha].cval + off;
		c->len = c->last_op;
		TRY(wasmi_vd_push(c, type));
		EMIT(abs_op, 0, slot_of(c, ha), ea);
		return 0;
	}
	unsigned add_op = OP_MAX;
	if (!c->dead && c->vs[ha].local == NO_LOCAL && c->last_dst == c->last_op + 1 &&
	    c->last_dst != NO_POS && c->code[c->last_dst].u == slot_of(c, ha) && c->last_kind == OP_i32_add_shl) {
		unsigned iop = op == OP_ld32 ? OP_ld32_idx : op == OP_ld64 ? OP_ld64_idx : op == OP_ld8u ? OP_ld8u_idx
			     : OP_MAX;
		if (iop != OP_MAX) {
			/* [add_shl][dst][a][i][k] -> [ld_idx][dst][a][offset][i][k] */
			uint64_t a = c->code[c->last_op + 2].u, i = c->code[c->last_op + 3].u, k = c->code[c->last_op + 4].u;
			c->len = c->last_op;
			TRY(wasmi_vd_push(c, type));
			EMIT(iop, 0, slot_of(c, ha), a, off, i, k);
			return 0;
		}
	}
	if (!c->dead && c->vs[ha].local == NO_LOCAL && c->last_dst == c->last_op + 1 &&
	    c->last_dst != NO_POS && c->code[c->last_dst].u == slot_of(c, ha)) {
		bool imm = c->last_kind == OP_i32_add_imm;
		if (imm || c->last_kind == OP_i32_add)
			add_op = op == OP_ld32 ? (imm ? OP_ld32_addi : OP_ld32_addr)
			       : op == OP_ld64 ? (imm ? OP_ld64_addi : OP_ld64_addr)
			       : op == OP_ld8u ? (imm ? OP_ld8u_addi : OP_ld8u_addr) : OP_MAX;
	}
	if (add_op != OP_MAX) {
		/* the address was just computed by an add: do both at once */
		uint64_t x = c->code[c->last_op + 2].u, y = c->code[c->last_op + 3].u;
		c->len = c->last_op;
		TRY(wasmi_vd_push(c, type));
		EMIT(add_op, 0, slot_of(c, ha), x, off, y);
		return 0;
	}
	TRY(wasmi_vd_push(c, type));
	if (!c->dead)
		EMIT(op, 0, slot_of(c, ha), sa, off);
	return 0;
}

/* pop n i32 operands, return their slots in order of pushing */
int wasmi_vd_pop_i32s(struct fc *c, unsigned n, uint64_t *slots)
{
	for (unsigned i = n; i-- > 0;) {
		TRY(wasmi_vd_pop(c, I32));
		slots[i] = c->dead ? 0 : operand_slot(c, c->vh);
	}
	return 0;
}

int wasmi_vd_op_fc(struct fc *c)
{
	uint32_t sub, x, y;
	uint64_t s[3];
	wasm_module *m = c->m;
	TRY(wasmi_rd_u32(c->r, &sub));
	switch (sub) {
#define X_SAT(code, name, in, out)                                      \
	case code:                                                      \
		return wasmi_vd_numeric(c, OP_##name, WASM_##in, 0, WASM_##out);
		WASM_SAT_OPS(X_SAT)
#undef X_SAT
	case 8: /* memory.init */
		TRY(wasmi_rd_u32(c->r, &x));
		TRY(wasmi_vd_zero_byte(c));
		TRY(wasmi_vd_need_memory(c));
		if (!m->has_datacount)
			return wasmi_cc_fail(c, WASM_ERR_MALFORMED, "data count section required");
		if (x >= m->datacount)
			return wasmi_vd_invalid(c, "unknown data segment");
		TRY(wasmi_vd_pop_i32s(c, 3, s));
		EMIT(OP_memory_init, -1, x, s[0], s[1], s[2]);
		return 0;
	case 9: /* data.drop */
		TRY(wasmi_rd_u32(c->r, &x));
		if (!m->has_datacount)
			return wasmi_cc_fail(c, WASM_ERR_MALFORMED, "data count section required");
		if (x >= m->datacount)
			return wasmi_vd_invalid(c, "unknown data segment");
		EMIT(OP_data_drop, -1, x);
		return 0;
	case 10: /* memory.copy */
		TRY(wasmi_vd_zero_byte(c));
		TRY(wasmi_vd_zero_byte(c));
		TRY(wasmi_vd_need_memory(c));
		TRY(wasmi_vd_pop_i32s(c, 3, s));
		EMIT(OP_memory_copy, -1, s[0], s[1], s[2]);
		return 0;
	case 11: /* memory.fill */
		TRY(wasmi_vd_zero_byte(c));
		TRY(wasmi_vd_need_memory(c));
		TRY(wasmi_vd_pop_i32s(c, 3, s));
		EMIT(OP_memory_fill, -1, s[0], s[1], s[2]);
		return 0;
	case 12: /* table.init elem table */
		TRY(wasmi_rd_u32(c->r, &x));
		TRY(wasmi_vd_read_table(c, &y));
		if (x >= m->nelems)
			return wasmi_vd_invalid(c, "unknown elem segment");
		if (m->elems[x].type != m->tables[y].elem)
			return wasmi_vd_invalid(c, "type mismatch");
		TRY(wasmi_vd_pop_i32s(c, 3, s));
		EMIT(OP_table_init, -1, y, x, s[0], s[1], s[2]);
		return 0;
	case 13: /* elem.drop */
		TRY(wasmi_rd_u32(c->r, &x));
		if (x >= m->nelems)
			return wasmi_vd_invalid(c, "unknown elem segment");
		EMIT(OP_elem_drop, -1, x);
		return 0;
	case 14: /* table.copy dst src */
		TRY(wasmi_vd_read_table(c, &x));
		TRY(wasmi_vd_read_table(c, &y));
		if (m->tables[x].elem != m->tables[y].elem)
			return wasmi_vd_invalid(c, "type mismatch");
		TRY(wasmi_vd_pop_i32s(c, 3, s));
		EMIT(OP_table_copy, -1, x, y, s[0], s[1], s[2]);
		return 0;
	case 15: { /* table.grow */
		TRY(wasmi_vd_read_table(c, &x));
		TRY(wasmi_vd_pop(c, I32));
		uint64_t n = c->dead ? 0 : operand_slot(c, c->vh);
		TRY(wasmi_vd_pop(c, m->tables[x].elem));
		uint32_t hi = c->vh;
		uint64_t init = c->dead ? 0 : operand_slot(c, hi);
		TRY(wasmi_vd_push(c, I32));
		EMIT(OP_table_grow, 0, slot_of(c, hi), x, init, n);
		return 0;
	}
	case 16: /* table.size */
		TRY(wasmi_vd_read_table(c, &x));
		TRY(wasmi_vd_push(c, I32));
		EMIT(OP_table_size, 0, slot_of(c, c->vh - 1), x);
		return 0;
	case 17: { /* table.fill */
		TRY(wasmi_vd_read_table(c, &x));
		TRY(wasmi_vd_pop(c, I32));
		uint64_t n = c->dead ? 0 : operand_slot(c, c->vh);
		TRY(wasmi_vd_pop(c, m->tables[x].elem));
		uint64_t v = c->dead ? 0 : operand_slot(c, c->vh);
		TRY(wasmi_vd_pop(c, I32));
		uint64_t i = c->dead ? 0 : operand_slot(c, c->vh);
		EMIT(OP_table_fill, -1, x, i, v, n);
		return 0;
	}
	default:
		return wasmi_cc_fail(c, WASM_ERR_MALFORMED, "illegal opcode");
	}
}

