/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshot format's parser (lib/proto/snapshot.h, docs/snapshots.md).
 * Every count and range read from the bytes is checked before it is used:
 * the bytes may come from a registry.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "snapshot.h"
#include "util/sha256.h"

static int fail(int err, char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (why && size) {
		va_start(ap, fmt);
		vsnprintf(why, size, fmt, ap);
		va_end(ap);
	}
	return err;
}

uint64_t kvm_snap_mem_size(uint32_t memory_mib)
{
	return ((uint64_t)memory_mib + 1) / 2 * (2ull << 20);
}

static uint64_t pad8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

static bool ref_ok(const char *p, size_t len)
{
	if (len != KVM_BLOB_REF_LEN || memcmp(p, "sha256:", 7) != 0)
		return false;
	for (size_t i = 7; i < len; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

static int parse_vcpu(kvm_snapshot_t *s, const uint8_t *p, uint64_t len, char *why, size_t wn)
{
	kvm_snap_vcpu_head_t h;

	if (len < KVM_SNAP_VCPU_FIXED)
		return fail(-EBADMSG, why, wn, "vCPU section too short (%llu bytes)", (unsigned long long)len);
	memcpy(&h, p, sizeof(h));
	if (h.index >= s->hdr.vcpus)
		return fail(-EBADMSG, why, wn, "vCPU section for vCPU %u of %u", h.index, s->hdr.vcpus);
	if (s->vcpu[h.index])
		return fail(-EBADMSG, why, wn, "two sections for vCPU %u", h.index);
	if (h.nmsrs > KVM_SNAP_MSRS_MAX ||
	    len != KVM_SNAP_VCPU_FIXED + (uint64_t)h.nmsrs * sizeof(struct kvm_msr_entry))
		return fail(-EBADMSG, why, wn, "vCPU %u: %u MSRs in %llu bytes", h.index, h.nmsrs,
			    (unsigned long long)len);
	s->vcpu[h.index] = p;
	s->vcpu_nmsrs[h.index] = h.nmsrs;
	return 0;
}

static int parse_memory(kvm_snapshot_t *s, const uint8_t *p, uint64_t len, char *why, size_t wn)
{
	uint64_t pos = 0, next_free = 0, pages = 0;

	while (pos < len) {
		uint64_t run[2];
		if (len - pos < sizeof(run))
			return fail(-EBADMSG, why, wn, "memory run head cut off at %llu", (unsigned long long)pos);
		memcpy(run, p + pos, sizeof(run));
		pos += sizeof(run);
		/* Page-aligned, inside guest memory, ascending, not touching
		 * the one before (they would be one run). */
		if (run[0] % KVM_SNAP_PAGE || run[1] == 0 || run[1] % KVM_SNAP_PAGE || run[0] < next_free ||
		    run[0] > s->mem_size || run[1] > s->mem_size - run[0] || run[1] > len - pos)
			return fail(-EBADMSG, why, wn, "memory run [0x%llx, +0x%llx) out of order or range",
				    (unsigned long long)run[0], (unsigned long long)run[1]);
		next_free = run[0] + run[1] + 1;
		pages += run[1] / KVM_SNAP_PAGE;
		pos += run[1];
	}
	if (pages != s->hdr.mem_pages)
		return fail(-EBADMSG, why, wn, "memory holds %llu pages, the header says %llu",
			    (unsigned long long)pages, (unsigned long long)s->hdr.mem_pages);
	s->mem = p;
	s->mem_len = len;
	return 0;
}

static int parse_worker(kvm_snapshot_t *s, const uint8_t *p, uint64_t len, char *why, size_t wn)
{
	kvm_snap_worker_head_t h;
	uint64_t pos = sizeof(h);

	if (len < sizeof(h))
		return fail(-EBADMSG, why, wn, "worker section too short");
	memcpy(&h, p, sizeof(h));
	if (h.console_out_len > KVM_SNAP_CONSOLE_MAX || h.console_in_len > KVM_SNAP_CONSOLE_MAX ||
	    (h.workload_len != 0 && h.workload_len != KVM_BLOB_REF_LEN) || h.nlisteners > KVM_SNAP_LISTENERS_MAX ||
	    h.ngrants > KVM_SNAP_GRANTS_MAX || h.pad)
		return fail(-EBADMSG, why, wn, "worker section: a count out of range");
	uint64_t strings = (uint64_t)h.console_out_len + h.console_in_len + h.workload_len;
	if (len - pos < strings)
		return fail(-EBADMSG, why, wn, "worker section cut off");
	s->console_out = p + pos;
	s->console_out_len = h.console_out_len;
	pos += h.console_out_len;
	s->console_in = p + pos;
	s->console_in_len = h.console_in_len;
	pos += h.console_in_len;
	if (h.workload_len) {
		if (!ref_ok((const char *)p + pos, h.workload_len))
			return fail(-EBADMSG, why, wn, "worker section: the workload is no sha256:<hex>");
		memcpy(s->workload, p + pos, h.workload_len);
		s->workload[h.workload_len] = 0;
		pos += h.workload_len;
	}
	pos = pad8(pos);
	if (pos > len || (len - pos) / 8 < h.nlisteners)
		return fail(-EBADMSG, why, wn, "worker section: listeners cut off");
	for (uint32_t i = 0; i < h.nlisteners; i++, pos += 8) {
		uint32_t l[2];
		memcpy(l, p + pos, sizeof(l));
		if (l[1] & ~KVM_SNAP_LISTEN_DEFER)
			return fail(-EBADMSG, why, wn, "worker section: unknown listener flags");
		for (uint32_t j = 0; j < i; j++)
			if (s->listener_port[j] == l[0])
				return fail(-EBADMSG, why, wn, "worker section: port %u listened on twice", l[0]);
		s->listener_port[i] = l[0];
		s->listener_flags[i] = l[1];
	}
	s->nlisteners = h.nlisteners;
	for (uint32_t i = 0; i < h.ngrants; i++) {
		kvm_snap_grant_t *g = &s->grants[i];
		if (len - pos < KVM_BLOB_REF_LEN + 1 + 8)
			return fail(-EBADMSG, why, wn, "worker section: grant %u cut off", i);
		memcpy(g->ref, p + pos, KVM_BLOB_REF_LEN);
		g->flags = p[pos + KVM_BLOB_REF_LEN];
		memcpy(&g->size, p + pos + KVM_BLOB_REF_LEN + 1, 8);
		pos += KVM_BLOB_REF_LEN + 1 + 8;
		if (!ref_ok(g->ref, KVM_BLOB_REF_LEN) || (g->flags & ~KVM_SNAP_GRANT_TOO_BIG) ||
		    ((g->flags & KVM_SNAP_GRANT_TOO_BIG) && g->size) || g->size > s->mem_size || g->size > len - pos)
			return fail(-EBADMSG, why, wn, "worker section: grant %u malformed", i);
		g->data = g->flags & KVM_SNAP_GRANT_TOO_BIG ? NULL : p + pos;
		pos = pad8(pos + g->size);
		if (pos > len)
			return fail(-EBADMSG, why, wn, "worker section: grant %u cut off", i);
	}
	s->ngrants = h.ngrants;
	if (pos != len)
		return fail(-EBADMSG, why, wn, "worker section: %llu bytes after its end", (unsigned long long)(len - pos));
	return 0;
}

int kvm_snapshot_parse(const uint8_t *buf, size_t len, bool head_only, kvm_snapshot_t *ret, char *why,
		       size_t wn)
{
	kvm_snapshot_t *s = ret;
	uint8_t digest[SHA256_DIGEST_LEN];
	uint64_t pos;
	bool seen[_KVM_SNAP_SEC_MAX] = { false };
	int r;

	memset(s, 0, sizeof(*s));
	if (len < sizeof(s->hdr))
		return fail(len >= 8 && memcmp(buf, KVM_SNAP_MAGIC, 8) == 0 ? -ENODATA : -EBADMSG, why, wn,
			    "%zu bytes: no snapshot header", len);
	memcpy(&s->hdr, buf, sizeof(s->hdr));
	if (memcmp(s->hdr.magic, KVM_SNAP_MAGIC, 8) != 0)
		return fail(-EBADMSG, why, wn, "not an mvmd snapshot (bad magic)");
	if (s->hdr.version != KVM_SNAP_VERSION)
		return fail(-EPROTONOSUPPORT, why, wn, "snapshot format version %u; this mvmd reads version %u",
			    s->hdr.version, KVM_SNAP_VERSION);
	bool zero = true;
	for (size_t i = 0; i < sizeof(s->hdr.reserved); i++)
		zero &= s->hdr.reserved[i] == 0;
	if (s->hdr.header_size != KVM_SNAP_HEADER_SIZE || s->hdr.flags || !zero)
		return fail(-EBADMSG, why, wn, "snapshot header malformed");
	if (s->hdr.memory_mib < KVM_VM_MEM_MIN_MIB || s->hdr.memory_mib > KVM_VM_MEM_MAX_MIB ||
	    s->hdr.vcpus < 1 || s->hdr.vcpus > KVM_VM_VCPUS_MAX || s->hdr.nsections > KVM_SNAP_SECTIONS_MAX)
		return fail(-EBADMSG, why, wn, "snapshot of a VM no worker builds (%u MiB, %u vCPUs, %u sections)",
			    s->hdr.memory_mib, s->hdr.vcpus, s->hdr.nsections);
	s->mem_size = kvm_snap_mem_size(s->hdr.memory_mib);
	if (s->hdr.total_size < KVM_SNAP_HEADER_SIZE + KVM_SNAP_TRAILER_SIZE ||
	    s->hdr.mem_pages > s->mem_size / KVM_SNAP_PAGE)
		return fail(-EBADMSG, why, wn, "snapshot header malformed (sizes)");
	if (head_only)
		return 0;
	if (len < s->hdr.total_size)
		return fail(-ENODATA, why, wn, "snapshot truncated: %zu of %llu bytes", len,
			    (unsigned long long)s->hdr.total_size);
	if (len != s->hdr.total_size)
		return fail(-EBADMSG, why, wn, "%llu bytes after the snapshot's end",
			    (unsigned long long)(len - s->hdr.total_size));
	sha256(buf, len - KVM_SNAP_TRAILER_SIZE, digest);
	if (memcmp(digest, buf + len - KVM_SNAP_TRAILER_SIZE, SHA256_DIGEST_LEN) != 0)
		return fail(-EBADMSG, why, wn, "snapshot corrupt: its bytes do not hash to its trailer");

	uint64_t end = len - KVM_SNAP_TRAILER_SIZE;
	pos = KVM_SNAP_HEADER_SIZE;
	for (uint32_t i = 0; i < s->hdr.nsections; i++) {
		kvm_snap_section_t sec;
		if (end - pos < sizeof(sec))
			return fail(-EBADMSG, why, wn, "section %u cut off", i);
		memcpy(&sec, buf + pos, sizeof(sec));
		pos += sizeof(sec);
		if (sec.flags || sec.len > end - pos || pad8(sec.len) > end - pos)
			return fail(-EBADMSG, why, wn, "section %u (type %u) malformed", i, sec.type);
		const uint8_t *p = buf + pos;
		switch (sec.type) {
		case KVM_SNAP_SEC_CPUID: {
			uint32_t n[2];
			if (seen[sec.type] || sec.len < sizeof(n))
				return fail(-EBADMSG, why, wn, "CPUID section malformed");
			memcpy(n, p, sizeof(n));
			if (n[0] > KVM_SNAP_CPUID_MAX || n[1] ||
			    sec.len != sizeof(n) + (uint64_t)n[0] * sizeof(struct kvm_cpuid_entry2))
				return fail(-EBADMSG, why, wn, "CPUID section malformed");
			s->cpuid = p + sizeof(n);
			s->ncpuid = n[0];
			r = 0;
			break;
		}
		case KVM_SNAP_SEC_VCPU:
			r = parse_vcpu(s, p, sec.len, why, wn);
			break;
		case KVM_SNAP_SEC_MEMORY:
			r = seen[sec.type] ? fail(-EBADMSG, why, wn, "two memory sections")
					   : parse_memory(s, p, sec.len, why, wn);
			break;
		case KVM_SNAP_SEC_WORKER:
			r = seen[sec.type] ? fail(-EBADMSG, why, wn, "two worker sections")
					   : parse_worker(s, p, sec.len, why, wn);
			break;
		default:
			/* Version 1 knows these four: anything else is a newer
			 * writer's, and version says so first. */
			r = fail(-EBADMSG, why, wn, "unknown section type %u", sec.type);
		}
		if (r < 0)
			return r;
		seen[sec.type] = true;
		for (uint64_t k = sec.len; k < pad8(sec.len); k++)
			if (p[k])
				return fail(-EBADMSG, why, wn, "section %u: padding not zero", i);
		pos += pad8(sec.len);
	}
	if (pos != end)
		return fail(-EBADMSG, why, wn, "%llu bytes after the last section", (unsigned long long)(end - pos));
	if (!seen[KVM_SNAP_SEC_CPUID] || !seen[KVM_SNAP_SEC_WORKER])
		return fail(-EBADMSG, why, wn, "snapshot without its %s section", seen[KVM_SNAP_SEC_CPUID] ? "worker" : "CPUID");
	for (uint32_t i = 0; i < s->hdr.vcpus; i++)
		if (!s->vcpu[i])
			return fail(-EBADMSG, why, wn, "snapshot without the state of vCPU %u", i);
	if (!s->mem && s->hdr.mem_pages)
		return fail(-EBADMSG, why, wn, "snapshot without its memory");
	return 0;
}

static const char *const reg_names[] = { "eax", "ebx", "ecx", "edx" };

int kvm_snapshot_check_cpuid(const kvm_snapshot_t *s, const struct kvm_cpuid2 *host, char *why, size_t wn)
{
	if (s->ncpuid != host->nent)
		return fail(-EXDEV, why, wn,
			    "snapshot taken on a host with other CPU features: %u CPUID leaves there, %u here", s->ncpuid,
			    host->nent);
	for (uint32_t i = 0; i < s->ncpuid; i++) {
		struct kvm_cpuid_entry2 e;
		const struct kvm_cpuid_entry2 *h = NULL;
		memcpy(&e, s->cpuid + (size_t)i * sizeof(e), sizeof(e));
		for (uint32_t j = 0; j < host->nent && !h; j++)
			if (host->entries[j].function == e.function && host->entries[j].index == e.index)
				h = &host->entries[j];
		if (!h)
			return fail(-EXDEV, why, wn,
				    "snapshot taken on a host with other CPU features: CPUID leaf 0x%x.%u is not here",
				    e.function, e.index);
		uint32_t a[4] = { e.eax, e.ebx, e.ecx, e.edx }, b[4] = { h->eax, h->ebx, h->ecx, h->edx };
		for (int k = 0; k < 4; k++)
			if (a[k] != b[k])
				return fail(-EXDEV, why, wn,
					    "snapshot taken on a host with other CPU features: CPUID leaf 0x%x.%u %s is "
					    "0x%08x there, 0x%08x here",
					    e.function, e.index, reg_names[k], a[k], b[k]);
	}
	return 0;
}

int kvm_snapshot_mem_next(const kvm_snapshot_t *s, uint64_t *pos, uint64_t *ret_gpa, const uint8_t **ret_data,
			  uint64_t *ret_len)
{
	uint64_t run[2];

	if (!s->mem || *pos >= s->mem_len)
		return 0;
	/* parse_memory checked every run. */
	memcpy(run, s->mem + *pos, sizeof(run));
	*ret_gpa = run[0];
	*ret_len = run[1];
	*ret_data = s->mem + *pos + sizeof(run);
	*pos += sizeof(run) + run[1];
	return 1;
}

void kvm_snapshot_vcpu(const kvm_snapshot_t *s, unsigned idx, kvm_snap_vcpu_state_t *ret)
{
	const uint8_t *p = s->vcpu[idx] + sizeof(kvm_snap_vcpu_head_t);

	memset(ret, 0, sizeof(*ret));
	memcpy(&ret->regs, p, sizeof(ret->regs));
	p += sizeof(ret->regs);
	memcpy(&ret->sregs, p, sizeof(ret->sregs));
	p += sizeof(ret->sregs);
	memcpy(&ret->xcrs, p, sizeof(ret->xcrs));
	p += sizeof(ret->xcrs);
	memcpy(&ret->xsave, p, sizeof(ret->xsave));
	p += sizeof(ret->xsave);
	ret->nmsrs = s->vcpu_nmsrs[idx];
	memcpy(ret->msrs, p, (size_t)ret->nmsrs * sizeof(ret->msrs[0]));
}
