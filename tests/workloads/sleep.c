/* Sleeps argv[1] milliseconds (poll_oneoff: the vCPU waits in the host),
 * then exits with argv[2]. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 1000;
	unsigned long code = argc > 2 ? strtoul(argv[2], NULL, 10) : 0; /* a u32 */
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	printf("sleeping %ld ms\n", ms);
	fflush(stdout);
	nanosleep(&ts, NULL);
	printf("woke up, exiting with %lu\n", code);
	return (int)(unsigned)code;
}
