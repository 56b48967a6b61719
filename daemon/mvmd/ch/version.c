/* SPDX-License-Identifier: Apache-2.0 */
#include "ch/version.h"

#include <errno.h>
#include <string.h>

#define NUM_MAX 99999u

/* Digits at *p (advanced); -EINVAL without any or above NUM_MAX. */
static int parse_num(const char **p, const char *end, unsigned *ret)
{
	unsigned v = 0;
	const char *s = *p;

	if (s >= end || *s < '0' || *s > '9')
		return -EINVAL;
	while (s < end && *s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > NUM_MAX)
			return -EINVAL;
		s++;
	}
	*p = s;
	*ret = v;
	return 0;
}

int ch_version_parse(const char *out, size_t len, ch_version_t *ret)
{
	const char *p = out, *end, *nl;
	ch_version_t v = { 0 };

	if (!out)
		return -EINVAL;
	nl = memchr(out, '\n', len);
	end = nl ? nl : out + len;
	if (memchr(out, '\0', (size_t)(end - out)))
		return -EINVAL;
	/* The program's name: one word of printable characters. */
	while (p < end && *p > ' ' && *p < 0x7f)
		p++;
	if (p == out || p >= end || *p != ' ')
		return -EINVAL;
	while (p < end && *p == ' ')
		p++;
	if (p < end && *p == 'v')
		p++;
	if (parse_num(&p, end, &v.major) < 0)
		return -EINVAL;
	if (p < end && *p == '.') {
		p++;
		if (parse_num(&p, end, &v.minor) < 0)
			return -EINVAL;
		if (p < end && *p == '.') {
			p++;
			if (parse_num(&p, end, &v.patch) < 0)
				return -EINVAL;
		}
	}
	/* A suffix ("-12-gabcdef", "-dirty") must not continue the number. */
	if (p < end && ((*p >= '0' && *p <= '9') || *p == '.'))
		return -EINVAL;
	*ret = v;
	return 0;
}

int ch_version_cmp(const ch_version_t *a, const ch_version_t *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if (a->patch != b->patch)
		return a->patch < b->patch ? -1 : 1;
	return 0;
}

int ch_version_supported(const ch_version_t *v)
{
	const ch_version_t min = { CH_VERSION_MIN_MAJOR, CH_VERSION_MIN_MINOR, 0 };

	return ch_version_cmp(v, &min) >= 0;
}
