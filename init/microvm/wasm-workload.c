/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Run the VM's Wasm workload (docs/workloads.md): fetch the module by the
 * hash in the boot info (MVM_HC_BLOB_LOAD), instantiate it with WASI
 * preview1 whose host table is made of hypercalls, run _start, and end
 * the VM with its exit code. Every failure ends the VM through the abort
 * call with a message that names what went wrong (a trap's kind, a
 * missing import's name), which mvmd puts in the VM's cause.
 *
 *   stdout         buffered in guest memory (rt.c): one exit per 4 KiB
 *                  flush, never one per write
 *   stderr         the stderr call, one exit per write, stdout flushed
 *                  first (the host joins it to the console, or keeps it
 *                  apart for a compute.vm.run)
 *   stdin          console_read; when nothing is waiting, the wait call
 *                  (the vCPU sleeps in the host, no spinning); a read
 *                  that says -EPIPE is the end of input
 *   clocks         the clock call; random: the random call (256 B each)
 *   args, env      the boot info; capabilities: the boot info's list
 *   mvm.*          an actor's send, answer and wait (actor.c, docs/actors.md)
 */
#include "actor.h"
#include "mvm.h"
#include "wasm/wasi-link.h"
#include "wasm/wasi.h"
#include "wasm/wasm.h"

#define WL_NAME_MAX 160

/* Output older than about this many TSC ticks (~3 ms at 3 GHz) is
 * flushed at the next write: see wl_writev. */
#define WL_FLUSH_TICKS (1ull << 23)

static uint64_t boot_mono, last_flush_tsc;

/*
 * Output is batched in the guest (rt.c: one exit per 4 KiB, and before
 * wait and exit), so a write loop costs one exit per 4 KiB, not per
 * write. So that a program that prints and then computes for a long time
 * (or for ever) still shows its output, a write also flushes when the last
 * flush is more than WL_FLUSH_TICKS old: at most one extra exit per ~3 ms.
 * The TSC is read at CPL3 without an exit.
 */
static int64_t wl_writev(void *user, int fd, const wasi_iovec *iov, int iovcnt)
{
	int64_t n = 0;
	(void)user;
	if (fd == 2) {
		/* Unbuffered, as stderr is; stdout's bytes so far go first. */
		mvm_console_flush();
		for (int i = 0; i < iovcnt; i++)
			for (size_t off = 0; off < iov[i].len;) {
				size_t k = iov[i].len - off > MVM_HC_CONSOLE_MAX ? MVM_HC_CONSOLE_MAX : iov[i].len - off;
				mvm_hypercall(MVM_HC_STDERR_WRITE, (const char *)iov[i].buf + off, k);
				off += k;
				n += (int64_t)k;
			}
		return n;
	}
	for (int i = 0; i < iovcnt; i++) {
		mvm_console_put(iov[i].buf, iov[i].len);
		n += (int64_t)iov[i].len;
	}
	uint64_t now = mvm_rdtsc();
	if (now - last_flush_tsc > WL_FLUSH_TICKS) {
		mvm_console_flush();
		last_flush_tsc = now;
	}
	return n;
}

static int64_t wl_readv(void *user, int fd, const wasi_iovec *iov, int iovcnt)
{
	(void)user;
	(void)fd;
	for (int i = 0; i < iovcnt; i++) {
		if (!iov[i].len)
			continue;
		size_t cap = iov[i].len > MVM_HC_CONSOLE_MAX ? MVM_HC_CONSOLE_MAX : iov[i].len;
		for (;;) {
			int64_t n = mvm_console_read(iov[i].buf, cap);
			if (n > 0)
				return n;
			if (n < 0)
				return 0; /* the host ended the input */
			/* Blocks in the host (and flushes our output first). */
			if (mvm_wait(-1) & MVM_EV_STOP)
				return 0; /* asked to stop: end of input */
		}
	}
	return 0;
}

static int wl_clock_time(void *user, uint32_t id, uint64_t *ret_ns)
{
	uint64_t mono, real;
	(void)user;
	mvm_clock(&mono, &real);
	switch (id) {
	case WASI_CLOCK_REALTIME: *ret_ns = real; return 0;
	case WASI_CLOCK_MONOTONIC: *ret_ns = mono; return 0;
	case WASI_CLOCK_PROCESS_CPUTIME:
	case WASI_CLOCK_THREAD_CPUTIME: *ret_ns = mono - boot_mono; return 0;
	default: return -WASI_ERRNO_INVAL;
	}
}

static int wl_clock_res(void *user, uint32_t id, uint64_t *ret_ns)
{
	(void)user;
	if (id > WASI_CLOCK_THREAD_CPUTIME)
		return -WASI_ERRNO_INVAL;
	*ret_ns = 1000; /* the host's clocks are finer; 1 µs is honest for a VM exit */
	return 0;
}

static int wl_random(void *user, void *buf, size_t len)
{
	uint8_t *p = buf;
	(void)user;
	while (len) {
		size_t k = len > MVM_HC_RANDOM_MAX ? MVM_HC_RANDOM_MAX : len;
		if (mvm_random(p, k) != (int64_t)k)
			return -WASI_ERRNO_IO;
		p += k;
		len -= k;
	}
	return 0;
}

static int wl_sleep_until(void *user, uint32_t id, uint64_t deadline)
{
	for (;;) {
		uint64_t now;
		int r = wl_clock_time(user, id, &now);
		if (r < 0)
			return r;
		if (now >= deadline)
			return 0;
		if (mvm_wait((int64_t)(deadline - now)) & MVM_EV_STOP)
			return -WASI_ERRNO_INTR;
	}
}

static const wasi_host wl_host = {
	.writev = wl_writev, .readv = wl_readv, .clock_time = wl_clock_time,
	.clock_res = wl_clock_res, .random = wl_random, .sleep_until = wl_sleep_until,
};

/* Resolver that remembers which import it was asked for last, so an
 * unlinkable module's cause names the import. */
typedef struct wl_resolver {
	wasi_link link;
	char last[WL_NAME_MAX];
	int failed;
} wl_resolver;

static void name_import(char *out, const wasm_import_desc *want)
{
	mvm_snprintf(out, WL_NAME_MAX, "%s.%s", want->module, want->name);
}

static int wl_resolve(void *ud, const wasm_import_desc *want, wasm_extern *ret)
{
	wl_resolver *r = ud;
	int k = mvm_actor_resolve(r->link.store, want, ret);
	if (k == -WASM_ENOENT)
		k = wasi_link_resolve(&r->link, want, ret);
	if (!r->failed)
		name_import(r->last, want);
	if (k < 0)
		r->failed = 1;
	return k;
}

static __attribute__((noreturn, format(printf, 1, 0))) void wl_fail(const char *fmt, const char *a, const char *b)
{
	char msg[MVM_HC_ABORT_MAX];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	mvm_snprintf(msg, sizeof(msg), fmt, a, b); /* callers' formats: two %s */
#pragma GCC diagnostic pop
	mvm_abort(msg);
}

/*
 * A primed warm VM (MVM_BOOT_F_PRIMED) has compiled its module before it
 * was anyone's: now ask for the rest of the boot info, which must name
 * the same module.
 */
static void wl_finish_config(const struct mvm_boot_info *bi)
{
	char hash[sizeof(bi->workload)];
	memcpy(hash, bi->workload, sizeof(hash));
	if (mvm_config(&boot_mono) != 0 || bi->magic != MVM_BOOT_MAGIC || bi->flags != 0 ||
	    memcmp(hash, bi->workload, sizeof(hash)) != 0)
		mvm_abort("workload: the configuration does not match the primed module");
}

int mvm_workload_run(const struct mvm_boot_info *bi)
{
	const char *const *argv;
	const char *const *envp;
	char **caps;
	static wl_resolver res;
	char size_text[32];
	uint32_t grant = 0;
	size_t free_bytes, largest;
	wasm_config cfg = { 0 };
	wasm_module *mod = NULL;
	wasm_error err = { 0 };
	wasi_run_result run;
	wasi_ctx ctx;
	int64_t got;

	boot_mono = mvm_clock_monotonic();
	if (mvm_heap_init_boot(bi) < 0)
		mvm_abort("workload: no free memory for the heap");
	mvm_snprintf(size_text, sizeof(size_text), "%llu", (unsigned long long)bi->workload_size);
	uint8_t *bytes = mvm_malloc(bi->workload_size ? bi->workload_size : 1);
	if (!bytes)
		wl_fail("workload: module of %s bytes does not fit in guest memory (%s)", size_text, bi->workload);
	got = mvm_hypercall(MVM_HC_BLOB_LOAD, bytes, bi->workload_size);
	if (got < 0 || (uint64_t)got != bi->workload_size)
		wl_fail("workload: blob %s not available to the guest (load returned %s)", bi->workload,
			got == -2 ? "ENOENT" : got == -7 ? "E2BIG" : "an error");

	/* Linear memory is bounded by what the guest has: memory.grow past
	 * it returns -1 (the allocator fails first or the cap does). */
	/* The library's default value stack (1M slots) is sized for a host
	 * process; 64K slots keep deep recursion a clean "call stack
	 * exhausted" trap and leave a small VM's memory to the module. */
	cfg.max_value_stack = 1u << 16;
	wasm_config_init(&cfg);
	cfg.alloc = mvm_heap_hook;
	mvm_heap_stats(&free_bytes, &largest);
	if (largest / 65536 < cfg.max_memory_pages)
		cfg.max_memory_pages = (uint32_t)(largest / 65536);
	if (wasm_module_new(&cfg, bytes, bi->workload_size, &mod, &err) < 0)
		wl_fail("workload: invalid module (%s): %s", wasm_error_kind_to_string(err.kind), err.message);
	mvm_free(bytes); /* the module keeps its compiled form only */
	if (bi->flags & MVM_BOOT_F_PRIMED)
		wl_finish_config(bi); /* the VM's life, and boot_mono, start there */
	argv = (const char *const *)(uintptr_t)bi->argv;
	envp = (const char *const *)(uintptr_t)bi->envp;
	caps = (char **)(uintptr_t)bi->caps;

	for (uint32_t i = 0; i < bi->ncaps; i++)
		grant |= wasi_cap_from_string(caps[i]);
	wasi_ctx_init(&ctx, &wl_host, grant, bi->argc, argv, bi->envc, envp);
	wasm_store *store = wasm_store_new(&cfg);
	if (!store)
		mvm_abort("workload: out of memory creating the store");
	wasi_link_init(&res.link, &ctx, store);
	wasm_call_opts opts = { .fuel = 0 };
	wasi_run_status st = wasi_link_run_command(&res.link, mod, wl_resolve, &res, &opts, &run);
	wasm_module_free(mod);
	mvm_actor_flush(); /* an answer made just before the end still goes */
	if (st == WASI_RUN_NOT_INSTANTIATED) {
		if (run.err.kind == WASM_ERR_UNLINKABLE)
			wl_fail("workload: unknown import %s (%s)", res.last, run.err.message);
		wl_fail("workload: cannot instantiate (%s): %s", wasm_error_kind_to_string(run.err.kind),
			run.err.message);
	}
	if (st == WASI_RUN_NO_START)
		mvm_abort("workload: the module has no _start function of type [] -> []");
	if (st == WASI_RUN_TRAPPED) {
		const char *kind = wasm_trap_kind_to_string(run.trap.kind);
		if (run.in_start_function)
			wl_fail("wasm trap: %s (during instantiation)%s", kind, "");
		if (run.trap.message && run.trap.message[0] && !(run.trap.message == kind))
			wl_fail("wasm trap: %s: %s", kind, run.trap.message);
		wl_fail("wasm trap: %s%s", kind, "");
	}
	mvm_console_flush();
	/* Whole: WASI's exit code is a u32, and the exit call carries 32 bits. */
	return (int)run.exit_code;
}
