/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Arbitrary-precision arithmetic on 32-bit limbs in base 10^9: 64-bit
 * multiply, divide and remainder in inner loops (i64.mul, i64.div_u,
 * i64.rem_u), which the other programs barely touch.
 *
 *   bignum [N] [DIGITS]   prints N! (digit count, head, tail, digit sum)
 *                         and DIGITS decimals of e.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE 1000000000u

/* n! in base 10^9, least significant limb first; returns the limb count. */
static size_t factorial(uint32_t *limb, size_t cap, uint32_t n)
{
	size_t len = 1;

	limb[0] = 1;
	for (uint32_t k = 2; k <= n; k++) {
		uint64_t carry = 0;
		for (size_t i = 0; i < len; i++) {
			uint64_t v = (uint64_t)limb[i] * k + carry;
			limb[i] = (uint32_t)(v % BASE);
			carry = v / BASE;
		}
		while (carry) {
			if (len == cap)
				return 0; /* the caller sized it wrong: say so */
			limb[len++] = (uint32_t)(carry % BASE);
			carry /= BASE;
		}
	}
	return len;
}

/*
 * e = sum 1/k! by the spigot method: a mixed-radix fraction 1/2, 1/3, ...
 * multiplied by 10^9 at a time, one base-10^9 chunk of decimals per pass.
 */
static void e_digits(int digits, char *out)
{
	int terms = 10, n = 0;
	double logfact = 0;

	/* Enough terms that 1/terms! < 10^-(digits+10). */
	while (logfact < (digits + 10) * 2.302585093) {
		terms++;
		logfact += __builtin_log((double)terms);
	}
	uint32_t *a = malloc(sizeof(*a) * (size_t)(terms + 1));
	for (int i = 0; i <= terms; i++)
		a[i] = 1;
	while (n < digits) {
		uint64_t carry = 0;
		for (int i = terms; i >= 2; i--) {
			uint64_t v = (uint64_t)a[i] * BASE + carry;
			a[i] = (uint32_t)(v % (uint64_t)i);
			carry = v / (uint64_t)i;
		}
		n += snprintf(out + n, 16, "%09u", (uint32_t)carry);
	}
	out[digits] = 0;
	free(a);
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 500;
	int digits = argc > 2 ? atoi(argv[2]) : 200;
	double log10_fact = 0;
	for (uint32_t k = 2; k <= n; k++)
		log10_fact += __builtin_log10((double)k);
	size_t cap = (size_t)(log10_fact / 9) + 4; /* limbs: digits / 9, with margin */
	uint32_t *limb = malloc(cap * sizeof(*limb));
	char *s = malloc(cap * 9 + 1), *e = malloc((size_t)digits + 32);
	uint64_t digit_sum = 0;

	if (!limb || !s || !e)
		return 1;
	size_t len = factorial(limb, cap, n);
	if (len == 0) {
		fprintf(stderr, "bignum: %u! does not fit %zu limbs\n", n, cap);
		return 1;
	}
	int w = sprintf(s, "%u", limb[len - 1]);
	for (size_t i = len - 1; i-- > 0;)
		w += sprintf(s + w, "%09u", limb[i]);
	for (int i = 0; i < w; i++)
		digit_sum += (uint64_t)(s[i] - '0');
	printf("%u! has %d digits, digit sum %llu\n", n, w, (unsigned long long)digit_sum);
	printf("head %.30s\ntail %s\n", s, w > 30 ? s + w - 30 : s);

	e_digits(digits, e);
	printf("e = 2.%.60s...\n", e);
	printf("last decimals of %d: %s\n", digits, digits > 20 ? e + digits - 20 : e);
	free(limb);
	free(s);
	free(e);
	return 0;
}
