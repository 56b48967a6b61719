/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wasi_host bindings for a Linux process (mvm-wasm, tests): stdio through
 * readv/writev on fds 0-2, clock_gettime, getrandom. Hosted code: the
 * freestanding WASI core (wasi.c) never includes this.
 */
#include <errno.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "wasi-posix.h"

/* Linux errno -> preview1 errno, for the errors these calls can return. */
static int wasi_errno_from_linux(int e)
{
	switch (e) {
	case EBADF: return -WASI_ERRNO_BADF;
	case EFAULT: return -WASI_ERRNO_FAULT;
	case EINVAL: return -WASI_ERRNO_INVAL;
	case EAGAIN: return -WASI_ERRNO_AGAIN;
	case EINTR: return -WASI_ERRNO_INTR;
	case EPIPE: return -WASI_ERRNO_PIPE;
	case ENOSPC: return -WASI_ERRNO_NOSPC;
	case ENOMEM: return -WASI_ERRNO_NOMEM;
	case EPERM: return -WASI_ERRNO_PERM;
	case EACCES: return -WASI_ERRNO_ACCES;
	case ENOSYS: return -WASI_ERRNO_NOSYS;
	default: return -WASI_ERRNO_IO;
	}
}

static int64_t posix_writev(void *user, int fd, const wasi_iovec *iov, int iovcnt)
{
	ssize_t n;

	_Static_assert(sizeof(wasi_iovec) == sizeof(struct iovec), "iovec layout");
	do
		n = writev(fd, (const struct iovec *)iov, iovcnt);
	while (n < 0 && errno == EINTR);
	return n < 0 ? wasi_errno_from_linux(errno) : n;
}

static int64_t posix_readv(void *user, int fd, const wasi_iovec *iov, int iovcnt)
{
	ssize_t n;

	do
		n = readv(fd, (const struct iovec *)iov, iovcnt);
	while (n < 0 && errno == EINTR);
	return n < 0 ? wasi_errno_from_linux(errno) : n;
}

static int clock_from_wasi(uint32_t id, clockid_t *ret)
{
	static const clockid_t map[] = {
		[WASI_CLOCK_REALTIME] = CLOCK_REALTIME,
		[WASI_CLOCK_MONOTONIC] = CLOCK_MONOTONIC,
		[WASI_CLOCK_PROCESS_CPUTIME] = CLOCK_PROCESS_CPUTIME_ID,
		[WASI_CLOCK_THREAD_CPUTIME] = CLOCK_THREAD_CPUTIME_ID,
	};
	if (id >= sizeof(map) / sizeof(map[0]))
		return -WASI_ERRNO_INVAL;
	*ret = map[id];
	return 0;
}

static int posix_clock_time(void *user, uint32_t id, uint64_t *ret_ns)
{
	struct timespec ts;
	clockid_t c;
	int r = clock_from_wasi(id, &c);

	if (r < 0)
		return r;
	if (clock_gettime(c, &ts) < 0)
		return wasi_errno_from_linux(errno);
	*ret_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return 0;
}

static int posix_clock_res(void *user, uint32_t id, uint64_t *ret_ns)
{
	struct timespec ts;
	clockid_t c;
	int r = clock_from_wasi(id, &c);

	if (r < 0)
		return r;
	if (clock_getres(c, &ts) < 0)
		return wasi_errno_from_linux(errno);
	*ret_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return 0;
}

static int posix_random(void *user, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return wasi_errno_from_linux(errno);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int posix_sleep_until(void *user, uint32_t id, uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ns / 1000000000u),
		.tv_nsec = (long)(deadline_ns % 1000000000u),
	};
	clockid_t c;
	int r = clock_from_wasi(id, &c);

	if (r < 0)
		return r;
	/* Absolute, so a signal that interrupts it can simply retry. */
	while ((r = clock_nanosleep(c, TIMER_ABSTIME, &ts, NULL)) == EINTR)
		;
	return r ? wasi_errno_from_linux(r) : 0;
}

static int posix_isatty(void *user, int fd)
{
	return isatty(fd);
}

static void posix_yield(void *user)
{
	sched_yield();
}

const wasi_host wasi_host_posix = {
	.writev = posix_writev,
	.readv = posix_readv,
	.clock_time = posix_clock_time,
	.clock_res = posix_clock_res,
	.random = posix_random,
	.isatty = posix_isatty,
	.yield = posix_yield,
	.sleep_until = posix_sleep_until,
};
