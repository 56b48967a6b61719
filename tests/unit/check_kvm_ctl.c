/* SPDX-License-Identifier: Apache-2.0 */
/* The control-protocol codec and the result file format, without KVM. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kvm/ctl.h"

static size_t frame(uint8_t *buf, uint32_t type, const void *p, uint32_t len)
{
	kvm_msg_hdr_t h = { type, len };
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), p, len);
	return sizeof(h) + len;
}

START_TEST(test_decode_whole_and_partial)
{
	uint8_t buf[256];
	kvm_msg_t m;
	size_t used, n = frame(buf, KVM_MSG_CONSOLE_OUT, "hello", 5);

	for (size_t cut = 0; cut < n; cut++)
		ck_assert_int_eq(kvm_msg_decode(buf, cut, &m, &used), 0);
	ck_assert_int_eq(kvm_msg_decode(buf, n, &m, &used), 1);
	ck_assert_uint_eq(used, n);
	ck_assert_uint_eq(m.type, KVM_MSG_CONSOLE_OUT);
	ck_assert_uint_eq(m.len, 5);
	ck_assert_mem_eq(m.payload, "hello", 5);
}
END_TEST

START_TEST(test_decode_refuses_bad_frames)
{
	uint8_t buf[64] = { 0 };
	kvm_msg_t m;
	size_t used;
	kvm_msg_hdr_t h;

	h = (kvm_msg_hdr_t){ 0, 0 };
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(kvm_msg_decode(buf, sizeof(h), &m, &used), -EBADMSG);
	h = (kvm_msg_hdr_t){ _KVM_MSG_MAX, 0 };
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(kvm_msg_decode(buf, sizeof(h), &m, &used), -EBADMSG);
	/* A huge length is refused from the header alone, before buffering. */
	h = (kvm_msg_hdr_t){ KVM_MSG_CONSOLE_IN, KVM_MSG_PAYLOAD_MAX + 1 };
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(kvm_msg_decode(buf, sizeof(h), &m, &used), -EBADMSG);
	h = (kvm_msg_hdr_t){ KVM_MSG_CONSOLE_IN, 0 };
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(kvm_msg_decode(buf, sizeof(h), &m, &used), -EBADMSG);
	h = (kvm_msg_hdr_t){ KVM_MSG_STOP, 4 };
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(kvm_msg_decode(buf, sizeof(h), &m, &used), -EBADMSG);
	h = (kvm_msg_hdr_t){ KVM_MSG_READY, 1 };
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(kvm_msg_decode(buf, sizeof(h), &m, &used), -EBADMSG);
}
END_TEST

START_TEST(test_result_payload_validated)
{
	uint8_t buf[sizeof(kvm_msg_hdr_t) + sizeof(kvm_result_t)];
	kvm_result_t r = { .outcome = KVM_OUTCOME_FAULT, .fault = KVM_FAULT_MMIO }, got;
	kvm_msg_t m;
	size_t used;

	memset(r.message, 'x', sizeof(r.message)); /* no NUL: the getter adds one */
	frame(buf, KVM_MSG_RESULT, &r, sizeof(r));
	ck_assert_int_eq(kvm_msg_decode(buf, sizeof(buf), &m, &used), 1);
	ck_assert_int_eq(kvm_msg_get_result(&m, &got), 0);
	ck_assert_uint_eq(strlen(got.message), sizeof(got.message) - 1);
	/* Found by fuzz_kvm_ctl: a result without an outcome did not survive
	 * the trip through the result file. */
	r.outcome = KVM_OUTCOME_NONE;
	frame(buf, KVM_MSG_RESULT, &r, sizeof(r));
	ck_assert_int_eq(kvm_msg_decode(buf, sizeof(buf), &m, &used), 1);
	ck_assert_int_eq(kvm_msg_get_result(&m, &got), -EBADMSG);
	r.outcome = 99;
	frame(buf, KVM_MSG_RESULT, &r, sizeof(r));
	ck_assert_int_eq(kvm_msg_decode(buf, sizeof(buf), &m, &used), 1);
	ck_assert_int_eq(kvm_msg_get_result(&m, &got), -EBADMSG);
	ck_assert_int_eq(kvm_msg_get_status(&m, &(kvm_msg_status_t){ 0 }), -EBADMSG);
}
END_TEST

/* Queue, flush, fill, next across a real socketpair, byte by byte. */
START_TEST(test_ctl_roundtrip_socketpair)
{
	int sv[2];
	kvm_ctl_t *a, *b;
	kvm_msg_t m;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(kvm_ctl_new(sv[0], 0, &a), 0);
	ck_assert_int_eq(kvm_ctl_new(sv[1], 0, &b), 0);
	ck_assert_int_eq(kvm_ctl_send_console(a, "abc", 3), 0);
	ck_assert_int_eq(kvm_ctl_send_stop(a, 250), 0);
	ck_assert_int_eq(kvm_ctl_send_status_req(a), 0);
	ck_assert_int_eq(kvm_ctl_recv(b, 1000, &m), 1);
	ck_assert_uint_eq(m.type, KVM_MSG_CONSOLE_IN);
	ck_assert_mem_eq(m.payload, "abc", 3);
	ck_assert_int_eq(kvm_ctl_recv(b, 1000, &m), 1);
	kvm_msg_stop_t s;
	ck_assert_int_eq(kvm_msg_get_stop(&m, &s), 0);
	ck_assert_uint_eq(s.grace_ms, 250);
	ck_assert_int_eq(kvm_ctl_recv(b, 1000, &m), 1);
	ck_assert_uint_eq(m.type, KVM_MSG_STATUS_REQ);
	ck_assert_int_eq(kvm_ctl_recv(b, 50, &m), -ETIMEDOUT);
	/* A sender of a worker-only type cannot smuggle a bad length. */
	ck_assert_int_eq(kvm_ctl_queue(a, KVM_MSG_STOP, "x", 1), -EMSGSIZE);
	ck_assert_int_eq(kvm_ctl_queue(a, KVM_MSG_CONSOLE_OUT, NULL, KVM_MSG_PAYLOAD_MAX + 1), -EMSGSIZE);
	kvm_ctl_free(a);
	ck_assert_int_eq(kvm_ctl_recv(b, 1000, &m), -ECONNRESET);
	kvm_ctl_free(b);
}
END_TEST

/* Maximal frames back to back through small, growing buffers. */
START_TEST(test_ctl_big_frames)
{
	int sv[2];
	kvm_ctl_t *a, *b;
	kvm_msg_t m;
	static uint8_t big[KVM_MSG_PAYLOAD_MAX];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(kvm_ctl_new(sv[0], 1u << 20, &a), 0);
	ck_assert_int_eq(kvm_ctl_new(sv[1], 0, &b), 0);
	for (int k = 0; k < 4; k++)
		ck_assert_int_eq(kvm_ctl_queue(a, KVM_MSG_CONSOLE_IN, big, sizeof(big)), 0);
	ck_assert_int_eq(kvm_ctl_queue(a, KVM_MSG_CONSOLE_IN, "end", 3), 0);
	/* a's queue is bigger than the socket buffer: push it along while b
	 * reads (kvm_ctl_recv flushes only b's own queue). */
	for (int got = 0; got < 5;) {
		ck_assert_int_ge(kvm_ctl_flush(a), 0);
		int r = kvm_ctl_recv(b, 100, &m);
		if (r == -ETIMEDOUT)
			continue;
		ck_assert_int_eq(r, 1);
		if (got < 4) {
			ck_assert_uint_eq(m.len, sizeof(big));
			ck_assert_mem_eq(m.payload, big, sizeof(big));
		} else {
			ck_assert_uint_eq(m.len, 3);
			ck_assert_mem_eq(m.payload, "end", 3);
		}
		got++;
	}
	ck_assert_int_eq(kvm_ctl_pending(a), 0);
	kvm_ctl_free(a);
	kvm_ctl_free(b);
}
END_TEST

START_TEST(test_ctl_queue_bounded)
{
	int sv[2];
	kvm_ctl_t *a;
	static uint8_t big[KVM_MSG_PAYLOAD_MAX];
	int r, n = 0;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(kvm_ctl_new(sv[0], 200000, &a), 0);
	while ((r = kvm_ctl_queue(a, KVM_MSG_CONSOLE_OUT, big, sizeof(big))) == 0)
		n++;
	ck_assert_int_eq(r, -ENOBUFS);
	ck_assert_int_eq(n, 3);
	ck_assert_uint_le(kvm_ctl_pending(a), 200000);
	kvm_ctl_free(a);
	close(sv[1]);
}
END_TEST

START_TEST(test_result_text_roundtrip)
{
	kvm_result_t r = { .outcome = KVM_OUTCOME_FAULT, .fault = KVM_FAULT_SHUTDOWN,
			   .fault_addr = 0xdeadbeef, .regs_valid = 1 }, got;
	char buf[4096];
	for (int i = 0; i < _KVM_REG_MAX; i++)
		r.regs[i] = 0x1000u * (unsigned)i + 7;
	strcpy(r.message, "line\nbreak\x01 and text");
	int n = kvm_result_format(&r, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(kvm_result_parse(buf, (size_t)n, &got), 0);
	ck_assert_uint_eq(got.outcome, r.outcome);
	ck_assert_uint_eq(got.fault, r.fault);
	ck_assert_uint_eq(got.fault_addr, r.fault_addr);
	ck_assert(got.regs_valid);
	ck_assert_mem_eq(got.regs, r.regs, sizeof(r.regs));
	ck_assert_str_eq(got.message, "line?break? and text");

	kvm_result_t e = { .outcome = KVM_OUTCOME_ERROR, .error = -ENOEXEC };
	n = kvm_result_format(&e, buf, sizeof(buf));
	ck_assert_int_eq(kvm_result_parse(buf, (size_t)n, &got), 0);
	ck_assert_int_eq(got.error, -ENOEXEC);
	ck_assert(!got.regs_valid);
	ck_assert_int_eq(kvm_result_format(&e, buf, 10), -ENOBUFS);
}
END_TEST

START_TEST(test_result_parse_refuses)
{
	kvm_result_t got;
	const char *bad[] = {
		"", "outcome=exit\n", "mvm-result=2\noutcome=exit\n", "mvm-result=1\n",
		"mvm-result=1\noutcome=maybe\n", "mvm-result=1\noutcome=exit\nexit_code=x\n",
		"mvm-result=1\noutcome=exit\nnoequals\n", "mvm-result=1\noutcome=exit\nrip=0xzz\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(kvm_result_parse(bad[i], strlen(bad[i]), &got) < 0, "accepted: %s", bad[i]);
	const char *ok = "mvm-result=1\noutcome=exit\nexit_code=3\nfuture_key=1\n";
	ck_assert_int_eq(kvm_result_parse(ok, strlen(ok), &got), 0);
	ck_assert_int_eq(got.exit_code, 3);
}
END_TEST

START_TEST(test_names)
{
	for (uint32_t o = 0; o < _KVM_OUTCOME_MAX; o++)
		ck_assert_int_eq(kvm_outcome_from_string(kvm_outcome_to_string(o)), (int)o);
	for (uint32_t f = 0; f < _KVM_FAULT_MAX; f++)
		ck_assert_int_eq(kvm_fault_from_string(kvm_fault_to_string(f)), (int)f);
	ck_assert_ptr_null(kvm_fault_to_string(_KVM_FAULT_MAX));
	ck_assert_str_eq(kvm_msg_type_to_string(KVM_MSG_RESULT), "result");
	ck_assert_str_eq(kvm_vm_state_to_string(KVM_VM_RUNNING), "running");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kvm-ctl");
	TCase *tc = tcase_create("codec");
	tcase_add_test(tc, test_decode_whole_and_partial);
	tcase_add_test(tc, test_decode_refuses_bad_frames);
	tcase_add_test(tc, test_result_payload_validated);
	tcase_add_test(tc, test_ctl_roundtrip_socketpair);
	tcase_add_test(tc, test_ctl_queue_bounded);
	tcase_add_test(tc, test_ctl_big_frames);
	tcase_add_test(tc, test_result_text_roundtrip);
	tcase_add_test(tc, test_result_parse_refuses);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
