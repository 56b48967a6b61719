/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An LZ77 compressor (hash-chain match finder, greedy parse) and its
 * decompressor, round-tripping generated text: byte loads and stores,
 * short data-dependent loops and unpredictable branches, as real codecs.
 *
 *   lz [KIB] [ROUNDS]   compresses KIB KiB of text ROUNDS times and prints
 *                       sizes, a checksum of the stream, and round-trip OK.
 *
 * Stream: a literal run is a byte 0..127 (length-1) followed by the
 * bytes; a match is 128 + (length-4) (4..131), then a 16-bit distance.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_BITS 14
#define WINDOW 65535
#define MIN_MATCH 4
#define MAX_MATCH 131
#define MAX_CHAIN 32

static uint32_t hash4(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return (v * 2654435761u) >> (32 - HASH_BITS);
}

static size_t flush_literals(uint8_t *out, size_t o, const uint8_t *lit, size_t n)
{
	while (n > 0) {
		size_t k = n > 128 ? 128 : n;
		out[o++] = (uint8_t)(k - 1);
		memcpy(out + o, lit, k);
		o += k;
		lit += k;
		n -= k;
	}
	return o;
}

static size_t compress(const uint8_t *in, size_t n, uint8_t *out, int32_t *head, int32_t *prev)
{
	size_t i = 0, o = 0, lit_start = 0;

	for (size_t h = 0; h < (1u << HASH_BITS); h++)
		head[h] = -1;
	while (i + MIN_MATCH <= n) {
		uint32_t h = hash4(in + i);
		size_t best_len = 0, best_dist = 0;
		int chain = MAX_CHAIN;

		for (int32_t c = head[h]; c >= 0 && i - (size_t)c <= WINDOW && chain-- > 0;
		     c = prev[c]) {
			size_t l = 0, max = n - i < MAX_MATCH ? n - i : MAX_MATCH;
			while (l < max && in[c + l] == in[i + l])
				l++;
			if (l > best_len) {
				best_len = l;
				best_dist = i - (size_t)c;
			}
		}
		prev[i] = head[h];
		head[h] = (int32_t)i;
		if (best_len >= MIN_MATCH) {
			o = flush_literals(out, o, in + lit_start, i - lit_start);
			out[o++] = (uint8_t)(128 + best_len - MIN_MATCH);
			out[o++] = (uint8_t)best_dist;
			out[o++] = (uint8_t)(best_dist >> 8);
			/* Index the covered positions too, for later matches. */
			for (size_t k = 1; k < best_len && i + k + MIN_MATCH <= n; k++) {
				uint32_t hk = hash4(in + i + k);
				prev[i + k] = head[hk];
				head[hk] = (int32_t)(i + k);
			}
			i += best_len;
			lit_start = i;
		} else {
			i++;
		}
	}
	return flush_literals(out, o, in + lit_start, n - lit_start);
}

static size_t decompress(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t i = 0, o = 0;

	while (i < n) {
		uint8_t t = in[i++];
		if (t < 128) {
			size_t k = (size_t)t + 1;
			if (i + k > n || o + k > cap)
				return 0;
			memcpy(out + o, in + i, k);
			i += k;
			o += k;
		} else {
			size_t len = (size_t)t - 128 + MIN_MATCH, dist;
			if (i + 2 > n)
				return 0;
			dist = in[i] | (size_t)in[i + 1] << 8;
			i += 2;
			if (dist == 0 || dist > o || o + len > cap)
				return 0;
			for (size_t k = 0; k < len; k++, o++) /* may overlap: byte by byte */
				out[o] = out[o - dist];
		}
	}
	return o;
}

int main(int argc, char **argv)
{
	size_t n = (size_t)(argc > 1 ? atoi(argv[1]) : 64) * 1024;
	int rounds = argc > 2 ? atoi(argv[2]) : 1;
	static const char *words[] = { "compress", "the ", "data ", "window ", "match",
				       "literal ", "stream", "\n", "hash ", "chain ", "a ", "z" };
	uint8_t *in = malloc(n + 8), *out = malloc(n + n / 64 + 16), *back = malloc(n + 8);
	int32_t *head = malloc(sizeof(int32_t) << HASH_BITS), *prev = malloc(sizeof(int32_t) * n);
	uint32_t x = 7, crc = 0;
	size_t clen = 0;
	int ok = 1;

	if (!in || !out || !back || !head || !prev)
		return 1;
	for (size_t i = 0; i < n;) {
		x = x * 1103515245u + 12345u;
		const char *w = words[(x >> 16) % 12];
		size_t l = strlen(w);
		for (size_t k = 0; k < l && i < n; k++)
			in[i++] = (x >> 28) == 0 ? (uint8_t)('A' + (x >> 8) % 26) : (uint8_t)w[k];
	}
	for (int r = 0; r < rounds; r++) {
		clen = compress(in, n, out, head, prev);
		size_t dlen = decompress(out, clen, back, n);
		ok &= dlen == n && memcmp(in, back, n) == 0;
	}
	for (size_t i = 0; i < clen; i++)
		crc = (crc << 5 | crc >> 27) ^ out[i];
	printf("%zu bytes -> %zu bytes (%.2f%%), stream checksum %08x\n", n, clen,
	       100.0 * (double)clen / (double)n, crc);
	printf("round trip %s over %d rounds\n", ok ? "OK" : "FAILED", rounds);
	free(in);
	free(out);
	free(back);
	free(head);
	free(prev);
	return ok ? 0 : 1;
}
