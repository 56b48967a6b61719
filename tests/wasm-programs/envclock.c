/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Arguments, environment, clocks and randomness: prints what it got in a
 * form a test can compare against what the runner was asked to pass, and
 * checks properties where values legitimately vary (a monotonic clock
 * that does not go back, random bytes that are not constant).
 *
 *   envclock [ARGS...]   prints argc/argv, the environment sorted, then
 *                        "clock: ok"/"random: ok" lines (or FAIL lines).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	struct timespec a, b, res, wall;
	unsigned char r1[32], r2[32];
	size_t nenv = 0;
	int failed = 0;

	printf("argc=%d\n", argc);
	for (int i = 1; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	for (char **e = environ; e && *e; e++)
		nenv++;
	char **env = malloc((nenv + 1) * sizeof(*env));
	if (!env)
		return 1;
	memcpy(env, environ, nenv * sizeof(*env));
	qsort(env, nenv, sizeof(*env), cmp_str);
	printf("envc=%zu\n", nenv);
	for (size_t i = 0; i < nenv; i++)
		printf("env %s\n", env[i]);
	free(env);

	if (clock_gettime(CLOCK_MONOTONIC, &a) != 0 || clock_getres(CLOCK_MONOTONIC, &res) != 0) {
		printf("clock: FAIL (no monotonic clock)\n");
		failed = 1;
	} else {
		volatile uint64_t spin = 0;
		for (int i = 0; i < 200000; i++)
			spin = spin + (uint64_t)i;
		clock_gettime(CLOCK_MONOTONIC, &b);
		int64_t d = (int64_t)(b.tv_sec - a.tv_sec) * 1000000000 + (b.tv_nsec - a.tv_nsec);
		int ok = d >= 0 && res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 1000000;
		printf("clock: %s\n", ok ? "ok" : "FAIL (went back or bad resolution)");
		failed |= !ok;
	}
	/* The wall clock must be after 2020-01-01 and before 2100. */
	if (clock_gettime(CLOCK_REALTIME, &wall) != 0 || wall.tv_sec < 1577836800 ||
	    wall.tv_sec > 4102444800) {
		printf("realtime: FAIL\n");
		failed = 1;
	} else {
		printf("realtime: ok\n");
	}

	/* getentropy: in glibc, musl and wasi-libc (random_get) alike. */
	if (getentropy(r1, sizeof(r1)) != 0 || getentropy(r2, sizeof(r2)) != 0) {
		printf("random: FAIL (getentropy refused)\n");
		return 1;
	}
	int distinct = 0;
	for (size_t i = 1; i < sizeof(r1); i++)
		distinct += r1[i] != r1[0];
	int ok = memcmp(r1, r2, sizeof(r1)) != 0 && distinct > 0;
	printf("random: %s\n", ok ? "ok" : "FAIL (constant)");
	failed |= !ok;
	return failed;
}
