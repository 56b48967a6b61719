/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshot of a kvm micro-VM (docs/snapshots.md): what mvm-vmm writes
 * for compute.vm.snapshot and reads back to restore, and what mvmd checks
 * before it hands one to a worker. A blob of kind "snapshot" in the store,
 * so its bytes may come from anywhere (a registry pull): the parser trusts
 * nothing, checks every count and range, and is fuzzed
 * (tests/fuzz/fuzz_kvm_snapshot.c).
 *
 *   header (64 bytes) | sections (16-byte head + payload, 8-aligned) | SHA-256 of all before (32)
 *
 * Host byte order and the x86-64 layouts of <linux/kvm.h>: a snapshot is
 * restored on a host with the same CPU features (the CPUID section), hence
 * the same architecture. The parser returns views into the caller's
 * buffer; it allocates nothing.
 */
#ifndef MVM_KVM_SNAPSHOT_H
#define MVM_KVM_SNAPSHOT_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/ctl.h"

#define KVM_SNAP_MAGIC "MVMSNAP" /* and a NUL: 8 bytes */
#define KVM_SNAP_VERSION 1u
#define KVM_SNAP_HEADER_SIZE 64u
#define KVM_SNAP_TRAILER_SIZE 32u
#define KVM_SNAP_PAGE 4096u
#define KVM_SNAP_SECTIONS_MAX 64u
#define KVM_SNAP_CPUID_MAX 1024u
#define KVM_SNAP_MSRS_MAX 64u
#define KVM_SNAP_LISTENERS_MAX 8u
#define KVM_SNAP_GRANTS_MAX 16u
#define KVM_SNAP_CONSOLE_MAX (64u << 10)
#define KVM_SNAP_WHY_MAX 160

typedef enum kvm_snap_section_type {
	KVM_SNAP_SEC_CPUID = 1,  /* the CPUID table the vCPUs were given */
	KVM_SNAP_SEC_VCPU = 2,   /* one per vCPU: regs, sregs, xcrs, xsave, msrs */
	KVM_SNAP_SEC_MEMORY = 3, /* runs of guest pages: {u64 gpa, u64 len, bytes} */
	KVM_SNAP_SEC_WORKER = 4, /* console, workload, vsock listeners, grants */
	_KVM_SNAP_SEC_MAX,
} kvm_snap_section_type_t;

typedef struct kvm_snap_header {
	char magic[8];        /* KVM_SNAP_MAGIC */
	uint32_t version;     /* KVM_SNAP_VERSION */
	uint32_t header_size; /* KVM_SNAP_HEADER_SIZE */
	uint32_t memory_mib;
	uint32_t vcpus;
	uint32_t nsections;
	uint32_t flags;       /* 0 */
	uint64_t total_size;  /* the whole file, trailer included */
	uint64_t mem_pages;   /* pages in the MEMORY section */
	uint8_t reserved[16]; /* 0 */
} kvm_snap_header_t;

typedef struct kvm_snap_section {
	uint32_t type;
	uint32_t flags; /* 0 */
	uint64_t len;   /* payload bytes (padded to 8 after) */
} kvm_snap_section_t;

/* KVM_SNAP_SEC_VCPU: this, then kvm_regs, kvm_sregs, kvm_xcrs, kvm_xsave,
 * then nmsrs kvm_msr_entry. */
typedef struct kvm_snap_vcpu_head {
	uint32_t index;
	uint32_t nmsrs;
} kvm_snap_vcpu_head_t;

/* struct kvm_xsave's legacy 4 KiB region (newer headers end the struct
 * with a flexible array, which cannot sit inside another struct). */
#define KVM_SNAP_XSAVE_SIZE 4096u
#define KVM_SNAP_VCPU_FIXED                                                                          \
	(sizeof(kvm_snap_vcpu_head_t) + sizeof(struct kvm_regs) + sizeof(struct kvm_sregs) +         \
	 sizeof(struct kvm_xcrs) + KVM_SNAP_XSAVE_SIZE)

/* KVM_SNAP_SEC_WORKER: this, then the console bytes (out, then in), the
 * workload reference, padding to 8, nlisteners {u32 port, u32 flags},
 * then ngrants of {ref[71], u8 flags, u64 size, bytes, padding to 8}. */
typedef struct kvm_snap_worker_head {
	uint32_t console_out_len; /* guest output not yet delivered */
	uint32_t console_in_len;  /* input the guest has not read yet */
	uint32_t workload_len;    /* 0, or KVM_BLOB_REF_LEN: "sha256:<hex>" */
	uint32_t nlisteners;
	uint32_t ngrants;
	uint32_t pad;
} kvm_snap_worker_head_t;

#define KVM_SNAP_LISTEN_DEFER 0x1u
#define KVM_SNAP_GRANT_TOO_BIG 0x1u /* kept as a marker without bytes */

typedef struct kvm_snap_grant {
	char ref[KVM_BLOB_REF_LEN];
	uint8_t flags;
	uint64_t size;
	const uint8_t *data; /* size bytes, or NULL with KVM_SNAP_GRANT_TOO_BIG */
} kvm_snap_grant_t;

/* A parsed snapshot: views into the buffer given to kvm_snapshot_parse(). */
typedef struct kvm_snapshot {
	kvm_snap_header_t hdr;
	uint64_t mem_size;                     /* guest memory in bytes (as the worker sizes it) */
	const uint8_t *cpuid;                  /* ncpuid kvm_cpuid_entry2, unaligned */
	uint32_t ncpuid;
	const uint8_t *vcpu[KVM_VM_VCPUS_MAX]; /* each section's payload */
	uint32_t vcpu_nmsrs[KVM_VM_VCPUS_MAX];
	const uint8_t *mem;                    /* the MEMORY payload, or NULL */
	uint64_t mem_len;
	const uint8_t *console_out, *console_in;
	uint32_t console_out_len, console_in_len;
	char workload[KVM_BLOB_REF_LEN + 1];   /* "" without one */
	uint32_t nlisteners;
	uint32_t listener_port[KVM_SNAP_LISTENERS_MAX];
	uint32_t listener_flags[KVM_SNAP_LISTENERS_MAX];
	uint32_t ngrants;
	kvm_snap_grant_t grants[KVM_SNAP_GRANTS_MAX];
} kvm_snapshot_t;

/* Guest memory bytes a worker gives memory_mib (whole 2 MiB pages). */
uint64_t kvm_snap_mem_size(uint32_t memory_mib);

/*
 * Check and take apart a snapshot of len bytes. 0 on success. Errors,
 * with why (may be NULL) saying what in words: -EBADMSG not a snapshot,
 * a bad count or range, or bytes that do not hash to the trailer (a
 * corrupt file); -ENODATA a truncated one (shorter than its header says);
 * -EPROTONOSUPPORT a format version this code does not read.
 * With head_only, only the header is read and checked (len may be just
 * the header's): what mvmd needs to size a VM.
 */
int kvm_snapshot_parse(const uint8_t *buf, size_t len, bool head_only, kvm_snapshot_t *ret, char *why,
		       size_t why_size);

/*
 * Whether the snapshot's CPUID table is the one this host gives its
 * vCPUs: 0, or -EXDEV with why naming the first leaf that differs. A
 * guest that ran on other CPU features may use instructions this host
 * lacks (or miss ones it expects): refused, never guessed.
 */
int kvm_snapshot_check_cpuid(const kvm_snapshot_t *s, const struct kvm_cpuid2 *host, char *why, size_t why_size);

/* The MEMORY runs, in order: *pos starts at 0; 1 with a run, 0 at the end. */
int kvm_snapshot_mem_next(const kvm_snapshot_t *s, uint64_t *pos, uint64_t *ret_gpa, const uint8_t **ret_data,
			  uint64_t *ret_len);

/* One vCPU's saved state, copied out of the (unaligned) section. */
typedef struct kvm_snap_vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	uint32_t xsave[KVM_SNAP_XSAVE_SIZE / 4]; /* a struct kvm_xsave's region */
	uint32_t nmsrs;
	struct kvm_msr_entry msrs[KVM_SNAP_MSRS_MAX];
} kvm_snap_vcpu_state_t;
void kvm_snapshot_vcpu(const kvm_snapshot_t *s, unsigned idx, kvm_snap_vcpu_state_t *ret);

#endif
