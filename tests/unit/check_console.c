/* SPDX-License-Identifier: Apache-2.0 */
/* The console relay on a real sd-event loop and real sockets. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "console.h"
#include "util/fs.h"
#include "util/macro.h"
#include "mvmt-main.h"

static char dir[64], sock[128], logp[128];
static sd_event *ev;
static char input[256];
static size_t input_len;

static int on_input(const void *buf, size_t len, void *userdata)
{
	memcpy(input + input_len, buf, MIN(len, sizeof(input) - input_len));
	input_len += MIN(len, sizeof(input) - input_len);
	return 0;
}

static void setup(void)
{
	strcpy(dir, "/tmp/mvm-console-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/c.sock", dir);
	snprintf(logp, sizeof(logp), "%s/console.log", dir);
	ck_assert_int_ge(sd_event_new(&ev), 0);
	input_len = 0;
}

static void teardown(void)
{
	sd_event_unref(ev);
	rm_rf_at(AT_FDCWD, dir);
}

static void spin(int ms)
{
	for (int i = 0; i < ms; i++)
		sd_event_run(ev, 1000);
}

static int client(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

START_TEST(test_broadcast_input_and_log)
{
	console_t *c;
	console_config_t cfg = { .socket_path = sock, .log_path = logp, .on_input = on_input };
	ck_assert_int_eq(console_new(ev, &cfg, &c), 0);
	struct stat st;
	ck_assert_int_eq(stat(sock, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	console_output(c, "early\n", 6); /* before anyone attached: only in the log */
	int a = client(), b = client();
	spin(20);
	ck_assert_uint_eq(console_n_clients(c), 2);
	console_output(c, "both\n", 5);
	spin(20);
	char buf[64];
	ck_assert_int_eq(read(a, buf, sizeof(buf)), 5);
	ck_assert_int_eq(read(b, buf, sizeof(buf)), 5);
	ck_assert(memcmp(buf, "both\n", 5) == 0);

	ck_assert_int_eq(write(b, "typed", 5), 5);
	spin(20);
	ck_assert_uint_eq(input_len, 5);
	ck_assert(memcmp(input, "typed", 5) == 0);

	close(a);
	spin(20);
	ck_assert_uint_eq(console_n_clients(c), 1);

	char *data;
	size_t len;
	uint64_t size;
	ck_assert_int_eq(console_log_read(logp, 1000, &data, &len, &size), 0);
	ck_assert_str_eq(data, "early\nboth\n");
	ck_assert_uint_eq(size, 11);
	free(data);
	console_free(c);
	ck_assert_int_eq(access(sock, F_OK), -1); /* socket gone, log stays */
	ck_assert_int_eq(access(logp, F_OK), 0);
	close(b);
}
END_TEST

START_TEST(test_log_cap_keeps_the_tail)
{
	console_t *c;
	console_config_t cfg = { .socket_path = sock, .log_path = logp, .log_max_bytes = 1000 };
	ck_assert_int_eq(console_new(ev, &cfg, &c), 0);
	char line[16];
	for (int i = 0; i < 1000; i++) {
		snprintf(line, sizeof(line), "%09d\n", i); /* 10 bytes */
		console_output(c, line, 10);
	}
	char *data;
	size_t len;
	uint64_t size;
	ck_assert_int_eq(console_log_read(logp, 1u << 20, &data, &len, &size), 0);
	ck_assert_uint_le(size, 1000);
	ck_assert_uint_ge(size, 500);
	ck_assert_uint_eq(len, size);
	/* the newest line is last, and the tail is contiguous */
	ck_assert_str_eq(data + len - 10, "000000999\n");
	int first = atoi(data);
	for (size_t off = 0; off < len; off += 10)
		ck_assert_int_eq(atoi(data + off), first + (int)(off / 10));
	free(data);
	ck_assert_int_eq(console_log_read(logp, 25, &data, &len, &size), 0);
	ck_assert_uint_eq(len, 25);
	ck_assert(memcmp(data + 15, "000000999\n", 10) == 0);
	free(data);
	console_free(c);
}
END_TEST

START_TEST(test_slow_client_is_dropped)
{
	console_t *c;
	console_config_t cfg = { .socket_path = sock, .log_path = logp, .client_queue_max = 64 << 10 };
	ck_assert_int_eq(console_new(ev, &cfg, &c), 0);
	int slow = client();
	spin(20);
	ck_assert_uint_eq(console_n_clients(c), 1);
	char chunk[4096];
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 1024; i++) /* 4 MiB that nobody reads */
		console_output(c, chunk, sizeof(chunk));
	ck_assert_uint_eq(console_n_clients(c), 0);
	console_free(c);
	close(slow);
}
END_TEST

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* mvmd serves thousands of idle consoles: their logs hold no fd each
 * (docs/density.md), yet every byte lands in the right log. */
START_TEST(test_idle_consoles_hold_no_log_fds)
{
	enum { N = 200 };
	console_t *c[N];
	char s[N][160], l[N][160], line[32];
	int base = count_fds();

	for (int i = 0; i < N; i++) {
		snprintf(s[i], sizeof(s[i]), "%s/c%d.sock", dir, i);
		snprintf(l[i], sizeof(l[i]), "%s/c%d.log", dir, i);
		console_config_t cfg = { .socket_path = s[i], .log_path = l[i], .log_max_bytes = 64 };
		ck_assert_int_eq(console_new(ev, &cfg, &c[i]), 0);
	}
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < N; i++) {
			snprintf(line, sizeof(line), "%c%d\n", 'a' + round, i);
			console_output(c[i], line, strlen(line));
		}
	/* One listening socket each; logs only for the last writers. */
	ck_assert_int_le(count_fds() - base, N + 32);
	for (int i = 0; i < N; i++) {
		char *data, want[64];
		size_t len;
		snprintf(want, sizeof(want), "a%d\nb%d\nc%d\n", i, i, i);
		ck_assert_int_eq(console_log_read(l[i], 4096, &data, &len, NULL), 0);
		ck_assert_str_eq(data, want);
		free(data);
		console_free(c[i]);
	}
	ck_assert_int_eq(count_fds(), base);
}
END_TEST

/* A client someone else accepted (a kvm worker hands them over). */
START_TEST(test_handed_client)
{
	console_t *c;
	console_config_t cfg = { .log_path = logp, .on_input = on_input };
	int sp[2], pp[2];
	char buf[16];

	ck_assert_int_eq(console_new(ev, &cfg, &c), 0);
	ck_assert_int_eq(access(sock, F_OK), -1); /* it listens on nothing */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	ck_assert_int_eq(console_add_client(c, sp[1]), 0);
	ck_assert_uint_eq(console_n_clients(c), 1);
	console_output(c, "out\n", 4);
	ck_assert_int_eq(read(sp[0], buf, sizeof(buf)), 4);
	ck_assert_int_eq(write(sp[0], "in", 2), 2);
	spin(20);
	ck_assert_int_eq(input_len, 2);
	/* Anything but a stream socket is refused, and closed. */
	ck_assert_int_eq(pipe2(pp, O_CLOEXEC), 0);
	ck_assert_int_eq(console_add_client(c, pp[0]), -EBADF);
	ck_assert_int_eq(fcntl(pp[0], F_GETFD), -1);
	close(pp[1]);
	console_free(c);
	/* the client sees the end */
	ck_assert_int_eq(read(sp[0], buf, sizeof(buf)), 0);
	close(sp[0]);
}
END_TEST

START_TEST(test_no_log_yet)
{
	char *data;
	size_t len;
	ck_assert_int_eq(console_log_read(logp, 10, &data, &len, NULL), -ENOENT);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "core",
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_broadcast_input_and_log),
			MVMT_TEST(test_log_cap_keeps_the_tail),
			MVMT_TEST(test_slow_client_is_dropped),
			MVMT_TEST(test_no_log_yet),
			MVMT_TEST(test_idle_consoles_hold_no_log_fds),
			MVMT_TEST(test_handed_client)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "console", .tcases = tcases)
