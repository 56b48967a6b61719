/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What mvm-fetch may do once it has read mvmd's request (docs/blobs.md,
 * "Privilege separation"). It started as root from mvmd: it becomes
 * nobody with no supplementary groups (a root uid without capabilities
 * still owns root's files), keeps no capability, cannot regain any
 * (no_new_privs), and runs under a seccomp allow-list: I/O on the fds it
 * has (the blob goes to mvmd over a pipe: it holds no file of the store),
 * sockets for the network (and the resolver's netlink/Unix sockets),
 * read-only opens (the resolver reads /etc/hosts, /etc/resolv.conf),
 * threads but no new process, no exec.
 */
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "fetch.h"
#include "util/macro.h"

#define NOBODY 65534

static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(pread64), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(lseek),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(madvise),
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack),
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(tgkill), SCMP_SYS(getrandom), SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(select), SCMP_SYS(pselect6), SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(connect), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmmsg), SCMP_SYS(recvmmsg), SCMP_SYS(shutdown), SCMP_SYS(bind),
	SCMP_SYS(socketpair), SCMP_SYS(pipe2), SCMP_SYS(eventfd2), SCMP_SYS(fcntl), SCMP_SYS(dup), SCMP_SYS(dup3),
	SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(uname), SCMP_SYS(getuid),
	SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(sched_getaffinity), SCMP_SYS(sched_yield),
	SCMP_SYS(getdents64), SCMP_SYS(readlink), SCMP_SYS(sysinfo), SCMP_SYS(prlimit64) /* read only: below */,
};

static int seccomp_load_policy(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(allowed) && r == 0; i++) {
		if (allowed[i] == SCMP_SYS(prlimit64)) /* getrlimit only: new_limit NULL */
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 1, SCMP_A2(SCMP_CMP_EQ, 0));
		else
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	}
	/* sockets of the families the network and the resolver need */
	static const int families[] = { AF_INET, AF_INET6, AF_UNIX, AF_NETLINK };
	for (size_t i = 0; i < ELEMENTSOF(families) && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]));
	/* ioctl: only asking how much can be read, non-blocking mode and
	 * isatty (stdio); never TIOCSTI & co. on an inherited terminal */
	static const unsigned long ioctls[] = { FIONREAD, FIONBIO, TCGETS };
	for (size_t i = 0; i < ELEMENTSOF(ioctls) && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)ioctls[i]));
	/* opens for reading only */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, (scmp_datum_t)(O_ACCMODE | O_CREAT | O_TRUNC), O_RDONLY));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, (scmp_datum_t)(O_ACCMODE | O_CREAT | O_TRUNC), O_RDONLY));
	/* threads (libcurl's resolver), never a new process */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	/* clone3's flags are behind a pointer: ENOSYS makes glibc use clone */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

int fetch_sandbox_enter(void)
{
	int r;

	capng_clear(CAPNG_SELECT_BOTH);
	r = getuid() == 0 ? capng_change_id(NOBODY, NOBODY, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING) : -1;
	if (r < 0) {
		/* Without CAP_SETUID (mvmd.service keeps only CAP_CHOWN and
		 * forbids setuid(2)) the uid stays what it is: no capability
		 * is kept all the same (docs/blobs.md says what that leaves). */
		capng_clear(CAPNG_SELECT_BOTH);
		if (capng_apply(CAPNG_SELECT_BOTH) < 0) {
			capng_clear(CAPNG_SELECT_CAPS);
			if (capng_apply(CAPNG_SELECT_CAPS) < 0)
				return -EPERM;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return negative_errno();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return negative_errno();
	return seccomp_load_policy();
}
