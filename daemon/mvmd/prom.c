/* SPDX-License-Identifier: Apache-2.0 */
#include "prom.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_buf_done(prom_buf_t *b)
{
	free(b->data);
	*b = (prom_buf_t){ 0 };
}

int prom_buf_take(prom_buf_t *b, char **ret, size_t *ret_len)
{
	if (!b->error && !b->data)
		prom_append(b, "", 0);
	if (b->error) {
		int r = b->error;
		prom_buf_done(b);
		return r;
	}
	*ret = b->data;
	*ret_len = b->len;
	*b = (prom_buf_t){ 0 };
	return 0;
}

static bool reserve(prom_buf_t *b, size_t n)
{
	if (b->error)
		return false;
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->len + n + 1)
			nc *= 2;
		char *p = realloc(b->data, nc);
		if (!p) {
			b->error = -ENOMEM;
			return false;
		}
		b->data = p;
		b->cap = nc;
	}
	return true;
}

void prom_append(prom_buf_t *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void prom_printf(prom_buf_t *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void prom_escape(prom_buf_t *b, const char *s, bool label)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : label && *s == '"' ? "\\\"" : NULL;
		if (!esc)
			continue;
		prom_append(b, run, (size_t)(s - run));
		prom_append(b, esc, 2);
		run = s + 1;
	}
	prom_append(b, run, (size_t)(s - run));
}

void prom_family(prom_buf_t *b, const char *name, const char *type, const char *help)
{
	prom_printf(b, "# HELP %s ", name);
	prom_escape(b, help, false);
	prom_printf(b, "\n# TYPE %s %s\n", name, type);
}

static void labels_write(prom_buf_t *b, const char *const *labels, const char *le)
{
	bool any = false;

	if (labels)
		for (; labels[0]; labels += 2) {
			prom_printf(b, "%s%s=\"", any ? "," : "{", labels[0]);
			prom_escape(b, labels[1] ? labels[1] : "", true);
			prom_append(b, "\"", 1);
			any = true;
		}
	if (le) {
		prom_printf(b, "%sle=\"%s\"", any ? "," : "{", le);
		any = true;
	}
	if (any)
		prom_append(b, "}", 1);
}

/* A float as the format spells it: shortest %g that reads back, or
 * +Inf, -Inf, NaN. */
static void format_double(char *buf, size_t size, double v)
{
	if (isnan(v))
		snprintf(buf, size, "NaN");
	else if (isinf(v))
		snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
	else {
		for (int prec = 6; prec <= 17; prec++) {
			snprintf(buf, size, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				return;
		}
	}
}

void prom_sample_u64(prom_buf_t *b, const char *name, const char *const *labels, uint64_t v)
{
	prom_printf(b, "%s", name);
	labels_write(b, labels, NULL);
	prom_printf(b, " %" PRIu64 "\n", v);
}

void prom_sample(prom_buf_t *b, const char *name, const char *const *labels, double v)
{
	char num[40];

	format_double(num, sizeof(num), v);
	prom_printf(b, "%s", name);
	labels_write(b, labels, NULL);
	prom_printf(b, " %s\n", num);
}

void prom_hist_observe(prom_hist_t *h, const double *bounds, size_t n_bounds, double v)
{
	size_t i = 0;

	if (n_bounds > PROM_HIST_MAX_BOUNDS)
		n_bounds = PROM_HIST_MAX_BOUNDS;
	while (i < n_bounds && v > bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

void prom_hist_write(prom_buf_t *b, const char *name, const char *const *labels, const prom_hist_t *h,
		     const double *bounds, size_t n_bounds)
{
	char le[40];
	uint64_t cum = 0;

	if (n_bounds > PROM_HIST_MAX_BOUNDS)
		n_bounds = PROM_HIST_MAX_BOUNDS;
	for (size_t i = 0; i <= n_bounds; i++) {
		cum += h->counts[i];
		if (i < n_bounds)
			format_double(le, sizeof(le), bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		prom_printf(b, "%s_bucket", name);
		labels_write(b, labels, le);
		prom_printf(b, " %" PRIu64 "\n", cum);
	}
	format_double(le, sizeof(le), h->sum);
	prom_printf(b, "%s_sum", name);
	labels_write(b, labels, NULL);
	prom_printf(b, " %s\n", le);
	prom_printf(b, "%s_count", name);
	labels_write(b, labels, NULL);
	prom_printf(b, " %" PRIu64 "\n", h->count);
}
