/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manager.h"
#include "util/fs.h"
#include "mvmt-main.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/mvm-mgr-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	rm_rf_at(AT_FDCWD, dir);
}

static manager_t *mgr(void)
{
	manager_config_t cfg = { .state_dir = dir, .console_dir = "/nonexistent", .node_ring_capacity = 8,
				 .max_vms = 4, .max_vcpus = 4, .max_memory_mib = 1024 };
	manager_t *m;
	ck_assert_int_eq(manager_new(NULL, &cfg, &m), 0);
	return m;
}

static json_object *spec(const char *name, int vcpus, int mem)
{
	char buf[256];
	if (name)
		snprintf(buf, sizeof(buf), "{\"name\":\"%s\",\"vcpus\":%d,\"memory_mib\":%d}", name, vcpus, mem);
	else
		snprintf(buf, sizeof(buf), "{\"vcpus\":%d,\"memory_mib\":%d}", vcpus, mem);
	return json_tokener_parse(buf);
}

static int count_dirs(void)
{
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "exit $(ls %s/vms | wc -l)", dir);
	return WEXITSTATUS(system(cmd));
}

/* Make every state write of the VM fail (its directory replaced by a
 * file: ENOTDIR), or make them work again. */
static void break_vm_dir(const vm_t *vm, bool broken)
{
	char path[256], aside[300];

	snprintf(path, sizeof(path), "%s/vms/%s", dir, vm->id);
	snprintf(aside, sizeof(aside), "%s/aside", dir);
	if (broken) {
		ck_assert_int_eq(rename(path, aside), 0);
		int f = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		ck_assert_int_ge(f, 0);
		close(f);
	} else {
		ck_assert_int_eq(unlink(path), 0);
		ck_assert_int_eq(rename(aside, path), 0);
	}
}

static vm_t *load_one_vm(manager_t **ret_m, const char *id)
{
	*ret_m = mgr();
	ck_assert_int_eq(manager_load(*ret_m, NULL), 0);
	return manager_find(*ret_m, id);
}

static int started;
static int start_count(manager_t *m, vm_t *vm, char **ret_cause)
{
	started++;
	return 0;
}
static const backend_ops_t counting = { .start = start_count };

/* Issue 11, defect 2: a Starting that cannot be written is taken back
 * whole: no spawn, no event, the previous state in memory and on disk. */
START_TEST(test_start_not_written_changes_nothing)
{
	manager_t *m = mgr();
	json_object *s = spec("s", 1, 16);
	vm_t *vm;
	char *detail = NULL, id[VM_ID_LEN + 1];

	manager_register_backend(m, VM_BACKEND_KVM, &counting, NULL);
	ck_assert_int_eq(manager_create_vm(m, s, &vm, NULL), 0);
	json_object_put(s);
	strcpy(id, vm->id);
	/* fill the VM's ring so the Starting record evicts its oldest entry */
	for (int i = 0; i < 31; i++) {
		ck_assert_int_eq(manager_start_vm(m, vm, NULL), 0);
		ck_assert_int_eq(manager_transition(m, vm, VM_STATE_START_FAILED, "again"), 0);
	}
	ck_assert_uint_eq(vm->transitions.count, vm->transitions.capacity);
	uint64_t first = fsm_ring_get(&vm->transitions, 0)->seq, next = manager_events(m)->next_seq;
	started = 0;

	break_vm_dir(vm, true);
	ck_assert_int_eq(manager_start_vm(m, vm, &detail), -ENOTDIR);
	ck_assert_ptr_nonnull(strstr(detail, "Starting"));
	free(detail);
	ck_assert_int_eq(started, 0);
	ck_assert_int_eq(vm->state, VM_STATE_START_FAILED);
	ck_assert_str_eq(vm->cause, "again");
	ck_assert_uint_eq(vm->transitions.count, vm->transitions.capacity);
	ck_assert_uint_eq(fsm_ring_get(&vm->transitions, 0)->seq, first);
	ck_assert_int_eq(fsm_ring_get(&vm->transitions, vm->transitions.count - 1)->to, VM_STATE_START_FAILED);
	ck_assert_uint_eq(manager_events(m)->next_seq, next);
	ck_assert(!vm->save_pending);
	break_vm_dir(vm, false);

	/* and the next start is recorded as if nothing happened */
	ck_assert_int_eq(manager_start_vm(m, vm, NULL), 0);
	ck_assert_int_eq(started, 1);
	ck_assert_uint_eq(fsm_ring_get(&vm->transitions, vm->transitions.count - 1)->node_seq, next);
	manager_free(m);
	vm = load_one_vm(&m, id);
	ck_assert_int_eq(vm->state, VM_STATE_START_FAILED); /* Starting, lost: no backend here */
	manager_free(m);
}
END_TEST

/* Issue 11, defect 4: an end that could not be written stays pending and
 * is written by manager_flush() (and by the retry timer, see
 * check_mvmd_diskfull) once writes work again. */
START_TEST(test_failed_write_is_flushed)
{
	manager_t *m = mgr();
	json_object *s = spec("f", 1, 16);
	vm_t *vm;
	char id[VM_ID_LEN + 1];

	manager_register_backend(m, VM_BACKEND_KVM, &counting, NULL);
	ck_assert_int_eq(manager_create_vm(m, s, &vm, NULL), 0);
	json_object_put(s);
	strcpy(id, vm->id);
	ck_assert_int_eq(manager_start_vm(m, vm, NULL), 0);
	ck_assert_int_eq(manager_transition(m, vm, VM_STATE_RUNNING, "up"), 0);

	break_vm_dir(vm, true);
	vm->has_exit_code = true;
	vm->exit_code = 3;
	ck_assert_int_eq(manager_transition(m, vm, VM_STATE_STOPPED, "guest exited with code 3"), -ENOTDIR);
	ck_assert_int_eq(vm->state, VM_STATE_STOPPED); /* it did end */
	ck_assert(vm->save_pending);
	ck_assert_uint_eq(manager_flush(m), 1);
	break_vm_dir(vm, false);
	ck_assert_uint_eq(manager_flush(m), 0);
	ck_assert(!vm->save_pending);
	manager_free(m);

	vm = load_one_vm(&m, id);
	ck_assert_int_eq(vm->state, VM_STATE_STOPPED);
	ck_assert(vm->has_exit_code);
	ck_assert_int_eq(vm->exit_code, 3);
	manager_free(m);
}
END_TEST

START_TEST(test_create_and_find)
{
	manager_t *m = mgr();
	json_object *s = spec("web", 1, 64);
	vm_t *vm;
	char *detail = NULL;

	ck_assert_int_eq(manager_create_vm(m, s, &vm, &detail), 0);
	ck_assert_int_eq(vm->state, VM_STATE_CONFIGURED);
	ck_assert_uint_eq(vm->transitions.count, 2);
	ck_assert_ptr_eq(manager_find(m, "web"), vm);
	ck_assert_ptr_eq(manager_find(m, vm->id), vm);
	ck_assert_ptr_null(manager_find(m, "nope"));
	/* node ring got both transitions with consecutive node numbers */
	const fsm_ring_t *nr = manager_events(m);
	ck_assert_uint_eq(nr->count, 2);
	ck_assert_uint_eq(fsm_ring_get(nr, 0)->seq, 1);
	ck_assert_int_eq(fsm_ring_get(nr, 1)->to, VM_STATE_CONFIGURED);

	/* same name again: refused, nothing left behind */
	vm_t *dup;
	ck_assert_int_eq(manager_create_vm(m, s, &dup, &detail), -EEXIST);
	ck_assert_ptr_nonnull(strstr(detail, "web"));
	free(detail);
	ck_assert_int_eq(count_dirs(), 1);
	ck_assert_uint_eq(manager_events(m)->count, 2);
	json_object_put(s);
	manager_free(m);
}
END_TEST

START_TEST(test_limits)
{
	manager_t *m = mgr();
	char *detail = NULL;
	vm_t *vm;
	json_object *s;

	s = spec(NULL, 5, 64);
	ck_assert_int_eq(manager_create_vm(m, s, &vm, &detail), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(detail, "vcpus"));
	free(detail);
	json_object_put(s);
	s = spec(NULL, 1, 4096);
	ck_assert_int_eq(manager_create_vm(m, s, &vm, &detail), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(detail, "memory_mib"));
	free(detail);
	json_object_put(s);
	s = spec(NULL, 1, 16);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(manager_create_vm(m, s, &vm, NULL), 0);
	ck_assert_int_eq(manager_create_vm(m, s, &vm, &detail), -ENOSPC);
	free(detail);
	ck_assert_int_eq(count_dirs(), 4);
	json_object_put(s);
	manager_free(m);
}
END_TEST

static int prov_fail(manager_t *m, vm_t *vm, char **ret_cause)
{
	*ret_cause = strdup("kernel not found: /nope");
	return -ENOENT;
}
static int prov_error(manager_t *m, vm_t *vm, char **ret_cause)
{
	return -EIO;
}
static const backend_ops_t failing = { .provision = prov_fail };
static const backend_ops_t erroring = { .provision = prov_error };

START_TEST(test_provision_failure)
{
	manager_t *m = mgr();
	json_object *s = spec("p", 1, 16);
	vm_t *vm;
	char *detail = NULL;

	manager_register_backend(m, VM_BACKEND_KVM, &failing, NULL);
	ck_assert_int_eq(manager_create_vm(m, s, &vm, NULL), 0);
	ck_assert_int_eq(vm->state, VM_STATE_FAILED);
	ck_assert_str_eq(vm->cause, "kernel not found: /nope");

	/* a provision error without a cause fails the whole create */
	json_object_put(s);
	s = spec("q", 1, 16);
	manager_register_backend(m, VM_BACKEND_KVM, &erroring, NULL);
	ck_assert_int_eq(manager_create_vm(m, s, &vm, &detail), -EIO);
	free(detail);
	ck_assert_int_eq(count_dirs(), 1);
	json_object_put(s);
	manager_free(m);
}
END_TEST

/* compute.vm.exec of sha256:<hex> grants the hash through the VM's backend
 * (docs/blob-protocol.md); a backend without the hook says so. */
static char granted_hex[65];
static int grant_record(manager_t *m, vm_t *vm, const char *hex)
{
	snprintf(granted_hex, sizeof(granted_hex), "%s", hex);
	return 0;
}
static const backend_ops_t granting = { .grant_blob = grant_record };

START_TEST(test_grant_blob_hook)
{
	manager_t *m = mgr();
	json_object *s = spec("g", 1, 16);
	vm_t *vm;

	ck_assert_int_eq(manager_create_vm(m, s, &vm, NULL), 0);
	ck_assert_int_eq(manager_vm_grant_blob(m, vm, "ab"), -EOPNOTSUPP); /* no backend registered */
	manager_register_backend(m, VM_BACKEND_KVM, &granting, NULL);
	ck_assert_int_eq(manager_vm_grant_blob(m, vm, "0123"), 0);
	ck_assert_str_eq(granted_hex, "0123");
	manager_register_backend(m, VM_BACKEND_KVM, &failing, NULL);
	ck_assert_int_eq(manager_vm_grant_blob(m, vm, "0123"), -EOPNOTSUPP);
	json_object_put(s);
	manager_free(m);
}
END_TEST

static void on_event(manager_t *m, const fsm_event_t *ev, void *userdata)
{
	int *n = userdata;
	(*n)++;
	/* unsubscribing from inside the callback must be safe */
	if (*n == 3)
		manager_unsubscribe(m, on_event, userdata);
}

START_TEST(test_subscribe_and_transition)
{
	manager_t *m = mgr();
	json_object *s = spec("t", 1, 16);
	vm_t *vm;
	int n = 0;

	ck_assert_int_eq(manager_subscribe(m, on_event, &n), 0);
	ck_assert_int_eq(manager_create_vm(m, s, &vm, NULL), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(manager_transition(m, vm, VM_STATE_RUNNING, "x"), -EBUSY);
	ck_assert_int_eq(vm->state, VM_STATE_CONFIGURED);
	ck_assert_int_eq(manager_transition(m, vm, VM_STATE_STARTING, "start"), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(manager_transition(m, vm, VM_STATE_RUNNING, "up"), 0);
	ck_assert_int_eq(n, 3); /* unsubscribed */
	/* remove without force refused while active */
	ck_assert_int_eq(manager_remove_vm(m, vm, false), -EBUSY);
	/* forced, but no backend that can kill */
	ck_assert_int_eq(manager_remove_vm(m, vm, true), -EOPNOTSUPP);
	json_object_put(s);
	manager_free(m);
}
END_TEST

static int adopt_ok(manager_t *m, vm_t *vm, char **ret_cause) { return 0; }
static const backend_ops_t adopting = { .adopt = adopt_ok };

START_TEST(test_reload)
{
	manager_t *m = mgr();
	json_object *s = spec("keep", 2, 32);
	vm_t *a, *b, *c;
	char ida[40], idb[40], idc[40];

	ck_assert_int_eq(manager_create_vm(m, s, &a, NULL), 0);
	json_object_put(s);
	s = spec("run", 1, 16);
	ck_assert_int_eq(manager_create_vm(m, s, &b, NULL), 0);
	json_object_put(s);
	s = spec("gone", 1, 16);
	ck_assert_int_eq(manager_create_vm(m, s, &c, NULL), 0);
	json_object_put(s);
	ck_assert_int_eq(manager_transition(m, b, VM_STATE_STARTING, NULL), 0);
	ck_assert_int_eq(manager_transition(m, b, VM_STATE_RUNNING, NULL), 0);
	ck_assert_int_eq(manager_transition(m, c, VM_STATE_STARTING, NULL), 0);
	strcpy(ida, a->id);
	strcpy(idb, b->id);
	strcpy(idc, c->id);
	uint64_t next = manager_events(m)->next_seq;
	ck_assert_uint_eq(next, 10);
	manager_free(m); /* like a kill -9: nothing is written at exit */

	m = mgr();
	/* the kvm backend adopts both active VMs (b Running, c Starting) */
	manager_register_backend(m, VM_BACKEND_KVM, &adopting, NULL);
	manager_load_report_t rep;
	ck_assert_int_eq(manager_load(m, &rep), 0);
	ck_assert_uint_eq(rep.loaded, 3);
	ck_assert_uint_eq(rep.adopted, 2); /* b Running, c Starting: both kvm */
	a = manager_find(m, "keep");
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a->id, ida);
	ck_assert_int_eq(a->state, VM_STATE_CONFIGURED);
	ck_assert_uint_eq(a->vcpus, 2);
	b = manager_find(m, idb);
	ck_assert_int_eq(b->state, VM_STATE_RUNNING);
	ck_assert_uint_eq(b->transitions.count, 4);
	/* the node ring continues where it stopped; capacity 8 kept the last 8 */
	const fsm_ring_t *nr = manager_events(m);
	ck_assert_uint_eq(nr->next_seq, next);
	ck_assert_uint_eq(nr->count, 8);
	ck_assert_uint_eq(fsm_ring_first_seq(nr), 2);
	manager_free(m);

	/* without an adopting backend, active VMs become Failed; one that
	 * was Starting never ran: its start failed */
	m = mgr();
	ck_assert_int_eq(manager_load(m, &rep), 0);
	ck_assert_uint_eq(rep.lost, 2);
	b = manager_find(m, idb);
	ck_assert_int_eq(b->state, VM_STATE_FAILED);
	ck_assert_str_eq(b->cause, "worker lost while mvmd was down");
	c = manager_find(m, idc);
	ck_assert_int_eq(c->state, VM_STATE_START_FAILED);
	ck_assert_str_eq(c->cause, "start interrupted: mvmd stopped before the VM ran");
	ck_assert_uint_eq(manager_events(m)->next_seq, next + 2);
	manager_free(m);
}
END_TEST

typedef struct seen {
	fsm_event_t ev;
	char cause[64];
	bool vm_still_found; /* manager_find(ev.vm) from inside the callback */
	int n;
} seen_t;

static void on_removal(manager_t *m, const fsm_event_t *ev, void *userdata)
{
	seen_t *s = userdata;

	s->n++;
	s->ev = *ev;
	snprintf(s->cause, sizeof(s->cause), "%s", ev->cause ? ev->cause : "");
	s->vm_still_found = manager_find(m, ev->vm) != NULL;
}

START_TEST(test_remove)
{
	manager_t *m = mgr();
	json_object *s = spec("r", 1, 16);
	seen_t seen = { 0 };
	char id[40];
	vm_t *vm;

	ck_assert_int_eq(manager_create_vm(m, s, &vm, NULL), 0);
	strcpy(id, vm->id);
	uint64_t seq = manager_events(m)->next_seq;
	ck_assert_int_eq(manager_subscribe(m, on_removal, &seen), 0);
	ck_assert_int_eq(manager_remove_vm(m, vm, false), 0);
	ck_assert_ptr_null(manager_find(m, "r"));
	ck_assert_int_eq(count_dirs(), 0);
	/* one event, after the VM left the registry, numbered next */
	ck_assert_int_eq(seen.n, 1);
	ck_assert(seen.ev.removed);
	ck_assert(!seen.vm_still_found);
	ck_assert_str_eq(seen.ev.vm, id);
	ck_assert_int_eq(seen.ev.from, VM_STATE_CONFIGURED);
	ck_assert_uint_eq(seen.ev.seq, seq);
	ck_assert_str_eq(seen.cause, "removed");
	/* in the node ring, the last */
	const fsm_ring_t *ring = manager_events(m);
	ck_assert_uint_eq(ring->next_seq, seq + 1);
	ck_assert(fsm_ring_get(ring, ring->count - 1)->removed);
	json_object_put(s);
	manager_free(m);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "core",
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_create_and_find),
			MVMT_TEST(test_start_not_written_changes_nothing),
			MVMT_TEST(test_failed_write_is_flushed),
			MVMT_TEST(test_limits),
			MVMT_TEST(test_provision_failure),
			MVMT_TEST(test_subscribe_and_transition),
			MVMT_TEST(test_reload),
			MVMT_TEST(test_remove),
			MVMT_TEST(test_grant_blob_hook)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "manager", .tcases = tcases)
