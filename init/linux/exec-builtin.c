/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Built-in commands, answered by the agent itself so they work in a guest
 * with no programs at all (the initramfs holds only /init):
 *   mvm.echo ARGS...   prints ARGS joined by spaces and a newline, then
 *                      echoes stdin (inline, or streamed frame by frame)
 *   mvm.info           key: value lines describing the agent and the guest
 * and the form argv[0] = sha256:<hex> (a Wasm module by content hash):
 * without a Wasm runtime (exec_agent_config_t.wasm_main) it is answered
 * with a not-supported error frame; with one, a malformed hash is
 * not-found and a good one runs through agent_spawn().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "exec-agent-internal.h"

#ifndef MVM_VERSION
#define MVM_VERSION "0"
#endif

static bool is(const exec_str_t *s, const char *lit)
{
	size_t n = strlen(lit);
	return s->len == n && memcmp(s->ptr, lit, n) == 0;
}

static int builtin_echo(exec_conn_t *c, const exec_request_t *req)
{
	for (uint32_t i = 1; i < req->argc; i++) {
		conn_queue_data(c, EXEC_FRAME_STDOUT, req->argv[i].ptr, req->argv[i].len);
		conn_queue_data(c, EXEC_FRAME_STDOUT, i + 1 < req->argc ? " " : "\n", 1);
	}
	if (req->stdin_len)
		conn_queue_data(c, EXEC_FRAME_STDOUT, req->stdin_data, req->stdin_len);
	if (req->stdin_mode == EXEC_STDIN_STREAM) {
		c->echo = true; /* stdin-data frames come back; stdin-eof ends it */
		return 1;
	}
	conn_queue_exit(c, EXEC_EXIT_CODE, 0, false);
	return 1;
}

static int builtin_info(exec_conn_t *c)
{
	char buf[1024], host[256] = "";
	struct utsname u;
	struct sysinfo si;
	int n;

	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	if (sysinfo(&si) < 0)
		memset(&si, 0, sizeof(si));
	gethostname(host, sizeof(host) - 1);
	n = snprintf(buf, sizeof(buf),
		     "agent: mvm exec agent %s\n"
		     "protocol: %u\n"
		     "platform: %s\n"
		     "pid: %d\n"
		     "uid: %u\n"
		     "hostname: %s\n"
		     "kernel: %s %s %s\n"
		     "uptime_s: %ld\n"
		     "connections: %u\n"
		     "builtins: mvm.echo mvm.info\n"
		     "wasm: %s\n",
		     MVM_VERSION, EXEC_PROTOCOL_VERSION, c->agent->cfg.platform, (int)getpid(),
		     (unsigned)getuid(), host, u.sysname, u.release, u.machine, (long)si.uptime,
		     c->agent->nconns,
		     c->agent->cfg.wasm_main ? "sha256:<hex> modules fetched from the host" : "not supported");
	if (n < 0)
		n = 0;
	conn_queue_data(c, EXEC_FRAME_STDOUT, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	conn_queue_exit(c, EXEC_EXIT_CODE, 0, false);
	return 1;
}

const char *agent_wasm_hash(const char *s, size_t len)
{
	if (len != 7 + 64 || memcmp(s, "sha256:", 7) != 0)
		return NULL;
	for (size_t i = 7; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return NULL;
	return s + 7;
}

int agent_builtin(exec_conn_t *c, const exec_request_t *req)
{
	const exec_str_t *a0 = &req->argv[0];

	if (a0->len >= 7 && memcmp(a0->ptr, "sha256:", 7) == 0) {
		/* Wasm workloads by hash need the Wasm runtime (docs/design.md §6). */
		if (!c->agent->cfg.wasm_main) {
			conn_queue_error(c, EXEC_ERROR_NOT_SUPPORTED,
					 "%.*s: Wasm modules by hash are not supported by this agent yet",
					 (int)(a0->len > 80 ? 80 : a0->len), a0->ptr);
			return 1;
		}
		if (!agent_wasm_hash(a0->ptr, a0->len)) {
			conn_queue_error(c, EXEC_ERROR_NOT_FOUND, "%.*s: not a sha256:<64 lowercase hex> hash",
					 (int)(a0->len > 80 ? 80 : a0->len), a0->ptr);
			return 1;
		}
		return 0; /* agent_spawn() runs it through wasm_main */
	}
	if (is(a0, "mvm.echo"))
		return builtin_echo(c, req);
	if (is(a0, "mvm.info"))
		return builtin_info(c);
	if (a0->len > 4 && memcmp(a0->ptr, "mvm.", 4) == 0) {
		conn_queue_error(c, EXEC_ERROR_NOT_FOUND, "%.*s: no such built-in (try mvm.info)",
				 (int)(a0->len > 80 ? 80 : a0->len), a0->ptr);
		return 1;
	}
	return 0;
}
