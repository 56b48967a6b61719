/* SPDX-License-Identifier: Apache-2.0 */
/* pidfd helpers (glibc 2.36 has no wrapper for pidfd_send_signal). */
#ifndef MVM_UTIL_PIDFD_H
#define MVM_UTIL_PIDFD_H

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Signal the process behind pidfd: no pid-reuse race. 0 or -1 with errno. */
static inline int pidfd_kill(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

#endif
