/* Grows linear memory one page at a time until memory.grow says -1, then
 * proves the memory it got is usable. */
#include <stdio.h>

int main(void)
{
	unsigned long pages = __builtin_wasm_memory_size(0), grown = 0;
	while (__builtin_wasm_memory_grow(0, 1) != (unsigned long)-1)
		grown++;
	unsigned long total = __builtin_wasm_memory_size(0);
	volatile char *last = (volatile char *)((total << 16) - 1);
	*last = 42;
	printf("memory.grow: -1 after %lu pages (from %lu to %lu pages), last byte %d\n", grown, pages, total,
	       *last);
	return 0;
}
