/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wasm modules by hash (docs/linux-guests.md): the exec agent forks for a
 * request whose argv[0] is "sha256:<hex>" and calls init_wasm_main() in the
 * child, stdio already connected. It fetches the module from mvmd over
 * vsock (init/linux/blob-fetch.c, which checks the SHA-256 here in the guest) and
 * runs its _start with the project's interpreter and WASI preview1 bound
 * to this process's stdio, clocks and getrandom (lib/wasm/wasi-posix.c).
 *
 * Exit codes, as mvm-wasm's: the module's, where a code above 255 (WASI's
 * is a u32, a process status 8 bits) exits 255 with the whole code on
 * stderr, so that no failure reads as success; 134 after a trap
 * (its kind on stderr); 126 when the module cannot be run (bytes that do
 * not match the hash, invalid, unlinkable, no _start); 127 when the host
 * has no such module for this VM (like a program that does not exist).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob-fetch.h"
#include "mvm-init.h"
#include "wasm/wasi-posix.h"
#include "wasm/wasi-link.h"
#include "wasm/wasm.h"

#define EXIT_CANNOT_RUN 126
#define EXIT_NOT_FOUND 127
#define EXIT_TRAP 134
#define MAX_MODULE_SIZE ((uint64_t)256 << 20)

static const char *blob_unix_path; /* --blob-unix PATH (tests); NULL: vsock to the host */

void init_wasm_set_blob_unix(const char *path)
{
	blob_unix_path = path;
}

static void *wasm_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
	if (new_size == 0) {
		free(ptr);
		return NULL;
	}
	return realloc(ptr, new_size);
}

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	memcpy(buf, "mvm-init: wasm: ", 16);
	va_start(ap, fmt);
	n = vsnprintf(buf + 16, sizeof(buf) - 17, fmt, ap);
	va_end(ap);
	n = n < 0 ? 16 : 16 + (n < (int)sizeof(buf) - 17 ? n : (int)sizeof(buf) - 18);
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0) {
		/* stderr is gone: the exit code still says it */
	}
}

/* The module's exit code as the child's status (see wasi_exit_status). */
static int exit_status(uint32_t code)
{
	int status = wasi_exit_status(code);

	if ((uint32_t)status != code)
		err("exit code %" PRIu32 " does not fit in an exit status: exiting %d", code, status);
	return status;
}

static int fetch(const char *hex, uint8_t **ret_data, size_t *ret_len)
{
	blob_fetch_transport_t t = blob_unix_path ? blob_fetch_transport_unix(blob_unix_path)
						  : blob_fetch_transport_vsock(BLOB_FETCH_HOST_CID, BLOB_PROTO_PORT);
	blob_fetch_opts_t o = { .max_size = MAX_MODULE_SIZE };
	uint32_t status = UINT32_MAX; /* set once the host answered */
	int r = blob_fetch(&t, hex, &o, ret_data, ret_len, &status);

	if (r == 0)
		return 0;
	if (status == BLOB_STATUS_UNAVAILABLE) {
		err("sha256:%s: not available to this VM", hex);
		return EXIT_NOT_FOUND;
	}
	if (r == -EBADMSG)
		err("sha256:%s: refused: the bytes received do not have this hash", hex);
	else if (status != UINT32_MAX)
		err("sha256:%s: cannot fetch from the host (%s): %s (host said %s)", hex, t.name, strerror(-r),
		    blob_proto_status_to_string(status));
	else
		err("sha256:%s: cannot fetch from the host (%s%s%s): %s", hex, t.name,
		    blob_unix_path ? ":" : "", blob_unix_path ? blob_unix_path : "", strerror(-r));
	return EXIT_CANNOT_RUN;
}

int init_wasm_main(const char *hash_hex, int argc, char **argv, char **envp)
{
	wasm_module *m = NULL;
	wasm_store *store = NULL;
	wasm_error werr = { 0 };
	wasi_run_result run;
	wasm_config cfg = { .alloc = wasm_alloc };
	wasi_link *link = NULL;
	wasi_ctx ctx;
	uint8_t *bytes = NULL;
	size_t len = 0;
	uint32_t envc = 0;
	int r, ret;

	ret = fetch(hash_hex, &bytes, &len);
	if (ret != 0)
		return ret;
	ret = EXIT_CANNOT_RUN;
	wasm_config_init(&cfg);
	r = wasm_module_new(&cfg, bytes, len, &m, &werr);
	free(bytes);
	if (r < 0) {
		err("sha256:%s: %s at offset %u: %s", hash_hex, wasm_error_kind_to_string(werr.kind), werr.offset,
		    werr.message[0] ? werr.message : "invalid module");
		goto out;
	}
	store = wasm_store_new(&cfg);
	link = malloc(sizeof(*link));
	if (!store || !link) {
		err("out of memory");
		goto out;
	}
	while (envp && envp[envc])
		envc++;
	wasi_ctx_init(&ctx, &wasi_host_posix, WASI_CAP_ALL, (uint32_t)argc, (const char *const *)argv, envc,
		      (const char *const *)envp);
	wasi_link_init(link, &ctx, store);
	switch (wasi_link_run_command(link, m, NULL, NULL, NULL, &run)) {
	case WASI_RUN_EXITED:
		ret = exit_status(run.exit_code);
		break;
	case WASI_RUN_TRAPPED:
		err("trap: %s", wasm_trap_kind_to_string(run.trap.kind));
		ret = EXIT_TRAP;
		break;
	case WASI_RUN_NO_START:
		err("sha256:%s: no _start function (not a WASI command)", hash_hex);
		break;
	case WASI_RUN_NOT_INSTANTIATED:
		err("sha256:%s: %s: %s", hash_hex, wasm_error_kind_to_string(run.err.kind),
		    run.err.message[0] ? run.err.message : "cannot instantiate");
		break;
	}
out:
	wasm_store_free(store);
	wasm_module_free(m);
	free(link);
	return ret;
}
