/* SPDX-License-Identifier: Apache-2.0 */
/* The guest ELF loader and the boot-info writer, on plain memory. */
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/guest-abi.h"
#include "kvm-vm.h"
#include "mvmt-main.h"

#define MEM (8u << 20)
#define BASE 0x200000u

struct img {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	uint8_t code[64];
};

static void make_img(struct img *m)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->eh.e_ident, ELFMAG, SELFMAG);
	m->eh.e_ident[EI_CLASS] = ELFCLASS64;
	m->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	m->eh.e_ident[EI_VERSION] = EV_CURRENT;
	m->eh.e_type = ET_EXEC;
	m->eh.e_machine = EM_X86_64;
	m->eh.e_version = EV_CURRENT;
	m->eh.e_entry = BASE + 4;
	m->eh.e_phoff = offsetof(struct img, ph);
	m->eh.e_ehsize = sizeof(Elf64_Ehdr);
	m->eh.e_phentsize = sizeof(Elf64_Phdr);
	m->eh.e_phnum = 2;
	m->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
				 .p_offset = offsetof(struct img, code), .p_vaddr = BASE, .p_paddr = BASE,
				 .p_filesz = sizeof(m->code), .p_memsz = 4096, .p_align = 0 };
	m->ph[1] = (Elf64_Phdr){ .p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W };
	for (unsigned i = 0; i < sizeof(m->code); i++)
		m->code[i] = (uint8_t)(0x90 + i);
}

static uint8_t *mem;

static void setup(void)
{
	mem = calloc(1, MEM);
	ck_assert_ptr_nonnull(mem);
}

static void teardown(void)
{
	free(mem);
}

START_TEST(test_load_valid)
{
	struct img m;
	kvm_elf_image_t out;
	make_img(&m);
	memset(mem + BASE, 0xcc, 8192); /* stale bytes: bss must be cleared */
	ck_assert_int_eq(kvm_elf_load((uint8_t *)&m, sizeof(m), mem, MEM, BASE, &out), 0);
	ck_assert_uint_eq(out.entry, BASE + 4);
	ck_assert_uint_eq(out.lo, BASE);
	ck_assert_uint_eq(out.hi, BASE + 4096);
	ck_assert_mem_eq(mem + BASE, m.code, sizeof(m.code));
	ck_assert_uint_eq(mem[BASE + sizeof(m.code)], 0);
	ck_assert_uint_eq(mem[BASE + 4095], 0);
	ck_assert_uint_eq(mem[BASE + 4096], 0xcc);
}
END_TEST

/* Each mutation must be refused, leaving memory untouched. */
enum { M_MAGIC, M_CLASS, M_DATA, M_TYPE, M_MACHINE, M_EHSIZE, M_PHENTSIZE, M_PHNUM0,
       M_PHNUM_BIG, M_PHOFF, M_FILESZ_GT_MEMSZ, M_OFFSET_PAST_END, M_OFFSET_WRAP, M_BELOW_MIN,
       M_PAST_MEM, M_VADDR_WRAP, M_PADDR, M_ALIGN, M_FLAGS, M_ENTRY_OUT, M_ENTRY_NOEXEC,
       M_INTERP, M_OVERLAP, M_NO_LOAD, M_SHORT, _M_MAX };

START_TEST(test_load_refuses)
{
	struct img m;
	kvm_elf_image_t out;
	size_t size = sizeof(m);
	make_img(&m);
	switch (_i) {
	case M_MAGIC: m.eh.e_ident[1] = 'X'; break;
	case M_CLASS: m.eh.e_ident[EI_CLASS] = ELFCLASS32; break;
	case M_DATA: m.eh.e_ident[EI_DATA] = ELFDATA2MSB; break;
	case M_TYPE: m.eh.e_type = ET_DYN; break;
	case M_MACHINE: m.eh.e_machine = EM_386; break;
	case M_EHSIZE: m.eh.e_ehsize = 10; break;
	case M_PHENTSIZE: m.eh.e_phentsize = 32; break;
	case M_PHNUM0: m.eh.e_phnum = 0; break;
	case M_PHNUM_BIG: m.eh.e_phnum = 65535; break;
	case M_PHOFF: m.eh.e_phoff = 0xfffffffffffffff0ull; break;
	case M_FILESZ_GT_MEMSZ: m.ph[0].p_filesz = 8192; break;
	case M_OFFSET_PAST_END: m.ph[0].p_offset = sizeof(m); break;
	case M_OFFSET_WRAP: m.ph[0].p_offset = 0xffffffffffffffc0ull; break;
	case M_BELOW_MIN: m.ph[0].p_vaddr = m.ph[0].p_paddr = 0x1000; m.eh.e_entry = 0x1004; break;
	case M_PAST_MEM: m.ph[0].p_memsz = MEM; break;
	case M_VADDR_WRAP: m.ph[0].p_vaddr = m.ph[0].p_paddr = 0xfffffffffffff000ull; break;
	case M_PADDR: m.ph[0].p_paddr = 0x400000; break;
	case M_ALIGN: m.ph[0].p_align = 3; break;
	case M_FLAGS: m.ph[0].p_flags |= 0x100; break;
	case M_ENTRY_OUT: m.eh.e_entry = BASE + 8192; break;
	case M_ENTRY_NOEXEC: m.ph[0].p_flags = PF_R; break;
	case M_INTERP: m.ph[1].p_type = PT_INTERP; break;
	case M_OVERLAP: m.ph[1] = m.ph[0]; m.ph[1].p_vaddr = m.ph[1].p_paddr = BASE + 100; break;
	case M_NO_LOAD: m.ph[0].p_type = PT_NOTE; break;
	case M_SHORT: size = sizeof(Elf64_Ehdr) - 1; break;
	}
	int r = kvm_elf_load((uint8_t *)&m, size, mem, MEM, BASE, &out);
	ck_assert_msg(r == -ENOEXEC || r == -E2BIG, "mutation %d: %d", _i, r);
	for (unsigned i = 0; i < 8192; i++)
		ck_assert_uint_eq(mem[BASE + i], 0);
}
END_TEST

START_TEST(test_boot_info)
{
	kvm_vm_t vm = { .mem = mem, .mem_size = MEM, .nvcpus = 3, .entry = BASE,
			.image_lo = BASE, .image_hi = BASE + 5000 };
	char *args[] = { "one", "two words" };
	char *caps[] = { "wasi:random" };
	struct mvm_boot_info *bi = (struct mvm_boot_info *)(mem + MVM_GUEST_BOOT_INFO);

	ck_assert_int_eq(kvm_vm_write_boot_info(&vm, args, 2, caps, 1, "sha256:00"), 0);
	ck_assert_uint_eq(bi->magic, MVM_BOOT_MAGIC);
	ck_assert_uint_eq(bi->vcpus, 3);
	ck_assert_uint_eq(bi->mem_size, MEM);
	ck_assert_uint_eq(bi->argc, 2);
	ck_assert_str_eq(bi->workload, "sha256:00");
	uint64_t *argv = (uint64_t *)(mem + bi->argv);
	ck_assert_str_eq((char *)mem + argv[0], "one");
	ck_assert_str_eq((char *)mem + argv[1], "two words");
	ck_assert_uint_eq(argv[2], 0);
	uint64_t *cv = (uint64_t *)(mem + bi->caps);
	ck_assert_str_eq((char *)mem + cv[0], "wasi:random");
	ck_assert_uint_le(bi->size, MVM_BOOT_INFO_MAX);
	/* The map covers memory without gaps or overlaps, in order. */
	uint64_t at = 0;
	for (uint32_t i = 0; i < bi->nregions; i++) {
		ck_assert_uint_eq(bi->regions[i].base, at);
		at += bi->regions[i].size;
	}
	ck_assert_uint_eq(at, MEM);
	ck_assert_uint_eq(bi->regions[2].type, MVM_MEM_IMAGE);
	ck_assert_uint_eq(bi->regions[3].base, BASE + 8192);
	ck_assert_uint_eq(bi->regions[4].type, MVM_MEM_GUARD);
	ck_assert_uint_eq(bi->regions[4].base, MEM - MVM_GUEST_STACK_SIZE - MVM_GUEST_STACK_GUARD);
	ck_assert_uint_eq(bi->regions[5].type, MVM_MEM_STACK);

	/* Too much to fit is refused, not truncated. */
	static char huge[MVM_BOOT_INFO_MAX];
	memset(huge, 'a', sizeof(huge) - 1);
	char *hv[] = { huge };
	ck_assert_int_eq(kvm_vm_write_boot_info(&vm, hv, 1, NULL, 0, NULL), -E2BIG);
	char wl[200];
	memset(wl, 'h', sizeof(wl) - 1);
	wl[sizeof(wl) - 1] = 0;
	ck_assert_int_eq(kvm_vm_write_boot_info(&vm, args, 2, caps, 1, wl), -EINVAL);
}
END_TEST

START_TEST(test_guest_ptr)
{
	kvm_vm_t vm = { .mem = mem, .mem_size = MEM };
	ck_assert_ptr_nonnull(kvm_vm_guest_ptr(&vm, BASE, 16, true));
	ck_assert_ptr_nonnull(kvm_vm_guest_ptr(&vm, MEM - 16, 16, true));
	ck_assert_ptr_null(kvm_vm_guest_ptr(&vm, MEM - 16, 17, true));
	ck_assert_ptr_null(kvm_vm_guest_ptr(&vm, MEM, 1, false));
	ck_assert_ptr_null(kvm_vm_guest_ptr(&vm, 0x300000, UINT64_MAX, false));
	ck_assert_ptr_null(kvm_vm_guest_ptr(&vm, UINT64_MAX, 2, false));
	ck_assert_ptr_null(kvm_vm_guest_ptr(&vm, MVM_GUEST_PML4, 8, false));
	ck_assert_ptr_nonnull(kvm_vm_guest_ptr(&vm, MVM_GUEST_BOOT_INFO, 8, false));
	ck_assert_ptr_null(kvm_vm_guest_ptr(&vm, MVM_GUEST_BOOT_INFO, 8, true));
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "loader",
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_load_valid),
			MVMT_LOOP(test_load_refuses, _M_MAX),
			MVMT_TEST(test_boot_info),
			MVMT_TEST(test_guest_ptr)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "kvm-elf", .tcases = tcases)
