/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What mvm-vmm may do. Two allow-lists over one common part:
 *
 *   sandbox_vmm_rules     a worker started on its own (exec'd by its
 *                         parent), loaded once its VM is built: everything
 *                         it opens (KVM fds, guest memory, eventfds, the
 *                         control socket) exists before, so there is no
 *                         open, socket, exec or kill here; the worker only
 *                         runs the vCPU, moves bytes between its fds and
 *                         creates its vCPU thread.
 *   sandbox_zygote_rules  the one filter the zygote loads and every worker
 *                         it forks inherits (daemon/vmm/zygote.c): the
 *                         above, plus what a worker needs to build its VM
 *                         under it (the KVM ioctls of VM setup, eventfds,
 *                         its address-space limit) and what the zygote
 *                         needs to fork one (clone with exactly
 *                         CLONE_PARENT|SIGCHLD, dup2 to place its fds,
 *                         setsid, its name). docs/density.md says why
 *                         each is safe in every worker's filter.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "sandbox.h"

#define ALLOW(n) { .nr = SYS_##n }
#define ALLOW_ARG(n, i, v) { .nr = SYS_##n, .has_arg = 1, .argi = i, .mask = ~0ull, .value = v }

#define VMM_COMMON_RULES                                                                                     \
	/* the vCPU loop: KVM_RUN per exit, KVM_GET_SREGS for fault reports */                             \
	ALLOW_ARG(ioctl, 1, KVM_RUN),                                                                        \
	ALLOW_ARG(ioctl, 1, KVM_GET_SREGS),                                                                  \
	/* snapshots of the paused VM (daemon/vmm/snapshot.c): reads only */                               \
	ALLOW_ARG(ioctl, 1, KVM_GET_XCRS), ALLOW_ARG(ioctl, 1, KVM_GET_XSAVE),                               \
	ALLOW_ARG(ioctl, 1, KVM_GET_MSRS),                                                                   \
	/* a reused worker's reset to its template (daemon/vmm/reuse.c), and a                             \
	 * warm one restored from a snapshot (vmm_restore_warm): its own vCPU's                            \
	 * state, and the memfd that holds the template's memory */                                        \
	ALLOW_ARG(ioctl, 1, KVM_SET_SREGS), ALLOW_ARG(ioctl, 1, KVM_SET_XCRS),                               \
	ALLOW_ARG(ioctl, 1, KVM_SET_XSAVE), ALLOW_ARG(ioctl, 1, KVM_SET_MSRS),                               \
	ALLOW_ARG(memfd_create, 1, MFD_CLOEXEC),                                                             \
	/* control connection, eventfds, result file */                                                     \
	ALLOW(read), ALLOW(write), ALLOW(close), ALLOW(poll), ALLOW(ppoll),                                  \
	ALLOW(accept4), ALLOW(getsockopt), ALLOW(shutdown), ALLOW(fcntl),                                    \
	ALLOW(pwrite64), ALLOW(ftruncate),                                                                   \
	/* recvmsg: the control connection, so that a blob grant's                                         \
	 * descriptor (SCM_RIGHTS) is received, then read and closed; any other                            \
	 * descriptor is closed at once (lib/proto/ctl.c); and a warm worker's                             \
	 * ASSIGN with its fds (lib/proto/warm.c). sendmsg: a console client it                            \
	 * accepted goes to the parent (KVM_MSG_CONSOLE_CLIENT; docs/density.md                            \
	 * says why that is safe). A warm worker also reads its module inside the                          \
	 * filter (pread, lseek) and makes its log stderr (dup3 onto fd 2 only). */                        \
	ALLOW(recvmsg), ALLOW(sendmsg), ALLOW(pread64), ALLOW(lseek), ALLOW_ARG(dup3, 1, 2),                 \
	/* hypercalls: clock (vDSO fallback), random */                                                     \
	ALLOW(clock_gettime), ALLOW(getrandom),                                                              \
	/* malloc, threads (the control thread is created after the filter);                               \
	 * never new executable memory (W^X): PROT_EXEC must be clear */                                   \
	{ .nr = SYS_mmap, .has_arg = 1, .argi = 2, .mask = PROT_EXEC, .value = 0 },                          \
	{ .nr = SYS_mprotect, .has_arg = 1, .argi = 2, .mask = PROT_EXEC, .value = 0 },                      \
	ALLOW(munmap), ALLOW(mremap), ALLOW(madvise), ALLOW(brk),                                            \
	ALLOW(futex), ALLOW(set_robust_list), ALLOW(rseq), ALLOW(sched_yield),                               \
	ALLOW(rt_sigprocmask), ALLOW(rt_sigreturn), ALLOW(rt_sigaction), ALLOW(getpid), ALLOW(gettid),       \
	ALLOW(tgkill), ALLOW(exit), ALLOW(exit_group), ALLOW(nanosleep),                                     \
	ALLOW(clock_nanosleep), ALLOW(restart_syscall),                                                      \
	/* sanitizer runtimes ask for it when a thread starts */                                            \
	ALLOW(sched_getaffinity), ALLOW(sigaltstack),                                                        \
	/* threads only: CLONE_THREAD must be set; clone3 hides its flags in                               \
	 * memory, so refuse it with ENOSYS and glibc falls back to clone. */                              \
	{ .nr = SYS_clone, .has_arg = 1, .argi = 0, .mask = CLONE_THREAD, .value = CLONE_THREAD },           \
	{ .nr = SYS_clone3, .errno_ret = ENOSYS }

const sandbox_rule_t sandbox_vmm_rules[] = {
	VMM_COMMON_RULES,
};
const size_t sandbox_vmm_nrules = sizeof(sandbox_vmm_rules) / sizeof(sandbox_vmm_rules[0]);

const sandbox_rule_t sandbox_zygote_rules[] = {
	VMM_COMMON_RULES,
	/* building the VM: on the /dev/kvm fd mvmd hands each worker (closed
	 * before the guest runs), then on the worker's own VM and vCPU fds */
	ALLOW_ARG(ioctl, 1, KVM_GET_API_VERSION),
	ALLOW_ARG(ioctl, 1, KVM_CHECK_EXTENSION),
	ALLOW_ARG(ioctl, 1, KVM_CREATE_VM),
	ALLOW_ARG(ioctl, 1, KVM_GET_VCPU_MMAP_SIZE),
	ALLOW_ARG(ioctl, 1, KVM_GET_SUPPORTED_CPUID),
	ALLOW_ARG(ioctl, 1, KVM_ENABLE_CAP),
	ALLOW_ARG(ioctl, 1, KVM_SET_USER_MEMORY_REGION),
	ALLOW_ARG(ioctl, 1, KVM_CREATE_VCPU),
	ALLOW_ARG(ioctl, 1, KVM_SET_CPUID2),
	/* (a VM restored from a snapshot instead of booted maps its file
	 * read-only and sets its vCPU with the common part's calls) */
	ALLOW(eventfd2), ALLOW(getuid),
	/* --rlimit-as: its own limit only (pid 0), and no capability raises
	 * the hard limit */
	ALLOW_ARG(prlimit64, 0, 0),
	/* the zygote's fork: a process (never a thread, never a namespace),
	 * child of mvmd; then the child places its fds and leaves the
	 * zygote's session */
	ALLOW_ARG(clone, 0, CLONE_PARENT | SIGCHLD),
	ALLOW(dup2), ALLOW(setsid), ALLOW_ARG(prctl, 0, PR_SET_NAME),
};
const size_t sandbox_zygote_nrules = sizeof(sandbox_zygote_rules) / sizeof(sandbox_zygote_rules[0]);
