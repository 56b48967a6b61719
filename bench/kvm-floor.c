/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kvm backend against its floor, in one run:
 *
 *   floor   raw KVM: open /dev/kvm, KVM_CREATE_VM, a 16 MiB memory slot, a
 *           vCPU, KVM_RUN to the first `out` (a real-mode guest, one
 *           instruction), then teardown (timed separately: docs/design.md §5 keeps
 *           it off the start path).
 *   worker  kvm_worker_spawn() of mvm-vmm with the exitcode guest: fork +
 *           exec, VM build, ELF load, sandbox, guest run, result, exit,
 *           reaped: "to ready" (the VM is Running) and "to exit".
 *   rate    workers started and completed per second, C in flight.
 *   idle    I idle mvm-guest workers: MemAvailable drop per VM and the CPU
 *           they burn while idle (should be ~0: the vCPU sleeps in poll).
 *   restore a 16 MiB guest (tests/microvm-guests/steps) snapshotted while
 *           it waits for input, restored R times by a cold worker
 *           (--snapshot-fd, docs/snapshots.md) to READY (Running), and R
 *           times by a warm worker (the pool's: spawned and READY off the
 *           clock, then its ASSIGN with the snapshot to READY), interleaved
 *           with floor runs: p50/p99 and the ratios to the floor.
 *
 *   kvm-floor [-n RUNS] [-w WORKER_RUNS] [-c CONCURRENCY] [-i IDLE] [-r RESTORES]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvm/worker.h"

#define MEM (16u << 20)

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* CPU seconds (user + system) of who (RUSAGE_SELF / RUSAGE_CHILDREN). */
static double cpu_s(int who)
{
	struct rusage ru;
	getrusage(who, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	int i = (int)(p / 100.0 * (n - 1) + 0.5);
	return v[i];
}

/* One raw VM to its first exit. Returns 0 and the two times, or -errno. */
static int floor_once(double *create_us, double *teardown_us)
{
	double t0 = now_us();
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return -errno;
	int vm = ioctl(kvm, KVM_CREATE_VM, 0UL);
	if (vm < 0)
		return -errno;
	uint8_t *mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	mem[0x1000] = 0xe6; /* out %al, $0x10 */
	mem[0x1001] = 0x10;
	struct kvm_userspace_memory_region r = { .slot = 0, .memory_size = MEM,
						 .userspace_addr = (uint64_t)(uintptr_t)mem };
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
	if (vcpu < 0)
		return -errno;
	int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_run *run = mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return -errno;
	struct kvm_sregs s;
	if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.cs.base = 0;
	s.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0)
		return -errno;
	/* Registers through sync regs, as the worker does. */
	run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	memset(&run->s.regs.regs, 0, sizeof(run->s.regs.regs));
	run->s.regs.regs.rip = 0x1000;
	run->s.regs.regs.rflags = 2;
	run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return -errno;
	double t1 = now_us();
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != 0x10)
		return -EPROTO;
	munmap(run, (size_t)sz);
	close(vcpu);
	close(vm);
	close(kvm);
	munmap(mem, MEM);
	*create_us = t1 - t0;
	*teardown_us = now_us() - t1;
	return 0;
}

static char vmm[512], exitcode_img[512], idle_img[512], steps_img[512], dir[64];

static void cfg_for(kvm_worker_config_t *c, int i, const char *img, const char *const *args, size_t nargs)
{
	static char ctl[1024][96], res[1024][96];
	snprintf(ctl[i % 1024], sizeof(ctl[0]), "%s/ctl-%d.sock", dir, i);
	snprintf(res[i % 1024], sizeof(res[0]), "%s/result-%d", dir, i);
	*c = (kvm_worker_config_t){ .vmm_path = vmm, .image_path = img, .ctl_path = ctl[i % 1024],
				    .result_path = res[i % 1024], .memory_mib = 16, .log_fd = -1,
				    .args = args, .nargs = nargs };
}

/* Read until READY (ret_ready) and RESULT; reap. */
static int worker_finish(kvm_worker_t *w, double t0, double *ready_us, double *exit_us)
{
	kvm_msg_t m;
	kvm_result_t r;
	int st;
	for (;;) {
		int k = kvm_ctl_recv(w->ctl, 10000, &m);
		if (k < 0)
			return k;
		if (m.type == KVM_MSG_READY && ready_us)
			*ready_us = now_us() - t0;
		if (m.type == KVM_MSG_RESULT)
			break;
	}
	if (kvm_msg_get_result(&m, &r) < 0 || r.outcome != KVM_OUTCOME_EXIT || r.exit_code != 0)
		return -EPROTO;
	if (kvm_worker_wait(w, 10000, &st) < 0 || st != 0)
		return -ECHILD;
	if (exit_us)
		*exit_us = now_us() - t0;
	kvm_worker_release(w);
	return 0;
}

/* Next message of type want (10 s), skipping others. */
static int recv_type(kvm_worker_t *w, uint32_t want, kvm_msg_t *m)
{
	for (;;) {
		int k = kvm_ctl_recv(w->ctl, 10000, m);
		if (k < 0)
			return k;
		if (m->type == want)
			return 0;
	}
}

/* The steps guest, waiting for its one step's input, paused and written
 * to a file in dir: an fd of it, read-only. */
static int make_snapshot(void)
{
	static const char *one[] = { "1" };
	kvm_worker_config_t cfg;
	kvm_worker_t w;
	kvm_msg_t m;
	kvm_msg_snapshot_t req = { 0 };
	kvm_msg_snapshot_done_t d;
	char path[128];
	int st, r;

	cfg_for(&cfg, 300000, steps_img, one, 1);
	r = kvm_worker_spawn(&cfg, &w);
	if (r < 0)
		return r;
	/* "steps=1" is out: it is in (or on its way to) its wait. */
	for (bool seen = false; !seen;) {
		if ((r = recv_type(&w, KVM_MSG_CONSOLE_OUT, &m)) < 0)
			return r;
		seen = memmem(m.payload, m.len, "steps=1", 7) != NULL;
	}
	if ((r = kvm_ctl_queue(w.ctl, KVM_MSG_PAUSE, NULL, 0)) < 0 || (r = recv_type(&w, KVM_MSG_PAUSED, &m)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/snapshot", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = kvm_ctl_send_fd(w.ctl, KVM_MSG_SNAPSHOT, &req, sizeof(req), fd);
	close(fd);
	if (r < 0 || (r = recv_type(&w, KVM_MSG_SNAPSHOT_DONE, &m)) < 0)
		return r < 0 ? r : -EIO;
	if (kvm_msg_get_snapshot_done(&m, &d) < 0 || d.error < 0)
		return d.error < 0 ? d.error : -EPROTO;
	printf("snapshot of the steps guest: %llu bytes\n", (unsigned long long)d.size);
	kvm_ctl_send_stop(w.ctl, 0);
	kvm_worker_wait(&w, 10000, &st);
	kvm_worker_release(&w);
	unlink(cfg.ctl_path);
	unlink(cfg.result_path);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* A warm worker of the pool's kind (the default guest, 16 MiB), READY:
 * untimed, as the pool makes them ahead of time. */
static int warm_worker(kvm_warm_worker_t *ww)
{
	kvm_worker_config_t c = { .vmm_path = vmm, .image_path = idle_img, .memory_mib = 16, .log_fd = -1 };
	int r = kvm_worker_spawn_warm(&c, 2u << 20, ww);
	if (r < 0)
		return r;
	struct pollfd p = { .fd = ww->pool_fd, .events = POLLIN };
	return poll(&p, 1, 10000) == 1 && kvm_worker_warm_ready(ww) == 1 ? 0 : -ETIMEDOUT;
}

/* One restore of snap to READY (µs in *us), by a cold worker or a warm
 * one; then the guest gets its step's input (a zero byte) and must exit 0. */
static int restore_once(int i, int snap, bool warm, double *us)
{
	static const char *one[] = { "1" };
	kvm_worker_config_t cfg;
	kvm_warm_worker_t ww;
	kvm_worker_t w;
	kvm_msg_t m;
	int r = 0;

	cfg_for(&cfg, 400000 + i, steps_img, one, 1);
	cfg.snapshot_fd = snap;
	if (warm && (r = warm_worker(&ww)) < 0)
		return r;
	double t0 = now_us();
	r = warm ? kvm_worker_assign(&ww, &cfg, &w) : kvm_worker_spawn(&cfg, &w);
	if (warm)
		kvm_worker_warm_release(&ww);
	if (r == 0)
		r = recv_type(&w, KVM_MSG_READY, &m);
	*us = now_us() - t0;
	if (r == 0)
		r = kvm_ctl_send_console(w.ctl, "", 1);
	if (r == 0)
		r = worker_finish(&w, t0, NULL, NULL);
	unlink(cfg.ctl_path);
	unlink(cfg.result_path);
	return r;
}

/* R restores to READY each way, each followed by a floor run. */
static int bench_restore(int rn)
{
	double *rr = calloc((size_t)rn, sizeof(double)), *wr = calloc((size_t)rn, sizeof(double)),
	       *fr = calloc((size_t)rn, sizeof(double)), ft;
	int snap = make_snapshot();

	if (snap < 0 || !rr || !wr || !fr) {
		fprintf(stderr, "restore: snapshot: %s\n", strerror(snap < 0 ? -snap : ENOMEM));
		return 1;
	}
	for (int i = 0; i < rn; i++) {
		int r = restore_once(2 * i, snap, false, &rr[i]);
		if (r == 0)
			r = restore_once(2 * i + 1, snap, true, &wr[i]);
		if (r == 0)
			r = floor_once(&fr[i], &ft);
		if (r < 0) {
			fprintf(stderr, "restore: %s\n", strerror(-r));
			return 1;
		}
	}
	close(snap);
	double r50 = pct(rr, rn, 50), w50 = pct(wr, rn, 50), f50 = pct(fr, rn, 50);
	printf("%-44s %10.0f %10.0f\n", "restore: 16 MiB snapshot, spawn to READY", r50, pct(rr, rn, 99));
	printf("%-44s %10.0f %10.0f\n", "restore: warm worker, ASSIGN to READY", w50, pct(wr, rn, 99));
	printf("%-44s %10.0f %10.0f\n", "floor, interleaved with the restores", f50, pct(fr, rn, 99));
	printf("ratio restore/floor p50: cold %.2fx, warm %.2fx (goal <= 0.5x)  (runs: %d)\n", r50 / f50, w50 / f50,
	       rn);
	free(rr);
	free(wr);
	free(fr);
	return 0;
}

static long mem_available_kib(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long v = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	unsigned long ut = 0, stt = 0;
	if (p)
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt);
	return (long)(ut + stt);
}

int main(int argc, char **argv)
{
	int n = 200, wn = 100, conc = 4, idle = 20, rn = 100, c;
	const char *b = getenv("MVM_BUILD_DIR") ? getenv("MVM_BUILD_DIR") : "build";
	static const char *zero[] = { "0" };

	while ((c = getopt(argc, argv, "n:w:c:i:r:")) != -1) {
		switch (c) {
		case 'n': n = atoi(optarg); break;
		case 'w': wn = atoi(optarg); break;
		case 'c': conc = atoi(optarg); break;
		case 'i': idle = atoi(optarg); break;
		case 'r': rn = atoi(optarg); break;
		default: return 64;
		}
	}
	if (n < 1 || wn < 1 || conc < 1 || conc > 256 || idle < 0 || idle > 1000 || rn < 0)
		return 64;
	if (access("/dev/kvm", R_OK | W_OK) < 0) {
		printf("SKIP: /dev/kvm is missing\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(vmm, sizeof(vmm), "%s/bin/mvm-vmm", b);
	snprintf(exitcode_img, sizeof(exitcode_img), "%s/guest/tests/exitcode", b);
	snprintf(idle_img, sizeof(idle_img), "%s/guest/mvm-guest", b);
	snprintf(steps_img, sizeof(steps_img), "%s/guest/tests/steps", b);
	snprintf(dir, sizeof(dir), "/tmp/mvm-kvm-bench.XXXXXX");
	if (!mkdtemp(dir))
		return 1;

	double *fc = calloc((size_t)n, sizeof(double)), *ft = calloc((size_t)n, sizeof(double));
	double *wr = calloc((size_t)wn, sizeof(double)), *we = calloc((size_t)wn, sizeof(double));
	double *ws_call = calloc((size_t)wn, sizeof(double));
	if (!fc || !ft || !wr || !we || !ws_call)
		return 1;
	/* Interleave floor and worker runs so both see the same machine load. */
	int fi = 0, wi = 0;
	double floor_cpu = 0, kids0 = cpu_s(RUSAGE_CHILDREN);
	while (fi < n || wi < wn) {
		if (fi < n) {
			double c0 = cpu_s(RUSAGE_SELF);
			int r = floor_once(&fc[fi], &ft[fi]);
			floor_cpu += cpu_s(RUSAGE_SELF) - c0;
			if (r < 0) {
				fprintf(stderr, "floor: %s\n", strerror(-r));
				return 1;
			}
			fi++;
		}
		if (wi < wn) {
			kvm_worker_config_t cfg;
			kvm_worker_t w;
			cfg_for(&cfg, wi, exitcode_img, zero, 1);
			double t0 = now_us();
			int r = kvm_worker_spawn(&cfg, &w);
			ws_call[wi] = now_us() - t0;
			if (r < 0 || (r = worker_finish(&w, t0, &wr[wi], &we[wi])) < 0) {
				fprintf(stderr, "worker: %s\n", strerror(-r));
				return 1;
			}
			unlink(cfg.ctl_path);
			unlink(cfg.result_path);
			wi++;
		}
	}
	double f50 = pct(fc, n, 50), f99 = pct(fc, n, 99);
	double w50 = pct(we, wn, 50), w99 = pct(we, wn, 99);
	printf("%-44s %10s %10s\n", "kvm start (us)", "p50", "p99");
	printf("%-44s %10.0f %10.0f\n", "floor: create VM+slot+vCPU, run to out", f50, f99);
	printf("%-44s %10.0f %10.0f\n", "floor: teardown (close)", pct(ft, n, 50), pct(ft, n, 99));
	printf("%-44s %10.0f %10.0f\n", "parent: kvm_worker_spawn() call", pct(ws_call, wn, 50), pct(ws_call, wn, 99));
	printf("%-44s %10.0f %10.0f\n", "mvm-vmm: spawn to READY (VM running)", pct(wr, wn, 50), pct(wr, wn, 99));
	printf("%-44s %10.0f %10.0f\n", "mvm-vmm: spawn to exit, reaped (exit 0)", w50, w99);
	printf("ratio worker/floor p50: %.1fx  (runs: floor %d, worker %d)\n", w50 / f50, n, wn);
	double wcpu = (cpu_s(RUSAGE_CHILDREN) - kids0) / wn;
	printf("CPU per VM: floor %.2f ms (create+run+teardown), mvm-vmm worker %.2f ms (exec to exit); "
	       "ratio %.1fx (load-independent, unlike the wall-clock ratio)\n",
	       floor_cpu * 1e3 / n, wcpu * 1e3, wcpu / (floor_cpu / n));

	/* Rate: conc workers in flight until wn have completed. */
	{
		kvm_worker_t *ws = calloc((size_t)conc, sizeof(*ws));
		int started = 0, done = 0;
		double t0 = now_us();
		while (done < wn) {
			for (int k = 0; k < conc && started < wn; k++) {
				if (ws[k].pid)
					continue;
				kvm_worker_config_t cfg;
				cfg_for(&cfg, 100000 + started, exitcode_img, zero, 1);
				if (kvm_worker_spawn(&cfg, &ws[k]) < 0) {
					fprintf(stderr, "rate: spawn failed\n");
					return 1;
				}
				started++;
			}
			for (int k = 0; k < conc; k++) {
				if (!ws[k].pid)
					continue;
				if (worker_finish(&ws[k], 0, NULL, NULL) < 0) {
					fprintf(stderr, "rate: worker failed\n");
					return 1;
				}
				ws[k].pid = 0;
				done++;
			}
		}
		double secs = (now_us() - t0) / 1e6;
		printf("VMs started and completed per second (%d in flight): %.0f\n", conc, wn / secs);
		free(ws);
	}

	/* Idle: memory and CPU of idle VMs. */
	if (idle > 0) {
		kvm_worker_t *ws = calloc((size_t)idle, sizeof(*ws));
		long m0 = mem_available_kib();
		for (int k = 0; k < idle; k++) {
			kvm_worker_config_t cfg;
			kvm_msg_t m;
			cfg_for(&cfg, 200000 + k, idle_img, NULL, 0);
			if (kvm_worker_spawn(&cfg, &ws[k]) < 0)
				return 1;
			do {
				if (kvm_ctl_recv(ws[k].ctl, 10000, &m) < 0)
					return 1;
			} while (m.type != KVM_MSG_READY);
		}
		usleep(300 * 1000);
		long m1 = mem_available_kib();
		long cpu0 = 0, cpu1 = 0, rss = 0;
		for (int k = 0; k < idle; k++) {
			cpu0 += cpu_ticks(ws[k].pid);
			rss += rss_kib(ws[k].pid);
		}
		sleep(1);
		for (int k = 0; k < idle; k++)
			cpu1 += cpu_ticks(ws[k].pid);
		printf("idle VMs: %d; per VM: VmRSS %ld KiB, MemAvailable drop %.0f KiB (system-wide, noisy); "
		       "CPU of all idle VMs over 1 s: %ld ticks (%ld Hz)\n",
		       idle, rss / idle, (double)(m0 - m1) / idle, cpu1 - cpu0, sysconf(_SC_CLK_TCK));
		for (int k = 0; k < idle; k++) {
			int st;
			kvm_ctl_send_stop(ws[k].ctl, 0);
			kvm_worker_wait(&ws[k], 10000, &st);
			kvm_worker_release(&ws[k]);
		}
		free(ws);
	}
	if (rn > 0 && bench_restore(rn) != 0)
		return 1;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
