/* SPDX-License-Identifier: Apache-2.0 */
/* The control-protocol codec and the result file format, without KVM. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/ctl.h"
#include "grants.h"
#include "kvm/backend-kvm.h"
#include "util/sha256.h"
#include "mvmt-main.h"

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
	/* a run's stderr carries bytes as console output does; the end of
	 * input carries none */
	h = (kvm_msg_hdr_t){ KVM_MSG_STDERR_OUT, 0 };
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(kvm_msg_decode(buf, sizeof(h), &m, &used), -EBADMSG);
	h = (kvm_msg_hdr_t){ KVM_MSG_STDERR_OUT, 2 };
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(kvm_msg_decode(buf, sizeof(h) + 2, &m, &used), 1);
	h = (kvm_msg_hdr_t){ KVM_MSG_CONSOLE_EOF, 1 };
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(kvm_msg_decode(buf, sizeof(h) + 1, &m, &used), -EBADMSG);
	h = (kvm_msg_hdr_t){ KVM_MSG_CONSOLE_EOF, 0 };
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(kvm_msg_decode(buf, sizeof(h), &m, &used), 1);
	ck_assert_str_eq(kvm_msg_type_to_string(KVM_MSG_CONSOLE_EOF), "console-eof");
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

/* Issue 11, item 13: a worker error's cause names the error once ("File
 * too large: ...: File too large" before). */
START_TEST(test_result_describe)
{
	kvm_result_t r = { .outcome = KVM_OUTCOME_ERROR, .error = -EFBIG };
	char *s;

	snprintf(r.message, sizeof(r.message), "workload module larger than guest memory: %s", strerror(EFBIG));
	s = backend_kvm_describe_result(&r);
	ck_assert_str_eq(s, "worker error: workload module larger than guest memory: File too large");
	free(s);
	r.message[0] = 0;
	s = backend_kvm_describe_result(&r);
	ck_assert_str_eq(s, "worker error: File too large");
	free(s);
	r = (kvm_result_t){ .outcome = KVM_OUTCOME_EXIT, .exit_code = 3 };
	s = backend_kvm_describe_result(&r);
	ck_assert_str_eq(s, "guest exited with code 3");
	free(s);
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

/*
 * Exit codes are u32s, whole, through the result file; files of older
 * workers (0..255, or a negative int32) still read.
 */
START_TEST(test_result_exit_code_u32)
{
	static const uint32_t codes[] = { 0, 255, 256, 65536, 2147483647u, 2147483648u, 4294967295u };
	kvm_result_t got;
	char buf[4096];

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		kvm_result_t r = { .outcome = KVM_OUTCOME_EXIT, .exit_code = codes[i] };
		int n = kvm_result_format(&r, buf, sizeof(buf));
		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(kvm_result_parse(buf, (size_t)n, &got), 0);
		ck_assert_uint_eq(got.exit_code, codes[i]);
	}
	const char *old = "mvm-result=1\noutcome=exit\nexit_code=42\nfault=none\nfault_addr=0x0\nerror=0\nmessage=\n";
	ck_assert_int_eq(kvm_result_parse(old, strlen(old), &got), 0);
	ck_assert_uint_eq(got.exit_code, 42);
	const char *neg = "mvm-result=1\noutcome=exit\nexit_code=-1\n";
	ck_assert_int_eq(kvm_result_parse(neg, strlen(neg), &got), 0);
	ck_assert_uint_eq(got.exit_code, 4294967295u);
	const char *bad[] = {
		"mvm-result=1\noutcome=exit\nexit_code=4294967296\n",
		"mvm-result=1\noutcome=exit\nexit_code=-2147483649\n",
		"mvm-result=1\noutcome=exit\nexit_code=99999999999999999999\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(kvm_result_parse(bad[i], strlen(bad[i]), &got) < 0, "accepted: %s", bad[i]);
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

/* Send raw bytes with nfds descriptors (each a dup of fd) in one sendmsg. */
static void send_with_fds(int sock, const void *buf, size_t len, int fd, int nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} cbuf;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds > 0) {
		int fds[4];
		for (int i = 0; i < nfds; i++)
			fds[i] = fd;
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
	}
	ck_assert_int_eq(sendmsg(sock, &mh, 0), (ssize_t)len);
}

static const char REF[] = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/* Count open fds of this process (a leak shows here). */
static int open_fds(void)
{
	int n = 0;
	for (int i = 0; i < 1024; i++)
		if (fcntl(i, F_GETFD) >= 0)
			n++;
	return n;
}

/* Drive b until a message or an error: returns kvm_ctl_next's or fill's result. */
static int next_msg(kvm_ctl_t *b, kvm_msg_t *m)
{
	for (int i = 0; i < 100; i++) {
		int r = kvm_ctl_next(b, m);
		if (r != 0)
			return r;
		r = kvm_ctl_fill(b);
		if (r < 0 && r != -EAGAIN)
			return r;
		if (r == 0)
			return -ECONNRESET;
		if (r == -EAGAIN)
			usleep(1000);
	}
	return 0;
}

START_TEST(test_ctl_blob_grant_carries_one_fd)
{
	int sv[2], pfd[2];
	kvm_ctl_t *a, *b;
	kvm_msg_t m;
	int base = open_fds();

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(kvm_ctl_new(sv[0], 0, &a), 0);
	ck_assert_int_eq(kvm_ctl_new(sv[1], 0, &b), 0);
	kvm_ctl_accept_fds(b, true);
	/* only through kvm_ctl_send_fd, and only for a type that takes one */
	ck_assert_int_eq(kvm_ctl_queue(a, KVM_MSG_BLOB_GRANT, REF, KVM_BLOB_REF_LEN), -EMSGSIZE);
	ck_assert_int_eq(kvm_ctl_send_fd(a, KVM_MSG_CONSOLE_IN, "x", 1, pfd[0]), -EINVAL);
	ck_assert_int_eq(kvm_ctl_send_fd(a, KVM_MSG_BLOB_GRANT, REF, 70, pfd[0]), -EMSGSIZE);
	/* console, grant, console: the fd arrives with its frame only */
	ck_assert_int_eq(kvm_ctl_send_console(a, "one", 3), 0);
	ck_assert_int_eq(kvm_ctl_send_fd(a, KVM_MSG_BLOB_GRANT, REF, KVM_BLOB_REF_LEN, pfd[0]), 0);
	ck_assert_int_eq(kvm_ctl_send_console(a, "two", 3), 0);
	ck_assert_int_eq(next_msg(b, &m), 1);
	ck_assert_uint_eq(m.type, KVM_MSG_CONSOLE_IN);
	ck_assert_int_eq(m.fd, -1);
	ck_assert_int_eq(next_msg(b, &m), 1);
	ck_assert_uint_eq(m.type, KVM_MSG_BLOB_GRANT);
	ck_assert_mem_eq(m.payload, REF, KVM_BLOB_REF_LEN);
	ck_assert_int_ge(m.fd, 0);
	/* the same pipe: what goes in one end comes out of the received fd */
	ck_assert_int_eq(write(pfd[1], "z", 1), 1);
	char c = 0;
	ck_assert_int_eq(read(m.fd, &c, 1), 1);
	ck_assert_int_eq(c, 'z');
	close(m.fd);
	ck_assert_int_eq(next_msg(b, &m), 1);
	ck_assert_uint_eq(m.type, KVM_MSG_CONSOLE_IN);
	kvm_ctl_free(a);
	kvm_ctl_free(b);
	close(pfd[0]);
	close(pfd[1]);
	ck_assert_int_eq(open_fds(), base);
}
END_TEST

/* A worker hands a console client over: an empty frame and its fd. */
START_TEST(test_ctl_console_client_carries_one_fd)
{
	int sv[2], cl[2];
	kvm_ctl_t *a, *b;
	kvm_msg_t m;
	int base = open_fds();

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cl), 0);
	ck_assert_int_eq(kvm_ctl_new(sv[0], 0, &a), 0);
	ck_assert_int_eq(kvm_ctl_new(sv[1], 0, &b), 0);
	kvm_ctl_accept_fds(b, true);
	ck_assert_int_eq(kvm_ctl_queue(a, KVM_MSG_CONSOLE_CLIENT, NULL, 0), -EMSGSIZE);
	ck_assert_int_eq(kvm_ctl_send_fd(a, KVM_MSG_CONSOLE_CLIENT, "x", 1, cl[1]), -EMSGSIZE);
	ck_assert_int_eq(kvm_ctl_send_fd(a, KVM_MSG_CONSOLE_CLIENT, NULL, 0, cl[1]), 0);
	close(cl[1]);
	ck_assert_int_eq(next_msg(b, &m), 1);
	ck_assert_uint_eq(m.type, KVM_MSG_CONSOLE_CLIENT);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_int_ge(m.fd, 0);
	ck_assert_str_eq(kvm_msg_type_to_string(m.type), "console-client");
	/* the client's other end talks to the received fd */
	ck_assert_int_eq(write(cl[0], "q", 1), 1);
	char c = 0;
	ck_assert_int_eq(read(m.fd, &c, 1), 1);
	ck_assert_int_eq(c, 'q');
	close(m.fd);
	close(cl[0]);
	kvm_ctl_free(a);
	kvm_ctl_free(b);
	ck_assert_int_eq(open_fds(), base);
}
END_TEST

/* Every way a descriptor and its frame can disagree is a protocol error,
 * and no received descriptor stays open. */
START_TEST(test_ctl_fd_protocol_errors_leak_nothing)
{
	uint8_t grant[128], console[64], both[256];
	size_t gn = frame(grant, KVM_MSG_BLOB_GRANT, REF, KVM_BLOB_REF_LEN);
	size_t cn = frame(console, KVM_MSG_CONSOLE_IN, "hi", 2);
	int pfd[2];
	int base;

	ck_assert_int_eq(pipe(pfd), 0);
	base = open_fds();
	for (int c = 0; c < 6; c++) {
		int sv[2];
		kvm_ctl_t *b;
		kvm_msg_t m;
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		ck_assert_int_eq(kvm_ctl_new(sv[1], 0, &b), 0);
		kvm_ctl_accept_fds(b, c != 4);
		switch (c) {
		case 0: /* a grant without its fd */
			send_with_fds(sv[0], grant, gn, -1, 0);
			break;
		case 1: /* a grant with two */
			send_with_fds(sv[0], grant, gn, pfd[0], 2);
			break;
		case 2: /* an fd on a frame that takes none */
			send_with_fds(sv[0], console, cn, pfd[0], 1);
			send_with_fds(sv[0], console, cn, -1, 0);
			break;
		case 3: /* the fd on the frame before the grant, the grant without */
			memcpy(both, console, cn);
			send_with_fds(sv[0], both, cn, pfd[0], 1);
			send_with_fds(sv[0], grant, gn, -1, 0);
			break;
		case 4: /* a connection that takes no fds at all (mvmd's side) */
			send_with_fds(sv[0], grant, gn, pfd[0], 1);
			break;
		case 5: /* the grant's first bytes read on their own, the fd with the rest */
			send_with_fds(sv[0], grant, 4, -1, 0);
			ck_assert_int_eq(kvm_ctl_fill(b), 4);
			send_with_fds(sv[0], grant + 4, gn - 4, pfd[0], 1);
			break;
		}
		int r;
		do
			r = next_msg(b, &m);
		while (r == 1 && m.type == KVM_MSG_CONSOLE_IN && m.fd < 0);
		ck_assert_msg(r == -EBADMSG, "case %d: %d (type %u fd %d)", c, r, r == 1 ? m.type : 0, r == 1 ? m.fd : -1);
		kvm_ctl_free(b);
		close(sv[0]);
		ck_assert_msg(open_fds() == base, "case %d leaked an fd", c);
	}
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

static int tmp_file(const void *data, size_t len)
{
	char path[] = "/tmp/check-grants-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static void ref_of(const void *data, size_t len, char ref[KVM_BLOB_REF_LEN + 1])
{
	memcpy(ref, "sha256:", 7);
	sha256_hex(data, len, ref + 7);
}

START_TEST(test_grants_verify_cap_and_evict)
{
	kvm_grants_t *g;
	char ref[KVM_BLOB_REF_LEN + 1];
	unsigned n;
	uint64_t bytes;
	static uint8_t blob[20][100];

	ck_assert_int_eq(kvm_grants_new(1000, &g), 0);
	/* wrong contents: refused, nothing kept */
	int fd = tmp_file("abc", 3);
	ck_assert_int_eq(kvm_grants_add_fd(g, REF, fd), -EBADMSG);
	close(fd);
	ck_assert_int_eq(kvm_grants_add_fd(g, "sha256:XYZ", -1), -EINVAL);
	kvm_grants_stats(g, &n, &bytes);
	ck_assert_uint_eq(n, 0);
	/* at most 1000 bytes: the 11th blob of 100 evicts the oldest */
	for (int i = 0; i < 11; i++) {
		memset(blob[i], 'a' + i, sizeof(blob[i]));
		ref_of(blob[i], sizeof(blob[i]), ref);
		fd = tmp_file(blob[i], sizeof(blob[i]));
		ck_assert_int_eq(kvm_grants_add_fd(g, ref, fd), 0);
		close(fd);
	}
	kvm_grants_stats(g, &n, &bytes);
	ck_assert_uint_eq(n, 10);
	ck_assert_uint_eq(bytes, 1000);
	/* a second grant of a held blob does not read the fd */
	ref_of(blob[5], sizeof(blob[5]), ref);
	ck_assert_int_eq(kvm_grants_add_fd(g, ref, -1), 0);
	/* larger than the cap: a marker */
	static uint8_t big[1001];
	ref_of(big, sizeof(big), ref);
	fd = tmp_file(big, sizeof(big));
	ck_assert_int_eq(kvm_grants_add_fd(g, ref, fd), -EFBIG);
	close(fd);
	kvm_grants_free(g);

	/* at most KVM_GRANTS_MAX blobs */
	ck_assert_int_eq(kvm_grants_new(1u << 20, &g), 0);
	for (int i = 0; i < 20; i++) {
		memset(blob[i], 'A' + i, sizeof(blob[i]));
		ref_of(blob[i], sizeof(blob[i]), ref);
		fd = tmp_file(blob[i], sizeof(blob[i]));
		ck_assert_int_eq(kvm_grants_add_fd(g, ref, fd), 0);
		close(fd);
	}
	kvm_grants_stats(g, &n, &bytes);
	ck_assert_uint_eq(n, KVM_GRANTS_MAX);
	kvm_grants_free(g);
}
END_TEST

/* The actor frames (docs/worker-protocol.md): a head, for ACTOR_SEND the
 * interface, then up to 64 KiB of data: more than any console frame, so
 * maximal ones pass through buffers sized for them, and the decoder
 * refuses a byte more, or less than the head. */
START_TEST(test_ctl_actor_frames)
{
	int sv[2];
	kvm_ctl_t *a, *b;
	kvm_msg_t m;
	kvm_msg_actor_t h = { .id = 42, .kind = KVM_ACTOR_REQUEST, .from = 3 }, got;
	const char *iface;
	const uint8_t *data;
	size_t len, used;
	static uint8_t frame[KVM_MSG_FRAME_MAX + 16];
	static const char ref[] = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

	memcpy(frame, &h, sizeof(h));
	for (size_t i = 0; i < KVM_ACTOR_DATA_MAX; i++)
		frame[sizeof(h) + i] = (uint8_t)(i * 13);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(kvm_ctl_new(sv[0], 1u << 20, &a), 0);
	ck_assert_int_eq(kvm_ctl_new(sv[1], 0, &b), 0);
	ck_assert_int_eq(kvm_ctl_queue(a, KVM_MSG_ACTOR_DELIVER, frame, sizeof(h) + KVM_ACTOR_DATA_MAX), 0);
	ck_assert_int_eq(kvm_ctl_queue(a, KVM_MSG_ACTOR_DELIVER, frame, sizeof(h) + KVM_ACTOR_DATA_MAX + 1), -EMSGSIZE);
	ck_assert_int_eq(kvm_ctl_queue(a, KVM_MSG_ACTOR_ANSWER, frame, sizeof(h) - 1), -EMSGSIZE);
	for (int n = 0; n < 1;) {
		ck_assert_int_ge(kvm_ctl_flush(a), 0);
		int r = kvm_ctl_recv(b, 100, &m);
		if (r == -ETIMEDOUT)
			continue;
		ck_assert_int_eq(r, 1);
		ck_assert_int_eq(kvm_msg_get_actor(&m, &got, &iface, &data, &len), 0);
		ck_assert_uint_eq(got.id, 42);
		ck_assert_uint_eq(got.kind, KVM_ACTOR_REQUEST);
		ck_assert_uint_eq(got.from, 3);
		ck_assert_ptr_null(iface);
		ck_assert_uint_eq(len, KVM_ACTOR_DATA_MAX);
		ck_assert_mem_eq(data, frame + sizeof(h), len);
		n++;
	}
	/* ACTOR_SEND: head, the interface's 71 bytes, then the data */
	memcpy(frame + sizeof(h), ref, KVM_BLOB_REF_LEN);
	memcpy(frame + sizeof(h) + KVM_BLOB_REF_LEN, "hi", 2);
	kvm_msg_hdr_t hd = { KVM_MSG_ACTOR_SEND, (uint32_t)(sizeof(h) + KVM_BLOB_REF_LEN + 2) };
	static uint8_t wire[sizeof(kvm_msg_hdr_t) + KVM_MSG_FRAME_MAX];
	memcpy(wire, &hd, sizeof(hd));
	memcpy(wire + sizeof(hd), frame, hd.len);
	ck_assert_int_eq(kvm_msg_decode(wire, sizeof(hd) + hd.len, &m, &used), 1);
	ck_assert_int_eq(kvm_msg_get_actor(&m, &got, &iface, &data, &len), 0);
	ck_assert_mem_eq(iface, ref, KVM_BLOB_REF_LEN);
	ck_assert_uint_eq(len, 2);
	ck_assert_mem_eq(data, "hi", 2);
	/* shorter than head + interface, or longer than the data allows */
	hd.len = (uint32_t)(sizeof(h) + KVM_BLOB_REF_LEN - 1);
	memcpy(wire, &hd, sizeof(hd));
	ck_assert_int_eq(kvm_msg_decode(wire, sizeof(hd), &m, &used), -EBADMSG);
	hd.len = (uint32_t)(sizeof(h) + KVM_BLOB_REF_LEN + KVM_ACTOR_DATA_MAX + 1);
	memcpy(wire, &hd, sizeof(hd));
	ck_assert_int_eq(kvm_msg_decode(wire, sizeof(hd), &m, &used), -EBADMSG);
	/* only the actor frames have that view */
	hd = (kvm_msg_hdr_t){ KVM_MSG_CONSOLE_OUT, 2 };
	memcpy(wire, &hd, sizeof(hd));
	memcpy(wire + sizeof(hd), "hi", 2);
	ck_assert_int_eq(kvm_msg_decode(wire, sizeof(hd) + 2, &m, &used), 1);
	ck_assert_int_eq(kvm_msg_get_actor(&m, &got, &iface, &data, &len), -EBADMSG);
	kvm_ctl_free(a);
	kvm_ctl_free(b);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "codec",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_decode_whole_and_partial),
			MVMT_TEST(test_decode_refuses_bad_frames),
			MVMT_TEST(test_result_payload_validated),
			MVMT_TEST(test_ctl_roundtrip_socketpair),
			MVMT_TEST(test_ctl_queue_bounded),
			MVMT_TEST(test_ctl_big_frames),
			MVMT_TEST(test_ctl_actor_frames),
			MVMT_TEST(test_result_text_roundtrip),
			MVMT_TEST(test_result_describe),
			MVMT_TEST(test_result_parse_refuses),
			MVMT_TEST(test_result_exit_code_u32),
			MVMT_TEST(test_names),
			MVMT_TEST(test_ctl_blob_grant_carries_one_fd),
			MVMT_TEST(test_ctl_console_client_carries_one_fd),
			MVMT_TEST(test_ctl_fd_protocol_errors_leak_nothing),
			MVMT_TEST(test_grants_verify_cap_and_evict)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "kvm-ctl", .tcases = tcases)
