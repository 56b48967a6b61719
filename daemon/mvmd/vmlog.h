/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What mvmd logs about VMs (docs/operating.md, "Logs"; mvmd.8, LOGGING):
 * every end of a VM, every worker re-adopted after a restart, every
 * pause and resume of the warm pool, and what the RPC methods log about
 * a VM (created, starting, stopping, removed). A lost worker is an end
 * (Failed, "worker lost ...") and is logged as one.
 *
 * Under journald (stderr is the stream $JOURNAL_STREAM names) an entry
 * about a VM goes to the journal directly, with fields a query can match:
 * VM_ID, VM_NAME (when the VM has one), VM_STATE (the state entered),
 * VM_FROM_STATE, VM_CAUSE, VM_CAUSE_CLASS (the metrics' class of a
 * failure), VM_EXIT_CODE (a workload's), VM_PID (a re-adopted worker's),
 * beside MESSAGE, PRIORITY and SYSLOG_IDENTIFIER=mvmd: `journalctl
 * VM_ID=<id>` shows a VM's life. Anywhere else (or when the journal
 * refuses the entry) it is the same MESSAGE as a plain line on stderr.
 */
#ifndef MVM_VMLOG_H
#define MVM_VMLOG_H

#include <stdbool.h>

#include "manager.h"
#include "util/macro.h"

/* Whether stderr is connected to journald ($JOURNAL_STREAM is
 * "<st_dev>:<st_ino>" of stderr, as systemd.exec(5) sets it). */
bool vmlog_journal_stream(void);

/* A manager subscriber: logs transitions to Stopped, Failed and
 * StartFailed (subscribe it before manager_load, so VMs found dead at
 * start are logged too). */
void vmlog_vm_end(manager_t *m, const fsm_event_t *ev, void *userdata);
/* A VM whose worker was still alive and is supervised again. */
void vmlog_adopted(const vm_t *vm);
/* Any other line about a VM (created, starting, stopping), with VM_ID,
 * VM_NAME, VM_STATE (its state now) and VM_BACKEND. */
void vmlog_vm(int level, const vm_t *vm, const char *fmt, ...) _printf_(3, 4);
/* About a VM that is gone (removed): VM_ID and VM_NAME (name may be NULL). */
void vmlog_id(int level, const char *id, const char *name, const char *fmt, ...) _printf_(4, 5);
/* kvm_pool_config_t.on_pause's shape. */
void vmlog_pool_pause(void *userdata, bool paused, const char *last_error);

#endif
