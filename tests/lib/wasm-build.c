/* SPDX-License-Identifier: Apache-2.0 */
#include "wasm-build.h"

#include <stdlib.h>
#include <string.h>

void wb_free(struct wb *w)
{
	free(w->b);
	memset(w, 0, sizeof(*w));
}

void wb_bytes(struct wb *w, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (w->n + n > w->cap) {
		w->cap = (w->n + n) * 2 + 64;
		w->b = realloc(w->b, w->cap);
		if (!w->b)
			abort();
	}
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

void wb_u8(struct wb *w, uint8_t v)
{
	wb_bytes(w, &v, 1);
}

void wb_u32(struct wb *w, uint32_t v)
{
	do {
		uint8_t b = v & 0x7f;
		v >>= 7;
		wb_u8(w, (uint8_t)(b | (v ? 0x80 : 0)));
	} while (v);
}

void wb_s64(struct wb *w, int64_t v)
{
	for (;;) {
		uint8_t b = v & 0x7f;
		v >>= 7;
		bool done = (v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40));
		wb_u8(w, (uint8_t)(b | (done ? 0 : 0x80)));
		if (done)
			break;
	}
}

size_t wb_begin(struct wb *w)
{
	static const uint8_t pad[5] = { 0x80, 0x80, 0x80, 0x80, 0x00 };
	size_t at = w->n;
	wb_bytes(w, pad, 5);
	return at;
}

void wb_end(struct wb *w, size_t at)
{
	uint32_t v = (uint32_t)(w->n - at - 5);
	for (int i = 0; i < 5; i++) {
		w->b[at + i] = (uint8_t)((v & 0x7f) | (i < 4 ? 0x80 : 0));
		v >>= 7;
	}
}

void wb_header(struct wb *w)
{
	static const uint8_t h[8] = { 0, 'a', 's', 'm', 1, 0, 0, 0 };
	wb_bytes(w, h, 8);
}

size_t wb_section(struct wb *w, uint8_t id)
{
	wb_u8(w, id);
	return wb_begin(w);
}

static void name(struct wb *w, const char *s)
{
	wb_u32(w, (uint32_t)strlen(s));
	wb_bytes(w, s, strlen(s));
}

void wb_module(struct wb *w, const struct wb_func *f)
{
	size_t s;
	wb_header(w);
	s = wb_section(w, 1);
	wb_u32(w, f->import_module ? 2 : 1);
	wb_u8(w, 0x60);
	wb_u32(w, f->nparams);
	wb_bytes(w, f->params, f->nparams);
	wb_u32(w, f->nresults);
	wb_bytes(w, f->results, f->nresults);
	if (f->import_module) {
		static const uint8_t t[] = { 0x60, 0, 1, 0x7f };
		wb_bytes(w, t, sizeof(t));
	}
	wb_end(w, s);
	if (f->import_module) {
		s = wb_section(w, 2);
		wb_u32(w, 1);
		name(w, f->import_module);
		name(w, f->import_name);
		wb_u8(w, 0);
		wb_u32(w, 1);
		wb_end(w, s);
	}
	s = wb_section(w, 3);
	wb_u32(w, 1);
	wb_u32(w, 0);
	wb_end(w, s);
	if (f->mem_min >= 0) {
		s = wb_section(w, 5);
		wb_u32(w, 1);
		wb_u8(w, f->mem_max >= 0 ? 1 : 0);
		wb_u32(w, (uint32_t)f->mem_min);
		if (f->mem_max >= 0)
			wb_u32(w, (uint32_t)f->mem_max);
		wb_end(w, s);
	}
	s = wb_section(w, 7);
	wb_u32(w, f->mem_min >= 0 ? 2 : 1);
	name(w, "f");
	wb_u8(w, 0);
	wb_u32(w, f->import_module ? 1 : 0);
	if (f->mem_min >= 0) {
		name(w, "mem");
		wb_u8(w, 2);
		wb_u32(w, 0);
	}
	wb_end(w, s);
	s = wb_section(w, 10);
	wb_u32(w, 1);
	size_t b = wb_begin(w);
	if (f->nlocals_i32) {
		wb_u32(w, 1);
		wb_u32(w, f->nlocals_i32);
		wb_u8(w, 0x7f);
	} else {
		wb_u32(w, 0);
	}
	wb_bytes(w, f->body, f->body_len);
	wb_end(w, b);
	wb_end(w, s);
}

void *wb_alloc(void *ud, void *p, size_t old, size_t n)
{
	(void)ud, (void)old;
	if (n == 0) {
		free(p);
		return NULL;
	}
	return realloc(p, n);
}

void wb_config(wasm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->alloc = wb_alloc;
	wasm_config_init(c);
}
