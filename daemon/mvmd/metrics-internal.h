/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The metrics' insides, shared by daemon/mvmd/metrics.c (counters and
 * hooks) and daemon/mvmd/metrics-render.c (the exposition, the textfile).
 */
#ifndef MVM_METRICS_INTERNAL_H
#define MVM_METRICS_INTERNAL_H

#include <systemd/sd-event.h>

#include "metrics.h"
#include "prom.h"

#define METRICS_START_BOUNDS 15
#define METRICS_RPC_BOUNDS 16
extern const double metrics_start_bounds[METRICS_START_BOUNDS];
extern const double metrics_rpc_bounds[METRICS_RPC_BOUNDS];

/* Methods counted apart; a table larger than this folds the rest into
 * "unknown". Error codes per method: the table in rpc/errors.c has about
 * a dozen, a method answers a few; more fold into code="other". */
#define METRICS_MAX_METHODS 96
#define METRICS_MAX_CODES 8

typedef struct metrics_method {
	char *name; /* NULL: the "unknown" slot */
	const char *key; /* the caller's pointer for name last time: the
			  * method table's, so one compare finds the slot */
	struct {
		int code;
		uint64_t n;
	} codes[METRICS_MAX_CODES];
	size_t n_codes;
	uint64_t other_codes;
	prom_hist_t latency;
} metrics_method_t;

struct metrics {
	manager_t *manager;
	uint64_t born_mono_usec;

	uint64_t transitions[_VM_STATE_MAX];
	uint64_t failures[_METRICS_CAUSE_MAX];
	prom_hist_t start_latency[_VM_BACKEND_MAX];

	metrics_method_t methods[METRICS_MAX_METHODS];
	size_t n_methods;
	metrics_method_t unknown_method;

	uint64_t execs[_METRICS_EXEC_MAX];

	struct {
		char result[33];
		uint64_t n;
	} pulls[METRICS_MAX_PULL_RESULTS];
	size_t n_pulls;
	uint64_t pulls_other;

	/* --metrics-textfile */
	int textfile_fd;      /* its directory */
	char *textfile_name;  /* the file's name in it */
	char *textfile_path;  /* the whole path, for the log */
	uint64_t textfile_interval_usec;
	sd_event_source *textfile_timer;
	int textfile_error;   /* the last write's, to log changes only */
};

uint64_t metrics_now_mono_usec(void);

#endif
