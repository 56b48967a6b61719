/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The exec agent library, served on AF_UNIX by a forked process (a fresh
 * one per test), driven by the host-side client: real programs, real pipes.
 * The same cases run against mvm-init as PID 1 in
 * tests/integration/check_mvm_init_pidns.c.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec-cases.h"
#include "exec-agent.h"

static char dir[] = "/tmp/mvm-agent-XXXXXX";
static char path[128];
static pid_t agent_pid;
static int stop_pipe[2];
static unsigned request_timeout_ms; /* 0: the agent's default */
static bool with_wasm_double;

/*
 * A Wasm runtime double: stands in for the runtime that will implement
 * exec_agent_config_t.wasm_main. It echoes what the agent handed it
 * (hash, argv, env, stdin) and exits with argv[1], or sleeps on "sleep".
 */
static int wasm_runtime_double(const char *hash, int argc, char **argv, char **envp)
{
	char buf[256];
	ssize_t n;

	printf("wasm-double: hash=%s argc=%d", hash, argc);
	for (int i = 1; i < argc; i++)
		printf(" argv[%d]=%s", i, argv[i]);
	for (char **e = envp; *e; e++)
		printf(" env=%s", *e);
	printf("\n");
	fflush(stdout);
	if (argc > 1 && strcmp(argv[1], "sleep") == 0)
		pause();
	while ((n = read(0, buf, sizeof(buf))) > 0)
		if (write(2, buf, (size_t)n) != n)
			return 100;
	return argc > 1 ? atoi(argv[1]) : 0;
}

static void agent_setup(void)
{
	int ready[2];
	char c;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/agent.sock", dir);
	exec_cases_path = path;
	exec_cases_platform = "unit-test";
	ck_assert_int_eq(pipe(stop_pipe), 0);
	ck_assert_int_eq(pipe(ready), 0);
	agent_pid = fork();
	ck_assert_int_ge(agent_pid, 0);
	if (agent_pid == 0) {
		exec_agent_config_t cfg = { .transport = exec_transport_unix(path), .platform = "unit-test",
					    .max_connections = 4, .request_timeout_ms = request_timeout_ms,
					    .wasm_main = with_wasm_double ? wasm_runtime_double : NULL };
		exec_agent_t *a;
		signal(SIGPIPE, SIG_IGN); /* as the agent's contract asks */
		close(stop_pipe[1]);
		if (exec_agent_new(&cfg, &a) < 0)
			_exit(2);
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		int r = exec_agent_run(a, stop_pipe[0]);
		exec_agent_free(a);
		_exit(r < 0 ? 4 : 0);
	}
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	close(stop_pipe[0]);
}

static void agent_teardown(void)
{
	int st;

	close(stop_pipe[1]); /* asks the agent loop to return */
	ck_assert_int_eq(waitpid(agent_pid, &st, 0), agent_pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "agent status %d", st);
	unlink(path);
	rmdir(dir);
}

static void short_timeout_setup(void)
{
	request_timeout_ms = 300;
	agent_setup();
}

/* Idle peers are dropped, and the slots they held serve others again. */
START_TEST(test_idle_connections_dropped)
{
	int fds[4];
	uint8_t b[64];

	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(exec_client_connect_unix(path, &fds[i]), 0);
	/* All four slots are taken: a fifth request has to wait for them. */
	ck_assert_str_eq(exec_cases_sh("echo served"), "served\n");
	for (int i = 0; i < 4; i++) {
		uint32_t code;
		exec_str_t msg;
		exec_decoder_t d;
		exec_frame_t f;
		size_t used;
		static uint8_t dbuf[EXEC_MAX_PAYLOAD];
		ssize_t n = recv(fds[i], b, sizeof(b), 0);

		ck_assert_int_gt(n, 0);
		exec_decoder_init(&d, dbuf, sizeof(dbuf));
		ck_assert_int_eq(exec_decoder_feed(&d, b, (size_t)n, &used, &f), 1);
		ck_assert_int_eq(f.type, EXEC_FRAME_ERROR);
		ck_assert_int_eq(exec_parse_error(f.payload, f.len, &code, &msg), 0);
		ck_assert_uint_eq(code, EXEC_ERROR_PROTOCOL);
		ck_assert_int_eq(recv(fds[i], b, sizeof(b), 0), 0);
		close(fds[i]);
	}
}
END_TEST

static void wasm_setup(void)
{
	with_wasm_double = true;
	agent_setup();
}

#define HASH "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* With a runtime plugged in, sha256:<hex> runs like a program. */
START_TEST(test_wasm_hook)
{
	const char *run[] = { HASH, "5", "x y", NULL };
	const char *env[] = { "A=1", NULL };
	const char *sleepy[] = { HASH, "sleep", NULL };
	const char *upper[] = { "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", NULL };
	const char *shorthash[] = { "sha256:0123", NULL };
	exec_result_t res;

	ck_assert_int_eq(exec_cases_run(run, env, "to stdin", 0, &res), 0);
	ck_assert_msg(res.exited, "%u %s", res.error_code, res.error_message);
	ck_assert_uint_eq(res.value, 5);
	ck_assert_str_eq((char *)res.out, "wasm-double: hash=0123456789abcdef0123456789abcdef0123456789abcdef"
					  "0123456789abcdef argc=3 argv[1]=5 argv[2]=x y env=A=1\n");
	ck_assert_str_eq((char *)res.err, "to stdin");
	exec_result_clear(&res);
	/* The request's timeout applies as to any program. */
	ck_assert_int_eq(exec_cases_run(sleepy, NULL, NULL, 200, &res), 0);
	ck_assert(res.exited && res.timed_out && res.kind == EXEC_EXIT_SIGNAL && res.value == SIGKILL);
	exec_result_clear(&res);
	ck_assert_int_eq(exec_cases_run(upper, NULL, NULL, 0, &res), 0);
	ck_assert_uint_eq(res.error_code, EXEC_ERROR_NOT_FOUND);
	exec_result_clear(&res);
	ck_assert_int_eq(exec_cases_run(shorthash, NULL, NULL, 0, &res), 0);
	ck_assert_uint_eq(res.error_code, EXEC_ERROR_NOT_FOUND);
	exec_result_clear(&res);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "agent",
		.timeout = 30,
		.setup = agent_setup,
		.teardown = agent_teardown,
		.tests = exec_cases,
	},
	{
		.name = "limits",
		.timeout = 30,
		.setup = short_timeout_setup,
		.teardown = agent_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_idle_connections_dropped)),
	},
	{
		.name = "wasm-hook",
		.timeout = 30,
		.setup = wasm_setup,
		.teardown = agent_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_wasm_hook)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "exec_agent", .tcases = tcases)
