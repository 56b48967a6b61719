/*
 * Reused workers (docs/workloads.md, "Reused workers"), one module for
 * every run a reuse test makes (a worker is reused only for its module):
 *   secret write MS     reads its stdin (a secret) only in part, keeps
 *                       copies in static data, the heap, the stack and
 *                       each page of 6 MiB it grows its memory by, then
 *                       sleeps MS ms (so the test sees its pid)
 *   secret scan REV MS  grows its memory by the same 6 MiB (more than
 *                       half of what a 16 MiB guest has: it fails where
 *                       the last run's memory was not given back), looks
 *                       for the secret (given reversed, so that its own
 *                       argv does not hold it) in the whole of its linear
 *                       memory and in all of its stdin, then sleeps MS
 *                       ms; "clean" or "found ..."
 *   secret spin         loops for ever (a timeout ends it)
 *   secret flood        writes 1 MiB to stdout
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char kept[256];
static volatile uintptr_t base; /* 0: linear memory's first byte, hidden from the optimiser */

#define GROW_PAGES 96 /* 6 MiB of Wasm pages */

static void nap(const char *ms)
{
	long v = atol(ms);
	struct timespec ts = { v / 1000, (v % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int do_write(const char *ms)
{
	char buf[64];
	volatile char stack[64];
	ssize_t n = read(0, buf, sizeof(buf)); /* the rest stays unread */
	char *heap;

	if (n <= 0)
		return 2;
	memcpy(kept, buf, (size_t)n);
	size_t at = __builtin_wasm_memory_grow(0, GROW_PAGES);
	if (at == (size_t)-1)
		return 4;
	for (size_t p = 0; p < GROW_PAGES; p++)
		memcpy((char *)(base + (at + p) * 65536), buf, (size_t)n);
	heap = malloc((size_t)n);
	memcpy(heap, buf, (size_t)n); /* never freed: it stays in memory */
	for (ssize_t i = 0; i < n; i++)
		stack[i] = buf[i];
	printf("wrote %zd\n", n);
	fflush(stdout);
	nap(ms);
	return stack[0] ? 0 : 3;
}

static int has(const char *hay, size_t len, const char *needle, size_t n)
{
	for (size_t a = 0; a + n <= len; a++)
		if (memcmp(hay + a, needle, n) == 0)
			return 1;
	return 0;
}

static int do_scan(const char *rev, const char *ms)
{
	size_t n = strlen(rev), size = __builtin_wasm_memory_size(0) * 65536ul, in = 0;
	char *needle = malloc(n + 1), buf[4096];
	const volatile unsigned char *mem = (const volatile unsigned char *)base;
	ssize_t k;

	for (size_t i = 0; i < n; i++)
		needle[i] = rev[n - 1 - i];
	needle[n] = 0;
	if (__builtin_wasm_memory_grow(0, GROW_PAGES) == (size_t)-1) {
		printf("no memory to grow by 6 MiB\n");
		return 4;
	}
	size = __builtin_wasm_memory_size(0) * 65536ul;
	while ((k = read(0, buf, sizeof(buf))) > 0) {
		in += (size_t)k;
		if (has(buf, (size_t)k, needle, n)) {
			printf("found in stdin\n");
			return 1;
		}
	}
	for (size_t a = 0; a + n <= size; a++) {
		if (mem[a] != (unsigned char)needle[0] || (const char *)(mem + a) == needle)
			continue;
		size_t i = 1;
		while (i < n && mem[a + i] == (unsigned char)needle[i])
			i++;
		/* our own needle, and stdin's last bytes (checked above) */
		if (i == n && !((const char *)(mem + a) >= buf && (const char *)(mem + a) < buf + sizeof(buf))) {
			printf("found at %zu\n", a);
			return 1;
		}
	}
	printf("clean, %zu bytes of stdin\n", in);
	fflush(stdout);
	nap(ms);
	return 0;
}

int main(int argc, char **argv)
{
	static char line[1024];

	if (argc == 3 && strcmp(argv[1], "write") == 0)
		return do_write(argv[2]);
	if (argc == 4 && strcmp(argv[1], "scan") == 0)
		return do_scan(argv[2], argv[3]);
	if (argc == 2 && strcmp(argv[1], "spin") == 0)
		for (volatile int i = 0;; i++)
			;
	if (argc == 2 && strcmp(argv[1], "flood") == 0) {
		memset(line, 'x', sizeof(line));
		for (int i = 0; i < 1024; i++)
			if (write(1, line, sizeof(line)) != (ssize_t)sizeof(line))
				return 1;
		return 0;
	}
	return 64;
}
