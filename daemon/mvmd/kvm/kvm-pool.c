/* SPDX-License-Identifier: Apache-2.0 */
/* mvmd's pool of warm kvm workers; see kvm-pool.h. */
#include "kvm-pool.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/warm.h"
#include "util/macro.h"

#define FAILURES_BEFORE_PAUSE 3u
#define PAUSE_USEC (10ull * 1000000ull)
#define REUSE_KEY_MAX 128u /* the RPC layer's bound for reuse_key */

typedef struct entry {
	kvm_pool_t *pool;
	kvm_warm_worker_t w; /* its pidfd is proc's */
	sv_proc_t *proc;
	sd_event_source *pool_src, *deadline_src;
	bool evicted;   /* killed on purpose: primed for a module no longer wanted */
	bool timed_out; /* killed for not being ready in time */
	/* A worker kept after a reusable run (kvm_pool_keep): it serves only
	 * runs of its module with this key; "" for the pool's own. */
	char key[REUSE_KEY_MAX + 1];
	sd_event_source *idle_src; /* a kept one's idle timeout */
} entry_t;

struct kvm_pool {
	sd_event *event;
	supervisor_t *sv;
	char *vmm_path, *image_path, *kvm_path;
	int kvm_fd;
	unsigned size;
	uint32_t ready_timeout_ms;
	uint32_t memory_mib; /* the size of every worker: the operator's, for good */
	uint64_t warm_bytes;
	entry_t **entries;   /* size slots; NULL where free */
	entry_t **kept;      /* reuse_max slots of kept workers; NULL where free */
	unsigned reuse_max;
	uint64_t reuse_idle_usec;
	uint64_t reuse_hits, reuse_kept, reuse_expired;
	/* The prime module's template (TEMPLATE/RESTORE, lib/proto/warm.h):
	 * a sealed memfd, -1 none; the worker writing it and its file. */
	int tmpl_fd, tmpl_pending;
	char tmpl_module[80];
	entry_t *tmpl_writer;
	uint64_t templates, restores;
	sd_event_source *refill_src, *pause_src;
	sd_event_source *tidy_src; /* evictions and priming, after the start's answer */
	unsigned failures_in_a_row;
	uint64_t hits, primed_hits, misses, failures, spawned, pauses;
	int (*open_module)(void *userdata, const char *workload);
	void (*on_pause)(void *userdata, bool paused, const char *last_error);
	void *userdata;
	char prime[80];      /* the module to prime with: the last start's, "" none */
	char unprimable[80]; /* a module whose priming killed its worker */
	char last_error[128]; /* the last failure, "" none */
};

/* Drop an entry: its event sources, its fds; the supervisor reaps it once
 * it is gone. The worker itself is not touched: with its pool socket
 * closed, an idle worker leaves by itself. */
static void entry_free(entry_t *e)
{
	if (!e)
		return;
	sd_event_source_disable_unref(e->pool_src);
	sd_event_source_disable_unref(e->deadline_src);
	sd_event_source_disable_unref(e->idle_src);
	e->proc = sv_release(e->proc);
	kvm_worker_warm_release(&e->w);
	free(e);
}

static void entry_remove(kvm_pool_t *p, entry_t *e)
{
	if (p->tmpl_writer == e) {
		p->tmpl_writer = NULL;
		p->tmpl_pending = safe_close(p->tmpl_pending);
	}
	for (unsigned i = 0; i < p->size; i++)
		if (p->entries[i] == e)
			p->entries[i] = NULL;
	for (unsigned i = 0; i < p->reuse_max; i++)
		if (p->kept[i] == e)
			p->kept[i] = NULL;
	entry_free(e);
}

static unsigned count(const kvm_pool_t *p, bool ready_only)
{
	unsigned n = 0;
	for (unsigned i = 0; i < p->size; i++)
		if (p->entries[i] && (!ready_only || p->entries[i]->w.ready))
			n++;
	return n;
}

static void schedule_refill(kvm_pool_t *p)
{
	if (p->refill_src && !p->pause_src)
		sd_event_source_set_enabled(p->refill_src, SD_EVENT_ONESHOT);
}

static int on_unpause(sd_event_source *s, uint64_t usec, void *userdata)
{
	kvm_pool_t *p = userdata;
	p->pause_src = sd_event_source_disable_unref(p->pause_src);
	p->failures_in_a_row = 0;
	if (p->on_pause)
		p->on_pause(p->userdata, false, NULL);
	schedule_refill(p);
	return 0;
}

/* A worker that died before it was ready, or a spawn that failed. */
static void note_failure(kvm_pool_t *p, const char *what)
{
	p->failures++;
	snprintf(p->last_error, sizeof(p->last_error), "%s", what);
	if (++p->failures_in_a_row >= FAILURES_BEFORE_PAUSE && !p->pause_src &&
	    sd_event_add_time_relative(p->event, &p->pause_src, CLOCK_MONOTONIC, PAUSE_USEC, 0, on_unpause, p) >= 0) {
		p->pauses++;
		if (p->on_pause)
			p->on_pause(p->userdata, true, p->last_error);
	}
}

static void on_exit_(sv_proc_t *proc, const sv_exit_t *how, void *userdata)
{
	entry_t *e = userdata;
	kvm_pool_t *p = e->pool;

	/* Primed and gone before it was ready again: if it ended by itself
	 * (the module did not verify or compile), do not prime that module
	 * again; killed from outside, it says nothing about the module. */
	bool killed = !(how->known && how->exited);
	if (!e->w.ready && !e->evicted && !e->timed_out && !e->key[0]) {
		char why[128];
		if (e->w.primed[0] && !killed)
			snprintf(p->unprimable, sizeof(p->unprimable), "%s", e->w.primed);
		if (!killed)
			snprintf(why, sizeof(why), "a warm worker exited with status %d before it was ready", how->status);
		else
			snprintf(why, sizeof(why), "a warm worker was killed by signal %d before it was ready", how->status);
		if (!(killed && e->w.primed[0]))
			note_failure(p, why);
	}
	entry_remove(p, e);
	schedule_refill(p);
}

/* Gone already (its pidfd not handled yet): not one to give a VM. A kill
 * that lands later is the backend's to handle (it starts the VM cold). */
static bool has_exited(const entry_t *e)
{
	return sv_exited(e->proc);
}

/* Starts moved on to another module (or to none): the pool now primes for
 * this one; the workers primed for an older one are replaced later
 * (tidy()), after the start is answered. */
static void set_prime(kvm_pool_t *p, const char *workload)
{
	if (!workload || strcmp(workload, p->prime) == 0)
		return;
	snprintf(p->prime, sizeof(p->prime), "%s", strlen(workload) < sizeof(p->prime) ? workload : "");
	/* The old module's template goes (the workers mapping it keep it
	 * alive as long as they live); the next primed worker writes one. */
	p->tmpl_fd = safe_close(p->tmpl_fd);
	p->tmpl_module[0] = 0;
}

/* Workers primed for a module other than the pool's serve nobody now:
 * replace them (their exit refills). */
static void evict_stale(kvm_pool_t *p)
{
	for (unsigned i = 0; i < p->size; i++) {
		entry_t *x = p->entries[i];
		if (x && x->w.primed[0] && strcmp(x->w.primed, p->prime) != 0 && !x->evicted) {
			x->evicted = true;
			x->w.ready = false;
			(void)sv_kill(x->proc, NULL);
		}
	}
}

static unsigned count_primed(const kvm_pool_t *p, const char *workload)
{
	unsigned n = 0;
	for (unsigned i = 0; i < p->size; i++)
		if (p->entries[i] && !p->entries[i]->evicted && p->entries[i]->w.primed[0] &&
		    strcmp(p->entries[i]->w.primed, workload) == 0)
			n++;
	return n;
}

/* A worker that just said READY, unprimed: prime it if the pool wants
 * more workers primed with the current module. True when it was primed
 * (a second READY will follow). */
static bool maybe_prime(kvm_pool_t *p, entry_t *e)
{
	if (!p->open_module || !p->prime[0] || e->w.primed[0] ||
	    strcmp(p->prime, p->unprimable) == 0 || count_primed(p, p->prime) >= (p->size + 1) / 2)
		return false;
	int fd = p->open_module(p->userdata, p->prime);
	if (fd < 0)
		return false;
	/* With the module's template: restored, not compiled. */
	bool restore = p->tmpl_fd >= 0 && strcmp(p->tmpl_module, p->prime) == 0;
	int r = restore ? kvm_worker_restore(&e->w, p->prime, p->tmpl_fd, fd) : kvm_worker_prime(&e->w, p->prime, fd);
	close(fd);
	if (r == 0 && restore)
		p->restores++;
	return r == 0;
}

/* The template a worker wrote is complete (it said READY again): seal
 * it, so that no worker can change what the others map, and keep it if
 * its module is still the one primed. */
static void template_written(kvm_pool_t *p, entry_t *e)
{
	struct stat st;
	int fd = TAKE_FD(p->tmpl_pending);

	p->tmpl_writer = NULL;
	if (fd < 0 || strcmp(e->w.primed, p->prime) != 0 || p->tmpl_fd >= 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0 ||
	    fstat(fd, &st) < 0 || (uint64_t)st.st_size <= (uint64_t)p->memory_mib << 20) {
		safe_close(fd);
		return;
	}
	p->tmpl_fd = fd;
	snprintf(p->tmpl_module, sizeof(p->tmpl_module), "%s", e->w.primed);
	p->templates++;
}

/* A worker primed (by compiling) with the pool's module, while there is
 * no template of it: it writes one. True when asked (READY follows). */
static bool ask_template(kvm_pool_t *p, entry_t *e)
{
	if (!e->w.primed[0] || e->key[0] || p->tmpl_fd >= 0 || p->tmpl_writer || strcmp(e->w.primed, p->prime) != 0)
		return false;
	int fd = memfd_create("mvm-template", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return false;
	if (kvm_worker_template(&e->w, fd) < 0) {
		close(fd);
		return false;
	}
	p->tmpl_writer = e;
	p->tmpl_pending = fd;
	return true;
}

static int on_pool_socket(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata);

/* A kept worker no run of its key asked for in time: it goes (its exit
 * removes it), and its memory with it. */
static int on_idle(sd_event_source *s, uint64_t usec, void *userdata)
{
	entry_t *e = userdata;

	e->idle_src = sd_event_source_disable_unref(e->idle_src);
	e->w.ready = false;
	e->evicted = true;
	e->pool->reuse_expired++;
	(void)sv_kill(e->proc, NULL);
	return 0;
}

/* (Re)start the clock a worker has to say READY by. */
static int arm_deadline(kvm_pool_t *p, entry_t *e)
{
	e->deadline_src = sd_event_source_disable_unref(e->deadline_src);
	return sd_event_add_time_relative(p->event, &e->deadline_src, CLOCK_MONOTONIC,
					  (uint64_t)p->ready_timeout_ms * 1000u, 1, on_deadline, e);
}

/* Prime idle, ready, unprimed workers while the pool wants more primed
 * with the current module. Each says READY again once it compiled. */
static void prime_some(kvm_pool_t *p)
{
	for (unsigned i = 0; i < p->size; i++) {
		entry_t *e = p->entries[i];
		if (!e || !e->w.ready || e->evicted || has_exited(e) || !maybe_prime(p, e))
			continue;
		if (!e->pool_src &&
		    sd_event_add_io(p->event, &e->pool_src, e->w.pool_fd, EPOLLIN, on_pool_socket, e) < 0) {
			(void)sv_kill(e->proc, NULL); /* cannot hear it again: replace it */
			e->evicted = true;
			continue;
		}
		(void)arm_deadline(p, e);
	}
}

static int on_pool_socket(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	entry_t *e = userdata;
	int r = kvm_worker_warm_ready(&e->w);

	if (r == 1) {
		/* Primed now: it compiles, then says READY again (within
		 * the same deadline). Only a worker that is ready to be taken
		 * ends a run of failures, so one that keeps dying while it is
		 * primed still pauses the pool. */
		if (maybe_prime(e->pool, e))
			return 0;
		if (e->pool->tmpl_writer == e)
			template_written(e->pool, e);
		else if (ask_template(e->pool, e))
			return 0; /* READY again once it is written, within the deadline */
		e->pool->failures_in_a_row = 0;
		e->deadline_src = sd_event_source_disable_unref(e->deadline_src);
		/* Nothing more comes on it until we send the ASSIGN. */
		e->pool_src = sd_event_source_disable_unref(e->pool_src);
		/* A kept one waits for a run of its key only so long. */
		if (e->key[0] && sd_event_add_time_relative(e->pool->event, &e->idle_src, CLOCK_MONOTONIC,
							    e->pool->reuse_idle_usec, 0, on_idle, e) < 0)
			(void)sv_kill(e->proc, NULL);
	} else if (r < 0) {
		/* Closed (it is dying: its pidfd tells) or garbage (kill it). */
		e->pool_src = sd_event_source_disable_unref(e->pool_src);
		if (r != -EPIPE)
			(void)sv_kill(e->proc, NULL);
	}
	return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	entry_t *e = userdata;
	char why[128];

	/* Its pidfd reaps it and refills. */
	e->timed_out = true;
	snprintf(why, sizeof(why), "a warm worker was not ready within %u ms", e->pool->ready_timeout_ms);
	if (!e->key[0])
		note_failure(e->pool, why);
	(void)sv_kill(e->proc, NULL);
	return 0;
}

static int spawn_one(kvm_pool_t *p, unsigned slot)
{
	kvm_worker_config_t c = { .vmm_path = p->vmm_path, .image_path = p->image_path, .kvm_path = p->kvm_path,
				  .kvm_fd = p->kvm_fd, .memory_mib = p->memory_mib, .vcpus = 1, .log_fd = -1 };
	entry_t *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	e->pool = p;
	r = kvm_worker_spawn_warm(&c, p->warm_bytes, &e->w);
	if (r < 0) {
		free(e);
		return r;
	}
	r = sv_watch(p->sv, e->w.pid, e->w.pidfd, true, on_exit_, e, &e->proc);
	if (r < 0) {
		sv_abandon(p->sv, TAKE_FD(e->w.pidfd), true);
		entry_free(e);
		return r;
	}
	e->w.pidfd = -1;
	r = sd_event_add_io(p->event, &e->pool_src, e->w.pool_fd, EPOLLIN, on_pool_socket, e);
	if (r >= 0)
		r = arm_deadline(p, e);
	if (r < 0) {
		(void)sv_kill(e->proc, NULL);
		entry_free(e);
		return r;
	}
	p->entries[slot] = e;
	p->spawned++;
	return 0;
}

/* What a start changed for the other workers, once it is answered: the
 * workers primed for a module no longer wanted go, idle ones are primed
 * with the one that is. */
static int on_tidy(sd_event_source *s, void *userdata)
{
	kvm_pool_t *p = userdata;

	evict_stale(p);
	prime_some(p);
	return 0;
}

static void schedule_tidy(kvm_pool_t *p)
{
	if (p->tidy_src)
		sd_event_source_set_enabled(p->tidy_src, SD_EVENT_ONESHOT);
}

/* One spawn per turn, at idle priority: a burst of starts is answered
 * before the pool catches up with it. */
static int on_refill(sd_event_source *s, void *userdata)
{
	kvm_pool_t *p = userdata;

	for (unsigned i = 0; i < p->size; i++) {
		if (p->entries[i])
			continue;
		int r = spawn_one(p, i);
		if (r < 0) {
			char why[128];
			snprintf(why, sizeof(why), "starting a warm worker: %s", strerror(-r));
			note_failure(p, why);
		}
		break;
	}
	if (count(p, false) < p->size)
		schedule_refill(p);
	return 0;
}

int kvm_pool_new(sd_event *e, const kvm_pool_config_t *cfg, kvm_pool_t **ret)
{
	kvm_pool_t *p;
	int r;

	if (!cfg->size || cfg->size > KVM_POOL_SIZE_MAX || !cfg->vmm_path || !cfg->image_path || !cfg->supervisor)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->event = sd_event_ref(e);
	p->sv = cfg->supervisor;
	p->kvm_fd = cfg->kvm_fd;
	p->size = cfg->size;
	p->open_module = cfg->open_module;
	p->on_pause = cfg->on_pause;
	p->userdata = cfg->userdata;
	p->ready_timeout_ms = cfg->ready_timeout_ms ? cfg->ready_timeout_ms : 10000;
	p->memory_mib = cfg->memory_mib ? cfg->memory_mib : 16;
	p->warm_bytes = cfg->warm_bytes;
	p->vmm_path = strdup(cfg->vmm_path);
	p->image_path = strdup(cfg->image_path);
	p->kvm_path = cfg->kvm_path ? strdup(cfg->kvm_path) : NULL;
	p->entries = calloc(cfg->size, sizeof(*p->entries));
	p->reuse_max = cfg->reuse_max ? cfg->reuse_max : cfg->size;
	p->reuse_idle_usec = (uint64_t)(cfg->reuse_idle_ms ? cfg->reuse_idle_ms : KVM_POOL_REUSE_IDLE_MS) * 1000u;
	p->kept = calloc(p->reuse_max, sizeof(*p->kept));
	p->tmpl_fd = p->tmpl_pending = -1;
	if (!p->vmm_path || !p->image_path || (cfg->kvm_path && !p->kvm_path) || !p->entries || !p->kept) {
		kvm_pool_free(p);
		return -ENOMEM;
	}
	r = sd_event_add_defer(e, &p->refill_src, on_refill, p);
	if (r < 0) {
		kvm_pool_free(p);
		return r;
	}
	sd_event_source_set_priority(p->refill_src, SD_EVENT_PRIORITY_IDLE);
	sd_event_source_set_enabled(p->refill_src, SD_EVENT_ONESHOT);
	r = sd_event_add_defer(e, &p->tidy_src, on_tidy, p);
	if (r < 0) {
		kvm_pool_free(p);
		return r;
	}
	sd_event_source_set_priority(p->tidy_src, SD_EVENT_PRIORITY_IDLE);
	sd_event_source_set_enabled(p->tidy_src, SD_EVENT_OFF);
	*ret = p;
	return 0;
}

/* End the workers of n slots (the pool's own, or the kept ones): EOF on
 * its pool socket ends an idle one; one that is still warming is killed.
 * The supervisor reaps what is gone. */
static void end_all(entry_t **slots, unsigned n)
{
	for (unsigned i = 0; slots && i < n; i++) {
		entry_t *e = slots[i];
		if (!e)
			continue;
		e->w.pool_fd = safe_close(e->w.pool_fd);
		(void)sv_kill(e->proc, NULL);
		entry_free(e);
	}
}

kvm_pool_t *kvm_pool_free(kvm_pool_t *p)
{
	if (!p)
		return NULL;
	end_all(p->entries, p->size);
	end_all(p->kept, p->reuse_max);
	free(p->kept);
	free(p->entries);
	safe_close(p->tmpl_fd);
	safe_close(p->tmpl_pending);
	sd_event_source_disable_unref(p->refill_src);
	sd_event_source_disable_unref(p->pause_src);
	sd_event_source_disable_unref(p->tidy_src);
	sd_event_unref(p->event);
	free(p->vmm_path);
	free(p->image_path);
	free(p->kvm_path);
	free(p);
	return NULL;
}

/* A kept worker for this run's module and key, ready. */
static entry_t *find_kept(kvm_pool_t *p, const kvm_worker_config_t *cfg)
{
	if (!cfg->reuse_key || !cfg->workload || !(cfg->flags & KVM_WARM_F_RUN))
		return NULL;
	for (unsigned i = 0; i < p->reuse_max; i++) {
		entry_t *x = p->kept[i];
		if (x && x->w.ready && !x->evicted && !has_exited(x) && strcmp(x->w.primed, cfg->workload) == 0 &&
		    strcmp(x->key, cfg->reuse_key) == 0)
			return x;
	}
	return NULL;
}

int kvm_pool_take(kvm_pool_t *p, const kvm_worker_config_t *cfg, kvm_worker_t *ret, int *ret_reuse_fd)
{
	uint32_t mib = cfg->memory_mib ? cfg->memory_mib : 16, vcpus = cfg->vcpus ? cfg->vcpus : 1;
	kvm_worker_config_t c = *cfg;
	entry_t *e = NULL;
	bool kept;
	int r;

	*ret_reuse_fd = -1;

	/* A VM the pool's workers cannot be: started cold, and the pool is
	 * left as it is. Its size is the operator's choice, so one VM of an
	 * odd size must not turn every idle worker into that size. */
	/* A snapshot brings all of the guest's memory: any unprimed worker
	 * of the size will do, whatever image it booted (its memory goes). */
	bool snap = cfg->snapshot_fd > 0;
	if (mib != p->memory_mib || vcpus != 1 || cfg->debug || cfg->rlimit_as ||
	    (!snap && (!cfg->image_path || strcmp(cfg->image_path, p->image_path) != 0)) ||
	    (cfg->kvm_path && (!p->kvm_path || strcmp(cfg->kvm_path, p->kvm_path) != 0))) {
		p->misses++;
		return -ENOENT;
	}
	/* Best: one kept after a run of the same module and key; then one
	 * primed with this VM's module; else any unprimed one. */
	e = snap ? NULL : find_kept(p, cfg);
	kept = e != NULL;
	for (unsigned i = 0; !kept && i < p->size; i++) {
		entry_t *x = p->entries[i];
		if (!x || !x->w.ready || has_exited(x))
			continue;
		if (!snap && x->w.primed[0] && cfg->workload && strcmp(x->w.primed, cfg->workload) == 0) {
			e = x;
			break;
		}
		if (!x->w.primed[0] && !e)
			e = x;
	}
	/* The module a restored VM ran was compiled in its snapshot: the
	 * pool primes for VMs that start from their module, not for these. */
	if (!snap)
		set_prime(p, cfg->workload);
	schedule_tidy(p);
	if (!e) {
		p->misses++;
		schedule_refill(p);
		return -ENOENT;
	}
	/* A run with a key, on a worker that holds its module compiled: it
	 * comes back after the run (kvm_pool_keep). No key, no reuse. */
	if (cfg->reuse_key && (cfg->flags & KVM_WARM_F_RUN) && e->w.primed[0])
		c.flags |= KVM_WARM_F_REUSE;
	/* Its pidfd goes with it: the VM's watch takes it over. */
	e->idle_src = sd_event_source_disable_unref(e->idle_src);
	e->w.pidfd = sv_unwatch(TAKE_PTR(e->proc));
	r = kvm_worker_assign(&e->w, &c, ret);
	if (r < 0) {
		/* Still the pool's: watched again, or killed if it cannot be. */
		int fd = TAKE_FD(e->w.pidfd);
		if (sv_watch(p->sv, e->w.pid, fd, true, on_exit_, e, &e->proc) < 0) {
			sv_abandon(p->sv, fd, true);
			entry_remove(p, e);
		} else if (kept && sd_event_add_time_relative(p->event, &e->idle_src, CLOCK_MONOTONIC,
							      p->reuse_idle_usec, 0, on_idle, e) < 0) {
			(void)sv_kill(e->proc, NULL); /* a kept one must not wait for ever */
		}
		schedule_refill(p);
		return r;
	}
	p->hits++;
	if (e->w.primed[0])
		p->primed_hits++;
	if (kept)
		p->reuse_hits++;
	if (c.flags & KVM_WARM_F_REUSE)
		*ret_reuse_fd = TAKE_FD(e->w.pool_fd);
	entry_remove(p, e);
	schedule_refill(p);
	return 0;
}

int kvm_pool_keep(kvm_pool_t *p, const kvm_worker_t *w, int pidfd, int pool_fd, const char *workload,
		  const char *key)
{
	unsigned slot = p->reuse_max;
	entry_t *e = NULL;
	int r = -EINVAL;

	if (!workload || !key || !key[0] || strlen(key) > REUSE_KEY_MAX || strlen(workload) >= sizeof(e->w.primed))
		goto refuse;
	for (unsigned i = 0; i < p->reuse_max && slot == p->reuse_max; i++)
		if (!p->kept[i])
			slot = i;
	/* As many kept as the operator allows: this one goes. */
	if (slot == p->reuse_max || !(e = calloc(1, sizeof(*e)))) {
		r = slot == p->reuse_max ? -ENOSPC : -ENOMEM;
		goto refuse;
	}
	e->pool = p;
	e->w = (kvm_warm_worker_t){ .pid = w->pid, .pidfd = -1, .pool_fd = pool_fd, .start_time = w->start_time,
				    .memory_mib = p->memory_mib, .vcpus = 1 };
	snprintf(e->w.primed, sizeof(e->w.primed), "%s", workload);
	snprintf(e->key, sizeof(e->key), "%s", key);
	r = sv_watch(p->sv, w->pid, pidfd, true, on_exit_, e, &e->proc);
	if (r < 0) {
		free(e);
		goto refuse;
	}
	/* It says READY once it is back at its template (within the warm
	 * deadline, or it is killed). */
	r = sd_event_add_io(p->event, &e->pool_src, pool_fd, EPOLLIN, on_pool_socket, e);
	if (r >= 0)
		r = arm_deadline(p, e);
	if (r < 0) {
		(void)sv_kill(e->proc, NULL);
		entry_free(e); /* closes pool_fd; the supervisor reaps it */
		return r;
	}
	p->kept[slot] = e;
	p->reuse_kept++;
	return 0;
refuse:
	/* Not kept: it must not run on. */
	sv_abandon(p->sv, pidfd, true);
	safe_close(pool_fd);
	return r;
}

void kvm_pool_stats(const kvm_pool_t *p, kvm_pool_stats_t *ret)
{
	unsigned ready = count(p, true);

	*ret = (kvm_pool_stats_t){
		.size = p->size, .ready = ready, .warming = count(p, false) - ready,
		.hits = p->hits, .primed_hits = p->primed_hits, .misses = p->misses,
		.spawned = p->spawned, .failures = p->failures, .pauses = p->pauses,
		.paused = p->pause_src != NULL, .reuse_hits = p->reuse_hits,
	};
	for (unsigned i = 0; i < p->reuse_max; i++)
		if (p->kept[i] && p->kept[i]->w.ready)
			ret->reusable++;
}

json_object *kvm_pool_describe(const kvm_pool_t *p)
{
	json_object *o = json_object_new_object();
	unsigned ready = count(p, true), all = count(p, false), primed = 0;
	kvm_pool_stats_t stats;

	kvm_pool_stats(p, &stats);

	for (unsigned i = 0; i < p->size; i++)
		if (p->entries[i] && p->entries[i]->w.ready && p->entries[i]->w.primed[0])
			primed++;

	json_object_object_add(o, "size", json_object_new_int((int)p->size));
	json_object_object_add(o, "memory_mib", json_object_new_int64(p->memory_mib));
	json_object_object_add(o, "ready", json_object_new_int((int)ready));
	json_object_object_add(o, "warming", json_object_new_int((int)(all - ready)));
	json_object_object_add(o, "primed", json_object_new_int((int)primed));
	if (p->prime[0])
		json_object_object_add(o, "prime", json_object_new_string(p->prime));
	json_object_object_add(o, "hits", json_object_new_int64((int64_t)p->hits));
	json_object_object_add(o, "primed_hits", json_object_new_int64((int64_t)p->primed_hits));
	json_object_object_add(o, "misses", json_object_new_int64((int64_t)p->misses));
	json_object_object_add(o, "failures", json_object_new_int64((int64_t)p->failures));
	json_object_object_add(o, "reusable", json_object_new_int((int)stats.reusable));
	json_object_object_add(o, "reuse_max", json_object_new_int((int)p->reuse_max));
	json_object_object_add(o, "reuse_hits", json_object_new_int64((int64_t)p->reuse_hits));
	json_object_object_add(o, "reuse_kept", json_object_new_int64((int64_t)p->reuse_kept));
	json_object_object_add(o, "reuse_expired", json_object_new_int64((int64_t)p->reuse_expired));
	json_object_object_add(o, "templates", json_object_new_int64((int64_t)p->templates));
	json_object_object_add(o, "restores", json_object_new_int64((int64_t)p->restores));
	if (p->last_error[0])
		json_object_object_add(o, "last_error", json_object_new_string(p->last_error));
	return o;
}
