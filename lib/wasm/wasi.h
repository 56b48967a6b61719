/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WASI preview1 (wasi_snapshot_preview1) for the mvm Wasm interpreter.
 *
 * Two layers:
 *   - wasi_* calls (wasi.c): the preview1 functions themselves, working on
 *     a linear-memory view and a wasi_ctx. Freestanding: no libc, no OS;
 *     the outside world is reached only through the wasi_host table the
 *     embedder fills (mvm-wasm: POSIX calls; mvm-guest: hypercalls).
 *   - wasi_link_* (wasi-link.c): binds the whole preview1 namespace into a
 *     wasm_store as host functions, so any wasi-libc program instantiates.
 *
 * Capabilities: a wasi_ctx carries a grant mask (WASI_CAP_*). A call that
 * needs a capability that is not granted fails with WASI_ERRNO_NOTCAPABLE
 * (76, "capabilities insufficient", the errno preview1 defines for
 * exactly this) and has no effect; except args and env, which when withheld
 * show the program only its name (argv[0]) and an empty environment, as
 * Wasmtime and Node do (a libc treats any error there as fatal). Everything outside the supported subset
 * fails with WASI_ERRNO_NOSYS, or WASI_ERRNO_BADF when it names a file
 * descriptor that does not exist (only 0, 1 and 2 exist; there are no
 * preopened directories).
 *
 * Every guest pointer and length is checked against the memory view; a
 * range that does not fit fails with WASI_ERRNO_FAULT and nothing of the
 * call's output is written.
 *
 * Ownership: the ctx borrows the host table, argv and envp (the embedder
 * keeps them alive for the ctx's lifetime); nothing is allocated.
 */
#ifndef MVM_WASI_H
#define MVM_WASI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* preview1 errno values (the witx "errno" enum) used here. */
#define WASI_ERRNO_SUCCESS 0
#define WASI_ERRNO_2BIG 1
#define WASI_ERRNO_ACCES 2
#define WASI_ERRNO_AGAIN 6
#define WASI_ERRNO_BADF 8
#define WASI_ERRNO_FAULT 21
#define WASI_ERRNO_INTR 27
#define WASI_ERRNO_INVAL 28
#define WASI_ERRNO_IO 29
#define WASI_ERRNO_NOMEM 48
#define WASI_ERRNO_NOSPC 51
#define WASI_ERRNO_NOSYS 52
#define WASI_ERRNO_NOTSUP 58
#define WASI_ERRNO_OVERFLOW 61
#define WASI_ERRNO_PERM 63
#define WASI_ERRNO_PIPE 64
#define WASI_ERRNO_SPIPE 70
#define WASI_ERRNO_NOTCAPABLE 76

#define WASI_CLOCK_REALTIME 0
#define WASI_CLOCK_MONOTONIC 1
#define WASI_CLOCK_PROCESS_CPUTIME 2
#define WASI_CLOCK_THREAD_CPUTIME 3

#define WASI_FILETYPE_UNKNOWN 0
#define WASI_FILETYPE_CHARACTER_DEVICE 2

#define WASI_RIGHT_FD_READ (UINT64_C(1) << 1)
#define WASI_RIGHT_FD_SEEK (UINT64_C(1) << 2)
#define WASI_RIGHT_FD_TELL (UINT64_C(1) << 5)
#define WASI_RIGHT_FD_WRITE (UINT64_C(1) << 6)
#define WASI_RIGHT_POLL_FD_READWRITE (UINT64_C(1) << 27)

/* Capabilities a workload can be granted. */
enum {
	WASI_CAP_STDIN = 1u << 0, /* fd_read on 0 */
	WASI_CAP_STDOUT = 1u << 1, /* fd_write on 1 */
	WASI_CAP_STDERR = 1u << 2, /* fd_write on 2 */
	WASI_CAP_CLOCK = 1u << 3, /* clock_time_get, clock_res_get */
	WASI_CAP_RANDOM = 1u << 4, /* random_get */
	WASI_CAP_ENV = 1u << 5, /* environ_*: withheld, the environment is empty */
	WASI_CAP_ARGS = 1u << 6, /* args_*: withheld, argv is [argv[0]] */
	WASI_CAP_ALL = (1u << 7) - 1,
};

/* "stdout" -> WASI_CAP_STDOUT, or 0 if unknown; and back (NULL if none). */
uint32_t wasi_cap_from_string(const char *name);
const char *wasi_cap_to_string(uint32_t cap);

/*
 * What the embedder provides. Every function returns a value >= 0 on
 * success or a negative WASI errno (-WASI_ERRNO_IO, ...), already
 * translated from the host's own errors. Optional entries may be NULL.
 */
/* Same layout as POSIX struct iovec, so a host can pass it to writev(). */
typedef struct wasi_iovec {
	void *buf;
	size_t len;
} wasi_iovec;

/* At most this many iovecs reach the host in one readv/writev call. */
#define WASI_IOV_BATCH 16

typedef struct wasi_host {
	/* Gathered write to fd 1 or 2; returns bytes written (may be short). */
	int64_t (*writev)(void *user, int fd, const wasi_iovec *iov, int iovcnt);
	/* Scattered read from fd 0; returns bytes read, 0 at end of input. */
	int64_t (*readv)(void *user, int fd, const wasi_iovec *iov, int iovcnt);
	/* Current time / resolution of a WASI clock id, in nanoseconds. */
	int (*clock_time)(void *user, uint32_t clock_id, uint64_t *ret_ns);
	int (*clock_res)(void *user, uint32_t clock_id, uint64_t *ret_ns);
	/* Fill buf with len cryptographically random bytes. */
	int (*random)(void *user, void *buf, size_t len);
	/* Optional: 1 if stdio fd is a terminal (libc then line-buffers it). */
	int (*isatty)(void *user, int fd);
	/* Optional: give up the CPU. */
	void (*yield)(void *user);
	/*
	 * Optional: block until clock_id reads at least deadline_ns (an
	 * absolute time). Needed for poll_oneoff clock subscriptions (sleep).
	 */
	int (*sleep_until)(void *user, uint32_t clock_id, uint64_t deadline_ns);
	void *user;
} wasi_host;

typedef struct wasi_ctx {
	const wasi_host *host;
	uint32_t caps; /* WASI_CAP_* granted */
	uint32_t argc;
	const char *const *argv; /* argc strings, borrowed */
	uint32_t envc;
	const char *const *envp; /* envc "KEY=VALUE" strings, borrowed */
	uint8_t closed; /* bit n: fd n was closed by the guest */
	bool exited; /* proc_exit was called */
	uint32_t exit_code;
	uint64_t calls; /* host calls made, for diagnostics */
} wasi_ctx;

/* Initialise ctx; argv/envp may be NULL when their count is 0. */
void wasi_ctx_init(wasi_ctx *ctx, const wasi_host *host, uint32_t caps, uint32_t argc,
		   const char *const *argv, uint32_t envc, const char *const *envp);

/*
 * The guest's linear memory for the duration of one call. base may be
 * NULL with size 0 (a module without memory): every pointer then faults.
 */
typedef struct wasi_mem {
	uint8_t *base;
	uint64_t size;
} wasi_mem;

/*
 * The preview1 functions, with the witx signatures: i32 parameters are
 * passed as uint32_t, i64 as uint64_t; the result is the WASI errno.
 * Pointer parameters are guest addresses in mem.
 */
uint32_t wasi_args_sizes_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t argc_ptr, uint32_t size_ptr);
uint32_t wasi_args_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t argv_ptr, uint32_t buf_ptr);
uint32_t wasi_environ_sizes_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t count_ptr,
				uint32_t size_ptr);
uint32_t wasi_environ_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t env_ptr, uint32_t buf_ptr);
uint32_t wasi_clock_res_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t id, uint32_t ret_ptr);
uint32_t wasi_clock_time_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t id, uint64_t precision,
			     uint32_t ret_ptr);
uint32_t wasi_random_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t buf, uint32_t len);
uint32_t wasi_fd_write(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd, uint32_t iovs,
		       uint32_t iovs_len, uint32_t ret_ptr);
uint32_t wasi_fd_read(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
		      uint32_t ret_ptr);
uint32_t wasi_fd_close(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd);
uint32_t wasi_fd_fdstat_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd, uint32_t ret_ptr);
uint32_t wasi_fd_filestat_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd, uint32_t ret_ptr);
uint32_t wasi_fd_seek(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd, uint64_t offset,
		      uint32_t whence, uint32_t ret_ptr);
uint32_t wasi_fd_tell(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd, uint32_t ret_ptr);
uint32_t wasi_fd_prestat_get(wasi_ctx *ctx, wasi_mem *mem, uint32_t fd, uint32_t ret_ptr);
uint32_t wasi_sched_yield(wasi_ctx *ctx, wasi_mem *mem);
/*
 * Clock subscriptions sleep (capability clock); fd_read on 0 and fd_write
 * on 1/2 report ready at once (the streams are blocking).
 */
uint32_t wasi_poll_oneoff(wasi_ctx *ctx, wasi_mem *mem, uint32_t in, uint32_t out, uint32_t n,
			  uint32_t ret_nevents);
/* Records the exit code; the caller must then stop the guest. */
void wasi_proc_exit(wasi_ctx *ctx, uint32_t code);

/*
 * A WASI exit code (a u32) as a process exit status (8 bits), for
 * embedders that end a process with it (mvm-wasm, mvm-init's runs):
 * 0..255 unchanged, anything larger 255. Truncating instead would turn
 * 256 into 0, a failure into success; saturating keeps every failure a
 * failure. Embedders that can report the whole code (mvmd) do so.
 */
int wasi_exit_status(uint32_t code);

/*
 * The whole preview1 namespace as data, for binding: name, parameter
 * types ('i' = i32, 'I' = i64) and whether an i32 errno is returned
 * (all but proc_exit). wasi_dispatch() runs entry `index` with raw
 * arguments; for proc_exit it returns WASI_DISPATCH_EXIT.
 */
typedef struct wasi_func_desc {
	const char *name;
	const char *params;
	bool has_result;
} wasi_func_desc;

#define WASI_DISPATCH_EXIT UINT32_C(0x10000)

#define WASI_NFUNCS 46 /* every preview1 function */

extern const wasi_func_desc wasi_funcs[WASI_NFUNCS];

/* Index of name in wasi_funcs, or -1. */
int wasi_func_lookup(const char *name);
uint32_t wasi_dispatch(wasi_ctx *ctx, wasi_mem *mem, uint32_t index, const uint64_t *args);

#define WASI_MODULE_NAME "wasi_snapshot_preview1"

#endif
