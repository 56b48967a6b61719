/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM object: what the orchestrator asked for (spec) and what mvmd knows
 * about it now (runtime). Owned by the manager; serialised by the store.
 */
#ifndef MVM_VM_H
#define MVM_VM_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fsm.h"

#define VM_ID_LEN 36 /* UUID text form */

typedef enum vm_backend {
	VM_BACKEND_KVM,
	VM_BACKEND_CH,
	_VM_BACKEND_MAX,
	_VM_BACKEND_INVALID = -1,
} vm_backend_t;

const char *vm_backend_to_string(vm_backend_t b);
vm_backend_t vm_backend_from_string(const char *s);

typedef struct vm {
	char id[VM_ID_LEN + 1];
	char *name;

	/* The spec as validated at create time, kept verbatim (owned). The
	 * typed fields below are read from it. */
	json_object *spec;
	vm_backend_t backend;
	unsigned vcpus;
	uint64_t memory_mib;

	vm_state_t state;
	uint64_t created_usec; /* wall clock */
	char *cause;           /* cause of the last transition */
	int start_errno;       /* why the last start failed, if a system error (-errno); memory only */

	/* Runtime of the backend process, when there is one. */
	pid_t pid;
	uint64_t pid_starttime; /* field 22 of /proc/PID/stat, defeats pid reuse */
	bool has_exit_code;
	uint32_t exit_code; /* WASI's exit code is a u32: kept whole */

	fsm_ring_t transitions; /* last FSM_VM_RING_CAPACITY transitions */

	/* Backend-specific runtime (socket paths, ...), persisted verbatim. */
	json_object *backend_state;

	/* Set when state.json could not be loaded: the VM is reported Failed
	 * with this error, its file is kept untouched and never rewritten. */
	char *load_error;

	void *backend_data; /* owned by the backend */

	/* A one-shot compute.vm.run (daemon/mvmd/run.c): never written to
	 * disk, its files in STATE_DIR/runs/<id>/, removed once answered;
	 * run is its run while it goes (memory only). */
	bool ephemeral;
	struct run *run;

	/* Write-behind of active states (daemon/mvmd/manager.c, save()): the state
	 * on disk is active; save_pending: what is in memory is not on disk
	 * yet (written behind, or a write that failed and is retried). */
	bool disk_active;
	bool save_pending;

	/* The status view (rpc/methods.c), built on first use and dropped by
	 * vm_touch() whenever the VM changes: orchestrators poll status. */
	json_object *view;
} vm_t;

/* A new VM in state Pending with a fresh random id. */
int vm_new(vm_t **ret);
/* A VM object for an existing id (used by the loader). */
int vm_new_with_id(const char *id, vm_t **ret);
vm_t *vm_free(vm_t *vm);

/* Adopt a validated spec (takes a reference) and read the typed fields. */
int vm_set_spec(vm_t *vm, json_object *spec);

int vm_set_cause(vm_t *vm, const char *cause);

/* The VM changed: forget cached views of it. */
void vm_touch(vm_t *vm);

/* Names: [A-Za-z0-9][A-Za-z0-9._-]{0,62}. Ids: lowercase UUID text. */
bool vm_name_is_valid(const char *name);
bool vm_id_is_valid(const char *id);

#endif
