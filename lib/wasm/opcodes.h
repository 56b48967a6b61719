/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opcode tables. The numeric table drives both validation (operand and
 * result types) and compilation (which internal handler to emit); the
 * internal-op list names every handler of the interpreter, so adding an op
 * means one line here and one handler in interp.c.
 */
#ifndef MVM_WASM_OPCODES_H
#define MVM_WASM_OPCODES_H

#include <stdint.h>

/* X(wasm_opcode, name, in1, in2 (0 = unary), out) */
#define WASM_NUMERIC_OPS(X) \
	X(0x45, i32_eqz, I32, 0, I32) \
	X(0x46, i32_eq, I32, I32, I32) X(0x47, i32_ne, I32, I32, I32) \
	X(0x48, i32_lt_s, I32, I32, I32) X(0x49, i32_lt_u, I32, I32, I32) \
	X(0x4a, i32_gt_s, I32, I32, I32) X(0x4b, i32_gt_u, I32, I32, I32) \
	X(0x4c, i32_le_s, I32, I32, I32) X(0x4d, i32_le_u, I32, I32, I32) \
	X(0x4e, i32_ge_s, I32, I32, I32) X(0x4f, i32_ge_u, I32, I32, I32) \
	X(0x50, i64_eqz, I64, 0, I32) \
	X(0x51, i64_eq, I64, I64, I32) X(0x52, i64_ne, I64, I64, I32) \
	X(0x53, i64_lt_s, I64, I64, I32) X(0x54, i64_lt_u, I64, I64, I32) \
	X(0x55, i64_gt_s, I64, I64, I32) X(0x56, i64_gt_u, I64, I64, I32) \
	X(0x57, i64_le_s, I64, I64, I32) X(0x58, i64_le_u, I64, I64, I32) \
	X(0x59, i64_ge_s, I64, I64, I32) X(0x5a, i64_ge_u, I64, I64, I32) \
	X(0x5b, f32_eq, F32, F32, I32) X(0x5c, f32_ne, F32, F32, I32) \
	X(0x5d, f32_lt, F32, F32, I32) X(0x5e, f32_gt, F32, F32, I32) \
	X(0x5f, f32_le, F32, F32, I32) X(0x60, f32_ge, F32, F32, I32) \
	X(0x61, f64_eq, F64, F64, I32) X(0x62, f64_ne, F64, F64, I32) \
	X(0x63, f64_lt, F64, F64, I32) X(0x64, f64_gt, F64, F64, I32) \
	X(0x65, f64_le, F64, F64, I32) X(0x66, f64_ge, F64, F64, I32) \
	X(0x67, i32_clz, I32, 0, I32) X(0x68, i32_ctz, I32, 0, I32) X(0x69, i32_popcnt, I32, 0, I32) \
	X(0x6a, i32_add, I32, I32, I32) X(0x6b, i32_sub, I32, I32, I32) X(0x6c, i32_mul, I32, I32, I32) \
	X(0x6d, i32_div_s, I32, I32, I32) X(0x6e, i32_div_u, I32, I32, I32) \
	X(0x6f, i32_rem_s, I32, I32, I32) X(0x70, i32_rem_u, I32, I32, I32) \
	X(0x71, i32_and, I32, I32, I32) X(0x72, i32_or, I32, I32, I32) X(0x73, i32_xor, I32, I32, I32) \
	X(0x74, i32_shl, I32, I32, I32) X(0x75, i32_shr_s, I32, I32, I32) X(0x76, i32_shr_u, I32, I32, I32) \
	X(0x77, i32_rotl, I32, I32, I32) X(0x78, i32_rotr, I32, I32, I32) \
	X(0x79, i64_clz, I64, 0, I64) X(0x7a, i64_ctz, I64, 0, I64) X(0x7b, i64_popcnt, I64, 0, I64) \
	X(0x7c, i64_add, I64, I64, I64) X(0x7d, i64_sub, I64, I64, I64) X(0x7e, i64_mul, I64, I64, I64) \
	X(0x7f, i64_div_s, I64, I64, I64) X(0x80, i64_div_u, I64, I64, I64) \
	X(0x81, i64_rem_s, I64, I64, I64) X(0x82, i64_rem_u, I64, I64, I64) \
	X(0x83, i64_and, I64, I64, I64) X(0x84, i64_or, I64, I64, I64) X(0x85, i64_xor, I64, I64, I64) \
	X(0x86, i64_shl, I64, I64, I64) X(0x87, i64_shr_s, I64, I64, I64) X(0x88, i64_shr_u, I64, I64, I64) \
	X(0x89, i64_rotl, I64, I64, I64) X(0x8a, i64_rotr, I64, I64, I64) \
	X(0x8b, f32_abs, F32, 0, F32) X(0x8c, f32_neg, F32, 0, F32) X(0x8d, f32_ceil, F32, 0, F32) \
	X(0x8e, f32_floor, F32, 0, F32) X(0x8f, f32_trunc, F32, 0, F32) X(0x90, f32_nearest, F32, 0, F32) \
	X(0x91, f32_sqrt, F32, 0, F32) \
	X(0x92, f32_add, F32, F32, F32) X(0x93, f32_sub, F32, F32, F32) X(0x94, f32_mul, F32, F32, F32) \
	X(0x95, f32_div, F32, F32, F32) X(0x96, f32_min, F32, F32, F32) X(0x97, f32_max, F32, F32, F32) \
	X(0x98, f32_copysign, F32, F32, F32) \
	X(0x99, f64_abs, F64, 0, F64) X(0x9a, f64_neg, F64, 0, F64) X(0x9b, f64_ceil, F64, 0, F64) \
	X(0x9c, f64_floor, F64, 0, F64) X(0x9d, f64_trunc, F64, 0, F64) X(0x9e, f64_nearest, F64, 0, F64) \
	X(0x9f, f64_sqrt, F64, 0, F64) \
	X(0xa0, f64_add, F64, F64, F64) X(0xa1, f64_sub, F64, F64, F64) X(0xa2, f64_mul, F64, F64, F64) \
	X(0xa3, f64_div, F64, F64, F64) X(0xa4, f64_min, F64, F64, F64) X(0xa5, f64_max, F64, F64, F64) \
	X(0xa6, f64_copysign, F64, F64, F64) \
	X(0xa7, i32_wrap_i64, I64, 0, I32) \
	X(0xa8, i32_trunc_f32_s, F32, 0, I32) X(0xa9, i32_trunc_f32_u, F32, 0, I32) \
	X(0xaa, i32_trunc_f64_s, F64, 0, I32) X(0xab, i32_trunc_f64_u, F64, 0, I32) \
	X(0xac, i64_extend_i32_s, I32, 0, I64) X(0xad, i64_extend_i32_u, I32, 0, I64) \
	X(0xae, i64_trunc_f32_s, F32, 0, I64) X(0xaf, i64_trunc_f32_u, F32, 0, I64) \
	X(0xb0, i64_trunc_f64_s, F64, 0, I64) X(0xb1, i64_trunc_f64_u, F64, 0, I64) \
	X(0xb2, f32_convert_i32_s, I32, 0, F32) X(0xb3, f32_convert_i32_u, I32, 0, F32) \
	X(0xb4, f32_convert_i64_s, I64, 0, F32) X(0xb5, f32_convert_i64_u, I64, 0, F32) \
	X(0xb6, f32_demote_f64, F64, 0, F32) \
	X(0xb7, f64_convert_i32_s, I32, 0, F64) X(0xb8, f64_convert_i32_u, I32, 0, F64) \
	X(0xb9, f64_convert_i64_s, I64, 0, F64) X(0xba, f64_convert_i64_u, I64, 0, F64) \
	X(0xbb, f64_promote_f32, F32, 0, F64) \
	X(0xc0, i32_extend8_s, I32, 0, I32) X(0xc1, i32_extend16_s, I32, 0, I32) \
	X(0xc2, i64_extend8_s, I64, 0, I64) X(0xc3, i64_extend16_s, I64, 0, I64) \
	X(0xc4, i64_extend32_s, I64, 0, I64)

/* 0xFC 0..7: saturating truncation, X(subop, name, in, out) */
#define WASM_SAT_OPS(X) \
	X(0, i32_trunc_sat_f32_s, F32, I32) X(1, i32_trunc_sat_f32_u, F32, I32) \
	X(2, i32_trunc_sat_f64_s, F64, I32) X(3, i32_trunc_sat_f64_u, F64, I32) \
	X(4, i64_trunc_sat_f32_s, F32, I64) X(5, i64_trunc_sat_f32_u, F32, I64) \
	X(6, i64_trunc_sat_f64_s, F64, I64) X(7, i64_trunc_sat_f64_u, F64, I64)

/* X(wasm_opcode, value type, natural alignment log2, internal op, is_store) */
#define WASM_MEM_OPS(X) \
	X(0x28, I32, 2, ld32, 0) X(0x29, I64, 3, ld64, 0) X(0x2a, F32, 2, ld32, 0) X(0x2b, F64, 3, ld64, 0) \
	X(0x2c, I32, 0, ld8s32, 0) X(0x2d, I32, 0, ld8u, 0) X(0x2e, I32, 1, ld16s32, 0) X(0x2f, I32, 1, ld16u, 0) \
	X(0x30, I64, 0, ld8s64, 0) X(0x31, I64, 0, ld8u, 0) X(0x32, I64, 1, ld16s64, 0) X(0x33, I64, 1, ld16u, 0) \
	X(0x34, I64, 2, ld32s64, 0) X(0x35, I64, 2, ld32, 0) \
	X(0x36, I32, 2, st32, 1) X(0x37, I64, 3, st64, 1) X(0x38, F32, 2, st32, 1) X(0x39, F64, 3, st64, 1) \
	X(0x3a, I32, 0, st8, 1) X(0x3b, I32, 1, st16, 1) \
	X(0x3c, I64, 0, st8, 1) X(0x3d, I64, 1, st16, 1) X(0x3e, I64, 2, st32, 1)

/* Internal ops that are not plain numeric ones. Operand layouts are in
 * interp.c next to each handler. */
#define WASM_CTRL_OPS(X) \
	X(exit) X(unreachable) X(br) X(br_if_nz) X(br_if_z) X(br_table) X(loop_head) \
	X(call) X(call_indirect) X(ret) X(ret1) X(ret0) \
	X(copy) X(const) X(select) X(global_get) X(global_set) \
	X(ref_is_null) X(ref_func) \
	X(ld32) X(ld64) X(ld8s32) X(ld8u) X(ld16s32) X(ld16u) X(ld8s64) X(ld16s64) X(ld32s64) \
	X(st8) X(st16) X(st32) X(st64) \
	X(memory_size) X(memory_grow) X(memory_init) X(data_drop) X(memory_copy) X(memory_fill) \
	X(table_get) X(table_set) X(table_size) X(table_grow) X(table_fill) X(table_copy) \
	X(table_init) X(elem_drop) \
	X(br_eqz32) X(br_nez32) X(br_eq32) X(br_ne32) X(br_lt_s32) X(br_lt_u32) X(br_gt_s32) \
	X(br_gt_u32) X(br_le_s32) X(br_le_u32) X(br_ge_s32) X(br_ge_u32) \
	X(i32_add_imm) X(i32_sub_imm) X(i32_and_imm) X(i32_shl_imm) X(i32_shr_u_imm) X(i32_shr_s_imm) \
	X(i64_add_imm) X(i32_lt_s_imm) X(i32_lt_u_imm) X(i32_eq_imm) X(i32_ne_imm)

enum internal_op {
#define X_NUM(code, name, a, b, o) OP_##name,
#define X_SAT(code, name, a, o) OP_##name,
#define X_CTRL(name) OP_##name,
	WASM_CTRL_OPS(X_CTRL)
	WASM_NUMERIC_OPS(X_NUM)
	WASM_SAT_OPS(X_SAT)
#undef X_NUM
#undef X_SAT
#undef X_CTRL
	OP_MAX
};

#endif
