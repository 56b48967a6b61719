/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Validation of by-name params against the method table's schemas, and
 * the same schemas rendered as JSON Schema for the OpenRPC document, so
 * that what is documented is what is enforced.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc-internal.h"

static const char *const type_names[_RPC_TYPE_MAX] = {
	[RPC_TYPE_ANY] = "any", [RPC_TYPE_STRING] = "string", [RPC_TYPE_INTEGER] = "integer",
	[RPC_TYPE_NUMBER] = "number", [RPC_TYPE_BOOLEAN] = "boolean", [RPC_TYPE_OBJECT] = "object",
	[RPC_TYPE_ARRAY] = "array",
};

const char *rpc_type_to_string(rpc_type_t t)
{
	return (unsigned)t < _RPC_TYPE_MAX ? type_names[t] : NULL;
}

rpc_type_t rpc_type_from_string(const char *s)
{
	for (unsigned i = 0; s && i < _RPC_TYPE_MAX; i++)
		if (strcmp(s, type_names[i]) == 0)
			return (rpc_type_t)i;
	return _RPC_TYPE_MAX;
}

/* --- compiled patterns --------------------------------------------------- */

struct rpc_regex_cache {
	size_t n;
	struct {
		const char *pattern;
		rpc_pattern_t *re;
	} *v;
};

rpc_regex_cache_t *rpc_regex_cache_new(void)
{
	return calloc(1, sizeof(rpc_regex_cache_t));
}

rpc_regex_cache_t *rpc_regex_cache_free(rpc_regex_cache_t *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n; i++)
		rpc_pattern_free(c->v[i].re);
	free(c->v);
	free(c);
	return NULL;
}

static rpc_pattern_t *regex_cache_find(rpc_regex_cache_t *c, const char *pattern)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (c->v[i].pattern == pattern || strcmp(c->v[i].pattern, pattern) == 0)
			return c->v[i].re;
	return NULL;
}

static int regex_cache_add(rpc_regex_cache_t *c, const char *pattern)
{
	if (regex_cache_find(c, pattern))
		return 0;
	void *v = realloc(c->v, (c->n + 1) * sizeof(*c->v));
	if (!v)
		return -ENOMEM;
	c->v = v;
	int r = rpc_pattern_compile(pattern, &c->v[c->n].re);
	if (r < 0)
		return r;
	c->v[c->n++].pattern = pattern;
	return 0;
}

static int regex_cache_add_schema(rpc_regex_cache_t *c, const rpc_schema_t *s, unsigned depth)
{
	int r;
	if (!s)
		return 0;
	if (depth > 32 || (unsigned)s->type >= _RPC_TYPE_MAX)
		return -EINVAL;
	if (s->pattern && (r = regex_cache_add(c, s->pattern)) < 0)
		return r;
	for (const rpc_field_t *f = s->fields; f && f->name; f++)
		if ((r = regex_cache_add_schema(c, &f->schema, depth + 1)) < 0)
			return r;
	if ((r = regex_cache_add_schema(c, s->values, depth + 1)) < 0 ||
	    (r = regex_cache_add_schema(c, s->keys, depth + 1)) < 0 ||
	    (r = regex_cache_add_schema(c, s->items, depth + 1)) < 0)
		return r;
	return 0;
}

int rpc_regex_cache_add_fields(rpc_regex_cache_t *c, const rpc_field_t *fields)
{
	for (const rpc_field_t *f = fields; f && f->name; f++) {
		int r = regex_cache_add_schema(c, &f->schema, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- validation ------------------------------------------------------------ */

/* The path of the value being checked, kept as a stack of frames and
 * rendered ("workload.args[2]") only when validation fails. */
#define VPATH_MAX 64

typedef struct vpath {
	struct {
		const char *key; /* NULL: an array index */
		size_t index;
	} f[VPATH_MAX];
	size_t depth;
} vpath_t;

static bool key_is_plain(const char *k);

static size_t vpath_push_key(vpath_t *p, const char *key)
{
	if (p->depth < VPATH_MAX)
		p->f[p->depth].key = key;
	return p->depth++;
}

static size_t vpath_push_index(vpath_t *p, size_t i)
{
	if (p->depth < VPATH_MAX) {
		p->f[p->depth].key = NULL;
		p->f[p->depth].index = i;
	}
	return p->depth++;
}

static void vpath_pop(vpath_t *p, size_t old)
{
	p->depth = old;
}

static void vpath_render(const vpath_t *p, char *buf, size_t size)
{
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < MIN(p->depth, (size_t)VPATH_MAX) && len < size - 1; i++) {
		int n;
		if (!p->f[i].key)
			n = snprintf(buf + len, size - len, "[%zu]", p->f[i].index);
		else if (key_is_plain(p->f[i].key))
			n = snprintf(buf + len, size - len, "%s%s", len ? "." : "", p->f[i].key);
		else
			n = snprintf(buf + len, size - len, "[\"%s\"]", p->f[i].key);
		if (n < 0)
			break;
		len = MIN(len + (size_t)n, size - 1);
	}
}

typedef struct vctx {
	rpc_regex_cache_t *cache;
	vpath_t path;
	char reason[160];
} vctx_t;

static int fail(vctx_t *v, const char *fmt, ...) _printf_(2, 3);
static int fail(vctx_t *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int validate(vctx_t *v, const rpc_schema_t *s, json_object *o);

static bool key_is_plain(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '_' ||
		      *k == '-'))
			return false;
	return true;
}

static int check_count(vctx_t *v, const rpc_schema_t *s, int64_t n, const char *what)
{
	if (s->has_min && n < s->min)
		return fail(v, "expected at least %lld %s", (long long)s->min, what);
	if (s->has_max && n > s->max)
		return fail(v, "expected at most %lld %s", (long long)s->max, what);
	return 0;
}

static int validate_string(vctx_t *v, const rpc_schema_t *s, json_object *o)
{
	const char *str = json_object_get_string(o);
	size_t len = (size_t)json_object_get_string_len(o);
	int r;

	if (strlen(str) != len)
		return fail(v, "string contains NUL");
	int64_t chars = 0;
	for (size_t i = 0; i < len; i++)
		chars += ((unsigned char)str[i] & 0xC0) != 0x80;
	if ((r = s->max_bytes ? check_count(v, s, (int64_t)len, "bytes") : check_count(v, s, chars, "characters")) < 0)
		return r;
	if (s->enum_values) {
		for (const char *const *e = s->enum_values; *e; e++)
			if (strcmp(*e, str) == 0)
				goto enum_ok;
		char list[120] = "";
		size_t l = 0;
		for (const char *const *e = s->enum_values; *e && l < sizeof(list) - 1; e++)
			l += (size_t)snprintf(list + l, sizeof(list) - l, "%s\"%s\"", e == s->enum_values ? "" : ", ", *e),
				l = MIN(l, sizeof(list) - 1);
		return fail(v, "expected one of %s", list);
	}
enum_ok:
	if (s->pattern) {
		rpc_pattern_t *local = NULL, *re = regex_cache_find(v->cache, s->pattern);
		if (!re) {
			if ((r = rpc_pattern_compile(s->pattern, &local)) < 0)
				return r == -ENOMEM ? r : fail(v, "bad pattern in schema");
			re = local;
		}
		bool ok = rpc_pattern_match(re, str, len);
		rpc_pattern_free(local);
		if (!ok)
			return fail(v, "does not match pattern ^(%s)$", s->pattern);
	}
	return 0;
}

static int validate_object(vctx_t *v, const rpc_schema_t *s, json_object *o)
{
	int r;

	if ((r = check_count(v, s, json_object_object_length(o), "members")) < 0)
		return r;
	if (!s->fields && !s->values)
		return 0; /* free-form */

	json_object_object_foreach(o, key, val) {
		const rpc_field_t *f = NULL;
		for (const rpc_field_t *i = s->fields; i && i->name; i++)
			if (strcmp(i->name, key) == 0) {
				f = i;
				break;
			}
		size_t old = vpath_push_key(&v->path, key);
		if (f)
			r = validate(v, &f->schema, val);
		else if (!s->values)
			r = fail(v, "unknown parameter");
		else {
			r = 0;
			if (s->keys) {
				json_object *k = json_object_new_string(key);
				if (!k)
					return -ENOMEM;
				r = validate(v, s->keys, k);
				json_object_put(k);
				if (r == -EINVAL) {
					char tmp[sizeof(v->reason)];
					memcpy(tmp, v->reason, sizeof(tmp));
					fail(v, "key %s", tmp);
				}
			}
			if (r == 0)
				r = validate(v, s->values, val);
		}
		if (r < 0)
			return r;
		vpath_pop(&v->path, old);
	}
	for (const rpc_field_t *f = s->fields; f && f->name; f++)
		if (f->required && !json_object_object_get_ex(o, f->name, NULL)) {
			vpath_push_key(&v->path, f->name);
			return fail(v, "missing required parameter");
		}
	return 0;
}

static int validate(vctx_t *v, const rpc_schema_t *s, json_object *o)
{
	json_type t = json_object_get_type(o);
	int r;

	switch (s->type) {
	case RPC_TYPE_ANY:
		return 0;
	case RPC_TYPE_STRING:
		if (t != json_type_string)
			return fail(v, "expected string");
		return validate_string(v, s, o);
	case RPC_TYPE_INTEGER: {
		int64_t n;
		if (t == json_type_int) {
			n = json_object_get_int64(o);
			/* json-c keeps integers above INT64_MAX as uint64. */
			if (n == INT64_MAX && json_object_get_uint64(o) > (uint64_t)INT64_MAX)
				return fail(v, "integer out of range");
		} else if (t == json_type_double) {
			double d = json_object_get_double(o);
			if (!isfinite(d) || d != floor(d))
				return fail(v, "expected integer");
			if (d < -9.2e18 || d > 9.2e18)
				return fail(v, "integer out of range");
			n = (int64_t)d;
		} else
			return fail(v, "expected integer");
		if (s->has_min && n < s->min)
			return fail(v, "expected at least %lld", (long long)s->min);
		if (s->has_max && n > s->max)
			return fail(v, "expected at most %lld", (long long)s->max);
		return 0;
	}
	case RPC_TYPE_NUMBER:
		if (t != json_type_int && t != json_type_double)
			return fail(v, "expected number");
		if (t == json_type_double && !isfinite(json_object_get_double(o)))
			return fail(v, "number out of range");
		return 0;
	case RPC_TYPE_BOOLEAN:
		return t == json_type_boolean ? 0 : fail(v, "expected boolean");
	case RPC_TYPE_OBJECT:
		if (t != json_type_object)
			return fail(v, "expected object");
		return validate_object(v, s, o);
	case RPC_TYPE_ARRAY: {
		if (t != json_type_array)
			return fail(v, "expected array");
		size_t n = json_object_array_length(o);
		if ((r = check_count(v, s, (int64_t)n, "items")) < 0)
			return r;
		for (size_t i = 0; s->items && i < n; i++) {
			size_t old = vpath_push_index(&v->path, i);
			if ((r = validate(v, s->items, json_object_array_get_idx(o, i))) < 0)
				return r;
			vpath_pop(&v->path, old);
		}
		return 0;
	}
	default:
		return fail(v, "bad schema type");
	}
}

int rpc_validate_params(const rpc_field_t *fields, json_object *params, rpc_regex_cache_t *cache,
			json_object **ret_data)
{
	rpc_schema_t top = { .type = RPC_TYPE_OBJECT, .fields = fields };
	static const rpc_field_t none[] = { { NULL } };
	vctx_t v = { .cache = cache };

	if (!fields)
		top.fields = none; /* no params: any member is unknown */
	int r = validate(&v, &top, params);
	if (r == -EINVAL) {
		json_object *d = json_object_new_object();
		if (!d)
			return -ENOMEM;
		char path[256];
		vpath_render(&v.path, path, sizeof(path));
		json_object_object_add(d, "param", json_object_new_string(path));
		json_object_object_add(d, "reason", json_object_new_string(v.reason));
		*ret_data = d;
	}
	return r;
}

int rpc_params_from_array(const rpc_field_t *fields, json_object *array, json_object **ret, json_object **ret_data)
{
	size_t n = json_object_array_length(array), i = 0;
	json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	for (const rpc_field_t *f = fields; f && f->name && i < n; f++, i++)
		json_object_object_add(o, f->name, json_object_get(json_object_array_get_idx(array, i)));
	if (i < n) {
		json_object_put(o);
		json_object *d = json_object_new_object();
		if (!d)
			return -ENOMEM;
		char buf[32];
		snprintf(buf, sizeof(buf), "[%zu]", i);
		json_object_object_add(d, "param", json_object_new_string(buf));
		json_object_object_add(d, "reason", json_object_new_string("too many positional params"));
		*ret_data = d;
		return -EINVAL;
	}
	*ret = o;
	return 0;
}

/* --- JSON Schema ----------------------------------------------------------- */

static bool render_limit(rpc_schema_render_t *r, const char *name, int64_t *ret)
{
	if (!r || !name)
		return false;
	if (r->limits && strcmp(name, "rpc.max_request_bytes") == 0) {
		*ret = (int64_t)r->limits->max_request_bytes;
		return true;
	}
	if (r->limits && strcmp(name, "rpc.max_answer_bytes") == 0) {
		*ret = (int64_t)r->limits->max_answer_bytes;
		return true;
	}
	return r->limit_fn && r->limit_fn(name, ret, r->userdata) >= 0;
}

/* The same schema, member by member (a copy of the struct, say a field's
 * schema given by value): padding makes memcmp() unfit. */
static bool schema_same(const rpc_schema_t *a, const rpc_schema_t *b)
{
	return a->type == b->type && a->description == b->description && a->has_min == b->has_min &&
	       a->has_max == b->has_max && a->min == b->min && a->max == b->max && a->max_bytes == b->max_bytes &&
	       a->pattern == b->pattern && a->enum_values == b->enum_values && a->fields == b->fields &&
	       a->values == b->values && a->keys == b->keys && a->items == b->items && a->nullable == b->nullable &&
	       a->format == b->format && a->limit == b->limit;
}

static json_object *component_ref(const rpc_schema_t *s, rpc_schema_render_t *r)
{
	size_t len = strlen(s->component) + sizeof("#/components/schemas/");
	char *ref = malloc(len);
	json_object *j = json_object_new_object();

	for (size_t i = 0; i < r->n_comps; i++)
		if (strcmp(r->comps[i].name, s->component) == 0) {
			/* A copy of the struct (a field's schema by value) is the
			 * same component; another schema under its name is not. */
			if (!schema_same(r->comps[i].schema, s) && !r->error)
				r->error = -EINVAL;
			goto found;
		}
	void *v = realloc(r->comps, (r->n_comps + 1) * sizeof(*r->comps));
	if (!v)
		goto nomem;
	r->comps = v;
	r->comps[r->n_comps++] = (struct rpc_component){ s->component, s };
found:
	if (!ref || !j)
		goto nomem;
	snprintf(ref, len, "#/components/schemas/%s", s->component);
	json_object_object_add(j, "$ref", json_object_new_string(ref));
	free(ref);
	return j;
nomem:
	free(ref);
	json_object_put(j);
	if (!r->error)
		r->error = -ENOMEM;
	return NULL;
}

json_object *rpc_schema_to_json(const rpc_schema_t *s, rpc_schema_render_t *r)
{
	if (s && s->component && r)
		return component_ref(s, r);
	return rpc_schema_to_json_inline(s, r);
}

json_object *rpc_schema_to_json_inline(const rpc_schema_t *s, rpc_schema_render_t *r)
{
	json_object *j = json_object_new_object();
	if (!j)
		return NULL;
	if (!s)
		return j; /* {} = anything */
	if (s->nullable) {
		/* oneOf rather than "type": [..., "null"]: client generators
		 * (OpenRPC's among them) handle it, and an enum stays as it is. */
		rpc_schema_t inner = *s;
		json_object *one_of = json_object_new_array(), *null = json_object_new_object();
		inner.nullable = false;
		inner.description = NULL;
		if (s->description)
			json_object_object_add(j, "description", json_object_new_string(s->description));
		json_object_object_add(null, "type", json_object_new_string("null"));
		json_object_array_add(one_of, rpc_schema_to_json_inline(&inner, r));
		json_object_array_add(one_of, null);
		json_object_object_add(j, "oneOf", one_of);
		return j;
	}
	if (s->type != RPC_TYPE_ANY && (unsigned)s->type < _RPC_TYPE_MAX)
		json_object_object_add(j, "type", json_object_new_string(type_names[s->type]));
	if (s->description)
		json_object_object_add(j, "description", json_object_new_string(s->description));
	if (s->format)
		json_object_object_add(j, "format", json_object_new_string(s->format));

	const char *min_key = NULL, *max_key = NULL;
	switch (s->type) {
	case RPC_TYPE_INTEGER: min_key = "minimum"; max_key = "maximum"; break;
	case RPC_TYPE_STRING: min_key = "minLength"; max_key = "maxLength"; break;
	case RPC_TYPE_ARRAY: min_key = "minItems"; max_key = "maxItems"; break;
	case RPC_TYPE_OBJECT: min_key = "minProperties"; max_key = "maxProperties"; break;
	default: break;
	}
	/* A string bounded in bytes (max_bytes) has at most as many
	 * characters as bytes, so maxLength holds; its minimum in bytes says
	 * less in characters (1 to 4 bytes each) and is left out. */
	bool has_max = s->has_max;
	int64_t max = s->max, node_max;
	if (render_limit(r, s->limit, &node_max) && (!has_max || node_max < max)) {
		has_max = true;
		max = node_max;
	}
	if (min_key && s->has_min && !(s->type == RPC_TYPE_STRING && s->max_bytes))
		json_object_object_add(j, min_key, json_object_new_int64(s->min));
	if (max_key && has_max)
		json_object_object_add(j, max_key, json_object_new_int64(max));

	if (s->type == RPC_TYPE_STRING && s->pattern) {
		size_t len = strlen(s->pattern) + 5;
		char *full = malloc(len);
		if (full) {
			snprintf(full, len, "^(%s)$", s->pattern);
			json_object_object_add(j, "pattern", json_object_new_string(full));
			free(full);
		}
	}
	if (s->type == RPC_TYPE_STRING && s->enum_values) {
		json_object *e = json_object_new_array();
		for (const char *const *v = s->enum_values; e && *v; v++)
			json_object_array_add(e, json_object_new_string(*v));
		json_object_object_add(j, "enum", e);
	}
	/* "items": {} rather than none: generators expect the member. */
	if (s->type == RPC_TYPE_ARRAY)
		json_object_object_add(j, "items", rpc_schema_to_json(s->items, r));
	if (s->type == RPC_TYPE_OBJECT && (s->fields || s->values)) {
		json_object *props = json_object_new_object(), *req = json_object_new_array();
		for (const rpc_field_t *f = s->fields; f && f->name; f++) {
			json_object_object_add(props, f->name, rpc_schema_to_json(&f->schema, r));
			if (f->required)
				json_object_array_add(req, json_object_new_string(f->name));
		}
		json_object_object_add(j, "properties", props);
		if (json_object_array_length(req) > 0)
			json_object_object_add(j, "required", req);
		else
			json_object_put(req);
		json_object_object_add(j, "additionalProperties",
				       s->values ? rpc_schema_to_json(s->values, r) : json_object_new_boolean(false));
		if (s->values && s->keys)
			json_object_object_add(j, "propertyNames", rpc_schema_to_json(s->keys, r));
	}
	return j;
}
