/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exec'd by hash in micro-VMs (tests/integration/check_mvmd_exec.c):
 *   exectest CODE [exit] [ARGS...]
 * prints its argv and $GREETING on stdout, copies stdin to stdout, says
 * "to stderr" on stderr, and ends with CODE (a decimal u32, WASI's whole
 * range): returned from main, or through exit() (proc_exit) when argv[2]
 * is "exit".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[4096];
	ssize_t n;
	int code = argc > 1 ? (int)(unsigned)strtoul(argv[1], NULL, 10) : 0;
	const char *g = getenv("GREETING");

	printf("argc=%d\n", argc);
	for (int i = 1; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	printf("GREETING=%s\n", g ? g : "(unset)");
	fflush(stdout);
	while ((n = read(0, buf, sizeof(buf))) > 0)
		if (write(1, buf, (size_t)n) != n)
			return 99;
	fprintf(stderr, "to stderr\n");
	if (argc > 2 && strcmp(argv[2], "exit") == 0)
		exit(code);
	return code;
}
