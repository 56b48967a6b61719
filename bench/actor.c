/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Actors through mvmd (docs/actors.md), against the same run's floors:
 *
 *   echo     a line to bench/line-echo and back over a Unix socket: the
 *            floor of any request through a one-thread event loop
 *   send     compute.vm.send to the C actor (tests/workloads/actor.c)
 *            that answers at once: p50/p99 over N
 *   a2a      compute.vm.send asking a client actor to send through an
 *            interface to a handler actor and answer with its answer:
 *            both hops, p50/p99 over N
 *   rate     messages/s to one actor with 1 and with 4 connections
 *
 *   actor -s SOCKET -e ECHO_SOCKET -m ACTOR.wasm [-n RUNS]
 *
 * Prints "key=value" lines after the table for bench/actor.sh.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench/lib/bench-rpc.h"

#define IFACE "sha256:be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c"

static const char *sock_path, *echo_path, *module;
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

int main(int argc, char **argv)
{
	bench_conn_t c, cs[4];
	char p[4096], buf[4096];
	int opt;

	while ((opt = getopt(argc, argv, "s:e:m:n:")) != -1) {
		switch (opt) {
		case 's': sock_path = optarg; break;
		case 'e': echo_path = optarg; break;
		case 'm': module = optarg; break;
		case 'n': runs = atoi(optarg); break;
		default: bench_die("usage: actor -s SOCKET -e ECHO_SOCKET -m ACTOR.wasm [-n RUNS]");
		}
	}
	if (!sock_path || !echo_path || !module || runs < 10)
		bench_die("usage: actor -s SOCKET -e ECHO_SOCKET -m ACTOR.wasm [-n RUNS]");
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

	for (int i = 0; i < 100; i++)
		send_one(&c, "bench-actor", "ping");
	for (int i = 0; i < runs; i++)
		v[i] = send_one(&c, "bench-actor", "ping");
	report("compute.vm.send round trip, actor answers at once", v, runs);
	double send50 = bench_pct(v, runs, 0.5), send99 = bench_pct(v, runs, 0.99);

	for (int i = 0; i < runs / 4; i++)
		v[i] = send_one(&c, "bench-client", "send " IFACE " ping");
	report("RPC -> client actor -> interface -> handler actor and back", v, runs / 4);
	double a2a50 = bench_pct(v, runs / 4, 0.5);

	/* rate: 1 connection, then 4 with one request each in flight */
	double t0 = bench_now_us();
	for (int i = 0; i < runs; i++)
		send_one(&c, "bench-actor", "ping");
	double rate1 = runs / ((bench_now_us() - t0) / 1e6);
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
	printf("ratio send p50 / echo p50: %.1fx\n", send50 / echo50);
	printf("echo_p50_us=%.1f\nsend_p50_us=%.1f\nsend_p99_us=%.1f\na2a_p50_us=%.1f\nrate1=%.0f\nrate4=%.0f\n", echo50,
	       send50, send99, a2a50, rate1, rate4);
	free(v);
	return 0;
}
