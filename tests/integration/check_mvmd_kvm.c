/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Micro-VMs on the real /dev/kvm through the real mvmd: lifecycle, console,
 * hostile guests, 50 VMs at once, kill -9 of mvmd with VMs running, the
 * worker sandbox, and a host without KVM.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kvm/worker.h"
#include "mvmtest.h"
#include "mvmt-main.h"

static mvmt_daemon_t d;
static int fd;
static char guests[4096];

static void setup(void)
{
	const char *b = getenv("MVM_BUILD_DIR");
	char rel[200];
	snprintf(rel, sizeof(rel), "%s/guest/tests", b && *b ? b : "build");
	ck_assert_ptr_nonnull(realpath(rel, guests));
	mvmt_daemon_init(&d);
	mvmt_daemon_start(&d, "--allow-custom-guests", NULL);
	fd = mvmt_connect(d.sock);
}

static void teardown(void)
{
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_stop_running_vms(&d); /* workers outlive mvmd by design */
	mvmt_daemon_cleanup(&d);
}

/* create {name, memory 16, guest image tests/microvm-guests/<guest> with args} */
static void create_guest(const char *name, const char *guest, const char *args_json)
{
	char p[5200];
	if (guest)
		snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":16,\"guest\":{\"image\":\"%s/%s\"%s%s}}", name, guests,
			 guest, args_json ? ",\"args\":" : "", args_json ? args_json : "");
	else
		snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":16}", name);
	json_object *r = mvmt_result(fd, "compute.vm.create", p);
	ck_assert_str_eq(mvmt_str(r, "state"), "Configured");
	json_object_put(r);
}

static json_object *call_id(const char *method, const char *name, const char *extra)
{
	return mvmt_call_id(fd, method, name, extra);
}

static json_object *status(const char *name)
{
	return mvmt_status(fd, name);
}

/* Poll status until the VM is in `state` (5 s). */
static json_object *wait_state(const char *name, const char *state)
{
	return mvmt_wait_state(fd, name, state);
}

/* Poll compute.vm.logs until it contains `needle` (5 s). */
static void wait_log(const char *name, const char *needle)
{
	mvmt_wait_log(fd, name, needle);
}

START_TEST(test_lifecycle_and_restart_from_stopped)
{
	create_guest("life", NULL, NULL);
	json_object *r = call_id("compute.vm.start", "life", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	int pid = (int)mvmt_int(r, "result.pid");
	ck_assert_int_gt(pid, 0);
	json_object_put(r);
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/%d", pid);
	ck_assert_int_eq(access(proc, F_OK), 0);
	wait_log("life", "mvm-guest: ready");

	/* start again while Running: invalid state, nothing changes */
	r = call_id("compute.vm.start", "life", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32002);
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), "Running");
	json_object_put(r);
	/* remove while Running: refused without force */
	r = call_id("compute.vm.remove", "life", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32002);
	json_object_put(r);

	r = call_id("compute.vm.stop", "life", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	ck_assert_ptr_null(mvmt_get(r, "result.pid"));
	json_object_put(r);
	/* Stopped once the guest can no longer run and its result is in;
	 * the worker then tears its VM down and is reaped moments later. */
	for (int i = 0; i < 6000 && access(proc, F_OK) == 0; i++) /* 60 s */
		usleep(10000);
	ck_assert_int_eq(access(proc, F_OK), -1); /* reaped */
	/* stop while Stopped: invalid state */
	r = call_id("compute.vm.stop", "life", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32002);
	json_object_put(r);

	/* Stopped → Starting → Running again; then a forced stop */
	r = call_id("compute.vm.start", "life", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	r = call_id("compute.vm.stop", "life", "\"force\":true");
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	ck_assert_str_eq(mvmt_str(r, "result.cause"), "killed by forced stop");
	json_object_put(r);

	/* every transition is in the VM's ring, in order */
	json_object *s = status("life");
	const char *want[] = { "Provisioning", "Configured", "Starting", "Running", "Stopping", "Stopped",
			       "Starting", "Running", "Stopping", "Stopped" };
	json_object *tr = mvmt_get(s, "transitions");
	ck_assert_int_eq(json_object_array_length(tr), 10);
	for (size_t i = 0; i < 10; i++)
		ck_assert_str_eq(mvmt_str(json_object_array_get_idx(tr, i), "to"), want[i]);
	json_object_put(s);
	json_object_put(mvmt_result(fd, "compute.vm.remove", "{\"id\":\"life\"}"));
}
END_TEST

static int console_connect(const char *name)
{
	json_object *r = call_id("compute.vm.console.endpoint", name, NULL);
	ck_assert_str_eq(mvmt_str(r, "result.protocol"), "raw");
	int c = mvmt_connect(mvmt_str(r, "result.path"));
	json_object_put(r);
	return c;
}

START_TEST(test_console_two_clients_and_log)
{
	create_guest("con", NULL, NULL);
	json_object_put(call_id("compute.vm.start", "con", NULL));
	wait_log("con", "mvm-guest: ready"); /* output before anyone attached is in the log */
	int a = console_connect("con"), b = console_connect("con");
	usleep(50000); /* let mvmd accept both */

	/* input from one client reaches the guest; its echo reaches both */
	mvmt_write(a, "hello-from-a\n", 13);
	for (int i = 0; i < 2; i++) {
		int c = i ? b : a;
		char *line = mvmt_read_line(c, 5000);
		ck_assert_ptr_nonnull(line);
		ck_assert_str_eq(line, "mvm-guest: echo: hello-from-a");
		free(line);
	}
	mvmt_write(b, "from-b\n", 7);
	char *line = mvmt_read_line(a, 5000);
	ck_assert_str_eq(line, "mvm-guest: echo: from-b");
	free(line);
	wait_log("con", "echo: from-b");

	/* tail_bytes and base64 */
	json_object *r = call_id("compute.vm.logs", "con", "\"tail_bytes\":7");
	ck_assert_str_eq(mvmt_str(r, "result.data"), "from-b\n");
	json_object_put(r);
	r = call_id("compute.vm.logs", "con", "\"tail_bytes\":7,\"encoding\":\"base64\"");
	ck_assert_str_eq(mvmt_str(r, "result.data"), "ZnJvbS1iCg==");
	json_object_put(r);

	close(a);
	close(b);
	mvmt_forget_fd(a);
	mvmt_forget_fd(b);
	r = call_id("compute.vm.stop", "con", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	json_object_put(r);
	/* the log outlives the VM's run */
	wait_log("con", "mvm-guest: stopping");
}
END_TEST

START_TEST(test_hostile_guests)
{
	/* a well-behaved VM that must keep serving throughout */
	create_guest("good", NULL, NULL);
	json_object_put(call_id("compute.vm.start", "good", NULL));

	create_guest("fault", "fault", NULL);
	json_object *r = call_id("compute.vm.start", "fault", NULL);
	json_object_put(r);
	json_object *s = wait_state("fault", "Failed");
	ck_assert_ptr_nonnull(strstr(mvmt_str(s, "cause"), "guest fault"));
	/* A ud2: the cause has the registers, or says the host lost them. */
	ck_assert_ptr_nonnull(strstr(mvmt_str(s, "cause"),
				     mvmt_kvm_shutdown_keeps_regs() ? "rip=0x" : "registers lost"));
	json_object_put(s);

	create_guest("badptr", "badptr", NULL);
	json_object_put(call_id("compute.vm.start", "badptr", NULL));
	s = wait_state("badptr", "Failed");
	ck_assert_ptr_nonnull(strstr(mvmt_str(s, "cause"), "bad-pointer"));
	json_object_put(s);

	create_guest("exit42", "exitcode", "[\"42\"]");
	json_object_put(call_id("compute.vm.start", "exit42", NULL));
	s = wait_state("exit42", "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 42);
	ck_assert_str_eq(mvmt_str(s, "cause"), "guest exited with code 42");
	json_object_put(s);

	/* an endless loop never yields: stop interrupts the vCPU */
	create_guest("loop", "loop", NULL);
	r = call_id("compute.vm.start", "loop", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	r = call_id("compute.vm.stop", "loop", "\"timeout_ms\":3000");
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	json_object_put(r);

	/* an output flood: the log stays capped, mvmd keeps answering */
	create_guest("flood", "flood", NULL);
	json_object_put(call_id("compute.vm.start", "flood", NULL));
	for (int i = 0; i < 20; i++) {
		json_object_put(mvmt_result(fd, "compute.node.info", NULL));
		usleep(20000);
	}
	r = call_id("compute.vm.logs", "flood", "\"tail_bytes\":0");
	ck_assert_int_le(mvmt_int(r, "result.size"), 4 << 20);
	ck_assert_int_gt(mvmt_int(r, "result.size"), 0);
	json_object_put(r);
	r = call_id("compute.vm.stop", "flood", "\"timeout_ms\":2000");
	ck_assert_ptr_nonnull(mvmt_get(r, "result"));
	json_object_put(r);

	/* the good VM never noticed */
	s = status("good");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	json_object_put(s);
	int c = console_connect("good");
	usleep(50000);
	mvmt_write(c, "still\n", 6);
	char *line = mvmt_read_line(c, 5000);
	ck_assert_str_eq(line, "mvm-guest: echo: still");
	free(line);
	close(c);
	mvmt_forget_fd(c);

	/* a missing guest image is a provisioning failure: a Failed VM */
	r = mvmt_result(fd, "compute.vm.create", "{\"name\":\"noimg\",\"memory_mib\":16,\"guest\":{\"image\":\"/nonexistent/guest\"}}");
	ck_assert_str_eq(mvmt_str(r, "state"), "Failed");
	ck_assert_ptr_nonnull(strstr(mvmt_str(r, "cause"), "guest image not usable"));
	json_object_put(r);
}
END_TEST

START_TEST(test_fifty_concurrent)
{
	enum { N = 50 };
	char line[256];

	for (int i = 0; i < N; i++) {
		snprintf(line, sizeof(line), "{\"name\":\"vm%02d\",\"memory_mib\":16}", i);
		json_object_put(mvmt_result(fd, "compute.vm.create", line));
	}
	/* all starts in one write: answered as each VM comes up */
	char *buf = malloc(N * 128);
	size_t len = 0;
	for (int i = 0; i < N; i++)
		len += (size_t)sprintf(buf + len, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"compute.vm.start\",\"params\":{\"id\":\"vm%02d\"}}\n", i, i);
	mvmt_write(fd, buf, len);
	int seen[N] = { 0 };
	for (int i = 0; i < N; i++) {
		char *resp = mvmt_read_line(fd, 30000);
		ck_assert_msg(resp != NULL, "only %d of %d starts answered", i, N);
		json_object *o = json_tokener_parse(resp);
		ck_assert_msg(mvmt_get(o, "result") != NULL, "start failed: %s", resp);
		ck_assert_str_eq(mvmt_str(o, "result.state"), "Running");
		seen[mvmt_int(o, "id")]++;
		json_object_put(o);
		free(resp);
	}
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(seen[i], 1);
	json_object *r = mvmt_result(fd, "compute.vm.list", "{\"state\":\"Running\"}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "vms")), N);
	json_object_put(r);

	len = 0;
	for (int i = 0; i < N; i++)
		len += (size_t)sprintf(buf + len, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"compute.vm.stop\",\"params\":{\"id\":\"vm%02d\"}}\n", i, i);
	mvmt_write(fd, buf, len);
	for (int i = 0; i < N; i++) {
		char *resp = mvmt_read_line(fd, 30000);
		ck_assert_ptr_nonnull(resp);
		json_object *o = json_tokener_parse(resp);
		ck_assert_str_eq(mvmt_str(o, "result.state"), "Stopped");
		json_object_put(o);
		free(resp);
	}
	free(buf);
}
END_TEST

/* mvmd holds at most 2 fds per idle VM, its worker's pidfd and control
 * connection (docs/density.md): the worker holds the console socket and
 * hands clients over, and a console log is open only among the last few
 * written (32). Old: 4 per VM (pidfd, control, console socket, log). */
START_TEST(test_idle_vm_fds)
{
	enum { N = 40, LOGS_OPEN_MAX = 32 };
	char name[32];

	mvmt_wait_pool_settled(fd);
	int base = mvmt_settled_fds(d.pid);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "idle%02d", i);
		create_guest(name, NULL, NULL);
		json_object *r = call_id("compute.vm.start", name, NULL);
		ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
		json_object_put(r);
	}
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "idle%02d", i);
		wait_log(name, "mvm-guest: ready");
	}
	mvmt_wait_pool_settled(fd);
	int now = mvmt_settled_fds(d.pid);
	ck_assert_msg(now - base <= 2 * N + LOGS_OPEN_MAX, "%d fds for %d idle VMs", now - base, N);
	/* and each console still works: one client attaches, is served */
	int c = console_connect("idle07");
	mvmt_write(c, "ping\n", 5);
	char *line = mvmt_read_line(c, 30000);
	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(line, "mvm-guest: echo: ping");
	free(line);
	close(c);
	mvmt_forget_fd(c);
}
END_TEST

/* A mass stop is staged (docs/density.md): with --kvm-max-teardowns 2,
 * never more than 2 workers are being torn down, the rest wait their
 * turn, and every VM ends Stopped. */
START_TEST(test_staged_mass_stop)
{
	enum { N = 12, CAP = 2 };
	char name[32], *buf = malloc(N * 160);
	size_t len = 0;

	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGTERM);
	mvmt_daemon_start(&d, "--allow-custom-guests", "--kvm-max-teardowns", "2", NULL);
	fd = mvmt_connect(d.sock);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "mass%02d", i);
		create_guest(name, NULL, NULL);
		json_object_put(call_id("compute.vm.start", name, NULL));
	}
	for (int i = 0; i < N; i++)
		len += (size_t)sprintf(buf + len, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"compute.vm.stop\","
				       "\"params\":{\"id\":\"mass%02d\",\"force\":true}}\n", i, i);
	mvmt_write(fd, buf, len);
	int watch = mvmt_connect(d.sock), answered = 0, max_active = 0, max_queued = 0;
	for (int round = 0; answered < N && round < 6000; round++) {
		json_object *r = mvmt_result(watch, "compute.node.info", NULL);
		ck_assert_int_eq(mvmt_int(r, "backends.kvm.teardown.max"), CAP);
		int active = (int)mvmt_int(r, "backends.kvm.teardown.active");
		int queued = (int)mvmt_int(r, "backends.kvm.teardown.queued");
		json_object_put(r);
		ck_assert_msg(active <= CAP, "%d workers in teardown, cap %d", active, CAP);
		max_active = active > max_active ? active : max_active;
		max_queued = queued > max_queued ? queued : max_queued;
		char *resp = mvmt_read_line(fd, 20);
		if (!resp)
			continue;
		json_object *o = json_tokener_parse(resp);
		ck_assert_msg(mvmt_get(o, "result") != NULL, "stop failed: %s", resp);
		ck_assert_str_eq(mvmt_str(o, "result.state"), "Stopped");
		json_object_put(o);
		free(resp);
		answered++;
	}
	ck_assert_int_eq(answered, N);
	/* everything in teardown ends, nothing stays queued */
	for (int i = 0; i < 3000; i++) {
		json_object *r = mvmt_result(watch, "compute.node.info", NULL);
		bool done = mvmt_int(r, "backends.kvm.teardown.active") == 0 && mvmt_int(r, "backends.kvm.teardown.queued") == 0;
		json_object_put(r);
		if (done)
			break;
		ck_assert_int_lt(i, 2999);
		usleep(10000);
	}
	fprintf(stderr, "staged stop: at most %d in teardown, %d queued\n", max_active, max_queued);
	close(watch);
	mvmt_forget_fd(watch);
	free(buf);
}
END_TEST

/* A stop that waits its turn is answered when its VM is Stopped, with
 * its own timeout counted from its turn: never -32006 for the wait. With
 * one teardown at a time and a frozen worker ahead of it (killed at its
 * stop's 8 s), the stop behind it (timeout_ms 1000) waits 8 s. */
START_TEST(test_queued_stop_waits_its_turn)
{
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGTERM);
	mvmt_daemon_start(&d, "--allow-custom-guests", "--kvm-max-teardowns", "1", NULL);
	fd = mvmt_connect(d.sock);
	create_guest("first", NULL, NULL);
	create_guest("second", NULL, NULL);
	json_object *r = call_id("compute.vm.start", "first", NULL);
	pid_t frozen = (pid_t)mvmt_int(r, "result.pid");
	json_object_put(r);
	json_object_put(call_id("compute.vm.start", "second", NULL));
	wait_log("first", "mvm-guest: ready");
	wait_log("second", "mvm-guest: ready");
	ck_assert_int_eq(kill(frozen, SIGSTOP), 0); /* it hears no STOP */
	static const char stops[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"compute.vm.stop\",\"params\":{\"id\":\"first\",\"timeout_ms\":8000}}\n"
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"compute.vm.stop\",\"params\":{\"id\":\"second\",\"timeout_ms\":1000}}\n";
	mvmt_write(fd, stops, sizeof(stops) - 1);
	int watch = mvmt_connect(d.sock);
	for (int i = 0;; i++) {
		r = mvmt_result(watch, "compute.node.info", NULL);
		bool queued = mvmt_int(r, "backends.kvm.teardown.queued") == 1;
		json_object_put(r);
		if (queued)
			break;
		ck_assert_int_lt(i, 3000);
		usleep(10000);
	}
	json_object *s = mvmt_status(watch, "second");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopping");
	json_object_put(s);
	for (int want = 1; want <= 2; want++) {
		char *resp = mvmt_read_line(fd, 60000);
		ck_assert_ptr_nonnull(resp);
		json_object *o = json_tokener_parse(resp);
		ck_assert_msg(mvmt_get(o, "result") != NULL, "stop %d: %s", want, resp);
		ck_assert_int_eq(mvmt_int(o, "id"), want);
		ck_assert_str_eq(mvmt_str(o, "result.state"), "Stopped");
		if (want == 1)
			ck_assert_str_eq(mvmt_str(o, "result.cause"), "killed by stop timeout");
		json_object_put(o);
		free(resp);
	}
	close(watch);
	mvmt_forget_fd(watch);
}
END_TEST

static void restart_daemon(void)
{
	close(fd);
	mvmt_forget_fd(fd);
	int st = mvmt_daemon_stop(&d, SIGKILL);
	ck_assert(WIFSIGNALED(st));
	mvmt_daemon_start(&d, "--allow-custom-guests", NULL);
	fd = mvmt_connect(d.sock);
}

START_TEST(test_kill9_readopt)
{
	create_guest("keep", NULL, NULL);
	create_guest("crash", NULL, NULL);
	create_guest("ends", NULL, NULL);
	json_object *r;
	int pids[3];
	const char *names[3] = { "keep", "crash", "ends" };
	for (int i = 0; i < 3; i++) {
		r = call_id("compute.vm.start", names[i], NULL);
		pids[i] = (int)mvmt_int(r, "result.pid");
		json_object_put(r);
	}
	wait_log("ends", "mvm-guest: ready");
	json_object *s = status("ends");
	char ends_id[64];
	snprintf(ends_id, sizeof(ends_id), "%s", mvmt_str(s, "id"));
	json_object_put(s);
	r = call_id("compute.vm.console.endpoint", "keep", NULL);
	char keep_console[256];
	snprintf(keep_console, sizeof(keep_console), "%s", mvmt_str(r, "result.path"));
	json_object_put(r);

	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGKILL);
	/* The console socket is the worker's (docs/density.md): a client
	 * attaches while mvmd is down, and the next mvmd serves it. */
	int early = mvmt_connect(keep_console);
	mvmt_write(early, "while-down\n", 11);
	/* while mvmd is down: one worker is killed, one is told to stop
	 * through its control socket (it writes its result file and exits) */
	kill(pids[1], SIGKILL);
	/* Gone before mvmd comes back (a loaded machine may take seconds to
	 * tear a VM down): else mvmd would rightly adopt it, still dying. */
	ck_assert(mvmt_wait_process_ended(pids[1], 20000));
	s = NULL;
	char ctl[256];
	snprintf(ctl, sizeof(ctl), "%s/vms/%s/ctl.sock", d.state, ends_id);
	kvm_ctl_t *k;
	ck_assert_int_eq(kvm_worker_connect(ctl, &k), 0);
	ck_assert_int_eq(kvm_ctl_send_stop(k, 1000), 0);
	kvm_msg_t msg;
	while (kvm_ctl_recv(k, 5000, &msg) == 1 && msg.type != KVM_MSG_RESULT)
		;
	kvm_ctl_free(k);
	ck_assert(mvmt_wait_process_ended(pids[2], 20000));

	mvmt_daemon_start(&d, "--allow-custom-guests", NULL);
	fd = mvmt_connect(d.sock);
	/* the client that came while mvmd was down is served now (first:
	 * the next client must not hear this echo) */
	char *line = mvmt_read_line(early, 30000);
	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(line, "mvm-guest: echo: while-down");
	free(line);

	/* the survivor: same worker, still Running, console and stop work */
	s = status("keep");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	ck_assert_int_eq(mvmt_int(s, "pid"), pids[0]);
	json_object_put(s);
	int c = console_connect("keep");
	usleep(50000);
	mvmt_write(c, "after-restart\n", 14);
	line = mvmt_read_line(c, 5000);
	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(line, "mvm-guest: echo: after-restart");
	free(line);
	close(c);
	mvmt_forget_fd(c);
	close(early);
	mvmt_forget_fd(early);

	/* the one killed while mvmd was down */
	s = status("crash");
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	ck_assert_str_eq(mvmt_str(s, "cause"), "worker lost while mvmd was down");
	json_object_put(s);

	/* the one that ended by itself while mvmd was down: its result file says how */
	s = status("ends");
	ck_assert_msg(strcmp(mvmt_str(s, "state"), "Stopped") == 0, "ends: %s", json_object_to_json_string(s));
	json_object_put(s);

	/* a second kill -9 right away changes nothing for the survivor */
	restart_daemon();
	r = call_id("compute.vm.stop", "keep", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	json_object_put(r);
	ck_assert(mvmt_wait_process_ended(pids[0], 5000));
}
END_TEST

/* mvmd died after spawning a worker but before recording its pid: the
 * restarted mvmd finds the worker through its control socket. */
START_TEST(test_readopt_without_recorded_pid)
{
	create_guest("nopid", NULL, NULL);
	json_object *r = call_id("compute.vm.start", "nopid", NULL);
	int pid = (int)mvmt_int(r, "result.pid");
	char path[256], cmd[1024];
	snprintf(path, sizeof(path), "%s/vms/%s/state.json", d.state, mvmt_str(r, "result.id"));
	json_object_put(r);
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGKILL);
	snprintf(cmd, sizeof(cmd),
		 "sed -i -e 's/\\(\"pid\":\\) *[0-9]*/\\1 0/' -e 's/\\(\"pid_starttime\":\\) *[0-9]*/\\1 0/' '%s'"
		 " && grep -q '\"pid\": *0' '%s'", path, path);
	ck_assert_int_eq(system(cmd), 0);
	mvmt_daemon_start(&d, "--allow-custom-guests", NULL);
	fd = mvmt_connect(d.sock);
	json_object *s = status("nopid");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	ck_assert_int_eq(mvmt_int(s, "pid"), pid);
	json_object_put(s);
	r = call_id("compute.vm.stop", "nopid", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	json_object_put(r);
	ck_assert(mvmt_wait_process_ended(pid, 5000));
}
END_TEST

START_TEST(test_worker_sandbox)
{
	create_guest("box", NULL, NULL);
	json_object *r = call_id("compute.vm.start", "box", NULL);
	int pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	char path[64], buf[8192];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "CapEff:\t0000000000000000"));
	ck_assert_ptr_nonnull(strstr(buf, "NoNewPrivs:\t1"));
	ck_assert_ptr_nonnull(strstr(buf, "Seccomp:\t2"));
	/* only the fds it needs: 0-2 and the few it was handed plus its own */
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	ck_assert_int_le(mvmt_count_fds(pid), 16);
}
END_TEST

START_TEST(test_without_kvm)
{
	mvmt_daemon_t d2;
	mvmt_daemon_init(&d2);
	mvmt_daemon_start(&d2, "--kvm-device", "/nonexistent/kvm", NULL);
	int c = mvmt_connect(d2.sock);
	json_object *r = mvmt_result(c, "compute.node.info", NULL);
	ck_assert(!json_object_get_boolean(mvmt_get(r, "backends.kvm.usable")));
	ck_assert_ptr_nonnull(strstr(mvmt_str(r, "backends.kvm.reason"), "/nonexistent/kvm"));
	json_object_put(r);
	json_object_put(mvmt_result(c, "compute.vm.create", "{\"name\":\"nokvm\",\"memory_mib\":16}"));
	r = mvmt_call(c, "compute.vm.start", "{\"id\":\"nokvm\"}");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32004);
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), "StartFailed");
	json_object_put(r);
	r = mvmt_result(c, "compute.vm.status", "{\"id\":\"nokvm\"}");
	ck_assert_ptr_nonnull(strstr(mvmt_str(r, "cause"), "/nonexistent/kvm"));
	json_object_put(r);
	close(c);
	mvmt_forget_fd(c);
	mvmt_daemon_cleanup(&d2);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "kvm",
		.timeout = 120,
		.setup = setup,
		.teardown = teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_lifecycle_and_restart_from_stopped),
			MVMT_TEST(test_console_two_clients_and_log),
			MVMT_TEST(test_hostile_guests),
			MVMT_TEST(test_fifty_concurrent),
			MVMT_TEST(test_idle_vm_fds),
			MVMT_TEST(test_staged_mass_stop),
			MVMT_TEST(test_queued_stop_waits_its_turn),
			MVMT_TEST(test_kill9_readopt),
			MVMT_TEST(test_readopt_without_recorded_pid),
			MVMT_TEST(test_worker_sandbox)),
	},
	{
		/* mvmd without a usable /dev/kvm: runs everywhere. */
		.name = "no-kvm",
		.timeout = 60,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_without_kvm)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd-kvm", .tcases = tcases)
