/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The whole wasi_snapshot_preview1 namespace as a table, and one dispatch
 * function from raw arguments to the calls in wasi.c. Binding every name
 * (not only the supported ones) lets any wasi-libc program instantiate;
 * the unsupported ones refuse cleanly at run time instead.
 *
 * Freestanding, like wasi.c.
 */
#include "wasm/wasi.h"

/*
 * X(name, params, has_result, fd_args): params as in wasi_func_desc;
 * fd_args is a bit mask of the argument positions that hold a fd, so the
 * refusal for an unsupported call can say BADF for a fd that does not
 * exist (preview1 programs rely on that to probe descriptors).
 */
#define WASI_FUNCS(X)                                      \
	X(args_get, "ii", true, 0)                         \
	X(args_sizes_get, "ii", true, 0)                   \
	X(environ_get, "ii", true, 0)                      \
	X(environ_sizes_get, "ii", true, 0)                \
	X(clock_res_get, "ii", true, 0)                    \
	X(clock_time_get, "iIi", true, 0)                  \
	X(fd_advise, "iIIi", true, 1)                      \
	X(fd_allocate, "iII", true, 1)                     \
	X(fd_close, "i", true, 1)                          \
	X(fd_datasync, "i", true, 1)                       \
	X(fd_fdstat_get, "ii", true, 1)                    \
	X(fd_fdstat_set_flags, "ii", true, 1)              \
	X(fd_fdstat_set_rights, "iII", true, 1)            \
	X(fd_filestat_get, "ii", true, 1)                  \
	X(fd_filestat_set_size, "iI", true, 1)             \
	X(fd_filestat_set_times, "iIIi", true, 1)          \
	X(fd_pread, "iiiIi", true, 1)                      \
	X(fd_prestat_get, "ii", true, 1)                   \
	X(fd_prestat_dir_name, "iii", true, 1)             \
	X(fd_pwrite, "iiiIi", true, 1)                     \
	X(fd_read, "iiii", true, 1)                        \
	X(fd_readdir, "iiiIi", true, 1)                    \
	X(fd_renumber, "ii", true, 3)                      \
	X(fd_seek, "iIii", true, 1)                        \
	X(fd_sync, "i", true, 1)                           \
	X(fd_tell, "ii", true, 1)                          \
	X(fd_write, "iiii", true, 1)                       \
	X(path_create_directory, "iii", true, 1)           \
	X(path_filestat_get, "iiiii", true, 1)             \
	X(path_filestat_set_times, "iiiiIIi", true, 1)     \
	X(path_link, "iiiiiii", true, 1 | 16)              \
	X(path_open, "iiiiiIIii", true, 1)                 \
	X(path_readlink, "iiiiii", true, 1)                \
	X(path_remove_directory, "iii", true, 1)           \
	X(path_rename, "iiiiii", true, 1 | 8)              \
	X(path_symlink, "iiiii", true, 4)                  \
	X(path_unlink_file, "iii", true, 1)                \
	X(poll_oneoff, "iiii", true, 0)                    \
	X(proc_exit, "i", false, 0)                        \
	X(proc_raise, "i", true, 0)                        \
	X(sched_yield, "", true, 0)                        \
	X(random_get, "ii", true, 0)                       \
	X(sock_accept, "iii", true, 1)                     \
	X(sock_recv, "iiiiii", true, 1)                    \
	X(sock_send, "iiiii", true, 1)                     \
	X(sock_shutdown, "ii", true, 1)

enum {
#define X(name, params, res, fds) WASI_FN_##name,
	WASI_FUNCS(X)
#undef X
	WASI_FN_MAX,
};

_Static_assert(WASI_FN_MAX == WASI_NFUNCS, "WASI_NFUNCS out of date");

const wasi_func_desc wasi_funcs[WASI_NFUNCS] = {
#define X(name, params, res, fds) { #name, params, res },
	WASI_FUNCS(X)
#undef X
};

static const uint8_t wasi_fd_args[] = {
#define X(name, params, res, fds) fds,
	WASI_FUNCS(X)
#undef X
};

static bool name_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

int wasi_func_lookup(const char *name)
{
	for (uint32_t i = 0; i < WASI_FN_MAX; i++)
		if (name_eq(name, wasi_funcs[i].name))
			return (int)i;
	return -1;
}

/* An unsupported call: BADF if a fd it names does not exist, else NOSYS. */
static uint32_t refuse(const wasi_ctx *ctx, uint32_t index, const uint64_t *a)
{
	for (int i = 0; i < 8; i++) {
		if (!(wasi_fd_args[index] & (1u << i)))
			continue;
		uint32_t fd = (uint32_t)a[i];
		if (fd > 2 || (ctx->closed & (1u << fd)))
			return WASI_ERRNO_BADF;
	}
	return WASI_ERRNO_NOSYS;
}

uint32_t wasi_dispatch(wasi_ctx *ctx, wasi_mem *mem, uint32_t index, const uint64_t *a)
{
#define U32(i) ((uint32_t)a[i])
	ctx->calls++;
	switch (index) {
	case WASI_FN_args_get:
		return wasi_args_get(ctx, mem, U32(0), U32(1));
	case WASI_FN_args_sizes_get:
		return wasi_args_sizes_get(ctx, mem, U32(0), U32(1));
	case WASI_FN_environ_get:
		return wasi_environ_get(ctx, mem, U32(0), U32(1));
	case WASI_FN_environ_sizes_get:
		return wasi_environ_sizes_get(ctx, mem, U32(0), U32(1));
	case WASI_FN_clock_res_get:
		return wasi_clock_res_get(ctx, mem, U32(0), U32(1));
	case WASI_FN_clock_time_get:
		return wasi_clock_time_get(ctx, mem, U32(0), a[1], U32(2));
	case WASI_FN_random_get:
		return wasi_random_get(ctx, mem, U32(0), U32(1));
	case WASI_FN_fd_write:
		return wasi_fd_write(ctx, mem, U32(0), U32(1), U32(2), U32(3));
	case WASI_FN_fd_read:
		return wasi_fd_read(ctx, mem, U32(0), U32(1), U32(2), U32(3));
	case WASI_FN_fd_close:
		return wasi_fd_close(ctx, mem, U32(0));
	case WASI_FN_fd_fdstat_get:
		return wasi_fd_fdstat_get(ctx, mem, U32(0), U32(1));
	case WASI_FN_fd_filestat_get:
		return wasi_fd_filestat_get(ctx, mem, U32(0), U32(1));
	case WASI_FN_fd_seek:
		return wasi_fd_seek(ctx, mem, U32(0), a[1], U32(2), U32(3));
	case WASI_FN_fd_tell:
		return wasi_fd_tell(ctx, mem, U32(0), U32(1));
	case WASI_FN_fd_prestat_get:
	case WASI_FN_fd_prestat_dir_name:
		return wasi_fd_prestat_get(ctx, mem, U32(0), U32(1));
	case WASI_FN_fd_pread:
	case WASI_FN_fd_pwrite:
		/* Positional I/O on a stream is ESPIPE, as on Linux. */
		return refuse(ctx, index, a) == WASI_ERRNO_BADF ? WASI_ERRNO_BADF
								: WASI_ERRNO_SPIPE;
	case WASI_FN_poll_oneoff:
		return wasi_poll_oneoff(ctx, mem, U32(0), U32(1), U32(2), U32(3));
	case WASI_FN_sched_yield:
		return wasi_sched_yield(ctx, mem);
	case WASI_FN_proc_exit:
		wasi_proc_exit(ctx, U32(0));
		return WASI_DISPATCH_EXIT;
	default:
		if (index >= WASI_FN_MAX)
			return WASI_ERRNO_NOSYS;
		return refuse(ctx, index, a);
	}
#undef U32
}
