/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.vm.pause / resume / snapshot of ch VMs through the real mvmd,
 * against the cloud-hypervisor TEST DOUBLE (tests/lib/ch-api-double.c,
 * which enforces the states each request needs: vm.pause from Running,
 * vm.resume and vm.snapshot from Paused). What this proves: the exact
 * API requests and their order, the Paused state (status, events, its
 * transitions), stop and death while Paused, the errors (a state that
 * forbids it, for either backend), snapshots' directories and
 * a Paused VM that stays Paused across an mvmd restart. The fixture is
 * tests/lib/ch-daemon.c.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ch-daemon.h"
#include "mvmt-main.h"
#include "mvmtest.h"

static int start_vm(const char *name)
{
	chd_create(name);
	json_object *r = chd_call_id("compute.vm.start", name, NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	int pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	return pid;
}

/* The method's result, asserting it has one. */
static json_object *ok(const char *method, const char *name)
{
	json_object *r = chd_call_id(method, name, NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "%s failed: %s", method, json_object_to_json_string(r));
	json_object *res = json_object_get(mvmt_get(r, "result"));
	json_object_put(r);
	return res;
}

/* The method's error code, asserting data.reason (when want_reason) holds it. */
static int64_t err(const char *method, const char *name, const char *want_reason)
{
	json_object *r = chd_call_id(method, name, NULL);
	ck_assert_msg(mvmt_get(r, "error") != NULL, "%s answered: %s", method, json_object_to_json_string(r));
	if (want_reason)
		ck_assert_msg(strstr(mvmt_str(r, "error.data.reason"), want_reason), "%s", json_object_to_json_string(r));
	int64_t code = mvmt_int(r, "error.code");
	json_object_put(r);
	return code;
}

static const char *requests(const char *name)
{
	static char path[512];

	chd_vm_file(name, "fake-ch.requests", path, sizeof(path));
	const char *reqs = chd_slurp(path);
	ck_assert_ptr_nonnull(reqs);
	return reqs;
}

/* The VM's transitions as "From>To:cause;" ..., from its status. */
static void transitions(const char *name, char *buf, size_t size)
{
	json_object *s = chd_status(name), *t = mvmt_get(s, "transitions");
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; t && i < json_object_array_length(t); i++) {
		json_object *e = json_object_array_get_idx(t, i), *v;
		const char *cause = json_object_object_get_ex(e, "cause", &v) && v ? json_object_get_string(v) : "";
		n += (size_t)snprintf(buf + n, size - n, "%s>%s:%s;", mvmt_str(e, "from"), mvmt_str(e, "to"), cause);
		ck_assert_uint_lt(n, size);
	}
	json_object_put(s);
}

START_TEST(test_pause_resume)
{
	char tr[4096];

	chd_start(NULL);
	int pid = start_vm("p");
	json_object *r = ok("compute.vm.pause", "p");
	ck_assert_str_eq(mvmt_str(r, "state"), "Paused");
	ck_assert_str_eq(mvmt_str(r, "cause"), "paused");
	ck_assert_int_eq(mvmt_int(r, "pid"), pid);
	json_object_put(r);
	json_object *s = chd_status("p");
	ck_assert_str_eq(mvmt_str(s, "state"), "Paused");
	json_object_put(s);
	/* list shows it, and filters on it */
	json_object *l = mvmt_result(chd.fd, "compute.vm.list", "{\"state\":\"Paused\"}");
	const char *ls = json_object_to_json_string_ext(l, JSON_C_TO_STRING_PLAIN);
	ck_assert_msg(strstr(ls, "\"name\":\"p\""), "%s", ls);
	json_object_put(l);
	/* already paused: pause is refused, nothing sent */
	ck_assert_int_eq(err("compute.vm.pause", "p", "pause is allowed from Running"), -32002);

	r = ok("compute.vm.resume", "p");
	ck_assert_str_eq(mvmt_str(r, "state"), "Running");
	ck_assert_str_eq(mvmt_str(r, "cause"), "resumed");
	json_object_put(r);
	ck_assert_int_eq(err("compute.vm.resume", "p", "resume is allowed from Paused"), -32002);
	ck_assert_msg(strstr(requests("p"), "GET /api/v1/vm.info\nPUT /api/v1/vm.pause\nPUT /api/v1/vm.resume\n"), "%s",
		      requests("p"));
	transitions("p", tr, sizeof(tr));
	ck_assert_msg(strstr(tr, "Starting>Running:guest running;Running>Paused:paused;Paused>Running:resumed;"), "%s", tr);

	/* the events stream has them too */
	json_object *ev = mvmt_result(chd.fd, "compute.vm.events.tail", "{\"id\":\"p\"}");
	const char *evs = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
	ck_assert_msg(strstr(evs, "\"to\":\"Paused\""), "%s", evs);
	json_object_put(ev);
}
END_TEST

START_TEST(test_stop_while_paused)
{
	char tr[4096];

	chd_start(NULL);
	int pid = start_vm("s");
	json_object_put(ok("compute.vm.pause", "s"));
	/* A paused guest cannot hear the power button: vm.shutdown at once. */
	json_object *r = ok("compute.vm.stop", "s");
	ck_assert_str_eq(mvmt_str(r, "state"), "Stopped");
	json_object_put(r);
	chd_wait_ended(pid);
	ck_assert_msg(strstr(requests("s"), "PUT /api/v1/vm.pause\nPUT /api/v1/vm.shutdown\nPUT /api/v1/vmm.shutdown\n"),
		      "%s", requests("s"));
	ck_assert_ptr_null(strstr(requests("s"), "power-button"));
	transitions("s", tr, sizeof(tr));
	ck_assert_msg(strstr(tr, "Running>Paused:paused;Paused>Stopping:stop requested;Stopping>Stopped:"), "%s", tr);

	/* Stopped: nothing to pause, resume or snapshot */
	ck_assert_int_eq(err("compute.vm.pause", "s", "pause is allowed from Running"), -32002);
	ck_assert_int_eq(err("compute.vm.resume", "s", "resume is allowed from Paused"), -32002);
	ck_assert_int_eq(err("compute.vm.snapshot", "s", "snapshot is allowed from Running and Paused"), -32002);
	/* a refused snapshot leaves no directory */
	char dir[512];
	chd_vm_file("s", "snapshots/1", dir, sizeof(dir));
	ck_assert_int_ne(access(dir, F_OK), 0);
}
END_TEST

START_TEST(test_force_stop_and_death_while_paused)
{
	char tr[4096];

	chd_start(NULL);
	start_vm("f");
	json_object_put(ok("compute.vm.pause", "f"));
	json_object *r = chd_call_id("compute.vm.stop", "f", "\"force\":true");
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	json_object_put(r);
	transitions("f", tr, sizeof(tr));
	ck_assert_msg(strstr(tr, "Running>Paused:paused;Paused>Stopping:forced stop requested;Stopping>Stopped:"), "%s", tr);

	/* cloud-hypervisor dies under a paused VM: Failed */
	int pid = start_vm("d");
	json_object_put(ok("compute.vm.pause", "d"));
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	json_object *s = chd_wait_state("d", "Failed");
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	json_object_put(s);
	transitions("d", tr, sizeof(tr));
	ck_assert_msg(strstr(tr, "Running>Paused:paused;Paused>Failed:"), "%s", tr);
}
END_TEST

START_TEST(test_invalid_state_and_kvm)
{
	chd_start(NULL);
	chd_create("c");
	/* Configured: no process to pause */
	ck_assert_int_eq(err("compute.vm.pause", "c", "pause is allowed from Running"), -32002);
	ck_assert_int_eq(err("compute.vm.snapshot", "c", "snapshot is allowed from Running and Paused"), -32002);
	json_object *s = chd_status("c");
	ck_assert_str_eq(mvmt_str(s, "state"), "Configured");
	json_object_put(s);

	/* A kvm VM is checked the same way (the kvm backend pauses and
	 * snapshots too): nothing to pause before it runs. */
	json_object_put(mvmt_result(chd.fd, "compute.vm.create", "{\"name\":\"k\",\"memory_mib\":64,\"vcpus\":1}"));
	ck_assert_int_eq(err("compute.vm.pause", "k", "pause is allowed from Running"), -32002);
	ck_assert_int_eq(err("compute.vm.resume", "k", "resume is allowed from Paused"), -32002);
	ck_assert_int_eq(err("compute.vm.snapshot", "k", "snapshot is allowed from Running and Paused"), -32002);
	char dir[512];
	chd_vm_file("k", "snapshots", dir, sizeof(dir));
	ck_assert_int_ne(access(dir, F_OK), 0);
	/* unknown VM */
	ck_assert_int_eq(err("compute.vm.pause", "nosuch", NULL), -32001);
}
END_TEST

/* {"destination_url":"file://DIR"}'s length, as the double logs it. */
static size_t snapshot_body_len(const char *dir)
{
	return strlen("{\"destination_url\":\"file://\"}") + strlen(dir);
}

static void assert_snapshot_files(const char *dir)
{
	char path[600], cfg[512];

	snprintf(path, sizeof(path), "%s/config.json", dir);
	const char *written = chd_slurp(path);
	ck_assert_msg(written != NULL, "no %s", path);
	/* the VmConfig the VM was created with */
	char *copy = strdup(written);
	chd_vm_file("snap", "fake-ch.config", cfg, sizeof(cfg));
	json_object *a = json_tokener_parse(copy), *b = json_tokener_parse(chd_slurp(cfg));
	ck_assert(a && b && json_object_equal(a, b));
	json_object_put(a);
	json_object_put(b);
	free(copy);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	ck_assert_ptr_nonnull(chd_slurp(path));
	struct stat st;
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
}

START_TEST(test_snapshot)
{
	char dir1[512], dir2[512], expect[2048], tr[4096];

	chd_start(NULL);
	start_vm("snap");
	chd_vm_file("snap", "snapshots/1", dir1, sizeof(dir1));
	chd_vm_file("snap", "snapshots/2", dir2, sizeof(dir2));

	/* Running: paused around the snapshot, Running after it. */
	json_object *r = ok("compute.vm.snapshot", "snap");
	ck_assert_str_eq(mvmt_str(r, "state"), "Running");
	ck_assert_str_eq(mvmt_str(r, "snapshot.name"), "1");
	ck_assert_str_eq(mvmt_str(r, "snapshot.path"), dir1);
	ck_assert(strlen(mvmt_str(r, "snapshot.created")) > 20);
	json_object_put(r);
	assert_snapshot_files(dir1);
	snprintf(expect, sizeof(expect), "PUT /api/v1/vm.pause\nPUT /api/v1/vm.snapshot body=%zu\nPUT /api/v1/vm.resume\n",
		 snapshot_body_len(dir1));
	ck_assert_msg(strstr(requests("snap"), expect), "%s", requests("snap"));
	transitions("snap", tr, sizeof(tr));
	ck_assert_msg(strstr(tr, "Running>Paused:paused for a snapshot;Paused>Running:resumed after a snapshot;"), "%s", tr);

	/* Paused: as it is, and it stays Paused. */
	json_object_put(ok("compute.vm.pause", "snap"));
	r = ok("compute.vm.snapshot", "snap");
	ck_assert_str_eq(mvmt_str(r, "state"), "Paused");
	ck_assert_str_eq(mvmt_str(r, "snapshot.name"), "2");
	ck_assert_str_eq(mvmt_str(r, "snapshot.path"), dir2);
	json_object_put(r);
	assert_snapshot_files(dir2);
	snprintf(expect, sizeof(expect), "PUT /api/v1/vm.resume\nPUT /api/v1/vm.pause\nPUT /api/v1/vm.snapshot body=%zu\n",
		 snapshot_body_len(dir2));
	const char *reqs = requests("snap");
	ck_assert_msg(strstr(reqs, expect) && !strstr(strstr(reqs, expect) + strlen(expect), "vm."), "%s", reqs);
	json_object *s = chd_status("snap");
	ck_assert_str_eq(mvmt_str(s, "state"), "Paused");
	json_object_put(s);
	/* the VM's removal takes its snapshots with it */
	json_object_put(chd_call_id("compute.vm.remove", "snap", "\"force\":true"));
	ck_assert_int_ne(access(dir1, F_OK), 0);
}
END_TEST

/* A snapshot cloud-hypervisor fails halfway (it wrote part of its files)
 * leaves no directory; a VM paused for it is resumed, then the error. */
START_TEST(test_snapshot_refused)
{
	char dir[512], tr[4096];

	chd_knob("MVM_FAKE_CH_REFUSE_SNAPSHOT", "1");
	chd_start(NULL);
	start_vm("bad");
	chd_vm_file("bad", "snapshots/1", dir, sizeof(dir));
	json_object *r = chd_call_id("compute.vm.snapshot", "bad", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32000);
	ck_assert_str_eq(mvmt_str(r, "error.message"), "Snapshot failed");
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), "Running");
	ck_assert_msg(strstr(mvmt_str(r, "error.data.reason"), "cloud-hypervisor refused vm.snapshot (HTTP 500): "
							       "Error creating snapshot: No space left on device"),
		      "%s", json_object_to_json_string(r));
	json_object_put(r);
	ck_assert_int_ne(access(dir, F_OK), 0);
	ck_assert_msg(strstr(requests("bad"), "PUT /api/v1/vm.pause\nPUT /api/v1/vm.snapshot body="), "%s", requests("bad"));
	ck_assert_msg(strstr(strstr(requests("bad"), "PUT /api/v1/vm.snapshot body="), "\nPUT /api/v1/vm.resume\n"), "%s",
		      requests("bad"));
	transitions("bad", tr, sizeof(tr));
	ck_assert_msg(strstr(tr, "Running>Paused:paused for a snapshot;Paused>Running:resumed after a snapshot;"), "%s", tr);

	/* Paused: it stays Paused, and the next number is still 1. */
	json_object_put(ok("compute.vm.pause", "bad"));
	r = chd_call_id("compute.vm.snapshot", "bad", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32000);
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), "Paused");
	json_object_put(r);
	ck_assert_int_ne(access(dir, F_OK), 0);
	json_object *s = chd_status("bad");
	ck_assert_str_eq(mvmt_str(s, "state"), "Paused");
	json_object_put(s);
}
END_TEST

START_TEST(test_paused_across_restart)
{
	chd_start(NULL);
	int pid = start_vm("keep");
	json_object_put(ok("compute.vm.pause", "keep"));

	/* kill -9 mvmd: cloud-hypervisor keeps the VM paused. */
	close(chd.fd);
	mvmt_forget_fd(chd.fd);
	mvmt_daemon_stop(&chd.d, SIGKILL);
	chd_start(NULL);
	json_object *s = chd_status("keep");
	ck_assert_str_eq(mvmt_str(s, "state"), "Paused");
	ck_assert_int_eq(mvmt_int(s, "pid"), pid);
	json_object_put(s);
	ck_assert(!mvmt_process_ended(pid));
	/* The double resumes only a VM it holds Paused: it still was. */
	json_object *r = ok("compute.vm.resume", "keep");
	ck_assert_str_eq(mvmt_str(r, "state"), "Running");
	json_object_put(r);

	/* And a clean restart (SIGTERM) keeps it Paused as well. */
	json_object_put(ok("compute.vm.pause", "keep"));
	close(chd.fd);
	mvmt_forget_fd(chd.fd);
	mvmt_daemon_stop(&chd.d, SIGTERM);
	chd_start(NULL);
	s = chd_status("keep");
	ck_assert_str_eq(mvmt_str(s, "state"), "Paused");
	json_object_put(s);
	json_object_put(ok("compute.vm.snapshot", "keep"));
	json_object_put(ok("compute.vm.resume", "keep"));
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "mvmd_ch_pause",
		.timeout = 60,
		.setup = chd_setup,
		.teardown = chd_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_pause_resume),
			MVMT_TEST(test_stop_while_paused),
			MVMT_TEST(test_force_stop_and_death_while_paused),
			MVMT_TEST(test_invalid_state_and_kvm),
			MVMT_TEST(test_snapshot),
			MVMT_TEST(test_snapshot_refused),
			MVMT_TEST(test_paused_across_restart)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd_ch_pause", .tcases = tcases)
