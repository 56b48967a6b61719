/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Actors through mvmd (docs/actors.md), against the same run's floors:
 *
 *   echo     a line to bench/line-echo and back over a Unix socket: the
 *            floor of any request through a one-thread event loop
 *   send     compute.vm.send to the C actor (tests/workloads/actor.c)
 *            that answers at once: p50/p99 over N
 *   raw      the same to a guest without Wasm that answers at once
 *            (tests/microvm-guests/rawactor.c): mvmd's, the worker's and
 *            the exit's part without the interpreter's
 *   a2a      compute.vm.send asking a client actor to send through an
 *            interface to a handler actor and answer with its answer:
 *            both hops, p50/p99 over N
 *   floor    compute.interface.list: mvmd's own JSON-RPC floor, a small
 *            answer, no VM process involved
 *   exit     one hypercall exit: KVM_RUN of a raw vCPU that writes to an
 *            unbacked address (an MMIO exit, as the guest's hypercall
 *            doorbell) until the ioctl is back: p50/p99 over N
 *   rate     messages/s to one actor with 1 and with 4 connections
 *   exits    VM exits per message during the 1-connection rate run, from
 *            KVM's own counters (debugfs kvm/mmio_exits and kvm/exits,
 *            node-wide: the other VMs here are idle in their waits)
 *
 *   actor -s SOCKET -e ECHO_SOCKET -m ACTOR.wasm -g RAW_ACTOR_IMAGE [-n RUNS]
 *   (mvmd with --allow-custom-guests, for the raw actor)
 *
 * Prints "key=value" lines after the table for bench/actor.sh.
 */
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench/lib/bench-rpc.h"

#define IFACE "sha256:be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c"

static const char *sock_path, *echo_path, *module, *raw_image;
static int runs = 2000;

static json_object *call(bench_conn_t *c, const char *method, const char *params)
{
	json_object *r = bench_call(c, method, params, NULL, NULL);
	if (!r)
		bench_die(method);
	return r;
}

static void actor_up(bench_conn_t *c, const char *name, const char *hash, const char *extra)
{
	char p[1024];

	snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":16,\"workload\":{\"hash\":\"%s\"%s}}", name, hash, extra);
	json_object_put(call(c, "compute.vm.create", p));
	snprintf(p, sizeof(p), "{\"id\":\"%s\"}", name);
	json_object_put(call(c, "compute.vm.start", p));
	/* Running once start answered; ready once the program waits */
	for (int i = 0; i < 1000; i++) {
		snprintf(p, sizeof(p), "{\"id\":\"%s\"}", name);
		json_object *r = call(c, "compute.vm.logs", p), *d;
		int ready = json_object_object_get_ex(r, "data", &d) && strstr(json_object_get_string(d), "actor ready");
		json_object_put(r);
		if (ready)
			return;
		usleep(10000);
	}
	bench_die("the actor never said it was ready");
}

static void raw_actor_up(bench_conn_t *c, const char *name)
{
	char p[1024];

	snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":16,\"guest\":{\"image\":\"%s\"}}", name, raw_image);
	json_object_put(call(c, "compute.vm.create", p));
	snprintf(p, sizeof(p), "{\"id\":\"%s\"}", name);
	json_object_put(call(c, "compute.vm.start", p));
	for (int i = 0; i < 1000; i++) {
		json_object *r = call(c, "compute.vm.logs", p), *d;
		int ready = json_object_object_get_ex(r, "data", &d) && strstr(json_object_get_string(d), "raw actor ready");
		json_object_put(r);
		if (ready)
			return;
		usleep(10000);
	}
	bench_die("the raw actor never said it was ready");
}

static double send_one(bench_conn_t *c, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "{\"id\":\"%s\",\"data\":\"%s\"}", name, text);
	double t0 = bench_now_us();
	json_object_put(call(c, "compute.vm.send", p));
	return bench_now_us() - t0;
}

static void report(const char *what, double *v, int n)
{
	double p50 = bench_pct(v, n, 0.5), p99 = bench_pct(v, n, 0.99);
	printf("%-58s %8.1f %8.1f\n", what, p50, p99);
}

static double echo_once(int fd, char *buf, size_t cap)
{
	static const char line[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"compute.vm.send\",\"params\":{\"id\":\"a\",\"data\":\"x\"}}\n";
	size_t got = 0;
	double t0 = bench_now_us();

	if (write(fd, line, sizeof(line) - 1) != (ssize_t)(sizeof(line) - 1))
		bench_die("echo write");
	while (got < sizeof(line) - 1) {
		ssize_t k = read(fd, buf + got, cap - got);
		if (k <= 0)
			bench_die("echo read");
		got += (size_t)k;
	}
	return bench_now_us() - t0;
}

/* KVM's node-wide counter `name` (debugfs), or -1 where it is not readable. */
static long long kvm_stat(const char *name)
{
	char path[128], buf[64];
	long long v = -1;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%s", name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = atoll(buf);
	fclose(f);
	return v;
}

/* v[0..n): KVM_RUN round trips of a raw real-mode vCPU whose loop is
 * `mov %al, 0x8000; jmp back`, 0x8000 being past its one memory slot:
 * each run is one MMIO exit, as the guest's hypercall doorbell. */
static void exit_floor(double *v, int n)
{
	enum { MEM = 0x4000 };
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, vcpu, sz;
	uint8_t *mem;
	struct kvm_run *run;
	struct kvm_sregs s;

	if (kvm < 0 || (vm = ioctl(kvm, KVM_CREATE_VM, 0UL)) < 0)
		bench_die("KVM_CREATE_VM");
	mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		bench_die("mmap");
	static const uint8_t code[] = { 0xa2, 0x00, 0x80, 0xeb, 0xfb }; /* mov %al,0x8000; jmp .-3 */
	memcpy(mem + 0x1000, code, sizeof(code));
	struct kvm_userspace_memory_region r = { .slot = 0, .memory_size = MEM, .userspace_addr = (uint64_t)(uintptr_t)mem };
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0 || (vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL)) < 0 ||
	    (sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)) <= 0)
		bench_die("KVM vCPU");
	run = mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &s) < 0)
		bench_die("KVM vCPU state");
	s.cs.base = 0;
	s.cs.selector = 0;
	s.ds.base = 0;
	s.ds.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0)
		bench_die("KVM_SET_SREGS");
	run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	memset(&run->s.regs.regs, 0, sizeof(run->s.regs.regs));
	run->s.regs.regs.rip = 0x1000;
	run->s.regs.regs.rflags = 2;
	run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
	for (int i = -100; i < n; i++) {
		double t0 = bench_now_us();
		if (ioctl(vcpu, KVM_RUN, 0) < 0 || run->exit_reason != KVM_EXIT_MMIO)
			bench_die("KVM_RUN: not an MMIO exit");
		if (i >= 0)
			v[i] = bench_now_us() - t0;
	}
	munmap(run, (size_t)sz);
	close(vcpu);
	close(vm);
	close(kvm);
	munmap(mem, MEM);
}

int main(int argc, char **argv)
{
	bench_conn_t c, cs[4];
	char p[4096], buf[4096];
	int opt;

	while ((opt = getopt(argc, argv, "s:e:m:g:n:")) != -1) {
		switch (opt) {
		case 's': sock_path = optarg; break;
		case 'e': echo_path = optarg; break;
		case 'm': module = optarg; break;
		case 'g': raw_image = optarg; break;
		case 'n': runs = atoi(optarg); break;
		default: bench_die("usage: actor -s SOCKET -e ECHO_SOCKET -m ACTOR.wasm -g RAW_ACTOR_IMAGE [-n RUNS]");
		}
	}
	if (!sock_path || !echo_path || !module || !raw_image || runs < 10)
		bench_die("usage: actor -s SOCKET -e ECHO_SOCKET -m ACTOR.wasm -g RAW_ACTOR_IMAGE [-n RUNS]");
	double *v = calloc((size_t)runs, sizeof(double));
	if (!v)
		bench_die("out of memory");

	bench_conn_open(&c, sock_path, 1 << 20);
	snprintf(p, sizeof(p), "{\"path\":\"%s\"}", module);
	json_object *r = call(&c, "compute.blob.put", p), *h;
	if (!json_object_object_get_ex(r, "hash", &h))
		bench_die("blob.put");
	char hash[80];
	snprintf(hash, sizeof(hash), "%s", json_object_get_string(h));
	json_object_put(r);
	actor_up(&c, "bench-actor", hash, "");
	actor_up(&c, "bench-handler", hash, ",\"handles\":[\"" IFACE "\"]");
	actor_up(&c, "bench-client", hash, ",\"capabilities\":[\"stdout\",\"send:" IFACE "\"]");
	raw_actor_up(&c, "bench-raw");

	/* the floor: the same line through a bare event loop */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int efd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", echo_path);
	if (efd < 0 || connect(efd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		bench_die("connect to line-echo");
	for (int i = 0; i < 100; i++)
		echo_once(efd, buf, sizeof(buf));
	for (int i = 0; i < runs; i++)
		v[i] = echo_once(efd, buf, sizeof(buf));
	printf("%-58s %8s %8s\n", "us", "p50", "p99");
	report("raw UDS line echo (bench/line-echo)", v, runs);
	double echo50 = bench_pct(v, runs, 0.5);

	/* mvmd's own floor: a small request that touches no VM process */
	for (int i = 0; i < runs; i++) {
		double t0 = bench_now_us();
		json_object_put(call(&c, "compute.interface.list", "{}"));
		v[i] = bench_now_us() - t0;
	}
	report("mvmd RPC floor: compute.interface.list", v, runs);
	double rpc50 = bench_pct(v, runs, 0.5);

	exit_floor(v, runs);
	report("one hypercall exit (raw vCPU, MMIO exit, KVM_RUN round trip)", v, runs);
	double exit50 = bench_pct(v, runs, 0.5);

	for (int i = 0; i < 100; i++)
		send_one(&c, "bench-actor", "ping");
	for (int i = 0; i < runs; i++)
		v[i] = send_one(&c, "bench-actor", "ping");
	report("compute.vm.send round trip, actor answers at once", v, runs);
	double send50 = bench_pct(v, runs, 0.5), send99 = bench_pct(v, runs, 0.99);
	printf("%-58s %8.1f\n", "goal: (echo + 2 exits) x 1.3", (echo50 + 2 * exit50) * 1.3);

	for (int i = 0; i < 100; i++)
		send_one(&c, "bench-raw", "ping");
	for (int i = 0; i < runs; i++)
		v[i] = send_one(&c, "bench-raw", "ping");
	report("compute.vm.send round trip, raw (no Wasm) actor", v, runs);
	double raw50 = bench_pct(v, runs, 0.5);

	for (int i = 0; i < runs / 4; i++)
		v[i] = send_one(&c, "bench-client", "send " IFACE " ping");
	report("RPC -> client actor -> interface -> handler actor and back", v, runs / 4);
	double a2a50 = bench_pct(v, runs / 4, 0.5);

	/* rate: 1 connection, then 4 with one request each in flight */
	long long mmio0 = kvm_stat("mmio_exits"), all0 = kvm_stat("exits");
	double t0 = bench_now_us();
	for (int i = 0; i < runs; i++)
		send_one(&c, "bench-actor", "ping");
	double rate1 = runs / ((bench_now_us() - t0) / 1e6);
	long long mmio1 = kvm_stat("mmio_exits"), all1 = kvm_stat("exits");
	for (int k = 0; k < 4; k++)
		bench_conn_open(&cs[k], sock_path, 1 << 20);
	t0 = bench_now_us();
	for (int i = 0; i < runs / 4; i++) {
		for (int k = 0; k < 4; k++) {
			char line[256];
			int n = snprintf(line, sizeof(line),
					 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"compute.vm.send\",\"params\":{\"id\":\"bench-actor\",\"data\":\"ping\"}}\n",
					 ++cs[k].next_id);
			if (write(cs[k].fd, line, (size_t)n) != n)
				bench_die("write");
		}
		for (int k = 0; k < 4; k++)
			json_object_put(bench_read_msg(&cs[k]));
	}
	double rate4 = (runs / 4) * 4 / ((bench_now_us() - t0) / 1e6);
	printf("messages/s to one actor: %.0f with 1 connection, %.0f with 4\n", rate1, rate4);
	if (mmio0 >= 0 && mmio1 >= 0 && all0 >= 0 && all1 >= 0)
		printf("VM exits per message (KVM's counters): %.2f hypercall (MMIO) exits, %.2f exits of any kind\n",
		       (double)(mmio1 - mmio0) / runs, (double)(all1 - all0) / runs);
	else
		printf("VM exits per message: n/a (/sys/kernel/debug/kvm not readable; mount debugfs)\n");
	printf("ratio send p50 / echo p50: %.1fx; send p50 / (echo + 2 exits) p50: %.2fx\n", send50 / echo50,
	       send50 / (echo50 + 2 * exit50));
	printf("send p50 - RPC floor p50 (the actor's part of a send): %.1f us; raw actor: %.1f us\n", send50 - rpc50,
	       raw50 - rpc50);
	printf("raw actor send p50 / (echo + 2 exits) p50: %.2fx\n", raw50 / (echo50 + 2 * exit50));
	printf("echo_p50_us=%.1f\nexit_p50_us=%.1f\nsend_p50_us=%.1f\nsend_p99_us=%.1f\nraw_p50_us=%.1f\na2a_p50_us=%.1f\nrate1=%.0f\nrate4=%.0f\n",
	       echo50, exit50, send50, send99, raw50, a2a50, rate1, rate4);
	/* Workers outlive mvmd by design: stop them before it goes. */
	static const char *const names[] = { "bench-actor", "bench-handler", "bench-client", "bench-raw" };
	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "{\"id\":\"%s\",\"force\":true}", names[i]);
		json_object_put(call(&c, "compute.vm.stop", p));
	}
	free(v);
	return 0;
}
