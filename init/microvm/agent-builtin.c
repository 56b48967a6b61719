/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The exec agent's commands in a micro-VM (docs/exec-protocol.md):
 *
 *   mvm.echo ARGS...          ARGS joined by spaces + "\n", then stdin; exit 0
 *   mvm.info                  "key: value" lines about this guest; exit 0
 *   mvm.exit CODE [OUT [ERR]] OUT+"\n" on stdout, ERR+"\n" on stderr; exit CODE
 *   mvm.yes BYTES             BYTES of "y\n" on stdout (flow-controlled); exit 0
 *   mvm.sleep MS              exit 0 after MS ms; 0 or none: never (for timeouts)
 *   mvm.hcbench N             N no-op hypercalls (clock), prints the mean ns
 *                             of one round trip guest -> host -> guest
 *   sha256:<hex>              a Wasm module by hash, granted by mvmd for this
 *                             exec (agent-wasm.c)
 *
 * Output is produced only as the connection's out buffer has room, so a
 * host that does not read stops a command instead of growing a buffer.
 */
#include "agent.h"

enum { CMD_ECHO = 1, CMD_INFO, CMD_EXIT, CMD_YES, CMD_SLEEP, CMD_HCBENCH };

static uint8_t scratch[EXEC_MAX_DATA]; /* one command step at a time */

static bool str_is(exec_str_t s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* A decimal argument; false if it is not one. */
static bool str_u64(exec_str_t s, uint64_t *ret)
{
	uint64_t v = 0;
	if (s.len == 0 || s.len > 19)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		if (s.ptr[i] < '0' || s.ptr[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s.ptr[i] - '0');
	}
	*ret = v;
	return true;
}

static void emit_line(agent_conn_t *c, int type, exec_str_t s)
{
	/* argv strings are at most 4096 bytes: one frame. */
	memcpy(scratch, s.ptr, s.len);
	scratch[s.len] = '\n';
	agent_emit(c, type, scratch, s.len + 1u);
}

static size_t info_text(mvm_agent_t *a, char *buf, size_t cap)
{
	const struct mvm_boot_info *bi = a->bi;
	uint64_t up = (mvm_clock_monotonic() - a->boot_ns) / 1000000ull;
	size_t free_b = 0, largest = 0;
	int n;

	mvm_heap_stats(&free_b, &largest);
	n = mvm_snprintf(buf, cap,
			 "agent: mvm-guest exec agent\nprotocol: %u\nplatform: mvm-guest\nvsock-port: %u\n"
			 "memory-mib: %llu\nvcpus: %u\nworkload: %s\nuptime-ms: %llu\nheap-free: %zu\n"
			 "connections: %u\nserved: %llu\nbuilt-ins: mvm.echo mvm.info mvm.exit mvm.yes mvm.sleep mvm.hcbench\n"
			 "wasm: yes\n",
			 EXEC_PROTOCOL_VERSION, EXEC_AGENT_PORT, (unsigned long long)(bi->mem_size >> 20),
			 bi->vcpus, bi->workload[0] ? bi->workload : "(none)", (unsigned long long)up, free_b,
			 a->nconns, (unsigned long long)a->served);
	if (n < 0 || (size_t)n >= cap)
		return n < 0 ? 0 : cap - 1;
	char **argv = (char **)(uintptr_t)bi->argv;
	for (uint32_t i = 0; i < bi->argc && (size_t)n < cap; i++) {
		int k = mvm_snprintf(buf + n, cap - (size_t)n, "arg: %s\n", argv[i]);
		if (k < 0 || (size_t)k >= cap - (size_t)n)
			break;
		n += k;
	}
	return (size_t)n;
}

void agent_cmd_start(mvm_agent_t *a, agent_conn_t *c, uint64_t now)
{
	exec_request_t *r = &c->req;
	exec_str_t a0 = r->argv[0];
	uint64_t v;

	c->cmd = 0;
	c->arg_i = 1;
	c->arg_off = c->stdin_off = 0;
	if (a0.len > 7 && memcmp(a0.ptr, "sha256:", 7) == 0) {
		/* A module mvmd granted to this VM for this exec (agent-wasm.c). */
		agent_wasm_run(a, c, now);
		return;
	}
	if (str_is(a0, "mvm.echo")) {
		c->cmd = CMD_ECHO;
	} else if (str_is(a0, "mvm.info")) {
		c->cmd = CMD_INFO;
	} else if (str_is(a0, "mvm.exit")) {
		if (r->argc < 2 || !str_u64(r->argv[1], &v) || v > 255) {
			agent_finish_error(c, EXEC_ERROR_NOT_FOUND, "usage: mvm.exit CODE(0..255) [STDOUT [STDERR]]");
			return;
		}
		c->cmd = CMD_EXIT;
		c->exit_code = (uint8_t)v;
	} else if (str_is(a0, "mvm.yes")) {
		if (r->argc != 2 || !str_u64(r->argv[1], &c->left)) {
			agent_finish_error(c, EXEC_ERROR_NOT_FOUND, "usage: mvm.yes BYTES");
			return;
		}
		c->cmd = CMD_YES;
	} else if (str_is(a0, "mvm.sleep")) {
		v = 0;
		if (r->argc > 2 || (r->argc == 2 && !str_u64(r->argv[1], &v)) || v > EXEC_MAX_TIMEOUT_MS) {
			agent_finish_error(c, EXEC_ERROR_NOT_FOUND, "usage: mvm.sleep [MS]");
			return;
		}
		c->cmd = CMD_SLEEP;
		c->until_ns = v ? now + v * 1000000ull : 0;
	} else if (str_is(a0, "mvm.hcbench")) {
		if (r->argc != 2 || !str_u64(r->argv[1], &c->left) || c->left == 0 || c->left > 10000000) {
			agent_finish_error(c, EXEC_ERROR_NOT_FOUND, "usage: mvm.hcbench N(1..10000000)");
			return;
		}
		c->cmd = CMD_HCBENCH;
	} else if (a0.len > 4 && memcmp(a0.ptr, "mvm.", 4) == 0) {
		agent_finish_error(c, EXEC_ERROR_NOT_FOUND, "no such built-in (mvm.info lists them)");
	} else {
		agent_finish_error(c, EXEC_ERROR_NOT_FOUND,
				   "a micro-VM has no programs: run a built-in (mvm.echo, mvm.info, ...) "
				   "or a Wasm module as sha256:<hex>");
	}
}

/* mvm.echo: the argument line, in frames of at most EXEC_MAX_DATA. */
static bool echo_args(agent_conn_t *c)
{
	exec_request_t *r = &c->req;
	uint32_t room = agent_out_space(c), n = 0;

	if (room < EXEC_FRAME_HEADER_SIZE + 1)
		return false;
	room = MIN(room - EXEC_FRAME_HEADER_SIZE, (uint32_t)sizeof(scratch));
	while (n < room && c->arg_i <= r->argc) {
		if (c->arg_i == r->argc) { /* the final "\n" */
			scratch[n++] = '\n';
			c->arg_i++;
			break;
		}
		/* argument i as " ARG" (no space before the first) */
		exec_str_t s = r->argv[c->arg_i];
		uint32_t sep = c->arg_i > 1 ? 1 : 0, total = sep + s.len;
		while (n < room && c->arg_off < total) {
			if (c->arg_off < sep) {
				scratch[n++] = ' ';
				c->arg_off++;
				continue;
			}
			uint32_t k = MIN(total - c->arg_off, room - n);
			memcpy(scratch + n, s.ptr + (c->arg_off - sep), k);
			n += k;
			c->arg_off += k;
		}
		if (c->arg_off == total) {
			c->arg_i++;
			c->arg_off = 0;
		}
	}
	if (n)
		agent_emit(c, EXEC_FRAME_STDOUT, scratch, n);
	if (c->arg_i > r->argc)
		c->args_done = true;
	return n > 0;
}

bool agent_cmd_wants_stdin(const agent_conn_t *c)
{
	if (c->cmd != CMD_ECHO)
		return true; /* read and dropped: only stdin-eof matters */
	return c->args_done && c->stdin_off >= c->req.stdin_len &&
	       agent_out_space(c) >= EXEC_MAX_DATA + EXEC_FRAME_HEADER_SIZE;
}

void agent_cmd_stdin(agent_conn_t *c, const exec_frame_t *f)
{
	if (c->cmd == CMD_ECHO && f->len)
		agent_emit(c, EXEC_FRAME_STDOUT, f->payload, f->len);
}

bool agent_cmd_step(mvm_agent_t *a, agent_conn_t *c, uint64_t now)
{
	exec_request_t *r = &c->req;
	uint32_t room = agent_out_space(c), k;

	switch (c->cmd) {
	case CMD_ECHO:
		if (!c->args_done)
			return echo_args(c);
		if (c->stdin_off < r->stdin_len) {
			if (room <= EXEC_FRAME_HEADER_SIZE)
				return false;
			k = MIN(r->stdin_len - c->stdin_off, MIN(room - EXEC_FRAME_HEADER_SIZE, EXEC_MAX_DATA));
			agent_emit(c, EXEC_FRAME_STDOUT, r->stdin_data + c->stdin_off, k);
			c->stdin_off += k;
			return true;
		}
		if (r->stdin_mode == EXEC_STDIN_STREAM && !c->stdin_eof)
			return false;
		agent_finish_exit(c, EXEC_EXIT_CODE, 0, 0);
		return true;
	case CMD_INFO: {
		size_t n = info_text(a, (char *)scratch, sizeof(scratch));
		agent_emit(c, EXEC_FRAME_STDOUT, scratch, n);
		agent_finish_exit(c, EXEC_EXIT_CODE, 0, 0);
		return true;
	}
	case CMD_EXIT:
		if (r->argc > 2)
			emit_line(c, EXEC_FRAME_STDOUT, r->argv[2]);
		if (r->argc > 3)
			emit_line(c, EXEC_FRAME_STDERR, r->argv[3]);
		agent_finish_exit(c, EXEC_EXIT_CODE, 0, c->exit_code);
		return true;
	case CMD_YES:
		if (c->left == 0) {
			agent_finish_exit(c, EXEC_EXIT_CODE, 0, 0);
			return true;
		}
		if (room <= EXEC_FRAME_HEADER_SIZE)
			return false;
		k = (uint32_t)MIN(c->left, (uint64_t)MIN(room - EXEC_FRAME_HEADER_SIZE, EXEC_MAX_DATA));
		for (uint32_t i = 0; i < k; i++)
			scratch[i] = ((c->left - i) & 1) ? '\n' : 'y';
		agent_emit(c, EXEC_FRAME_STDOUT, scratch, k);
		c->left -= k;
		return true;
	case CMD_HCBENCH: {
		/* Each mvm_clock_monotonic() is one exit; the two around the
		 * loop are part of the count. Runs to the end (a bench). */
		uint64_t t0 = mvm_clock_monotonic(), t1;
		for (uint64_t i = 1; i < c->left; i++)
			(void)mvm_clock_monotonic();
		t1 = mvm_clock_monotonic();
		int len = mvm_snprintf((char *)scratch, sizeof(scratch), "hypercalls: %llu\nns-per-hypercall: %llu\n",
				     (unsigned long long)c->left, (unsigned long long)((t1 - t0) / c->left));
		agent_emit(c, EXEC_FRAME_STDOUT, scratch, (size_t)len);
		agent_finish_exit(c, EXEC_EXIT_CODE, 0, 0);
		return true;
	}
	case CMD_SLEEP:
		if (c->until_ns && now >= c->until_ns) {
			agent_finish_exit(c, EXEC_EXIT_CODE, 0, 0);
			return true;
		}
		return false;
	default:
		return false;
	}
}
