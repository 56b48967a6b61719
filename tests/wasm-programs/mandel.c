/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Floating-point kernels: a Mandelbrot set (f64 compare-and-branch loop)
 * and a dense matrix multiply (f64 loads and multiply-adds over memory).
 *
 *   mandel [SIZE] [MATN]   renders a SIZE x SIZE set as a checksum and a
 *                          small ASCII thumbnail, multiplies two MATN x MATN
 *                          matrices and prints the trace and a checksum.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned mandel_point(double cr, double ci, unsigned max_iter)
{
	double zr = 0, zi = 0;
	unsigned k;

	for (k = 0; k < max_iter; k++) {
		double zr2 = zr * zr, zi2 = zi * zi;
		if (zr2 + zi2 > 4.0)
			break;
		zi = 2 * zr * zi + ci;
		zr = zr2 - zi2 + cr;
	}
	return k;
}

static void mandelbrot(int size)
{
	uint64_t sum = 0, inside = 0;

	for (int y = 0; y < size; y++) {
		for (int x = 0; x < size; x++) {
			unsigned k = mandel_point(-2.0 + 2.5 * x / size, -1.25 + 2.5 * y / size, 200);
			sum = sum * 31 + k;
			inside += k == 200;
		}
	}
	printf("mandelbrot %dx%d: checksum %016llx, %llu points inside\n", size, size,
	       (unsigned long long)sum, (unsigned long long)inside);
	for (int y = 0; y < 12; y++) {
		char line[41];
		for (int x = 0; x < 40; x++) {
			unsigned k = mandel_point(-2.0 + 2.5 * x / 40, -1.25 + 2.5 * y / 12, 200);
			line[x] = k == 200 ? '#' : k > 10 ? '+' : k > 4 ? '.' : ' ';
		}
		line[40] = 0;
		printf("|%s|\n", line);
	}
}

static void matmul(int n)
{
	double *a = malloc(sizeof(double) * n * n), *b = malloc(sizeof(double) * n * n);
	double *c = calloc((size_t)n * n, sizeof(double));
	double trace = 0, sum = 0;

	if (!a || !b || !c) {
		fprintf(stderr, "mandel: out of memory\n");
		exit(1);
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			a[i * n + j] = (double)((i * 7 + j * 3) % 17) / 8.0 - 1.0;
			b[i * n + j] = (double)((i * 5 + j * 11) % 13) / 4.0 - 1.5;
		}
	/* i-k-j order: unit stride in the inner loop, as real code writes it. */
	for (int i = 0; i < n; i++)
		for (int k = 0; k < n; k++) {
			double aik = a[i * n + k];
			for (int j = 0; j < n; j++)
				c[i * n + j] += aik * b[k * n + j];
		}
	for (int i = 0; i < n; i++) {
		trace += c[i * n + i];
		for (int j = 0; j < n; j++)
			sum += c[i * n + j] * (double)((i + j) % 5);
	}
	printf("matmul %dx%d: trace %.6f weighted sum %.6e\n", n, n, trace, sum);
	free(a);
	free(b);
	free(c);
}

int main(int argc, char **argv)
{
	int size = argc > 1 ? atoi(argv[1]) : 100;
	int matn = argc > 2 ? atoi(argv[2]) : 40;

	mandelbrot(size);
	matmul(matn);
	return 0;
}
