/* SPDX-License-Identifier: Apache-2.0 */
/* The ch backend's pure pieces of a VM's devices and process: the MAC
 * derived from a VM id, the devices' ids and hotplug's edits of the spec,
 * and the exit report's parser. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/exit-report.h"
#include "ch/spec-devices.h"
#include "mvmt-main.h"
#include "vm.h"

START_TEST(test_mac_stable_local_unicast)
{
	char a[18], b[18], c[18];
	unsigned first;

	ch_spec_mac("0123456789abcdef0123456789abcdef", 0, a);
	ch_spec_mac("0123456789abcdef0123456789abcdef", 0, b);
	ch_spec_mac("0123456789abcdef0123456789abcdef", 1, c);
	ck_assert_str_eq(a, b);    /* the same VM and index: the same MAC */
	ck_assert_str_ne(a, c);    /* another index: another */
	ck_assert_int_eq(strlen(a), 17);
	ck_assert_int_eq(sscanf(a, "%2x", &first), 1);
	ck_assert_int_eq(first & 3, 2); /* locally administered, unicast */
	ch_spec_mac("fedcba9876543210fedcba9876543210", 0, b);
	ck_assert_str_ne(a, b);    /* another VM: another */
}
END_TEST

static const char *plain(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* Ids in order at create, the next one above the highest, MACs from the
 * id's number; a removal before root.disk moves it down, the root disk
 * itself is not removable. */
START_TEST(test_device_ids)
{
	vm_t *vm = NULL;
	json_object *spec = json_tokener_parse(
		"{\"disks\":[{\"path\":\"/a\"},{\"path\":\"/b\",\"serial\":\"root\"},{\"path\":\"/c\",\"id\":\"disk7\"}],"
		"\"net\":[{\"tap\":\"t0\"},{\"tap\":\"t1\",\"mac\":\"52:54:00:00:00:01\"}],\"root\":{\"disk\":1}}");
	json_object *e;
	char mac[18], *why = NULL;
	size_t index;
	bool net;

	ck_assert_int_eq(vm_new(&vm), 0);
	ck_assert_int_eq(vm_set_spec(vm, spec), 0);
	json_object_put(spec);
	ck_assert_int_eq(ch_spec_devices_fill(vm), 0);
	e = json_object_object_get(vm->spec, "disks");
	ck_assert_str_eq(plain(e), "[{\"path\":\"/a\",\"id\":\"disk8\"},{\"path\":\"/b\",\"serial\":\"root\",\"id\":\"disk9\"},"
				   "{\"path\":\"/c\",\"id\":\"disk7\"}]");
	e = json_object_array_get_idx(json_object_object_get(vm->spec, "net"), 0);
	ch_spec_mac(vm->id, 0, mac);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(e, "id")), "net0");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(e, "mac")), mac);
	e = json_object_array_get_idx(json_object_object_get(vm->spec, "net"), 1);
	ck_assert_str_eq(plain(e), "{\"tap\":\"t1\",\"mac\":\"52:54:00:00:00:01\",\"id\":\"net1\"}");

	/* A new tap: net2, its MAC from 2; one already there: refused. */
	json_object *t = json_tokener_parse("{\"tap\":\"t2\"}");
	ck_assert_int_eq(ch_spec_device_new(vm, t, true, &why), 0);
	ch_spec_mac(vm->id, 2, mac);
	char want[96];
	snprintf(want, sizeof(want), "{\"tap\":\"t2\",\"id\":\"net2\",\"mac\":\"%s\"}", mac);
	ck_assert_str_eq(plain(t), want);
	ck_assert_int_eq(ch_spec_device_append(vm, t, true), 0);
	json_object_put(t);
	t = json_tokener_parse("{\"tap\":\"t0\"}");
	ck_assert_int_eq(ch_spec_device_new(vm, t, true, &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "is also net[0]'s"));
	free(why);
	why = NULL;
	json_object_put(t);

	/* disk8 (index 0) goes: root.disk 1 -> 0, still /b; /b is not removable. */
	ck_assert_ptr_nonnull(ch_spec_device_find(vm, "disk9", &net, &index));
	ck_assert(!net);
	ck_assert_uint_eq(index, 1);
	ck_assert_int_eq(ch_spec_device_removable(vm, false, 1, &why), -EINVAL);
	free(why);
	why = NULL;
	ck_assert_ptr_nonnull(ch_spec_device_find(vm, "disk8", &net, &index));
	ck_assert_int_eq(ch_spec_device_removable(vm, false, index, NULL), 0);
	ck_assert_int_eq(ch_spec_device_drop(vm, false, index), 0);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(json_object_object_get(vm->spec, "root"), "disk")), 0);
	ck_assert_ptr_null(ch_spec_device_find(vm, "disk8", &net, &index));
	ck_assert_ptr_null(ch_spec_device_find(vm, "net9", &net, &index));
	ck_assert_int_eq(ch_spec_device_drop(vm, true, 5), -ENOENT);
	vm_free(vm);
}
END_TEST

START_TEST(test_exit_report_parse)
{
	static const struct {
		const char *text;
		int code;
	} good[] = { { "exit_code 0\n", 0 }, { "exit_code 3", 3 }, { "exit_code 137\n", 137 }, { "exit_code 255\n", 255 } };
	static const char *const bad[] = { "",		"exit_code\n",	  "exit_code \n",    "exit_code 256\n",
					   "exit_code -1\n", "exit_code 03\n", "exit_code 1000\n", "exit_code 3 \n",
					   "exit_code 3\n\n", "EXIT_CODE 3\n",  "exit_code 0x1\n" };
	int code;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		code = -1;
		ck_assert_int_eq(ch_exit_report_parse(good[i].text, strlen(good[i].text), &code), 0);
		ck_assert_int_eq(code, good[i].code);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ch_exit_report_parse(bad[i], strlen(bad[i]), &code) == -EBADMSG, "accepted: %s", bad[i]);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "ch_spec",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_mac_stable_local_unicast),
			MVMT_TEST(test_device_ids),
			MVMT_TEST(test_exit_report_parse)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "ch_spec", .tcases = tcases)
