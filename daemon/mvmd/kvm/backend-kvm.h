/* SPDX-License-Identifier: Apache-2.0 */
/* The kvm backend: mvm-vmm workers supervised from mvmd's event loop. */
#ifndef MVM_BACKEND_KVM_H
#define MVM_BACKEND_KVM_H

#include <stdint.h>

#include "kvm/kvm-pool.h"
#include "proto/ctl.h"
#include "manager.h"

typedef struct backend_kvm_config {
	const char *vmm_path;   /* the mvm-vmm binary */
	const char *image_path; /* the guest image (mvm-guest) */
	const char *kvm_path;   /* NULL: /dev/kvm */
	unsigned pool_size;     /* warm workers kept (daemon/mvmd/kvm/kvm-pool.h); 0: none */
	uint32_t pool_memory_mib; /* 0: 16 */
	uint32_t pool_ready_ms;   /* 0: 10 s */
	uint32_t op_timeout_ms;   /* the worker's answer to a pause, resume or snapshot step (kvm-pause.c); 0: 10 s */
	unsigned teardown_max;    /* workers torn down at once (docs/density.md); 0: no cap */
} backend_kvm_config_t;

/* The backend's state is the manager's userdata for VM_BACKEND_KVM, freed
 * by manager_free. */
int backend_kvm_register(manager_t *m, const backend_kvm_config_t *cfg);
/* The warm pool's counters; false (and *ret zeroed) when there is none. */
bool backend_kvm_pool_stats(manager_t *m, kvm_pool_stats_t *ret);

/* What compute.vm.create {snapshot} needs of a snapshot blob. */
typedef struct kvm_snapshot_info {
	uint32_t memory_mib, vcpus;
	char workload[KVM_BLOB_REF_LEN + 1]; /* "" without one */
} kvm_snapshot_info_t;

/*
 * Check the snapshot blob ref ("sha256:<hex>") before a VM is made from
 * it: in the store, a whole and uncorrupted snapshot of a format this
 * mvmd reads (lib/proto/snapshot.h), taken on a host with this one's CPU
 * features (when /dev/kvm is usable here to say which). *ret_cause
 * (malloc'd) says what is wrong: -ENOENT not in the store, -EBADMSG,
 * -ENODATA, -EPROTONOSUPPORT, -EXDEV as kvm_snapshot_parse() and
 * kvm_snapshot_check_cpuid().
 */
int backend_kvm_snapshot_check(manager_t *m, const char *ref, kvm_snapshot_info_t *ret, char **ret_cause);

/* compute.blob.put {kind: "snapshot"}: a blob_check_fn (blob.h) that
 * refuses content that does not parse whole as a snapshot; userdata is a
 * kvm_snapshot_blob_check_t, whose why says what is wrong. */
typedef struct kvm_snapshot_blob_check {
	bool failed;
	char why[160];
} kvm_snapshot_blob_check_t;
int backend_kvm_snapshot_blob_check(const void *data, size_t len, void *userdata);

/* How a worker's run ended, in words: the VM's cause ("guest exited with
 * code 3", "worker error: reading the workload module: File too large").
 * malloc'd; NULL when out of memory. */
char *backend_kvm_describe_result(const kvm_result_t *r);

/* Queue an ACTOR_DELIVER frame for vm's worker (docs/actors.md): 0,
 * -EOPNOTSUPP not a kvm VM, -ENOTCONN no control connection to its
 * worker, -ENOBUFS its queue is full. */
int backend_kvm_actor_deliver(vm_t *vm, const kvm_msg_actor_t *h, const void *data, size_t len);

#endif
