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
	uint32_t op_timeout_ms; /* a pause, resume or snapshot step not answered by then kills the worker */
	/* Staged mass stop (kvm-teardown.c): at most teardown_max workers in
	 * teardown (0: no cap); the stops beyond wait here, oldest first. */
	unsigned teardown_max;
	struct kvm_runtime *stop_head, *stop_tail;
	size_t n_stops_queued;
} kvm_backend_t;

typedef struct kvm_runtime {
	manager_t *m;
	kvm_backend_t *b;
	vm_t *vm;
	kvm_worker_t w;    /* pid, start_time, ctl (the pidfd went to proc) */
	sv_proc_t *proc;   /* the worker's pidfd, watched */
	bool pooled;       /* a warm worker from the pool (daemon/mvmd/kvm/kvm-pool.h) */
	char *snapshot;    /* pooled: the snapshot ref it was to continue from, NULL none */
	bool adopted;      /* re-adopted after a restart: its READY may have gone to the last mvmd */
	bool heard;        /* it said anything on its control connection */
	bool have_result;
	kvm_result_t result;
	sd_event_source *ctl_src;
	sd_event_source *timeout_timer; /* the workload's timeout_ms */
	char timeout_why[64];
	console_t *console;
	/* A pause, resume or snapshot in progress (kvm-pause.c): one at a time. */
	int op;                  /* KVM_OP_NONE, ... */
	manager_done_fn op_done;
	void *op_userdata;
	bool op_resume;          /* a snapshot of a Running VM: resume after it */
	int op_error;            /* the snapshot's, told after the resume */
	char *op_cause;
	char *op_dir;            /* the snapshot's directory */
	int op_fd;               /* its file, until handed to the worker; -1 */
	sd_event_source *op_retry; /* the hand-over waits for the connection's queue */
	sd_event_source *op_deadline; /* the step's answer is due (kvm-pause.c) */
	bool op_timed_out;       /* it was not: the worker is being killed */
	char op_why[96];         /* what it did not answer (the kill's reason) */
	/* A stop waiting for its turn (kvm-teardown.c). */
	bool stop_queued, stop_force;
	uint64_t stop_timeout_ms;
	struct kvm_runtime *stop_prev, *stop_next;
	/* A reusable run's worker (kvm-pool.h, kvm_pool_keep): its pool
	 * socket (valid while reusable), the module and key it is kept for. */
	bool reusable;
	int reuse_fd;
	char *reuse_workload, *reuse_key;
} kvm_runtime_t;

enum { KVM_OP_NONE, KVM_OP_PAUSE, KVM_OP_RESUME, KVM_OP_SNAPSHOT };

/* --kvm-op-timeout-ms's default; a snapshot's write gets 1 s more per
 * KVM_OP_SNAPSHOT_MIB_PER_S MiB of guest memory (docs/snapshots.md). */
#define KVM_OP_TIMEOUT_MS_DEFAULT 10000u
#define KVM_OP_SNAPSHOT_MIB_PER_S 64u

/* A runtime for a worker: pidfd is taken (closed on failure). */
int kvm_runtime_new(manager_t *m, vm_t *vm, const kvm_worker_t *w, bool is_child, kvm_runtime_t **ret);
/* The worker came from the pool for a run with a reuse key: *pool_fd is
 * taken; after a clean exit the worker goes back to the pool. */
int kvm_runtime_set_reuse(kvm_runtime_t *k, int *pool_fd, const char *workload, const char *key);
/* Tear down the runtime objects; a worker still running is let go (the
 * supervisor reaps it once it is gone). */
void kvm_runtime_free(kvm_runtime_t *k);
/* Event sources and console; the VM's backend_data from then on. */
int kvm_runtime_attach(kvm_runtime_t *k);
/* Arm the workload's timeout, left_usec from now (none without one). */
int kvm_runtime_arm_timeout(kvm_runtime_t *k, uint64_t left_usec);
/* A run's stdin (run.h), then the end of input, queued to the worker. */
int kvm_runtime_send_input(kvm_runtime_t *k);
/* A worker's HELLO, heard by a re-adopting mvmd: serve its console
 * ourselves if it does not (KVM_HELLO_F_CONSOLE clear). */
void kvm_runtime_on_hello(kvm_runtime_t *k, const kvm_msg_hello_t *h);
/* Queue output on the control connection: watch for writability. */
void kvm_runtime_ctl_update(kvm_runtime_t *k);
/* Apply a final outcome to the VM: Stopped, StartFailed or Failed. */
void kvm_apply_end(manager_t *m, vm_t *vm, const kvm_result_t *r, const char *fallback_cause);

/* kvm-pause.c: the backend's pause, resume, snapshot and restore hooks;
 * the worker's answers (PAUSED, RESUMED, SNAPSHOT_DONE; HELLO's paused
 * state after a restart); the end of an operation the VM's end or a stop
 * cancels (-ECANCELED). */
int kvm_pause(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata);
int kvm_resume(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata);
int kvm_snapshot(manager_t *m, vm_t *vm, const char *dir, manager_done_fn done, void *userdata);
int kvm_restore(manager_t *m, vm_t *vm, const char *dir, char **ret_cause);
void kvm_pause_on_msg(kvm_runtime_t *k, const kvm_msg_t *msg);
void kvm_pause_on_hello(kvm_runtime_t *k, uint32_t worker_state);
void kvm_pause_abort(kvm_runtime_t *k, const char *cause);
/* Free what an operation in progress holds without answering it. */
void kvm_pause_drop(kvm_runtime_t *k);

/* kvm-teardown.c: a stop now (0), or queued (1) while teardown_max workers are in
 * teardown; a kill now, counted; a runtime's queued stop dropped (it
 * ended meanwhile); the next stops once some teardown ended (the
 * supervisor's on_teardown_done, userdata the backend); node.info's
 * backends.kvm.teardown. */
int kvm_teardown_stop(kvm_runtime_t *k, bool force, uint64_t timeout_ms);
void kvm_teardown_kill(kvm_runtime_t *k);
void kvm_teardown_dequeue(kvm_runtime_t *k);
void kvm_teardown_next(void *userdata);
json_object *kvm_teardown_describe(const kvm_backend_t *b);

/* backend-kvm.c: spawn (or take from the pool) a worker for a Starting VM. */
int kvm_start_worker(manager_t *m, vm_t *vm, bool allow_pool, char **ret_cause);
/* As kvm_start_worker, but the VM continues from the snapshot blob ref
 * ("sha256:<hex>") instead of booting. */
int kvm_start_worker_from(manager_t *m, vm_t *vm, const char *snapshot_ref, bool allow_pool, char **ret_cause);

#endif
