/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wasm workload cold start, and where the time goes, in one run:
 *
 *   worker   kvm_worker_spawn() of mvm-vmm without mvmd, to RESULT and
 *            reaped: (a) the trivial exitcode guest, (b) mvm-guest running
 *            the hello module by hash (blob fd, verify, blob_load,
 *            decode + validate + compile, instantiate, _start, exit).
 *            (b) - (a) is what the Wasm path costs inside the VM.
 *   rpc      compute.vm.create {workload} + compute.vm.start, timed to the
 *            Stopped event; the log is then checked for the greeting
 *            (untimed), and the VM's transitions split the time into
 *            create, start -> Running (worker spawn, VM build, sandbox) and
 *            Running -> Stopped (the guest's work and the worker's end).
 *   rate     the same with C clients in parallel for R runs: VMs/s.
 *
 *   workload -s SOCKET -m HELLO.wasm -v MVM_VMM -g MVM_GUEST -e EXIT_GUEST
 *            [-n RUNS] [-c CLIENTS] [-r RATE_RUNS]
 *
 * Prints a table, then "key=value" lines for bench/workload.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib/bench-rpc.h"
#include "kvm/worker.h"

static const char *sock_path, *module_path, *vmm_path, *guest_path, *exit_guest;
static char hash[80], blob_file[4096], tmpdir[64] = "/tmp/mvm-bench-wl-XXXXXX";

/* CPU ms of our reaped children (the workers we spawn ourselves). */
static double children_cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* mvmd's own CPU ms and that of its reaped children (its workers), from
 * /proc/PID/stat fields 14-17. */
static void mvmd_cpu_ms(int pid, double *self, double *kids)
{
	char path[64], buf[2048];
	unsigned long long ut = 0, st = 0, cut = 0, cst = 0;
	long hz = sysconf(_SC_CLK_TCK);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "re");
	*self = *kids = 0;
	if (!f)
		return;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ut, &st, &cut, &cst) == 4) {
		*self = (double)(ut + st) * 1e3 / (double)hz;
		*kids = (double)(cut + cst) * 1e3 / (double)hz;
	}
}

/* --- JSON-RPC over the socket ------------------------------------------ */

static json_object *call(bench_conn_t *c, const char *method, const char *params)
{
	return bench_call(c, method, params, NULL, NULL);
}

/* Seconds within the day of an RFC 3339 time ("...T21:00:44.446303Z"). */
static double tod(const char *t)
{
	int h, m;
	double s;
	const char *p = t ? strchr(t, 'T') : NULL;
	if (!p || sscanf(p + 1, "%d:%d:%lf", &h, &m, &s) != 3)
		return 0;
	return h * 3600.0 + m * 60.0 + s;
}

typedef struct split {
	double create, to_running, to_stopped;
} split_t;

/* The durability floor, µs: what docs/design.md §4 makes a create and a
 * workload's end cost however fast the rest is. One state write as mvmd
 * makes it (temp file, fsync, rename over the old one, fsync of the
 * directory), in a directory beside mvmd's state, on its file system. */
static double durable_write_us(const char *state_dir)
{
	char dir[4200], tmp[4300], dst[4300], buf[1500];
	memset(buf, ' ', sizeof(buf));
	snprintf(dir, sizeof(dir), "%s/bench-durable", state_dir);
	(void)mkdir(dir, 0700);
	snprintf(tmp, sizeof(tmp), "%s/.state.json.tmp", dir);
	snprintf(dst, sizeof(dst), "%s/state.json", dir);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		bench_die("durable write: open dir");
	double t0 = bench_now_us();
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || fsync(fd) < 0 || rename(tmp, dst) < 0 ||
	    fsync(dfd) < 0)
		bench_die("durable write");
	double dt = bench_now_us() - t0;
	close(fd);
	close(dfd);
	return dt;
}

static void durable_cleanup(const char *state_dir)
{
	char p[4300];
	snprintf(p, sizeof(p), "%s/bench-durable/state.json", state_dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/bench-durable", state_dir);
	rmdir(p);
}

/* Untimed: until mvmd's warm pool is full again (node.info kvm.pool), so
 * each timed start sees the node as an idle one would; returns false
 * when mvmd has no pool. */
static bool wait_pool(bench_conn_t *c)
{
	for (int i = 0; i < 5000; i++) {
		json_object *r = call(c, "compute.node.info", "{}"), *b, *k, *p, *ready, *size;
		bool have = json_object_object_get_ex(r, "backends", &b) && json_object_object_get_ex(b, "kvm", &k) &&
			    json_object_object_get_ex(k, "pool", &p);
		bool full = have && json_object_object_get_ex(p, "ready", &ready) &&
			    json_object_object_get_ex(p, "size", &size) &&
			    json_object_get_int(ready) >= json_object_get_int(size);
		json_object_put(r);
		if (!have || full)
			return have;
		usleep(1000);
	}
	bench_die("mvmd's warm pool never filled up");
	return false;
}

/* One cold start: µs from the create request to the Stopped event. With
 * sp, the VM's transitions are read afterwards (untimed). */
static double one_run(bench_conn_t *c, int tag, split_t *sp)
{
	char params[1400], id[64];
	json_object *r, *v;

	snprintf(params, sizeof(params),
		 "{\"memory_mib\":16,\"labels\":{\"bench\":\"%d\"},\"workload\":{\"hash\":\"%s\",\"args\":[\"hello\",\"bench\"]}}",
		 tag, hash);
	double dt = bench_run_to_stopped(c, params, id);
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", id);

	/* Untimed: the output is there, and (with sp) the split. */
	r = call(c, "compute.vm.logs", params);
	json_object_object_get_ex(r, "data", &v);
	if (!strstr(json_object_get_string(v), "argv[1] = bench"))
		bench_die("the workload's output is not in the log");
	json_object_put(r);
	if (sp) {
		r = call(c, "compute.vm.status", params);
		json_object *tr, *code;
		if (!json_object_object_get_ex(r, "exit_code", &code) || json_object_get_int(code) != 0)
			bench_die("the workload did not exit with 0");
		json_object_object_get_ex(r, "transitions", &tr);
		double t[8] = { 0 };
		for (size_t i = 0; i < json_object_array_length(tr) && i < 8; i++) {
			json_object *e = json_object_array_get_idx(tr, i), *tm;
			json_object_object_get_ex(e, "time", &tm);
			t[i] = tod(json_object_get_string(tm));
		}
		/* 0 Provisioning, 1 Configured, 2 Starting, 3 Running, 4 Stopped */
		sp->create = (t[1] - t[0]) * 1e6;
		sp->to_running = (t[3] - t[2]) * 1e6;
		sp->to_stopped = (t[4] - t[3]) * 1e6;
		json_object_put(r);
	}
	json_object_put(call(c, "compute.vm.remove", params));
	return dt;
}

/* one_run for bench_rate(): no split. */
static double rate_run(bench_conn_t *c, int tag)
{
	return one_run(c, tag, NULL);
}

/* --- the worker alone ---------------------------------------------------- */

/* Spawn a worker (with the module when wl) and run it to its reaped end;
 * µs. The console output must contain want (when given). */
static double worker_once_mode(int i, bool wl, const char *want, bool warm);

static double worker_once(int i, bool wl, const char *want)
{
	return worker_once_mode(i, wl, want, false);
}

/* Untimed: a warm worker (lib/proto/warm.h) of 16 MiB that said READY. */
static void warm_ready(kvm_warm_worker_t *ww)
{
	kvm_worker_config_t c = { .vmm_path = vmm_path, .image_path = guest_path, .memory_mib = 16, .log_fd = -1 };
	if (kvm_worker_spawn_warm(&c, 2u << 20, ww) < 0)
		bench_die("kvm_worker_spawn_warm failed");
	struct pollfd p = { .fd = ww->pool_fd, .events = POLLIN };
	if (poll(&p, 1, 10000) != 1 || kvm_worker_warm_ready(ww) != 1)
		bench_die("the warm worker did not get ready");
}

static double worker_once_mode(int i, bool wl, const char *want, bool warm)
{
	kvm_warm_worker_t ww;
	static const char *args[] = { "hello", "bench" };
	static const char *caps[] = { "stdout", "args", "env" };
	char ctl[128], res[128], out[8192];
	size_t outlen = 0;
	kvm_worker_t w;
	kvm_msg_t m;
	kvm_result_t r;
	int st, bfd = -1;

	snprintf(ctl, sizeof(ctl), "%s/ctl-%d.sock", tmpdir, i);
	snprintf(res, sizeof(res), "%s/result-%d", tmpdir, i);
	kvm_worker_config_t cfg = { .vmm_path = vmm_path, .image_path = wl ? guest_path : exit_guest,
				    .ctl_path = ctl, .result_path = res, .memory_mib = 16, .log_fd = -1,
				    .args = wl ? args : NULL, .nargs = wl ? 2 : 0 };
	if (warm)
		warm_ready(&ww);
	double t0 = bench_now_us();
	if (wl) {
		/* as mvmd does: open the blob read-only, hand it over */
		bfd = open(blob_file, O_RDONLY | O_CLOEXEC);
		if (bfd < 0)
			bench_die("cannot open the blob");
		cfg.workload = hash;
		cfg.blob_fd = bfd;
		cfg.caps = caps;
		cfg.ncaps = 3;
	}
	if (warm) {
		if (kvm_worker_assign(&ww, &cfg, &w) < 0)
			bench_die("kvm_worker_assign failed");
		kvm_worker_warm_release(&ww);
	} else if (kvm_worker_spawn(&cfg, &w) < 0) {
		bench_die("kvm_worker_spawn failed");
	}
	if (bfd >= 0)
		close(bfd);
	for (;;) {
		if (kvm_ctl_recv(w.ctl, 10000, &m) < 0)
			bench_die("worker: no result");
		if (m.type == KVM_MSG_CONSOLE_OUT && outlen + m.len < sizeof(out)) {
			memcpy(out + outlen, m.payload, m.len);
			outlen += m.len;
		}
		if (m.type == KVM_MSG_RESULT)
			break;
	}
	if (kvm_msg_get_result(&m, &r) < 0 || r.outcome != KVM_OUTCOME_EXIT || r.exit_code != 0) {
		fprintf(stderr, "worker result: outcome %d: %s\n", (int)r.outcome, r.message);
		bench_die("worker did not exit with 0");
	}
	if (kvm_worker_wait(&w, 10000, &st) < 0 || st != 0)
		bench_die("worker exit status");
	double dt = bench_now_us() - t0;
	kvm_worker_release(&w);
	out[outlen] = 0;
	if (want && !strstr(out, want))
		bench_die("worker: the workload's output is missing");
	unlink(ctl);
	unlink(res);
	return dt;
}

int main(int argc, char **argv)
{
	int n = 100, clients = 2, rate_runs = 1000, mvmd_pid = 0, ch;

	while ((ch = getopt(argc, argv, "s:m:v:g:e:n:c:r:p:")) != -1) {
		switch (ch) {
		case 's': sock_path = optarg; break;
		case 'm': module_path = optarg; break;
		case 'v': vmm_path = optarg; break;
		case 'g': guest_path = optarg; break;
		case 'e': exit_guest = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'c': clients = atoi(optarg); break;
		case 'r': rate_runs = atoi(optarg); break;
		case 'p': mvmd_pid = atoi(optarg); break;
		default: bench_die("usage: workload -s SOCK -m HELLO.wasm -v MVM_VMM -g MVM_GUEST -e EXIT_GUEST [-n N] [-c C] [-r R]");
		}
	}
	if (!sock_path || !module_path || !vmm_path || !guest_path || !exit_guest || n < 1 || clients < 1 ||
	    clients > 64)
		bench_die("usage: workload -s SOCK -m HELLO.wasm -v MVM_VMM -g MVM_GUEST -e EXIT_GUEST [-n N] [-c C] [-r R]");
	if (!mkdtemp(tmpdir))
		bench_die("mkdtemp");

	bench_conn_t *c = malloc(sizeof(*c));
	bench_conn_open(c, sock_path, 1 << 16);
	char params[4200];
	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", module_path);
	json_object *r = call(c, "compute.blob.put", params), *v;
	json_object_object_get_ex(r, "hash", &v);
	snprintf(hash, sizeof(hash), "%s", json_object_get_string(v));
	json_object_put(r);
	r = call(c, "compute.node.info", "{}");
	json_object *paths, *state;
	static char state_dir[4096];
	if (json_object_object_get_ex(r, "paths", &paths) && json_object_object_get_ex(paths, "state_dir", &state)) {
		snprintf(blob_file, sizeof(blob_file), "%s/blobs/sha256/%s", json_object_get_string(state), hash + 7);
		snprintf(state_dir, sizeof(state_dir), "%s", json_object_get_string(state));
	}
	json_object_put(r);
	if (access(blob_file, R_OK) < 0)
		bench_die("cannot find the blob file (node.info paths.state_dir)");

	/* the worker alone, interleaved so both see the same machine */
	double *wa = calloc((size_t)n, sizeof(double)), *wb = calloc((size_t)n, sizeof(double)),
	       *wc = calloc((size_t)n, sizeof(double));
	for (int i = 0; i < 3; i++) {
		worker_once(i, false, NULL);
		worker_once(i, true, "argv[1] = bench");
		worker_once_mode(i, true, "argv[1] = bench", true);
	}
	double cpu_a = 0, cpu_b = 0;
	for (int i = 0; i < n; i++) {
		double c0 = children_cpu_ms();
		wa[i] = worker_once(i, false, NULL);
		double c1 = children_cpu_ms();
		wb[i] = worker_once(i, true, "argv[1] = bench");
		cpu_a += c1 - c0;
		cpu_b += children_cpu_ms() - c1;
		wc[i] = worker_once_mode(i, true, "argv[1] = bench", true);
	}

	/* through mvmd */
	bench_follow(c);
	for (int i = 0; i < 5; i++)
		one_run(c, 0, NULL);
	double m_self0, m_kids0, m_self1, m_kids1;
	if (mvmd_pid)
		mvmd_cpu_ms(mvmd_pid, &m_self0, &m_kids0);
	double *t = calloc((size_t)n, sizeof(double)), *sc = calloc((size_t)n, sizeof(double)),
	       *sr = calloc((size_t)n, sizeof(double)), *ss = calloc((size_t)n, sizeof(double));
	bool pool = false;
	double *dw = calloc((size_t)n, sizeof(double));
	for (int i = 0; i < n; i++) {
		split_t sp;
		pool = wait_pool(c);
		dw[i] = durable_write_us(state_dir); /* beside each run: same disk, same moment */
		t[i] = one_run(c, 1, &sp);
		sc[i] = sp.create;
		sr[i] = sp.to_running;
		ss[i] = sp.to_stopped;
	}
	if (mvmd_pid)
		mvmd_cpu_ms(mvmd_pid, &m_self1, &m_kids1);
	double a50 = bench_pct(wa, n, 0.5), a99 = bench_pct(wa, n, 0.99), b50 = bench_pct(wb, n, 0.5), b99 = bench_pct(wb, n, 0.99);
	double t50 = bench_pct(t, n, 0.5), t99 = bench_pct(t, n, 0.99);
	printf("%-60s %9s %9s\n", "hello-world Wasm workload cold start (us)", "p50", "p99");
	printf("%-60s %9.0f %9.0f\n", "worker alone, trivial guest (spawn..reaped)", a50, a99);
	printf("%-60s %9.0f %9.0f\n", "worker alone, mvm-guest + hello.wasm by hash", b50, b99);
	printf("%-60s %9.0f %9.0f\n", "warm worker alone, hello.wasm (assign..reaped)", bench_pct(wc, n, 0.5), bench_pct(wc, n, 0.99));
	printf("%-60s %9.0f %9.0f\n", pool ? "RPC, warm pool full: create+start -> Stopped event"
					    : "RPC (no pool): create+start -> Stopped event", t50, t99);
	printf("%-60s %9.0f %9.0f\n", "  split: create (Provisioning -> Configured)", bench_pct(sc, n, 0.5), bench_pct(sc, n, 0.99));
	printf("%-60s %9.0f %9.0f\n", "  split: Starting -> Running (spawn, VM build, sandbox)", bench_pct(sr, n, 0.5), bench_pct(sr, n, 0.99));
	printf("%-60s %9.0f %9.0f\n", "  split: Running -> Stopped (guest work, worker end)", bench_pct(ss, n, 0.5), bench_pct(ss, n, 0.99));
	printf("%-60s %9.0f %9.0f\n", "one durable state write (fsync, rename, fsync dir)", bench_pct(dw, n, 0.5), bench_pct(dw, n, 0.99));
	printf("Wasm path inside the VM (worker with hello - trivial), p50: %.0f us\n", b50 - a50);
	printf("mvmd's share (RPC - worker with hello), p50: %.0f us\n", t50 - b50);
	printf("CPU per VM (ms, load-independent): worker trivial %.2f, worker with hello.wasm %.2f", cpu_a / n, cpu_b / n);
	if (mvmd_pid)
		printf("; through RPC: mvmd %.2f + its workers %.2f", (m_self1 - m_self0) / n, (m_kids1 - m_kids0) / n);
	printf("\n");

	double rate = 0;
	if (rate_runs > 0) {
		int runs;
		rate = bench_rate(sock_path, 1 << 16, clients, rate_runs, rate_run, &runs);
		printf("hello workloads created, run to exit, checked and removed per second (%d clients, %d VMs): %.0f\n",
		       clients > 64 ? 64 : clients, runs, rate);
	}
	r = call(c, "compute.node.info", "{}");
	json_object *b, *k, *pl;
	if (json_object_object_get_ex(r, "backends", &b) && json_object_object_get_ex(b, "kvm", &k) &&
	    json_object_object_get_ex(k, "pool", &pl))
		printf("mvmd's warm pool after the run: %s\n", json_object_to_json_string(pl));
	json_object_put(r);
	printf("worker_trivial_p50_us=%.0f\nworker_wasm_p50_us=%.0f\nwarm_wasm_p50_us=%.0f\nrpc_p50_us=%.0f\nrpc_p99_us=%.0f\nrate_per_s=%.0f\ndurable_p50_us=%.0f\n",
	       a50, b50, bench_pct(wc, n, 0.5), t50, t99, rate, bench_pct(dw, n, 0.5));
	durable_cleanup(state_dir);
	free(dw);
	rmdir(tmpdir);
	close(c->fd);
	free(c);
	free(wa);
	free(wb);
	free(wc);
	free(t);
	free(sc);
	free(sr);
	free(ss);
	return 0;
}
