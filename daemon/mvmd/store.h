/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM state store: STATE_DIR/vms/<id>/state.json (docs/design.md §4, docs/state.md).
 *
 * Writes are atomic and durable (temp + fsync + rename + fsync of the
 * directory). The loader migrates older format versions forward, refuses
 * newer ones, and turns an unreadable file into a VM in state Failed with
 * the error in vm->load_error; such a file is never rewritten.
 */
#ifndef MVM_STORE_H
#define MVM_STORE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "vm.h"

#define STORE_FORMAT_VERSION 1
#define STORE_MAX_FILE_BYTES (4u << 20)

typedef struct store store_t;

/* Creates STATE_DIR and STATE_DIR/vms (0700) when missing. */
int store_open(const char *state_dir, store_t **ret);
store_t *store_free(store_t *s);


/* Path of a file inside the VM's directory (caller frees). */
int store_vm_path(const store_t *s, const char *id, const char *file, char **ret);

/* mkdir STATE_DIR/vms/<id> (0700); -EEXIST when it exists. */
int store_create_vm_dir(store_t *s, const char *id);

/* Persist the VM. -EROFS for a VM whose file failed to load (kept as is).
 * durable: fsync the file and the directory (docs/state.md says when). */
int store_save(store_t *s, const vm_t *vm, bool durable);

/* Remove the VM's directory and everything in it, atomically: renamed to
 * a tombstone first (docs/state.md). 0 also when it was gone already. */
int store_remove(store_t *s, const char *id);

/*
 * What a mvmd killed mid-write leaves, removed before loading: tombstones
 * of removes (vms/.<id>.removing) and the temp files of state.json writes
 * (vms/<id>/.state.json.XXXXXXXX.tmp). Nothing else is touched.
 */
typedef struct store_clean_report {
	size_t tombstones; /* removes finished */
	size_t temp_files; /* temp files removed */
} store_clean_report_t;
int store_clean(store_t *s, store_clean_report_t *ret_report);

/*
 * Load every VM directory. Each entry of *ret_vms is a VM; those whose
 * state.json could not be used are in state Failed with load_error set.
 * A directory that holds nothing but temp files is the trace of a create
 * interrupted before its first write: it is removed, and counted in
 * *ret_cleaned. Entries that are not VM ids are ignored.
 */
int store_load_all(store_t *s, vm_t ***ret_vms, size_t *ret_n, size_t *ret_cleaned);

/* Serialisation, exposed for tests and for the RPC layer's VM objects. */
json_object *store_vm_to_json(const vm_t *vm);
int store_vm_from_json(json_object *doc, const char *id, vm_t **ret, char **ret_cause);

/*
 * Format migrations: steps[v] rewrites a version-v document into version v+1
 * in place. store_migrate() runs the steps from the document's version up to
 * `target`; it refuses newer documents with -EPROTONOSUPPORT. The built-in
 * table is empty while STORE_FORMAT_VERSION is 1.
 */
typedef int (*store_migrate_fn)(json_object *doc);
int store_migrate(json_object *doc, const store_migrate_fn *steps, int target, char **ret_cause);

#endif
