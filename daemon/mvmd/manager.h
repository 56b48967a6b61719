/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The manager owns every VM: the registry, the node-wide transition ring,
 * persistence through the store, and the hooks into backends. All state
 * changes go through manager_transition(), which checks the FSM table,
 * records the transition in the VM's ring and the node ring, persists the
 * VM, and tells subscribers.
 *
 * Single-threaded: called from mvmd's sd-event loop only.
 */
#ifndef MVM_MANAGER_H
#define MVM_MANAGER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "blob.h"
#include "fsm.h"
#include "pull.h"
#include "store.h"
#include "vm.h"

typedef struct manager manager_t;

/* How a backend's pause, resume or snapshot ended: error 0, or a negative
 * errno with cause (may be NULL) saying why. Called exactly once for an
 * operation its hook accepted (returned 0), from the event loop, also
 * when the VM stops or goes meanwhile (-ECANCELED); never for one it
 * refused. vm_id names the VM: it may be gone when this runs. */
typedef void (*manager_done_fn)(manager_t *m, const char *vm_id, int error, const char *cause, void *userdata);

typedef struct manager_config {
	const char *state_dir;
	const char *console_dir;
	size_t node_ring_capacity; /* node-wide transition ring, default 1024 */
	unsigned max_vms;          /* default 4096 */
	/* The node's budget (capacity.h): what the VMs from Starting to
	 * Stopping hold together, and so what one VM may ask at most.
	 * 0: the host's defaults. */
	unsigned max_vcpus;
	uint64_t max_memory_mib;
	/* --socket-group: VM consoles get the RPC socket's access, 0660 with
	 * group socket_gid; without it 0600 (docs/access.md). */
	bool socket_group;
	gid_t socket_gid;
} manager_config_t;

/*
 * What a backend provides. Every hook is optional; a backend without
 * `start` cannot run VMs, and `usable` says why not.
 */
typedef struct backend_ops {
	/* Is the backend usable on this host? On false, *ret_cause (malloc'd) says why. */
	bool (*usable)(manager_t *m, char **ret_cause);
	/* Limits of the backend checked at create time, before anything is
	 * made: a negative return (-ENOSPC over a limit, -EINVAL) fails the
	 * create as a request, with *ret_cause (malloc'd) saying why. */
	int (*validate)(manager_t *m, const vm_t *vm, char **ret_cause);
	/* Describe the backend for compute.node.info: its own limits and
	 * facts (binary, version, ...); fills obj, its entry there. */
	void (*describe)(manager_t *m, json_object *obj);
	/* Checks at create time (files exist, blobs present, ...). A negative
	 * return with *ret_cause set makes the VM Failed; without a cause the
	 * create fails as a whole. */
	int (*provision)(manager_t *m, vm_t *vm, char **ret_cause);
	/* Before a start's Starting record is written: remove what the last
	 * run left that a restarted mvmd could take for this run's (kvm: the
	 * result file). A negative return fails the start, nothing changed. */
	int (*forget_run)(manager_t *m, vm_t *vm);
	/* Start the VM's process; the VM is in Starting. Progress is reported
	 * later through manager_transition (Running, StartFailed, ...). A
	 * negative return with *ret_cause makes the VM StartFailed now. */
	int (*start)(manager_t *m, vm_t *vm, char **ret_cause);
	/* As start, but the VM comes back from the snapshot in dir (one of
	 * its own, STATE_DIR/vms/<id>/snapshots/<n>) instead of booting.
	 * NULL: the backend cannot (kvm). */
	int (*restore)(manager_t *m, vm_t *vm, const char *dir, char **ret_cause);
	/* Ask the VM to stop; it is in Stopping (or already was, when a
	 * forced stop escalates). force: kill now; otherwise kill after
	 * timeout_ms. Completion through manager_transition (Stopped/Failed).
	 * 1: queued behind other teardowns (kvm: docs/density.md, "Staged mass
	 * stop"); timeout_ms counts from its turn. */
	int (*stop)(manager_t *m, vm_t *vm, bool force, uint64_t timeout_ms);
	/* Re-attach to a VM that was active when mvmd last ran. Return 0 when
	 * the VM is alive and adopted, 1 when the backend found how it ended
	 * and made the transitions itself; -ENOENT when no process was ever
	 * started for this run (a Starting VM becomes StartFailed); another
	 * negative value with *ret_cause makes it Failed. */
	int (*adopt)(manager_t *m, vm_t *vm, char **ret_cause);
	/* Kill the VM's process synchronously (forced remove, shutdown of tests). */
	int (*kill)(manager_t *m, vm_t *vm);
	/* Release vm->backend_data (VM removed or mvmd exiting). */
	void (*release)(manager_t *m, vm_t *vm);
	/* Let the running VM fetch blob hex itself (Linux guests fetch Wasm
	 * modules mvmd asks them to run; docs/blob-protocol.md). */
	int (*grant_blob)(manager_t *m, vm_t *vm, const char *hex);
	/* Pause the Running VM (its vCPUs; memory and devices stay), then
	 * Running → Paused; resume: Paused → Running. -EBUSY when another of
	 * these is in progress. NULL: the backend cannot (kvm). */
	int (*pause)(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata);
	int (*resume)(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata);
	/* Write a snapshot of the VM into dir (empty, made by the manager):
	 * a Paused VM as it is; a Running one is paused around it (Paused,
	 * then Running again). */
	int (*snapshot)(manager_t *m, vm_t *vm, const char *dir, manager_done_fn done, void *userdata);
	/* Hotplug on the Running VM (ch/hotplug.c): attach entry, a disk
	 * {path, readonly?, serial?} or (net) a tap {tap, mac?}, which the
	 * backend checks (-EINVAL with *ret_cause) and names (its "id"); or
	 * detach the device with that id (-ENOENT: none; *ret_device: a
	 * reference to its spec entry, on 0). The spec follows
	 * once the VMM answered. -EBUSY as pause. NULL: the backend cannot. */
	int (*add_device)(manager_t *m, vm_t *vm, json_object *entry, bool net, char **ret_cause, manager_done_fn done,
			  void *userdata);
	int (*remove_device)(manager_t *m, vm_t *vm, const char *device, json_object **ret_device,
			     char **ret_cause, manager_done_fn done, void *userdata);
	/* Free the backend's userdata: manager_free, after every VM's
	 * release. The backend's state lives there, none in statics. */
	void (*done)(manager_t *m, void *userdata);
} backend_ops_t;

int manager_new(sd_event *e, const manager_config_t *cfg, manager_t **ret);
manager_t *manager_free(manager_t *m);

void manager_register_backend(manager_t *m, vm_backend_t b, const backend_ops_t *ops, void *userdata);
void *manager_backend_userdata(manager_t *m, vm_backend_t b);
/* Whether the backend is built into this mvmd at all. */
bool manager_backend_registered(manager_t *m, vm_backend_t b);
/* The backend's limits and facts into obj (compute.node.info); no-op without. */
void manager_backend_describe(manager_t *m, vm_backend_t b, json_object *obj);
/* backend_ops_t.grant_blob; -EOPNOTSUPP for a backend without it. */
int manager_vm_grant_blob(manager_t *m, vm_t *vm, const char *hex);
/* usable: true/false; reason is malloc'd (may be NULL). */
bool manager_backend_usable(manager_t *m, vm_backend_t b, char **ret_cause);

sd_event *manager_event(manager_t *m);

/* STATE_DIR/vms/<id>/<file> (caller frees), NULL when out of memory
 * and for a run's VM, which has no files (run.h). */
char *manager_vm_path(manager_t *m, const vm_t *vm, const char *file);
/* CONSOLE_DIR/<id>.sock, the VM's console socket whatever its backend
 * (caller frees), NULL when out of memory. */
char *manager_vm_console_path(manager_t *m, const vm_t *vm);
store_t *manager_store(manager_t *m);
/* The blob store (STATE_DIR/blobs), opened by manager_new. */
blob_store_t *manager_blobs(manager_t *m);
const manager_config_t *manager_config(manager_t *m);
/* The node's counters (daemon/mvmd/metrics.h). */
struct metrics *manager_metrics(manager_t *m);
/* Registry pulls (pull.h): the manager owns p from now on. NULL when
 * mvmd runs without --blob-source. */
void manager_set_puller(manager_t *m, puller_t *p);
puller_t *manager_puller(manager_t *m);
/* The VMs' mailboxes (daemon/mvmd/actor.h). */
struct actors *manager_actors(manager_t *m);

typedef struct manager_load_report {
	size_t loaded;  /* VMs read from disk */
	size_t broken;  /* of those, with an unreadable state file */
	size_t cleaned; /* interrupted creates removed */
	size_t adopted; /* active VMs re-attached */
	size_t ended;   /* active VMs whose end the backend found on disk */
	size_t lost;    /* active VMs marked Failed (StartFailed when Starting) */
	size_t removes_finished; /* tombstones of interrupted removes deleted */
	size_t temp_files;       /* temp files of interrupted writes removed */
	size_t runs_cleaned;     /* files of compute.vm.run a dead mvmd had going, removed */
} manager_load_report_t;

/* Load every VM from the state directory, rebuild the node ring, and
 * re-adopt (or fail) the VMs that were active. */
int manager_load(manager_t *m, manager_load_report_t *ret_report);

/* By id, or by name. NULL when neither matches. */
vm_t *manager_find(manager_t *m, const char *id_or_name);
vm_t *const *manager_vms(manager_t *m, size_t *ret_n);

/*
 * Create a VM from a validated spec (the RPC layer checked types and
 * ranges). On success the VM exists and is persisted, Configured or
 * Failed. On error nothing is left behind; *ret_cause (malloc'd) may
 * explain: -EEXIST name taken, -ENOSPC over a node limit.
 */
int manager_create_vm(manager_t *m, json_object *spec, vm_t **ret, char **ret_cause);
/* The same for a one-shot run's VM (daemon/mvmd/run.c) when ephemeral:
 * nothing of it is ever written to disk (vm->ephemeral, vm.h). */
int manager_create_vm_opts(manager_t *m, json_object *spec, bool ephemeral, vm_t **ret, char **ret_cause);

/*
 * Start a VM: Starting, then the backend takes over. -EBUSY when the FSM
 * forbids it; -ENODEV when the backend is missing or unusable here (the
 * VM is then StartFailed with the reason in *ret_cause). When the
 * Starting record cannot be written (-ENOSPC, -EIO, ...) nothing is
 * started and the VM keeps its state, in memory and on disk.
 */
int manager_start_vm(manager_t *m, vm_t *vm, char **ret_cause);
/*
 * Start a VM from its snapshot `name` (snapshots/<name>, as
 * manager_snapshot_vm wrote it) instead of booting it: the same states,
 * checks and errors as manager_start_vm, plus -EOPNOTSUPP when the
 * backend cannot (checked first, whatever the VM's state) and -ENOENT
 * when the VM has no such snapshot (nothing written, nothing started).
 */
int manager_restore_vm(manager_t *m, vm_t *vm, const char *name, char **ret_cause);

/* Stop a VM: Stopping, then the backend. -EBUSY unless Starting, Running
 * or (with force, to escalate) Stopping. */
int manager_stop_vm(manager_t *m, vm_t *vm, bool force, uint64_t timeout_ms);

/*
 * Pause, resume, snapshot (daemon/mvmd/manager-pause.c): -EOPNOTSUPP when
 * the VM's backend cannot (checked first: whatever the VM's state), -EPERM
 * for a compute.vm.run VM (whatever its state too), -EBUSY
 * when the FSM forbids it (pause: Running; resume: Paused; snapshot:
 * Running or Paused) or another is in progress. On 0, done hears the end.
 * A snapshot goes to STATE_DIR/vms/<id>/snapshots/<n>/ (n = 1, 2, ...),
 * *ret_name is n (caller frees); a failed one leaves no directory.
 */
int manager_pause_vm(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata);

/*
 * Hotplug (daemon/mvmd/manager-devices.c): -EOPNOTSUPP when the VM's
 * backend cannot (checked first), -EBUSY unless Running with nothing
 * else in progress; then backend_ops_t.add_device / remove_device.
 * entry gets its "id" (and a net its "mac") on 0.
 */
int manager_add_device(manager_t *m, vm_t *vm, json_object *entry, bool net, char **ret_cause, manager_done_fn done,
		       void *userdata);
int manager_remove_device(manager_t *m, vm_t *vm, const char *device, json_object **ret_device,
			  char **ret_cause, manager_done_fn done, void *userdata);
int manager_resume_vm(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata);
int manager_snapshot_vm(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata, char **ret_name);
/* The blob a snapshot was stored as (kvm: snapshots/<name>/hash,
 * "sha256:<hex>"); -ENOENT for one kept as a directory only (ch). */
int manager_snapshot_hash(manager_t *m, const vm_t *vm, const char *name, char ret[static BLOB_REF_LEN + 1]);
/* STATE_DIR/vms/<id>/snapshots/<name> (caller frees), NULL when out of memory. */
char *manager_snapshot_path(manager_t *m, const vm_t *vm, const char *name);

/* Remove a VM. -EBUSY when it is active and !force. */
int manager_remove_vm(manager_t *m, vm_t *vm, bool force);

/* The only way a VM changes state. -EBUSY when the table forbids it.
 * The in-memory state changes even when persisting fails (the VM did
 * change); the persist error is returned for the caller to log, and the
 * write is tried again, with a backoff, until it succeeds. */
int manager_transition(manager_t *m, vm_t *vm, vm_state_t to, const char *cause);

/* Write every VM whose state is not on disk yet (written behind, or a
 * write that failed); the number still unwritten. mvmd calls it before a
 * clean exit (manager_free does too). */
size_t manager_flush(manager_t *m);

/* Persist a VM after a runtime change that is not a transition. */
int manager_save(manager_t *m, vm_t *vm);
/* The same, written behind (see save() in manager.c) while the VM is and
 * was active: only for what a restarted mvmd can learn again from the
 * backend process itself (a kvm worker's HELLO carries its pid). */
int manager_save_lazy(manager_t *m, vm_t *vm);

const fsm_ring_t *manager_events(manager_t *m);

typedef void (*manager_event_fn)(manager_t *m, const fsm_event_t *ev, void *userdata);
int manager_subscribe(manager_t *m, manager_event_fn fn, void *userdata);
void manager_unsubscribe(manager_t *m, manager_event_fn fn, void *userdata);

#endif
