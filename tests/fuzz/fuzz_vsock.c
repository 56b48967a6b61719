/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's hybrid vsock takes bytes from two untrusted sides: CONNECT
 * lines and streams from host clients, and hypercall arguments from the
 * guest. The input is a program of operations on a real kvm_vsock_t with a
 * real listening AF_UNIX socket and real client sockets; guest memory is a
 * plain buffer behind a kvm_vm_t (no KVM needed for kvm_vm_guest_ptr).
 * The first input byte's line is also fed to the CONNECT parser alone,
 * whose answers must be self-consistent.
 */
/* fuzz-sources: daemon/vmm/vsock.c daemon/vmm/kvm-vm.c daemon/vmm/elf.c lib/proto/cpuid.c daemon/vmm/boot.c */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/guest-abi.h"
#include "kvm-vm.h"
#include "vsock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM (4u << 20)
#define CLIENTS 8

static char path[108];

/* A fresh listening socket per input, so no connection outlives one. */
static int listen_new(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(path, sizeof(path), "/tmp/fuzz-vsock-%d.sock", (int)getpid());
	unlink(path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
		abort();
	return fd;
}

static void check_parser(const uint8_t *d, size_t n)
{
	uint32_t port;
	size_t used;
	int r = kvm_vsock_parse_connect(d, n, &port, &used);
	if (r == 1) {
		char again[64];
		uint32_t p2;
		size_t u2;
		if (used == 0 || used > n || used > KVM_VSOCK_LINE_MAX || d[used - 1] != '\n')
			__builtin_trap();
		int k = snprintf(again, sizeof(again), "CONNECT %u\n", port);
		if (kvm_vsock_parse_connect((const uint8_t *)again, (size_t)k, &p2, &u2) != 1 || p2 != port ||
		    u2 != (size_t)k)
			__builtin_trap();
	} else if (r != 0 && r != -EBADMSG) {
		__builtin_trap();
	} else if (r == 0 && n >= KVM_VSOCK_LINE_MAX) {
		__builtin_trap();
	}
}

typedef struct in {
	const uint8_t *p;
	size_t n;
} in_t;

static uint8_t u8(in_t *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint64_t u64(in_t *in)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | u8(in);
	return v;
}

/* Mostly plausible values, sometimes anything. */
static uint64_t arg(in_t *in)
{
	uint8_t k = u8(in);
	switch (k & 3) {
	case 0: return k >> 2;                               /* small: ids, ports */
	case 1: return 0x20000ull + ((uint64_t)u8(in) << 12); /* a guest buffer */
	case 2: return (uint64_t)u8(in) << 8 | u8(in);       /* a length */
	default: return u64(in);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *mem;
	int clients[CLIENTS];
	in_t in = { data, size };
	kvm_vsock_t *v = NULL;
	int64_t now = 1000;

	if (!mem) {
		signal(SIGPIPE, SIG_IGN); /* as in the worker */
		if (!(mem = calloc(1, MEM)))
			abort();
	}
	check_parser(data, size < 64 ? size : 64);

	kvm_vm_t vm = { .mem = mem, .mem_size = MEM };
	int wg = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), wh = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int lfd = listen_new();
	if (wg < 0 || wh < 0 || lfd < 0 || kvm_vsock_new(lfd, wg, wh, (uint32_t)getuid(), &v) < 0)
		abort();
	for (int i = 0; i < CLIENTS; i++)
		clients[i] = -1;

	for (int steps = 0; in.n && steps < 512; steps++) {
		uint8_t op = u8(&in), k = op >> 4 & (CLIENTS - 1);
		switch (op & 7) {
		case 0: { /* a host client connects */
			struct sockaddr_un sa = { .sun_family = AF_UNIX };
			memcpy(sa.sun_path, path, strlen(path) + 1);
			if (clients[k] >= 0)
				break;
			clients[k] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
			if (clients[k] >= 0 && connect(clients[k], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
				close(clients[k]);
				clients[k] = -1;
			}
			break;
		}
		case 1: { /* it sends bytes (a CONNECT line, garbage, a stream) */
			size_t n = u8(&in);
			if (n > in.n)
				n = in.n;
			if (clients[k] >= 0)
				(void)!write(clients[k], in.p, n);
			in.p += n;
			in.n -= n;
			break;
		}
		case 2: { /* it reads what came */
			uint8_t b[4096];
			if (clients[k] >= 0)
				(void)!read(clients[k], b, sizeof(b));
			break;
		}
		case 3: /* it half-closes or goes away */
			if (clients[k] >= 0 && (op & 8))
				shutdown(clients[k], SHUT_WR);
			else if (clients[k] >= 0) {
				close(clients[k]);
				clients[k] = -1;
			}
			break;
		case 4: { /* the control thread runs once */
			struct pollfd p[KVM_VSOCK_POLLFDS_MAX];
			size_t n = kvm_vsock_pollfds(v, p, KVM_VSOCK_POLLFDS_MAX);
			if (poll(p, n, 0) < 0)
				abort();
			kvm_vsock_dispatch(v, p, n, now);
			(void)kvm_vsock_timeout_ms(v, now);
			break;
		}
		case 5: /* time passes (deadlines) */
			now += (int64_t)u8(&in) * 100;
			break;
		default: { /* a guest call, any number in the vsock range */
			uint64_t rax = 0, rdx = 0, fa = 0;
			unsigned nr = MVM_HC_VSOCK_FIRST + (u8(&in) & 15);
			uint64_t a0 = arg(&in), a1 = arg(&in), a2 = arg(&in);
			int f = kvm_vsock_hypercall(v, &vm, nr, a0, a1, a2, &rax, &rdx, &fa);
			if (f < 0 || (f == 0 && nr > MVM_HC_VSOCK_CLOSE))
				__builtin_trap();
			(void)kvm_vsock_take_events(v);
			break;
		}
		}
	}
	kvm_vsock_free(v);
	for (int i = 0; i < CLIENTS; i++)
		if (clients[i] >= 0)
			close(clients[i]);
	close(wg);
	close(wh);
	unlink(path);
	return 0;
}
