/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd killed at its fault points (build/bin/mvmd-fault, docs/hacking.md
 * "Fault injection"), then a plain mvmd started on the same state
 * directory: what it finds must be true. A start killed after its
 * Starting record is a StartFailed start, not a replay of the last run's
 * result; a remove killed half-way is a remove; a create or a blob put
 * killed half-way left nothing; temp files of killed writes are removed
 * at start, and nothing else is (docs/state.md).
 */
#include "durability-helpers.h"
#include "mvmt-main.h"

#define NOT_FOUND (-32001)

static void fault_setup(void)
{
	mvmt_daemon_init(&wl.d);
	wl.fd = -1;
}

static void fault_teardown(void)
{
	if (wl.fd >= 0) {
		close(wl.fd);
		mvmt_forget_fd(wl.fd);
	}
	if (wl.d.pid > 0)
		mvmt_stop_running_vms(&wl.d);
	mvmt_daemon_cleanup(&wl.d);
}

/* A plain mvmd on the same paths, after the fault build died. */
static void restart_plain(void)
{
	if (wl.fd >= 0) {
		close(wl.fd);
		mvmt_forget_fd(wl.fd);
	}
	mvmt_daemon_start(&wl.d, NULL);
	wl.fd = mvmt_connect(wl.d.sock);
}

static void die_on(const char *method, const char *params)
{
	char line[1024];

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"%s\",\"params\":%s}", method, params);
	dh_call_expect_death(&wl.d, wl.fd, line);
}

static char *create_plain(const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":16}", name);
	json_object *r = mvmt_result(wl.fd, "compute.vm.create", p);
	char *id = strdup(mvmt_str(r, "id"));
	json_object_put(r);
	return id;
}

static bool is_blob_tmp(const char *n)
{
	return strncmp(n, ".tmp.", 5) == 0;
}

/* Issue 11, defect 3: the second start dies right after its Starting
 * record, before a worker truncated the result file of the first run. */
START_TEST(test_start_killed_after_starting_is_no_replay)
{
	dh_start_fault(&wl.d, "start.starting-written:2", true);
	wl.fd = mvmt_connect(wl.d.sock);
	json_object *s = wl_run("three", "exit", 16, "\"args\":[\"exit\",\"3\"]");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 3);
	json_object_put(s);

	die_on("compute.vm.start", "{\"id\":\"three\"}");
	restart_plain();
	s = wl_status("three");
	/* not a second "guest exited with code 3" that never happened */
	ck_assert_int_eq(dh_count_transitions_to(s, "Stopped"), 1);
	ck_assert_str_eq(mvmt_str(s, "state"), "StartFailed");
	wl_assert_contains(mvmt_str(s, "cause"), "start interrupted");
	ck_assert_ptr_null(mvmt_get(s, "exit_code"));
	json_object_put(s);
	ck_assert_int_eq(dh_count_workers(wl.d.dir), 0);

	/* and it starts again */
	json_object_put(wl_call_id("compute.vm.start", "three", NULL));
	s = wl_wait_end("three", 10000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 3);
	ck_assert_int_eq(dh_count_transitions_to(s, "Stopped"), 2);
	json_object_put(s);
}
END_TEST

/* The same without /dev/kvm: the result file a last run left (planted
 * here) must not be read as the end of a start killed after its
 * Starting record. Also issue 11, item 13: such a start ends StartFailed,
 * not Failed "worker lost". */
START_TEST(test_start_killed_after_starting_ignores_old_result)
{
	static const char result[] = "mvm-result=1\noutcome=exit\nexit_code=3\nmessage=\n";
	char path[512];

	dh_start_fault(&wl.d, "start.starting-written", true);
	wl.fd = mvmt_connect(wl.d.sock);
	char *id = create_plain("old");
	snprintf(path, sizeof(path), "%s/vms/%s/result", wl.d.state, id);
	int rfd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(rfd, 0);
	ck_assert_int_eq(write(rfd, result, sizeof(result) - 1), (ssize_t)(sizeof(result) - 1));
	close(rfd);

	die_on("compute.vm.start", "{\"id\":\"old\"}");
	restart_plain();
	json_object *s = wl_status("old");
	ck_assert_int_eq(dh_count_transitions_to(s, "Stopped"), 0);
	ck_assert_str_eq(mvmt_str(s, "state"), "StartFailed");
	wl_assert_contains(mvmt_str(s, "cause"), "start interrupted");
	ck_assert_ptr_null(mvmt_get(s, "exit_code"));
	json_object_put(s);
	free(id);
}
END_TEST

/* Killed once the worker runs, before the start was answered: the
 * restarted mvmd finds the worker and owns it; no orphan, no second one. */
START_TEST(test_start_killed_after_spawn)
{
	dh_start_fault(&wl.d, "start.spawned", true);
	wl.fd = mvmt_connect(wl.d.sock);
	json_object_put(wl_create("sleeper", "sleep", 16, "\"args\":[\"sleep\",\"5000\",\"5\"]"));
	die_on("compute.vm.start", "{\"id\":\"sleeper\"}");
	ck_assert(dh_wait_workers(wl.d.dir, 1)); /* spawned, maybe not yet exec'd */
	restart_plain();
	json_object *s = wl_wait_end("sleeper", 20000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 5);
	json_object_put(s);
	ck_assert(dh_wait_workers(wl.d.dir, 0));
}
END_TEST

/* The same, but the worker dies too while mvmd is down. Its pid was
 * never written (it is written behind, after the answer), yet a worker
 * took the run and may have been answered Running: Failed, not a
 * StartFailed "start interrupted". */
START_TEST(test_start_killed_after_spawn_then_worker_lost)
{
	dh_start_fault(&wl.d, "start.spawned", true);
	wl.fd = mvmt_connect(wl.d.sock);
	json_object_put(wl_create("gone", "sleep", 16, "\"args\":[\"sleep\",\"60000\",\"0\"]"));
	die_on("compute.vm.start", "{\"id\":\"gone\"}");
	ck_assert(dh_wait_workers(wl.d.dir, 1));
	ck_assert_int_eq(dh_signal_procs(wl.d.dir, "mvm-vmm", SIGKILL), 1);
	ck_assert(dh_wait_workers(wl.d.dir, 0));
	restart_plain();
	json_object *s = wl_status("gone");
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	ck_assert_str_eq(mvmt_str(s, "cause"), "worker lost while mvmd was down");
	ck_assert_int_eq(dh_count_transitions_to(s, "StartFailed"), 0);
	json_object_put(s);
}
END_TEST

/* Killed when a RESULT is applied in memory, before it is written: the
 * result file still tells the restarted mvmd how the run ended. */
START_TEST(test_killed_before_result_written)
{
	dh_start_fault(&wl.d, "result.read", true);
	wl.fd = mvmt_connect(wl.d.sock);
	json_object_put(wl_create("four", "exit", 16, "\"args\":[\"exit\",\"4\"]"));
	die_on("compute.vm.start", "{\"id\":\"four\"}");
	restart_plain();
	json_object *s = wl_status("four");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 4);
	ck_assert_int_eq(dh_count_transitions_to(s, "Stopped"), 1);
	json_object_put(s);
}
END_TEST

/* Killed after Stopping was recorded, before the worker was asked: the
 * worker still runs, the restarted mvmd adopts it and can stop it. */
START_TEST(test_stop_killed_after_stopping)
{
	dh_start_fault(&wl.d, "stop.stopping-written", true);
	wl.fd = mvmt_connect(wl.d.sock);
	json_object_put(wl_create("long", "sleep", 16, "\"args\":[\"sleep\",\"60000\",\"0\"]"));
	json_object *r = wl_call_id("compute.vm.start", "long", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	die_on("compute.vm.stop", "{\"id\":\"long\"}");
	restart_plain();
	json_object *s = wl_status("long");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	json_object_put(s);
	ck_assert_int_eq(dh_count_workers(wl.d.dir), 1);
	json_object_put(wl_call_id("compute.vm.stop", "long", "\"force\":true"));
	s = wl_wait_end("long", 10000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	json_object_put(s);
	ck_assert(dh_wait_workers(wl.d.dir, 0));
}
END_TEST

/* Issue 11, defect 8: a remove killed after its rename, or with part of
 * the files gone, is a finished remove after the restart. */
static void remove_killed_at(const char *point)
{
	char vms[256], tomb[300];

	dh_start_fault(&wl.d, point, true);
	wl.fd = mvmt_connect(wl.d.sock);
	char *id = create_plain("doomed");
	free(create_plain("keeper"));
	die_on("compute.vm.remove", "{\"id\":\"doomed\"}");

	/* killed between the steps: the VM's directory is a tombstone */
	snprintf(vms, sizeof(vms), "%s/vms", wl.d.state);
	snprintf(tomb, sizeof(tomb), "%s/.%s.removing", vms, id);
	ck_assert_msg(access(tomb, F_OK) == 0, "no tombstone %s", tomb);
	restart_plain();
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.status", "{\"id\":\"doomed\"}"), NOT_FOUND);
	json_object *l = mvmt_result(wl.fd, "compute.vm.list", NULL);
	ck_assert_int_eq(json_object_array_length(mvmt_get(l, "vms")), 1);
	ck_assert_str_eq(mvmt_str(json_object_array_get_idx(mvmt_get(l, "vms"), 0), "name"), "keeper");
	json_object_put(l);
	ck_assert_int_eq(dh_count_entries(vms, NULL), 1); /* keeper only: no half VM, no tombstone */
	/* the name is free again, for a whole new VM */
	free(create_plain("doomed"));
	free(id);
}

START_TEST(test_remove_killed_after_tombstone)
{
	remove_killed_at("remove.tombstoned");
}
END_TEST

START_TEST(test_remove_killed_half_deleted)
{
	remove_killed_at("remove.half-deleted");
}
END_TEST

/* A create killed before its first state.json, or with its temp file
 * written but not renamed: no VM, no directory, no temp file. */
static void create_killed_at(const char *point)
{
	char vms[256];

	dh_start_fault(&wl.d, point, true);
	wl.fd = mvmt_connect(wl.d.sock);
	die_on("compute.vm.create", "{\"name\":\"half\",\"memory_mib\":16}");
	snprintf(vms, sizeof(vms), "%s/vms", wl.d.state);
	ck_assert_int_eq(dh_count_entries(vms, NULL), 1);
	restart_plain();
	ck_assert_int_eq(dh_count_entries(vms, NULL), 0);
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.status", "{\"id\":\"half\"}"), NOT_FOUND);
	free(create_plain("half"));
}

START_TEST(test_create_killed_after_mkdir)
{
	create_killed_at("create.dir-made");
}
END_TEST

START_TEST(test_create_killed_before_rename)
{
	create_killed_at("store.tmp-written");
}
END_TEST

/* A put killed with its temp file complete: no blob, no temp file. */
START_TEST(test_blob_put_killed_before_rename)
{
	char blobs[256];

	dh_start_fault(&wl.d, "blob.tmp-written", true);
	wl.fd = mvmt_connect(wl.d.sock);
	die_on("compute.blob.put", "{\"data\":\"aGVsbG8K\"}");
	snprintf(blobs, sizeof(blobs), "%s/blobs/sha256", wl.d.state);
	ck_assert_int_eq(dh_count_entries(blobs, is_blob_tmp), 1);
	restart_plain();
	ck_assert_int_eq(dh_count_entries(blobs, NULL), 0);
	json_object *r = mvmt_result(wl.fd, "compute.blob.put", "{\"data\":\"aGVsbG8K\"}");
	ck_assert_int_eq(mvmt_int(r, "size"), 6);
	json_object_put(r);
}
END_TEST

static void plant(const char *path)
{
	int pfd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_msg(pfd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(write(pfd, "{\"partial", 9), 9);
	close(pfd);
}

/* Issue 11, defect 11: the temp files a killed mvmd leaves are removed
 * at the next start: exactly those, never a file that only looks alike. */
START_TEST(test_temp_files_removed_at_start)
{
	char p[512], vmdir[300];
	static const char *const gone[] = { ".state.json.0badf00d.tmp", ".state.json.12345678.tmp" };
	static const char *const kept[] = { ".state.json.keep", "state.json.0badf00d.tmp", ".state.json.0BADF00D.tmp",
					    ".console.log.0badf00d.tmp" };

	mvmt_daemon_start(&wl.d, "--kvm-pool", "0", NULL);
	wl.fd = mvmt_connect(wl.d.sock);
	char *id = create_plain("tidy");
	ck_assert_int_eq(WEXITSTATUS(mvmt_daemon_stop(&wl.d, SIGTERM)), 0);

	snprintf(vmdir, sizeof(vmdir), "%s/vms/%s", wl.d.state, id);
	for (size_t i = 0; i < DH_N(gone); i++) {
		snprintf(p, sizeof(p), "%s/%s", vmdir, gone[i]);
		plant(p);
	}
	for (size_t i = 0; i < DH_N(kept); i++) {
		snprintf(p, sizeof(p), "%s/%s", vmdir, kept[i]);
		plant(p);
	}
	snprintf(p, sizeof(p), "%s/.events.seq.a1b2c3d4.tmp", wl.d.state);
	plant(p);
	snprintf(p, sizeof(p), "%s/.events.seq.keep", wl.d.state);
	plant(p);

	restart_plain();
	for (size_t i = 0; i < DH_N(gone); i++) {
		snprintf(p, sizeof(p), "%s/%s", vmdir, gone[i]);
		ck_assert_msg(access(p, F_OK) < 0 && errno == ENOENT, "%s survived the restart", p);
	}
	for (size_t i = 0; i < DH_N(kept); i++) {
		snprintf(p, sizeof(p), "%s/%s", vmdir, kept[i]);
		ck_assert_msg(access(p, F_OK) == 0, "%s was removed", p);
	}
	snprintf(p, sizeof(p), "%s/.events.seq.a1b2c3d4.tmp", wl.d.state);
	ck_assert_msg(access(p, F_OK) < 0, "%s survived the restart", p);
	snprintf(p, sizeof(p), "%s/.events.seq.keep", wl.d.state);
	ck_assert_msg(access(p, F_OK) == 0, "%s was removed", p);
	json_object *s = wl_status("tidy");
	ck_assert_str_eq(mvmt_str(s, "state"), "Configured");
	json_object_put(s);
	free(id);
}
END_TEST

/* A ch VM (the cloud-hypervisor TEST DOUBLE, so no /dev/kvm needed)
 * whose start was killed once cloud-hypervisor ran and its pid was
 * recorded, before Running was written (it is written behind); then
 * cloud-hypervisor dies while mvmd is down. The start may have been
 * answered Running: the VM is Failed, not StartFailed. */
/* The cloud-hypervisor double and what a ch VM needs without /dev/kvm. */
static void ch_double_paths(char *fake_ch, char *fake_kvm, size_t kvm_len, char *kernel, size_t kernel_len)
{
	char rel[PATH_MAX];
	const char *b = getenv("MVM_BUILD_DIR");

	snprintf(rel, sizeof(rel), "%s/tests/doubles/fake-cloud-hypervisor", b && *b ? b : "build");
	ck_assert_msg(realpath(rel, fake_ch), "%s is missing: run make", rel);
	snprintf(fake_kvm, kvm_len, "%s/fake-kvm", wl.d.dir);
	snprintf(kernel, kernel_len, "%s/vmlinuz", wl.d.dir);
	plant(fake_kvm);
	plant(kernel);
}

START_TEST(test_ch_start_killed_after_spawn_then_lost)
{
	char fake_ch[PATH_MAX], fake_kvm[300], kernel[300], p[600];

	ch_double_paths(fake_ch, fake_kvm, sizeof(fake_kvm), kernel, sizeof(kernel));
	const char *const extra[] = { "--ch-binary", fake_ch, "--kvm-device", fake_kvm, NULL };
	dh_start_fault_with(&wl.d, "start.spawned", true, extra);
	wl.fd = mvmt_connect(wl.d.sock);
	snprintf(p, sizeof(p), "{\"name\":\"chl\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\"}", kernel);
	json_object *r = mvmt_result(wl.fd, "compute.vm.create", p);
	char *id = strdup(mvmt_str(r, "id"));
	json_object_put(r);
	die_on("compute.vm.start", "{\"id\":\"chl\"}");

	char *text = dh_state_file(&wl.d, id);
	ck_assert_ptr_nonnull(text);
	json_object *disk = json_tokener_parse(text);
	free(text);
	free(id);
	ck_assert_ptr_nonnull(disk);
	ck_assert_str_eq(mvmt_str(disk, "runtime.state"), "Starting");
	pid_t pid = (pid_t)mvmt_int(disk, "runtime.pid");
	json_object_put(disk);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert(mvmt_wait_process_ended(pid, 10000));

	if (wl.fd >= 0) {
		close(wl.fd);
		mvmt_forget_fd(wl.fd);
	}
	mvmt_daemon_start(&wl.d, "--ch-binary", fake_ch, "--kvm-device", fake_kvm, "--kvm-pool", "0", NULL);
	wl.fd = mvmt_connect(wl.d.sock);
	json_object *s = wl_status("chl");
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	ck_assert_str_eq(mvmt_str(s, "cause"), "cloud-hypervisor ended while mvmd was down");
	ck_assert_int_eq(dh_count_transitions_to(s, "StartFailed"), 0);
	json_object_put(s);
}
END_TEST

/* An end is on disk before anyone hears of it. A ch VM (the TEST DOUBLE)
 * stopped through its power button; mvmd is killed between the write of
 * Stopped and its publication (fault point end.written). An mvmd that
 * told first would have answered the stop before it died, and a client
 * told Stopped must find it Stopped after the restart. */
START_TEST(test_ch_stop_answered_only_once_written)
{
	char fake_ch[PATH_MAX], fake_kvm[300], kernel[300], p[600];
	int st = -1;

	ch_double_paths(fake_ch, fake_kvm, sizeof(fake_kvm), kernel, sizeof(kernel));
	const char *const extra[] = { "--ch-binary", fake_ch, "--kvm-device", fake_kvm, NULL };
	dh_start_fault_with(&wl.d, "end.written", true, extra);
	wl.fd = mvmt_connect(wl.d.sock);
	snprintf(p, sizeof(p), "{\"name\":\"chs\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\"}", kernel);
	json_object *r = mvmt_result(wl.fd, "compute.vm.create", p);
	char *id = strdup(mvmt_str(r, "id"));
	json_object_put(r);
	r = wl_call_id("compute.vm.start", "chs", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);

	mvmt_send_line(wl.fd, "{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"compute.vm.stop\",\"params\":{\"id\":\"chs\"}}");
	char *told = mvmt_read_line(wl.fd, 20000);
	ck_assert_msg(told == NULL, "answered before Stopped was written: %.200s", told);
	ck_assert_int_eq(waitpid(wl.d.pid, &st, 0), wl.d.pid);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "mvmd-fault ended with status %d", st);
	wl.d.pid = 0;
	char *was = dh_disk_state(&wl.d, id);
	ck_assert_str_eq(was, "Stopped");
	free(was);
	free(id);
	if (wl.fd >= 0) {
		close(wl.fd);
		mvmt_forget_fd(wl.fd);
	}
	mvmt_daemon_start(&wl.d, "--ch-binary", fake_ch, "--kvm-device", fake_kvm, "--kvm-pool", "0", NULL);
	wl.fd = mvmt_connect(wl.d.sock);
	json_object *s = wl_status("chs");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_str_eq(mvmt_str(s, "cause"), "stopped (power button)");
	json_object_put(s);
}
END_TEST

/* Found by the chaos campaign (tests/chaos): mvmd killed while it wrote
 * the pid of the cloud-hypervisor it had just spawned (the third state
 * write of this VM: create, Starting, the pid). cloud-hypervisor must not
 * run on with no record naming it: a restarted mvmd would call the start
 * interrupted and never supervise, stop or reap it. */
START_TEST(test_ch_start_killed_recording_pid_leaves_no_orphan)
{
	char fake_ch[PATH_MAX], fake_kvm[300], kernel[300], p[600];

	ch_double_paths(fake_ch, fake_kvm, sizeof(fake_kvm), kernel, sizeof(kernel));
	const char *const extra[] = { "--ch-binary", fake_ch, "--kvm-device", fake_kvm, NULL };
	dh_start_fault_with(&wl.d, "store.tmp-written:3", true, extra);
	wl.fd = mvmt_connect(wl.d.sock);
	snprintf(p, sizeof(p), "{\"name\":\"cho\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\"}", kernel);
	json_object_put(mvmt_result(wl.fd, "compute.vm.create", p));
	die_on("compute.vm.start", "{\"id\":\"cho\"}");

	if (wl.fd >= 0) {
		close(wl.fd);
		mvmt_forget_fd(wl.fd);
	}
	mvmt_daemon_start(&wl.d, "--ch-binary", fake_ch, "--kvm-device", fake_kvm, "--kvm-pool", "0", NULL);
	wl.fd = mvmt_connect(wl.d.sock);
	json_object *s = wl_status("cho");
	ck_assert_str_eq(mvmt_str(s, "state"), "StartFailed");
	json_object_put(s);
	/* comm is cut to 15 bytes: "fake-cloud-hype" */
	int n = 1;
	for (int i = 0; i < 1000 && (n = dh_count_procs(wl.d.state, "fake-cloud-hype")) > 0; i++)
		usleep(10000);
	ck_assert_msg(n == 0, "a cloud-hypervisor runs on that no state file names");

	/* and a new start runs exactly one */
	s = mvmt_result(wl.fd, "compute.vm.start", "{\"id\":\"cho\"}");
	json_object_put(s);
	json_object_put(mvmt_wait_state(wl.fd, "cho", "Running"));
	ck_assert_int_eq(dh_count_procs(wl.d.state, "fake-cloud-hype"), 1);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "store",
		.timeout = 120,
		.setup = fault_setup,
		.teardown = fault_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_start_killed_after_starting_ignores_old_result),
			MVMT_TEST(test_remove_killed_after_tombstone),
			MVMT_TEST(test_remove_killed_half_deleted),
			MVMT_TEST(test_create_killed_after_mkdir),
			MVMT_TEST(test_create_killed_before_rename),
			MVMT_TEST(test_blob_put_killed_before_rename),
			MVMT_TEST(test_temp_files_removed_at_start),
			MVMT_TEST(test_ch_start_killed_after_spawn_then_lost),
			MVMT_TEST(test_ch_stop_answered_only_once_written),
			MVMT_TEST(test_ch_start_killed_recording_pid_leaves_no_orphan)),
	},
	{
		.name = "kvm",
		.timeout = 120,
		.setup = fault_setup,
		.teardown = fault_teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_start_killed_after_starting_is_no_replay),
			MVMT_TEST(test_start_killed_after_spawn),
			MVMT_TEST(test_killed_before_result_written),
			MVMT_TEST(test_start_killed_after_spawn_then_worker_lost),
			MVMT_TEST(test_stop_killed_after_stopping)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd_crash", .tcases = tcases)
