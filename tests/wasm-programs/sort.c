/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sorting pseudo-random data: libc qsort (indirect calls through a
 * comparator) and a hand-written merge sort (loads, stores, branches).
 *
 *   sort [N] [PASSES]   sorts N 32-bit values PASSES times with each
 *                       algorithm, checks order and prints checksums.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t lcg_state = 12345;

static uint32_t lcg(void)
{
	lcg_state = lcg_state * 1103515245u + 12345u;
	return lcg_state ^ (lcg_state >> 16);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static void merge_sort(uint32_t *v, uint32_t *tmp, size_t n)
{
	if (n < 2)
		return;
	if (n <= 16) {
		/* Insertion sort for short runs, as production merge sorts do. */
		for (size_t i = 1; i < n; i++) {
			uint32_t x = v[i];
			size_t j = i;
			while (j > 0 && v[j - 1] > x) {
				v[j] = v[j - 1];
				j--;
			}
			v[j] = x;
		}
		return;
	}
	size_t mid = n / 2, i = 0, j = mid, k = 0;
	merge_sort(v, tmp, mid);
	merge_sort(v + mid, tmp, n - mid);
	while (i < mid && j < n)
		tmp[k++] = v[i] <= v[j] ? v[i++] : v[j++];
	while (i < mid)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

static uint64_t checksum(const uint32_t *v, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= v[i];
		h *= 1099511628211ull;
	}
	return h;
}

static int is_sorted(const uint32_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (v[i - 1] > v[i])
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	int passes = argc > 2 ? atoi(argv[2]) : 1;
	uint32_t *a = malloc(n * sizeof(*a)), *b = malloc(n * sizeof(*b));
	uint32_t *tmp = malloc(n * sizeof(*tmp));
	int bad = 0;

	if (!a || !b || !tmp) {
		fprintf(stderr, "sort: out of memory\n");
		return 1;
	}
	for (int p = 0; p < passes; p++) {
		for (size_t i = 0; i < n; i++)
			a[i] = b[i] = lcg() % (n * 4 + 1);
		uint64_t before = checksum(a, n);
		qsort(a, n, sizeof(*a), cmp_u32);
		merge_sort(b, tmp, n);
		if (!is_sorted(a, n) || !is_sorted(b, n) || memcmp(a, b, n * sizeof(*a)))
			bad++;
		printf("pass %d: in %016llx out %016llx min %u median %u max %u\n", p,
		       (unsigned long long)before, (unsigned long long)checksum(a, n),
		       n ? a[0] : 0, n ? a[n / 2] : 0, n ? a[n - 1] : 0);
	}
	printf("%s\n", bad ? "MISMATCH" : "sorted ok");
	free(a);
	free(b);
	free(tmp);
	return bad ? 1 : 0;
}
