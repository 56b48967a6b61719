/* Echoes stdin to stdout until end of input; for the stdin capability. */
#include <stdio.h>

int main(void)
{
	char line[256];
	while (fgets(line, sizeof(line), stdin)) {
		printf("got: %s", line);
		fflush(stdout);
	}
	printf("end of input\n");
	return 0;
}
