/* SPDX-License-Identifier: Apache-2.0 */
/*
 * daemon/vmm/vsock.c without KVM: the CONNECT line grammar, the guest calls'
 * argument checks against a plain memory buffer, and one connection end to
 * end over a real listening AF_UNIX socket with the control thread's
 * pollfds/dispatch driven by hand.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/ctl.h"
#include "proto/guest-abi.h"
#include "kvm-vm.h"
#include "vsock.h"
#include "mvmt-main.h"

static int parse(const char *s, uint32_t *port, size_t *used)
{
	return kvm_vsock_parse_connect((const uint8_t *)s, strlen(s), port, used);
}

START_TEST(test_connect_line)
{
	static const struct {
		const char *line;
		int r;
		uint32_t port;
		size_t used;
	} cases[] = {
		{ "CONNECT 52\n", 1, 52, 11 },
		{ "CONNECT 52\nMXdata", 1, 52, 11 },
		{ "CONNECT   7 \r\n", 1, 7, 14 },
		{ "CONNECT 0\n", 1, 0, 10 },
		{ "CONNECT 4294967295\n", 1, 4294967295u, 19 },
		{ "CONNECT 0000000052\n", 1, 52, 19 },
		{ "", 0, 0, 0 },
		{ "CONN", 0, 0, 0 },
		{ "CONNECT", 0, 0, 0 },
		{ "CONNECT 5", 0, 0, 0 },
		{ "CONNECT 52 ", 0, 0, 0 },
		{ "CONNECT 52\r", 0, 0, 0 },
		{ "connect 52\n", -EBADMSG, 0, 0 },
		{ "GET / HTTP/1.0\n", -EBADMSG, 0, 0 },
		{ "CONNECTX 52\n", -EBADMSG, 0, 0 },
		{ "CONNECT\n", -EBADMSG, 0, 0 },
		{ "CONNECT \n", -EBADMSG, 0, 0 },
		{ "CONNECT x\n", -EBADMSG, 0, 0 },
		{ "CONNECT 52x\n", -EBADMSG, 0, 0 },
		{ "CONNECT -1\n", -EBADMSG, 0, 0 },
		{ "CONNECT 4294967296\n", -EBADMSG, 0, 0 },
		{ "CONNECT 00000000052\n", -EBADMSG, 0, 0 },
		{ "CONNECT 52\r\r\n", -EBADMSG, 0, 0 },
		{ "CONNECT 5 2\n", -EBADMSG, 0, 0 },
		{ "CONNECT                          52", -EBADMSG, 0, 0 }, /* 32 bytes, no "\n" */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t port = 0;
		size_t used = 0;
		int r = parse(cases[i].line, &port, &used);
		ck_assert_msg(r == cases[i].r, "\"%s\": %d, want %d", cases[i].line, r, cases[i].r);
		if (r == 1) {
			ck_assert_uint_eq(port, cases[i].port);
			ck_assert_uint_eq(used, cases[i].used);
		}
	}
}
END_TEST

#define MEM (1u << 20)
static uint8_t *mem;
static kvm_vm_t vm;

static int hc(kvm_vsock_t *v, unsigned nr, uint64_t a0, uint64_t a1, uint64_t a2, int64_t *rax, uint64_t *rdx)
{
	uint64_t r = 0, d = 0, fa = 0;
	int f = kvm_vsock_hypercall(v, &vm, nr, a0, a1, a2, &r, &d, &fa);
	*rax = (int64_t)r;
	if (rdx)
		*rdx = d;
	return f;
}

START_TEST(test_guest_call_checks)
{
	kvm_vsock_t *v;
	int64_t r;
	int wg = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), wh = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t buf = 0x30000;

	ck_assert_int_eq(kvm_vsock_new(-1, wg, wh, 0, &v), 0);
	/* faults: (fault kind, address) */
	uint64_t fa, rr, rd;
	ck_assert_int_eq(kvm_vsock_hypercall(v, &vm, MVM_HC_VSOCK_READ, 0, buf, MVM_HC_VSOCK_IO_MAX + 1, &rr, &rd, &fa), KVM_FAULT_BAD_ARG);
	ck_assert_uint_eq(fa, MVM_HC_VSOCK_IO_MAX + 1);
	ck_assert_int_eq(kvm_vsock_hypercall(v, &vm, MVM_HC_VSOCK_READ, 0, MEM - 8, 16, &rr, &rd, &fa), KVM_FAULT_BAD_POINTER);
	ck_assert_uint_eq(fa, MEM - 8);
	ck_assert_int_eq(kvm_vsock_hypercall(v, &vm, MVM_HC_VSOCK_READ, 0, MVM_GUEST_BOOT_INFO, 16, &rr, &rd, &fa), KVM_FAULT_BAD_POINTER);
	/* the boot info may be read from (a write's source), not written */
	ck_assert_int_eq(kvm_vsock_hypercall(v, &vm, MVM_HC_VSOCK_WRITE, 0, MVM_GUEST_BOOT_INFO, 16, &rr, &rd, &fa), 0);
	ck_assert_int_eq((int64_t)rr, -EBADF);
	ck_assert_int_eq(kvm_vsock_hypercall(v, &vm, MVM_HC_VSOCK_WRITE, 0, UINT64_MAX - 4, 16, &rr, &rd, &fa), KVM_FAULT_BAD_POINTER);
	ck_assert_int_eq(kvm_vsock_hypercall(v, &vm, MVM_HC_VSOCK_ACCEPT, 7, 0x10, 1, &rr, &rd, &fa), KVM_FAULT_BAD_POINTER);
	ck_assert_int_eq(kvm_vsock_hypercall(v, &vm, MVM_HC_VSOCK_CLOSE, 0, buf, MVM_HC_VSOCK_IO_MAX + 1, &rr, &rd, &fa), KVM_FAULT_BAD_ARG);
	for (unsigned nr = MVM_HC_VSOCK_CLOSE + 1; nr <= MVM_HC_VSOCK_LAST; nr++) {
		ck_assert_int_eq(kvm_vsock_hypercall(v, &vm, nr, 0, 0, 0, &rr, &rd, &fa), KVM_FAULT_BAD_PORT);
		ck_assert_uint_eq(fa, nr);
	}
	/* answers */
	ck_assert_int_eq(hc(v, MVM_HC_VSOCK_ACCEPT, 7, 0, 0, &r, NULL), 0);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_int_eq(hc(v, MVM_HC_VSOCK_LISTEN, 7, 4, 0, &r, NULL), 0);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_int_eq(hc(v, MVM_HC_VSOCK_LISTEN, 7, MVM_VSOCK_LISTEN_DEFER, 0, &r, NULL), 0);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(hc(v, MVM_HC_VSOCK_ACCEPT, 7, buf, 100, &r, NULL), 0);
	ck_assert_int_eq(r, -EAGAIN);
	ck_assert_int_eq(hc(v, MVM_HC_VSOCK_CLOSE, 3, 0, 0, &r, NULL), 0);
	ck_assert_int_eq(r, -EBADF);
	ck_assert_uint_eq(kvm_vsock_take_events(v), 0);
	kvm_vsock_free(v);
	/* without a vsock (a worker made without one): -ENOSYS, checks first */
	ck_assert_int_eq(hc(NULL, MVM_HC_VSOCK_LISTEN, 7, 0, 0, &r, NULL), 0);
	ck_assert_int_eq(r, -ENOSYS);
	ck_assert_int_eq(kvm_vsock_hypercall(NULL, &vm, MVM_HC_VSOCK_READ, 0, MEM, 16, &rr, &rd, &fa), KVM_FAULT_BAD_POINTER);
	close(wg);
	close(wh);
}
END_TEST

static void run_host(kvm_vsock_t *v, int64_t now)
{
	struct pollfd p[KVM_VSOCK_POLLFDS_MAX];
	for (int i = 0; i < 4; i++) {
		size_t n = kvm_vsock_pollfds(v, p, KVM_VSOCK_POLLFDS_MAX);
		ck_assert_int_ge(poll(p, n, 50), 0);
		kvm_vsock_dispatch(v, p, n, now);
	}
}

static size_t read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t k;
	while (n < cap && (k = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)k;
	return n;
}

START_TEST(test_one_connection_end_to_end)
{
	char path[64], got[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(path, sizeof(path), "/tmp/check-vsock-%d.sock", (int)getpid());
	unlink(path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);
	int wg = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), wh = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	kvm_vsock_t *v;
	ck_assert_int_eq(kvm_vsock_new(lfd, wg, wh, (uint32_t)getuid(), &v), 0);
	int64_t r;
	uint64_t rdx;
	ck_assert_int_eq(hc(v, MVM_HC_VSOCK_LISTEN, 7, MVM_VSOCK_LISTEN_DEFER, 0, &r, NULL), 0);

	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(write(c, "CONNECT 7\n", 10), 10);
	run_host(v, 1000);
	/* OK came back; deferred: nothing offered to the guest yet */
	ck_assert_int_eq(read(c, got, 13), 13);
	ck_assert_int_eq(memcmp(got, "OK 1073741824", 13), 0);
	ck_assert_int_eq(hc(v, MVM_HC_VSOCK_ACCEPT, 7, 0x30000, 100, &r, NULL), 0);
	ck_assert_int_eq(r, -EAGAIN);
	/* bytes come: the guest hears of it, and accept reads them */
	ck_assert_int_eq(write(c, "hello", 5), 5);
	run_host(v, 1000);
	ck_assert_uint_eq(kvm_vsock_take_events(v), MVM_EV_VSOCK);
	ck_assert_int_eq(hc(v, MVM_HC_VSOCK_ACCEPT, 7, 0x30000, 100, &r, &rdx), 0);
	ck_assert_int_ge(r, 0);
	ck_assert_uint_eq(rdx, 5); /* 5 bytes read, nothing else queued */
	ck_assert_int_eq(memcmp(mem + 0x30000, "hello", 5), 0);
	int64_t id = r;
	ck_assert_int_eq(hc(v, MVM_HC_VSOCK_READ, (uint64_t)id, 0x30000, 100, &r, NULL), 0);
	ck_assert_int_eq(r, -EAGAIN);
	/* a write, then the close carrying the last bytes */
	memcpy(mem + 0x31000, "answer ", 7);
	memcpy(mem + 0x32000, "bye\n", 4);
	ck_assert_int_eq(hc(v, MVM_HC_VSOCK_WRITE, (uint64_t)id, 0x31000, 7, &r, NULL), 0);
	ck_assert_int_eq(r, 7);
	ck_assert_int_eq(hc(v, MVM_HC_VSOCK_CLOSE, (uint64_t)id, 0x32000, 4, &r, NULL), 0);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(hc(v, MVM_HC_VSOCK_READ, (uint64_t)id, 0x30000, 100, &r, NULL), 0);
	ck_assert_int_eq(r, -EBADF); /* closed for the guest at once */
	run_host(v, 1000);
	size_t n = read_all(c, got, sizeof(got) - 1);
	got[n] = 0;
	ck_assert_str_eq(got, "\nanswer bye\n"); /* the "\n" left of the OK line first */
	close(c);

	/* a silent host on the deferred port is closed after KVM_VSOCK_DEFER_MS */
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(write(c, "CONNECT 7\n", 10), 10);
	run_host(v, 2000);
	ck_assert_int_eq(kvm_vsock_timeout_ms(v, 2000), KVM_VSOCK_DEFER_MS);
	run_host(v, 2000 + KVM_VSOCK_DEFER_MS);
	n = read_all(c, got, sizeof(got) - 1);
	got[n] = 0;
	ck_assert_msg(strncmp(got, "OK ", 3) == 0 && n == 14, "%zu: %s", n, got); /* OK, then EOF */
	close(c);

	kvm_vsock_free(v);
	unlink(path);
	close(wg);
	close(wh);
}
END_TEST

/* One guest memory for the whole run: each test's fork gets its own copy. */
static void vsock_init(void)
{
	mem = calloc(1, MEM);
	vm = (kvm_vm_t){ .mem = mem, .mem_size = MEM };
}

static void vsock_fini(void)
{
	free(mem);
}

static const mvmt_tcase_t tcases[] = {
	{
		.name = "vsock",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_connect_line),
			MVMT_TEST(test_guest_call_checks),
			MVMT_TEST(test_one_connection_end_to_end)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "kvm-vsock", .tcases = tcases, .init = vsock_init, .fini = vsock_fini)
