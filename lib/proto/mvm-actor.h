/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvm-actor.h: the three calls of an actor, for Wasm modules written in C
 * (clang --target=wasm32-wasi with wasi-libc). docs/actors.md is the
 * reference; this header is its C binding, and the micro-VM guest
 * (init/microvm/actor.c) implements the imports it declares.
 *
 * An actor is an ordinary WASI command whose main() loops on mvm_wait():
 *
 *     static char buf[MVM_ACTOR_MSG_MAX];
 *     struct mvm_actor_info in;
 *     for (;;) {
 *         int k = mvm_wait(buf, sizeof(buf), &in, -1);
 *         if (k == MVM_ACTOR_STOP) return 0;
 *         if (k == MVM_ACTOR_REQUEST) mvm_answer(in.id, reply, reply_len);
 *     }
 *
 * Its linear memory is its state: globals and the heap stay as they are
 * between messages. Error numbers are Linux's (not wasi-libc's errno
 * values): the MVM_ACTOR_E* below.
 */
#ifndef MVM_ACTOR_H
#define MVM_ACTOR_H

#include <stdint.h>

#define MVM_ACTOR_MSG_MAX 65536u /* bytes of one message or answer */
#define MVM_ACTOR_SENDS_MAX 16u  /* sends waiting for their answer; then -EAGAIN */
#define MVM_ACTOR_IFACE_LEN 71u  /* "sha256:" + 64 lowercase hex, no NUL */

/* What mvm_wait() returns (>= 0), or -errno. */
#define MVM_ACTOR_TIMEOUT 0 /* the timeout passed */
#define MVM_ACTOR_REQUEST 1 /* a message: answer it with mvm_answer(info.id, ...) */
#define MVM_ACTOR_ANSWER 2  /* the answer to our send info.id; info.status 0 or -errno */
#define MVM_ACTOR_STOP 3    /* the VM is asked to stop: return from main soon */

#define MVM_ACTOR_ENOENT 2       /* answer: no message with that id is waiting for our answer */
#define MVM_ACTOR_EAGAIN 11      /* send: MVM_ACTOR_SENDS_MAX sends wait already; answer: the handler's mailbox is full */
#define MVM_ACTOR_EACCES 13      /* answer: the interface is not granted to this VM */
#define MVM_ACTOR_EFAULT 14      /* a pointer or length outside linear memory */
#define MVM_ACTOR_EINVAL 22      /* send: not "sha256:<64 lowercase hex>" */
#define MVM_ACTOR_EPIPE 32       /* answer: the handler ended before it answered */
#define MVM_ACTOR_EMSGSIZE 90    /* more than MVM_ACTOR_MSG_MAX bytes */
#define MVM_ACTOR_ECONNRESET 104 /* answer: mvmd restarted while the send was in flight */
#define MVM_ACTOR_ETIMEDOUT 110  /* answer: the handler did not answer in time */
#define MVM_ACTOR_EHOSTUNREACH 113 /* answer: nobody handles the interface */

/* Filled by mvm_wait() (24 bytes in linear memory). */
struct mvm_actor_info {
	uint64_t id;     /* REQUEST: the message's id; ANSWER: our send's id */
	uint32_t len;    /* the whole message's bytes (only min(len, cap) were copied) */
	int32_t status;  /* ANSWER: 0, or -errno: the send failed */
	uint32_t from;   /* REQUEST: 0 from an RPC client, k > 0 through the k-th interface the VM handles */
	uint32_t pad;
};

#if defined(__wasm__)
#define MVM_ACTOR_IMPORT(n) __attribute__((import_module("mvm"), import_name(n)))
#else
#define MVM_ACTOR_IMPORT(n)
#endif

/* Send len bytes to the interface named iface (71 bytes, no NUL needed).
 * Returns the send's id (> 0): its answer comes through mvm_wait(). */
MVM_ACTOR_IMPORT("send") int64_t mvm_send(const char *iface, const void *msg, uint32_t len);
/* Answer message id (from a REQUEST). Returns 0 or -errno. The answer
 * leaves with the next mvm_wait() (one VM exit for both), mvm_send() or
 * the end of the program. */
MVM_ACTOR_IMPORT("answer") int32_t mvm_answer(uint64_t id, const void *msg, uint32_t len);
/* Wait for a message, an answer, a stop or timeout_ns (< 0: for ever).
 * Returns MVM_ACTOR_* (>= 0) or -errno. */
MVM_ACTOR_IMPORT("wait") int32_t mvm_wait(void *buf, uint32_t cap, struct mvm_actor_info *info, int64_t timeout_ns);

#endif
