/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd's side of the zygote (daemon/vmm/zygote.c, docs/density.md): one
 * mvm-vmm --zygote-fd per mvmd (per process that spawns workers), started
 * on first use, which forks each worker into the one seccomp filter it
 * loaded. Used by daemon/mvmd/kvm/worker.c only. Never logs.
 */
#ifndef MVM_KVM_ZYGOTE_H
#define MVM_KVM_ZYGOTE_H

#include <stdbool.h>
#include <sys/types.h>

#define KVM_WORKER_NFDS 7     /* the fds a worker starts with: 0..6 */
#define KVM_WORKER_NFDS_MAX 8 /* ... and 7, a snapshot it restores (--snapshot-fd) */

/*
 * Have the zygote of vmm_path fork a worker with argv (argv[0] is
 * vmm_path) and src[i] as its fd i, for i < nfds (KVM_WORKER_NFDS, or
 * KVM_WORKER_NFDS_MAX with a snapshot): 0 and *ret_pid (a child of the
 * calling process, as after posix_spawn), or -errno of the fork;
 * -ENOSYS when no zygote runs or can be started here (the caller then
 * execs the worker itself). Blocks until the zygote answered (one fork:
 * it is where posix_spawn would have waited for the exec).
 */
int kvm_zygote_fork(const char *vmm_path, const int src[KVM_WORKER_NFDS_MAX], int nfds, char **argv,
		    pid_t *ret_pid);

/* Workers the zygote forked so far (tests, metrics). */
unsigned long kvm_zygote_forks(void);

/* Start the zygote now (mvmd, once /dev/kvm is usable), so that it has
 * loaded its filter before the first worker is asked of it. Best effort:
 * a failure is told by the first kvm_zygote_fork. */
void kvm_zygote_prestart(const char *vmm_path);

/* Off: kvm_zygote_fork says -ENOSYS, workers are exec'd (mvmd
 * --no-kvm-zygote). On by default. */
void kvm_zygote_set_enabled(bool on);

/* worker.c: posix_spawn argv with src as fds 0..nfds-1 (how the zygote
 * itself is started). */
int kvm_worker_exec(const int src[KVM_WORKER_NFDS_MAX], int nfds, char **argv, pid_t *ret_pid);

#endif
