/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Load a static freestanding x86-64 ELF executable into guest memory at its
 * link address. The file is untrusted: every header field is checked
 * against the file and against guest memory before a byte is copied, and
 * every sum is overflow-checked. Fuzzed by tests/fuzz/fuzz_kvm_elf.c.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "kvm-vm.h"

#define ELF_PHNUM_MAX 64

static int add_ok(uint64_t a, uint64_t b, uint64_t *ret)
{
	return !__builtin_add_overflow(a, b, ret);
}

static int check_ehdr(const Elf64_Ehdr *eh, size_t size)
{
	uint64_t end;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_ident[EI_VERSION] != EV_CURRENT)
		return -ENOEXEC;
	if (eh->e_type != ET_EXEC || eh->e_machine != EM_X86_64 || eh->e_version != EV_CURRENT)
		return -ENOEXEC;
	if (eh->e_ehsize != sizeof(Elf64_Ehdr) || eh->e_phentsize != sizeof(Elf64_Phdr))
		return -ENOEXEC;
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_PHNUM_MAX)
		return -ENOEXEC;
	if (!add_ok(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), &end) || end > size)
		return -ENOEXEC;
	if (eh->e_phoff % 8)
		return -ENOEXEC; /* keeps the Elf64_Phdr reads aligned */
	return 0;
}

static int check_phdr(const Elf64_Phdr *ph, size_t size, uint64_t mem_size, uint64_t min_addr)
{
	uint64_t fend, mend;

	if (ph->p_filesz > ph->p_memsz)
		return -ENOEXEC;
	if (!add_ok(ph->p_offset, ph->p_filesz, &fend) || fend > size)
		return -ENOEXEC;
	if (!add_ok(ph->p_vaddr, ph->p_memsz, &mend))
		return -ENOEXEC;
	/* Identity mapping: the guest sees p_vaddr; p_paddr must agree. */
	if (ph->p_paddr != ph->p_vaddr)
		return -ENOEXEC;
	if (ph->p_vaddr < min_addr || mend > mem_size)
		return -E2BIG;
	if (ph->p_align > 1 && ((ph->p_align & (ph->p_align - 1)) ||
				(ph->p_vaddr - ph->p_offset) % ph->p_align))
		return -ENOEXEC;
	if (ph->p_flags & ~(uint32_t)(PF_R | PF_W | PF_X))
		return -ENOEXEC;
	return 0;
}

/*
 * Zero [p, p + len) (a segment's bss). Fresh guest memory is zero
 * already, and writing it would make every page of the bss resident in
 * every VM whether its guest uses it or not (docs/density.md); reading an
 * untouched page maps the kernel's shared zero page. So whole pages are
 * written only when they are not zero (memory that is reused).
 */
static void clear(uint8_t *p, uint64_t len)
{
	uint8_t *end = p + len, *page = (uint8_t *)(((uintptr_t)p + 4095) & ~(uintptr_t)4095);

	if (page > end)
		page = end;
	memset(p, 0, (size_t)(page - p)); /* the partial first page: data shares it */
	for (; page < end; page += 4096) {
		size_t n = (size_t)(end - page) < 4096 ? (size_t)(end - page) : 4096;
		const uint64_t *w = (const uint64_t *)page;
		size_t k = 0;
		while (k < n / 8 && w[k] == 0)
			k++;
		if (k < n / 8 || memcmp(page + (n & ~(size_t)7), "\0\0\0\0\0\0\0", n & 7) != 0)
			memset(page, 0, n);
	}
}

int kvm_elf_load(const uint8_t *file, size_t size, uint8_t *mem, uint64_t mem_size,
		 uint64_t min_addr, kvm_elf_image_t *ret)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[ELF_PHNUM_MAX];
	uint64_t lo = UINT64_MAX, hi = 0;
	int entry_ok = 0, nload = 0, r;

	if (size < sizeof(eh))
		return -ENOEXEC;
	memcpy(&eh, file, sizeof(eh));
	r = check_ehdr(&eh, size);
	if (r < 0)
		return r;
	memcpy(ph, file + eh.e_phoff, eh.e_phnum * sizeof(Elf64_Phdr));

	/* Validate everything first so a refused image leaves memory untouched. */
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		switch (ph[i].p_type) {
		case PT_LOAD:
			break;
		case PT_NULL: case PT_NOTE: case PT_GNU_STACK: case PT_GNU_PROPERTY:
			continue;
		default:
			/* PT_INTERP, PT_DYNAMIC, PT_TLS...: not a static freestanding image. */
			return -ENOEXEC;
		}
		r = check_phdr(&ph[i], size, mem_size, min_addr);
		if (r < 0)
			return r;
		for (unsigned j = 0; j < i; j++) {
			if (ph[j].p_type != PT_LOAD)
				continue;
			if (ph[i].p_vaddr < ph[j].p_vaddr + ph[j].p_memsz &&
			    ph[j].p_vaddr < ph[i].p_vaddr + ph[i].p_memsz)
				return -ENOEXEC; /* overlapping segments */
		}
		if ((ph[i].p_flags & PF_X) && eh.e_entry >= ph[i].p_vaddr &&
		    eh.e_entry - ph[i].p_vaddr < ph[i].p_memsz)
			entry_ok = 1;
		lo = ph[i].p_vaddr < lo ? ph[i].p_vaddr : lo;
		hi = ph[i].p_vaddr + ph[i].p_memsz > hi ? ph[i].p_vaddr + ph[i].p_memsz : hi;
		nload++;
	}
	if (nload == 0 || !entry_ok)
		return -ENOEXEC;

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		memcpy(mem + ph[i].p_vaddr, file + ph[i].p_offset, ph[i].p_filesz);
		clear(mem + ph[i].p_vaddr + ph[i].p_filesz, ph[i].p_memsz - ph[i].p_filesz);
	}
	ret->entry = eh.e_entry;
	ret->lo = lo;
	ret->hi = hi;
	return 0;
}
