/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker side of an ASSIGN (lib/proto/warm.h): how mvm-vmm learns which
 * VM it is. A warm worker waits for it in MVM_HC_CONFIG; a cold one reads
 * it first thing. Either way the same message, decoder and code path, so
 * that nothing a tenant gave (args, environment, capabilities, the
 * workload hash) is ever on a worker's command line, where every local
 * user could read it in /proc/PID/cmdline.
 */
#include <errno.h>
#include <unistd.h>

#include "vmm.h"
#include "util/macro.h"

int kvm_vmm_assign_apply(kvm_vmm_config_t *c, const kvm_warm_assign_t *a, int fds[KVM_WARM_FD_MAX])
{
	/* The VM's control socket, result file and log first: whatever is
	 * wrong below is then told to the parent as this VM's outcome. */
	c->ctl_fd = fds[KVM_WARM_FD_CTL];
	c->result_fd = fds[KVM_WARM_FD_RESULT];
	c->vsock_fd = fds[KVM_WARM_FD_VSOCK];
	c->blob_fd = fds[KVM_WARM_FD_BLOB];
	c->console_fd = fds[KVM_WARM_FD_CONSOLE];
	/* A cold worker's comes as --snapshot-fd (it is needed before the
	 * VM is built); a warm one's here. */
	if (fds[KVM_WARM_FD_SNAPSHOT] >= 0)
		c->snapshot_fd = fds[KVM_WARM_FD_SNAPSHOT];
	if (fds[KVM_WARM_FD_LOG] >= 0) {
		(void)dup3(fds[KVM_WARM_FD_LOG], 2, 0);
		safe_close(fds[KVM_WARM_FD_LOG]);
	}
	for (int i = 0; i < KVM_WARM_FD_MAX; i++)
		fds[i] = -1; /* all in c now, or closed */
	c->args = (char **)a->args;
	c->nargs = a->nargs;
	c->caps = (char **)a->caps;
	c->ncaps = a->ncaps;
	c->envs = (char **)a->envs;
	c->nenvs = a->nenvs;
	c->workload = a->workload;
	c->flags = a->flags;
	return a->memory_mib == c->memory_mib && a->vcpus == c->vcpus ? 0 : -EINVAL;
}

int kvm_vmm_assign_recv(kvm_vmm_config_t *c)
{
	/* The strings stay in these for the process's life. */
	static uint8_t msg[KVM_WARM_MSG_MAX];
	static kvm_warm_assign_t a;
	int fds[KVM_WARM_FD_MAX], r;

	r = kvm_warm_recv(c->assign_fd, msg, &a, fds);
	c->assign_fd = safe_close(c->assign_fd);
	if (r < 0)
		return r == -EPIPE ? -EBADMSG : r; /* the parent sends it before it spawns us */
	if (a.type != KVM_WARM_MSG_ASSIGN) {
		for (int i = 0; i < KVM_WARM_FD_MAX; i++)
			safe_close(fds[i]);
		return -EBADMSG;
	}
	return kvm_vmm_assign_apply(c, &a, fds);
}
