/* SPDX-License-Identifier: Apache-2.0 */
/* pidfd helpers (glibc 2.36 has no wrapper for pidfd_send_signal). */
#ifndef MVM_UTIL_PIDFD_H
#define MVM_UTIL_PIDFD_H

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Signal the process behind pidfd: no pid-reuse race. 0 or -1 with errno. */
static inline int pidfd_kill(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* Reap our child behind pidfd (waitid P_PIDFD, which glibc 2.36 does not
 * name): flags WEXITED, plus WNOHANG not to wait. *ret_si (may be NULL)
 * says how it ended; si_pid is 0 when nothing was reaped. 0 or -1 with
 * errno. */
static inline int pidfd_reap(int pidfd, int flags, siginfo_t *ret_si)
{
	siginfo_t si = { 0 };
	int r = waitid((idtype_t)3 /* P_PIDFD */, (id_t)pidfd, &si, flags);
	if (ret_si)
		*ret_si = si;
	return r;
}

#endif
