/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One-shot runs (run.h): a run owns one ephemeral VM from its create to
 * its removal. It follows the VM through the manager's transitions, and
 * does its own steps (start, answer, remove) from a deferred source on the
 * next turn of the loop, never inside a transition: a subscriber that
 * removed the VM there would pull it from under the backend that is
 * ending it.
 */
#include "manager-internal.h"
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/list.h"
#include "util/macro.h"

#define RUNS_DIR "runs"
#define RUN_DEFAULT_MEMORY_MIB 16u

struct run {
	run_t *prev, *next; /* m->runs */
	manager_t *m;
	char vm_id[VM_ID_LEN + 1];
	run_done_fn done; /* NULL once abandoned */
	void *userdata;
	void *stdin_data;
	size_t stdin_len, max_output;
	uint8_t *out, *err;
	size_t out_len, err_len;
	bool truncated, timed_out;
	bool started;  /* manager_start_vm was called */
	bool starting; /* ... and has not returned yet */
	bool ended;    /* the outcome below is fixed */
	run_outcome_t o;
	char *cause;
	char *reuse_key; /* NULL: its worker is never reused */
	sd_event_source *step; /* start, or answer and remove */
};

/* --- STATE_DIR/runs: an older mvmd's ------------------------------------- */

size_t manager_run_dirs_clean(manager_t *m)
{
	_cleanup_close_ int dfd = open(m->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t n = 0;

	if (dfd < 0 || opendir_at(dfd, RUNS_DIR, 0, &d) < 0)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && rm_rf_at(dirfd(d), de->d_name) == 0)
			n++;
	return n;
}

/* --- a run's life ---------------------------------------------------------- */

static void on_transition(manager_t *m, const fsm_event_t *ev, void *userdata);

static void run_free(run_t *r)
{
	manager_unsubscribe(r->m, on_transition, r);
	sd_event_source_disable_unref(r->step);
	LIST_REMOVE(r->m->runs, r);
	free(r->stdin_data);
	free(r->out);
	free(r->err);
	free(r->cause);
	free(r->reuse_key);
	free(r);
}

static void kick(run_t *r)
{
	sd_event_source_set_enabled(r->step, SD_EVENT_ONESHOT);
}

/* Fix how the run ended (the first word counts) and answer on the next turn. */
static void end_with(run_t *r, int error, const vm_t *vm, const char *cause)
{
	if (r->ended)
		return;
	r->ended = true;
	r->o.error = error;
	r->o.state = vm ? vm->state : VM_STATE_PENDING;
	r->o.has_exit_code = vm && vm->has_exit_code;
	r->o.exit_code = vm ? vm->exit_code : 0;
	r->cause = cause ? strdup(cause) : NULL;
	kick(r);
}

static void on_transition(manager_t *m, const fsm_event_t *ev, void *userdata)
{
	run_t *r = userdata;
	vm_t *vm;

	if (strcmp(ev->vm, r->vm_id) != 0)
		return;
	if (ev->removed) {
		end_with(r, -ENOENT, NULL, "the run's VM was removed while it ran");
		return;
	}
	vm = manager_find(m, r->vm_id);
	if (ev->to == VM_STATE_CONFIGURED) {
		kick(r); /* its module came (a pull): start it */
	} else if (ev->to == VM_STATE_STOPPED || ev->to == VM_STATE_FAILED) {
		/* Failed before it ever started: its module is not there. */
		end_with(r, r->started ? 0 : -ENOENT, vm, ev->cause);
	} else if (ev->to == VM_STATE_START_FAILED && r->timed_out) {
		end_with(r, 0, vm, ev->cause); /* its timeout came before its guest ran */
	} else if (ev->to == VM_STATE_START_FAILED && !r->starting) {
		/* Its worker failed after the start was answered; a start
		 * that fails at once is told by manager_start_vm's error. */
		end_with(r, vm && vm->start_errno ? vm->start_errno : -EIO, vm, ev->cause);
	}
}

static void finish(run_t *r)
{
	manager_t *m = r->m;
	vm_t *vm = manager_find(m, r->vm_id);

	r->o.vm_id = r->vm_id;
	r->o.cause = r->cause;
	r->o.out = r->out;
	r->o.out_len = r->out_len;
	r->o.err = r->err;
	r->o.err_len = r->err_len;
	r->o.truncated = r->truncated;
	r->o.timed_out = r->timed_out;
	if (r->done)
		r->done(&r->o, r->userdata);
	if (vm) {
		vm->run = NULL;
		(void)manager_remove_vm(m, vm, true);
	}
	run_free(r);
}

static int on_step(sd_event_source *s, void *userdata)
{
	run_t *r = userdata;
	vm_t *vm = manager_find(r->m, r->vm_id);
	_cleanup_free_ char *cause = NULL;
	int rc;

	if (!r->ended && !r->started && vm && vm->state == VM_STATE_CONFIGURED) {
		r->started = r->starting = true;
		rc = manager_start_vm(r->m, vm, &cause);
		r->starting = false;
		if (rc < 0)
			end_with(r, rc, manager_find(r->m, r->vm_id), cause);
	}
	if (r->ended)
		finish(r);
	return 0;
}

static uint64_t default_memory_mib(manager_t *m)
{
	json_object *o = json_object_new_object(), *v;
	uint64_t mib = RUN_DEFAULT_MEMORY_MIB;

	/* The warm pool's size: a run that fits takes a warm worker. */
	if (o) {
		manager_backend_describe(m, VM_BACKEND_KVM, o);
		if (json_object_object_get_ex(o, "pool", &v) && json_object_object_get_ex(v, "memory_mib", &v))
			mib = (uint64_t)json_object_get_int64(v);
		json_object_put(o);
	}
	return mib;
}

int manager_run_start(manager_t *m, const run_params_t *p, run_done_fn done, void *userdata, run_t **ret,
	      char **ret_cause)
{
	json_object *spec = json_object_new_object();
	run_t *r = calloc(1, sizeof(*r));
	vm_t *vm;
	int rc;

	if (!spec || !r || (p->stdin_len && !(r->stdin_data = malloc(p->stdin_len))) ||
	    (p->reuse_key && !(r->reuse_key = strdup(p->reuse_key)))) {
		json_object_put(spec);
		if (r)
			free(r->stdin_data);
		free(r);
		return -ENOMEM;
	}
	if (p->stdin_len)
		memcpy(r->stdin_data, p->stdin_data, p->stdin_len);
	r->stdin_len = p->stdin_len;
	r->max_output = p->max_output;
	r->m = m;
	r->done = done;
	r->userdata = userdata;
	json_object_object_add(spec, "backend", json_object_new_string("kvm"));
	json_object_object_add(spec, "vcpus", json_object_new_int(1));
	json_object_object_add(spec, "memory_mib",
			       json_object_new_int64((int64_t)(p->memory_mib ? p->memory_mib : default_memory_mib(m))));
	json_object_object_add(spec, "workload", json_object_get(p->workload));
	rc = manager_create_vm_opts(m, spec, true, &vm, ret_cause);
	json_object_put(spec);
	if (rc < 0)
		goto fail;
	rc = sd_event_add_defer(m->event, &r->step, on_step, r);
	if (rc >= 0)
		rc = manager_subscribe(m, on_transition, r);
	if (rc < 0) {
		(void)manager_remove_vm(m, vm, true);
		goto fail;
	}
	memcpy(r->vm_id, vm->id, sizeof(r->vm_id));
	vm->run = r;
	LIST_PREPEND(m->runs, r);
	if (vm->state == VM_STATE_FAILED)
		end_with(r, -ENOENT, vm, vm->cause); /* its module is not in the store */
	else
		kick(r); /* Configured: started on the next turn; else its pull ends first */
	*ret = r;
	return 0;
fail:
	sd_event_source_disable_unref(r->step);
	free(r->stdin_data);
	free(r->reuse_key);
	free(r);
	return rc;
}

void manager_run_abandon(run_t *r)
{
	vm_t *vm = manager_find(r->m, r->vm_id);

	r->done = NULL;
	if (r->ended)
		return;
	if (vm && fsm_state_is_active(vm->state)) {
		/* Killed now; its end comes as a transition, then the removal. */
		if (manager_stop_vm(r->m, vm, true, 0) >= 0)
			return;
	}
	end_with(r, -ECANCELED, vm, "its client left");
}

void manager_run_free_all(manager_t *m)
{
	while (m->runs) {
		run_t *r = m->runs;
		vm_t *vm = manager_find(m, r->vm_id);
		if (vm)
			vm->run = NULL;
		run_free(r);
	}
}

/* --- the backend's side -------------------------------------------------------- */

void manager_run_output(run_t *r, bool is_stderr, const void *buf, size_t len)
{
	uint8_t **b = is_stderr ? &r->err : &r->out;
	size_t *n = is_stderr ? &r->err_len : &r->out_len;
	size_t k = MIN(len, r->max_output - MIN(*n, r->max_output));

	if (k < len)
		r->truncated = true;
	if (!k)
		return;
	/* Grown as output comes, never past max_output. */
	uint8_t *nb = realloc(*b, *n + k);
	if (!nb) {
		r->truncated = true;
		return;
	}
	memcpy(nb + *n, buf, k);
	*b = nb;
	*n += k;
}

void manager_run_input(const run_t *r, const void **ret_data, size_t *ret_len)
{
	*ret_data = r->stdin_data;
	*ret_len = r->stdin_len;
}

void manager_run_timed_out(run_t *r)
{
	r->timed_out = true;
}

bool manager_run_is_timed_out(const run_t *r)
{
	return r->timed_out;
}

const char *manager_run_reuse_key(const run_t *r)
{
	return r->reuse_key;
}
