/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ch backend through the real mvmd, against a TEST DOUBLE of
 * cloud-hypervisor (build/tests/doubles/fake-cloud-hypervisor, which serves
 * the REST API double of tests/lib/ch-api-double.c): cloud-hypervisor is
 * not packaged by Debian and cannot boot a guest here. What this proves:
 * the command line mvmd runs (the API socket only), the VmConfig it
 * creates the VM with (vm.create, vm.boot), readiness through vmm.ping and
 * vm.info, the serial console relay both ways, stop through the power
 * button and its escalation, the version and binary checks, crash
 * reporting. Re-adoption after kill -9 of mvmd and the tenant-string scan
 * are check_mvmd_ch_procs.c; the fixture is tests/lib/ch-daemon.c. What
 * it cannot prove (a real boot) is tests/integration/check_ch_real.c.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/blob-proto.h"
#include "ch-daemon.h"
#include "mvmt-main.h"
#include "mvmtest.h"

START_TEST(test_lifecycle)
{
	char path[512], expect[16384];

	chd_start(NULL);
	json_object *info = mvmt_result(chd.fd, "compute.node.info", NULL);
	ck_assert(json_object_get_boolean(mvmt_get(info, "backends.ch.usable")));
	ck_assert_str_eq(mvmt_str(info, "backends.ch.version"), "40.0.0");
	ck_assert_str_eq(mvmt_str(info, "backends.ch.binary"), chd.fake);
	ck_assert_str_eq(mvmt_str(info, "backends.ch.min_version"), "v36.0");
	json_object_put(info);

	chd_create("web");
	json_object *r = chd_call_id("compute.vm.start", "web", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	int pid = (int)mvmt_int(r, "result.pid");
	const char *id = mvmt_str(r, "result.id");
	ck_assert_int_gt(pid, 0);

	/* The exact command line: the API socket in the VM's directory, and
	 * nothing else; the VM came through vm.create. */
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/vms/%s", chd.d.state, id);
	const char *b = getenv("MVM_BUILD_DIR");
	char initramfs[PATH_MAX], rel[256];
	snprintf(rel, sizeof(rel), "%s/guest/initramfs.cpio.gz", b && *b ? b : "build");
	ck_assert_ptr_nonnull(realpath(rel, initramfs));
	snprintf(expect, sizeof(expect), "%s\n--api-socket\npath=%s/ch-api.sock\n", chd.fake, dir);
	snprintf(path, sizeof(path), "%s/fake-ch.argv", dir);
	ck_assert_str_eq(chd_slurp(path), expect);
	/* The VmConfig the double accepted. */
	snprintf(path, sizeof(path), "%s/fake-ch.config", dir);
	json_object *cfg = json_object_from_file(path);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_str_eq(mvmt_str(cfg, "payload.kernel"), chd.kernel);
	ck_assert_str_eq(mvmt_str(cfg, "payload.initramfs"), initramfs);
	ck_assert_str_eq(mvmt_str(cfg, "payload.cmdline"), "console=ttyS0 reboot=k panic=1 quiet");
	ck_assert_int_eq(mvmt_int(cfg, "cpus.boot_vcpus"), 2);
	ck_assert_int_eq(mvmt_int(cfg, "cpus.max_vcpus"), 2);
	ck_assert_int_eq(mvmt_int(cfg, "memory.size"), 64 << 20);
	ck_assert_str_eq(mvmt_str(cfg, "serial.mode"), "Socket");
	snprintf(expect, sizeof(expect), "%s/serial.sock", dir);
	ck_assert_str_eq(mvmt_str(cfg, "serial.socket"), expect);
	ck_assert_str_eq(mvmt_str(cfg, "console.mode"), "Off");
	ck_assert_int_eq(mvmt_int(cfg, "vsock.cid"), 3);
	snprintf(expect, sizeof(expect), "%s/vsock.sock", dir);
	ck_assert_str_eq(mvmt_str(cfg, "vsock.socket"), expect);
	json_object_put(cfg);
	ck_assert_str_eq(mvmt_str(r, "result.kernel"), chd.kernel);
	ck_assert_str_eq(mvmt_str(r, "result.initramfs"), initramfs);
	ck_assert_str_eq(mvmt_str(r, "result.cmdline"), "console=ttyS0 reboot=k panic=1 quiet");
	snprintf(expect, sizeof(expect), "%s/vsock.sock", dir);
	ck_assert_str_eq(mvmt_str(r, "result.vsock_socket"), expect);
	json_object_put(r);

	/* Its own session: it survives mvmd's process group being signalled. */
	ck_assert_int_eq(getsid(pid), pid);

	/* The runtime records the sockets exec will use. */
	chd_vm_file("web", "state.json", path, sizeof(path));
	json_object *st = json_object_from_file(path);
	ck_assert_ptr_nonnull(st);
	snprintf(expect, sizeof(expect), "%s/vsock.sock", dir);
	ck_assert_str_eq(mvmt_str(st, "runtime.backend.vsock_socket"), expect);
	ck_assert_int_eq(mvmt_int(st, "runtime.backend.cid"), 3);
	ck_assert_int_eq(mvmt_int(st, "runtime.pid"), pid);
	ck_assert_int_gt(mvmt_int(st, "runtime.pid_starttime"), 0);
	json_object_put(st);

	/* Console: the guest's output in the log and to clients, input to the guest. */
	chd_wait_log("web", "mvm-init: ready\n");
	int c = chd_console_connect("web");
	mvmt_write(c, "hello guest\n", 12);
	chd_console_expect(c, "echo: hello guest");
	chd_wait_log("web", "echo: hello guest");

	r = chd_call_id("compute.vm.stop", "web", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "stop failed: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	ck_assert_str_eq(mvmt_str(r, "result.cause"), "stopped (power button)");
	json_object_put(r);
	chd_wait_ended(pid);
	close(c);
	mvmt_forget_fd(c);
	ck_assert(chd_log_has("web", "mvm-init: powering off"));

	/* What the API double received, in order. */
	snprintf(path, sizeof(path), "%s/fake-ch.requests", dir);
	const char *reqs = chd_slurp(path);
	ck_assert_ptr_nonnull(reqs);
	const char *head = "GET /api/v1/vmm.ping\nPUT /api/v1/vm.create body=";
	ck_assert_msg(strncmp(reqs, head, strlen(head)) == 0, "%s", reqs);
	ck_assert_msg(strstr(reqs, "\nPUT /api/v1/vm.boot\nGET /api/v1/vm.info\n"), "%s", reqs);
	ck_assert_ptr_nonnull(strstr(reqs, "GET /api/v1/vm.info\nPUT /api/v1/vm.power-button\n"));
	ck_assert_ptr_null(strstr(reqs, "shutdown"));
	ck_assert_ptr_null(strstr(reqs, "no-host"));
	/* The sockets are gone with the process. */
	snprintf(path, sizeof(path), "%s/ch-api.sock", dir);
	ck_assert_int_ne(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/vsock.sock", dir);
	ck_assert_int_ne(access(path, F_OK), 0);

	/* Start again from Stopped: a fresh process, the same CID. */
	r = chd_call_id("compute.vm.start", "web", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	ck_assert_int_ne(mvmt_int(r, "result.pid"), pid);
	json_object_put(r);
	chd_create("second");
	r = chd_call_id("compute.vm.start", "second", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	chd_vm_file("second", "fake-ch.config", path, sizeof(path));
	cfg = json_object_from_file(path);
	ck_assert_int_eq(mvmt_int(cfg, "vsock.cid"), 4);
	json_object_put(cfg);
}
END_TEST

START_TEST(test_power_button_ignored)
{
	char path[512];

	chd_knob("MVM_FAKE_CH_IGNORE_POWER_BUTTON", "1");
	chd_start(NULL);
	chd_create("stubborn");
	json_object *r = chd_call_id("compute.vm.start", "stubborn", NULL);
	int pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	r = chd_call_id("compute.vm.stop", "stubborn", "\"timeout_ms\":300");
	ck_assert_msg(mvmt_get(r, "result") != NULL, "stop failed: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	ck_assert_str_eq(mvmt_str(r, "result.cause"), "stopped by vm.shutdown (the guest ignored the power button)");
	json_object_put(r);
	chd_wait_ended(pid);
	chd_vm_file("stubborn", "fake-ch.requests", path, sizeof(path));
	ck_assert_ptr_nonnull(
		strstr(chd_slurp(path), "PUT /api/v1/vm.power-button\nPUT /api/v1/vm.shutdown\nPUT /api/v1/vmm.shutdown\n"));
}
END_TEST

START_TEST(test_force_stop_and_crash)
{
	chd_start(NULL);
	chd_create("a");
	json_object *r = chd_call_id("compute.vm.start", "a", NULL);
	int pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	r = chd_call_id("compute.vm.stop", "a", "\"force\":true");
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	ck_assert_str_eq(mvmt_str(r, "result.cause"), "killed by forced stop");
	json_object_put(r);
	chd_wait_ended(pid);

	/* cloud-hypervisor dying under a running VM: Failed, with the signal. */
	r = chd_call_id("compute.vm.start", "a", NULL);
	pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	json_object *s = chd_wait_state("a", "Failed");
	ck_assert_str_eq(mvmt_str(s, "cause"), "cloud-hypervisor killed by signal 9 (Killed)");
	ck_assert_ptr_null(mvmt_get(s, "pid"));
	json_object_put(s);

	/* remove --force of a running VM ends cloud-hypervisor first. */
	r = chd_call_id("compute.vm.start", "a", NULL);
	pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	ck_assert_int_eq(mvmt_error_code(chd.fd, "compute.vm.remove", "{\"id\":\"a\"}"), -32002);
	r = chd_call_id("compute.vm.remove", "a", "\"force\":true");
	ck_assert(json_object_get_boolean(mvmt_get(r, "result.removed")));
	json_object_put(r);
	chd_wait_ended(pid);
	ck_assert_int_eq(mvmt_error_code(chd.fd, "compute.vm.status", "{\"id\":\"a\"}"), -32001);
}
END_TEST

/* The KVM device is opened once, to know the backend can run VMs, and
 * kept: a start does not open it again just to test it. */
START_TEST(test_kvm_device_opened_once)
{
	char ev[4096];
	int in;

	chd_start(NULL);
	chd_create("k");
	json_object *r = chd_call_id("compute.vm.start", "k", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
	json_object_put(r);
	json_object_put(chd_wait_state("k", "Running"));
	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	ck_assert_int_ge(in, 0);
	ck_assert_int_ge(inotify_add_watch(in, chd.fake_kvm, IN_OPEN), 0);
	for (int i = 0; i < 3; i++) {
		r = chd_call_id("compute.vm.stop", "k", "\"force\":true");
		ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
		json_object_put(r);
		r = chd_call_id("compute.vm.start", "k", NULL);
		ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
		json_object_put(r);
		json_object_put(chd_wait_state("k", "Running"));
	}
	/* Each start was answered, so each open it made is in the queue. */
	ck_assert_int_eq(read(in, ev, sizeof(ev)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	close(in);
}
END_TEST

/* A kernel that went away between create and start: cloud-hypervisor
 * refuses vm.boot, what it said becomes the cause, and the process is
 * ended and reaped with its sockets. */
START_TEST(test_boot_error_reported)
{
	char path[512];

	chd_start(NULL);
	chd_create("gone");
	ck_assert_int_eq(unlink(chd.kernel), 0);
	json_object *r = chd_call_id("compute.vm.start", "gone", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32000);
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), "StartFailed");
	const char *why = mvmt_str(r, "error.data.reason");
	ck_assert_msg(strstr(why, "cloud-hypervisor refused vm.boot (HTTP 500): Error booting VM: kernel"), "%s", why);
	json_object_put(r);
	json_object *s = chd_status("gone");
	ck_assert_ptr_null(mvmt_get(s, "pid"));
	json_object_put(s);
	chd_vm_file("gone", "ch-api.sock", path, sizeof(path));
	ck_assert_int_ne(access(path, F_OK), 0);
	chd_vm_file("gone", "fake-ch.requests", path, sizeof(path));
	ck_assert_ptr_nonnull(strstr(chd_slurp(path), "PUT /api/v1/vm.boot\n"));
}
END_TEST

START_TEST(test_version_refused)
{
	chd_knob("MVM_FAKE_CH_VERSION", "cloud-hypervisor v35.0.0");
	chd_start(NULL);
	json_object *info = mvmt_result(chd.fd, "compute.node.info", NULL);
	ck_assert(!json_object_get_boolean(mvmt_get(info, "backends.ch.usable")));
	const char *why = mvmt_str(info, "backends.ch.reason");
	ck_assert_msg(strstr(why, "is 35.0.0, older than the minimum v36.0"), "%s", why);
	ck_assert_str_eq(mvmt_str(info, "backends.ch.version"), "35.0.0"); /* what it found, and why not */
	json_object_put(info);

	/* A VM can be created (the host may get a newer binary); start says why not. */
	chd_create("old");
	json_object *r = chd_call_id("compute.vm.start", "old", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32004);
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), "StartFailed");
	ck_assert_ptr_nonnull(strstr(mvmt_str(r, "error.data.reason"), "older than the minimum v36.0"));
	json_object_put(r);
	/* Output that is not a version is refused the same way. */
	mvmt_daemon_stop(&chd.d, SIGTERM);
	close(chd.fd);
	mvmt_forget_fd(chd.fd);
	chd_knobs_clear();
	chd_knob("MVM_FAKE_CH_VERSION", "hello world");
	chd_start(NULL);
	info = mvmt_result(chd.fd, "compute.node.info", NULL);
	ck_assert(!json_object_get_boolean(mvmt_get(info, "backends.ch.usable")));
	ck_assert_ptr_nonnull(strstr(mvmt_str(info, "backends.ch.reason"), "--version: output is not a version"));
	json_object_put(info);
}
END_TEST

/* A binary replaced under a running mvmd is probed again, from the event
 * loop: while its --version hangs, mvmd keeps answering (from the previous
 * result) instead of stalling every client for the probe's deadline; the
 * hang is then reported, and a good binary is taken up again. */
static void write_script(const char *path, const char *body)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	FILE *f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(tmp, 0755), 0);
	ck_assert_int_eq(rename(tmp, path), 0); /* a new inode: a changed file */
}

static json_object *wait_node_info(const char *path, const char *want)
{
	for (int i = 0; i < 600; i++) {
		json_object *info = mvmt_result(chd.fd, "compute.node.info", NULL);
		json_object *v = mvmt_get(info, path);
		if (v && strstr(json_object_get_string(v), want))
			return info;
		json_object_put(info);
		poll(NULL, 0, 50);
	}
	ck_abort_msg("compute.node.info never had %s ~ %s", path, want);
	return NULL;
}

START_TEST(test_version_probe_off_loop)
{
	char bin[PATH_MAX];
	snprintf(bin, sizeof(bin), "%s/ch-script", chd.d.dir);
	write_script(bin, "echo 'cloud-hypervisor v40.0.0'");
	chd_start(bin);
	json_object *info = mvmt_result(chd.fd, "compute.node.info", NULL);
	ck_assert(json_object_get_boolean(mvmt_get(info, "backends.ch.usable")));
	ck_assert_str_eq(mvmt_str(info, "backends.ch.version"), "40.0.0");
	json_object_put(info);

	write_script(bin, "exec sleep 30");
	/* The answer does not wait for the hanging --version. */
	info = mvmt_result(chd.fd, "compute.node.info", NULL);
	ck_assert_msg(json_object_get_boolean(mvmt_get(info, "backends.ch.usable")), "%s",
		      json_object_to_json_string(info));
	ck_assert_str_eq(mvmt_str(info, "backends.ch.version"), "40.0.0");
	json_object_put(info);
	info = wait_node_info("backends.ch.reason", "--version: Connection timed out");
	ck_assert(!json_object_get_boolean(mvmt_get(info, "backends.ch.usable")));
	json_object_put(info);

	write_script(bin, "echo 'cloud-hypervisor v41.0.0'");
	json_object_put(wait_node_info("backends.ch.version", "41.0.0"));
}
END_TEST

START_TEST(test_missing_binary)
{
	chd_start("/nonexistent/cloud-hypervisor");
	json_object *info = mvmt_result(chd.fd, "compute.node.info", NULL);
	ck_assert(!json_object_get_boolean(mvmt_get(info, "backends.ch.usable")));
	ck_assert_str_eq(mvmt_str(info, "backends.ch.reason"), "/nonexistent/cloud-hypervisor: No such file or directory");
	json_object_put(info);
	chd_create("nobin");
	json_object *r = chd_call_id("compute.vm.start", "nobin", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32004);
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), "StartFailed");
	json_object_put(r);

	/* Without --ch-binary it is looked up on PATH. */
	mvmt_daemon_stop(&chd.d, SIGTERM);
	close(chd.fd);
	mvmt_forget_fd(chd.fd);
	char *old = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", "/nonexistent-dir", 1);
	mvmt_daemon_start(&chd.d, "--kvm-device", chd.fake_kvm, "--kvm-pool", "0", NULL);
	setenv("PATH", old, 1);
	free(old);
	chd.fd = mvmt_connect(chd.d.sock);
	info = mvmt_result(chd.fd, "compute.node.info", NULL);
	ck_assert(!json_object_get_boolean(mvmt_get(info, "backends.ch.usable")));
	ck_assert_str_eq(mvmt_str(info, "backends.ch.reason"),
			 "cloud-hypervisor not found on PATH (install it, or pass mvmd --ch-binary)");
	json_object_put(info);
	r = chd_call_id("compute.vm.start", "nobin", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32004);
	json_object_put(r);
}
END_TEST

/* While a ch VM runs, mvmd serves blobs on <vsock socket>_1025, where a
 * hybrid-vsock VMM delivers guest connections to host port 1025
 * (docs/blob-protocol.md): a stored blob nobody granted to this VM is
 * "unavailable", like an absent one. Gone when the VM stops. */
static void blob_request(const char *path, const char *hex, uint32_t want_status)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t h[BLOB_PROTO_HEADER_LEN];
	char req[80];
	uint32_t st;
	uint64_t sz;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(s, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req), "sha256:%s\n", hex);
	ck_assert_int_eq(write(s, req, 72), 72);
	ck_assert_int_eq(read(s, h, sizeof(h)), (ssize_t)sizeof(h));
	ck_assert_int_eq(blob_proto_header_decode(h, &st, &sz), 0);
	ck_assert_uint_eq(st, want_status);
	ck_assert_uint_eq(sz, 0);
	ck_assert_int_eq(read(s, h, sizeof(h)), 0); /* closed after the answer */
	close(s);
}

START_TEST(test_blob_server_follows_vm)
{
	char path[512];
	struct stat st;

	chd_start(NULL);
	json_object *r = mvmt_result(chd.fd, "compute.blob.put", "{\"data\":\"aGVsbG8=\"}"); /* "hello" */
	char hex[65];
	snprintf(hex, sizeof(hex), "%s", mvmt_str(r, "hash") + 7);
	json_object_put(r);
	chd_create("blobs");
	chd_vm_file("blobs", "vsock.sock_1025", path, sizeof(path));
	ck_assert_int_eq(stat(path, &st), -1);
	r = chd_call_id("compute.vm.start", "blobs", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	blob_request(path, hex, BLOB_STATUS_UNAVAILABLE);
	blob_request(path, "0000000000000000000000000000000000000000000000000000000000000000", BLOB_STATUS_UNAVAILABLE);
	r = chd_call_id("compute.vm.stop", "blobs", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	json_object_put(r);
	ck_assert_int_eq(stat(path, &st), -1);
}
END_TEST

/* A VMM slow to report the VM running: start times out (-32006) and the VM
 * keeps starting; a restart of mvmd resumes the readiness polls; a stop
 * while Starting goes through the power button. */
START_TEST(test_slow_start)
{
	chd_knob("MVM_FAKE_CH_CREATED_POLLS", "60");
	chd_start(NULL);
	chd_create("slow");
	json_object *r = chd_call_id("compute.vm.start", "slow", "\"timeout_ms\":100");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32006);
	json_object_put(r);
	json_object *s = chd_status("slow");
	ck_assert_str_eq(mvmt_str(s, "state"), "Starting");
	int pid = (int)mvmt_int(s, "pid");
	json_object_put(s);

	close(chd.fd);
	mvmt_forget_fd(chd.fd);
	mvmt_daemon_stop(&chd.d, SIGKILL);
	chd_start(NULL);
	s = chd_wait_state("slow", "Running");
	ck_assert_int_eq(mvmt_int(s, "pid"), pid);
	json_object_put(s);
	r = chd_call_id("compute.vm.stop", "slow", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	json_object_put(r);
	chd_wait_ended(pid);

	/* Stopped while still Starting, once its API answers. */
	char reqs[512];
	chd_vm_file("slow", "fake-ch.requests", reqs, sizeof(reqs));
	size_t before = strlen(chd_slurp(reqs));
	r = chd_call_id("compute.vm.start", "slow", "\"timeout_ms\":100");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32006);
	json_object_put(r);
	s = chd_status("slow");
	pid = (int)mvmt_int(s, "pid");
	json_object_put(s);
	for (int i = 0; i < MVMT_EVENT_TIMEOUT_MS / 10 && !strstr(chd_slurp(reqs) + before, "GET /api/v1/vm.info"); i++)
		usleep(10000);
	s = chd_status("slow");
	ck_assert_str_eq(mvmt_str(s, "state"), "Starting");
	json_object_put(s);
	r = chd_call_id("compute.vm.stop", "slow", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	ck_assert_str_eq(mvmt_str(r, "result.cause"), "stopped (power button)");
	json_object_put(r);
	chd_wait_ended(pid);
}
END_TEST

static long ctxt_switches(pid_t pid)
{
	char path[64], line[256];
	long n = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Once Running with its console connected, a VM costs mvmd nothing: the
 * readiness polls stop (no API request, no wake-up). */
START_TEST(test_running_is_quiet)
{
	char reqs[512];

	chd_start(NULL);
	chd_create("q1");
	chd_create("q2");
	json_object_put(chd_call_id("compute.vm.start", "q1", NULL));
	json_object_put(chd_call_id("compute.vm.start", "q2", NULL));
	chd_wait_log("q1", "mvm-init: ready");
	chd_wait_log("q2", "mvm-init: ready");
	usleep(200000);
	chd_vm_file("q1", "fake-ch.requests", reqs, sizeof(reqs));
	size_t n0 = strlen(chd_slurp(reqs));
	long c0 = ctxt_switches(chd.d.pid);
	usleep(1000000);
	long c1 = ctxt_switches(chd.d.pid);
	ck_assert_uint_eq(strlen(chd_slurp(reqs)), n0);
	ck_assert_msg(c1 - c0 < 10, "mvmd woke up %ld times in 1 s with 2 idle ch VMs", c1 - c0);
}
END_TEST

/* A stop before cloud-hypervisor's API is up: nothing to ask, killed now. */
START_TEST(test_stop_before_api)
{
	chd_knob("MVM_FAKE_CH_DELAY_MS", "3000");
	chd_start(NULL);
	chd_create("early");
	json_object *r = chd_call_id("compute.vm.start", "early", "\"timeout_ms\":50");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32006);
	json_object_put(r);
	json_object *s = chd_status("early");
	int pid = (int)mvmt_int(s, "pid");
	json_object_put(s);
	r = chd_call_id("compute.vm.stop", "early", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	ck_assert_str_eq(mvmt_str(r, "result.cause"), "killed by stop (cloud-hypervisor's API was not up yet)");
	json_object_put(r);
	chd_wait_ended(pid);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "mvmd_ch",
		.timeout = 60,
		.setup = chd_setup,
		.teardown = chd_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_lifecycle),
			MVMT_TEST(test_power_button_ignored),
			MVMT_TEST(test_force_stop_and_crash),
			MVMT_TEST(test_kvm_device_opened_once),
			MVMT_TEST(test_boot_error_reported),
			MVMT_TEST(test_version_refused),
			MVMT_TEST(test_missing_binary),
			MVMT_TEST(test_version_probe_off_loop),
			MVMT_TEST(test_blob_server_follows_vm),
			MVMT_TEST(test_slow_start),
			MVMT_TEST(test_stop_before_api),
			MVMT_TEST(test_running_is_quiet)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd_ch", .tcases = tcases)
