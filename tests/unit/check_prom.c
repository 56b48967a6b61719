/* SPDX-License-Identifier: Apache-2.0 */
/* The exposition encoder (daemon/mvmd/prom.c): Prometheus's text format
 * 0.0.4, its escaping, values and histogram lines. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"
#include "mvmt-main.h"

static char *take(prom_buf_t *b)
{
	char *s;
	size_t n;

	ck_assert_int_eq(prom_buf_take(b, &s, &n), 0);
	ck_assert_uint_eq(n, strlen(s));
	return s;
}

START_TEST(test_escape)
{
	prom_buf_t b = { 0 };
	const char *l[] = { "id", "a\\b\"c\nd", "name", "", NULL };

	prom_family(&b, "x_total", "counter", "help with \\ and \"quotes\"\nand a second line");
	prom_sample_u64(&b, "x_total", l, 7);
	prom_sample_u64(&b, "x_total", NULL, 18446744073709551615ull);
	char *s = take(&b);
	ck_assert_str_eq(s, "# HELP x_total help with \\\\ and \"quotes\"\\nand a second line\n"
			    "# TYPE x_total counter\n"
			    "x_total{id=\"a\\\\b\\\"c\\nd\",name=\"\"} 7\n"
			    "x_total 18446744073709551615\n");
	free(s);
}
END_TEST

START_TEST(test_values)
{
	prom_buf_t b = { 0 };

	prom_sample(&b, "g", NULL, 0.005);
	prom_sample(&b, "g", NULL, 0.1);
	prom_sample(&b, "g", NULL, 1.0 / 0.0);
	prom_sample(&b, "g", NULL, -1.0 / 0.0);
	prom_sample(&b, "g", NULL, 0.0 / 0.0);
	prom_sample(&b, "g", NULL, 12345678.25);
	char *s = take(&b);
	ck_assert_str_eq(s, "g 0.005\ng 0.1\ng +Inf\ng -Inf\ng NaN\ng 12345678.25\n");
	free(s);
}
END_TEST

START_TEST(test_histogram)
{
	static const double bounds[] = { 0.1, 1, 2.5 };
	prom_hist_t h = { 0 };
	prom_buf_t b = { 0 };
	const char *l[] = { "method", "m\"x", NULL };

	/* On a bound counts in that bucket (le is "less or equal"). */
	prom_hist_observe(&h, bounds, 3, 0.05);
	prom_hist_observe(&h, bounds, 3, 0.1);
	prom_hist_observe(&h, bounds, 3, 0.5);
	prom_hist_observe(&h, bounds, 3, 3);
	prom_hist_observe(&h, bounds, 3, 1000);
	prom_hist_write(&b, "d_seconds", l, &h, bounds, 3);
	prom_hist_write(&b, "e_seconds", NULL, &(prom_hist_t){ 0 }, bounds, 3);
	char *s = take(&b);
	ck_assert_str_eq(s, "d_seconds_bucket{method=\"m\\\"x\",le=\"0.1\"} 2\n"
			    "d_seconds_bucket{method=\"m\\\"x\",le=\"1\"} 3\n"
			    "d_seconds_bucket{method=\"m\\\"x\",le=\"2.5\"} 3\n"
			    "d_seconds_bucket{method=\"m\\\"x\",le=\"+Inf\"} 5\n"
			    "d_seconds_sum{method=\"m\\\"x\"} 1003.65\n"
			    "d_seconds_count{method=\"m\\\"x\"} 5\n"
			    "e_seconds_bucket{le=\"0.1\"} 0\n"
			    "e_seconds_bucket{le=\"1\"} 0\n"
			    "e_seconds_bucket{le=\"2.5\"} 0\n"
			    "e_seconds_bucket{le=\"+Inf\"} 0\n"
			    "e_seconds_sum 0\n"
			    "e_seconds_count 0\n");
	free(s);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "core",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_escape),
			MVMT_TEST(test_values),
			MVMT_TEST(test_histogram)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "prom", .tcases = tcases)
