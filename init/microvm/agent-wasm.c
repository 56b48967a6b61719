/* SPDX-License-Identifier: Apache-2.0 */
/*
 * argv[0] = sha256:<hex>: run a Wasm module mvmd granted to this VM
 * (docs/exec-protocol.md, "Wasm by hash in micro-VMs") as a fresh instance
 * in the exec agent, with WASI preview1 bound to the exec connection:
 *
 *   args, env    the request's argv (argv[0] is the hash) and env
 *   stdin        the request's inline stdin, or its stdin-data frames
 *   stdout/err   stdout / stderr frames, flow-controlled like the built-ins
 *   clocks       the clock call; random: the random call
 *   exit         exit{code}: proc_exit's or 0 when _start returns
 *
 * Results, as mvm-init's (init/linux/wasm.c): a trap is exit 134 with
 * "mvm-guest: wasm: trap: <kind>" on stderr; a module that cannot run
 * (invalid, unlinkable, no _start) exit 126 with the reason on stderr; a
 * module this VM was not granted error{not-found}; one that does not fit in
 * guest memory error{resources}. timeout_ms ends it like the built-ins:
 * exit{signal 9, timed_out}.
 *
 * The interpreter runs on the only vCPU, so the agent serves nothing else
 * meanwhile. It runs in fuel slices: between slices a TSC read (no exit)
 * decides whether to ask the host's clock (one exit) about the deadline,
 * about once per WX_CHECK_TICKS. Everything the run allocates comes from
 * the guest heap and is freed before the exit frame goes out.
 */
#include "agent.h"
#include "wasm/wasi-link.h"
#include "wasm/wasi.h"
#include "wasm/wasm.h"

#define WX_FIRST_LOAD (64u << 10) /* a small module loads in one exit */
#define WX_SLICE (1u << 16)       /* fuel between deadline checks */
#define WX_CHECK_TICKS (1ull << 22) /* ~1.4 ms at 3 GHz: ask the clock at most this often */
#define WX_EXIT_CANNOT_RUN 126
#define WX_EXIT_TRAP 134
#define E2BIG_ 7
#define EFBIG_ 27
#define ENOENT_ 2
#define ENOMEM_ 12

typedef struct wx {
	mvm_agent_t *a;
	agent_conn_t *c;
	uint64_t deadline_ns; /* 0: none */
	uint64_t last_tsc;
	bool timed_out, host_gone, stopped, proto_error;
	/* stream stdin: the undelivered rest of the last stdin-data frame */
	const uint8_t *in; size_t in_len;
	bool in_eof;
} wx_t;

static bool wx_done(const wx_t *x)
{
	return x->timed_out || x->host_gone || x->stopped || x->proto_error;
}

/* The deadline, checked against the host's clock (one exit). */
static bool wx_past_deadline(wx_t *x)
{
	if (x->deadline_ns && mvm_clock_monotonic() >= x->deadline_ns)
		x->timed_out = true;
	return x->timed_out;
}

static uint64_t wx_refuel(void *ud)
{
	wx_t *x = ud;
	uint64_t t;

	if (wx_done(x))
		return 0;
	if (!x->deadline_ns)
		return WX_SLICE;
	t = mvm_rdtsc();
	if (t - x->last_tsc < WX_CHECK_TICKS)
		return WX_SLICE;
	x->last_tsc = t;
	return wx_past_deadline(x) ? 0 : WX_SLICE;
}

/* Sleep in the host until vsock news, the deadline or the stop; false when
 * the run must end. Other connections' news is consumed here: the agent
 * looks at all of them once the run is over (agent_wasm_run). */
static bool wx_wait(wx_t *x)
{
	uint64_t now;
	int64_t t = -1;

	if (x->deadline_ns) {
		now = mvm_clock_monotonic();
		if (now >= x->deadline_ns) {
			x->timed_out = true;
			return false;
		}
		t = (int64_t)(x->deadline_ns - now);
	}
	uint32_t ev = mvm_wait_now(t, &now);
	if (ev & MVM_EV_STOP)
		x->stopped = true;
	if (x->deadline_ns && now >= x->deadline_ns)
		x->timed_out = true;
	return !wx_done(x);
}

/* Write out what the connection's buffer holds, as far as the host takes it. */
static bool wx_flush(wx_t *x)
{
	agent_conn_t *c = x->c;

	while (c->out_len > c->out_off) {
		int64_t n = mvm_vsock_write(c->id, c->out + c->out_off, MIN(c->out_len - c->out_off, MVM_HC_VSOCK_IO_MAX));
		if (n > 0) {
			c->out_off += (uint32_t)n;
			continue;
		}
		if (n != -EAGAIN) {
			x->host_gone = true;
			return false;
		}
		if (!wx_wait(x))
			return false;
	}
	c->out_off = c->out_len = 0;
	return true;
}

static int64_t wx_writev(void *user, int fd, const wasi_iovec *iov, int iovcnt)
{
	wx_t *x = user;
	int type = fd == 2 ? EXEC_FRAME_STDERR : EXEC_FRAME_STDOUT;
	int64_t total = 0;

	for (int i = 0; i < iovcnt; i++) {
		const uint8_t *p = iov[i].buf;
		size_t left = iov[i].len;
		while (left) {
			uint32_t room = agent_out_space(x->c);
			if (room <= EXEC_FRAME_HEADER_SIZE) {
				if (!wx_flush(x))
					return total ? total : -WASI_ERRNO_PIPE;
				continue;
			}
			size_t k = MIN(left, (size_t)MIN(room - EXEC_FRAME_HEADER_SIZE, EXEC_MAX_DATA));
			agent_emit(x->c, type, p, k);
			p += k;
			left -= k;
			total += (int64_t)k;
		}
	}
	return total;
}

/* Stream stdin: the next stdin-data bytes, 0 at stdin-eof (or when the run
 * must end), reading and decoding frames from the connection. */
static size_t wx_stream_in(wx_t *x, void *buf, size_t cap)
{
	agent_conn_t *c = x->c;

	while (!x->in_len && !x->in_eof) {
		if (c->pending_len) {
			exec_frame_t f;
			size_t used = 0;
			int r = exec_decoder_feed(&c->dec, c->pending, c->pending_len, &used, &f);
			c->pending += used;
			c->pending_len -= used;
			if (r < 0 || (r == 1 && f.type != EXEC_FRAME_STDIN_DATA && f.type != EXEC_FRAME_STDIN_EOF)) {
				x->proto_error = true;
				return 0;
			}
			if (r == 1 && f.type == EXEC_FRAME_STDIN_EOF)
				x->in_eof = c->stdin_eof = true;
			else if (r == 1) {
				x->in = f.payload; /* valid until the next feed */
				x->in_len = f.len;
			}
			continue;
		}
		uint64_t left = 0;
		int64_t n = mvm_vsock_read(c->id, c->rbuf, sizeof(c->rbuf), &left);
		if (n > 0) {
			c->pending = c->rbuf;
			c->pending_len = (size_t)n;
		} else if (n == -EAGAIN) {
			if (!wx_wait(x))
				return 0;
		} else {
			/* EOF before stdin-eof aborts, as for any command */
			x->host_gone = true;
			return 0;
		}
	}
	size_t k = MIN(cap, x->in_len);
	memcpy(buf, x->in, k);
	x->in += k;
	x->in_len -= k;
	return k;
}

static int64_t wx_readv(void *user, int fd, const wasi_iovec *iov, int iovcnt)
{
	wx_t *x = user;
	agent_conn_t *c = x->c;
	exec_request_t *r = &c->req;

	(void)fd;
	for (int i = 0; i < iovcnt; i++) {
		if (!iov[i].len)
			continue;
		if (r->stdin_mode == EXEC_STDIN_STREAM)
			return (int64_t)wx_stream_in(x, iov[i].buf, iov[i].len);
		size_t k = MIN(iov[i].len, (size_t)(r->stdin_len - c->stdin_off));
		memcpy(iov[i].buf, r->stdin_data + c->stdin_off, k);
		c->stdin_off += (uint32_t)k;
		return (int64_t)k; /* 0: end of input */
	}
	return 0;
}

static int wx_clock_time(void *user, uint32_t id, uint64_t *ret_ns)
{
	uint64_t mono, real;
	(void)user;
	mvm_clock(&mono, &real);
	switch (id) {
	case WASI_CLOCK_REALTIME: *ret_ns = real; return 0;
	case WASI_CLOCK_MONOTONIC:
	case WASI_CLOCK_PROCESS_CPUTIME:
	case WASI_CLOCK_THREAD_CPUTIME: *ret_ns = mono; return 0;
	default: return -WASI_ERRNO_INVAL;
	}
}

static int wx_clock_res(void *user, uint32_t id, uint64_t *ret_ns)
{
	(void)user;
	if (id > WASI_CLOCK_THREAD_CPUTIME)
		return -WASI_ERRNO_INVAL;
	*ret_ns = 1000;
	return 0;
}

static int wx_random(void *user, void *buf, size_t len)
{
	uint8_t *p = buf;
	(void)user;
	while (len) {
		size_t k = MIN(len, (size_t)MVM_HC_RANDOM_MAX);
		if (mvm_random(p, k) != (int64_t)k)
			return -WASI_ERRNO_IO;
		p += k;
		len -= k;
	}
	return 0;
}

static int wx_sleep_until(void *user, uint32_t id, uint64_t deadline)
{
	wx_t *x = user;
	for (;;) {
		uint64_t now;
		int r = wx_clock_time(user, id, &now);
		if (r < 0)
			return r;
		if (now >= deadline)
			return 0;
		int64_t t = (int64_t)(deadline - now);
		if (x->deadline_ns) {
			uint64_t m = mvm_clock_monotonic();
			if (m >= x->deadline_ns) {
				x->timed_out = true;
				return -WASI_ERRNO_INTR;
			}
			if ((int64_t)(x->deadline_ns - m) < t)
				t = (int64_t)(x->deadline_ns - m);
		}
		uint32_t ev = mvm_wait_now(t, &now);
		if (ev & MVM_EV_STOP) {
			x->stopped = true;
			return -WASI_ERRNO_INTR;
		}
		/* vsock news for other connections is looked at after the run */
	}
}

static const wasi_host wx_host = {
	.writev = wx_writev, .readv = wx_readv, .clock_time = wx_clock_time,
	.clock_res = wx_clock_res, .random = wx_random, .sleep_until = wx_sleep_until,
};

static bool hex_ok(exec_str_t s)
{
	if (s.len != MVM_BLOB_REF_LEN || memcmp(s.ptr, "sha256:", 7) != 0)
		return false;
	for (uint32_t i = 7; i < s.len; i++) {
		char ch = s.ptr[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
	}
	return true;
}

/* A message on stderr, then exit code: how a module that cannot run ends. */
static void wx_fail_exit(agent_conn_t *c, int code, const char *fmt, const char *a, const char *b)
{
	char msg[512];
	int n;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = mvm_snprintf(msg, sizeof(msg), fmt, a, b); /* two %s */
#pragma GCC diagnostic pop
	if (n > 0)
		agent_emit(c, EXEC_FRAME_STDERR, msg, MIN((size_t)n, sizeof(msg) - 1));
	agent_finish_exit(c, EXEC_EXIT_CODE, 0, (uint32_t)code);
}

/* The module's bytes from the host (one exit when it is small): its size,
 * -ENOENT, -EFBIG, or -ENOMEM with *ret_need the size that did not fit. */
static int64_t wx_load(const char *ref, uint8_t **ret, uint64_t *ret_need)
{
	uint64_t need = WX_FIRST_LOAD;
	uint8_t *buf = mvm_malloc(WX_FIRST_LOAD);
	int64_t r;

	*ret_need = need;
	if (!buf)
		return -ENOMEM_;
	r = mvm_hypercall3(MVM_HC_BLOB_LOAD_HASH, ref, buf, WX_FIRST_LOAD, &need);
	if (r == -E2BIG_) {
		mvm_free(buf);
		*ret_need = need;
		buf = mvm_malloc(need ? need : 1);
		if (!buf)
			return -ENOMEM_;
		r = mvm_hypercall3(MVM_HC_BLOB_LOAD_HASH, ref, buf, need, &need);
	}
	if (r < 0) {
		mvm_free(buf);
		return r;
	}
	*ret = buf;
	return r;
}

void agent_wasm_run(mvm_agent_t *a, agent_conn_t *c, uint64_t now)
{
	exec_request_t *req = &c->req;
	char ref[MVM_BLOB_REF_LEN + 1];
	uint8_t *bytes = NULL;
	char **argv = NULL, *strs;
	wasm_config cfg = { 0 };
	wasm_module *mod = NULL;
	wasm_store *store = NULL;
	wasi_link *link = NULL;
	wasm_error err = { 0 };
	wasi_run_result run;
	wasm_trap trap = { 0 };
	wasi_ctx ctx;
	size_t free_b, largest, total = 0;
	uint32_t code = 0;
	int64_t n;
	uint64_t need = 0;
	wx_t x = { .a = a, .c = c, .last_tsc = mvm_rdtsc() };

	if (!hex_ok(req->argv[0])) {
		agent_finish_error(c, EXEC_ERROR_NOT_FOUND, "a module is named sha256:<64 lowercase hex>");
		return;
	}
	memcpy(ref, req->argv[0].ptr, MVM_BLOB_REF_LEN);
	ref[MVM_BLOB_REF_LEN] = 0;
	x.deadline_ns = req->timeout_ms ? now + req->timeout_ms * 1000000ull : 0;

	n = wx_load(ref, &bytes, &need);
	if (n < 0) {
		char msg[256];
		mvm_heap_stats(&free_b, &largest);
		if (n == -ENOENT_)
			mvm_snprintf(msg, sizeof(msg), "%s: module not granted to this VM or not in mvmd's blob store", ref);
		else if (n == -EFBIG_)
			mvm_snprintf(msg, sizeof(msg), "%s: module larger than guest memory (%llu MiB)", ref,
				     (unsigned long long)(a->bi->mem_size >> 20));
		else if (n == -ENOMEM_)
			mvm_snprintf(msg, sizeof(msg), "%s: module of %llu bytes does not fit in guest memory (largest free block %zu bytes)",
				     ref, (unsigned long long)need, largest);
		else
			mvm_snprintf(msg, sizeof(msg), "%s: cannot load the module (%lld)", ref, (long long)n);
		agent_finish_error(c, n == -ENOENT_ ? EXEC_ERROR_NOT_FOUND : EXEC_ERROR_RESOURCES, msg);
		return;
	}

	/* NUL-terminated copies of argv and env: the request's strings are
	 * not, and live in the decoder's buffer, which stream stdin reuses. */
	for (uint32_t i = 0; i < req->argc; i++)
		total += req->argv[i].len + 1;
	for (uint32_t i = 0; i < req->envc; i++)
		total += req->envp[i].len + 1;
	argv = mvm_malloc((req->argc + req->envc + 2) * sizeof(char *) + total);
	if (!argv) {
		agent_finish_error(c, EXEC_ERROR_RESOURCES, "out of guest memory for argv and env");
		goto out;
	}
	strs = (char *)(argv + req->argc + req->envc + 2);
	for (uint32_t i = 0; i < req->argc + req->envc; i++) {
		exec_str_t s = i < req->argc ? req->argv[i] : req->envp[i - req->argc];
		argv[i + (i >= req->argc)] = strs;
		memcpy(strs, s.ptr, s.len);
		strs[s.len] = 0;
		strs += s.len + 1;
	}
	argv[req->argc] = NULL;
	argv[req->argc + req->envc + 1] = NULL;

	wasm_config_init(&cfg);
	cfg.alloc = mvm_heap_hook;
	cfg.max_value_stack = 1u << 16; /* as workload.c: leave a small VM's memory to the module */
	cfg.refuel = wx_refuel;
	cfg.refuel_ud = &x;
	mvm_heap_stats(&free_b, &largest);
	if (largest / 65536 < cfg.max_memory_pages)
		cfg.max_memory_pages = (uint32_t)(largest / 65536);
	if (wasm_module_new(&cfg, bytes, (size_t)n, &mod, &err) < 0) {
		if (err.kind == WASM_ERR_NOMEM) {
			agent_finish_error(c, EXEC_ERROR_RESOURCES, "out of guest memory compiling the module");
			goto out;
		}
		wx_fail_exit(c, WX_EXIT_CANNOT_RUN, "mvm-guest: wasm: %s: invalid module: %s\n", ref,
			     err.message[0] ? err.message : wasm_error_kind_to_string(err.kind));
		goto out;
	}
	mvm_free(bytes);
	bytes = NULL;
	store = wasm_store_new(&cfg);
	link = mvm_malloc(sizeof(*link));
	if (!store || !link) {
		agent_finish_error(c, EXEC_ERROR_RESOURCES, "out of guest memory for the Wasm store");
		goto out;
	}
	wasi_host host = wx_host; /* .user is this run */
	host.user = &x;
	wasi_ctx_init(&ctx, &host, WASI_CAP_ALL, req->argc, (const char *const *)argv, req->envc,
		      (const char *const *)(argv + req->argc + 1));
	wasi_link_init(link, &ctx, store);
	wasm_call_opts opts = { .fuel = WX_SLICE };
	switch (wasi_link_run_command(link, mod, NULL, NULL, &opts, &run)) {
	case WASI_RUN_EXITED:
		code = run.exit_code;
		goto exited;
	case WASI_RUN_TRAPPED:
		trap = run.trap;
		goto trapped;
	case WASI_RUN_NO_START:
		wx_fail_exit(c, WX_EXIT_CANNOT_RUN, "mvm-guest: wasm: %s: no _start function (not a WASI command)%s\n",
			     ref, "");
		goto out;
	case WASI_RUN_NOT_INSTANTIATED:
		break;
	}
	if (run.err.kind == WASM_ERR_NOMEM)
		agent_finish_error(c, EXEC_ERROR_RESOURCES, "out of guest memory instantiating the module");
	else
		wx_fail_exit(c, WX_EXIT_CANNOT_RUN, "mvm-guest: wasm: %s: cannot instantiate: %s\n", ref,
			     run.err.message[0] ? run.err.message : wasm_error_kind_to_string(run.err.kind));
	goto out;
trapped:
	if (x.proto_error) {
		agent_finish_error(c, EXEC_ERROR_PROTOCOL, "unexpected frame");
	} else if (x.timed_out) {
		agent_finish_exit(c, EXEC_EXIT_SIGNAL, EXEC_EXIT_FLAG_TIMED_OUT, 9);
	} else if (x.host_gone || x.stopped) {
		agent_finish_exit(c, EXEC_EXIT_SIGNAL, 0, 9); /* nobody may read it */
	} else {
		const char *kind = wasm_trap_kind_to_string(trap.kind);
		if (trap.message && trap.message[0] && trap.message != kind)
			wx_fail_exit(c, WX_EXIT_TRAP, "mvm-guest: wasm: trap: %s: %s\n", kind, trap.message);
		else
			wx_fail_exit(c, WX_EXIT_TRAP, "mvm-guest: wasm: trap: %s%s\n", kind, "");
	}
	goto out;
exited:
	if (x.proto_error)
		agent_finish_error(c, EXEC_ERROR_PROTOCOL, "unexpected frame");
	else if (x.timed_out)
		agent_finish_exit(c, EXEC_EXIT_SIGNAL, EXEC_EXIT_FLAG_TIMED_OUT, 9);
	else
		agent_finish_exit(c, EXEC_EXIT_CODE, 0, code); /* whole: WASI's code is a u32 */
out:
	wasm_store_free(store);
	wasm_module_free(mod);
	mvm_free(link);
	mvm_free(argv);
	mvm_free(bytes);
	if (x.host_gone)
		c->host_eof = true;
	/* Waits during the run consumed vsock news meant for every
	 * connection: look at all of them again. */
	a->accept_pending = true;
	for (unsigned i = 0; i < a->nconns; i++)
		a->conns[i]->readable = true;
}
