/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.vm.add-disk / add-net / remove-device on a Running ch VM through
 * the real mvmd, against the cloud-hypervisor TEST DOUBLE
 * (build/tests/doubles/fake-cloud-hypervisor serving tests/lib/ch-api-double.c
 * and ch-api-double-hotplug.c: DiskConfig / NetConfig / VmRemoveDevice as
 * the OpenAPI document defines them, 409 for an id already there, 404 for
 * an unknown one). What this proves: the exact request bodies and the ids
 * mvmd gives, status showing the devices as they are, re-adoption after
 * kill -9 of mvmd keeping them, the next cold boot's vm.create carrying
 * them, and bad input refused before anything is asked, leaving the VM's
 * devices as they were. The fixture is tests/lib/ch-daemon.c.
 */
#include <check.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ch-daemon.h"
#include "mvmt-main.h"
#include "mvmtest.h"

static char img_root[256], img_data[256], img_more[256];

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("image\n", f);
	fclose(f);
}

static void setup(void)
{
	chd_setup();
	snprintf(img_root, sizeof(img_root), "%s/root.img", chd.d.dir);
	snprintf(img_data, sizeof(img_data), "%s/data.img", chd.d.dir);
	snprintf(img_more, sizeof(img_more), "%s/more.img", chd.d.dir);
	touch(img_root);
	touch(img_data);
	touch(img_more);
}

/* A Running ch VM with a root disk (serial "root") and tap "tap-a";
 * its pid. */
static int start_vm(const char *name)
{
	char p[1024];

	snprintf(p, sizeof(p),
		 "{\"name\":\"%s\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\","
		 "\"disks\":[{\"path\":\"%s\",\"serial\":\"root\"}],\"net\":[{\"tap\":\"tap-a\"}],"
		 "\"root\":{\"disk\":0},\"process\":{\"args\":[\"/bin/true\"],\"keep_running\":true}}",
		 name, chd.kernel, img_root);
	json_object_put(mvmt_result(chd.fd, "compute.vm.create", p));
	json_object *r = chd_call_id("compute.vm.start", name, NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
	int pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	return pid;
}

/* The method's result (asserted), a new reference. */
static json_object *ok(const char *method, const char *name, const char *extra)
{
	json_object *r = chd_call_id(method, name, extra);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "%s failed: %s", method, json_object_to_json_string(r));
	json_object *res = json_object_get(mvmt_get(r, "result"));
	json_object_put(r);
	return res;
}

/* The error's code, asserting the whole error holds `want`. */
static int64_t err(const char *method, const char *name, const char *extra, const char *want)
{
	json_object *r = chd_call_id(method, name, extra);
	ck_assert_msg(mvmt_get(r, "error") != NULL, "%s %s answered: %s", method, extra ? extra : "",
		      json_object_to_json_string(r));
	ck_assert_msg(!want || strstr(json_object_to_json_string_ext(r, JSON_C_TO_STRING_NOSLASHESCAPE), want),
		      "%s %s: no \"%s\" in %s", method, extra ? extra : "", want, json_object_to_json_string(r));
	int64_t code = mvmt_int(r, "error.code");
	json_object_put(r);
	return code;
}

static const char *plain(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The status's disks and net, as one plain JSON text (static buffer). */
static const char *devices(const char *name)
{
	static char buf[4096];
	json_object *s = chd_status(name);

	snprintf(buf, sizeof(buf), "%s %s", plain(mvmt_get(s, "disks")), plain(mvmt_get(s, "net")));
	json_object_put(s);
	return buf;
}

/* Add a disk and a tap, remove the disk: the exact bodies, the ids; status
 * follows; kill -9 of mvmd keeps them; the next cold boot boots with them. */
START_TEST(test_add_remove)
{
	char extra[512], expect[2048], path[PATH_MAX];

	chd_start(NULL);
	int pid = start_vm("hot");
	snprintf(extra, sizeof(extra), "\"path\":\"%s\",\"serial\":\"data\"", img_data);
	json_object *r = ok("compute.vm.add-disk", "hot", extra);
	ck_assert_str_eq(mvmt_str(r, "state"), "Running");
	snprintf(expect, sizeof(expect), "{\"path\":\"%s\",\"serial\":\"data\",\"id\":\"disk1\"}", img_data);
	ck_assert_str_eq(plain(mvmt_get(r, "device")), expect);
	json_object_put(r);

	r = ok("compute.vm.add-net", "hot", "\"tap\":\"tap-b\"");
	ck_assert_str_eq(mvmt_str(r, "device.id"), "net1");
	char mac[18];
	snprintf(mac, sizeof(mac), "%s", mvmt_str(r, "device.mac"));
	unsigned first = 0;
	ck_assert_msg(sscanf(mac, "%2x:", &first) == 1 && (first & 3) == 2, "not local unicast: %s", mac);
	json_object_put(r);
	r = ok("compute.vm.add-net", "hot", "\"tap\":\"tap-c\",\"mac\":\"52:54:00:00:00:0c\"");
	ck_assert_str_eq(mvmt_str(r, "device.id"), "net2");
	json_object_put(r);

	/* What cloud-hypervisor was sent, exactly. */
	chd_vm_file("hot", "fake-ch.hotplug", path, sizeof(path));
	snprintf(expect, sizeof(expect),
		 "vm.add-disk {\"path\":\"%s\",\"readonly\":false,\"serial\":\"data\",\"id\":\"disk1\"}\n"
		 "vm.add-net {\"tap\":\"tap-b\",\"mac\":\"%s\",\"id\":\"net1\"}\n"
		 "vm.add-net {\"tap\":\"tap-c\",\"mac\":\"52:54:00:00:00:0c\",\"id\":\"net2\"}\n",
		 img_data, mac);
	ck_assert_str_eq(chd_slurp(path), expect);

	r = ok("compute.vm.remove-device", "hot", "\"device\":\"net1\"");
	ck_assert_str_eq(mvmt_str(r, "device.tap"), "tap-b");
	json_object_put(r);
	ck_assert_msg(strstr(chd_slurp(path), "vm.remove-device {\"id\":\"net1\"}\n"), "%s", chd_slurp(path));
	snprintf(expect, sizeof(expect),
		 "[{\"path\":\"%s\",\"serial\":\"root\",\"id\":\"disk0\"},{\"path\":\"%s\",\"serial\":\"data\",\"id\":\"disk1\"}] "
		 "[{\"tap\":\"tap-a\",\"id\":\"net0\",\"mac\":\"",
		 img_root, img_data);
	ck_assert_msg(strncmp(devices("hot"), expect, strlen(expect)) == 0, "%s", devices("hot"));
	ck_assert_msg(strstr(devices("hot"), "{\"tap\":\"tap-c\",\"mac\":\"52:54:00:00:00:0c\",\"id\":\"net2\"}]"), "%s",
		      devices("hot"));
	/* A new tap takes the next id: net1 is not reused while net2 is there. */
	r = ok("compute.vm.add-net", "hot", "\"tap\":\"tap-d\"");
	ck_assert_str_eq(mvmt_str(r, "device.id"), "net3");
	json_object_put(r);
	char before[4096];
	snprintf(before, sizeof(before), "%s", devices("hot"));

	/* kill -9 mvmd: the re-adopted VM has the devices it had. */
	close(chd.fd);
	mvmt_forget_fd(chd.fd);
	mvmt_daemon_stop(&chd.d, SIGKILL);
	chd_start(NULL);
	json_object_put(chd_wait_state("hot", "Running"));
	ck_assert_str_eq(devices("hot"), before);
	json_object *s = chd_status("hot");
	ck_assert_int_eq(mvmt_int(s, "pid"), pid);
	json_object_put(s);
	r = ok("compute.vm.remove-device", "hot", "\"device\":\"disk1\"");
	json_object_put(r);

	/* The next cold boot's VmConfig carries the devices as they are now. */
	json_object_put(ok("compute.vm.stop", "hot", NULL));
	chd_wait_ended(pid);
	json_object_put(ok("compute.vm.start", "hot", NULL));
	json_object_put(chd_wait_state("hot", "Running"));
	chd_vm_file("hot", "fake-ch.config", path, sizeof(path));
	json_object *cfg = json_object_from_file(path);
	ck_assert_ptr_nonnull(cfg);
	snprintf(expect, sizeof(expect), "[{\"path\":\"%s\",\"readonly\":false,\"serial\":\"root\",\"id\":\"disk0\"}]",
		 img_root);
	ck_assert_str_eq(plain(mvmt_get(cfg, "disks")), expect);
	json_object *net = mvmt_get(cfg, "net");
	ck_assert_int_eq(json_object_array_length(net), 3);
	ck_assert_str_eq(mvmt_str(json_object_array_get_idx(net, 1), "id"), "net2");
	ck_assert_str_eq(mvmt_str(json_object_array_get_idx(net, 2), "tap"), "tap-d");
	ck_assert_str_eq(mvmt_str(json_object_array_get_idx(net, 2), "id"), "net3");
	json_object_put(cfg);
}
END_TEST

/* Removing a disk before the root disk keeps root pointing at it. */
START_TEST(test_remove_shifts_root_index)
{
	char p[1024], extra[512];

	chd_start(NULL);
	snprintf(p, sizeof(p),
		 "{\"name\":\"shift\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\","
		 "\"disks\":[{\"path\":\"%s\"},{\"path\":\"%s\",\"serial\":\"root\"}],"
		 "\"root\":{\"disk\":1},\"process\":{\"args\":[\"/bin/true\"],\"keep_running\":true}}",
		 chd.kernel, img_data, img_root);
	json_object_put(mvmt_result(chd.fd, "compute.vm.create", p));
	json_object_put(ok("compute.vm.start", "shift", NULL));
	ck_assert_int_eq(err("compute.vm.remove-device", "shift", "\"device\":\"disk1\"", "root disk"), -32602);
	json_object_put(ok("compute.vm.remove-device", "shift", "\"device\":\"disk0\""));
	json_object *s = chd_status("shift");
	ck_assert_int_eq(mvmt_int(s, "root.disk"), 0);
	ck_assert_int_eq(json_object_array_length(mvmt_get(s, "disks")), 1);
	json_object_put(s);
	/* Still the root disk: refused. */
	ck_assert_int_eq(err("compute.vm.remove-device", "shift", "\"device\":\"disk1\"", "root disk"), -32602);
	snprintf(extra, sizeof(extra), "\"path\":\"%s\"", img_more);
	json_object *r = ok("compute.vm.add-disk", "shift", extra);
	ck_assert_str_eq(mvmt_str(r, "device.id"), "disk2");
	json_object_put(r);
}
END_TEST

/* Bad input: -32602 (or -32002, -32000 with EPERM), nothing asked of
 * cloud-hypervisor, the devices as they were. */
START_TEST(test_refused)
{
	char dir[256], extra[512], before[4096];

	chd_start(NULL);
	snprintf(dir, sizeof(dir), "%s/adir", chd.d.dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	start_vm("bad");
	snprintf(before, sizeof(before), "%s", devices("bad"));
	struct {
		const char *method, *extra, *want;
		int64_t code;
	} cases[] = {
		{ "compute.vm.add-disk", "\"path\":\"data.img\"", "path", -32602 },
		{ "compute.vm.add-disk", "\"path\":\"@/../data.img\"", "\\\"..\\\"", -32602 },
		{ "compute.vm.add-disk", "\"path\":\"@/adir\"", "is a directory", -32602 },
		{ "compute.vm.add-disk", "\"path\":\"@/missing.img\"", "No such file", -32602 },
		{ "compute.vm.add-disk", "\"path\":\"/dev/null\"", "neither a regular file", -32602 },
		{ "compute.vm.add-disk", "\"path\":\"@/data.img\",\"serial\":\"root\"", "is also disks[0]'s", -32602 },
		{ "compute.vm.add-disk", "\"path\":\"@/data.img\",\"serial\":\"has space\"", "serial", -32602 },
		{ "compute.vm.add-disk", "\"path\":\"@/data.img\",\"cache\":\"none\"", "cache", -32602 },
		{ "compute.vm.add-net", "\"tap\":\"a/b\"", "tap", -32602 },
		{ "compute.vm.add-net", "\"tap\":\"tap0123456789abc\"", "tap", -32602 },
		{ "compute.vm.add-net", "\"tap\":\"tap-a\"", "is also net[0]'s", -32602 },
		{ "compute.vm.add-net", "\"tap\":\"tap-x\",\"mac\":\"02:00:00:00:00\"", "mac", -32602 },
		{ "compute.vm.add-net", NULL, "tap", -32602 },
		{ "compute.vm.remove-device", "\"device\":\"disk9\"", "no device \\\"disk9\\\"", -32602 },
		{ "compute.vm.remove-device", "\"device\":\"disk0\"", "root disk", -32602 },
		{ "compute.vm.remove-device", "\"device\":\"../x\"", "device", -32602 },
		{ "compute.vm.remove-device", NULL, "device", -32602 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char e[1024];
		size_t n = 0;
		for (const char *c = cases[i].extra; c && *c && n < sizeof(e) - 300; c++)
			if (*c == '@')
				n += (size_t)snprintf(e + n, sizeof(e) - n, "%s", chd.d.dir);
			else
				e[n++] = *c;
		e[n] = '\0';
		ck_assert_int_eq(err(cases[i].method, "bad", cases[i].extra ? e : NULL, cases[i].want), cases[i].code);
		ck_assert_str_eq(devices("bad"), before);
	}
	/* Nothing was asked of cloud-hypervisor. */
	char path[PATH_MAX];
	chd_vm_file("bad", "fake-ch.hotplug", path, sizeof(path));
	ck_assert_int_ne(access(path, F_OK), 0);

	/* At most 16 disks (each its own file: cloud-hypervisor refuses a
	 * path twice). */
	for (int i = 1; i <= 16; i++) {
		snprintf(extra, sizeof(extra), "%s/more%d.img", chd.d.dir, i);
		touch(extra);
		snprintf(extra, sizeof(extra), "\"path\":\"%s/more%d.img\",\"readonly\":true", chd.d.dir, i);
		if (i < 16)
			json_object_put(ok("compute.vm.add-disk", "bad", extra));
	}
	ck_assert_int_eq(err("compute.vm.add-disk", "bad", extra, "at most 16"), -32602);

	/* Not Running: -32002; a kvm VM: -32602 naming the backend. */
	json_object_put(ok("compute.vm.pause", "bad", NULL));
	ck_assert_int_eq(err("compute.vm.add-net", "bad", "\"tap\":\"tap-p\"", "Running"), -32002);
	json_object_put(mvmt_result(chd.fd, "compute.vm.create", "{\"name\":\"k\",\"memory_mib\":16}"));
	ck_assert_int_eq(err("compute.vm.add-net", "k", "\"tap\":\"tap-p\"", "kvm"), -32602);
	ck_assert_int_eq(err("compute.vm.remove-device", "nosuchvm", "\"device\":\"disk0\"", NULL), -32001);
}
END_TEST

/* cloud-hypervisor refuses the add: -32000 with its answer; the spec
 * keeps the devices it had. */
START_TEST(test_vmm_refuses)
{
	char extra[512], before[4096];

	chd_knob("MVM_FAKE_CH_REFUSE_HOTPLUG", "1");
	chd_start(NULL);
	start_vm("no");
	snprintf(before, sizeof(before), "%s", devices("no"));
	snprintf(extra, sizeof(extra), "\"path\":\"%s\"", img_data);
	ck_assert_int_eq(err("compute.vm.add-disk", "no", extra, "HTTP 500"), -32000);
	ck_assert_int_eq(err("compute.vm.add-net", "no", "\"tap\":\"tap-z\"", "the guest did not take it"), -32000);
	ck_assert_str_eq(devices("no"), before);
	/* Removing still works. */
	json_object_put(ok("compute.vm.remove-device", "no", "\"device\":\"net0\""));
}
END_TEST

/* A client that may not name host files (--socket-group) cannot add a
 * disk; it may add a tap, as create lets it name taps. */
START_TEST(test_add_disk_needs_root)
{
	char params[512], run[256];

	/* nobody reaches the socket through the test's directories. */
	snprintf(run, sizeof(run), "%s/run", chd.d.dir);
	ck_assert_int_eq(chmod(chd.d.dir, 0711), 0);
	ck_assert_int_eq(mkdir(run, 0711), 0);
	mvmt_daemon_start(&chd.d, "--ch-binary", chd.fake, "--kvm-device", chd.fake_kvm, "--kvm-pool", "0",
			  "--socket-group", "nogroup", NULL);
	chd.fd = mvmt_connect(chd.d.sock);
	start_vm("grp");
	snprintf(params, sizeof(params), "{\"id\":\"grp\",\"path\":\"%s\"}", img_data);
	json_object *r = mvmt_call_as_nobody(chd.d.sock, "compute.vm.add-disk", params);
	ck_assert_msg(mvmt_int(r, "error.code") == -32000, "%s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "error.data.errno"), "EPERM");
	ck_assert_str_eq(mvmt_str(r, "error.data.param"), "path");
	json_object_put(r);
	r = mvmt_call_as_nobody(chd.d.sock, "compute.vm.add-net", "{\"id\":\"grp\",\"tap\":\"tap-g\"}");
	ck_assert_msg(mvmt_get(r, "result") != NULL, "%s", json_object_to_json_string(r));
	json_object_put(r);
	json_object *s = chd_status("grp");
	ck_assert_int_eq(json_object_array_length(mvmt_get(s, "disks")), 1);
	json_object_put(s);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "mvmd_ch_hotplug",
		.timeout = 90,
		.setup = setup,
		.teardown = chd_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_add_remove),
			MVMT_TEST(test_remove_shifts_root_index),
			MVMT_TEST(test_refused),
			MVMT_TEST(test_vmm_refuses),
			MVMT_TEST(test_add_disk_needs_root)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd_ch_hotplug", .tcases = tcases)
