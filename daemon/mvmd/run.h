/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One-shot runs (compute.vm.run, docs/workloads.md "One-shot runs"): a
 * Wasm module run by hash in a fresh kvm micro-VM, answered with its exit
 * code and output once it ends. The VM is an ordinary one to the manager
 * (list, status, events, the node's limits, the warm pool, the workload's
 * grants) but ephemeral (vm.h): nothing of it is written to disk, its
 * worker's files live in STATE_DIR/runs/<id>/, and it is removed once the
 * run is answered. After a mvmd crash the run is gone: its worker stops
 * when its control connection closes (lib/proto/warm.h, KVM_WARM_F_RUN),
 * and the next mvmd removes STATE_DIR/runs/.
 *
 * Single-threaded: mvmd's event loop only.
 */
#ifndef MVM_RUN_H
#define MVM_RUN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manager.h"

typedef struct run run_t;

typedef struct run_params {
	json_object *workload;   /* compute.vm.create's workload, defaults filled (borrowed) */
	uint64_t memory_mib;     /* 0: the warm pool's size (16 MiB without a pool) */
	const void *stdin_data;  /* the workload's whole stdin, then end of input */
	size_t stdin_len;
	size_t max_output;       /* bytes kept per stream; beyond: truncated */
	const char *reuse_key;   /* NULL, or the orchestrator's key: a worker is reused
				  * only for runs of the same module with the same key
				  * (docs/workloads.md, "Reused workers") */
} run_params_t;

/* How a run ended. error 0: it ran, and state, exit code and output say
 * how; else it did not (-EDQUOT over the node's budget, -ENODEV backend
 * unavailable, -ENOENT removed meanwhile, another -errno), cause says
 * why, and state is the VM's last. Valid during the done call only. */
typedef struct run_outcome {
	int error;
	const char *vm_id;
	vm_state_t state;
	const char *cause;
	bool has_exit_code;
	uint32_t exit_code;
	const uint8_t *out, *err;
	size_t out_len, err_len;
	bool truncated; /* output beyond max_output was dropped */
	bool timed_out; /* the workload's timeout_ms ended it */
} run_outcome_t;

typedef void (*run_done_fn)(const run_outcome_t *o, void *userdata);

/*
 * Create the run's VM and start it (or wait for its module's pull). On 0
 * done is called exactly once, from the event loop, never inside this
 * call; the VM is removed right after. A negative return (nothing left
 * behind) is what compute.vm.create would have refused, *ret_cause (may
 * be NULL) saying why.
 */
int manager_run_start(manager_t *m, const run_params_t *p, run_done_fn done, void *userdata, run_t **ret,
	      char **ret_cause);
/* Nobody waits for r any more (its client left): its VM is killed and
 * removed, done is never called. */
void manager_run_abandon(run_t *r);
/* manager_free: every run goes, unanswered; their workers stop by
 * themselves once mvmd's end of their control connection closes. */
void manager_run_free_all(manager_t *m);

/* For the backend: the VM's output (stderr true: its stderr stream), the
 * stdin to hand it, and that its workload's timeout is ending it. */
void manager_run_output(run_t *r, bool is_stderr, const void *buf, size_t len);
void manager_run_input(const run_t *r, const void **ret_data, size_t *ret_len);
void manager_run_timed_out(run_t *r);
bool manager_run_is_timed_out(const run_t *r);
/* The run's reuse_key, or NULL (lives as long as the run). */
const char *manager_run_reuse_key(const run_t *r);

/* A run has no file: no directory, no control socket (a socketpair),
 * no log (its worker's stderr is mvmd's), no result file. What
 * STATE_DIR/runs holds was left by an older mvmd, which kept its runs
 * there: removed at startup, how many. */
size_t manager_run_dirs_clean(manager_t *m);

#endif
