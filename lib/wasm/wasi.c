/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WASI preview1: the supported subset and clean refusals for the rest.
 *
 * Freestanding (no libc, not even memcpy): the micro-VM guest links this.
 * Guest memory is read and written byte by byte in little-endian order,
 * as the Wasm memory model defines it, whatever the host's byte order.
 *
 * Order of checks in every call: the fd exists (BADF), the capability is
 * granted (NOTCAPABLE), every guest range fits in memory (FAULT); only
 * then does the call act, so a refused call has no side effect. The args
 * and env capabilities are the exception: withheld, they narrow what the
 * calls show instead of refusing them (see args_visible).
 */
#include "wasm/wasi-int.h"

static const struct {
	const char *name;
	uint32_t cap;
} cap_names[] = {
	{ "stdin", WASI_CAP_STDIN }, { "stdout", WASI_CAP_STDOUT }, { "stderr", WASI_CAP_STDERR },
	{ "clock", WASI_CAP_CLOCK }, { "random", WASI_CAP_RANDOM }, { "env", WASI_CAP_ENV },
	{ "args", WASI_CAP_ARGS },
};

static bool str_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

static uint64_t str_len(const char *s)
{
	uint64_t n = 0;
	while (s[n])
		n++;
	return n;
}

uint32_t wasi_cap_from_string(const char *name)
{
	for (unsigned i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (str_eq(name, cap_names[i].name))
			return cap_names[i].cap;
	if (str_eq(name, "all"))
		return WASI_CAP_ALL;
	return 0;
}

const char *wasi_cap_to_string(uint32_t cap)
{
	for (unsigned i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (cap == cap_names[i].cap)
			return cap_names[i].name;
	return NULL;
}

void wasi_ctx_init(wasi_ctx *ctx, const wasi_host *host, uint32_t caps, uint32_t argc,
		   const char *const *argv, uint32_t envc, const char *const *envp)
{
	*ctx = (wasi_ctx){
		.host = host,
		.caps = caps & WASI_CAP_ALL,
		.argc = argc,
		.argv = argv,
		.envc = envc,
		.envp = envp,
	};
}

/* ---- args and environment -------------------------------------------------- */

static uint32_t strings_sizes(wasi_mem *mem, uint32_t n, const char *const *v,
			      uint32_t count_ptr, uint32_t size_ptr)
{
	uint64_t total = 0;

	if (!mem_ok(mem, count_ptr, 4) || !mem_ok(mem, size_ptr, 4))
		return WASI_ERRNO_FAULT;
	for (uint32_t i = 0; i < n; i++)
		total += str_len(v[i]) + 1;
	if (total > UINT32_MAX)
		return WASI_ERRNO_OVERFLOW;
	put_u32(mem, count_ptr, n);
	put_u32(mem, size_ptr, (uint32_t)total);
	return WASI_ERRNO_SUCCESS;
}

/* Lay out n strings: pointers at ptrs[], NUL-terminated bytes from buf. */
static uint32_t strings_get(wasi_mem *mem, uint32_t n, const char *const *v, uint32_t ptrs,
			    uint32_t buf)
{
	uint64_t total = 0;

	for (uint32_t i = 0; i < n; i++)
		total += str_len(v[i]) + 1;
	if (!mem_ok(mem, ptrs, (uint64_t)n * 4) || !mem_ok(mem, buf, total))
		return WASI_ERRNO_FAULT;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t len = str_len(v[i]);
		put_u32(mem, ptrs + 4 * i, buf);
		for (uint64_t k = 0; k <= len; k++)
			mem->base[buf + k] = (uint8_t)v[i][k];
		buf += (uint32_t)len + 1;
	}
	return WASI_ERRNO_SUCCESS;
}

/*
 * A denied args or env is not an error but a smaller view: the program
 * sees only its name (argv[0]), or an empty environment. wasi-libc's
 * start code and its first getenv() treat any error from these calls as
 * fatal (exit 71 before main), so NOTCAPABLE here would kill every
 * ordinary program; Wasmtime and Node's WASI answer the same way.
 */
static uint32_t args_visible(const wasi_ctx *ctx)
{
	if (granted(ctx, WASI_CAP_ARGS))
		return ctx->argc;
	return ctx->argc < 1 ? ctx->argc : 1;
}

static uint32_t env_visible(const wasi_ctx *ctx)
{
	return granted(ctx, WASI_CAP_ENV) ? ctx->envc : 0;
}

uint32_t wasi_args_sizes_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t argc_ptr, uint32_t size_ptr)
{
	return strings_sizes(mem, args_visible(ctx), ctx->argv, argc_ptr, size_ptr);
}

uint32_t wasi_args_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t argv_ptr, uint32_t buf_ptr)
{
	return strings_get(mem, args_visible(ctx), ctx->argv, argv_ptr, buf_ptr);
}

uint32_t wasi_environ_sizes_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t count_ptr,
				uint32_t size_ptr)
{
	return strings_sizes(mem, env_visible(ctx), ctx->envp, count_ptr, size_ptr);
}

uint32_t wasi_environ_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t env_ptr, uint32_t buf_ptr)
{
	return strings_get(mem, env_visible(ctx), ctx->envp, env_ptr, buf_ptr);
}

/* ---- clocks and randomness ------------------------------------------------- */

/* clock_res_get and clock_time_get: the same checks, another host call. */
static uint32_t clock_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t id, uint32_t ret_ptr,
			  int (*host_fn)(void *user, uint32_t id, uint64_t *ret_ns))
{
	uint64_t ns;
	int r;

	if (!granted(ctx, WASI_CAP_CLOCK))
		return WASI_ERRNO_NOTCAPABLE;
	if (id > WASI_CLOCK_THREAD_CPUTIME)
		return WASI_ERRNO_INVAL;
	if (!mem_ok(mem, ret_ptr, 8))
		return WASI_ERRNO_FAULT;
	if (!host_fn)
		return WASI_ERRNO_NOSYS;
	r = host_fn(ctx->host->user, id, &ns);
	if (r < 0)
		return host_errno(r);
	put_u64(mem, ret_ptr, ns);
	return WASI_ERRNO_SUCCESS;
}

uint32_t wasi_clock_res_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t id, uint32_t ret_ptr)
{
	return clock_get(ctx, mem, id, ret_ptr, ctx->host->clock_res);
}

uint32_t wasi_clock_time_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t id, uint64_t precision,
			     uint32_t ret_ptr)
{
	(void)precision; /* a hint; the host clock is as precise as it gets */
	return clock_get(ctx, mem, id, ret_ptr, ctx->host->clock_time);
}

uint32_t wasi_random_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t buf, uint32_t len)
{
	int r;

	if (!granted(ctx, WASI_CAP_RANDOM))
		return WASI_ERRNO_NOTCAPABLE;
	if (!mem_ok(mem, buf, len))
		return WASI_ERRNO_FAULT;
	if (len == 0)
		return WASI_ERRNO_SUCCESS;
	if (!ctx->host->random)
		return WASI_ERRNO_NOSYS;
	r = ctx->host->random(ctx->host->user, mem->base + buf, len);
	return r < 0 ? host_errno(r) : WASI_ERRNO_SUCCESS;
}

/* ---- stdio ----------------------------------------------------------------- */

/*
 * Check a guest iovec array and every buffer it names before anything
 * moves, so a bad one faults the whole call and transfers nothing.
 */
static uint32_t iovs_check(const wasi_mem *mem, uint32_t iovs, uint32_t n, uint64_t *ret_total)
{
	uint64_t total = 0;

	if (!mem_ok(mem, iovs, (uint64_t)n * 8))
		return WASI_ERRNO_FAULT;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t buf = get_u32(mem, iovs + 8 * i), len = get_u32(mem, iovs + 8 * i + 4);
		if (!mem_ok(mem, buf, len))
			return WASI_ERRNO_FAULT;
		total += len;
	}
	if (total > UINT32_MAX)
		return WASI_ERRNO_INVAL; /* the byte count must fit the i32 result */
	*ret_total = total;
	return WASI_ERRNO_SUCCESS;
}

typedef int64_t (*host_iov_fn)(void *user, int fd, const wasi_iovec *iov, int iovcnt);

/*
 * Move data through the host in batches of WASI_IOV_BATCH iovecs; go on
 * to the next batch only when the previous one moved everything (a short
 * transfer is a complete answer, as with readv/writev). Empty iovecs are
 * skipped: wasi-libc's stdio passes one for an empty user buffer, and a
 * zero-length read must not look like end of input.
 */
static uint32_t iovs_transfer(wasi_ctx *ctx, wasi_mem *mem, host_iov_fn fn, uint32_t fd,
			      uint32_t iovs, uint32_t n, uint64_t *ret_done)
{
	uint64_t done = 0;
	uint32_t i = 0;

	while (i < n) {
		wasi_iovec batch[WASI_IOV_BATCH];
		uint64_t want = 0;
		int cnt = 0;

		for (; i < n && cnt < WASI_IOV_BATCH; i++) {
			uint32_t buf = get_u32(mem, iovs + 8 * i), len = get_u32(mem, iovs + 8 * i + 4);
			if (len == 0)
				continue;
			batch[cnt].buf = mem->base + buf;
			batch[cnt].len = len;
			want += len;
			cnt++;
		}
		if (cnt == 0)
			break;
		int64_t r = fn(ctx->host->user, (int)fd, batch, cnt);
		if (r < 0) {
			if (done > 0)
				break; /* report what moved; the error comes back next call */
			return host_errno(r);
		}
		done += (uint64_t)r;
		if ((uint64_t)r < want)
			break;
	}
	*ret_done = done;
	return WASI_ERRNO_SUCCESS;
}

/* fd_write and fd_read once the fd and its capability are checked. */
static uint32_t iovs_io(wasi_ctx *ctx, wasi_mem *mem, host_iov_fn fn, uint32_t fd, uint32_t iovs,
			uint32_t iovs_len, uint32_t ret_ptr)
{
	uint64_t total, done;
	uint32_t e;

	if (!mem_ok(mem, ret_ptr, 4))
		return WASI_ERRNO_FAULT;
	e = iovs_check(mem, iovs, iovs_len, &total);
	if (e)
		return e;
	if (!fn)
		return WASI_ERRNO_NOSYS;
	e = iovs_transfer(ctx, mem, fn, fd, iovs, iovs_len, &done);
	if (e)
		return e;
	put_u32(mem, ret_ptr, (uint32_t)done);
	return WASI_ERRNO_SUCCESS;
}

uint32_t wasi_fd_write(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd, uint32_t iovs,
		       uint32_t iovs_len, uint32_t ret_ptr)
{
	if (!fd_open(ctx, fd) || fd == 0)
		return WASI_ERRNO_BADF;
	if (!granted(ctx, fd_cap(fd)))
		return WASI_ERRNO_NOTCAPABLE;
	return iovs_io(ctx, mem, ctx->host->writev, fd, iovs, iovs_len, ret_ptr);
}

uint32_t wasi_fd_read(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
		      uint32_t ret_ptr)
{
	if (!fd_open(ctx, fd) || fd != 0)
		return WASI_ERRNO_BADF;
	if (!granted(ctx, WASI_CAP_STDIN))
		return WASI_ERRNO_NOTCAPABLE;
	return iovs_io(ctx, mem, ctx->host->readv, fd, iovs, iovs_len, ret_ptr);
}

uint32_t wasi_fd_close(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd)
{
	if (!fd_open(ctx, fd))
		return WASI_ERRNO_BADF;
	/* Only the guest's view closes: the host's stdio stays open. */
	ctx->closed |= (uint8_t)(1u << fd);
	return WASI_ERRNO_SUCCESS;
}

/*
 * fdstat layout (24 bytes): filetype u8 @0, flags u16 @2, rights_base u64
 * @8, rights_inheriting u64 @16. Rights say what this guest may do: a
 * stream it was not granted shows no read/write right.
 */
uint32_t wasi_fd_fdstat_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd, uint32_t ret_ptr)
{
	uint64_t rights = 0;
	uint8_t type = WASI_FILETYPE_UNKNOWN;

	if (!fd_open(ctx, fd))
		return WASI_ERRNO_BADF;
	if (!mem_ok(mem, ret_ptr, 24))
		return WASI_ERRNO_FAULT;
	if (granted(ctx, fd_cap(fd)))
		rights = (fd == 0 ? WASI_RIGHT_FD_READ : WASI_RIGHT_FD_WRITE) |
			 WASI_RIGHT_POLL_FD_READWRITE;
	/*
	 * A terminal is a character device without seek/tell rights, which is
	 * what wasi-libc's isatty() looks for (it then line-buffers stdout);
	 * pipes and files are "unknown" and get full buffering, as natively.
	 */
	if (ctx->host->isatty && ctx->host->isatty(ctx->host->user, (int)fd) > 0)
		type = WASI_FILETYPE_CHARACTER_DEVICE;
	fill(mem, ret_ptr, 24, 0);
	mem->base[ret_ptr] = type;
	put_u16(mem, ret_ptr + 2, 0);
	put_u64(mem, ret_ptr + 8, rights);
	put_u64(mem, ret_ptr + 16, 0);
	return WASI_ERRNO_SUCCESS;
}

/*
 * filestat (64 bytes): dev @0, ino @8, filetype u8 @16, nlink @24, size
 * @32, atim/mtim/ctim @40/48/56. A stream has no identity, size or times
 * the guest should see; only the type is real. Runtimes such as CPython
 * fstat() their stdio at startup, so this must not be ENOSYS.
 */
uint32_t wasi_fd_filestat_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd, uint32_t ret_ptr)
{
	uint8_t type = WASI_FILETYPE_UNKNOWN;

	if (!fd_open(ctx, fd))
		return WASI_ERRNO_BADF;
	if (!mem_ok(mem, ret_ptr, 64))
		return WASI_ERRNO_FAULT;
	if (ctx->host->isatty && ctx->host->isatty(ctx->host->user, (int)fd) > 0)
		type = WASI_FILETYPE_CHARACTER_DEVICE;
	fill(mem, ret_ptr, 64, 0);
	mem->base[ret_ptr + 16] = type;
	put_u64(mem, ret_ptr + 24, 1);
	return WASI_ERRNO_SUCCESS;
}

uint32_t wasi_fd_seek(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd, uint64_t offset,
		      uint32_t whence, uint32_t ret_ptr)
{
	if (!fd_open(ctx, fd))
		return WASI_ERRNO_BADF;
	return WASI_ERRNO_SPIPE; /* stdio streams are not seekable */
}

uint32_t wasi_fd_tell(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd, uint32_t ret_ptr)
{
	if (!fd_open(ctx, fd))
		return WASI_ERRNO_BADF;
	return WASI_ERRNO_SPIPE;
}

uint32_t wasi_fd_prestat_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd, uint32_t ret_ptr)
{
	/* No preopened directories: wasi-libc probes fds from 3 up to BADF. */
	return WASI_ERRNO_BADF;
}

uint32_t wasi_sched_yield(wasi_ctx *ctx, wasi_mem *mem)
{
	if (ctx->host->yield)
		ctx->host->yield(ctx->host->user);
	return WASI_ERRNO_SUCCESS;
}

void wasi_proc_exit(wasi_ctx *ctx, uint32_t code)
{
	ctx->exited = true;
	ctx->exit_code = code;
}

int wasi_exit_status(uint32_t code)
{
	return code > 255 ? 255 : (int)code;
}
