/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The blob server (daemon/mvmd/blob-serve.c) on real Unix sockets and a real blob
 * store in a temp dir, driven by its sd-event loop in this thread; the
 * guest's client (init/linux/blob-fetch.c, blocking) runs in a second thread.
 * Covers: fetch, unknown and ungranted hashes (one indistinguishable
 * answer), malformed and oversize requests, a half request that times out,
 * a client that never reads (bounded, closed after the stall timeout while
 * others are served), the connection cap, many fetches at once, bytes
 * that do not match the hash (refused by the client), and no fd left
 * behind.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "blob-fetch.h"
#include "blob-serve.h"
#include "util/fs.h"
#include "mvmt-main.h"

static char dir[64], sock[128];
static blob_store_t *bs;
static sd_event *ev;
static blob_serve_t *srv;
static int fds_before;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void pump(unsigned ms)
{
	for (uint64_t end = now_ms() + ms; now_ms() < end;)
		ck_assert_int_ge(sd_event_run(ev, 5000), 0);
}

static void start(const blob_serve_opts_t *o)
{
	ck_assert_int_eq(blob_serve_start_at(ev, bs, sock, o, &srv), 0);
}

static void setup(void)
{
	fds_before = count_fds();
	strcpy(dir, "/tmp/mvm-bserve-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/blob.sock", dir);
	ck_assert_int_eq(blob_store_open(dir, &bs), 0);
	ck_assert_int_eq(sd_event_new(&ev), 0);
}

static void teardown(void)
{
	srv = blob_serve_stop(srv);
	ev = sd_event_unref(ev);
	bs = blob_store_free(bs);
	rm_rf_at(AT_FDCWD, dir);
	/* Every socket, file and event source is gone again. */
	ck_assert_int_eq(count_fds(), fds_before);
}

static void put(const void *data, size_t len, char hex[65])
{
	blob_info_t info;
	bool created;

	ck_assert_int_eq(blob_put_data(bs, data, len, NULL, &info, &created), 0);
	memcpy(hex, info.hex, 65);
}

static uint8_t *random_bytes(size_t len)
{
	uint8_t *p = malloc(len);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 2654435761u >> 13);
	return p;
}

static int connect_raw(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	strcpy(sa.sun_path, sock);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Send req on a fresh connection, pump the loop, collect the answer until
 * the server closes (or max_ms). Returns the bytes received. */
static size_t raw_exchange(const void *req, size_t len, uint8_t *out, size_t max, unsigned max_ms, bool *ret_closed)
{
	int fd = connect_raw();
	size_t got = 0;
	bool closed = false;

	if (len)
		ck_assert_int_eq(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	for (uint64_t end = now_ms() + max_ms; now_ms() < end && !closed;) {
		ssize_t n;
		sd_event_run(ev, 2000);
		while ((n = recv(fd, out + got, max - got, 0)) > 0)
			got += (size_t)n;
		if (n == 0)
			closed = true;
	}
	close(fd);
	if (ret_closed)
		*ret_closed = closed;
	return got;
}

static void assert_header(const uint8_t *h, uint32_t want_status, uint64_t want_size)
{
	uint32_t st;
	uint64_t sz;

	ck_assert_int_eq(blob_proto_header_decode(h, &st, &sz), 0);
	ck_assert_msg(st == want_status, "status %s, want %s", blob_proto_status_to_string(st),
		      blob_proto_status_to_string(want_status));
	ck_assert_uint_eq(sz, want_size);
}

/* blob_fetch() in a thread while this one runs the server's loop. */
struct fetch_job {
	const char *hex;
	blob_fetch_opts_t opts;
	int r;
	uint8_t *data;
	size_t len;
	uint32_t status;
	atomic_bool done;
};

static void *fetch_thread(void *p)
{
	struct fetch_job *j = p;
	blob_fetch_transport_t t = blob_fetch_transport_unix(sock);

	j->r = blob_fetch(&t, j->hex, &j->opts, &j->data, &j->len, &j->status);
	atomic_store(&j->done, true);
	return NULL;
}

static void run_fetch(struct fetch_job *j)
{
	pthread_t th;

	atomic_store(&j->done, false);
	ck_assert_int_eq(pthread_create(&th, NULL, fetch_thread, j), 0);
	for (uint64_t end = now_ms() + 10000; !atomic_load(&j->done) && now_ms() < end;)
		sd_event_run(ev, 2000);
	ck_assert_msg(atomic_load(&j->done), "fetch did not finish");
	pthread_join(th, NULL);
}

START_TEST(test_parse_request)
{
	char hex[65], req[200];

	snprintf(req, sizeof(req), "sha256:%064d\n", 0);
	ck_assert_int_eq(blob_serve_parse_request(req, 72, hex), 0);
	ck_assert_str_eq(hex, "0000000000000000000000000000000000000000000000000000000000000000");
	for (size_t i = 0; i < 72; i++)
		ck_assert_int_eq(blob_serve_parse_request(req, i, hex), -EAGAIN);
	ck_assert_int_eq(blob_serve_parse_request("GET / HTTP/1.0\r\n", 16, hex), -EBADMSG);
	ck_assert_int_eq(blob_serve_parse_request("SHA256:", 7, hex), -EBADMSG);
	req[20] = 'A'; /* upper case hex is not the spelling */
	ck_assert_int_eq(blob_serve_parse_request(req, 72, hex), -EBADMSG);
	ck_assert_int_eq(blob_serve_parse_request(req, 20, hex), -EAGAIN);
	req[20] = '0';
	req[71] = '0'; /* 65 hex digits */
	ck_assert_int_eq(blob_serve_parse_request(req, 72, hex), -EBADMSG);
	req[71] = '\r';
	ck_assert_int_eq(blob_serve_parse_request(req, 72, hex), -EBADMSG);
}
END_TEST

START_TEST(test_fetch_ok)
{
	size_t len = 300 * 1024 + 17; /* several 64 KiB chunks and a tail */
	uint8_t *data = random_bytes(len);
	struct fetch_job j = { 0 };
	blob_serve_stats_t st;
	char hex[65];

	put(data, len, hex);
	start(NULL);
	ck_assert_int_eq(blob_serve_grant(srv, hex), 0);
	ck_assert_int_eq(blob_serve_grant(srv, hex), 0); /* twice: no-op */
	j.hex = hex;
	run_fetch(&j);
	ck_assert_int_eq(j.r, 0);
	ck_assert_uint_eq(j.status, BLOB_STATUS_OK);
	ck_assert_uint_eq(j.len, len);
	ck_assert(memcmp(j.data, data, len) == 0);
	pump(20);
	blob_serve_get_stats(srv, &st);
	ck_assert_uint_eq(st.served, 1);
	ck_assert_uint_eq(st.bytes, len);
	ck_assert_uint_eq(blob_serve_connections(srv), 0);
	free(j.data);
	free(data);
}
END_TEST

START_TEST(test_empty_blob)
{
	struct fetch_job j = { 0 };
	char hex[65];

	put("", 0, hex);
	start(NULL);
	ck_assert_int_eq(blob_serve_grant(srv, hex), 0);
	j.hex = hex;
	run_fetch(&j);
	ck_assert_int_eq(j.r, 0);
	ck_assert_uint_eq(j.len, 0);
	free(j.data);
}
END_TEST

/* Absent and present-but-not-granted get byte-identical answers. */
START_TEST(test_unknown_and_disallowed)
{
	const char *absent = "1111111111111111111111111111111111111111111111111111111111111111";
	uint8_t a[64], b[64];
	char hex[65], req[80];
	struct fetch_job j = { 0 };
	blob_serve_stats_t st;
	bool closed;

	put("secret of another tenant", 24, hex);
	start(NULL);
	ck_assert_int_eq(blob_serve_grant(srv, absent), 0);
	snprintf(req, sizeof(req), "sha256:%s\n", absent);
	ck_assert_uint_eq(raw_exchange(req, 72, a, sizeof(a), 3000, &closed), BLOB_PROTO_HEADER_LEN);
	ck_assert(closed);
	assert_header(a, BLOB_STATUS_UNAVAILABLE, 0);
	snprintf(req, sizeof(req), "sha256:%s\n", hex); /* stored, never granted */
	ck_assert_uint_eq(raw_exchange(req, 72, b, sizeof(b), 3000, &closed), BLOB_PROTO_HEADER_LEN);
	ck_assert(closed);
	ck_assert(memcmp(a, b, BLOB_PROTO_HEADER_LEN) == 0);
	j.hex = hex;
	run_fetch(&j);
	ck_assert_int_eq(j.r, -ENOENT);
	ck_assert_uint_eq(j.status, BLOB_STATUS_UNAVAILABLE);
	blob_serve_get_stats(srv, &st);
	ck_assert_uint_eq(st.refused, 3);
	ck_assert_uint_eq(st.served, 0);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert_int_eq(blob_serve_grant(srv, "sha256:1111"), -EINVAL);
	ck_assert_int_eq(blob_serve_grant(srv, "ABCD111111111111111111111111111111111111111111111111111111111111"),
			 -EINVAL);
}
END_TEST

START_TEST(test_malformed_and_oversize)
{
	char big[4096];
	uint8_t out[64];
	bool closed;

	start(NULL);
	/* Wrong from the first byte: answered at once, without waiting for 72. */
	ck_assert_uint_eq(raw_exchange("GET / HTTP/1.1\r\n", 16, out, sizeof(out), 3000, &closed), 16);
	ck_assert(closed);
	assert_header(out, BLOB_STATUS_BAD_REQUEST, 0);
	/* A hash that goes on past 64 digits, 4 KiB of it. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "sha256:", 7);
	ck_assert_uint_eq(raw_exchange(big, sizeof(big), out, sizeof(out), 3000, &closed), 16);
	ck_assert(closed);
	assert_header(out, BLOB_STATUS_BAD_REQUEST, 0);
	/* NUL bytes. */
	memset(big, 0, 100);
	ck_assert_uint_eq(raw_exchange(big, 100, out, sizeof(out), 3000, &closed), 16);
	assert_header(out, BLOB_STATUS_BAD_REQUEST, 0);
	ck_assert_uint_eq(blob_serve_connections(srv), 0);
}
END_TEST

START_TEST(test_half_request_times_out)
{
	blob_serve_opts_t o = { .request_timeout_ms = 150 };
	blob_serve_stats_t st;
	uint8_t out[64];
	bool closed;
	uint64_t t0 = now_ms();

	start(&o);
	ck_assert_uint_eq(raw_exchange("sha256:abc", 10, out, sizeof(out), 3000, &closed), 0);
	ck_assert(closed);
	ck_assert_uint_ge(now_ms() - t0, 140);
	blob_serve_get_stats(srv, &st);
	ck_assert_uint_eq(st.timed_out, 1);
	/* A client that connects and says nothing at all: the same. */
	ck_assert_uint_eq(raw_exchange(NULL, 0, out, sizeof(out), 3000, &closed), 0);
	ck_assert(closed);
	blob_serve_get_stats(srv, &st);
	ck_assert_uint_eq(st.timed_out, 2);
}
END_TEST

/* A guest that asks for 8 MiB and never reads: the server sends what the
 * socket takes, holds no more than its buffer, keeps serving others, and
 * drops the reader after the stall timeout. */
START_TEST(test_client_never_reads)
{
	size_t len = 8 << 20;
	uint8_t *data = random_bytes(len);
	blob_serve_opts_t o = { .stall_timeout_ms = 400 };
	struct fetch_job j = { 0 };
	blob_serve_stats_t st;
	char hex[65], req[80], small[65];
	int fd;

	put(data, len, hex);
	put("small", 5, small);
	start(&o);
	ck_assert_int_eq(blob_serve_grant(srv, hex), 0);
	ck_assert_int_eq(blob_serve_grant(srv, small), 0);
	fd = connect_raw();
	snprintf(req, sizeof(req), "sha256:%s\n", hex);
	ck_assert_int_eq(send(fd, req, 72, MSG_NOSIGNAL), 72);
	pump(100);
	blob_serve_get_stats(srv, &st);
	ck_assert_uint_gt(st.bytes, 0);
	ck_assert_uint_lt(st.bytes, len / 2); /* stopped at the socket's buffer */
	ck_assert_uint_eq(blob_serve_connections(srv), 1);
	/* Someone else is served meanwhile. */
	j.hex = small;
	run_fetch(&j);
	ck_assert_int_eq(j.r, 0);
	ck_assert(memcmp(j.data, "small", 5) == 0);
	free(j.data);
	pump(600);
	blob_serve_get_stats(srv, &st);
	ck_assert_uint_eq(st.timed_out, 1);
	ck_assert_uint_eq(blob_serve_connections(srv), 0);
	/* The reader finds the stream cut short: its data ends before 8 MiB. */
	size_t got = 0;
	ssize_t n;
	static uint8_t sink[65536];
	while ((n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0)
		got += (size_t)n;
	ck_assert_int_eq(n, 0);
	ck_assert_uint_lt(got, len);
	close(fd);
	free(data);
}
END_TEST

START_TEST(test_connection_cap)
{
	blob_serve_opts_t o = { .max_connections = 2 };
	struct fetch_job j = { 0 };
	char hex[65];
	int a, b, c;

	put("capped", 6, hex);
	start(&o);
	ck_assert_int_eq(blob_serve_grant(srv, hex), 0);
	a = connect_raw();
	b = connect_raw();
	c = connect_raw(); /* waits in the backlog */
	pump(50);
	ck_assert_uint_eq(blob_serve_connections(srv), 2);
	close(a);
	pump(50);
	ck_assert_uint_eq(blob_serve_connections(srv), 2); /* c got a's slot */
	close(b);
	close(c);
	pump(50);
	ck_assert_uint_eq(blob_serve_connections(srv), 0);
	j.hex = hex;
	run_fetch(&j);
	ck_assert_int_eq(j.r, 0);
	free(j.data);
}
END_TEST

/* The store's file was altered after the put (bit rot, tampering): the
 * server does not hash on its loop, the client's check refuses it. */
START_TEST(test_tampered_blob_refused_by_client)
{
	struct fetch_job j = { 0 };
	char hex[65], path[256];
	int fd;

	put("original bytes", 14, hex);
	snprintf(path, sizeof(path), "%s/%s", blob_store_dir(bs), hex);
	ck_assert_int_eq(chmod(path, 0600), 0);
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "X", 1, 0), 1);
	close(fd);
	start(NULL);
	ck_assert_int_eq(blob_serve_grant(srv, hex), 0);
	j.hex = hex;
	run_fetch(&j);
	ck_assert_int_eq(j.r, -EBADMSG);
	ck_assert_ptr_null(j.data);
}
END_TEST

START_TEST(test_client_limits)
{
	size_t len = 100000;
	uint8_t *data = random_bytes(len);
	struct fetch_job j = { 0 };
	char hex[65];

	put(data, len, hex);
	start(NULL);
	ck_assert_int_eq(blob_serve_grant(srv, hex), 0);
	j.hex = hex;
	j.opts.max_size = len - 1; /* refused from the header, before reading */
	run_fetch(&j);
	ck_assert_int_eq(j.r, -EFBIG);
	j.hex = "not-a-hash";
	run_fetch(&j);
	ck_assert_int_eq(j.r, -EINVAL);
	free(data);
}
END_TEST

START_TEST(test_vsock_path_and_stop)
{
	char vs[160], want[180];
	struct stat st;
	int fd;

	snprintf(vs, sizeof(vs), "%s/vm.vsock", dir);
	snprintf(want, sizeof(want), "%s_1025", vs);
	ck_assert_int_eq(blob_serve_start(ev, bs, vs, NULL, &srv), 0);
	ck_assert_str_eq(blob_serve_path(srv), want);
	ck_assert_int_eq(stat(want, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	/* stop with connections open: all closed, socket file gone */
	strcpy(sock, want);
	fd = connect_raw();
	pump(30);
	ck_assert_uint_eq(blob_serve_connections(srv), 1);
	srv = blob_serve_stop(srv);
	ck_assert_int_eq(stat(want, &st), -1);
	close(fd);
	/* A path too long for sockaddr_un is an error, not a truncation. */
	memset(vs, 'x', sizeof(vs) - 1);
	vs[sizeof(vs) - 1] = '\0';
	ck_assert_int_eq(blob_serve_start(ev, bs, vs, NULL, &srv), -ENAMETOOLONG);
	ck_assert_ptr_null(srv);
}
END_TEST

/* Twelve guests fetching at once, more than max_connections (8): every
 * fetch completes with the right bytes; the cap only queues them. */
START_TEST(test_many_concurrent_fetches)
{
	enum { N = 12 };
	blob_serve_opts_t o = { .max_connections = 8 };
	size_t len = 200 * 1024;
	uint8_t *data = random_bytes(len);
	struct fetch_job j[N];
	pthread_t th[N];
	blob_serve_stats_t st;
	char hex[65];
	uint64_t end;
	bool all;

	put(data, len, hex);
	start(&o);
	ck_assert_int_eq(blob_serve_grant(srv, hex), 0);
	memset(j, 0, sizeof(j));
	for (int i = 0; i < N; i++) {
		j[i].hex = hex;
		ck_assert_int_eq(pthread_create(&th[i], NULL, fetch_thread, &j[i]), 0);
	}
	end = now_ms() + 20000;
	do {
		sd_event_run(ev, 2000);
		ck_assert_uint_le(blob_serve_connections(srv), 8);
		all = true;
		for (int i = 0; i < N; i++)
			all = all && atomic_load(&j[i].done);
	} while (!all && now_ms() < end);
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(j[i].r, 0);
		ck_assert_uint_eq(j[i].len, len);
		ck_assert(memcmp(j[i].data, data, len) == 0);
		free(j[i].data);
	}
	pump(20);
	blob_serve_get_stats(srv, &st);
	ck_assert_uint_eq(st.served, N);
	ck_assert_uint_eq(st.bytes, (uint64_t)N * len);
	free(data);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "serve",
		.timeout = 30,
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_parse_request),
			MVMT_TEST(test_fetch_ok),
			MVMT_TEST(test_empty_blob),
			MVMT_TEST(test_unknown_and_disallowed),
			MVMT_TEST(test_malformed_and_oversize),
			MVMT_TEST(test_half_request_times_out),
			MVMT_TEST(test_client_never_reads),
			MVMT_TEST(test_connection_cap),
			MVMT_TEST(test_many_concurrent_fetches),
			MVMT_TEST(test_tampered_blob_refused_by_client),
			MVMT_TEST(test_client_limits),
			MVMT_TEST(test_vsock_path_and_stop)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "blob_serve", .tcases = tcases)
