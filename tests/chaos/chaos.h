/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The chaos campaign (docs/hacking.md, "The chaos campaign"): a seeded
 * driver that runs a random mix of requests from several clients against
 * mvmd, kills it with SIGKILL at random moments (or lets a fault point of
 * mvmd-fault kill it), restarts it on the same state directory and checks
 * after every restart that mvmd kept every promise it acknowledged.
 *
 * main.c:   options, the iteration loop, the daemon's life, the summary
 * conn.c:   line-delimited JSON-RPC connections (blocking and pipelined)
 * ops.c:    the clients' random requests and what their answers prove
 * check.c:  the invariants, checked after each restart
 * events.c: event sequence numbers across restarts
 * selftest.c: --self-test, defects planted on purpose that the checks
 *             must report
 */
#ifndef MVM_CHAOS_H
#define MVM_CHAOS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What a VM runs, and so how it may end. */
typedef enum chaos_kind {
	KIND_EXIT,  /* wl-exit: exits at once with `code` */
	KIND_SLEEP, /* wl-sleep: sleeps `sleep_ms`, then exits with `code` */
	KIND_SPIN,  /* wl-spin: never ends (a workload timeout_ms bounds it) */
	KIND_PLAIN, /* no workload: the guest's agent waits for exec */
	KIND_CH,    /* a ch (Linux) VM run by the fake cloud-hypervisor double */
	_KIND_MAX,
} chaos_kind_t;

/* What the driver knows of a create: only an answer proves anything. */
typedef enum chaos_create {
	CR_SENT,    /* no answer (yet): the VM may or may not exist */
	CR_ACKED,   /* answered with the VM: it must exist until removed */
	CR_REFUSED, /* answered with an error: it must never exist */
	CR_ABSENT,  /* unanswered and not there after a restart: never again */
} chaos_create_t;

typedef enum chaos_remove {
	RM_NONE,
	RM_SENT,  /* no answer: the VM may or may not be gone */
	RM_ACKED, /* answered: it must never come back */
} chaos_remove_t;

typedef struct chaos_vm {
	char name[48];
	char id[40];
	chaos_kind_t kind;
	int code;     /* KIND_EXIT, KIND_SLEEP: the exit code it is told */
	int sleep_ms; /* KIND_SLEEP */
	chaos_create_t created;
	chaos_remove_t removed;
	unsigned pending; /* requests naming it still unanswered */
	/* Its last start was answered with the VM started (not an error):
	 * that run may never turn into a failed start (docs/state.md). */
	bool start_acked;
} chaos_vm_t;

typedef struct chaos_blob {
	char hex[65];
	bool acked;
} chaos_blob_t;

/* One event as first seen, by node sequence number. */
typedef struct chaos_event {
	uint64_t seq;
	char vm[40];
	char from[16], to[16];
} chaos_event_t;

/* A connection with its read buffer. */
typedef struct chaos_conn {
	int fd;
	char *buf;
	size_t len;
	bool eof;
} chaos_conn_t;

typedef struct chaos {
	uint64_t seed, rng;
	unsigned iters, iter;
	bool verbose, keep;
	bool have_kvm; /* micro-VMs run here; else their starts fail (StartFailed) */
	char fake_ch[160], kernel[160], fake_kvm[160];

	char dir[64], state[128], sock[128], console[128], log[160];
	pid_t pid;         /* the running mvmd, 0 when none */
	bool pid_is_fault; /* it is mvmd-fault */
	const char *fault; /* its MVMD_FAULT */
	int fault_fired;   /* -1 not known yet, 0 no (SIGKILL), 1 yes */
	chaos_conn_t follow; /* events.tail follower of the running mvmd */

	char hash_exit[80], hash_sleep[80], hash_spin[80];

	chaos_vm_t *vms;
	size_t n_vms, cap_vms;
	chaos_blob_t *blobs;
	size_t n_blobs, cap_blobs;
	unsigned next_name;

	chaos_event_t *events; /* open addressing by seq */
	size_t events_cap, n_events;
	uint64_t max_seq;   /* highest event number seen */
	uint64_t run_seq;   /* highest seen from the running mvmd */

	char **leftovers; /* temp files found while mvmd was down */
	size_t n_leftovers;
	char **reported; /* leftovers already reported */
	size_t n_reported;

	/* --self-test: defects planted on purpose (selftest.c) */
	bool self_test;
	const char *planted; /* this iteration's, NULL when none */
	unsigned n_planted, n_caught;
	pid_t self_test_pid;
	char iter_text[8192]; /* this iteration's violations, to judge by */

	/* figures */
	unsigned kills, fault_kills, violations, bad_iters, ops, acked, startup_deaths;
	unsigned iter_violations;
} chaos_t;

/* main.c */
uint64_t chaos_rand(chaos_t *c);
unsigned chaos_below(chaos_t *c, unsigned n);
long long chaos_now_ms(void);
void chaos_violation(chaos_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void chaos_log(chaos_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
chaos_vm_t *chaos_vm_new(chaos_t *c);
chaos_vm_t *chaos_vm_by_name(chaos_t *c, const char *name);
chaos_vm_t *chaos_vm_by_id(chaos_t *c, const char *id);
/* A VM the driver may act on: created, answered, not being removed. */
bool chaos_vm_usable(const chaos_vm_t *v);

/* conn.c */
int conn_open(chaos_conn_t *k, const char *path);
void conn_close(chaos_conn_t *k);
/* Read what is there (waiting up to timeout_ms for something): 1 read
 * something, 0 nothing, -1 EOF or error (k->eof). */
int conn_fill(chaos_conn_t *k, int timeout_ms);
/* The next complete line, parsed (NULL when none is buffered; an
 * unparsable line is returned as a json string). */
json_object *conn_next(chaos_conn_t *k);
int conn_send(chaos_conn_t *k, const char *data, size_t len);
/* A request and its answer (the whole response), or NULL on EOF/timeout. */
json_object *conn_call(chaos_conn_t *k, const char *method, const char *params, int timeout_ms);
json_object *json_at(json_object *o, const char *dotted);
const char *json_str_at(json_object *o, const char *dotted);

/* ops.c: requests from `clients` connections until kill_at_ms (then
 * SIGKILL) or until mvmd dies by itself; returns true when it did. */
bool chaos_ops_run(chaos_t *c, unsigned clients, unsigned budget, long long kill_at_ms);

/* events.c */
void chaos_events_follow(chaos_t *c);
void chaos_events_drain(chaos_t *c, int timeout_ms);
void chaos_events_stop(chaos_t *c);

/* check.c */
void chaos_check_dead(chaos_t *c); /* mvmd is down: note its temp files */
void chaos_check(chaos_t *c);      /* mvmd restarted: every invariant */
/* Workers (mvm-vmm) whose files are in this state dir: pids and VM ids. */
size_t chaos_workers(chaos_t *c, pid_t *pids, char (*ids)[40], size_t max);

/* selftest.c: plant (while mvmd is down, before the check notes what it
 * finds), judge (after the check), and the run's exit status. */
void chaos_self_test_plant(chaos_t *c);
void chaos_self_test_judge(chaos_t *c);
bool chaos_self_test_over(chaos_t *c); /* every defect planted and judged */
int chaos_self_test_result(chaos_t *c);

#endif
