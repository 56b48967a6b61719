/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's side of Wasm workloads by hash (docs/guest-abi.md):
 * reading and verifying the module mvmd handed over as a read-only fd,
 * the boot-info version 2 fields (envp, workload_size), and the
 * MVM_HC_BLOB_LOAD hypercall that copies the module into guest memory.
 *
 * The module is read and hashed before the sandbox is entered, so the
 * bytes the guest gets are exactly the bytes whose hash the VM's spec
 * names, whatever happened to the file since it was stored.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/guest-abi.h"
#include "util/sha256.h"
#include "kvm-vm.h"
#include "util/macro.h"

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))

#define REF_PREFIX "sha256:"
#define HEX_LEN (2 * SHA256_DIGEST_LEN)

/* "sha256:<64 lowercase hex>" -> the hex (mvm-vmm is linked without
 * daemon/mvmd/blob.c and its OpenSSL). */
static int ref_to_hex(const char *ref, char hex[static HEX_LEN + 1])
{
	size_t p = sizeof(REF_PREFIX) - 1;

	if (strncmp(ref, REF_PREFIX, p) != 0 || strlen(ref) != p + HEX_LEN)
		return -EINVAL;
	for (size_t i = 0; i < HEX_LEN; i++) {
		char c = ref[p + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -EINVAL;
	}
	memcpy(hex, ref + p, HEX_LEN + 1);
	return 0;
}

int kvm_workload_read(int fd, const char *ref, uint64_t max, uint8_t **ret, uint64_t *ret_size)
{
	char want[HEX_LEN + 1], got[HEX_LEN + 1];
	uint8_t *buf;
	uint64_t off = 0;
	off_t size;
	int r;

	if (!ref || ref_to_hex(ref, want) < 0)
		return -EINVAL;
	/* lseek, not fstat: a warm worker reads its module inside the
	 * sandbox, which allows no stat calls (they take paths). A pipe or
	 * socket cannot seek: not a blob. */
	size = lseek(fd, 0, SEEK_END);
	if (size < 0)
		return errno == ESPIPE ? -EINVAL : -errno;
	if ((uint64_t)size > max)
		return -EFBIG;
	buf = malloc(size ? (size_t)size : 1);
	if (!buf)
		return -ENOMEM;
	while (off < (uint64_t)size) {
		ssize_t n = pread(fd, buf + off, (size_t)size - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO; /* shrank under us */
			free(buf);
			return r;
		}
		off += (uint64_t)n;
	}
	/* Not OpenSSL: its first digest in a process costs ~0.9 ms of setup. */
	sha256_hex(buf, off, got);
	if (strcmp(want, got) != 0) {
		free(buf);
		return -EBADMSG;
	}
	*ret = buf;
	*ret_size = off;
	return 0;
}

int kvm_vm_write_workload_info(kvm_vm_t *vm, char *const *envs, size_t nenvs, uint64_t workload_size)
{
	struct mvm_boot_info *bi = (struct mvm_boot_info *)(vm->mem + MVM_GUEST_BOOT_INFO);
	uint64_t arr = ALIGN_UP((uint64_t)bi->size, 8), s;

	if (bi->magic != MVM_BOOT_MAGIC || nenvs > 1024)
		return bi->magic != MVM_BOOT_MAGIC ? -EINVAL : -E2BIG;
	s = arr + (nenvs + 1) * 8;
	if (s > MVM_BOOT_INFO_MAX)
		return -E2BIG;
	uint64_t *slots = (uint64_t *)(vm->mem + MVM_GUEST_BOOT_INFO + arr);
	for (size_t i = 0; i < nenvs; i++) {
		size_t l = strlen(envs[i]) + 1;
		if (l > MVM_BOOT_INFO_MAX - s)
			return -E2BIG;
		memcpy(vm->mem + MVM_GUEST_BOOT_INFO + s, envs[i], l);
		slots[i] = MVM_GUEST_BOOT_INFO + s;
		s += l;
	}
	slots[nenvs] = 0;
	bi->envc = (uint32_t)nenvs;
	bi->envp = MVM_GUEST_BOOT_INFO + arr;
	bi->workload_size = workload_size;
	bi->size = (uint32_t)s;
	return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/*
 * The first guest touch of a guest page whose host page is not there yet
 * costs ~200 µs on the nested (PVM) hosts, and a Wasm workload touches a
 * few hundred pages (module, compiled code, linear memory, value stack):
 * ~15 ms of a hello world's ~16 ms in the guest. Populating them from the
 * host first costs ~0.27 µs per KiB (MADV_POPULATE_WRITE), after which a
 * guest touch costs ~4 µs. So, for workload VMs only (an idle guest keeps
 * costing only what it touches): the first 2 MiB of the heap plus 8x the
 * module (its compiled form), at most 64 MiB, and the top 64 KiB of the stack. Best
 * effort: an older kernel without MADV_POPULATE_WRITE just runs slower.
 */
/* The heap span kvm_workload_prefault populates for a module of
 * blob_size: [*ret_lo, *ret_lo + return value). */
static uint64_t prefault_span(const kvm_vm_t *vm, uint64_t blob_size, uint64_t *ret_lo)
{
	uint64_t lo = ALIGN_UP(vm->image_hi, 4096);
	uint64_t stack = vm->mem_size - MVM_GUEST_STACK_SIZE - MVM_GUEST_STACK_GUARD;
	/* At most 64 MiB (~17 ms, and that much RSS): a huge module pays for
	 * its own first touches beyond that. */
	uint64_t want = MIN((2ull << 20) + 8 * blob_size, 64ull << 20);

	*ret_lo = lo;
	if (lo >= stack)
		return 0;
	return ALIGN_UP(want < stack - lo ? want : stack - lo, 4096);
}

#define PREFAULT_STACK (64u << 10)

unsigned kvm_workload_prefault_ranges(const kvm_vm_t *vm, uint64_t blob_size, uint64_t lo[2], uint64_t len[2])
{
	unsigned n = 0;

	len[0] = prefault_span(vm, blob_size, &lo[0]);
	if (len[0])
		n++;
	/* The heap span ends below the stack and its guard. */
	lo[n] = vm->mem_size - PREFAULT_STACK;
	len[n] = PREFAULT_STACK;
	return n + 1;
}

void kvm_workload_prefault(kvm_vm_t *vm, uint64_t blob_size)
{
	uint64_t lo[2], len[2];

	for (unsigned i = 0, n = kvm_workload_prefault_ranges(vm, blob_size, lo, len); i < n; i++)
		(void)madvise(vm->mem + lo[i], len[i], MADV_POPULATE_WRITE);
}

void kvm_workload_unprefault(kvm_vm_t *vm, uint64_t warm_blob_size, uint64_t blob_size)
{
	uint64_t lo, keep = blob_size ? prefault_span(vm, blob_size, &lo) : 0;
	uint64_t had = prefault_span(vm, warm_blob_size, &lo);

	/* Zero pages the guest at most read and wrote back (its warm-up
	 * writes the byte it read): after MADV_DONTNEED they read as zero
	 * again, so the guest sees no difference, only its next first
	 * touch costs what a cold guest's does. */
	if (keep < had)
		(void)madvise(vm->mem + lo + keep, had - keep, MADV_DONTNEED);
}

bool kvm_hc_blob_load(kvm_vm_t *vm, const kvm_host_ops_t *ops, uint64_t buf, uint64_t cap, uint64_t *rax)
{
	uint8_t *p;

	if (!ops->blob) {
		*rax = (uint64_t)-ENOENT;
		return true;
	}
	if (cap < ops->blob_size) {
		/* Not a fault: the guest may ask again with room enough. */
		*rax = (uint64_t)-E2BIG;
		return true;
	}
	p = kvm_vm_guest_ptr(vm, buf, ops->blob_size, true);
	if (!p)
		return false;
	memcpy(p, ops->blob, ops->blob_size);
	*rax = ops->blob_size;
	return true;
}
