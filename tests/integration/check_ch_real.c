/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ch backend against the REAL cloud-hypervisor: mvmd boots Debian's
 * kernel with mvmd's initramfs (mvm-init as /init), the console relay shows
 * mvm-init's ready banner, and a stop ends the VM (by the ACPI power
 * button when the initramfs carries its driver); and a VM with a root disk
 * (a busybox image built here) runs its process, whose exit code is the
 * VM's; and a disk and a tap hot-added to the Running VM, one removed,
 * and the next cold boot taking the rest. This is what the doubles
 * of check_mvmd_ch.c cannot prove: that the real binary takes the VM from
 * vm.create's VmConfig with nothing but --api-socket on its command line.
 *
 * It runs only where it can: a cloud-hypervisor >= v36.0 ($MVM_CH_BINARY or
 * on PATH), a /dev/kvm that boots Linux guests (not the nested PVM of the
 * development machines, where guest CPL0 is emulated), and a kernel
 * ($MVM_CH_KERNEL, else the one tests/suites/mvm-init-qemu.sh fetched into
 * build/guest/kernel/vmlinuz, a bzImage, which needs cloud-hypervisor >=
 * v39.0). Otherwise it prints "SKIP: cloud-hypervisor not available" (the
 * reason on stderr) and exits 77.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ch/process.h"
#include "ch/version.h"
#include "mvmt-main.h"
#include "mvmtest.h"

static char binary[PATH_MAX], kernel[PATH_MAX];

static mvmt_daemon_t d;
static int fd = -1;

/* NULL when everything the test needs is here, else why not. */
static const char *ch_real_skip_reason(void)
{
	const char *env = getenv("MVM_CH_BINARY"), *src = getenv("MVM_SRC_DIR");
	static char why[PATH_MAX + 128];
	char *found = NULL, text[128];
	ch_version_t v;
	struct stat st;
	int k;

	if (ch_binary_find(env && *env ? env : "cloud-hypervisor", &found) < 0)
		return "no cloud-hypervisor on PATH and no $MVM_CH_BINARY";
	snprintf(binary, sizeof(binary), "%s", found);
	free(found);
	if (ch_binary_version(binary, 2000, &v, text, sizeof(text)) < 0)
		return "cloud-hypervisor --version does not print a version";
	if (!ch_version_supported(&v))
		return "cloud-hypervisor is older than " CH_VERSION_MIN_TEXT;
	k = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k < 0)
		return "/dev/kvm cannot be opened";
	close(k);
	/* Under the nested PVM hypervisor a Linux kernel cannot run (docs/design.md §5). */
	if (stat("/sys/module/kvm_pvm", &st) == 0)
		return "/dev/kvm is nested PVM here: guest CPL0 is emulated, a Linux guest cannot boot";
	env = getenv("MVM_CH_KERNEL");
	if (env && *env) {
		snprintf(kernel, sizeof(kernel), "%s", env);
	} else {
		if (v.major < 39)
			return "cloud-hypervisor < v39.0 cannot boot a bzImage: set MVM_CH_KERNEL to a vmlinux";
		snprintf(kernel, sizeof(kernel), "%s/build/guest/kernel/vmlinuz", src && *src ? src : ".");
	}
	if (access(kernel, R_OK) < 0) {
		snprintf(why, sizeof(why), "no kernel at %s (run make check once with network, or set MVM_CH_KERNEL)", kernel);
		return why;
	}
	return NULL;
}

static json_object *call_id(const char *method, const char *extra)
{
	char p[PATH_MAX * 2 + 512];
	snprintf(p, sizeof(p), "{\"id\":\"linux\"%s%s}", extra ? "," : "", extra ? extra : "");
	return mvmt_call(fd, method, p);
}

static bool log_has(const char *needle)
{
	json_object *r = call_id("compute.vm.logs", NULL);
	bool found = strstr(mvmt_str(r, "result.data"), needle) != NULL;
	json_object_put(r);
	return found;
}

START_TEST(test_boot_banner_stop)
{
	char p[PATH_MAX + 256];

	mvmt_daemon_init(&d);
	mvmt_daemon_start(&d, "--ch-binary", binary, NULL);
	fd = mvmt_connect(d.sock);

	json_object *info = mvmt_result(fd, "compute.node.info", NULL);
	ck_assert_msg(json_object_get_boolean(mvmt_get(info, "backends.ch.usable")), "%s",
		      json_object_to_json_string(info));
	json_object_put(info);

	snprintf(p, sizeof(p),
		 "{\"name\":\"linux\",\"backend\":\"ch\",\"memory_mib\":256,\"kernel\":\"%s\","
		 "\"cmdline\":\"console=ttyS0 reboot=k panic=1 mvm.hostname=ch-real\"}",
		 kernel);
	json_object *r = mvmt_result(fd, "compute.vm.create", p);
	ck_assert_str_eq(mvmt_str(r, "state"), "Configured");
	json_object_put(r);

	r = call_id("compute.vm.start", "\"timeout_ms\":30000");
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	int pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);

	/* Its command line is the API socket only: the kernel command line
	 * (the tenant's) is nowhere in it. */
	char argv_buf[8192];
	snprintf(p, sizeof(p), "/proc/%d/cmdline", pid);
	int af = open(p, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(af, 0);
	ssize_t an = read(af, argv_buf, sizeof(argv_buf) - 1);
	close(af);
	ck_assert_int_gt(an, 0);
	ck_assert_ptr_null(memmem(argv_buf, (size_t)an, "mvm.hostname=ch-real", 20));
	ck_assert_ptr_null(memmem(argv_buf, (size_t)an, "--kernel", 8));

	/* The guest booted to mvm-init, whose banner came through the relay. */
	bool ready = false;
	for (int i = 0; i < 600 && !(ready = log_has("mvm-init: ready")); i++)
		usleep(100000);
	if (!ready) {
		r = call_id("compute.vm.logs", NULL);
		ck_abort_msg("no ready banner in 60 s; console: %s", mvmt_str(r, "result.data"));
	}

	/* mvm-init powers off on the power button (ACPI) or is shut down by
	 * vm.shutdown after the timeout: either way the VM ends Stopped. With
	 * the button driver in the initramfs (node.info's initramfs_kernel is
	 * this kernel's) it must be the button, well before the timeout. */
	info = mvmt_result(fd, "compute.node.info", NULL);
	bool has_button = mvmt_get(info, "backends.ch.initramfs_kernel") != NULL;
	json_object_put(info);
	r = call_id("compute.vm.stop", "\"timeout_ms\":60000");
	ck_assert_msg(mvmt_get(r, "result") != NULL, "stop: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	if (has_button)
		ck_assert_str_eq(mvmt_str(r, "result.cause"), "stopped (power button)");
	json_object_put(r);
	if (has_button)
		ck_assert(log_has("mvm-init: shutting down (power button)"));

	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_cleanup(&d);
}
END_TEST

/* Pause, resume, snapshot and restore through the real binary's API: the
 * guest keeps its state across pause, and a VM stopped after a snapshot
 * comes back Running from it (vm.restore + vm.resume, no boot). */
START_TEST(test_pause_snapshot_restore)
{
	char p[PATH_MAX + 256], snap[64];

	mvmt_daemon_init(&d);
	mvmt_daemon_start(&d, "--ch-binary", binary, NULL);
	fd = mvmt_connect(d.sock);
	snprintf(p, sizeof(p), "{\"name\":\"linux\",\"backend\":\"ch\",\"memory_mib\":256,\"kernel\":\"%s\"}", kernel);
	json_object_put(mvmt_result(fd, "compute.vm.create", p));
	json_object *r = call_id("compute.vm.start", "\"timeout_ms\":30000");
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start: %s", json_object_to_json_string(r));
	json_object_put(r);
	bool ready = false;
	for (int i = 0; i < 600 && !(ready = log_has("mvm-init: ready")); i++)
		usleep(100000);
	ck_assert_msg(ready, "no ready banner in 60 s");

	r = call_id("compute.vm.pause", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "pause: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Paused");
	json_object_put(r);
	r = call_id("compute.vm.resume", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "resume: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);

	r = call_id("compute.vm.snapshot", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "snapshot: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	snprintf(snap, sizeof(snap), "%s", mvmt_str(r, "result.snapshot.name"));
	json_object_put(r);

	r = call_id("compute.vm.stop", "\"force\":true");
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	json_object_put(r);
	char extra[128];
	snprintf(extra, sizeof(extra), "\"timeout_ms\":30000,\"snapshot\":\"%.60s\"", snap);
	r = call_id("compute.vm.start", extra);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "restore: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	r = call_id("compute.vm.stop", "\"timeout_ms\":60000");
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	json_object_put(r);

	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_cleanup(&d);
}
END_TEST

/* The image's process on a root disk: a busybox ext4 image built here
 * (mke2fs -d), attached as a disk with a serial, mounted by mvm-init as /,
 * the process's output on the console and its exit code the VM's. */
START_TEST(test_image_process)
{
	char p[16384], root[1024], img[1100];

	mvmt_daemon_init(&d);
	snprintf(root, sizeof(root), "%s/rootfs", d.dir);
	snprintf(img, sizeof(img), "%s/root.img", d.dir);
	snprintf(p, sizeof(p),
		 "mkdir -p %s/bin %s/dev %s/proc %s/sys %s/run && cp /bin/busybox %s/bin/busybox && "
		 "ln -s busybox %s/bin/sh && mke2fs -q -t ext4 -d %s %s 16M",
		 root, root, root, root, root, root, root, root, img);
	if (system(p) != 0) {
		mvmt_daemon_cleanup(&d);
		MVMT_SKIP("no static /bin/busybox or mke2fs to build a root image");
	}
	mvmt_daemon_start(&d, "--ch-binary", binary, NULL);
	fd = mvmt_connect(d.sock);
	json_object *info = mvmt_result(fd, "compute.node.info", NULL);
	bool modules = mvmt_get(info, "backends.ch.initramfs_kernel") != NULL;
	json_object_put(info);
	if (!modules) {
		close(fd);
		mvmt_forget_fd(fd);
		mvmt_daemon_cleanup(&d);
		MVMT_SKIP("the default initramfs has no guest kernel modules (virtio-blk): make with GUEST_KERNEL_TREE");
	}
	snprintf(p, sizeof(p),
		 "{\"name\":\"linux\",\"backend\":\"ch\",\"memory_mib\":256,\"kernel\":\"%s\","
		 "\"disks\":[{\"path\":\"%s\",\"serial\":\"root\"}],\"root\":{\"disk\":\"root\"},"
		 "\"process\":{\"args\":[\"/bin/sh\",\"-c\",\"echo from-image $X; exit 3\"],\"env\":{\"X\":\"y\"}}}",
		 kernel, img);
	json_object_put(mvmt_result(fd, "compute.vm.create", p));
	json_object *r = call_id("compute.vm.start", "\"timeout_ms\":30000");
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start: %s", json_object_to_json_string(r));
	json_object_put(r);
	json_object *st = mvmt_wait_state(fd, "linux", "Stopped");
	r = call_id("compute.vm.logs", NULL);
	ck_assert_msg(strstr(mvmt_str(r, "result.data"), "from-image y"), "%s", mvmt_str(r, "result.data"));
	json_object_put(r);
	ck_assert_str_eq(mvmt_str(st, "cause"), "guest powered off");
	ck_assert_int_eq(mvmt_int(st, "exit_code"), 3);
	json_object_put(st);
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_cleanup(&d);
}
END_TEST

/* Hotplug through the real binary: vm.add-disk and vm.add-net with mvmd's
 * ids on a booted guest, vm.remove-device of one, and a cold boot whose
 * VmConfig (ids included) carries the one left. The tap is made here
 * (ip tuntap); without it only the disk is exercised, said loudly. */
START_TEST(test_hotplug)
{
	char p[PATH_MAX + 256], img[PATH_MAX], cmd[PATH_MAX + 64];
	bool tap = system("ip tuntap add dev mvmthp0 mode tap 2>/dev/null") == 0;

	if (!tap)
		fprintf(stderr, "check_ch_real: cannot make tap mvmthp0 (ip tuntap): vm.add-net not exercised\n");
	mvmt_daemon_init(&d);
	snprintf(img, sizeof(img), "%s/data.img", d.dir);
	snprintf(cmd, sizeof(cmd), "truncate -s 1M %s", img);
	ck_assert_int_eq(system(cmd), 0);
	mvmt_daemon_start(&d, "--ch-binary", binary, NULL);
	fd = mvmt_connect(d.sock);
	snprintf(p, sizeof(p), "{\"name\":\"linux\",\"backend\":\"ch\",\"memory_mib\":256,\"kernel\":\"%s\"}", kernel);
	json_object_put(mvmt_result(fd, "compute.vm.create", p));
	json_object *r = call_id("compute.vm.start", "\"timeout_ms\":30000");
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start: %s", json_object_to_json_string(r));
	json_object_put(r);
	bool ready = false;
	for (int i = 0; i < 600 && !(ready = log_has("mvm-init: ready")); i++)
		usleep(100000);
	ck_assert_msg(ready, "no ready banner in 60 s");

	snprintf(p, sizeof(p), "\"path\":\"%s\",\"serial\":\"data\"", img);
	r = call_id("compute.vm.add-disk", p);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "add-disk: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.device.id"), "disk0");
	json_object_put(r);
	if (tap) {
		r = call_id("compute.vm.add-net", "\"tap\":\"mvmthp0\"");
		ck_assert_msg(mvmt_get(r, "result") != NULL, "add-net: %s", json_object_to_json_string(r));
		ck_assert_str_eq(mvmt_str(r, "result.device.id"), "net0");
		json_object_put(r);
		r = call_id("compute.vm.remove-device", "\"device\":\"net0\"");
		ck_assert_msg(mvmt_get(r, "result") != NULL, "remove-device: %s", json_object_to_json_string(r));
		json_object_put(r);
	}
	/* An id cloud-hypervisor does not know: mvmd refuses it first. */
	r = call_id("compute.vm.remove-device", "\"device\":\"disk9\"");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32602);
	json_object_put(r);

	/* Cold boot: the real binary takes the VmConfig with the disk's id. */
	r = call_id("compute.vm.stop", "\"force\":true");
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	json_object_put(r);
	r = call_id("compute.vm.start", "\"timeout_ms\":30000");
	ck_assert_msg(mvmt_get(r, "result") != NULL, "cold boot with the disk: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "result.disks")), 1);
	json_object_put(r);
	/* The disk is removable after the boot too, by the same id. */
	r = call_id("compute.vm.remove-device", "\"device\":\"disk0\"");
	ck_assert_msg(mvmt_get(r, "result") != NULL, "remove-device: %s", json_object_to_json_string(r));
	json_object_put(r);
	r = call_id("compute.vm.stop", "\"force\":true");
	json_object_put(r);
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_cleanup(&d);
	if (tap)
		(void)!system("ip link del mvmthp0 2>/dev/null");
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "ch_real",
		.timeout = 120,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_boot_banner_stop),
			MVMT_TEST(test_image_process),
			MVMT_TEST(test_pause_snapshot_restore),
			MVMT_TEST(test_hotplug)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "ch_real", .tcases = tcases, .skip = ch_real_skip_reason)
