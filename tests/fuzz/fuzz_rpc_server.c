/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: raw bytes from a client through the whole server —
 * framing (line splitting, CRLF, over-long lines, EOF mid-line), parsing,
 * batches, validation, dispatch and answers — on a real socketpair and a
 * real sd-event loop. Every line the server writes must be JSON, and every
 * connection must end closed with nothing left pending or counted.
 *
 * The output limits are small and the socket's buffer too, so that answers
 * over the cap on one answer, queues that grow, shrink and fill past the
 * client's cap (the connection is then dropped: its last line may be cut
 * short, the one case where a partial line is allowed) are reached.
 */
/* fuzz-sources: rpc/conn.c rpc/server.c rpc/accept.c rpc/jsonrpc.c rpc/jsonscan.c rpc/json.c rpc/schema.c rpc/pattern.c rpc/errors.c rpc/openrpc.c lib/util/log.c */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "rpc-internal.h"
#include "util/log.h"

static void m_echo(rpc_call_t *call, json_object *params, void *userdata)
{
	rpc_call_reply(call, json_object_get(params));
}

static void m_fail(rpc_call_t *call, json_object *params, void *userdata)
{
	rpc_call_errno(call, -ENOENT, "no such thing");
}

static void m_notify(rpc_call_t *call, json_object *params, void *userdata)
{
	rpc_conn_t *c = rpc_call_get_conn(call);
	rpc_call_reply(call, json_object_new_boolean(true));
	if (c)
		rpc_conn_notify(c, "tick", json_object_new_int(1));
}

static const rpc_schema_t str = { .type = RPC_TYPE_STRING, .has_max = true, .max = 32 };
static const rpc_schema_t key = { .type = RPC_TYPE_STRING, .pattern = "[a-z][a-z0-9_]{0,15}" };
static const rpc_field_t echo_params[] = {
	{ "id", false, { .type = RPC_TYPE_STRING, .pattern = "[A-Za-z0-9][A-Za-z0-9._/-]{0,62}" } },
	{ "n", false, { .type = RPC_TYPE_INTEGER, .has_min = true, .min = 0, .has_max = true, .max = 100 } },
	{ "args", false, { .type = RPC_TYPE_ARRAY, .items = &str, .has_max = true, .max = 4 } },
	{ "env", false, { .type = RPC_TYPE_OBJECT, .values = &str, .keys = &key } },
	{ "any", false, { .type = RPC_TYPE_ANY } },
	{ NULL },
};
static const rpc_method_t methods[] = {
	{ "echo", NULL, echo_params, NULL, m_echo, 0 },
	{ "pos", NULL, echo_params, NULL, m_echo, RPC_METHOD_POSITIONAL },
	{ "fail", NULL, NULL, NULL, m_fail, 0 },
	{ "notify", NULL, NULL, NULL, m_notify, 0 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static sd_event *e;
	static rpc_server_t *s;
	int sv[2];

	if (!e) {
		rpc_limits_t l;
		rpc_limits_default(&l);
		l.max_request_bytes = 512; /* reach the over-long path */
		l.max_depth = 16;
		l.max_output_bytes = 2048;
		l.max_answer_bytes = 1024;
		l.max_queue_bytes = 4096;
		l.max_total_output_bytes = 8192;
		log_set_max_level(LOG_EMERG);
		if (sd_event_new(&e) < 0 || rpc_server_new(e, methods, ELEMENTSOF(methods), &l, "f", "1", NULL, &s) < 0)
			abort();
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	int sndbuf = 4096;
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	rpc_server_stats_t st0;
	rpc_server_get_stats(s, &st0);
	if (rpc_conn_new(s, sv[0], NULL) < 0)
		abort();

	size_t off = 0;
	rpc_buf_t out = { 0 };
	bool shut = false;
	for (int round = 0; round < 10000 && rpc_server_n_connections(s) > 0; round++) {
		if (off < size) {
			ssize_t w = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN)
				off = size; /* the server closed on us */
		}
		if (off == size && !shut) {
			shutdown(sv[1], SHUT_WR);
			shut = true;
		}
		sd_event_run(e, 0);
		char buf[65536];
		ssize_t r;
		while ((r = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			if (rpc_buf_add(&out, buf, (size_t)r) < 0)
				abort();
	}
	/* With the input all sent and EOF given, the server must have
	 * answered everything and closed. */
	if (rpc_server_n_connections(s) != 0)
		abort();
	rpc_server_stats_t st;
	rpc_server_get_stats(s, &st);
	if (st.pending_calls || st.input_bytes || st.output_bytes || st.output_held)
		abort();

	/* Every line written is one JSON value. */
	for (size_t i = 0; i < out.len;) {
		char *nl = memchr(out.p + i, '\n', out.len - i);
		if (!nl && st.n_dropped == st0.n_dropped)
			abort(); /* a partial line, not cut by a drop */
		if (!nl)
			break;
		size_t n = (size_t)(nl - (out.p + i));
		if (rpc_json_check(out.p + i, n, 100, NULL, NULL) < 0)
			abort();
		i += n + 1;
	}
	free(out.p);
	close(sv[1]);
	return 0;
}
