/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "util/fs.h"
#include "util/macro.h"
#include "mvmt-main.h"

static char dir[] = "/tmp/mvm-store-XXXXXX";
static store_t *st;

static void setup(void)
{
	strcpy(dir, "/tmp/mvm-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(store_open(dir, &st), 0);
}

static void teardown(void)
{
	store_free(st);
	rm_rf_at(AT_FDCWD, dir);
}

static vm_t *make_vm(const char *name)
{
	vm_t *vm;
	json_object *spec = json_object_new_object();

	ck_assert_int_eq(vm_new(&vm), 0);
	if (name)
		json_object_object_add(spec, "name", json_object_new_string(name));
	json_object_object_add(spec, "vcpus", json_object_new_int(2));
	json_object_object_add(spec, "memory_mib", json_object_new_int(64));
	ck_assert_int_eq(vm_set_spec(vm, spec), 0);
	json_object_put(spec);
	ck_assert_int_eq(store_create_vm_dir(st, vm->id), 0);
	return vm;
}

static void push(vm_t *vm, vm_state_t to, const char *cause)
{
	fsm_event_t e = { .from = vm->state, .to = to, .cause = (char *)cause, .node_seq = 7 };
	snprintf(e.vm, sizeof(e.vm), "%s", vm->id);
	ck_assert_int_eq(fsm_ring_push(&vm->transitions, &e, false, NULL), 0);
	vm->state = to;
}

static char *state_path(const vm_t *vm)
{
	char *p;
	ck_assert_int_eq(store_vm_path(st, vm->id, "state.json", &p), 0);
	return p;
}

static vm_t *load_single(void)
{
	vm_t **vms;
	size_t n, cleaned;

	ck_assert_int_eq(store_load_all(st, &vms, &n, &cleaned), 0);
	ck_assert_uint_eq(n, 1);
	vm_t *vm = vms[0];
	free(vms);
	return vm;
}

START_TEST(test_round_trip)
{
	vm_t *vm = make_vm("web-1");
	push(vm, VM_STATE_PROVISIONING, NULL);
	push(vm, VM_STATE_CONFIGURED, "provisioned");
	vm->has_exit_code = true;
	vm->exit_code = 42;
	vm->pid = 1234;
	vm->pid_starttime = 99;
	vm_set_cause(vm, "provisioned");
	ck_assert_int_eq(store_save(st, vm, true), 0);

	vm_t *back = load_single();
	ck_assert_str_eq(back->id, vm->id);
	ck_assert_str_eq(back->name, "web-1");
	ck_assert_int_eq(back->state, VM_STATE_CONFIGURED);
	ck_assert_uint_eq(back->vcpus, 2);
	ck_assert_uint_eq(back->memory_mib, 64);
	ck_assert_int_eq(back->exit_code, 42);
	ck_assert(back->has_exit_code);
	ck_assert_int_eq(back->pid, 1234);
	ck_assert_uint_eq(back->pid_starttime, 99);
	ck_assert_str_eq(back->cause, "provisioned");
	ck_assert_uint_eq(back->transitions.count, 2);
	ck_assert_uint_eq(back->transitions.next_seq, 3);
	ck_assert_str_eq(fsm_ring_get(&back->transitions, 1)->cause, "provisioned");
	ck_assert_uint_eq(fsm_ring_get(&back->transitions, 1)->node_seq, 7);
	ck_assert_ptr_null(back->load_error);
	vm_free(back);
	vm_free(vm);
}
END_TEST

START_TEST(test_no_temp_left)
{
	vm_t *vm = make_vm(NULL);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(store_save(st, vm, i % 2), 0); /* durable and not */
	char *d;
	ck_assert_int_eq(store_vm_path(st, vm->id, NULL, &d), 0);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1", d);
	ck_assert_int_eq(system(cmd), 0);
	struct stat s;
	char *p = state_path(vm);
	ck_assert_int_eq(stat(p, &s), 0);
	ck_assert_int_eq(s.st_mode & 0777, 0600);
	free(p);
	free(d);
	vm_free(vm);
}
END_TEST

/* Power cut while a (non-atomic) writer was half-way: every truncation of a
 * valid file must load as Failed with a parse error, file untouched. */
/* A non-durable save replaces the file as atomically as a durable one. */
START_TEST(test_non_durable_save)
{
	vm_t *vm = make_vm("quick");
	ck_assert_int_eq(store_save(st, vm, true), 0);
	push(vm, VM_STATE_PROVISIONING, NULL);
	push(vm, VM_STATE_CONFIGURED, NULL);
	push(vm, VM_STATE_STARTING, "start");
	vm->pid = 77;
	ck_assert_int_eq(store_save(st, vm, false), 0);
	vm_t *back = load_single();
	ck_assert_int_eq(back->state, VM_STATE_STARTING);
	ck_assert_int_eq(back->pid, 77);
	vm_free(back);
	vm_free(vm);
}
END_TEST

START_TEST(test_truncated_every_length)
{
	vm_t *vm = make_vm("trunc");
	push(vm, VM_STATE_PROVISIONING, NULL);
	ck_assert_int_eq(store_save(st, vm, true), 0);
	char *p = state_path(vm);
	char *full;
	size_t len;
	ck_assert_int_eq(read_file_at(AT_FDCWD, p, 1 << 20, &full, &len), 0);

	for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 13)) {
		ck_assert_int_eq(truncate(p, (off_t)cut), 0);
		vm_t *back = load_single();
		/* The only truncation that still parses is none at all. */
		ck_assert_msg(back->load_error != NULL, "cut at %zu loaded", cut);
		ck_assert_int_eq(back->state, VM_STATE_FAILED);
		ck_assert_str_eq(back->id, vm->id);
		/* A broken VM is never rewritten. */
		ck_assert_int_eq(store_save(st, back, true), -EROFS);
		struct stat s;
		ck_assert_int_eq(stat(p, &s), 0);
		ck_assert_int_eq(s.st_size, (off_t)cut);
		vm_free(back);
		/* restore the full file for the next round */
		FILE *f = fopen(p, "w");
		fwrite(full, 1, cut, f);
		fclose(f);
	}
	free(full);
	free(p);
	vm_free(vm);
}
END_TEST

/* Rewrite runtime.exit_code of vm's state.json with a raw JSON integer. */
static void set_stored_exit_code(const vm_t *vm, int64_t code)
{
	char *p = state_path(vm);
	json_object *doc = json_object_from_file(p), *rt;
	ck_assert_ptr_nonnull(doc);
	ck_assert(json_object_object_get_ex(doc, "runtime", &rt));
	json_object_object_add(rt, "exit_code", json_object_new_int64(code));
	ck_assert_int_eq(json_object_to_file(p, doc), 0);
	json_object_put(doc);
	free(p);
}

/*
 * An exit code is WASI's u32, kept whole as a JSON integer; what older
 * mvmds wrote (0..255; an int) reads unchanged, a negative int32 as its
 * u32, anything else outside the range is a load error.
 */
START_TEST(test_exit_code_u32)
{
	static const uint32_t codes[] = { 0, 255, 256, 65536, 2147483647u, 2147483648u, 4294967295u };
	vm_t *vm = make_vm("codes");
	push(vm, VM_STATE_PROVISIONING, NULL);
	push(vm, VM_STATE_CONFIGURED, "provisioned");
	vm->has_exit_code = true;
	for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
		vm->exit_code = codes[i];
		ck_assert_int_eq(store_save(st, vm, true), 0);
		/* on disk: a plain JSON integer, the code itself */
		char *p = state_path(vm);
		json_object *doc = json_object_from_file(p), *rt, *v;
		ck_assert(json_object_object_get_ex(doc, "runtime", &rt));
		ck_assert(json_object_object_get_ex(rt, "exit_code", &v));
		ck_assert(json_object_is_type(v, json_type_int));
		ck_assert_int_eq(json_object_get_int64(v), (int64_t)codes[i]);
		json_object_put(doc);
		free(p);
		vm_t *back = load_single();
		ck_assert_ptr_null(back->load_error);
		ck_assert(back->has_exit_code);
		ck_assert_uint_eq(back->exit_code, codes[i]);
		vm_free(back);
	}
	static const struct { int64_t stored; uint32_t read; } old[] = { { 3, 3 }, { -1, 4294967295u }, { INT32_MIN, 0x80000000u } };
	for (size_t i = 0; i < ELEMENTSOF(old); i++) {
		set_stored_exit_code(vm, old[i].stored);
		vm_t *back = load_single();
		ck_assert_ptr_null(back->load_error);
		ck_assert_uint_eq(back->exit_code, old[i].read);
		vm_free(back);
	}
	static const int64_t bad[] = { 4294967296, (int64_t)INT32_MIN - 1, INT64_MAX };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		set_stored_exit_code(vm, bad[i]);
		vm_t *back = load_single();
		ck_assert_msg(back->load_error && strstr(back->load_error, "exit_code"), "%lld: %s", (long long)bad[i],
			      back->load_error ? back->load_error : "(loaded)");
		ck_assert_int_eq(back->state, VM_STATE_FAILED);
		vm_free(back);
	}
	vm_free(vm);
}
END_TEST

START_TEST(test_corrupt_bytes)
{
	vm_t *vm = make_vm("corrupt");
	ck_assert_int_eq(store_save(st, vm, true), 0);
	char *p = state_path(vm);
	static const char *bad[] = {
		"\x00\x01\x02garbage",
		"{\"version\": 1}",
		"{\"version\": \"1\", \"id\": 3}",
		"[1,2,3]",
		"{\"version\":1,\"id\":\"00000000-0000-4000-8000-000000000000\",\"spec\":{},\"runtime\":{},\"transitions\":[]}",
		"{} trailing",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		FILE *f = fopen(p, "w");
		fwrite(bad[i], 1, i == 0 ? 10 : strlen(bad[i]), f);
		fclose(f);
		vm_t *back = load_single();
		ck_assert_msg(back->load_error && strstr(back->load_error, "state.json"), "case %zu", i);
		ck_assert_int_eq(back->state, VM_STATE_FAILED);
		ck_assert_str_eq(back->cause, back->load_error);
		vm_free(back);
	}
	free(p);
	vm_free(vm);
}
END_TEST

START_TEST(test_newer_version_refused_untouched)
{
	vm_t *vm = make_vm("future");
	ck_assert_int_eq(store_save(st, vm, true), 0);
	char *p = state_path(vm);
	char text[512];
	snprintf(text, sizeof(text),
		 "{\"version\": 99, \"id\": \"%s\", \"spec\": {}, \"runtime\": {\"state\": \"Running\"}, \"transitions\": []}", vm->id);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);

	vm_t *back = load_single();
	ck_assert_ptr_nonnull(strstr(back->load_error, "version 99 is newer"));
	ck_assert_int_eq(back->state, VM_STATE_FAILED);
	vm_free(back);

	char *now;
	ck_assert_int_eq(read_file_at(AT_FDCWD, p, 4096, &now, NULL), 0);
	ck_assert_str_eq(now, text);
	free(now);
	free(p);
	vm_free(vm);
}
END_TEST

static int step_1_to_2(json_object *doc)
{
	json_object_object_add(doc, "migrated_1", json_object_new_boolean(1));
	return 0;
}
static int step_2_to_3(json_object *doc)
{
	json_object *v;
	/* steps run in order: 1→2 must have run */
	if (!json_object_object_get_ex(doc, "migrated_1", &v))
		return -EINVAL;
	json_object_object_add(doc, "migrated_2", json_object_new_boolean(1));
	return 0;
}

START_TEST(test_migration_steps)
{
	const store_migrate_fn steps[] = { NULL, step_1_to_2, step_2_to_3 };
	json_object *doc = json_tokener_parse("{\"version\": 1}");
	char *err = NULL;
	json_object *v;

	ck_assert_int_eq(store_migrate(doc, steps, 3, &err), 0);
	ck_assert(json_object_object_get_ex(doc, "migrated_2", &v));
	ck_assert(json_object_object_get_ex(doc, "version", &v));
	ck_assert_int_eq(json_object_get_int(v), 3);
	json_object_put(doc);

	doc = json_tokener_parse("{\"version\": 4}");
	ck_assert_int_eq(store_migrate(doc, steps, 3, &err), -EPROTONOSUPPORT);
	ck_assert_ptr_nonnull(strstr(err, "newer"));
	free(err);
	json_object_put(doc);

	/* A gap in the table is an error, not a silent skip. */
	const store_migrate_fn gap[] = { NULL, NULL, step_2_to_3 };
	doc = json_tokener_parse("{\"version\": 1}");
	err = NULL;
	ck_assert_int_eq(store_migrate(doc, gap, 3, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "no migration from state format version 1"));
	free(err);
	json_object_put(doc);
}
END_TEST

START_TEST(test_interrupted_create_cleaned)
{
	/* mkdir done, temp written, rename never happened */
	vm_t *vm;
	ck_assert_int_eq(vm_new(&vm), 0);
	ck_assert_int_eq(store_create_vm_dir(st, vm->id), 0);
	char *tmp;
	ck_assert_int_eq(store_vm_path(st, vm->id, ".state.json.1234abcd.tmp", &tmp), 0);
	FILE *f = fopen(tmp, "w");
	fputs("{\"ver", f);
	fclose(f);
	/* plus a directory that is not a VM id: ignored */
	char junk[600];
	snprintf(junk, sizeof(junk), "%s/vms/not-a-vm", dir);
	ck_assert_int_eq(mkdir(junk, 0700), 0);

	vm_t **vms;
	size_t n, cleaned;
	ck_assert_int_eq(store_load_all(st, &vms, &n, &cleaned), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(cleaned, 1);
	free(vms);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	ck_assert_int_eq(access(junk, F_OK), 0);
	free(tmp);
	vm_free(vm);
}
END_TEST

START_TEST(test_missing_state_json_with_other_files)
{
	vm_t *vm = make_vm("x");
	char *p;
	ck_assert_int_eq(store_vm_path(st, vm->id, "console.log", &p), 0);
	FILE *f = fopen(p, "w");
	fputs("hello\n", f);
	fclose(f);
	vm_t *back = load_single();
	ck_assert_str_eq(back->load_error, "state.json is missing");
	vm_free(back);
	free(p);
	vm_free(vm);
}
END_TEST

START_TEST(test_remove)
{
	vm_t *vm = make_vm("gone");
	ck_assert_int_eq(store_save(st, vm, true), 0);
	ck_assert_int_eq(store_remove(st, vm->id), 0);
	ck_assert_int_eq(store_remove(st, vm->id), 0); /* idempotent */
	ck_assert_int_eq(store_remove(st, "../../etc"), -EINVAL);
	vm_t **vms;
	size_t n;
	ck_assert_int_eq(store_load_all(st, &vms, &n, NULL), 0);
	ck_assert_uint_eq(n, 0);
	free(vms);
	vm_free(vm);
}
END_TEST

/* Issue 11, defects 8 and 11: a remove leaves no tombstone; what a killed
 * mvmd left (a tombstone, temp files of state.json) goes at the next
 * start, and nothing else does. */
START_TEST(test_clean_tombstones_and_temp_files)
{
	vm_t *a = make_vm("a"), *b = make_vm("b");
	char p[512];
	store_clean_report_t rep;

	ck_assert_int_eq(store_save(st, a, true), 0);
	ck_assert_int_eq(store_save(st, b, true), 0);
	ck_assert_int_eq(store_remove(st, b->id), 0);
	snprintf(p, sizeof(p), "%s/vms/.%s.removing", dir, b->id);
	ck_assert_int_eq(access(p, F_OK), -1);

	/* a remove killed half-way: a tombstone without its state.json */
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/vms/.%s.removing/console.log", dir, b->id);
	close(open(p, O_WRONLY | O_CREAT, 0600));
	static const char *const temps[] = { ".state.json.0123abcd.tmp", ".state.json.ffffffff.tmp" };
	static const char *const others[] = { ".state.json.0123abcd", ".state.json.0123ABCD.tmp", ".state.json.123.tmp",
					      ".console.log.0123abcd.tmp", "state.json.0123abcd.tmp" };
	for (size_t i = 0; i < sizeof(temps) / sizeof(temps[0]); i++) {
		snprintf(p, sizeof(p), "%s/vms/%s/%s", dir, a->id, temps[i]);
		close(open(p, O_WRONLY | O_CREAT, 0600));
	}
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		snprintf(p, sizeof(p), "%s/vms/%s/%s", dir, a->id, others[i]);
		close(open(p, O_WRONLY | O_CREAT, 0600));
	}
	snprintf(p, sizeof(p), "%s/vms/.not-a-tombstone.removing", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);

	ck_assert_int_eq(store_clean(st, &rep), 0);
	ck_assert_uint_eq(rep.tombstones, 1);
	ck_assert_uint_eq(rep.temp_files, 2);
	snprintf(p, sizeof(p), "%s/vms/.%s.removing", dir, b->id);
	ck_assert_int_eq(access(p, F_OK), -1);
	for (size_t i = 0; i < sizeof(temps) / sizeof(temps[0]); i++) {
		snprintf(p, sizeof(p), "%s/vms/%s/%s", dir, a->id, temps[i]);
		ck_assert_int_eq(access(p, F_OK), -1);
	}
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		snprintf(p, sizeof(p), "%s/vms/%s/%s", dir, a->id, others[i]);
		ck_assert_int_eq(access(p, F_OK), 0);
	}
	snprintf(p, sizeof(p), "%s/vms/.not-a-tombstone.removing", dir);
	ck_assert_int_eq(access(p, F_OK), 0);
	vm_t *l = load_single();
	ck_assert_str_eq(l->id, a->id);
	vm_free(l);
	vm_free(a);
	vm_free(b);
}
END_TEST

START_TEST(test_ids_and_names)
{
	ck_assert(vm_name_is_valid("a"));
	ck_assert(vm_name_is_valid("web-1.prod_x"));
	ck_assert(!vm_name_is_valid(""));
	ck_assert(!vm_name_is_valid("-x"));
	ck_assert(!vm_name_is_valid(".hidden"));
	ck_assert(!vm_name_is_valid("../etc"));
	ck_assert(!vm_name_is_valid("a/b"));
	ck_assert(!vm_name_is_valid("a b"));
	char n64[65];
	memset(n64, 'a', 64);
	n64[64] = 0;
	ck_assert(!vm_name_is_valid(n64));
	n64[63] = 0;
	ck_assert(vm_name_is_valid(n64));
	vm_t *vm;
	ck_assert_int_eq(vm_new(&vm), 0);
	ck_assert(vm_id_is_valid(vm->id));
	ck_assert_int_eq(vm->id[14], '4');
	vm_free(vm);
	ck_assert(!vm_id_is_valid("00000000-0000-4000-8000-00000000000G"));
	ck_assert(!vm_id_is_valid("../00000-0000-4000-8000-000000000000"));
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "core",
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_round_trip),
			MVMT_TEST(test_no_temp_left),
			MVMT_TEST(test_non_durable_save),
			MVMT_TEST(test_truncated_every_length),
			MVMT_TEST(test_exit_code_u32),
			MVMT_TEST(test_corrupt_bytes),
			MVMT_TEST(test_newer_version_refused_untouched),
			MVMT_TEST(test_migration_steps),
			MVMT_TEST(test_interrupted_create_cleaned),
			MVMT_TEST(test_missing_state_json_with_other_files),
			MVMT_TEST(test_remove),
			MVMT_TEST(test_ids_and_names),
			MVMT_TEST(test_clean_tombstones_and_temp_files)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "store", .tcases = tcases)
