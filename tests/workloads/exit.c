/*
 * Exits with the code given as argv[1] (via proc_exit): a decimal u32,
 * 0..4294967295, the whole range of WASI's exit code. C's exit() takes an
 * int; wasi-libc hands its bits to proc_exit unchanged.
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	unsigned long code = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
	printf("exiting with %lu\n", code);
	return (int)(unsigned)code;
}
