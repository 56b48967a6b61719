/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmctl's JSON-RPC connection: one request line out, lines in until the
 * answer with the same id. There is deliberately no timeout: mvmd answers
 * every call exactly once or closes the connection (docs/rpc.md), and a
 * start, stop or exec may take as long as the caller asked it to.
 */
#include "mvmctl.h"
#include "util/io.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int ctl_connect(ctl_t *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(c->socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "mvmctl: socket path too long: %s\n", c->socket);
		return CTL_ERR_CONNECT;
	}
	memcpy(sa.sun_path, c->socket, strlen(c->socket) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "mvmctl: cannot connect to mvmd at %s: %m (--socket or MVMD_SOCKET)\n", c->socket);
		return CTL_ERR_CONNECT;
	}
	return CTL_OK;
}

void ctl_close(ctl_t *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}

/* One line from mvmd without its '\n' (caller frees), NULL at EOF. */
static char *read_line(ctl_t *c)
{
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			char *line = strndup(c->buf, n);
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return line;
		}
		if (c->cap - c->len < 65536) {
			size_t cap = c->cap ? c->cap * 2 : 131072;
			char *b = realloc(c->buf, cap);
			if (!b)
				return NULL;
			c->buf = b;
			c->cap = cap;
		}
		ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		c->len += (size_t)n;
	}
}

json_object *ctl_read_message(ctl_t *c)
{
	for (;;) {
		char *line = read_line(c);
		if (!line)
			return NULL;
		json_object *o = json_tokener_parse(line);
		free(line);
		if (o && json_object_is_type(o, json_type_object))
			return o;
		json_object_put(o); /* a batch answer or garbage: not ours */
	}
}

/* "mvmctl: METHOD: message: reason (param: x, errno: ENOENT) [code]":
 * every member of the error's data, so nothing mvmd says is lost. */
static void ctl_print_error(const char *method, json_object *error)
{
	json_object *data = NULL;
	bool first = true;

	json_object_object_get_ex(error, "data", &data);
	fprintf(stderr, "mvmctl: %s: %s", method, ctl_str(error, "message"));
	if (data && json_object_is_type(data, json_type_object)) {
		if (*ctl_str(data, "reason"))
			fprintf(stderr, ": %s", ctl_str(data, "reason"));
		json_object_object_foreach(data, key, val) {
			if (strcmp(key, "reason") == 0)
				continue;
			fprintf(stderr, "%s%s: %s", first ? " (" : ", ", key,
				json_object_is_type(val, json_type_string) ? json_object_get_string(val)
					: json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
			first = false;
		}
		if (!first)
			fputc(')', stderr);
	}
	fprintf(stderr, " [%d]\n", (int)ctl_int(error, "code"));
}

int ctl_call(ctl_t *c, const char *method, json_object *params, json_object **ret_result, json_object **ret_error)
{
	json_object *req = json_object_new_object(), *resp = NULL, *v;
	unsigned id = ++c->next_id;
	int r;

	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "id", json_object_new_int64(id));
	json_object_object_add(req, "method", json_object_new_string(method));
	if (params)
		json_object_object_add(req, "params", params);
	const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(s);
	char *line = malloc(n + 1);
	if (!line) {
		json_object_put(req);
		return CTL_ERR_CONNECT;
	}
	memcpy(line, s, n);
	line[n] = '\n';
	json_object_put(req);
	r = write_all(c->fd, line, n + 1);
	free(line);
	if (r < 0) {
		fprintf(stderr, "mvmctl: %s: cannot send to mvmd: %s\n", method, strerror(-r));
		return CTL_ERR_CONNECT;
	}
	while ((resp = ctl_read_message(c))) {
		if (json_object_object_get_ex(resp, "id", &v) && json_object_is_type(v, json_type_int) &&
		    json_object_get_int64(v) == (int64_t)id)
			break;
		json_object_put(resp); /* a notification */
	}
	if (!resp) {
		fprintf(stderr, "mvmctl: %s: mvmd closed the connection before answering\n", method);
		return CTL_ERR_CONNECT;
	}
	if (json_object_object_get_ex(resp, "error", &v)) {
		if (ret_error)
			*ret_error = json_object_get(v);
		else
			ctl_print_error(method, v);
		json_object_put(resp);
		return CTL_ERR_RPC;
	}
	if (!json_object_object_get_ex(resp, "result", &v)) {
		fprintf(stderr, "mvmctl: %s: an answer without result or error\n", method);
		json_object_put(resp);
		return CTL_ERR_CONNECT;
	}
	*ret_result = json_object_get(v);
	json_object_put(resp);
	return CTL_OK;
}

void ctl_print_json(json_object *o, bool pretty)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE | (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN);
	printf("%s\n", json_object_to_json_string_ext(o, flags));
}

const char *ctl_str(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return "";
	return json_object_get_string(v);
}

int64_t ctl_int(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return 0;
	return json_object_get_int64(v);
}

bool ctl_has(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && v;
}

/* --- tables ------------------------------------------------------------------ */

struct ctl_table {
	size_t ncols, nrows;
	char **cells; /* nrows * ncols, row 0 the headers */
	size_t *width;
};

ctl_table_t *ctl_table_new(size_t ncols, const char *const *headers)
{
	ctl_table_t *t = calloc(1, sizeof(*t));

	if (!t || !(t->width = calloc(ncols, sizeof(size_t)))) {
		free(t);
		return NULL;
	}
	t->ncols = ncols;
	ctl_table_add(t, headers);
	return t;
}

void ctl_table_add(ctl_table_t *t, const char *const *cells)
{
	char **c;

	if (!t || !(c = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *))))
		return;
	t->cells = c;
	for (size_t i = 0; i < t->ncols; i++) {
		char *s = strdup(cells[i] ? cells[i] : "");
		c[t->nrows * t->ncols + i] = s;
		if (s && strlen(s) > t->width[i])
			t->width[i] = strlen(s);
	}
	t->nrows++;
}

void ctl_table_print(ctl_table_t *t)
{
	if (!t)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];
			if (i + 1 < t->ncols)
				printf("%-*s  ", (int)t->width[i], s ? s : "");
			else
				printf("%s\n", s ? s : "");
		}
}

void ctl_table_free(ctl_table_t *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	free(t);
}
