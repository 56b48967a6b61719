/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd's metrics (docs/operating.md, "Metrics"): counters the manager
 * owns, fed by a few hooks (transitions, RPC calls answered, execs
 * answered, blob pulls), and the text in Prometheus's exposition format
 * (daemon/mvmd/prom.h) built from them and from what the manager holds
 * now (VMs by state, the blob store, the warm pool, each VM's process).
 * compute.node.metrics answers that text; --metrics-textfile writes it to
 * a file for prometheus-node-exporter's textfile collector.
 *
 * Every label takes values from a fixed set, so the number of series is
 * bounded by the code and the VMs, never by what clients send. Counters
 * start at 0 with each mvmd (Prometheus's rate() handles the reset).
 * Single-threaded, like the manager. Does not log but through
 * metrics_textfile_*, which say when writing starts and stops failing.
 */
#ifndef MVM_METRICS_H
#define MVM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec-client.h"
#include "manager.h"

typedef struct metrics metrics_t;

/*
 * Why a VM ended badly, as mvmd_vm_failures_total{cause=...} counts it:
 * a class of the transition's cause (docs/operating.md lists what each
 * covers). Every transition to Failed or StartFailed counts once, and a
 * workload that ended Stopped with a non-zero exit code counts as
 * exit_nonzero.
 */
typedef enum metrics_cause {
	METRICS_CAUSE_GUEST_FAULT,
	METRICS_CAUSE_WORKER_ERROR,
	METRICS_CAUSE_WORKER_LOST,
	METRICS_CAUSE_TIMEOUT,
	METRICS_CAUSE_KILLED,
	METRICS_CAUSE_START_INTERRUPTED,
	METRICS_CAUSE_BACKEND_UNAVAILABLE,
	METRICS_CAUSE_SPAWN_FAILED,
	METRICS_CAUSE_VMM_API_ERROR,
	METRICS_CAUSE_PROVISION_FAILED,
	METRICS_CAUSE_EXIT_NONZERO,
	METRICS_CAUSE_OTHER,
	_METRICS_CAUSE_MAX,
} metrics_cause_t;

const char *metrics_cause_to_string(metrics_cause_t c);
/* The class of an end: from and to of the transition, its cause text,
 * and whether the VM holds a non-zero exit code. _METRICS_CAUSE_MAX when
 * the transition is no failure (a clean stop, any non-end state). */
metrics_cause_t metrics_cause_classify(vm_state_t from, vm_state_t to, const char *cause, bool exit_nonzero);

/* Exec calls by how they ended (mvmd_exec_requests_total{result=...}). */
typedef enum metrics_exec {
	METRICS_EXEC_OK,          /* the command exited 0 */
	METRICS_EXEC_EXIT_NONZERO,
	METRICS_EXEC_SIGNALED,
	METRICS_EXEC_TIMED_OUT,   /* the agent killed it at the request's timeout */
	METRICS_EXEC_HOST_TIMEOUT, /* no answer from the guest in time */
	METRICS_EXEC_UNREACHABLE, /* no agent, or it closed the connection */
	METRICS_EXEC_AGENT_ERROR, /* the agent answered with an error frame */
	METRICS_EXEC_ERROR,       /* anything else on the host side */
	_METRICS_EXEC_MAX,
} metrics_exec_t;

const char *metrics_exec_to_string(metrics_exec_t e);
/* The class of an exec_client_run()-style outcome: rc and, when rc is 0, r. */
metrics_exec_t metrics_exec_classify(int rc, const exec_result_t *r);

/* Made by manager_new, which subscribes metrics_on_event to its
 * transitions; freed by manager_free, last. */
int metrics_new(manager_t *m, metrics_t **ret);
metrics_t *metrics_free(metrics_t *mt);
void metrics_on_event(manager_t *m, const fsm_event_t *ev, void *userdata);

/* Hooks. mt may be NULL (a manager made without metrics): nothing happens. */
/* An RPC call answered: its method (NULL: no such method, or the request
 * was invalid before one was known), its JSON-RPC error code (0:
 * success), and how long it took from dispatch to answer. */
void metrics_rpc(metrics_t *mt, const char *method, int code, uint64_t usec);
/* rpc_server_set_observer()'s shape, userdata a metrics_t. */
void metrics_rpc_observe(const char *method, int code, uint64_t usec, void *userdata);
void metrics_exec(metrics_t *mt, metrics_exec_t e);
/*
 * A blob pull ended (compute.blob.pull): result is a short word in
 * [a-z_] (e.g. "ok", "not_found", "digest_mismatch", "error"), counted
 * in mvmd_blob_pulls_total{result=...}. The first METRICS_MAX_PULL_RESULTS
 * distinct words get their own series; later ones, and words that are not
 * [a-z_]{1,32}, count as "other".
 */
#define METRICS_MAX_PULL_RESULTS 12 /* room for "ok" and every error_class of pull.h */
void metrics_blob_pull(metrics_t *mt, const char *result);

/* The whole exposition (NUL-terminated, the caller frees), or -ENOMEM. */
int metrics_render(manager_t *m, char **ret_text, size_t *ret_len);
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * --metrics-textfile PATH: write the exposition to PATH now (an error is
 * returned: a path mvmd cannot write is a configuration error), then every
 * interval_usec from the manager's event loop, and once more from
 * metrics_textfile_write() at a clean exit. Each write is atomic: a temp
 * file in PATH's directory (".NAME.PID.tmp", which the textfile collector
 * ignores: it reads *.prom), mode 0644 whatever the umask, renamed over
 * PATH.
 */
int metrics_textfile_start(manager_t *m, const char *path, uint64_t interval_usec);
int metrics_textfile_write(manager_t *m);

#endif
