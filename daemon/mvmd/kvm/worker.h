/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parent side of the kvm backend: what mvmd calls to start, talk to,
 * re-adopt and reap mvm-vmm workers. Never blocks except where stated
 * (kvm_ctl_recv, kvm_worker_wait), never logs.
 *
 * Start:      kvm_worker_spawn() -> pid, pidfd, start time, connected ctl.
 *             Watch the pidfd and the ctl fd from the event loop; the
 *             worker sends HELLO, then READY once the guest runs (the VM is
 *             Running), or RESULT(error) and exits (StartFailed).
 * Restart:    persist pid + start_time + ctl_path + result_path; after a
 *             restart sv_adopt() (daemon/mvmd/supervise.h: pid still the
 *             same process?) and kvm_worker_connect() again; HELLO says
 *             the worker's state.
 * End:        RESULT on the connection, and the same in the result file
 *             (kvm_result_read) for a parent that missed it.
 */
#ifndef MVM_KVM_WORKER_H
#define MVM_KVM_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/ctl.h"

#define KVM_WORKER_DEBUG_FORBIDDEN_SYSCALL 0x1u /* test only: worker calls socket() */
#define KVM_WORKER_DEBUG_EXEC_MAPPING 0x2u      /* test only: worker maps PROT_EXEC */

typedef struct kvm_worker_config {
	const char *vmm_path;    /* the mvm-vmm binary */
	const char *kvm_path;    /* NULL: /dev/kvm */
	int kvm_fd;              /* kvm_path opened already (borrowed); <= 0: opened here */
	const char *image_path;  /* guest ELF (mvm-guest) */
	const char *ctl_path;    /* control socket to create (0600, replaced); NULL only for a run
				  * (KVM_WARM_F_RUN), which nobody reconnects to: its worker gets
				  * one end of a socketpair, already connected */
	const char *result_path; /* result file to create (0600, truncated) */
	const char *vsock_path;  /* hybrid vsock socket to create (0600, replaced), or NULL */
	uint32_t memory_mib;     /* 0: 16 */
	uint32_t vcpus;          /* 0: 1 */
	const char *const *args; /* guest argv */
	size_t nargs;
	const char *const *caps; /* capability names granted to the workload */
	size_t ncaps;
	const char *workload;    /* "sha256:<hex>" or NULL */
	int blob_fd;             /* with workload: the module, opened read-only (borrowed,
				  * dup'd to the worker); <= 0: none (0 is never a blob) */
	const char *const *envs; /* the workload's "NAME=value" environment */
	size_t nenvs;
	int log_fd;              /* the worker's stderr; -1: /dev/null */
	uint64_t rlimit_as;      /* 0: inherit; else RLIMIT_AS for the worker */
	unsigned debug;          /* KVM_WORKER_DEBUG_* */
	uint32_t flags;          /* KVM_WARM_F_* sent in the ASSIGN (lib/proto/warm.h) */
	int console_fd;          /* > 0: the VM's listening console socket (borrowed, sent in the
				  * ASSIGN): the worker accepts its clients and hands each to
				  * the parent (KVM_MSG_CONSOLE_CLIENT); <= 0: none */
	const char *reuse_key;   /* a run's reuse_key (docs/workloads.md), or NULL: the pool
				  * (kvm-pool.h) reuses its worker for that key only */
	int snapshot_fd;         /* > 0: the VM continues from this snapshot (read-only, borrowed;
				  * a cold worker's fd 7, --snapshot-fd; a warm one's ASSIGN) */
} kvm_worker_config_t;

typedef struct kvm_worker {
	pid_t pid;
	int pidfd;           /* pidfd_open(pid): readable when it exited */
	uint64_t start_time; /* /proc/PID/stat field 22, for re-adoption */
	kvm_ctl_t *ctl;      /* connected control channel (may be NULL after adopt) */
} kvm_worker_t;

/* A warm worker (lib/proto/warm.h): started ahead of time for a VM size,
 * waiting on pool_fd for its VM. Owned by the pool until assigned. */
typedef struct kvm_warm_worker {
	pid_t pid;
	int pidfd;
	int pool_fd;         /* SOCK_SEQPACKET: READY comes, ASSIGN goes */
	uint64_t start_time;
	uint32_t memory_mib, vcpus;
	bool ready;          /* said READY: its guest is warm and waiting */
	char primed[80];     /* the module it was primed with ("sha256:..."), "" none */
} kvm_warm_worker_t;

/*
 * Start a worker (posix_spawn, empty environment, own session). Errors are
 * start failures, never crashes: -ENOENT/-EACCES (no usable /dev/kvm,
 * image or mvm-vmm binary), -EMFILE/-ENFILE, -ENOMEM, -EINVAL (bad
 * config), -ENAMETOOLONG (ctl_path), -errno of socket/spawn. Only the fds
 * listed in docs/worker-protocol.md (3..6, plus /dev/null or log_fd as
 * 0-2) reach it. On success *ret owns pidfd and ctl (already connected);
 * the caller owns ctl_path and result_path and removes them with the VM.
 * The first spawn also creates the shared CPUID memfd (under a lock); it
 * stays open, one fd, for the process's life.
 */
int kvm_worker_spawn(const kvm_worker_config_t *cfg, kvm_worker_t *ret);
/* Start a warm worker from cfg's vmm_path, kvm_path, image_path,
 * memory_mib, vcpus and rlimit_as (nothing else of cfg is used); its guest
 * touches warm_bytes of heap before it says READY. Errors as for
 * kvm_worker_spawn(). */
int kvm_worker_spawn_warm(const kvm_worker_config_t *cfg, uint64_t warm_bytes, kvm_warm_worker_t *ret);
/* On POLLIN of pool_fd: 1 when it said READY (w->ready is set), 0 when
 * nothing came yet, -EPIPE when it closed (died), -EBADMSG for garbage. */
int kvm_worker_warm_ready(kvm_warm_worker_t *w);
/* Give a READY warm worker its VM: cfg as for kvm_worker_spawn() (the
 * image, kvm path and rlimit are the warm worker's; memory_mib and vcpus
 * must match it, debug must be 0: -EINVAL). Makes the VM's sockets and
 * result file and sends them with the strings; on success *ret owns the
 * worker (pidfd moved from w, ctl connected) exactly as after a spawn,
 * and w's pool socket is closed (kept in w with KVM_WARM_F_REUSE). On failure w is unchanged (the caller
 * may offer it again or kill it) and the paths are removed. */
int kvm_worker_assign(kvm_warm_worker_t *w, const kvm_worker_config_t *cfg, kvm_worker_t *ret);
/* Prime a READY, unprimed warm worker with a module (workload hash and
 * the blob, opened read-only; borrowed): it reads and verifies it, its
 * guest compiles it, and it says READY again (w->ready is cleared until
 * then). From then on it can only be assigned a VM that runs this module
 * (kvm_worker_assign: -EINVAL otherwise). */
int kvm_worker_prime(kvm_warm_worker_t *w, const char *workload, int blob_fd);
/* A primed, READY worker: write its template (its compiled guest) into
 * tmpl_fd, an empty file (borrowed); it says READY again when done. */
int kvm_worker_template(kvm_warm_worker_t *w, int tmpl_fd);
/* An unprimed, READY worker: become the primed VM the sealed template
 * tmpl_fd holds, for workload (its module blob_fd, read-only; both
 * borrowed): as kvm_worker_prime(), without the compile. */
int kvm_worker_restore(kvm_warm_worker_t *w, const char *workload, int tmpl_fd, int blob_fd);
/* Close a warm worker's fds (an idle one then exits on its own: EOF). */
void kvm_worker_warm_release(kvm_warm_worker_t *w);
/* Close the worker's fds (not the worker: it keeps running). */
void kvm_worker_release(kvm_worker_t *w);
/* Connect to a worker's control socket; non-blocking kvm_ctl_t. */
int kvm_worker_connect(const char *ctl_path, kvm_ctl_t **ret);
/* Reap our child (blocking up to timeout_ms, -1 for ever): its wait status.
 * For tests and tools: mvmd reaps through daemon/mvmd/supervise.h. */
int kvm_worker_wait(kvm_worker_t *w, int timeout_ms, int *ret_status);

#endif
