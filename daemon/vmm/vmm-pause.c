/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pause, resume and snapshots in the worker (docs/worker-protocol.md,
 * docs/snapshots.md). The control thread asks (PAUSE, RESUME, SNAPSHOT);
 * the vCPU thread parks once KVM_RUN came back with the vCPU's state
 * whole, and writes snapshots while parked; the control thread tells the
 * parent what happened after each poll round. The restore from a
 * snapshot runs before the sandbox, instead of loading the guest image.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "snapshot.h"
#include "util/macro.h"
#include "vmm-internal.h"

/* Copy out what the ring holds, leaving it there. */
static size_t vmm_ring_peek(const ring_t *r, uint8_t *p)
{
	for (size_t i = 0; i < r->len; i++)
		p[i] = r->buf[(r->head + i) % r->cap];
	return r->len;
}

/* vCPU thread, parked: the VM and what the worker keeps for its guest
 * (console bytes not yet delivered or read, the workload, the vsock
 * ports it listens on, its granted blobs) into fd. */
static int vmm_snapshot_write(vmm_t *m, int fd, uint64_t *ret_size)
{
	_cleanup_free_ uint8_t *out = malloc(m->out.cap), *in = malloc(m->in.cap);
	kvm_snap_worker_state_t ws = { .workload = m->cfg->workload, .vsock = m->vsock, .grants = m->grants };

	if (!out || !in)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	ws.console_out_len = vmm_ring_peek(&m->out, out);
	ws.console_in_len = vmm_ring_peek(&m->in, in);
	pthread_mutex_unlock(&m->lock);
	ws.console_out = out;
	ws.console_in = in;
	return kvm_snapshot_write(m->vm, &ws, fd, ret_size);
}

bool vmm_pause_requested(void *ud)
{
	vmm_t *m = ud;
	return atomic_load(&m->pause_requested);
}

/* vCPU thread, KVM_RUN just returned EINTR: park while paused, writing
 * the snapshots asked for meanwhile. The vCPU's registers are in kvm_run
 * and KVM has no exit half done, so what is written is the whole VM. */
void vmm_park(void *ud)
{
	vmm_t *m = ud;

	if (!atomic_load(&m->pause_requested) || atomic_load(&m->stop_forced))
		return;
	pthread_mutex_lock(&m->lock);
	m->parked = true;
	pthread_mutex_unlock(&m->lock);
	vmm_efd_signal(m->wake_main);
	for (;;) {
		pthread_mutex_lock(&m->lock);
		int fd = m->snap_fd;
		m->snap_fd = -1;
		pthread_mutex_unlock(&m->lock);
		if (fd >= 0) {
			kvm_msg_snapshot_done_t d = { 0 };
			d.error = vmm_snapshot_write(m, fd, &d.size);
			close(fd);
			pthread_mutex_lock(&m->lock);
			m->snap_res = d;
			m->snap_done = true;
			pthread_mutex_unlock(&m->lock);
			vmm_efd_signal(m->wake_main);
			continue;
		}
		if (!atomic_load(&m->pause_requested) || atomic_load(&m->stop_forced))
			break;
		/* Parked: no guest code runs, no CPU is spent. */
		struct pollfd p = { .fd = m->wake_vcpu, .events = POLLIN };
		if (poll(&p, 1, -1) > 0)
			vmm_efd_drain(m->wake_vcpu);
	}
	pthread_mutex_lock(&m->lock);
	m->parked = false;
	pthread_mutex_unlock(&m->lock);
	vmm_efd_signal(m->wake_main);
}

/* Ask the vCPU thread to park: it leaves KVM_RUN (or a wait) and says so. */
void vmm_pause_vcpu(vmm_t *m)
{
	if (atomic_exchange(&m->pause_requested, true))
		return;
	vmm_efd_signal(m->wake_vcpu);
	vmm_kick_vcpu(m);
}

void vmm_resume_vcpu(vmm_t *m)
{
	atomic_store(&m->pause_requested, false);
	vmm_efd_signal(m->wake_vcpu);
}

static void queue_snapshot_done(vmm_t *m, int error, uint64_t size)
{
	kvm_msg_snapshot_done_t d = { .error = error, .size = size };
	if (m->conn)
		(void)kvm_ctl_queue(m->conn, KVM_MSG_SNAPSHOT_DONE, &d, sizeof(d));
}

/* After each poll round: tell the parent what the vCPU thread did. */
void vmm_pause_progress(vmm_t *m)
{
	pthread_mutex_lock(&m->lock);
	bool parked = m->parked, done = m->snap_done;
	kvm_msg_snapshot_done_t d = m->snap_res;
	m->snap_done = false;
	pthread_mutex_unlock(&m->lock);

	if (parked && m->state == KVM_VM_RUNNING && atomic_load(&m->pause_requested)) {
		m->state = KVM_VM_PAUSED;
		if (m->conn)
			(void)kvm_ctl_queue(m->conn, KVM_MSG_PAUSED, NULL, 0);
	}
	if (done)
		queue_snapshot_done(m, d.error, d.size);
}

void vmm_handle_snapshot(vmm_t *m, int fd)
{
	pthread_mutex_lock(&m->lock);
	bool ok = m->parked && m->state == KVM_VM_PAUSED && m->snap_fd < 0;
	if (ok)
		m->snap_fd = fd;
	pthread_mutex_unlock(&m->lock);
	if (!ok) {
		/* Only a paused VM is written: its vCPU holds still. */
		close(fd);
		queue_snapshot_done(m, -EBUSY, 0);
		return;
	}
	vmm_efd_signal(m->wake_vcpu);
}

/*
 * A VM restored from the snapshot on --snapshot-fd instead of booted:
 * its memory and vCPUs (daemon/vmm/snapshot.c), then what the worker
 * keeps for its guest. Runs before the sandbox, after setup_sockets (the
 * vsock device takes the listeners back). The module of its workload
 * comes as for any VM, checked against its hash; the snapshot must be of
 * that workload.
 */
int vmm_restore(vmm_t *m)
{
	const kvm_vmm_config_t *c = m->cfg;
	_cleanup_free_ kvm_snapshot_t *s = malloc(sizeof(*s));
	const uint8_t *map = NULL;
	size_t len = 0;
	char why[KVM_SNAP_WHY_MAX] = "";
	int r;

	if (!s)
		return vmm_set_error(m, -ENOMEM, "restoring the snapshot");
	r = kvm_snapshot_map(c->snapshot_fd, &map, &len, s, why, sizeof(why));
	if (r == 0)
		r = kvm_snapshot_restore(m->vm, s, m->vm->cpuid, why, sizeof(why));
	if (r == 0 && (s->workload[0] || c->workload) && (!c->workload || strcmp(s->workload, c->workload) != 0)) {
		snprintf(why, sizeof(why), "the snapshot runs %s, the VM %s", s->workload[0] ? s->workload : "no workload",
			 c->workload ? c->workload : "none");
		r = -EINVAL;
	}
	for (uint32_t i = 0; r == 0 && i < s->nlisteners; i++)
		r = kvm_vsock_listen_restore(m->vsock, s->listener_port[i], s->listener_flags[i] & KVM_SNAP_LISTEN_DEFER);
	for (uint32_t i = 0; r == 0 && i < s->ngrants; i++)
		(void)kvm_grants_add_data(m->grants, s->grants[i].ref, s->grants[i].data, s->grants[i].size);
	if (r == 0) {
		ring_put(&m->out, s->console_out, s->console_out_len, true);
		ring_put(&m->in, s->console_in, s->console_in_len, false);
	}
	if (map)
		munmap((void *)map, len);
	safe_close(c->snapshot_fd);
	if (r < 0) {
		memset(&m->result, 0, sizeof(m->result));
		m->result.outcome = KVM_OUTCOME_ERROR;
		m->result.error = r;
		snprintf(m->result.message, sizeof(m->result.message), "snapshot refused: %s",
			 why[0] ? why : strerror(-r));
		return r;
	}
	if (c->blob_fd >= 0) {
		r = kvm_workload_read(c->blob_fd, c->workload, m->vm->mem_size, &m->blob, &m->blob_size);
		if (r < 0)
			return vmm_set_error(m, r, "reading the workload module");
		safe_close(c->blob_fd);
	}
	return 0;
}

/*
 * A warm worker's VM becomes the snapshot's (the ASSIGN's snapshot fd):
 * what its guest did while warm goes (its memory, back to a new VM's; the
 * console rings, empty), then as vmm_restore. Everything here is allowed
 * inside the sandbox: mmap without PROT_EXEC, lseek, and the vCPU's
 * KVM_SET_* ioctls (daemon/vmm/seccomp-policy.c).
 */
int vmm_restore_warm(vmm_t *m)
{
	int r = kvm_vm_mem_clear(m->vm);
	if (r < 0)
		return vmm_set_error(m, r, "clearing the warm VM for its snapshot");
	m->out.head = m->out.len = 0;
	m->in.head = m->in.len = 0;
	return vmm_restore(m);
}
