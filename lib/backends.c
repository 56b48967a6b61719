/* SPDX-License-Identifier: Apache-2.0 */
#include "backends.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/macro.h"

static char kvm_device[256] = "/dev/kvm";

/*
 * The kvm backend, as far as it exists in this build: VMs can be created
 * and recorded; running them arrives with the mvm-vmm worker. Until then
 * the backend honestly reports that it cannot start VMs.
 */
static bool kvm_usable(manager_t *m, char **ret_reason)
{
	int fd = open(kvm_device, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		if (asprintf(ret_reason, "%s: %s", kvm_device, strerror(errno)) < 0)
			*ret_reason = NULL;
		return false;
	}
	close(fd);
	*ret_reason = strdup("starting VMs is not implemented in this build");
	return false;
}

static const backend_ops_t kvm_ops = {
	.usable = kvm_usable,
};

int backends_register(manager_t *m, const backends_config_t *cfg)
{
	if (cfg && cfg->kvm_device)
		snprintf(kvm_device, sizeof(kvm_device), "%s", cfg->kvm_device);
	manager_register_backend(m, VM_BACKEND_KVM, &kvm_ops, NULL);
	return 0;
}
