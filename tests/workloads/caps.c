/* Tries every capability-guarded call and prints what each returned, so a
 * test can see grants and denials (76 = notcapable). */
#include <stdio.h>
#include <wasi/api.h>

int main(void)
{
	uint8_t buf[8];
	__wasi_timestamp_t t;
	__wasi_size_t n1, n2;
	__wasi_errno_t e;

	e = __wasi_random_get(buf, sizeof(buf));
	printf("random_get: %d\n", e);
	e = __wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &t);
	printf("clock_time_get: %d\n", e);
	e = __wasi_args_sizes_get(&n1, &n2);
	printf("args_sizes_get: %d\n", e);
	e = __wasi_environ_sizes_get(&n1, &n2);
	printf("environ_sizes_get: %d\n", e);
	__wasi_ciovec_t iov = { (const uint8_t *)"stderr line\n", 12 };
	__wasi_size_t nw;
	e = __wasi_fd_write(2, &iov, 1, &nw);
	printf("fd_write(2): %d\n", e);
	__wasi_iovec_t riov = { buf, 0 };
	__wasi_size_t nr;
	e = __wasi_fd_read(0, &riov, 1, &nr);
	printf("fd_read(0): %d\n", e);
	return 0;
}
