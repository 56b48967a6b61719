/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hybrid vsock in the worker (docs/guest-abi.md "vsock"): the host side is
 * an AF_UNIX listening socket mvmd made (STATE_DIR/vms/<id>/vsock.sock), the
 * guest side is hypercalls 16..20. Firecracker / cloud-hypervisor
 * semantics: a host client connects, writes "CONNECT <port>\n", and gets
 * "OK <n>\n" and a byte stream once the guest accepted, or the connection
 * closed when nothing listens on the port or the line is malformed.
 *
 * Two threads use it: the control thread moves bytes between host sockets
 * and per-connection rings (kvm_vsock_pollfds/dispatch), the vCPU thread
 * serves the guest's calls (kvm_vsock_hypercall). One mutex guards it all.
 * Every ring is bounded (KVM_VSOCK_BUF per direction): a side that does not
 * read stops the other side (the host socket is not polled for input, the
 * guest's write returns -EAGAIN), it never grows a buffer.
 */
#ifndef MVM_KVM_VSOCK_H
#define MVM_KVM_VSOCK_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KVM_VSOCK_LISTENERS_MAX 8u
#define KVM_VSOCK_CONNS_MAX 64u       /* host connections in any state */
#define KVM_VSOCK_BACKLOG 16u         /* per port, waiting for the guest's accept */
#define KVM_VSOCK_BUF (64u << 10)     /* per connection and direction */
#define KVM_VSOCK_LINE_MAX 32u        /* "CONNECT 4294967295\r\n" is 20 */
#define KVM_VSOCK_HANDSHAKE_MS 5000   /* for the CONNECT line */
#define KVM_VSOCK_DEFER_MS 10000      /* for a first byte on a deferred port */
#define KVM_VSOCK_HOST_PORT_BASE 1073741824u /* "OK <n>": n counts up from here */
#define KVM_VSOCK_POLLFDS_MAX (1u + KVM_VSOCK_CONNS_MAX)

typedef struct kvm_vsock kvm_vsock_t;
struct kvm_vm;

/*
 * listen_fd: the listening socket (taken: closed by free), or -1 for none
 * (every guest call still works; nothing ever connects). wake_guest and
 * wake_host are eventfds (borrowed) signalled when the other side has
 * something to do. peer_uid: only root and this uid may connect.
 */
int kvm_vsock_new(int listen_fd, int wake_guest, int wake_host, uint32_t peer_uid, kvm_vsock_t **ret);
kvm_vsock_t *kvm_vsock_free(kvm_vsock_t *v);

/* Control thread. */
size_t kvm_vsock_pollfds(kvm_vsock_t *v, struct pollfd *fds, size_t max);
void kvm_vsock_dispatch(kvm_vsock_t *v, const struct pollfd *fds, size_t n, int64_t now_ms);
int kvm_vsock_timeout_ms(kvm_vsock_t *v, int64_t now_ms); /* -1: none */

/* vCPU thread: MVM_EV_VSOCK once after anything changed, else 0. */
uint32_t kvm_vsock_take_events(kvm_vsock_t *v);
/*
 * Serve call nr (MVM_HC_VSOCK_*) with args a0..a2; the guest's result goes
 * to *ret_rax, and *ret_rdx gets a hint (accept: connections still queued
 * on the port; read: bytes still buffered), 0 otherwise. Returns 0, or a kvm_fault_t (> 0) with *ret_fault_addr when
 * the call is a guest fault (bad pointer, length over the cap, a reserved
 * number); mem/mem_size are the guest's memory as kvm_vm_guest_ptr sees it.
 */
int kvm_vsock_hypercall(kvm_vsock_t *v, struct kvm_vm *vm, unsigned nr, uint64_t a0, uint64_t a1,
			uint64_t a2, uint64_t *ret_rax, uint64_t *ret_rdx, uint64_t *ret_fault_addr);

/* Snapshots (daemon/vmm/snapshot.c): the ports the guest listens on
 * (port, and KVM_SNAP_LISTEN_DEFER in flags), at most max; and, before a
 * restored guest runs, listening again on one. Connections are not kept:
 * a restored guest's calls on an old connection id fail as for a closed
 * one. -EADDRINUSE, -ENOSPC as for the guest's call. */
size_t kvm_vsock_listeners(kvm_vsock_t *v, uint32_t *ports, uint32_t *flags, size_t max);
int kvm_vsock_listen_restore(kvm_vsock_t *v, uint32_t port, bool defer);

/*
 * The CONNECT line parser (pure, fuzzed): buf holds the first len bytes the
 * host sent. 1: a valid line, *ret_port and *ret_used (the line's length
 * with its "\n") set; 0: no "\n" yet and still a possible prefix; -EBADMSG:
 * malformed (wrong word, bad or too large number, no "\n" within
 * KVM_VSOCK_LINE_MAX bytes). Accepted: "CONNECT" SP+ digits [SP* ["\r"]] "\n".
 */
int kvm_vsock_parse_connect(const uint8_t *buf, size_t len, uint32_t *ret_port, size_t *ret_used);

#endif
