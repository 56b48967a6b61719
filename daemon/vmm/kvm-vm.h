/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One micro-VM inside the worker: the KVM VM, its guest memory, its vCPUs
 * and the code that runs them. Used only by mvm-vmm (daemon/vmm/vmm.c).
 */
#ifndef MVM_KVM_VM_H
#define MVM_KVM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/cpuid.h"
#include "proto/ctl.h"

#define KVM_VM_IMAGE_MAX (64u << 20)

struct kvm_run;

typedef struct kvm_vcpu {
	int fd;
	struct kvm_run *run;
} kvm_vcpu_t;

typedef struct kvm_vm {
	int kvm_fd; /* borrowed */
	int vm_fd;
	uint8_t *mem;
	uint64_t mem_size;
	uint32_t memory_mib;
	struct kvm_cpuid2 *cpuid; /* the table the vCPUs were given (owned): snapshots */
	unsigned nvcpus;
	size_t run_size;
	kvm_vcpu_t vcpu[KVM_VM_VCPUS_MAX];
	uint64_t entry, image_lo, image_hi;
} kvm_vm_t;

/* The ELF loader (daemon/vmm/elf.c), kept free of KVM so it can be fuzzed. */
typedef struct kvm_elf_image {
	uint64_t entry;
	uint64_t lo, hi; /* [lo, hi) spans every PT_LOAD segment */
} kvm_elf_image_t;

int kvm_elf_load(const uint8_t *file, size_t size, uint8_t *mem, uint64_t mem_size,
		 uint64_t min_addr, kvm_elf_image_t *ret);

/* Host services a running vCPU calls back into (daemon/vmm/vmm.c). */
/* How an actor's wait in the host ended (kvm_host_ops_t.msg_wait). */
typedef enum kvm_msg_wait {
	KVM_MSG_WAIT_AGAIN, /* the inbox has something, or the deadline passed: look */
	KVM_MSG_WAIT_STOP,  /* a stop was asked for */
	KVM_MSG_WAIT_PAUSE, /* a pause was asked for: leave the hypercall to park */
} kvm_msg_wait_t;

typedef struct kvm_host_ops {
	void *userdata;
	void (*console_write)(void *ud, const uint8_t *buf, size_t len);
	/* bytes read, 0 none waiting, -EPIPE: the input ended */
	int64_t (*console_read)(void *ud, uint8_t *buf, size_t cap);
	/* MVM_HC_STDERR_WRITE: the workload's stderr */
	void (*stderr_write)(void *ud, const uint8_t *buf, size_t len);
	uint32_t (*wait)(void *ud, int64_t timeout_ns);
	bool (*stop_forced)(void *ud);
	/* Pause (docs/worker-protocol.md): pause_requested is asked before
	 * each KVM_RUN (true: run with immediate_exit, which completes the
	 * last exit's hypercall and enters no guest code); park is called on
	 * the vCPU thread each time KVM_RUN returned EINTR, when the vCPU's
	 * state is whole and consistent, and returns when the vCPU may run
	 * again (or must stop). NULL: never paused. */
	bool (*pause_requested)(void *ud);
	void (*park)(void *ud);
	struct kvm_vsock *vsock; /* hypercalls 16..20 (daemon/vmm/vsock.c); NULL: -ENOSYS */
	/* MVM_HC_CONFIG from a warm guest: block until the VM has its
	 * configuration (boot info rewritten), then 0 to resume the guest,
	 * 1 when the VM ended instead (*res says how), or 2 when the VM was
	 * replaced by a snapshot's (its registers are set: the hypercall
	 * returns nothing). NULL: returns 0 at once. */
	int (*config)(void *ud, kvm_result_t *res);
	/* The workload module (MVM_HC_BLOB_LOAD), verified; NULL: none. */
	const uint8_t *blob;
	uint64_t blob_size;
	/* Blobs granted at exec time (MVM_HC_BLOB_LOAD_HASH, daemon/vmm/grants.h); NULL: none. */
	struct kvm_grants *grants;
	/* Actors (MVM_HC_MSG_*, daemon/vmm/actor.h); NULL: -ENOSYS. msg_wait
	 * blocks until the actor's inbox has something, a stop, a pause, or
	 * deadline_ns (CLOCK_MONOTONIC, -1 none). */
	struct kvm_actor *actor;
	kvm_msg_wait_t (*msg_wait)(void *ud, int64_t deadline_ns);
} kvm_host_ops_t;

/* kvm_fd is borrowed. vcpus in 1..KVM_VM_VCPUS_MAX, memory in MiB. cpuid:
 * the table to give the vCPUs, or NULL to ask KVM (slow: see cpuid.c). */
int kvm_vm_new(int kvm_fd, uint32_t memory_mib, unsigned vcpus,
	       const struct kvm_cpuid2 *cpuid, kvm_vm_t **ret);
/* Load the guest ELF read from fd and set every vCPU up to enter it. */
int kvm_vm_load_image_fd(kvm_vm_t *vm, int fd);
/* Write the boot-info block; strings are copied into guest memory. */
int kvm_vm_write_boot_info(kvm_vm_t *vm, char *const *args, size_t nargs,
			   char *const *caps, size_t ncaps, const char *workload);
/* Mark the boot info warm (MVM_BOOT_F_WARM, guest-abi.h): the guest
 * touches warm_bytes of heap, then waits in MVM_HC_CONFIG. */
int kvm_vm_set_warm(kvm_vm_t *vm, uint64_t warm_bytes);
/* The next run of guest pages that are not all zero, at or after *lo:
 * [*lo, *hi), page-aligned and as long as it goes; false when there is
 * none. A page the guest never touched reads as zero (the kernel's zero
 * page: no memory is spent on it). Snapshots and templates keep these. */
bool kvm_vm_next_data(const kvm_vm_t *vm, uint64_t *lo, uint64_t *hi);
/* Guest memory as a new VM's before its image: all zero, at the same
 * address (the memory slot keeps pointing at it), for a warm VM that
 * continues from a snapshot (which brings its page tables). -EFAULT: the
 * old mapping may be gone, and the VM with it. */
int kvm_vm_mem_clear(kvm_vm_t *vm);
/* Mark boot info that names only its workload primed (MVM_BOOT_F_PRIMED). */
int kvm_vm_set_primed(kvm_vm_t *vm);
/* Append envp (version 2 fields) after what kvm_vm_write_boot_info wrote,
 * and record the workload module's size (daemon/vmm/module.c). */
int kvm_vm_write_workload_info(kvm_vm_t *vm, char *const *envs, size_t nenvs,
			       uint64_t workload_size);
/* Read a workload blob from fd (at most max bytes, -EFBIG beyond) and
 * check it hashes to ref ("sha256:<hex>"), -EBADMSG otherwise. */
int kvm_workload_read(int fd, const char *ref, uint64_t max, uint8_t **ret, uint64_t *ret_size);
/* Populate the host pages a workload guest touches first (the start of
 * its heap, the top of its stack): see daemon/vmm/module.c. */
void kvm_workload_prefault(kvm_vm_t *vm, uint64_t blob_size);
/* The ranges kvm_workload_prefault(vm, blob_size) populates, in address
 * order and apart: the start of the heap, the top of the stack. How many
 * (1 or 2), each [lo[i], lo[i] + len[i]). */
unsigned kvm_workload_prefault_ranges(const kvm_vm_t *vm, uint64_t blob_size, uint64_t lo[2], uint64_t len[2]);
/* Give back what a warm worker's kvm_workload_prefault(vm, warm_blob_size)
 * populated beyond what kvm_workload_prefault(vm, blob_size) would have
 * for the VM it was assigned (blob_size 0: no workload, all of it): an
 * idle VM must not pay for its warm start for its whole life
 * (docs/density.md). Only for heap nothing was stored in yet. */
void kvm_workload_unprefault(kvm_vm_t *vm, uint64_t warm_blob_size, uint64_t blob_size);
/* MVM_HC_BLOB_LOAD: copy the module to guest buf (cap bytes). Sets *rax
 * (size, -ENOENT without workload, -E2BIG if cap is short); returns
 * false when buf is not writable guest memory (a bad-pointer fault). */
bool kvm_hc_blob_load(kvm_vm_t *vm, const kvm_host_ops_t *ops, uint64_t buf, uint64_t cap,
		      uint64_t *rax);
/* Guest range check: a host pointer to [gpa, gpa+len) or NULL. */
void *kvm_vm_guest_ptr(kvm_vm_t *vm, uint64_t gpa, uint64_t len, bool write);

/*
 * Run vCPU idx until the guest exits, faults or is stopped (ops->stop_forced
 * after KVM_RUN returned EINTR). Returns 0 with *ret filled, or -errno when
 * the host side failed. The calling thread must have the signal from
 * kvm_vcpu_signal_setup() unblocked.
 */
int kvm_vcpu_run(kvm_vm_t *vm, unsigned idx, const kvm_host_ops_t *ops,
		 kvm_result_t *ret, uint64_t *exits); /* *exits: atomic, relaxed */
/* Install the handler for sig: it sets immediate_exit on the calling
 * thread's vCPU so a stop signal cannot be lost between checks. */
int kvm_vcpu_signal_setup(int sig);

#endif
