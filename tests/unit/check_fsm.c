/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsm.h"
#include "mvmt-main.h"

/* The table of docs/design.md §3, restated independently of daemon/mvmd/fsm.c so that a
 * change to one without the other fails here. */
static bool expected(vm_state_t f, vm_state_t t)
{
	switch (f) {
	case VM_STATE_PENDING: return t == VM_STATE_PROVISIONING;
	case VM_STATE_PROVISIONING: return t == VM_STATE_CONFIGURED || t == VM_STATE_FAILED;
	case VM_STATE_CONFIGURED: return t == VM_STATE_STARTING;
	case VM_STATE_STARTING:
		return t == VM_STATE_RUNNING || t == VM_STATE_START_FAILED || t == VM_STATE_FAILED ||
		       t == VM_STATE_STOPPING;
	case VM_STATE_RUNNING:
		return t == VM_STATE_STOPPING || t == VM_STATE_STOPPED || t == VM_STATE_FAILED || t == VM_STATE_PAUSED;
	case VM_STATE_PAUSED:
		return t == VM_STATE_RUNNING || t == VM_STATE_STOPPING || t == VM_STATE_STOPPED || t == VM_STATE_FAILED;
	case VM_STATE_START_FAILED: return t == VM_STATE_STARTING;
	case VM_STATE_STOPPING: return t == VM_STATE_STOPPED || t == VM_STATE_FAILED;
	case VM_STATE_STOPPED: return t == VM_STATE_STARTING;
	case VM_STATE_FAILED: return t == VM_STATE_STARTING;
	default: return false;
	}
}

START_TEST(test_table_exhaustive)
{
	int allowed = 0;
	for (int f = 0; f < _VM_STATE_MAX; f++)
		for (int t = 0; t < _VM_STATE_MAX; t++) {
			int r = fsm_check(f, t);
			ck_assert_msg(r == 0 || r == -EBUSY, "unexpected %d", r);
			ck_assert_msg((r == 0) == expected(f, t), "%s -> %s: got %d",
				      vm_state_to_string(f), vm_state_to_string(t), r);
			allowed += r == 0;
		}
	ck_assert_int_eq(allowed, 21);
}
END_TEST

START_TEST(test_start_sources)
{
	/* start is allowed from exactly these four states */
	for (int f = 0; f < _VM_STATE_MAX; f++) {
		bool want = f == VM_STATE_CONFIGURED || f == VM_STATE_STOPPED || f == VM_STATE_START_FAILED ||
			    f == VM_STATE_FAILED;
		ck_assert_int_eq(fsm_check(f, VM_STATE_STARTING) == 0, want);
	}
}
END_TEST

START_TEST(test_out_of_range)
{
	ck_assert_int_eq(fsm_check(-1, VM_STATE_RUNNING), -EINVAL);
	ck_assert_int_eq(fsm_check(VM_STATE_RUNNING, _VM_STATE_MAX), -EINVAL);
	ck_assert_ptr_null(vm_state_to_string(_VM_STATE_MAX));
	ck_assert_ptr_null(vm_state_to_string(-1));
}
END_TEST

START_TEST(test_names_round_trip)
{
	static const char *names[] = { "Pending", "Provisioning", "Configured", "Starting", "Running",
				       "StartFailed", "Stopping", "Stopped", "Failed", "Paused" };
	for (int i = 0; i < _VM_STATE_MAX; i++) {
		ck_assert_str_eq(vm_state_to_string(i), names[i]);
		ck_assert_int_eq(vm_state_from_string(names[i]), i);
	}
	ck_assert_int_eq(vm_state_from_string("running"), _VM_STATE_INVALID);
	ck_assert_int_eq(vm_state_from_string(""), _VM_STATE_INVALID);
	ck_assert_int_eq(vm_state_from_string(NULL), _VM_STATE_INVALID);
}
END_TEST

START_TEST(test_active)
{
	for (int s = 0; s < _VM_STATE_MAX; s++)
		ck_assert_int_eq(fsm_state_is_active(s),
				 s == VM_STATE_STARTING || s == VM_STATE_RUNNING || s == VM_STATE_STOPPING ||
					 s == VM_STATE_PAUSED);
}
END_TEST

static fsm_event_t ev(vm_state_t f, vm_state_t t, const char *cause)
{
	fsm_event_t e = { .from = f, .to = t, .cause = (char *)cause, .wall_usec = 1, .mono_usec = 2 };
	strcpy(e.vm, "vm");
	return e;
}

START_TEST(test_ring_wraps)
{
	fsm_ring_t r;
	char buf[32];

	ck_assert_int_eq(fsm_ring_init(&r, 4), 0);
	ck_assert_int_eq(fsm_ring_first_seq(&r), 1);
	for (int i = 0; i < 10; i++) {
		uint64_t seq;
		snprintf(buf, sizeof(buf), "cause %d", i);
		fsm_event_t e = ev(VM_STATE_RUNNING, VM_STATE_STOPPING, buf);
		ck_assert_int_eq(fsm_ring_push(&r, &e, false, &seq), 0);
		ck_assert_uint_eq(seq, (uint64_t)i + 1);
	}
	ck_assert_uint_eq(r.count, 4);
	ck_assert_uint_eq(fsm_ring_first_seq(&r), 7);
	for (size_t i = 0; i < 4; i++) {
		const fsm_event_t *e = fsm_ring_get(&r, i);
		ck_assert_uint_eq(e->seq, 7 + i);
		snprintf(buf, sizeof(buf), "cause %zu", 6 + i);
		ck_assert_str_eq(e->cause, buf);
	}
	ck_assert_ptr_null(fsm_ring_get(&r, 4));
	fsm_ring_done(&r);
}
END_TEST

/* A push taken back leaves the ring as it was, full or not. */
START_TEST(test_ring_unpush)
{
	fsm_ring_t r;
	fsm_event_t e = ev(VM_STATE_RUNNING, VM_STATE_STOPPING, "one");
	uint64_t seq;

	ck_assert_int_eq(fsm_ring_init(&r, 3), 0);
	ck_assert_int_eq(fsm_ring_push(&r, &e, false, NULL), 0);
	e.cause = "two";
	ck_assert_int_eq(fsm_ring_push(&r, &e, false, NULL), 0);
	e.cause = "x";
	ck_assert_int_eq(fsm_ring_push(&r, &e, false, NULL), 0); /* fills the last free slot */
	fsm_ring_unpush(&r, NULL);
	ck_assert_uint_eq(r.count, 2);
	ck_assert_uint_eq(r.next_seq, 3);
	ck_assert_str_eq(fsm_ring_get(&r, 1)->cause, "two");

	/* full: the evicted oldest comes back */
	e.cause = "three";
	ck_assert_int_eq(fsm_ring_push(&r, &e, false, NULL), 0);
	fsm_event_t old = *fsm_ring_get(&r, 0);
	old.cause = strdup(old.cause);
	e.cause = "four";
	ck_assert_int_eq(fsm_ring_push(&r, &e, false, NULL), 0);
	ck_assert_str_eq(fsm_ring_get(&r, 0)->cause, "two");
	fsm_ring_unpush(&r, &old);
	ck_assert_ptr_null(old.cause); /* taken over */
	ck_assert_uint_eq(r.count, 3);
	ck_assert_uint_eq(r.next_seq, 4);
	for (size_t i = 0; i < 3; i++) {
		static const char *const want[] = { "one", "two", "three" };
		ck_assert_str_eq(fsm_ring_get(&r, i)->cause, want[i]);
		ck_assert_uint_eq(fsm_ring_get(&r, i)->seq, i + 1);
	}
	e.cause = "five";
	ck_assert_int_eq(fsm_ring_push(&r, &e, false, &seq), 0);
	ck_assert_uint_eq(seq, 4);
	ck_assert_str_eq(fsm_ring_get(&r, 0)->cause, "two");
	fsm_ring_done(&r);
}
END_TEST

START_TEST(test_ring_keep_seq)
{
	fsm_ring_t r;
	fsm_event_t e = ev(VM_STATE_PENDING, VM_STATE_PROVISIONING, NULL);

	ck_assert_int_eq(fsm_ring_init(&r, 2), 0);
	e.seq = 40;
	ck_assert_int_eq(fsm_ring_push(&r, &e, true, NULL), 0);
	e.seq = 39; /* replay out of order is refused */
	ck_assert_int_eq(fsm_ring_push(&r, &e, true, NULL), -EINVAL);
	uint64_t seq;
	ck_assert_int_eq(fsm_ring_push(&r, &e, false, &seq), 0);
	ck_assert_uint_eq(seq, 41);
	ck_assert_ptr_null(fsm_ring_get(&r, 0)->cause);
	fsm_ring_done(&r);
	fsm_ring_done(&r); /* idempotent */
	ck_assert_int_eq(fsm_ring_init(&r, 0), -EINVAL);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "core",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_table_exhaustive),
			MVMT_TEST(test_start_sources),
			MVMT_TEST(test_out_of_range),
			MVMT_TEST(test_names_round_trip),
			MVMT_TEST(test_active),
			MVMT_TEST(test_ring_wraps),
			MVMT_TEST(test_ring_keep_seq),
			MVMT_TEST(test_ring_unpush)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "fsm", .tcases = tcases)
