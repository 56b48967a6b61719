/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hybrid vsock in the worker; see vsock.h and docs/guest-abi.md.
 *
 * A connection's life:
 *   LINE     accepted from vsock.sock, reading "CONNECT <port>\n" (bounded
 *            in bytes and in time); bytes after the line stay in h2g
 *   PENDING  a guest listener exists: queued for its accept (bounded);
 *            "OK <n>\n" goes out, host bytes are buffered in h2g already
 *   OPEN     the guest accepted: bytes both ways through h2g (host to
 *            guest) and g2h (guest to host)
 * A malformed line, a port nobody listens on, a full backlog, a full table:
 * the host connection is closed, nothing else (Firecracker's behaviour).
 * After the guest's close, g2h is still flushed (for at most LINGER_MS);
 * then the host socket is closed and the slot is free again.
 */
#include "vsock.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/ctl.h"
#include "proto/guest-abi.h"
#include "kvm-vm.h"
#include "util/macro.h"

#define LINGER_MS 30000

typedef struct vring {
	uint8_t *buf; /* KVM_VSOCK_BUF bytes */
	uint32_t head, len;
} vring_t;

enum { C_FREE, C_LINE, C_PENDING, C_OPEN };

typedef struct vconn {
	uint8_t state;
	bool host_eof;     /* the host shut its writing side down */
	bool guest_closed; /* the guest closed: flush g2h, then close */
	int fd;            /* host side; -1 once gone */
	uint32_t port;
	int64_t deadline;  /* ms: LINE, or linger after the guest's close; -1 none */
	vring_t h2g, g2h;
} vconn_t;

typedef struct vlistener {
	bool used;
	bool defer; /* MVM_VSOCK_LISTEN_DEFER: offer a connection once it has bytes */
	uint32_t port;
	uint8_t q[KVM_VSOCK_BACKLOG]; /* connection indexes, oldest first */
	unsigned nq;
} vlistener_t;

struct kvm_vsock {
	pthread_mutex_t lock;
	int listen_fd, wake_guest, wake_host;
	uint32_t peer_uid;
	uint32_t next_host_port;
	atomic_uint events;
	vconn_t conns[KVM_VSOCK_CONNS_MAX];
	vlistener_t lis[KVM_VSOCK_LISTENERS_MAX];
	int map[KVM_VSOCK_POLLFDS_MAX]; /* pollfd index -> conn (-1: listener) */
	size_t nmap;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void efd_kick(int fd)
{
	uint64_t one = 1;
	if (fd >= 0)
		(void)!write(fd, &one, sizeof(one));
}

static void kick_guest(kvm_vsock_t *v)
{
	atomic_store(&v->events, 1);
	efd_kick(v->wake_guest);
}

/* --- rings ----------------------------------------------------------------- */

/* Ring memory comes straight from mmap: malloc in the control thread would
 * make glibc create an arena, which asks get_nprocs(), i.e. opens a /sys
 * file, which the sandbox forbids. */
static uint8_t *buf_new(void)
{
	void *p = mmap(NULL, KVM_VSOCK_BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void buf_free(uint8_t *p)
{
	if (p)
		munmap(p, KVM_VSOCK_BUF);
}

static uint32_t ring_space(const vring_t *r)
{
	return KVM_VSOCK_BUF - r->len;
}

static void ring_put(vring_t *r, const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n;) {
		uint32_t tail = (r->head + r->len) % KVM_VSOCK_BUF;
		uint32_t k = MIN(n - i, KVM_VSOCK_BUF - tail);
		memcpy(r->buf + tail, p + i, k);
		r->len += k;
		i += k;
	}
}

static uint32_t ring_get(vring_t *r, uint8_t *p, uint32_t n)
{
	uint32_t got = 0;
	while (got < n && r->len) {
		uint32_t k = MIN(n - got, MIN(r->len, KVM_VSOCK_BUF - r->head));
		memcpy(p + got, r->buf + r->head, k);
		r->head = (r->head + k) % KVM_VSOCK_BUF;
		r->len -= k;
		got += k;
	}
	return got;
}

/* read() into the first contiguous free part: >0 bytes, 0 EOF, -errno. */
static ssize_t ring_read_fd(vring_t *r, int fd)
{
	uint32_t tail = (r->head + r->len) % KVM_VSOCK_BUF;
	uint32_t k = MIN(ring_space(r), KVM_VSOCK_BUF - tail);
	ssize_t n = read(fd, r->buf + tail, k);
	if (n < 0)
		return -errno;
	r->len += (uint32_t)n;
	return n;
}

static ssize_t ring_write_fd(vring_t *r, int fd)
{
	uint32_t k = MIN(r->len, KVM_VSOCK_BUF - r->head);
	ssize_t n = write(fd, r->buf + r->head, k);
	if (n < 0)
		return -errno;
	r->head = (r->head + (uint32_t)n) % KVM_VSOCK_BUF;
	r->len -= (uint32_t)n;
	return n;
}

/* --- the CONNECT line ------------------------------------------------------ */

int kvm_vsock_parse_connect(const uint8_t *buf, size_t len, uint32_t *ret_port, size_t *ret_used)
{
	static const char word[] = "CONNECT";
	size_t i, n = MIN(len, (size_t)KVM_VSOCK_LINE_MAX);
	uint64_t port = 0;
	unsigned digits = 0;

	/* Check what is there, so garbage is refused before a "\n" comes. */
	for (i = 0; i < n && i < sizeof(word) - 1; i++)
		if (buf[i] != (uint8_t)word[i])
			return -EBADMSG;
	if (i < n && buf[i] != ' ')
		return -EBADMSG;
	while (i < n && buf[i] == ' ')
		i++;
	for (; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) {
		port = port * 10 + (uint64_t)(buf[i] - '0');
		if (++digits > 10 || port > UINT32_MAX)
			return -EBADMSG;
	}
	if (i < n && digits == 0)
		return -EBADMSG;
	while (i < n && buf[i] == ' ')
		i++;
	if (i < n && buf[i] == '\r')
		i++;
	if (i < n) {
		if (buf[i] != '\n')
			return -EBADMSG;
		*ret_port = (uint32_t)port;
		*ret_used = i + 1;
		return 1;
	}
	return len >= KVM_VSOCK_LINE_MAX ? -EBADMSG : 0;
}

/* --- connections ----------------------------------------------------------- */

static void lis_unqueue(kvm_vsock_t *v, unsigned ci)
{
	for (unsigned l = 0; l < KVM_VSOCK_LISTENERS_MAX; l++) {
		vlistener_t *L = &v->lis[l];
		for (unsigned i = 0; L->used && i < L->nq; i++)
			if (L->q[i] == ci) {
				memmove(L->q + i, L->q + i + 1, L->nq - i - 1);
				L->nq--;
				return;
			}
	}
}

static void conn_free(kvm_vsock_t *v, unsigned ci)
{
	vconn_t *c = &v->conns[ci];
	if (c->state == C_PENDING)
		lis_unqueue(v, ci);
	safe_close(c->fd);
	buf_free(c->h2g.buf);
	buf_free(c->g2h.buf);
	*c = (vconn_t){ .state = C_FREE, .fd = -1, .deadline = -1 };
}

/* The host side is gone (error, hang-up, linger over). An OPEN connection
 * the guest still holds stays until its close: reads drain h2g, then EOF
 * or -ECONNRESET; writes get -EPIPE. */
static void host_gone(kvm_vsock_t *v, unsigned ci)
{
	vconn_t *c = &v->conns[ci];
	if (c->state != C_OPEN || c->guest_closed) {
		conn_free(v, ci);
		return;
	}
	c->fd = safe_close(c->fd);
	c->g2h.len = 0;
	kick_guest(v);
}

static vlistener_t *lis_find(kvm_vsock_t *v, uint32_t port)
{
	for (unsigned l = 0; l < KVM_VSOCK_LISTENERS_MAX; l++)
		if (v->lis[l].used && v->lis[l].port == port)
			return &v->lis[l];
	return NULL;
}

static void accept_host(kvm_vsock_t *v, int64_t now)
{
	for (int round = 0; round < 8; round++) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		unsigned ci;

		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
		    (cred.uid != 0 && cred.uid != v->peer_uid)) {
			close(fd);
			continue;
		}
		for (ci = 0; ci < KVM_VSOCK_CONNS_MAX && v->conns[ci].state != C_FREE; ci++)
			;
		vconn_t *c = ci < KVM_VSOCK_CONNS_MAX ? &v->conns[ci] : NULL;
		if (c) {
			c->h2g.buf = buf_new();
			c->g2h.buf = buf_new();
		}
		if (!c || !c->h2g.buf || !c->g2h.buf) {
			/* Table full (or no memory): refused like a port with no listener. */
			if (c) {
				buf_free(c->h2g.buf);
				buf_free(c->g2h.buf);
				c->h2g.buf = c->g2h.buf = NULL;
			}
			close(fd);
			continue;
		}
		c->state = C_LINE;
		c->fd = fd;
		c->deadline = now + KVM_VSOCK_HANDSHAKE_MS;
	}
}

static void read_line(kvm_vsock_t *v, unsigned ci, int64_t now)
{
	vconn_t *c = &v->conns[ci];
	uint32_t port;
	size_t used;
	ssize_t n = ring_read_fd(&c->h2g, c->fd);

	if (n == -EAGAIN || n == -EINTR)
		return;
	/* The ring starts empty at head 0: the line is contiguous. */
	int r = kvm_vsock_parse_connect(c->h2g.buf, c->h2g.len, &port, &used);
	if (r == 0 && n > 0)
		return;
	vlistener_t *L = r > 0 ? lis_find(v, port) : NULL;
	if (!L || L->nq == KVM_VSOCK_BACKLOG) {
		conn_free(v, ci);
		return;
	}
	c->h2g.head = (uint32_t)used;
	c->h2g.len -= (uint32_t)used;
	if (c->h2g.len == 0)
		c->h2g.head = 0;
	c->port = port;
	c->state = C_PENDING;
	c->deadline = -1;
	if (n == 0)
		c->host_eof = true;
	L->q[L->nq++] = (uint8_t)ci;
	/* Queued on a listening port is connected, as in a guest kernel's
	 * backlog (Firecracker answers once the guest's vsock stack did): the
	 * answer goes first (g2h is empty), the host may send at once. */
	char ok[24];
	int k = snprintf(ok, sizeof(ok), "OK %u\n", v->next_host_port++);
	if (v->next_host_port == 0)
		v->next_host_port = KVM_VSOCK_HOST_PORT_BASE;
	ring_put(&c->g2h, (const uint8_t *)ok, (uint32_t)k);
	if (!L->defer || c->h2g.len || c->host_eof)
		kick_guest(v);
	else /* the guest never sees it until bytes come: bound the wait */
		c->deadline = now + KVM_VSOCK_DEFER_MS;
}

static void conn_io(kvm_vsock_t *v, unsigned ci, short revents, int64_t now)
{
	vconn_t *c = &v->conns[ci];
	ssize_t n;

	if (c->state == C_LINE) {
		if (revents & (POLLIN | POLLHUP | POLLERR))
			read_line(v, ci, now);
		return;
	}
	if ((revents & POLLIN) && !c->host_eof && !c->guest_closed && ring_space(&c->h2g)) {
		bool was_empty = c->h2g.len == 0;
		n = ring_read_fd(&c->h2g, c->fd);
		if (n == 0)
			c->host_eof = true;
		if (n == 0 || (n > 0 && was_empty))
			kick_guest(v);
		if (n >= 0 && c->state == C_PENDING)
			c->deadline = -1; /* offerable now */
		if (n < 0 && n != -EAGAIN && n != -EINTR) {
			host_gone(v, ci);
			return;
		}
	}
	if ((revents & (POLLOUT | POLLERR | POLLHUP)) && c->g2h.len) {
		bool was_full = ring_space(&c->g2h) == 0;
		n = ring_write_fd(&c->g2h, c->fd);
		if (n < 0 && n != -EAGAIN && n != -EINTR) {
			host_gone(v, ci);
			return;
		}
		if (n > 0 && was_full)
			kick_guest(v);
	}
	if (c->guest_closed && c->g2h.len == 0) {
		conn_free(v, ci);
		return;
	}
	/* Hung up with nothing we could still read: gone. */
	if ((revents & (POLLHUP | POLLERR)) && !(revents & POLLIN) && c->g2h.len == 0)
		host_gone(v, ci);
	(void)now;
}

int kvm_vsock_new(int listen_fd, int wake_guest, int wake_host, uint32_t peer_uid, kvm_vsock_t **ret)
{
	kvm_vsock_t *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	pthread_mutex_init(&v->lock, NULL);
	v->listen_fd = listen_fd;
	v->wake_guest = wake_guest;
	v->wake_host = wake_host;
	v->peer_uid = peer_uid;
	v->next_host_port = KVM_VSOCK_HOST_PORT_BASE;
	for (unsigned i = 0; i < KVM_VSOCK_CONNS_MAX; i++)
		v->conns[i] = (vconn_t){ .state = C_FREE, .fd = -1, .deadline = -1 };
	*ret = v;
	return 0;
}

kvm_vsock_t *kvm_vsock_free(kvm_vsock_t *v)
{
	if (!v)
		return NULL;
	for (unsigned i = 0; i < KVM_VSOCK_CONNS_MAX; i++)
		conn_free(v, i);
	safe_close(v->listen_fd);
	pthread_mutex_destroy(&v->lock);
	free(v);
	return NULL;
}

size_t kvm_vsock_pollfds(kvm_vsock_t *v, struct pollfd *fds, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&v->lock);
	v->nmap = 0;
	if (v->listen_fd >= 0 && n < max) {
		fds[n] = (struct pollfd){ .fd = v->listen_fd, .events = POLLIN };
		v->map[n++] = -1;
	}
	for (unsigned i = 0; i < KVM_VSOCK_CONNS_MAX && n < max && n < KVM_VSOCK_POLLFDS_MAX; i++) {
		vconn_t *c = &v->conns[i];
		short ev = 0;
		if (c->state == C_FREE || c->fd < 0)
			continue;
		if (c->state == C_LINE)
			ev = POLLIN;
		else if (!c->host_eof && !c->guest_closed && ring_space(&c->h2g))
			ev = POLLIN;
		if (c->state != C_LINE && c->g2h.len)
			ev |= POLLOUT;
		fds[n] = (struct pollfd){ .fd = c->fd, .events = ev };
		v->map[n++] = (int)i;
	}
	v->nmap = n;
	pthread_mutex_unlock(&v->lock);
	return n;
}

void kvm_vsock_dispatch(kvm_vsock_t *v, const struct pollfd *fds, size_t n, int64_t now)
{
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < n && i < v->nmap; i++) {
		if (!fds[i].revents)
			continue;
		if (v->map[i] < 0)
			accept_host(v, now);
		else if (v->conns[v->map[i]].fd == fds[i].fd)
			conn_io(v, (unsigned)v->map[i], fds[i].revents, now);
	}
	/* Deadlines: a CONNECT line that never comes, a host that never
	 * reads what a closed guest connection still has queued. */
	for (unsigned i = 0; i < KVM_VSOCK_CONNS_MAX; i++) {
		vconn_t *c = &v->conns[i];
		if (c->state != C_FREE && c->deadline >= 0 && now >= c->deadline)
			c->state == C_LINE ? conn_free(v, i) : host_gone(v, i);
		else if (c->state == C_OPEN && c->guest_closed && (c->fd < 0 || c->g2h.len == 0))
			conn_free(v, i);
	}
	v->nmap = 0;
	pthread_mutex_unlock(&v->lock);
}

int kvm_vsock_timeout_ms(kvm_vsock_t *v, int64_t now)
{
	int64_t best = -1;

	pthread_mutex_lock(&v->lock);
	for (unsigned i = 0; i < KVM_VSOCK_CONNS_MAX; i++) {
		const vconn_t *c = &v->conns[i];
		if (c->state != C_FREE && c->deadline >= 0 && (best < 0 || c->deadline < best))
			best = c->deadline;
	}
	pthread_mutex_unlock(&v->lock);
	if (best < 0)
		return -1;
	return (int)MIN(MAX(best - now, (int64_t)0), (int64_t)INT32_MAX);
}

uint32_t kvm_vsock_take_events(kvm_vsock_t *v)
{
	return atomic_exchange(&v->events, 0) ? MVM_EV_VSOCK : 0;
}

/* --- the guest's calls ------------------------------------------------------ */

static vconn_t *guest_conn(kvm_vsock_t *v, uint64_t id)
{
	if (id >= KVM_VSOCK_CONNS_MAX)
		return NULL;
	vconn_t *c = &v->conns[id];
	return c->state == C_OPEN && !c->guest_closed ? c : NULL;
}

static bool offerable(const vlistener_t *L, const vconn_t *c)
{
	return !L->defer || c->h2g.len || c->host_eof;
}

/* Accept the oldest offerable connection; with buf, read into it too
 * (*ret_read). *ret_more: offerable connections still queued. */
static int64_t guest_accept(kvm_vsock_t *v, uint64_t port, uint8_t *buf, uint32_t cap, uint64_t *ret_read,
			    uint64_t *ret_more)
{
	vlistener_t *L = port <= UINT32_MAX ? lis_find(v, (uint32_t)port) : NULL;
	unsigned i, more = 0;

	if (!L)
		return -EINVAL;
	for (i = 0; i < L->nq && !offerable(L, &v->conns[L->q[i]]); i++)
		;
	if (i == L->nq)
		return -EAGAIN;
	unsigned ci = L->q[i];
	memmove(L->q + i, L->q + i + 1, L->nq - i - 1);
	L->nq--;
	for (unsigned j = 0; j < L->nq; j++)
		more += offerable(L, &v->conns[L->q[j]]);
	vconn_t *c = &v->conns[ci];
	c->state = C_OPEN;
	if (buf && cap) {
		bool was_full = ring_space(&c->h2g) == 0;
		*ret_read = ring_get(&c->h2g, buf, cap);
		if (*ret_read && was_full && c->fd >= 0)
			efd_kick(v->wake_host);
	}
	*ret_more = more;
	/* Bytes (or EOF) still waiting: say so. */
	if (c->h2g.len || c->host_eof)
		kick_guest(v);
	return (int64_t)ci;
}

static int64_t guest_io(kvm_vsock_t *v, unsigned nr, uint64_t id, uint8_t *p, uint32_t len)
{
	vconn_t *c = guest_conn(v, id);
	uint32_t n;

	if (!c)
		return -EBADF;
	if (nr == MVM_HC_VSOCK_READ) {
		bool was_full = ring_space(&c->h2g) == 0;
		n = ring_get(&c->h2g, p, len);
		if (n && was_full && c->fd >= 0)
			efd_kick(v->wake_host);
		if (n || len == 0)
			return n;
		if (c->host_eof)
			return 0;
		return c->fd < 0 ? -ECONNRESET : -EAGAIN;
	}
	if (c->fd < 0)
		return -EPIPE;
	n = MIN(len, ring_space(&c->g2h));
	if (n == 0)
		return len ? -EAGAIN : 0;
	bool was_empty = c->g2h.len == 0;
	ring_put(&c->g2h, p, n);
	if (was_empty)
		efd_kick(v->wake_host);
	return n;
}

int kvm_vsock_hypercall(kvm_vsock_t *v, struct kvm_vm *vm, unsigned nr, uint64_t a0, uint64_t a1,
			uint64_t a2, uint64_t *ret_rax, uint64_t *ret_rdx, uint64_t *ret_fault_addr)
{
	vconn_t *c;

	int64_t r;
	uint8_t *p;

	if (nr < MVM_HC_VSOCK_FIRST || nr > MVM_HC_VSOCK_CLOSE) {
		*ret_fault_addr = nr;
		return KVM_FAULT_BAD_PORT;
	}
	/* Calls with a buffer: rsi, rdx (accept and close only if rdx > 0). */
	p = NULL;
	if (nr == MVM_HC_VSOCK_READ || nr == MVM_HC_VSOCK_WRITE || ((nr == MVM_HC_VSOCK_ACCEPT || nr == MVM_HC_VSOCK_CLOSE) && a2)) {
		if (a2 > MVM_HC_VSOCK_IO_MAX) {
			*ret_fault_addr = a2;
			return KVM_FAULT_BAD_ARG;
		}
		p = kvm_vm_guest_ptr(vm, a1, a2, nr == MVM_HC_VSOCK_READ || nr == MVM_HC_VSOCK_ACCEPT);
		if (!p) {
			*ret_fault_addr = a1;
			return KVM_FAULT_BAD_POINTER;
		}
	}
	*ret_rdx = 0;
	if (!v) {
		*ret_rax = (uint64_t)-ENOSYS;
		return 0;
	}

	pthread_mutex_lock(&v->lock);
	switch (nr) {
	case MVM_HC_VSOCK_LISTEN: {
		vlistener_t *free_slot = NULL;
		if (a0 > UINT32_MAX || (a1 & ~(uint64_t)MVM_VSOCK_LISTEN_DEFER)) {
			r = -EINVAL;
			break;
		}
		if (lis_find(v, (uint32_t)a0)) {
			r = -EADDRINUSE;
			break;
		}
		for (unsigned l = 0; l < KVM_VSOCK_LISTENERS_MAX && !free_slot; l++)
			if (!v->lis[l].used)
				free_slot = &v->lis[l];
		if (!free_slot) {
			r = -ENOSPC;
			break;
		}
		*free_slot = (vlistener_t){ .used = true, .port = (uint32_t)a0, .defer = a1 & MVM_VSOCK_LISTEN_DEFER };
		r = 0;
		break;
	}
	case MVM_HC_VSOCK_ACCEPT:
	{
		uint64_t got = 0, more = 0;
		r = guest_accept(v, a0, p, (uint32_t)a2, &got, &more);
		if (r >= 0)
			*ret_rdx = got | more << 32;
		break;
	}
	case MVM_HC_VSOCK_READ:
	case MVM_HC_VSOCK_WRITE:
		r = guest_io(v, nr, a0, p, (uint32_t)a2);
		if (nr == MVM_HC_VSOCK_READ && (c = guest_conn(v, a0)))
			*ret_rdx = c->h2g.len;
		break;
	default: { /* MVM_HC_VSOCK_CLOSE */
		c = guest_conn(v, a0);
		if (!c) {
			r = -EBADF;
			break;
		}
		/* The control thread closes the host socket (it may be inside
		 * poll() on it, which would keep the socket alive), after it
		 * flushed g2h or after LINGER_MS. */
		/* Last bytes with the close: all of them or nothing. */
		if (p && c->fd >= 0 && ring_space(&c->g2h) < a2) {
			r = -EAGAIN;
			break;
		}
		if (p && c->fd >= 0)
			ring_put(&c->g2h, p, (uint32_t)a2);
		c->guest_closed = true;
		c->h2g.len = 0;
		c->deadline = mono_ms() + LINGER_MS;
		efd_kick(v->wake_host);
		r = 0;
		break;
	}
	}
	pthread_mutex_unlock(&v->lock);
	*ret_rax = (uint64_t)r;
	return 0;
}

size_t kvm_vsock_listeners(kvm_vsock_t *v, uint32_t *ports, uint32_t *flags, size_t max)
{
	size_t n = 0;

	if (!v)
		return 0;
	pthread_mutex_lock(&v->lock);
	for (unsigned l = 0; l < KVM_VSOCK_LISTENERS_MAX && n < max; l++)
		if (v->lis[l].used) {
			ports[n] = v->lis[l].port;
			flags[n++] = v->lis[l].defer ? 1u : 0u;
		}
	pthread_mutex_unlock(&v->lock);
	return n;
}

int kvm_vsock_listen_restore(kvm_vsock_t *v, uint32_t port, bool defer)
{
	uint64_t rax = 0, rdx = 0, fault = 0;

	if (!v)
		return 0;
	/* The guest's own call, made for it: the same checks. */
	(void)kvm_vsock_hypercall(v, NULL, MVM_HC_VSOCK_LISTEN, port, defer ? MVM_VSOCK_LISTEN_DEFER : 0, 0, &rax, &rdx,
				  &fault);
	return (int)(int64_t)rax;
}
