/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IEEE-754 helpers with WebAssembly semantics, without libm: rounding is
 * done with integer conversions or the 2^52 trick (which relies on the
 * default round-to-nearest-even mode), sign operations on bits, and
 * min/max/NaN handling spelled out as the spec requires.
 */
#ifndef MVM_WASM_NUMERIC_H
#define MVM_WASM_NUMERIC_H

#include <stdint.h>

static inline float f32_of(uint32_t b)
{
	union { uint32_t u; float f; } x = { .u = b };
	return x.f;
}
static inline uint32_t bits_f32(float f)
{
	union { float f; uint32_t u; } x = { .f = f };
	return x.u;
}
static inline double f64_of(uint64_t b)
{
	union { uint64_t u; double f; } x = { .u = b };
	return x.f;
}
static inline uint64_t bits_f64(double f)
{
	union { double f; uint64_t u; } x = { .f = f };
	return x.u;
}

#define F32_SIGN 0x80000000u
#define F64_SIGN 0x8000000000000000ull

/* result takes the sign of x (all four roundings preserve the sign) */
static inline uint32_t f32_round_common(uint32_t b, int mode)
{
	uint32_t exp = (b >> 23) & 0xff;
	float x = f32_of(b);
	if (exp == 0xff)
		return bits_f32(x + x); /* NaN: quiet it; inf: itself */
	if (exp >= 127 + 23)
		return b; /* already integral */
	float ax = f32_of(b & ~F32_SIGN), r;
	if (mode == 3) { /* nearest, ties to even */
		r = (ax + 8388608.0f) - 8388608.0f;
	} else {
		r = (float)(int32_t)ax; /* trunc of |x| */
		if (mode == 0 && (b & F32_SIGN) && r != ax) /* floor of negative */
			r += 1.0f;
		if (mode == 1 && !(b & F32_SIGN) && r != ax) /* ceil of positive */
			r += 1.0f;
	}
	return bits_f32(r) | (b & F32_SIGN);
}

static inline uint64_t f64_round_common(uint64_t b, int mode)
{
	uint64_t exp = (b >> 52) & 0x7ff;
	double x = f64_of(b);
	if (exp == 0x7ff)
		return bits_f64(x + x);
	if (exp >= 1023 + 52)
		return b;
	double ax = f64_of(b & ~F64_SIGN), r;
	if (mode == 3) {
		r = (ax + 4503599627370496.0) - 4503599627370496.0;
	} else {
		r = (double)(int64_t)ax;
		if (mode == 0 && (b & F64_SIGN) && r != ax)
			r += 1.0;
		if (mode == 1 && !(b & F64_SIGN) && r != ax)
			r += 1.0;
	}
	return bits_f64(r) | (b & F64_SIGN);
}

/* modes: 0 floor, 1 ceil, 2 trunc, 3 nearest */
#define f32_floor(b) f32_round_common(b, 0)
#define f32_ceil(b) f32_round_common(b, 1)
#define f32_trunc(b) f32_round_common(b, 2)
#define f32_nearest(b) f32_round_common(b, 3)
#define f64_floor(b) f64_round_common(b, 0)
#define f64_ceil(b) f64_round_common(b, 1)
#define f64_trunc(b) f64_round_common(b, 2)
#define f64_nearest(b) f64_round_common(b, 3)

static inline uint32_t f32_min(uint32_t a, uint32_t b)
{
	float x = f32_of(a), y = f32_of(b);
	if (x != x || y != y)
		return bits_f32(x + y);
	if (x == y)
		return a | b; /* -0 wins */
	return x < y ? a : b;
}
static inline uint32_t f32_max(uint32_t a, uint32_t b)
{
	float x = f32_of(a), y = f32_of(b);
	if (x != x || y != y)
		return bits_f32(x + y);
	if (x == y)
		return a & b; /* +0 wins */
	return x > y ? a : b;
}
static inline uint64_t f64_min(uint64_t a, uint64_t b)
{
	double x = f64_of(a), y = f64_of(b);
	if (x != x || y != y)
		return bits_f64(x + y);
	if (x == y)
		return a | b;
	return x < y ? a : b;
}
static inline uint64_t f64_max(uint64_t a, uint64_t b)
{
	double x = f64_of(a), y = f64_of(b);
	if (x != x || y != y)
		return bits_f64(x + y);
	if (x == y)
		return a & b;
	return x > y ? a : b;
}

static inline float f32_sqrt(float x)
{
#if defined(__x86_64__) && defined(__SSE__)
	float r;
	__asm__("sqrtss %1, %0" : "=x"(r) : "x"(x));
	return r;
#else
	return __builtin_sqrtf(x);
#endif
}
static inline double f64_sqrt(double x)
{
#if defined(__x86_64__) && defined(__SSE2__)
	double r;
	__asm__("sqrtsd %1, %0" : "=x"(r) : "x"(x));
	return r;
#else
	return __builtin_sqrt(x);
#endif
}

/* u64 -> f32/f64 with correct rounding without relying on the compiler's
 * helper routines (which a freestanding link may not have). */
static inline float u64_to_f32(uint64_t v)
{
	if ((int64_t)v >= 0)
		return (float)(int64_t)v;
	/* halve, keeping the lost bit sticky, convert, double */
	return (float)(int64_t)((v >> 1) | (v & 1)) * 2.0f;
}
static inline double u64_to_f64(uint64_t v)
{
	if ((int64_t)v >= 0)
		return (double)(int64_t)v;
	return (double)(int64_t)((v >> 1) | (v & 1)) * 2.0;
}
static inline uint64_t f64_to_u64(double d) /* d in [0, 2^64) */
{
	if (d < 9223372036854775808.0)
		return (uint64_t)(int64_t)d;
	return (uint64_t)(int64_t)(d - 9223372036854775808.0) ^ F64_SIGN;
}
static inline uint64_t f32_to_u64(float f)
{
	if (f < 9223372036854775808.0f)
		return (uint64_t)(int64_t)f;
	return (uint64_t)(int64_t)(f - 9223372036854775808.0f) ^ F64_SIGN;
}

#endif
