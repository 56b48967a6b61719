/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node capacity: the memory and vCPUs the VMs of this node may hold at
 * once (--max-memory-mib, --max-vcpus), what they hold now, and the
 * check a start makes against them. A VM holds its budget from Starting
 * through Stopping: the process may run in any of them.
 *
 * Also what the process of one VM (worker or cloud-hypervisor) costs,
 * read from /proc/PID of that process only, as the hardened unit's
 * ProcSubset=pid allows.
 */
#ifndef MVM_CAPACITY_H
#define MVM_CAPACITY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "manager.h"

/* Defaults from the host, without /proc/meminfo or /proc/cpuinfo: the
 * RAM sysinfo(2) reports less a reserve for the host (an eighth, at
 * least 256 MiB, at most half), and the online CPUs times
 * CAPACITY_VCPU_OVERCOMMIT (vCPUs mostly wait: an idle micro-VM's
 * vCPU is a thread blocked in its worker, and a node is meant to hold
 * thousands; memory is not overcommitted, guest memory is real). */
#define CAPACITY_VCPU_OVERCOMMIT 64u
#define CAPACITY_MEMORY_RESERVE_MIN_MIB 256u
uint64_t capacity_default_memory_mib(void);
unsigned capacity_default_vcpus(void);

typedef struct capacity_use {
	uint64_t memory_mib_limit, memory_mib_used;
	uint64_t vcpus_limit, vcpus_used;
} capacity_use_t;

void capacity_use(manager_t *m, capacity_use_t *ret);

/* A start's refusal: which resource, what is used, the limit, what was asked. */
typedef struct capacity_refusal {
	const char *resource; /* "memory_mib" or "vcpus" */
	uint64_t used, limit, requested;
} capacity_refusal_t;

/* 0 if vm fits beside the VMs holding their budget now; -EDQUOT with
 * *ret filled when it does not. */
int capacity_check(manager_t *m, const vm_t *vm, capacity_refusal_t *ret);

typedef struct capacity_proc {
	double cpu_seconds; /* user + system */
	uint64_t rss_bytes;
} capacity_proc_t;

/* The cost of process pid, if it is still the one started at
 * starttime (field 22 of /proc/PID/stat; 0: not checked). -ESRCH when
 * it is gone or another process has its pid. */
int capacity_proc_read(pid_t pid, uint64_t starttime, capacity_proc_t *ret);

#endif
