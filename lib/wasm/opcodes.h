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

/*
 * 0xFD: SIMD, X(subop, name, shape, lanes, align). Shapes:
 *   BIN v v->v  UN v->v  TERN v v v->v  SHIFT v i32->v  TEST v->i32
 *   SPLAT_<t> t->v  EXTRACT_<t> v->t [lane]  REPLACE_<t> v t->v [lane]
 *   LOAD i32->v  STORE i32 v  LOAD_LANE i32 v->v  STORE_LANE i32 v
 *   CONST, SHUFFLE: immediates
 */
#define WASM_SIMD_OPS(X) \
	X(0, v128_load, LOAD, 0, 4) X(1, v128_load8x8_s, LOAD, 0, 3) X(2, v128_load8x8_u, LOAD, 0, 3) \
	X(3, v128_load16x4_s, LOAD, 0, 3) X(4, v128_load16x4_u, LOAD, 0, 3) \
	X(5, v128_load32x2_s, LOAD, 0, 3) X(6, v128_load32x2_u, LOAD, 0, 3) \
	X(7, v128_load8_splat, LOAD, 0, 0) X(8, v128_load16_splat, LOAD, 0, 1) \
	X(9, v128_load32_splat, LOAD, 0, 2) X(10, v128_load64_splat, LOAD, 0, 3) \
	X(11, v128_store, STORE, 0, 4) X(12, v128_const, CONST, 0, 0) X(13, i8x16_shuffle, SHUFFLE, 0, 0) \
	X(14, i8x16_swizzle, BIN, 0, 0) \
	X(15, i8x16_splat, SPLAT_I32, 0, 0) X(16, i16x8_splat, SPLAT_I32, 0, 0) X(17, i32x4_splat, SPLAT_I32, 0, 0) \
	X(18, i64x2_splat, SPLAT_I64, 0, 0) X(19, f32x4_splat, SPLAT_F32, 0, 0) X(20, f64x2_splat, SPLAT_F64, 0, 0) \
	X(21, i8x16_extract_lane_s, EXTRACT_I32, 16, 0) X(22, i8x16_extract_lane_u, EXTRACT_I32, 16, 0) \
	X(23, i8x16_replace_lane, REPLACE_I32, 16, 0) \
	X(24, i16x8_extract_lane_s, EXTRACT_I32, 8, 0) X(25, i16x8_extract_lane_u, EXTRACT_I32, 8, 0) \
	X(26, i16x8_replace_lane, REPLACE_I32, 8, 0) \
	X(27, i32x4_extract_lane, EXTRACT_I32, 4, 0) X(28, i32x4_replace_lane, REPLACE_I32, 4, 0) \
	X(29, i64x2_extract_lane, EXTRACT_I64, 2, 0) X(30, i64x2_replace_lane, REPLACE_I64, 2, 0) \
	X(31, f32x4_extract_lane, EXTRACT_F32, 4, 0) X(32, f32x4_replace_lane, REPLACE_F32, 4, 0) \
	X(33, f64x2_extract_lane, EXTRACT_F64, 2, 0) X(34, f64x2_replace_lane, REPLACE_F64, 2, 0) \
	X(35, i8x16_eq, BIN, 0, 0) X(36, i8x16_ne, BIN, 0, 0) X(37, i8x16_lt_s, BIN, 0, 0) X(38, i8x16_lt_u, BIN, 0, 0) \
	X(39, i8x16_gt_s, BIN, 0, 0) X(40, i8x16_gt_u, BIN, 0, 0) X(41, i8x16_le_s, BIN, 0, 0) X(42, i8x16_le_u, BIN, 0, 0) \
	X(43, i8x16_ge_s, BIN, 0, 0) X(44, i8x16_ge_u, BIN, 0, 0) \
	X(45, i16x8_eq, BIN, 0, 0) X(46, i16x8_ne, BIN, 0, 0) X(47, i16x8_lt_s, BIN, 0, 0) X(48, i16x8_lt_u, BIN, 0, 0) \
	X(49, i16x8_gt_s, BIN, 0, 0) X(50, i16x8_gt_u, BIN, 0, 0) X(51, i16x8_le_s, BIN, 0, 0) X(52, i16x8_le_u, BIN, 0, 0) \
	X(53, i16x8_ge_s, BIN, 0, 0) X(54, i16x8_ge_u, BIN, 0, 0) \
	X(55, i32x4_eq, BIN, 0, 0) X(56, i32x4_ne, BIN, 0, 0) X(57, i32x4_lt_s, BIN, 0, 0) X(58, i32x4_lt_u, BIN, 0, 0) \
	X(59, i32x4_gt_s, BIN, 0, 0) X(60, i32x4_gt_u, BIN, 0, 0) X(61, i32x4_le_s, BIN, 0, 0) X(62, i32x4_le_u, BIN, 0, 0) \
	X(63, i32x4_ge_s, BIN, 0, 0) X(64, i32x4_ge_u, BIN, 0, 0) \
	X(65, f32x4_eq, BIN, 0, 0) X(66, f32x4_ne, BIN, 0, 0) X(67, f32x4_lt, BIN, 0, 0) X(68, f32x4_gt, BIN, 0, 0) \
	X(69, f32x4_le, BIN, 0, 0) X(70, f32x4_ge, BIN, 0, 0) \
	X(71, f64x2_eq, BIN, 0, 0) X(72, f64x2_ne, BIN, 0, 0) X(73, f64x2_lt, BIN, 0, 0) X(74, f64x2_gt, BIN, 0, 0) \
	X(75, f64x2_le, BIN, 0, 0) X(76, f64x2_ge, BIN, 0, 0) \
	X(77, v128_not, UN, 0, 0) X(78, v128_and, BIN, 0, 0) X(79, v128_andnot, BIN, 0, 0) X(80, v128_or, BIN, 0, 0) \
	X(81, v128_xor, BIN, 0, 0) X(82, v128_bitselect, TERN, 0, 0) X(83, v128_any_true, TEST, 0, 0) \
	X(84, v128_load8_lane, LOAD_LANE, 16, 0) X(85, v128_load16_lane, LOAD_LANE, 8, 1) \
	X(86, v128_load32_lane, LOAD_LANE, 4, 2) X(87, v128_load64_lane, LOAD_LANE, 2, 3) \
	X(88, v128_store8_lane, STORE_LANE, 16, 0) X(89, v128_store16_lane, STORE_LANE, 8, 1) \
	X(90, v128_store32_lane, STORE_LANE, 4, 2) X(91, v128_store64_lane, STORE_LANE, 2, 3) \
	X(92, v128_load32_zero, LOAD, 0, 2) X(93, v128_load64_zero, LOAD, 0, 3) \
	X(94, f32x4_demote_f64x2_zero, UN, 0, 0) X(95, f64x2_promote_low_f32x4, UN, 0, 0) \
	X(96, i8x16_abs, UN, 0, 0) X(97, i8x16_neg, UN, 0, 0) X(98, i8x16_popcnt, UN, 0, 0) \
	X(99, i8x16_all_true, TEST, 0, 0) X(100, i8x16_bitmask, TEST, 0, 0) \
	X(101, i8x16_narrow_i16x8_s, BIN, 0, 0) X(102, i8x16_narrow_i16x8_u, BIN, 0, 0) \
	X(103, f32x4_ceil, UN, 0, 0) X(104, f32x4_floor, UN, 0, 0) X(105, f32x4_trunc, UN, 0, 0) \
	X(106, f32x4_nearest, UN, 0, 0) \
	X(107, i8x16_shl, SHIFT, 0, 0) X(108, i8x16_shr_s, SHIFT, 0, 0) X(109, i8x16_shr_u, SHIFT, 0, 0) \
	X(110, i8x16_add, BIN, 0, 0) X(111, i8x16_add_sat_s, BIN, 0, 0) X(112, i8x16_add_sat_u, BIN, 0, 0) \
	X(113, i8x16_sub, BIN, 0, 0) X(114, i8x16_sub_sat_s, BIN, 0, 0) X(115, i8x16_sub_sat_u, BIN, 0, 0) \
	X(116, f64x2_ceil, UN, 0, 0) X(117, f64x2_floor, UN, 0, 0) \
	X(118, i8x16_min_s, BIN, 0, 0) X(119, i8x16_min_u, BIN, 0, 0) X(120, i8x16_max_s, BIN, 0, 0) \
	X(121, i8x16_max_u, BIN, 0, 0) X(122, f64x2_trunc, UN, 0, 0) X(123, i8x16_avgr_u, BIN, 0, 0) \
	X(124, i16x8_extadd_pairwise_i8x16_s, UN, 0, 0) X(125, i16x8_extadd_pairwise_i8x16_u, UN, 0, 0) \
	X(126, i32x4_extadd_pairwise_i16x8_s, UN, 0, 0) X(127, i32x4_extadd_pairwise_i16x8_u, UN, 0, 0) \
	X(128, i16x8_abs, UN, 0, 0) X(129, i16x8_neg, UN, 0, 0) X(130, i16x8_q15mulr_sat_s, BIN, 0, 0) \
	X(131, i16x8_all_true, TEST, 0, 0) X(132, i16x8_bitmask, TEST, 0, 0) \
	X(133, i16x8_narrow_i32x4_s, BIN, 0, 0) X(134, i16x8_narrow_i32x4_u, BIN, 0, 0) \
	X(135, i16x8_extend_low_i8x16_s, UN, 0, 0) X(136, i16x8_extend_high_i8x16_s, UN, 0, 0) \
	X(137, i16x8_extend_low_i8x16_u, UN, 0, 0) X(138, i16x8_extend_high_i8x16_u, UN, 0, 0) \
	X(139, i16x8_shl, SHIFT, 0, 0) X(140, i16x8_shr_s, SHIFT, 0, 0) X(141, i16x8_shr_u, SHIFT, 0, 0) \
	X(142, i16x8_add, BIN, 0, 0) X(143, i16x8_add_sat_s, BIN, 0, 0) X(144, i16x8_add_sat_u, BIN, 0, 0) \
	X(145, i16x8_sub, BIN, 0, 0) X(146, i16x8_sub_sat_s, BIN, 0, 0) X(147, i16x8_sub_sat_u, BIN, 0, 0) \
	X(148, f64x2_nearest, UN, 0, 0) X(149, i16x8_mul, BIN, 0, 0) \
	X(150, i16x8_min_s, BIN, 0, 0) X(151, i16x8_min_u, BIN, 0, 0) X(152, i16x8_max_s, BIN, 0, 0) \
	X(153, i16x8_max_u, BIN, 0, 0) X(155, i16x8_avgr_u, BIN, 0, 0) \
	X(156, i16x8_extmul_low_i8x16_s, BIN, 0, 0) X(157, i16x8_extmul_high_i8x16_s, BIN, 0, 0) \
	X(158, i16x8_extmul_low_i8x16_u, BIN, 0, 0) X(159, i16x8_extmul_high_i8x16_u, BIN, 0, 0) \
	X(160, i32x4_abs, UN, 0, 0) X(161, i32x4_neg, UN, 0, 0) X(163, i32x4_all_true, TEST, 0, 0) \
	X(164, i32x4_bitmask, TEST, 0, 0) \
	X(167, i32x4_extend_low_i16x8_s, UN, 0, 0) X(168, i32x4_extend_high_i16x8_s, UN, 0, 0) \
	X(169, i32x4_extend_low_i16x8_u, UN, 0, 0) X(170, i32x4_extend_high_i16x8_u, UN, 0, 0) \
	X(171, i32x4_shl, SHIFT, 0, 0) X(172, i32x4_shr_s, SHIFT, 0, 0) X(173, i32x4_shr_u, SHIFT, 0, 0) \
	X(174, i32x4_add, BIN, 0, 0) X(177, i32x4_sub, BIN, 0, 0) X(181, i32x4_mul, BIN, 0, 0) \
	X(182, i32x4_min_s, BIN, 0, 0) X(183, i32x4_min_u, BIN, 0, 0) X(184, i32x4_max_s, BIN, 0, 0) \
	X(185, i32x4_max_u, BIN, 0, 0) X(186, i32x4_dot_i16x8_s, BIN, 0, 0) \
	X(188, i32x4_extmul_low_i16x8_s, BIN, 0, 0) X(189, i32x4_extmul_high_i16x8_s, BIN, 0, 0) \
	X(190, i32x4_extmul_low_i16x8_u, BIN, 0, 0) X(191, i32x4_extmul_high_i16x8_u, BIN, 0, 0) \
	X(192, i64x2_abs, UN, 0, 0) X(193, i64x2_neg, UN, 0, 0) X(195, i64x2_all_true, TEST, 0, 0) \
	X(196, i64x2_bitmask, TEST, 0, 0) \
	X(199, i64x2_extend_low_i32x4_s, UN, 0, 0) X(200, i64x2_extend_high_i32x4_s, UN, 0, 0) \
	X(201, i64x2_extend_low_i32x4_u, UN, 0, 0) X(202, i64x2_extend_high_i32x4_u, UN, 0, 0) \
	X(203, i64x2_shl, SHIFT, 0, 0) X(204, i64x2_shr_s, SHIFT, 0, 0) X(205, i64x2_shr_u, SHIFT, 0, 0) \
	X(206, i64x2_add, BIN, 0, 0) X(209, i64x2_sub, BIN, 0, 0) X(213, i64x2_mul, BIN, 0, 0) \
	X(214, i64x2_eq, BIN, 0, 0) X(215, i64x2_ne, BIN, 0, 0) X(216, i64x2_lt_s, BIN, 0, 0) \
	X(217, i64x2_gt_s, BIN, 0, 0) X(218, i64x2_le_s, BIN, 0, 0) X(219, i64x2_ge_s, BIN, 0, 0) \
	X(220, i64x2_extmul_low_i32x4_s, BIN, 0, 0) X(221, i64x2_extmul_high_i32x4_s, BIN, 0, 0) \
	X(222, i64x2_extmul_low_i32x4_u, BIN, 0, 0) X(223, i64x2_extmul_high_i32x4_u, BIN, 0, 0) \
	X(224, f32x4_abs, UN, 0, 0) X(225, f32x4_neg, UN, 0, 0) X(227, f32x4_sqrt, UN, 0, 0) \
	X(228, f32x4_add, BIN, 0, 0) X(229, f32x4_sub, BIN, 0, 0) X(230, f32x4_mul, BIN, 0, 0) \
	X(231, f32x4_div, BIN, 0, 0) X(232, f32x4_min, BIN, 0, 0) X(233, f32x4_max, BIN, 0, 0) \
	X(234, f32x4_pmin, BIN, 0, 0) X(235, f32x4_pmax, BIN, 0, 0) \
	X(236, f64x2_abs, UN, 0, 0) X(237, f64x2_neg, UN, 0, 0) X(239, f64x2_sqrt, UN, 0, 0) \
	X(240, f64x2_add, BIN, 0, 0) X(241, f64x2_sub, BIN, 0, 0) X(242, f64x2_mul, BIN, 0, 0) \
	X(243, f64x2_div, BIN, 0, 0) X(244, f64x2_min, BIN, 0, 0) X(245, f64x2_max, BIN, 0, 0) \
	X(246, f64x2_pmin, BIN, 0, 0) X(247, f64x2_pmax, BIN, 0, 0) \
	X(248, i32x4_trunc_sat_f32x4_s, UN, 0, 0) X(249, i32x4_trunc_sat_f32x4_u, UN, 0, 0) \
	X(250, f32x4_convert_i32x4_s, UN, 0, 0) X(251, f32x4_convert_i32x4_u, UN, 0, 0) \
	X(252, i32x4_trunc_sat_f64x2_s_zero, UN, 0, 0) X(253, i32x4_trunc_sat_f64x2_u_zero, UN, 0, 0) \
	X(254, f64x2_convert_low_i32x4_s, UN, 0, 0) X(255, f64x2_convert_low_i32x4_u, UN, 0, 0)

/*
 * Binary ops that also exist with an immediate right operand
 * (`<name>_imm`), X(name, expression over uint32_t/uint64_t a and b).
 */
#define WASM_IMM_I32_OPS(X) \
	X(i32_add, a + b) X(i32_sub, a - b) X(i32_mul, a * b) X(i32_and, a & b) X(i32_or, a | b) \
	X(i32_xor, a ^ b) X(i32_shl, a << (b & 31)) X(i32_shr_u, a >> (b & 31)) \
	X(i32_shr_s, (uint32_t)((int32_t)a >> (b & 31))) X(i32_rotl, rotl32(a, b)) X(i32_rotr, rotr32(a, b)) \
	X(i32_eq, a == b) X(i32_ne, a != b) X(i32_lt_s, (int32_t)a < (int32_t)b) X(i32_lt_u, a < b) \
	X(i32_gt_s, (int32_t)a > (int32_t)b) X(i32_gt_u, a > b) X(i32_le_s, (int32_t)a <= (int32_t)b) \
	X(i32_le_u, a <= b) X(i32_ge_s, (int32_t)a >= (int32_t)b) X(i32_ge_u, a >= b)
#define WASM_IMM_I64_OPS(X) \
	X(i64_add, a + b) X(i64_sub, a - b) X(i64_mul, a * b) X(i64_and, a & b) X(i64_or, a | b) \
	X(i64_xor, a ^ b) X(i64_shl, a << (b & 63)) X(i64_shr_u, a >> (b & 63)) \
	X(i64_shr_s, (uint64_t)((int64_t)a >> (b & 63))) X(i64_rotl, rotl64(a, b)) X(i64_rotr, rotr64(a, b)) \
	X(i64_eq, a == b) X(i64_ne, a != b) X(i64_lt_s, (int64_t)a < (int64_t)b) X(i64_lt_u, a < b) \
	X(i64_gt_s, (int64_t)a > (int64_t)b) X(i64_gt_u, a > b) X(i64_le_s, (int64_t)a <= (int64_t)b) \
	X(i64_le_u, a <= b) X(i64_ge_s, (int64_t)a >= (int64_t)b) X(i64_ge_u, a >= b)
/* compare-with-immediate-and-branch, X(name, condition) */
#define WASM_BR_IMM_OPS(X) \
	X(eq32, a == b) X(ne32, a != b) X(lt_s32, (int32_t)a < (int32_t)b) X(lt_u32, a < b) \
	X(gt_s32, (int32_t)a > (int32_t)b) X(gt_u32, a > b) X(le_s32, (int32_t)a <= (int32_t)b) \
	X(le_u32, a <= b) X(ge_s32, (int32_t)a >= (int32_t)b) X(ge_u32, a >= b) \
	X(and_nz32, (a & b) != 0) X(and_z32, (a & b) == 0)

/* Internal ops that are not plain numeric ones. Operand layouts are in
 * interp.c next to each handler. */
#define WASM_CTRL_OPS(X) \
	X(exit) X(unreachable) X(br) X(br_if_nz) X(br_if_z) X(br_table) \
	X(call) X(call_indirect) X(ret) X(ret1) X(ret0) \
	X(copy) X(const) X(select) X(global_get) X(global_set) \
	X(copy2) X(select2) X(global_get2) X(global_set2) \
	X(ref_is_null) X(ref_func) \
	X(ld32) X(ld64) X(ld8s32) X(ld8u) X(ld16s32) X(ld16u) X(ld8s64) X(ld16s64) X(ld32s64) \
	X(st8) X(st16) X(st32) X(st64) \
	X(memory_size) X(memory_grow) X(memory_init) X(data_drop) X(memory_copy) X(memory_fill) \
	X(table_get) X(table_set) X(table_size) X(table_grow) X(table_fill) X(table_copy) \
	X(table_init) X(elem_drop) \
	X(br_eqz32) X(br_nez32) X(br_eq32) X(br_ne32) X(br_lt_s32) X(br_lt_u32) X(br_gt_s32) \
	X(br_gt_u32) X(br_le_s32) X(br_le_u32) X(br_ge_s32) X(br_ge_u32) \
	X(i32_tst_z_imm) X(ld32_abs) X(ld64_abs) X(ld8u_abs) X(ld16u_abs) \
	X(ld32_addi) X(ld32_addr) X(ld64_addi) X(ld64_addr) X(ld8u_addi) X(ld8u_addr) \
	X(st32_addi) X(st32_addr) X(st64_addi) X(st64_addr) X(st8_addi) X(st8_addr) \
	X(i32_add_shl) X(ld32_idx) X(ld64_idx) X(ld8u_idx) X(st32_idx) X(st64_idx) X(st8_idx)

enum internal_op {
#define X_NUM(code, name, a, b, o) OP_##name,
#define X_SAT(code, name, a, o) OP_##name,
#define X_CTRL(name) OP_##name,
#define X_SIMD(code, name, shape, lanes, align) OP_##name,
	WASM_CTRL_OPS(X_CTRL)
	WASM_NUMERIC_OPS(X_NUM)
	WASM_SAT_OPS(X_SAT)
	WASM_SIMD_OPS(X_SIMD)
#define X_IMM(name, expr) OP_##name##_imm,
#define X_BRIMM(name, expr) OP_br_##name##_imm,
	WASM_IMM_I32_OPS(X_IMM) WASM_IMM_I64_OPS(X_IMM) WASM_BR_IMM_OPS(X_BRIMM)
#undef X_IMM
#undef X_BRIMM
#undef X_NUM
#undef X_SAT
#undef X_CTRL
#undef X_SIMD
	OP_MAX
};

#endif
