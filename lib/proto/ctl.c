/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control-protocol framing: the pure decoder (fuzzed by
 * tests/fuzz/fuzz_kvm_ctl.c) and a non-blocking buffered connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "util/macro.h"

struct kvm_ctl {
	int fd;
	uint8_t *in;
	size_t in_len, in_cap, in_off; /* unread bytes are in[in_off..in_len) */
	uint8_t *out;
	size_t out_len, out_off, out_cap, out_max;
	/* A descriptor that arrived (SCM_RIGHTS) and awaits its frame: the
	 * frame carrying it must start within the bytes of the read it came
	 * with, in[fd_lo..fd_hi) (the kernel ends a read at the message that
	 * carries descriptors, and hands them over with its first byte). */
	bool accept_fds;
	int in_fd;
	size_t fd_lo, fd_hi;
};

/* Room for more descriptors than a frame may carry, so that extra ones
 * are seen (and closed) instead of being cut off. */
#define CTL_FDS_MAX 8

/* Buffers start small and grow to two maximal frames only when a peer
 * sends big ones, and the output buffer is freed after a burst: mvmd holds
 * one connection per VM. */
#define CTL_BUF_INITIAL 4096u
#define CTL_BUF_IDLE_MAX (64u << 10)

static const char *const msg_names[_KVM_MSG_MAX] = {
	[KVM_MSG_HELLO] = "hello", [KVM_MSG_READY] = "ready",
	[KVM_MSG_CONSOLE_OUT] = "console-out", [KVM_MSG_CONSOLE_IN] = "console-in",
	[KVM_MSG_STOP] = "stop", [KVM_MSG_STATUS_REQ] = "status-request",
	[KVM_MSG_STATUS] = "status", [KVM_MSG_RESULT] = "result",
	[KVM_MSG_BLOB_GRANT] = "blob-grant", [KVM_MSG_ACTOR_DELIVER] = "actor-deliver",
	[KVM_MSG_ACTOR_ANSWER] = "actor-answer", [KVM_MSG_ACTOR_SEND] = "actor-send",
	[KVM_MSG_PAUSE] = "pause", [KVM_MSG_RESUME] = "resume",
	[KVM_MSG_PAUSED] = "paused", [KVM_MSG_RESUMED] = "resumed", [KVM_MSG_SNAPSHOT] = "snapshot",
	[KVM_MSG_SNAPSHOT_DONE] = "snapshot-done", [KVM_MSG_STDERR_OUT] = "stderr-out",
	[KVM_MSG_CONSOLE_EOF] = "console-eof", [KVM_MSG_CONSOLE_CLIENT] = "console-client",
};

static const char *const state_names[_KVM_VM_STATE_MAX] = {
	[KVM_VM_STARTING] = "starting", [KVM_VM_RUNNING] = "running",
	[KVM_VM_STOPPING] = "stopping", [KVM_VM_ENDED] = "ended", [KVM_VM_PAUSED] = "paused",
};

static const char *const outcome_names[_KVM_OUTCOME_MAX] = {
	[KVM_OUTCOME_NONE] = "none", [KVM_OUTCOME_EXIT] = "exit",
	[KVM_OUTCOME_STOPPED] = "stopped", [KVM_OUTCOME_FAULT] = "fault",
	[KVM_OUTCOME_ERROR] = "error",
};

static const char *const fault_names[_KVM_FAULT_MAX] = {
	[KVM_FAULT_NONE] = "none", [KVM_FAULT_SHUTDOWN] = "shutdown",
	[KVM_FAULT_MMIO] = "mmio", [KVM_FAULT_BAD_PORT] = "bad-port",
	[KVM_FAULT_BAD_POINTER] = "bad-pointer", [KVM_FAULT_BAD_ARG] = "bad-argument",
	[KVM_FAULT_ABORT] = "abort", [KVM_FAULT_HLT] = "hlt",
	[KVM_FAULT_INTERNAL] = "internal",
};

static const char *const reg_names[_KVM_REG_MAX] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9",
	"r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags", "cr2", "cr3",
};

static const char *name_or_null(const char *const *t, size_t n, uint32_t i)
{
	return i < n ? t[i] : NULL;
}

const char *kvm_msg_type_to_string(uint32_t t) { return name_or_null(msg_names, _KVM_MSG_MAX, t); }
const char *kvm_vm_state_to_string(uint32_t s) { return name_or_null(state_names, _KVM_VM_STATE_MAX, s); }
const char *kvm_outcome_to_string(uint32_t o) { return name_or_null(outcome_names, _KVM_OUTCOME_MAX, o); }
const char *kvm_fault_to_string(uint32_t f) { return name_or_null(fault_names, _KVM_FAULT_MAX, f); }
const char *kvm_reg_name(unsigned i) { return name_or_null(reg_names, _KVM_REG_MAX, i); }

static int from_string(const char *const *t, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (t[i] && strcmp(t[i], s) == 0)
			return (int)i;
	return -EINVAL;
}

int kvm_outcome_from_string(const char *s) { return from_string(outcome_names, _KVM_OUTCOME_MAX, s); }
int kvm_fault_from_string(const char *s) { return from_string(fault_names, _KVM_FAULT_MAX, s); }

/* Allowed payload length per type: [min, max]. */
static int msg_len_ok(uint32_t type, uint32_t len)
{
	switch (type) {
	case KVM_MSG_HELLO: return len == sizeof(kvm_msg_hello_t);
	case KVM_MSG_READY: case KVM_MSG_STATUS_REQ: case KVM_MSG_PAUSE: case KVM_MSG_RESUME:
	case KVM_MSG_PAUSED: case KVM_MSG_RESUMED: case KVM_MSG_CONSOLE_EOF: case KVM_MSG_CONSOLE_CLIENT:
		return len == 0;
	case KVM_MSG_CONSOLE_OUT: case KVM_MSG_CONSOLE_IN: case KVM_MSG_STDERR_OUT:
		return len >= 1 && len <= KVM_MSG_PAYLOAD_MAX;
	case KVM_MSG_STOP: return len == sizeof(kvm_msg_stop_t);
	case KVM_MSG_STATUS: return len == sizeof(kvm_msg_status_t);
	case KVM_MSG_RESULT: return len == sizeof(kvm_result_t);
	case KVM_MSG_BLOB_GRANT: return len == KVM_BLOB_REF_LEN;
	case KVM_MSG_ACTOR_DELIVER: case KVM_MSG_ACTOR_ANSWER:
		return len >= sizeof(kvm_msg_actor_t) && len - sizeof(kvm_msg_actor_t) <= KVM_ACTOR_DATA_MAX;
	case KVM_MSG_ACTOR_SEND:
		return len >= sizeof(kvm_msg_actor_t) + KVM_BLOB_REF_LEN &&
		       len - sizeof(kvm_msg_actor_t) - KVM_BLOB_REF_LEN <= KVM_ACTOR_DATA_MAX;
	case KVM_MSG_SNAPSHOT: return len == sizeof(kvm_msg_snapshot_t);
	case KVM_MSG_SNAPSHOT_DONE: return len == sizeof(kvm_msg_snapshot_done_t);
	default: return 0;
	}
}

/* Whether frames of this type carry exactly one fd (and others none). */
static bool kvm_msg_type_has_fd(uint32_t type)
{
	return type == KVM_MSG_BLOB_GRANT || type == KVM_MSG_SNAPSHOT || type == KVM_MSG_CONSOLE_CLIENT;
}

int kvm_msg_decode(const void *buf, size_t len, kvm_msg_t *ret_msg, size_t *ret_consumed)
{
	kvm_msg_hdr_t h;

	if (len < sizeof(h))
		return 0;
	memcpy(&h, buf, sizeof(h));
	/* Check the header before waiting for the payload, so a bogus length
	 * is refused at once instead of being buffered. */
	if (!msg_len_ok(h.type, h.len))
		return -EBADMSG;
	if (len - sizeof(h) < h.len)
		return 0;
	ret_msg->type = h.type;
	ret_msg->len = h.len;
	ret_msg->payload = (const uint8_t *)buf + sizeof(h);
	ret_msg->fd = -1;
	*ret_consumed = sizeof(h) + h.len;
	return 1;
}

static int get_fixed(const kvm_msg_t *m, uint32_t type, void *ret, size_t size)
{
	if (m->type != type || m->len != size)
		return -EBADMSG;
	memcpy(ret, m->payload, size);
	return 0;
}

int kvm_msg_get_result(const kvm_msg_t *m, kvm_result_t *ret)
{
	kvm_result_t r;
	int k = get_fixed(m, KVM_MSG_RESULT, &r, sizeof(r));
	if (k < 0)
		return k;
	/* A result always says how the VM ended. */
	if (r.outcome == KVM_OUTCOME_NONE || r.outcome >= _KVM_OUTCOME_MAX || r.fault >= _KVM_FAULT_MAX)
		return -EBADMSG;
	r.message[sizeof(r.message) - 1] = 0;
	*ret = r;
	return 0;
}

int kvm_msg_get_status(const kvm_msg_t *m, kvm_msg_status_t *ret)
{
	return get_fixed(m, KVM_MSG_STATUS, ret, sizeof(*ret));
}

int kvm_msg_get_hello(const kvm_msg_t *m, kvm_msg_hello_t *ret)
{
	return get_fixed(m, KVM_MSG_HELLO, ret, sizeof(*ret));
}

int kvm_msg_get_stop(const kvm_msg_t *m, kvm_msg_stop_t *ret)
{
	return get_fixed(m, KVM_MSG_STOP, ret, sizeof(*ret));
}

int kvm_msg_get_actor(const kvm_msg_t *m, kvm_msg_actor_t *ret, const char **ret_iface,
		      const uint8_t **ret_data, size_t *ret_len)
{
	size_t off = sizeof(*ret);

	if ((m->type != KVM_MSG_ACTOR_DELIVER && m->type != KVM_MSG_ACTOR_ANSWER && m->type != KVM_MSG_ACTOR_SEND) ||
	    !msg_len_ok(m->type, m->len))
		return -EBADMSG;
	memcpy(ret, m->payload, sizeof(*ret));
	*ret_iface = NULL;
	if (m->type == KVM_MSG_ACTOR_SEND) {
		*ret_iface = (const char *)m->payload + off;
		off += KVM_BLOB_REF_LEN;
	}
	*ret_data = m->payload + off;
	*ret_len = m->len - off;
	return 0;
}

int kvm_msg_get_snapshot_done(const kvm_msg_t *m, kvm_msg_snapshot_done_t *ret)
{
	return get_fixed(m, KVM_MSG_SNAPSHOT_DONE, ret, sizeof(*ret));
}

int kvm_ctl_new(int fd, size_t out_max, kvm_ctl_t **ret)
{
	kvm_ctl_t *c;
	int fl;

	if (fd < 0)
		return -EBADF;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return negative_errno();
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = fd;
	c->in_fd = -1;
	c->out_max = out_max < sizeof(kvm_msg_hdr_t) + KVM_MSG_FRAME_MAX
			     ? sizeof(kvm_msg_hdr_t) + KVM_MSG_FRAME_MAX : out_max;
	*ret = c;
	return 0;
}

kvm_ctl_t *kvm_ctl_free(kvm_ctl_t *c)
{
	if (!c)
		return NULL;
	safe_close(c->fd);
	safe_close(c->in_fd);
	free(c->in);
	free(c->out);
	free(c);
	return NULL;
}

int kvm_ctl_fd(const kvm_ctl_t *c) { return c->fd; }
void kvm_ctl_accept_fds(kvm_ctl_t *c, bool accept) { c->accept_fds = accept; }
size_t kvm_ctl_pending(const kvm_ctl_t *c) { return c->out_len - c->out_off; }
void kvm_ctl_drop_output(kvm_ctl_t *c) { c->out_off = c->out_len = 0; }

size_t kvm_ctl_space(const kvm_ctl_t *c)
{
	size_t p = kvm_ctl_pending(c);
	return p >= c->out_max ? 0 : c->out_max - p;
}

/* Append a then b to the output queue, both or nothing (no limit check:
 * callers did it). */
static int queue_raw(kvm_ctl_t *c, const void *a, size_t alen, const void *b, size_t blen)
{
	size_t need = alen + blen;

	if (c->out_off > 0 && c->out_len + need > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + need > c->out_cap) {
		size_t cap = MAX(c->out_cap * 2, c->out_len + need);
		uint8_t *n = realloc(c->out, cap);
		if (!n)
			return -ENOMEM;
		c->out = n;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, a, alen);
	if (blen)
		memcpy(c->out + c->out_len + alen, b, blen);
	c->out_len += need;
	return 0;
}

int kvm_ctl_queue(kvm_ctl_t *c, uint32_t type, const void *payload, size_t len)
{
	kvm_msg_hdr_t h = { .type = type, .len = (uint32_t)len };

	/* Frames that carry a descriptor go through kvm_ctl_send_fd(). */
	if (len > KVM_MSG_FRAME_MAX || !msg_len_ok(type, (uint32_t)len) || kvm_msg_type_has_fd(type))
		return -EMSGSIZE;
	if (sizeof(h) + len > kvm_ctl_space(c))
		return -ENOBUFS;
	return queue_raw(c, &h, sizeof(h), payload, len);
}

int kvm_ctl_flush(kvm_ctl_t *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 1;
			return -errno;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	if (c->out_cap > CTL_BUF_IDLE_MAX) {
		/* A burst is over: give the memory back. */
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	return 0;
}

/* Take the descriptors out of a received message: at most one is kept,
 * anything else closes all of them. Returns 0 or -EBADMSG. */
static int take_fds(kvm_ctl_t *c, struct msghdr *mh, size_t lo, size_t hi)
{
	int got[CTL_FDS_MAX], n = 0;
	bool bad = (mh->msg_flags & MSG_CTRUNC) != 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
			bad = true; /* nothing else was asked for */
			continue;
		}
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && n < CTL_FDS_MAX; i++)
			memcpy(&got[n++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
	}
	if (n == 0 && !bad)
		return 0;
	if (bad || n > 1 || !c->accept_fds || c->in_fd >= 0) {
		for (int i = 0; i < n; i++)
			close(got[i]);
		return -EBADMSG;
	}
	c->in_fd = got[0];
	c->fd_lo = lo;
	c->fd_hi = hi;
	return 0;
}

int kvm_ctl_fill(kvm_ctl_t *c)
{
	const size_t max = 2 * (sizeof(kvm_msg_hdr_t) + KVM_MSG_FRAME_MAX);
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(CTL_FDS_MAX * sizeof(int))];
	} cbuf;
	ssize_t n;

	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		if (c->in_fd >= 0) {
			/* frames before fd_lo were all decoded (kvm_ctl_next checks) */
			c->fd_lo = c->fd_lo > c->in_off ? c->fd_lo - c->in_off : 0;
			c->fd_hi -= c->in_off;
		}
		c->in_off = 0;
	}
	if (c->in_len == c->in_cap) {
		/* A full maximal buffer holds at least one whole frame: the
		 * caller must drain it with kvm_ctl_next() first. */
		if (c->in_cap >= max)
			return -ENOBUFS;
		size_t cap = c->in_cap ? MIN(c->in_cap * 2, max) : CTL_BUF_INITIAL;
		uint8_t *b = realloc(c->in, cap);
		if (!b)
			return -ENOMEM;
		c->in = b;
		c->in_cap = cap;
	}
	/* recvmsg, not read: a descriptor must be received to be closed or
	 * claimed (read() would drop it silently, and so would a control
	 * buffer that is too small: MSG_CTRUNC is checked). */
	struct iovec iov = { .iov_base = c->in + c->in_len, .iov_len = c->in_cap - c->in_len };
	struct msghdr mh;
	do {
		mh = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
				      .msg_controllen = sizeof(cbuf.buf) };
		n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	int r = take_fds(c, &mh, c->in_len, c->in_len + (size_t)n);
	if (r < 0)
		return r;
	c->in_len += (size_t)n;
	return (int)n;
}

int kvm_ctl_next(kvm_ctl_t *c, kvm_msg_t *ret)
{
	size_t used, at = c->in_off;
	int r;

	if (!c->in)
		return 0;
	r = kvm_msg_decode(c->in + c->in_off, c->in_len - c->in_off, ret, &used);
	if (r <= 0)
		return r;
	if (kvm_msg_type_has_fd(ret->type)) {
		/* Its descriptor must have come with the read its first byte did. */
		if (c->in_fd < 0 || at < c->fd_lo || at >= c->fd_hi)
			return -EBADMSG;
		ret->fd = c->in_fd;
		c->in_fd = -1;
	} else if (c->in_fd >= 0 && at >= c->fd_hi) {
		/* The descriptor came with a frame that takes none. */
		return -EBADMSG;
	}
	c->in_off += used;
	return 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int kvm_ctl_recv(kvm_ctl_t *c, int timeout_ms, kvm_msg_t *ret)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int r, wait = -1;

		r = kvm_ctl_next(c, ret);
		if (r != 0)
			return r;
		if (kvm_ctl_pending(c)) {
			r = kvm_ctl_flush(c);
			if (r < 0)
				return r;
			if (r > 0)
				p.events |= POLLOUT;
		}
		/* Poll at least once, so a timeout of 0 still reads what is there. */
		if (deadline >= 0)
			wait = (int)MAX(deadline - now_ms(), 0);
		r = poll(&p, 1, wait);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == 0 && deadline >= 0 && now_ms() >= deadline)
			return -ETIMEDOUT;
		if (r <= 0)
			continue;
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = kvm_ctl_fill(c);
			if (r == 0)
				return -ECONNRESET;
			if (r < 0 && r != -EAGAIN)
				return r;
		}
	}
}

int kvm_ctl_send_fd(kvm_ctl_t *c, uint32_t type, const void *payload, size_t len, int fd)
{
	kvm_msg_hdr_t h = { .type = type, .len = (uint32_t)len };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	ssize_t n;
	int r;

	if (!kvm_msg_type_has_fd(type) || fd < 0)
		return -EINVAL;
	if (len > KVM_MSG_FRAME_MAX || !msg_len_ok(type, (uint32_t)len))
		return -EMSGSIZE;
	r = kvm_ctl_flush(c);
	if (r < 0)
		return r;
	if (r > 0)
		return -EAGAIN; /* other output still queued: this would wait */
	memset(&cbuf, 0, sizeof(cbuf));
	struct iovec iov[2] = { { .iov_base = &h, .iov_len = sizeof(h) }, { .iov_base = (void *)payload, .iov_len = len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1, .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	do
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno; /* -EAGAIN: the socket is full; nothing was sent */
	if ((size_t)n == sizeof(h) + len)
		return 0;
	/* Short: the descriptor went with the first byte; the rest must
	 * follow or the stream is broken. Queue it. */
	uint8_t frame[sizeof(h) + KVM_BLOB_REF_LEN];
	size_t total = sizeof(h) + len;
	if (total > sizeof(frame))
		return -EPIPE; /* cannot happen: fd frames are small */
	memcpy(frame, &h, sizeof(h));
	memcpy(frame + sizeof(h), payload, len);
	r = queue_raw(c, frame + n, total - (size_t)n, NULL, 0);
	return r < 0 ? r : -EAGAIN;
}

int kvm_ctl_send_stop(kvm_ctl_t *c, uint32_t grace_ms)
{
	kvm_msg_stop_t s = { .grace_ms = grace_ms };
	int r = kvm_ctl_queue(c, KVM_MSG_STOP, &s, sizeof(s));
	return r < 0 ? r : (kvm_ctl_flush(c) < 0 ? -EPIPE : 0);
}

int kvm_ctl_send_console(kvm_ctl_t *c, const void *buf, size_t len)
{
	int r = kvm_ctl_queue(c, KVM_MSG_CONSOLE_IN, buf, len);
	return r < 0 ? r : (kvm_ctl_flush(c) < 0 ? -EPIPE : 0);
}

int kvm_ctl_send_console_eof(kvm_ctl_t *c)
{
	int r = kvm_ctl_queue(c, KVM_MSG_CONSOLE_EOF, NULL, 0);
	return r < 0 ? r : (kvm_ctl_flush(c) < 0 ? -EPIPE : 0);
}

int kvm_ctl_send_status_req(kvm_ctl_t *c)
{
	int r = kvm_ctl_queue(c, KVM_MSG_STATUS_REQ, NULL, 0);
	return r < 0 ? r : (kvm_ctl_flush(c) < 0 ? -EPIPE : 0);
}
