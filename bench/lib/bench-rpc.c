/* SPDX-License-Identifier: Apache-2.0 */
#include "bench-rpc.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

void bench_die(const char *what)
{
	fprintf(stderr, "%s: %s\n", program_invocation_short_name, what);
	exit(1);
}

double bench_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double bench_pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	int i = (int)(p * (n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

void bench_conn_open(bench_conn_t *c, const char *path, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof(*c));
	c->buf = malloc(cap);
	c->cap = cap;
	if (!c->buf)
		bench_die("out of memory");
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		bench_die("cannot connect to mvmd");
}

json_object *bench_read_msg(bench_conn_t *c)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl) {
			*nl = 0;
			json_object *o = json_tokener_parse(c->buf);
			size_t used = (size_t)(nl - c->buf) + 1;
			memmove(c->buf, nl + 1, c->len - used);
			c->len -= used;
			if (!o)
				bench_die("unparsable line from mvmd");
			return o;
		}
		if (c->len == c->cap)
			bench_die("line too long");
		ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n <= 0)
			bench_die("mvmd closed the connection");
		c->len += (size_t)n;
	}
}

json_object *bench_call(bench_conn_t *c, const char *method, const char *params,
			void (*on_event)(json_object *ev, void *ud), void *ud)
{
	char line[4096];
	int id = ++c->next_id;
	int n = snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\",\"params\":%s}\n", id,
			 method, params);

	if (n < 0 || (size_t)n >= sizeof(line) || write(c->fd, line, (size_t)n) != n)
		bench_die("write");
	for (;;) {
		json_object *o = bench_read_msg(c), *v, *r;
		if (!json_object_object_get_ex(o, "id", &v)) {
			if (on_event && json_object_object_get_ex(o, "params", &v))
				on_event(v, ud);
			json_object_put(o);
			continue;
		}
		if (json_object_get_int(v) != id)
			bench_die("response out of order");
		if (!json_object_object_get_ex(o, "result", &r)) {
			fprintf(stderr, "%s failed: %s\n", method, json_object_to_json_string(o));
			exit(1);
		}
		r = json_object_get(r);
		json_object_put(o);
		return r;
	}
}

void bench_follow(bench_conn_t *c)
{
	json_object_put(bench_call(c, "compute.vm.events.tail", "{\"follow\":true,\"limit\":1}", NULL, NULL));
}

typedef struct waitfor {
	char vm[64];
	bool seen;
} waitfor_t;

static void on_event(json_object *ev, void *ud)
{
	waitfor_t *w = ud;
	json_object *vm, *to;
	if (json_object_object_get_ex(ev, "vm", &vm) && json_object_object_get_ex(ev, "to", &to) &&
	    strcmp(json_object_get_string(vm), w->vm) == 0 && strcmp(json_object_get_string(to), "Stopped") == 0)
		w->seen = true;
}

double bench_run_to_stopped(bench_conn_t *c, const char *create_params, char id[64])
{
	char params[128];
	waitfor_t w = { .seen = false };
	json_object *r, *v;

	double t0 = bench_now_us();
	r = bench_call(c, "compute.vm.create", create_params, on_event, &w);
	json_object_object_get_ex(r, "id", &v);
	snprintf(w.vm, sizeof(w.vm), "%s", json_object_get_string(v));
	json_object_put(r);
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", w.vm);
	r = bench_call(c, "compute.vm.start", params, on_event, &w);
	json_object_object_get_ex(r, "state", &v);
	if (strcmp(json_object_get_string(v), "Stopped") == 0)
		w.seen = true;
	json_object_put(r);
	while (!w.seen) {
		json_object *o = bench_read_msg(c), *p;
		if (json_object_object_get_ex(o, "params", &p))
			on_event(p, &w);
		json_object_put(o);
	}
	double dt = bench_now_us() - t0;
	memcpy(id, w.vm, sizeof(w.vm));
	return dt;
}

typedef struct rate_arg {
	pthread_t thread;
	const char *sock_path;
	size_t cap;
	int runs, tag;
	double (*one_run)(bench_conn_t *c, int tag);
} rate_arg_t;

static void *rate_worker(void *p)
{
	rate_arg_t *a = p;
	bench_conn_t c;

	bench_conn_open(&c, a->sock_path, a->cap);
	bench_follow(&c);
	for (int i = 0; i < a->runs; i++)
		a->one_run(&c, a->tag);
	close(c.fd);
	free(c.buf);
	return NULL;
}

double bench_rate(const char *sock_path, size_t cap, int clients, int runs, double (*one_run)(bench_conn_t *c, int tag),
		  int *ret_runs)
{
	rate_arg_t args[64];
	int per;

	clients = clients < 1 ? 1 : clients > 64 ? 64 : clients;
	per = runs / clients;
	double t0 = bench_now_us();
	for (int i = 0; i < clients; i++) {
		args[i] = (rate_arg_t){ .sock_path = sock_path, .cap = cap, .runs = per, .tag = 100 + i, .one_run = one_run };
		if (pthread_create(&args[i].thread, NULL, rate_worker, &args[i]) != 0)
			bench_die("pthread_create");
	}
	for (int i = 0; i < clients; i++)
		pthread_join(args[i].thread, NULL);
	*ret_runs = per * clients;
	return per * clients / ((bench_now_us() - t0) / 1e6);
}
