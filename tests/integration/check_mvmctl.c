/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmctl (daemon/mvmctl/, docs/mvmctl.1) end to end: the real mvmctl
 * binary against the real mvmd on temp paths. Its tables and --json
 * results, exit codes (0, 1 with mvmd's message, 2 usage, 3 no daemon;
 * exec: the command's, 255), call, blob put/ls/rm, events, logs,
 * start/stop/rm and exec. The console and the -f commands are in
 * check_mvmctl_console.c.
 *
 * VMs are ch VMs against the cloud-hypervisor TEST DOUBLE
 * (tests/doubles/fake-cloud-hypervisor.c, tests/lib/mvmctl-run.h), which
 * runs on any host; its vsock socket leads to the project's exec agent
 * running host programs, so exec runs there too. Tcase "kvm" repeats
 * exec with a micro-VM's built-ins (skipped where KVM is not usable).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvmctl-run.h"
#include "mvmt-main.h"

static mvmt_ctl_t t;

static void setup(void)
{
	mvmt_ctl_init(&t);
	mvmt_ctl_start(&t, NULL);
}

static void teardown(void)
{
	mvmt_ctl_cleanup(&t);
	unsetenv("MVM_FAKE_CH_DELAY_MS");
}

#define RUN(r, in, ...)                                                 \
	do {                                                            \
		const char *const args_[] = { __VA_ARGS__, NULL };      \
		mvmt_ctl_run(&t, (r), t.d.sock, (in), args_);           \
	} while (0)

static void expect_ok(const mvmt_run_t *r)
{
	ck_assert_msg(r->status == 0, "mvmctl exited %d: stdout \"%s\" stderr \"%s\"", r->status, r->out, r->err);
}

/* Create a ch VM through mvmctl; returns its id (static buffer). */
static const char *create_ch(const char *name)
{
	static char id[64];
	mvmt_run_t r;

	RUN(&r, NULL, "create", "--name", name, "--backend", "ch", "--memory", "64", "--vcpus", "2", "--kernel", t.kernel,
	    "--label", "tier=front");
	expect_ok(&r);
	ck_assert_int_eq(strlen(r.out), 37); /* a UUID and its newline */
	snprintf(id, sizeof(id), "%.36s", r.out);
	return id;
}

static void start_web(void)
{
	mvmt_run_t r;

	create_ch("web");
	RUN(&r, NULL, "start", "web");
	expect_ok(&r);
	mvmt_wait_log(t.fd, "web", "mvm-init: ready");
}

static json_object *parse_out(const mvmt_run_t *r)
{
	json_object *o = json_tokener_parse(r->out);
	ck_assert_msg(o != NULL, "not JSON: \"%s\"", r->out);
	return o;
}

/* --- VM commands ----------------------------------------------------------- */

START_TEST(test_list_status_create_rm)
{
	mvmt_run_t r;

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

	RUN(&r, NULL, "list", "--label", "tier=front", "--json");
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
	RUN(&r, NULL, "create", "--name", "web", "--backend", "ch", "--memory", "64", "--kernel", t.kernel);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "Already exists") && strstr(r.err, "-32003"), "stderr: %s", r.err);

	RUN(&r, NULL, "rm", "web", "--force"); /* options after the VM */
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
	mvmt_run_t r;

	/* An unknown VM: 1, and mvmd's message on stderr. */
	const char *const cmds[][3] = { { "status", "nosuch", NULL }, { "start", "nosuch", NULL }, { "stop", "nosuch", NULL },
					{ "rm", "nosuch", NULL }, { "logs", "nosuch", NULL }, { "console", "nosuch", NULL } };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		mvmt_ctl_run(&t, &r, t.d.sock, NULL, cmds[i]);
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
		mvmt_ctl_run(&t, &r, t.d.sock, NULL, usage[i]);
		ck_assert_msg(r.status == 2, "%s %s: exit %d", usage[i][0], usage[i][1] ? usage[i][1] : "", r.status);
		ck_assert_msg(strstr(r.err, "mvmctl: "), "no message: \"%s\"", r.err);
	}
	/* No daemon there: 3, naming the socket. */
	char gone[300];
	snprintf(gone, sizeof(gone), "%s/nothing.sock", t.d.dir);
	RUN(&r, NULL, "--socket", gone, "list");
	ck_assert_int_eq(r.status, 3);
	ck_assert_ptr_nonnull(strstr(r.err, gone));

	/* MVMD_SOCKET stands in for --socket; --socket wins over it. */
	const char *const list[] = { "list", NULL };
	setenv("MVMD_SOCKET", t.d.sock, 1);
	mvmt_ctl_run(&t, &r, NULL, NULL, list);
	expect_ok(&r);
	setenv("MVMD_SOCKET", gone, 1);
	mvmt_ctl_run(&t, &r, NULL, NULL, list);
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
	mvmt_run_t r;

	RUN(&r, NULL, "call", "compute.node.info");
	expect_ok(&r);
	json_object *o = parse_out(&r);
	ck_assert(json_object_get_boolean(mvmt_get(o, "backends.ch.usable")));
	json_object_put(o);

	RUN(&r, NULL, "--json", "call", "rpc.discover", "{}");
	expect_ok(&r);
	ck_assert_msg(strchr(r.out, '\n') == r.out + strlen(r.out) - 1, "--json is one line");
	o = parse_out(&r);
	ck_assert_str_eq(mvmt_str(o, "openrpc"), "1.3.2");
	json_object_put(o);

	/* Params from stdin. */
	char p[PATH_MAX + 128];
	snprintf(p, sizeof(p), "{\"name\":\"c1\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\"}", t.kernel);
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
	mvmt_run_t r;

	snprintf(small, sizeof(small), "%s/small.bin", t.d.dir);
	mvmt_write_file(small, "hello, blob store\n");
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
	snprintf(big, sizeof(big), "%s/big.bin", t.d.dir);
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

/* interface list: a connection that handles an interface shows, and
 * is gone once it releases it (compute.interface.release) while it
 * stays open. */
START_TEST(test_interface_list)
{
	static const char iface[] = "sha256:00000000000000000000000000000000000000000000000000000000000000ab";
	char p[128];
	mvmt_run_t r;
	int fd = mvmt_connect(t.d.sock);

	RUN(&r, NULL, "interface", "list");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "INTERFACE  HANDLER  ID  STATE\n");
	snprintf(p, sizeof(p), "{\"interface\":\"%s\"}", iface);
	json_object_put(mvmt_result(fd, "compute.interface.handle", p));
	RUN(&r, NULL, "interface", "list");
	expect_ok(&r);
	ck_assert_msg(strstr(r.out, iface) && strstr(r.out, "connection"), "%s", r.out);
	RUN(&r, NULL, "--json", "interface", "list");
	expect_ok(&r);
	json_object *o = parse_out(&r);
	ck_assert_str_eq(mvmt_str(json_object_array_get_idx(mvmt_get(o, "interfaces"), 0), "handler"), "connection");
	json_object_put(o);
	json_object_put(mvmt_result(fd, "compute.interface.release", p));
	ck_assert_int_eq(mvmt_error_code(fd, "compute.interface.release", p), -32001);
	RUN(&r, NULL, "interface", "list");
	expect_ok(&r);
	ck_assert_ptr_null(strstr(r.out, iface));
	RUN(&r, NULL, "interface", "nope");
	ck_assert_int_eq(r.status, 2);
	close(fd);
	mvmt_forget_fd(fd);
}
END_TEST

/* start and stop wait for their answer however long it takes: a VMM
 * whose API comes up after 1.5 s (3x socat's default 0.5 s). */
START_TEST(test_lifecycle_events_logs)
{
	mvmt_run_t r;

	close(t.fd);
	mvmt_forget_fd(t.fd);
	mvmt_daemon_stop(&t.d, SIGTERM);
	setenv("MVM_FAKE_CH_DELAY_MS", "1500", 1);
	mvmt_ctl_start(&t, NULL);

	const char *id = create_ch("web");
	char idbuf[64];
	snprintf(idbuf, sizeof(idbuf), "%s", id);
	RUN(&r, NULL, "start", "web");
	expect_ok(&r);
	ck_assert_msg(strncmp(r.out, "web: Running", 12) == 0, "start printed \"%s\"", r.out);
	json_object_put(mvmt_wait_state(t.fd, "web", "Running"));

	RUN(&r, NULL, "start", "web");
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "Invalid state transition"));

	mvmt_wait_log(t.fd, "web", "mvm-init: ready");
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

/* --- exec ------------------------------------------------------------------------ */

START_TEST(test_pause_resume_snapshot)
{
	mvmt_run_t r;

	start_web();
	RUN(&r, NULL, "pause", "web");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "web: Paused (paused)\n");
	RUN(&r, NULL, "snapshot", "web");
	expect_ok(&r);
	ck_assert_msg(strstr(r.out, "/snapshots/1\n") != NULL, "snapshot printed \"%s\"", r.out);
	RUN(&r, NULL, "resume", "web");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "web: Running (resumed)\n");
	RUN(&r, NULL, "resume", "web");
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "Invalid state transition"));

	/* start --snapshot restores it from that snapshot */
	RUN(&r, NULL, "stop", "web");
	expect_ok(&r);
	RUN(&r, NULL, "start", "web", "--snapshot", "2");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "the VM has no snapshot 2") != NULL, "start --snapshot 2 said \"%s\"", r.err);
	RUN(&r, NULL, "start", "web", "--snapshot", "1");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "web: Running (guest running)\n");
	RUN(&r, NULL, "stop", "web", "--snapshot", "1");
	ck_assert_int_eq(r.status, 2);
}
END_TEST

/* device add-disk / add-net / rm print the device's id; status shows them. */
START_TEST(test_device)
{
	char img[PATH_MAX];
	mvmt_run_t r;

	start_web();
	snprintf(img, sizeof(img), "%s/data.img", t.d.dir);
	mvmt_write_file(img, "data\n");
	RUN(&r, NULL, "device", "add-disk", "web", img, "--readonly", "--serial", "data");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "disk0\n");
	RUN(&r, NULL, "device", "add-net", "web", "tap-web", "--mac", "52:54:00:00:00:01");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "net0\n");
	RUN(&r, NULL, "status", "web");
	expect_ok(&r);
	ck_assert_msg(strstr(r.out, "\"serial\":\"data\"") && strstr(r.out, "\"id\":\"disk0\""), "%s", r.out);
	RUN(&r, NULL, "device", "rm", "web", "disk0");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "disk0\n");
	RUN(&r, NULL, "device", "rm", "web", "disk0");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "no device") != NULL, "%s", r.err);
	RUN(&r, NULL, "device", "add-net", "web");
	ck_assert_int_eq(r.status, 2);
	RUN(&r, NULL, "device", "plug", "web");
	ck_assert_int_eq(r.status, 2);
}
END_TEST

START_TEST(test_exec)
{
	mvmt_run_t r;

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
	/* Options after the VM too; after "--" every word is the command's. */
	RUN(&r, NULL, "exec", "web", "-e", "A=1", "--", "/bin/sh", "-c", "echo \"$A\" \"$0\"", "-e");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "1 -e\n");

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

	RUN(&r, NULL, "exec", "web", "--", "/bin/echo", "--json");
	expect_ok(&r);
	ck_assert_str_eq(r.out, "--json\n"); /* the command's, after "--" */
	RUN(&r, NULL, "exec", "web", "--json", "--", "/bin/echo", "j");
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
	mvmt_ctl_init(&t);
	mvmt_daemon_start(&t.d, "--kvm-pool", "0", NULL);
	t.fd = mvmt_connect(t.d.sock);
}

static void teardown_kvm(void)
{
	mvmt_stop_running_vms(&t.d);
	teardown();
}

START_TEST(test_exec_kvm)
{
	mvmt_run_t r;

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

static const mvmt_tcase_t tcases[] = {
	{
		.name = "ch-double",
		.timeout = 120,
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_list_status_create_rm),
			MVMT_TEST(test_exit_codes),
			MVMT_TEST(test_call),
			MVMT_TEST(test_blob),
			MVMT_TEST(test_interface_list),
			MVMT_TEST(test_lifecycle_events_logs),
			MVMT_TEST(test_pause_resume_snapshot),
			MVMT_TEST(test_device),
			MVMT_TEST(test_exec)),
	},
	{
		.name = "kvm",
		.timeout = 120,
		.skip = mvmt_kvm_skip_reason,
		.setup = setup_kvm,
		.teardown = teardown_kvm,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_exec_kvm)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmctl", .tcases = tcases)
