/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kvm backend's insides, shared by its files: daemon/mvmd/kvm/backend-kvm.c
 * (the backend's operations: start, stop, adopt, ...) and
 * daemon/mvmd/kvm/kvm-runtime.c (one worker's life as mvmd follows it: its
 * control connection, its console, how its VM ended). Nothing outside
 * daemon/mvmd/kvm/ includes this.
 */
#ifndef MVM_KVM_RUNTIME_H
#define MVM_KVM_RUNTIME_H

#include <stdbool.h>

#include "console.h"
#include "kvm-pool.h"
#include "kvm/worker.h"
#include "manager.h"
#include "supervise.h"

/* The backend's state: the manager's userdata for VM_BACKEND_KVM. */
typedef struct kvm_backend {
	char *vmm_path, *image_path, *kvm_path;
	int kvm_fd;         /* kvm_path, opened once it could be: handed to every worker */
	kvm_pool_t *pool;   /* warm workers, or NULL */
	supervisor_t *sv;   /* the workers' pidfds, and the reaping of those let go */
} kvm_backend_t;

typedef struct kvm_runtime {
	manager_t *m;
	kvm_backend_t *b;
	vm_t *vm;
	kvm_worker_t w;    /* pid, start_time, ctl (the pidfd went to proc) */
	sv_proc_t *proc;   /* the worker's pidfd, watched */
	bool pooled;       /* a warm worker from the pool (daemon/mvmd/kvm/kvm-pool.h) */
	bool adopted;      /* re-adopted after a restart: its READY may have gone to the last mvmd */
	bool heard;        /* it said anything on its control connection */
	bool have_result;
	kvm_result_t result;
	sd_event_source *ctl_src;
	sd_event_source *timeout_timer; /* the workload's timeout_ms */
	char timeout_why[64];
	console_t *console;
} kvm_runtime_t;

/* A runtime for a worker: pidfd is taken (closed on failure). */
int kvm_runtime_new(manager_t *m, vm_t *vm, const kvm_worker_t *w, bool is_child, kvm_runtime_t **ret);
/* Tear down the runtime objects; a worker still running is let go (the
 * supervisor reaps it once it is gone). */
void kvm_runtime_free(kvm_runtime_t *k);
/* Event sources and console; the VM's backend_data from then on. */
int kvm_runtime_attach(kvm_runtime_t *k);
/* Arm the workload's timeout, left_usec from now (none without one). */
int kvm_runtime_arm_timeout(kvm_runtime_t *k, uint64_t left_usec);
/* A run's stdin (run.h), then the end of input, queued to the worker. */
int kvm_runtime_send_input(kvm_runtime_t *k);
/* Queue output on the control connection: watch for writability. */
void kvm_runtime_ctl_update(kvm_runtime_t *k);
/* Apply a final outcome to the VM: Stopped, StartFailed or Failed. */
void kvm_apply_end(manager_t *m, vm_t *vm, const kvm_result_t *r, const char *fallback_cause);

/* backend-kvm.c: spawn (or take from the pool) a worker for a Starting VM. */
int kvm_start_worker(manager_t *m, vm_t *vm, bool allow_pool, char **ret_cause);

#endif
