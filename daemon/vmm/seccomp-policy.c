/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What mvm-vmm may do once the guest runs. Everything it opens (KVM fds,
 * guest memory, eventfds, the control socket) exists before the filter is
 * loaded, so there is no open, socket, exec or kill here; the worker only
 * runs the vCPU, moves bytes between its fds and creates its vCPU thread.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "sandbox.h"

#define ALLOW(n) { .nr = SYS_##n }
#define ALLOW_ARG(n, i, v) { .nr = SYS_##n, .has_arg = 1, .argi = i, .mask = ~0ull, .value = v }

const sandbox_rule_t sandbox_vmm_rules[] = {
	/* the vCPU loop: KVM_RUN per exit, KVM_GET_SREGS for fault reports */
	ALLOW_ARG(ioctl, 1, KVM_RUN),
	ALLOW_ARG(ioctl, 1, KVM_GET_SREGS),
	/* snapshots of the paused VM (daemon/vmm/snapshot.c): reads only */
	ALLOW_ARG(ioctl, 1, KVM_GET_XCRS), ALLOW_ARG(ioctl, 1, KVM_GET_XSAVE), ALLOW_ARG(ioctl, 1, KVM_GET_MSRS),
	/* control connection, eventfds, result file */
	ALLOW(read), ALLOW(write), ALLOW(close), ALLOW(poll), ALLOW(ppoll),
	ALLOW(accept4), ALLOW(getsockopt), ALLOW(shutdown), ALLOW(fcntl),
	ALLOW(pwrite64), ALLOW(ftruncate),
	/* recvmsg: the control connection, so that a blob grant's
	 * descriptor (SCM_RIGHTS) is received, then read and closed; any other
	 * descriptor is closed at once (lib/proto/ctl.c); and a warm worker's
	 * ASSIGN with its fds (lib/proto/warm.c). No sendmsg: the worker never
	 * passes descriptors. A warm worker also reads its module inside the
	 * filter (pread, lseek) and makes its log stderr (dup3 onto fd 2 only). */
	ALLOW(recvmsg), ALLOW(pread64), ALLOW(lseek), ALLOW_ARG(dup3, 1, 2),
	/* hypercalls: clock (vDSO fallback), random */
	ALLOW(clock_gettime), ALLOW(getrandom),
	/* malloc, threads (the control thread is created after the filter);
	 * never new executable memory (W^X): PROT_EXEC must be clear */
	{ .nr = SYS_mmap, .has_arg = 1, .argi = 2, .mask = PROT_EXEC, .value = 0 },
	{ .nr = SYS_mprotect, .has_arg = 1, .argi = 2, .mask = PROT_EXEC, .value = 0 },
	ALLOW(munmap), ALLOW(mremap), ALLOW(madvise), ALLOW(brk),
	ALLOW(futex), ALLOW(set_robust_list), ALLOW(rseq), ALLOW(sched_yield),
	ALLOW(rt_sigprocmask), ALLOW(rt_sigreturn), ALLOW(rt_sigaction), ALLOW(getpid), ALLOW(gettid),
	ALLOW(tgkill), ALLOW(exit), ALLOW(exit_group), ALLOW(nanosleep),
	ALLOW(clock_nanosleep), ALLOW(restart_syscall),
	/* sanitizer runtimes ask for it when a thread starts */
	ALLOW(sched_getaffinity), ALLOW(sigaltstack),
	/* threads only: CLONE_THREAD must be set; clone3 hides its flags in
	 * memory, so refuse it with ENOSYS and glibc falls back to clone. */
	{ .nr = SYS_clone, .has_arg = 1, .argi = 0, .mask = CLONE_THREAD, .value = CLONE_THREAD },
	{ .nr = SYS_clone3, .errno_ret = ENOSYS },
};

const size_t sandbox_vmm_nrules = sizeof(sandbox_vmm_rules) / sizeof(sandbox_vmm_rules[0]);
