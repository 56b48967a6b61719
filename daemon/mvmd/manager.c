/* SPDX-License-Identifier: Apache-2.0 */
#include "manager-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capacity.h"
#include "run.h"
#include "vmlog.h"
#include "util/cause.h"
#include "util/fault.h"
#include "util/fs.h"
#include "util/macro.h"

/* events.seq: see SEQ_FILE in manager-internal.h. */
void manager_seq_file_write(manager_t *m, bool clean)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "next=%" PRIu64 "\nclean=%d\n", m->node_ring.next_seq, clean ? 1 : 0);
	_cleanup_close_ int dfd = open(m->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd >= 0 && n > 0 && replace_file_at(dfd, SEQ_FILE, buf, (size_t)n, 0600) >= 0)
		m->seq_written = m->node_ring.next_seq;
}

int manager_new(sd_event *e, const manager_config_t *cfg, manager_t **ret)
{
	manager_t *m;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cfg = *cfg;
	if (!m->cfg.node_ring_capacity)
		m->cfg.node_ring_capacity = 1024;
	if (!m->cfg.max_vms)
		m->cfg.max_vms = 4096;
	if (!m->cfg.max_vcpus)
		m->cfg.max_vcpus = capacity_default_vcpus();
	if (!m->cfg.max_memory_mib)
		m->cfg.max_memory_mib = capacity_default_memory_mib();
	m->state_dir = strdup(cfg->state_dir);
	m->console_dir = strdup(cfg->console_dir ? cfg->console_dir : "");
	if (!m->state_dir || !m->console_dir) {
		manager_free(m);
		return -ENOMEM;
	}
	m->cfg.state_dir = m->state_dir;
	m->cfg.console_dir = m->console_dir;

	r = fsm_ring_init(&m->node_ring, m->cfg.node_ring_capacity);
	if (r >= 0)
		r = actors_new(e, m, &m->actors);
	if (r >= 0)
		r = store_open(m->state_dir, &m->store);
	if (r >= 0)
		r = blob_store_open(m->state_dir, &m->blobs);
	if (r < 0) {
		manager_free(m);
		return r;
	}
	m->event = e ? sd_event_ref(e) : NULL;
	r = manager_save_init(m);
	if (r >= 0 && (r = metrics_new(m, &m->metrics)) >= 0)
		r = manager_subscribe(m, metrics_on_event, m->metrics);
	if (r < 0) {
		manager_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

static void release_backend(manager_t *m, vm_t *vm)
{
	const backend_ops_t *ops = m->backends[vm->backend];

	if (vm->backend_data && ops && ops->release)
		ops->release(m, vm);
}

manager_t *manager_free(manager_t *m)
{
	if (!m)
		return NULL;
	manager_save_done(m);
	manager_run_free_all(m);
	/* Messages end before their VMs' runtimes go (nobody hears them:
	 * the connections are closed first). */
	m->actors = actors_free(m->actors);
	if (m->loaded)
		manager_seq_file_write(m, true);
	for (size_t i = 0; i < m->n_vms; i++) {
		release_backend(m, m->vms[i]);
		vm_free(m->vms[i]);
	}
	for (int b = 0; b < _VM_BACKEND_MAX; b++)
		if (m->backends[b] && m->backends[b]->done)
			m->backends[b]->done(m, m->backend_userdata[b]);
	free(m->vms);
	free(m->subs);
	fsm_ring_done(&m->node_ring);
	store_free(m->store);
	puller_free(m->puller);
	blob_store_free(m->blobs);
	sd_event_unref(m->event);
	free(m->state_dir);
	free(m->console_dir);
	metrics_free(m->metrics);
	free(m);
	return NULL;
}

void manager_register_backend(manager_t *m, vm_backend_t b, const backend_ops_t *ops, void *userdata)
{
	m->backends[b] = ops;
	m->backend_userdata[b] = userdata;
}

void *manager_backend_userdata(manager_t *m, vm_backend_t b)
{
	return m->backend_userdata[b];
}

bool manager_backend_registered(manager_t *m, vm_backend_t b)
{
	return b >= 0 && b < _VM_BACKEND_MAX && m->backends[b];
}

void manager_backend_describe(manager_t *m, vm_backend_t b, json_object *obj)
{
	if (m->backends[b] && m->backends[b]->describe)
		m->backends[b]->describe(m, obj);
}

int manager_vm_grant_blob(manager_t *m, vm_t *vm, const char *hex)
{
	const backend_ops_t *ops = m->backends[vm->backend];

	if (!ops || !ops->grant_blob)
		return -EOPNOTSUPP;
	return ops->grant_blob(m, vm, hex);
}

bool manager_backend_usable(manager_t *m, vm_backend_t b, char **ret_cause)
{
	const backend_ops_t *ops = m->backends[b];

	*ret_cause = NULL;
	if (!ops) {
		set_cause(ret_cause, -ENODEV, "backend not implemented in this build");
		return false;
	}
	if (!ops->usable)
		return true;
	return ops->usable(m, ret_cause);
}

sd_event *manager_event(manager_t *m) { return m->event; }

char *manager_vm_path(manager_t *m, const vm_t *vm, const char *file)
{
	char *p = NULL;

	if (vm->ephemeral)
		return NULL; /* a run has no files (run.h) */
	if (store_vm_path(m->store, vm->id, file, &p) < 0)
		return NULL;
	return p;
}

char *manager_vm_console_path(manager_t *m, const vm_t *vm)
{
	char *p;

	if (asprintf(&p, "%s/%s.sock", m->console_dir, vm->id) < 0)
		return NULL;
	return p;
}
store_t *manager_store(manager_t *m) { return m->store; }
blob_store_t *manager_blobs(manager_t *m) { return m->blobs; }
void manager_set_puller(manager_t *m, puller_t *p) { puller_free(m->puller); m->puller = p; }
puller_t *manager_puller(manager_t *m) { return m->puller; }
struct actors *manager_actors(manager_t *m) { return m->actors; }
const manager_config_t *manager_config(manager_t *m) { return &m->cfg; }
metrics_t *manager_metrics(manager_t *m) { return m->metrics; }
const fsm_ring_t *manager_events(manager_t *m) { return &m->node_ring; }

vm_t *const *manager_vms(manager_t *m, size_t *ret_n)
{
	*ret_n = m->n_vms;
	return m->vms;
}

vm_t *manager_find(manager_t *m, const char *id_or_name)
{
	if (!id_or_name)
		return NULL;
	for (size_t i = 0; i < m->n_vms; i++)
		if (strcmp(m->vms[i]->id, id_or_name) == 0)
			return m->vms[i];
	for (size_t i = 0; i < m->n_vms; i++)
		if (m->vms[i]->name && strcmp(m->vms[i]->name, id_or_name) == 0)
			return m->vms[i];
	return NULL;
}

int manager_vms_add(manager_t *m, vm_t *vm)
{
	if (m->n_vms == m->cap_vms) {
		size_t nc = m->cap_vms ? m->cap_vms * 2 : 64;
		vm_t **p = realloc(m->vms, nc * sizeof(*p));
		if (!p)
			return -ENOMEM;
		m->vms = p;
		m->cap_vms = nc;
	}
	m->vms[m->n_vms++] = vm;
	return 0;
}

static void vms_del(manager_t *m, vm_t *vm)
{
	for (size_t i = 0; i < m->n_vms; i++)
		if (m->vms[i] == vm) {
			memmove(&m->vms[i], &m->vms[i + 1], (m->n_vms - i - 1) * sizeof(*m->vms));
			m->n_vms--;
			return;
		}
}

/* --- subscribers -------------------------------------------------------- */

int manager_subscribe(manager_t *m, manager_event_fn fn, void *userdata)
{
	if (m->n_subs == m->cap_subs) {
		size_t nc = m->cap_subs ? m->cap_subs * 2 : 8;
		subscriber_t *p = realloc(m->subs, nc * sizeof(*p));
		if (!p)
			return -ENOMEM;
		m->subs = p;
		m->cap_subs = nc;
	}
	m->subs[m->n_subs++] = (subscriber_t){ .fn = fn, .userdata = userdata };
	return 0;
}

static void subs_compact(manager_t *m)
{
	size_t j = 0;

	for (size_t i = 0; i < m->n_subs; i++)
		if (!m->subs[i].dead)
			m->subs[j++] = m->subs[i];
	m->n_subs = j;
}

void manager_unsubscribe(manager_t *m, manager_event_fn fn, void *userdata)
{
	for (size_t i = 0; i < m->n_subs; i++)
		if (!m->subs[i].dead && m->subs[i].fn == fn && m->subs[i].userdata == userdata) {
			m->subs[i].dead = true;
			break;
		}
	if (!m->notifying)
		subs_compact(m);
}

/* Record an event in the node ring (keeping the node_seq the VM ring
 * already assigned) and tell subscribers. */
static void publish(manager_t *m, const fsm_event_t *ev)
{
	fsm_event_t ne = *ev;
	const fsm_event_t *stored;

	ne.seq = ev->node_seq;
	if (fsm_ring_push(&m->node_ring, &ne, true, NULL) < 0) {
		/* Out of memory for the cause (the VM ring still has it):
		 * the event without one: subscribers may wait on it. */
		ne.cause = NULL;
		if (fsm_ring_push(&m->node_ring, &ne, true, NULL) < 0)
			return;
	}
	stored = fsm_ring_get(&m->node_ring, m->node_ring.count - 1);

	/* Subscribers added during the walk see the next event, not this one. */
	size_t n = m->n_subs;
	m->notifying++;
	for (size_t i = 0; i < n; i++)
		if (!m->subs[i].dead)
			m->subs[i].fn(m, stored, m->subs[i].userdata);
	if (--m->notifying == 0)
		subs_compact(m);
}

/* Append a transition to the VM's ring with the next node sequence number
 * and move the VM to `to`. Nothing is published or persisted. */
static int record(manager_t *m, vm_t *vm, vm_state_t to, const char *cause, uint64_t node_seq)
{
	fsm_event_t ev = {
		.node_seq = node_seq,
		.wall_usec = fsm_now_wall_usec(),
		.mono_usec = fsm_now_mono_usec(),
		.from = vm->state,
		.to = to,
		.cause = (char *)cause,
	};
	int r;

	snprintf(ev.vm, sizeof(ev.vm), "%s", vm->id);
	r = fsm_ring_push(&vm->transitions, &ev, false, NULL);
	if (r < 0)
		return r;
	r = vm_set_cause(vm, cause);
	if (r < 0)
		return r;
	vm->state = to;
	return 0;
}

static const fsm_event_t *last_event(const vm_t *vm)
{
	return fsm_ring_get(&vm->transitions, vm->transitions.count - 1);
}

/* A transition the caller checked against the FSM table already: each is
 * checked once, where the decision is made. */
static int transition_checked(manager_t *m, vm_t *vm, vm_state_t to, const char *cause)
{
	int r = record(m, vm, to, cause, m->node_ring.next_seq);

	if (r < 0)
		return r;
	vm_touch(vm);
	/* Written before anyone hears of it: a subscriber may answer a
	 * waiting request at once (a reply made outside a connection's own
	 * processing is flushed there and then), and a client told Stopped
	 * must not find the VM lost after a crash before the write. */
	r = manager_save_vm(m, vm, true);
	if (to == VM_STATE_STOPPED || to == VM_STATE_FAILED || to == VM_STATE_START_FAILED)
		fault_point("end.written");
	publish(m, last_event(vm));
	return r;
}

int manager_transition(manager_t *m, vm_t *vm, vm_state_t to, const char *cause)
{
	int r = fsm_check(vm->state, to);

	return r < 0 ? r : transition_checked(m, vm, to, cause);
}

/*
 * A transition that a request asks for and nothing has acted on yet (the
 * Starting of a start): written at once, and taken back whole when it
 * cannot be written, so that the VM is in its previous state in memory as
 * on disk, no event was published, and the caller can fail the request
 * before anything is spawned. A process started after an unwritten
 * Starting would run on unowned: a restarted mvmd reads the VM's older
 * state and does not look for it. The caller checked the FSM table.
 */
static int transition_written(manager_t *m, vm_t *vm, vm_state_t to, const char *cause)
{
	_cleanup_free_ char *old_cause = NULL;
	fsm_event_t evicted = { 0 };
	bool full = vm->transitions.count == vm->transitions.capacity;
	uint64_t seq0 = vm->transitions.next_seq;
	vm_state_t old_state = vm->state;
	int r;

	if (vm->cause && !(old_cause = strdup(vm->cause)))
		return -ENOMEM;
	if (full) {
		evicted = *fsm_ring_get(&vm->transitions, 0);
		if (evicted.cause && !(evicted.cause = strdup(evicted.cause)))
			return -ENOMEM;
	}
	r = record(m, vm, to, cause, m->node_ring.next_seq);
	if (r >= 0) {
		vm_touch(vm);
		r = vm->ephemeral ? 0 : store_save(m->store, vm, manager_state_is_durable(vm->state));
		if (r >= 0) {
			free(evicted.cause);
			vm->save_pending = false;
			vm->disk_active = fsm_state_is_active(vm->state);
			publish(m, last_event(vm));
			return 0;
		}
	}
	/* record() may have pushed the entry before failing (its cause). */
	if (vm->transitions.next_seq != seq0)
		fsm_ring_unpush(&vm->transitions, full ? &evicted : NULL);
	free(evicted.cause);
	free(vm->cause);
	vm->cause = TAKE_PTR(old_cause);
	vm->state = old_state;
	return r;
}

/* --- create / remove ---------------------------------------------------- */

int manager_create_vm(manager_t *m, json_object *spec, vm_t **ret, char **ret_cause)
{
	return manager_create_vm_opts(m, spec, false, ret, ret_cause);
}

int manager_create_vm_opts(manager_t *m, json_object *spec, bool ephemeral, vm_t **ret, char **ret_cause)
{
	const backend_ops_t *ops;
	_cleanup_free_ char *cause = NULL;
	uint64_t seq0 = m->node_ring.next_seq;
	vm_t *vm = NULL;
	int r;

	if (m->n_vms >= m->cfg.max_vms) {
		return set_cause(ret_cause, -ENOSPC, "node holds the maximum of %u VMs", m->cfg.max_vms);
	}
	r = vm_new(&vm);
	if (r < 0)
		return r;
	vm->ephemeral = ephemeral;
	r = vm_set_spec(vm, spec);
	if (r < 0)
		goto fail_free;
	if (vm->name && manager_find(m, vm->name)) {
		r = set_cause(ret_cause, -EEXIST, "a VM named \"%s\" exists", vm->name);
		goto fail_free;
	}
	if (vm->vcpus > m->cfg.max_vcpus) {
		r = set_cause(ret_cause, -ENOSPC, "vcpus %u exceeds the node limit of %u", vm->vcpus, m->cfg.max_vcpus);
		goto fail_free;
	}
	if (vm->memory_mib > m->cfg.max_memory_mib) {
		r = set_cause(ret_cause, -ENOSPC, "memory_mib %llu exceeds the node limit of %llu",
			      (unsigned long long)vm->memory_mib, (unsigned long long)m->cfg.max_memory_mib);
		goto fail_free;
	}

	ops = m->backends[vm->backend];
	if (ops && ops->validate) {
		r = ops->validate(m, vm, ret_cause);
		if (r < 0)
			goto fail_free;
	}

	/* A run has no directory: nothing of it is on disk (docs/state.md). */
	r = ephemeral ? 0 : store_create_vm_dir(m->store, vm->id);
	if (r < 0)
		goto fail_free;
	if (!ephemeral)
		fault_point("create.dir-made");

	/* Pending → Provisioning → Configured | Failed, recorded in the VM's
	 * ring with tentative node sequence numbers; published only once the
	 * state file is on disk, so a failed create leaves no trace. */
	r = record(m, vm, VM_STATE_PROVISIONING, "created", seq0);
	if (r < 0)
		goto fail_dir;
	bool pending = false;
	if (ops && ops->provision) {
		r = ops->provision(m, vm, &cause);
		/* -EINPROGRESS: provisioning goes on (a module is being pulled,
		 * docs/blobs.md); the backend makes the next transition. */
		pending = r == -EINPROGRESS && !cause;
		if (r < 0 && !cause && !pending) {
			set_cause(ret_cause, r, "provisioning failed: %s", strerror(-r));
			goto fail_dir;
		}
	}
	if (pending)
		r = 0;
	else if (cause)
		r = record(m, vm, VM_STATE_FAILED, cause, seq0 + 1);
	else
		r = record(m, vm, VM_STATE_CONFIGURED, "provisioned", seq0 + 1);
	if (r < 0)
		goto fail_dir;

	r = ephemeral ? 0 : store_save(m->store, vm, true);
	if (r < 0)
		goto fail_dir;
	r = manager_vms_add(m, vm);
	if (r < 0)
		goto fail_dir;

	for (size_t i = 0; i < vm->transitions.count; i++)
		publish(m, fsm_ring_get(&vm->transitions, i));
	*ret = vm;
	return 0;

fail_dir:
	release_backend(m, vm);
	if (!ephemeral)
		store_remove(m->store, vm->id);
fail_free:
	vm_free(vm);
	return r;
}

/*
 * A removal is an event (docs/rpc-methods.md, compute.vm.events.tail): it
 * answers every request still waiting on the VM and tells followers. It is
 * no transition, since no VM is ever in a "Removed" state: it lives in the
 * node ring only, published once the VM has left the registry (a waiter
 * that looks the VM up finds it gone). The VM's file, which held its
 * events, is gone; events.seq, written next, keeps this number used.
 */
static void publish_removal(manager_t *m, const vm_t *vm, bool killed)
{
	fsm_event_t ev = {
		.node_seq = m->node_ring.next_seq,
		.wall_usec = fsm_now_wall_usec(),
		.mono_usec = fsm_now_mono_usec(),
		.from = vm->state,
		.to = vm->state,
		.removed = true,
		.cause = (char *)(killed ? "removed by force: its worker was killed" : "removed"),
	};

	snprintf(ev.vm, sizeof(ev.vm), "%s", vm->id);
	publish(m, &ev);
}

int manager_remove_vm(manager_t *m, vm_t *vm, bool force)
{
	const backend_ops_t *ops = m->backends[vm->backend];
	bool killed = false;
	int r;

	if (fsm_state_is_active(vm->state)) {
		if (!force)
			return -EBUSY;
		if (!ops || !ops->kill)
			return -EOPNOTSUPP;
		r = ops->kill(m, vm);
		if (r < 0)
			return r;
		killed = true;
	}
	if (!vm->ephemeral && (r = store_remove(m->store, vm->id)) < 0)
		return r;
	release_backend(m, vm);
	vms_del(m, vm);
	publish_removal(m, vm, killed);
	/* Its events' numbers left with its file. A run's VM had none on
	 * disk, and runs come by the thousand: events.seq is written once
	 * the numbers are halfway to the gap a crash adds (manager_load),
	 * so that no number is used twice after one either way. */
	if (!vm->ephemeral || m->node_ring.next_seq - m->seq_written >= SEQ_CRASH_GAP / 2)
		manager_seq_file_write(m, false);
	vm_free(vm);
	return 0;
}

/* --- start / stop ------------------------------------------------------- */

/* A start, or a restore (manager-internal.h). */
int manager_start_from(manager_t *m, vm_t *vm, const char *restore_dir, const char *why, char **ret_cause)
{
	const backend_ops_t *ops = m->backends[vm->backend];
	_cleanup_free_ char *reason = NULL, *cause = NULL;
	capacity_refusal_t refusal;
	bool had_exit_code;
	int r;

	if (vm->load_error) {
		return set_cause(ret_cause, -EBUSY, "state file unreadable: %s", vm->load_error);
	}
	/* A run's VM runs once, as its run says (daemon/mvmd/run.c). */
	if (vm->ephemeral && (vm->state != VM_STATE_CONFIGURED || restore_dir))
		return set_cause(ret_cause, -EBUSY, "a one-shot run's VM cannot be started again");
	r = fsm_check(vm->state, VM_STATE_STARTING);
	if (r < 0)
		return r;
	/* Over the node's budget: refused before anything is written. */
	r = capacity_check(m, vm, &refusal);
	if (r < 0) {
		return set_cause(ret_cause, r, "%s %llu is over what the node has free (%llu of %llu used)",
				 refusal.resource, (unsigned long long)refusal.requested,
				 (unsigned long long)refusal.used, (unsigned long long)refusal.limit);
	}
	vm->start_errno = 0;
	/* How the last run ended must be on disk before what it left goes. */
	if (vm->save_pending) {
		r = manager_save_now(m, vm);
		if (r < 0) {
			return set_cause(ret_cause, r, "cannot write the VM's state: %s", strerror(-r));
		}
	}
	/* Nothing the last run left may be read back as this run's. */
	if (ops && ops->forget_run) {
		r = ops->forget_run(m, vm);
		if (r < 0) {
			return set_cause(ret_cause, r, "cannot clear the last run's files: %s", strerror(-r));
		}
	}
	/* The exit code is the last run's: not part of this run's record. */
	had_exit_code = vm->has_exit_code;
	vm->has_exit_code = false;
	r = transition_written(m, vm, VM_STATE_STARTING, why);
	if (r < 0) {
		vm->has_exit_code = had_exit_code;
		return set_cause(ret_cause, r, "cannot write the Starting record: %s", strerror(-r));
	}
	fault_point("start.starting-written");

	if (!ops || (restore_dir ? !ops->restore : !ops->start) || !manager_backend_usable(m, vm->backend, &reason)) {
		set_cause(ret_cause, -ENODEV, "%s backend unavailable: %s", vm_backend_to_string(vm->backend),
			  reason ? reason : "not implemented in this build");
		(void)manager_transition(m, vm, VM_STATE_START_FAILED, ret_cause ? *ret_cause : "backend unavailable");
		return -ENODEV;
	}
	r = restore_dir ? ops->restore(m, vm, restore_dir, &cause) : ops->start(m, vm, &cause);
	if (r < 0) {
		if (!cause && asprintf(&cause, "start failed: %s", strerror(-r)) < 0)
			cause = NULL;
		set_cause(ret_cause, r, "%s", cause ? cause : "start failed");
		(void)manager_transition(m, vm, VM_STATE_START_FAILED, cause);
		return r;
	}
	fault_point("start.spawned");
	return 0;
}

int manager_start_vm(manager_t *m, vm_t *vm, char **ret_cause)
{
	return manager_start_from(m, vm, NULL, "start requested", ret_cause);
}

int manager_stop_vm(manager_t *m, vm_t *vm, bool force, uint64_t timeout_ms)
{
	const backend_ops_t *ops = m->backends[vm->backend];
	int r;

	if (vm->state == VM_STATE_STOPPING) {
		if (!force)
			return -EALREADY;
	} else {
		r = fsm_check(vm->state, VM_STATE_STOPPING);
		if (r < 0)
			return r;
		if (!ops || !ops->stop)
			return -EOPNOTSUPP;
		(void)transition_checked(m, vm, VM_STATE_STOPPING, force ? "forced stop requested" : "stop requested");
		fault_point("stop.stopping-written");
	}
	if (!ops || !ops->stop)
		return -EOPNOTSUPP;
	return ops->stop(m, vm, force, timeout_ms);
}
