/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ch backend: full Linux VMs run by cloud-hypervisor, one process per
 * VM, spawned detached and supervised from mvmd's event loop (pidfd, REST
 * API over the VM's api socket, serial console relayed by daemon/mvmd/console.c).
 */
#ifndef MVM_BACKEND_CH_H
#define MVM_BACKEND_CH_H

#include "manager.h"

#define BACKEND_CH_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1 quiet"

typedef struct backend_ch_config {
	const char *binary;    /* --ch-binary; NULL: "cloud-hypervisor" on $PATH */
	const char *initramfs; /* default initramfs (mvm-init as /init) */
	const char *kvm_path;  /* NULL: /dev/kvm */
} backend_ch_config_t;

/* The backend's state is the manager's userdata for VM_BACKEND_CH, freed
 * by manager_free. */
int backend_ch_register(manager_t *m, const backend_ch_config_t *cfg);

#endif
