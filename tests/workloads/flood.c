/* Writes argv[1] MiB (default 16) of output as fast as it can, then exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char line[4096];
	long mib = argc > 1 ? atol(argv[1]) : 16;
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	for (long i = 0; i < mib * 256; i++)
		if (write(1, line, sizeof(line)) < 0)
			return 1;
	printf("flood done\n");
	return 0;
}
