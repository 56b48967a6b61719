/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd's side of Wasm workloads by hash (docs/workloads.md): reading a VM
 * spec's "workload" for the kvm backend. The worker side is
 * daemon/vmm/module.c, the guest side init/microvm/wasm-workload.c.
 */
#ifndef MVM_WORKLOAD_H
#define MVM_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manager.h"

#define WORKLOAD_LIST_MAX 256
#define WORKLOAD_SEND_TIMEOUT_MS 30000u /* an actor's send without an answer, by default */

typedef struct workload_start {
	const char *hash;          /* "sha256:<hex>", borrowed from the spec */
	int blob_fd;               /* the module, O_RDONLY (owned) */
	const char *args[WORKLOAD_LIST_MAX];
	size_t nargs;
	char *envs[WORKLOAD_LIST_MAX]; /* "NAME=value" (owned) */
	size_t nenvs;
	const char *caps[WORKLOAD_LIST_MAX];
	size_t ncaps;
	uint64_t timeout_ms;       /* 0: none */
} workload_start_t;

/* Whether the VM's spec has a workload. */
bool workload_present(const vm_t *vm);
/* The spec's timeout_ms, 0 when none. */
uint64_t workload_timeout_ms(const vm_t *vm);
/* Actors (docs/actors.md): k >= 1 when the spec's workload.handles[k-1]
 * is iface ("sha256:<hex>"), else 0; whether workload.capabilities
 * grants "send:<iface>". */
unsigned workload_handles_index(const vm_t *vm, const char *iface);
bool workload_may_send(const vm_t *vm, const char *iface);
/* How long the VM's actor sends wait for an answer: the spec's
 * workload.send_timeout_ms, else WORKLOAD_SEND_TIMEOUT_MS. */
uint64_t workload_send_timeout_ms(const vm_t *vm);
/* The spec's workload.handles, or NULL. */
json_object *workload_handles(const vm_t *vm);
/*
 * Create-time check: the blob exists. 0 without a workload or when it
 * does. Missing, with blob sources configured (pull.h): a pull starts and
 * -EINPROGRESS says the VM stays Provisioning until it ends (Configured,
 * or Failed with a cause naming each source's answer). Otherwise -ENOENT
 * with *ret_cause "blob not found: sha256:...".
 */
int workload_provision(manager_t *m, vm_t *vm, char **ret_cause);
/* Open the blob read-only and collect args, env and capabilities.
 * -ENOENT (blob gone) and others with *ret_cause set. */
int workload_start_prepare(manager_t *m, vm_t *vm, workload_start_t *ret, char **ret_cause);
void workload_start_done(workload_start_t *w);
/*
 * Microseconds left until the timeout of a worker started at start_ticks
 * (/proc/PID/stat field 22, clock ticks since boot): survives a mvmd
 * restart without extra state. 0 when it has passed.
 */
uint64_t workload_timeout_left_usec(uint64_t timeout_ms, uint64_t start_ticks);

#endif
