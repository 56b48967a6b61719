/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Word frequencies in a hash table: malloc/free of many small strings,
 * table growth through realloc, pointer chasing through chains, then a
 * qsort of the entries. Allocator-heavy, as servers and parsers are.
 *
 *   wordfreq [WORDS] [ROUNDS]   counts WORDS generated words ROUNDS times
 *                               and prints the table size and top words.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *next;
	uint32_t hash;
	uint32_t count;
	char word[]; /* NUL-terminated */
};

struct table {
	struct entry **slot;
	size_t nslots, nentries;
};

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static int grow(struct table *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 64;
	struct entry **s = calloc(n, sizeof(*s));

	if (!s)
		return -1;
	for (size_t i = 0; i < t->nslots; i++)
		for (struct entry *e = t->slot[i], *next; e; e = next) {
			next = e->next;
			e->next = s[e->hash & (n - 1)];
			s[e->hash & (n - 1)] = e;
		}
	free(t->slot);
	t->slot = s;
	t->nslots = n;
	return 0;
}

static int add(struct table *t, const char *w)
{
	uint32_t h = fnv1a(w);

	if (t->nentries >= t->nslots * 3 / 4 && grow(t) < 0)
		return -1;
	for (struct entry *e = t->slot[h & (t->nslots - 1)]; e; e = e->next)
		if (e->hash == h && strcmp(e->word, w) == 0) {
			e->count++;
			return 0;
		}
	size_t l = strlen(w);
	struct entry *e = malloc(sizeof(*e) + l + 1);
	if (!e)
		return -1;
	memcpy(e->word, w, l + 1);
	e->hash = h;
	e->count = 1;
	e->next = t->slot[h & (t->nslots - 1)];
	t->slot[h & (t->nslots - 1)] = e;
	t->nentries++;
	return 0;
}

static int by_count(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a, *y = *(const struct entry *const *)b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->word, y->word);
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nslots; i++)
		for (struct entry *e = t->slot[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

int main(int argc, char **argv)
{
	long nwords = argc > 1 ? atol(argv[1]) : 20000;
	int rounds = argc > 2 ? atoi(argv[2]) : 1;
	static const char *syl[] = { "ka", "lo", "mi", "ne", "ru", "shi", "ta", "vo", "ze", "qu",
				     "an", "el", "in", "or", "ul", "y" };
	struct table t = { 0 };
	uint64_t x = 88172645463325252ull;

	for (int r = 0; r < rounds; r++) {
		table_free(&t);
		for (long i = 0; i < nwords; i++) {
			char w[32];
			size_t l = 0;
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* Short words are common, long ones rare: a skewed vocabulary. */
			int nsyl = 1 + (int)__builtin_ctzll(x | (1ull << 5));
			for (int k = 0; k < nsyl; k++) {
				const char *s = syl[(x >> (8 + 4 * k)) & 15];
				size_t sl = strlen(s);
				memcpy(w + l, s, sl);
				l += sl;
			}
			w[l] = 0;
			if (add(&t, w) < 0) {
				fprintf(stderr, "wordfreq: out of memory\n");
				return 1;
			}
		}
	}
	struct entry **all = malloc(t.nentries * sizeof(*all));
	size_t k = 0;
	if (!all)
		return 1;
	for (size_t i = 0; i < t.nslots; i++)
		for (struct entry *e = t.slot[i]; e; e = e->next)
			all[k++] = e;
	qsort(all, k, sizeof(*all), by_count);
	printf("%ld words, %zu distinct, %zu slots\n", nwords, t.nentries, t.nslots);
	for (size_t i = 0; i < k && i < 8; i++)
		printf("%8u %s\n", all[i]->count, all[i]->word);
	printf("rarest: %s (%u)\n", k ? all[k - 1]->word : "-", k ? all[k - 1]->count : 0);
	free(all);
	table_free(&t);
	return 0;
}
