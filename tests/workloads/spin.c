/* Never ends: for timeout_ms. */
#include <stdio.h>

int main(void)
{
	volatile unsigned long n = 0;
	printf("spinning\n");
	fflush(stdout);
	for (;;)
		n++;
}
