/* SPDX-License-Identifier: Apache-2.0 */
#include "parse.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/macro.h"

#define TOKEN_BODY_MAX ((size_t)16 << 10)
#define LOCATION_MAX 4096

static void json_putp(json_object **o) { json_object_put(*o); }
#define _cleanup_json_ _cleanup_(json_putp)

bool fetch_digest_is_valid(const char *s)
{
	if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != FETCH_DIGEST_LEN)
		return false;
	for (const char *p = s + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* Parse exactly len bytes as one JSON value (embedded NULs refused). */
static int parse_json(const char *body, size_t len, size_t max, json_object **ret)
{
	json_tokener *tok;
	json_object *o;

	if (len > max || len > INT32_MAX)
		return -E2BIG;
	if (memchr(body, '\0', len))
		return -EBADMSG;
	tok = json_tokener_new_ex(32);
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != len) {
		json_object_put(o);
		json_tokener_free(tok);
		return -EBADMSG;
	}
	json_tokener_free(tok);
	*ret = o;
	return 0;
}

static const char *str_member(json_object *o, const char *name)
{
	json_object *v;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A descriptor's digest and size, both checked. */
static int descriptor(json_object *d, fetch_pick_t *ret)
{
	const char *digest = str_member(d, "digest");
	json_object *v;
	int64_t size;

	if (!fetch_digest_is_valid(digest)) {
		snprintf(ret->reason, sizeof(ret->reason), "descriptor without a sha256 digest");
		return -EBADMSG;
	}
	if (!json_object_object_get_ex(d, "size", &v) || !json_object_is_type(v, json_type_int) ||
	    (size = json_object_get_int64(v)) < 0) {
		snprintf(ret->reason, sizeof(ret->reason), "descriptor without a valid size");
		return -EBADMSG;
	}
	memcpy(ret->digest, digest, FETCH_DIGEST_LEN + 1);
	ret->size = (uint64_t)size;
	return 0;
}

static bool is_wasm_layer_type(const char *mt)
{
	return mt && (strcmp(mt, "application/wasm") == 0 ||
		      strcmp(mt, "application/vnd.wasm.content.layer.v1+wasm") == 0);
}

static bool names_wasm(const char *mt)
{
	return mt && strcasestr(mt, "wasm") != NULL;
}

static int pick_layer(json_object *m, fetch_pick_t *ret)
{
	json_object *layers, *config = NULL, *found = NULL;
	size_t n, nwasm = 0;

	if (!json_object_object_get_ex(m, "layers", &layers) || !json_object_is_type(layers, json_type_array)) {
		snprintf(ret->reason, sizeof(ret->reason), "manifest has no layers array");
		return -EBADMSG;
	}
	n = json_object_array_length(layers);
	for (size_t i = 0; i < n; i++) {
		json_object *l = json_object_array_get_idx(layers, i);
		if (!json_object_is_type(l, json_type_object))
			return -EBADMSG;
		if (is_wasm_layer_type(str_member(l, "mediaType"))) {
			found = l;
			nwasm++;
		}
	}
	if (nwasm > 1) {
		snprintf(ret->reason, sizeof(ret->reason), "manifest has %zu Wasm layers", nwasm);
		return -ENOENT;
	}
	if (!found && n == 1) {
		json_object_object_get_ex(m, "config", &config);
		if (names_wasm(str_member(m, "artifactType")) || names_wasm(str_member(config, "mediaType")))
			found = json_object_array_get_idx(layers, 0);
	}
	if (!found) {
		snprintf(ret->reason, sizeof(ret->reason),
			 "no layer of media type application/wasm or application/vnd.wasm.content.layer.v1+wasm among %zu", n);
		return -ENOENT;
	}
	ret->is_index = false;
	return descriptor(found, ret);
}

static int pick_manifest(json_object *idx, fetch_pick_t *ret)
{
	json_object *ms, *found = NULL, *plat;
	size_t n;

	if (!json_object_object_get_ex(idx, "manifests", &ms) || !json_object_is_type(ms, json_type_array)) {
		snprintf(ret->reason, sizeof(ret->reason), "index has no manifests array");
		return -EBADMSG;
	}
	n = json_object_array_length(ms);
	for (size_t i = 0; i < n && !found; i++) {
		json_object *d = json_object_array_get_idx(ms, i);
		if (json_object_object_get_ex(d, "platform", &plat)) {
			const char *arch = str_member(plat, "architecture");
			if (arch && strcmp(arch, "wasm") == 0)
				found = d;
		}
	}
	if (!found && n == 1)
		found = json_object_array_get_idx(ms, 0);
	if (!found) {
		snprintf(ret->reason, sizeof(ret->reason), "index of %zu manifests has none for architecture wasm", n);
		return -ENOENT;
	}
	ret->is_index = true;
	return descriptor(found, ret);
}

int fetch_manifest_pick(const char *body, size_t len, const char *content_type, fetch_pick_t *ret)
{
	_cleanup_json_ json_object *m = NULL;
	const char *mt;
	char ct[128];
	int r;

	memset(ret, 0, sizeof(*ret));
	r = parse_json(body, len, FETCH_MANIFEST_MAX, &m);
	if (r < 0) {
		snprintf(ret->reason, sizeof(ret->reason), r == -E2BIG ? "manifest too large" : "manifest is not JSON");
		return r == -E2BIG ? r : -EBADMSG;
	}
	if (!json_object_is_type(m, json_type_object)) {
		snprintf(ret->reason, sizeof(ret->reason), "manifest is not a JSON object");
		return -EBADMSG;
	}
	mt = str_member(m, "mediaType");
	if (!mt && content_type) {
		/* "type/subtype; charset=..." -> the type alone */
		size_t l = strcspn(content_type, "; \t");
		snprintf(ct, sizeof(ct), "%.*s", (int)(l < sizeof(ct) ? l : sizeof(ct) - 1), content_type);
		mt = ct;
	}
	if (mt && (strcmp(mt, FETCH_MT_OCI_INDEX) == 0 || strcmp(mt, FETCH_MT_DOCKER_LIST) == 0))
		return pick_manifest(m, ret);
	if (mt && (strcmp(mt, FETCH_MT_OCI_MANIFEST) == 0 || strcmp(mt, FETCH_MT_DOCKER_MANIFEST) == 0))
		return pick_layer(m, ret);
	if (!mt) {
		/* OCI allows mediaType to be absent: tell by the members. */
		json_object *v;
		if (json_object_object_get_ex(m, "manifests", &v))
			return pick_manifest(m, ret);
		if (json_object_object_get_ex(m, "layers", &v))
			return pick_layer(m, ret);
	}
	snprintf(ret->reason, sizeof(ret->reason), "unsupported manifest media type %.100s", mt ? mt : "(none)");
	return -EMEDIUMTYPE;
}

/* --- WWW-Authenticate ------------------------------------------------------ */

static bool is_token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

int fetch_challenge_parse(const char *value, size_t len, fetch_challenge_t *ret)
{
	size_t i = 0;

	memset(ret, 0, sizeof(*ret));
	while (i < len && (value[i] == ' ' || value[i] == '\t'))
		i++;
	size_t s = i;
	while (i < len && value[i] && is_token_char(value[i]))
		i++;
	if (i == s || i - s >= sizeof(ret->scheme))
		return -EBADMSG;
	memcpy(ret->scheme, value + s, i - s);
	if (strcasecmp(ret->scheme, "Bearer") != 0 && strcasecmp(ret->scheme, "Basic") != 0)
		return -EMEDIUMTYPE;

	for (;;) {
		char key[32], val[1024];
		size_t kl = 0, vl = 0;

		while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
			i++;
		if (i >= len || value[i] == '\0')
			return 0;
		s = i;
		while (i < len && is_token_char(value[i]))
			i++;
		if (i == s || i >= len || value[i] != '=')
			return -EBADMSG;
		kl = i - s;
		if (kl >= sizeof(key))
			return -EBADMSG;
		memcpy(key, value + s, kl);
		key[kl] = '\0';
		i++;
		if (i < len && value[i] == '"') {
			i++;
			for (;;) {
				if (i >= len || value[i] == '\0')
					return -EBADMSG; /* unterminated */
				char c = value[i++];
				if (c == '"')
					break;
				if (c == '\\') {
					if (i >= len)
						return -EBADMSG;
					c = value[i++];
				}
				if (vl + 1 >= sizeof(val))
					return -E2BIG;
				val[vl++] = c;
			}
		} else {
			s = i;
			while (i < len && is_token_char(value[i]))
				i++;
			vl = i - s;
			if (vl >= sizeof(val))
				return -E2BIG;
			memcpy(val, value + s, vl);
		}
		val[vl] = '\0';
		char *dst = NULL;
		size_t dsz = 0;
		if (strcasecmp(key, "realm") == 0)
			dst = ret->realm, dsz = sizeof(ret->realm);
		else if (strcasecmp(key, "service") == 0)
			dst = ret->service, dsz = sizeof(ret->service);
		else if (strcasecmp(key, "scope") == 0)
			dst = ret->scope, dsz = sizeof(ret->scope);
		if (dst) {
			if (vl >= dsz)
				return -E2BIG;
			memcpy(dst, val, vl + 1);
		}
		while (i < len && (value[i] == ' ' || value[i] == '\t'))
			i++;
		if (i < len && value[i] != ',' && value[i] != '\0')
			return -EBADMSG;
	}
}

int fetch_token_parse(const char *body, size_t len, char **ret)
{
	_cleanup_json_ json_object *o = NULL;
	const char *t;
	int r = parse_json(body, len, TOKEN_BODY_MAX, &o);

	if (r < 0)
		return r;
	t = str_member(o, "token");
	if (!t || !*t)
		t = str_member(o, "access_token");
	if (!t || !*t)
		return -ENOENT;
	/* It goes into a header line: no control characters. */
	for (const char *p = t; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f)
			return -EBADMSG;
	*ret = strdup(t);
	return *ret ? 0 : -ENOMEM;
}

/* --- URLs ------------------------------------------------------------------- */

static void curlu_freep(CURLU **u) { if (*u) curl_url_cleanup(*u); }

int fetch_location_resolve(const char *base, const char *location, size_t len, char **ret)
{
	_cleanup_(curlu_freep) CURLU *u = curl_url();
	_cleanup_free_ char *loc = NULL;
	char *scheme = NULL, *out = NULL;

	if (!u)
		return -ENOMEM;
	if (len == 0 || len > LOCATION_MAX || memchr(location, '\0', len))
		return -EBADMSG;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)location[i] < 0x20 || location[i] == 0x7f)
			return -EBADMSG;
	loc = strndup(location, len);
	if (!loc)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK)
		return -EBADMSG;
	/* A relative reference resolves against base (RFC 3986 §5). */
	if (curl_url_set(u, CURLUPART_URL, loc, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
		return -EBADMSG;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		return -EBADMSG;
	bool http = strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0;
	curl_free(scheme);
	if (!http)
		return -EBADMSG;
	if (curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
		return -EBADMSG;
	*ret = strdup(out);
	curl_free(out);
	return *ret ? 0 : -ENOMEM;
}

static bool host_is_loopback(const char *host)
{
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0)
		return true;
	/* 127.0.0.0/8 as four decimal parts */
	unsigned a, b, c, d;
	char tail;
	return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 && c < 256 && d < 256;
}

int fetch_url_allowed(const char *url, bool allow_http)
{
	_cleanup_(curlu_freep) CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int r = 0;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		r = -EBADMSG;
	else if (strcmp(scheme, "https") == 0)
		r = 0;
	else if (strcmp(scheme, "http") == 0)
		r = allow_http || host_is_loopback(host) ? 0 : -EPERM;
	else
		r = -EPERM;
	curl_free(scheme);
	curl_free(host);
	return r;
}
