/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The WASI preview1 layer on its own: a fake host records what reaches
 * it, guest memory is a plain buffer. Checks layouts, refusals (fault,
 * capability, bad fd, unsupported) and that a refused call has no effect.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "wasm/wasi.h"
#include "wasm/wasi-posix.h"
#include "mvmt-main.h"

#define MEM_SIZE 4096

static uint8_t membuf[MEM_SIZE];
static wasi_mem mem;
static wasi_ctx ctx;

struct fake {
	char out[2][256]; /* what reached fd 1 and fd 2 */
	size_t outlen[2];
	size_t short_after; /* writev returns at most this many bytes (0 = no cap) */
	const char *in; /* stdin contents */
	size_t inpos;
	int calls; /* host calls of any kind */
	int tty;
};
static struct fake fake;

static int64_t fake_writev(void *user, int fd, const wasi_iovec *iov, int n)
{
	struct fake *f = user;
	size_t done = 0;

	f->calls++;
	ck_assert(fd == 1 || fd == 2);
	for (int i = 0; i < n; i++) {
		ck_assert_uint_gt(iov[i].len, 0);
		for (size_t k = 0; k < iov[i].len; k++) {
			if (f->short_after && done == f->short_after)
				return (int64_t)done;
			f->out[fd - 1][f->outlen[fd - 1]++] = ((char *)iov[i].buf)[k];
			done++;
		}
	}
	return (int64_t)done;
}

static int64_t fake_readv(void *user, int fd, const wasi_iovec *iov, int n)
{
	struct fake *f = user;
	size_t done = 0;

	f->calls++;
	ck_assert_int_eq(fd, 0);
	for (int i = 0; i < n; i++) {
		ck_assert_uint_gt(iov[i].len, 0);
		for (size_t k = 0; k < iov[i].len && f->in[f->inpos]; k++, done++)
			((char *)iov[i].buf)[k] = f->in[f->inpos++];
	}
	return (int64_t)done;
}

static int fake_clock_time(void *user, uint32_t id, uint64_t *ret)
{
	((struct fake *)user)->calls++;
	*ret = 0x0102030405060708ull + id;
	return 0;
}

static int fake_clock_res(void *user, uint32_t id, uint64_t *ret)
{
	((struct fake *)user)->calls++;
	*ret = 1000;
	return 0;
}

static int fake_random(void *user, void *buf, size_t len)
{
	((struct fake *)user)->calls++;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(0xa0 + i);
	return 0;
}

static int fake_isatty(void *user, int fd)
{
	return ((struct fake *)user)->tty;
}

static const wasi_host fake_host = {
	.writev = fake_writev,
	.readv = fake_readv,
	.clock_time = fake_clock_time,
	.clock_res = fake_clock_res,
	.random = fake_random,
	.isatty = fake_isatty,
	.user = &fake,
};

static const char *const test_argv[] = { "prog", "a b", "" };
static const char *const test_envp[] = { "HOME=/x", "EMPTY=" };

static void setup_caps(uint32_t caps)
{
	memset(membuf, 0x55, sizeof(membuf));
	memset(&fake, 0, sizeof(fake));
	mem = (wasi_mem){ membuf, MEM_SIZE };
	wasi_ctx_init(&ctx, &fake_host, caps, 3, test_argv, 2, test_envp);
}

static void setup(void)
{
	setup_caps(WASI_CAP_ALL);
}

static uint32_t rd32(uint32_t a)
{
	uint32_t v;
	memcpy(&v, membuf + a, 4);
	return v;
}

static uint64_t rd64(uint32_t a)
{
	uint64_t v;
	memcpy(&v, membuf + a, 8);
	return v;
}

static void wr32(uint32_t a, uint32_t v)
{
	memcpy(membuf + a, &v, 4);
}

/* Place an iovec array at `at` from (addr,len) pairs. */
static void iovs(uint32_t at, int n, const uint32_t *pairs)
{
	for (int i = 0; i < 2 * n; i++)
		wr32(at + 4 * i, pairs[i]);
}

START_TEST(test_args_layout)
{
	ck_assert_uint_eq(wasi_args_sizes_get(&ctx, &mem, 0, 4), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd32(0), 3);
	ck_assert_uint_eq(rd32(4), 5 + 4 + 1);
	ck_assert_uint_eq(wasi_args_get(&ctx, &mem, 100, 200), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd32(100), 200);
	ck_assert_uint_eq(rd32(104), 205);
	ck_assert_uint_eq(rd32(108), 209);
	ck_assert_mem_eq(membuf + 200, "prog\0a b\0\0", 10);
	ck_assert_uint_eq(membuf[210], 0x55); /* nothing past the buffer */
}
END_TEST

START_TEST(test_env_layout)
{
	ck_assert_uint_eq(wasi_environ_sizes_get(&ctx, &mem, 8, 12), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd32(8), 2);
	ck_assert_uint_eq(rd32(12), 8 + 7);
	ck_assert_uint_eq(wasi_environ_get(&ctx, &mem, 300, 400), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd32(300), 400);
	ck_assert_uint_eq(rd32(304), 408);
	ck_assert_mem_eq(membuf + 400, "HOME=/x\0EMPTY=\0", 15);
}
END_TEST

START_TEST(test_bad_pointers_fault)
{
	/* Exactly at the end is fine, one byte over faults. */
	ck_assert_uint_eq(wasi_args_sizes_get(&ctx, &mem, MEM_SIZE - 4, 0), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(wasi_args_sizes_get(&ctx, &mem, MEM_SIZE - 3, 0), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_args_sizes_get(&ctx, &mem, 0xffffffffu, 0), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_args_get(&ctx, &mem, 0, MEM_SIZE - 10), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(wasi_args_get(&ctx, &mem, 0, MEM_SIZE - 9), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_args_get(&ctx, &mem, MEM_SIZE - 8, 0), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_environ_get(&ctx, &mem, 0, 0xfffffff0u), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_clock_time_get(&ctx, &mem, 1, 0, MEM_SIZE - 7), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_clock_res_get(&ctx, &mem, 1, MEM_SIZE), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_random_get(&ctx, &mem, MEM_SIZE - 16, 17), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_random_get(&ctx, &mem, 16, 0xffffffffu), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_fd_fdstat_get(&ctx, &mem, 1, MEM_SIZE - 23), WASI_ERRNO_FAULT);
	ck_assert_int_eq(fake.calls, 0); /* no host call for a faulting request */
}
END_TEST

START_TEST(test_fd_write_fault_writes_nothing)
{
	memcpy(membuf + 512, "hello", 5);
	/* Second iovec runs past the end: the whole call faults, no output. */
	iovs(64, 2, (uint32_t[]){ 512, 5, MEM_SIZE - 2, 3 });
	ck_assert_uint_eq(wasi_fd_write(&ctx, &mem, 1, 64, 2, 32), WASI_ERRNO_FAULT);
	/* The iovec array itself out of range. */
	ck_assert_uint_eq(wasi_fd_write(&ctx, &mem, 1, MEM_SIZE - 8, 2, 32), WASI_ERRNO_FAULT);
	/* Result pointer out of range. */
	iovs(64, 1, (uint32_t[]){ 512, 5 });
	ck_assert_uint_eq(wasi_fd_write(&ctx, &mem, 1, 64, 1, MEM_SIZE - 2), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_fd_read(&ctx, &mem, 0, 64, 1, MEM_SIZE), WASI_ERRNO_FAULT);
	ck_assert_int_eq(fake.calls, 0);
	ck_assert_uint_eq(fake.outlen[0], 0);
}
END_TEST

START_TEST(test_fd_write_gather)
{
	memcpy(membuf + 512, "hello, ", 7);
	memcpy(membuf + 600, "world\n", 6);
	iovs(64, 3, (uint32_t[]){ 512, 7, 700, 0, 600, 6 });
	ck_assert_uint_eq(wasi_fd_write(&ctx, &mem, 1, 64, 3, 32), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd32(32), 13);
	ck_assert_uint_eq(fake.outlen[0], 13);
	ck_assert_mem_eq(fake.out[0], "hello, world\n", 13);
	ck_assert_int_eq(fake.calls, 1); /* one host call for the batch */
	ck_assert_uint_eq(wasi_fd_write(&ctx, &mem, 2, 64, 1, 32), WASI_ERRNO_SUCCESS);
	ck_assert_mem_eq(fake.out[1], "hello, ", 7);
}
END_TEST

START_TEST(test_fd_write_many_iovecs_and_short)
{
	/* 40 iovecs of one byte each cross the 16-iovec batches. */
	for (int i = 0; i < 40; i++) {
		membuf[1000 + i] = (uint8_t)('A' + i % 26);
		iovs(64 + 8 * i, 1, (uint32_t[]){ 1000 + i, 1 });
	}
	ck_assert_uint_eq(wasi_fd_write(&ctx, &mem, 1, 64, 40, 32), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd32(32), 40);
	ck_assert_mem_eq(fake.out[0], membuf + 1000, 40);
	ck_assert_int_eq(fake.calls, 3);
	/* A short write is reported as such, and later batches are not sent. */
	memset(&fake, 0, sizeof(fake));
	fake.short_after = 10;
	ck_assert_uint_eq(wasi_fd_write(&ctx, &mem, 1, 64, 40, 32), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd32(32), 10);
	ck_assert_int_eq(fake.calls, 1);
}
END_TEST

START_TEST(test_fd_read_skips_empty_iovec)
{
	/* wasi-libc stdio reads with an empty first iovec: that is not EOF. */
	fake.in = "line one\nrest";
	iovs(64, 2, (uint32_t[]){ 512, 0, 600, 64 });
	ck_assert_uint_eq(wasi_fd_read(&ctx, &mem, 0, 64, 2, 32), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd32(32), 13);
	ck_assert_mem_eq(membuf + 600, "line one\nrest", 13);
	ck_assert_uint_eq(wasi_fd_read(&ctx, &mem, 0, 64, 2, 32), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd32(32), 0); /* now EOF */
	ck_assert_uint_eq(wasi_fd_read(&ctx, &mem, 1, 64, 2, 32), WASI_ERRNO_BADF);
	ck_assert_uint_eq(wasi_fd_write(&ctx, &mem, 0, 64, 2, 32), WASI_ERRNO_BADF);
}
END_TEST

START_TEST(test_denied_capabilities)
{
	setup_caps(WASI_CAP_STDOUT); /* only stdout */
	memcpy(membuf + 512, "secret", 6);
	iovs(64, 1, (uint32_t[]){ 512, 6 });
	wr32(32, 0xdeadbeef);
	ck_assert_uint_eq(wasi_fd_write(&ctx, &mem, 2, 64, 1, 32), WASI_ERRNO_NOTCAPABLE);
	ck_assert_uint_eq(wasi_fd_read(&ctx, &mem, 0, 64, 1, 32), WASI_ERRNO_NOTCAPABLE);
	ck_assert_uint_eq(wasi_clock_time_get(&ctx, &mem, 0, 0, 32), WASI_ERRNO_NOTCAPABLE);
	ck_assert_uint_eq(wasi_clock_res_get(&ctx, &mem, 1, 32), WASI_ERRNO_NOTCAPABLE);
	ck_assert_uint_eq(wasi_random_get(&ctx, &mem, 32, 4), WASI_ERRNO_NOTCAPABLE);
	ck_assert_int_eq(fake.calls, 0);
	ck_assert_uint_eq(rd32(32), 0xdeadbeef); /* nothing written */
	/* The granted one works. */
	ck_assert_uint_eq(wasi_fd_write(&ctx, &mem, 1, 64, 1, 32), WASI_ERRNO_SUCCESS);
	ck_assert_mem_eq(fake.out[0], "secret", 6);
	/* Denial is checked before memory: even a bad pointer says NOTCAPABLE. */
	ck_assert_uint_eq(wasi_random_get(&ctx, &mem, MEM_SIZE, 99), WASI_ERRNO_NOTCAPABLE);
}
END_TEST

/*
 * Denied args and env are not refused (libc exits 71 before main on any
 * error there) but narrowed: argv = [argv[0]], an empty environment.
 */
START_TEST(test_denied_args_env_narrow)
{
	setup_caps(WASI_CAP_ALL & ~(WASI_CAP_ARGS | WASI_CAP_ENV));
	ck_assert_uint_eq(wasi_args_sizes_get(&ctx, &mem, 0, 4), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd32(0), 1);
	ck_assert_uint_eq(rd32(4), 5);
	ck_assert_uint_eq(wasi_args_get(&ctx, &mem, 100, 200), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd32(100), 200);
	ck_assert_uint_eq(rd32(104), 0x55555555); /* no second pointer */
	ck_assert_mem_eq(membuf + 200, "prog\0", 5);
	ck_assert_uint_eq(membuf[205], 0x55); /* nothing of "a b" */
	ck_assert_uint_eq(wasi_environ_sizes_get(&ctx, &mem, 8, 12), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd32(8), 0);
	ck_assert_uint_eq(rd32(12), 0);
	ck_assert_uint_eq(wasi_environ_get(&ctx, &mem, 300, 400), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd32(300), 0x55555555);
	ck_assert_uint_eq(membuf[400], 0x55);
	/* pointers are still checked */
	ck_assert_uint_eq(wasi_args_sizes_get(&ctx, &mem, MEM_SIZE - 3, 0), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_environ_sizes_get(&ctx, &mem, 0, MEM_SIZE), WASI_ERRNO_FAULT);
	ck_assert_int_eq(fake.calls, 0);
	/* a context without any argument stays without */
	wasi_ctx_init(&ctx, &fake_host, WASI_CAP_ALL & ~WASI_CAP_ARGS, 0, NULL, 0, NULL);
	ck_assert_uint_eq(wasi_args_sizes_get(&ctx, &mem, 0, 4), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd32(0), 0);
	ck_assert_uint_eq(rd32(4), 0);
}
END_TEST

START_TEST(test_exit_status)
{
	/* a u32 as an 8-bit process status: saturated, never wrapped to 0 */
	ck_assert_int_eq(wasi_exit_status(0), 0);
	ck_assert_int_eq(wasi_exit_status(1), 1);
	ck_assert_int_eq(wasi_exit_status(255), 255);
	ck_assert_int_eq(wasi_exit_status(256), 255);
	ck_assert_int_eq(wasi_exit_status(65536), 255);
	ck_assert_int_eq(wasi_exit_status(0x80000000u), 255);
	ck_assert_int_eq(wasi_exit_status(UINT32_MAX), 255);
}
END_TEST

START_TEST(test_fdstat)
{
	fake.tty = 0;
	ck_assert_uint_eq(wasi_fd_fdstat_get(&ctx, &mem, 1, 64), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(membuf[64], WASI_FILETYPE_UNKNOWN);
	ck_assert_uint_eq(membuf[66] | membuf[67] << 8, 0);
	ck_assert_uint_eq(rd64(72) & WASI_RIGHT_FD_WRITE, WASI_RIGHT_FD_WRITE);
	ck_assert_uint_eq(rd64(72) & (WASI_RIGHT_FD_SEEK | WASI_RIGHT_FD_TELL), 0);
	ck_assert_uint_eq(rd64(80), 0);
	fake.tty = 1;
	ck_assert_uint_eq(wasi_fd_fdstat_get(&ctx, &mem, 0, 64), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(membuf[64], WASI_FILETYPE_CHARACTER_DEVICE);
	ck_assert_uint_eq(rd64(72) & WASI_RIGHT_FD_READ, WASI_RIGHT_FD_READ);
	ck_assert_uint_eq(wasi_fd_fdstat_get(&ctx, &mem, 3, 64), WASI_ERRNO_BADF);
	/* A stream that is not granted shows no read/write right. */
	setup_caps(WASI_CAP_ALL & ~WASI_CAP_STDERR);
	ck_assert_uint_eq(wasi_fd_fdstat_get(&ctx, &mem, 2, 64), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd64(72) & WASI_RIGHT_FD_WRITE, 0);
}
END_TEST

START_TEST(test_seek_prestat_close)
{
	for (uint32_t fd = 0; fd <= 2; fd++) {
		ck_assert_uint_eq(wasi_fd_seek(&ctx, &mem, fd, 0, 0, 32), WASI_ERRNO_SPIPE);
		ck_assert_uint_eq(wasi_fd_tell(&ctx, &mem, fd, 32), WASI_ERRNO_SPIPE);
		ck_assert_uint_eq(wasi_fd_prestat_get(&ctx, &mem, fd, 32), WASI_ERRNO_BADF);
	}
	ck_assert_uint_eq(wasi_fd_seek(&ctx, &mem, 3, 0, 0, 32), WASI_ERRNO_BADF);
	ck_assert_uint_eq(wasi_fd_prestat_get(&ctx, &mem, 3, 32), WASI_ERRNO_BADF);
	ck_assert_uint_eq(wasi_fd_close(&ctx, &mem, 1), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(wasi_fd_close(&ctx, &mem, 1), WASI_ERRNO_BADF);
	ck_assert_uint_eq(wasi_fd_close(&ctx, &mem, 7), WASI_ERRNO_BADF);
	iovs(64, 1, (uint32_t[]){ 512, 1 });
	ck_assert_uint_eq(wasi_fd_write(&ctx, &mem, 1, 64, 1, 32), WASI_ERRNO_BADF);
	ck_assert_uint_eq(wasi_fd_seek(&ctx, &mem, 1, 0, 0, 32), WASI_ERRNO_BADF);
	ck_assert_int_eq(fake.calls, 0);
}
END_TEST

START_TEST(test_clocks_random)
{
	ck_assert_uint_eq(wasi_clock_time_get(&ctx, &mem, 1, 1000, 40), WASI_ERRNO_SUCCESS);
	/* Little-endian in guest memory, whatever the host order. */
	ck_assert_uint_eq(membuf[40], 0x09);
	ck_assert_uint_eq(membuf[47], 0x01);
	ck_assert_uint_eq(wasi_clock_time_get(&ctx, &mem, 4, 0, 40), WASI_ERRNO_INVAL);
	ck_assert_uint_eq(wasi_clock_res_get(&ctx, &mem, 0, 48), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd64(48), 1000);
	ck_assert_uint_eq(wasi_random_get(&ctx, &mem, 100, 8), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(membuf[100], 0xa0);
	ck_assert_uint_eq(membuf[107], 0xa7);
	ck_assert_uint_eq(membuf[108], 0x55);
}
END_TEST

static uint32_t dispatch(const char *name, const uint64_t *a)
{
	int i = wasi_func_lookup(name);
	ck_assert_msg(i >= 0, "%s not bound", name);
	return wasi_dispatch(&ctx, &mem, (uint32_t)i, a);
}

START_TEST(test_dispatch_namespace)
{
	static const char *const all[] = {
		"args_get", "args_sizes_get", "environ_get", "environ_sizes_get", "clock_res_get",
		"clock_time_get", "fd_advise", "fd_allocate", "fd_close", "fd_datasync",
		"fd_fdstat_get", "fd_fdstat_set_flags", "fd_fdstat_set_rights", "fd_filestat_get",
		"fd_filestat_set_size", "fd_filestat_set_times", "fd_pread", "fd_prestat_get",
		"fd_prestat_dir_name", "fd_pwrite", "fd_read", "fd_readdir", "fd_renumber", "fd_seek",
		"fd_sync", "fd_tell", "fd_write", "path_create_directory", "path_filestat_get",
		"path_filestat_set_times", "path_link", "path_open", "path_readlink",
		"path_remove_directory", "path_rename", "path_symlink", "path_unlink_file",
		"poll_oneoff", "proc_exit", "proc_raise", "sched_yield", "random_get", "sock_accept",
		"sock_recv", "sock_send", "sock_shutdown",
	};
	ck_assert_uint_eq(sizeof(all) / sizeof(all[0]), WASI_NFUNCS);
	for (size_t i = 0; i < WASI_NFUNCS; i++)
		ck_assert_int_ge(wasi_func_lookup(all[i]), 0);
	ck_assert_int_eq(wasi_func_lookup("fd_write2"), -1);
	ck_assert_int_eq(wasi_func_lookup("fd_writ"), -1);
	ck_assert_str_eq(wasi_funcs[wasi_func_lookup("clock_time_get")].params, "iIi");
	ck_assert_str_eq(wasi_funcs[wasi_func_lookup("path_open")].params, "iiiiiIIii");
	ck_assert(!wasi_funcs[wasi_func_lookup("proc_exit")].has_result);

	/* Unsupported: BADF for a fd that does not exist, else NOSYS. */
	ck_assert_uint_eq(dispatch("path_open", (uint64_t[]){ 3, 0, 0, 0, 0, 0, 0, 0, 64 }),
			  WASI_ERRNO_BADF);
	ck_assert_uint_eq(dispatch("path_open", (uint64_t[]){ 1, 0, 0, 0, 0, 0, 0, 0, 64 }),
			  WASI_ERRNO_NOSYS);
	ck_assert_uint_eq(dispatch("fd_filestat_get", (uint64_t[]){ 9, 64 }), WASI_ERRNO_BADF);
	ck_assert_uint_eq(dispatch("fd_filestat_get", (uint64_t[]){ 1, 64 }), WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(membuf[64 + 16], WASI_FILETYPE_UNKNOWN);
	ck_assert_uint_eq(rd64(64 + 24), 1); /* nlink */
	ck_assert_uint_eq(rd64(64 + 32), 0); /* size */
	ck_assert_uint_eq(dispatch("fd_filestat_get", (uint64_t[]){ 1, MEM_SIZE - 63 }),
			  WASI_ERRNO_FAULT);
	ck_assert_uint_eq(dispatch("fd_filestat_set_size", (uint64_t[]){ 1, 0 }), WASI_ERRNO_NOSYS);
	ck_assert_uint_eq(dispatch("path_symlink", (uint64_t[]){ 0, 0, 5, 0, 0 }), WASI_ERRNO_BADF);
	ck_assert_uint_eq(dispatch("fd_renumber", (uint64_t[]){ 1, 4 }), WASI_ERRNO_BADF);
	ck_assert_uint_eq(dispatch("poll_oneoff", (uint64_t[]){ 0, 64, 0, 32 }), WASI_ERRNO_INVAL);
	ck_assert_uint_eq(dispatch("path_readlink", (uint64_t[]){ 1, 0, 0, 0, 0, 32 }),
			  WASI_ERRNO_NOSYS);
	ck_assert_uint_eq(dispatch("sock_accept", (uint64_t[]){ 3, 0, 0 }), WASI_ERRNO_BADF);
	ck_assert_uint_eq(dispatch("proc_raise", (uint64_t[]){ 6 }), WASI_ERRNO_NOSYS);
	ck_assert_uint_eq(dispatch("fd_pwrite", (uint64_t[]){ 1, 0, 0, 0, 64 }), WASI_ERRNO_SPIPE);
	ck_assert_uint_eq(dispatch("fd_prestat_dir_name", (uint64_t[]){ 3, 64, 8 }),
			  WASI_ERRNO_BADF);
	ck_assert_uint_eq(dispatch("sched_yield", NULL), WASI_ERRNO_SUCCESS);
	/* The i64 argument of clock_time_get sits in the middle. */
	ck_assert_uint_eq(dispatch("clock_time_get", (uint64_t[]){ 0, UINT64_MAX, 200 }),
			  WASI_ERRNO_SUCCESS);
	ck_assert_uint_eq(rd64(200), 0x0102030405060708ull);
	ck_assert_uint_eq(wasi_dispatch(&ctx, &mem, WASI_NFUNCS, NULL), WASI_ERRNO_NOSYS);

	ck_assert(!ctx.exited);
	ck_assert_uint_eq(dispatch("proc_exit", (uint64_t[]){ 42 }), WASI_DISPATCH_EXIT);
	ck_assert(ctx.exited);
	ck_assert_uint_eq(ctx.exit_code, 42);
}
END_TEST

START_TEST(test_no_memory)
{
	/* A module without memory: every pointer faults, nothing crashes. */
	mem = (wasi_mem){ NULL, 0 };
	ck_assert_uint_eq(wasi_args_sizes_get(&ctx, &mem, 0, 0), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_random_get(&ctx, &mem, 0, 0), WASI_ERRNO_FAULT);
	ck_assert_uint_eq(wasi_fd_write(&ctx, &mem, 1, 0, 0, 0), WASI_ERRNO_FAULT);
	ck_assert_int_eq(fake.calls, 0);
}
END_TEST

START_TEST(test_caps_names)
{
	ck_assert_uint_eq(wasi_cap_from_string("stdout"), WASI_CAP_STDOUT);
	ck_assert_uint_eq(wasi_cap_from_string("args"), WASI_CAP_ARGS);
	ck_assert_uint_eq(wasi_cap_from_string("all"), WASI_CAP_ALL);
	ck_assert_uint_eq(wasi_cap_from_string("network"), 0);
	ck_assert_str_eq(wasi_cap_to_string(WASI_CAP_RANDOM), "random");
	ck_assert_ptr_null(wasi_cap_to_string(WASI_CAP_ALL));
}
END_TEST

/* The POSIX host bindings against the real OS. */
START_TEST(test_posix_host)
{
	wasi_ctx pctx;
	int p[2], saved;
	char got[16];

	memset(membuf, 0, sizeof(membuf));
	wasi_ctx_init(&pctx, &wasi_host_posix, WASI_CAP_ALL, 0, NULL, 0, NULL);
	ck_assert_uint_eq(wasi_random_get(&pctx, &mem, 100, 64), WASI_ERRNO_SUCCESS);
	int zero = 0;
	for (int i = 0; i < 64; i++)
		zero += membuf[100 + i] == 0;
	ck_assert_int_lt(zero, 16);
	ck_assert_uint_eq(wasi_clock_time_get(&pctx, &mem, WASI_CLOCK_MONOTONIC, 0, 200), 0);
	ck_assert_uint_eq(wasi_clock_time_get(&pctx, &mem, WASI_CLOCK_MONOTONIC, 0, 208), 0);
	ck_assert_uint_ge(rd64(208), rd64(200));
	ck_assert_uint_eq(wasi_clock_time_get(&pctx, &mem, WASI_CLOCK_REALTIME, 0, 216), 0);
	ck_assert_uint_gt(rd64(216), 1577836800ull * 1000000000ull);

	/* stdout through a pipe: bytes arrive, and a pipe is not a tty. */
	ck_assert_int_eq(pipe(p), 0);
	saved = dup(1);
	ck_assert_int_eq(dup2(p[1], 1), 1);
	memcpy(membuf + 512, "via pipe", 8);
	iovs(64, 1, (uint32_t[]){ 512, 8 });
	uint32_t e = wasi_fd_write(&pctx, &mem, 1, 64, 1, 32);
	uint32_t e2 = wasi_fd_fdstat_get(&pctx, &mem, 1, 300);
	dup2(saved, 1);
	close(saved);
	close(p[1]);
	ck_assert_uint_eq(e, 0);
	ck_assert_uint_eq(e2, 0);
	ck_assert_uint_eq(membuf[300], WASI_FILETYPE_UNKNOWN);
	ck_assert_int_eq(read(p[0], got, sizeof(got)), 8);
	ck_assert_mem_eq(got, "via pipe", 8);
	close(p[0]);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "core",
		.timeout = 10,
		.setup = setup,
		.teardown = NULL,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_args_layout),
			MVMT_TEST(test_env_layout),
			MVMT_TEST(test_bad_pointers_fault),
			MVMT_TEST(test_fd_write_fault_writes_nothing),
			MVMT_TEST(test_fd_write_gather),
			MVMT_TEST(test_fd_write_many_iovecs_and_short),
			MVMT_TEST(test_fd_read_skips_empty_iovec),
			MVMT_TEST(test_denied_capabilities),
			MVMT_TEST(test_denied_args_env_narrow),
			MVMT_TEST(test_exit_status),
			MVMT_TEST(test_fdstat),
			MVMT_TEST(test_seek_prestat_close),
			MVMT_TEST(test_clocks_random),
			MVMT_TEST(test_dispatch_namespace),
			MVMT_TEST(test_no_memory),
			MVMT_TEST(test_caps_names),
			MVMT_TEST(test_posix_host)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "wasi", .tcases = tcases)
