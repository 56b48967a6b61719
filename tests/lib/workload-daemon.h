/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fixture of the workload suites (check_mvmd_workload.c, _pool,
 * _secrets, and the durability suites through durability-helpers.h): a
 * real mvmd on temp paths and one client of it, and the steps those
 * suites repeat: store a built Wasm workload, create a VM that runs it,
 * wait for its end.
 */
#ifndef MVM_TESTS_WORKLOAD_DAEMON_H
#define MVM_TESTS_WORKLOAD_DAEMON_H

#include <check.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mvmt-events.h"
#include "mvmtest.h"

typedef struct mvmt_wl {
	mvmt_daemon_t d;
	int fd; /* a client of d */
} mvmt_wl_t;

/* The one fixture of the running test (each test forks). */
extern mvmt_wl_t wl;

/* Checked fixture: mvmd with default options, and wl.fd. */
void wl_setup(void);
/* Closes wl.fd, force-stops what runs (workers outlive mvmd by design),
 * and removes the daemon's temp dirs. */
void wl_teardown(void);

/* compute.blob.put of build/wasm-programs/wl-<prog>.wasm; the hash (caller frees). */
char *wl_put_prog(const char *prog);
/* create {name, memory, workload {hash of prog, extra members}}; the VM. */
json_object *wl_create(const char *name, const char *prog, int mem, const char *extra);
/* method with {"id": name[, extra]} on wl.fd: the whole response. */
json_object *wl_call_id(const char *method, const char *name, const char *extra);
json_object *wl_status(const char *name);
/* Stopped, Failed or StartFailed: a VM that will not move on its own. */
bool wl_is_final(const char *state);
/* The status once the VM is in a final state, waiting on mvmd's events for
 * at least MVMT_EVENT_TIMEOUT_MS (timeout_ms when longer). */
json_object *wl_wait_end(const char *name, int timeout_ms);
/* The VM's console log (caller frees). */
char *wl_logs(const char *name);
/* create + start + wait until it ended; returns the final status. */
json_object *wl_run(const char *name, const char *prog, int mem, const char *extra);
void wl_assert_contains(const char *hay, const char *needle);

#endif
