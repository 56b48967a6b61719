/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Supervision of the processes that run VMs, for every backend: a kvm
 * worker (mvm-vmm, cold or warm) and a cloud-hypervisor alike.
 *
 *  - Watch:   sv_watch() puts a process's pidfd in the event loop; when
 *             it is gone the owner's callback hears how (sv_exit_t).
 *  - Reap:    one policy, never blocking the loop: a child of this mvmd is
 *             reaped with waitid(P_PIDFD, WNOHANG) when its pidfd says it
 *             is gone; a process the owner lets go before that (a kvm
 *             worker that sent its RESULT and only tears its VM down, a
 *             killed one) is handed to the supervisor, which reaps it in
 *             the same way once it is gone. A process re-adopted after a
 *             restart is no child of ours: it is only watched.
 *  - Kill:    sv_kill() now, sv_kill_after() at a deadline (the backend's
 *             own gentle ask, a STOP frame or the power button, comes
 *             first); the last reason given is the one reported.
 *  - Adopt:   sv_adopt(): the pid is still the process that started at
 *             the recorded start time, and not a zombie (a dead process
 *             that its new parent, here a PID 1 that reaps nothing, has
 *             not reaped is gone all the same).
 *  - Teardown: sv_teardown() marks a process mvmd asked to end (a stop, a
 *             kill); it counts in supervisor_teardowns() until it is gone,
 *             whether its owner still watches it or let it go, and the
 *             supervisor's on_teardown_done callback hears each end (from
 *             the loop): a backend bounds how many VMs it tears down at
 *             once with it (docs/density.md, "Staged mass stop").
 *  - Words:   sv_exit_text() says how a process ended.
 *
 * A supervisor belongs to one backend (its userdata); never logs.
 */
#ifndef MVM_SUPERVISE_H
#define MVM_SUPERVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

typedef struct supervisor supervisor_t;
typedef struct sv_proc sv_proc_t;

/* How a watched process ended. */
typedef struct sv_exit {
	bool known;         /* reaped by us: exited and status below say how */
	bool exited;        /* it called exit(status); else a signal (status) ended it */
	int status;
	const char *killed; /* why mvmd killed it (sv_kill's last reason), NULL if it did not */
} sv_exit_t;

/* The process is gone (and reaped, if it was our child). The callback may
 * free p (sv_release) and whatever holds it. */
typedef void (*sv_exit_fn)(sv_proc_t *p, const sv_exit_t *how, void *userdata);

int supervisor_new(sd_event *e, supervisor_t **ret);
/* Drop the supervisor: what is gone already is reaped; the processes
 * still running are not touched (at exit they outlive mvmd). */
supervisor_t *supervisor_free(supervisor_t *s);
/* Processes let go and not reaped yet (tests, describe). */
size_t supervisor_pending(const supervisor_t *s);
/* Processes marked by sv_teardown() that are not gone yet. */
size_t supervisor_teardowns(const supervisor_t *s);
/* fn(userdata) from the loop after one or more of those ended. */
void supervisor_on_teardown_done(supervisor_t *s, void (*fn)(void *userdata), void *userdata);

/* /proc/PID/stat start time (field 22, clock ticks since boot); -ESRCH
 * when there is no such process. */
int sv_proc_start_time(pid_t pid, uint64_t *ret);
/* A pidfd (O_CLOEXEC) for pid if it is still the process that started at
 * start_time and has not ended (a zombie has); -ESRCH otherwise. */
int sv_adopt(pid_t pid, uint64_t start_time, int *ret_pidfd);

/*
 * Watch a process: pidfd is taken on success (on failure it is still the
 * caller's: sv_abandon() a child that must not run on). is_child: it
 * was spawned by this mvmd, so its exit status is ours to reap. The
 * pidfd's source has the default priority: give the process's output
 * sources a higher one, so that its last words are read before its exit.
 */
int sv_watch(supervisor_t *s, pid_t pid, int pidfd, bool is_child, sv_exit_fn fn, void *userdata,
	     sv_proc_t **ret);
/* Stop watching (NULL is fine): a child that has not been reaped is left
 * to the supervisor, which reaps it once it is gone. Returns NULL. */
sv_proc_t *sv_release(sv_proc_t *p);
/* Stop watching without reaping: the pidfd is the caller's again (a warm
 * worker handed to a VM, whose own watch takes it over). Frees p. */
int sv_unwatch(sv_proc_t *p);
/* Kill and let go at once (a spawn that cannot be supervised): for a pid
 * and pidfd that were never watched. pidfd is taken. */
void sv_abandon(supervisor_t *s, int pidfd, bool is_child);

/* SIGKILL now; why (kept as given, a static string or one that lives as
 * long as p) replaces an earlier reason unless NULL. 0 or -errno. */
int sv_kill(sv_proc_t *p, const char *why);
/* sv_kill(p, why) usec from now unless it ended before; a second call
 * moves the deadline. Without a timer it is killed now. */
int sv_kill_after(sv_proc_t *p, uint64_t usec, const char *why);
void sv_kill_cancel(sv_proc_t *p);
/* Count p as in teardown until it is gone (once; not one reaped already). */
void sv_teardown(sv_proc_t *p);
bool sv_in_teardown(const sv_proc_t *p);
/* The last reason given to sv_kill, NULL when mvmd did not kill it. */
const char *sv_killed(const sv_proc_t *p);

pid_t sv_pid(const sv_proc_t *p);
int sv_pidfd(const sv_proc_t *p);
/* Whether it is gone already (its pidfd readable), without waiting. */
bool sv_exited(const sv_proc_t *p);

/* "<who> exited with status N" or "<who> killed by signal N (NAME)" into
 * buf; false (buf untouched) when the status is not known (a process
 * re-adopted after a restart is no child of ours). */
bool sv_exit_text(const sv_exit_t *how, const char *who, char *buf, size_t size);

#endif
