/* SPDX-License-Identifier: Apache-2.0 */
/* The kvm backend: mvm-vmm workers supervised from mvmd's event loop. */
#ifndef MVM_BACKEND_KVM_H
#define MVM_BACKEND_KVM_H

#include "manager.h"

typedef struct backend_kvm_config {
	const char *vmm_path;   /* the mvm-vmm binary */
	const char *image_path; /* the guest image (mvm-guest) */
	const char *kvm_path;   /* NULL: /dev/kvm */
} backend_kvm_config_t;

int backend_kvm_register(manager_t *m, const backend_kvm_config_t *cfg);
void backend_kvm_unregister(void);

#endif
