/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deep and wide recursion: call/return cost and the shadow stack.
 *
 *   recurse [FIB_N] [ACK_N]   prints fib(0..FIB_N) endpoints, ackermann(2..3, ACK_N)
 *                             and a Tak call count.
 */
#include <stdio.h>
#include <stdlib.h>

static unsigned long calls;

static unsigned fib(unsigned n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static unsigned ack(unsigned m, unsigned n)
{
	calls++;
	if (m == 0)
		return n + 1;
	if (n == 0)
		return ack(m - 1, 1);
	return ack(m - 1, ack(m, n - 1));
}

static int tak(int x, int y, int z)
{
	calls++;
	if (y >= x)
		return z;
	return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y));
}

int main(int argc, char **argv)
{
	unsigned fn = argc > 1 ? (unsigned)atoi(argv[1]) : 20;
	unsigned an = argc > 2 ? (unsigned)atoi(argv[2]) : 5;

	for (unsigned i = 0; i <= fn; i += (fn > 10 ? fn / 5 : 1))
		printf("fib(%u) = %u\n", i, fib(i));
	printf("fib(%u) = %u\n", fn, fib(fn));
	for (unsigned m = 2; m <= 3; m++) {
		calls = 0;
		unsigned r = ack(m, an);
		printf("ack(%u, %u) = %u  (%lu calls)\n", m, an, r, calls);
	}
	calls = 0;
	int t = tak(18, 12, 6);
	printf("tak(18, 12, 6) = %d  (%lu calls)\n", t, calls);
	return 0;
}
