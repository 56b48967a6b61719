/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Build a micro-VM: guest memory, identity page tables, GDT, vCPUs in
 * 64-bit long mode at CPL3 (docs/design.md §5). Teardown in kvm_vm_free().
 *
 * Guest-physical layout (lib/proto/guest-abi.h):
 *   0x0000          null page, not mapped: NULL dereferences fault
 *   0x1000..0x7fff  PML4, PDPT, 4 PDs, one PT for the first 2 MiB (supervisor)
 *   0x8000          GDT (supervisor)
 *   0x9000          page table of the top 2 MiB (supervisor)
 *   0x10000         boot info (user, read-only), 64 KiB
 *   0x20000..2 MiB  user memory (free)
 *   2 MiB..         the ELF image, then free memory, an unmapped guard page,
 *                   then the 1 MiB stack
 * From 2 MiB up memory is mapped with 2 MiB user pages, except the top
 * 2 MiB, mapped in 4 KiB pages so the guard page can be left out; the
 * hypercall doorbell at 3 GiB, which has no memory behind it: a write there
 * is an MMIO exit (guest-abi.h). Nothing else is mapped.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/guest-abi.h"
#include "kvm-vm.h"
#include "util/macro.h"

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_US 0x4ull
#define PTE_PS 0x80ull

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_OSXSAVE (1ull << 18)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

#define SEL_USER_CODE 0x1b /* GDT[3] | RPL 3 */
#define SEL_USER_DATA 0x23 /* GDT[4] | RPL 3 */
#define RFLAGS_IOPL3 0x3000ull

#define PD_BASE 0x3000ull
#define PT_BASE 0x7000ull

static void *gpa(kvm_vm_t *vm, uint64_t a) { return vm->mem + a; }

static void write_page_tables(kvm_vm_t *vm)
{
	uint64_t *pml4 = gpa(vm, MVM_GUEST_PML4), *pdpt = gpa(vm, 0x2000), *pt = gpa(vm, PT_BASE);
	uint64_t n2m = vm->mem_size >> 21;

	pml4[0] = 0x2000 | PTE_P | PTE_RW | PTE_US;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (PD_BASE + i * 0x1000) | PTE_P | PTE_RW | PTE_US;
	uint64_t *pd3 = gpa(vm, PD_BASE + 3 * 0x1000);
	pd3[(MVM_HC_DOORBELL >> 21) % 512] = MVM_HC_DOORBELL | PTE_P | PTE_RW | PTE_US | PTE_PS;
	for (uint64_t i = 0; i < n2m; i++) {
		uint64_t *pd = gpa(vm, PD_BASE + (i / 512) * 0x1000);
		if (i == 0)
			pd[0] = PT_BASE | PTE_P | PTE_RW | PTE_US;
		else if (i == n2m - 1)
			pd[i % 512] = MVM_GUEST_STACK_PT | PTE_P | PTE_RW | PTE_US;
		else
			pd[i % 512] = (i << 21) | PTE_P | PTE_RW | PTE_US | PTE_PS;
	}
	/* Top 2 MiB (memory is at least 4 MiB, so this is not the first). */
	uint64_t *spt = gpa(vm, MVM_GUEST_STACK_PT), top = (n2m - 1) << 21;
	uint64_t guard = vm->mem_size - MVM_GUEST_STACK_SIZE - MVM_GUEST_STACK_GUARD;
	for (uint64_t i = 0; i < 512; i++) {
		uint64_t a = top + (i << 12);
		spt[i] = a == guard ? 0 : a | PTE_P | PTE_RW | PTE_US;
	}
	/* First 2 MiB in 4 KiB pages: page 0 absent, tables and GDT kernel
	 * only (the guest cannot rewrite its own mappings), boot info read-only. */
	for (uint64_t i = 1; i < 512; i++) {
		uint64_t a = i << 12, f = PTE_P;
		if (a >= MVM_GUEST_BOOT_INFO + MVM_BOOT_INFO_MAX)
			f |= PTE_RW | PTE_US;
		else if (a >= MVM_GUEST_BOOT_INFO)
			f |= PTE_US;
		else if (a > MVM_GUEST_STACK_PT)
			f |= PTE_RW | PTE_US;
		else
			f |= PTE_RW;
		pt[i] = a | f;
	}
	uint64_t *gdt = gpa(vm, MVM_GUEST_GDT);
	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffull; /* kernel code 64 */
	gdt[2] = 0x00cf92000000ffffull; /* kernel data */
	gdt[3] = 0x00affa000000ffffull; /* user code 64, DPL 3 */
	gdt[4] = 0x00cff2000000ffffull; /* user data, DPL 3 */
}

static bool cpuid_has_avx(const struct kvm_cpuid2 *c)
{
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			return !!(c->entries[i].ecx & (1u << 28));
	return false;
}

static void user_seg(struct kvm_segment *s, int code)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = code ? SEL_USER_CODE : SEL_USER_DATA,
		.type = code ? 0xb : 0x3, .present = 1, .dpl = 3, .db = !code, .s = 1,
		.l = !!code, .g = 1,
	};
}

static int setup_vcpu(kvm_vm_t *vm, unsigned idx, const struct kvm_cpuid2 *cpuid)
{
	kvm_vcpu_t *v = &vm->vcpu[idx];
	struct kvm_sregs sregs;
	int avx;

	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)idx);
	if (v->fd < 0)
		return negative_errno();
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return negative_errno();
	}
	if (ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0)
		return negative_errno();
	avx = cpuid_has_avx(cpuid);
	/* XCR0 = x87|SSE|AVX so XSAVE state carries the ymm halves. */
	struct kvm_xcrs xcrs = { .nr_xcrs = 1, .xcrs = { { .xcr = 0, .value = avx ? 7 : 3 } } };
	if (ioctl(v->fd, KVM_SET_XCRS, &xcrs) < 0)
		return negative_errno();
	/* Start from KVM's sregs: a zeroed TR shuts the vCPU down on entry. */
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return negative_errno();
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.cr3 = MVM_GUEST_PML4;
	sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_OSXSAVE;
	sregs.efer = EFER_LME | EFER_LMA;
	user_seg(&sregs.cs, 1);
	user_seg(&sregs.ds, 0);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = MVM_GUEST_GDT;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
		return negative_errno();
	/* Registers travel in kvm_run from now on: no GET/SET_REGS per exit. */
	v->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	return 0;
}

static kvm_vm_t *kvm_vm_free(kvm_vm_t *vm);

/* No transparent huge pages: where THP is "always" (Debian's kernels),
 * one guest touch in a 2 MiB range made the whole range resident, and an
 * idle guest touches three (image, heap, stack): ~4 MiB for a guest that
 * uses a few hundred KiB (docs/density.md). Best effort: a kernel without
 * THP has nothing to turn off. */
static void mem_no_thp(kvm_vm_t *vm)
{
	(void)madvise(vm->mem, vm->mem_size, MADV_NOHUGEPAGE);
}

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)(const void *)p;
	for (size_t i = 0; i < 4096 / 8; i++)
		if (q[i])
			return false;
	return true;
}

bool kvm_vm_next_data(const kvm_vm_t *vm, uint64_t *lo, uint64_t *hi)
{
	uint64_t a = *lo;

	while (a < vm->mem_size && page_is_zero(vm->mem + a))
		a += 4096;
	if (a >= vm->mem_size)
		return false;
	*lo = a;
	while (a < vm->mem_size && !page_is_zero(vm->mem + a))
		a += 4096;
	*hi = a;
	return true;
}

int kvm_vm_mem_clear(kvm_vm_t *vm)
{
	if (mmap(vm->mem, vm->mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
		 -1, 0) == MAP_FAILED)
		return -EFAULT;
	mem_no_thp(vm);
	vm->entry = vm->image_lo = vm->image_hi = 0; /* no image loaded */
	return 0;
}

int kvm_vm_new(int kvm_fd, uint32_t memory_mib, unsigned vcpus,
	       const struct kvm_cpuid2 *cpuid, kvm_vm_t **ret)
{
	_cleanup_free_ struct kvm_cpuid2 *own = NULL;
	kvm_vm_t *vm;
	int r;

	if (memory_mib < KVM_VM_MEM_MIN_MIB || memory_mib > KVM_VM_MEM_MAX_MIB)
		return -EINVAL;
	if (vcpus < 1 || vcpus > KVM_VM_VCPUS_MAX)
		return -EINVAL;
	r = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
	if (r < 0)
		return negative_errno();
	if (r != KVM_API_VERSION)
		return -EPROTONOSUPPORT;
	r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
	if (r <= 0 || !(r & KVM_SYNC_X86_REGS))
		return -EOPNOTSUPP;

	if (!cpuid) {
		r = kvm_cpuid_get(kvm_fd, &own);
		if (r < 0)
			return r;
		cpuid = own;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->kvm_fd = kvm_fd;
	vm->vm_fd = -1;
	for (unsigned i = 0; i < KVM_VM_VCPUS_MAX; i++)
		vm->vcpu[i].fd = -1;
	vm->mem_size = ((uint64_t)memory_mib + 1) / 2 * (2ull << 20);
	vm->memory_mib = memory_mib;
	size_t csz = sizeof(*cpuid) + cpuid->nent * sizeof(cpuid->entries[0]);
	vm->cpuid = malloc(csz);
	if (!vm->cpuid) {
		r = -ENOMEM;
		goto fail;
	}
	memcpy(vm->cpuid, cpuid, csz);

	/* NORESERVE: an idle guest costs only the pages it touches. */
	vm->mem = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		r = negative_errno();
		goto fail;
	}
	mem_no_thp(vm);
	vm->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0UL);
	if (vm->vm_fd < 0) {
		r = negative_errno();
		goto fail;
	}
	/* An instruction KVM cannot emulate (a fetch from the doorbell page)
	 * ends as KVM_EXIT_INTERNAL_ERROR with the guest's registers. Without
	 * this, KVM turns it into a #UD at CPL3, which with no IDT is a triple
	 * fault; and on AMD hosts a triple fault loses the registers (see
	 * shutdown_regs_lost in vcpu.c). Best effort: older kernels lack it. */
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_ON_EMULATION_FAILURE) > 0) {
		struct kvm_enable_cap cap = { .cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE, .args = { 1 } };
		(void)ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap);
	}
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = vm->mem_size,
		.userspace_addr = (uint64_t)(uintptr_t)vm->mem,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		r = negative_errno();
		goto fail;
	}
	r = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (r < (int)sizeof(struct kvm_run)) {
		r = r < 0 ? negative_errno() : -EIO;
		goto fail;
	}
	vm->run_size = (size_t)r;
	write_page_tables(vm);
	for (unsigned i = 0; i < vcpus; i++) {
		r = setup_vcpu(vm, i, cpuid);
		vm->nvcpus = i + 1;
		if (r < 0)
			goto fail;
	}
	*ret = vm;
	return 0;
fail:
	kvm_vm_free(vm);
	return r;
}

static kvm_vm_t *kvm_vm_free(kvm_vm_t *vm)
{
	if (!vm)
		return NULL;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpu[i].run)
			munmap(vm->vcpu[i].run, vm->run_size);
		safe_close(vm->vcpu[i].fd);
	}
	safe_close(vm->vm_fd);
	free(vm->cpuid);
	if (vm->mem)
		munmap(vm->mem, vm->mem_size);
	free(vm);
	return NULL;
}

void *kvm_vm_guest_ptr(kvm_vm_t *vm, uint64_t a, uint64_t len, bool write)
{
	/* Hypercall buffers must lie in user memory: reads may use the boot
	 * info, writes may not touch it (nor the tables below it). */
	uint64_t lo = write ? MVM_GUEST_BOOT_INFO + MVM_BOOT_INFO_MAX : MVM_GUEST_BOOT_INFO;

	if (a < lo || a > vm->mem_size || len > vm->mem_size - a)
		return NULL;
	return vm->mem + a;
}

static int start_vcpu(kvm_vm_t *vm, unsigned idx)
{
	struct kvm_regs *regs = &vm->vcpu[idx].run->s.regs.regs;

	/* The sync-regs copy is written to the vCPU by the first KVM_RUN. */
	memset(regs, 0, sizeof(*regs));
	regs->rip = vm->entry;
	regs->rsp = vm->mem_size - 16;
	regs->rdi = MVM_GUEST_BOOT_INFO;
	regs->rflags = 0x2 | RFLAGS_IOPL3;
	vm->vcpu[idx].run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
	return 0;
}

static int kvm_vm_load_image(kvm_vm_t *vm, const uint8_t *file, size_t size)
{
	kvm_elf_image_t img;
	uint64_t limit = vm->mem_size - MVM_GUEST_STACK_SIZE - MVM_GUEST_STACK_GUARD;
	int r;

	r = kvm_elf_load(file, size, vm->mem, limit, MVM_GUEST_IMAGE_MIN, &img);
	if (r < 0)
		return r;
	vm->entry = img.entry;
	vm->image_lo = img.lo;
	vm->image_hi = img.hi;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		start_vcpu(vm, i);
	return 0;
}

/*
 * The image's read-only segments (code, constants) as MAP_PRIVATE
 * mappings of the image file over the copy kvm_elf_load made: every
 * guest reads the same page-cache pages, and only a page a guest writes
 * becomes its own (copy on write). Thousands of idle VMs then hold one
 * copy of the guest's code, not one each (docs/density.md). Whole pages
 * only, where file offset and address agree modulo the page size; the
 * rest stays copied. The buffer was validated by kvm_elf_load.
 */
static int share_image(kvm_vm_t *vm, int fd, const uint8_t *file, size_t size)
{
	Elf64_Ehdr eh;

	memcpy(&eh, file, sizeof(eh));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, file + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) || !ph.p_filesz ||
		    (ph.p_offset & 4095) != (ph.p_vaddr & 4095))
			continue;
		uint64_t lo = (ph.p_vaddr + 4095) & ~4095ull, hi = (ph.p_vaddr + ph.p_filesz) & ~4095ull;
		if (hi <= lo)
			continue;
		/* MAP_FIXED replaces the copied pages (freeing them); if it
		 * fails the range may be gone: the VM is not built. */
		void *p = mmap(vm->mem + lo, hi - lo, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd,
			       (off_t)(ph.p_offset + (lo - ph.p_vaddr)));
		if (p == MAP_FAILED)
			return negative_errno();
	}
	return 0;
}

int kvm_vm_load_image_fd(kvm_vm_t *vm, int fd)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t n = 0;
	/* lseek, not fstat: a zygote's worker builds its VM under the shared
	 * filter (docs/density.md), which has no stat. A pipe or socket
	 * cannot seek: refused as fstat's S_ISREG check refused it. */
	off_t size = lseek(fd, 0, SEEK_END);

	if (size < 0)
		return errno == ESPIPE ? -EBADF : negative_errno();
	if (size == 0 || (uint64_t)size > KVM_VM_IMAGE_MAX)
		return -EFBIG;
	buf = malloc((size_t)size);
	if (!buf)
		return -ENOMEM;
	while (n < (size_t)size) {
		ssize_t k = pread(fd, buf + n, (size_t)size - n, (off_t)n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return negative_errno();
		if (k == 0)
			return -EIO;
		n += (size_t)k;
	}
	int r = kvm_vm_load_image(vm, buf, n);
	if (r < 0)
		return r;
	/* Only an image nobody can change (mvmd's sealed memfd): a file
	 * rewritten in place would change a running guest's code. */
	int seals = fcntl(fd, F_GET_SEALS);
	return seals >= 0 && (seals & F_SEAL_WRITE) ? share_image(vm, fd, buf, n) : 0;
}
