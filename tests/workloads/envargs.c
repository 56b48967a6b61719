/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an ordinary program sees of its arguments and environment: prints
 * argc, each argv[i] and getenv("X"). wasi-libc reads both at start-up
 * (argv before main, the environment at the first getenv), so a runtime
 * that refuses args_sizes_get or environ_sizes_get makes it exit 71
 * before printing anything; a denied grant must look like argv = [name]
 * and an empty environment instead.
 */
#include <stdio.h>
#include <stdlib.h>

extern char **environ;

int main(int argc, char **argv)
{
	const char *x = getenv("X");
	int envc = 0;

	printf("argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	printf("X=%s\n", x ? x : "(unset)");
	while (environ && environ[envc])
		envc++;
	printf("envc=%d\n", envc);
	return 0;
}
