/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A static test program for the QEMU boot suite: run by mvm-init from
 * mvm.run=, it proves that the command ran in the guest with its arguments
 * and that the system mvm-init set up is there. Prints to stdout and
 * stderr and exits with the code given as its first argument.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char host[65] = "";
	struct stat st;

	gethostname(host, sizeof(host) - 1);
	printf("probe: pid=%d ppid=%d hostname=%s argc=%d\n", (int)getpid(), (int)getppid(), host, argc);
	for (int i = 1; i < argc; i++)
		printf("probe: argv[%d]=%s\n", i, argv[i]);
	printf("probe: mounts proc=%d sys=%d dev=%d run=%d tmp=%d\n",
	       stat("/proc/self", &st) == 0, stat("/sys/kernel", &st) == 0,
	       stat("/dev/null", &st) == 0, stat("/run", &st) == 0, stat("/tmp", &st) == 0);
	fprintf(stderr, "probe: to stderr\n");
	fflush(NULL);
	return argc > 1 ? atoi(argv[1]) : 0;
}
