/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registries mvmd may pull from, as the operator lists them, and the
 * references clients name (docs/blobs.md, "Sources"). Requests can only
 * pick among these: no request makes mvmd connect to an address the
 * operator did not list.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pull.h"
#include "util/macro.h"
#include "util/text.h"

#define AUTH_FILE_MAX ((size_t)1 << 20)

static _printf_(2, 3) int fail(char **ret_err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(ret_err, fmt, ap) < 0)
		*ret_err = NULL;
	va_end(ap);
	return -EINVAL;
}

static bool name_is_valid(const char *s, size_t len)
{
	if (len == 0 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || !strchr("._-", c)))
			return false;
	}
	return true;
}

/* The distribution spec's repository names, loosely: lowercase path
 * components of [a-z0-9._-], none empty, none "." or "..". */
static bool repository_is_valid(const char *s, size_t len)
{
	size_t comp = 0;

	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '/') {
			if (comp == 0 || (comp == 1 && s[i - 1] == '.') || (comp == 2 && s[i - 1] == '.' && s[i - 2] == '.'))
				return false;
			comp = 0;
			continue;
		}
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._-", c)))
			return false;
		comp++;
	}
	return true;
}

static bool host_is_valid(const char *h, size_t len)
{
	if (len == 0 || len > 253 + 6)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(".-:[]", c)))
			return false;
	}
	return true;
}

static bool host_is_loopback(const char *host)
{
	unsigned a, b, c, d;
	char tail;
	char h[300];
	size_t l = strcspn(host, host[0] == '[' ? "]" : ":");

	if (host[0] == '[')
		return strncmp(host, "[::1]", 5) == 0;
	snprintf(h, sizeof(h), "%.*s", (int)l, host);
	if (strcmp(h, "localhost") == 0)
		return true;
	return sscanf(h, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 && c < 256 && d < 256;
}

int pull_config_add_source(pull_config_t *c, const char *arg, char **ret_err)
{
	const char *eq = strchr(arg, '='), *url, *rest, *slash;
	pull_source_t s = { 0 };
	bool http;

	if (!eq || !name_is_valid(arg, (size_t)(eq - arg)))
		return fail(ret_err, "--blob-source %s: expected NAME=https://host[:port]/repository, NAME of [A-Za-z0-9._-]", arg);
	url = eq + 1;
	if (strncmp(url, "https://", 8) == 0)
		http = false, rest = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		http = true, rest = url + 7;
	else
		return fail(ret_err, "--blob-source %s: the URL must start with https:// (or http://)", arg);
	slash = strchr(rest, '/');
	if (!slash || !host_is_valid(rest, (size_t)(slash - rest)))
		return fail(ret_err, "--blob-source %s: expected a host[:port] and a /repository", arg);
	if (!repository_is_valid(slash + 1, strlen(slash + 1)))
		return fail(ret_err, "--blob-source %s: invalid repository \"%s\" (lowercase [a-z0-9._-] components separated by /)",
			    arg, slash + 1);
	for (size_t i = 0; i < c->n_sources; i++)
		if (strncmp(c->sources[i].name, arg, (size_t)(eq - arg)) == 0 && !c->sources[i].name[eq - arg])
			return fail(ret_err, "--blob-source %.*s: given twice", (int)(eq - arg), arg);

	s.name = strndup(arg, (size_t)(eq - arg));
	s.url = strndup(url, (size_t)(slash - url));
	s.host = strndup(rest, (size_t)(slash - rest));
	s.repository = strdup(slash + 1);
	s.allow_http = http; /* checked in pull_config_finish, once --blob-source-insecure is known */
	pull_source_t *v = realloc(c->sources, (c->n_sources + 1) * sizeof(*v));
	if (!s.name || !s.url || !s.host || !s.repository || !v) {
		free(s.name), free(s.url), free(s.host), free(s.repository);
		if (v)
			c->sources = v;
		return -ENOMEM;
	}
	c->sources = v;
	c->sources[c->n_sources++] = s;
	return 0;
}

static const char *auth_for(json_object *auths, const pull_source_t *s, char **ret_alloc)
{
	char key[512];
	const char *prefixes[] = { "", "https://", "http://" };
	json_object *e, *v, *u, *p;

	*ret_alloc = NULL;
	for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
		snprintf(key, sizeof(key), "%s%s", prefixes[i], s->host);
		if (!json_object_object_get_ex(auths, key, &e) || !json_object_is_type(e, json_type_object))
			continue;
		if (json_object_object_get_ex(e, "auth", &v) && json_object_is_type(v, json_type_string))
			return json_object_get_string(v);
		if (json_object_object_get_ex(e, "username", &u) && json_object_object_get_ex(e, "password", &p)) {
			_cleanup_free_ char *up = NULL;
			size_t len;
			if (asprintf(&up, "%s:%s", json_object_get_string(u), json_object_get_string(p)) < 0)
				return NULL;
			if (base64_encode(up, strlen(up), ret_alloc, &len) < 0)
				return NULL;
			return *ret_alloc;
		}
	}
	return NULL;
}

int pull_config_finish(pull_config_t *c, char **ret_err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	json_object *root, *auths;
	struct stat st;

	for (size_t i = 0; i < c->n_sources; i++) {
		pull_source_t *s = &c->sources[i];
		if (s->allow_http && !c->insecure && !host_is_loopback(s->host))
			return fail(ret_err, "--blob-source %s=%s/%s: plain http only to a loopback host, or with --blob-source-insecure",
				    s->name, s->url, s->repository);
		s->allow_http = s->allow_http && c->insecure;
	}
	if (!c->auth_file)
		return 0;
	/* Privilege decision: the file holds registry passwords; mvmd reads it
	 * only when no one but root can have written or read it. */
	fd = open(c->auth_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return fail(ret_err, "--blob-source-auth %s: %m", c->auth_file);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return fail(ret_err, "--blob-source-auth %s: not a regular file", c->auth_file);
	if (st.st_uid != 0 || (st.st_mode & 077)) {
		fail(ret_err, "--blob-source-auth %s: must be owned by root and not accessible to group or others (mode %03o)",
		     c->auth_file, st.st_mode & 0777);
		return -EPERM;
	}
	text = calloc(1, AUTH_FILE_MAX + 1);
	if (!text)
		return -ENOMEM;
	ssize_t n = read(fd, text, AUTH_FILE_MAX);
	if (n < 0)
		return fail(ret_err, "--blob-source-auth %s: %m", c->auth_file);
	root = json_tokener_parse(text);
	if (!root || !json_object_object_get_ex(root, "auths", &auths) || !json_object_is_type(auths, json_type_object)) {
		json_object_put(root);
		return fail(ret_err, "--blob-source-auth %s: not a Docker config.json with an \"auths\" object", c->auth_file);
	}
	for (size_t i = 0; i < c->n_sources; i++) {
		char *alloc;
		const char *a = auth_for(auths, &c->sources[i], &alloc);
		if (a) {
			c->sources[i].auth = alloc ? alloc : strdup(a);
			/* a header value: base64 only */
			for (const char *p = c->sources[i].auth; p && *p; p++)
				if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("+/=", *p))) {
					json_object_put(root);
					return fail(ret_err, "--blob-source-auth %s: the entry for %s is not base64", c->auth_file,
						    c->sources[i].host);
				}
		}
	}
	json_object_put(root);
	return 0;
}

void pull_config_done(pull_config_t *c)
{
	for (size_t i = 0; i < c->n_sources; i++) {
		pull_source_t *s = &c->sources[i];
		free(s->name), free(s->url), free(s->host), free(s->repository);
		if (s->auth)
			explicit_bzero(s->auth, strlen(s->auth));
		free(s->auth);
	}
	free(c->sources);
	free(c->ca_file);
	free(c->auth_file);
	free(c->fetch_path);
	*c = (pull_config_t){ 0 };
}

const pull_source_t *pull_config_find(const pull_config_t *c, const char *name, size_t *ret_index)
{
	for (size_t i = 0; i < c->n_sources; i++)
		if (strcmp(c->sources[i].name, name) == 0) {
			if (ret_index)
				*ret_index = i;
			return &c->sources[i];
		}
	return NULL;
}

static bool tag_is_valid(const char *t, size_t len)
{
	if (len == 0 || len > 128)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = t[i];
		bool w = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
		if (!w && (i == 0 || !strchr(".-", c)))
			return false;
	}
	return true;
}

int pull_reference_parse(const pull_config_t *c, const char *ref, pull_spec_t *ret, char **ret_err)
{
	size_t len = strlen(ref), name_len, repo_len;
	const char *at = strchr(ref, '@'), *end = at ? at : ref + len, *colon = NULL, *slash;
	char name[64];
	const pull_source_t *src;

	memset(ret, 0, sizeof(*ret));
	ret->by_reference = true;
	/* the tag's colon is the last one, after the last slash */
	for (const char *p = end; p > ref; p--)
		if (p[-1] == '/')
			break;
		else if (p[-1] == ':') {
			colon = p - 1;
			break;
		}
	if (!at && !colon)
		return fail(ret_err, "reference %s: expected SOURCE[/REPOSITORY]:TAG or SOURCE[/REPOSITORY]@sha256:<hex>", ref);
	const char *repo_end = colon ? colon : end;
	slash = memchr(ref, '/', (size_t)(repo_end - ref));
	name_len = (size_t)((slash ? slash : repo_end) - ref);
	if (!name_is_valid(ref, name_len) || name_len >= sizeof(name))
		return fail(ret_err, "reference %s: invalid source name", ref);
	memcpy(name, ref, name_len);
	name[name_len] = '\0';
	src = pull_config_find(c, name, &ret->source_index);
	if (!src)
		return fail(ret_err, "reference %s: no source named \"%s\" is configured", ref, name);
	if (slash) {
		repo_len = (size_t)(repo_end - slash - 1);
		if (!repository_is_valid(slash + 1, repo_len) || repo_len >= sizeof(ret->repository))
			return fail(ret_err, "reference %s: invalid repository", ref);
		memcpy(ret->repository, slash + 1, repo_len);
	} else
		snprintf(ret->repository, sizeof(ret->repository), "%s", src->repository);
	if (colon) {
		size_t tl = (size_t)(end - colon - 1);
		if (!tag_is_valid(colon + 1, tl))
			return fail(ret_err, "reference %s: invalid tag", ref);
		memcpy(ret->tag, colon + 1, tl);
	}
	if (at) {
		if (blob_ref_to_hex(at + 1, ret->hex) < 0)
			return fail(ret_err, "reference %s: the digest must be sha256:<64 lowercase hex>", ref);
		snprintf(ret->digest, sizeof(ret->digest), "%s", at + 1);
		ret->hex[0] = '\0'; /* the manifest's digest, not the blob's */
		ret->tag[0] = '\0'; /* a digest pins it: the tag is informative only */
	}
	return 0;
}
