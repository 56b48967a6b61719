/* SPDX-License-Identifier: Apache-2.0 */
/*
 * String and memory routines: memcpy, memmove, memset, memcmp, strlen,
 * strchr, strstr, strcmp and a hand-rolled word counter over a generated
 * text, the kind of byte-at-a-time work parsers do.
 *
 *   strmem [ROUNDS]   prints counts and checksums for each round group.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_SIZE (64 * 1024)

static const char *words[] = { "micro", "vm", "wasm", "the", "kernel", "hypercall", "needle",
			       "guest", "host", "a", "memory", "page", "trap", "stack" };

static uint32_t rng = 1;

static uint32_t next(void)
{
	rng = rng * 1664525u + 1013904223u;
	return rng >> 8;
}

static size_t make_text(char *t, size_t size)
{
	size_t n = 0;
	while (n + 16 < size) {
		const char *w = words[next() % (sizeof(words) / sizeof(words[0]))];
		size_t l = strlen(w);
		memcpy(t + n, w, l);
		n += l;
		t[n++] = next() % 11 == 0 ? '\n' : ' ';
	}
	t[n] = 0;
	return n;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 4;
	char *text = malloc(TEXT_SIZE), *copy = malloc(TEXT_SIZE);
	uint64_t total_needles = 0, total_words = 0, sum = 0;

	if (!text || !copy)
		return 1;
	for (int r = 0; r < rounds; r++) {
		size_t len = make_text(text, TEXT_SIZE);
		size_t needles = 0, lines = 0, nwords = 0;
		const char *p = text;

		if (strlen(text) != len)
			printf("strlen mismatch\n");
		while ((p = strstr(p, "needle")) != NULL) {
			needles++;
			p += 6;
		}
		for (p = text; (p = strchr(p, '\n')) != NULL; p++)
			lines++;
		int in_word = 0;
		for (size_t i = 0; i < len; i++) {
			int space = text[i] == ' ' || text[i] == '\n';
			nwords += !space && !in_word;
			in_word = !space;
		}
		memcpy(copy, text, len + 1);
		memmove(copy + 1, copy, len + 1); /* overlapping move */
		copy[0] = '>';
		if (memcmp(copy + 1, text, len) != 0 || strcmp(copy + 1, text) != 0)
			printf("memmove mismatch\n");
		memset(copy, 'x', len / 2);
		for (size_t i = 0; i < len; i += 97)
			sum = sum * 131 + (unsigned char)copy[i];
		total_needles += needles;
		total_words += nwords;
		if (r % 8 == 0 || r == rounds - 1)
			printf("round %d: %zu bytes, %zu words, %zu lines, %zu needles\n", r, len, nwords,
			       lines, needles);
	}
	printf("total: %llu words, %llu needles, sum %016llx\n", (unsigned long long)total_words,
	       (unsigned long long)total_needles, (unsigned long long)sum);
	free(text);
	free(copy);
	return 0;
}
