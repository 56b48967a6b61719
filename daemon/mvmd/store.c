/* SPDX-License-Identifier: Apache-2.0 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cause.h"
#include "util/fault.h"
#include "util/fs.h"
#include "util/macro.h"

#define STATE_FILE "state.json"
#define TOMBSTONE_SUFFIX ".removing"
#define STORE_MAX_DEPTH 64

struct store {
	char *state_dir;
	int vms_fd; /* STATE_DIR/vms */
};

/* No migrations yet: index v migrates version v to v+1. */
static const store_migrate_fn builtin_migrations[STORE_FORMAT_VERSION + 1] = { NULL };

int store_open(const char *state_dir, store_t **ret)
{
	_cleanup_free_ char *vms = NULL;
	store_t *s;
	int r;

	if (asprintf(&vms, "%s/vms", state_dir) < 0)
		return -ENOMEM;
	r = mkdir_p(vms, 0700);
	if (r < 0)
		return r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->state_dir = strdup(state_dir);
	s->vms_fd = open(vms, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!s->state_dir || s->vms_fd < 0) {
		r = s->state_dir ? negative_errno() : -ENOMEM;
		store_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

store_t *store_free(store_t *s)
{
	if (!s)
		return NULL;
	safe_close(s->vms_fd);
	free(s->state_dir);
	free(s);
	return NULL;
}

int store_vm_path(const store_t *s, const char *id, const char *file, char **ret)
{
	if (!vm_id_is_valid(id))
		return -EINVAL;
	if (asprintf(ret, "%s/vms/%s%s%s", s->state_dir, id, file ? "/" : "", file ? file : "") < 0)
		return -ENOMEM;
	return 0;
}

int store_create_vm_dir(store_t *s, const char *id)
{
	if (!vm_id_is_valid(id))
		return -EINVAL;
	if (mkdirat(s->vms_fd, id, 0700) < 0)
		return negative_errno();
	return 0;
}

static json_object *event_to_json(const fsm_event_t *e)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "seq", json_object_new_int64((int64_t)e->seq));
	json_object_object_add(o, "node_seq", json_object_new_int64((int64_t)e->node_seq));
	json_object_object_add(o, "wall_usec", json_object_new_int64((int64_t)e->wall_usec));
	json_object_object_add(o, "mono_usec", json_object_new_int64((int64_t)e->mono_usec));
	json_object_object_add(o, "from", json_object_new_string(vm_state_to_string(e->from)));
	json_object_object_add(o, "to", json_object_new_string(vm_state_to_string(e->to)));
	json_object_object_add(o, "cause", e->cause ? json_object_new_string(e->cause) : NULL);
	return o;
}

json_object *store_vm_to_json(const vm_t *vm)
{
	json_object *doc = json_object_new_object();
	json_object *rt = json_object_new_object();
	json_object *tr = json_object_new_array();

	if (!doc || !rt || !tr) {
		json_object_put(doc);
		json_object_put(rt);
		json_object_put(tr);
		return NULL;
	}
	json_object_object_add(doc, "version", json_object_new_int(STORE_FORMAT_VERSION));
	json_object_object_add(doc, "id", json_object_new_string(vm->id));
	json_object_object_add(doc, "created_usec", json_object_new_int64((int64_t)vm->created_usec));
	json_object_object_add(doc, "spec", vm->spec ? json_object_get(vm->spec) : json_object_new_object());

	json_object_object_add(rt, "state", json_object_new_string(vm_state_to_string(vm->state)));
	json_object_object_add(rt, "cause", vm->cause ? json_object_new_string(vm->cause) : NULL);
	json_object_object_add(rt, "pid", json_object_new_int64(vm->pid));
	json_object_object_add(rt, "pid_starttime", json_object_new_int64((int64_t)vm->pid_starttime));
	if (vm->has_exit_code)
		json_object_object_add(rt, "exit_code", json_object_new_int64(vm->exit_code));
	if (vm->backend_state)
		json_object_object_add(rt, "backend", json_object_get(vm->backend_state));
	json_object_object_add(doc, "runtime", rt);

	for (size_t i = 0; i < vm->transitions.count; i++)
		json_object_array_add(tr, event_to_json(fsm_ring_get(&vm->transitions, i)));
	json_object_object_add(doc, "transitions", tr);
	return doc;
}

int store_save(store_t *s, const vm_t *vm, bool durable)
{
	_cleanup_close_ int dfd = -1;
	json_object *doc;
	const char *text;
	size_t len;
	int r;

	if (vm->load_error)
		return -EROFS;
	doc = store_vm_to_json(vm);
	if (!doc)
		return -ENOMEM;
	text = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	dfd = openat(s->vms_fd, vm->id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		r = negative_errno();
	else
		r = write_file_at_full(dfd, STATE_FILE, text, len, 0600, durable, "store.tmp-written");
	json_object_put(doc);
	return r;
}

/* vms/.<id>.removing: a VM on its way out. The leading dot keeps it out
 * of the VMs store_load_all() reads. */
static void tombstone_name(const char *id, char ret[static VM_ID_LEN + 16])
{
	snprintf(ret, VM_ID_LEN + 16, ".%s" TOMBSTONE_SUFFIX, id);
}

static bool is_tombstone(const char *name)
{
	size_t l = strlen(name), sl = strlen(TOMBSTONE_SUFFIX);
	char id[VM_ID_LEN + 1];

	if (name[0] != '.' || l != 1 + VM_ID_LEN + sl || strcmp(name + 1 + VM_ID_LEN, TOMBSTONE_SUFFIX) != 0)
		return false;
	memcpy(id, name + 1, VM_ID_LEN);
	id[VM_ID_LEN] = '\0';
	return vm_id_is_valid(id);
}

/* Delete a tombstone: state.json first, so that even the half-deleted
 * directory of a remove interrupted here says nothing about the VM. */
static int tombstone_delete(store_t *s, const char *tomb)
{
	_cleanup_close_ int dfd = openat(s->vms_fd, tomb, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

	if (dfd >= 0 && unlinkat(dfd, STATE_FILE, 0) == 0)
		fault_point("remove.half-deleted");
	return rm_rf_at(s->vms_fd, tomb);
}

/*
 * A remove is one rename: vms/<id> becomes the tombstone vms/.<id>.removing
 * (made durable), then the tombstone is deleted. A mvmd killed at any
 * point leaves the whole VM or no VM: store_clean() deletes tombstones at
 * the next start. rm -rf of vms/<id> itself would remove state.json early
 * and leave a nameless directory behind, a VM that lost its spec.
 */
int store_remove(store_t *s, const char *id)
{
	char tomb[VM_ID_LEN + 16];

	if (!vm_id_is_valid(id))
		return -EINVAL;
	tombstone_name(id, tomb);
	if (renameat(s->vms_fd, id, s->vms_fd, tomb) < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno != EEXIST && errno != ENOTEMPTY)
			return negative_errno();
		/* The tombstone of an earlier remove that could not finish. */
		int r = rm_rf_at(s->vms_fd, tomb);
		if (r < 0)
			return r;
		if (renameat(s->vms_fd, id, s->vms_fd, tomb) < 0)
			return negative_errno();
	}
	/* Not undone by a power cut once deletion starts. An error here
	 * changes nothing: the rename stands, and what is left of the
	 * tombstone goes at the next start. */
	(void)fsync(s->vms_fd);
	fault_point("remove.tombstoned");
	(void)tombstone_delete(s, tomb);
	return 0;
}

int store_clean(store_t *s, store_clean_report_t *ret_report)
{
	store_clean_report_t rep = { 0 };
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r;

	r = opendir_at(s->vms_fd, ".", 0, &d);
	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		if (is_tombstone(de->d_name)) {
			if (rm_rf_at(s->vms_fd, de->d_name) == 0)
				rep.tombstones++;
			continue;
		}
		if (!vm_id_is_valid(de->d_name))
			continue;
		_cleanup_close_ int vfd = openat(s->vms_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		int n = vfd >= 0 ? remove_temp_files_at(vfd, STATE_FILE) : 0;
		if (n > 0)
			rep.temp_files += (size_t)n;
	}
	if (ret_report)
		*ret_report = rep;
	return 0;
}

/* --- loading ------------------------------------------------------------- */

static bool get_typed(json_object *o, const char *key, json_type t, json_object **ret)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
		return false;
	*ret = v;
	return true;
}

static int64_t get_i64(json_object *o, const char *key, int64_t dflt)
{
	json_object *v;

	return get_typed(o, key, json_type_int, &v) ? json_object_get_int64(v) : dflt;
}

int store_migrate(json_object *doc, const store_migrate_fn *steps, int target, char **ret_cause)
{
	json_object *v;
	int version;

	if (!get_typed(doc, "version", json_type_int, &v))
		return set_cause(ret_cause, -EBADMSG, "missing or non-integer \"version\"");
	version = json_object_get_int(v);
	if (version > target)
		return set_cause(ret_cause, -EPROTONOSUPPORT,
				 "state format version %d is newer than this mvmd supports (%d)", version, target);
	if (version < 1)
		return set_cause(ret_cause, -EBADMSG, "invalid state format version %d", version);
	for (; version < target; version++) {
		if (!steps[version])
			return set_cause(ret_cause, -EBADMSG, "no migration from state format version %d", version);
		int r = steps[version](doc);
		if (r < 0)
			return set_cause(ret_cause, -EBADMSG, "migration from version %d failed: %s", version, strerror(-r));
		json_object_object_add(doc, "version", json_object_new_int(version + 1));
	}
	return 0;
}

static int event_from_json(json_object *o, const char *id, fsm_event_t *ret, char **ret_cause)
{
	json_object *v;

	if (!json_object_is_type(o, json_type_object))
		return set_cause(ret_cause, -EBADMSG, "transitions: entry is not an object");
	*ret = (fsm_event_t){
		.seq = (uint64_t)get_i64(o, "seq", 0),
		.node_seq = (uint64_t)get_i64(o, "node_seq", 0),
		.wall_usec = (uint64_t)get_i64(o, "wall_usec", 0),
		.mono_usec = (uint64_t)get_i64(o, "mono_usec", 0),
		.from = get_typed(o, "from", json_type_string, &v) ? vm_state_from_string(json_object_get_string(v)) : _VM_STATE_INVALID,
		.to = get_typed(o, "to", json_type_string, &v) ? vm_state_from_string(json_object_get_string(v)) : _VM_STATE_INVALID,
	};
	if (ret->seq == 0 || ret->from < 0 || ret->to < 0)
		return set_cause(ret_cause, -EBADMSG, "transitions: malformed entry");
	snprintf(ret->vm, sizeof(ret->vm), "%s", id);
	if (get_typed(o, "cause", json_type_string, &v))
		ret->cause = (char *)json_object_get_string(v); /* copied by fsm_ring_push */
	return 0;
}

int store_vm_from_json(json_object *doc, const char *id, vm_t **ret, char **ret_cause)
{
	json_object *v, *spec, *rt, *tr;
	vm_t *vm = NULL;
	int r;

	if (!json_object_is_type(doc, json_type_object))
		return set_cause(ret_cause, -EBADMSG, "top level is not an object");
	r = store_migrate(doc, builtin_migrations, STORE_FORMAT_VERSION, ret_cause);
	if (r < 0)
		return r;
	if (!get_typed(doc, "id", json_type_string, &v) || strcmp(json_object_get_string(v), id) != 0)
		return set_cause(ret_cause, -EBADMSG, "\"id\" does not match the directory name");
	if (!get_typed(doc, "spec", json_type_object, &spec))
		return set_cause(ret_cause, -EBADMSG, "missing \"spec\" object");
	if (!get_typed(doc, "runtime", json_type_object, &rt))
		return set_cause(ret_cause, -EBADMSG, "missing \"runtime\" object");
	if (!get_typed(doc, "transitions", json_type_array, &tr))
		return set_cause(ret_cause, -EBADMSG, "missing \"transitions\" array");

	r = vm_new_with_id(id, &vm);
	if (r < 0)
		return r;
	if (vm_set_spec(vm, spec) < 0) {
		vm_free(vm);
		return set_cause(ret_cause, -EBADMSG, "invalid \"spec\"");
	}
	if (vm->name && !vm_name_is_valid(vm->name)) {
		vm_free(vm);
		return set_cause(ret_cause, -EBADMSG, "invalid VM name in \"spec\"");
	}
	vm->created_usec = (uint64_t)get_i64(doc, "created_usec", 0);
	vm->state = get_typed(rt, "state", json_type_string, &v) ? vm_state_from_string(json_object_get_string(v)) : _VM_STATE_INVALID;
	if (vm->state < 0) {
		vm_free(vm);
		return set_cause(ret_cause, -EBADMSG, "missing or unknown \"runtime.state\"");
	}
	if (get_typed(rt, "cause", json_type_string, &v) && vm_set_cause(vm, json_object_get_string(v)) < 0) {
		vm_free(vm);
		return -ENOMEM;
	}
	vm->pid = (pid_t)get_i64(rt, "pid", 0);
	vm->pid_starttime = (uint64_t)get_i64(rt, "pid_starttime", 0);
	if (get_typed(rt, "exit_code", json_type_int, &v)) {
		/* A u32 (WASI's exit code); files written when it was an int
		 * hold 0..255, and a negative int32 reads as its u32. */
		int64_t code = json_object_get_int64(v);
		if (code < INT32_MIN || code > UINT32_MAX) {
			vm_free(vm);
			return set_cause(ret_cause, -EBADMSG, "\"runtime.exit_code\" out of range");
		}
		vm->has_exit_code = true;
		vm->exit_code = (uint32_t)code;
	}
	if (get_typed(rt, "backend", json_type_object, &v))
		vm->backend_state = json_object_get(v);

	for (size_t i = 0; i < json_object_array_length(tr); i++) {
		fsm_event_t e;
		r = event_from_json(json_object_array_get_idx(tr, i), id, &e, ret_cause);
		if (r == 0 && fsm_ring_push(&vm->transitions, &e, true, NULL) < 0)
			r = set_cause(ret_cause, -EBADMSG, "transitions: sequence numbers out of order");
		if (r < 0) {
			vm_free(vm);
			return r;
		}
	}
	*ret = vm;
	return 0;
}

/* A VM whose file could not be used: Failed, with the reason, file kept. */
static int vm_new_broken(const char *id, const char *error, vm_t **ret)
{
	vm_t *vm;
	int r = vm_new_with_id(id, &vm);

	if (r < 0)
		return r;
	vm->state = VM_STATE_FAILED;
	vm->load_error = strdup(error ? error : "unreadable state file");
	if (!vm->load_error || vm_set_cause(vm, vm->load_error) < 0) {
		vm_free(vm);
		return -ENOMEM;
	}
	*ret = vm;
	return 0;
}

static int load_one(store_t *s, const char *id, vm_t **ret)
{
	_cleanup_close_ int dfd = -1;
	_cleanup_free_ char *text = NULL, *error = NULL;
	json_tokener *tok;
	json_object *doc;
	size_t len;
	int r;

	dfd = openat(s->vms_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return negative_errno();
	r = read_file_at(dfd, STATE_FILE, STORE_MAX_FILE_BYTES, &text, &len);
	if (r == -ENOENT)
		return r;
	if (r < 0) {
		if (asprintf(&error, "state.json: %s", strerror(-r)) < 0)
			return -ENOMEM;
		return vm_new_broken(id, error, ret);
	}

	tok = json_tokener_new_ex(STORE_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	doc = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	if (!doc || jerr != json_tokener_success || tok->char_offset != (int)len) {
		/* Trailing bytes after the object count as corruption too. */
		size_t off = (size_t)tok->char_offset;
		json_object_put(doc);
		json_tokener_free(tok);
		if (asprintf(&error, "state.json: parse error at byte %zu: %s", off,
			     jerr == json_tokener_success ? "trailing data" : json_tokener_error_desc(jerr)) < 0)
			return -ENOMEM;
		return vm_new_broken(id, error, ret);
	}
	json_tokener_free(tok);

	r = store_vm_from_json(doc, id, ret, &error);
	json_object_put(doc);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		_cleanup_free_ char *msg = NULL;
		if (asprintf(&msg, "state.json: %s", error ? error : strerror(-r)) < 0)
			return -ENOMEM;
		return vm_new_broken(id, msg, ret);
	}
	return 0;
}

/* True when dirfd/id holds only temp files ("." prefixed) or nothing. */
static bool dir_is_interrupted_create(int vms_fd, const char *id)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (opendir_at(vms_fd, id, O_NOFOLLOW, &d) < 0)
		return false;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			return false;
	return true;
}

static int vms_append(vm_t ***vms, size_t *n, size_t *cap, vm_t *vm)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		vm_t **p = realloc(*vms, nc * sizeof(*p));
		if (!p)
			return -ENOMEM;
		*vms = p;
		*cap = nc;
	}
	(*vms)[(*n)++] = vm;
	return 0;
}

int store_load_all(store_t *s, vm_t ***ret_vms, size_t *ret_n, size_t *ret_cleaned)
{
	_cleanup_closedir_ DIR *d = NULL;
	vm_t **vms = NULL;
	size_t n = 0, cap = 0, cleaned = 0;
	struct dirent *de;
	int r;

	r = opendir_at(s->vms_fd, ".", 0, &d);
	if (r < 0)
		return r;

	while ((de = readdir(d))) {
		vm_t *vm = NULL;

		if (!vm_id_is_valid(de->d_name))
			continue;
		r = load_one(s, de->d_name, &vm);
		if (r == -ENOENT) {
			if (dir_is_interrupted_create(s->vms_fd, de->d_name)) {
				if (rm_rf_at(s->vms_fd, de->d_name) == 0)
					cleaned++;
				r = 0;
				continue;
			}
			r = vm_new_broken(de->d_name, "state.json is missing", &vm);
		}
		if (r < 0)
			break;
		r = vms_append(&vms, &n, &cap, vm);
		if (r < 0) {
			vm_free(vm);
			break;
		}
	}
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			vm_free(vms[i]);
		free(vms);
		return r;
	}
	*ret_vms = vms;
	*ret_n = n;
	if (ret_cleaned)
		*ret_cleaned = cleaned;
	return 0;
}
