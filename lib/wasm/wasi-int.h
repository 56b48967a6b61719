/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private helpers shared by the WASI files: little-endian guest memory
 * access behind one bounds check (mem_ok), fd and capability checks.
 * Freestanding. Callers check every range with mem_ok() first; the
 * accessors themselves do not.
 */
#ifndef MVM_WASI_INT_H
#define MVM_WASI_INT_H

#include "wasm/wasi.h"

/* ---- guest memory ---------------------------------------------------------- */

static inline bool mem_ok(const wasi_mem *mem, uint64_t addr, uint64_t len)
{
	/* addr < 2^32 and every len is below 2^40 (counts of at most 48-byte
	 * records), so the sum cannot wrap. */
	return mem->base != NULL && addr + len <= mem->size;
}

static inline void put_u16(wasi_mem *mem, uint32_t addr, uint16_t v)
{
	mem->base[addr] = (uint8_t)v;
	mem->base[addr + 1] = (uint8_t)(v >> 8);
}

static inline void put_u32(wasi_mem *mem, uint32_t addr, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		mem->base[addr + i] = (uint8_t)(v >> (8 * i));
}

static inline void put_u64(wasi_mem *mem, uint32_t addr, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		mem->base[addr + i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t get_u32(const wasi_mem *mem, uint64_t addr)
{
	const uint8_t *p = mem->base + addr;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get_u64(const wasi_mem *mem, uint64_t addr)
{
	return get_u32(mem, addr) | (uint64_t)get_u32(mem, addr + 4) << 32;
}

static inline uint16_t get_u16(const wasi_mem *mem, uint64_t addr)
{
	return (uint16_t)(mem->base[addr] | mem->base[addr + 1] << 8);
}

static inline void fill(wasi_mem *mem, uint32_t addr, uint32_t len, uint8_t v)
{
	for (uint32_t i = 0; i < len; i++)
		mem->base[addr + i] = v;
}

/* ---- file descriptors ------------------------------------------------------ */

static inline bool fd_open(const wasi_ctx *ctx, uint32_t fd)
{
	return fd <= 2 && !(ctx->closed & (1u << fd));
}

static inline uint32_t fd_cap(uint32_t fd)
{
	return fd == 0 ? WASI_CAP_STDIN : fd == 1 ? WASI_CAP_STDOUT : WASI_CAP_STDERR;
}

static inline bool granted(const wasi_ctx *ctx, uint32_t cap)
{
	return (ctx->caps & cap) == cap;
}

/* Negative host result -> WASI errno; anything out of range is EIO. */
static inline uint32_t host_errno(int64_t r)
{
	return r < 0 && r >= -76 ? (uint32_t)-r : WASI_ERRNO_IO;
}

#endif
