/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a warm worker does with the pool's messages before its ASSIGN:
 * a PRIME (its module, verified here and compiled by the guest), a
 * TEMPLATE (a primed worker writes itself into the file mvmd made) and a
 * RESTORE (an unprimed worker becomes the primed VM a template holds).
 * The wire format is lib/proto/warm.h; the template itself reuse.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kvm-vm.h"
#include "util/macro.h"
#include "vmm-internal.h"

/* Close what came with a refused message. */
void vmm_close_warm_fds(int fds[KVM_WARM_FD_MAX])
{
	for (int i = 0; i < KVM_WARM_FD_MAX; i++)
		fds[i] = safe_close(fds[i]);
}

/*
 * A PRIME: the module this worker's VM will run, before the VM itself.
 * Read and verified here (inside the sandbox), then named in the boot
 * info with MVM_BOOT_F_PRIMED, so that the guest loads and compiles it
 * and calls MVM_HC_CONFIG again. Only an ASSIGN for that same module may
 * follow: a worker never holds a module its VM does not run.
 */
int vmm_take_prime(vmm_t *m, const kvm_warm_assign_t *a, int fds[KVM_WARM_FD_MAX], char *primed, size_t size)
{
	int r;

	if (primed[0] || strlen(a->workload) >= size) {
		vmm_close_warm_fds(fds);
		return vmm_set_error(m, -EINVAL, "warm worker: a second PRIME, or a bad hash");
	}
	snprintf(primed, size, "%s", a->workload);
	r = kvm_workload_read(fds[KVM_WARM_FD_BLOB], primed, m->vm->mem_size, &m->blob, &m->blob_size);
	vmm_close_warm_fds(fds);
	if (r < 0)
		return vmm_set_error(m, r, r == -EFBIG ? "primed module larger than guest memory"
				 : r == -EBADMSG ? "primed module does not match its hash" : "reading the primed module");
	kvm_workload_prefault(m->vm, m->blob_size);
	r = kvm_vm_write_boot_info(m->vm, NULL, 0, NULL, 0, primed);
	if (r == 0)
		r = kvm_vm_write_workload_info(m->vm, NULL, 0, m->blob_size);
	if (r == 0)
		r = kvm_vm_set_primed(m->vm);
	if (r < 0)
		return vmm_set_error(m, r, "writing the primed boot info");
	m->ops.blob = m->blob;
	m->ops.blob_size = m->blob_size;
	return 0;
}

/*
 * A TEMPLATE (a primed worker writes its template into the file mvmd
 * made) or a RESTORE (an unprimed one becomes the primed VM a template
 * holds, its module read and verified as a PRIME's is, never compiled):
 * lib/proto/warm.h, daemon/vmm/reuse.c. Errors are set in m->result;
 * -EFAULT: the guest memory may be gone.
 */
int vmm_take_template(vmm_t *m, const kvm_warm_assign_t *a, int fds[KVM_WARM_FD_MAX], char *primed, size_t size)
{
	int r;

	if (a->memory_mib != m->own.memory_mib || a->vcpus != m->own.vcpus) {
		vmm_close_warm_fds(fds);
		return vmm_set_error(m, -EINVAL, "warm worker: a template for a VM of another size");
	}
	if (a->type == KVM_WARM_MSG_TEMPLATE) {
		if (!primed[0] || strcmp(a->workload, primed) != 0 || !m->tmpl) {
			vmm_close_warm_fds(fds);
			return vmm_set_error(m, -EINVAL, "warm worker: asked for a template of a module it was not primed with");
		}
		r = vmm_template_write(m, fds[KVM_WARM_FD_TEMPLATE]);
		if (r == 0)
			fds[KVM_WARM_FD_TEMPLATE] = -1;
		vmm_close_warm_fds(fds);
		return r < 0 ? (vmm_set_error(m, r, "warm worker: writing the template"), r) : 0;
	}
	if (primed[0] || strlen(a->workload) >= size) {
		vmm_close_warm_fds(fds);
		return vmm_set_error(m, -EINVAL, "warm worker: a RESTORE to a primed worker, or a bad hash");
	}
	snprintf(primed, size, "%s", a->workload);
	r = kvm_workload_read(fds[KVM_WARM_FD_BLOB], primed, m->vm->mem_size, &m->blob, &m->blob_size);
	if (r == 0)
		r = vmm_template_restore(m, fds[KVM_WARM_FD_TEMPLATE]);
	if (r == 0)
		fds[KVM_WARM_FD_TEMPLATE] = -1;
	vmm_close_warm_fds(fds);
	if (r < 0)
		return vmm_set_error(m, r, "warm worker: restoring the template"), r;
	m->ops.blob = m->blob;
	m->ops.blob_size = m->blob_size;
	return 0;
}
