/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd's pool of warm kvm workers (lib/proto/warm.h): a few mvm-vmm
 * processes started ahead of time, each with its VM built, sandboxed and
 * its guest waiting, so that compute.vm.start only hands one its VM.
 *
 * The pool keeps up to `size` workers (warming or ready), all of its
 * configured memory size. A start of that size takes a ready one; either
 * way the pool then refills, one spawn per turn of the event loop at idle
 * priority (after the start has been answered). A start of another size
 * (or vCPU count, image, ...) is not the pool's: it is a miss, started
 * cold, and leaves the pool as it was. A worker that dies while
 * idle is reaped and replaced, one that is not ready in time (a guest
 * image that does not wait in MVM_HC_CONFIG) is killed; after 3 failures
 * in a row the pool waits 10 s before it tries again. Freeing the pool closes the idle workers'
 * pool sockets (they exit by themselves) and kills any still warming.
 *
 * Priming: up to half the pool (rounded up) is primed with the module of
 * the last start of the pool's size that ran one (kvm_worker_prime(): the worker holds and
 * has compiled that module, and serves only VMs that run it); the rest
 * serves any VM. A start takes a worker primed for its module if one is
 * ready, else an unprimed one. When starts move on to another module,
 * the workers primed for the old one are replaced; that and the priming
 * run after the start was answered (at idle priority). A module whose
 * priming failed (the worker died: a module our runtime cannot compile)
 * is not primed again.
 * Reuse (docs/workloads.md, "Reused workers"): a compute.vm.run with a
 * reuse_key that takes a worker primed with its module gets it with
 * KVM_WARM_F_REUSE (lib/proto/warm.h); once the run's guest exited, the
 * backend hands it back (kvm_pool_keep) and the worker resets itself to
 * its template and says READY again. Such a kept worker serves only runs
 * of the same module with the same key. At most reuse_max are kept (one
 * more is let go), each for reuse_idle_ms after its last run.
 * Never logs: kvm_pool_describe() and kvm_pool_stats() report what
 * happened, and on_pause tells the caller when the pool pauses and
 * resumes (mvmd logs it).
 */
#ifndef MVM_KVM_POOL_H
#define MVM_KVM_POOL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "kvm/worker.h"
#include "supervise.h"

typedef struct kvm_pool kvm_pool_t;

typedef struct kvm_pool_config {
	const char *vmm_path, *image_path, *kvm_path;
	int kvm_fd;          /* kvm_path opened (borrowed, see kvm_worker_config_t) */
	supervisor_t *supervisor; /* watches and reaps the workers (borrowed) */
	unsigned size;       /* workers kept; 0: no pool */
	uint32_t memory_mib; /* the size of every warm worker (0: 16) */
	uint64_t warm_bytes; /* heap each warm guest touches */
	uint32_t ready_timeout_ms; /* a worker not READY by then is killed (a failure); 0: 10 s */
	unsigned reuse_max;        /* workers kept for reuse; 0: size */
	uint32_t reuse_idle_ms;    /* a kept worker unused that long goes; 0: KVM_POOL_REUSE_IDLE_MS */
	/* Opens a module by its "sha256:<hex>" read-only (the caller closes
	 * it), for priming; NULL: the pool never primes. */
	int (*open_module)(void *userdata, const char *workload);
	/* The pool paused after failures in a row (paused, with the last
	 * failure's text) or resumed (paused false, last_error NULL); NULL:
	 * nobody is told. */
	void (*on_pause)(void *userdata, bool paused, const char *last_error);
	void *userdata;
} kvm_pool_config_t;

#define KVM_POOL_SIZE_DEFAULT 4u
#define KVM_POOL_SIZE_MAX 256u
#define KVM_POOL_WARM_BYTES (2u << 20)
#define KVM_POOL_REUSE_IDLE_MS 30000u

/* Starts filling on the first turn of the loop. Strings are copied. */
int kvm_pool_new(sd_event *e, const kvm_pool_config_t *cfg, kvm_pool_t **ret);
kvm_pool_t *kvm_pool_free(kvm_pool_t *p);
/*
 * Give a ready worker the VM cfg describes (as kvm_worker_spawn() would
 * start it: on success *ret is the same). Only a VM of the pool's memory
 * size, one vCPU, the pool's guest image, no debug flags and no rlimit
 * qualifies. -ENOENT: no ready worker fits (start one cold); other errors
 * are kvm_worker_assign()'s. The pool keeps its size either way.
 * *ret_reuse_fd: -1, or for a run with a reuse_key given a primed (or
 * kept) worker, its pool socket: hand it to kvm_pool_keep() after the
 * run, or close it (the worker then ends after its run).
 */
int kvm_pool_take(kvm_pool_t *p, const kvm_worker_config_t *cfg, kvm_worker_t *ret, int *ret_reuse_fd);
/*
 * Keep w, whose run (taken with a reuse fd) ended with its guest's exit,
 * for the next run of workload with key. pidfd and pool_fd are taken
 * whatever happens: on failure (-ENOSPC: reuse_max kept already;
 * -EINVAL; -errno) the worker is killed and reaped.
 */
int kvm_pool_keep(kvm_pool_t *p, const kvm_worker_t *w, int pidfd, int pool_fd, const char *workload,
		  const char *key);
/* {"size", "memory_mib", "ready", "warming", "primed", "prime"?, "hits",
 *  "primed_hits", "misses", "failures", "reusable", "reuse_max",
 *  "reuse_hits", "reuse_kept", "reuse_expired", "last_error"?} */
json_object *kvm_pool_describe(const kvm_pool_t *p);

/* Its counters since it was made, and its workers now (metrics). */
typedef struct kvm_pool_stats {
	unsigned size, ready, warming;
	uint64_t hits, primed_hits, misses, spawned, failures, pauses;
	bool paused;
	unsigned reusable;   /* kept workers ready for a run of their key */
	uint64_t reuse_hits; /* runs served by a kept worker */
} kvm_pool_stats_t;
void kvm_pool_stats(const kvm_pool_t *p, kvm_pool_stats_t *ret);

#endif
