/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the benchmarks that drive mvmd share (bench/kvm-rpc.c,
 * bench/workload.c): a JSON-RPC connection that reads one response at a
 * time and hands the notifications in between to a callback, a timed cold
 * start to the Stopped event, a clock and percentiles. Errors end the program: a benchmark has no caller to tell.
 */
#ifndef MVM_BENCH_RPC_H
#define MVM_BENCH_RPC_H

#include <json-c/json.h>
#include <stddef.h>

typedef struct bench_conn {
	int fd;
	char *buf; /* one line at most: a list of thousands of VMs is one line */
	size_t cap, len;
	int next_id;
} bench_conn_t;

/* Prints "PROGRAM: what" and exits 1. */
void bench_die(const char *what) __attribute__((noreturn));
double bench_now_us(void); /* CLOCK_MONOTONIC */
int bench_cmp_double(const void *a, const void *b);
/* The p-quantile (0..1) of v[0..n), which it sorts. */
double bench_pct(double *v, int n, double p);

/* Connect to mvmd's socket at path, with room for lines of cap bytes. */
void bench_conn_open(bench_conn_t *c, const char *path, size_t cap);
/* The next message, response or notification. */
json_object *bench_read_msg(bench_conn_t *c);
/* Send a request and return its result (a reference the caller puts);
 * notifications that arrive first go to on_event (may be NULL). */
json_object *bench_call(bench_conn_t *c, const char *method, const char *params,
			void (*on_event)(json_object *ev, void *ud), void *ud);

/* Follow mvmd's events on c (compute.vm.events.tail, follow). */
void bench_follow(bench_conn_t *c);
/* One cold start on c, which follows events: compute.vm.create with
 * create_params, compute.vm.start of that VM, then its events until it is
 * Stopped. Returns µs from the create request to that event; the VM's id
 * goes into id. */
double bench_run_to_stopped(bench_conn_t *c, const char *create_params, char id[64]);
/* The rate: `clients` connections to sock_path (lines of cap bytes, at
 * most 64), each following events and calling one_run(c, 100 + its index)
 * runs / clients times, in parallel. Returns runs completed per second,
 * how many into *ret_runs. */
double bench_rate(const char *sock_path, size_t cap, int clients, int runs, double (*one_run)(bench_conn_t *c, int tag),
		  int *ret_runs);

#endif
