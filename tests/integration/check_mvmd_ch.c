/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ch backend through the real mvmd, against a TEST DOUBLE of
 * cloud-hypervisor (build/tests/doubles/fake-cloud-hypervisor, which serves
 * the REST API double of tests/lib/ch-api-double.c): cloud-hypervisor is
 * not packaged by Debian and cannot boot a guest here. What this proves:
 * the command line mvmd runs (the API socket only: nothing a tenant gave
 * is in any process's argv or environment), the VmConfig it creates the
 * VM with (vm.create, vm.boot), readiness through vmm.ping and vm.info, the
 * serial console relay both ways, stop through the power button and its
 * escalation, the version and binary checks, crash reporting, and
 * re-adoption after kill -9 of mvmd. What it cannot prove (a real boot)
 * is tests/integration/check_ch_real.c.
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
#include "mvmtest.h"

static mvmt_daemon_t d;
static int fd = -1;
static char fake[PATH_MAX], kernel[256], fake_kvm[256];

/* A knob of the double (tests/doubles/fake-cloud-hypervisor.c): mvmd gives
 * cloud-hypervisor none of its environment, so knobs go in <binary>.env. */
static void fake_knob(const char *key, const char *value)
{
	char path[PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s.env", fake);
	FILE *f = fopen(path, "a");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s=%s\n", key, value);
	fclose(f);
}

static void fake_knobs_clear(void)
{
	char path[PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s.env", fake);
	unlink(path);
}

static void setup(void)
{
	const char *b = getenv("MVM_BUILD_DIR");
	char rel[256], real[PATH_MAX];

	snprintf(rel, sizeof(rel), "%s/tests/doubles/fake-cloud-hypervisor", b && *b ? b : "build");
	ck_assert_msg(realpath(rel, real), "%s is missing: run make", rel);
	mvmt_daemon_init(&d);
	/* This test's own name for the double, so its knobs file is its own. */
	snprintf(fake, sizeof(fake), "%s/cloud-hypervisor", d.dir);
	ck_assert_int_eq(symlink(real, fake), 0);
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", d.dir);
	FILE *f = fopen(kernel, "w");
	ck_assert_ptr_nonnull(f);
	fputs("not really a kernel: the double only checks it is readable\n", f);
	fclose(f);
	/* The double runs no VM, so it needs no KVM; mvmd only opens the
	 * device to call the backend usable. A stand-in file keeps these
	 * cases running on hosts without /dev/kvm (a nested host whose kernel
	 * is itself a PVM guest has none). */
	snprintf(fake_kvm, sizeof(fake_kvm), "%s/fake-kvm", d.dir);
	f = fopen(fake_kvm, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
}

/* Start mvmd with the double as cloud-hypervisor (or with `binary`). */
static void start_daemon(const char *binary)
{
	mvmt_daemon_start(&d, "--ch-binary", binary ? binary : fake, "--kvm-device", fake_kvm, "--kvm-pool", "0", NULL);
	fd = mvmt_connect(d.sock);
}

static void teardown(void)
{
	if (fd >= 0) {
		close(fd);
		mvmt_forget_fd(fd);
		fd = -1;
	}
	/* cloud-hypervisor outlives mvmd by design: end the doubles. */
	if (d.pid > 0) {
		int c = mvmt_connect(d.sock);
		json_object *r = mvmt_result(c, "compute.vm.list", NULL);
		json_object *vms = mvmt_get(r, "vms");
		for (size_t i = 0; i < json_object_array_length(vms); i++) {
			char p[128];
			snprintf(p, sizeof(p), "{\"id\":\"%s\",\"force\":true}", mvmt_str(json_object_array_get_idx(vms, i), "id"));
			json_object_put(mvmt_call(c, "compute.vm.remove", p));
		}
		json_object_put(r);
		close(c);
		mvmt_forget_fd(c);
	}
	mvmt_daemon_cleanup(&d);
}

static json_object *call_id(const char *method, const char *name, const char *extra)
{
	return mvmt_call_id(fd, method, name, extra);
}

static void create_ch(const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "{\"name\":\"%s\",\"backend\":\"ch\",\"memory_mib\":64,\"vcpus\":2,\"kernel\":\"%s\"}", name,
		 kernel);
	json_object *r = mvmt_result(fd, "compute.vm.create", p);
	ck_assert_str_eq(mvmt_str(r, "state"), "Configured");
	json_object_put(r);
}

static json_object *status(const char *name)
{
	return mvmt_status(fd, name);
}

static json_object *wait_state(const char *name, const char *state)
{
	return mvmt_wait_state(fd, name, state);
}

static bool log_has(const char *name, const char *needle)
{
	json_object *r = call_id("compute.vm.logs", name, NULL);
	bool found = strstr(mvmt_str(r, "result.data"), needle) != NULL;
	json_object_put(r);
	return found;
}

static void wait_log(const char *name, const char *needle)
{
	for (int i = 0; i < 500; i++) {
		if (log_has(name, needle))
			return;
		usleep(10000);
	}
	ck_abort_msg("%s: log never showed \"%s\"", name, needle);
}

/* STATE_DIR/vms/<id>/<file> of a VM. */
static void vm_file(const char *name, const char *file, char *buf, size_t size)
{
	json_object *s = status(name);
	snprintf(buf, size, "%s/vms/%s/%s", d.state, mvmt_str(s, "id"), file);
	json_object_put(s);
}

static char *slurp(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void wait_ended(int pid)
{
	for (int i = 0; i < 500 && !mvmt_process_ended(pid); i++)
		usleep(10000);
	ck_assert_msg(mvmt_process_ended(pid), "pid %d is still alive", pid);
}

static int console_connect(const char *name)
{
	json_object *r = call_id("compute.vm.console.endpoint", name, NULL);
	int c = mvmt_connect(mvmt_str(r, "result.path"));
	json_object_put(r);
	return c;
}

/* Read from a console client until `needle` shows up (5 s). */
static void console_expect(int c, const char *needle)
{
	char buf[8192];
	size_t len = 0;

	for (int i = 0; i < 500; i++) {
		struct pollfd p = { .fd = c, .events = POLLIN };
		if (poll(&p, 1, 10) == 1) {
			ssize_t n = read(c, buf + len, sizeof(buf) - 1 - len);
			ck_assert_int_gt(n, 0);
			len += (size_t)n;
			buf[len] = '\0';
			if (strstr(buf, needle))
				return;
		}
	}
	ck_abort_msg("console never showed \"%s\" (got \"%.*s\")", needle, (int)len, buf);
}

START_TEST(test_lifecycle)
{
	char path[512], expect[16384];

	start_daemon(NULL);
	json_object *info = mvmt_result(fd, "compute.node.info", NULL);
	ck_assert(json_object_get_boolean(mvmt_get(info, "backends.ch.usable")));
	ck_assert_str_eq(mvmt_str(info, "backends.ch.version"), "40.0.0");
	ck_assert_str_eq(mvmt_str(info, "backends.ch.binary"), fake);
	ck_assert_str_eq(mvmt_str(info, "backends.ch.min_version"), "v36.0");
	json_object_put(info);

	create_ch("web");
	json_object *r = call_id("compute.vm.start", "web", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	int pid = (int)mvmt_int(r, "result.pid");
	const char *id = mvmt_str(r, "result.id");
	ck_assert_int_gt(pid, 0);

	/* The exact command line: the API socket in the VM's directory, and
	 * nothing else; the VM came through vm.create. */
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/vms/%s", d.state, id);
	const char *b = getenv("MVM_BUILD_DIR");
	char initramfs[PATH_MAX], rel[256];
	snprintf(rel, sizeof(rel), "%s/guest/initramfs.cpio.gz", b && *b ? b : "build");
	ck_assert_ptr_nonnull(realpath(rel, initramfs));
	snprintf(expect, sizeof(expect), "%s\n--api-socket\npath=%s/ch-api.sock\n", fake, dir);
	snprintf(path, sizeof(path), "%s/fake-ch.argv", dir);
	ck_assert_str_eq(slurp(path), expect);
	/* The VmConfig the double accepted. */
	snprintf(path, sizeof(path), "%s/fake-ch.config", dir);
	json_object *cfg = json_object_from_file(path);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_str_eq(mvmt_str(cfg, "payload.kernel"), kernel);
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
	ck_assert_str_eq(mvmt_str(r, "result.kernel"), kernel);
	ck_assert_str_eq(mvmt_str(r, "result.initramfs"), initramfs);
	ck_assert_str_eq(mvmt_str(r, "result.cmdline"), "console=ttyS0 reboot=k panic=1 quiet");
	snprintf(expect, sizeof(expect), "%s/vsock.sock", dir);
	ck_assert_str_eq(mvmt_str(r, "result.vsock_socket"), expect);
	json_object_put(r);

	/* Its own session: it survives mvmd's process group being signalled. */
	ck_assert_int_eq(getsid(pid), pid);

	/* The runtime records the sockets exec will use. */
	vm_file("web", "state.json", path, sizeof(path));
	json_object *st = json_object_from_file(path);
	ck_assert_ptr_nonnull(st);
	snprintf(expect, sizeof(expect), "%s/vsock.sock", dir);
	ck_assert_str_eq(mvmt_str(st, "runtime.backend.vsock_socket"), expect);
	ck_assert_int_eq(mvmt_int(st, "runtime.backend.cid"), 3);
	ck_assert_int_eq(mvmt_int(st, "runtime.pid"), pid);
	ck_assert_int_gt(mvmt_int(st, "runtime.pid_starttime"), 0);
	json_object_put(st);

	/* Console: the guest's output in the log and to clients, input to the guest. */
	wait_log("web", "mvm-init: ready\n");
	int c = console_connect("web");
	mvmt_write(c, "hello guest\n", 12);
	console_expect(c, "echo: hello guest");
	wait_log("web", "echo: hello guest");

	r = call_id("compute.vm.stop", "web", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "stop failed: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	ck_assert_str_eq(mvmt_str(r, "result.cause"), "stopped (power button)");
	json_object_put(r);
	wait_ended(pid);
	close(c);
	mvmt_forget_fd(c);
	ck_assert(log_has("web", "mvm-init: powering off"));

	/* What the API double received, in order. */
	snprintf(path, sizeof(path), "%s/fake-ch.requests", dir);
	const char *reqs = slurp(path);
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
	r = call_id("compute.vm.start", "web", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	ck_assert_int_ne(mvmt_int(r, "result.pid"), pid);
	json_object_put(r);
	create_ch("second");
	r = call_id("compute.vm.start", "second", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	vm_file("second", "fake-ch.config", path, sizeof(path));
	cfg = json_object_from_file(path);
	ck_assert_int_eq(mvmt_int(cfg, "vsock.cid"), 4);
	json_object_put(cfg);
}
END_TEST

START_TEST(test_power_button_ignored)
{
	char path[512];

	fake_knob("MVM_FAKE_CH_IGNORE_POWER_BUTTON", "1");
	start_daemon(NULL);
	create_ch("stubborn");
	json_object *r = call_id("compute.vm.start", "stubborn", NULL);
	int pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	r = call_id("compute.vm.stop", "stubborn", "\"timeout_ms\":300");
	ck_assert_msg(mvmt_get(r, "result") != NULL, "stop failed: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	ck_assert_str_eq(mvmt_str(r, "result.cause"), "stopped by vm.shutdown (the guest ignored the power button)");
	json_object_put(r);
	wait_ended(pid);
	vm_file("stubborn", "fake-ch.requests", path, sizeof(path));
	ck_assert_ptr_nonnull(
		strstr(slurp(path), "PUT /api/v1/vm.power-button\nPUT /api/v1/vm.shutdown\nPUT /api/v1/vmm.shutdown\n"));
}
END_TEST

START_TEST(test_force_stop_and_crash)
{
	start_daemon(NULL);
	create_ch("a");
	json_object *r = call_id("compute.vm.start", "a", NULL);
	int pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	r = call_id("compute.vm.stop", "a", "\"force\":true");
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	ck_assert_str_eq(mvmt_str(r, "result.cause"), "killed by forced stop");
	json_object_put(r);
	wait_ended(pid);

	/* cloud-hypervisor dying under a running VM: Failed, with the signal. */
	r = call_id("compute.vm.start", "a", NULL);
	pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	json_object *s = wait_state("a", "Failed");
	ck_assert_str_eq(mvmt_str(s, "cause"), "cloud-hypervisor killed by signal 9 (Killed)");
	ck_assert_ptr_null(mvmt_get(s, "pid"));
	json_object_put(s);

	/* remove --force of a running VM ends cloud-hypervisor first. */
	r = call_id("compute.vm.start", "a", NULL);
	pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.remove", "{\"id\":\"a\"}"), -32002);
	r = call_id("compute.vm.remove", "a", "\"force\":true");
	ck_assert(json_object_get_boolean(mvmt_get(r, "result.removed")));
	json_object_put(r);
	wait_ended(pid);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.status", "{\"id\":\"a\"}"), -32001);
}
END_TEST

/* The KVM device is opened once, to know the backend can run VMs, and
 * kept: a start does not open it again just to test it. */
START_TEST(test_kvm_device_opened_once)
{
	char ev[4096];
	int in;

	start_daemon(NULL);
	create_ch("k");
	json_object *r = call_id("compute.vm.start", "k", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
	json_object_put(r);
	json_object_put(wait_state("k", "Running"));
	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	ck_assert_int_ge(in, 0);
	ck_assert_int_ge(inotify_add_watch(in, fake_kvm, IN_OPEN), 0);
	for (int i = 0; i < 3; i++) {
		r = call_id("compute.vm.stop", "k", "\"force\":true");
		ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
		json_object_put(r);
		r = call_id("compute.vm.start", "k", NULL);
		ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
		json_object_put(r);
		json_object_put(wait_state("k", "Running"));
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

	start_daemon(NULL);
	create_ch("gone");
	ck_assert_int_eq(unlink(kernel), 0);
	json_object *r = call_id("compute.vm.start", "gone", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32000);
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), "StartFailed");
	const char *why = mvmt_str(r, "error.data.reason");
	ck_assert_msg(strstr(why, "cloud-hypervisor refused vm.boot (HTTP 500): Error booting VM: kernel"), "%s", why);
	json_object_put(r);
	json_object *s = status("gone");
	ck_assert_ptr_null(mvmt_get(s, "pid"));
	json_object_put(s);
	vm_file("gone", "ch-api.sock", path, sizeof(path));
	ck_assert_int_ne(access(path, F_OK), 0);
	vm_file("gone", "fake-ch.requests", path, sizeof(path));
	ck_assert_ptr_nonnull(strstr(slurp(path), "PUT /api/v1/vm.boot\n"));
}
END_TEST

START_TEST(test_version_refused)
{
	fake_knob("MVM_FAKE_CH_VERSION", "cloud-hypervisor v35.0.0");
	start_daemon(NULL);
	json_object *info = mvmt_result(fd, "compute.node.info", NULL);
	ck_assert(!json_object_get_boolean(mvmt_get(info, "backends.ch.usable")));
	const char *why = mvmt_str(info, "backends.ch.reason");
	ck_assert_msg(strstr(why, "is 35.0.0, older than the minimum v36.0"), "%s", why);
	ck_assert_str_eq(mvmt_str(info, "backends.ch.version"), "35.0.0"); /* what it found, and why not */
	json_object_put(info);

	/* A VM can be created (the host may get a newer binary); start says why not. */
	create_ch("old");
	json_object *r = call_id("compute.vm.start", "old", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32004);
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), "StartFailed");
	ck_assert_ptr_nonnull(strstr(mvmt_str(r, "error.data.reason"), "older than the minimum v36.0"));
	json_object_put(r);
	/* Output that is not a version is refused the same way. */
	mvmt_daemon_stop(&d, SIGTERM);
	close(fd);
	mvmt_forget_fd(fd);
	fake_knobs_clear();
	fake_knob("MVM_FAKE_CH_VERSION", "hello world");
	start_daemon(NULL);
	info = mvmt_result(fd, "compute.node.info", NULL);
	ck_assert(!json_object_get_boolean(mvmt_get(info, "backends.ch.usable")));
	ck_assert_ptr_nonnull(strstr(mvmt_str(info, "backends.ch.reason"), "--version: output is not a version"));
	json_object_put(info);
}
END_TEST

START_TEST(test_missing_binary)
{
	start_daemon("/nonexistent/cloud-hypervisor");
	json_object *info = mvmt_result(fd, "compute.node.info", NULL);
	ck_assert(!json_object_get_boolean(mvmt_get(info, "backends.ch.usable")));
	ck_assert_str_eq(mvmt_str(info, "backends.ch.reason"), "/nonexistent/cloud-hypervisor: No such file or directory");
	json_object_put(info);
	create_ch("nobin");
	json_object *r = call_id("compute.vm.start", "nobin", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32004);
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), "StartFailed");
	json_object_put(r);

	/* Without --ch-binary it is looked up on PATH. */
	mvmt_daemon_stop(&d, SIGTERM);
	close(fd);
	mvmt_forget_fd(fd);
	char *old = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", "/nonexistent-dir", 1);
	mvmt_daemon_start(&d, "--kvm-device", fake_kvm, "--kvm-pool", "0", NULL);
	setenv("PATH", old, 1);
	free(old);
	fd = mvmt_connect(d.sock);
	info = mvmt_result(fd, "compute.node.info", NULL);
	ck_assert(!json_object_get_boolean(mvmt_get(info, "backends.ch.usable")));
	ck_assert_str_eq(mvmt_str(info, "backends.ch.reason"),
			 "cloud-hypervisor not found on PATH (install it, or pass mvmd --ch-binary)");
	json_object_put(info);
	r = call_id("compute.vm.start", "nobin", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32004);
	json_object_put(r);
}
END_TEST

START_TEST(test_readopt_after_kill9)
{
	start_daemon(NULL);
	create_ch("keep");
	json_object *r = call_id("compute.vm.start", "keep", NULL);
	int pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	wait_log("keep", "mvm-init: ready");

	/* kill -9 mvmd: cloud-hypervisor runs on. */
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGKILL);
	usleep(100000);
	ck_assert(!mvmt_process_ended(pid));

	start_daemon(NULL);
	/* Running may not have been written yet when mvmd died (it is
	 * written behind): then the restarted mvmd asks vm.info again. */
	json_object *s = mvmt_wait_state(fd, "keep", "Running");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	ck_assert_int_eq(mvmt_int(s, "pid"), pid);
	json_object_put(s);
	/* The console relay is back: mvmd reconnected the serial socket. */
	wait_log("keep", "fake-ch: serial reconnected");
	int c = console_connect("keep");
	mvmt_write(c, "after restart\n", 14);
	console_expect(c, "echo: after restart");
	close(c);
	mvmt_forget_fd(c);

	r = call_id("compute.vm.stop", "keep", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	ck_assert_str_eq(mvmt_str(r, "result.cause"), "stopped (power button)");
	json_object_put(r);
	wait_ended(pid);

	/* A cloud-hypervisor that ended while mvmd was down: Failed, with why. */
	r = call_id("compute.vm.start", "keep", NULL);
	pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGKILL);
	kill(pid, SIGKILL);
	wait_ended(pid);
	start_daemon(NULL);
	s = status("keep");
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	ck_assert_str_eq(mvmt_str(s, "cause"), "cloud-hypervisor ended while mvmd was down");
	json_object_put(s);
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

	start_daemon(NULL);
	json_object *r = mvmt_result(fd, "compute.blob.put", "{\"data\":\"aGVsbG8=\"}"); /* "hello" */
	char hex[65];
	snprintf(hex, sizeof(hex), "%s", mvmt_str(r, "hash") + 7);
	json_object_put(r);
	create_ch("blobs");
	vm_file("blobs", "vsock.sock_1025", path, sizeof(path));
	ck_assert_int_eq(stat(path, &st), -1);
	r = call_id("compute.vm.start", "blobs", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	blob_request(path, hex, BLOB_STATUS_UNAVAILABLE);
	blob_request(path, "0000000000000000000000000000000000000000000000000000000000000000", BLOB_STATUS_UNAVAILABLE);
	r = call_id("compute.vm.stop", "blobs", NULL);
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
	fake_knob("MVM_FAKE_CH_CREATED_POLLS", "60");
	start_daemon(NULL);
	create_ch("slow");
	json_object *r = call_id("compute.vm.start", "slow", "\"timeout_ms\":100");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32006);
	json_object_put(r);
	json_object *s = status("slow");
	ck_assert_str_eq(mvmt_str(s, "state"), "Starting");
	int pid = (int)mvmt_int(s, "pid");
	json_object_put(s);

	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGKILL);
	start_daemon(NULL);
	s = wait_state("slow", "Running");
	ck_assert_int_eq(mvmt_int(s, "pid"), pid);
	json_object_put(s);
	r = call_id("compute.vm.stop", "slow", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	json_object_put(r);
	wait_ended(pid);

	/* Stopped while still Starting, once its API answers. */
	char reqs[512];
	vm_file("slow", "fake-ch.requests", reqs, sizeof(reqs));
	size_t before = strlen(slurp(reqs));
	r = call_id("compute.vm.start", "slow", "\"timeout_ms\":100");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32006);
	json_object_put(r);
	s = status("slow");
	pid = (int)mvmt_int(s, "pid");
	json_object_put(s);
	for (int i = 0; i < 500 && !strstr(slurp(reqs) + before, "GET /api/v1/vm.info"); i++)
		usleep(10000);
	s = status("slow");
	ck_assert_str_eq(mvmt_str(s, "state"), "Starting");
	json_object_put(s);
	r = call_id("compute.vm.stop", "slow", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	ck_assert_str_eq(mvmt_str(r, "result.cause"), "stopped (power button)");
	json_object_put(r);
	wait_ended(pid);
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

	start_daemon(NULL);
	create_ch("q1");
	create_ch("q2");
	json_object_put(call_id("compute.vm.start", "q1", NULL));
	json_object_put(call_id("compute.vm.start", "q2", NULL));
	wait_log("q1", "mvm-init: ready");
	wait_log("q2", "mvm-init: ready");
	usleep(200000);
	vm_file("q1", "fake-ch.requests", reqs, sizeof(reqs));
	size_t n0 = strlen(slurp(reqs));
	long c0 = ctxt_switches(d.pid);
	usleep(1000000);
	long c1 = ctxt_switches(d.pid);
	ck_assert_uint_eq(strlen(slurp(reqs)), n0);
	ck_assert_msg(c1 - c0 < 10, "mvmd woke up %ld times in 1 s with 2 idle ch VMs", c1 - c0);
}
END_TEST

/* A stop before cloud-hypervisor's API is up: nothing to ask, killed now. */
START_TEST(test_stop_before_api)
{
	fake_knob("MVM_FAKE_CH_DELAY_MS", "3000");
	start_daemon(NULL);
	create_ch("early");
	json_object *r = call_id("compute.vm.start", "early", "\"timeout_ms\":50");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32006);
	json_object_put(r);
	json_object *s = status("early");
	int pid = (int)mvmt_int(s, "pid");
	json_object_put(s);
	r = call_id("compute.vm.stop", "early", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	ck_assert_str_eq(mvmt_str(r, "result.cause"), "killed by stop (cloud-hypervisor's API was not up yet)");
	json_object_put(r);
	wait_ended(pid);
}
END_TEST

/* mvmd killed after the spawn, before its vm.create: the restarted mvmd
 * finds no VM behind the API (vm.info is an error) and creates and boots
 * it then, once. */
START_TEST(test_readopt_before_create)
{
	char reqs[512];

	fake_knob("MVM_FAKE_CH_DELAY_MS", "1500");
	start_daemon(NULL);
	create_ch("late");
	json_object *r = call_id("compute.vm.start", "late", "\"timeout_ms\":50");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32006);
	json_object_put(r);
	json_object *s = status("late");
	int pid = (int)mvmt_int(s, "pid");
	json_object_put(s);
	vm_file("late", "fake-ch.requests", reqs, sizeof(reqs));
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGKILL);

	start_daemon(NULL);
	s = wait_state("late", "Running");
	ck_assert_int_eq(mvmt_int(s, "pid"), pid);
	json_object_put(s);
	const char *got = slurp(reqs);
	ck_assert_msg(got && strstr(got, "GET /api/v1/vm.info\nPUT /api/v1/vm.create body="), "%s", got);
	ck_assert_ptr_null(strstr(strstr(got, "vm.create") + 1, "vm.create"));
	ck_assert_ptr_nonnull(strstr(got, "PUT /api/v1/vm.boot\n"));
	wait_log("late", "mvm-init: ready");
}
END_TEST

/* --- nothing a tenant gave in any argv or environment --------------------- */

/* Read /proc/PID/<what>; -1 when it cannot be read (gone, or not ours). */
static ssize_t proc_read(const char *pid, const char *what, char *buf, size_t size)
{
	char path[300];
	snprintf(path, sizeof(path), "/proc/%s/%s", pid, what);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	size_t len = 0;
	ssize_t k;
	while (len < size && (k = read(f, buf + len, size - len)) > 0)
		len += (size_t)k;
	close(f);
	return (ssize_t)len;
}

typedef struct scan {
	int hits;          /* files with a tenant string in them */
	bool saw_vmm;      /* cloud-hypervisor's cmdline was among those read */
	char first[256];   /* where the first hit was */
} scan_t;

/* Every process's cmdline and environ against the strings. */
static void scan_all(const char *const *strs, size_t n, pid_t vmm, scan_t *s)
{
	static char buf[1 << 20];
	const char *what[] = { "cmdline", "environ" };
	DIR *dir = opendir("/proc");
	struct dirent *e;

	memset(s, 0, sizeof(*s));
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		for (size_t w = 0; w < 2; w++) {
			ssize_t len = proc_read(e->d_name, what[w], buf, sizeof(buf));
			if (len < 0)
				continue;
			s->saw_vmm |= w == 0 && atoi(e->d_name) == vmm;
			for (size_t i = 0; i < n; i++)
				if (memmem(buf, (size_t)len, strs[i], strlen(strs[i])) && !s->hits++)
					snprintf(s->first, sizeof(s->first), "/proc/%.16s/%s has \"%.80s\"", e->d_name,
						 what[w], strs[i]);
		}
	}
	closedir(dir);
}

/* The same scan in a child that has become nobody:nogroup (any local user). */
static void scan_as_nobody(const char *const *strs, size_t n, pid_t vmm, scan_t *s)
{
	int p[2], st;
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		scan_t r;
		close(p[0]);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0 || getuid() != 65534)
			_exit(2);
		scan_all(strs, n, vmm, &r);
		_exit(write(p[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 3);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], s, sizeof(*s)), (ssize_t)sizeof(*s));
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "scan as nobody: status %d", st);
}

/* A ch VM's kernel command line, name, labels and kernel path are the
 * tenant's: cloud-hypervisor gets them through vm.create, never on its
 * command line, and it inherits none of mvmd's environment. */
START_TEST(test_no_tenant_strings)
{
	char cmdline[128], name[64], label[64], kname[64], kpath[300], canary[64], p[1024], path[512];

	snprintf(cmdline, sizeof(cmdline), "CMDLINE-SECRET-%d-%ld", (int)getpid(), (long)time(NULL));
	snprintf(name, sizeof(name), "name-secret-%d", (int)getpid());
	snprintf(label, sizeof(label), "LABEL-SECRET-%d", (int)getpid());
	snprintf(kname, sizeof(kname), "KERNEL-SECRET-%d-%ld", (int)getpid(), (long)time(NULL));
	snprintf(kpath, sizeof(kpath), "%s/vmlinuz-%s", d.dir, kname);
	snprintf(canary, sizeof(canary), "MVMD-ENV-CANARY-%d", (int)getpid());
	ck_assert_int_eq(rename(kernel, kpath), 0);
	/* mvmd's own environment must not reach cloud-hypervisor either. */
	setenv("MVMT_CH_CANARY", canary, 1);
	start_daemon(NULL);
	unsetenv("MVMT_CH_CANARY");
	snprintf(p, sizeof(p),
		 "{\"name\":\"%s\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\","
		 "\"cmdline\":\"console=ttyS0 mvm.token=%s\",\"labels\":{\"team\":\"%s\"}}",
		 name, kpath, cmdline, label);
	json_object_put(mvmt_result(fd, "compute.vm.create", p));
	json_object *r = call_id("compute.vm.start", name, NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	pid_t pid = (pid_t)mvmt_int(r, "result.pid");
	json_object_put(r);
	ck_assert(!mvmt_process_ended(pid));

	/* (mvmd's own environment holds the canary: it is checked below in
	 * what cloud-hypervisor got, not scanned for.) */
	const char *strs[] = { cmdline, name, label, kname };
	scan_t s;
	scan_all(strs, sizeof(strs) / sizeof(strs[0]), pid, &s);
	ck_assert_msg(s.hits == 0, "as root: %d hits, first: %s", s.hits, s.first);
	ck_assert_msg(s.saw_vmm, "as root: cloud-hypervisor %d was not scanned", (int)pid);
	scan_as_nobody(strs, sizeof(strs) / sizeof(strs[0]), pid, &s);
	ck_assert_msg(s.hits == 0, "as nobody: %d hits, first: %s", s.hits, s.first);
	ck_assert_msg(s.saw_vmm, "as nobody: cloud-hypervisor %d's cmdline was not readable", (int)pid);

	/* The VM really got them: the double's view of its VmConfig. */
	vm_file(name, "fake-ch.config", path, sizeof(path));
	json_object *cfg = json_object_from_file(path);
	ck_assert_ptr_nonnull(cfg);
	snprintf(p, sizeof(p), "console=ttyS0 mvm.token=%s", cmdline);
	ck_assert_str_eq(mvmt_str(cfg, "payload.cmdline"), p);
	ck_assert_str_eq(mvmt_str(cfg, "payload.kernel"), kpath);
	json_object_put(cfg);

	/* Its whole environment, as it saw it: the sanitizer options at most. */
	vm_file(name, "fake-ch.environ", path, sizeof(path));
	char *env = slurp(path);
	ck_assert_ptr_nonnull(env);
	for (char *line = env; *line; line = strchr(line, '\n') + 1)
		ck_assert_msg(strncmp(line, "ASAN_OPTIONS=", 13) == 0 || strncmp(line, "UBSAN_OPTIONS=", 14) == 0 ||
				      strncmp(line, "LSAN_OPTIONS=", 13) == 0,
			      "cloud-hypervisor inherited %.*s", (int)strcspn(line, "\n"), line);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mvmd_ch");
	TCase *tc = tcase_create("mvmd_ch");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_lifecycle);
	tcase_add_test(tc, test_power_button_ignored);
	tcase_add_test(tc, test_force_stop_and_crash);
	tcase_add_test(tc, test_kvm_device_opened_once);
	tcase_add_test(tc, test_boot_error_reported);
	tcase_add_test(tc, test_version_refused);
	tcase_add_test(tc, test_missing_binary);
	tcase_add_test(tc, test_readopt_after_kill9);
	tcase_add_test(tc, test_blob_server_follows_vm);
	tcase_add_test(tc, test_slow_start);
	tcase_add_test(tc, test_stop_before_api);
	tcase_add_test(tc, test_running_is_quiet);
	tcase_add_test(tc, test_no_tenant_strings);
	tcase_add_test(tc, test_readopt_before_create);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
