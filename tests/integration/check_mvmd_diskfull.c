/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd with its state directory on a full disk: a 2 MiB tmpfs filled up
 * by the test. Each operation that needs a write (create, start, the end
 * of a workload, stop, remove, blob.put) either fails with a clear error
 * (-32005, data.errno "ENOSPC", data.reason) and leaves nothing behind,
 * or, for what already happened (a workload's end), is kept in memory and
 * written once space comes back, at the latest when mvmd exits
 * (docs/state.md, "Writes that fail"). Needs root (mount).
 */
#include <limits.h>
#include <sched.h>
#include <sys/mount.h>

#include "durability-helpers.h"
#include "mvmt-main.h"

#define RESOURCE_LIMIT (-32005)
#define NOT_FOUND (-32001)

static bool mounted;
static char fake_ch[PATH_MAX], kernel[256];

/* mvmd with the cloud-hypervisor double (tests/doubles) and no warm
 * pool: every kvm start spawns its worker then and there. Without a
 * usable /dev/kvm the double's VMs still run (the ch backend only opens
 * the device to check it); the kvm cases skip. */
static void start_mvmd(void)
{
	mvmt_daemon_start(&wl.d, "--kvm-pool", "0", "--ch-binary", fake_ch, "--kvm-device",
			  mvmt_kvm_skip_reason() ? "/dev/null" : "/dev/kvm", NULL);
	wl.fd = mvmt_connect(wl.d.sock);
}

static void full_setup(void)
{
	const char *b = getenv("MVM_BUILD_DIR");
	char rel[256];

	snprintf(rel, sizeof(rel), "%s/tests/doubles/fake-cloud-hypervisor", b && *b ? b : "build");
	ck_assert_msg(realpath(rel, fake_ch), "%s is missing: run make", rel);
	mvmt_daemon_init(&wl.d);
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", wl.d.dir);
	FILE *f = fopen(kernel, "w");
	ck_assert_ptr_nonnull(f);
	fputs("not a kernel: the double only checks it is readable\n", f);
	fclose(f);
	ck_assert(mkdir(wl.d.state, 0700) == 0 || errno == EEXIST);
	ck_assert_msg(mount("tmpfs", wl.d.state, "tmpfs", MS_NOSUID | MS_NODEV, "size=2m,mode=0700") == 0,
		      "mount tmpfs on %s: %s", wl.d.state, strerror(errno));
	mounted = true;
	start_mvmd();
}

static void full_teardown(void)
{
	close(wl.fd);
	mvmt_forget_fd(wl.fd);
	if (wl.d.pid > 0)
		mvmt_stop_running_vms(&wl.d); /* workers and doubles outlive mvmd */
	mvmt_daemon_stop(&wl.d, SIGKILL);
	if (mounted)
		umount2(wl.d.state, MNT_DETACH);
	mvmt_daemon_cleanup(&wl.d);
}

static char filler[300];

/* Take every free page of the tmpfs. */
static void fill_disk(void)
{
	static char buf[65536];
	int ffd;

	snprintf(filler, sizeof(filler), "%s/filler", wl.d.state);
	ffd = open(filler, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	ck_assert_int_ge(ffd, 0);
	memset(buf, 'x', sizeof(buf));
	for (size_t chunk = sizeof(buf); chunk >= 512; chunk /= 2)
		while (write(ffd, buf, chunk) == (ssize_t)chunk)
			;
	close(ffd);
}

static void free_disk(void)
{
	ck_assert_int_eq(unlink(filler), 0);
}

static void restart(void)
{
	close(wl.fd);
	mvmt_forget_fd(wl.fd);
	ck_assert_int_eq(WEXITSTATUS(mvmt_daemon_stop(&wl.d, SIGTERM)), 0);
	start_mvmd();
}

static void create_ch(const char *name)
{
	char p[512];

	snprintf(p, sizeof(p), "{\"name\":\"%s\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\"}", name, kernel);
	json_object_put(mvmt_result(wl.fd, "compute.vm.create", p));
}

static int count_ch(void)
{
	return dh_count_procs(wl.d.dir, "fake-cloud");
}

static bool wait_ch(int n)
{
	for (int i = 0; i < 1000 && count_ch() != n; i++)
		usleep(10000);
	return count_ch() == n;
}

static char *vm_id(const char *name)
{
	json_object *s = wl_status(name);
	char *id = strdup(mvmt_str(s, "id"));
	json_object_put(s);
	return id;
}

/* The error of a response: -32005, errno ENOSPC, and a reason. */
static void assert_enospc(json_object *r)
{
	ck_assert_msg(mvmt_get(r, "error") != NULL, "no error: %s", json_object_to_json_string(r));
	ck_assert_int_eq(mvmt_int(r, "error.code"), RESOURCE_LIMIT);
	ck_assert_str_eq(mvmt_str(r, "error.data.errno"), "ENOSPC");
	ck_assert(strlen(mvmt_str(r, "error.data.reason")) > 0);
}

/* Poll the VM's state.json (not mvmd) until it says state, 15 s. */
static bool wait_disk_state(const char *id, const char *state)
{
	for (int i = 0; i < 1500; i++) {
		char *s = dh_disk_state(&wl.d, id);
		bool ok = strcmp(s, state) == 0;
		free(s);
		if (ok)
			return true;
		usleep(10000);
	}
	return false;
}

/* Issue 11, defect 2: a start whose Starting record cannot be written
 * fails before anything is spawned, and the VM stays as it was (here a
 * cloud-hypervisor VM; below a kvm workload). */
START_TEST(test_start_refused_when_full_ch)
{
	create_ch("web");
	char *id = vm_id("web");
	fill_disk();

	json_object *r = wl_call_id("compute.vm.start", "web", NULL);
	assert_enospc(r);
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), "Configured");
	json_object_put(r);
	ck_assert_int_eq(count_ch(), 0);
	json_object *s = wl_status("web");
	ck_assert_str_eq(mvmt_str(s, "state"), "Configured");
	ck_assert_int_eq(dh_count_transitions_to(s, "Starting"), 0);
	json_object_put(s);
	char *disk = dh_disk_state(&wl.d, id);
	ck_assert_str_eq(disk, "Configured");
	free(disk);

	free_disk();
	r = wl_call_id("compute.vm.start", "web", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	ck_assert_int_eq(count_ch(), 1);
	restart();
	s = wl_status("web");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	json_object_put(s);
	ck_assert_int_eq(count_ch(), 1);
	json_object_put(wl_call_id("compute.vm.stop", "web", "\"force\":true"));
	ck_assert(wait_ch(0));
	free(id);
}
END_TEST

START_TEST(test_start_refused_when_full)
{
	json_object_put(wl_create("full", "sleep", 16, "\"args\":[\"sleep\",\"3000\",\"0\"]"));
	char *id = vm_id("full");
	fill_disk();

	json_object *r = wl_call_id("compute.vm.start", "full", NULL);
	assert_enospc(r);
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), "Configured");
	json_object_put(r);
	ck_assert_int_eq(dh_count_workers(wl.d.dir), 0);
	json_object *s = wl_status("full");
	ck_assert_str_eq(mvmt_str(s, "state"), "Configured");
	ck_assert_int_eq(dh_count_transitions_to(s, "Starting"), 0);
	json_object_put(s);
	char *disk = dh_disk_state(&wl.d, id);
	ck_assert_str_eq(disk, "Configured");
	free(disk);

	/* space back: it starts, and a restarted mvmd owns that one worker */
	free_disk();
	r = wl_call_id("compute.vm.start", "full", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	ck_assert_int_eq(dh_count_workers(wl.d.dir), 1);
	restart();
	ck_assert_int_eq(dh_count_workers(wl.d.dir), 1);
	s = wl_wait_end("full", 20000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
	json_object_put(s);
	ck_assert(dh_wait_workers(wl.d.dir, 0));
	free(id);
}
END_TEST

/* A workload that ends while the disk is full: Stopped with its exit
 * code in memory; returns the VM's id once that is so and the file still
 * says otherwise. */
static char *end_while_full(const char *name)
{
	json_object_put(wl_create(name, "sleep", 16, "\"args\":[\"sleep\",\"1500\",\"7\"]"));
	char *id = vm_id(name);
	json_object *r = wl_call_id("compute.vm.start", name, NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	fill_disk();
	json_object *s = wl_wait_end(name, 20000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 7);
	json_object_put(s);
	char *disk = dh_disk_state(&wl.d, id);
	ck_assert_str_ne(disk, "Stopped");
	free(disk);
	return id;
}

static void assert_disk_stopped_7(const char *id)
{
	char *text = dh_state_file(&wl.d, id);
	json_object *doc = json_tokener_parse(text);
	ck_assert_str_eq(mvmt_str(doc, "runtime.state"), "Stopped");
	ck_assert_int_eq(mvmt_int(doc, "runtime.exit_code"), 7);
	json_object_put(doc);
	free(text);
}

/* Issue 11, defect 4: that end is written once space is back, with no
 * request to prompt it. */
START_TEST(test_end_written_when_space_returns)
{
	char *id = end_while_full("late");
	free_disk();
	ck_assert_msg(wait_disk_state(id, "Stopped"), "the end never reached the disk");
	assert_disk_stopped_7(id);
	free(id);
}
END_TEST

/* ... and at the latest when mvmd exits cleanly. */
START_TEST(test_end_written_at_sigterm)
{
	char *id = end_while_full("term");
	free_disk();
	close(wl.fd);
	mvmt_forget_fd(wl.fd);
	ck_assert_int_eq(WEXITSTATUS(mvmt_daemon_stop(&wl.d, SIGTERM)), 0);
	assert_disk_stopped_7(id);
	start_mvmd();
	json_object *s = wl_status("term");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 7);
	json_object_put(s);
	free(id);
}
END_TEST

/* A create that cannot write its state file leaves no VM and no
 * directory; the same create works once there is space. */
START_TEST(test_create_when_full)
{
	char vms[256];

	snprintf(vms, sizeof(vms), "%s/vms", wl.d.state);
	fill_disk();
	json_object *r = mvmt_call(wl.fd, "compute.vm.create", "{\"name\":\"nospace\",\"memory_mib\":16}");
	assert_enospc(r);
	json_object_put(r);
	ck_assert_int_eq(dh_count_entries(vms, NULL), 0);
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.status", "{\"id\":\"nospace\"}"), NOT_FOUND);
	free_disk();
	r = mvmt_result(wl.fd, "compute.vm.create", "{\"name\":\"nospace\",\"memory_mib\":16}");
	ck_assert_str_eq(mvmt_str(r, "state"), "Configured");
	json_object_put(r);
}
END_TEST

/* A stop acknowledged on a full disk: Stopped in memory at once, on disk
 * once space is back (issue 11, defect 4, without a workload) or at a
 * clean exit. Remove works on a full disk (it frees space), and a removed
 * VM stays removed. */
static char *stop_while_full(const char *name)
{
	create_ch(name);
	char *id = vm_id(name);
	json_object *r = wl_call_id("compute.vm.start", name, NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	fill_disk();
	r = wl_call_id("compute.vm.stop", name, NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	json_object_put(r);
	char *disk = dh_disk_state(&wl.d, id);
	ck_assert_str_ne(disk, "Stopped");
	free(disk);
	return id;
}

START_TEST(test_stop_written_when_space_returns)
{
	char *id = stop_while_full("halt");

	free_disk();
	ck_assert_msg(wait_disk_state(id, "Stopped"), "the stop never reached the disk");
	restart();
	json_object *s = wl_status("halt");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	json_object_put(s);
	free(id);
}
END_TEST

START_TEST(test_stop_written_at_sigterm)
{
	char *id = stop_while_full("bye");

	free_disk();
	close(wl.fd);
	mvmt_forget_fd(wl.fd);
	ck_assert_int_eq(WEXITSTATUS(mvmt_daemon_stop(&wl.d, SIGTERM)), 0);
	char *disk = dh_disk_state(&wl.d, id);
	ck_assert_str_eq(disk, "Stopped");
	free(disk);
	start_mvmd();
	json_object *s = wl_status("bye");
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	json_object_put(s);
	free(id);
}
END_TEST

START_TEST(test_remove_when_full)
{
	char vms[256];

	create_ch("r1");
	create_ch("r2");
	json_object_put(wl_call_id("compute.vm.start", "r2", NULL));
	fill_disk();
	json_object *r = wl_call_id("compute.vm.remove", "r1", NULL);
	ck_assert(json_object_get_boolean(mvmt_get(r, "result.removed")));
	json_object_put(r);
	r = wl_call_id("compute.vm.remove", "r2", "\"force\":true");
	ck_assert(json_object_get_boolean(mvmt_get(r, "result.removed")));
	json_object_put(r);
	ck_assert(wait_ch(0));
	snprintf(vms, sizeof(vms), "%s/vms", wl.d.state);
	ck_assert_int_eq(dh_count_entries(vms, NULL), 0);
	free_disk();
	restart();
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.status", "{\"id\":\"r1\"}"), NOT_FOUND);
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.status", "{\"id\":\"r2\"}"), NOT_FOUND);
}
END_TEST

static bool is_blob_tmp(const char *n)
{
	return strncmp(n, ".tmp.", 5) == 0;
}

/* A put that runs out of space: -32005 ENOSPC, no blob, no temp file. */
START_TEST(test_blob_put_when_full)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = 256u << 10; /* 192 KiB of content */
	char *p = malloc(n + 64), blobs[256];

	strcpy(p, "{\"data\":\"");
	for (size_t i = 0; i < n; i++)
		p[9 + i] = b64[(i * 7 + i / 64) % 64];
	strcpy(p + 9 + n, "\"}");
	snprintf(blobs, sizeof(blobs), "%s/blobs/sha256", wl.d.state);

	fill_disk();
	json_object *r = mvmt_call(wl.fd, "compute.blob.put", p);
	assert_enospc(r);
	json_object_put(r);
	ck_assert_int_eq(dh_count_entries(blobs, is_blob_tmp), 0);
	ck_assert_int_eq(dh_count_entries(blobs, NULL), 0);
	free_disk();
	r = mvmt_result(wl.fd, "compute.blob.put", p);
	ck_assert_int_eq(mvmt_int(r, "size"), (int64_t)(n / 4 * 3));
	json_object_put(r);
	free(p);
}
END_TEST

/*
 * Mounts go into a mount namespace of the suite's own: a case that fails
 * (and so skips its teardown) leaves no tmpfs mounted on the host; the
 * namespace goes with the last process in it. Needs root (CAP_SYS_ADMIN).
 */
static bool private_mounts(void)
{
	return unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
}

static const char *diskfull_skip_reason(void)
{
	static char why[160];

	if (private_mounts())
		return NULL;
	snprintf(why, sizeof(why), "cannot mount a tmpfs here (needs root): %s", strerror(errno));
	return why;
}

static const mvmt_tcase_t tcases[] = {
	{
		.name = "full",
		.timeout = 120,
		.setup = full_setup,
		.teardown = full_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_start_refused_when_full_ch),
			MVMT_TEST(test_stop_written_when_space_returns),
			MVMT_TEST(test_stop_written_at_sigterm),
			MVMT_TEST(test_create_when_full),
			MVMT_TEST(test_remove_when_full),
			MVMT_TEST(test_blob_put_when_full)),
	},
	{
		.name = "full-kvm",
		.timeout = 120,
		.setup = full_setup,
		.teardown = full_teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_start_refused_when_full),
			MVMT_TEST(test_end_written_when_space_returns),
			MVMT_TEST(test_end_written_at_sigterm)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd_diskfull", .tcases = tcases, .skip = diskfull_skip_reason)
