/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.vm.run of hello.wasm through mvmd (docs/workloads.md, "One-shot
 * runs"), in one run: p50/p99 of a run with a reuse_key (served by a kept
 * worker, reset after each run: "Reused workers") and without one (a
 * primed warm worker, or a cold one); then runs per second with C clients
 * (each with a key of its own) and the CPU each run costs mvmd and its
 * workers together (/proc: mvmd's own and reaped children's time, and the
 * live workers').
 *
 *   oneshot -s SOCK -m HELLO_WASM -p MVMD_PID [-n RUNS] [-c CLIENTS] [-r RATE_RUNS]
 *
 * Prints a table and key=value lines for bench/oneshot.sh.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/bench-rpc.h"

static char hash[80];

static json_object *call(bench_conn_t *c, const char *method, const char *params)
{
	return bench_call(c, method, params, NULL, NULL);
}

/* One run: µs from the request to its answer. key NULL: none. */
static double one_run(bench_conn_t *c, const char *key)
{
	char params[512];
	json_object *r, *v;

	snprintf(params, sizeof(params), "{\"workload\":{\"hash\":\"%s\",\"args\":[\"hello\",\"bench\"]}%s%s%s}", hash,
		 key ? ",\"reuse_key\":\"" : "", key ? key : "", key ? "\"" : "");
	double t0 = bench_now_us();
	r = call(c, "compute.vm.run", params);
	double dt = bench_now_us() - t0;
	if (!json_object_object_get_ex(r, "exit_code", &v) || json_object_get_int(v) != 0 ||
	    !json_object_object_get_ex(r, "stdout", &v) || !strstr(json_object_get_string(v), "bench"))
		bench_die("a run did not exit with 0 and its output");
	json_object_put(r);
	return dt;
}

static double rate_run(bench_conn_t *c, int tag)
{
	char key[32];
	snprintf(key, sizeof(key), "bench-%d", tag);
	return one_run(c, key);
}

/* Clock ticks of pid's own (and with reaped, its reaped children's) CPU. */
static unsigned long long ticks(int pid, int reaped, int *ret_ppid)
{
	char path[64], buf[1024];
	unsigned long long ut = 0, st = 0, cut = 0, cst = 0;
	int ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ppid, &ut, &st,
			 &cut, &cst) != 5)
		return 0;
	if (ret_ppid)
		*ret_ppid = ppid;
	return ut + st + (reaped ? cut + cst : 0);
}

/* mvmd's CPU, its reaped children's and its live children's (workers,
 * the zygote), in ticks. */
static unsigned long long cpu_ticks(int mvmd)
{
	unsigned long long t = ticks(mvmd, 1, NULL);
	DIR *d = opendir("/proc");
	struct dirent *de;

	while (d && (de = readdir(d))) {
		int pid = atoi(de->d_name), ppid = 0;
		if (pid <= 0 || pid == mvmd)
			continue;
		unsigned long long k = ticks(pid, 0, &ppid);
		if (ppid == mvmd)
			t += k;
	}
	if (d)
		closedir(d);
	return t;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *module = NULL;
	int n = 200, clients = 2, rate_runs = 1000, mvmd = 0, o;
	bench_conn_t c;
	char params[4200];

	while ((o = getopt(argc, argv, "s:m:p:n:c:r:")) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'm': module = optarg; break;
		case 'p': mvmd = atoi(optarg); break;
		case 'n': n = atoi(optarg); break;
		case 'c': clients = atoi(optarg); break;
		case 'r': rate_runs = atoi(optarg); break;
		default: return 64;
		}
	}
	if (!sock || !module || !mvmd || n < 1)
		bench_die("usage: oneshot -s SOCK -m HELLO_WASM -p MVMD_PID [-n RUNS] [-c CLIENTS] [-r RATE_RUNS]");
	bench_conn_open(&c, sock, 1 << 16);
	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", module);
	json_object *r = call(&c, "compute.blob.put", params), *v;
	if (!json_object_object_get_ex(r, "hash", &v))
		bench_die("compute.blob.put");
	snprintf(hash, sizeof(hash), "%s", json_object_get_string(v));
	json_object_put(r);

	/* The pool primes hello after its first run; a first keyed run
	 * leaves a kept worker. Untimed. */
	for (int i = 0; i < 20; i++) {
		one_run(&c, NULL);
		one_run(&c, "bench-warm");
		usleep(20000);
	}
	double *with = calloc((size_t)n, sizeof(double)), *without = calloc((size_t)n, sizeof(double));
	if (!with || !without)
		bench_die("calloc");
	/* Interleaved, so both see the same moments of the machine. */
	for (int i = 0; i < n; i++) {
		with[i] = one_run(&c, "bench-warm");
		without[i] = one_run(&c, NULL);
	}
	double w50 = bench_pct(with, n, 0.5), w99 = bench_pct(with, n, 0.99);
	double o50 = bench_pct(without, n, 0.5), o99 = bench_pct(without, n, 0.99);
	printf("%-52s %10s %10s\n", "compute.vm.run of hello.wasm (us)", "p50", "p99");
	printf("%-52s %10.0f %10.0f\n", "with a reuse_key (a kept worker, reset)", w50, w99);
	printf("%-52s %10.0f %10.0f\n", "without a key (a primed warm worker)", o50, o99);

	long hz = sysconf(_SC_CLK_TCK);
	int runs = 0;
	unsigned long long t0 = cpu_ticks(mvmd);
	double rate = bench_rate(sock, 1 << 16, clients, rate_runs, rate_run, &runs);
	unsigned long long t1 = cpu_ticks(mvmd);
	double cpu_us = runs ? (double)(t1 - t0) * 1e6 / (double)hz / runs : 0;
	printf("runs/s with a reuse_key, %d clients (each its own key), %d runs: %.0f\n", clients, runs, rate);
	printf("CPU per run, mvmd + workers: %.0f us\n", cpu_us);
	r = call(&c, "compute.node.info", "{}");
	json_object *b, *k, *p;
	if (json_object_object_get_ex(r, "backends", &b) && json_object_object_get_ex(b, "kvm", &k) &&
	    json_object_object_get_ex(k, "pool", &p))
		printf("mvmd's warm pool after the run: %s\n", json_object_to_json_string(p));
	json_object_put(r);
	printf("reuse_p50_us=%.0f\nnokey_p50_us=%.0f\nrate=%.0f\ncpu_us=%.0f\n", w50, o50, rate, cpu_us);
	free(with);
	free(without);
	return 0;
}
