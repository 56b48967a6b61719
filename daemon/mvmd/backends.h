/* SPDX-License-Identifier: Apache-2.0 */
/* Registers the backends built into this mvmd with a manager. */
#ifndef MVM_BACKENDS_H
#define MVM_BACKENDS_H

#include <stdint.h>

#include "manager.h"

typedef struct backends_config {
	const char *kvm_device; /* default /dev/kvm */
	const char *vmm_path;   /* default: mvm-vmm beside the running mvmd */
	const char *guest_image; /* default: ../guest/mvm-guest from mvmd's directory */
	const char *ch_binary;  /* default: "cloud-hypervisor" on $PATH */
	const char *ch_initramfs; /* default: ../guest/initramfs.cpio.gz from mvmd's directory */
	unsigned kvm_pool;      /* warm kvm workers (daemon/mvmd/kvm/kvm-pool.h); 0: none */
	uint32_t kvm_pool_mib;  /* their memory to start with; 0: 16 */
	uint32_t kvm_pool_ready_ms; /* 0: 10 s */
	uint32_t kvm_op_timeout_ms; /* a worker's answer to a pause, resume or snapshot step; 0: 10 s */
	unsigned kvm_max_teardowns; /* kvm workers torn down at once; 0: no cap */
} backends_config_t;

int backends_register(manager_t *m, const backends_config_t *cfg);
/* A private program (mvm-fetch, ...) found like mvm-vmm: beside mvmd in a
 * build tree, in ../libexec/mvmd/ when installed. */
void backends_program_path(const char *name, char *buf, size_t size);

#endif
