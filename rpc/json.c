/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON <-> json-c conversions on the request path, written for speed:
 * json-c's tokener costs more than the rest of a request (it sets up a
 * locale on every call and builds through a generic state machine), and
 * its serializer goes through a printbuf per object.
 *
 * rpc_json_build() turns text that rpc_json_check() accepted into json-c
 * objects; it may therefore trust the syntax. rpc_json_append() writes a
 * json-c value as compact JSON.
 */
#include <stdlib.h>
#include <string.h>
#include "rpc-internal.h"

/* --- text -> objects ----------------------------------------------------------- */

static unsigned hex4(const char *p)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

static char *put_utf8(char *q, unsigned cp)
{
	if (cp < 0x80)
		*q++ = (char)cp;
	else if (cp < 0x800) {
		*q++ = (char)(0xC0 | cp >> 6);
		*q++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*q++ = (char)(0xE0 | cp >> 12);
		*q++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*q++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*q++ = (char)(0xF0 | cp >> 18);
		*q++ = (char)(0x80 | ((cp >> 12) & 0x3F));
		*q++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*q++ = (char)(0x80 | (cp & 0x3F));
	}
	return q;
}

size_t rpc_json_unescape(const char *p, size_t n, char *out)
{
	char *q = out;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\\') {
			*q++ = p[i];
			continue;
		}
		switch (p[++i]) {
		case 'b': *q++ = '\b'; break;
		case 'f': *q++ = '\f'; break;
		case 'n': *q++ = '\n'; break;
		case 'r': *q++ = '\r'; break;
		case 't': *q++ = '\t'; break;
		case 'u': {
			unsigned cp = hex4(p + i + 1);
			i += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < n && p[i + 1] == '\\' && p[i + 2] == 'u') {
				unsigned lo = hex4(p + i + 3);
				if (lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					i += 6;
				} else
					cp = 0xFFFD;
			} else if (cp >= 0xD800 && cp <= 0xDFFF)
				cp = 0xFFFD; /* a lone surrogate is not a character */
			q = put_utf8(q, cp);
			break;
		}
		default: *q++ = p[i]; break; /* " \ / */
		}
	}
	return (size_t)(q - out);
}

static size_t string_end(const char *p, size_t n, size_t i)
{
	for (i++; i < n && p[i] != '"'; i++)
		if (p[i] == '\\')
			i++;
	return i; /* at the closing quote */
}

static size_t ws(const char *p, size_t n, size_t i)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i;
}

/* Decodes the string token at p[i] into buf (or a heap buffer when it
 * does not fit); returns the decoded pointer, its length in *ret_len. */
static char *string_decode(const char *p, size_t n, size_t i, size_t *ret_end, char *buf, size_t bufsz,
			   size_t *ret_len, char **ret_heap)
{
	size_t e = string_end(p, n, i), len = e - i - 1;
	char *out = buf;
	*ret_heap = NULL;
	*ret_end = e + 1;
	if (!memchr(p + i + 1, '\\', len)) {
		*ret_len = len;
		return (char *)p + i + 1; /* not NUL-terminated */
	}
	if (len + 1 > bufsz) {
		out = *ret_heap = malloc(len + 1);
		if (!out)
			return NULL;
	}
	*ret_len = rpc_json_unescape(p + i + 1, len, out);
	return out;
}

static json_object *number_build(const char *p, size_t len)
{
	bool is_int = true;
	for (size_t k = 0; k < len; k++)
		if (p[k] == '.' || p[k] == 'e' || p[k] == 'E') {
			is_int = false;
			break;
		}
	char tmp[64], *heap = NULL, *s = tmp;
	if (len >= sizeof(tmp) && !(s = heap = malloc(len + 1)))
		return NULL;
	memcpy(s, p, len);
	s[len] = '\0';
	json_object *o = NULL;
	if (is_int) {
		errno = 0;
		long long v = strtoll(s, NULL, 10);
		if (errno == 0)
			o = json_object_new_int64(v);
		else if (s[0] != '-') {
			errno = 0;
			unsigned long long u = strtoull(s, NULL, 10);
			if (errno == 0)
				o = json_object_new_uint64(u);
		}
	}
	if (!o)
		/* _s keeps the text, so the value is written back as sent. */
		o = json_object_new_double_s(strtod(s, NULL), s);
	free(heap);
	return o;
}

/* Builds the value at p[*i]; advances *i past it. Returns -ENOMEM,
 * -EBADMSG for a member name containing U+0000, or -EEXIST for an object
 * with the same member name twice (after unescaping). */
static int value_build(const char *p, size_t n, size_t *i, json_object **ret)
{
	size_t j = *i;
	json_object *o = NULL;
	int r;

	switch (p[j]) {
	case '{':
		if (!(o = json_object_new_object()))
			return -ENOMEM;
		j = ws(p, n, j + 1);
		while (p[j] == '"') {
			char buf[128], *heap;
			size_t klen, end;
			char *k = string_decode(p, n, j, &end, buf, sizeof(buf), &klen, &heap);
			if (!k)
				goto oom;
			char kbuf[128], *key = k;
			if (k != buf && k != heap) { /* raw text: make it a C string */
				key = klen < sizeof(kbuf) ? kbuf : (heap = malloc(klen + 1));
				if (!key)
					goto oom;
				memcpy(key, k, klen);
			}
			key[klen] = '\0';
			if (strlen(key) != klen) {
				/* U+0000 in a member name: no C string can hold it. */
				free(heap);
				r = -EBADMSG;
				goto fail;
			}
			if (json_object_object_get_ex(o, key, NULL)) {
				/* json-c would keep the last one; other readers
				 * keep the first: refuse text that means two
				 * things. */
				free(heap);
				r = -EEXIST;
				goto fail;
			}
			j = ws(p, n, ws(p, n, end) + 1); /* past ':' */
			json_object *v;
			r = value_build(p, n, &j, &v);
			if (r == 0)
				r = json_object_object_add_ex(o, key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW) < 0
					    ? (json_object_put(v), -ENOMEM) : 0;
			free(heap);
			if (r < 0)
				goto fail;
			j = ws(p, n, j);
			if (p[j] == ',')
				j = ws(p, n, j + 1);
		}
		j++; /* '}' */
		break;
	case '[':
		if (!(o = json_object_new_array()))
			return -ENOMEM;
		j = ws(p, n, j + 1);
		while (p[j] != ']') {
			json_object *v;
			if ((r = value_build(p, n, &j, &v)) < 0)
				goto fail;
			if (json_object_array_add(o, v) < 0) {
				json_object_put(v);
				goto oom;
			}
			j = ws(p, n, j);
			if (p[j] == ',')
				j = ws(p, n, j + 1);
		}
		j++;
		break;
	case '"': {
		char buf[256], *heap;
		size_t len, end;
		char *s = string_decode(p, n, j, &end, buf, sizeof(buf), &len, &heap);
		if (!s)
			return -ENOMEM;
		o = json_object_new_string_len(s, (int)len);
		free(heap);
		if (!o)
			return -ENOMEM;
		j = end;
		break;
	}
	case 't':
		o = json_object_new_boolean(1);
		j += 4;
		break;
	case 'f':
		o = json_object_new_boolean(0);
		j += 5;
		break;
	case 'n':
		j += 4;
		break;
	default: {
		size_t s = j;
		while (j < n && (p[j] == '-' || p[j] == '+' || p[j] == '.' || p[j] == 'e' || p[j] == 'E' ||
				 (p[j] >= '0' && p[j] <= '9')))
			j++;
		if (!(o = number_build(p + s, j - s)))
			return -ENOMEM;
	}
	}
	if (!o && p[*i] != 'n')
		return -ENOMEM;
	*i = j;
	*ret = o;
	return 0;
oom:
	r = -ENOMEM;
fail:
	json_object_put(o);
	return r;
}

int rpc_json_build(const char *p, size_t n, json_object **ret)
{
	size_t i = ws(p, n, 0);
	return value_build(p, n, &i, ret);
}

int rpc_json_build_at(const char *p, size_t n, size_t *i, json_object **ret)
{
	return value_build(p, n, i, ret);
}

/* --- objects -> text ------------------------------------------------------------- */

int rpc_buf_reserve(rpc_buf_t *b, size_t extra)
{
	if (b->alloc - b->len >= extra)
		return 0;
	size_t want = MAX(b->alloc * 2, b->len + extra + 64);
	char *v = realloc(b->p, want);
	if (!v)
		return -ENOMEM;
	b->p = v;
	b->alloc = want;
	return 0;
}

int rpc_buf_add(rpc_buf_t *b, const char *s, size_t n)
{
	if (b->max && n > b->max - MIN(b->len, b->max))
		return -EFBIG;
	if (rpc_buf_reserve(b, n + 1) < 0)
		return -ENOMEM;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int append_string(rpc_buf_t *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	/* Even unescaped the string would not fit: do not reserve for it. */
	if (b->max && n + 2 > b->max - MIN(b->len, b->max))
		return -EFBIG;
	/* Worst case every byte becomes \u00XX. */
	if (rpc_buf_reserve(b, n * 6 + 3) < 0)
		return -ENOMEM;
	char *q = b->p + b->len;
	*q++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			*q++ = (char)c;
			continue;
		}
		*q++ = '\\';
		switch (c) {
		case '"': *q++ = '"'; break;
		case '\\': *q++ = '\\'; break;
		case '\n': *q++ = 'n'; break;
		case '\r': *q++ = 'r'; break;
		case '\t': *q++ = 't'; break;
		case '\b': *q++ = 'b'; break;
		case '\f': *q++ = 'f'; break;
		default:
			*q++ = 'u';
			*q++ = '0';
			*q++ = '0';
			*q++ = hex[c >> 4];
			*q++ = hex[c & 15];
		}
	}
	*q++ = '"';
	*q = '\0';
	b->len = (size_t)(q - b->p);
	return b->max && b->len > b->max ? -EFBIG : 0;
}

int rpc_json_append(rpc_buf_t *b, json_object *o, unsigned depth)
{
	char num[32];
	int r;

	if (depth > RPC_MAX_DEPTH_LIMIT)
		return -ELOOP; /* a cycle, or absurd nesting built by a handler */
	switch (json_object_get_type(o)) {
	case json_type_null:
		return rpc_buf_add(b, "null", 4);
	case json_type_boolean:
		return json_object_get_boolean(o) ? rpc_buf_add(b, "true", 4) : rpc_buf_add(b, "false", 5);
	case json_type_int: {
		int64_t v = json_object_get_int64(o);
		int len;
		if (v == INT64_MAX && json_object_get_uint64(o) > (uint64_t)INT64_MAX)
			len = snprintf(num, sizeof(num), "%llu", (unsigned long long)json_object_get_uint64(o));
		else {
			/* Hand-rolled: snprintf is the slowest part of small answers. */
			char tmp[24], *t = tmp + sizeof(tmp);
			uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
			do
				*--t = (char)('0' + u % 10);
			while (u /= 10);
			if (v < 0)
				*--t = '-';
			len = (int)(tmp + sizeof(tmp) - t);
			memcpy(num, t, (size_t)len);
		}
		return rpc_buf_add(b, num, (size_t)len);
	}
	case json_type_double: {
		/* json-c keeps the text a double was parsed from. */
		size_t len;
		const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
		return s ? rpc_buf_add(b, s, len) : -ENOMEM;
	}
	case json_type_string:
		return append_string(b, json_object_get_string(o), (size_t)json_object_get_string_len(o));
	case json_type_array: {
		size_t n = json_object_array_length(o);
		if ((r = rpc_buf_add(b, "[", 1)) < 0)
			return r;
		for (size_t i = 0; i < n; i++) {
			if (i && (r = rpc_buf_add(b, ",", 1)) < 0)
				return r;
			if ((r = rpc_json_append(b, json_object_array_get_idx(o, i), depth + 1)) < 0)
				return r;
		}
		return rpc_buf_add(b, "]", 1);
	}
	case json_type_object: {
		bool first = true;
		if ((r = rpc_buf_add(b, "{", 1)) < 0)
			return r;
		json_object_object_foreach(o, k, v) {
			if (!first && (r = rpc_buf_add(b, ",", 1)) < 0)
				return r;
			first = false;
			if ((r = append_string(b, k, strlen(k))) < 0 || (r = rpc_buf_add(b, ":", 1)) < 0 ||
			    (r = rpc_json_append(b, v, depth + 1)) < 0)
				return r;
		}
		return rpc_buf_add(b, "}", 1);
	}
	}
	return -EINVAL;
}
