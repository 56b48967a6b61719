/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvm-chaos: the chaos campaign's driver (docs/hacking.md, "The chaos
 * campaign"; chaos.h for the map of its files).
 *
 *   mvm-chaos [--iter N] [--seed S] [--clients N] [--keep] [--verbose] [--self-test]
 *
 * ITER and SEED in the environment do the same as the options. Exits 0
 * when no invariant was broken, 1 when one was (each violation is printed
 * with the seed and iteration that replays it), 2 on a setup error. With
 * --self-test it breaks promises on purpose (selftest.c) and exits 0 only
 * when every one of them was reported.
 */
#include "chaos.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mvmtest.h"

/* Fault points of mvmd-fault (lib/util/fault.h, docs/hacking.md). */
static const char *const fault_points[] = {
	"create.dir-made",	  "store.tmp-written", "start.starting-written", "start.spawned",
	"stop.stopping-written", "remove.tombstoned", "remove.half-deleted",	   "blob.tmp-written",
	"result.read",		  "end.written",	"pull.tmp-written",	   "restore.restored",
};
#define N_FAULT_POINTS (sizeof(fault_points) / sizeof(fault_points[0]))
#define MAX_PRINTED 200

static chaos_t C;

/* --- small helpers ------------------------------------------------------- */

uint64_t chaos_rand(chaos_t *c)
{
	/* splitmix64: one seed, one sequence of choices */
	uint64_t z = (c->rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

unsigned chaos_below(chaos_t *c, unsigned n)
{
	return n ? (unsigned)(chaos_rand(c) % n) : 0;
}

long long chaos_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void chaos_violation(chaos_t *c, const char *fmt, ...)
{
	va_list ap;

	c->violations++;
	c->iter_violations++;
	if (c->self_test) {
		size_t len = strlen(c->iter_text);
		va_start(ap, fmt);
		vsnprintf(c->iter_text + len, sizeof(c->iter_text) - len, fmt, ap);
		va_end(ap);
	}
	if (c->violations > MAX_PRINTED)
		return;
	/* Which kill the check follows: a fault point that fired, or SIGKILL
	 * (a point mvmd does not place, or does not reach, never fires). */
	printf("%sVIOLATION seed=%llu iter=%u", c->self_test ? "self-test: " : "", (unsigned long long)c->seed, c->iter);
	if (c->fault)
		printf(c->fault_fired < 0 ? " MVMD_FAULT=%s" : c->fault_fired ? " fault=%s" : " sigkill (MVMD_FAULT=%s did not fire)",
		       c->fault);
	printf(": ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void chaos_log(chaos_t *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->verbose)
		return;
	printf("iter %u: ", c->iter);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

chaos_vm_t *chaos_vm_new(chaos_t *c)
{
	if (c->n_vms == c->cap_vms) {
		c->cap_vms = c->cap_vms ? c->cap_vms * 2 : 256;
		c->vms = realloc(c->vms, c->cap_vms * sizeof(*c->vms));
		if (!c->vms)
			exit(2);
	}
	chaos_vm_t *v = &c->vms[c->n_vms++];
	*v = (chaos_vm_t){ .created = CR_SENT };
	return v;
}

chaos_vm_t *chaos_vm_by_name(chaos_t *c, const char *name)
{
	for (size_t i = 0; i < c->n_vms; i++)
		if (!strcmp(c->vms[i].name, name))
			return &c->vms[i];
	return NULL;
}

chaos_vm_t *chaos_vm_by_id(chaos_t *c, const char *id)
{
	for (size_t i = 0; id[0] && i < c->n_vms; i++)
		if (!strcmp(c->vms[i].id, id))
			return &c->vms[i];
	return NULL;
}

bool chaos_vm_usable(const chaos_vm_t *v)
{
	return v->created == CR_ACKED && v->removed == RM_NONE;
}

/* --- the daemon ------------------------------------------------------------ */

/* Answers a request: a socket that takes a connect is not enough (see
 * daemon_answers() in tests/lib/mvmtest.c). */
static bool answers(chaos_t *c)
{
	chaos_conn_t k;
	bool ok;

	if (conn_open(&k, c->sock) < 0)
		return false;
	json_object *o = conn_call(&k, "rpc.discover", NULL, 2000);
	ok = o != NULL;
	json_object_put(o);
	conn_close(&k);
	return ok;
}

/* Start mvmd (or mvmd-fault with MVMD_FAULT=fault). 1 when it answers,
 * 0 when it died during startup (a fault point may fire there), and it
 * exits when a plain mvmd cannot start at all. */
static int daemon_start(chaos_t *c, const char *fault)
{
	for (int attempt = 0;; attempt++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			exit(2);
		}
		if (pid == 0) {
			int fd = open(c->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
			if (fault)
				setenv("MVMD_FAULT", fault, 1);
			else
				unsetenv("MVMD_FAULT");
			const char *bin = mvmt_bin(fault ? "mvmd-fault" : "mvmd");
			/* Without KVM: a stand-in device lets the ch backend (and
			 * its double) run; kvm workers fail at their first ioctl. */
			if (c->have_kvm)
				execl(bin, bin, "--rpc-socket", c->sock, "--state-dir", c->state, "--console-dir",
				      c->console, "--ch-binary", c->fake_ch, "--log-level", "debug", (char *)NULL);
			else
				execl(bin, bin, "--rpc-socket", c->sock, "--state-dir", c->state, "--console-dir",
				      c->console, "--ch-binary", c->fake_ch, "--kvm-device", c->fake_kvm, "--kvm-pool",
				      "0", "--log-level", "debug", (char *)NULL);
			_exit(127);
		}
		c->pid = pid;
		c->pid_is_fault = fault != NULL;
		for (int i = 0; i < 3000; i++) {
			int st;
			if (waitpid(pid, &st, WNOHANG) == pid) {
				c->pid = 0;
				if (fault && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
					return 0;
				/* Right after a kill -9 a child caught between its
				 * clone and its exec can hold the old lock a moment. */
				if (attempt < 20) {
					usleep(250000);
					goto again;
				}
				chaos_violation(c, "mvmd exits during startup (status 0x%x), see %s", st, c->log);
				printf("chaos: cannot go on without a daemon\n");
				exit(1);
			}
			if (answers(c)) {
				chaos_events_follow(c);
				return 1;
			}
			usleep(10000);
		}
		chaos_violation(c, "mvmd did not answer within 30 s of its start");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		c->pid = 0;
		exit(1);
again:;
	}
}

/* A clean stop (SIGTERM): mvmd must exit 0, whatever is going on. */
static void daemon_term(chaos_t *c)
{
	int st;

	if (c->pid <= 0)
		return;
	kill(c->pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				chaos_violation(c, "mvmd ended with status 0x%x on SIGTERM", st);
			c->pid = 0;
			chaos_events_stop(c);
			return;
		}
		usleep(50000);
	}
	chaos_violation(c, "mvmd still runs 15 s after SIGTERM");
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	c->pid = 0;
	chaos_events_stop(c);
}

/* --- setup and teardown ------------------------------------------------------ */

static void put_workload(chaos_t *c, const char *prog, char *ret_hash, size_t len)
{
	char rel[512], abs[4096], params[4200];
	const char *b = getenv("MVM_BUILD_DIR");
	chaos_conn_t k;

	snprintf(rel, sizeof(rel), "%s/wasm-programs/wl-%s.wasm", b && *b ? b : "build", prog);
	if (!realpath(rel, abs)) {
		fprintf(stderr, "chaos: %s is not built (make)\n", rel);
		exit(2);
	}
	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", abs);
	json_object *o = conn_open(&k, c->sock) == 0 ? conn_call(&k, "compute.blob.put", params, 10000) : NULL;
	const char *h = json_str_at(o, "result.hash");
	if (!h) {
		fprintf(stderr, "chaos: cannot store %s: %s\n", rel, o ? json_object_to_json_string(o) : "no answer");
		exit(2);
	}
	snprintf(ret_hash, len, "%s", h);
	json_object_put(o);
	conn_close(&k);
}

/* Stop every VM, then remove them ten at a time, and see every worker go:
 * no mass kill, and nothing of the run left behind. */
static void teardown(chaos_t *c)
{
	chaos_conn_t k;

	if (conn_open(&k, c->sock) < 0) {
		chaos_violation(c, "teardown: cannot connect");
		return;
	}
	for (int round = 0; round < 60; round++) {
		json_object *o = conn_call(&k, "compute.vm.list", NULL, 10000);
		json_object *vms = json_at(o, "result.vms");
		size_t n = vms ? json_object_array_length(vms) : 0, active = 0;
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(vms, i);
			const char *st = json_str_at(e, "state"), *id = json_str_at(e, "id");
			if (!st || !id || !(!strcmp(st, "Starting") || !strcmp(st, "Running") || !strcmp(st, "Stopping")))
				continue;
			char params[128];
			snprintf(params, sizeof(params), "{\"id\":\"%s\",\"force\":true}", id);
			json_object_put(conn_call(&k, "compute.vm.stop", params, 10000));
			active++;
		}
		json_object_put(o);
		if (!active)
			break;
		usleep(200000);
	}
	for (;;) {
		json_object *o = conn_call(&k, "compute.vm.list", NULL, 10000);
		json_object *vms = json_at(o, "result.vms");
		size_t n = vms ? json_object_array_length(vms) : 0;
		for (size_t i = 0; i < n && i < 10; i++) {
			char params[128];
			snprintf(params, sizeof(params), "{\"id\":\"%s\",\"force\":true}",
				 json_str_at(json_object_array_get_idx(vms, i), "id"));
			json_object *r = conn_call(&k, "compute.vm.remove", params, 10000);
			if (!json_at(r, "result"))
				chaos_violation(c, "teardown: remove %s: %s", params, r ? json_object_to_json_string(r) : "no answer");
			json_object_put(r);
		}
		json_object_put(o);
		if (!n || !vms)
			break;
		chaos_events_drain(c, 0);
	}
	conn_close(&k);

	pid_t pids[256];
	char ids[256][40];
	size_t n = 0;
	for (int i = 0; i < 100 && (n = chaos_workers(c, pids, ids, 256)) > 0; i++)
		usleep(100000);
	for (size_t i = 0; i < n; i++) {
		chaos_violation(c, "worker pid %d of removed VM %s still runs after teardown", (int)pids[i], ids[i]);
		kill(pids[i], SIGKILL); /* ours: spawned by the mvmd this run started */
	}
}

static void on_signal(int sig)
{
	/* Interrupted: leave no daemon behind (its workers are reaped by
	 * whoever runs the next mvmd on this directory, or the machine). */
	if (C.pid > 0)
		kill(C.pid, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* --- main ------------------------------------------------------------------------ */

static void usage(void)
{
	printf("usage: mvm-chaos [--iter N] [--seed S] [--clients N] [--keep] [--verbose] [--self-test]\n"
	       "  ITER=N and SEED=S in the environment do the same.\n"
	       "  --self-test breaks promises on purpose: exit 0 when every one is reported.\n");
}

int main(int argc, char **argv)
{
	chaos_t *c = &C;
	unsigned clients = 4;
	const char *e;
	static const struct option opts[] = {
		{ "iter", required_argument, NULL, 'i' }, { "seed", required_argument, NULL, 's' },
		{ "clients", required_argument, NULL, 'c' }, { "keep", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },	 { "help", no_argument, NULL, 'h' },
		{ "self-test", no_argument, NULL, 'T' },
		{ 0 },
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	c->follow.fd = -1;
	c->iters = (e = getenv("ITER")) && *e ? (unsigned)strtoul(e, NULL, 10) : 200;
	if ((e = getenv("SEED")) && *e)
		c->seed = strtoull(e, NULL, 10);
	else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		c->seed = ((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid()) % 1000000000ull;
	}
	for (int o; (o = getopt_long(argc, argv, "i:s:c:kvh", opts, NULL)) != -1;) {
		switch (o) {
		case 'i': c->iters = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': c->seed = strtoull(optarg, NULL, 10); break;
		case 'c': clients = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'k': c->keep = true; break;
		case 'v': c->verbose = true; break;
		case 'h': usage(); return 0;
		case 'T': c->self_test = true; break;
		default: usage(); return 2;
		}
	}
	if (!clients || clients > 8)
		clients = 4;
	c->rng = c->seed;

	const char *nokvm = mvmt_kvm_skip_reason();
	c->have_kvm = nokvm == NULL;
	char rel[512], real_ch[4096];
	snprintf(rel, sizeof(rel), "%s/tests/doubles/fake-cloud-hypervisor", (e = getenv("MVM_BUILD_DIR")) && *e ? e : "build");
	if (!realpath(rel, real_ch)) {
		fprintf(stderr, "chaos: %s is not built (make)\n", rel);
		return 2;
	}
	if (access(mvmt_bin("mvmd-fault"), X_OK) < 0) {
		fprintf(stderr, "chaos: %s is not built (make)\n", mvmt_bin("mvmd-fault"));
		return 2;
	}
	strcpy(c->dir, "/tmp/mvm-chaos-XXXXXX");
	if (!mkdtemp(c->dir)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(c->state, sizeof(c->state), "%s/state", c->dir);
	snprintf(c->sock, sizeof(c->sock), "%s/rpc.sock", c->dir);
	snprintf(c->console, sizeof(c->console), "%s/console", c->dir);
	snprintf(c->log, sizeof(c->log), "%s/mvmd.log", c->dir);
	snprintf(c->kernel, sizeof(c->kernel), "%s/vmlinuz", c->dir);
	snprintf(c->fake_kvm, sizeof(c->fake_kvm), "%s/not-kvm", c->dir);
	if (!c->have_kvm && close(open(c->fake_kvm, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		perror(c->fake_kvm);
		return 2;
	}
	/* The double's knobs are in <binary>.env (mvmd gives cloud-hypervisor
	 * none of its environment): this run's own link to it has its own.
	 * It ends by itself after this long: a driver that dies leaves
	 * nothing running for good. */
	char env[sizeof(c->dir) + 32];
	snprintf(c->fake_ch, sizeof(c->fake_ch), "%s/cloud-hypervisor", c->dir);
	snprintf(env, sizeof(env), "%s/cloud-hypervisor.env", c->dir);
	FILE *ef = symlink(real_ch, c->fake_ch) == 0 ? fopen(env, "w") : NULL;
	if (!ef || fputs("MVM_FAKE_CH_LIFETIME_S=900\n", ef) < 0 || fclose(ef) != 0) {
		perror(c->fake_ch);
		return 2;
	}
	FILE *kf = fopen(c->kernel, "w");
	if (!kf || fputs("not a kernel: the cloud-hypervisor double only reads it\n", kf) < 0 || fclose(kf) != 0) {
		perror(c->kernel);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	printf("chaos: seed=%llu iterations=%u clients=%u dir=%s (replay: SEED=%llu ITER=%u make chaos)\n",
	       (unsigned long long)c->seed, c->iters, clients, c->dir, (unsigned long long)c->seed, c->iters);
	if (nokvm)
		printf("chaos: note: %s; mvmd gets a stand-in device file instead: ch VMs (cloud-hypervisor double) "
		       "run, kvm workers fail at their first KVM call, workload exit codes are not exercised\n", nokvm);

	long long t0 = chaos_now_ms();
	daemon_start(c, NULL);
	put_workload(c, "exit", c->hash_exit, sizeof(c->hash_exit));
	put_workload(c, "sleep", c->hash_sleep, sizeof(c->hash_sleep));
	put_workload(c, "spin", c->hash_spin, sizeof(c->hash_spin));

	for (c->iter = 1; c->iter <= c->iters; c->iter++) {
		unsigned before = c->violations;
		bool fault = c->iter % 2 == 0;
		char spec[96];

		c->iter_violations = 0;
		c->iter_text[0] = '\0';
		c->fault = NULL;
		c->fault_fired = -1;
		if (fault) {
			/* A fault point and how many passes before it fires. */
			snprintf(spec, sizeof(spec), "%s:%u", fault_points[chaos_below(c, N_FAULT_POINTS)],
				 1 + chaos_below(c, 4));
			c->fault = spec;
			daemon_term(c);
		}
		bool died = false;
		if (!fault || daemon_start(c, spec) == 1) {
			/* Most kills land in the first burst, some after a quiet spell. */
			long long window = chaos_below(c, 4) ? 50 + chaos_below(c, 700) : 800 + chaos_below(c, 2000);
			unsigned budget = 2 + chaos_below(c, 12);
			died = chaos_ops_run(c, 1 + chaos_below(c, clients), budget, chaos_now_ms() + window);
			if (died && !c->pid_is_fault)
				chaos_violation(c, "mvmd died by itself");
		} else {
			died = true; /* the fault point fired during startup */
			c->startup_deaths++;
		}
		c->kills++;
		c->fault_fired = died;
		if (died)
			c->fault_kills++; /* only mvmd-fault kills itself: a plain one dying is a violation above */
		chaos_log(c, "%s%s", died ? "died at fault point " : "killed", died ? spec : "");
		if (c->self_test)
			chaos_self_test_plant(c);
		chaos_check_dead(c);
		daemon_start(c, NULL);
		chaos_check(c);
		if (c->self_test)
			chaos_self_test_judge(c);
		if (c->violations > before)
			c->bad_iters++;
		if (c->self_test && chaos_self_test_over(c)) {
			c->iters = c->iter;
			break;
		}
	}
	c->fault = NULL;
	teardown(c);
	daemon_term(c);

	long long ms = chaos_now_ms() - t0;
	unsigned vms_acked = 0;
	for (size_t i = 0; i < c->n_vms; i++)
		vms_acked += c->vms[i].created == CR_ACKED;
	printf("chaos: seed=%llu iterations=%u kills=%u fault-point kills=%u (%u at startup) violations=%u "
	       "VMs=%zu (%u created) requests=%u answered=%u events=%zu time=%.1f s (%.2f s/iteration)\n",
	       (unsigned long long)c->seed, c->iters, c->kills, c->fault_kills, c->startup_deaths, c->violations, c->n_vms,
	       vms_acked, c->ops, c->acked, c->n_events, ms / 1000.0, c->iters ? ms / 1000.0 / c->iters : 0.0);
	/* The closing line tests/run counts; a self-test's iterations fail
	 * on purpose: its verdict is chaos_self_test_result's line. */
	if (!c->self_test)
		printf("chaos: %u passed, %u failed\n", c->iters - c->bad_iters, c->bad_iters);
	int ret = c->self_test ? chaos_self_test_result(c) : c->violations ? 1 : 0;
	if (ret == 0 && !c->keep) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "chaos: cannot remove %s\n", c->dir);
	} else {
		printf("chaos: state and mvmd.log kept in %s\n", c->dir);
	}
	return ret;
}
