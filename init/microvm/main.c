/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvm-guest: prints a banner with its boot info, then idles in
 * wait-for-message (the vCPU sleeps in the host) echoing console input and
 * serving exec requests on vsock port 52 (agent.c), until the host asks it
 * to stop; then it exits with code 0. With a workload hash in the boot
 * info it runs that Wasm module instead (workload.c).
 */
#include "agent.h"
#include "mvm.h"

static const char *region_name(uint32_t t)
{
	switch (t) {
	case MVM_MEM_RESERVED: return "reserved";
	case MVM_MEM_IMAGE: return "image";
	case MVM_MEM_FREE: return "free";
	case MVM_MEM_STACK: return "stack";
	case MVM_MEM_GUARD: return "guard";
	default: return "?";
	}
}

int mvm_main(const struct mvm_boot_info *bi)
{
	char **argv = (char **)(uintptr_t)bi->argv, **caps = (char **)(uintptr_t)bi->caps;
	uint64_t mono, real;
	char buf[256];

	/* A VM made to run a Wasm module by hash runs it and nothing else. */
	if (bi->workload[0])
		return mvm_workload_run(bi);

	mvm_clock(&mono, &real);
	mvm_printf("mvm-guest: booted: %llu MiB, %u vcpu(s), realtime %llu.%03llu\n",
		   (unsigned long long)(bi->mem_size >> 20), bi->vcpus,
		   (unsigned long long)(real / 1000000000ull),
		   (unsigned long long)(real / 1000000ull % 1000));
	for (uint32_t i = 0; i < bi->nregions; i++)
		mvm_printf("mvm-guest: memory 0x%llx-0x%llx %s\n",
			   (unsigned long long)bi->regions[i].base,
			   (unsigned long long)(bi->regions[i].base + bi->regions[i].size),
			   region_name(bi->regions[i].type));
	for (uint32_t i = 0; i < bi->argc; i++)
		mvm_printf("mvm-guest: arg[%u]=%s\n", i, argv[i]);
	for (uint32_t i = 0; i < bi->ncaps; i++)
		mvm_printf("mvm-guest: cap %s\n", caps[i]);
	mvm_printf("mvm-guest: workload %s\n", bi->workload[0] ? bi->workload : "(none)");
	static mvm_agent_t agent;
	int r = mvm_heap_init_boot(bi);
	if (r == 0)
		r = mvm_agent_init(&agent, bi);
	if (r < 0)
		mvm_printf("mvm-guest: no exec agent: %d\n", r);
	mvm_printf("mvm-guest: ready\n");

	struct mvm_wait_accept *wa = NULL;
	uint32_t ev = MVM_EV_VSOCK;
	uint64_t now = mvm_clock_monotonic();
	for (;;) {
		/* Serve exec until nothing moves, then sleep in the host (the
		 * wait says the time: no clock call per round, and it accepts
		 * the next connection, request included: no accept call). */
		for (bool vsock = mvm_agent_waited(&agent, wa != NULL, ev, now); mvm_agent_step(&agent, vsock, now);
		     vsock = false)
			;
		mvm_console_flush();
		wa = mvm_agent_wait_block(&agent);
		ev = mvm_wait_accept_now(mvm_agent_timeout_ns(&agent, now), wa, &now);
		if (ev & MVM_EV_CONSOLE_IN) {
			int64_t n;
			while ((n = mvm_console_read(buf, sizeof(buf))) > 0) {
				mvm_printf("mvm-guest: echo: ");
				mvm_console_put(buf, (size_t)n);
			}
		}
		if (ev & MVM_EV_STOP) {
			mvm_printf("mvm-guest: stopping\n");
			return 0;
		}
	}
}
