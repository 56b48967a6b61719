/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshots in the worker: the writer runs on the vCPU thread while it is
 * parked (daemon/vmm/vmm.c), inside the sandbox, so it only reads its VM
 * (KVM_GET_* ioctls the seccomp policy allows) and writes the fd mvmd
 * gave it. The restore runs on a fresh VM before the sandbox, or, in a
 * worker the zygote forked, inside the zygote's filter
 * (sandbox_zygote_rules, daemon/vmm/seccomp-policy.c): so no stat call
 * here either (they take paths), and only the KVM_SET_* ioctls listed
 * there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proto/guest-abi.h"
#include "snapshot.h"
#include "util/macro.h"
#include "util/sha256.h"

/* The MSRs a CPL3 guest can change or see (syscall MSRs are never used,
 * see docs/design.md §5, but a guest may set them; the TSC it reads). */
static const uint32_t snap_msrs[] = {
	0x00000010, /* IA32_TSC */
	0xc0000081, /* STAR */
	0xc0000082, /* LSTAR */
	0xc0000083, /* CSTAR */
	0xc0000084, /* SYSCALL_MASK */
	0xc0000102, /* KERNEL_GS_BASE */
};

typedef struct writer {
	int fd;
	uint64_t off;
	sha256_ctx h;
	int error;
} writer_t;

static void put(writer_t *w, const void *p, size_t n)
{
	const uint8_t *b = p;

	if (w->error)
		return;
	sha256_update(&w->h, p, n);
	while (n) {
		ssize_t k = pwrite(w->fd, b, n, (off_t)w->off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			w->error = k < 0 ? -errno : -EIO;
			return;
		}
		b += k;
		n -= (size_t)k;
		w->off += (uint64_t)k;
	}
}

static void put_pad(writer_t *w, uint64_t len)
{
	static const uint8_t zero[8];
	if (len % 8)
		put(w, zero, 8 - len % 8);
}

static void put_section(writer_t *w, uint32_t type, uint64_t len)
{
	kvm_snap_section_t s = { .type = type, .len = len };
	put(w, &s, sizeof(s));
}

typedef struct run {
	uint64_t gpa, len;
} run_t;

/* Runs of pages that are not all zero (kvm_vm_next_data). */
static int scan_memory(kvm_vm_t *vm, run_t **ret, size_t *ret_n, uint64_t *ret_pages)
{
	run_t *runs = NULL;
	size_t n = 0, cap = 0;
	uint64_t pages = 0;

	for (uint64_t lo = 0, hi; kvm_vm_next_data(vm, &lo, &hi); lo = hi) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			run_t *nr = realloc(runs, cap * sizeof(*runs));
			if (!nr) {
				free(runs);
				return -ENOMEM;
			}
			runs = nr;
		}
		runs[n++] = (run_t){ lo, hi - lo };
		pages += (hi - lo) / KVM_SNAP_PAGE;
	}
	*ret = runs;
	*ret_n = n;
	*ret_pages = pages;
	return 0;
}

typedef struct vcpu_save {
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	uint32_t xsave[KVM_SNAP_XSAVE_SIZE / 4]; /* KVM_GET_XSAVE's struct kvm_xsave */
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[ELEMENTSOF(snap_msrs)];
	} msrs;
} vcpu_save_t;

static int read_vcpu(kvm_vm_t *vm, unsigned i, vcpu_save_t *v)
{
	int fd = vm->vcpu[i].fd, r;

	memset(v, 0, sizeof(*v));
	if (ioctl(fd, KVM_GET_SREGS, &v->sregs) < 0 || ioctl(fd, KVM_GET_XCRS, &v->xcrs) < 0 ||
	    ioctl(fd, KVM_GET_XSAVE, v->xsave) < 0)
		return -errno;
	v->msrs.h.nmsrs = ELEMENTSOF(snap_msrs);
	for (size_t k = 0; k < ELEMENTSOF(snap_msrs); k++)
		v->msrs.e[k].index = snap_msrs[k];
	/* KVM stops at the first MSR it lacks: keep those it read. */
	r = ioctl(fd, KVM_GET_MSRS, &v->msrs);
	if (r < 0)
		return -errno;
	v->msrs.h.nmsrs = (uint32_t)r;
	return 0;
}

typedef struct grant_walk {
	writer_t *w;
	bool count_only;
	uint32_t n;
	uint64_t bytes;
} grant_walk_t;

static int put_grant(void *ud, const char *ref, const uint8_t *data, uint64_t size)
{
	grant_walk_t *g = ud;
	uint8_t flags = data ? 0 : KVM_SNAP_GRANT_TOO_BIG;
	uint64_t sz = data ? size : 0;

	if (g->n >= KVM_SNAP_GRANTS_MAX)
		return 0;
	g->n++;
	g->bytes += (KVM_BLOB_REF_LEN + 1 + 8 + sz + 7) & ~7ull;
	if (g->count_only)
		return 0;
	put(g->w, ref, KVM_BLOB_REF_LEN);
	put(g->w, &flags, 1);
	put(g->w, &sz, 8);
	if (sz)
		put(g->w, data, sz);
	put_pad(g->w, KVM_BLOB_REF_LEN + 1 + 8 + sz);
	return g->w->error;
}

int kvm_snapshot_write(kvm_vm_t *vm, const kvm_snap_worker_state_t *ws, int fd, uint64_t *ret_size)
{
	_cleanup_free_ run_t *runs = NULL;
	_cleanup_free_ vcpu_save_t *vs = NULL;
	size_t nruns = 0;
	uint64_t pages = 0, mem_len = 0;
	uint32_t ports[KVM_SNAP_LISTENERS_MAX], pflags[KVM_SNAP_LISTENERS_MAX];
	writer_t w = { .fd = fd };
	int r;

	if (!vm->cpuid)
		return -EINVAL;
	vs = calloc(vm->nvcpus, sizeof(*vs));
	if (!vs)
		return -ENOMEM;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		r = read_vcpu(vm, i, &vs[i]);
		if (r < 0)
			return r;
	}
	r = scan_memory(vm, &runs, &nruns, &pages);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nruns; i++)
		mem_len += 16 + runs[i].len;

	kvm_snap_worker_head_t wh = {
		.console_out_len = (uint32_t)MIN(ws->console_out_len, (size_t)KVM_SNAP_CONSOLE_MAX),
		.console_in_len = (uint32_t)MIN(ws->console_in_len, (size_t)KVM_SNAP_CONSOLE_MAX),
		.workload_len = ws->workload ? KVM_BLOB_REF_LEN : 0,
		.nlisteners = (uint32_t)kvm_vsock_listeners(ws->vsock, ports, pflags, KVM_SNAP_LISTENERS_MAX),
	};
	grant_walk_t gw = { .w = &w, .count_only = true };
	if (ws->grants)
		(void)kvm_grants_each(ws->grants, put_grant, &gw);
	wh.ngrants = gw.n;
	uint64_t strings = (uint64_t)wh.console_out_len + wh.console_in_len + wh.workload_len;
	uint64_t worker_len = sizeof(wh) + ((strings + 7) & ~7ull) + 8ull * wh.nlisteners + gw.bytes;
	uint64_t cpuid_len = 8 + (uint64_t)vm->cpuid->nent * sizeof(struct kvm_cpuid_entry2);

	kvm_snap_header_t h = {
		.version = KVM_SNAP_VERSION, .header_size = KVM_SNAP_HEADER_SIZE, .memory_mib = vm->memory_mib,
		.vcpus = vm->nvcpus, .nsections = 2 + vm->nvcpus + (nruns ? 1 : 0), .mem_pages = pages,
	};
	memcpy(h.magic, KVM_SNAP_MAGIC, 8);
	h.total_size = KVM_SNAP_HEADER_SIZE + 16 + ((cpuid_len + 7) & ~7ull) +
		       vm->nvcpus * (16 + ((KVM_SNAP_VCPU_FIXED + 7) & ~7ull)) + 16 + worker_len + KVM_SNAP_TRAILER_SIZE;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		h.total_size += vs[i].msrs.h.nmsrs * sizeof(struct kvm_msr_entry);
	if (nruns)
		h.total_size += 16 + mem_len;

	sha256_init(&w.h);
	put(&w, &h, sizeof(h));
	uint32_t cn[2] = { vm->cpuid->nent, 0 };
	put_section(&w, KVM_SNAP_SEC_CPUID, cpuid_len);
	put(&w, cn, sizeof(cn));
	put(&w, vm->cpuid->entries, (size_t)vm->cpuid->nent * sizeof(struct kvm_cpuid_entry2));
	put_pad(&w, cpuid_len);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		kvm_snap_vcpu_head_t vh = { .index = i, .nmsrs = vs[i].msrs.h.nmsrs };
		uint64_t len = KVM_SNAP_VCPU_FIXED + vh.nmsrs * sizeof(struct kvm_msr_entry);
		put_section(&w, KVM_SNAP_SEC_VCPU, len);
		put(&w, &vh, sizeof(vh));
		/* The registers of kvm_run: the last KVM_RUN stored them (and
		 * a vCPU that never ran has its first ones there). */
		put(&w, &vm->vcpu[i].run->s.regs.regs, sizeof(struct kvm_regs));
		put(&w, &vs[i].sregs, sizeof(vs[i].sregs));
		put(&w, &vs[i].xcrs, sizeof(vs[i].xcrs));
		put(&w, &vs[i].xsave, sizeof(vs[i].xsave));
		put(&w, vs[i].msrs.e, vh.nmsrs * sizeof(struct kvm_msr_entry));
		put_pad(&w, len);
	}
	if (nruns) {
		put_section(&w, KVM_SNAP_SEC_MEMORY, mem_len);
		for (size_t i = 0; i < nruns; i++) {
			put(&w, &runs[i], sizeof(runs[i]));
			put(&w, vm->mem + runs[i].gpa, runs[i].len);
		}
	}
	put_section(&w, KVM_SNAP_SEC_WORKER, worker_len);
	put(&w, &wh, sizeof(wh));
	put(&w, ws->console_out + (ws->console_out_len - wh.console_out_len), wh.console_out_len);
	put(&w, ws->console_in, wh.console_in_len);
	if (ws->workload)
		put(&w, ws->workload, KVM_BLOB_REF_LEN);
	put_pad(&w, strings);
	for (uint32_t i = 0; i < wh.nlisteners; i++) {
		uint32_t l[2] = { ports[i], pflags[i] };
		put(&w, l, sizeof(l));
	}
	gw = (grant_walk_t){ .w = &w };
	if (ws->grants && wh.ngrants)
		(void)kvm_grants_each(ws->grants, put_grant, &gw);
	if (w.error)
		return w.error;
	/* Grants changed between the two walks (the control thread adds
	 * them): the sizes written no longer match the header. */
	if (gw.n != wh.ngrants || w.off + KVM_SNAP_TRAILER_SIZE != h.total_size)
		return -EAGAIN;
	uint8_t digest[SHA256_DIGEST_LEN];
	sha256_ctx fin = w.h;
	sha256_final(&fin, digest);
	put(&w, digest, sizeof(digest));
	if (w.error)
		return w.error;
	if (ftruncate(fd, (off_t)w.off) < 0)
		return -errno;
	*ret_size = w.off;
	return 0;
}

int kvm_snapshot_map(int fd, const uint8_t **ret_map, size_t *ret_len, kvm_snapshot_t *ret, char *why,
		     size_t why_size)
{
	void *p;
	int r;

	/* Its size by lseek, not fstat (see above); a pipe or socket cannot
	 * seek, and mmap refuses what is not a file. */
	off_t size = lseek(fd, 0, SEEK_END);
	if (size < 0 && errno != ESPIPE)
		return -errno;
	if (size <= 0 || (uint64_t)size > (4ull << 30)) {
		snprintf(why, why_size, "snapshot is not a file of a plausible size");
		return -EBADMSG;
	}
	p = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	r = kvm_snapshot_parse(p, (size_t)size, false, ret, why, why_size);
	if (r < 0) {
		munmap(p, (size_t)size);
		return r;
	}
	*ret_map = p;
	*ret_len = (size_t)size;
	return 0;
}

/* A micro-VM's vCPU: CPL3 code and stack, long mode, the worker's page
 * tables (docs/design.md §5). Anything else is not a snapshot of ours. */
static bool vcpu_state_ok(const kvm_snap_vcpu_state_t *v)
{
	const struct kvm_sregs *s = &v->sregs;

	return s->cs.dpl == 3 && (s->cs.selector & 3) == 3 && s->ss.dpl == 3 && (s->ss.selector & 3) == 3 &&
	       s->cr3 == MVM_GUEST_PML4 && (s->efer & (1ull << 10)) && (s->cr0 & (1ull << 31)) &&
	       v->xcrs.nr_xcrs <= KVM_MAX_XCRS;
}

int kvm_snapshot_restore(kvm_vm_t *vm, const kvm_snapshot_t *s, const struct kvm_cpuid2 *host_cpuid, char *why,
			 size_t why_size)
{
	_cleanup_free_ kvm_snap_vcpu_state_t *v = NULL;
	uint64_t pos = 0, gpa, len;
	const uint8_t *data;
	int r;

	if (s->hdr.memory_mib != vm->memory_mib || s->hdr.vcpus != vm->nvcpus || s->mem_size != vm->mem_size) {
		snprintf(why, why_size, "snapshot of a %u MiB, %u vCPU VM restored into a %u MiB, %u vCPU one",
			 s->hdr.memory_mib, s->hdr.vcpus, vm->memory_mib, vm->nvcpus);
		return -EINVAL;
	}
	r = kvm_snapshot_check_cpuid(s, host_cpuid, why, why_size);
	if (r < 0)
		return r;
	v = malloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		kvm_snapshot_vcpu(s, i, v);
		if (!vcpu_state_ok(v)) {
			snprintf(why, why_size, "snapshot's vCPU %u is not a micro-VM's (CPL3, its page tables)", i);
			return -EINVAL;
		}
	}
	/* The page tables kvm_vm_new wrote are in the snapshot too (never
	 * zero); every other page of a fresh VM is zero, as the pages the
	 * snapshot left out were. */
	while (kvm_snapshot_mem_next(s, &pos, &gpa, &data, &len) > 0)
		memcpy(vm->mem + gpa, data, len);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		kvm_vcpu_t *c = &vm->vcpu[i];
		struct {
			struct kvm_msrs h;
			struct kvm_msr_entry e[KVM_SNAP_MSRS_MAX];
		} msrs;
		kvm_snapshot_vcpu(s, i, v);
		msrs.h = (struct kvm_msrs){ .nmsrs = v->nmsrs };
		memcpy(msrs.e, v->msrs, v->nmsrs * sizeof(v->msrs[0]));
		if (ioctl(c->fd, KVM_SET_XCRS, &v->xcrs) < 0 || ioctl(c->fd, KVM_SET_SREGS, &v->sregs) < 0 ||
		    ioctl(c->fd, KVM_SET_XSAVE, v->xsave) < 0) {
			r = -errno;
			snprintf(why, why_size, "KVM refused vCPU %u's state: %s", i, strerror(-r));
			return r;
		}
		if (v->nmsrs && ioctl(c->fd, KVM_SET_MSRS, &msrs) != (int)v->nmsrs) {
			snprintf(why, why_size, "KVM refused vCPU %u's MSRs", i);
			return -EINVAL;
		}
		/* Through kvm_run, as every exit's registers go. */
		c->run->s.regs.regs = v->regs;
		c->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	}
	return 0;
}
