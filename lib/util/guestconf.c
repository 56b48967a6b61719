/* SPDX-License-Identifier: Apache-2.0 */
#include "util/guestconf.h"
#include "util/hex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Decode s[0..n) into a new string; NULL with errno EINVAL or ENOMEM. */
static char *decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 2 < n ? hex_digit_value(s[i + 1]) : -1, lo = i + 2 < n ? hex_digit_value(s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) /* %00: no NUL in a C string */
				goto bad;
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (c < '!' || c > '~') {
			goto bad;
		} else {
			*o++ = (char)c;
		}
	}
	*o = '\0';
	return out;
bad:
	free(out);
	errno = EINVAL;
	return NULL;
}

static int parse_u32(const char *s, char stop, uint32_t *ret, const char **ret_end)
{
	uint64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	if (*p != stop && *p != '\0')
		return -EINVAL;
	*ret = (uint32_t)v;
	*ret_end = p;
	return 0;
}

static int push(char ***arr, size_t *n, char *v)
{
	char **a;

	if (*n >= GUESTCONF_ITEMS_MAX)
		return -EINVAL;
	a = realloc(*arr, (*n + 2) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	a[(*n)++] = v;
	a[*n] = NULL;
	*arr = a;
	return 0;
}

static bool flag(const char *v)
{
	return strcmp(v, "1") == 0;
}

static void set(char **field, char *v)
{
	free(*field);
	*field = v;
}

/* One decoded line: key, value. Takes v. */
static int apply(guestconf_t *c, const char *key, size_t klen, char *v)
{
	const char *end;
	int r = 0;

#define KEY(k) (klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)
	if (KEY("arg"))
		return push(&c->args, &c->n_args, v) < 0 ? (free(v), -EINVAL) : 0;
	if (KEY("env")) {
		if (!strchr(v, '=') || v[0] == '=') {
			free(v);
			return -EINVAL;
		}
		return push(&c->env, &c->n_env, v) < 0 ? (free(v), -EINVAL) : 0;
	}
	if (KEY("root.disk")) {
		uint32_t n = 0;
		c->has_root = true;
		r = parse_u32(v, '\0', &n, &end) < 0 || n > 255 ? -EINVAL : 0;
		c->root_disk = (int)n;
		set(&c->root_serial, NULL);
	} else if (KEY("root.serial")) {
		c->has_root = true;
		c->root_disk = -1;
		set(&c->root_serial, v);
		return 0;
	} else if (KEY("root.fstype")) {
		set(&c->root_fstype, v);
		return 0;
	} else if (KEY("root.readonly")) {
		c->root_readonly = flag(v);
	} else if (KEY("cwd")) {
		if (v[0] != '/') {
			free(v);
			return -EINVAL;
		}
		set(&c->cwd, v);
		return 0;
	} else if (KEY("user")) {
		r = parse_u32(v, ':', &c->uid, &end);
		c->gid = 0;
		if (r == 0 && *end == ':')
			r = parse_u32(end + 1, '\0', &c->gid, &end);
	} else if (KEY("keep_running")) {
		c->keep_running = flag(v);
	} else {
		r = -EINVAL;
	}
#undef KEY
	free(v);
	return r;
}

int guestconf_parse(const char *text, size_t len, guestconf_t *ret)
{
	guestconf_t c = { .root_disk = -1 };
	int r = 0;

	if (len > GUESTCONF_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len && r == 0;) {
		const char *line = text + i, *nl = memchr(line, '\n', len - i), *eq;
		size_t n = nl ? (size_t)(nl - line) : len - i;
		char *v;

		i += n + 1;
		if (n == 0 || line[0] == '#')
			continue;
		eq = memchr(line, '=', n);
		if (!eq || eq == line) {
			r = -EINVAL;
			break;
		}
		v = decode(eq + 1, n - (size_t)(eq + 1 - line));
		if (!v) {
			r = errno == ENOMEM ? -ENOMEM : -EINVAL;
			break;
		}
		r = apply(&c, line, (size_t)(eq - line), v);
	}
	if (r == 0 && !c.root_fstype && !(c.root_fstype = strdup("ext4")))
		r = -ENOMEM;
	if (r == 0 && !c.cwd && !(c.cwd = strdup("/")))
		r = -ENOMEM;
	if (r == 0 && !c.env && !(c.env = calloc(1, sizeof(char *))))
		r = -ENOMEM;
	if (r < 0) {
		guestconf_done(&c);
		return r;
	}
	*ret = c;
	return 0;
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

void guestconf_done(guestconf_t *c)
{
	if (!c)
		return;
	free(c->root_serial);
	free(c->root_fstype);
	strv_free(c->args);
	strv_free(c->env);
	free(c->cwd);
	*c = (guestconf_t){ .root_disk = -1 };
}

int guestconf_append(char **buf, size_t *len, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t need = strlen(key) + 1 + 3 * strlen(value) + 2;
	char *b = realloc(*buf, *len + need), *o;

	if (!b)
		return -ENOMEM;
	*buf = b;
	o = b + *len;
	o = stpcpy(o, key);
	*o++ = '=';
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (*p < '!' || *p > '~' || *p == '%') {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		} else {
			*o++ = (char)*p;
		}
	}
	*o++ = '\n';
	*o = '\0';
	*len = (size_t)(o - b);
	return 0;
}
