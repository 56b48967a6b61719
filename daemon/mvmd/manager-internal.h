/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The manager's insides, shared by its files: daemon/mvmd/manager.c (registry,
 * transitions, create/remove/start/stop), daemon/mvmd/manager-load.c (what
 * mvmd finds at start: the VMs' files, the node ring, their workers) and
 * daemon/mvmd/manager-save.c (when a VM's state goes to disk). Nothing
 * outside daemon/mvmd/manager*.c includes this.
 */
#ifndef MVM_MANAGER_INTERNAL_H
#define MVM_MANAGER_INTERNAL_H

#include "actor.h"
#include "manager.h"
#include "metrics.h"

typedef struct subscriber {
	manager_event_fn fn;
	void *userdata;
	bool dead; /* unsubscribed while the list was being walked */
} subscriber_t;

struct manager {
	sd_event *event;
	manager_config_t cfg;
	char *state_dir, *console_dir;
	store_t *store;
	blob_store_t *blobs;
	puller_t *puller; /* pulls from registries (pull.h); NULL: none configured */
	actors_t *actors; /* the VMs' mailboxes (actor.h) */

	vm_t **vms;
	size_t n_vms, cap_vms;

	fsm_ring_t node_ring;

	subscriber_t *subs;
	size_t n_subs, cap_subs;
	unsigned notifying; /* depth of subscriber walks in progress */

	const backend_ops_t *backends[_VM_BACKEND_MAX];
	void *backend_userdata[_VM_BACKEND_MAX];

	sd_event_source *save_src; /* writes VMs with save_pending, after the answers */
	sd_event_source *retry_src; /* writes them again after a failed write */
	uint64_t retry_usec;        /* its current backoff */
	bool loaded;               /* manager_load ran: events.seq is ours to keep */
	metrics_t *metrics;        /* fed by its transitions; freed last */
	struct run *runs;          /* compute.vm.run in progress (daemon/mvmd/run.c) */
	uint64_t seq_written;      /* next_seq as events.seq last had it */
};

/*
 * Node sequence numbers never repeat across restarts. The ring is rebuilt
 * from the VMs' files, which cannot say what a removed VM's events were
 * numbered, nor an event published but written behind (lazy) when mvmd
 * died. So STATE_DIR/events.seq keeps the next number and whether mvmd
 * ended cleanly: written (no fsync: a power cut ends every VM anyway) at
 * start, at every remove and at a clean exit. After an unclean end the
 * numbers jump by SEQ_CRASH_GAP: a gap where events were lost, never a
 * number used twice.
 */
#define SEQ_FILE "events.seq"
#define SEQ_CRASH_GAP 65536u

/* Write events.seq with the ring's next number (clean: mvmd is ending). */
void manager_seq_file_write(manager_t *m, bool clean);
/* Add a VM to the registry (manager_create_vm, manager_load). */
int manager_vms_add(manager_t *m, vm_t *vm);

/* Sources of the write-behind and of the retries (NULL event: none). */
int manager_save_init(manager_t *m);
/* A last flush, then the sources go. */
void manager_save_done(manager_t *m);
/* Whether a VM in state s is written with fsync. */
bool manager_state_is_durable(vm_state_t s);
/* Write the VM now; a failure leaves it pending and arms the retry. */
int manager_save_now(manager_t *m, vm_t *vm);
/* Write the VM, behind when lazy and it is and was active (save()). */
int manager_save_vm(manager_t *m, vm_t *vm, bool lazy);
/* manager_start_vm (restore_dir NULL) or manager_restore_vm (the
 * snapshot's directory); why is the Starting transition's cause. */
int manager_start_from(manager_t *m, vm_t *vm, const char *restore_dir, const char *why, char **ret_cause);

#endif
