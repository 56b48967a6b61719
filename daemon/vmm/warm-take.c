/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a warm worker does with the pool's messages, waiting in its
 * guest's MVM_HC_CONFIG (vmm_host_config): a PRIME (its module, verified
 * here and compiled by the guest), a TEMPLATE (a primed worker writes
 * itself into the file mvmd made), a RESTORE (an unprimed worker becomes
 * the primed VM a template holds), and the ASSIGN that makes it a VM.
 * The wire format is lib/proto/warm.h; the template itself reuse.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kvm-vm.h"
#include "util/macro.h"
#include "vmm-internal.h"

/* Close what came with a refused message. */
static void close_warm_fds(int fds[KVM_WARM_FD_MAX])
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
static int take_prime(vmm_t *m, const kvm_warm_assign_t *a, int fds[KVM_WARM_FD_MAX], char *primed, size_t size)
{
	int r;

	if (primed[0] || strlen(a->workload) >= size) {
		close_warm_fds(fds);
		return vmm_set_error(m, -EINVAL, "warm worker: a second PRIME, or a bad hash");
	}
	snprintf(primed, size, "%s", a->workload);
	r = kvm_workload_read(fds[KVM_WARM_FD_BLOB], primed, m->vm->mem_size, &m->blob, &m->blob_size);
	close_warm_fds(fds);
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
	vmm_host_ops_init(m);
	return 0;
}

/*
 * A TEMPLATE (a primed worker writes its template into the file mvmd
 * made) or a RESTORE (an unprimed one becomes the primed VM a template
 * holds, its module read and verified as a PRIME's is, never compiled):
 * lib/proto/warm.h, daemon/vmm/reuse.c. Errors are set in m->result;
 * -EFAULT: the guest memory may be gone.
 */
static int take_template(vmm_t *m, const kvm_warm_assign_t *a, int fds[KVM_WARM_FD_MAX], char *primed, size_t size)
{
	int r;

	if (a->memory_mib != m->own.memory_mib || a->vcpus != m->own.vcpus) {
		close_warm_fds(fds);
		return vmm_set_error(m, -EINVAL, "warm worker: a template for a VM of another size");
	}
	if (a->type == KVM_WARM_MSG_TEMPLATE) {
		if (!primed[0] || strcmp(a->workload, primed) != 0 || !m->tmpl) {
			close_warm_fds(fds);
			return vmm_set_error(m, -EINVAL, "warm worker: asked for a template of a module it was not primed with");
		}
		r = vmm_template_write(m, fds[KVM_WARM_FD_TEMPLATE]);
		if (r == 0)
			fds[KVM_WARM_FD_TEMPLATE] = -1;
		close_warm_fds(fds);
		return r < 0 ? (vmm_set_error(m, r, "warm worker: writing the template"), r) : 0;
	}
	if (primed[0] || strlen(a->workload) >= size) {
		close_warm_fds(fds);
		return vmm_set_error(m, -EINVAL, "warm worker: a RESTORE to a primed worker, or a bad hash");
	}
	snprintf(primed, size, "%s", a->workload);
	r = kvm_workload_read(fds[KVM_WARM_FD_BLOB], primed, m->vm->mem_size, &m->blob, &m->blob_size);
	if (r == 0)
		r = vmm_template_restore(m, fds[KVM_WARM_FD_TEMPLATE]);
	if (r == 0)
		fds[KVM_WARM_FD_TEMPLATE] = -1;
	close_warm_fds(fds);
	if (r < 0)
		return vmm_set_error(m, r, "warm worker: restoring the template"), r;
	vmm_host_ops_init(m);
	return 0;
}

/*
 * MVM_HC_CONFIG from a warm guest, on the vCPU thread: tell the pool we
 * are ready, wait for a PRIME (then the guest compiles and asks again) or
 * the ASSIGN, become that VM, go live. A parent that closes the pool
 * socket instead wants no VM from us: leave quietly.
 */
int vmm_host_config(void *ud, kvm_result_t *res)
{
	static uint8_t msg[KVM_WARM_MSG_MAX];
	static kvm_warm_assign_t a;
	static char primed[80]; /* the module a PRIME named, "" none */
	static bool tmpl_tried;
	vmm_t *m = ud;
	kvm_vmm_config_t *c = &m->own;
	int fds[KVM_WARM_FD_MAX], r;

	(void)res; /* it is m->result */
	if (c->pool_fd < 0)
		return 0; /* a cold guest that asks: it has its configuration */
	/* Its module compiled: what a reused worker goes back to. Without
	 * one it is simply never reused (and a failed remap ends it). */
	if (primed[0] && !m->tmpl && !tmpl_tried) {
		tmpl_tried = true;
		if (vmm_template_take(m) == -EFAULT)
			_exit(KVM_VMM_EXIT_ERROR);
	}
again:;
	kvm_warm_ready_t ready = { .type = KVM_WARM_MSG_READY, .version = KVM_WARM_VERSION, .pid = getpid() };
	if (write(c->pool_fd, &ready, sizeof(ready)) != (ssize_t)sizeof(ready))
		_exit(KVM_VMM_EXIT_OK);
	r = kvm_warm_recv(c->pool_fd, msg, &a, fds);
	if (r == -EPIPE || r == -ECONNRESET)
		_exit(KVM_VMM_EXIT_OK);
	if (r < 0) {
		vmm_set_error(m, r, "warm worker: bad message on the pool socket");
		return 1;
	}
	if (a.type == KVM_WARM_MSG_TEMPLATE || a.type == KVM_WARM_MSG_RESTORE) {
		r = take_template(m, &a, fds, primed, sizeof(primed));
		if (r == -EFAULT)
			_exit(KVM_VMM_EXIT_ERROR);
		if (r < 0)
			return 1;
		tmpl_tried = true;
		goto again;
	}
	if (a.type == KVM_WARM_MSG_PRIME) {
		if (a.memory_mib != c->memory_mib || a.vcpus != c->vcpus) {
			close_warm_fds(fds);
			vmm_set_error(m, -EINVAL, "warm worker: primed for a VM of another size");
			return 1;
		}
		return take_prime(m, &a, fds, primed, sizeof(primed)) < 0 ? 1 : 0;
	}
	r = kvm_vmm_assign_apply(c, &a, fds);
	/* A reusable run's worker comes back to the pool on this socket. */
	if (!(c->flags & KVM_WARM_F_REUSE) || !m->tmpl)
		c->pool_fd = safe_close(c->pool_fd);
	if (vmm_setup_sockets(m) < 0)
		return 1;
	if (r < 0) {
		vmm_set_error(m, r, "warm worker: assigned a VM of another size");
		return 1;
	}
	if (primed[0] && (!a.workload || strcmp(a.workload, primed) != 0 || c->blob_fd >= 0)) {
		vmm_set_error(m, -EINVAL, "warm worker: assigned a VM that does not run the module it was primed with");
		return 1;
	}
	/* A VM that continues from a snapshot: this guest's memory goes,
	 * the snapshot's comes, and the vCPU resumes where the snapshot's
	 * stood, not in this hypercall (vmm_restore_warm). */
	if (c->snapshot_fd >= 0) {
		r = primed[0] ? vmm_set_error(m, -EINVAL, "warm worker: a snapshot for a primed worker")
			      : vmm_restore_warm(m);
		if (r == -EFAULT)
			_exit(KVM_VMM_EXIT_ERROR);
		if (r < 0)
			return 1;
		vmm_host_ops_init(m); /* the vCPU loop serves this VM now */
		return vmm_go_live(m) < 0 ? 1 : 2;
	}
	/* A primed worker has its module already (vmm_configure_vm keeps it). */
	if (vmm_configure_vm(m) < 0)
		return 1;
	/* The heap populated for a module it might have got, beyond what
	 * this VM's needs: back to the kernel. A primed guest has compiled
	 * its module into that heap: it keeps all of it. */
	if (!primed[0])
		kvm_workload_unprefault(m->vm, c->warm_bytes / 8, m->blob_size);
	vmm_host_ops_init(m); /* the vCPU loop serves this VM now */
	return vmm_go_live(m) < 0 ? 1 : 0;
}
