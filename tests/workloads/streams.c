/*
 * Writes to both streams, interleaved, then exits with argv[1]: a
 * compute.vm.run keeps stdout and stderr apart (check_mvmd_run).
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	unsigned long code = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
	printf("out 1\n");
	fprintf(stderr, "err 1\n");
	printf("out 2\n");
	fflush(stdout);
	fprintf(stderr, "err 2\n");
	return (int)(unsigned)code;
}
