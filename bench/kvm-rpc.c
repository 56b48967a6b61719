/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Micro-VM start through mvmd's RPC, as an orchestrator sees it:
 *
 *   cold   compute.vm.create + compute.vm.start of a guest that exits at
 *          once, timed to the Stopped event (one connection that also
 *          follows compute.vm.events), p50/p99 over N runs; remove untimed.
 *   rate   the same with C connections in parallel: VMs completed per second.
 *   idle   I idle VMs started and left Running: MemAvailable drop per VM.
 *
 *   kvm-rpc -s SOCKET -g EXIT_GUEST [-n RUNS] [-c CLIENTS] [-r RATE_RUNS] [-i IDLE]
 *
 * mvmd must run with --allow-custom-guests. Prints "key=value" lines for
 * bench/kvm.sh after the table.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib/bench-rpc.h"

static const char *sock_path, *guest;

/* One cold start on connection c (which follows events): µs from the
 * create request to the Stopped event. */
static double one_run(bench_conn_t *c, int tag)
{
	char params[1200], id[64];

	snprintf(params, sizeof(params), "{\"memory_mib\":16,\"labels\":{\"bench\":\"%d\"},\"guest\":{\"image\":\"%s\",\"args\":[\"0\"]}}",
		 tag, guest);
	double dt = bench_run_to_stopped(c, params, id);
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", id);
	json_object_put(bench_call(c, "compute.vm.remove", params, NULL, NULL));
	return dt;
}

static long mem_available_kib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	int n = 100, clients = 2, rate_runs = 200, idle = 0, ch;

	while ((ch = getopt(argc, argv, "s:g:n:c:r:i:")) != -1) {
		switch (ch) {
		case 's': sock_path = optarg; break;
		case 'g': guest = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'c': clients = atoi(optarg); break;
		case 'r': rate_runs = atoi(optarg); break;
		case 'i': idle = atoi(optarg); break;
		default: bench_die("usage: kvm-rpc -s SOCKET -g EXIT_GUEST [-n RUNS] [-c CLIENTS] [-r RATE_RUNS] [-i IDLE]");
		}
	}
	if (!sock_path || !guest || n < 1 || clients < 1)
		bench_die("usage: kvm-rpc -s SOCKET -g EXIT_GUEST [-n RUNS] [-c CLIENTS] [-r RATE_RUNS] [-i IDLE]");

	bench_conn_t *c = malloc(sizeof(*c));
	bench_conn_open(c, sock_path, 8 << 20);
	bench_follow(c);
	for (int i = 0; i < 5; i++) /* warm the page cache and mvmd */
		one_run(c, 0);
	double *t = calloc((size_t)n, sizeof(*t));
	for (int i = 0; i < n; i++)
		t[i] = one_run(c, 1);
	qsort(t, (size_t)n, sizeof(*t), bench_cmp_double);
	printf("%-52s %10s %10s\n", "kvm start through RPC (us)", "p50", "p99");
	printf("%-52s %10.0f %10.0f\n", "create+start -> guest exit (Stopped event)", bench_pct(t, n, 0.5), bench_pct(t, n, 0.99));

	double rate = 0;
	if (rate_runs > 0) {
		int runs;
		rate = bench_rate(sock_path, 8 << 20, clients, rate_runs, one_run, &runs);
		printf("VMs created, run to exit and removed per second (%d clients, %d VMs): %.0f\n",
		       clients > 64 ? 64 : clients, runs, rate);
	}

	long per_vm = 0;
	if (idle > 0) {
		long before = mem_available_kib();
		char params[256];
		for (int i = 0; i < idle; i++) {
			json_object *r = bench_call(c, "compute.vm.create", "{\"memory_mib\":16,\"labels\":{\"bench\":\"idle\"}}", NULL, NULL), *v;
			json_object_object_get_ex(r, "id", &v);
			snprintf(params, sizeof(params), "{\"id\":\"%s\"}", json_object_get_string(v));
			json_object_put(r);
			json_object_put(bench_call(c, "compute.vm.start", params, NULL, NULL));
		}
		sleep(1);
		long after = mem_available_kib();
		per_vm = (before - after) / idle;
		printf("idle VMs Running: %d; MemAvailable drop per VM: %ld KiB\n", idle, per_vm);
		json_object *r = bench_call(c, "compute.vm.list", "{\"labels\":{\"bench\":\"idle\"}}", NULL, NULL), *vms;
		json_object_object_get_ex(r, "vms", &vms);
		for (size_t i = 0; i < json_object_array_length(vms); i++) {
			json_object *id;
			json_object_object_get_ex(json_object_array_get_idx(vms, i), "id", &id);
			snprintf(params, sizeof(params), "{\"id\":\"%s\",\"force\":true}", json_object_get_string(id));
			json_object_put(bench_call(c, "compute.vm.stop", params, NULL, NULL));
			snprintf(params, sizeof(params), "{\"id\":\"%s\"}", json_object_get_string(id));
			json_object_put(bench_call(c, "compute.vm.remove", params, NULL, NULL));
		}
		json_object_put(r);
	}
	printf("rpc_p50_us=%.0f\nrpc_p99_us=%.0f\nrate_per_s=%.0f\nidle_kib_per_vm=%ld\n", bench_pct(t, n, 0.5),
	       bench_pct(t, n, 0.99), rate, per_vm);
	free(t);
	close(c->fd);
	free(c);
	return 0;
}
