/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WASI from inside a guest (wasm32-wasi only, no native twin): imports the
 * whole preview1 namespace, so it instantiates only if every function is
 * bound with the right type, then calls the unsupported and the refusing
 * paths directly and checks each errno against the spec's value.
 * Prints one line per check and exits 1 if any failed.
 */
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

static int failed;

/*
 * Take the address of every preview1 function wasi-libc declares (all but
 * proc_raise, which it leaves out), so the module imports them all.
 */
static volatile uintptr_t sink;

static void import_everything(void)
{
	sink += (uintptr_t)&__wasi_args_get;
	sink += (uintptr_t)&__wasi_args_sizes_get;
	sink += (uintptr_t)&__wasi_environ_get;
	sink += (uintptr_t)&__wasi_environ_sizes_get;
	sink += (uintptr_t)&__wasi_clock_res_get;
	sink += (uintptr_t)&__wasi_clock_time_get;
	sink += (uintptr_t)&__wasi_fd_advise;
	sink += (uintptr_t)&__wasi_fd_allocate;
	sink += (uintptr_t)&__wasi_fd_close;
	sink += (uintptr_t)&__wasi_fd_datasync;
	sink += (uintptr_t)&__wasi_fd_fdstat_get;
	sink += (uintptr_t)&__wasi_fd_fdstat_set_flags;
	sink += (uintptr_t)&__wasi_fd_fdstat_set_rights;
	sink += (uintptr_t)&__wasi_fd_filestat_get;
	sink += (uintptr_t)&__wasi_fd_filestat_set_size;
	sink += (uintptr_t)&__wasi_fd_filestat_set_times;
	sink += (uintptr_t)&__wasi_fd_pread;
	sink += (uintptr_t)&__wasi_fd_prestat_get;
	sink += (uintptr_t)&__wasi_fd_prestat_dir_name;
	sink += (uintptr_t)&__wasi_fd_pwrite;
	sink += (uintptr_t)&__wasi_fd_read;
	sink += (uintptr_t)&__wasi_fd_readdir;
	sink += (uintptr_t)&__wasi_fd_renumber;
	sink += (uintptr_t)&__wasi_fd_seek;
	sink += (uintptr_t)&__wasi_fd_sync;
	sink += (uintptr_t)&__wasi_fd_tell;
	sink += (uintptr_t)&__wasi_fd_write;
	sink += (uintptr_t)&__wasi_path_create_directory;
	sink += (uintptr_t)&__wasi_path_filestat_get;
	sink += (uintptr_t)&__wasi_path_filestat_set_times;
	sink += (uintptr_t)&__wasi_path_link;
	sink += (uintptr_t)&__wasi_path_open;
	sink += (uintptr_t)&__wasi_path_readlink;
	sink += (uintptr_t)&__wasi_path_remove_directory;
	sink += (uintptr_t)&__wasi_path_rename;
	sink += (uintptr_t)&__wasi_path_symlink;
	sink += (uintptr_t)&__wasi_path_unlink_file;
	sink += (uintptr_t)&__wasi_poll_oneoff;
	sink += (uintptr_t)&__wasi_proc_exit;
	sink += (uintptr_t)&__wasi_sched_yield;
	sink += (uintptr_t)&__wasi_random_get;
	sink += (uintptr_t)&__wasi_sock_accept;
	sink += (uintptr_t)&__wasi_sock_recv;
	sink += (uintptr_t)&__wasi_sock_send;
	sink += (uintptr_t)&__wasi_sock_shutdown;
}

static void expect(const char *what, __wasi_errno_t got, __wasi_errno_t want)
{
	printf("%-34s %2u %s\n", what, got, got == want ? "ok" : "FAIL");
	if (got != want)
		failed = 1;
}

int main(void)
{
	char buf[64];
	__wasi_size_t n;
	__wasi_filesize_t off;
	__wasi_fd_t fd;
	__wasi_fdstat_t st;
	__wasi_prestat_t pre;
	__wasi_filestat_t fst;
	__wasi_event_t ev;
	__wasi_subscription_t sub;
	/* Past the end of any memory a wasm32 program can have mapped. */
	void *bad = (void *)(uintptr_t)0xfffffff0u;
	__wasi_ciovec_t iov = { (const uint8_t *)"x", 1 };
	__wasi_ciovec_t badiov = { bad, 8 };

	import_everything();
	memset(&sub, 0, sizeof(sub));
	expect("fd_seek(1) -> SPIPE", __wasi_fd_seek(1, 0, __WASI_WHENCE_CUR, &off), __WASI_ERRNO_SPIPE);
	expect("fd_tell(0) -> SPIPE", __wasi_fd_tell(0, &off), __WASI_ERRNO_SPIPE);
	expect("fd_seek(5) -> BADF", __wasi_fd_seek(5, 0, __WASI_WHENCE_SET, &off), __WASI_ERRNO_BADF);
	expect("fd_prestat_get(3) -> BADF", __wasi_fd_prestat_get(3, &pre), __WASI_ERRNO_BADF);
	expect("fd_prestat_dir_name(3) -> BADF", __wasi_fd_prestat_dir_name(3, (uint8_t *)buf, 8),
	       __WASI_ERRNO_BADF);
	expect("fd_fdstat_get(1)", __wasi_fd_fdstat_get(1, &st), __WASI_ERRNO_SUCCESS);
	expect("fd_fdstat_get(9) -> BADF", __wasi_fd_fdstat_get(9, &st), __WASI_ERRNO_BADF);
	expect("fd_filestat_get(1)", __wasi_fd_filestat_get(1, &fst), __WASI_ERRNO_SUCCESS);
	expect("fd_filestat_set_size(1) -> NOSYS", __wasi_fd_filestat_set_size(1, 0), __WASI_ERRNO_NOSYS);
	expect("fd_filestat_get(4) -> BADF", __wasi_fd_filestat_get(4, &fst), __WASI_ERRNO_BADF);
	expect("path_open(3, ...) -> BADF",
	       __wasi_path_open(3, 0, "etc/passwd", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd),
	       __WASI_ERRNO_BADF);
	expect("path_unlink_file(0) -> NOSYS", __wasi_path_unlink_file(0, "x"), __WASI_ERRNO_NOSYS);
	expect("poll_oneoff(0 subs) -> INVAL", __wasi_poll_oneoff(&sub, &ev, 0, &n), __WASI_ERRNO_INVAL);
	expect("poll_oneoff(bad) -> FAULT", __wasi_poll_oneoff(bad, &ev, 1, &n), __WASI_ERRNO_FAULT);
	expect("sock_accept(3) -> BADF", __wasi_sock_accept(3, 0, &fd), __WASI_ERRNO_BADF);
	expect("fd_write(0) -> BADF", __wasi_fd_write(0, &iov, 1, &n), __WASI_ERRNO_BADF);
	expect("fd_read(1) -> BADF", __wasi_fd_read(1, (const __wasi_iovec_t *)&iov, 1, &n),
	       __WASI_ERRNO_BADF);
	expect("fd_write(bad iovec buf) -> FAULT", __wasi_fd_write(1, &badiov, 1, &n),
	       __WASI_ERRNO_FAULT);
	expect("fd_write(bad iovec array) -> FAULT", __wasi_fd_write(1, bad, 4, &n),
	       __WASI_ERRNO_FAULT);
	expect("fd_write(bad result ptr) -> FAULT", __wasi_fd_write(1, &iov, 1, bad),
	       __WASI_ERRNO_FAULT);
	expect("random_get(bad) -> FAULT", __wasi_random_get(bad, 64), __WASI_ERRNO_FAULT);
	expect("args_sizes_get(bad) -> FAULT", __wasi_args_sizes_get(bad, &n), __WASI_ERRNO_FAULT);
	expect("clock_time_get(bad) -> FAULT",
	       __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, bad), __WASI_ERRNO_FAULT);
	expect("clock_time_get(id 9) -> INVAL", __wasi_clock_time_get(9, 1, &off), __WASI_ERRNO_INVAL);
	expect("sched_yield", __wasi_sched_yield(), __WASI_ERRNO_SUCCESS);
	fflush(stdout);
	expect("fd_close(2)", __wasi_fd_close(2), __WASI_ERRNO_SUCCESS);
	expect("fd_write(2) after close -> BADF", __wasi_fd_write(2, &iov, 1, &n), __WASI_ERRNO_BADF);
	printf("%s\n", failed ? "some checks FAILED" : "all checks ok");
	return failed;
}
