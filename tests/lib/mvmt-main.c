/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmt_main(): build a Check suite from a static table, run it, and count
 * skipped tests apart from passed ones (see mvmt-main.h).
 */
#include "mvmt-main.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Tests run in forked children (CK_FORK), so a test that skips itself
 * tells the parent by appending a line to this file, which every child
 * inherits; the parent counts the lines once the run is over.
 */
static FILE *skip_log;
static const char *suite_name;

void mvmt_skip_running(const char *why)
{
	/* Check's tcase_name() names the running test, not its case. */
	const char *test = tcase_name();

	printf("SKIP: %s/%s: %s\n", suite_name, test, why);
	fflush(stdout);
	if (skip_log) {
		fprintf(skip_log, "%s\n", test);
		fflush(skip_log);
	}
}

/* Check's own filters (CK_RUN_SUITE, CK_RUN_CASE): a case they leave
 * out is neither run nor skipped. */
static bool selected(const char *env, const char *name)
{
	const char *want = getenv(env);

	return !want || !*want || strcmp(want, name) == 0;
}

static int count_tests(const mvmt_test_t *t)
{
	int n = 0;

	for (; t->test; t++)
		n += t->loop > 0 ? t->loop : 1;
	return n;
}

static int count_skip_log(void)
{
	int n = 0, c;

	if (!skip_log)
		return 0;
	rewind(skip_log);
	while ((c = fgetc(skip_log)) != EOF)
		n += c == '\n';
	return n;
}

static const char *tcase_skip_reason(const mvmt_suite_t *suite, const mvmt_tcase_t *c, const char *suite_why)
{
	return suite_why ? suite_why : c->skip ? c->skip() : NULL;
}

int mvmt_main(const mvmt_suite_t *suite)
{
	const char *suite_why = suite->skip ? suite->skip() : NULL;
	const char *whys[64];
	int n = 0, to_run = 0, skipped = 0, failed = 0, ran = 0;

	suite_name = suite->name;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!selected("CK_RUN_SUITE", suite->name))
		return 0;
	for (const mvmt_tcase_t *c = suite->tcases; c->name; c++, n++) {
		if (n == (int)(sizeof(whys) / sizeof(whys[0]))) {
			fprintf(stderr, "mvmt: suite %s has too many test cases\n", suite->name);
			return EXIT_FAILURE;
		}
		whys[n] = selected("CK_RUN_CASE", c->name) ? tcase_skip_reason(suite, c, suite_why) : "";
		if (!whys[n])
			to_run += count_tests(c->tests);
		else if (*whys[n]) {
			for (const mvmt_test_t *t = c->tests; t->test; t++) {
				if (t->loop > 1)
					printf("SKIP: %s/%s/%s (%d runs): %s\n", suite->name, c->name, t->test->name,
					       t->loop, whys[n]);
				else
					printf("SKIP: %s/%s/%s: %s\n", suite->name, c->name, t->test->name, whys[n]);
			}
			skipped += count_tests(c->tests);
		}
	}
	if (to_run > 0) {
		Suite *s = suite_create(suite->name);
		for (int i = 0; i < n; i++) {
			const mvmt_tcase_t *c = &suite->tcases[i];
			if (whys[i])
				continue;
			TCase *tc = tcase_create(c->name);
			if (c->timeout > 0)
				tcase_set_timeout(tc, c->timeout);
			if (c->setup || c->teardown)
				tcase_add_checked_fixture(tc, c->setup, c->teardown);
			for (const mvmt_test_t *t = c->tests; t->test; t++)
				_tcase_add_test(tc, t->test, 0, 0, 0, t->loop > 0 ? t->loop : 1);
			suite_add_tcase(s, tc);
		}
		skip_log = tmpfile();
		if (suite->init)
			suite->init();
		SRunner *sr = srunner_create(s);
		srunner_run_all(sr, CK_NORMAL);
		ran = srunner_ntests_run(sr);
		failed = srunner_ntests_failed(sr);
		srunner_free(sr);
		if (suite->fini)
			suite->fini();
		int self_skipped = count_skip_log();
		skipped += self_skipped;
		ran -= self_skipped;
		if (skip_log)
			fclose(skip_log);
	}
	int passed = ran - failed;
	if (passed < 0)
		passed = 0;
	printf("mvmt: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
	if (failed)
		return EXIT_FAILURE;
	return passed == 0 && skipped > 0 ? 77 : EXIT_SUCCESS;
}

void mvmt_ignore_sigpipe(void)
{
	signal(SIGPIPE, SIG_IGN);
}
