/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exit status: exits with the code given, through exit() (proc_exit after
 * stdio is flushed) or, with "return", by returning it from main. With
 * "stderr" it also writes a line to stdout, then one to stderr.
 *
 *   exitcode CODE [exit|return] [stderr]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int code = argc > 1 ? atoi(argv[1]) : 0;
	int use_return = 0;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "return") == 0)
			use_return = 1;
		else if (strcmp(argv[i], "stderr") == 0) {
			/*
			 * Two stdout lines, then stderr, then stdout: on one
			 * stream the order shows whether stdout is
			 * line-buffered (a tty) or fully buffered, as libc
			 * decides from isatty(), i.e. from WASI's
			 * fd_fdstat_get. (musl, and so wasi-libc, decides at
			 * the first flush: the first line always goes out.)
			 */
			printf("exitcode: stdout line 1\n");
			printf("exitcode: stdout line 2\n");
			fprintf(stderr, "exitcode: about to exit with %d\n", code);
		}
	}
	printf("exiting with %d via %s\n", code, use_return ? "return" : "exit");
	if (use_return)
		return code;
	exit(code);
}
