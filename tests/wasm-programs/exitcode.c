/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exit status: exits with the code given, through exit() (proc_exit after
 * stdio is flushed) or, with "return", by returning it from main. With
 * "stderr" it also writes a line to stderr first.
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
		else if (strcmp(argv[i], "stderr") == 0)
			fprintf(stderr, "exitcode: about to exit with %d\n", code);
	}
	printf("exiting with %d via %s\n", code, use_return ? "return" : "exit");
	if (use_return)
		return code;
	exit(code);
}
