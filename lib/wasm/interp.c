/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stage 4: the interpreter. Threaded code: each instruction is a handler
 * address followed by operand cells (frame-slot indices or immediates),
 * dispatched with computed goto; define WASM_SWITCH_DISPATCH to get a
 * portable switch instead (the Lua trick: only the macros change).
 *
 * Calls never recurse on the C stack: a wasm call pushes a struct frame
 * on the store's frame stack and continues in the same loop. Host calls
 * are plain C calls; a host function that re-enters wasm_call starts a
 * nested run above the current frames, bounded by the same limits.
 */
#include "wasm-int.h"
#include "numeric.h"
#include "opcodes.h"

#if !defined(__GNUC__)
#define WASM_SWITCH_DISPATCH 1
#endif

static cell exit_code[1]; /* [OP_exit]: where the entry frame returns */
#ifndef WASM_SWITCH_DISPATCH
static const void *const *handler_table;
#endif

static wasm_trap_kind run(wasm_store *s, const cell *ip, slot_t *fp, wasm_instance *inst);

const void *wasmi_interp_handler(unsigned op)
{
#ifdef WASM_SWITCH_DISPATCH
	return (const void *)(uintptr_t)op;
#else
	if (!handler_table)
		run(NULL, NULL, NULL, NULL);
	return handler_table[op];
#endif
}

int64_t wasmi_memory_grow(wasm_memory *m, uint32_t delta)
{
	uint32_t old = m->pages;
	if (delta == 0)
		return old;
	if ((uint64_t)old + delta > m->max)
		return -1;
	uint64_t nsize = ((uint64_t)old + delta) * WASM_PAGE;
	if (nsize > (size_t)-1)
		return -1;
	uint8_t *n = wasm_realloc(&m->store->cfg, m->data, (size_t)m->size, (size_t)nsize);
	if (!n)
		return -1;
	__builtin_memset(n + m->size, 0, (size_t)(nsize - m->size));
	m->data = n;
	m->size = nsize;
	m->pages = old + delta;
	m->store->mem_epoch++; /* running code must reload its memory base */
	return old;
}

int64_t wasmi_table_grow(wasm_table *t, uint32_t delta, uint64_t init)
{
	uint32_t old = t->size;
	if ((uint64_t)old + delta > t->max)
		return -1;
	if (delta == 0)
		return old;
	uint64_t *n = wasm_realloc(&t->store->cfg, t->elems, (size_t)old * 8, ((size_t)old + delta) * 8);
	if (!n)
		return -1;
	for (uint32_t i = old; i < old + delta; i++)
		n[i] = init;
	t->elems = n;
	t->size = old + delta;
	return old;
}

static wasm_trap_kind call_host(wasm_store *s, wasm_func *f, wasm_instance *caller, slot_t *args)
{
	wasm_val in[WASM_HOST_MAX_PARAMS], out[WASM_HOST_MAX_PARAMS];
	const struct functype *t = f->type;
	uint32_t k = 0;
	for (uint32_t i = 0; i < t->nparams; i++)
		k += wasmi_slots_to_val(t->types[i], args + k, &in[i]);
	for (uint32_t i = 0; i < t->nresults; i++) {
		__builtin_memset(&out[i], 0, sizeof(out[i]));
		out[i].type = (wasm_valtype)t->types[t->nparams + i];
	}
	slot_t *saved_sp = s->sp;
	s->sp = args + 2 * (t->nparams > t->nresults ? t->nparams : t->nresults);
	s->host_nesting++;
	wasm_trap_kind tk = f->fn(caller, in, out, f->ud);
	s->host_nesting--;
	s->sp = saved_sp;
	if (tk != WASM_TRAP_NONE)
		return tk;
	k = 0;
	for (uint32_t i = 0; i < t->nresults; i++)
		k += wasmi_val_to_slots(&out[i], t->types[t->nparams + i], args + k);
	return WASM_TRAP_NONE;
}

wasm_trap_kind wasmi_interp_call(wasm_store *s, wasm_func *f, slot_t *args, wasm_trap *ret_trap)
{
	(void)ret_trap;
	(void)wasmi_interp_handler(OP_exit);
	if (f->host)
		return call_host(s, f, NULL, args);
	uint32_t depth0 = s->depth;
	if (s->depth + 1 >= s->cfg.max_call_depth || args + f->frame_slots > s->stack + s->cfg.max_value_stack)
		return WASM_TRAP_STACK_EXHAUSTED;
	s->frames[s->depth++] = (struct frame){ exit_code, args, NULL };
	__builtin_memset(args + f->nparams, 0, (size_t)f->nlocals * sizeof(slot_t));
	wasm_trap_kind k = run(s, f->code, args, f->inst);
	s->depth = depth0;
	return k;
}

/* ---- the loop ------------------------------------------------------------------ */

#define U32(k) ((uint32_t)fp[ip[k].u])
#define U64(k) (fp[ip[k].u])
#define I32(k) ((int32_t)U32(k))
#define I64(k) ((int64_t)U64(k))
#define FF32(k) f32_of(U32(k))
#define FF64(k) f64_of(U64(k))
#define DST fp[ip[1].u]

#ifdef WASM_SWITCH_DISPATCH
#define CASE(n) case OP_##n:
#define NEXT() goto dispatch
#elif defined(__clang__)
/*
 * One shared indirect jump: LLVM gives every `goto *` an edge to every
 * label, which is quadratic in the handler count (minutes of compile time
 * under sanitizers); its tail duplication re-replicates the jump in the
 * generated code anyway. GCC factors and unfactors computed gotos itself.
 */
#define CASE(n) L_##n:
#define NEXT() goto dispatch
#define WASM_FACTORED_DISPATCH 1
#else
#define CASE(n) L_##n:
#define NEXT() goto *ip->p
#endif

/* Fuel ran out: the embedder's hook may give more (wasm_config.refuel). */
static __attribute__((noinline, cold)) uint64_t refuel(wasm_store *s)
{
	return s->cfg.refuel ? s->cfg.refuel(s->cfg.refuel_ud) : 0;
}

#define TRAP(k)                          \
	do {                             \
		trap = (k);              \
		goto trapped;            \
	} while (0)

#define RELOAD_MEM()                                     \
	do {                                             \
		wasm_memory *m0_ = inst->mems ? inst->mems[0] : NULL; \
		mb = m0_ ? m0_->data : NULL;             \
		ms = m0_ ? m0_->size : 0;                \
		epoch = s->mem_epoch;                    \
	} while (0)

/* binary op: [op][dst][a][b] */
#define BIN(name, expr)                     \
	CASE(name)                          \
	{                                   \
		DST = (expr);               \
		ip += 4;                    \
		NEXT();                     \
	}
/* unary op: [op][dst][a] */
#define UN(name, expr)                      \
	CASE(name)                          \
	{                                   \
		DST = (expr);               \
		ip += 3;                    \
		NEXT();                     \
	}

#define EA(size)                                                        \
	({                                                              \
		uint64_t ea_ = (uint64_t)U32(2) + ip[3].u;              \
		if (__builtin_expect(ea_ + (size) > ms, 0))            \
			TRAP(WASM_TRAP_OOB_MEMORY);                     \
		ea_;                                                    \
	})
#define LOAD(name, T, conv)                                             \
	CASE(name)                                                      \
	{                                                               \
		T v_;                                                   \
		__builtin_memcpy(&v_, mb + EA(sizeof(T)), sizeof(T));  \
		DST = conv(v_);                                         \
		ip += 4;                                                \
		NEXT();                                                 \
	}
#define STORE(name, T)                                                  \
	CASE(name)                                                      \
	{                                                               \
		T v_ = (T)fp[ip[1].u];                                  \
		__builtin_memcpy(mb + EA(sizeof(T)), &v_, sizeof(T));  \
		ip += 4;                                                \
		NEXT();                                                 \
	}
#define CVT_U(x) ((uint64_t)(x))
#define CVT_S32(x) ((uint64_t)(uint32_t)(int32_t)(x))
#define CVT_S64(x) ((uint64_t)(int64_t)(x))

/* compare-and-branch: [op][a][b][rel] */
#define BR2(name, cond)                               \
	CASE(name)                                    \
	{                                             \
		if (cond)                             \
			JUMP(ip[3].i);                \
		ip += 4;                              \
		NEXT();                               \
	}

/*
 * Taken branch by a cell offset. Backward jumps (the only way to loop)
 * pay the fuel; forward ones only test the sign.
 */
#define JUMP(rel)                                                         \
	do {                                                              \
		int64_t rel_ = (rel);                                     \
		if (rel_ <= 0 && __builtin_expect(--fuel == 0, 0) &&      \
		    !(fuel = refuel(s)))                                  \
			TRAP(WASM_TRAP_OUT_OF_FUEL);                      \
		ip += rel_;                                               \
		NEXT();                                                   \
	} while (0)

/* a v128 in two slots, viewed by lanes */
typedef union v128 {
	uint8_t u8[16];
	int8_t i8[16];
	uint16_t u16[8];
	int16_t i16[8];
	uint32_t u32[4];
	int32_t i32[4];
	uint64_t u64[2];
	int64_t i64[2];
	float f32[4];
	double f64[2];
} v128_t;

/* no __builtin_popcount: without -mpopcnt it becomes a libgcc call */
static inline uint64_t popcnt64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (x * 0x0101010101010101ull) >> 56;
}

static inline uint32_t rotl32(uint32_t x, uint32_t n)
{
	n &= 31;
	return n ? (x << n) | (x >> (32 - n)) : x;
}
static inline uint32_t rotr32(uint32_t x, uint32_t n)
{
	n &= 31;
	return n ? (x >> n) | (x << (32 - n)) : x;
}
static inline uint64_t rotl64(uint64_t x, uint64_t n)
{
	n &= 63;
	return n ? (x << n) | (x >> (64 - n)) : x;
}
static inline uint64_t rotr64(uint64_t x, uint64_t n)
{
	n &= 63;
	return n ? (x >> n) | (x << (64 - n)) : x;
}

/*
 * Zero a function's locals. Usually a handful: compilers turn a plain
 * loop into a call to memset, which costs more than the stores; the
 * volatile store keeps it a loop of plain moves.
 */
static inline void zero_slots(slot_t *p, uint32_t n)
{
	volatile slot_t *v = p;
	for (uint32_t i = 0; i < n; i++)
		v[i] = 0;
}

/* the SIMD lane operations, as functions (see interp-simd.inc) */
#define SIMD_FUNCS
#include "interp-simd.inc"
#undef SIMD_FUNCS
#undef VBIN
#undef VUN
#undef VSHIFT
#undef VTEST

static wasm_trap_kind run(wasm_store *s, const cell *ip, slot_t *fp, wasm_instance *inst)
{
#ifndef WASM_SWITCH_DISPATCH
#define X_LBL_CTRL(n) &&L_##n,
#define X_LBL_NUM(code, n, a, b, o) &&L_##n,
#define X_LBL_SAT(code, n, a, o) &&L_##n,
#define X_LBL_SIMD(code, n, shape, lanes, align) &&L_##n,
	static const void *const labels[] = {
		WASM_CTRL_OPS(X_LBL_CTRL) WASM_NUMERIC_OPS(X_LBL_NUM) WASM_SAT_OPS(X_LBL_SAT)
		WASM_SIMD_OPS(X_LBL_SIMD)
#define X_LBL_IMM(n, e) &&L_##n##_imm,
#define X_LBL_BRIMM(n, e) &&L_br_##n##_imm,
		WASM_IMM_I32_OPS(X_LBL_IMM) WASM_IMM_I64_OPS(X_LBL_IMM) WASM_BR_IMM_OPS(X_LBL_BRIMM)
	};
	if (!s) {
		exit_code[0].p = labels[OP_exit];
		handler_table = labels;
		return WASM_TRAP_NONE;
	}
#endif
	wasm_trap_kind trap = WASM_TRAP_NONE;
	uint8_t *mb;
	uint64_t ms, epoch;
	uint64_t fuel = s->fuel;
	slot_t *stack_end = s->stack + s->cfg.max_value_stack;
	wasm_func *f;
	slot_t *nfp;
	/* the frame stack pointer lives in a register; s->depth is synced
	 * whenever control leaves run() (host calls, exit, traps) */
	struct frame *fsp = s->frames + s->depth;
	struct frame *const fend = s->frames + s->cfg.max_call_depth;
	RELOAD_MEM();

#ifdef WASM_SWITCH_DISPATCH
dispatch:
	switch ((unsigned)ip->u) {
#elif defined(WASM_FACTORED_DISPATCH)
dispatch:
	goto *ip->p;
	{
#else
	NEXT();
	{
#endif
#include "interp-ops.inc"
#include "interp-simd.inc"

	do_call:
		if (f->host) {
			s->fuel = fuel;
			s->depth = (uint32_t)(fsp - s->frames);
			trap = call_host(s, f, inst, nfp);
			fuel = s->fuel;
			if (trap != WASM_TRAP_NONE)
				goto trapped;
			if (epoch != s->mem_epoch)
				RELOAD_MEM();
			NEXT();
		}
		if (__builtin_expect(fsp >= fend || nfp + f->frame_slots > stack_end, 0))
			TRAP(WASM_TRAP_STACK_EXHAUSTED);
		if (__builtin_expect(--fuel == 0, 0) && !(fuel = refuel(s)))
			TRAP(WASM_TRAP_OUT_OF_FUEL);
		fsp->ret_ip = ip;
		fsp->fp = fp;
		fsp->inst = inst;
		fsp++;
		zero_slots(nfp + f->nparams, f->nlocals);
		fp = nfp;
		ip = f->code;
		if (f->inst != inst) {
			inst = f->inst;
			RELOAD_MEM();
		}
		NEXT();

	do_return: {
		struct frame *fr = --fsp;
		ip = fr->ret_ip;
		fp = fr->fp;
		/* reload the memory base only if the instance changed or some
		 * memory grew meanwhile (the epoch counts grows in the store) */
		if (fr->inst && (fr->inst != inst || epoch != s->mem_epoch)) {
			inst = fr->inst;
			RELOAD_MEM();
		}
		NEXT();
	}
	}
trapped:
	s->fuel = fuel;
	s->depth = (uint32_t)(fsp - s->frames);
	return trap;
}
