/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reused workers (docs/workloads.md, "Reused workers"; lib/proto/warm.h,
 * KVM_WARM_F_REUSE). A primed worker whose guest has compiled its module
 * and waits in MVM_HC_CONFIG takes a template of itself: its guest memory
 * goes into a memfd, which then backs the guest MAP_PRIVATE, and its
 * vCPU's registers, segments and extended state are kept. Every page the
 * guest (or the host, for it: boot info, stdin, random bytes) writes
 * after that is a private copy; so after a run, what the run changed
 * goes back to the template: written back in place where the next run
 * will touch first, dropped with MADV_DONTNEED elsewhere (vmm_reset),
 * and the guest reads the template again. The vCPU state is set back, every worker-side state
 * of the run is dropped, and the worker waits for its next ASSIGN as it
 * did the first time.
 *
 * One template per module for the whole pool (lib/proto/warm.h, TEMPLATE
 * and RESTORE): the first primed worker writes its template into a file
 * mvmd made (the guest memory at its offsets, then the vCPU state at
 * offset mem_size) and maps it in place of its own memfd; mvmd seals it,
 * and further workers become that primed VM by mapping the same file
 * MAP_PRIVATE, so they share its page cache and never compile the module.
 *
 * Runs on the vCPU thread, inside the sandbox: memfd_create, madvise and
 * the KVM_SET_* ioctls here are in daemon/vmm/seccomp-policy.c for this.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proto/guest-abi.h"
#include "proto/snapshot.h"
#include "util/macro.h"
#include "vmm-internal.h"

#define PAGE 4096u

struct vmm_template {
	int mem_fd; /* the guest memory as it was: backs the guest MAP_PRIVATE */
	const uint8_t *view; /* the same, read-only and shared (vmm_reset); NULL until then */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	uint32_t xsave[KVM_SNAP_XSAVE_SIZE / 4]; /* KVM_GET_XSAVE's struct kvm_xsave */
};

/* The vCPU state after the memory in a shared template file. */
#define TEMPLATE_MAGIC "MVMTMPL"
#define TEMPLATE_VERSION 1u
typedef struct template_state {
	char magic[8];
	uint32_t version, memory_mib;
	uint64_t mem_size;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	uint32_t xsave[KVM_SNAP_XSAVE_SIZE / 4];
} template_state_t;

/* The non-zero pages of the guest into fd at their offsets, a run at a
 * time (zero pages stay holes: they cost nothing and read as zero). */
static int copy_pages(const kvm_vm_t *vm, int fd)
{
	for (uint64_t off = 0, end; kvm_vm_next_data(vm, &off, &end); off = end) {
		for (uint64_t at = off; at < end;) {
			ssize_t k = pwrite(fd, vm->mem + at, end - at, (off_t)at);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return k < 0 ? negative_errno() : -EIO;
			at += (uint64_t)k;
		}
	}
	return 0;
}

static void prefault(vmm_t *m);
static int map_template(kvm_vm_t *vm, int fd);

int vmm_template_take(vmm_t *m)
{
	kvm_vm_t *vm = m->vm;
	kvm_vcpu_t *v = &vm->vcpu[0];
	struct vmm_template *t;
	int r;

	/* One vCPU, stopped in MVM_HC_CONFIG: its registers are in kvm_run. */
	if (m->tmpl || vm->nvcpus != 1)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->regs = v->run->s.regs.regs;
	if (ioctl(v->fd, KVM_GET_SREGS, &t->sregs) < 0 || ioctl(v->fd, KVM_GET_XCRS, &t->xcrs) < 0 ||
	    ioctl(v->fd, KVM_GET_XSAVE, t->xsave) < 0) {
		r = negative_errno();
		free(t);
		return r;
	}
	t->mem_fd = memfd_create("mvm-template", MFD_CLOEXEC);
	if (t->mem_fd < 0) {
		r = negative_errno();
		free(t);
		return r;
	}
	r = ftruncate(t->mem_fd, (off_t)vm->mem_size) < 0 ? negative_errno() : copy_pages(vm, t->mem_fd);
	/* Same address: KVM's memory slot keeps pointing at it, and its MMU
	 * notifier drops the old mappings. From here on the guest's pages
	 * are the memfd's until it writes one. */
	if (r == 0)
		r = map_template(vm, t->mem_fd);
	if (r < 0) {
		/* Before the mmap the guest's memory is untouched: no template,
		 * the worker goes on. After a failed one it cannot: -EFAULT,
		 * the caller ends it. */
		close(t->mem_fd);
		free(t);
		return r;
	}
	m->tmpl = t;
	prefault(m);
	return 0;
}

bool vmm_reusable(const vmm_t *m)
{
	return m->tmpl && (m->cfg->flags & KVM_WARM_F_REUSE) && m->cfg->pool_fd >= 0 && m->loop_error == 0 &&
	       m->result.outcome == KVM_OUTCOME_EXIT && !atomic_load(&m->stop_forced) &&
	       !atomic_load(&m->stop_requested);
}

static void ring_clear(ring_t *r)
{
	if (r->buf)
		memset(r->buf, 0, r->cap);
	r->head = r->len = 0;
}

/* What the worker kept for the run: its fds, its strings, its rings,
 * grants, vsock, actor queues and counters. */
static int reset_worker_state(vmm_t *m)
{
	kvm_vmm_config_t *c = &m->own;
	int r;

	c->ctl_fd = safe_close(c->ctl_fd);
	c->result_fd = safe_close(c->result_fd);
	c->vsock_fd = -1; /* the vsock device's: closed with it below */
	c->blob_fd = safe_close(c->blob_fd);
	c->args = c->caps = c->envs = NULL;
	c->nargs = c->ncaps = c->nenvs = 0;
	c->workload = NULL;
	c->flags = 0;
	m->snap_fd = safe_close(m->snap_fd);
	m->vsock = kvm_vsock_free(m->vsock);
	m->grants = kvm_grants_free(m->grants);
	r = kvm_grants_new(m->vm->mem_size, &m->grants);
	if (r < 0)
		return r;
	kvm_actor_free(m->actor);
	m->actor = NULL;
	r = kvm_actor_new(m->wake_vcpu, m->wake_main, &m->actor);
	if (r < 0)
		return r;
	vmm_host_ops_init(m); /* the vCPU loop's view of all that */
	pthread_mutex_lock(&m->lock);
	ring_clear(&m->out);
	ring_clear(&m->in);
	ring_clear(&m->err);
	m->in_eof = m->eof_unseen = false;
	m->console_bytes = m->console_dropped = 0;
	m->parked = m->snap_done = false;
	m->snap_res = (kvm_msg_snapshot_done_t){ 0 };
	pthread_mutex_unlock(&m->lock);
	memset(m->chunk, 0, KVM_MSG_PAYLOAD_MAX);
	__atomic_store_n(&m->exits, 0, __ATOMIC_RELAXED);
	atomic_store(&m->stop_requested, false);
	atomic_store(&m->stop_forced, false);
	atomic_store(&m->vcpu_done, false);
	atomic_store(&m->pause_requested, false);
	vmm_efd_drain(m->wake_main);
	vmm_efd_drain(m->wake_vcpu);
	m->ctl_started = false;
	m->loop_error = 0;
	m->state = KVM_VM_STARTING;
	m->stop_deadline = -1;
	memset(&m->result, 0, sizeof(m->result));
	return 0;
}

/* The vCPU as the template holds it: the guest inside MVM_HC_CONFIG,
 * whose answer comes with the next ASSIGN (vmm_reset_resume). The general
 * registers travel in kvm_run (KVM_CAP_SYNC_REGS): the next KVM_RUN
 * loads them. */
static int vcpu_to_template(kvm_vcpu_t *v, const struct vmm_template *t)
{
	if (ioctl(v->fd, KVM_SET_SREGS, &t->sregs) < 0 || ioctl(v->fd, KVM_SET_XCRS, &t->xcrs) < 0 ||
	    ioctl(v->fd, KVM_SET_XSAVE, t->xsave) < 0)
		return negative_errno();
	v->run->s.regs.regs = t->regs;
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	return 0;
}

/* Each page of [lo, lo + len) that is not the template's any more gets
 * the template's bytes back, in place. */
static void pages_to_template(kvm_vm_t *vm, const uint8_t *view, uint64_t lo, uint64_t len)
{
	for (uint64_t a = lo; a < lo + len; a += PAGE)
		if (memcmp(vm->mem + a, view + a, PAGE) != 0)
			memcpy(vm->mem + a, view + a, PAGE);
}

/*
 * The guest memory back to the template. Every page the run (or the host,
 * for it) wrote is a private copy. Those the next run will touch first,
 * kvm_workload_prefault's ranges (populated, so private copies whether
 * written or not), are compared with the template and written back where
 * they differ: they stay where they are, for the host and for KVM's
 * page tables, so the next run neither faults them in nor copies them
 * again. Everything else is dropped (MADV_DONTNEED): the guest reads the
 * template's pages there again, and a page it writes is copied then.
 */
static int memory_to_template(vmm_t *m)
{
	struct vmm_template *t = m->tmpl;
	kvm_vm_t *vm = m->vm;
	uint64_t lo[2], len[2], at = 0;

	if (!t->view) {
		void *p = mmap(NULL, vm->mem_size, PROT_READ, MAP_SHARED, t->mem_fd, 0);
		if (p == MAP_FAILED)
			return negative_errno();
		t->view = p;
	}
	for (unsigned i = 0, n = kvm_workload_prefault_ranges(vm, m->blob_size, lo, len); i < n; i++) {
		if (lo[i] > at && madvise(vm->mem + at, lo[i] - at, MADV_DONTNEED) < 0)
			return negative_errno();
		pages_to_template(vm, t->view, lo[i], len[i]);
		at = lo[i] + len[i];
	}
	if (at < vm->mem_size && madvise(vm->mem + at, vm->mem_size - at, MADV_DONTNEED) < 0)
		return negative_errno();
	return 0;
}

int vmm_reset(vmm_t *m)
{
	struct vmm_template *t = m->tmpl;
	kvm_vcpu_t *v = &m->vm->vcpu[0];
	int r;

	r = memory_to_template(m);
	if (r == 0)
		r = vcpu_to_template(v, t);
	if (r < 0)
		return r;
	return reset_worker_state(m);
}

void vmm_reset_resume(vmm_t *m, uint64_t mono_ns)
{
	struct kvm_run *run = m->vm->vcpu[0].run;

	/* As the MVM_HC_CONFIG hypercall answers (daemon/vmm/vcpu.c). */
	run->s.regs.regs.rax = 0;
	run->s.regs.regs.rdx = mono_ns;
	run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
}

/* The pages a workload's guest writes first (daemon/vmm/module.c) are
 * made private copies again now, off the run's clock: a remap or a reset
 * dropped them, and a first guest touch of a page whose host page is not
 * there costs ~200 µs on nested hosts. */
static void prefault(vmm_t *m)
{
	kvm_workload_prefault(m->vm, m->blob_size);
}

/* Map fd's first mem_size bytes over the guest memory, MAP_PRIVATE. */
static int map_template(kvm_vm_t *vm, int fd)
{
	if (mmap(vm->mem, vm->mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, 0) ==
	    MAP_FAILED)
		return -EFAULT; /* the old mapping may be gone with it */
	return 0;
}

int vmm_template_write(vmm_t *m, int fd)
{
	struct vmm_template *t = m->tmpl;
	kvm_vm_t *vm = m->vm;
	template_state_t *st;
	int r;

	/* No run has touched it since: the guest memory is the template. */
	if (!t)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	memcpy(st->magic, TEMPLATE_MAGIC, sizeof(st->magic));
	st->version = TEMPLATE_VERSION;
	st->memory_mib = vm->memory_mib;
	st->mem_size = vm->mem_size;
	st->regs = t->regs;
	st->sregs = t->sregs;
	st->xcrs = t->xcrs;
	memcpy(st->xsave, t->xsave, sizeof(st->xsave));
	r = copy_pages(vm, fd);
	if (r == 0 && pwrite(fd, st, sizeof(*st), (off_t)vm->mem_size) != (ssize_t)sizeof(*st))
		r = -EIO;
	free(st);
	if (r == 0)
		r = map_template(vm, fd);
	if (r < 0)
		return r;
	/* Its own copy goes: from now on it shares mvmd's. */
	close(t->mem_fd);
	t->mem_fd = fd;
	prefault(m);
	return 0;
}

int vmm_template_restore(vmm_t *m, int fd)
{
	kvm_vm_t *vm = m->vm;
	kvm_vcpu_t *v = &vm->vcpu[0];
	_cleanup_free_ template_state_t *st = calloc(1, sizeof(*st));
	struct vmm_template *t;
	int r;

	if (!st)
		return -ENOMEM;
	if (m->tmpl || vm->nvcpus != 1)
		return -EINVAL;
	if (pread(fd, st, sizeof(*st), (off_t)vm->mem_size) != (ssize_t)sizeof(*st))
		return -EBADMSG;
	/* Written by another worker of this mvmd, sealed since: still, only
	 * a micro-VM's state (CPL3, the worker's page tables) of this size. */
	if (memcmp(st->magic, TEMPLATE_MAGIC, sizeof(st->magic)) != 0 || st->version != TEMPLATE_VERSION ||
	    st->memory_mib != vm->memory_mib || st->mem_size != vm->mem_size || st->sregs.cs.dpl != 3 ||
	    st->sregs.cr3 != MVM_GUEST_PML4)
		return -EBADMSG;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->mem_fd = fd;
	t->regs = st->regs;
	t->sregs = st->sregs;
	t->xcrs = st->xcrs;
	memcpy(t->xsave, st->xsave, sizeof(t->xsave));
	r = map_template(vm, fd);
	if (r == 0)
		r = vcpu_to_template(v, t);
	if (r < 0) {
		free(t);
		return r;
	}
	m->tmpl = t;
	prefault(m);
	return 0;
}
