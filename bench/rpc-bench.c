/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc-bench: a line-protocol load generator for Unix sockets.
 *
 * Opens N connections, keeps D request lines in flight on each (D = 1 is
 * strict request/response), and measures each line's round trip from its
 * send to its answer (answers are FIFO per connection for synchronous
 * methods). Single-threaded epoll, so the client costs the same against
 * every server it is compared on.
 *
 *   rpc-bench -s SOCKET [-c CONNS] [-d DEPTH] [-t SECONDS] [-r REQUEST] [-q]
 *   rpc-bench -s SOCKET -1 -r REQUEST      send one line, print the answer
 *
 * Output: p50 and p99 round trip in microseconds and answers per second;
 * -q prints just "p50 p99 rps". Answers containing "error" are counted
 * and make the exit status 1.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

typedef struct bconn {
	int fd;
	double *sent; /* FIFO of send times, depth entries */
	unsigned head, n;
	char in[1 << 16];
	size_t in_len;
} bconn_t;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *request = "{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.status\",\"params\":{\"id\":\"vm-1\"},\"id\":1}";
	unsigned conns = 1, depth = 1;
	double seconds = 2, warmup = 0.3;
	int quiet = 0, once = 0, c;

	while ((c = getopt(argc, argv, "s:c:d:t:r:q1")) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'c': conns = (unsigned)atoi(optarg); break;
		case 'd': depth = (unsigned)atoi(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 'r': request = optarg; break;
		case 'q': quiet = 1; break;
		case '1': once = 1; break;
		default:
			fprintf(stderr, "usage: rpc-bench -s SOCKET [-c CONNS] [-d DEPTH] [-t SECONDS] [-r REQUEST] [-q] [-1]\n");
			return 2;
		}
	}
	if (!path || conns < 1 || depth < 1 || depth > 4096) {
		fprintf(stderr, "rpc-bench: need -s SOCKET, CONNS >= 1, 1 <= DEPTH <= 4096\n");
		return 2;
	}

	size_t rlen = strlen(request) + 1;
	char *line = malloc(rlen + 1);
	snprintf(line, rlen + 1, "%s\n", request);

	if (once) {
		int fd = connect_unix(path);
		if (fd < 0 || send_all(fd, line, rlen) < 0) {
			perror("rpc-bench: connect/send");
			return 1;
		}
		char buf[1 << 16];
		size_t len = 0;
		for (;;) {
			ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
			if (n <= 0)
				return 1;
			len += (size_t)n;
			if (memchr(buf, '\n', len))
				break;
		}
		fwrite(buf, 1, len, stdout);
		return 0;
	}

	/* depth copies of the line, to refill in one write */
	char *burst = malloc(rlen * depth);
	for (unsigned i = 0; i < depth; i++)
		memcpy(burst + i * rlen, line, rlen);

	int ep = epoll_create1(EPOLL_CLOEXEC);
	bconn_t *bc = calloc(conns, sizeof(*bc));
	for (unsigned i = 0; i < conns; i++) {
		bc[i].fd = connect_unix(path);
		if (bc[i].fd < 0) {
			perror("rpc-bench: connect");
			return 1;
		}
		bc[i].sent = calloc(depth, sizeof(double));
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &bc[i] };
		epoll_ctl(ep, EPOLL_CTL_ADD, bc[i].fd, &e);
	}

	size_t cap = 1 << 20, n_samples = 0;
	double *samples = malloc(cap * sizeof(double));
	unsigned long errors = 0, answers = 0;
	double t0 = now(), t_measure = t0 + warmup, t_end = t_measure + seconds;

	for (unsigned i = 0; i < conns; i++) {
		double t = now();
		for (unsigned k = 0; k < depth; k++)
			bc[i].sent[k] = t;
		bc[i].n = depth;
		if (send_all(bc[i].fd, burst, rlen * depth) < 0)
			return 1;
	}

	for (;;) {
		double t = now();
		if (t >= t_end)
			break;
		struct epoll_event ev[64];
		int n = epoll_wait(ep, ev, 64, 100);
		for (int i = 0; i < n; i++) {
			bconn_t *b = ev[i].data.ptr;
			ssize_t r = recv(b->fd, b->in + b->in_len, sizeof(b->in) - b->in_len, MSG_DONTWAIT);
			if (r <= 0) {
				if (r < 0 && errno == EAGAIN)
					continue;
				fprintf(stderr, "rpc-bench: server closed the connection\n");
				return 1;
			}
			b->in_len += (size_t)r;
			double tr = now();
			char *p = b->in, *end = b->in + b->in_len, *nl;
			while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
				if (memmem(p, (size_t)(nl - p), "\"error\"", 7))
					errors++;
				double rtt = tr - b->sent[b->head];
				b->head = (b->head + 1) % depth;
				b->n--;
				if (tr >= t_measure) {
					answers++;
					if (n_samples == cap)
						samples = realloc(samples, (cap *= 2) * sizeof(double));
					samples[n_samples++] = rtt;
				}
				p = nl + 1;
			}
			memmove(b->in, p, (size_t)(end - p));
			b->in_len = (size_t)(end - p);
			unsigned want = depth - b->n;
			if (want) {
				double ts = now();
				for (unsigned k = 0; k < want; k++)
					b->sent[(b->head + b->n + k) % depth] = ts;
				b->n += want;
				if (send_all(b->fd, burst, rlen * want) < 0)
					return 1;
			}
		}
	}

	if (n_samples == 0) {
		fprintf(stderr, "rpc-bench: no answers\n");
		return 1;
	}
	qsort(samples, n_samples, sizeof(double), cmp_double);
	double p50 = samples[n_samples / 2] * 1e6, p99 = samples[(size_t)((double)n_samples * 0.99)] * 1e6;
	double rps = (double)answers / seconds;
	if (quiet)
		printf("%.1f %.1f %.0f\n", p50, p99, rps);
	else
		printf("conns %u depth %u: p50 %.1f us, p99 %.1f us, %.0f answers/s, %lu errors\n", conns, depth, p50, p99,
		       rps, errors);
	if (errors)
		fprintf(stderr, "rpc-bench: %lu answers were errors\n", errors);
	return errors ? 1 : 0;
}
