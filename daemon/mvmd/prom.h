/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An encoder for Prometheus's text exposition format (version 0.0.4),
 * what compute.node.metrics answers and --metrics-textfile writes
 * (docs/operating.md, "Metrics"):
 *
 *   # HELP <name> <text, with \ and newline escaped>
 *   # TYPE <name> counter|gauge|histogram
 *   <name>{<label>="<value, with \ " and newline escaped>",...} <value>
 *
 * one HELP and TYPE per family, its samples right after, each line ended
 * by '\n'. A histogram is written as cumulative <name>_bucket{le="..."}
 * lines ending with le="+Inf", then <name>_sum and <name>_count (which
 * equals the +Inf bucket). Values are integers where they are counts,
 * and "+Inf", "-Inf", "NaN" where they are not finite.
 *
 * The buffer grows as needed; an allocation failure is sticky and
 * reported once by prom_buf_take(). Does not log.
 */
#ifndef MVM_PROM_H
#define MVM_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"

typedef struct prom_buf {
	char *data;
	size_t len, cap;
	int error; /* -ENOMEM once an append failed */
} prom_buf_t;

void prom_buf_done(prom_buf_t *b);
/* The text (NUL-terminated, the caller frees) or -ENOMEM; b is left empty. */
int prom_buf_take(prom_buf_t *b, char **ret, size_t *ret_len);

void prom_append(prom_buf_t *b, const char *s, size_t n);
void prom_printf(prom_buf_t *b, const char *fmt, ...) _printf_(2, 3);
/* A label value or HELP text, escaped: \ → \\, newline → \n, and in
 * label values " → \" (label == true). */
void prom_escape(prom_buf_t *b, const char *s, bool label);

/* "# HELP name help\n# TYPE name type\n" */
void prom_family(prom_buf_t *b, const char *name, const char *type, const char *help);

/* Labels of a sample: pairs { "name", "value", ..., NULL }; NULL: none. */
void prom_sample_u64(prom_buf_t *b, const char *name, const char *const *labels, uint64_t v);
void prom_sample(prom_buf_t *b, const char *name, const char *const *labels, double v);

/* A histogram's state: counts[i] observations in (bounds[i-1], bounds[i]],
 * counts[n_bounds] those above the last bound. Bounds ascend. */
#define PROM_HIST_MAX_BOUNDS 16
typedef struct prom_hist {
	uint64_t counts[PROM_HIST_MAX_BOUNDS + 1];
	uint64_t count;
	double sum;
} prom_hist_t;

void prom_hist_observe(prom_hist_t *h, const double *bounds, size_t n_bounds, double v);
/* The _bucket, _sum and _count lines of one series (labels may be NULL:
 * "le" is added after them). The family line is the caller's. */
void prom_hist_write(prom_buf_t *b, const char *name, const char *const *labels, const prom_hist_t *h,
		     const double *bounds, size_t n_bounds);

#endif
