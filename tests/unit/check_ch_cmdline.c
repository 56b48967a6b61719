/* SPDX-License-Identifier: Apache-2.0 */
/* The cloud-hypervisor command line built from a VM's spec, and the
 * --version parser that decides whether mvmd drives the binary. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ch/cmdline.h"
#include "ch/version.h"
#include "mvmt-main.h"

static ch_launch_t base(void)
{
	return (ch_launch_t){
		.binary = "/usr/bin/cloud-hypervisor",
		.api_socket = "/var/lib/mvmd/vms/x/ch-api.sock",
		.kernel = "/boot/vmlinuz",
		.initramfs = "/usr/lib/mvmd/initramfs.cpio.gz",
		.cmdline = "console=ttyS0 reboot=k panic=1 quiet",
		.vcpus = 2,
		.memory_mib = 256,
		.serial_socket = "/var/lib/mvmd/vms/x/serial.sock",
		.vsock_socket = "/var/lib/mvmd/vms/x/vsock.sock",
		.cid = 7,
	};
}

static char *joined(char **argv)
{
	size_t len = 1;
	for (char **a = argv; *a; a++)
		len += strlen(*a) + 3;
	char *s = calloc(1, len);
	for (char **a = argv; *a; a++) {
		if (a != argv)
			strcat(s, " ");
		strcat(s, "[");
		strcat(s, *a);
		strcat(s, "]");
	}
	return s;
}

START_TEST(test_full)
{
	ch_launch_t l = base();
	char **argv;

	/* The API socket only: the VM (kernel, its command line, sizes,
	 * devices) goes through vm.create, never into /proc/PID/cmdline. */
	ck_assert_int_eq(ch_cmdline_build(&l, &argv), 0);
	char *s = joined(argv);
	ck_assert_str_eq(s, "[/usr/bin/cloud-hypervisor] [--api-socket] [path=/var/lib/mvmd/vms/x/ch-api.sock]");
	free(s);
	free(argv);
}
END_TEST

START_TEST(test_refused)
{
	ch_launch_t l;
	char **argv = (char **)0x1;

#define REFUSE(field, value)                                              \
	do {                                                              \
		l = base();                                               \
		l.field = value;                                          \
		ck_assert_int_eq(ch_cmdline_build(&l, &argv), -EINVAL);   \
		ck_assert_ptr_eq(argv, (char **)0x1);                     \
	} while (0)
	REFUSE(api_socket, NULL);
	REFUSE(api_socket, "relative/api.sock");
	REFUSE(api_socket, "/a,b/api.sock"); /* ',' would start a new key */
	REFUSE(api_socket, "/x/api\n.sock");
	REFUSE(binary, "");
	REFUSE(binary, NULL);
	ck_assert_int_eq(ch_cmdline_build(NULL, &argv), -EINVAL);
}
END_TEST

START_TEST(test_version_parse)
{
	ch_version_t v;

	ck_assert_int_eq(ch_version_parse("cloud-hypervisor v40.0.0\n", 25, &v), 0);
	ck_assert_uint_eq(v.major, 40);
	ck_assert_uint_eq(v.minor, 0);
	ck_assert_uint_eq(v.patch, 0);
	const char *git = "cloud-hypervisor v36.1-12-gdeadbeef\nfeatures: kvm,io_uring\n";
	ck_assert_int_eq(ch_version_parse(git, strlen(git), &v), 0);
	ck_assert_uint_eq(v.major, 36);
	ck_assert_uint_eq(v.minor, 1);
	ck_assert_int_eq(ch_version_parse("cloud-hypervisor 37", 19, &v), 0);
	ck_assert_uint_eq(v.major, 37);
	ck_assert_uint_eq(v.minor, 0);
	ck_assert_int_eq(ch_version_parse("cloud-hypervisor v41.2.3-dirty", 30, &v), 0);
	ck_assert_uint_eq(v.patch, 3);

	static const char *const bad[] = {
		"", "cloud-hypervisor", "cloud-hypervisor ", "cloud-hypervisor vX", "v40.0.0",
		"cloud-hypervisor v40..0", "cloud-hypervisor v40.0.0.1", "cloud-hypervisor v100000.0",
		"cloud-hypervisor\tv40", "\ncloud-hypervisor v40",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ch_version_parse(bad[i], strlen(bad[i]), &v) == -EINVAL, "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(ch_version_parse("cloud-hypervisor v4\0" "0", 21, &v), -EINVAL);
	ck_assert_int_eq(ch_version_parse(NULL, 0, &v), -EINVAL);
}
END_TEST

START_TEST(test_version_minimum)
{
	ch_version_t v35 = { 35, 9, 9 }, v36 = { 36, 0, 0 }, v361 = { 36, 0, 1 }, v50 = { 50, 0, 0 };

	ck_assert(!ch_version_supported(&v35));
	ck_assert(ch_version_supported(&v36));
	ck_assert(ch_version_supported(&v361));
	ck_assert(ch_version_supported(&v50));
	ck_assert_int_lt(ch_version_cmp(&v35, &v36), 0);
	ck_assert_int_gt(ch_version_cmp(&v361, &v36), 0);
	ck_assert_int_eq(ch_version_cmp(&v50, &v50), 0);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "ch_cmdline",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_full),
			MVMT_TEST(test_refused),
			MVMT_TEST(test_version_parse),
			MVMT_TEST(test_version_minimum)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "ch_cmdline", .tcases = tcases)
