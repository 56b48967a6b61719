/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pause, resume, snapshot and restore: the checks every backend shares (does the
 * backend do it at all, does the FSM allow it) and where snapshots live,
 * STATE_DIR/vms/<id>/snapshots/<n>/ (docs/state.md). The backend does the
 * work and the transitions (Running ⇄ Paused) when its VMM has answered.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manager-internal.h"
#include "util/cause.h"
#include "util/fs.h"
#include "util/macro.h"

static const backend_ops_t *ops_of(manager_t *m, const vm_t *vm)
{
	return vm->backend >= 0 && vm->backend < _VM_BACKEND_MAX ? m->backends[vm->backend] : NULL;
}

/*
 * -EPERM: a compute.vm.run VM (run.h) is never paused, resumed or
 * snapshotted, whatever its state. A run is answered once, when it ends,
 * and is not durable (a paused run would hold its client's answer and the
 * node's budget with no end in sight), and its worker keeps the run's
 * stderr apart, which a snapshot would not carry to a VM made from it
 * (docs/workloads.md).
 */
int manager_pause_vm(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata)
{
	const backend_ops_t *ops = ops_of(m, vm);

	if (!ops || !ops->pause)
		return -EOPNOTSUPP;
	if (vm->run)
		return -EPERM;
	if (vm->state != VM_STATE_RUNNING)
		return -EBUSY;
	return ops->pause(m, vm, done, userdata);
}

int manager_resume_vm(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata)
{
	const backend_ops_t *ops = ops_of(m, vm);

	if (!ops || !ops->resume)
		return -EOPNOTSUPP;
	if (vm->run)
		return -EPERM;
	if (vm->state != VM_STATE_PAUSED)
		return -EBUSY;
	return ops->resume(m, vm, done, userdata);
}

char *manager_snapshot_path(manager_t *m, const vm_t *vm, const char *name)
{
	_cleanup_free_ char *rel = NULL;

	if (asprintf(&rel, "snapshots/%s", name) < 0)
		return NULL;
	return manager_vm_path(m, vm, rel);
}

int manager_snapshot_hash(manager_t *m, const vm_t *vm, const char *name, char ret[static BLOB_REF_LEN + 1])
{
	_cleanup_free_ char *dir = manager_snapshot_path(m, vm, name), *text = NULL;
	_cleanup_close_ int dfd = -1;
	size_t len = 0;
	int r;

	if (!dir)
		return -ENOMEM;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	r = read_file_at(dfd, "hash", BLOB_REF_LEN + 2, &text, &len);
	if (r < 0)
		return r;
	if (len != BLOB_REF_LEN + 1 || text[BLOB_REF_LEN] != '\n')
		return -EBADMSG;
	memcpy(ret, text, BLOB_REF_LEN);
	ret[BLOB_REF_LEN] = 0;
	return 0;
}

/* A snapshot in progress: the manager removes its directory when it fails. */
typedef struct snapshot_op {
	manager_t *m;
	manager_done_fn done;
	void *userdata;
	char name[24];
	char *dir;
} snapshot_op_t;

static void snapshot_done(manager_t *m, const char *vm_id, int error, const char *cause, void *userdata)
{
	snapshot_op_t *op = userdata;

	/* What cloud-hypervisor may have written of a failed one is no snapshot. */
	if (error < 0)
		(void)rm_rf_at(AT_FDCWD, op->dir);
	op->done(m, vm_id, error, cause, op->userdata);
	free(op->dir);
	free(op);
}

/* The next number in snapshots/: one above the highest there. */
static int snapshot_next(const char *dir, unsigned long *ret)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	unsigned long max = 0;
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		unsigned long n;
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		errno = 0;
		n = strtoul(de->d_name, &end, 10);
		if (!errno && !*end && n > max)
			max = n;
	}
	if (max >= UINT_MAX)
		return -ENOSPC;
	*ret = max + 1;
	return 0;
}

int manager_snapshot_vm(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata, char **ret_name)
{
	const backend_ops_t *ops = ops_of(m, vm);
	_cleanup_free_ char *parent = NULL, *name = NULL;
	snapshot_op_t *op;
	unsigned long n = 0;
	int r;

	if (!ops || !ops->snapshot)
		return -EOPNOTSUPP;
	if (vm->run)
		return -EPERM;
	if (vm->state != VM_STATE_RUNNING && vm->state != VM_STATE_PAUSED)
		return -EBUSY;
	parent = manager_vm_path(m, vm, "snapshots");
	if (!parent)
		return -ENOMEM;
	if (mkdir(parent, 0700) < 0 && errno != EEXIST)
		return -errno;
	r = snapshot_next(parent, &n);
	if (r < 0)
		return r;
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	*op = (snapshot_op_t){ .m = m, .done = done, .userdata = userdata };
	snprintf(op->name, sizeof(op->name), "%lu", n);
	op->dir = manager_snapshot_path(m, vm, op->name);
	name = strdup(op->name);
	if (!op->dir || !name) {
		free(op->dir);
		free(op);
		return -ENOMEM;
	}
	if (mkdir(op->dir, 0700) < 0) {
		r = -errno;
		free(op->dir);
		free(op);
		return r;
	}
	r = ops->snapshot(m, vm, op->dir, snapshot_done, op);
	if (r < 0) {
		(void)rm_rf_at(AT_FDCWD, op->dir);
		free(op->dir);
		free(op);
		return r;
	}
	*ret_name = TAKE_PTR(name);
	return 0;
}

int manager_restore_vm(manager_t *m, vm_t *vm, const char *name, char **ret_cause)
{
	const backend_ops_t *ops = ops_of(m, vm);
	_cleanup_free_ char *dir = NULL, *why = NULL;
	struct stat st;
	size_t len = strlen(name);
	int r;

	if (!ops || !ops->restore)
		return -EOPNOTSUPP;
	r = fsm_check(vm->state, VM_STATE_STARTING);
	if (r < 0)
		return r;
	/* Only the names manager_snapshot_vm gives ("1", "2", ...): nothing
	 * else may lead out of snapshots/. */
	if (len == 0 || len > 10 || name[0] < '1' || name[0] > '9' || strspn(name, "0123456789") != len)
		return set_cause(ret_cause, -ENOENT, "\"%s\" is no snapshot name (they are 1, 2, ...)", name);
	dir = manager_snapshot_path(m, vm, name);
	if (!dir || asprintf(&why, "restore from snapshot %s requested", name) < 0)
		return -ENOMEM;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return set_cause(ret_cause, -ENOENT, "the VM has no snapshot %s", name);
	return manager_start_from(m, vm, dir, why, ret_cause);
}
