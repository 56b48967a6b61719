/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hotplug of a VM's devices: the checks every backend shares (does the
 * backend do it at all, is the VM Running). The backend checks the
 * device, asks its VMM, and updates and writes the spec once it is done.
 */
#include <errno.h>

#include "manager-internal.h"

static const backend_ops_t *ops_of(manager_t *m, const vm_t *vm)
{
	return vm->backend >= 0 && vm->backend < _VM_BACKEND_MAX ? m->backends[vm->backend] : NULL;
}

int manager_add_device(manager_t *m, vm_t *vm, json_object *entry, bool net, char **ret_cause, manager_done_fn done,
		       void *userdata)
{
	const backend_ops_t *ops = ops_of(m, vm);

	if (!ops || !ops->add_device)
		return -EOPNOTSUPP;
	if (vm->state != VM_STATE_RUNNING)
		return -EBUSY;
	return ops->add_device(m, vm, entry, net, ret_cause, done, userdata);
}

int manager_remove_device(manager_t *m, vm_t *vm, const char *device, json_object **ret_device,
			  char **ret_cause, manager_done_fn done, void *userdata)
{
	const backend_ops_t *ops = ops_of(m, vm);

	if (!ops || !ops->remove_device)
		return -EOPNOTSUPP;
	if (vm->state != VM_STATE_RUNNING)
		return -EBUSY;
	return ops->remove_device(m, vm, device, ret_device, ret_cause, done, userdata);
}
