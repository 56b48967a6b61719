/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mvm-vmm worker process: one micro-VM, driven over its control socket.
 * daemon/vmm/main.c parses the command line into kvm_vmm_config_t and calls
 * kvm_vmm_main(); everything else is here.
 */
#ifndef MVM_KVM_VMM_H
#define MVM_KVM_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/ctl.h"
#include "proto/warm.h"

/* Worker process exit statuses (the outcome itself is in the result). */
#define KVM_VMM_EXIT_OK 0    /* guest exited or was stopped */
#define KVM_VMM_EXIT_ERROR 1 /* setup or host failure: outcome "error" */
#define KVM_VMM_EXIT_FAULT 2 /* guest fault */
#define KVM_VMM_EXIT_USAGE 64

#define KVM_VMM_DEBUG_FORBIDDEN_SYSCALL 0x1u /* socket() after the filter */
#define KVM_VMM_DEBUG_EXEC_MAPPING 0x2u      /* mmap(PROT_EXEC) after it */

/* Console output kept while no client is connected (oldest dropped). */
#define KVM_VMM_CONSOLE_RING (64u << 10)
/* Console input waiting for the guest (excess dropped). */
#define KVM_VMM_INPUT_RING (64u << 10)

typedef struct kvm_vmm_config {
	int kvm_fd;    /* open /dev/kvm */
	int image_fd;  /* the guest ELF */
	int ctl_fd;    /* listening AF_UNIX stream socket */
	int result_fd; /* result file, written once at the end */
	int cpuid_fd;  /* sealed memfd with KVM_GET_SUPPORTED_CPUID's table, or -1 */
	int vsock_fd;  /* listening AF_UNIX socket for hybrid vsock, or -1 */
	int console_fd; /* the VM's listening console socket, or -1: its clients go to the parent */
	uint32_t memory_mib;
	uint32_t vcpus;
	char **args;
	size_t nargs;
	char **caps;
	size_t ncaps;
	const char *workload;
	int blob_fd;   /* the workload module, read-only, or -1 */
	char **envs;   /* the workload's "NAME=value" environment */
	size_t nenvs;
	unsigned debug; /* KVM_VMM_DEBUG_* */
	uint32_t flags; /* KVM_WARM_F_* from the ASSIGN (lib/proto/warm.h) */
	/* Forked by the zygote (daemon/vmm/zygote.c): in the one shared
	 * seccomp filter and without capabilities from the start, so the
	 * worker does not enter a sandbox of its own. */
	bool sandboxed;
	/* A warm worker (lib/proto/warm.h): the pool socket, or -1. Started
	 * without ctl/result/vsock/blob fds, strings or workload: they come
	 * in the ASSIGN it waits for once its guest is warm. */
	int pool_fd;
	uint64_t warm_bytes; /* heap the warm guest touches before it waits */
	/* A cold worker: the SOCK_SEQPACKET socket its one ASSIGN waits on
	 * (already sent), or -1. ctl/result/vsock/blob fds, strings and
	 * workload come in it, as they come to a warm worker. */
	int assign_fd;
	/* A cold worker whose VM continues from a snapshot (docs/snapshots.md)
	 * instead of booting the image: the snapshot, read-only, or -1. */
	int snapshot_fd;
} kvm_vmm_config_t;

/* Become the VM an ASSIGN describes (daemon/vmm/assign.c): its fds into c
 * (the log, if any, becomes stderr; every fds[i] is then -1) and its
 * strings (which point into the message: keep it alive). -EINVAL when the
 * ASSIGN is for another memory size or vCPU count than c's; the fds are
 * taken all the same, so that error reaches the parent as the outcome. */
int kvm_vmm_assign_apply(kvm_vmm_config_t *c, const kvm_warm_assign_t *a, int fds[KVM_WARM_FD_MAX]);
/* A cold worker: read the one ASSIGN from c->assign_fd (then closed) and
 * apply it. -EBADMSG for anything but an ASSIGN, else as
 * kvm_warm_recv() and kvm_vmm_assign_apply(). */
int kvm_vmm_assign_recv(kvm_vmm_config_t *c);

/* Runs the VM to its end; returns the process exit status and, in
 * *ret_result (may be NULL), how it ended. Runs sandboxed: afterwards
 * only the syscalls of daemon/vmm/seccomp-policy.c are allowed. */
int kvm_vmm_main(const kvm_vmm_config_t *cfg, kvm_result_t *ret_result);

/* mvm-vmm's command line as a worker (daemon/vmm/main.c); sandboxed: a
 * zygote's child, already in the shared filter. The exit status. */
int kvm_vmm_cli(int argc, char **argv, bool sandboxed);
/* --zygote-fd: enter the shared sandbox once, then fork a worker per
 * request on sock (docs/density.md). Returns when mvmd closes it. */
int kvm_zygote_main(int sock, char *title, size_t title_size);

#endif
