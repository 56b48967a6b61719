/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ASSIGN message a warm worker waits for (warm.h): encode, decode,
 * and the sendmsg/recvmsg with its fds.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "warm.h"
#include "util/macro.h"

static int put(uint8_t *buf, size_t cap, size_t *off, char tag, const char *s)
{
	size_t l = strlen(s);

	if (l + 2 > cap - *off)
		return -E2BIG;
	buf[(*off)++] = (uint8_t)tag;
	memcpy(buf + *off, s, l + 1);
	*off += l + 1;
	return 0;
}

/* "sha256:" and 64 lowercase hex digits, as a VM spec's workload is: the
 * worker keeps a primed hash in a fixed buffer and names it to its guest,
 * so nothing else may pass for one. */
static bool hash_ok(const char *s)
{
	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
		return false;
	for (s += 7; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* What each type must carry: an ASSIGN its control socket (and a module
 * only with its hash); a PRIME the hash and the module, nothing more. A
 * hash, where there is one, is well formed. */
static bool shape_ok(const kvm_warm_assign_t *a)
{
	if (a->fd_mask >> KVM_WARM_FD_MAX)
		return false;
	if ((a->flags & ~KVM_WARM_F_ALL) || (a->flags && a->type != KVM_WARM_MSG_ASSIGN))
		return false;
	/* Only a run's worker is reused: nothing durable names it. */
	if ((a->flags & KVM_WARM_F_REUSE) && !(a->flags & KVM_WARM_F_RUN))
		return false;
	if (a->workload && !hash_ok(a->workload))
		return false;
	if (a->type == KVM_WARM_MSG_PRIME)
		return a->fd_mask == 1u << KVM_WARM_FD_BLOB && a->workload && !a->nargs && !a->ncaps && !a->nenvs;
	if (a->type == KVM_WARM_MSG_TEMPLATE)
		return a->fd_mask == 1u << KVM_WARM_FD_TEMPLATE && a->workload && !a->nargs && !a->ncaps && !a->nenvs;
	if (a->type == KVM_WARM_MSG_RESTORE)
		return a->fd_mask == ((1u << KVM_WARM_FD_TEMPLATE) | (1u << KVM_WARM_FD_BLOB)) && a->workload &&
		       !a->nargs && !a->ncaps && !a->nenvs;
	if (a->type != KVM_WARM_MSG_ASSIGN)
		return false;
	/* A run starts from its module, never from a snapshot. */
	if ((a->fd_mask & (1u << KVM_WARM_FD_SNAPSHOT)) && a->flags)
		return false;
	return (a->fd_mask & (1u << KVM_WARM_FD_CTL)) && (!(a->fd_mask & (1u << KVM_WARM_FD_BLOB)) || a->workload);
}

int kvm_warm_encode(const kvm_warm_assign_t *a, uint8_t *buf, size_t cap)
{
	kvm_warm_hdr_t h = {
		.type = a->type, .version = KVM_WARM_VERSION, .fd_mask = a->fd_mask,
		.memory_mib = a->memory_mib, .vcpus = a->vcpus, .flags = a->flags,
	};
	size_t off = sizeof(h);
	int r = 0;

	if (!shape_ok(a))
		return -EINVAL;
	if (a->nargs > KVM_WARM_LIST_MAX || a->ncaps > KVM_WARM_LIST_MAX || a->nenvs > KVM_WARM_LIST_MAX)
		return -E2BIG;
	if (cap < sizeof(h) || cap > KVM_WARM_MSG_MAX)
		return -E2BIG;
	for (size_t i = 0; i < a->nargs && !r; i++)
		r = put(buf, cap, &off, 'a', a->args[i]);
	for (size_t i = 0; i < a->ncaps && !r; i++)
		r = put(buf, cap, &off, 'c', a->caps[i]);
	for (size_t i = 0; i < a->nenvs && !r; i++)
		r = put(buf, cap, &off, 'e', a->envs[i]);
	if (a->workload && !r)
		r = put(buf, cap, &off, 'w', a->workload);
	if (r < 0)
		return r;
	h.nstrings = (uint32_t)(a->nargs + a->ncaps + a->nenvs + (a->workload ? 1 : 0));
	memcpy(buf, &h, sizeof(h));
	return (int)off;
}

int kvm_warm_decode(const uint8_t *buf, size_t len, size_t nfds, kvm_warm_assign_t *ret)
{
	kvm_warm_hdr_t h;
	size_t off = sizeof(h);

	if (len < sizeof(h) || len > KVM_WARM_MSG_MAX)
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.type < KVM_WARM_MSG_ASSIGN || h.type > KVM_WARM_MSG_RESTORE || h.version != KVM_WARM_VERSION)
		return -EBADMSG;
	if ((h.fd_mask >> KVM_WARM_FD_MAX) || (size_t)__builtin_popcount(h.fd_mask) != nfds)
		return -EBADMSG;
	if (h.nstrings > 3 * KVM_WARM_LIST_MAX + 1 || h.pad)
		return -EBADMSG;
	memset(ret, 0, sizeof(*ret));
	ret->type = h.type;
	ret->fd_mask = h.fd_mask;
	ret->memory_mib = h.memory_mib;
	ret->vcpus = h.vcpus;
	ret->flags = h.flags;
	for (uint32_t i = 0; i < h.nstrings; i++) {
		if (off >= len)
			return -EBADMSG;
		char tag = (char)buf[off++];
		const char *s = (const char *)buf + off;
		const uint8_t *nul = memchr(buf + off, 0, len - off);
		if (!nul)
			return -EBADMSG;
		off = (size_t)(nul - buf) + 1;
		switch (tag) {
		case 'a':
			if (ret->nargs == KVM_WARM_LIST_MAX)
				return -EBADMSG;
			ret->args[ret->nargs++] = s;
			break;
		case 'c':
			if (ret->ncaps == KVM_WARM_LIST_MAX)
				return -EBADMSG;
			ret->caps[ret->ncaps++] = s;
			break;
		case 'e':
			if (ret->nenvs == KVM_WARM_LIST_MAX)
				return -EBADMSG;
			ret->envs[ret->nenvs++] = s;
			break;
		case 'w':
			if (ret->workload)
				return -EBADMSG;
			ret->workload = s;
			break;
		default:
			return -EBADMSG;
		}
	}
	/* Nothing may trail the strings; each type carries what it must. */
	if (off != len || !shape_ok(ret))
		return -EBADMSG;
	return 0;
}

int kvm_warm_send(int sock, const kvm_warm_assign_t *a, const int fds[KVM_WARM_FD_MAX])
{
	static _Thread_local uint8_t buf[KVM_WARM_MSG_MAX];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * KVM_WARM_FD_MAX)];
	} ctrl;
	int list[KVM_WARM_FD_MAX], n = 0;
	int len = kvm_warm_encode(a, buf, sizeof(buf));

	if (len < 0)
		return len;
	for (int i = 0; i < KVM_WARM_FD_MAX; i++)
		if (a->fd_mask & (1u << i)) {
			if (fds[i] < 0)
				return -EBADF;
			list[n++] = fds[i];
		}
	struct iovec iov = { .iov_base = buf, .iov_len = (size_t)len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.b,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n) };
	memset(&ctrl, 0, sizeof(ctrl));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	memcpy(CMSG_DATA(c), list, sizeof(int) * (size_t)n);
	/* One datagram on an empty SOCK_SEQPACKET pair: all or nothing. */
	ssize_t k = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (k < 0)
		return negative_errno();
	return k == len ? 0 : -EIO;
}

int kvm_warm_recv(int sock, uint8_t *buf, kvm_warm_assign_t *ret, int ret_fds[KVM_WARM_FD_MAX])
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * KVM_WARM_FD_MAX)];
	} ctrl;
	int got[KVM_WARM_FD_MAX];
	size_t nfds = 0;
	ssize_t k;
	int r;

	for (int i = 0; i < KVM_WARM_FD_MAX; i++)
		ret_fds[i] = -1;
	struct iovec iov = { .iov_base = buf, .iov_len = KVM_WARM_MSG_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.b,
			     .msg_controllen = sizeof(ctrl.b) };
	do
		k = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return negative_errno();
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *p = (int *)(void *)CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, p + i, sizeof(fd));
			if (nfds < KVM_WARM_FD_MAX)
				got[nfds++] = fd;
			else
				close(fd); /* cannot happen: the buffer holds at most that many */
		}
	}
	if (k == 0 && nfds == 0)
		return -EPIPE; /* the parent is gone */
	r = (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ? -EBADMSG : kvm_warm_decode(buf, (size_t)k, nfds, ret);
	if (r < 0) {
		for (size_t i = 0; i < nfds; i++)
			close(got[i]);
		return r;
	}
	for (int i = 0, j = 0; i < KVM_WARM_FD_MAX; i++)
		if (ret->fd_mask & (1u << i))
			ret_fds[i] = got[j++];
	return 0;
}
