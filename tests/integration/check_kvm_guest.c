/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile and misbehaving guests on real /dev/kvm end as values (a fault
 * with its cause and registers, or a refused image), never as host
 * crashes; the host services return what the host sees; start failures
 * are errors with the right errno.
 */
#include <elf.h>
#include <signal.h>
#include <sys/resource.h>

#include "kvm-helpers.h"
#include "proto/guest-abi.h"
#include "mvmtest.h"
#include "mvmt-main.h"

/* Faults that are exceptions: triple fault with RIP at the instruction
 * (int3 is a trap: RIP is past it). */
static const struct { const char *kind; uint64_t rip_delta, cr2; } shutdowns[] = {
	{ "ud2", 0, 0 }, { "gp", 0, 0 }, { "pf", 0, 0x1000 }, { "hlt", 0, 0 }, { "int3", 1, 0 },
};

START_TEST(test_fault_exceptions)
{
	tvm_t t;
	const char *args[] = { shutdowns[_i].kind };
	tvm_start(&t, "fault", args, 1);
	int st = tvm_finish(&t, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_FAULT);
	ck_assert_str_eq(kvm_fault_to_string(t.res.fault), "shutdown");
	if (!mvmt_kvm_shutdown_keeps_regs()) {
		tcheck_shutdown_regs_lost(&t);
		tvm_cleanup(&t);
		return;
	}
	ck_assert(t.res.regs_valid);
	uint64_t rip = (uint64_t)tconsole_num(&t, "fault-rip");
	ck_assert_uint_eq(t.res.regs[KVM_REG_RIP], rip + shutdowns[_i].rip_delta);
	if (shutdowns[_i].cr2)
		ck_assert_uint_eq(t.res.regs[KVM_REG_CR2], shutdowns[_i].cr2);
	ck_assert_uint_eq(t.res.regs[KVM_REG_CR3], MVM_GUEST_PML4);
	/* The result file says the same, registers included. */
	kvm_result_t f;
	ck_assert_int_eq(kvm_result_read(t.result, &f), 0);
	ck_assert_int_eq(f.outcome, KVM_OUTCOME_FAULT);
	ck_assert(f.regs_valid);
	ck_assert_uint_eq(f.regs[KVM_REG_RIP], t.res.regs[KVM_REG_RIP]);
	tvm_cleanup(&t);
}
END_TEST

/* rip: where RIP must be: 1 inside the image, 0 anywhere (the guest
 * jumped away), else that exact address. */
static const struct { const char *kind; kvm_fault_t fault; uint64_t addr, rip, cr2; } other_faults[] = {
	{ "null", KVM_FAULT_SHUTDOWN, 0, 1, 0 },
	{ "port", KVM_FAULT_SHUTDOWN, 0, 1, 0 }, /* out at CPL3: #GP under PVM (IOPL 0); bad-port where IOPL 3 holds */
	{ "mmio-read", KVM_FAULT_MMIO, MVM_HC_DOORBELL, 1, 0 },
	{ "mmio-far", KVM_FAULT_MMIO, MVM_HC_DOORBELL + 0x1000, 1, 0 },
	{ "hypercall", KVM_FAULT_BAD_PORT, MVM_HC_MAX, 1, 0 }, /* unknown call number */
	{ "abort", KVM_FAULT_ABORT, 0, 1, 0 },
	{ "bootinfo-write", KVM_FAULT_SHUTDOWN, 0, 1, MVM_GUEST_BOOT_INFO },
	{ "jump-far", KVM_FAULT_SHUTDOWN, 0, 0x7fff00000000ull, 0x7fff00000000ull },
	{ "jump-doorbell", KVM_FAULT_INTERNAL, 0, MVM_HC_DOORBELL, 0 }, /* fetch from MMIO */
	{ "syscall", KVM_FAULT_SHUTDOWN, 0, 0, 0 }, /* lands on LSTAR = 0 */
	{ "int80", KVM_FAULT_SHUTDOWN, 0, 1, 0 },
	{ "sysenter", KVM_FAULT_SHUTDOWN, 0, 1, 0 }, /* internal where KVM emulates it and cannot (AMD) */
	{ "xsetbv", KVM_FAULT_SHUTDOWN, 0, 1, 0 },
	{ "rsp0", KVM_FAULT_SHUTDOWN, 0, 1, 0xfffffffffffffff8ull },
};

START_TEST(test_fault_other)
{
	tvm_t t;
	const char *args[] = { other_faults[_i].kind };
	tvm_start(&t, "fault", args, 1);
	int st = tvm_finish(&t, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_FAULT);
	if (strcmp(other_faults[_i].kind, "port") == 0 && t.res.fault == KVM_FAULT_BAD_PORT) {
		/* A host that honours the guest's IOPL 3 exits with the port. */
		ck_assert_uint_eq(t.res.fault_addr, 0x80);
		tvm_cleanup(&t);
		return;
	}
	if (strcmp(other_faults[_i].kind, "sysenter") == 0 && t.res.fault == KVM_FAULT_INTERNAL) {
		/* AMD: sysenter is #UD in long mode; KVM intercepts the #UD,
		 * cannot emulate a 64-bit sysenter, and says so (the worker
		 * asks for KVM_CAP_EXIT_ON_EMULATION_FAILURE), registers kept. */
		ck_assert_ptr_nonnull(strstr(t.res.message, "KVM internal error, suberror 1"));
		ck_assert(t.res.regs_valid);
		ck_assert_uint_ge(t.res.regs[KVM_REG_RIP], 0x200000);
		ck_assert_uint_lt(t.res.regs[KVM_REG_RIP], 0x300000);
		tvm_cleanup(&t);
		return;
	}
	ck_assert_msg(t.res.fault == (uint32_t)other_faults[_i].fault, "%s: fault %s (%s)",
		      other_faults[_i].kind, kvm_fault_to_string(t.res.fault), t.res.message);
	if (other_faults[_i].fault != KVM_FAULT_SHUTDOWN && other_faults[_i].fault != KVM_FAULT_ABORT)
		ck_assert_uint_eq(t.res.fault_addr, other_faults[_i].addr);
	if (other_faults[_i].fault == KVM_FAULT_ABORT)
		ck_assert_str_eq(t.res.message, "guest gave up");
	if (t.res.fault == KVM_FAULT_SHUTDOWN && !mvmt_kvm_shutdown_keeps_regs()) {
		tcheck_shutdown_regs_lost(&t);
		tvm_cleanup(&t);
		return;
	}
	ck_assert(t.res.regs_valid);
	if (other_faults[_i].rip == 1) {
		ck_assert_uint_ge(t.res.regs[KVM_REG_RIP], 0x200000);
		ck_assert_uint_lt(t.res.regs[KVM_REG_RIP], 0x300000);
	} else if (other_faults[_i].rip) {
		ck_assert_uint_eq(t.res.regs[KVM_REG_RIP], other_faults[_i].rip);
	}
	if (other_faults[_i].cr2)
		ck_assert_uint_eq(t.res.regs[KVM_REG_CR2], other_faults[_i].cr2);
	tvm_cleanup(&t);
}
END_TEST

static const struct { const char *kind; kvm_fault_t fault; uint64_t addr; } bad_pointers[] = {
	{ "far", KVM_FAULT_BAD_POINTER, 0x7fff00000000ull },
	{ "wrap", KVM_FAULT_BAD_ARG, 0xffffffffffff0000ull },
	{ "bootinfo", KVM_FAULT_BAD_POINTER, MVM_GUEST_BOOT_INFO },
	{ "random", KVM_FAULT_BAD_POINTER, MVM_GUEST_PML4 },
	{ "biglen", KVM_FAULT_BAD_ARG, MVM_HC_CONSOLE_MAX + 1 },
};

START_TEST(test_bad_pointer_is_guest_fault)
{
	tvm_t t;
	const char *args[] = { bad_pointers[_i].kind };
	tvm_start(&t, "badptr", args, 1);
	tvm_finish(&t, 10000);
	ck_assert_msg(!t.console || !strstr(t.console, "accepted"), "%s", t.console);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_FAULT);
	ck_assert_int_eq(t.res.fault, bad_pointers[_i].fault);
	ck_assert_uint_eq(t.res.fault_addr, bad_pointers[_i].addr);
	tvm_cleanup(&t);
}
END_TEST

START_TEST(test_host_services)
{
	tvm_t t;
	kvm_worker_config_t c;
	const char *caps[] = { "wasi:clocks", "wasi:random" };
	const char *wl = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	memset(&t, 0, sizeof(t));
	tvm_config(&t, "services", &c);
	c.caps = caps;
	c.ncaps = 2;
	c.workload = wl;
	c.vcpus = 2;
	c.memory_mib = 32;
	ck_assert_int_eq(kvm_worker_spawn(&c, &t.w), 0);
	tvm_finish(&t, 10000);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_EXIT);
	ck_assert_int_eq(t.res.exit_code, 0);
	long long now = (long long)time(NULL);
	long long rt = tconsole_num(&t, "realtime_s");
	ck_assert_int_le(llabs(rt - now), 5);
	ck_assert_ptr_nonnull(strstr(t.console, "random_len=16,16"));
	ck_assert_int_eq(tconsole_num(&t, "random_differs"), 1);
	ck_assert_int_eq(tconsole_num(&t, "wait_ev"), 0);
	ck_assert_int_ge(tconsole_num(&t, "wait_ms"), 50);
	ck_assert_int_eq(tconsole_num(&t, "vcpus"), 2);
	ck_assert_int_eq(tconsole_num(&t, "mem_mib"), 32);
	ck_assert_int_eq(tconsole_num(&t, "read_empty"), 0);
	ck_assert_ptr_nonnull(strstr(t.console, "cap=wasi:clocks\ncap=wasi:random\n"));
	/* SSE works at CPL3; with AVX on the host, XCR0 has x87|SSE|AVX
	 * (under PVM the guest reads the host's XCR0, a superset) and a
	 * 256-bit add works. */
	ck_assert_int_eq(tconsole_num(&t, "osxsave"), 1);
	ck_assert_ptr_nonnull(strstr(t.console, "sse=ok\n"));
	if (!strstr(t.console, "avx=none")) {
		ck_assert_ptr_nonnull(strstr(t.console, "avx=ok\n"));
		ck_assert_int_eq(tconsole_num(&t, "xcr0") & 7, 7);
	}
	char want[128];
	snprintf(want, sizeof(want), "workload=%s\n", wl);
	ck_assert_ptr_nonnull(strstr(t.console, want));
	tvm_cleanup(&t);
}
END_TEST

/* The guest heap (init/microvm/heap.c) under random malloc/realloc/free
 * with every block's contents checked, then coalesced back to one block. */
START_TEST(test_guest_heap_stress)
{
	tvm_t t;
	const char *args[] = { "100000" };
	tvm_start(&t, "heap", args, 1);
	tvm_finish(&t, 30000);
	ck_assert_msg(t.res.outcome == KVM_OUTCOME_EXIT, "%s: %s", kvm_outcome_to_string(t.res.outcome), t.res.message);
	ck_assert_int_eq(t.res.exit_code, 0);
	ck_assert_ptr_nonnull(strstr(t.console, "heap ok: 100000 ops"));
	tvm_cleanup(&t);
}
END_TEST

/* --- hostile images --------------------------------------------------------- */

static uint8_t *read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)n);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*ret_len = (size_t)n;
	return b;
}

enum { H_EMPTY, H_GARBAGE, H_TRUNC, H_CLASS32, H_MACHINE, H_LOW, H_HUGE, H_OFFSET, H_ENTRY, H_PHNUM, H_DYN, _H_MAX };

static size_t make_hostile(int kind, uint8_t *b, size_t n)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;
	Elf64_Phdr *ph = (Elf64_Phdr *)(b + eh->e_phoff);
	switch (kind) {
	case H_EMPTY: return 0;
	case H_GARBAGE: memset(b, 0x41, n); return n;
	case H_TRUNC: return 100;
	case H_CLASS32: b[EI_CLASS] = ELFCLASS32; return n;
	case H_MACHINE: eh->e_machine = EM_AARCH64; return n;
	case H_LOW: ph[0].p_vaddr = ph[0].p_paddr = 0x1000; return n; /* over the page tables */
	case H_HUGE: ph[0].p_memsz = 0xfffffffffff00000ull; return n;
	case H_OFFSET: ph[0].p_offset = 0x7fffffffffffffffull; return n;
	case H_ENTRY: eh->e_entry = 0x10000000; return n;
	case H_PHNUM: eh->e_phnum = 60000; return n;
	case H_DYN: eh->e_type = ET_DYN; return n;
	}
	return n;
}

START_TEST(test_hostile_elf_refused)
{
	char path[512], src[512];
	size_t n;
	tvm_t t;
	kvm_worker_config_t c;

	tguest_path(src, sizeof(src), "hello");
	uint8_t *b = read_file(src, &n);
	size_t len = make_hostile(_i, b, n);
	snprintf(path, sizeof(path), "/tmp/mvm-hostile-%d-%d.elf", (int)getpid(), _i);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fwrite(b, 1, len, f), len);
	fclose(f);
	free(b);

	memset(&t, 0, sizeof(t));
	tvm_config(&t, path, &c);
	ck_assert_int_eq(kvm_worker_spawn(&c, &t.w), 0);
	int st = tvm_finish(&t, 10000);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "hostile %d: status 0x%x", _i, st);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_ERROR);
	ck_assert_msg(t.res.error == -ENOEXEC || t.res.error == -E2BIG || t.res.error == -EFBIG,
		      "hostile %d: %s", _i, t.res.message);
	ck_assert_ptr_nonnull(strstr(t.res.message, "loading the guest image"));
	ck_assert(!t.got_ready);
	unlink(path);
	tvm_cleanup(&t);
}
END_TEST

/* --- start failures ------------------------------------------------------- */

START_TEST(test_start_errors)
{
	tvm_t t;
	kvm_worker_config_t c;
	kvm_worker_t w;

	memset(&t, 0, sizeof(t));
	tvm_config(&t, "hello", &c);
	c.kvm_path = "/nonexistent/kvm";
	ck_assert_int_eq(kvm_worker_spawn(&c, &w), -ENOENT);
	c.kvm_path = NULL;
	c.image_path = "/nonexistent/guest";
	ck_assert_int_eq(kvm_worker_spawn(&c, &w), -ENOENT);
	tvm_config(&t, "hello", &c);
	c.memory_mib = 1;
	ck_assert_int_eq(kvm_worker_spawn(&c, &w), -EINVAL);
	c.memory_mib = 1u << 20;
	ck_assert_int_eq(kvm_worker_spawn(&c, &w), -EINVAL);
	c.memory_mib = 16;
	c.vcpus = 99;
	ck_assert_int_eq(kvm_worker_spawn(&c, &w), -EINVAL);
	/* No worker binary: the exec failure is the spawn's error. */
	c.vcpus = 1;
	c.vmm_path = "/nonexistent/mvm-vmm";
	ck_assert_int_eq(kvm_worker_spawn(&c, &w), -ENOENT);
	/* Nothing was left behind by the failures. */
	ck_assert_int_ne(access(t.ctl, F_OK), 0);
	tvm_cleanup(&t);
}
END_TEST

START_TEST(test_start_emfile)
{
	tvm_t t;
	kvm_worker_config_t c;
	kvm_worker_t w;
	struct rlimit rl;

	memset(&t, 0, sizeof(t));
	tvm_config(&t, "hello", &c);
	/* Fill the table up to a low limit (this test runs in its own fork). */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = 64;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (open("/dev/null", O_RDONLY) >= 0)
		;
	ck_assert_int_eq(errno, EMFILE);
	ck_assert_int_eq(kvm_worker_spawn(&c, &w), -EMFILE);
	for (int fd = 20; fd < 64; fd++)
		close(fd);
	/* With fds back the same config starts. */
	ck_assert_int_eq(kvm_worker_spawn(&c, &t.w), 0);
	tvm_finish(&t, 10000);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_EXIT);
	tvm_cleanup(&t);
}
END_TEST

START_TEST(test_start_enomem)
{
#if defined(__SANITIZE_ADDRESS__)
	MVMT_SKIP("ASan reserves terabytes of shadow: RLIMIT_AS cannot be tested under it");
#else
	tvm_t t;
	kvm_worker_config_t c;
	memset(&t, 0, sizeof(t));
	tvm_config(&t, "hello", &c);
	/* Room for the worker, not for 512 MiB of guest memory. */
	c.memory_mib = 512;
	c.rlimit_as = 256ull << 20;
	ck_assert_int_eq(kvm_worker_spawn(&c, &t.w), 0);
	int st = tvm_finish(&t, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_ERROR);
	ck_assert_int_eq(t.res.error, -ENOMEM);
	ck_assert_ptr_nonnull(strstr(t.res.message, "creating the VM"));
	tvm_cleanup(&t);
#endif
}
END_TEST

static int run_vmm(const char *arg)
{
	char vmm[512];
	int st;
	snprintf(vmm, sizeof(vmm), "%s/bin/mvm-vmm", tbuild());
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(vmm, vmm, arg, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

START_TEST(test_vmm_usage_errors)
{
	ck_assert_int_eq(run_vmm("--memory-mib=16"), 64);   /* no fds */
	ck_assert_int_eq(run_vmm("--memory-mib=lots"), 64);
	ck_assert_int_eq(run_vmm("--kvm-fd=-1"), 64);
	ck_assert_int_eq(run_vmm("--no-such-option"), 64);
}
END_TEST

/* A stack overflow hits the unmapped guard page: a clean fault with CR2
 * there, never a silent overwrite of the heap below. */
START_TEST(test_stack_overflow_hits_guard)
{
	tvm_t t;
	const char *args[] = { "stack" };
	const uint64_t mem = 16ull << 20;
	tvm_start(&t, "fault", args, 1);
	tvm_finish(&t, 10000);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_FAULT);
	ck_assert_int_eq(t.res.fault, KVM_FAULT_SHUTDOWN);
	if (!mvmt_kvm_shutdown_keeps_regs()) {
		tcheck_shutdown_regs_lost(&t);
		tvm_cleanup(&t);
		return;
	}
	ck_assert(t.res.regs_valid);
	uint64_t guard = mem - MVM_GUEST_STACK_SIZE - MVM_GUEST_STACK_GUARD;
	ck_assert_uint_ge(t.res.regs[KVM_REG_CR2], guard);
	ck_assert_uint_lt(t.res.regs[KVM_REG_CR2], guard + MVM_GUEST_STACK_GUARD);
	ck_assert_uint_lt(t.res.regs[KVM_REG_RSP], guard + MVM_GUEST_STACK_GUARD + 512);
	tvm_cleanup(&t);
}
END_TEST

/* The largest timeout a guest can pass to wait neither overflows the
 * host's deadline arithmetic nor keeps the guest from waking for a stop. */
START_TEST(test_wait_max_timeout)
{
	tvm_t t;
	const char *args[] = { "wait-max" };
	tvm_start(&t, "fault", args, 1);
	tvm_wait_console(&t, "waiting", 10000);
	usleep(100 * 1000);
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 5000), 0);
	int st = tvm_finish(&t, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_EXIT);
	ck_assert_int_eq(t.res.exit_code, 0);
	ck_assert_ptr_nonnull(strstr(t.console, "woke 2"));
	tvm_cleanup(&t);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "faults",
		.timeout = 60,
		.tests = MVMT_TESTS(
			MVMT_LOOP(test_fault_exceptions, ELEMENTSOF(shutdowns)),
			MVMT_LOOP(test_fault_other, ELEMENTSOF(other_faults)),
			MVMT_TEST(test_stack_overflow_hits_guard),
			MVMT_LOOP(test_bad_pointer_is_guest_fault, ELEMENTSOF(bad_pointers))),
	},
	{
		.name = "services",
		.timeout = 60,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_host_services),
			MVMT_TEST(test_guest_heap_stress),
			MVMT_TEST(test_wait_max_timeout)),
	},
	{
		.name = "images",
		.timeout = 60,
		.tests = MVMT_TESTS(
			MVMT_LOOP(test_hostile_elf_refused, _H_MAX)),
	},
	{
		.name = "start",
		.timeout = 60,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_start_errors),
			MVMT_TEST(test_start_emfile),
			MVMT_TEST(test_start_enomem),
			MVMT_TEST(test_vmm_usage_errors)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "kvm-guest", .tcases = tcases, .skip = mvmt_kvm_skip_reason, .init = mvmt_ignore_sigpipe)
