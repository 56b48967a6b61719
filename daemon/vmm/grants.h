/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blobs mvmd granted to one micro-VM at exec time (KVM_MSG_BLOB_GRANT,
 * docs/worker-protocol.md): the worker reads each from the descriptor that
 * came with the frame, checks its SHA-256 against the name, and keeps at
 * most KVM_GRANTS_MAX of them and at most the guest's memory size in
 * total (the oldest go first). The guest loads one by name with
 * MVM_HC_BLOB_LOAD_HASH. The control thread adds, the vCPU thread loads:
 * the store has its own lock.
 */
#ifndef MVM_KVM_GRANTS_H
#define MVM_KVM_GRANTS_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/ctl.h"

#define KVM_GRANTS_MAX 16u

struct kvm_vm;
typedef struct kvm_grants kvm_grants_t;

/* max_total: bytes kept at most (the guest's memory size). */
int kvm_grants_new(uint64_t max_total, kvm_grants_t **ret);
kvm_grants_t *kvm_grants_free(kvm_grants_t *g);

/*
 * Add the blob named ref (KVM_BLOB_REF_LEN bytes, "sha256:<64 hex>", not
 * NUL terminated) read from fd (borrowed: the caller closes it). 0 when
 * kept (or already held: then fd is not read); -EINVAL for a malformed
 * name, -EBADMSG when the bytes do not hash to it (nothing kept), -EFBIG
 * when it is larger than max_total (kept as a marker, so the guest learns
 * why), -ENOMEM, -EIO or the read's error.
 */
int kvm_grants_add_fd(kvm_grants_t *g, const char *ref, int fd);
/* Number of blobs held and their bytes (tests, status). */
void kvm_grants_stats(kvm_grants_t *g, unsigned *ret_count, uint64_t *ret_bytes);

/* Snapshots (daemon/vmm/snapshot.c): call fn for each blob held, oldest
 * first (data NULL for a marker of one too large), under the store's lock;
 * a negative return of fn stops and is returned. Add one from bytes (a
 * restore): checked against its name as a grant's are; data NULL adds a
 * marker. */
int kvm_grants_each(kvm_grants_t *g, int (*fn)(void *ud, const char *ref, const uint8_t *data, uint64_t size),
		    void *ud);
int kvm_grants_add_data(kvm_grants_t *g, const char *ref, const uint8_t *data, uint64_t size);

/*
 * MVM_HC_BLOB_LOAD_HASH (guest-abi.h): ref_gpa names the blob (71 bytes),
 * [buf, buf + cap) receives it. Sets *rax to the size, or -ENOENT (not
 * granted, or a malformed name), -E2BIG with *rdx = the size (cap too
 * small, nothing copied), -EFBIG (granted but larger than the guest's
 * memory). Returns false with *fault_addr for a guest pointer the call may
 * not use (a bad-pointer fault). g may be NULL (nothing granted).
 */
bool kvm_hc_blob_load_hash(struct kvm_vm *vm, kvm_grants_t *g, uint64_t ref_gpa, uint64_t buf, uint64_t cap,
			   uint64_t *rax, uint64_t *rdx, uint64_t *fault_addr);

#endif
