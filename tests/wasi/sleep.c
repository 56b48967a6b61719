/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sleeping through poll_oneoff (wasm32-wasi only): nanosleep() and a
 * direct poll must wait at least as long as asked on the monotonic clock,
 * and an fd_write subscription on stdout must be ready at once.
 *
 *   sleep [MS]   sleeps MS milliseconds (default 30) each way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <wasi/api.h>

static long long mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 30;
	struct timespec req = { ms / 1000, (ms % 1000) * 1000000 };
	__wasi_subscription_t sub[2] = { 0 };
	__wasi_event_t ev[2];
	__wasi_size_t n = 0;
	int failed = 0;

	long long t0 = mono_ns();
	if (nanosleep(&req, NULL) != 0) {
		perror("nanosleep");
		printf("nanosleep: FAIL\n");
		return 1;
	}
	long long t1 = mono_ns();
	printf("nanosleep(%ld ms): %s\n", ms, t1 - t0 >= ms * 1000000LL ? "ok" : "FAIL (too short)");
	failed |= t1 - t0 < ms * 1000000LL;

	sub[0].userdata = 11;
	sub[0].u.tag = __WASI_EVENTTYPE_CLOCK;
	sub[0].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
	sub[0].u.u.clock.timeout = (__wasi_timestamp_t)ms * 1000000;
	__wasi_errno_t e = __wasi_poll_oneoff(sub, ev, 1, &n);
	long long t2 = mono_ns();
	int ok = e == 0 && n == 1 && ev[0].userdata == 11 && ev[0].type == __WASI_EVENTTYPE_CLOCK &&
		 t2 - t1 >= ms * 1000000LL;
	printf("poll clock: %s\n", ok ? "ok" : "FAIL");
	failed |= !ok;

	sub[1].userdata = 22;
	sub[1].u.tag = __WASI_EVENTTYPE_FD_WRITE;
	sub[1].u.u.fd_write.file_descriptor = 1;
	sub[0].u.u.clock.timeout = 60ull * 1000000000; /* a minute: must not wait */
	e = __wasi_poll_oneoff(sub, ev, 2, &n);
	long long t3 = mono_ns();
	ok = e == 0 && n == 1 && ev[0].userdata == 22 && ev[0].type == __WASI_EVENTTYPE_FD_WRITE &&
	     t3 - t2 < 10000000000LL;
	printf("poll stdout: %s\n", ok ? "ok" : "FAIL");
	failed |= !ok;
	return failed;
}
