/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Density of idle micro-VMs through mvmd, as an orchestrator sees it:
 *
 *   start  N idle kvm VMs (the default guest, 16 MiB, no workload: it
 *          waits in the host) created and started, from the warm pool
 *          while it has workers; VMs per second.
 *   cost   once they settled: host memory per VM (MemAvailable drop),
 *          the workers' own share of it (Pss of each worker, from
 *          /proc/PID/smaps_rollup), mvmd's fds per VM (/proc/PID/fd)
 *          and its RSS; how many seccomp filters the workers hold
 *          (Seccomp_filters of /proc/PID/status, summed) and how many
 *          of them distinct processes loaded (one per worker today).
 *   stop   a staged mass stop: forced stops in stages of B VMs (one
 *          JSON-RPC batch per stage, answered once each stage's VMs are
 *          Stopped), with the latency of compute.node.info probed
 *          between stages: how long the host takes to tear them down,
 *          and whether mvmd stays responsive meanwhile.
 *
 *   density -s SOCKET -p MVMD_PID [-n N] [-b STAGE]
 *
 * Prints a table, then "key=value" lines for bench/density.sh.
 */
#include <dirent.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/lib/bench-rpc.h"

static long meminfo_kib(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':') {
			v = atol(line + strlen(key) + 1);
			break;
		}
	fclose(f);
	return v;
}

/* A "Key:  value" of /proc/PID/<file>, or -1. */
static long proc_field(int pid, const char *file, const char *key)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':') {
			v = atol(line + strlen(key) + 1);
			break;
		}
	fclose(f);
	return v;
}

static int count_fds(int pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Where one idle worker's memory goes: its Pss by mapping (the guest's
 * memory is the one big anonymous mapping), largest first. */
static void smaps_top(int pid)
{
	char path[64], line[512], names[32][96];
	long pss[32] = { 0 };
	int n = 0, cur = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char name[96] = "";
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %95s", &lo, &hi, name) >= 2 && strchr(line, '-') < strchr(line, ' ')) {
			char key[96];
			if (!name[0])
				snprintf(key, sizeof(key), "anon %lu KiB", (hi - lo) >> 10);
			else
				snprintf(key, sizeof(key), "%s", strrchr(name, '/') ? strrchr(name, '/') + 1 : name);
			cur = -1;
			for (int i = 0; i < n; i++)
				if (strcmp(names[i], key) == 0)
					cur = i;
			if (cur < 0 && n < 32) {
				cur = n++;
				snprintf(names[cur], sizeof(names[cur]), "%s", key);
			}
		} else if (cur >= 0 && strncmp(line, "Pss:", 4) == 0) {
			pss[cur] += atol(line + 4);
		}
	}
	fclose(f);
	printf("| one idle worker's Pss by mapping |");
	for (int k = 0; k < 8; k++) {
		int best = -1;
		for (int i = 0; i < n; i++)
			if (pss[i] > 0 && (best < 0 || pss[i] > pss[best]))
				best = i;
		if (best < 0)
			break;
		printf(" %s: %ld KiB;", names[best], pss[best]);
		pss[best] = 0;
	}
	printf(" |\n");
}

static json_object *idle_vms(bench_conn_t *c)
{
	json_object *r = bench_call(c, "compute.vm.list", "{\"labels\":{\"bench\":\"density\"}}", NULL, NULL), *vms;

	if (!json_object_object_get_ex(r, "vms", &vms))
		bench_die("list without vms");
	json_object_get(vms);
	json_object_put(r);
	return vms;
}

/* One JSON-RPC batch of `method` {"id": ..., extra} for vms[from..to). */
static void batch(bench_conn_t *c, const char *method, json_object *vms, size_t from, size_t to, const char *extra)
{
	size_t cap = (to - from) * 200 + 16, len = 0;
	char *line = malloc(cap);
	json_object *id;

	if (!line)
		bench_die("out of memory");
	line[len++] = '[';
	for (size_t i = from; i < to; i++) {
		json_object_object_get_ex(json_object_array_get_idx(vms, i), "id", &id);
		len += (size_t)snprintf(line + len, cap - len, "%s{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"%s\",\"params\":{\"id\":\"%s\"%s}}",
					i > from ? "," : "", i, method, json_object_get_string(id), extra);
	}
	line[len++] = ']';
	line[len++] = '\n';
	for (size_t off = 0; off < len;) {
		ssize_t k = write(c->fd, line + off, len - off);
		if (k <= 0)
			bench_die("write");
		off += (size_t)k;
	}
	free(line);
	json_object *ans = bench_read_msg(c);
	if (!json_object_is_type(ans, json_type_array) || json_object_array_length(ans) != to - from)
		bench_die("a batch was not answered whole");
	for (size_t i = 0; i < json_object_array_length(ans); i++)
		if (json_object_object_get(json_object_array_get_idx(ans, i), "error"))
			fprintf(stderr, "density: %s: %s\n", method,
				json_object_to_json_string(json_object_array_get_idx(ans, i)));
	json_object_put(ans);
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	int mvmd_pid = 0, n = 1000, stage = 100, ch;
	bench_conn_t c;

	while ((ch = getopt(argc, argv, "s:p:n:b:")) != -1) {
		switch (ch) {
		case 's': sock = optarg; break;
		case 'p': mvmd_pid = atoi(optarg); break;
		case 'n': n = atoi(optarg); break;
		case 'b': stage = atoi(optarg); break;
		default: bench_die("usage: density -s SOCKET -p MVMD_PID [-n N] [-b STAGE]");
		}
	}
	if (!sock || mvmd_pid <= 0 || n <= 0 || stage <= 0)
		bench_die("usage: density -s SOCKET -p MVMD_PID [-n N] [-b STAGE]");
	bench_conn_open(&c, sock, 64u << 20);

	/* The pool is warm and mvmd idle before the baseline. */
	sleep(2);
	long mem0 = meminfo_kib("MemAvailable"), rss0 = proc_field(mvmd_pid, "status", "VmRSS");
	int fds0 = count_fds(mvmd_pid);

	double t0 = bench_now_us();
	for (int i = 0; i < n; i++) {
		json_object *r = bench_call(&c, "compute.vm.create", "{\"memory_mib\":16,\"labels\":{\"bench\":\"density\"}}", NULL, NULL), *v;
		char params[128];
		json_object_object_get_ex(r, "id", &v);
		snprintf(params, sizeof(params), "{\"id\":\"%s\"}", json_object_get_string(v));
		json_object_put(r);
		json_object_put(bench_call(&c, "compute.vm.start", params, NULL, NULL));
		/* Progress on long runs (N=10000 under TCG takes an hour):
		 * what a run cut short still says. */
		if ((i + 1) % 1000 == 0 && i + 1 < n) {
			printf("| progress | %d started in %.0f s; host memory per VM %ld KiB; mvmd fds per VM %.2f |\n", i + 1,
			       (bench_now_us() - t0) / 1e6, (mem0 - meminfo_kib("MemAvailable")) / (i + 1),
			       (double)(count_fds(mvmd_pid) - fds0) / (i + 1));
			fflush(stdout);
		}
	}
	double start_s = (bench_now_us() - t0) / 1e6;
	sleep(2);

	json_object *vms = idle_vms(&c);
	size_t nv = json_object_array_length(vms);
	long pss = 0, filters = 0;
	int running = 0;
	for (size_t i = 0; i < nv; i++) {
		json_object *vm = json_object_array_get_idx(vms, i), *pid, *st;
		if (json_object_object_get_ex(vm, "state", &st) && strcmp(json_object_get_string(st), "Running") == 0)
			running++;
		if (!json_object_object_get_ex(vm, "pid", &pid))
			continue;
		long p = proc_field(json_object_get_int(pid), "smaps_rollup", "Pss");
		long f = proc_field(json_object_get_int(pid), "status", "Seccomp_filters");
		pss += p > 0 ? p : 0;
		filters += f > 0 ? f : 0;
	}
	long mem1 = meminfo_kib("MemAvailable"), rss1 = proc_field(mvmd_pid, "status", "VmRSS");
	int fds1 = count_fds(mvmd_pid);
	double kib_per_vm = (double)(mem0 - mem1) / n, pss_per_vm = (double)pss / (running ? running : 1);
	double fds_per_vm = (double)(fds1 - fds0) / n;
	if (nv) {
		json_object *pid;
		if (json_object_object_get_ex(json_object_array_get_idx(vms, nv / 2), "pid", &pid))
			smaps_top(json_object_get_int(pid));
	}

	/* The staged stop, probing mvmd between stages. */
	double *probe = calloc((nv + (size_t)stage - 1) / (size_t)stage + 1, sizeof(double));
	int nprobe = 0;
	t0 = bench_now_us();
	for (size_t from = 0; from < nv; from += (size_t)stage) {
		size_t to = from + (size_t)stage < nv ? from + (size_t)stage : nv;
		batch(&c, "compute.vm.stop", vms, from, to, ",\"force\":true");
		double p0 = bench_now_us();
		json_object_put(bench_call(&c, "compute.node.info", "{}", NULL, NULL));
		probe[nprobe++] = bench_now_us() - p0;
	}
	double stop_s = (bench_now_us() - t0) / 1e6;
	for (size_t from = 0; from < nv; from += (size_t)stage)
		batch(&c, "compute.vm.remove", vms, from, from + (size_t)stage < nv ? from + (size_t)stage : nv, "");
	json_object_put(vms);
	double probe_max = 0;
	for (int i = 0; i < nprobe; i++)
		probe_max = probe[i] > probe_max ? probe[i] : probe_max;
	double probe_p50 = bench_pct(probe, nprobe, 0.5);

	printf("| idle micro-VMs | %d started (%d Running) in %.1f s: %.0f VMs/s |\n", n, running, start_s, n / start_s);
	printf("| host memory per idle VM (MemAvailable drop) | %.0f KiB (goal <= 1024) |\n", kib_per_vm);
	printf("| of which the worker's Pss | %.0f KiB |\n", pss_per_vm);
	printf("| mvmd fds per idle VM | %.2f (goal <= 2); mvmd RSS %ld -> %ld KiB |\n", fds_per_vm, rss0, rss1);
	printf("| seccomp filters per worker (Seccomp_filters) | %ld for %d workers: the zygote's one, shared, or one loaded by each |\n",
	       filters, running);
	printf("| staged forced stop of %zu VMs, stages of %d | %.1f s; node.info between stages p50 %.0f us, max %.0f us |\n",
	       nv, stage, stop_s, probe_p50, probe_max);
	printf("density_n=%d\nkib_per_vm=%.0f\npss_kib_per_vm=%.0f\nfds_per_vm=%.2f\nstop_s=%.1f\nprobe_max_us=%.0f\n", n,
	       kib_per_vm, pss_per_vm, fds_per_vm, stop_s, probe_max);
	free(probe);
	return 0;
}
