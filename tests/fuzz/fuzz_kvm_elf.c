/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest image is untrusted: load arbitrary bytes into a small guest
 * memory. ASan catches any read outside the file or write outside memory;
 * an accepted image must lie inside [min, mem_size) with its entry in it.
 */
/* fuzz-sources: daemon/vmm/elf.c */
#include <stdint.h>
#include <stdlib.h>

#include "kvm-vm.h"

#define MEM (4u << 20)
#define MIN 0x200000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *mem;
	kvm_elf_image_t img;

	if (!mem && !(mem = calloc(1, MEM)))
		return 0;
	/* Copy so ASan sees the exact file bounds. */
	uint8_t *file = malloc(size ? size : 1);
	if (!file)
		return 0;
	for (size_t i = 0; i < size; i++)
		file[i] = data[i];
	if (kvm_elf_load(file, size, mem, MEM, MIN, &img) == 0) {
		if (img.lo < MIN || img.hi > MEM || img.lo >= img.hi || img.entry < img.lo || img.entry >= img.hi)
			__builtin_trap();
	}
	free(file);
	return 0;
}
