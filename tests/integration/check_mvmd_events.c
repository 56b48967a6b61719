/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How the end of a VM is told, through the real mvmd: a removal answers
 * the start and stop requests still waiting on the VM and reaches
 * compute.vm.events.tail as an event of its own ("to": "Removed"),
 * numbered after everything before it, across a restart too; and every
 * end of a VM (a guest fault, a workload's exit code, a crash, a stop the
 * guest ignored, a worker lost while mvmd was down) is in mvmd's log with
 * the VM's id, name and cause.
 *
 * The cases run on micro-VMs on the real /dev/kvm (tcase "kvm", skipped
 * where KVM is not usable), and on ch VMs driven against the
 * cloud-hypervisor TEST DOUBLE (tcase "ch-double"): what they check is
 * the manager's and the RPC layer's, the same for both backends, and the
 * double runs on any host. mvmd probes /dev/kvm before it calls the ch
 * backend usable, which only the real cloud-hypervisor needs: the double
 * gets a stand-in file (--kvm-device), and no warm kvm pool.
 */
#include <check.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvmt-main.h"
#include "mvmtest.h"

/* Far below the 30 s a start waits for and the 65 s of a stop with
 * timeout_ms 60000, far above what an answer takes on a loaded machine. */
#define ANSWER_WITHIN_MS 10000

typedef enum { BACKEND_KVM, BACKEND_CH_DOUBLE } backend_t;

static backend_t backend;
static mvmt_daemon_t d;
static int fd;
static char guests[PATH_MAX], fake_ch[PATH_MAX], fake_kvm[PATH_MAX], kernel[PATH_MAX];

static void start_daemon(void)
{
	if (backend == BACKEND_KVM)
		mvmt_daemon_start(&d, "--allow-custom-guests", NULL);
	else
		mvmt_daemon_start(&d, "--ch-binary", fake_ch, "--kvm-device", fake_kvm, "--kvm-pool", "0", NULL);
	fd = mvmt_connect(d.sock);
}

static void restart_daemon(int sig)
{
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, sig);
	start_daemon();
}

static void touch(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	const char *b = getenv("MVM_BUILD_DIR");
	char rel[PATH_MAX + 8];

	snprintf(rel, sizeof(rel), "%s/guest/tests", b && *b ? b : "build");
	ck_assert_ptr_nonnull(realpath(rel, guests));
	char real[PATH_MAX];
	snprintf(rel, sizeof(rel), "%s/tests/doubles/fake-cloud-hypervisor", b && *b ? b : "build");
	ck_assert_msg(realpath(rel, real), "%s is missing: run make", rel);
	mvmt_daemon_init(&d);
	/* The double's knobs are in <binary>.env (it gets none of mvmd's
	 * environment): this test's own link to it has its own. */
	snprintf(fake_ch, sizeof(fake_ch), "%s/cloud-hypervisor", d.dir);
	ck_assert_int_eq(symlink(real, fake_ch), 0);
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", d.dir);
	touch(kernel, "not a kernel: the double only checks it is readable\n");
	snprintf(fake_kvm, sizeof(fake_kvm), "%s/fake-kvm", d.dir);
	touch(fake_kvm, "");
	/* a guest that ignores the stop it is asked for, until its timeout */
	snprintf(rel, sizeof(rel), "%s.env", fake_ch);
	touch(rel, "MVM_FAKE_CH_IGNORE_POWER_BUTTON=1\n");
	start_daemon();
}

static void setup_kvm(void)
{
	backend = BACKEND_KVM;
	setup();
}

static void setup_ch(void)
{
	backend = BACKEND_CH_DOUBLE;
	setup();
}

/* Every VM a test left behind, removed with force: kvm workers and
 * cloud-hypervisor outlive mvmd by design. */
static void teardown(void)
{
	if (d.pid > 0) {
		json_object *r = mvmt_result(fd, "compute.vm.list", NULL);
		json_object *vms = mvmt_get(r, "vms");
		for (size_t i = 0; i < json_object_array_length(vms); i++) {
			char p[128];
			snprintf(p, sizeof(p), "{\"id\":\"%s\",\"force\":true}",
				 mvmt_str(json_object_array_get_idx(vms, i), "id"));
			json_object_put(mvmt_call(fd, "compute.vm.remove", p));
		}
		json_object_put(r);
	}
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_cleanup(&d);
}

/* A VM that boots and runs until it is stopped; a kvm VM may name a test
 * guest (tests/microvm-guests/<guest>, with its args). Its id (static). */
static const char *create_vm(const char *name, const char *guest, const char *args_json)
{
	static char id[64];
	char p[2 * PATH_MAX];

	if (backend == BACKEND_CH_DOUBLE)
		snprintf(p, sizeof(p), "{\"name\":\"%s\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\"}", name,
			 kernel);
	else if (guest)
		snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":16,\"guest\":{\"image\":\"%s/%s\"%s%s}}", name,
			 guests, guest, args_json ? ",\"args\":" : "", args_json ? args_json : "");
	else
		snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":16}", name);
	json_object *r = mvmt_result(fd, "compute.vm.create", p);
	ck_assert_str_eq(mvmt_str(r, "state"), "Configured");
	snprintf(id, sizeof(id), "%s", mvmt_str(r, "id"));
	json_object_put(r);
	return id;
}

/* A connection following every event from now on. */
static int follow(void)
{
	int c = mvmt_connect(d.sock);
	json_object *r = mvmt_result(c, "compute.vm.events.tail", "{\"follow\":true,\"since\":1000000000}");
	json_object_put(r);
	return c;
}

/* The follower's notifications until the removal of vm; that event. */
static json_object *wait_removed_event(int c, const char *vm)
{
	for (;;) {
		char *line = mvmt_read_line(c, ANSWER_WITHIN_MS);
		ck_assert_msg(line != NULL, "no removal event for %s", vm);
		json_object *n = json_tokener_parse(line);
		free(line);
		ck_assert_ptr_nonnull(n);
		ck_assert_str_eq(mvmt_str(n, "method"), "compute.vm.event");
		if (!strcmp(mvmt_str(n, "params.vm"), vm) && !strcmp(mvmt_str(n, "params.to"), "Removed")) {
			json_object *ev = json_object_get(mvmt_get(n, "params"));
			json_object_put(n);
			return ev;
		}
		json_object_put(n);
	}
}

/* Both answers to two requests sent on one line each, in one write (so
 * mvmd handles the second before anything else happens to the VM),
 * each within ANSWER_WITHIN_MS; ret[0] answers id 1, ret[1] id 2. */
static void pipeline(const char *first, const char *second, json_object *ret[2])
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "{\"jsonrpc\":\"2.0\",\"id\":1,%s}\n{\"jsonrpc\":\"2.0\",\"id\":2,%s}\n", first,
			 second);

	mvmt_write(fd, buf, (size_t)n);
	ret[0] = ret[1] = NULL;
	for (int i = 0; i < 2; i++) {
		char *line = mvmt_read_line(fd, ANSWER_WITHIN_MS);
		ck_assert_msg(line != NULL, "request %s unanswered after %d ms", ret[0] ? "2" : "1", ANSWER_WITHIN_MS);
		json_object *o = json_tokener_parse(line);
		ck_assert_msg(o != NULL, "bad answer %s", line);
		free(line);
		ret[mvmt_int(o, "id") - 1] = o;
	}
	ck_assert(ret[0] && ret[1]);
}

/* What a request waiting on a VM gets when the VM is removed. */
static void assert_removed_answer(json_object *o, const char *vm)
{
	ck_assert_msg(mvmt_get(o, "error") != NULL, "expected an error: %s", json_object_to_json_string(o));
	ck_assert_int_eq(mvmt_int(o, "error.code"), -32001);
	ck_assert_str_eq(mvmt_str(o, "error.data.id"), vm);
	ck_assert_str_eq(mvmt_str(o, "error.data.reason"), "removed while the request waited");
}

START_TEST(test_remove_answers_a_waiting_start)
{
	char vm[64], req[256];
	json_object *a[2];

	snprintf(vm, sizeof(vm), "%s", create_vm("r-start", NULL, NULL));
	int f = follow();
	/* start waits for Running; the forced remove comes first */
	snprintf(req, sizeof(req), "\"method\":\"compute.vm.start\",\"params\":{\"id\":\"%s\"}", vm);
	pipeline(req, "\"method\":\"compute.vm.remove\",\"params\":{\"id\":\"r-start\",\"force\":true}", a);
	ck_assert_msg(mvmt_get(a[1], "result.removed") != NULL, "remove: %s", json_object_to_json_string(a[1]));
	assert_removed_answer(a[0], vm);
	json_object_put(a[0]);
	json_object_put(a[1]);

	json_object *ev = wait_removed_event(f, vm);
	ck_assert_str_eq(mvmt_str(ev, "from"), "Starting");
	ck_assert_str_eq(mvmt_str(ev, "cause"), "removed by force: its worker was killed");
	json_object_put(ev);
	close(f);
	mvmt_forget_fd(f);
	/* the VM is gone, its name free */
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.status", "{\"id\":\"r-start\"}"), -32001);
	create_vm("r-start", NULL, NULL);
}
END_TEST

START_TEST(test_remove_answers_a_waiting_stop)
{
	char vm[64], req[256];
	json_object *a[2];

	/* kvm: the loop guest spins and never looks at a stop; ch: the
	 * double ignores the power button (setup) */
	snprintf(vm, sizeof(vm), "%s", create_vm("r-stop", "loop", NULL));
	json_object *r = mvmt_result(fd, "compute.vm.start", "{\"id\":\"r-stop\"}");
	ck_assert_str_eq(mvmt_str(r, "state"), "Running");
	pid_t pid = (pid_t)mvmt_int(r, "pid");
	json_object_put(r);
	int f = follow();
	snprintf(req, sizeof(req), "\"method\":\"compute.vm.stop\",\"params\":{\"id\":\"%s\",\"timeout_ms\":60000}", vm);
	pipeline(req, "\"method\":\"compute.vm.remove\",\"params\":{\"id\":\"r-stop\",\"force\":true}", a);
	ck_assert_msg(mvmt_get(a[1], "result.removed") != NULL, "remove: %s", json_object_to_json_string(a[1]));
	assert_removed_answer(a[0], vm);
	json_object_put(a[0]);
	json_object_put(a[1]);
	ck_assert(mvmt_wait_process_ended(pid, 20000));

	json_object *ev = wait_removed_event(f, vm);
	ck_assert_str_eq(mvmt_str(ev, "from"), "Stopping");
	json_object_put(ev);
	close(f);
	mvmt_forget_fd(f);
}
END_TEST

/* A removal without force, and the event in a later tail's reply: the
 * last of the VM's events, numbered after them, and the numbers of later
 * events (after a restart too) after it. */
START_TEST(test_removal_event_in_the_ring)
{
	char vm[64];

	snprintf(vm, sizeof(vm), "%s", create_vm("r-tail", NULL, NULL));
	json_object_put(mvmt_result(fd, "compute.vm.remove", "{\"id\":\"r-tail\"}"));

	json_object *r = mvmt_result(fd, "compute.vm.events.tail", NULL);
	json_object *evs = mvmt_get(r, "events");
	size_t n = json_object_array_length(evs);
	ck_assert_uint_ge(n, 3);
	int64_t prev = 0, removed_seq = 0;
	int mine = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(evs, i);
		ck_assert_int_gt(mvmt_int(e, "seq"), prev);
		prev = mvmt_int(e, "seq");
		if (strcmp(mvmt_str(e, "vm"), vm) != 0)
			continue;
		mine++;
		if (!strcmp(mvmt_str(e, "to"), "Removed")) {
			ck_assert_int_eq(removed_seq, 0); /* once */
			removed_seq = mvmt_int(e, "seq");
			ck_assert_str_eq(mvmt_str(e, "from"), "Configured");
			ck_assert_str_eq(mvmt_str(e, "cause"), "removed");
		}
	}
	ck_assert_int_eq(mine, 3); /* Provisioning, Configured, Removed */
	ck_assert_int_eq(removed_seq, prev);
	ck_assert_int_eq(mvmt_int(r, "next"), removed_seq + 1);
	json_object_put(r);

	/* a clean restart, then a kill -9: later events are numbered after
	 * the removal (its VM's file, gone, cannot say so) */
	for (int i = 0; i < 2; i++) {
		char name[32];
		restart_daemon(i ? SIGKILL : SIGTERM);
		snprintf(name, sizeof(name), "r-after-%d", i);
		create_vm(name, NULL, NULL);
		r = mvmt_call_id(fd, "compute.vm.events.tail", name, NULL);
		evs = mvmt_get(r, "result.events");
		ck_assert_uint_ge(json_object_array_length(evs), 1);
		ck_assert_int_gt(mvmt_int(json_object_array_get_idx(evs, 0), "seq"), removed_seq);
		json_object_put(r);
	}
}
END_TEST

/* compute.blob.put of build/wasm-programs/wl-<prog>.wasm; the hash (malloc'd). */
static char *put_prog(const char *prog)
{
	char rel[256], abs[PATH_MAX], p[PATH_MAX + 32];
	const char *b = getenv("MVM_BUILD_DIR");

	snprintf(rel, sizeof(rel), "%s/wasm-programs/wl-%s.wasm", b && *b ? b : "build", prog);
	ck_assert_msg(realpath(rel, abs) != NULL, "%s not built", rel);
	snprintf(p, sizeof(p), "{\"path\":\"%s\"}", abs);
	json_object *r = mvmt_result(fd, "compute.blob.put", p);
	char *h = strdup(mvmt_str(r, "hash"));
	json_object_put(r);
	return h;
}

/* The log line of a VM's end: priority, id, name, transition and cause. */
static void assert_end_logged(const char *prio, const char *vm, const char *name, const char *what, const char *cause)
{
	char head[256], quoted[80];

	snprintf(head, sizeof(head), "%svm %s", prio, vm);
	snprintf(quoted, sizeof(quoted), " \"%s\": ", name);
	char *line = mvmt_daemon_log_line(&d, 5000, head, quoted, what, cause, NULL);
	ck_assert_msg(line != NULL, "no %s%s log line for %s (%s, %s) in %s", prio, what, vm, name, cause, d.log);
	free(line);
}

/* Start name and wait for Running; the pid of its process. */
static pid_t start_running(const char *name)
{
	json_object *r = mvmt_call_id(fd, "compute.vm.start", name, NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start %s: %s", name, json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	pid_t pid = (pid_t)mvmt_int(r, "result.pid");
	json_object_put(r);
	return pid;
}

/* kvm: a guest fault (Failed), a workload that exits 3 (Stopped) and a
 * guest that ignores its stop (halted after the grace: Stopped). */
static int end_three_kvm(char vm[][64])
{
	char p[512];
	json_object *r;

	snprintf(vm[0], 64, "%s", create_vm("l-end0", "fault", "[\"ud2\"]"));
	json_object_put(mvmt_call_id(fd, "compute.vm.start", "l-end0", NULL));
	json_object_put(mvmt_wait_state(fd, "l-end0", "Failed"));
	assert_end_logged("<4>", vm[0], "l-end0", "-> Failed: ", "guest fault: ");

	char *h = put_prog("exit");
	snprintf(p, sizeof(p), "{\"name\":\"l-end1\",\"memory_mib\":16,\"workload\":{\"hash\":\"%s\",\"args\":[\"exit\",\"3\"]}}", h);
	free(h);
	r = mvmt_result(fd, "compute.vm.create", p);
	snprintf(vm[1], 64, "%s", mvmt_str(r, "id"));
	json_object_put(r);
	json_object_put(mvmt_call_id(fd, "compute.vm.start", "l-end1", NULL));
	r = mvmt_wait_state(fd, "l-end1", "Stopped");
	ck_assert_int_eq(mvmt_int(r, "exit_code"), 3);
	json_object_put(r);
	assert_end_logged("<5>", vm[1], "l-end1", "-> Stopped, exit code 3: ", "exited with code 3");

	snprintf(vm[2], 64, "%s", create_vm("l-end2", "loop", NULL));
	start_running("l-end2");
	/* the worker halts it after its grace (2 s), long before mvmd kills it */
	r = mvmt_call_id(fd, "compute.vm.stop", "l-end2", "\"timeout_ms\":60000");
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	assert_end_logged("<5>", vm[2], "l-end2", "Stopping -> Stopped: ", "ignored the stop");
	json_object_put(r);
	return 3;
}

/* ch: a cloud-hypervisor that dies (Failed), and one whose guest ignored
 * the power button until the stop's timeout (Stopped, escalated). */
static int end_two_ch(char vm[][64])
{
	json_object *r;

	snprintf(vm[0], 64, "%s", create_vm("l-end0", NULL, NULL));
	ck_assert_int_eq(kill(start_running("l-end0"), SIGKILL), 0);
	r = mvmt_wait_state(fd, "l-end0", "Failed");
	assert_end_logged("<4>", vm[0], "l-end0", "Running -> Failed: ", mvmt_str(r, "cause"));
	json_object_put(r);

	snprintf(vm[1], 64, "%s", create_vm("l-end1", NULL, NULL));
	start_running("l-end1");
	r = mvmt_call_id(fd, "compute.vm.stop", "l-end1", "\"timeout_ms\":100");
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	assert_end_logged("<5>", vm[1], "l-end1", "Stopping -> Stopped: ", mvmt_str(r, "result.cause"));
	json_object_put(r);
	return 2;
}

START_TEST(test_vm_ends_are_logged)
{
	char vm[4][64];
	json_object *r;
	int n = backend == BACKEND_KVM ? end_three_kvm(vm) : end_two_ch(vm);

	/* a worker killed while mvmd is down: Failed at the next start */
	snprintf(vm[n], sizeof(vm[n]), "%s", create_vm("l-lost", NULL, NULL));
	pid_t pid = start_running("l-lost");
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGKILL);
	kill(pid, SIGKILL);
	ck_assert(mvmt_wait_process_ended(pid, 20000));
	start_daemon();
	r = mvmt_status(fd, "l-lost");
	ck_assert_str_eq(mvmt_str(r, "state"), "Failed");
	/* from whatever state its file held: Running is written behind */
	assert_end_logged("<4>", vm[n], "l-lost", " -> Failed: ", mvmt_str(r, "cause"));
	json_object_put(r);

	/* once each */
	for (int i = 0; i <= n; i++) {
		char head[320], *line = NULL;
		int count = 0;
		size_t cap = 0;
		FILE *f = fopen(d.log, "r");
		ck_assert_ptr_nonnull(f);
		snprintf(head, sizeof(head), "vm %s \"", vm[i]);
		while (getline(&line, &cap, f) > 0)
			count += strstr(line, head) && strstr(line, " -> ");
		free(line);
		fclose(f);
		ck_assert_int_eq(count, 1);
	}
}
END_TEST

/* Each case runs once on each backend. */
static const mvmt_test_t cases[] = {
	MVMT_TEST(test_remove_answers_a_waiting_start),
	MVMT_TEST(test_remove_answers_a_waiting_stop),
	MVMT_TEST(test_removal_event_in_the_ring),
	MVMT_TEST(test_vm_ends_are_logged),
	{ 0 }
};

static const mvmt_tcase_t tcases[] = {
	{
		.name = "kvm",
		.timeout = 120,
		.setup = setup_kvm,
		.teardown = teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = cases,
	},
	{
		.name = "ch-double",
		.timeout = 120,
		.setup = setup_ch,
		.teardown = teardown,
		.tests = cases,
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd-events", .tcases = tcases)
