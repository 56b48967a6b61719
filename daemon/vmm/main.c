/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvm-vmm: the per-VM worker. Exec'd by mvmd (daemon/mvmd/kvm/worker.c) with its
 * fds already open; see docs/worker-protocol.md.
 *
 *   mvm-vmm --kvm-fd=N --image-fd=N --assign-fd=N [--cpuid-fd=N]
 *           [--memory-mib=16] [--vcpus=1] [--rlimit-as=BYTES]
 *           [--debug-forbidden-syscall] [--debug-exec-mapping] [--snapshot-fd=N]
 *           a cold worker: its VM (control socket, result file, vsock
 *           socket, module, args, capabilities, environment, workload
 *           hash) comes in the one ASSIGN waiting on the assign socket
 *   mvm-vmm --kvm-fd=N --image-fd=N --pool-fd=N [--cpuid-fd=N] [--memory-mib=16]
 *           [--vcpus=1] [--warm-kib=N] [--rlimit-as=BYTES]
 *           a warm worker: the same ASSIGN comes on the pool socket once
 *           its guest is warm (lib/proto/warm.h)
 *   mvm-vmm --zygote-fd=N
 *           the zygote: enters the sandbox once, then forks each worker
 *           mvmd asks for (with one of the command lines above) into that
 *           one seccomp filter (daemon/vmm/zygote.c, docs/density.md)
 *
 * Nothing a tenant gave is ever an option: /proc/PID/cmdline is readable
 * by every local user.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "vmm.h"

static int parse_u32(const char *s, uint32_t *ret)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static int parse_fd(const char *s, int *ret)
{
	uint32_t v;
	if (parse_u32(s, &v) < 0 || v > 1u << 20)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	int zfd;

	/* The zygote's line: --zygote-fd=N, then room for each worker's
	 * own line (zygote.c writes it there: ps shows the worker's). */
	if ((argc == 2 || argc == 3) && strncmp(argv[1], "--zygote-fd=", 12) == 0) {
		if (parse_fd(argv[1] + 12, &zfd) < 0) {
			fprintf(stderr, "mvm-vmm: bad option value: %s\n", argv[1]);
			return KVM_VMM_EXIT_USAGE;
		}
		return kvm_zygote_main(zfd, argv[0], (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]));
	}
	return kvm_vmm_cli(argc, argv, false);
}

int kvm_vmm_cli(int argc, char **argv, bool sandboxed)
{
	kvm_vmm_config_t cfg = {
		.kvm_fd = -1, .image_fd = -1, .ctl_fd = -1, .result_fd = -1, .cpuid_fd = -1, .vsock_fd = -1, .console_fd = -1,
		.blob_fd = -1, .pool_fd = -1, .assign_fd = -1, .snapshot_fd = -1, .memory_mib = 16, .vcpus = 1,
		.sandboxed = sandboxed,
	};
	enum { O_KVM = 256, O_IMAGE, O_ASSIGN, O_CPUID, O_MEM, O_VCPUS, O_RLIMIT_AS, O_DEBUG_SYS, O_DEBUG_EXEC, O_POOL, O_WARM, O_SNAPSHOT };
	static const struct option opts[] = {
		{ "kvm-fd", required_argument, NULL, O_KVM },
		{ "image-fd", required_argument, NULL, O_IMAGE },
		{ "assign-fd", required_argument, NULL, O_ASSIGN },
		{ "cpuid-fd", required_argument, NULL, O_CPUID },
		{ "memory-mib", required_argument, NULL, O_MEM },
		{ "vcpus", required_argument, NULL, O_VCPUS },
		{ "rlimit-as", required_argument, NULL, O_RLIMIT_AS },
		{ "debug-forbidden-syscall", no_argument, NULL, O_DEBUG_SYS },
		{ "debug-exec-mapping", no_argument, NULL, O_DEBUG_EXEC },
		{ "pool-fd", required_argument, NULL, O_POOL },
		{ "warm-kib", required_argument, NULL, O_WARM },
		{ "snapshot-fd", required_argument, NULL, O_SNAPSHOT },
		{ 0 },
	};
	unsigned long long rlimit_as = 0;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_KVM: r = parse_fd(optarg, &cfg.kvm_fd); break;
		case O_IMAGE: r = parse_fd(optarg, &cfg.image_fd); break;
		case O_ASSIGN: r = parse_fd(optarg, &cfg.assign_fd); break;
		case O_CPUID: r = parse_fd(optarg, &cfg.cpuid_fd); break;
		case O_MEM: r = parse_u32(optarg, &cfg.memory_mib); break;
		case O_VCPUS: r = parse_u32(optarg, &cfg.vcpus); break;
		case O_RLIMIT_AS: {
			char *end;
			errno = 0;
			rlimit_as = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || rlimit_as == 0)
				r = -EINVAL;
			break;
		}
		case O_POOL: r = parse_fd(optarg, &cfg.pool_fd); break;
		case O_SNAPSHOT: r = parse_fd(optarg, &cfg.snapshot_fd); break;
		case O_WARM: {
			uint32_t kib;
			r = parse_u32(optarg, &kib);
			cfg.warm_bytes = (uint64_t)kib << 10;
			break;
		}
		case O_DEBUG_SYS: cfg.debug |= KVM_VMM_DEBUG_FORBIDDEN_SYSCALL; break;
		case O_DEBUG_EXEC: cfg.debug |= KVM_VMM_DEBUG_EXEC_MAPPING; break;
		default: r = -EINVAL; break;
		}
		if (r < 0) {
			fprintf(stderr, "mvm-vmm: bad option value: %s\n", optarg ? optarg : "?");
			return KVM_VMM_EXIT_USAGE;
		}
	}
	/* Either way the VM itself comes in an ASSIGN: exactly one socket. */
	bool warm = cfg.pool_fd >= 0;
	if (optind != argc || cfg.kvm_fd < 0 || cfg.image_fd < 0 || (cfg.assign_fd < 0) == !warm ||
	    (warm && cfg.snapshot_fd >= 0)) {
		fprintf(stderr, "usage: mvm-vmm --kvm-fd=N --image-fd=N --assign-fd=N ...\n"
				"       mvm-vmm --kvm-fd=N --image-fd=N --pool-fd=N [--warm-kib=N] ...\n");
		return KVM_VMM_EXIT_USAGE;
	}
	/* An address-space limit the parent asked for, before any allocation
	 * of ours (guest memory is the big one). */
	if (rlimit_as) {
		struct rlimit rl = { rlimit_as, rlimit_as };
		if (setrlimit(RLIMIT_AS, &rl) < 0) {
			fprintf(stderr, "mvm-vmm: setrlimit: %m\n");
			return KVM_VMM_EXIT_USAGE;
		}
	}
	kvm_result_t res;
	char line[512];
	r = kvm_vmm_main(&cfg, &res);
	/* One line for the worker's log: snprintf + write(2), the only way
	 * the seccomp filter allows (stdio would fstat). */
	switch (res.outcome) {
	case KVM_OUTCOME_EXIT:
		snprintf(line, sizeof(line), "mvm-vmm[%d]: guest exited with %" PRIu32 "\n", (int)getpid(), res.exit_code);
		break;
	case KVM_OUTCOME_STOPPED:
		snprintf(line, sizeof(line), "mvm-vmm[%d]: guest stopped\n", (int)getpid());
		break;
	case KVM_OUTCOME_FAULT:
		snprintf(line, sizeof(line), "mvm-vmm[%d]: guest fault %s at rip=0x%llx addr=0x%llx: %s\n", (int)getpid(),
			kvm_fault_to_string(res.fault), (unsigned long long)res.regs[KVM_REG_RIP],
			(unsigned long long)res.fault_addr, res.message);
		break;
	default:
		snprintf(line, sizeof(line), "mvm-vmm[%d]: failed: %s\n", (int)getpid(), res.message);
		break;
	}
	if (write(2, line, strnlen(line, sizeof(line))) < 0) {
		/* nothing left to tell it to */
	}
	/* _exit: no atexit handlers under seccomp (LeakSanitizer's would ptrace). */
	_exit(r);
}
