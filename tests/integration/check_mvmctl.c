/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmctl (daemon/mvmctl.c, docs/mvmctl.1) end to end: the real mvmctl
 * binary against the real mvmd on temp paths. Its tables and --json
 * results, exit codes (0, 1 with mvmd's message, 2 usage, 3 no daemon),
 * call, blob put/ls/rm, events, logs, start/stop/rm, and console through
 * a pty (raw mode, Enter translation, the log replayed once, Ctrl-]
 * detach, the terminal restored on every way out).
 *
 * VMs are ch VMs against the cloud-hypervisor TEST DOUBLE
 * (tests/doubles/fake-cloud-hypervisor.c), which runs on any host; mvmd
 * probes /dev/kvm before it calls ch usable, so the double gets a
 * stand-in file (--kvm-device), and no warm kvm pool. The double's vsock
 * socket leads to the project's exec agent running host programs, so
 * exec runs there too; tcase "kvm" repeats it with a micro-VM's built-ins
 * (skipped where KVM is not usable).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "mvmtest.h"

static mvmt_daemon_t d;
static int fd = -1;
static char fake_ch[PATH_MAX], fake_kvm[PATH_MAX], kernel[PATH_MAX], ctl[PATH_MAX];
static const char *kvm_skip;

static void touch(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* write() all of it (mvmt_write sends: sockets only). */
static void put(int to, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(to, buf, len);
		ck_assert_msg(n > 0, "write: %m");
		buf += n;
		len -= (size_t)n;
	}
}

static void setup_paths(void)
{
	const char *b = getenv("MVM_BUILD_DIR");
	char rel[200];

	snprintf(rel, sizeof(rel), "%s/tests/doubles/fake-cloud-hypervisor", b && *b ? b : "build");
	ck_assert_msg(realpath(rel, fake_ch), "%s is missing: run make", rel);
	ck_assert_msg(realpath(mvmt_bin("mvmctl"), ctl), "%s is missing: run make", mvmt_bin("mvmctl"));
	mvmt_daemon_init(&d);
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", d.dir);
	touch(kernel, "not a kernel: the double only checks it is readable\n");
	snprintf(fake_kvm, sizeof(fake_kvm), "%s/fake-kvm", d.dir);
	touch(fake_kvm, "");
}

static void setup(void)
{
	setup_paths();
	mvmt_daemon_start(&d, "--ch-binary", fake_ch, "--kvm-device", fake_kvm, "--kvm-pool", "0", NULL);
	fd = mvmt_connect(d.sock);
}

static void teardown(void)
{
	if (fd >= 0) {
		/* cloud-hypervisor outlives mvmd by design: end the doubles. */
		json_object *r = mvmt_result(fd, "compute.vm.list", NULL);
		json_object *vms = mvmt_get(r, "vms");
		for (size_t i = 0; i < json_object_array_length(vms); i++) {
			char p[128];
			snprintf(p, sizeof(p), "{\"id\":\"%s\",\"force\":true}", mvmt_str(json_object_array_get_idx(vms, i), "id"));
			json_object_put(mvmt_call(fd, "compute.vm.remove", p));
		}
		json_object_put(r);
		close(fd);
		mvmt_forget_fd(fd);
		fd = -1;
	}
	mvmt_daemon_cleanup(&d);
	unsetenv("MVM_FAKE_CH_DELAY_MS");
}

/* --- running mvmctl ---------------------------------------------------------- */

typedef struct run {
	int status; /* exit code, or 128+signal */
	char out[65536], err[16384];
} run_t;

static void append(int from, char *buf, size_t cap, size_t *len, bool *open)
{
	ssize_t n = read(from, buf + *len, cap - 1 - *len);
	if (n <= 0) {
		*open = false;
		return;
	}
	*len += (size_t)n;
	buf[*len] = '\0';
}

/*
 * Run mvmctl --socket SOCK ARGS... (NULL-terminated) with `in` on its
 * stdin; its stdout, stderr and exit status. socket NULL: no --socket.
 */
static void run_argv(run_t *r, const char *socket, const char *in, const char *const *args)
{
	const char *argv[64];
	int o[2], e[2], i[2], n = 0;
	size_t olen = 0, elen = 0;
	bool oo = true, eo = true;

	argv[n++] = ctl;
	if (socket) {
		argv[n++] = "--socket";
		argv[n++] = socket;
	}
	for (; *args && n < 63; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	ck_assert(pipe2(o, O_CLOEXEC) == 0 && pipe2(e, O_CLOEXEC) == 0 && pipe2(i, O_CLOEXEC) == 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(i[0], 0);
		dup2(o[1], 1);
		dup2(e[1], 2);
		execv(ctl, (char **)argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	close(i[0]);
	if (in)
		put(i[1], in, strlen(in));
	close(i[1]);
	memset(r, 0, sizeof(*r));
	while (oo || eo) {
		struct pollfd p[2] = { { .fd = oo ? o[0] : -1, .events = POLLIN }, { .fd = eo ? e[0] : -1, .events = POLLIN } };
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[0].revents)
			append(o[0], r->out, sizeof(r->out), &olen, &oo);
		if (p[1].revents)
			append(e[0], r->err, sizeof(r->err), &elen, &eo);
	}
	close(o[0]);
	close(e[0]);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define RUN(r, in, ...)                                                         \
	do {                                                                    \
		const char *const args_[] = { __VA_ARGS__, NULL };              \
		run_argv((r), d.sock, (in), args_);                             \
	} while (0)

static void expect_ok(const run_t *r)
{
	ck_assert_msg(r->status == 0, "mvmctl exited %d: stdout \"%s\" stderr \"%s\"", r->status, r->out, r->err);
}

static json_object *parse_out(const run_t *r)
{
	json_object *o = json_tokener_parse(r->out);
	ck_assert_msg(o != NULL, "not JSON: \"%s\"", r->out);
	return o;
}

/* Create a ch VM through mvmctl; returns its id (static buffer). */
static const char *create_ch(const char *name)
{
	static char id[64];
	run_t r;

	RUN(&r, NULL, "create", "--name", name, "--backend", "ch", "--memory", "64", "--vcpus", "2", "--kernel", kernel,
	    "--label", "tier=front");
	expect_ok(&r);
	ck_assert_int_eq(strlen(r.out), 37); /* a UUID and its newline */
	snprintf(id, sizeof(id), "%.36s", r.out);
	return id;
}

/* --- VM commands ----------------------------------------------------------- */

START_TEST(test_list_status_create_rm)
{
	run_t r;

	RUN(&r, NULL, "list");
	expect_ok(&r);
	ck_assert_msg(strncmp(r.out, "ID", 2) == 0 && strchr(r.out, '\n') == r.out + strlen(r.out) - 1,
		      "an empty list is its header: \"%s\"", r.out);

	const char *id = create_ch("web");
	char idbuf[64];
	snprintf(idbuf, sizeof(idbuf), "%s", id);

	RUN(&r, NULL, "list");
	expect_ok(&r);
	ck_assert_ptr_nonnull(strstr(r.out, "NAME"));
	ck_assert_ptr_nonnull(strstr(r.out, idbuf));
	ck_assert_ptr_nonnull(strstr(r.out, "web"));
	ck_assert_ptr_nonnull(strstr(r.out, "Configured"));
	ck_assert_ptr_nonnull(strstr(r.out, "64 MiB"));

	RUN(&r, NULL, "--json", "list", "--label", "tier=front");
	expect_ok(&r);
	json_object *o = parse_out(&r);
	ck_assert_int_eq(json_object_array_length(mvmt_get(o, "vms")), 1);
	ck_assert_str_eq(mvmt_str(json_object_array_get_idx(mvmt_get(o, "vms"), 0), "name"), "web");
	json_object_put(o);
	RUN(&r, NULL, "--json", "list", "--state", "Running");
	expect_ok(&r);
	o = parse_out(&r);
	ck_assert_int_eq(json_object_array_length(mvmt_get(o, "vms")), 0);
	json_object_put(o);

	RUN(&r, NULL, "status", "web");
	expect_ok(&r);
	ck_assert_ptr_nonnull(strstr(r.out, idbuf));
	ck_assert_ptr_nonnull(strstr(r.out, "state:"));
	ck_assert_ptr_nonnull(strstr(r.out, "Configured"));
	ck_assert_ptr_nonnull(strstr(r.out, "tier=front"));
	ck_assert_ptr_nonnull(strstr(r.out, "SEQ")); /* the transitions table */
	ck_assert_ptr_nonnull(strstr(r.out, "Provisioning"));

	RUN(&r, NULL, "--json", "status", idbuf);
	expect_ok(&r);
	o = parse_out(&r);
	ck_assert_str_eq(mvmt_str(o, "name"), "web");
	ck_assert_str_eq(mvmt_str(o, "state"), "Configured");
	ck_assert_int_eq(mvmt_int(o, "memory_mib"), 64);
	json_object_put(o);

	/* A taken name: mvmd's error, exit 1, nothing on stdout. */
	RUN(&r, NULL, "create", "--name", "web", "--backend", "ch", "--memory", "64", "--kernel", kernel);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "Already exists") && strstr(r.err, "-32003"), "stderr: %s", r.err);

	RUN(&r, NULL, "rm", "web");
	expect_ok(&r);
	ck_assert_ptr_nonnull(strstr(r.out, "removed"));
	ck_assert_ptr_nonnull(strstr(r.out, idbuf));
	RUN(&r, NULL, "--json", "list");
	expect_ok(&r);
	o = parse_out(&r);
	ck_assert_int_eq(json_object_array_length(mvmt_get(o, "vms")), 0);
	json_object_put(o);
}
END_TEST

START_TEST(test_exit_codes)
{
	run_t r;

	/* An unknown VM: 1, and mvmd's message on stderr. */
	const char *const cmds[][3] = { { "status", "nosuch", NULL }, { "start", "nosuch", NULL }, { "stop", "nosuch", NULL },
					{ "rm", "nosuch", NULL }, { "logs", "nosuch", NULL }, { "console", "nosuch", NULL } };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		run_argv(&r, d.sock, NULL, cmds[i]);
		ck_assert_msg(r.status == 1, "%s: exit %d", cmds[i][0], r.status);
		ck_assert_msg(strstr(r.err, "not found") && strstr(r.err, "-32001"), "%s: stderr \"%s\"", cmds[i][0], r.err);
		ck_assert_str_eq(r.out, "");
	}
	/* mvmd refuses a param: 1, with the param named. */
	RUN(&r, NULL, "create", "--memory", "64", "--name", "bad name");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "Invalid params") && strstr(r.err, "name"), "stderr \"%s\"", r.err);

	/* Usage errors: 2, before anything is sent. */
	const char *const usage[][3] = { { "frobnicate", NULL, NULL }, { "create", "--name", "x" },
					 { "status", NULL, NULL }, { "create", "--memory", "lots" },
					 { "call", "rpc.discover", "{not json" }, { "blob", "chew", NULL } };
	for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++) {
		run_argv(&r, d.sock, NULL, usage[i]);
		ck_assert_msg(r.status == 2, "%s %s: exit %d", usage[i][0], usage[i][1] ? usage[i][1] : "", r.status);
		ck_assert_msg(strstr(r.err, "mvmctl: "), "no message: \"%s\"", r.err);
	}
	/* No daemon there: 3, naming the socket. */
	char gone[300];
	snprintf(gone, sizeof(gone), "%s/nothing.sock", d.dir);
	RUN(&r, NULL, "--socket", gone, "list");
	ck_assert_int_eq(r.status, 3);
	ck_assert_ptr_nonnull(strstr(r.err, gone));

	/* MVMD_SOCKET stands in for --socket; --socket wins over it. */
	const char *const list[] = { "list", NULL };
	setenv("MVMD_SOCKET", d.sock, 1);
	run_argv(&r, NULL, NULL, list);
	expect_ok(&r);
	setenv("MVMD_SOCKET", gone, 1);
	run_argv(&r, NULL, NULL, list);
	ck_assert_int_eq(r.status, 3);
	RUN(&r, NULL, "list");
	expect_ok(&r);
	unsetenv("MVMD_SOCKET");

	RUN(&r, NULL, "--help");
	expect_ok(&r);
	ck_assert_ptr_nonnull(strstr(r.out, "console ID"));
	RUN(&r, NULL, "--version");
	expect_ok(&r);
	ck_assert_ptr_nonnull(strstr(r.out, "mvmctl "));
}
END_TEST

START_TEST(test_call)
{
	run_t r;

	RUN(&r, NULL, "call", "compute.node.info");
	expect_ok(&r);
	json_object *o = parse_out(&r);
	ck_assert(json_object_get_boolean(mvmt_get(o, "backends.ch.usable")));
	json_object_put(o);

	RUN(&r, NULL, "--json", "call", "rpc.discover", "{}");
	expect_ok(&r);
	ck_assert_msg(strchr(r.out, '\n') == r.out + strlen(r.out) - 1, "--json is one line");
	o = parse_out(&r);
	ck_assert_str_eq(mvmt_str(o, "openrpc"), "1.2.6");
	json_object_put(o);

	/* Params from stdin. */
	char p[PATH_MAX + 128];
	snprintf(p, sizeof(p), "{\"name\":\"c1\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\"}", kernel);
	RUN(&r, p, "call", "compute.vm.create", "-");
	expect_ok(&r);
	o = parse_out(&r);
	ck_assert_str_eq(mvmt_str(o, "state"), "Configured");
	json_object_put(o);

	RUN(&r, NULL, "call", "compute.vm.nothing");
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "Method not found"));
	RUN(&r, NULL, "call", "compute.vm.status", "{\"id\":\"c1\",\"extra\":1}");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "Invalid params") && strstr(r.err, "extra"), "stderr \"%s\"", r.err);
}
END_TEST

START_TEST(test_blob)
{
	char small[300], big[300], hash[100];
	run_t r;

	snprintf(small, sizeof(small), "%s/small.bin", d.dir);
	touch(small, "hello, blob store\n");
	RUN(&r, NULL, "blob", "put", small);
	expect_ok(&r);
	ck_assert_msg(strncmp(r.out, "sha256:", 7) == 0 && strlen(r.out) == 7 + 64 + 1, "put printed \"%s\"", r.out);
	snprintf(hash, sizeof(hash), "%.71s", r.out);

	/* The same content by path (mvmd reads the file): the same hash. */
	RUN(&r, NULL, "--json", "blob", "put", "--path", small);
	expect_ok(&r);
	json_object *o = parse_out(&r);
	ck_assert_str_eq(mvmt_str(o, "hash"), hash);
	ck_assert(!json_object_get_boolean(mvmt_get(o, "created")));
	json_object_put(o);

	/* A file over the inline limit goes by path on its own. */
	snprintf(big, sizeof(big), "%s/big.bin", d.dir);
	FILE *f = fopen(big, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 700 * 1024; i++)
		fputc('a' + i % 26, f);
	fclose(f);
	RUN(&r, NULL, "--json", "blob", "put", big);
	expect_ok(&r);
	o = parse_out(&r);
	ck_assert_int_eq(mvmt_int(o, "size"), 700 * 1024);
	json_object_put(o);

	/* stdin, with an expectation that fails: mvmd's error. */
	RUN(&r, "other\n", "blob", "put", "--expect", hash, "-");
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "expect"));

	RUN(&r, NULL, "blob", "ls");
	expect_ok(&r);
	ck_assert_ptr_nonnull(strstr(r.out, "HASH"));
	ck_assert_ptr_nonnull(strstr(r.out, hash));
	ck_assert_ptr_nonnull(strstr(r.out, " 18 ")); /* the small one's size */
	RUN(&r, NULL, "--json", "blob", "ls");
	expect_ok(&r);
	o = parse_out(&r);
	ck_assert_int_eq(mvmt_int(o, "count"), 2);
	json_object_put(o);

	RUN(&r, NULL, "blob", "rm", hash);
	expect_ok(&r);
	ck_assert_ptr_nonnull(strstr(r.out, hash));
	RUN(&r, NULL, "blob", "rm", hash);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "-32001"));
	RUN(&r, NULL, "blob", "ls");
	expect_ok(&r);
	ck_assert_ptr_null(strstr(r.out, hash));

	RUN(&r, NULL, "blob", "put", "/nonexistent/file");
	ck_assert_int_eq(r.status, 3);
	ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/file"));
}
END_TEST

/* start and stop wait for their answer however long it takes: a VMM
 * whose API comes up after 1.5 s (3x socat's default 0.5 s). */
START_TEST(test_lifecycle_events_logs)
{
	run_t r;

	mvmt_daemon_stop(&d, SIGTERM);
	setenv("MVM_FAKE_CH_DELAY_MS", "1500", 1);
	mvmt_daemon_start(&d, "--ch-binary", fake_ch, "--kvm-device", fake_kvm, "--kvm-pool", "0", NULL);
	close(fd);
	mvmt_forget_fd(fd);
	fd = mvmt_connect(d.sock);

	const char *id = create_ch("web");
	char idbuf[64];
	snprintf(idbuf, sizeof(idbuf), "%s", id);
	RUN(&r, NULL, "start", "web");
	expect_ok(&r);
	ck_assert_msg(strncmp(r.out, "web: Running", 12) == 0, "start printed \"%s\"", r.out);
	json_object_put(mvmt_wait_state(fd, "web", "Running"));

	RUN(&r, NULL, "start", "web");
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "Invalid state transition"));

	mvmt_wait_log(fd, "web", "mvm-init: ready");
	RUN(&r, NULL, "logs", "web");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "mvm-init: ready\n");
	RUN(&r, NULL, "logs", "--tail", "6", "web");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "ready\n");
	RUN(&r, NULL, "--json", "logs", "web");
	expect_ok(&r);
	json_object *o = parse_out(&r);
	ck_assert_str_eq(mvmt_str(o, "data"), "mvm-init: ready\n");
	json_object_put(o);

	RUN(&r, NULL, "events");
	expect_ok(&r);
	ck_assert_ptr_nonnull(strstr(r.out, "SEQ"));
	ck_assert_ptr_nonnull(strstr(r.out, idbuf));
	ck_assert_ptr_nonnull(strstr(r.out, "Starting"));
	ck_assert_ptr_nonnull(strstr(r.out, "Running"));
	RUN(&r, NULL, "--json", "events", "--id", "web", "--limit", "2");
	expect_ok(&r);
	o = parse_out(&r);
	ck_assert_int_eq(json_object_array_length(mvmt_get(o, "events")), 2);
	ck_assert(json_object_get_boolean(mvmt_get(o, "more")));
	json_object_put(o);

	RUN(&r, NULL, "stop", "web");
	expect_ok(&r);
	ck_assert_msg(strncmp(r.out, "web: Stopped", 12) == 0, "stop printed \"%s\"", r.out);
	RUN(&r, NULL, "stop", "web");
	ck_assert_int_eq(r.status, 1);

	/* exec refuses a VM that is not Running: mvmctl's own failure is
	 * 255, never a status a command could have. */
	RUN(&r, NULL, "exec", "web", "--", "mvm.echo", "hi");
	ck_assert_int_eq(r.status, 255);
	ck_assert_ptr_nonnull(strstr(r.err, "Invalid state transition"));
	RUN(&r, NULL, "exec", "web");
	ck_assert_int_eq(r.status, 255);
}
END_TEST

/* A child running mvmctl with stdout on a pipe (for -f commands). */
static pid_t spawn_follower(const char *const *args, int *ret_out)
{
	const char *argv[16];
	int o[2], n = 0;

	argv[n++] = ctl;
	argv[n++] = "--socket";
	argv[n++] = d.sock;
	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(o, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(o[1], 1);
		execv(ctl, (char **)argv);
		_exit(127);
	}
	close(o[1]);
	*ret_out = o[0];
	return pid;
}

/* Read fd until needle appears (10 s); everything read so far. */
static char *expect_output(int from, const char *needle)
{
	static char buf[65536];
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < 1000 && !strstr(buf, needle); i++) {
		struct pollfd p = { .fd = from, .events = POLLIN };
		if (poll(&p, 1, 10) == 1) {
			ssize_t n = read(from, buf + len, sizeof(buf) - 1 - len);
			if (n <= 0)
				break;
			len += (size_t)n;
			buf[len] = '\0';
		}
	}
	ck_assert_msg(strstr(buf, needle), "never saw \"%s\" in \"%s\"", needle, buf);
	return buf;
}

static int wait_exit(pid_t pid)
{
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(test_follow)
{
	const char *const ev[] = { "events", "-f", NULL };
	int evout, logout;
	run_t r;

	pid_t evpid = spawn_follower(ev, &evout);
	create_ch("web");
	expect_output(evout, "Configured");
	RUN(&r, NULL, "start", "web");
	expect_ok(&r);
	expect_output(evout, "Running");

	const char *const lg[] = { "logs", "-f", "web", NULL };
	pid_t lgpid = spawn_follower(lg, &logout);
	expect_output(logout, "mvm-init: ready\n");
	/* Input from another console client reaches the follower live. */
	json_object *ep = mvmt_result(fd, "compute.vm.console.endpoint", "{\"id\":\"web\"}");
	int c = mvmt_connect(mvmt_str(ep, "path"));
	json_object_put(ep);
	mvmt_write(c, "typed\n", 6);
	char *seen = expect_output(logout, "echo: typed\n");
	ck_assert_ptr_null(strstr(seen, "mvm-init: ready")); /* the replay came once */
	close(c);

	RUN(&r, NULL, "stop", "web");
	expect_ok(&r);
	/* The console closes with the VM: logs -f ends, 0. */
	ck_assert_int_eq(wait_exit(lgpid), 0);
	close(logout);
	expect_output(evout, "Stopped");
	kill(evpid, SIGTERM);
	wait_exit(evpid);
	close(evout);
}
END_TEST

/* --- console through a pty ------------------------------------------------------ */

typedef struct term {
	int master;
	pid_t pid;
	struct termios before;
} term_t;

static void console_attach(term_t *t, const char *vm)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };

	t->pid = forkpty(&t->master, NULL, NULL, &ws);
	ck_assert_int_ge(t->pid, 0);
	if (t->pid == 0) {
		execl(ctl, ctl, "--socket", d.sock, "console", vm, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(tcgetattr(t->master, &t->before), 0);
	ck_assert(t->before.c_lflag & ICANON);
	ck_assert(t->before.c_lflag & ECHO);
}

/* Until mvmctl put the pty in raw mode (5 s). */
static void wait_raw(const term_t *t)
{
	struct termios now;

	for (int i = 0; i < 500; i++) {
		ck_assert_int_eq(tcgetattr(t->master, &now), 0);
		if (!(now.c_lflag & (ICANON | ECHO | ISIG)) && !(now.c_iflag & ICRNL))
			return;
		usleep(10000);
	}
	ck_abort_msg("mvmctl console never made the terminal raw");
}

static void expect_restored(const term_t *t)
{
	struct termios now;

	ck_assert_int_eq(tcgetattr(t->master, &now), 0);
	ck_assert_int_eq(now.c_lflag, t->before.c_lflag);
	ck_assert_int_eq(now.c_iflag, t->before.c_iflag);
	ck_assert_int_eq(now.c_oflag, t->before.c_oflag);
}

static void start_web(void)
{
	run_t r;
	create_ch("web");
	RUN(&r, NULL, "start", "web");
	expect_ok(&r);
	mvmt_wait_log(fd, "web", "mvm-init: ready");
}

START_TEST(test_console)
{
	term_t t;

	start_web();
	console_attach(&t, "web");
	char *seen = expect_output(t.master, "mvm-init: ready\r\n");
	ck_assert_ptr_nonnull(strstr(seen, "Escape character is ^]"));
	wait_raw(&t);

	/* Enter is CR in raw mode; the guest gets LF, and its LF shows as
	 * CR LF on the terminal (output processing kept). */
	put(t.master, "hello\r", 6);
	seen = expect_output(t.master, "echo: hello\r\n");
	mvmt_wait_log(fd, "web", "echo: hello\n");
	json_object *lg = mvmt_result(fd, "compute.vm.logs", "{\"id\":\"web\"}");
	ck_assert_ptr_null(strstr(mvmt_str(lg, "data"), "\r"));
	json_object_put(lg);
	/* Raw: the pty did not echo what was typed. */
	ck_assert_ptr_null(strstr(seen, "hello\r\necho"));
	/* Ctrl-C goes to the guest, it does not end mvmctl. */
	put(t.master, "\x03" "x\r", 3);
	expect_output(t.master, "echo: \x03x\r\n");

	put(t.master, "\x1d", 1);
	seen = expect_output(t.master, "Detached");
	ck_assert_int_eq(wait_exit(t.pid), 0);
	expect_restored(&t);
	close(t.master);

	/* A second attach replays the log, each line once: what was typed
	 * before shows up, and the banner is not doubled by the live part. */
	console_attach(&t, "web");
	seen = expect_output(t.master, "echo: \x03x\r\n");
	char *first = strstr(seen, "echo: hello\r\n");
	ck_assert_ptr_nonnull(first);
	ck_assert_ptr_null(strstr(first + 1, "echo: hello"));
	wait_raw(&t);
	kill(t.pid, SIGTERM);
	ck_assert_int_eq(wait_exit(t.pid), 128 + SIGTERM);
	expect_restored(&t);
	close(t.master);
}
END_TEST

START_TEST(test_console_ends_with_vm)
{
	term_t t;
	run_t r;

	start_web();
	console_attach(&t, "web");
	expect_output(t.master, "mvm-init: ready");
	wait_raw(&t);
	RUN(&r, NULL, "stop", "web");
	expect_ok(&r);
	expect_output(t.master, "closed");
	ck_assert_int_eq(wait_exit(t.pid), 0);
	expect_restored(&t);
	close(t.master);

	/* A VM that is not running has no console: 1, the terminal as it was. */
	console_attach(&t, "web");
	expect_output(t.master, "not running");
	ck_assert_int_eq(wait_exit(t.pid), 1);
	expect_restored(&t);
	close(t.master);
}
END_TEST

/* --- exec ------------------------------------------------------------------------ */

START_TEST(test_exec)
{
	run_t r;

	start_web();
	RUN(&r, NULL, "exec", "web", "--", "/bin/sh", "-c", "printf out; printf err >&2; exit 3");
	ck_assert_int_eq(r.status, 3);
	ck_assert_str_eq(r.out, "out");
	ck_assert_str_eq(r.err, "err");

	/* Bytes pass unchanged both ways (base64 on the wire), stdin with -i. */
	RUN(&r, "caf\xc3\xa9 \xff\n", "exec", "-i", "web", "--", "cat");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "caf\xc3\xa9 \xff\n");
	RUN(&r, NULL, "exec", "-e", "GREETING=hi there", "web", "--", "/bin/sh", "-c", "echo \"$GREETING\"");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "hi there\n");

	/* Answered however long it takes: 3x socat's default 0.5 s. */
	RUN(&r, NULL, "exec", "web", "--", "/bin/sh", "-c", "sleep 1.5; echo late");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "late\n");

	/* A signal: 128+N; past --timeout-ms: 124, as timeout(1). */
	RUN(&r, NULL, "exec", "web", "--", "/bin/sh", "-c", "kill -TERM $$");
	ck_assert_int_eq(r.status, 128 + SIGTERM);
	RUN(&r, NULL, "exec", "--timeout-ms", "300", "web", "--", "sleep", "30");
	ck_assert_int_eq(r.status, 124);
	ck_assert_ptr_nonnull(strstr(r.err, "timed out"));

	RUN(&r, NULL, "--json", "exec", "web", "--", "/bin/echo", "j");
	expect_ok(&r);
	json_object *o = parse_out(&r);
	ck_assert_str_eq(mvmt_str(o, "stdout"), "j\n");
	ck_assert_int_eq(mvmt_int(o, "exit_code"), 0);
	json_object_put(o);

	/* mvmctl's own failures are 255: mvmd's error, no such program. */
	RUN(&r, NULL, "exec", "web", "--", "/nonexistent/program");
	ck_assert_int_eq(r.status, 255);
	ck_assert_msg(strstr(r.err, "not-found") && strstr(r.err, "-32001"), "stderr \"%s\"", r.err);
	RUN(&r, NULL, "exec", "web", "--", "mvm.echo", "built", "in");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "built in\n");
}
END_TEST

/* --- exec on micro-VMs (real KVM) --------------------------------------------- */

static void setup_kvm(void)
{
	kvm_skip = mvmt_kvm_skip_reason();
	if (kvm_skip)
		return;
	setup_paths();
	mvmt_daemon_start(&d, "--kvm-pool", "0", NULL);
	fd = mvmt_connect(d.sock);
}

static void teardown_kvm(void)
{
	if (kvm_skip)
		return;
	mvmt_stop_running_vms(&d);
	teardown();
}

START_TEST(test_exec_kvm)
{
	run_t r;

	if (kvm_skip) {
		printf("SKIP: %s\n", kvm_skip);
		return;
	}
	RUN(&r, NULL, "create", "--name", "m", "--memory", "16");
	expect_ok(&r);
	RUN(&r, NULL, "start", "m");
	expect_ok(&r);
	RUN(&r, NULL, "exec", "m", "--", "mvm.exit", "7", "to-out", "to-err");
	ck_assert_int_eq(r.status, 7);
	ck_assert_str_eq(r.out, "to-out\n");
	ck_assert_str_eq(r.err, "to-err\n");
	RUN(&r, "from stdin\n", "exec", "-i", "m", "--", "mvm.echo", "a", "b");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "a b\nfrom stdin\n");
	/* An exec that takes longer than socat's 0.5 s is still answered. */
	RUN(&r, NULL, "exec", "m", "--", "mvm.sleep", "1500");
	expect_ok(&r);
	RUN(&r, NULL, "exec", "--timeout-ms", "200", "m", "--", "mvm.sleep");
	ck_assert_int_eq(r.status, 124);
	RUN(&r, NULL, "--json", "exec", "m", "--", "mvm.echo", "j");
	expect_ok(&r);
	json_object *o = parse_out(&r);
	ck_assert_str_eq(mvmt_str(o, "stdout"), "j\n");
	ck_assert_int_eq(mvmt_int(o, "exit_code"), 0);
	json_object_put(o);
	RUN(&r, NULL, "exec", "m", "--", "mvm.nothing");
	ck_assert_int_eq(r.status, 255);
	ck_assert_ptr_nonnull(strstr(r.err, "-32001"));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mvmctl");
	TCase *tc = tcase_create("ch-double");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_list_status_create_rm);
	tcase_add_test(tc, test_exit_codes);
	tcase_add_test(tc, test_call);
	tcase_add_test(tc, test_blob);
	tcase_add_test(tc, test_lifecycle_events_logs);
	tcase_add_test(tc, test_follow);
	tcase_add_test(tc, test_console);
	tcase_add_test(tc, test_console_ends_with_vm);
	tcase_add_test(tc, test_exec);
	suite_add_tcase(s, tc);

	tc = tcase_create("kvm");
	tcase_add_checked_fixture(tc, setup_kvm, teardown_kvm);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_exec_kvm);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
