/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What mvmd finds when it starts (manager_load): the VMs' files, the node
 * ring rebuilt from their histories and events.seq, and each active VM's
 * worker adopted or declared lost.
 */
#include "manager-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "run.h"
#include "vmlog.h"
#include "util/fs.h"
#include "util/macro.h"

static void seq_file_apply(manager_t *m)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_close_ int dfd = open(m->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unsigned long long next = 0;
	int clean = 1;
	size_t len;

	/* Missing (a first start, an older mvmd) or unreadable: the files
	 * alone, as before. */
	if (dfd >= 0 && read_file_at(dfd, SEQ_FILE, 256, &data, &len) >= 0 &&
	    sscanf(data, "next=%llu clean=%d", &next, &clean) == 2) {
		if (next > m->node_ring.next_seq)
			m->node_ring.next_seq = next;
		if (!clean)
			m->node_ring.next_seq += SEQ_CRASH_GAP;
	}
	manager_seq_file_write(m, false);
}

static int cmp_node_seq(const void *a, const void *b)
{
	const fsm_event_t *x = *(const fsm_event_t *const *)a, *y = *(const fsm_event_t *const *)b;

	return x->node_seq < y->node_seq ? -1 : x->node_seq > y->node_seq;
}

/* Rebuild the node ring from every VM's history, oldest first, so that
 * node sequence numbers keep increasing across restarts. Events of
 * removed VMs are gone (docs/state.md). */
static int rebuild_node_ring(manager_t *m)
{
	_cleanup_free_ const fsm_event_t **all = NULL;
	size_t n = 0, total = 0;

	for (size_t i = 0; i < m->n_vms; i++)
		total += m->vms[i]->transitions.count;
	if (!total)
		return 0;
	all = calloc(total, sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_vms; i++)
		for (size_t j = 0; j < m->vms[i]->transitions.count; j++) {
			const fsm_event_t *e = fsm_ring_get(&m->vms[i]->transitions, j);
			if (e->node_seq)
				all[n++] = e;
		}
	qsort(all, n, sizeof(*all), cmp_node_seq);
	for (size_t i = 0; i < n; i++) {
		fsm_event_t ne = *all[i];
		ne.seq = all[i]->node_seq;
		if (ne.seq < m->node_ring.next_seq)
			continue; /* duplicate node_seq from a damaged file: keep the first */
		int r = fsm_ring_push(&m->node_ring, &ne, true, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

int manager_load(manager_t *m, manager_load_report_t *ret_report)
{
	manager_load_report_t rep = { 0 };
	store_clean_report_t clean = { 0 };
	_cleanup_close_ int dfd = -1;
	vm_t **vms = NULL;
	size_t n = 0;
	int r;

	/* What a killed mvmd left mid-write: removes to finish, temp files;
	 * and the files of the runs it had going (their workers stop on
	 * their own when mvmd's end of their control connection closes). */
	rep.runs_cleaned = manager_run_dirs_clean(m);
	r = store_clean(m->store, &clean);
	if (r < 0)
		return r;
	rep.removes_finished = clean.tombstones;
	rep.temp_files = clean.temp_files;
	dfd = open(m->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0 && (r = remove_temp_files_at(dfd, SEQ_FILE)) > 0)
		rep.temp_files += (size_t)r;

	r = store_load_all(m->store, &vms, &n, &rep.cleaned);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (vms[i]->load_error)
			rep.broken++;
		r = manager_vms_add(m, vms[i]);
		if (r < 0) {
			for (size_t j = i; j < n; j++)
				vm_free(vms[j]);
			free(vms);
			return r;
		}
	}
	free(vms);
	rep.loaded = n;

	r = rebuild_node_ring(m);
	if (r < 0)
		return r;
	seq_file_apply(m);
	m->loaded = true;

	for (size_t i = 0; i < m->n_vms; i++) {
		vm_t *vm = m->vms[i];
		const backend_ops_t *ops = m->backends[vm->backend];
		_cleanup_free_ char *cause = NULL;

		vm->disk_active = fsm_state_is_active(vm->state);
		if (vm->state == VM_STATE_PROVISIONING) {
			/* Its pull died with the last mvmd (and its temp file
			 * went with blob_store_open): say so rather than wait. */
			(void)manager_transition(m, vm, VM_STATE_FAILED,
						 "provisioning interrupted: mvmd stopped while the module was being pulled");
			continue;
		}
		if (!fsm_state_is_active(vm->state))
			continue;
		r = -ENOENT;
		if (ops && ops->adopt) {
			r = ops->adopt(m, vm, &cause);
			if (r == 0) {
				vmlog_adopted(vm);
				rep.adopted++;
				continue;
			}
			if (r > 0) {
				rep.ended++;
				continue;
			}
		}
		rep.lost++;
		/* A start for which no process was ever started (mvmd died
		 * between its Starting record and the spawn: the backend says
		 * -ENOENT) is a start that failed. A process that was started
		 * and is gone may have been answered Running (Running is
		 * written behind): it failed, whatever its state on disk.
		 * Starting → StartFailed, Starting, Running and Stopping →
		 * Failed; all are in the table. */
		if (vm->state == VM_STATE_STARTING && r == -ENOENT)
			(void)manager_transition(m, vm, VM_STATE_START_FAILED,
						 cause ? cause : "start interrupted: mvmd stopped before the VM ran");
		else
			(void)manager_transition(m, vm, VM_STATE_FAILED,
						 cause ? cause : "worker lost while mvmd was down");
	}
	if (ret_report)
		*ret_report = rep;
	return 0;
}
