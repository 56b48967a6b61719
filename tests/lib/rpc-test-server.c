/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON-RPC test server and its client (see rpc-test-server.h). */
#include "rpc-test-server.h"

#include "util/macro.h"

/* --- server side (runs in the child) --------------------------------------- */

static struct {
	sd_event *event;
	rpc_server_t *server;
	unsigned close_hooks;
	int flood_result;
	unsigned flood_sent;
} ts;

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", "..", and the dirfd itself */
}

static double num(json_object *p, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(p, k, &v) ? json_object_get_double(v) : 0;
}

static void m_subtract(rpc_call_t *call, json_object *p, void *u)
{
	double r = num(p, "minuend") - num(p, "subtrahend");
	rpc_call_reply(call, json_object_new_int64((int64_t)r));
}

static void m_sum(rpc_call_t *call, json_object *p, void *u)
{
	rpc_call_reply(call, json_object_new_int64((int64_t)(num(p, "a") + num(p, "b") + num(p, "c"))));
}

static void m_nothing(rpc_call_t *call, json_object *p, void *u)
{
	rpc_call_reply(call, NULL);
}

static void m_get_data(rpc_call_t *call, json_object *p, void *u)
{
	json_object *a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("hello"));
	json_object_array_add(a, json_object_new_int(5));
	rpc_call_reply(call, a);
}

static void m_echo(rpc_call_t *call, json_object *p, void *u)
{
	rpc_call_reply(call, json_object_get(p));
}

static void m_fail(rpc_call_t *call, json_object *p, void *u)
{
	json_object *v;
	json_object_object_get_ex(p, "errno", &v);
	rpc_call_errno(call, -json_object_get_int(v), "asked to fail");
}

static int slow_done(sd_event_source *s, uint64_t usec, void *userdata)
{
	rpc_call_t *call = userdata;
	json_object *r = json_object_new_object();
	json_object_object_add(r, "slept", json_object_new_boolean(true));
	rpc_call_reply(call, r);
	sd_event_source_disable_unref(s);
	return 0;
}

static void m_slow(rpc_call_t *call, json_object *p, void *u)
{
	uint64_t ms = (uint64_t)num(p, "ms");
	sd_event_source *src;
	/* slow_done owns the source and drops it. */
	int r = sd_event_add_time_relative(ts.event, &src, CLOCK_MONOTONIC, ms * 1000, 0, slow_done, call);
	if (r < 0)
		rpc_call_errno(call, r, "timer");
}

static void m_big(rpc_call_t *call, json_object *p, void *u)
{
	size_t n = (size_t)num(p, "n");
	char *s = malloc(n + 1);
	memset(s, 'x', n);
	s[n] = '\0';
	rpc_call_reply(call, json_object_new_string_len(s, (int)n));
	free(s);
}

/* "big", answered after ms milliseconds: output a client is owed
 * whether or not it reads. */
struct slow_big {
	rpc_call_t *call;
	size_t n;
};

static int slow_big_done(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct slow_big *b = userdata;
	char *p = malloc(b->n + 1);
	memset(p, 'x', b->n);
	p[b->n] = '\0';
	rpc_call_reply(b->call, json_object_new_string_len(p, (int)b->n));
	free(p);
	free(b);
	sd_event_source_disable_unref(s);
	return 0;
}

static void m_slow_big(rpc_call_t *call, json_object *p, void *u)
{
	struct slow_big *b = malloc(sizeof(*b));
	sd_event_source *src;
	*b = (struct slow_big){ .call = call, .n = (size_t)num(p, "n") };
	int r = sd_event_add_time_relative(ts.event, &src, CLOCK_MONOTONIC, (uint64_t)num(p, "ms") * 1000, 0,
					   slow_big_done, b);
	if (r < 0) {
		free(b);
		rpc_call_errno(call, r, "timer");
	}
}

static void m_stats(rpc_call_t *call, json_object *p, void *u)
{
	rpc_server_stats_t st;
	rpc_server_get_stats(ts.server, &st);
	json_object *r = json_object_new_object();
	json_object_object_add(r, "connections", json_object_new_int(st.n_connections));
	json_object_object_add(r, "rejected", json_object_new_int64((int64_t)st.n_rejected));
	json_object_object_add(r, "dropped", json_object_new_int64((int64_t)st.n_dropped));
	json_object_object_add(r, "output_held", json_object_new_int64((int64_t)st.output_held));
	json_object_object_add(r, "input_bytes", json_object_new_int64((int64_t)st.input_bytes));
	json_object_object_add(r, "output_bytes", json_object_new_int64((int64_t)st.output_bytes));
	json_object_object_add(r, "buffer_bytes", json_object_new_int64((int64_t)st.buffer_bytes));
	json_object_object_add(r, "pending", json_object_new_int(st.pending_calls));
	json_object_object_add(r, "fds", json_object_new_int(count_fds()));
	json_object_object_add(r, "close_hooks", json_object_new_int(ts.close_hooks));
	json_object_object_add(r, "flood_result", json_object_new_int(ts.flood_result));
	json_object_object_add(r, "flood_sent", json_object_new_int(ts.flood_sent));
	const struct ucred *cr = rpc_conn_peer(rpc_call_get_conn(call));
	json_object_object_add(r, "peer_pid", json_object_new_int(cr->pid));
	json_object_object_add(r, "peer_uid", json_object_new_int((int)cr->uid));
	rpc_call_reply(call, r);
}

static void on_close_hook(rpc_conn_t *c, void *userdata)
{
	ts.close_hooks++;
}

static void m_subscribe(rpc_call_t *call, json_object *p, void *u)
{
	rpc_conn_t *c = rpc_call_get_conn(call);
	int n = (int)num(p, "count");
	rpc_conn_add_close_hook(c, on_close_hook, NULL);
	/* A hook registered and removed again must not run. */
	rpc_conn_add_close_hook(c, on_close_hook, &ts);
	rpc_conn_remove_close_hook(c, on_close_hook, &ts);
	rpc_conn_ref(c);
	rpc_call_reply(call, json_object_new_boolean(true));
	for (int i = 0; i < n; i++) {
		json_object *np = json_object_new_object();
		json_object_object_add(np, "n", json_object_new_int(i));
		ck_assert_int_eq(rpc_conn_notify(c, "tick", np), 0);
	}
	rpc_conn_unref(c);
}

static int flood_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	rpc_conn_t *c = userdata;
	for (int i = 0; i < 16; i++) {
		int r = rpc_conn_notify(c, "flood", json_object_new_string(
			"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
		if (r < 0) {
			ts.flood_result = r;
			rpc_conn_unref(c);
			sd_event_source_disable_unref(s);
			return 0;
		}
		ts.flood_sent++;
	}
	sd_event_source_set_time_relative(s, 1000);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

static void m_flood(rpc_call_t *call, json_object *p, void *u)
{
	rpc_conn_t *c = rpc_conn_ref(rpc_call_get_conn(call));
	rpc_call_reply(call, json_object_new_boolean(true));
	sd_event_source *src;
	sd_event_add_time_relative(ts.event, &src, CLOCK_MONOTONIC, 1000, 0, flood_tick, c);
}

static const rpc_field_t subtract_params[] = {
	{ "minuend", true, { .type = RPC_TYPE_NUMBER } },
	{ "subtrahend", true, { .type = RPC_TYPE_NUMBER } },
	{ NULL },
};
static const rpc_field_t abc_params[] = {
	{ "a", false, { .type = RPC_TYPE_NUMBER } },
	{ "b", false, { .type = RPC_TYPE_NUMBER } },
	{ "c", false, { .type = RPC_TYPE_NUMBER } },
	{ "d", false, { .type = RPC_TYPE_NUMBER } },
	{ "e", false, { .type = RPC_TYPE_NUMBER } },
	{ NULL },
};
static const rpc_field_t slow_params[] = {
	{ "ms", true, { .type = RPC_TYPE_INTEGER, .has_min = true, .min = 0, .has_max = true, .max = 60000 } },
	{ NULL },
};
static const rpc_field_t count_params[] = {
	{ "count", false, { .type = RPC_TYPE_INTEGER, .has_min = true, .min = 0, .has_max = true, .max = 1000 } },
	{ NULL },
};
static const rpc_field_t big_params[] = {
	{ "n", true, { .type = RPC_TYPE_INTEGER, .has_min = true, .min = 0, .has_max = true, .max = 16 << 20 } },
	{ NULL },
};
static const rpc_field_t slow_big_params[] = {
	{ "ms", true, { .type = RPC_TYPE_INTEGER, .has_min = true, .min = 0, .has_max = true, .max = 60000 } },
	{ "n", true, { .type = RPC_TYPE_INTEGER, .has_min = true, .min = 0, .has_max = true, .max = 16 << 20 } },
	{ NULL },
};
static const rpc_field_t fail_params[] = {
	{ "errno", true, { .type = RPC_TYPE_INTEGER, .has_min = true, .min = 1, .has_max = true, .max = 200 } },
	{ NULL },
};
static const rpc_schema_t string_schema = { .type = RPC_TYPE_STRING };
static const rpc_schema_t env_key = { .type = RPC_TYPE_STRING, .pattern = "[A-Za-z_][A-Za-z0-9_]*" };
static const rpc_field_t workload_fields[] = {
	{ "hash", true, { .type = RPC_TYPE_STRING, .pattern = "sha256:[0-9a-f]{64}" } },
	{ "args", false, { .type = RPC_TYPE_ARRAY, .items = &string_schema, .has_max = true, .max = 16 } },
	{ "env", false, { .type = RPC_TYPE_OBJECT, .values = &string_schema, .keys = &env_key } },
	{ NULL },
};
static const char *const backends[] = { "kvm", "ch", NULL };
static const rpc_field_t echo_params[] = {
	{ "name", false, { .type = RPC_TYPE_STRING, .has_max = true, .max = 64 } },
	{ "backend", false, { .type = RPC_TYPE_STRING, .enum_values = backends } },
	{ "memory_mib", false, { .type = RPC_TYPE_INTEGER, .has_min = true, .min = 1, .has_max = true, .max = 65536 } },
	{ "workload", false, { .type = RPC_TYPE_OBJECT, .fields = workload_fields } },
	{ "blob", false, { .type = RPC_TYPE_ANY } },
	{ NULL },
};

static const rpc_method_t test_methods[] = {
	{ "subtract", "a - b", subtract_params, NULL, m_subtract, RPC_METHOD_POSITIONAL },
	{ "sum", "a + b + c", abc_params, NULL, m_sum, RPC_METHOD_POSITIONAL },
	{ "update", "nothing", abc_params, NULL, m_nothing, RPC_METHOD_POSITIONAL },
	{ "notify_sum", "nothing", abc_params, NULL, m_nothing, RPC_METHOD_POSITIONAL },
	{ "notify_hello", "nothing", abc_params, NULL, m_nothing, RPC_METHOD_POSITIONAL },
	{ "get_data", "[\"hello\", 5]", NULL, NULL, m_get_data, 0 },
	{ "echo", "returns its params", echo_params, NULL, m_echo, 0 },
	{ "fail", "answers with an errno", fail_params, NULL, m_fail, 0 },
	{ "slow", "answers after ms milliseconds", slow_params, NULL, m_slow, 0 },
	{ "stats", "server counters", NULL, NULL, m_stats, 0 },
	{ "subscribe", "count tick notifications", count_params, NULL, m_subscribe, 0 },
	{ "flood", "notifications until the queue overflows", NULL, NULL, m_flood, 0 },
	{ "big", "a string of n bytes", big_params, NULL, m_big, 0 },
	{ "slow_big", "a string of n bytes after ms milliseconds", slow_big_params, NULL, m_slow_big, 0 },
};

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	sd_event_exit(ts.event, 0);
	return 0;
}

const size_t rts_method_count = ELEMENTSOF(test_methods);

void rts_limits(rpc_limits_t *l)
{
	rpc_limits_default(l);
	l->max_request_bytes = 64 * 1024;
	l->max_clients = 16;
	l->max_output_bytes = 64 * 1024;
	l->max_answer_bytes = 128 * 1024;
	l->max_queue_bytes = 256 * 1024;
	l->max_total_output_bytes = 1024 * 1024;
}

void rts_start(rts_server_t *t, const rpc_limits_t *limits)
{
	int fd;
	strcpy(t->dir, "/tmp/mvm-rpc-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/sub/rpc.sock", t->dir);
	ck_assert_int_eq(rpc_listen_unix(t->path, 0600, (gid_t)-1, &fd), 0);

	t->pid = fork();
	ck_assert_int_ge(t->pid, 0);
	if (t->pid == 0) {
		sigset_t ss;
		sigemptyset(&ss);
		sigaddset(&ss, SIGTERM);
		sigprocmask(SIG_BLOCK, &ss, NULL);
		if (getenv("RPC_TEST_DEBUG"))
			log_set_max_level(LOG_DEBUG);
		ck_assert_int_eq(sd_event_new(&ts.event), 0);
		sd_event_add_signal(ts.event, NULL, SIGTERM, on_sigterm, NULL);
		ck_assert_int_eq(rpc_server_new(ts.event, test_methods, ELEMENTSOF(test_methods), limits, "rpc-test",
						"1.0", NULL, &ts.server), 0);
		ck_assert_int_eq(rpc_server_add_listener(ts.server, fd), 0);
		int r = sd_event_loop(ts.event);
		ts.server = rpc_server_free(ts.server);
		ts.event = sd_event_unref(ts.event);
		exit(r < 0 ? 1 : 0); /* exit, not _exit: LeakSanitizer runs at exit */
	}
	close(fd);
}

/* Stops the server and checks it shut down cleanly (under ASan this also
 * means no leaks in the child). */
void rts_stop(rts_server_t *t)
{
	int status;
	ck_assert_int_eq(kill(t->pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(t->pid, &status, 0), t->pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server exited with status 0x%x", status);
	unlink(t->path);
	char sub[160];
	snprintf(sub, sizeof(sub), "%s/sub", t->dir);
	rmdir(sub);
	rmdir(t->dir);
}

void rts_open(rts_client_t *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 20 };
	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void rts_close(rts_client_t *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->alloc = 0;
}

void rts_send(rts_client_t *c, const char *s)
{
	size_t n = strlen(s), off = 0;
	while (off < n) {
		ssize_t w = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
		ck_assert_msg(w > 0, "send: %m");
		off += (size_t)w;
	}
}

/* Next line without its '\n' (malloc'd), or NULL at EOF/error/timeout. */
char *rts_readline(rts_client_t *c)
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
		if (c->alloc - c->len < 65536) {
			c->alloc = c->alloc * 2 + 65536;
			c->buf = realloc(c->buf, c->alloc);
		}
		ssize_t r = recv(c->fd, c->buf + c->len, c->alloc - c->len, 0);
		if (r <= 0)
			return NULL;
		c->len += (size_t)r;
	}
}

json_object *rts_read_json(rts_client_t *c)
{
	char *line = rts_readline(c);
	ck_assert_msg(line != NULL, "no response line");
	struct json_tokener *tok = json_tokener_new_ex(1000);
	json_object *o = json_tokener_parse_ex(tok, line, (int)strlen(line) + 1);
	json_tokener_free(tok);
	ck_assert_msg(o != NULL, "response is not JSON: %s", line);
	free(line);
	return o;
}

json_object *rts_call(rts_client_t *c, const char *request)
{
	rts_send(c, request);
	return rts_read_json(c);
}

json_object *rts_get(json_object *o, const char *path)
{
	/* "a.b" lookup */
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(o, k, &o))
			return NULL;
	return o;
}

int64_t rts_int(json_object *o, const char *path)
{
	json_object *v = rts_get(o, path);
	ck_assert_msg(v != NULL, "no %s in %s", path, json_object_to_json_string(o));
	return json_object_get_int64(v);
}

const char *rts_str(json_object *o, const char *path)
{
	json_object *v = rts_get(o, path);
	ck_assert_msg(v != NULL, "no %s in %s", path, json_object_to_json_string(o));
	return json_object_get_string(v);
}

/* The "stats" method's result. */
json_object *rts_stats(rts_client_t *c)
{
	json_object *r = rts_call(c, "{\"jsonrpc\":\"2.0\",\"method\":\"stats\",\"id\":\"s\"}\n");
	json_object *res = json_object_get(rts_get(r, "result"));
	ck_assert_msg(res != NULL, "stats failed: %s", json_object_to_json_string(r));
	json_object_put(r);
	return res;
}

/* Polls stats until field == want (for things that happen after a close). */
json_object *rts_stats_wait(rts_client_t *c, const char *field, int64_t want)
{
	for (int i = 0; i < 6000; i++) { /* 60 s */
		json_object *s = rts_stats(c);
		if (rts_int(s, field) == want)
			return s;
		json_object_put(s);
		usleep(10 * 1000);
	}
	ck_abort_msg("stats.%s never became %lld", field, (long long)want);
	return NULL;
}
