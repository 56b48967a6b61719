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
} backend_kvm_config_t;

/* The backend's state is the manager's userdata for VM_BACKEND_KVM, freed
 * by manager_free. */
int backend_kvm_register(manager_t *m, const backend_kvm_config_t *cfg);
/* The warm pool's counters; false (and *ret zeroed) when there is none. */
bool backend_kvm_pool_stats(manager_t *m, kvm_pool_stats_t *ret);

/* How a worker's run ended, in words: the VM's cause ("guest exited with
 * code 3", "worker error: reading the workload module: File too large").
 * malloc'd; NULL when out of memory. */
char *backend_kvm_describe_result(const kvm_result_t *r);

/* Queue an ACTOR_DELIVER frame for vm's worker (docs/actors.md): 0,
 * -EOPNOTSUPP not a kvm VM, -ENOTCONN no control connection to its
 * worker, -ENOBUFS its queue is full. */
int backend_kvm_actor_deliver(vm_t *vm, const kvm_msg_actor_t *h, const void *data, size_t len);

#endif
