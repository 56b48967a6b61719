/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/blob-fetch.sh's program: what a Linux guest pays to get a Wasm
 * module by hash, measured side by side in one run on the same bytes
 * (page cache warm):
 *
 *   fetch       blob_fetch() from the real daemon/mvmd/blob-serve server (its
 *               sd-event loop in a second thread) over AF_UNIX, including
 *               the guest's SHA-256 check
 *   read+sha    read() of the blob file plus the guest's SHA-256 (the
 *               floor without a socket)
 *   sha-guest   lib/util/sha256.c alone
 *   sha-openssl OpenSSL's SHA-256 (blob_hash_data) alone, for scale
 *
 *   blob-fetch SIZE_MIB RUNS   prints one line per case: median ms and MiB/s
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "blob-fetch.h"
#include "blob-serve.h"
#include "util/fs.h"
#include "util/sha256.h"

static char sock[256];

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int on_stop(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

static void *loop_thread(void *p)
{
	sd_event_loop(p);
	return NULL;
}

static void report(const char *name, double *t, int runs, size_t bytes)
{
	qsort(t, (size_t)runs, sizeof(*t), cmp_d);
	double med = t[runs / 2];
	printf("%-12s %9.2f ms %9.0f MiB/s\n", name, med, (double)bytes / (1 << 20) / (med / 1e3));
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 16, len = mib << 20;
	int runs = argc > 2 ? atoi(argv[2]) : 9;
	char dir[] = "/tmp/mvm-bench-fetch-XXXXXX", hex[65], path[512];
	blob_store_t *bs;
	blob_serve_t *srv;
	blob_info_t info;
	sd_event *e;
	pthread_t th;
	bool created;
	double *t = calloc((size_t)runs, sizeof(double));
	uint8_t *data = malloc(len), *buf = malloc(len);
	int stop_fd;

	if (!t || !data || !buf || runs < 1 || !mkdtemp(dir))
		return 1;
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 11);
	snprintf(sock, sizeof(sock), "%s/blob.sock", dir);
	if (blob_store_open(dir, &bs) < 0 || blob_put_data(bs, data, len, NULL, &info, &created) < 0 ||
	    sd_event_new(&e) < 0 || blob_serve_start_at(e, bs, sock, NULL, &srv) < 0 ||
	    blob_serve_grant(srv, info.hex) < 0)
		return 1;
	memcpy(hex, info.hex, sizeof(hex));
	snprintf(path, sizeof(path), "%s/%s", blob_store_dir(bs), hex);
	stop_fd = eventfd(0, EFD_CLOEXEC);
	sd_event_add_io(e, NULL, stop_fd, EPOLLIN, on_stop, NULL);
	pthread_create(&th, NULL, loop_thread, e);

	printf("blob of %zu MiB, %d runs each, median\n", mib, runs);
	for (int i = 0; i < runs; i++) {
		blob_fetch_transport_t tr = blob_fetch_transport_unix(sock);
		blob_fetch_opts_t o = { .max_size = len };
		uint8_t *got;
		size_t n;
		double t0 = now_ms();
		if (blob_fetch(&tr, hex, &o, &got, &n, NULL) < 0 || n != len)
			return 1;
		t[i] = now_ms() - t0;
		free(got);
	}
	report("fetch", t, runs, len);
	for (int i = 0; i < runs; i++) {
		char h[65];
		size_t off = 0;
		double t0 = now_ms();
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t r;
		while ((r = read(fd, buf + off, len - off)) > 0)
			off += (size_t)r;
		close(fd);
		sha256_hex(buf, off, h);
		t[i] = now_ms() - t0;
		if (off != len || strcmp(h, hex) != 0)
			return 1;
	}
	report("read+sha", t, runs, len);
	for (int i = 0; i < runs; i++) {
		char h[65];
		double t0 = now_ms();
		sha256_hex(data, len, h);
		t[i] = now_ms() - t0;
	}
	report("sha-guest", t, runs, len);
	for (int i = 0; i < runs; i++) {
		char h[65];
		double t0 = now_ms();
		blob_hash_data(data, len, h);
		t[i] = now_ms() - t0;
	}
	report("sha-openssl", t, runs, len);

	uint64_t one = 1;
	if (write(stop_fd, &one, sizeof(one)) != sizeof(one))
		return 1;
	pthread_join(th, NULL);
	blob_serve_stop(srv);
	sd_event_unref(e);
	blob_store_free(bs);
	rm_rf_at(AT_FDCWD, dir);
	free(t);
	free(data);
	free(buf);
	return 0;
}
