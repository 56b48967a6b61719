/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Formatted output: integer, hex, string, fixed, exponent and shortest
 * float conversions with widths, precisions and flags, through stdio's
 * buffering to fd_write. Output is the test: it must match the native run
 * byte for byte (glibc and wasi-libc both round floats exactly).
 *
 *   printf [LINES]   prints a fixed table, then LINES generated lines
 *                    and a running checksum of what snprintf produced.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	long lines = argc > 1 ? atol(argv[1]) : 200;
	static const double fv[] = { 0.0, -0.0, 1.0, -1.5, 3.14159265358979, 2.5e-8, 1e300,
				     123456789.125, 0.1, 1.0 / 3.0, 6.02214076e23, 5e-324 };
	static const char *sv[] = { "", "a", "hello", "WebAssembly", "mvmd micro-VM" };
	uint32_t x = 2463534242u;
	uint64_t h = 14695981039346656037ull;
	char buf[256];

	printf("[%d] [%5d] [%-5d] [%05d] [%+d] [% d]\n", 42, 42, 42, 42, 42, 42);
	printf("[%ld] [%lld] [%u] [%lu]\n", (long)-2147483647 - 1, -9223372036854775807LL - 1, 4294967295u,
	       (unsigned long)123456789);
	printf("[%x] [%X] [%#x] [%08x] [%llx] [%o] [%#o]\n", 48879, 48879, 48879, 48879,
	       0xfeedfacecafebeefull, 511, 8);
	printf("[%s] [%10s] [%-10s] [%.3s] [%c%c]\n", "str", "right", "left", "truncate", 'o', 'k');
	printf("[%%] [%5.1f%%]\n", 99.5);
	for (size_t i = 0; i < sizeof(fv) / sizeof(fv[0]); i++)
		printf("f[%zu]: %f | %.2f | %12.4f | %e | %.3E | %g | %G | %.10g | %-+10.3g|\n", i,
		       fv[i], fv[i], fv[i], fv[i], fv[i], fv[i], fv[i], fv[i], fv[i]);
	for (size_t i = 0; i < sizeof(sv) / sizeof(sv[0]); i++)
		printf("s[%zu]: '%s' '%8s' '%-8.4s' len=%zu\n", i, sv[i], sv[i], sv[i], strlen(sv[i]));

	for (long i = 0; i < lines; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		double d = (double)(int32_t)x / 65536.0;
		int n = snprintf(buf, sizeof(buf), "%6ld %08x %11d %-12.5f %.6e %g %s", i, x,
				 (int32_t)x, d, d * 1e-3, d, sv[x % 5]);
		for (int k = 0; k < n; k++) {
			h ^= (unsigned char)buf[k];
			h *= 1099511628211ull;
		}
		if (i % 64 == 0 || i == lines - 1)
			printf("%s\n", buf);
	}
	printf("checksum %016llx over %ld lines\n", (unsigned long long)h, lines);
	return 0;
}
