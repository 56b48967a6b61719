/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The boot-info block the guest finds at MVM_GUEST_BOOT_INFO (and in rdi):
 * memory map, arguments, capabilities, workload hash (guest-abi.h).
 */
#include <errno.h>
#include <string.h>

#include "proto/guest-abi.h"
#include "kvm-vm.h"

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))

/* Append a NULL-terminated pointer array and its strings at *off. */
static int put_strv(kvm_vm_t *vm, uint64_t *off, char *const *v, size_t n, uint64_t *ret_addr)
{
	uint64_t arr = ALIGN_UP(*off, 8), s;

	if (n > 1024)
		return -E2BIG;
	s = arr + (n + 1) * 8;
	if (s > MVM_BOOT_INFO_MAX)
		return -E2BIG;
	uint64_t *slots = (uint64_t *)(vm->mem + MVM_GUEST_BOOT_INFO + arr);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i]) + 1;
		if (l > MVM_BOOT_INFO_MAX - s)
			return -E2BIG;
		memcpy(vm->mem + MVM_GUEST_BOOT_INFO + s, v[i], l);
		slots[i] = MVM_GUEST_BOOT_INFO + s;
		s += l;
	}
	slots[n] = 0;
	*ret_addr = MVM_GUEST_BOOT_INFO + arr;
	*off = s;
	return 0;
}

int kvm_vm_write_boot_info(kvm_vm_t *vm, char *const *args, size_t nargs,
			   char *const *caps, size_t ncaps, const char *workload)
{
	struct mvm_boot_info *bi = (struct mvm_boot_info *)(vm->mem + MVM_GUEST_BOOT_INFO);
	uint64_t off = sizeof(*bi), heap, stack;
	int r;

	if (!vm->entry)
		return -EINVAL; /* the image decides where free memory starts */
	if (workload && strlen(workload) >= sizeof(bi->workload))
		return -EINVAL;
	memset(bi, 0, sizeof(*bi));
	bi->magic = MVM_BOOT_MAGIC;
	bi->version = MVM_BOOT_VERSION;
	bi->mem_size = vm->mem_size;
	bi->vcpus = vm->nvcpus;
	heap = ALIGN_UP(vm->image_hi, 4096);
	stack = vm->mem_size - MVM_GUEST_STACK_SIZE;
	uint64_t guard = stack - MVM_GUEST_STACK_GUARD;
	struct mvm_mem_region regions[] = {
		{ 0, MVM_GUEST_BOOT_INFO + MVM_BOOT_INFO_MAX, MVM_MEM_RESERVED, 0 },
		{ MVM_GUEST_BOOT_INFO + MVM_BOOT_INFO_MAX,
		  vm->image_lo - (MVM_GUEST_BOOT_INFO + MVM_BOOT_INFO_MAX), MVM_MEM_FREE, 0 },
		{ vm->image_lo, heap - vm->image_lo, MVM_MEM_IMAGE, 0 },
		{ heap, guard > heap ? guard - heap : 0, MVM_MEM_FREE, 0 },
		{ guard, MVM_GUEST_STACK_GUARD, MVM_MEM_GUARD, 0 },
		{ stack, MVM_GUEST_STACK_SIZE, MVM_MEM_STACK, 0 },
	};
	memcpy(bi->regions, regions, sizeof(regions));
	bi->nregions = sizeof(regions) / sizeof(regions[0]);
	bi->argc = (uint32_t)nargs;
	bi->ncaps = (uint32_t)ncaps;
	if (workload)
		strcpy(bi->workload, workload);
	r = put_strv(vm, &off, args, nargs, &bi->argv);
	if (r < 0)
		return r;
	r = put_strv(vm, &off, caps, ncaps, &bi->caps);
	if (r < 0)
		return r;
	bi->size = (uint32_t)off;
	return 0;
}

int kvm_vm_set_warm(kvm_vm_t *vm, uint64_t warm_bytes)
{
	struct mvm_boot_info *bi = (struct mvm_boot_info *)(vm->mem + MVM_GUEST_BOOT_INFO);

	if (bi->magic != MVM_BOOT_MAGIC)
		return -EINVAL;
	bi->flags |= MVM_BOOT_F_WARM;
	bi->warm_bytes = warm_bytes;
	return 0;
}

int kvm_vm_set_primed(kvm_vm_t *vm)
{
	struct mvm_boot_info *bi = (struct mvm_boot_info *)(vm->mem + MVM_GUEST_BOOT_INFO);

	if (bi->magic != MVM_BOOT_MAGIC || !bi->workload[0])
		return -EINVAL;
	bi->flags = MVM_BOOT_F_PRIMED;
	return 0;
}
