/* The demo's workload: greets, then prints its arguments and environment. */
#include <stdio.h>

extern char **environ;

int main(int argc, char **argv)
{
	printf("hello from a Wasm workload in a micro-VM\n");
	for (int i = 0; i < argc; i++)
		printf("argv[%d] = %s\n", i, argv[i]);
	for (char **e = environ; e && *e; e++)
		printf("env %s\n", *e);
	return 0;
}
