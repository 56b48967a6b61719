/* SPDX-License-Identifier: Apache-2.0 */
/* The VmConfig body of PUT vm.create, built from a VM's spec and paths:
 * every field, the optional ones, what is refused, and that the API double
 * (which checks bodies the way cloud-hypervisor's decoder does) accepts
 * what mvmd builds and refuses what the schema forbids. */
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "ch-api-double.h"
#include "ch/vmconfig.h"
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

START_TEST(test_full)
{
	ch_launch_t l = base();
	char *body;

	ck_assert_int_eq(ch_vmconfig_build(&l, &body), 0);
	ck_assert_str_eq(body, "{\"payload\":{\"kernel\":\"/boot/vmlinuz\",\"initramfs\":\"/usr/lib/mvmd/initramfs.cpio.gz\","
			       "\"cmdline\":\"console=ttyS0 reboot=k panic=1 quiet\"},"
			       "\"cpus\":{\"boot_vcpus\":2,\"max_vcpus\":2},\"memory\":{\"size\":268435456},"
			       "\"serial\":{\"mode\":\"Socket\",\"socket\":\"/var/lib/mvmd/vms/x/serial.sock\"},"
			       "\"console\":{\"mode\":\"Off\"},"
			       "\"vsock\":{\"cid\":7,\"socket\":\"/var/lib/mvmd/vms/x/vsock.sock\"}}");
	ck_assert_ptr_null(ch_double_vmconfig_error(body, strlen(body)));
	free(body);
}
END_TEST

START_TEST(test_optional_and_escaped)
{
	ch_launch_t l = base();
	char *body;

	l.initramfs = NULL;
	l.cmdline = NULL;
	l.vcpus = 256;
	l.memory_mib = UINT64_C(1) << 32;
	ck_assert_int_eq(ch_vmconfig_build(&l, &body), 0);
	ck_assert_ptr_null(strstr(body, "initramfs"));
	ck_assert_ptr_null(strstr(body, "cmdline"));
	ck_assert_ptr_nonnull(strstr(body, "\"cpus\":{\"boot_vcpus\":256,\"max_vcpus\":256}"));
	ck_assert_ptr_nonnull(strstr(body, "\"memory\":{\"size\":4503599627370496}"));
	ck_assert_ptr_null(ch_double_vmconfig_error(body, strlen(body)));
	free(body);

	/* JSON carries any string: quotes, backslashes, commas in paths. */
	l = base();
	l.cmdline = "a=\"b\" c=d\\e";
	l.serial_socket = "/a,b/serial.sock";
	ck_assert_int_eq(ch_vmconfig_build(&l, &body), 0);
	json_object *o = json_tokener_parse(body), *p, *v;
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "payload", &p) && json_object_object_get_ex(p, "cmdline", &v));
	ck_assert_str_eq(json_object_get_string(v), "a=\"b\" c=d\\e");
	ck_assert(json_object_object_get_ex(o, "serial", &p) && json_object_object_get_ex(p, "socket", &v));
	ck_assert_str_eq(json_object_get_string(v), "/a,b/serial.sock");
	json_object_put(o);
	free(body);
}
END_TEST

/* disks and net, in DiskConfig / NetConfig, in the spec's order. */
START_TEST(test_devices)
{
	ch_launch_t l = base();
	char *body;

	l.disks[0] = (ch_disk_t){ .path = "/srv/root.img", .readonly = true, .serial = "root" };
	l.disks[1] = (ch_disk_t){ .path = "/dev/vg0/data" };
	l.n_disks = 2;
	l.nets[0] = (ch_net_t){ .tap = "tap0", .mac = "02:00:00:00:00:01" };
	l.n_nets = 1;
	ck_assert_int_eq(ch_vmconfig_build(&l, &body), 0);
	ck_assert_ptr_nonnull(strstr(body, ",\"disks\":[{\"path\":\"/srv/root.img\",\"readonly\":true,\"serial\":\"root\"},"
					   "{\"path\":\"/dev/vg0/data\",\"readonly\":false}],"
					   "\"net\":[{\"tap\":\"tap0\",\"mac\":\"02:00:00:00:00:01\"}]}"));
	ck_assert_ptr_null(ch_double_vmconfig_error(body, strlen(body)));
	free(body);

	/* Refused: a relative disk path, a tap name with '/', a bad MAC, too many. */
	l.disks[1].path = "data.img";
	ck_assert_int_eq(ch_vmconfig_build(&l, &body), -EINVAL);
	l.disks[1].path = "/data.img";
	l.nets[0].tap = "a/b";
	ck_assert_int_eq(ch_vmconfig_build(&l, &body), -EINVAL);
	l.nets[0].tap = "tap0123456789abc"; /* 16 bytes: IFNAMSIZ holds 15 */
	ck_assert_int_eq(ch_vmconfig_build(&l, &body), -EINVAL);
	l.nets[0].tap = "tap0";
	l.nets[0].mac = "02:00:00:00:00";
	ck_assert_int_eq(ch_vmconfig_build(&l, &body), -EINVAL);
	l.nets[0].mac = "02:00:00:00:00:01";
	l.n_disks = CH_DISKS_MAX + 1;
	ck_assert_int_eq(ch_vmconfig_build(&l, &body), -EINVAL);

	/* The double refuses undocumented keys and wrong types in them. */
	static const char *const bad[] = {
		"{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"file\":\"/x\"}]}",
		"{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/x\",\"readonly\":\"on\"}]}",
		"{\"payload\":{\"kernel\":\"/k\"},\"disks\":{\"path\":\"/x\"}}",
		"{\"payload\":{\"kernel\":\"/k\"},\"net\":[{\"tap\":\"t\",\"macaddr\":\"x\"}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ch_double_vmconfig_error(bad[i], strlen(bad[i])), "accepted: %s", bad[i]);
}
END_TEST

START_TEST(test_refused)
{
	ch_launch_t l;
	char *body = (char *)0x1;
	static char longline[CH_VMCONFIG_CMDLINE_MAX + 2];

#define REFUSE(field, value)                                              \
	do {                                                              \
		l = base();                                               \
		l.field = value;                                          \
		ck_assert_int_eq(ch_vmconfig_build(&l, &body), -EINVAL);  \
		ck_assert_ptr_eq(body, (char *)0x1);                      \
	} while (0)
	REFUSE(kernel, NULL);
	REFUSE(kernel, "relative/vmlinuz");
	REFUSE(initramfs, "initrd");
	REFUSE(serial_socket, NULL);
	REFUSE(vsock_socket, "vsock.sock");
	REFUSE(vcpus, 0);
	REFUSE(vcpus, 257);
	REFUSE(memory_mib, 0);
	REFUSE(memory_mib, (UINT64_C(1) << 32) + 1);
	REFUSE(cid, 2); /* 0-2 are reserved (hypervisor, local, host) */
	memset(longline, 'x', sizeof(longline) - 1);
	REFUSE(cmdline, longline);
	ck_assert_int_eq(ch_vmconfig_build(NULL, &body), -EINVAL);
}
END_TEST

/* The double refuses what cloud-hypervisor's schema does: the test of the
 * double itself, so that its "accepted" above means something. */
START_TEST(test_double_refuses)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{}",                                                     /* payload is required */
		"{\"payload\":{}}",                                       /* nothing to boot */
		"{\"payload\":{\"kernel\":7}}",                           /* a string */
		"{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":2}}", /* max_vcpus required */
		"{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":3,\"max_vcpus\":2}}",
		"{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":\"2\",\"max_vcpus\":2}}",
		"{\"payload\":{\"kernel\":\"/k\"},\"memory\":{}}",
		"{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":\"64M\"}}",
		"{\"payload\":{\"kernel\":\"/k\"},\"serial\":{\"socket\":\"/s\"}}", /* mode required */
		"{\"payload\":{\"kernel\":\"/k\"},\"serial\":{\"mode\":\"socket\",\"socket\":\"/s\"}}",
		"{\"payload\":{\"kernel\":\"/k\"},\"serial\":{\"mode\":\"Socket\"}}",
		"{\"payload\":{\"kernel\":\"/k\"},\"console\":{\"mode\":\"off\"}}",
		"{\"payload\":{\"kernel\":\"/k\"},\"vsock\":{\"cid\":2,\"socket\":\"/v\"}}",
		"{\"payload\":{\"kernel\":\"/k\"},\"vsock\":{\"cid\":3}}",
		"{\"payload\":{\"kernel\":\"/k\"},\"kernel\":\"/k\"}",      /* not a VmConfig field */
		/* the command line's spellings are not the API's field names */
		"{\"payload\":{\"kernel\":\"/k\",\"cmd_line\":\"x\"}}",
		"{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot\":2,\"max_vcpus\":2}}",
		"{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":67108864,\"mib\":64}}",
		"{\"payload\":{\"kernel\":\"/k\"},\"vsock\":{\"cid\":3,\"path\":\"/v\"}}",
		/* SerialConfig has no virtio fields; ConsoleConfig has */
		"{\"payload\":{\"kernel\":\"/k\"},\"serial\":{\"mode\":\"Off\",\"iommu\":false}}",
		"{\"payload\":{\"kernel\":\"/k\"}} x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ch_double_vmconfig_error(bad[i], strlen(bad[i])) != NULL, "accepted %s", bad[i]);
	const char *minimal = "{\"payload\":{\"kernel\":\"/k\"}}";
	ck_assert_ptr_null(ch_double_vmconfig_error(minimal, strlen(minimal)));
	const char *virtio = "{\"payload\":{\"kernel\":\"/k\"},\"console\":{\"mode\":\"Off\",\"iommu\":false}}";
	ck_assert_ptr_null(ch_double_vmconfig_error(virtio, strlen(virtio)));
}
END_TEST

/* The hotplug bodies (DiskConfig, NetConfig, VmRemoveDevice), exactly,
 * and a VmConfig whose devices carry mvmd's ids. */
START_TEST(test_hotplug_bodies)
{
	ch_launch_t l = base();
	ch_disk_t d = { .path = "/srv/data.img", .serial = "data", .id = "disk3" };
	ch_net_t n = { .tap = "tap1", .mac = "02:00:00:00:00:02", .id = "net1" };
	char *body;

	ck_assert_int_eq(ch_vmconfig_disk_body(&d, &body), 0);
	ck_assert_str_eq(body, "{\"path\":\"/srv/data.img\",\"readonly\":false,\"serial\":\"data\",\"id\":\"disk3\"}");
	free(body);
	d.serial = NULL;
	d.readonly = true;
	ck_assert_int_eq(ch_vmconfig_disk_body(&d, &body), 0);
	ck_assert_str_eq(body, "{\"path\":\"/srv/data.img\",\"readonly\":true,\"id\":\"disk3\"}");
	free(body);
	ck_assert_int_eq(ch_vmconfig_net_body(&n, &body), 0);
	ck_assert_str_eq(body, "{\"tap\":\"tap1\",\"mac\":\"02:00:00:00:00:02\",\"id\":\"net1\"}");
	free(body);
	ck_assert_int_eq(ch_vmconfig_remove_body("disk3", &body), 0);
	ck_assert_str_eq(body, "{\"id\":\"disk3\"}");
	free(body);

	/* Refused: no id, one of cloud-hypervisor's ("_disk0"), a relative
	 * path, a bad tap or MAC, an id with a quote or too long. */
	d.id = NULL;
	ck_assert_int_eq(ch_vmconfig_disk_body(&d, &body), -EINVAL);
	d.id = "_disk0";
	ck_assert_int_eq(ch_vmconfig_disk_body(&d, &body), -EINVAL);
	d.id = "disk3";
	d.path = "data.img";
	ck_assert_int_eq(ch_vmconfig_disk_body(&d, &body), -EINVAL);
	n.tap = "a/b";
	ck_assert_int_eq(ch_vmconfig_net_body(&n, &body), -EINVAL);
	n.tap = "tap1";
	n.mac = "02:00";
	ck_assert_int_eq(ch_vmconfig_net_body(&n, &body), -EINVAL);
	ck_assert_int_eq(ch_vmconfig_remove_body("a\"b", &body), -EINVAL);
	ck_assert_int_eq(ch_vmconfig_remove_body("d123456789012345678901234567890123", &body), -EINVAL);
	ck_assert_int_eq(ch_vmconfig_remove_body(NULL, &body), -EINVAL);

	/* In vm.create's body the ids come along; the double takes them. */
	l.disks[0] = (ch_disk_t){ .path = "/srv/root.img", .id = "disk0" };
	l.n_disks = 1;
	l.nets[0] = (ch_net_t){ .tap = "tap0", .mac = "02:00:00:00:00:01", .id = "net0" };
	l.n_nets = 1;
	ck_assert_int_eq(ch_vmconfig_build(&l, &body), 0);
	ck_assert_ptr_nonnull(strstr(body, "\"disks\":[{\"path\":\"/srv/root.img\",\"readonly\":false,\"id\":\"disk0\"}],"
					   "\"net\":[{\"tap\":\"tap0\",\"mac\":\"02:00:00:00:00:01\",\"id\":\"net0\"}]}"));
	ck_assert_ptr_null(ch_double_vmconfig_error(body, strlen(body)));
	free(body);
	l.nets[0].id = "net 0";
	ck_assert_int_eq(ch_vmconfig_build(&l, &body), -EINVAL);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "ch_vmconfig",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_full),
			MVMT_TEST(test_optional_and_escaped),
			MVMT_TEST(test_devices),
			MVMT_TEST(test_refused),
			MVMT_TEST(test_double_refuses),
			MVMT_TEST(test_hotplug_bodies)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "ch_vmconfig", .tcases = tcases)
