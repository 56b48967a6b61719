/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvm-init as the real PID 1 of a PID namespace (unshare --pid --fork
 * --mount-proc --uts), with its exec agent on AF_UNIX (--agent-unix) and
 * --no-mount (the namespace shares our filesystem). Covers the agent
 * against a real init, orphan reaping, mvm.run=/mvm.poweroff=, and the
 * signal-driven shutdown. Poweroff is observable: reboot(RB_POWER_OFF) in a
 * PID namespace kills its init with SIGINT, which unshare passes on.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blob-serve.h"
#include "exec-cases.h"

static char dir[64], sock[128], logpath[128], init_bin[512], blobsock[128];
static pid_t unshare_pid, init_pid;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *slurp(const char *path)
{
	static char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static bool log_has(const char *s)
{
	return strstr(slurp(logpath), s) != NULL;
}

static bool wait_log(const char *s, double secs)
{
	for (double end = now_s() + secs; now_s() < end; usleep(10000))
		if (log_has(s))
			return true;
	return false;
}

/* Percent-encode argv for mvm.run= (docs/linux-guests.md). */
static char *run_param(const char *const *argv)
{
	static char buf[4096];
	size_t n = 0;

	n += (size_t)snprintf(buf, sizeof(buf), "mvm.run=");
	for (int i = 0; argv[i]; i++) {
		if (i)
			buf[n++] = ',';
		for (const char *s = argv[i]; *s; s++) {
			if (isalnum((unsigned char)*s) || strchr("/-._", *s))
				buf[n++] = *s;
			else
				n += (size_t)sprintf(buf + n, "%%%02X", (unsigned char)*s);
		}
	}
	buf[n] = '\0';
	return buf;
}

/* The next start_init's --process-conf text (lib/util/guestconf.h), or NULL. */
static const char *process_conf;
/* Where start_init's mvm-init reports the process's end (--exit-unix). */
static int exit_listen_fd = -1;

/* Start mvm-init in new PID+mount+UTS namespaces (the suite skips where
 * unshare cannot make them, so a failure here is a failure). */
static void start_init(const char *cmdline)
{
	char children[64], *p, confpath[300];
	int st;

	snprintf(dir, sizeof(dir), "/tmp/mvm-pidns-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
	snprintf(logpath, sizeof(logpath), "%s/console.log", dir);
	/* Wasm modules come from here (the wasm tests serve it; elsewhere
	 * nothing listens and a sha256:<hex> exec cannot fetch: exit 126). */
	snprintf(blobsock, sizeof(blobsock), "%s/blob.sock", dir);
	snprintf(init_bin, sizeof(init_bin), "%s/bin/mvm-init",
		 getenv("MVM_BUILD_DIR") ? getenv("MVM_BUILD_DIR") : "build");
	snprintf(confpath, sizeof(confpath), "%s/process.conf", dir);
	char exitpath[320];
	snprintf(exitpath, sizeof(exitpath), "%s/exit.sock", dir);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		ck_assert_uint_lt(strlen(exitpath), sizeof(sa.sun_path));
		memcpy(sa.sun_path, exitpath, strlen(exitpath) + 1);
		if (exit_listen_fd >= 0)
			close(exit_listen_fd);
		exit_listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(exit_listen_fd, 0);
		ck_assert_int_eq(bind(exit_listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ck_assert_int_eq(listen(exit_listen_fd, 4), 0);
	}
	if (process_conf) {
		FILE *f = fopen(confpath, "w");
		ck_assert_ptr_nonnull(f);
		fputs(process_conf, f);
		fclose(f);
		process_conf = NULL;
	}
	exec_cases_path = sock;
	exec_cases_platform = "mvm-init";
	exec_cases_wasm = true;
	unshare_pid = fork();
	ck_assert_int_ge(unshare_pid, 0);
	if (unshare_pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("unshare", "unshare", "--pid", "--fork", "--mount-proc", "--uts", init_bin,
		       "--no-mount", "--agent-unix", sock, "--blob-unix", blobsock, "--cmdline", cmdline,
		       "--process-conf", confpath, "--exit-unix", exitpath, (char *)NULL);
		_exit(127);
	}
	for (double end = now_s() + 10; now_s() < end; usleep(10000)) {
		if (log_has("mvm-init: ready"))
			break;
		if (waitpid(unshare_pid, &st, WNOHANG) == unshare_pid) {
			unshare_pid = 0;
			ck_abort_msg("mvm-init ended before its ready banner: %s", slurp(logpath));
		}
	}
	ck_assert_msg(log_has("mvm-init: ready"), "no ready banner: %s", slurp(logpath));
	/* unshare's only child is the namespace's init. */
	snprintf(children, sizeof(children), "/proc/%d/task/%d/children", unshare_pid, unshare_pid);
	p = slurp(children);
	init_pid = atoi(p); /* 0 if it already powered off (mvm.poweroff=1) */
}

static void kill_init(int sig)
{
	ck_assert_int_gt(init_pid, 0);
	ck_assert_int_eq(kill(init_pid, sig), 0);
}

/* Wait for the namespace to end; returns unshare's wait status. */
static int wait_end(double secs)
{
	int st;

	for (double end = now_s() + secs; now_s() < end; usleep(10000))
		if (waitpid(unshare_pid, &st, WNOHANG) == unshare_pid) {
			unshare_pid = 0;
			return st;
		}
	kill(unshare_pid, SIGKILL);
	ck_abort_msg("mvm-init did not power off; console:\n%s", slurp(logpath));
	return -1;
}

static void assert_powered_off(int st)
{
	/* reboot(RB_POWER_OFF) in a PID namespace = its init killed by SIGINT. */
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT, "status %#x; console:\n%s", st,
		      slurp(logpath));
	ck_assert(log_has("mvm-init: powering off"));
}

static void cleanup_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static void agent_setup(void)
{
	start_init("quiet mvm.hostname=pidns-test");
}

static void agent_teardown(void)
{
	if (unshare_pid > 0) {
		kill_init(SIGTERM);
		assert_powered_off(wait_end(60));
	}
	cleanup_dir();
}

START_TEST(test_init_is_pid1)
{
	const char *out = exec_cases_sh("echo $PPID; tr '\\0' ' ' < /proc/1/cmdline");
	ck_assert_msg(strncmp(out, "1\n", 2) == 0 && strstr(out, "/bin/mvm-init --no-mount"), "%s", out);
}
END_TEST

START_TEST(test_hostname)
{
	ck_assert_str_eq(exec_cases_sh("cat /proc/sys/kernel/hostname"), "pidns-test\n");
	ck_assert(log_has("mvm-init: hostname pidns-test"));
}
END_TEST

START_TEST(test_orphans_reaped)
{
	char script[256], pid[32];
	const char *out;

	/* The inner sh outlives its parent: it is reparented to PID 1. */
	out = exec_cases_sh("sh -c 'sleep 0.4' >/dev/null 2>&1 & echo $!");
	snprintf(pid, sizeof(pid), "%.*s", (int)strcspn(out, "\n"), out);
	snprintf(script, sizeof(script), "grep PPid /proc/%s/status | tr -d '\\t'", pid);
	ck_assert_str_eq(exec_cases_sh(script), "PPid:1\n");
	/* Gone, not left a zombie: mvm-init reaped it (poll: CI may be slow). */
	snprintf(script, sizeof(script),
		 "for i in $(seq 250); do test -e /proc/%s || { echo gone; exit 0; }; sleep 0.02; done;"
		 " cat /proc/%s/stat", pid, pid);
	ck_assert_str_eq(exec_cases_sh(script), "gone\n");
	ck_assert_str_eq(exec_cases_sh("grep -l '^[0-9]* ([^)]*) Z' /proc/[0-9]*/stat 2>/dev/null | wc -l"),
			 "0\n");
}
END_TEST

START_TEST(test_many_orphans)
{
	/* 50 orphans exit at about the same time; none is left a zombie. */
	exec_cases_sh("for i in $(seq 50); do sh -c 'sleep 0.3' >/dev/null 2>&1 & done; exit 0");
	/* No sleep is left at all, zombie or not. */
	ck_assert_str_eq(exec_cases_sh("for i in $(seq 250); do n=$(cat /proc/[0-9]*/stat 2>/dev/null |"
				       " grep -c '(sleep)'); [ $n = 0 ] && break; sleep 0.02; done; echo $n"),
			 "0\n");
	ck_assert_str_eq(exec_cases_sh("grep -l '^[0-9]* ([^)]*) Z' /proc/[0-9]*/stat 2>/dev/null | wc -l"),
			 "0\n");
}
END_TEST

START_TEST(test_run_and_poweroff)
{
	const char *argv[] = { "/bin/sh", "-c", "echo run-out; echo run-err >&2; exit 5", NULL };
	char cmdline[4200];

	snprintf(cmdline, sizeof(cmdline), "console=ttyS0 %s mvm.poweroff=1", run_param(argv));
	start_init(cmdline);
	assert_powered_off(wait_end(60));
	ck_assert(log_has("run-out\n"));
	ck_assert(log_has("run-err\n"));
	ck_assert(log_has("mvm-init: run: exit code 5\n"));
	ck_assert(strstr(slurp(logpath), "mvm-init: ready") < strstr(slurp(logpath), "run-out"));
	cleanup_dir();
}
END_TEST

/* The image's process from its config file: argv, exactly its
 * environment, its directory, its exit code; then the poweroff. */
START_TEST(test_process_conf)
{
	process_conf = "arg=/bin/sh\narg=-c\narg=echo%20\"[$GREETING]%20$(pwd)%20$#\";%20exit%203\n"
		       "env=GREETING=hi%20there\nenv=PATH=/usr/bin:/bin\ncwd=/tmp\n";
	start_init("console=ttyS0");
	assert_powered_off(wait_end(10));
	ck_assert_msg(log_has("[hi there] /tmp 0\n"), "%s", slurp(logpath));
	ck_assert(log_has("mvm-init: process: /bin/sh (3 arguments, 2 environment variables, cwd /tmp, user 0:0)\n"));
	ck_assert(log_has("mvm-init: process: exit code 3\n"));
	ck_assert(log_has("mvm-init: shutting down (the process ended)"));
	/* The host heard it: "exit_code 3" (daemon/mvmd/ch/exit-report.h). */
	int c = accept(exit_listen_fd, NULL, NULL);
	ck_assert_int_ge(c, 0);
	char got[64] = "";
	ck_assert_int_gt(read(c, got, sizeof(got) - 1), 0);
	ck_assert_str_eq(got, "exit_code 3\n");
	close(c);
	cleanup_dir();
}
END_TEST

/* keep_running: the process ends, the VM stays until told to stop; a bad
 * config is exit code 126 and a poweroff. */
START_TEST(test_process_keep_running_and_bad_conf)
{
	process_conf = "arg=/bin/sh\narg=-c\narg=kill%20-9%20$$\nkeep_running=1\n";
	start_init("console=ttyS0");
	ck_assert(wait_log("mvm-init: process: killed by signal 9: exit code 137\n", 10));
	ck_assert(!log_has("shutting down"));
	kill_init(SIGTERM);
	assert_powered_off(wait_end(10));
	cleanup_dir();

	process_conf = "arg=/bin/true\nuser=nobody\n";
	start_init("console=ttyS0");
	assert_powered_off(wait_end(10));
	ck_assert(log_has("mvm-init: process: exit code 126 (its process config is invalid)\n"));
	cleanup_dir();
}
END_TEST

START_TEST(test_run_signal_and_bad_value)
{
	const char *argv[] = { "/bin/sh", "-c", "kill -9 $$", NULL };
	char cmdline[4200];

	snprintf(cmdline, sizeof(cmdline), "%s mvm.poweroff=yes", run_param(argv));
	start_init(cmdline);
	assert_powered_off(wait_end(60));
	ck_assert(log_has("mvm-init: run: killed by signal 9\n"));
	cleanup_dir();
	start_init("mvm.run=/bin/true,%zz mvm.poweroff=1");
	assert_powered_off(wait_end(60));
	ck_assert(log_has("mvm-init: run: bad mvm.run= value"));
	cleanup_dir();
	/* A program that does not exist: said, exit code 127, still powers off. */
	start_init("mvm.run=no-such-program-mvm,x mvm.poweroff=1");
	assert_powered_off(wait_end(60));
	ck_assert(log_has("mvm-init: run: cannot execute no-such-program-mvm: No such file or directory\n"));
	ck_assert(log_has("mvm-init: run: exit code 127\n"));
	cleanup_dir();
}
END_TEST

/* SIGTERM: TERM to everyone, wait mvm.stop_timeout_ms, KILL the rest. */
START_TEST(test_sigterm_shutdown_sequence)
{
	char script[512], cmdline[4200], marker[160];
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	int st;

	snprintf(dir, sizeof(dir), "/tmp/mvm-pidns-XXXXXX"); /* marker lives outside the run */
	char mdir[] = "/tmp/mvm-term-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(mdir));
	snprintf(marker, sizeof(marker), "%s/term", mdir);
	snprintf(script, sizeof(script),
		 "trap 'echo got-term > %s; exit 0' TERM; "
		 "(trap '' TERM; echo armed; exec sleep 100) & while :; do sleep 0.05; done", marker);
	/* "armed" comes from the child once it ignores TERM: announced by the
	 * parent right after the fork, a SIGTERM could beat the child's trap. */
	snprintf(cmdline, sizeof(cmdline), "mvm.stop_timeout_ms=500 %s", run_param(argv));
	start_init(cmdline);
	ck_assert_msg(wait_log("armed\n", 60), "%s", slurp(logpath));
	kill_init(SIGTERM);
	st = wait_end(60);
	assert_powered_off(st);
	/* The TERM-ignoring sleep forces the KILL step after 0.5 s (the log
	 * says so below; how long it took is no test's business). */
	ck_assert_str_eq(slurp(marker), "got-term\n");
	ck_assert(log_has("mvm-init: shutting down (SIGTERM): sending SIGTERM to all processes"));
	ck_assert(log_has("mvm-init: processes left after 500 ms: sending SIGKILL"));
	ck_assert(log_has("mvm-init: run: exit code 0"));
	unlink(marker);
	rmdir(mdir);
	cleanup_dir();
}
END_TEST

static void signal_poweroff(int sig, const char *name)
{
	char want[96];

	start_init("mvm.hostname=sig");
	kill_init(sig);
	/* Its end closes the log: what is not in it by now never happened. */
	assert_powered_off(wait_end(60));
	snprintf(want, sizeof(want), "mvm-init: shutting down (%s)", name);
	ck_assert(log_has(want));
	/* Nothing else runs: no wait for the stop timeout, no SIGKILL. */
	ck_assert(!log_has("processes left after"));
	ck_assert(!log_has("SIGKILL"));
	cleanup_dir();
}

START_TEST(test_sigpwr_sigint_poweroff)
{
	signal_poweroff(SIGPWR, "SIGPWR");
	signal_poweroff(SIGINT, "SIGINT");
}
END_TEST

START_TEST(test_not_pid1)
{
	char cmd[1024];
	const char *b = getenv("MVM_BUILD_DIR") ? getenv("MVM_BUILD_DIR") : "build";

	/* Outside a namespace it is a subreaper and exits instead of rebooting. */
	snprintf(cmd, sizeof(cmd),
		 "%s/bin/mvm-init --no-mount --agent-unix /tmp/mvm-notpid1-%d.sock "
		 "--cmdline 'mvm.run=/bin/sh,-c,echo%%20hi mvm.poweroff=1' > /tmp/mvm-notpid1-%d.log 2>&1",
		 b, (int)getpid(), (int)getpid());
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "grep -q 'run: exit code 0' /tmp/mvm-notpid1-%d.log", (int)getpid());
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -f /tmp/mvm-notpid1-%d.log /tmp/mvm-notpid1-%d.sock", (int)getpid(),
		 (int)getpid());
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- Wasm modules by hash: mvm-init fetches them from the real blob
 * server (daemon/mvmd/blob-serve.c, in a child process with its sd-event loop,
 * on the AF_UNIX socket mvm-init's --blob-unix names) and runs them. ---- */

static pid_t server_pid;
static char h_filter[65], h_exitcode[65], h_envclock[65], h_trap[65], h_tampered[65], h_secret[65];

/* _start: unreachable */
static const uint8_t trap_module[] = {
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02,
	0x01, 0x00, 0x07, 0x0a, 0x01, 0x06, '_',  's',  't',  'a',  'r',  't',  0x00, 0x00, 0x0a, 0x05,
	0x01, 0x03, 0x00, 0x00, 0x0b,
};

static const char *build_dir(void)
{
	return getenv("MVM_BUILD_DIR") ? getenv("MVM_BUILD_DIR") : "build";
}

static void put_file(blob_store_t *bs, const char *name, char hex[65])
{
	char path[600];
	blob_info_t info;
	bool created;

	snprintf(path, sizeof(path), "%s/wasm-programs/%s", build_dir(), name);
	ck_assert_msg(blob_put_path(bs, path, NULL, &info, &created) == 0, "put %s", path);
	memcpy(hex, info.hex, 65);
}

static void put_bytes(blob_store_t *bs, const void *p, size_t n, char hex[65])
{
	blob_info_t info;
	bool created;

	ck_assert_int_eq(blob_put_data(bs, p, n, NULL, &info, &created), 0);
	memcpy(hex, info.hex, 65);
}

/* The server process: what mvmd does for a VM, on blobsock. */
static void serve_blobs(const char *state, int ready_fd)
{
	const char *grants[] = { h_filter, h_exitcode, h_envclock, h_trap, h_tampered };
	blob_store_t *bs = NULL;
	blob_serve_t *srv = NULL;
	sd_event *e = NULL;
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	if (blob_store_open(state, &bs) < 0 || sd_event_new(&e) < 0 ||
	    sd_event_add_signal(e, NULL, SIGTERM, NULL, NULL) < 0 ||
	    blob_serve_start_at(e, bs, blobsock, NULL, &srv) < 0)
		_exit(1);
	for (size_t i = 0; i < sizeof(grants) / sizeof(grants[0]); i++)
		if (blob_serve_grant(srv, grants[i]) < 0)
			_exit(1);
	/* h_secret is in the store and deliberately not granted. */
	if (write(ready_fd, "r", 1) != 1)
		_exit(1);
	close(ready_fd);
	sd_event_loop(e);
	blob_serve_stop(srv);
	sd_event_unref(e);
	blob_store_free(bs);
	_exit(0);
}

static void wasm_setup(void)
{
	char state[128], path[300];
	blob_store_t *bs;
	int p[2], fd;
	char c;

	start_init("quiet mvm.hostname=wasm-test");
	snprintf(state, sizeof(state), "%s/state", dir);
	ck_assert_int_eq(blob_store_open(state, &bs), 0);
	put_file(bs, "filter.wasm", h_filter);
	put_file(bs, "exitcode.wasm", h_exitcode);
	put_file(bs, "envclock.wasm", h_envclock);
	put_bytes(bs, trap_module, sizeof(trap_module), h_trap);
	put_bytes(bs, "another tenant's module", 23, h_secret);
	/* A module whose stored bytes were altered after the put: the host
	 * serves them as they are, the guest must refuse them. */
	put_file(bs, "sort.wasm", h_tampered);
	snprintf(path, sizeof(path), "%s/%s", blob_store_dir(bs), h_tampered);
	ck_assert_int_eq(chmod(path, 0600), 0);
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "\x01", 1, 100), 1);
	close(fd);
	blob_store_free(bs);
	ck_assert_int_eq(pipe(p), 0);
	server_pid = fork();
	ck_assert_int_ge(server_pid, 0);
	if (server_pid == 0) {
		close(p[0]);
		serve_blobs(state, p[1]);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
}

static void wasm_teardown(void)
{
	int st;

	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		ck_assert_int_eq(waitpid(server_pid, &st, 0), server_pid);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "blob server status %#x", st);
		server_pid = 0;
	}
	agent_teardown();
}

static char *ref(const char *hex)
{
	static char buf[4][80];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "sha256:%s", hex);
	return buf[i];
}

START_TEST(test_wasm_filter_args_stdin)
{
	const char *in = "Hello, Wasm\nin a guest\n";
	const char *argv[] = { ref(h_filter), "upper", NULL };
	char cmd[700], want[4096];
	exec_result_t res;
	FILE *f;
	size_t n;

	/* The same program built natively is the reference output. */
	snprintf(cmd, sizeof(cmd), "printf 'Hello, Wasm\\nin a guest\\n' | %s/wasm-programs/filter.native upper",
		 build_dir());
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(want, 1, sizeof(want) - 1, f);
	want[n] = '\0';
	ck_assert_int_eq(pclose(f), 0);
	ck_assert_uint_gt(n, 20);
	ck_assert_int_eq(exec_cases_run(argv, NULL, in, 20000, &res), 0);
	ck_assert_msg(res.exited && res.kind == EXEC_EXIT_CODE && res.value == 0, "exit %u err %u %s / %s",
		      res.value, res.error_code, res.error_message, res.err ? (char *)res.err : "");
	ck_assert_str_eq((char *)res.out, want);
	exec_result_clear(&res);
}
END_TEST

START_TEST(test_wasm_exit_code_env_stderr)
{
	const char *argv[] = { ref(h_exitcode), "42", "exit", "stderr", NULL };
	const char *argv2[] = { ref(h_envclock), "a b", "c", NULL };
	const char *env[] = { "MVM_TEST=from the request", "OTHER=1", NULL };
	exec_result_t res;

	ck_assert_int_eq(exec_cases_run(argv, NULL, NULL, 20000, &res), 0);
	ck_assert(res.exited && res.kind == EXEC_EXIT_CODE);
	ck_assert_uint_eq(res.value, 42);
	ck_assert_ptr_nonnull(res.err);
	ck_assert_uint_gt(res.err_len, 0);
	exec_result_clear(&res);
	/* WASI's code is a u32, a process status 8 bits: 256 exits 255 (not
	 * 0, a success) and the whole code is on stderr */
	const char *argv3[] = { ref(h_exitcode), "256", NULL };
	ck_assert_int_eq(exec_cases_run(argv3, NULL, NULL, 20000, &res), 0);
	ck_assert(res.exited && res.kind == EXEC_EXIT_CODE);
	ck_assert_uint_eq(res.value, 255);
	ck_assert_msg(res.err && strstr((char *)res.err, "exit code 256 does not fit in an exit status: exiting 255"),
		      "%s", res.err ? (char *)res.err : "");
	exec_result_clear(&res);
	ck_assert_int_eq(exec_cases_run(argv2, env, NULL, 20000, &res), 0);
	ck_assert_msg(res.exited && res.value == 0, "exit %u: %s", res.value, res.err ? (char *)res.err : "");
	ck_assert_msg(strstr((char *)res.out, "argv[1]=a b\n") && strstr((char *)res.out, "argv[2]=c\n"), "%s",
		      res.out);
	ck_assert_msg(strstr((char *)res.out, "MVM_TEST=from the request"), "%s", res.out);
	ck_assert_msg(!strstr((char *)res.out, "PATH="), "env is the request's only: %s", res.out);
	exec_result_clear(&res);
}
END_TEST

START_TEST(test_wasm_hash_mismatch_refused)
{
	const char *argv[] = { ref(h_tampered), NULL };
	exec_result_t res;

	ck_assert_int_eq(exec_cases_run(argv, NULL, NULL, 20000, &res), 0);
	ck_assert(res.exited);
	ck_assert_uint_eq(res.value, 126);
	ck_assert_uint_eq(res.out_len, 0);
	ck_assert_msg(res.err && strstr((char *)res.err, "do not have this hash"), "%s",
		      res.err ? (char *)res.err : "");
	exec_result_clear(&res);
}
END_TEST

START_TEST(test_wasm_trap_134)
{
	const char *argv[] = { ref(h_trap), NULL };
	exec_result_t res;

	ck_assert_int_eq(exec_cases_run(argv, NULL, NULL, 20000, &res), 0);
	ck_assert(res.exited && res.kind == EXEC_EXIT_CODE);
	ck_assert_uint_eq(res.value, 134);
	ck_assert_msg(res.err && strstr((char *)res.err, "trap: unreachable"), "%s", res.err ? (char *)res.err : "");
	exec_result_clear(&res);
}
END_TEST

/* In the store but not granted to this VM: the same answer as absent. */
START_TEST(test_wasm_not_granted_127)
{
	const char *argv[] = { ref(h_secret), NULL };
	const char *argv2[] = { ref("5555555555555555555555555555555555555555555555555555555555555555"), NULL };
	exec_result_t res;

	ck_assert_int_eq(exec_cases_run(argv, NULL, NULL, 20000, &res), 0);
	ck_assert(res.exited);
	ck_assert_uint_eq(res.value, 127);
	ck_assert_msg(res.err && strstr((char *)res.err, "not available to this VM"), "%s",
		      res.err ? (char *)res.err : "");
	exec_result_clear(&res);
	ck_assert_int_eq(exec_cases_run(argv2, NULL, NULL, 20000, &res), 0);
	ck_assert(res.exited);
	ck_assert_uint_eq(res.value, 127);
	exec_result_clear(&res);
}
END_TEST

/* Where unshare cannot make the namespaces, no case can run. */
static const char *pidns_skip_reason(void)
{
	if (geteuid() != 0)
		return "PID namespaces and reboot() need root";
	if (system("unshare --pid --fork --mount-proc --uts true >/dev/null 2>&1") != 0)
		return "unshare cannot make PID, mount and UTS namespaces here";
	return NULL;
}

static const mvmt_tcase_t tcases[] = {
	{
		.name = "agent",
		.timeout = 30,
		.setup = agent_setup,
		.teardown = agent_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_init_is_pid1),
			MVMT_TEST(test_hostname),
			MVMT_TEST(test_orphans_reaped),
			MVMT_TEST(test_many_orphans)),
	},
	{
		.name = "agent-cases",
		.timeout = 30,
		.setup = agent_setup,
		.teardown = agent_teardown,
		.tests = exec_cases,
	},
	{
		.name = "wasm",
		.timeout = 60,
		.setup = wasm_setup,
		.teardown = wasm_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_wasm_filter_args_stdin),
			MVMT_TEST(test_wasm_exit_code_env_stderr),
			MVMT_TEST(test_wasm_hash_mismatch_refused),
			MVMT_TEST(test_wasm_trap_134),
			MVMT_TEST(test_wasm_not_granted_127)),
	},
	{
		.name = "lifecycle",
		.timeout = 30,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_process_conf),
			MVMT_TEST(test_process_keep_running_and_bad_conf),
			MVMT_TEST(test_run_and_poweroff),
			MVMT_TEST(test_run_signal_and_bad_value),
			MVMT_TEST(test_sigterm_shutdown_sequence),
			MVMT_TEST(test_sigpwr_sigint_poweroff),
			MVMT_TEST(test_not_pid1)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvm_init_pidns", .tcases = tcases, .skip = pidns_skip_reason)
