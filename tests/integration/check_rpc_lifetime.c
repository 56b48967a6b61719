/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Object lifetimes and flow control of the RPC server, in-process: the
 * test drives the real sd-event loop itself, so it can hold calls open,
 * free the server under them, and count what the server read.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "rpc.h"
#include "util/macro.h"
#include "mvmt-main.h"

#define HELD_MAX 64

static rpc_call_t *held[HELD_MAX];
static unsigned n_held, n_hooks;
static rpc_conn_t *conn_ref;

static void m_hold(rpc_call_t *call, json_object *params, void *userdata)
{
	ck_assert_uint_lt(n_held, HELD_MAX);
	held[n_held++] = call;
}

static void on_close(rpc_conn_t *c, void *userdata)
{
	n_hooks++;
	ck_assert(!rpc_conn_is_open(c));
}

static void m_subscribe(rpc_call_t *call, json_object *params, void *userdata)
{
	conn_ref = rpc_conn_ref(rpc_call_get_conn(call));
	ck_assert_int_eq(rpc_conn_add_close_hook(conn_ref, on_close, NULL), 0);
	held[n_held++] = call;
}

static void m_close(rpc_call_t *call, json_object *params, void *userdata)
{
	rpc_conn_close(rpc_call_get_conn(call));
	ck_assert_ptr_null(rpc_call_get_conn(call));
	rpc_call_reply(call, json_object_new_boolean(true));
}

static const rpc_method_t methods[] = {
	{ "hold", "never answers by itself", NULL, NULL, m_hold, 0 },
	{ "close", "closes its own connection", NULL, NULL, m_close, 0 },
	{ "subscribe", "holds the call and the connection", NULL, NULL, m_subscribe, 0 },
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

typedef struct env {
	char dir[64], path[128];
	sd_event *e;
	rpc_server_t *s;
	int client;
} env_t;

static void env_start_ex(env_t *t, unsigned max_pending, size_t max_notify)
{
	rpc_limits_t l;
	int fd;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	n_held = n_hooks = 0;
	conn_ref = NULL;
	strcpy(t->dir, "/tmp/mvm-rpc-life.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/rpc.sock", t->dir);
	ck_assert_int_eq(sd_event_new(&t->e), 0);
	rpc_limits_default(&l);
	l.max_pending = max_pending;
	if (max_notify) {
		l.max_queue_bytes = max_notify;
		l.max_answer_bytes = max_notify / 2;
	}
	ck_assert_int_eq(rpc_listen_unix(t->path, 0600, (gid_t)-1, &fd), 0);
	ck_assert_int_eq(rpc_server_new(t->e, methods, ELEMENTSOF(methods), &l, "t", "1", NULL, &t->s), 0);
	ck_assert_int_eq(rpc_server_add_listener(t->s, fd), 0);
	t->client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	memcpy(sa.sun_path, t->path, strlen(t->path) + 1);
	ck_assert_int_eq(connect(t->client, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void env_start(env_t *t, unsigned max_pending)
{
	env_start_ex(t, max_pending, 0);
}

static void env_stop(env_t *t)
{
	close(t->client);
	t->s = rpc_server_free(t->s);
	t->e = sd_event_unref(t->e);
	unlink(t->path);
	rmdir(t->dir);
}

static void spin(env_t *t, unsigned rounds)
{
	for (unsigned i = 0; i < rounds; i++)
		ck_assert_int_ge(sd_event_run(t->e, 10 * 1000), 0);
}

/* Everything the client has received so far. */
static size_t drain(env_t *t, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	while (len < size - 1 && (n = recv(t->client, buf + len, size - 1 - len, 0)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return len;
}

START_TEST(call_outlives_connection_and_server)
{
	env_t t;
	int fds0 = count_fds();
	env_start(&t, 128);
	const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"subscribe\",\"id\":1}\n"
			  "{\"jsonrpc\":\"2.0\",\"method\":\"hold\",\"id\":2}\n";
	ck_assert_int_eq(send(t.client, req, strlen(req), 0), (ssize_t)strlen(req));
	for (int i = 0; i < 100 && n_held < 2; i++)
		spin(&t, 1);
	ck_assert_uint_eq(n_held, 2);
	ck_assert_ptr_eq(rpc_call_get_conn(held[0]), conn_ref);
	ck_assert_str_eq(rpc_call_get_method(held[1]), "hold");
	ck_assert_uint_eq(rpc_server_n_connections(t.s), 1);
	ck_assert_int_eq(rpc_conn_peer(conn_ref)->pid, getpid());

	/* Answer one now: it arrives. */
	rpc_call_reply(held[1], json_object_new_int(2));
	spin(&t, 2);
	char buf[4096];
	drain(&t, buf, sizeof(buf));
	ck_assert_str_eq(buf, "{\"jsonrpc\":\"2.0\",\"result\":2,\"id\":2}\n");
	ck_assert_int_eq(rpc_conn_notify(conn_ref, "tick", NULL), 0);

	/* The server goes away with a call pending and a reference held. */
	t.s = rpc_server_free(t.s);
	ck_assert_uint_eq(n_hooks, 1);
	ck_assert(!rpc_conn_is_open(conn_ref));
	ck_assert_ptr_null(rpc_call_get_conn(held[0]));
	ck_assert_ptr_null(rpc_call_get_server(held[0]));
	ck_assert_int_eq(rpc_conn_notify(conn_ref, "tick", json_object_new_int(1)), -EPIPE);
	ck_assert_int_eq(rpc_conn_add_close_hook(conn_ref, on_close, NULL), -EPIPE);
	rpc_call_reply(held[0], json_object_new_string("into the void"));
	conn_ref = rpc_conn_unref(conn_ref);

	/* The client saw the notification, then EOF. */
	drain(&t, buf, sizeof(buf));
	ck_assert_str_eq(buf, "{\"jsonrpc\":\"2.0\",\"method\":\"tick\"}\n");
	ck_assert_int_eq(recv(t.client, buf, 1, 0), 0);
	env_stop(&t);
	ck_assert_int_eq(count_fds(), fds0);
}
END_TEST

START_TEST(pending_cap_stops_reading)
{
	env_t t;
	env_start(&t, 4);
	char req[4096] = "";
	for (int i = 0; i < 10; i++)
		snprintf(req + strlen(req), sizeof(req) - strlen(req), "{\"jsonrpc\":\"2.0\",\"method\":\"hold\",\"id\":%d}\n", i);
	ck_assert_int_eq(send(t.client, req, strlen(req), 0), (ssize_t)strlen(req));
	spin(&t, 20);
	/* Four calls pending: the rest stays unread (or buffered, unparsed). */
	ck_assert_uint_eq(n_held, 4);
	rpc_server_stats_t st;
	rpc_server_get_stats(t.s, &st);
	ck_assert_uint_eq(st.pending_calls, 4);

	/* Each answer lets one more line in, in order. */
	char buf[8192];
	size_t got = 0;
	for (unsigned answered = 0; answered < 10; answered++) {
		ck_assert_uint_gt(n_held, answered);
		rpc_call_reply(held[answered], json_object_new_int((int)answered));
		spin(&t, 5);
		ck_assert_uint_eq(n_held, MIN(answered + 5, 10u));
		got += drain(&t, buf + got, sizeof(buf) - got);
	}
	for (int i = 0; i < 10; i++) {
		char want[80];
		snprintf(want, sizeof(want), "{\"jsonrpc\":\"2.0\",\"result\":%d,\"id\":%d}\n", i, i);
		ck_assert_msg(strstr(buf, want), "missing %s in %s", want, buf);
	}
	env_stop(&t);
}
END_TEST

START_TEST(handler_closes_its_connection_mid_batch)
{
	env_t t;
	int fds0 = count_fds();
	env_start(&t, 128);
	const char *req = "[{\"jsonrpc\":\"2.0\",\"method\":\"close\",\"id\":\"a\"},"
			  "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":\"b\"},"
			  "{\"jsonrpc\":\"2.0\",\"method\":\"hold\",\"id\":\"c\"},{\"x\":1}]\n"
			  "{\"jsonrpc\":\"2.0\",\"method\":\"hold\",\"id\":\"d\"}\n";
	ck_assert_int_eq(send(t.client, req, strlen(req), 0), (ssize_t)strlen(req));
	spin(&t, 10);
	/* The batch went on after the close (answers dropped); the next line
	 * was never read. */
	ck_assert_uint_eq(n_held, 1);
	ck_assert_uint_eq(rpc_server_n_connections(t.s), 0);
	rpc_call_reply(held[0], NULL);
	char buf[64];
	ck_assert_int_eq(recv(t.client, buf, sizeof(buf), 0), 0);
	env_stop(&t);
	ck_assert_int_eq(count_fds(), fds0);
}
END_TEST

START_TEST(slow_follower_closed_from_the_loop)
{
	env_t t;
	env_start_ex(&t, 128, 64 * 1024);
	const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"subscribe\",\"id\":1}\n";
	ck_assert_int_eq(send(t.client, req, strlen(req), 0), (ssize_t)strlen(req));
	for (int i = 0; i < 100 && n_held < 1; i++)
		spin(&t, 1);
	ck_assert_uint_eq(n_held, 1);
	rpc_call_reply(held[0], NULL);

	/* The client never reads: notify until the hard cap trips. */
	char big[1024];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	int r = 0;
	for (int i = 0; i < 100000 && r == 0; i++)
		r = rpc_conn_notify(conn_ref, "flood", json_object_new_string(big));
	ck_assert_int_eq(r, -ENOBUFS);
	/* Not closed under our feet: hooks have not run yet ... */
	ck_assert_uint_eq(n_hooks, 0);
	ck_assert(!rpc_conn_is_open(conn_ref));
	ck_assert_int_eq(rpc_conn_notify(conn_ref, "flood", NULL), -EPIPE);
	/* ... they run from the loop. */
	spin(&t, 2);
	ck_assert_uint_eq(n_hooks, 1);
	ck_assert_uint_eq(rpc_server_n_connections(t.s), 0);
	conn_ref = rpc_conn_unref(conn_ref);
	env_stop(&t);
}
END_TEST

/* A call the handler answers later, on a client that shut its side:
 * half-closed (shutdown(SHUT_WR), as socat does) it still gets the
 * answer; closed, the connection's close hooks run at once, so what the
 * call was doing for it (an exec) stops instead of running to its end. */
START_TEST(hangup_while_a_call_waits)
{
	env_t t;
	char buf[4096];
	int fds0 = count_fds();
	env_start(&t, 128);
	const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"subscribe\",\"id\":1}\n";
	ck_assert_int_eq(send(t.client, req, strlen(req), 0), (ssize_t)strlen(req));
	for (int i = 0; i < 100 && n_held < 1; i++)
		spin(&t, 1);
	ck_assert_uint_eq(n_held, 1);
	ck_assert_int_eq(shutdown(t.client, SHUT_WR), 0);
	spin(&t, 5);
	rpc_call_reply(held[0], json_object_new_int(1));
	for (int i = 0; i < 100 && n_hooks < 1; i++)
		spin(&t, 1);
	/* Answered, then closed: the connection had nothing left to do. */
	int fl = fcntl(t.client, F_GETFL);
	fcntl(t.client, F_SETFL, fl & ~O_NONBLOCK);
	drain(&t, buf, sizeof(buf));
	ck_assert_str_eq(buf, "{\"jsonrpc\":\"2.0\",\"result\":1,\"id\":1}\n");
	conn_ref = rpc_conn_unref(conn_ref);
	close(t.client);

	/* Again, and the client closes its socket: the hook runs with the
	 * call still unanswered. */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, t.path, strlen(t.path) + 1);
	t.client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(t.client, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n_hooks = 0;
	ck_assert_int_eq(send(t.client, req, strlen(req), 0), (ssize_t)strlen(req));
	for (int i = 0; i < 100 && n_held < 2; i++)
		spin(&t, 1);
	ck_assert_uint_eq(n_held, 2);
	close(t.client);
	t.client = -1;
	for (int i = 0; i < 100 && n_hooks < 1; i++)
		spin(&t, 1);
	ck_assert_uint_eq(n_hooks, 1);
	ck_assert_uint_eq(rpc_server_n_connections(t.s), 0);
	ck_assert_ptr_null(rpc_call_get_conn(held[1]));
	rpc_call_reply(held[1], json_object_new_string("into the void"));
	conn_ref = rpc_conn_unref(conn_ref);
	env_stop(&t);
	ck_assert_int_eq(count_fds(), fds0);
}
END_TEST

static void bad_handler_result(rpc_call_t *call, json_object *params, void *userdata)
{
	/* A result with a cycle cannot be written: the call still gets an
	 * answer (an error) and the server survives. */
	json_object *a = json_object_new_array();
	json_object_array_add(a, json_object_get(a));
	rpc_call_reply(call, json_object_get(a));
	json_object_array_put_idx(a, 0, NULL);
	json_object_put(a);
}

START_TEST(unwritable_result)
{
	static const rpc_method_t m[] = { { "cycle", NULL, NULL, NULL, bad_handler_result, 0 } };
	sd_event *e;
	rpc_server_t *s;
	int fd, c;
	char dir[] = "/tmp/mvm-rpc-life.XXXXXX", path[64];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	ck_assert_int_eq(sd_event_new(&e), 0);
	ck_assert_int_eq(rpc_listen_unix(path, 0600, (gid_t)-1, &fd), 0);
	ck_assert_int_eq(rpc_server_new(e, m, 1, NULL, "t", "1", NULL, &s), 0);
	ck_assert_int_eq(rpc_server_add_listener(s, fd), 0);
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"cycle\",\"id\":1}\n";
	ck_assert_int_eq(send(c, req, strlen(req), 0), (ssize_t)strlen(req));
	for (int i = 0; i < 20; i++)
		sd_event_run(e, 10 * 1000);
	char buf[512];
	ssize_t n = recv(c, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(strstr(buf, "\"code\":-32603"), "%s", buf);
	close(c);
	rpc_server_free(s);
	sd_event_unref(e);
	unlink(path);
	rmdir(dir);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "lifetime",
		.timeout = 30,
		.tests = MVMT_TESTS(
			MVMT_TEST(call_outlives_connection_and_server),
			MVMT_TEST(pending_cap_stops_reading),
			MVMT_TEST(handler_closes_its_connection_mid_batch),
			MVMT_TEST(slow_follower_closed_from_the_loop),
			MVMT_TEST(hangup_while_a_call_waits),
			MVMT_TEST(unwritable_result)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "rpc_lifetime", .tcases = tcases)
