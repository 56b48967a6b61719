/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host-side exec client: the hybrid vsock handshake, and a whole exec
 * through a hybrid-vsock protocol double (a small UDS peer that speaks the
 * VMM's side: reads "CONNECT <port>\n", answers "OK <n>\n" and then relays
 * bytes to the real agent on AF_UNIX).
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec-agent.h"
#include "exec-client.h"
#include "mvmt-main.h"

START_TEST(test_handshake_reads_only_its_line)
{
	int sv[2];
	char buf[32];
	unsigned hp = 0;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* The answer and the first agent bytes arrive in one segment. */
	ck_assert_int_eq(write(sv[1], "OK 1073741824\nXYZ", 17), 17);
	ck_assert_int_eq(exec_hvsock_handshake(sv[0], 52, 1000, &hp), 0);
	ck_assert_uint_eq(hp, 1073741824u);
	ck_assert_int_eq(read(sv[1], buf, sizeof(buf)), 11);
	ck_assert(memcmp(buf, "CONNECT 52\n", 11) == 0);
	ck_assert_int_eq(read(sv[0], buf, sizeof(buf)), 3);
	ck_assert(memcmp(buf, "XYZ", 3) == 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

static int handshake_answer(const char *answer, int timeout_ms)
{
	int sv[2], r;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if (answer)
		ck_assert_int_eq(write(sv[1], answer, strlen(answer)), (ssize_t)strlen(answer));
	if (answer && !strchr(answer, '\n'))
		shutdown(sv[1], SHUT_WR);
	r = exec_hvsock_handshake(sv[0], 52, timeout_ms, NULL);
	close(sv[0]);
	close(sv[1]);
	return r;
}

START_TEST(test_handshake_refusals)
{
	ck_assert_int_eq(handshake_answer("ERR no listener\n", 1000), -ECONNREFUSED);
	ck_assert_int_eq(handshake_answer("OK\n", 1000), -ECONNREFUSED);
	ck_assert_int_eq(handshake_answer("OK x\n", 1000), -EBADMSG);
	ck_assert_int_eq(handshake_answer("OK 12", 1000), -ECONNRESET); /* closed mid-line */
	ck_assert_int_eq(handshake_answer("OK 1111111111111111111111111111111111111111111111111111111111111111\n", 1000),
			 -EBADMSG); /* over-long line */
	ck_assert_int_eq(handshake_answer(NULL, 100), -ETIMEDOUT);
}
END_TEST

START_TEST(test_parse_reply)
{
	unsigned hp = 1;

	ck_assert_int_eq(exec_hvsock_parse_reply("OK 0", &hp), 0);
	ck_assert_uint_eq(hp, 0);
	ck_assert_int_eq(exec_hvsock_parse_reply("OK 4294967295", &hp), 0);
	ck_assert_uint_eq(hp, 4294967295u);
	ck_assert_int_eq(exec_hvsock_parse_reply("OK 4294967296", &hp), -EBADMSG);
	ck_assert_int_eq(exec_hvsock_parse_reply("OK -1", &hp), -EBADMSG);
	ck_assert_int_eq(exec_hvsock_parse_reply("OK  1", &hp), -EBADMSG);
	ck_assert_int_eq(exec_hvsock_parse_reply("OK 1 ", &hp), -EBADMSG);
	ck_assert_int_eq(exec_hvsock_parse_reply("OK ", &hp), -EBADMSG);
	ck_assert_int_eq(exec_hvsock_parse_reply("ok 1", &hp), -ECONNREFUSED);
	ck_assert_int_eq(exec_hvsock_parse_reply("", &hp), -ECONNREFUSED);
	ck_assert_uint_eq(hp, 4294967295u); /* untouched on failure */
}
END_TEST

/* The protocol double: one connection, then exit. mode 0: relay to the
 * agent at target; mode 1: refuse (close without answering). */
static void hvsock_double(int lfd, const char *target, unsigned want_port, int mode)
{
	char line[64];
	size_t n = 0;
	int c = accept(lfd, NULL, NULL), a;

	if (c < 0)
		_exit(10);
	while (n < sizeof(line) - 1 && read(c, line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	char want[32];
	snprintf(want, sizeof(want), "CONNECT %u", want_port);
	if (mode == 1 || strcmp(line, want) != 0)
		_exit(mode == 1 ? 0 : 11);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", target);
	a = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(a, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(12);
	if (write(c, "OK 1073741824\n", 14) != 14)
		_exit(13);
	for (;;) {
		struct pollfd p[2] = { { .fd = c, .events = POLLIN }, { .fd = a, .events = POLLIN } };
		char buf[65536];
		if (poll(p, 2, 10000) <= 0)
			_exit(14);
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			ssize_t k = read(p[i].fd, buf, sizeof(buf));
			if (k <= 0)
				_exit(0);
			if (write(p[1 - i].fd, buf, (size_t)k) != k)
				_exit(15);
		}
	}
}

static pid_t spawn(void (*fn)(const char *, const char *), const char *a, const char *b)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fn(a, b);
		_exit(0);
	}
	return pid;
}

static void run_agent(const char *path, const char *unused)
{
	exec_agent_config_t cfg = { .transport = exec_transport_unix(path), .platform = "double" };
	exec_agent_t *a;

	signal(SIGPIPE, SIG_IGN);
	if (exec_agent_new(&cfg, &a) < 0)
		_exit(2);
	exec_agent_run(a, -1);
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

START_TEST(test_exec_through_hvsock_double)
{
	char dir[] = "/tmp/mvm-hvsock-XXXXXX", vsock[64], agent[64];
	exec_request_t *req = calloc(1, sizeof(*req));
	exec_result_t res;
	pid_t ap, dp;
	int lfd, fd, st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(vsock, sizeof(vsock), "%s/vsock.sock", dir);
	snprintf(agent, sizeof(agent), "%s/agent.sock", dir);
	ap = spawn(run_agent, agent, NULL);
	for (int i = 0; i < 200 && access(agent, F_OK) < 0; i++)
		usleep(10000);
	lfd = listen_unix(vsock);
	dp = fork();
	ck_assert_int_ge(dp, 0);
	if (dp == 0)
		hvsock_double(lfd, agent, EXEC_AGENT_PORT, 0);
	ck_assert_int_eq(exec_client_connect_hvsock(vsock, EXEC_AGENT_PORT, 5000, &fd), 0);
	req->version = EXEC_PROTOCOL_VERSION;
	req->argc = 3;
	req->argv[0] = (exec_str_t){ "/bin/sh", 7 };
	req->argv[1] = (exec_str_t){ "-c", 2 };
	req->argv[2] = (exec_str_t){ "echo via-vsock; echo e >&2; exit 3", 34 };
	ck_assert_int_eq(exec_client_run(fd, req, &(exec_client_opts_t){ .timeout_ms = 5000 }, &res), 0);
	ck_assert(res.exited);
	ck_assert_uint_eq(res.value, 3);
	ck_assert_str_eq((char *)res.out, "via-vsock\n");
	ck_assert_str_eq((char *)res.err, "e\n");
	exec_result_clear(&res);
	close(fd);
	ck_assert_int_eq(waitpid(dp, &st, 0), dp);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* A VMM that drops the connection instead of answering. */
	dp = fork();
	if (dp == 0)
		hvsock_double(lfd, agent, EXEC_AGENT_PORT, 1);
	ck_assert_int_eq(exec_client_connect_hvsock(vsock, EXEC_AGENT_PORT, 5000, &fd), -ECONNRESET);
	ck_assert_int_eq(waitpid(dp, &st, 0), dp);
	/* Output cap: truncated, exit still reported. */
	dp = fork();
	if (dp == 0)
		hvsock_double(lfd, agent, 1234, 0);
	ck_assert_int_eq(exec_client_connect_hvsock(vsock, 1234, 5000, &fd), 0);
	req->argv[2] = (exec_str_t){ "head -c 100000 /dev/zero", 24 };
	ck_assert_int_eq(exec_client_run(fd, req, &(exec_client_opts_t){ .output_cap = 1000 }, &res), 0);
	ck_assert(res.exited && res.value == 0 && res.truncated);
	ck_assert_uint_eq(res.out_len, 1000);
	exec_result_clear(&res);
	close(fd);
	ck_assert_int_eq(waitpid(dp, &st, 0), dp);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* A cap of nothing keeps nothing (0 would mean the default). */
	dp = fork();
	if (dp == 0)
		hvsock_double(lfd, agent, 1234, 0);
	ck_assert_int_eq(exec_client_connect_hvsock(vsock, 1234, 5000, &fd), 0);
	ck_assert_int_eq(exec_client_run(fd, req, &(exec_client_opts_t){ .output_cap = EXEC_OUTPUT_NONE }, &res), 0);
	ck_assert(res.exited && res.value == 0 && res.truncated);
	ck_assert_uint_eq(res.out_len, 0);
	exec_result_clear(&res);
	close(fd);
	ck_assert_int_eq(waitpid(dp, &st, 0), dp);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	kill(ap, SIGKILL); /* not TERM: Check's handler is inherited */
	waitpid(ap, &st, 0);
	close(lfd);
	unlink(vsock);
	unlink(agent);
	rmdir(dir);
	free(req);
}
END_TEST

START_TEST(test_client_timeout_and_bad_reply)
{
	int sv[2];
	exec_request_t *req = calloc(1, sizeof(*req));
	exec_result_t res;

	req->version = EXEC_PROTOCOL_VERSION;
	req->argc = 1;
	req->argv[0] = (exec_str_t){ "x", 1 };
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(exec_client_run(sv[0], req, &(exec_client_opts_t){ .timeout_ms = 100 }, &res),
			 -ETIMEDOUT);
	/* A guest that sends a host-bound frame type. */
	uint8_t b[64];
	int n = exec_encode_data(b, sizeof(b), EXEC_FRAME_STDIN_DATA, "x", 1);
	ck_assert_int_eq(write(sv[1], b, n), n);
	ck_assert_int_eq(exec_client_run(sv[0], req, &(exec_client_opts_t){ .timeout_ms = 1000 }, &res),
			 -EBADMSG);
	close(sv[1]);
	ck_assert_int_eq(exec_client_run(sv[0], req, &(exec_client_opts_t){ .timeout_ms = 1000 }, &res),
			 -ECONNRESET);
	close(sv[0]);
	/* The encoder refuses an invalid request before sending anything. */
	req->argc = 0;
	ck_assert_int_eq(exec_client_run(-1, req, NULL, &res), -E2BIG);
	free(req);
}
END_TEST

/* The sans-IO call: any split of the reply, partial sends, EOF, errors. */
START_TEST(test_call_sans_io)
{
	exec_request_t *req = calloc(1, sizeof(*req));
	static uint8_t reply[256];
	exec_exit_t ex = { EXEC_EXIT_CODE, 0, 42 };
	exec_result_t res;
	exec_call_t *call;
	const uint8_t *out;
	size_t out_len, n = 0;
	int want;

	req->version = EXEC_PROTOCOL_VERSION;
	req->argc = 1;
	req->argv[0] = (exec_str_t){ "prog", 4 };
	req->stdin_mode = EXEC_STDIN_STREAM;
	n += exec_encode_data(reply + n, sizeof(reply) - n, EXEC_FRAME_STDOUT, "hello ", 6);
	n += exec_encode_data(reply + n, sizeof(reply) - n, EXEC_FRAME_STDERR, "oops", 4);
	n += exec_encode_data(reply + n, sizeof(reply) - n, EXEC_FRAME_STDOUT, "world", 5);
	n += exec_encode_exit(reply + n, sizeof(reply) - n, &ex);
	for (size_t split = 1; split <= n; split++) {
		ck_assert_int_eq(exec_call_new(req, &(exec_client_opts_t){ .stream_stdin = "in", .stream_stdin_len = 2 },
					       &call), 0);
		/* request (8+16+4+4) + stdin-data (8+2) + stdin-eof (8) */
		exec_call_output(call, &out, &out_len);
		ck_assert_uint_eq(out_len, 32 + 10 + 8);
		ck_assert_int_eq(out[2], EXEC_FRAME_REQUEST);
		ck_assert_int_eq(out[32 + 2], EXEC_FRAME_STDIN_DATA);
		ck_assert_int_eq(out[42 + 2], EXEC_FRAME_STDIN_EOF);
		exec_call_output_done(call, 5);
		exec_call_output(call, &out, &out_len);
		ck_assert_uint_eq(out_len, 45);
		exec_call_output_done(call, 1000);
		exec_call_output(call, &out, &out_len);
		ck_assert_uint_eq(out_len, 0);
		ck_assert_int_eq(exec_call_take_result(call, &res), -EAGAIN);
		for (size_t off = 0; off < n; off += split) {
			size_t k = n - off < split ? n - off : split;
			want = off + k == n ? 1 : 0;
			ck_assert_int_eq(exec_call_feed(call, reply + off, k), want);
		}
		ck_assert_int_eq(exec_call_take_result(call, &res), 0);
		ck_assert(res.exited && res.kind == EXEC_EXIT_CODE && res.value == 42);
		ck_assert_str_eq((char *)res.out, "hello world");
		ck_assert_str_eq((char *)res.err, "oops");
		exec_result_clear(&res);
		exec_call_free(call);
	}
	/* EOF before the final frame; errors stick. */
	ck_assert_int_eq(exec_call_new(req, NULL, &call), 0);
	ck_assert_int_eq(exec_call_feed(call, reply, 10), 0);
	ck_assert_int_eq(exec_call_feed(call, NULL, 0), -ECONNRESET);
	ck_assert_int_eq(exec_call_feed(call, reply + 10, 4), -ECONNRESET);
	exec_call_free(call);
	/* A malformed reply. */
	ck_assert_int_eq(exec_call_new(req, NULL, &call), 0);
	ck_assert_int_eq(exec_call_feed(call, (const uint8_t *)"HTTP/1.1 200 OK\r\n", 17), -EBADMSG);
	exec_call_output(call, &out, &out_len);
	ck_assert_uint_eq(out_len, 0); /* nothing more to send after an error */
	exec_call_free(call);
	/* stream_stdin without stream mode is a caller bug. */
	req->stdin_mode = EXEC_STDIN_NONE;
	ck_assert_int_eq(exec_call_new(req, &(exec_client_opts_t){ .stream_stdin = "x", .stream_stdin_len = 1 }, &call),
			 -EINVAL);
	exec_call_free(NULL);
	free(req);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "client",
		.timeout = 30,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_handshake_reads_only_its_line),
			MVMT_TEST(test_handshake_refusals),
			MVMT_TEST(test_parse_reply),
			MVMT_TEST(test_exec_through_hvsock_double),
			MVMT_TEST(test_client_timeout_and_bad_reply),
			MVMT_TEST(test_call_sans_io)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "exec_client", .tcases = tcases, .init = mvmt_ignore_sigpipe)
