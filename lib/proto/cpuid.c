/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KVM_GET_SUPPORTED_CPUID costs ~0.4 ms on the nested hosts (every host
 * CPUID instruction exits to L0), more than creating and running a VM. So
 * the parent asks once per process and hands the table to each worker in a
 * sealed memfd; a worker started without one asks itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpuid.h"
#include "util/macro.h"

#define CPUID_NENT_MAX 1024u

static size_t cpuid_size(unsigned nent)
{
	return sizeof(struct kvm_cpuid2) + nent * sizeof(struct kvm_cpuid_entry2);
}

int kvm_cpuid_get(int kvm_fd, struct kvm_cpuid2 **ret)
{
	struct kvm_cpuid2 *c = NULL;

	for (unsigned n = 64; n <= CPUID_NENT_MAX; n *= 2) {
		free(c);
		c = calloc(1, cpuid_size(n));
		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			*ret = c;
			return 0;
		}
		if (errno != E2BIG)
			break;
	}
	int r = errno == E2BIG ? -E2BIG : negative_errno();
	free(c);
	return r;
}

int kvm_cpuid_read_fd(int fd, struct kvm_cpuid2 **ret)
{
	struct kvm_cpuid2 *c;
	/* lseek, not fstat: a worker forked by the zygote reads it under
	 * the shared seccomp filter, which has no stat (docs/density.md). */
	off_t end = lseek(fd, 0, SEEK_END);

	if (end < 0)
		return negative_errno();
	size_t size = (size_t)end;
	if (end < (off_t)sizeof(struct kvm_cpuid2) || size > cpuid_size(CPUID_NENT_MAX) ||
	    (size - sizeof(struct kvm_cpuid2)) % sizeof(struct kvm_cpuid_entry2))
		return -EBADMSG;
	c = malloc(size);
	if (!c)
		return -ENOMEM;
	if (pread(fd, c, size, 0) != (ssize_t)size) {
		free(c);
		return -EIO;
	}
	if (cpuid_size(c->nent) != size) {
		free(c);
		return -EBADMSG;
	}
	*ret = c;
	return 0;
}

static pthread_mutex_t memfd_lock = PTHREAD_MUTEX_INITIALIZER;
static int memfd_cached = -1;

int kvm_cpuid_memfd(int kvm_fd)
{
	struct kvm_cpuid2 *c = NULL;
	int fd, r;

	pthread_mutex_lock(&memfd_lock);
	if (memfd_cached >= 0) {
		fd = memfd_cached;
		goto out;
	}
	r = kvm_cpuid_get(kvm_fd, &c);
	if (r < 0) {
		fd = r;
		goto out;
	}
	fd = memfd_create("mvm-cpuid", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		fd = negative_errno();
		goto out;
	}
	size_t size = cpuid_size(c->nent);
	/* Sealed: one memfd is shared by every worker, none can change it. */
	if (write(fd, c, size) != (ssize_t)size ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		r = errno ? negative_errno() : -EIO;
		close(fd);
		fd = r;
		goto out;
	}
	memfd_cached = fd;
out:
	pthread_mutex_unlock(&memfd_lock);
	free(c);
	return fd;
}
