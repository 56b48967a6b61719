/* SPDX-License-Identifier: Apache-2.0 */
/* A small printf: %d %i %u %x %X %p %s %c %%, flags '-' '0', width,
 * precision for %s, length modifiers l ll z. Output goes to the console
 * buffer (mvm_printf) or a string (mvm_snprintf). */
#include "mvm.h"

struct out {
	char *buf;
	size_t size, n;
};

static void put(struct out *o, char c)
{
	if (o->buf && o->n + 1 < o->size)
		o->buf[o->n] = c;
	o->n++;
}

static void put_num(struct out *o, unsigned long long v, unsigned base, int upper, int neg,
		    int width, int zero, int left)
{
	char tmp[24];
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int len = 0;

	do {
		tmp[len++] = digits[v % base];
		v /= base;
	} while (v);
	int total = len + neg;
	if (neg && zero)
		put(o, '-');
	if (!left)
		for (int i = total; i < width; i++)
			put(o, zero ? '0' : ' ');
	if (neg && !zero)
		put(o, '-');
	while (len)
		put(o, tmp[--len]);
	if (left)
		for (int i = total; i < width; i++)
			put(o, ' ');
}

static void vformat(struct out *o, const char *f, va_list ap)
{
	for (; *f; f++) {
		if (*f != '%') {
			put(o, *f);
			continue;
		}
		int zero = 0, left = 0, width = 0, prec = -1, lng = 0;
		for (f++; *f == '0' || *f == '-'; f++)
			*f == '0' ? (zero = 1) : (left = 1);
		for (; *f >= '0' && *f <= '9'; f++)
			width = width * 10 + (*f - '0');
		if (*f == '.')
			for (prec = 0, f++; *f >= '0' && *f <= '9'; f++)
				prec = prec * 10 + (*f - '0');
		for (; *f == 'l' || *f == 'z'; f++)
			lng++;
		switch (*f) {
		case 'd': case 'i': {
			long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
			unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
			put_num(o, u, 10, 0, v < 0, width, zero, left);
			break;
		}
		case 'u': case 'x': case 'X': {
			unsigned long long v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
			put_num(o, v, *f == 'u' ? 10 : 16, *f == 'X', 0, width, zero, left);
			break;
		}
		case 'p':
			put(o, '0');
			put(o, 'x');
			put_num(o, (uintptr_t)va_arg(ap, void *), 16, 0, 0, width, zero, left);
			break;
		case 'c':
			put(o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int len = 0;
			while (s[len] && (prec < 0 || len < prec))
				len++;
			if (!left)
				for (int i = len; i < width; i++)
					put(o, ' ');
			for (int i = 0; i < len; i++)
				put(o, s[i]);
			if (left)
				for (int i = len; i < width; i++)
					put(o, ' ');
			break;
		}
		case '%':
			put(o, '%');
			break;
		case 0:
			return;
		default:
			put(o, '%');
			put(o, *f);
			break;
		}
	}
}

int mvm_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };
	vformat(&o, fmt, ap);
	if (buf && size)
		buf[o.n < size ? o.n : size - 1] = 0;
	return (int)o.n;
}

int mvm_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = mvm_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int mvm_printf(const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = mvm_vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	mvm_console_put(tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
	return n;
}
