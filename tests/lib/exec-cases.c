/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec-cases.h"

const char *exec_cases_path;
const char *exec_cases_platform;
bool exec_cases_wasm;

static const char *const base_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fill_req(exec_request_t *req, const char *const *argv, const char *const *env)
{
	memset(req, 0, sizeof(*req));
	req->version = EXEC_PROTOCOL_VERSION;
	for (; argv[req->argc]; req->argc++)
		req->argv[req->argc] = (exec_str_t){ argv[req->argc], (uint32_t)strlen(argv[req->argc]) };
	for (; env && env[req->envc]; req->envc++)
		req->envp[req->envc] = (exec_str_t){ env[req->envc], (uint32_t)strlen(env[req->envc]) };
}

static int run_req(exec_request_t *req, const exec_client_opts_t *o, exec_result_t *ret)
{
	int fd, r;

	r = exec_client_connect_unix(exec_cases_path, &fd);
	ck_assert_msg(r == 0, "connect %s: %s", exec_cases_path, strerror(-r));
	r = exec_client_run(fd, req, o, ret);
	close(fd);
	return r;
}

int exec_cases_run(const char *const *argv, const char *const *env, const char *in,
		   unsigned timeout_ms, exec_result_t *ret)
{
	exec_request_t *req = malloc(sizeof(*req));
	exec_client_opts_t o = { .timeout_ms = 20000 };
	int r;

	fill_req(req, argv, env ? env : base_env);
	req->timeout_ms = timeout_ms;
	if (in) {
		req->stdin_mode = EXEC_STDIN_INLINE;
		req->stdin_data = (const uint8_t *)in;
		req->stdin_len = (uint32_t)strlen(in);
	}
	r = run_req(req, &o, ret);
	free(req);
	return r;
}

const char *exec_cases_sh(const char *script)
{
	static char out[4096];
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	exec_result_t res;

	ck_assert_int_eq(exec_cases_run(argv, NULL, NULL, 10000, &res), 0);
	ck_assert_msg(res.exited && res.kind == EXEC_EXIT_CODE && res.value == 0,
		      "'%s' failed: code %u err %u %s / %s", script, res.value, res.error_code,
		      res.error_message, res.err ? (char *)res.err : "");
	snprintf(out, sizeof(out), "%s", res.out ? (char *)res.out : "");
	exec_result_clear(&res);
	return out;
}

START_TEST(test_echo_builtin)
{
	const char *argv[] = { "mvm.echo", "hello", "guest", NULL };
	exec_result_t res;

	ck_assert_int_eq(exec_cases_run(argv, NULL, "and stdin", 0, &res), 0);
	ck_assert(res.exited);
	ck_assert_uint_eq(res.value, 0);
	ck_assert_str_eq((char *)res.out, "hello guest\nand stdin");
	ck_assert_uint_eq(res.err_len, 0);
	exec_result_clear(&res);
}
END_TEST

static uint8_t *pattern(size_t n)
{
	uint8_t *b = malloc(n);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 7 + i / 251);
	return b;
}

/* Stream 300 KiB through a program (or mvm.echo): more than pipe and
 * socket buffers hold, so back-pressure both ways is exercised. */
static void stream_through(const char *prog)
{
	const size_t n = 300 * 1024;
	exec_request_t *req = malloc(sizeof(*req));
	const char *argv[] = { prog, NULL };
	uint8_t *data = pattern(n);
	exec_client_opts_t o = { .timeout_ms = 20000, .stream_stdin = data, .stream_stdin_len = n };
	exec_result_t res;

	fill_req(req, argv, base_env);
	req->stdin_mode = EXEC_STDIN_STREAM;
	ck_assert_int_eq(run_req(req, &o, &res), 0);
	ck_assert_msg(res.exited, "error %u %s", res.error_code, res.error_message);
	ck_assert_uint_eq(res.value, 0);
	ck_assert_uint_eq(res.out_len, n);
	ck_assert(memcmp(res.out, data, n) == 0);
	exec_result_clear(&res);
	free(data);
	free(req);
}

START_TEST(test_echo_stream)
{
	stream_through("mvm.echo");
}
END_TEST

START_TEST(test_cat_stream)
{
	stream_through("cat");
}
END_TEST

START_TEST(test_info_builtin)
{
	const char *argv[] = { "mvm.info", NULL };
	char want[128];
	exec_result_t res;

	ck_assert_int_eq(exec_cases_run(argv, NULL, NULL, 0, &res), 0);
	ck_assert(res.exited);
	ck_assert_ptr_nonnull(strstr((char *)res.out, "protocol: 1\n"));
	snprintf(want, sizeof(want), "platform: %s\n", exec_cases_platform);
	ck_assert_msg(strstr((char *)res.out, want), "%s", res.out);
	ck_assert_ptr_nonnull(strstr((char *)res.out, exec_cases_wasm ? "wasm: sha256:<hex> modules fetched from the host\n"
								      : "wasm: not supported\n"));
	exec_result_clear(&res);
}
END_TEST

START_TEST(test_argv_env_exact)
{
	const char *argv[] = { "sh", "-c", "printf '%s|%s|%s|%s' \"$0\" \"$1\" \"$FOO\" \"${HOME-unset}\"",
			       "zero", "one two", NULL };
	const char *env[] = { "PATH=/bin:/usr/bin", "FOO=b a r", NULL };
	exec_result_t res;

	ck_assert_int_eq(exec_cases_run(argv, env, NULL, 0, &res), 0);
	ck_assert(res.exited);
	/* HOME is unset: the environment is exactly the request's. */
	ck_assert_str_eq((char *)res.out, "zero|one two|b a r|unset");
	exec_result_clear(&res);
}
END_TEST

START_TEST(test_stdin_inline_and_separation)
{
	const char *argv[] = { "/bin/sh", "-c", "read l; echo \"out:$l\"; echo \"err:$l\" >&2; exit 7", NULL };
	exec_result_t res;

	ck_assert_int_eq(exec_cases_run(argv, NULL, "line one\n", 0, &res), 0);
	ck_assert(res.exited);
	ck_assert_int_eq(res.kind, EXEC_EXIT_CODE);
	ck_assert_uint_eq(res.value, 7);
	ck_assert(!res.timed_out);
	ck_assert_str_eq((char *)res.out, "out:line one\n");
	ck_assert_str_eq((char *)res.err, "err:line one\n");
	exec_result_clear(&res);
}
END_TEST

START_TEST(test_stdin_none_is_devnull)
{
	const char *argv[] = { "/bin/sh", "-c", "cat; echo done", NULL };
	exec_result_t res;

	ck_assert_int_eq(exec_cases_run(argv, NULL, NULL, 5000, &res), 0);
	ck_assert_str_eq((char *)res.out, "done\n");
	exec_result_clear(&res);
}
END_TEST

START_TEST(test_signal_death)
{
	const char *argv[] = { "/bin/sh", "-c", "kill -USR1 $$", NULL };
	exec_result_t res;

	ck_assert_int_eq(exec_cases_run(argv, NULL, NULL, 0, &res), 0);
	ck_assert(res.exited);
	ck_assert_int_eq(res.kind, EXEC_EXIT_SIGNAL);
	ck_assert_uint_eq(res.value, SIGUSR1);
	ck_assert(!res.timed_out);
	exec_result_clear(&res);
}
END_TEST

/* A process is gone (or a zombie awaiting its reaper) in the agent's
 * PID namespace. */
static void assert_gone(const char *pid)
{
	char script[256];

	snprintf(script, sizeof(script),
		 "for i in $(seq 100); do if [ ! -e /proc/%s ] || grep -q '^[0-9]* ([^)]*) Z' /proc/%s/stat;"
		 " then echo gone; exit 0; fi; sleep 0.02; done; echo alive", pid, pid);
	ck_assert_str_eq(exec_cases_sh(script), "gone\n");
}

START_TEST(test_timeout_kills_group)
{
	/* The background sleep keeps stdout open: only a group kill ends it. */
	const char *argv[] = { "/bin/sh", "-c", "sleep 30 & echo $!; sleep 30", NULL };
	exec_result_t res;
	double t0 = now_s();
	char pid[32];

	ck_assert_int_eq(exec_cases_run(argv, NULL, NULL, 300, &res), 0);
	ck_assert_msg(now_s() - t0 < 10, "took %.1fs", now_s() - t0);
	ck_assert(res.exited);
	ck_assert(res.timed_out);
	ck_assert_int_eq(res.kind, EXEC_EXIT_SIGNAL);
	ck_assert_uint_eq(res.value, SIGKILL);
	ck_assert_uint_gt(res.out_len, 1);
	snprintf(pid, sizeof(pid), "%.*s", (int)res.out_len - 1, (char *)res.out);
	exec_result_clear(&res);
	assert_gone(pid);
}
END_TEST

START_TEST(test_not_found_and_wasm)
{
	const char *a1[] = { "/nonexistent/prog", NULL };
	const char *a2[] = { "no-such-program-mvm", NULL };
	const char *a3[] = { "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", NULL };
	const char *a4[] = { NULL, NULL };
	const char *a5[] = { "mvm.nope", NULL };
	exec_result_t res;

	ck_assert_int_eq(exec_cases_run(a1, NULL, NULL, 0, &res), 0);
	ck_assert(!res.exited);
	ck_assert_uint_eq(res.error_code, EXEC_ERROR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(res.error_message, "/nonexistent/prog"));
	exec_result_clear(&res);
	ck_assert_int_eq(exec_cases_run(a2, NULL, NULL, 0, &res), 0);
	ck_assert_uint_eq(res.error_code, EXEC_ERROR_NOT_FOUND);
	exec_result_clear(&res);
	ck_assert_int_eq(exec_cases_run(a3, NULL, NULL, 0, &res), 0);
	if (exec_cases_wasm) {
		/* No blob server answers here: a "cannot run" exit, said on stderr. */
		ck_assert_msg(res.exited && res.value == 126, "exited %d value %u", res.exited, res.value);
		ck_assert_ptr_nonnull(res.err);
		ck_assert_msg(strstr((char *)res.err, "cannot fetch from the host"), "%s", res.err);
	} else {
		ck_assert_uint_eq(res.error_code, EXEC_ERROR_NOT_SUPPORTED);
		ck_assert_ptr_nonnull(strstr(res.error_message, "not supported"));
	}
	exec_result_clear(&res);
	{
		/* Not executable: permission. Executable garbage: exec-failed. */
		char tmp[] = "/tmp/mvm-noexec-XXXXXX";
		int fd = mkstemp(tmp);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, "\x01\x02garbage", 9), 9);
		close(fd);
		a4[0] = tmp;
		ck_assert_int_eq(chmod(tmp, 0644), 0);
		ck_assert_int_eq(exec_cases_run(a4, NULL, NULL, 0, &res), 0);
		ck_assert_uint_eq(res.error_code, EXEC_ERROR_PERMISSION);
		exec_result_clear(&res);
		ck_assert_int_eq(chmod(tmp, 0755), 0);
		ck_assert_int_eq(exec_cases_run(a4, NULL, NULL, 0, &res), 0);
		ck_assert_uint_eq(res.error_code, EXEC_ERROR_EXEC_FAILED);
		ck_assert_ptr_nonnull(strstr(res.error_message, "format"));
		exec_result_clear(&res);
		unlink(tmp);
	}
	ck_assert_int_eq(exec_cases_run(a5, NULL, NULL, 0, &res), 0);
	ck_assert_uint_eq(res.error_code, EXEC_ERROR_NOT_FOUND);
	exec_result_clear(&res);
}
END_TEST

/* Send raw bytes, read until EOF; returns the first frame's type and
 * copies an error frame's code. */
static int raw_exchange(const void *bytes, size_t len, uint32_t *ret_code)
{
	static uint8_t dbuf[EXEC_MAX_PAYLOAD];
	uint8_t buf[4096];
	exec_decoder_t d;
	exec_frame_t f;
	int fd, first = -1, frames = 0;
	ssize_t n;

	ck_assert_int_eq(exec_client_connect_unix(exec_cases_path, &fd), 0);
	ck_assert_int_eq(send(fd, bytes, len, MSG_NOSIGNAL), (ssize_t)len);
	exec_decoder_init(&d, dbuf, sizeof(dbuf));
	/* The agent must answer and close by itself: read to EOF. */
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (size_t off = 0, used; off < (size_t)n; off += used) {
			int r = exec_decoder_feed(&d, buf + off, (size_t)n - off, &used, &f);
			ck_assert_int_ge(r, 0);
			if (r == 0)
				break;
			frames++;
			if (first < 0) {
				exec_str_t msg;
				first = f.type;
				if (f.type == EXEC_FRAME_ERROR)
					ck_assert_int_eq(exec_parse_error(f.payload, f.len, ret_code, &msg), 0);
			}
		}
	}
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(frames, 1);
	close(fd);
	return first;
}

START_TEST(test_malformed_frames)
{
	static const uint8_t garbage[] = "GET / HTTP/1.1\r\n\r\n";
	uint8_t b[256];
	exec_request_t *req = calloc(1, sizeof(*req));
	const char *argv[] = { "mvm.echo", NULL };
	uint32_t code = 0;
	int n;

	ck_assert_int_eq(raw_exchange(garbage, sizeof(garbage) - 1, &code), EXEC_FRAME_ERROR);
	ck_assert_uint_eq(code, EXEC_ERROR_PROTOCOL);
	/* A guest-bound stream must start with a request. */
	n = exec_encode_data(b, sizeof(b), EXEC_FRAME_STDIN_DATA, "x", 1);
	ck_assert_int_eq(raw_exchange(b, n, &code), EXEC_FRAME_ERROR);
	ck_assert_uint_eq(code, EXEC_ERROR_PROTOCOL);
	/* A frame type only the guest sends. */
	n = exec_encode_data(b, sizeof(b), EXEC_FRAME_STDOUT, "x", 1);
	ck_assert_int_eq(raw_exchange(b, n, &code), EXEC_FRAME_ERROR);
	ck_assert_uint_eq(code, EXEC_ERROR_PROTOCOL);
	/* Version 2 gets a version error. */
	fill_req(req, argv, NULL);
	n = exec_encode_request(b, sizeof(b), req);
	b[8] = 2;
	ck_assert_int_eq(raw_exchange(b, n, &code), EXEC_FRAME_ERROR);
	ck_assert_uint_eq(code, EXEC_ERROR_VERSION);
	/* stdin-data after an inline-stdin request. */
	req->stdin_mode = EXEC_STDIN_NONE;
	free(req);
	{
		const char *sl[] = { "/bin/sleep", "5", NULL };
		exec_request_t *r2 = calloc(1, sizeof(*r2));
		fill_req(r2, sl, NULL);
		n = exec_encode_request(b, sizeof(b), r2);
		n += exec_encode_data(b + n, sizeof(b) - n, EXEC_FRAME_STDIN_DATA, "x", 1);
		double t0 = now_s();
		ck_assert_int_eq(raw_exchange(b, n, &code), EXEC_FRAME_ERROR);
		ck_assert_uint_eq(code, EXEC_ERROR_PROTOCOL);
		ck_assert(now_s() - t0 < 4); /* the child was killed, not awaited */
		free(r2);
	}
	/* An oversized header is refused before any payload arrives. */
	exec_encode_header(b, sizeof(b), EXEC_FRAME_STDIN_DATA, 0);
	b[4] = b[5] = b[6] = 0xff;
	ck_assert_int_eq(raw_exchange(b, 8, &code), EXEC_FRAME_ERROR);
	ck_assert_uint_eq(code, EXEC_ERROR_PROTOCOL);
	/* The agent still serves after all that. */
	ck_assert_str_eq(exec_cases_sh("echo still-here"), "still-here\n");
}
END_TEST

START_TEST(test_several_connections)
{
	enum { N = 4 };
	pid_t pids[N];
	double t0 = now_s();

	/* Four 1 s commands at once finish well before 4 s. */
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			char arg[16], want[32];
			const char *argv[] = { "/bin/sh", "-c", "sleep 1; echo \"conn $0\"", arg, NULL };
			exec_result_t res;
			snprintf(arg, sizeof(arg), "%d", i);
			snprintf(want, sizeof(want), "conn %d\n", i);
			if (exec_cases_run(argv, NULL, NULL, 0, &res) < 0 || !res.exited || res.value ||
			    !res.out || strcmp((char *)res.out, want))
				_exit(1);
			_exit(0);
		}
	}
	for (int i = 0; i < N; i++) {
		int st;
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	ck_assert_msg(now_s() - t0 < 3.0, "connections were serialised: %.2fs", now_s() - t0);
}
END_TEST

START_TEST(test_disconnect_kills_child)
{
	exec_request_t *req = calloc(1, sizeof(*req));
	const char *argv[] = { "/bin/sh", "-c", "echo $$; exec sleep 30", NULL };
	static uint8_t dbuf[EXEC_MAX_PAYLOAD];
	uint8_t b[512];
	exec_decoder_t d;
	exec_frame_t f;
	char pid[32] = "";
	int fd, n;

	fill_req(req, argv, base_env);
	req->stdin_mode = EXEC_STDIN_STREAM; /* keep it waiting for more */
	n = exec_encode_request(b, sizeof(b), req);
	free(req);
	ck_assert_int_eq(exec_client_connect_unix(exec_cases_path, &fd), 0);
	ck_assert_int_eq(send(fd, b, n, MSG_NOSIGNAL), n);
	exec_decoder_init(&d, dbuf, sizeof(dbuf));
	while (!pid[0]) {
		ssize_t k = recv(fd, b, sizeof(b), 0);
		ck_assert_int_gt(k, 0);
		for (size_t off = 0, used; off < (size_t)k; off += used) {
			int r = exec_decoder_feed(&d, b + off, (size_t)k - off, &used, &f);
			ck_assert_int_ge(r, 0);
			if (r == 0)
				break;
			ck_assert_int_eq(f.type, EXEC_FRAME_STDOUT);
			snprintf(pid, sizeof(pid), "%.*s", (int)f.len - 1, (const char *)f.payload);
		}
	}
	close(fd);
	assert_gone(pid);
}
END_TEST

const mvmt_test_t exec_cases[] = {
	MVMT_TEST(test_echo_builtin),
	MVMT_TEST(test_echo_stream),
	MVMT_TEST(test_info_builtin),
	MVMT_TEST(test_argv_env_exact),
	MVMT_TEST(test_stdin_inline_and_separation),
	MVMT_TEST(test_stdin_none_is_devnull),
	MVMT_TEST(test_cat_stream),
	MVMT_TEST(test_signal_death),
	MVMT_TEST(test_timeout_kills_group),
	MVMT_TEST(test_not_found_and_wasm),
	MVMT_TEST(test_malformed_frames),
	MVMT_TEST(test_several_connections),
	MVMT_TEST(test_disconnect_kills_child),
	{ 0 }
};
