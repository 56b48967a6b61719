/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control protocol between mvmd (or a test) and one mvm-vmm worker:
 * typed, length-framed messages over the worker's AF_UNIX stream socket.
 * docs/worker-protocol.md is the reference.
 *
 * Frame: struct kvm_msg_hdr (type, len; host byte order, both ends are the
 * same host) followed by len payload bytes, len <= KVM_MSG_PAYLOAD_MAX.
 *
 * kvm_ctl_t buffers one connection non-blockingly so it can be driven from
 * an sd-event loop: kvm_ctl_fill() on POLLIN, kvm_ctl_next() until it
 * returns 0, kvm_ctl_flush() on POLLOUT while kvm_ctl_pending() > 0.
 */
#ifndef MVM_KVM_CTL_H
#define MVM_KVM_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KVM_PROTO_VERSION 1u

/* The VM sizes a worker builds: mvmd refuses others before it spawns one. */
#define KVM_VM_VCPUS_MAX 16u
#define KVM_VM_MEM_MIN_MIB 4u
#define KVM_VM_MEM_MAX_MIB 3072u /* the doorbell sits at 3 GiB */
#define KVM_MSG_PAYLOAD_MAX 65536u
#define KVM_BLOB_REF_LEN 71u /* "sha256:" + 64 lowercase hex: BLOB_GRANT's payload */

typedef enum kvm_msg_type {
	KVM_MSG_HELLO = 1,       /* w->p  kvm_msg_hello_t, first on every connection */
	KVM_MSG_READY = 2,       /* w->p  empty: sandboxed, guest running */
	KVM_MSG_CONSOLE_OUT = 3, /* w->p  bytes the guest wrote */
	KVM_MSG_CONSOLE_IN = 4,  /* p->w  bytes for the guest's console input */
	KVM_MSG_STOP = 5,        /* p->w  kvm_msg_stop_t */
	KVM_MSG_STATUS_REQ = 6,  /* p->w  empty */
	KVM_MSG_STATUS = 7,      /* w->p  kvm_msg_status_t */
	KVM_MSG_RESULT = 8,      /* w->p  kvm_result_t, last message before exit */
	KVM_MSG_BLOB_GRANT = 9,  /* p->w  "sha256:<64 hex>" + one fd (SCM_RIGHTS): a blob the guest may load */
	KVM_MSG_ACTOR_DELIVER = 10, /* p->w  kvm_msg_actor_t + 0..KVM_ACTOR_DATA_MAX bytes: a message or an answer for the guest */
	KVM_MSG_ACTOR_ANSWER = 11,  /* w->p  kvm_msg_actor_t + bytes: the guest's answer to a delivered message */
	KVM_MSG_ACTOR_SEND = 12,    /* w->p  kvm_msg_actor_t + "sha256:<64 hex>" + bytes: the guest sends to an interface */
	KVM_MSG_PAUSE = 13,      /* p->w  empty: park the vCPU (answered PAUSED) */
	KVM_MSG_RESUME = 14,     /* p->w  empty: run it again (answered RESUMED) */
	KVM_MSG_PAUSED = 15,     /* w->p  empty: the vCPU is parked, the guest runs no code */
	KVM_MSG_RESUMED = 16,    /* w->p  empty: the vCPU runs again */
	KVM_MSG_SNAPSHOT = 17,   /* p->w  kvm_msg_snapshot_t + one fd: write a snapshot of the paused VM into it */
	KVM_MSG_SNAPSHOT_DONE = 18, /* w->p  kvm_msg_snapshot_done_t */
	KVM_MSG_STDERR_OUT = 19, /* w->p  bytes the workload wrote to stderr (a run only: KVM_WARM_F_RUN) */
	KVM_MSG_CONSOLE_EOF = 20, /* p->w  empty: no more console input; the guest reads end of input */
	/* 21-24: snapshots' reuse (docs/snapshots.md) */
	KVM_MSG_CONSOLE_CLIENT = 25, /* w->p  empty + one fd (SCM_RIGHTS): a client the worker accepted on the
				      * VM's console socket (docs/density.md) */
	_KVM_MSG_MAX,
} kvm_msg_type_t;

typedef enum kvm_vm_state {
	KVM_VM_STARTING = 1, /* building the VM, loading the image */
	KVM_VM_RUNNING = 2,
	KVM_VM_STOPPING = 3, /* stop requested, waiting for the guest */
	KVM_VM_ENDED = 4,    /* the result is final */
	KVM_VM_PAUSED = 5,   /* the vCPU is parked (PAUSE): no guest code runs */
	_KVM_VM_STATE_MAX,
} kvm_vm_state_t;

typedef enum kvm_outcome {
	KVM_OUTCOME_NONE = 0,
	KVM_OUTCOME_EXIT = 1,    /* the guest called exit(code) */
	KVM_OUTCOME_STOPPED = 2, /* stopped by request before it exited */
	KVM_OUTCOME_FAULT = 3,   /* the guest faulted: fault, regs, message */
	KVM_OUTCOME_ERROR = 4,   /* the worker failed: error (-errno), message */
	_KVM_OUTCOME_MAX,
} kvm_outcome_t;

typedef enum kvm_fault {
	KVM_FAULT_NONE = 0,
	KVM_FAULT_SHUTDOWN = 1,    /* triple fault: #PF, #GP, #UD, hlt, int3 ... */
	KVM_FAULT_MMIO = 2,        /* access to unbacked guest-physical memory */
	KVM_FAULT_BAD_PORT = 3,    /* unknown hypercall number, or in/out to a port */
	KVM_FAULT_BAD_POINTER = 4, /* hypercall buffer outside guest memory */
	KVM_FAULT_BAD_ARG = 5,     /* hypercall argument out of range */
	KVM_FAULT_ABORT = 6,       /* the guest called abort(message) */
	KVM_FAULT_HLT = 7,         /* hlt with no interrupts: would never wake */
	KVM_FAULT_INTERNAL = 8,    /* KVM could not run the guest (emulation, entry) */
	_KVM_FAULT_MAX,
} kvm_fault_t;

enum {
	KVM_REG_RAX, KVM_REG_RBX, KVM_REG_RCX, KVM_REG_RDX, KVM_REG_RSI, KVM_REG_RDI,
	KVM_REG_RSP, KVM_REG_RBP, KVM_REG_R8, KVM_REG_R9, KVM_REG_R10, KVM_REG_R11,
	KVM_REG_R12, KVM_REG_R13, KVM_REG_R14, KVM_REG_R15, KVM_REG_RIP, KVM_REG_RFLAGS,
	KVM_REG_CR2, KVM_REG_CR3,
	_KVM_REG_MAX,
};

#define KVM_RESULT_MESSAGE_MAX 256

/* How a VM ended: the RESULT message payload and the result file's content. */
typedef struct kvm_result {
	uint32_t outcome;   /* kvm_outcome_t */
	uint32_t exit_code; /* KVM_OUTCOME_EXIT: the guest's code, whole */
	uint32_t fault;     /* kvm_fault_t for KVM_OUTCOME_FAULT */
	int32_t error;      /* -errno for KVM_OUTCOME_ERROR */
	uint64_t fault_addr; /* MMIO address, port, or bad pointer */
	uint32_t regs_valid;
	uint32_t pad;
	uint64_t regs[_KVM_REG_MAX];
	char message[KVM_RESULT_MESSAGE_MAX]; /* NUL terminated */
} kvm_result_t;

/* Actor messages (docs/actors.md): the data's limit, and the largest
 * payload of any frame (an ACTOR_SEND with a whole message). */
#define KVM_ACTOR_DATA_MAX 65536u
#define KVM_MSG_FRAME_MAX (KVM_ACTOR_DATA_MAX + 128u)

typedef enum kvm_actor_kind {
	KVM_ACTOR_REQUEST = 1, /* DELIVER: a message to answer (id: mvmd's) */
	KVM_ACTOR_ANSWER = 2,  /* DELIVER: the answer to the guest's send id (status 0 or -errno) */
} kvm_actor_kind_t;

/* The fixed head of the ACTOR_* frames; the data follows (after the
 * interface's 71 bytes for ACTOR_SEND). */
typedef struct kvm_msg_actor {
	uint64_t id;
	uint32_t kind;   /* kvm_actor_kind_t (DELIVER), 0 otherwise */
	int32_t status;  /* DELIVER of an answer: 0 or -errno */
	uint32_t from;   /* DELIVER of a request: 0 an RPC client, k the k-th handled interface */
	uint32_t pad;
} kvm_msg_actor_t;

typedef struct kvm_msg_hdr {
	uint32_t type;
	uint32_t len;
} kvm_msg_hdr_t;

typedef struct kvm_msg_hello {
	uint32_t version; /* KVM_PROTO_VERSION */
	uint32_t state;   /* kvm_vm_state_t */
	int32_t pid;
	uint32_t flags;   /* KVM_HELLO_F_*; 0 from a worker older than them */
} kvm_msg_hello_t;

/* The worker holds the VM's listening console socket (ASSIGN's
 * KVM_WARM_FD_CONSOLE) and hands each client it accepts to the parent in a
 * CONSOLE_CLIENT frame. A worker without it leaves the console to its
 * parent (one started by an mvmd older than this flag). */
#define KVM_HELLO_F_CONSOLE 0x1u

typedef struct kvm_msg_stop {
	uint32_t grace_ms; /* 0: stop the vCPU now; else let a waiting guest exit first */
	uint32_t pad;
} kvm_msg_stop_t;

typedef struct kvm_msg_status {
	uint32_t state; /* kvm_vm_state_t */
	uint32_t pad;
	uint64_t exits;           /* vCPU exits handled so far */
	uint64_t console_bytes;   /* console bytes the guest wrote */
	uint64_t console_dropped; /* of which dropped: buffer full, nobody reading */
	uint64_t console_buffered; /* bytes waiting in the worker */
} kvm_msg_status_t;

typedef struct kvm_msg_snapshot {
	uint32_t flags; /* 0 */
	uint32_t pad;
} kvm_msg_snapshot_t;

typedef struct kvm_msg_snapshot_done {
	int32_t error;  /* 0, or -errno: nothing usable was written */
	uint32_t pad;
	uint64_t size;  /* bytes written from offset 0 */
} kvm_msg_snapshot_done_t;

/* A decoded message; payload points into the decoder's buffer. fd is -1,
 * or (BLOB_GRANT from kvm_ctl_next) the descriptor that came with the
 * frame: the caller owns it and must close it. */
typedef struct kvm_msg {
	uint32_t type;
	uint32_t len;
	const uint8_t *payload;
	int fd;
} kvm_msg_t;

const char *kvm_msg_type_to_string(uint32_t t);
const char *kvm_vm_state_to_string(uint32_t s);
const char *kvm_outcome_to_string(uint32_t o);
int kvm_outcome_from_string(const char *s);
const char *kvm_fault_to_string(uint32_t f);
int kvm_fault_from_string(const char *s);
const char *kvm_reg_name(unsigned i);

/*
 * Decode one frame from buf[0..len). Returns 1 and fills ret_msg (fd -1:
 * the pure decoder sees no descriptors) and ret_consumed when a whole
 * valid frame is there, 0 when more bytes are needed, -EBADMSG for an
 * unknown type or a length the type does not allow.
 */
int kvm_msg_decode(const void *buf, size_t len, kvm_msg_t *ret_msg, size_t *ret_consumed);

/* Typed views of fixed-size payloads (the decoder already checked len). */
int kvm_msg_get_result(const kvm_msg_t *m, kvm_result_t *ret);
int kvm_msg_get_status(const kvm_msg_t *m, kvm_msg_status_t *ret);
int kvm_msg_get_hello(const kvm_msg_t *m, kvm_msg_hello_t *ret);
int kvm_msg_get_stop(const kvm_msg_t *m, kvm_msg_stop_t *ret);
/* ACTOR_*: the head, the interface (ACTOR_SEND: 71 bytes, else NULL) and
 * the data, pointing into the message. -EBADMSG for another type. */
int kvm_msg_get_actor(const kvm_msg_t *m, kvm_msg_actor_t *ret, const char **ret_iface,
		      const uint8_t **ret_data, size_t *ret_len);
int kvm_msg_get_snapshot_done(const kvm_msg_t *m, kvm_msg_snapshot_done_t *ret);

typedef struct kvm_ctl kvm_ctl_t;

/* Takes ownership of fd (made non-blocking). out_max bounds the queue.
 * A new connection refuses descriptors: any SCM_RIGHTS that arrives is a
 * protocol error (and is closed) until kvm_ctl_accept_fds(c, true); only
 * the worker, which receives BLOB_GRANT, turns it on. */
int kvm_ctl_new(int fd, size_t out_max, kvm_ctl_t **ret);
void kvm_ctl_accept_fds(kvm_ctl_t *c, bool accept);
kvm_ctl_t *kvm_ctl_free(kvm_ctl_t *c);
int kvm_ctl_fd(const kvm_ctl_t *c);
/* Queue a frame; -ENOBUFS when the queue would exceed out_max. */
int kvm_ctl_queue(kvm_ctl_t *c, uint32_t type, const void *payload, size_t len);
size_t kvm_ctl_pending(const kvm_ctl_t *c);
size_t kvm_ctl_space(const kvm_ctl_t *c);
/* Write queued bytes: 0 when all are out, 1 when some remain (EAGAIN), -errno. */
int kvm_ctl_flush(kvm_ctl_t *c);
/* Forget what is queued and not written: the peer closed its end, so it
 * can never be (what it sent before may still be read). */
void kvm_ctl_drop_output(kvm_ctl_t *c);
/* One read (recvmsg): >0 bytes read, 0 on EOF, -EAGAIN, -errno;
 * -EBADMSG when descriptors came that this connection does not take
 * (refused, more than one, a second before the first was claimed, or
 * truncated control data): every one received is closed. */
int kvm_ctl_fill(kvm_ctl_t *c);
/* Next buffered message: 1 (ret valid until the next call), 0 none,
 * -EBADMSG (also for a frame that should carry an fd but came without one,
 * or an fd that came with a frame that takes none). */
int kvm_ctl_next(kvm_ctl_t *c, kvm_msg_t *ret);
/*
 * Send one frame that carries fd (SCM_RIGHTS on its first byte; fd stays
 * the caller's). Only when nothing else is queued, so the frame is not
 * delayed behind other output: -EAGAIN if the queue cannot be flushed at
 * once or the frame is not written whole at once (its rest is then queued
 * and goes out later; the fd went with its first byte).
 */
int kvm_ctl_send_fd(kvm_ctl_t *c, uint32_t type, const void *payload, size_t len, int fd);
/*
 * Blocking convenience for tools and tests: wait up to timeout_ms (-1: for
 * ever) for the next message, flushing queued output meanwhile.
 * -ETIMEDOUT, -ECONNRESET on EOF.
 */
int kvm_ctl_recv(kvm_ctl_t *c, int timeout_ms, kvm_msg_t *ret);

int kvm_ctl_send_stop(kvm_ctl_t *c, uint32_t grace_ms);
int kvm_ctl_send_console(kvm_ctl_t *c, const void *buf, size_t len);
/* CONSOLE_EOF: queued behind any input, so the guest reads all of it first. */
int kvm_ctl_send_console_eof(kvm_ctl_t *c);
int kvm_ctl_send_status_req(kvm_ctl_t *c);

/* Result file: "key=value" lines (docs/worker-protocol.md). */
int kvm_result_format(const kvm_result_t *r, char *buf, size_t size);
int kvm_result_parse(const char *text, size_t len, kvm_result_t *ret);
/* Read the result file at path: -ENODATA when it is still empty. */
int kvm_result_read(const char *path, kvm_result_t *ret);

#endif
