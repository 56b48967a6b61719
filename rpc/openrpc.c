/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OpenRPC 1.3 document served by rpc.discover, generated from the
 * method table and the error table so it cannot drift from what the server
 * enforces: params, result schemas (shared objects once, under
 * components.schemas), each method's errors, examples, the notifications
 * the server sends, and this node's bounds, read when it is asked.
 */
#include <stdlib.h>
#include <string.h>
#include "rpc-internal.h"

/* Adds v to o; either missing is an allocation that failed. */
static void add(rpc_schema_render_t *r, json_object *o, const char *key, json_object *v)
{
	if ((!o || !v) && !r->error)
		r->error = -ENOMEM;
	if (o && v)
		json_object_object_add(o, key, v);
	else
		json_object_put(v);
}

static json_object *content_descriptor(rpc_schema_render_t *r, const char *name, bool required, const rpc_schema_t *s)
{
	json_object *d = json_object_new_object();
	if (!d) {
		r->error = r->error ?: -ENOMEM;
		return NULL;
	}
	add(r, d, "name", json_object_new_string(name));
	if (s && s->description)
		add(r, d, "description", json_object_new_string(s->description));
	add(r, d, "required", json_object_new_boolean(required));
	add(r, d, "schema", rpc_schema_to_json(s, r));
	return d;
}

static json_object *error_ref(rpc_schema_render_t *r, int code)
{
	const rpc_error_info_t *e = rpc_error_lookup(code);
	char ref[96];

	if (!e) {
		r->error = r->error ?: -EINVAL;
		return NULL;
	}
	json_object *j = json_object_new_object();
	snprintf(ref, sizeof(ref), "#/components/errors/%s", e->name);
	add(r, j, "$ref", json_object_new_string(ref));
	return j;
}

/* What any method may answer: a param the schema refuses, a bug, a limit
 * (out of memory, an answer over max_answer_bytes). */
static const int common_errors[] = { RPC_ERROR_INVALID_PARAMS, RPC_ERROR_INTERNAL, RPC_ERROR_RESOURCE_LIMIT, 0 };

static json_object *errors_json(rpc_schema_render_t *r, const rpc_method_t *m)
{
	json_object *a = json_object_new_array();

	for (const int *c = common_errors; a && *c; c++)
		json_object_array_add(a, error_ref(r, *c));
	for (const int *c = m->errors; a && c && *c; c++) {
		bool dup = false;
		for (const int *d = common_errors; *d; d++)
			dup |= *d == *c;
		if (!dup)
			json_object_array_add(a, error_ref(r, *c));
	}
	return a;
}

static json_object *parse(rpc_schema_render_t *r, const char *text)
{
	json_object *o = json_tokener_parse(text);
	if (!o && strcmp(text, "null") != 0)
		r->error = r->error ?: -EINVAL;
	return o;
}

static json_object *example_json(rpc_schema_render_t *r, const rpc_example_t *ex)
{
	json_object *j = json_object_new_object(), *params = json_object_new_array(), *p;

	add(r, j, "name", json_object_new_string(ex->name));
	p = parse(r, ex->params ? ex->params : "{}");
	if (!json_object_is_type(p, json_type_object))
		r->error = r->error ?: -EINVAL;
	else {
		json_object_object_foreach(p, key, val) {
			json_object *e = json_object_new_object();
			add(r, e, "name", json_object_new_string(key));
			if (e)
				json_object_object_add(e, "value", json_object_get(val));
			if (!e || !params || json_object_array_add(params, e) < 0) {
				json_object_put(e);
				r->error = r->error ?: -ENOMEM;
			}
		}
	}
	json_object_put(p);
	add(r, j, "params", params);
	/* A notification's example has the result its entry has: null. */
	json_object *res = json_object_new_object();
	add(r, res, "name", json_object_new_string(ex->result ? "result" : "none"));
	if (res)
		json_object_object_add(res, "value", ex->result ? parse(r, ex->result) : NULL);
	add(r, j, "result", res);
	return j;
}

static json_object *method_json(rpc_schema_render_t *r, const rpc_method_t *m)
{
	bool notification = m->flags & RPC_METHOD_NOTIFICATION;
	json_object *j = json_object_new_object(), *params = json_object_new_array();

	if (!j || !params) {
		json_object_put(j);
		json_object_put(params);
		r->error = r->error ?: -ENOMEM;
		return NULL;
	}
	add(r, j, "name", json_object_new_string(m->name));
	if (m->summary)
		add(r, j, "summary", json_object_new_string(m->summary));
	add(r, j, "paramStructure",
	    json_object_new_string(m->flags & RPC_METHOD_POSITIONAL ? "either" : "by-name"));
	for (const rpc_field_t *f = m->params; f && f->name; f++)
		json_object_array_add(params, content_descriptor(r, f->name, f->required, &f->schema));
	add(r, j, "params", params);
	if (notification) {
		/* OpenRPC has no server-to-client messages: a method entry,
		 * tagged and marked so a generator can tell. */
		json_object *tags = json_object_new_array(), *tag = json_object_new_object();
		json_object *none = json_object_new_object(), *null = json_object_new_object();
		add(r, j, "description", json_object_new_string(
			"A notification the server sends (no id, never answered); clients do not call it "
			"(-32601). params is the object described here."));
		/* OpenRPC 1.3 lets result be absent, but the generator's
		 * dereferencer (and older tools) need one: null, never sent. */
		add(r, none, "name", json_object_new_string("none"));
		add(r, none, "description", json_object_new_string("a notification is not answered"));
		add(r, null, "type", json_object_new_string("null"));
		add(r, none, "schema", null);
		add(r, j, "result", none);
		add(r, tag, "name", json_object_new_string("notification"));
		if (tags && tag)
			json_object_array_add(tags, tag);
		else
			json_object_put(tag);
		add(r, j, "tags", tags);
		add(r, j, "x-notification", json_object_new_boolean(true));
	} else {
		add(r, j, "result", content_descriptor(r, "result", true, m->result));
		add(r, j, "errors", errors_json(r, m));
	}
	if (m->examples) {
		json_object *ex = json_object_new_array();
		for (const rpc_example_t *e = m->examples; ex && e->name; e++)
			json_object_array_add(ex, example_json(r, e));
		add(r, j, "examples", ex);
	}
	return j;
}

static const rpc_field_t discover_fields[] = {
	{ "openrpc", true, { .type = RPC_TYPE_STRING, .description = "the OpenRPC version" } },
	{ "info", true, { .type = RPC_TYPE_OBJECT, .description = "title, version, x-limits" } },
	{ "methods", true, { .type = RPC_TYPE_ARRAY, .description = "method (and notification) objects" } },
	{ "components", false, { .type = RPC_TYPE_OBJECT, .description = "schemas and errors the methods reference" } },
	{ NULL },
};
static const rpc_schema_t discover_result = {
	.type = RPC_TYPE_OBJECT,
	.description = "An OpenRPC 1.3 document describing this server (https://spec.open-rpc.org)",
	.fields = discover_fields,
	.values = &(const rpc_schema_t){ .type = RPC_TYPE_ANY },
};

const rpc_method_t rpc_discover_method = {
	.name = "rpc.discover",
	.summary = "Describe the API as an OpenRPC document",
	.result = &discover_result,
	.errors = (const int[]){ 0 },
};

static json_object *limits_json(rpc_schema_render_t *r, const rpc_limits_t *l)
{
	json_object *o = json_object_new_object();
	const struct {
		const char *key;
		uint64_t v;
	} v[] = {
		{ "max_request_bytes", l->max_request_bytes }, { "max_answer_bytes", l->max_answer_bytes },
		{ "max_depth", l->max_depth },                 { "max_clients", l->max_clients },
		{ "max_pending", l->max_pending },             { "max_queue_bytes", l->max_queue_bytes },
		{ "idle_timeout_ms", l->idle_timeout_usec / 1000 },
		{ "line_timeout_ms", l->line_timeout_usec / 1000 },
		{ "send_timeout_ms", l->send_timeout_usec / 1000 },
	};
	for (size_t i = 0; o && i < sizeof(v) / sizeof(v[0]); i++)
		add(r, o, v[i].key, json_object_new_int64((int64_t)v[i].v));
	return o;
}

int rpc_openrpc_build(const rpc_method_t *m, size_t n, const char *title, const char *version,
		      const rpc_limits_t *limits, rpc_limit_fn_t limit_fn, void *userdata, json_object **ret)
{
	rpc_schema_render_t r = { .limits = limits, .limit_fn = limit_fn, .userdata = userdata };
	json_object *doc = json_object_new_object(), *info = json_object_new_object(),
		    *methods = json_object_new_array(), *components = json_object_new_object(),
		    *schemas = json_object_new_object(), *errors = json_object_new_object();

	if (!doc || !info || !methods || !components || !schemas || !errors) {
		json_object_put(info);
		json_object_put(methods);
		json_object_put(components);
		json_object_put(schemas);
		json_object_put(errors);
		r.error = -ENOMEM;
		goto out;
	}
	add(&r, doc, "openrpc", json_object_new_string("1.3.2"));
	add(&r, info, "title", json_object_new_string(title ? title : "mvmd"));
	add(&r, info, "version", json_object_new_string(version ? version : "0"));
	if (limits) {
		add(&r, info, "description", json_object_new_string(
			"x-limits: this server's bounds on requests and connections; schemas' maxima "
			"are this node's when the document was asked for."));
		add(&r, info, "x-limits", limits_json(&r, limits));
	}
	add(&r, doc, "info", info);

	json_object_array_add(methods, method_json(&r, &rpc_discover_method));
	for (size_t i = 0; i < n; i++)
		json_object_array_add(methods, method_json(&r, &m[i]));
	add(&r, doc, "methods", methods);

	/* Rendering a component may name more: r.n_comps grows meanwhile. */
	for (size_t i = 0; i < r.n_comps; i++) {
		json_object *c = rpc_schema_to_json_inline(r.comps[i].schema, &r);
		/* a generator names the type after the title */
		add(&r, c, "title", json_object_new_string(r.comps[i].name));
		add(&r, schemas, r.comps[i].name, c);
	}
	add(&r, components, "schemas", schemas);

	for (size_t i = 0; i < rpc_error_table_size; i++) {
		const rpc_error_info_t *e = &rpc_error_table[i];
		json_object *ej = json_object_new_object();
		add(&r, ej, "code", json_object_new_int(e->code));
		add(&r, ej, "message", json_object_new_string(e->message));
		add(&r, ej, "data", json_object_new_string(e->meaning));
		add(&r, errors, e->name, ej);
	}
	add(&r, components, "errors", errors);
	add(&r, doc, "components", components);
out:
	free(r.comps);
	if (r.error < 0) {
		json_object_put(doc);
		return r.error;
	}
	*ret = doc;
	return 0;
}

json_object *rpc_openrpc_document(const rpc_method_t *m, size_t n, const char *title, const char *version)
{
	json_object *doc = NULL;

	return rpc_openrpc_build(m, n, title, version, NULL, NULL, NULL, &doc) < 0 ? NULL : doc;
}
