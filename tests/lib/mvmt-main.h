/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One main() for every Check suite. A test file describes its suite in a
 * static table (test cases, their tests, timeouts, fixtures, and why a
 * case cannot run on this machine) and ends with MVMT_MAIN(...):
 *
 *   static const mvmt_tcase_t tcases[] = {
 *   	{ .name = "core", .setup = setup, .teardown = teardown, .timeout = 60,
 *   	  .tests = MVMT_TESTS(MVMT_TEST(test_a), MVMT_LOOP(test_b, 3)) },
 *   	{ .name = "kvm", .skip = mvmt_kvm_skip_reason,
 *   	  .tests = MVMT_TESTS(MVMT_TEST(test_c)) },
 *   	{ 0 }
 *   };
 *   MVMT_MAIN(.name = "fsm", .tcases = tcases)
 *
 * Check has no "skipped" verdict, so mvmt_main() keeps its own: a test of
 * a case whose skip predicate gives a reason is not run and is printed as
 * "SKIP: <suite>/<case>/<test>: <reason>"; a test that finds out only
 * while running that it cannot run here calls MVMT_SKIP(reason), which
 * prints "SKIP: <suite>/<test>: <reason>" and returns. Either way it
 * counts as skipped, never as passed. The last line is
 * "mvmt: P passed, F failed, S skipped", which tests/run adds to its
 * totals; the exit status is 1 on a failure, 77 when every test skipped,
 * 0 otherwise.
 */
#ifndef MVM_TESTS_MVMT_MAIN_H
#define MVM_TESTS_MVMT_MAIN_H

#include <check.h>

/*
 * Check's START_TEST with one change: a table names a test by its TTest
 * (MVMT_TEST below: a static initializer needs an address constant), so
 * the "const TTest *name" pointer Check's macro also defines would be
 * unused; this one does not define it.
 */
#undef START_TEST
#define START_TEST(name)                                                              \
	static void name##_fn(int _i CK_ATTRIBUTE_UNUSED);                            \
	static const TTest name##_ttest = { "" #name, name##_fn, __FILE__, __LINE__ }; \
	static void name##_fn(int _i CK_ATTRIBUTE_UNUSED)

typedef struct mvmt_test {
	const TTest *test;
	int loop; /* > 0: run the test for _i in [0, loop) */
} mvmt_test_t;

/* Why the tests cannot run on this machine, or NULL when they can. */
typedef const char *(*mvmt_skip_fn)(void);

typedef struct mvmt_tcase {
	const char *name;
	const mvmt_test_t *tests; /* MVMT_TESTS(...) */
	int timeout;              /* seconds per test; 0 = $CK_DEFAULT_TIMEOUT */
	SFun setup, teardown;     /* checked fixture: run in each test's fork */
	mvmt_skip_fn skip;
} mvmt_tcase_t;

typedef struct mvmt_suite {
	const char *name;
	const mvmt_tcase_t *tcases; /* ended by { 0 } */
	mvmt_skip_fn skip;          /* applies to every case */
	void (*init)(void);         /* once, before the first test forks */
	void (*fini)(void);         /* once, after the last test */
} mvmt_suite_t;

#define MVMT_TEST(t) { .test = &t##_ttest }
#define MVMT_LOOP(t, n) { .test = &t##_ttest, .loop = (n) }
#define MVMT_TESTS(...) ((const mvmt_test_t[]){ __VA_ARGS__, { 0 } })

int mvmt_main(const mvmt_suite_t *suite);

#define MVMT_MAIN(...)                                          \
	int main(void)                                          \
	{                                                       \
		static const mvmt_suite_t mvmt_suite_ = { __VA_ARGS__ }; \
		return mvmt_main(&mvmt_suite_);                 \
	}

/* For .init: a test that writes to a peer that hung up sees EPIPE. */
void mvmt_ignore_sigpipe(void);

/* Inside a running test: record that it cannot run here and why. */
void mvmt_skip_running(const char *why);
#define MVMT_SKIP(why)                        \
	do {                                  \
		mvmt_skip_running(why);       \
		return;                       \
	} while (0)

#endif
