/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshots inside the worker (docs/snapshots.md, lib/proto/snapshot.h):
 * write the paused VM into an fd mvmd handed over, and build a VM back
 * from one. The restore half is what any worker that starts from a
 * snapshot calls (a cold one with --snapshot-fd, or a warm one reset to
 * its snapshot): kvm_snapshot_restore() on a VM fresh from kvm_vm_new().
 */
#ifndef MVM_KVM_VMM_SNAPSHOT_H
#define MVM_KVM_VMM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "grants.h"
#include "kvm-vm.h"
#include "proto/snapshot.h"
#include "vsock.h"

/* What the worker keeps beside the VM itself (copied by the caller). */
typedef struct kvm_snap_worker_state {
	const uint8_t *console_out;
	size_t console_out_len;
	const uint8_t *console_in;
	size_t console_in_len;
	const char *workload; /* "sha256:<hex>" or NULL */
	kvm_vsock_t *vsock;   /* its listeners; may be NULL */
	kvm_grants_t *grants; /* may be NULL */
} kvm_snap_worker_state_t;

/*
 * Write vm (its vCPUs parked: KVM_RUN returned EINTR and they are not
 * run meanwhile) and ws into fd from offset 0: header, CPUID, each vCPU,
 * the guest pages that are not all zero, the worker state, the SHA-256
 * trailer. *ret_size: bytes written. -errno of the writes or ioctls.
 */
int kvm_snapshot_write(kvm_vm_t *vm, const kvm_snap_worker_state_t *ws, int fd, uint64_t *ret_size);

/*
 * Read the snapshot from fd (whole, mapped read-only) and parse it:
 * *ret_map / *ret_len hold the mapping (munmap it after the restore),
 * *ret the views into it. Errors as kvm_snapshot_parse(), with why.
 */
int kvm_snapshot_map(int fd, const uint8_t **ret_map, size_t *ret_len, kvm_snapshot_t *ret, char *why,
		     size_t why_size);

/*
 * Make vm, fresh from kvm_vm_new() with the snapshot's memory size and
 * vCPU count and the host's CPUID table (checked against the snapshot's
 * first: -EXDEV), the VM the snapshot holds: its pages, and every vCPU's
 * registers, segments, extended state and MSRs. The vCPU state must be
 * a micro-VM's (CPL3, the worker's page tables): -EINVAL otherwise.
 */
int kvm_snapshot_restore(kvm_vm_t *vm, const kvm_snapshot_t *s, const struct kvm_cpuid2 *host_cpuid, char *why,
			 size_t why_size);

#endif
