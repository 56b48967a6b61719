/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plain fd I/O every program needs, in one place: mvmd, mvmctl and
 * mvm-init (static musl) link it.
 */
#ifndef MVM_UTIL_IO_H
#define MVM_UTIL_IO_H

#include <stddef.h>

/*
 * Write all of buf to fd: a file, a pipe or a socket (sent with
 * MSG_NOSIGNAL, so a closed peer is -EPIPE, never SIGPIPE). EINTR and short
 * writes are retried; a non-blocking fd is waited on with poll(). On a
 * blocking socket, EAGAIN is its SO_SNDTIMEO expiring: -ETIMEDOUT. A write
 * that makes no progress is -EIO. 0 or -errno.
 */
int write_all(int fd, const void *buf, size_t len);

#endif
