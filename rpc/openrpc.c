/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OpenRPC 1.2.6 document served by rpc.discover, generated from the
 * method table and the error table so it cannot drift from what the server
 * enforces.
 */
#include <string.h>
#include "rpc-internal.h"

static json_object *content_descriptor(const char *name, bool required, const rpc_schema_t *s)
{
	json_object *d = json_object_new_object();
	if (!d)
		return NULL;
	json_object_object_add(d, "name", json_object_new_string(name));
	if (s && s->description)
		json_object_object_add(d, "description", json_object_new_string(s->description));
	json_object_object_add(d, "required", json_object_new_boolean(required));
	json_object_object_add(d, "schema", rpc_schema_to_json(s));
	return d;
}

static json_object *method_json(const rpc_method_t *m)
{
	json_object *j = json_object_new_object(), *params = json_object_new_array();
	if (!j || !params) {
		json_object_put(j);
		json_object_put(params);
		return NULL;
	}
	json_object_object_add(j, "name", json_object_new_string(m->name));
	if (m->summary)
		json_object_object_add(j, "summary", json_object_new_string(m->summary));
	json_object_object_add(j, "paramStructure",
			       json_object_new_string(m->flags & RPC_METHOD_POSITIONAL ? "either" : "by-name"));
	for (const rpc_field_t *f = m->params; f && f->name; f++)
		json_object_array_add(params, content_descriptor(f->name, f->required, &f->schema));
	json_object_object_add(j, "params", params);
	json_object_object_add(j, "result", content_descriptor("result", true, m->result));
	return j;
}

static const rpc_schema_t discover_result = {
	.type = RPC_TYPE_OBJECT,
	.description = "An OpenRPC 1.2.6 document describing this server",
};

const rpc_method_t rpc_discover_method = {
	.name = "rpc.discover",
	.summary = "Describe the API as an OpenRPC document",
	.result = &discover_result,
};

json_object *rpc_openrpc_document(const rpc_method_t *m, size_t n, const char *title, const char *version)
{
	json_object *doc = json_object_new_object(), *info = json_object_new_object(),
		    *methods = json_object_new_array(), *components = json_object_new_object(),
		    *errors = json_object_new_object();
	if (!doc || !info || !methods || !components || !errors) {
		json_object_put(doc);
		json_object_put(info);
		json_object_put(methods);
		json_object_put(components);
		json_object_put(errors);
		return NULL;
	}
	json_object_object_add(doc, "openrpc", json_object_new_string("1.2.6"));
	json_object_object_add(info, "title", json_object_new_string(title ? title : "mvmd"));
	json_object_object_add(info, "version", json_object_new_string(version ? version : "0"));
	json_object_object_add(doc, "info", info);

	json_object_array_add(methods, method_json(&rpc_discover_method));
	for (size_t i = 0; i < n; i++)
		json_object_array_add(methods, method_json(&m[i]));
	json_object_object_add(doc, "methods", methods);

	for (size_t i = 0; i < rpc_error_table_size; i++) {
		const rpc_error_info_t *e = &rpc_error_table[i];
		json_object *ej = json_object_new_object();
		if (!ej)
			break;
		json_object_object_add(ej, "code", json_object_new_int(e->code));
		json_object_object_add(ej, "message", json_object_new_string(e->message));
		json_object_object_add(ej, "data", json_object_new_string(e->meaning));
		json_object_object_add(errors, e->name, ej);
	}
	json_object_object_add(components, "errors", errors);
	json_object_object_add(doc, "components", components);
	return doc;
}
