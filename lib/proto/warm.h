/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Warm workers (docs/worker-protocol.md, "Warm workers"): an mvm-vmm
 * started ahead of time with --pool-fd builds its VM, sandboxes itself and
 * lets its guest pay its first memory touches, then says READY on a
 * SOCK_SEQPACKET socketpair and waits for one ASSIGN: the VM's strings
 * (guest args, capabilities, environment, workload hash) and its fds
 * (control socket, result file, log, vsock socket, workload module),
 * passed with SCM_RIGHTS. From then on it is the worker a cold spawn with
 * the same command line would have been.
 *
 * Both ends use this file; kvm_warm_decode() reads what the other process
 * sent and is fuzzed (tests/fuzz/fuzz_kvm_warm.c). Never logs.
 */
#ifndef MVM_KVM_WARM_H
#define MVM_KVM_WARM_H

#include <stddef.h>
#include <stdint.h>

#define KVM_WARM_VERSION 1u
#define KVM_WARM_MSG_MAX 65536u /* one datagram, header and strings */
#define KVM_WARM_LIST_MAX 256u  /* args, caps, envs: each */

enum {
	KVM_WARM_MSG_READY = 1,  /* worker -> parent: {type, version, pid} */
	KVM_WARM_MSG_ASSIGN = 2, /* parent -> worker: header, strings, fds */
	KVM_WARM_MSG_PRIME = 3,  /* parent -> worker: the module only (hash, fd);
				  * READY again once it is compiled, then ASSIGN */
	/* Restore-based warm workers (daemon/vmm/reuse.c, docs/architecture.md
	 * "Warm workers"): one primed worker per module writes its template
	 * into a file mvmd made; mvmd seals it, and further workers become
	 * that primed VM by mapping it, without compiling the module. */
	KVM_WARM_MSG_TEMPLATE = 4, /* parent -> a primed, READY worker: the module's hash
				    * and an empty file (slot KVM_WARM_FD_TEMPLATE); READY
				    * again once the template is in it */
	KVM_WARM_MSG_RESTORE = 5,  /* parent -> an unprimed, READY worker: the module's hash,
				    * the sealed template and the module; READY again once
				    * it is that primed VM */
};

/* The fds an ASSIGN carries: those whose bit is in fd_mask, in this order. */
enum {
	KVM_WARM_FD_CTL = 0, /* listening control socket: required */
	KVM_WARM_FD_RESULT,  /* the result file */
	KVM_WARM_FD_LOG,     /* becomes the worker's stderr */
	KVM_WARM_FD_VSOCK,   /* listening hybrid vsock socket */
	KVM_WARM_FD_BLOB,    /* the workload module: only with a workload */
	KVM_WARM_FD_CONSOLE, /* listening console socket: the worker accepts its clients and hands them
			      * to the parent (KVM_MSG_CONSOLE_CLIENT); none for a run */
	KVM_WARM_FD_SNAPSHOT, /* a snapshot the VM continues from (docs/snapshots.md), read-only:
			       * only to an unprimed worker, never for a run */
	KVM_WARM_FD_MAX
};
/* TEMPLATE and RESTORE carry the template file in the first slot. */
#define KVM_WARM_FD_TEMPLATE KVM_WARM_FD_CTL

typedef struct kvm_warm_ready {
	uint32_t type; /* KVM_WARM_MSG_READY */
	uint32_t version;
	int32_t pid;
	uint32_t pad;
} kvm_warm_ready_t;

typedef struct kvm_warm_hdr {
	uint32_t type; /* KVM_WARM_MSG_ASSIGN */
	uint32_t version;
	uint32_t fd_mask;
	uint32_t memory_mib; /* must be the warm VM's */
	uint32_t vcpus;      /* must be the warm VM's */
	uint32_t nstrings;   /* then nstrings of "<tag><bytes>\0", tag a c e w */
	uint32_t flags;      /* KVM_WARM_F_* (ASSIGN only) */
	uint32_t pad;
} kvm_warm_hdr_t;

/*
 * KVM_WARM_F_RUN: the VM is a one-shot compute.vm.run (docs/workloads.md,
 * "One-shot runs"), which nothing durable records, so no restarted mvmd
 * will ever look for this worker: it stops its VM and exits as soon as
 * its control connection closes (mvmd died), and it keeps the workload's
 * stderr apart from its console output (KVM_MSG_STDERR_OUT).
 */
#define KVM_WARM_F_RUN 0x1u
/*
 * KVM_WARM_F_REUSE (with KVM_WARM_F_RUN, to a primed worker only): keep
 * the pool socket. Once the run's guest exited and its RESULT went out,
 * the worker resets its VM to the template it took when its module was
 * compiled (daemon/vmm/reuse.c: memory, vCPU, every worker-side state),
 * says READY again and waits for the next ASSIGN of the same module
 * (docs/workloads.md, "Reused workers"). A run that did not exit cleanly,
 * or a worker without a template, just ends as before.
 */
#define KVM_WARM_F_REUSE 0x2u
#define KVM_WARM_F_ALL (KVM_WARM_F_RUN | KVM_WARM_F_REUSE)

/* A decoded ASSIGN or PRIME; its strings point into the message buffer.
 * A PRIME carries the workload hash and the module's fd, nothing else; a
 * TEMPLATE the hash and the template's fd; a RESTORE the hash, the
 * template's fd and the module's. */
typedef struct kvm_warm_assign {
	uint32_t type; /* KVM_WARM_MSG_ASSIGN or KVM_WARM_MSG_PRIME */
	uint32_t fd_mask;
	uint32_t memory_mib, vcpus;
	uint32_t flags;       /* KVM_WARM_F_* */
	const char *workload; /* "sha256:<hex>" or NULL */
	const char *args[KVM_WARM_LIST_MAX];
	size_t nargs;
	const char *caps[KVM_WARM_LIST_MAX];
	size_t ncaps;
	const char *envs[KVM_WARM_LIST_MAX];
	size_t nenvs;
} kvm_warm_assign_t;

/* Encode a (type, fd_mask, memory, vcpus and the strings) into buf: the
 * length, or -E2BIG (more than cap bytes or KVM_WARM_LIST_MAX strings of a
 * kind), -EINVAL (an ASSIGN without a control socket, a blob without a
 * workload, a PRIME with anything but the workload and its module, a
 * workload that is not "sha256:<64 lowercase hex>"). */
int kvm_warm_encode(const kvm_warm_assign_t *a, uint8_t *buf, size_t cap);
/* Decode an ASSIGN of len bytes in buf (NUL-terminated strings in place:
 * buf must stay alive while *ret is used). -EBADMSG for anything that is
 * not exactly a well-formed message (one kvm_warm_encode() accepts);
 * nfds is how many fds came with it, which must be the number of bits in
 * fd_mask. So an ASSIGN that decodes has its control socket, a PRIME
 * exactly its module. */
int kvm_warm_decode(const uint8_t *buf, size_t len, size_t nfds, kvm_warm_assign_t *ret);

/* Parent: send an ASSIGN or PRIME with fds[i] for each bit i of a->fd_mask. */
int kvm_warm_send(int sock, const kvm_warm_assign_t *a, const int fds[KVM_WARM_FD_MAX]);
/* Worker: block for an ASSIGN or PRIME (ret->type); ret_fds[i] is the fd
 * for bit i or -1.
 * buf (KVM_WARM_MSG_MAX bytes) holds the strings. 0 on success, -EPIPE
 * when the parent closed the pool socket (no job will come), -EBADMSG for
 * a malformed message (every fd that came with it is closed). */
int kvm_warm_recv(int sock, uint8_t *buf, kvm_warm_assign_t *ret, int ret_fds[KVM_WARM_FD_MAX]);

#endif
