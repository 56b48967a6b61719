/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the suites that crash, starve or fill up mvmd
 * (check_mvmd_crash, check_mvmd_diskfull, check_mvmd_fds): start the
 * fault-injection build (build/bin/mvmd-fault, docs/hacking.md "Fault
 * injection") on a test daemon's paths, count the workers that belong to
 * a test's state directory, read a VM's state.json from disk. On top of
 * the workload fixture (workload-daemon.h).
 */
#ifndef MVM_TESTS_DURABILITY_HELPERS_H
#define MVM_TESTS_DURABILITY_HELPERS_H

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "workload-daemon.h"

#define DH_N(a) (sizeof(a) / sizeof((a)[0]))

/* A daemon that answers rpc.discover on d->sock. */
bool dh_answers(const mvmt_daemon_t *dm);

/* build/bin/mvmd-fault with MVMD_FAULT=fault on dm's paths (with
 * --kvm-pool 0 when pool_off, then up to 4 more arguments from extra,
 * NULL-terminated, when it is not NULL), then wait until it answers. */
void dh_start_fault_with(mvmt_daemon_t *dm, const char *fault, bool pool_off, const char *const *extra);

void dh_start_fault(mvmt_daemon_t *dm, const char *fault, bool pool_off);

/* Send a request line and expect the daemon to die on it (its fault
 * point fired): EOF instead of an answer, and a SIGKILL status. */
void dh_call_expect_death(mvmt_daemon_t *dm, int cfd, const char *line);

/* Live (not zombie) processes whose name starts with comm and that have
 * an fd into dir: the workers (mvm-vmm) or cloud-hypervisor doubles of a
 * test's VMs, whoever their parent is now. */
/* The live processes named comm_prefix* that hold an fd under dir; each
 * is sent sig unless it is 0. Their number. */
int dh_signal_procs(const char *dir, const char *comm_prefix, int sig);

int dh_count_procs(const char *dir, const char *comm_prefix);

int dh_count_workers(const char *dir);

/* Wait (MVMT_EVENT_TIMEOUT_MS: processes are no events) until the test's workers number n. */
bool dh_wait_workers(const char *dir, int n);

/* STATE/vms/<id>/state.json as text (caller frees), NULL when missing. */
char *dh_state_file(const mvmt_daemon_t *dm, const char *id);

/* The runtime.state of the VM's state.json on disk ("" when missing). */
char *dh_disk_state(const mvmt_daemon_t *dm, const char *id);

/* Entries of dir whose name satisfies keep(name) (NULL: all but . and ..). */
int dh_count_entries(const char *dir, bool (*keep)(const char *));

/* How many transitions of a status object lead to `to`. */
int dh_count_transitions_to(json_object *st, const char *to);

#endif
