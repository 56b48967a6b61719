/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The micro-VM exec agent (docs/exec-protocol.md): listens on vsock port
 * 52 (EXEC_AGENT_PORT) through the worker's hybrid vsock hypercalls and
 * answers exec requests with the frame protocol (lib/proto/exec-frame.c, built
 * freestanding into the guest). There are no processes in a micro-VM: the
 * commands are built-ins (agent-builtin.c) and, with the Wasm runtime,
 * argv[0] = sha256:<hex>. Single-threaded, never blocks: the driver calls
 * mvm_agent_step() until it reports no progress, then waits.
 */
#ifndef MVM_GUEST_AGENT_H
#define MVM_GUEST_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/exec-frame.h"
#include "mvm.h"

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
/* errno values the vsock calls return (no <errno.h> here) */
#define EAGAIN 11
#define EPIPE 32

#define AGENT_CONNS 8u           /* served at once; more wait in the worker's backlog */
#define AGENT_REQUEST_MS 30000u  /* the whole request must arrive by then */
#define AGENT_STALE_TICKS (1ull << 21) /* ~0.7 ms at 3 GHz: the round's `now` is old */

/* The vsock calls: rdi, rsi, rdx in; rax, and rdx as a hint, out. */
#define mvm_hypercall3(nr, a0, a1, a2, rdx_out)                                 \
	({                                                                      \
		register uint64_t _a0 __asm__("rdi") = (uint64_t)(a0);          \
		register uint64_t _a1 __asm__("rsi") = (uint64_t)(a1);          \
		uint64_t _rax, _rdx = (uint64_t)(a2);                           \
		__asm__ volatile("movabs %%al, %P[port]"                        \
				 : "=a"(_rax), "+d"(_rdx), "+r"(_a0), "+r"(_a1) \
				 : [port] "i"(MVM_HC_(nr)), "a"(0)              \
				 : "memory");                                   \
		*(rdx_out) = _rdx;                                              \
		(int64_t)_rax;                                                  \
	})

static inline int64_t mvm_vsock_listen(uint32_t port, uint32_t flags)
{
	uint64_t h;
	return mvm_hypercall3(MVM_HC_VSOCK_LISTEN, port, flags, 0, &h);
}
/* *hint: bytes read into buf | connections still queued << 32 */
static inline int64_t mvm_vsock_accept(uint32_t port, void *buf, uint64_t cap, uint64_t *hint)
{
	return mvm_hypercall3(MVM_HC_VSOCK_ACCEPT, port, buf, cap, hint);
}
static inline int64_t mvm_vsock_read(int64_t id, void *buf, uint64_t cap, uint64_t *left)
{
	return mvm_hypercall3(MVM_HC_VSOCK_READ, id, buf, cap, left);
}
static inline int64_t mvm_vsock_write(int64_t id, const void *buf, uint64_t len)
{
	uint64_t h;
	return mvm_hypercall3(MVM_HC_VSOCK_WRITE, id, buf, len, &h);
}
static inline int64_t mvm_vsock_close(int64_t id, const void *last, uint64_t len)
{
	uint64_t h;
	return mvm_hypercall3(MVM_HC_VSOCK_CLOSE, id, last, len, &h);
}
/* wait, with the host's CLOCK_MONOTONIC at return in *now_ns */
static inline uint32_t mvm_wait_now(int64_t timeout_ns, uint64_t *now_ns)
{
	return (uint32_t)mvm_hypercall3(MVM_HC_WAIT, timeout_ns, 0, 0, now_ns);
}
/* the same, accepting a connection into *wa on the way (MVM_EV_ACCEPTED) */
static inline uint32_t mvm_wait_accept_now(int64_t timeout_ns, struct mvm_wait_accept *wa, uint64_t *now_ns)
{
	return (uint32_t)mvm_hypercall3(MVM_HC_WAIT, timeout_ns, wa, 0, now_ns);
}

/* Output kept per connection: two data frames plus the final frame. */
#define AGENT_OUT_CAP (2u * (EXEC_MAX_DATA + EXEC_FRAME_HEADER_SIZE) + 1024u)

enum agent_phase { A_REQUEST, A_RUNNING, A_FLUSH };

typedef struct agent_conn {
	int64_t id;
	uint8_t phase;
	bool readable;   /* there may be bytes to read (an event since the last EAGAIN) */
	bool host_eof;
	uint64_t deadline_ns; /* A_REQUEST: request must be complete; A_RUNNING: timeout; 0 none */
	exec_decoder_t dec;
	exec_request_t req; /* points into dbuf; stable while nothing else is fed */
	uint8_t *pending; size_t pending_len; /* undecoded read bytes */
	uint8_t out[AGENT_OUT_CAP];
	uint32_t out_off, out_len;
	/* the running built-in */
	int cmd;
	uint32_t arg_i, arg_off, stdin_off;
	uint64_t left;        /* mvm.yes: bytes to emit */
	uint64_t until_ns;    /* mvm.sleep: 0 for ever */
	uint8_t exit_code;
	bool args_done, stdin_eof;
	uint8_t rbuf[EXEC_MAX_DATA + EXEC_FRAME_HEADER_SIZE];
	uint8_t dbuf[EXEC_MAX_PAYLOAD];
} agent_conn_t;

typedef struct mvm_agent {
	bool listening;
	bool accept_pending; /* an event came: the port may have connections */
	const struct mvm_boot_info *bi;
	agent_conn_t *conns[AGENT_CONNS];
	agent_conn_t *spare; /* allocated before accept, which reads into it */
	struct mvm_wait_accept wa; /* accept-in-wait into spare (mvm_agent_wait_block) */
	unsigned nconns;
	uint64_t served;
	uint64_t boot_ns;
	uint64_t woke_tsc; /* the TSC when the round's `now` was read */
} mvm_agent_t;

/* Listen on EXEC_AGENT_PORT; -errno (e.g. -ENOSYS without vsock). */
int mvm_agent_init(mvm_agent_t *a, const struct mvm_boot_info *bi);
/* Do what can be done without waiting; true if anything happened.
 * vsock_event: MVM_EV_VSOCK came (connections may have news). */
bool mvm_agent_step(mvm_agent_t *a, bool vsock_event, uint64_t now_ns);
/* The block for mvm_wait_accept_now(), or NULL when the agent cannot take
 * a connection now. After the wait, mvm_agent_waited() takes what it
 * returned (a connection it accepted, the vsock event) and says whether
 * mvm_agent_step() still needs vsock_event. Exec of a built-in then costs
 * 2 exits: the wait (accept and request included) and the close. */
struct mvm_wait_accept *mvm_agent_wait_block(mvm_agent_t *a);
bool mvm_agent_waited(mvm_agent_t *a, bool used_block, uint32_t ev, uint64_t now_ns);
/* Nanoseconds from now_ns until a deadline the agent must act on, or -1. */
int64_t mvm_agent_timeout_ns(const mvm_agent_t *a, uint64_t now_ns);

/* agent-builtin.c: start the request's command (after it was parsed);
 * run_step emits more output when there is room; returns true on progress. */
void agent_cmd_start(mvm_agent_t *a, agent_conn_t *c, uint64_t now);
bool agent_cmd_step(mvm_agent_t *a, agent_conn_t *c, uint64_t now);
void agent_cmd_stdin(agent_conn_t *c, const exec_frame_t *f);
bool agent_cmd_wants_stdin(const agent_conn_t *c);
/* agent-wasm.c: run argv[0] = sha256:<hex> to its end (the connection is
 * then flushing its final frame). */
void agent_wasm_run(mvm_agent_t *a, agent_conn_t *c, uint64_t now);
/* agent.c helpers the built-ins use */
uint32_t agent_out_space(const agent_conn_t *c);
void agent_emit(agent_conn_t *c, int type, const void *data, size_t len);
void agent_finish_exit(agent_conn_t *c, uint8_t kind, uint8_t flags, uint32_t value);
void agent_finish_error(agent_conn_t *c, uint32_t code, const char *msg);

#endif
