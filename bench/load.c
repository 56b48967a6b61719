/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Load on a running mvmd as many orchestrator connections make it: C
 * clients (threads, one connection each, request/response) send N requests
 * each, a mix of reads and lifecycle calls (W = 10 by default):
 *
 *   W%  compute.vm.create, then compute.vm.remove of that VM on the
 *       client's next lifecycle turn (so each client has at most one);
 *       each writes state.json durably (fsync), so they set the pace
 *   the rest, in the proportions 45:30:15 of
 *       compute.vm.status   (a VM the bench made, or the client's own)
 *       compute.node.info
 *       compute.vm.list
 *
 * Reports the errors (any error answer or lost connection; the goal is 0),
 * requests per second, p50/p99/max latency, and mvmd's RSS and fd count
 * before and after (the goal: flat).
 *
 *   load -s SOCKET -p MVMD_PID [-c CLIENTS] [-n REQUESTS_PER_CLIENT] [-w W]
 *
 * With -e the server is bench/line-echo, the floor: the same clients send
 * the same lines and take each echoed line as the answer (no VM is made,
 * nothing is checked), so the figures side by side say what mvmd adds to
 * a raw Unix socket round trip under the same load.
 *
 * Prints "key=value" lines for bench/load.sh after the table.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *sock_path;
static unsigned n_requests = 1000, write_pct = 10;
static bool echo_floor;

typedef struct client {
	pthread_t thread;
	unsigned index;
	int fd;
	char *buf;
	size_t len, alloc;
	uint32_t *lat_us;     /* one per request */
	unsigned errors, done;
	char first_error[256];
} client_t;

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int conn_open(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* One request line out, one answer line back (in c->buf, NUL-terminated
 * at *ret_len). Returns false when the connection failed. */
static bool roundtrip(client_t *c, const char *req, size_t req_len, size_t *ret_len)
{
	for (size_t off = 0; off < req_len;) {
		ssize_t w = send(c->fd, req + off, req_len - off, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		off += (size_t)w;
	}
	for (size_t scan = 0;;) {
		char *nl = c->len > scan ? memchr(c->buf + scan, '\n', c->len - scan) : NULL;
		if (nl) {
			*nl = '\0';
			*ret_len = (size_t)(nl - c->buf);
			return true;
		}
		scan = c->len;
		if (c->alloc - c->len < 65536) {
			c->alloc = c->alloc * 2 + 65536;
			c->buf = realloc(c->buf, c->alloc);
			if (!c->buf)
				return false;
		}
		ssize_t n = recv(c->fd, c->buf + c->len, c->alloc - c->len, 0);
		if (n <= 0)
			return false;
		c->len += (size_t)n;
	}
}

/* Drops the answer just read (and its '\n') from the buffer. */
static void consume(client_t *c, size_t line_len)
{
	memmove(c->buf, c->buf + line_len + 1, c->len - line_len - 1);
	c->len -= line_len + 1;
}

static void note_error(client_t *c, const char *what)
{
	if (c->errors++ == 0)
		snprintf(c->first_error, sizeof(c->first_error), "%.250s", what);
}

/* The VM id in a create answer ({"jsonrpc":"2.0","result":{..."id":"X"...). */
static bool answer_vm_id(const char *line, char *id, size_t size)
{
	const char *p = strstr(line, "\"result\":");
	p = p ? strstr(p, "\"id\":\"") : NULL;
	if (!p)
		return false;
	p += 6;
	const char *e = strchr(p, '"');
	if (!e || (size_t)(e - p) >= size)
		return false;
	memcpy(id, p, (size_t)(e - p));
	id[e - p] = '\0';
	return true;
}

static void *client_run(void *arg)
{
	client_t *c = arg;
	char req[512], own[64] = "", name[64];
	unsigned seed = 0x9e3779b9u * (c->index + 1), created = 0;

	c->fd = conn_open();
	if (c->fd < 0) {
		note_error(c, "cannot connect");
		return NULL;
	}
	for (unsigned i = 0; i < n_requests; i++) {
		/* r < 10: lifecycle; 10..54 status, 55..84 node.info, 85..99 list */
		unsigned r = (unsigned)rand_r(&seed) % 100;
		if ((unsigned)rand_r(&seed) % 100 < write_pct)
			r = 0;
		else
			r = 10 + r * 90 / 100;
		int n;
		bool create = false;
		if (r < 10 && own[0])
			n = snprintf(req, sizeof(req),
				     "{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.remove\",\"params\":{\"id\":\"%s\"},\"id\":%u}\n",
				     own, i);
		else if (r < 10) {
			snprintf(name, sizeof(name), "load-%u-%u", c->index, created++);
			n = snprintf(req, sizeof(req),
				     "{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.create\",\"params\":{\"name\":\"%s\","
				     "\"memory_mib\":16,\"labels\":{\"bench\":\"load\"}},\"id\":%u}\n", name, i);
			create = true;
		} else if (r < 55)
			n = snprintf(req, sizeof(req),
				     "{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.status\",\"params\":{\"id\":\"%s\"},\"id\":%u}\n",
				     own[0] && r % 2 ? own : "load-shared", i);
		else if (r < 85)
			n = snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"method\":\"compute.node.info\",\"id\":%u}\n", i);
		else
			n = snprintf(req, sizeof(req),
				     "{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.list\",\"params\":{\"labels\":{\"bench\":\"load\"}},"
				     "\"id\":%u}\n", i);
		size_t len;
		double t0 = now_us();
		if (!roundtrip(c, req, (size_t)n, &len)) {
			note_error(c, "connection lost");
			return NULL;
		}
		c->lat_us[c->done++] = (uint32_t)(now_us() - t0);
		if (echo_floor) {
			consume(c, len);
			continue;
		}
		/* Our encoder writes this head on every error answer. */
		if (!strncmp(c->buf, "{\"jsonrpc\":\"2.0\",\"error\"", 24))
			note_error(c, c->buf);
		else if (r < 10 && !create)
			own[0] = '\0';
		else if (create && !answer_vm_id(c->buf, own, sizeof(own)))
			note_error(c, "create answered without an id");
		consume(c, len);
	}
	if (own[0]) {
		size_t len;
		int n = snprintf(req, sizeof(req),
				 "{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.remove\",\"params\":{\"id\":\"%s\"},\"id\":0}\n", own);
		if (!roundtrip(c, req, (size_t)n, &len) || !strncmp(c->buf, "{\"jsonrpc\":\"2.0\",\"error\"", 24))
			note_error(c, "final remove failed");
	}
	close(c->fd);
	return NULL;
}

static long proc_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			v = strtol(line + 6, NULL, 10);
	fclose(f);
	return v;
}

static int proc_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	int n = 0;
	if (!d)
		return -1;
	for (struct dirent *de; (de = readdir(d));)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* mvmd closes a connection from its loop after the client's EOF: wait
 * until its fd count holds still before taking it. */
static int proc_fds_settled(pid_t pid)
{
	int last = proc_fds(pid);
	for (int i = 0; i < 100; i++) {
		usleep(50 * 1000);
		int n = proc_fds(pid);
		if (n == last)
			return n;
		last = n;
	}
	return last;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* One call on a connection of its own; false on an error answer. */
static bool call_once(const char *req)
{
	client_t c = { .fd = conn_open() };
	size_t len;
	bool ok = c.fd >= 0 && roundtrip(&c, req, strlen(req), &len) &&
		  strncmp(c.buf, "{\"jsonrpc\":\"2.0\",\"error\"", 24) != 0;
	if (c.fd >= 0)
		close(c.fd);
	free(c.buf);
	return ok;
}

int main(int argc, char **argv)
{
	unsigned n_clients = 256;
	pid_t pid = 0;
	int opt;

	while ((opt = getopt(argc, argv, "s:p:c:n:w:e")) >= 0)
		switch (opt) {
		case 's': sock_path = optarg; break;
		case 'p': pid = (pid_t)atoi(optarg); break;
		case 'c': n_clients = (unsigned)atoi(optarg); break;
		case 'n': n_requests = (unsigned)atoi(optarg); break;
		case 'w': write_pct = (unsigned)atoi(optarg); break;
		case 'e': echo_floor = true; break;
		default:
			fprintf(stderr, "usage: load -s SOCKET -p MVMD_PID [-c CLIENTS] [-n REQUESTS_PER_CLIENT] [-w WRITE_PCT] [-e]\n");
			return 2;
		}
	if (!sock_path || pid <= 0 || n_clients == 0 || n_requests == 0 || write_pct > 100) {
		fprintf(stderr, "load: -s and -p are required\n");
		return 2;
	}
	if (!echo_floor && !call_once("{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.create\",\"params\":{\"name\":\"load-shared\","
		       "\"memory_mib\":16},\"id\":1}\n")) {
		fprintf(stderr, "load: cannot create the shared VM\n");
		return 1;
	}
	int fds0 = proc_fds_settled(pid);
	long rss0 = proc_rss_kb(pid);

	client_t *cl = calloc(n_clients, sizeof(*cl));
	for (unsigned i = 0; i < n_clients; i++) {
		cl[i].index = i;
		cl[i].lat_us = malloc(n_requests * sizeof(uint32_t));
	}
	double t0 = now_us();
	for (unsigned i = 0; i < n_clients; i++)
		if (pthread_create(&cl[i].thread, NULL, client_run, &cl[i]) != 0) {
			fprintf(stderr, "load: cannot start client %u\n", i);
			return 1;
		}
	for (unsigned i = 0; i < n_clients; i++)
		pthread_join(cl[i].thread, NULL);
	double secs = (now_us() - t0) / 1e6;

	/* Every client removed its VM and closed: mvmd should be back. */
	if (!echo_floor)
		(void)call_once("{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.remove\",\"params\":{\"id\":\"load-shared\"},"
				"\"id\":1}\n");
	int fds1 = proc_fds_settled(pid);
	long rss1 = proc_rss_kb(pid);

	size_t total = 0;
	unsigned errors = 0;
	for (unsigned i = 0; i < n_clients; i++) {
		total += cl[i].done;
		errors += cl[i].errors;
		if (cl[i].errors && errors == cl[i].errors)
			fprintf(stderr, "load: first error (client %u): %s\n", i, cl[i].first_error);
	}
	uint32_t *all = malloc((total ? total : 1) * sizeof(uint32_t));
	size_t k = 0;
	for (unsigned i = 0; i < n_clients; i++) {
		memcpy(all + k, cl[i].lat_us, cl[i].done * sizeof(uint32_t));
		k += cl[i].done;
	}
	qsort(all, total, sizeof(uint32_t), cmp_u32);
	uint32_t p50 = total ? all[total / 2] : 0, p99 = total ? all[total * 99 / 100] : 0,
		 pmax = total ? all[total - 1] : 0;

	printf("%s: %u clients x %u requests: %u%% vm.create/remove, the rest vm.status:node.info:vm.list 45:30:15\n",
	       echo_floor ? "floor (raw Unix socket line echo, the same lines)" : "load", n_clients, n_requests,
	       write_pct);
	printf("  answered   %zu in %.1f s: %.0f requests/s\n", total, secs, (double)total / secs);
	printf("  errors     %u (goal 0)\n", errors);
	printf("  latency    p50 %u us, p99 %u us, max %u us\n", p50, p99, pmax);
	if (!echo_floor) {
		printf("  mvmd RSS   %ld KiB before, %ld KiB after (%+ld)\n", rss0, rss1, rss1 - rss0);
		printf("  mvmd fds   %d before, %d after (goal: flat)\n", fds0, fds1);
	}
	printf("requests=%zu\nerrors=%u\np50_us=%u\np99_us=%u\nrss_before_kb=%ld\nrss_after_kb=%ld\nfds_before=%d\nfds_after=%d\n",
	       total, errors, p50, p99, rss0, rss1, fds0, fds1);
	for (unsigned i = 0; i < n_clients; i++) {
		free(cl[i].lat_us);
		free(cl[i].buf);
	}
	free(cl);
	free(all);
	return errors || fds1 != fds0 ? 1 : 0;
}
