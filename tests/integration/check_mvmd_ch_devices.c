/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A ch VM's disks and taps through the real mvmd, against the TEST DOUBLE
 * of cloud-hypervisor (build/tests/doubles/fake-cloud-hypervisor, serving
 * tests/lib/ch-api-double.c, which checks DiskConfig and NetConfig the
 * way the OpenAPI document defines them): the exact vm.create body, what
 * status reports, the derived MACs, re-adoption after kill -9 of mvmd, and
 * bad input refused with -32602 leaving nothing behind.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ch-daemon.h"
#include "mvmtest.h"
#include "mvmt-main.h"

static char img_a[256], img_b[256];

static void touch(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* The ch fixture (tests/lib/ch-daemon.h), with two disk images. */
static void setup(void)
{
	chd_setup();
	snprintf(img_a, sizeof(img_a), "%s/root,a.img", chd.d.dir); /* a comma: JSON carries it, key=value would not */
	touch(img_a, "root image\n");
	snprintf(img_b, sizeof(img_b), "%s/data.img", chd.d.dir);
	touch(img_b, "data image\n");
	chd_start(NULL);
}

static bool mac_local_unicast(const char *mac)
{
	unsigned first;

	return mac && strlen(mac) == 17 && sscanf(mac, "%2x:", &first) == 1 && (first & 3) == 2;
}

/* Disks and taps reach cloud-hypervisor in vm.create's body, exactly;
 * status reports them; a re-adopting mvmd keeps them. */
START_TEST(test_devices_in_vmconfig)
{
	char p[2048], path[PATH_MAX], mac0[18];

	snprintf(p, sizeof(p),
		 "{\"name\":\"dev\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\","
		 "\"disks\":[{\"path\":\"%s\",\"readonly\":true,\"serial\":\"root\"},{\"path\":\"%s\"}],"
		 "\"net\":[{\"tap\":\"tap-dev0\"},{\"tap\":\"tap.dev1\",\"mac\":\"52:54:00:12:34:56\"}]}",
		 chd.kernel, img_a, img_b);
	json_object *r = mvmt_result(chd.fd, "compute.vm.create", p);
	ck_assert_str_eq(mvmt_str(r, "state"), "Configured");
	/* The MAC left out is derived: locally administered, unicast. */
	snprintf(mac0, sizeof(mac0), "%s", mvmt_str(json_object_array_get_idx(mvmt_get(r, "net"), 0), "mac"));
	ck_assert_msg(mac_local_unicast(mac0), "%s", mac0);
	ck_assert_str_eq(mvmt_str(json_object_array_get_idx(mvmt_get(r, "net"), 1), "mac"), "52:54:00:12:34:56");
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "disks")), 2);
	json_object_put(r);

	r = mvmt_call_id(chd.fd, "compute.vm.start", "dev", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
	const char *id = mvmt_str(r, "result.id");
	int pid = (int)mvmt_int(r, "result.pid");
	snprintf(path, sizeof(path), "%s/vms/%s/fake-ch.config", chd.d.state, id);
	json_object_put(r);
	json_object *cfg = json_object_from_file(path);
	ck_assert_ptr_nonnull(cfg);
	char expect[2048];
	snprintf(expect, sizeof(expect),
		 "[{\"path\":\"%s\",\"readonly\":true,\"serial\":\"root\",\"id\":\"disk0\"},"
		 "{\"path\":\"%s\",\"readonly\":false,\"id\":\"disk1\"}]", img_a,
		 img_b);
	ck_assert_str_eq(json_object_to_json_string_ext(mvmt_get(cfg, "disks"), JSON_C_TO_STRING_PLAIN |
											      JSON_C_TO_STRING_NOSLASHESCAPE),
			 expect);
	snprintf(expect, sizeof(expect),
		 "[{\"tap\":\"tap-dev0\",\"mac\":\"%s\",\"id\":\"net0\"},"
		 "{\"tap\":\"tap.dev1\",\"mac\":\"52:54:00:12:34:56\",\"id\":\"net1\"}]", mac0);
	ck_assert_str_eq(json_object_to_json_string_ext(mvmt_get(cfg, "net"), JSON_C_TO_STRING_PLAIN), expect);
	json_object_put(cfg);

	/* kill -9 mvmd: the re-adopted VM reports the same devices. */
	close(chd.fd);
	mvmt_forget_fd(chd.fd);
	mvmt_daemon_stop(&chd.d, SIGKILL);
	mvmt_daemon_start(&chd.d, "--ch-binary", chd.fake, "--kvm-device", chd.fake_kvm, "--kvm-pool", "0", NULL);
	chd.fd = mvmt_connect(chd.d.sock);
	json_object *s = mvmt_wait_state(chd.fd, "dev", "Running");
	ck_assert_int_eq(mvmt_int(s, "pid"), pid);
	ck_assert_str_eq(mvmt_str(json_object_array_get_idx(mvmt_get(s, "net"), 0), "mac"), mac0);
	ck_assert_str_eq(mvmt_str(json_object_array_get_idx(mvmt_get(s, "disks"), 0), "path"), img_a);
	ck_assert_str_eq(mvmt_str(json_object_array_get_idx(mvmt_get(s, "disks"), 0), "serial"), "root");
	json_object_put(s);

	/* The MAC is the VM's: another VM on the same tap name gets another. */
	snprintf(p, sizeof(p), "{\"name\":\"dev2\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\",\"net\":[{\"tap\":\"tap-dev0\"}]}",
		 chd.kernel);
	r = mvmt_result(chd.fd, "compute.vm.create", p);
	const char *mac2 = mvmt_str(json_object_array_get_idx(mvmt_get(r, "net"), 0), "mac");
	ck_assert_msg(mac_local_unicast(mac2), "%s", mac2);
	ck_assert_str_ne(mac2, mac0);
	json_object_put(r);
}
END_TEST

static size_t vm_dirs(void)
{
	char path[PATH_MAX];
	size_t n = 0;
	struct dirent *e;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/vms", chd.d.state);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* Bad disks and taps: -32602, naming the entry; no VM, no directory. */
START_TEST(test_devices_refused)
{
	char dir[256], p[8192], many[6000];
	size_t off = 0;

	snprintf(dir, sizeof(dir), "%s/adir", chd.d.dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	off += (size_t)snprintf(many + off, sizeof(many) - off, "[");
	for (int i = 0; i < 64; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off, "%s{\"path\":\"%s\",\"readonly\":true}", i ? "," : "",
					img_b);
	snprintf(many + off, sizeof(many) - off, "]");

	struct {
		const char *devices, *why;
	} cases[] = {
		{ "\"disks\":[{\"path\":\"data.img\"}]", "path" },
		{ "\"disks\":[{\"path\":\"@/../data.img\"}]", "disks[0].path" },
		{ "\"disks\":[{\"path\":\"@/./data.img\"}]", "disks[0].path" },
		{ "\"disks\":[{\"path\":\"@/adir\"}]", "is a directory" },
		{ "\"disks\":[{\"path\":\"@/missing.img\"}]", "No such file" },
		{ "\"disks\":[{\"path\":\"/dev/null\"}]", "neither a regular file nor a block device" },
		{ "\"disks\":[{\"path\":\"@/data.img\",\"serial\":\"x\"},{\"path\":\"@/data.img\",\"serial\":\"x\",\"readonly\":true}]",
		  "disks[1].serial" },
		{ "\"disks\":[{\"path\":\"@/data.img\",\"serial\":\"has space\"}]", "serial" },
		{ "\"disks\":[{\"path\":\"@/data.img\",\"cache\":\"none\"}]", "cache" },
		{ "\"disks\":@", "disks" },
		{ "\"net\":[{\"tap\":\"../tap0\"}]", "tap" },
		{ "\"net\":[{\"tap\":\"a/b\"}]", "tap" },
		{ "\"net\":[{\"tap\":\"tap0123456789abc\"}]", "tap" },
		{ "\"net\":[{\"tap\":\"tap0\"},{\"tap\":\"tap0\"}]", "net[1].tap" },
		{ "\"net\":[{\"tap\":\"tap0\",\"mac\":\"02:00:00:00:00\"}]", "mac" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char devices[7000];
		size_t n = 0;
		/* "@/" is the test's directory; a "@" alone, the 64 disks */
		for (const char *c = cases[i].devices; *c && n < sizeof(devices) - 1; c++) {
			const char *sub = *c != '@' ? NULL : c[1] == '/' ? chd.d.dir : many;
			if (sub)
				n += (size_t)snprintf(devices + n, sizeof(devices) - n, "%s", sub);
			else
				devices[n++] = *c;
		}
		devices[n] = '\0';
		snprintf(p, sizeof(p), "{\"name\":\"bad\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\",%s}", chd.kernel,
			 devices);
		json_object *r = mvmt_call(chd.fd, "compute.vm.create", p);
		ck_assert_msg(mvmt_int(r, "error.code") == -32602, "case %zu: %s", i, json_object_to_json_string(r));
		ck_assert_msg(strstr(json_object_to_json_string(r), cases[i].why), "case %zu: %s", i,
			      json_object_to_json_string(r));
		json_object_put(r);
		r = mvmt_result(chd.fd, "compute.vm.list", NULL);
		ck_assert_int_eq(json_object_array_length(mvmt_get(r, "vms")), 0);
		json_object_put(r);
		ck_assert_int_eq(vm_dirs(), 0);
	}
	/* A kvm VM takes neither. */
	json_object *r = mvmt_call(chd.fd, "compute.vm.create", "{\"memory_mib\":16,\"net\":[{\"tap\":\"tap0\"}]}");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32602);
	json_object_put(r);
	ck_assert_int_eq(vm_dirs(), 0);
}
END_TEST

static char *slurp_n(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	ck_assert_ptr_nonnull(f);
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1 << 20;
			buf = realloc(buf, cap + 1);
			ck_assert_ptr_nonnull(buf);
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		if (r == 0)
			break;
		n += r;
	}
	fclose(f);
	buf[n] = '\0';
	*ret_len = n;
	return buf;
}

static bool proc_file_has(int pid, const char *file, const char *needle)
{
	char path[64];
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	char *buf = slurp_n(path, &n);
	bool found = memmem(buf, n, needle, strlen(needle)) != NULL;
	free(buf);
	return found;
}

/* The image's process: its config reaches the guest in the VM's own
 * initramfs (the spec's, then a newc archive with /mvm/process.conf),
 * 0600 in the VM's directory, and in no process's argv or environment. */
START_TEST(test_process_in_initramfs)
{
	char p[2048], path[PATH_MAX], base[PATH_MAX], rel[256];
	const char *b = getenv("MVM_BUILD_DIR");

	snprintf(p, sizeof(p),
		 "{\"name\":\"app\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\","
		 "\"disks\":[{\"path\":\"%s\",\"serial\":\"root\"}],\"root\":{\"disk\":\"root\",\"readonly\":true},"
		 "\"process\":{\"args\":[\"/bin/sh\",\"-c\",\"echo tenant-arg-7f3a\"],\"env\":{\"TOKEN\":\"tenant secret 91c2\"},"
		 "\"cwd\":\"/srv\",\"user\":\"1000:1000\"}}",
		 chd.kernel, img_a);
	json_object *r = mvmt_result(chd.fd, "compute.vm.create", p);
	ck_assert_str_eq(mvmt_str(r, "state"), "Configured");
	ck_assert_str_eq(mvmt_str(r, "process.env.TOKEN"), "tenant secret 91c2");
	ck_assert_str_eq(mvmt_str(r, "root.disk"), "root");
	json_object_put(r);
	r = mvmt_call_id(chd.fd, "compute.vm.start", "app", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
	const char *id = mvmt_str(r, "result.id");
	int pid = (int)mvmt_int(r, "result.pid");
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/vms/%s", chd.d.state, id);
	json_object_put(r);

	/* cloud-hypervisor boots the VM's own initramfs ... */
	snprintf(path, sizeof(path), "%s/fake-ch.config", dir);
	json_object *cfg = json_object_from_file(path);
	char img[PATH_MAX];
	snprintf(img, sizeof(img), "%s/initramfs.img", dir);
	ck_assert_str_eq(mvmt_str(cfg, "payload.initramfs"), img);
	json_object_put(cfg);
	struct stat st;
	ck_assert_int_eq(stat(img, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	/* ... which is the default one, padded to 4 bytes, then the config. */
	snprintf(rel, sizeof(rel), "%s/guest/initramfs.cpio.gz", b && *b ? b : "build");
	ck_assert_ptr_nonnull(realpath(rel, base));
	size_t nb, ni;
	char *bb = slurp_n(base, &nb), *ib = slurp_n(img, &ni);
	ck_assert_int_gt(ni, nb);
	ck_assert_mem_eq(ib, bb, nb);
	size_t off = (nb + 3) & ~(size_t)3;
	for (size_t i = nb; i < off; i++)
		ck_assert_int_eq(ib[i], 0);
	ck_assert_mem_eq(ib + off, "070701", 6);
	ck_assert_ptr_nonnull(memmem(ib + off, ni - off, "mvm/process.conf", 17));
	const char *conf = "root.serial=root\nroot.readonly=1\narg=/bin/sh\narg=-c\narg=echo%20tenant-arg-7f3a\n"
			   "env=TOKEN=tenant%20secret%2091c2\ncwd=/srv\nuser=1000:1000\n";
	ck_assert_msg(memmem(ib + off, ni - off, conf, strlen(conf)), "no config in %s", img);
	/* A real cpio reads the archive (the kernel's format: newc). */
	snprintf(path, sizeof(path), "%s/tail.cpio", chd.d.dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fwrite(ib + off, 1, ni - off, f), ni - off);
	fclose(f);
	free(bb);
	free(ib);
	char cmd[3 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "cpio -it --quiet < %s > %s.list", path, path);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s.list", path);
	size_t nl;
	char *list = slurp_n(cmd, &nl);
	ck_assert_str_eq(list, "mvm\nmvm/process.conf\n");
	free(list);

	/* Not in cloud-hypervisor's argv or environment, nor mvmd's. */
	const char *secrets[] = { "tenant-arg-7f3a", "tenant secret 91c2", "91c2" };
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		ck_assert(!proc_file_has(pid, "cmdline", secrets[i]));
		ck_assert(!proc_file_has(pid, "environ", secrets[i]));
		ck_assert(!proc_file_has(chd.d.pid, "cmdline", secrets[i]));
		ck_assert(!proc_file_has(chd.d.pid, "environ", secrets[i]));
	}
}
END_TEST

/* root and process refused: -32602, nothing created. */
START_TEST(test_process_refused)
{
	char p[2048];
	static const char *const bad[] = {
		"\"disks\":[{\"path\":\"@\"}],\"root\":{\"disk\":1},\"process\":{\"args\":[\"/x\"]}",
		"\"disks\":[{\"path\":\"@\"}],\"root\":{\"disk\":-1},\"process\":{\"args\":[\"/x\"]}",
		"\"disks\":[{\"path\":\"@\",\"serial\":\"a\"}],\"root\":{\"disk\":\"b\"},\"process\":{\"args\":[\"/x\"]}",
		"\"disks\":[{\"path\":\"@\"}],\"root\":{\"disk\":true},\"process\":{\"args\":[\"/x\"]}",
		"\"disks\":[{\"path\":\"@\"}],\"root\":{\"disk\":0}",
		"\"process\":{\"args\":[]}",
		"\"process\":{\"args\":[\"/x\"],\"cwd\":\"relative\"}",
		"\"process\":{\"args\":[\"/x\"],\"user\":\"root\"}",
		"\"process\":{\"args\":[\"/x\"],\"env\":{\"A=B\":\"c\"}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char extra[512];
		size_t n = 0;
		for (const char *c = bad[i]; *c && n < sizeof(extra) - 1; c++)
			if (*c == '@')
				n += (size_t)snprintf(extra + n, sizeof(extra) - n, "%s", img_b);
			else
				extra[n++] = *c;
		extra[n] = '\0';
		snprintf(p, sizeof(p), "{\"name\":\"bad\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\",%s}", chd.kernel, extra);
		json_object *r = mvmt_call(chd.fd, "compute.vm.create", p);
		ck_assert_msg(mvmt_int(r, "error.code") == -32602, "case %zu: %s", i, json_object_to_json_string(r));
		json_object_put(r);
		ck_assert_int_eq(vm_dirs(), 0);
	}
	json_object *r = mvmt_call(chd.fd, "compute.vm.create", "{\"memory_mib\":16,\"process\":{\"args\":[\"/x\"]}}");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32602);
	json_object_put(r);
	ck_assert_int_eq(vm_dirs(), 0);
}
END_TEST

/* The image's process ends with 3: mvm-init reports it over vsock port
 * 1026 (here the double, as mvm-init does), the guest powers off, and the
 * VM is Stopped with exit_code 3. */
START_TEST(test_process_exit_code)
{
	char p[1024], knobs[PATH_MAX + 8];

	snprintf(knobs, sizeof(knobs), "%s.env", chd.fake);
	FILE *f = fopen(knobs, "w");
	ck_assert_ptr_nonnull(f);
	fputs("MVM_FAKE_CH_EXIT_CODE=3\n", f);
	fclose(f);
	snprintf(p, sizeof(p),
		 "{\"name\":\"job\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\","
		 "\"process\":{\"args\":[\"/bin/false\"]}}",
		 chd.kernel);
	json_object_put(mvmt_result(chd.fd, "compute.vm.create", p));
	json_object_put(mvmt_call_id(chd.fd, "compute.vm.start", "job", NULL));
	json_object *s = mvmt_wait_state(chd.fd, "job", "Stopped");
	ck_assert_str_eq(mvmt_str(s, "cause"), "guest powered off");
	ck_assert_msg(mvmt_get(s, "exit_code") != NULL, "%s", json_object_to_json_string(s));
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 3);
	json_object_put(s);
	unlink(knobs);
}
END_TEST

/* node.info names the kernel whose modules the default initramfs holds. */
START_TEST(test_initramfs_kernel_in_node_info)
{
	const char *b = getenv("MVM_BUILD_DIR");
	char path[512], want[256] = "";

	snprintf(path, sizeof(path), "%s/guest/initramfs.cpio.gz.kernel", b && *b ? b : "build");
	FILE *f = fopen(path, "r");
	ck_assert_msg(f, "%s: missing (make writes it)", path);
	if (fgets(want, sizeof(want), f))
		want[strcspn(want, "\n")] = '\0';
	fclose(f);
	json_object *r = mvmt_result(chd.fd, "compute.node.info", NULL);
	json_object *k = mvmt_get(r, "backends.ch.initramfs_kernel");
	if (want[0])
		ck_assert_str_eq(json_object_get_string(k), want);
	else
		ck_assert_msg(k == NULL, "%s", json_object_to_json_string(r));
	json_object_put(r);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "mvmd_ch_devices",
		.timeout = 60,
		.setup = setup,
		.teardown = chd_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_devices_in_vmconfig),
			MVMT_TEST(test_devices_refused),
			MVMT_TEST(test_process_in_initramfs),
			MVMT_TEST(test_process_refused),
			MVMT_TEST(test_initramfs_kernel_in_node_info),
			MVMT_TEST(test_process_exit_code)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd_ch_devices", .tcases = tcases)
