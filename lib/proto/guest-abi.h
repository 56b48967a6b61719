/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The micro-VM guest ABI: shared, byte for byte, by the host (mvm-vmm) and
 * the freestanding guest (init/microvm). Only fixed-width types, no libc, so
 * both sides include this one header. docs/guest-abi.md is the reference.
 *
 * Guest memory is identity mapped (guest virtual == guest physical) and the
 * guest runs in 64-bit long mode at CPL3. A hypercall is one VM exit:
 *
 *     args -> rdi, rsi
 *     movabs %al, MVM_HC_DOORBELL + 8 * nr   (a 1-byte write to the doorbell)
 *     result <- rax (and rdx for MVM_HC_CLOCK)
 *
 * The doorbell page is mapped in the guest's page tables but has no memory
 * behind it, so the write is an MMIO exit (no guest OS, no CPL0 needed).
 * `outb %al, $(MVM_HC_PORT_BASE + nr)` is accepted too, but only where the
 * CPU honours IOPL 3 for the guest: under PVM (the nested development and
 * CI hosts) the guest's IOPL is forced to 0 and `out` at CPL3 is a #GP,
 * i.e. a triple fault. Negative results are -errno values.
 */
#ifndef MVM_KVM_GUEST_ABI_H
#define MVM_KVM_GUEST_ABI_H

#include <stdint.h>

#define MVM_BLOB_REF_LEN 71u /* "sha256:" + 64 lowercase hex, no NUL */
#define MVM_HC_DOORBELL 0xc0000000ull /* unbacked, user-mapped 2 MiB page */
#define MVM_HC_DOORBELL_SIZE 0x1000ull /* call slots: 8 bytes each */
#define MVM_HC_PORT_BASE 0xe0u

enum mvm_hypercall {
	MVM_HC_CONSOLE_WRITE = 0, /* rdi=buf rsi=len          -> rax=len | -errno */
	MVM_HC_CONSOLE_READ = 1,  /* rdi=buf rsi=cap          -> rax=n (0: none; -EPIPE:
				   * the host ended the input and none is left) */
	MVM_HC_CLOCK = 2,         /*                          -> rax=mono ns, rdx=real ns */
	MVM_HC_RANDOM = 3,        /* rdi=buf rsi=len (<=256)  -> rax=len */
	MVM_HC_EXIT = 4,          /* rdi=code (low 32 bits)   -> does not return */
	MVM_HC_ABORT = 5,         /* rdi=msg rsi=len          -> does not return */
	MVM_HC_WAIT = 6,          /* rdi=timeout ns (-1: none) -> rax=MVM_EV_* mask, rdx=mono ns */
	MVM_HC_CONFIG = 7,        /* -> 0 once the boot info holds this VM's configuration
				   * (only with MVM_BOOT_F_WARM; see docs/guest-abi.md) */
	/* 8..15: workloads (Wasm by content hash). */
	MVM_HC_BLOB_LOAD = 8,     /* rdi=buf rsi=cap          -> rax=size | -errno */
	MVM_HC_BLOB_LOAD_HASH = 9, /* rdi="sha256:<hex>" (71 bytes) rsi=buf rdx=cap
				    * -> rax=size | -ENOENT | -E2BIG (rdx=size) | -EFBIG */
	/* 10..12: actors (docs/actors.md): messages through mvmd. */
	MVM_HC_MSG_SEND = 10,     /* rdi=struct mvm_hc_send   -> rax=id > 0 | -errno */
	MVM_HC_MSG_WAIT = 11,     /* rdi=struct mvm_hc_msg    -> rax=MVM_MSG_* kind | -errno, rdx=mono ns */
	MVM_HC_MSG_ANSWER = 12,   /* rdi=struct mvm_hc_msg    -> rax=0 | -errno (its answer part only) */
	MVM_HC_STDERR_WRITE = 13, /* rdi=buf rsi=len -> rax=len: the workload's stderr (console
				   * output too, unless the host keeps the streams apart) */
	MVM_HC_MAX
};

/* Bits returned by MVM_HC_WAIT. 0 means the timeout passed. */
#define MVM_EV_CONSOLE_IN 0x1u /* console input is waiting: MVM_HC_CONSOLE_READ (also
				* once when the input ended: the read says -EPIPE) */
#define MVM_EV_STOP 0x2u       /* the host asked the guest to stop: exit soon */
#define MVM_EV_VSOCK 0x4u      /* vsock activity: a connection to accept, data,
				* EOF, room to write (edge: poll every socket) */
#define MVM_EV_ACCEPTED 0x8u   /* with MVM_EV_VSOCK: wait accepted a connection
				* into its struct mvm_wait_accept (rsi) */

/*
 * Optional second argument of MVM_HC_WAIT (rsi, 0: none): when the wait
 * returns MVM_EV_VSOCK, the host also does MVM_HC_VSOCK_ACCEPT(port, buf,
 * cap) and, if that accepted one, sets MVM_EV_ACCEPTED and fills id and
 * hint (what accept returns in rax and rdx). Saves the accept's exit for
 * a guest that sleeps until a connection comes. The block must be
 * writable guest memory (else fault bad-pointer), cap as for accept.
 */
struct mvm_wait_accept {
	uint32_t port;
	uint32_t pad;
	uint64_t buf;
	uint64_t cap;
	int64_t id;    /* out: connection id */
	uint64_t hint; /* out: bytes read into buf | connections still offered << 32 */
};

/*
 * Hybrid vsock (nr 16..31, docs/guest-abi.md "vsock"): the host connects to
 * STATE_DIR/vms/<id>/vsock.sock and writes "CONNECT <port>\n"; the guest
 * sees a connection on the port it listens on. Three arguments: rdi, rsi,
 * rdx. Connection ids are small integers, valid from accept to close.
 * Nothing blocks: -EAGAIN, then MVM_HC_WAIT until MVM_EV_VSOCK.
 */
#define MVM_HC_VSOCK_LISTEN 16u /* rdi=port rsi=flags       -> 0 | -EADDRINUSE | -ENOSPC | -EINVAL */
#define MVM_HC_VSOCK_ACCEPT 17u /* rdi=port [rsi=buf rdx=cap] -> id, rdx=read | queued << 32; -EAGAIN | -EINVAL */
#define MVM_HC_VSOCK_READ 18u   /* rdi=id rsi=buf rdx=cap     -> n, rdx=left | 0 (EOF) | -EAGAIN | -ECONNRESET | -EBADF */
#define MVM_HC_VSOCK_WRITE 19u  /* rdi=id rsi=buf rdx=len     -> n (<= len) | -EAGAIN | -EPIPE | -EBADF */
#define MVM_HC_VSOCK_CLOSE 20u  /* rdi=id [rsi=buf rdx=len]   -> 0 | -EAGAIN (no room for buf) | -EBADF */
#define MVM_HC_VSOCK_FIRST MVM_HC_VSOCK_LISTEN
#define MVM_HC_VSOCK_LAST 31u   /* 21..31 reserved for vsock: fault bad-port today */
#define MVM_VSOCK_LISTEN_DEFER 0x1u /* offer connections to accept once bytes (or EOF) came */
#define MVM_HC_VSOCK_IO_MAX 65536u /* read cap / write len above: fault bad-argument */

/*
 * Actors (docs/actors.md). A message or an answer is 0..MVM_MSG_MAX bytes.
 * Ids are the host's: a message to answer carries mvmd's id, a send gets
 * its id from MVM_HC_MSG_SEND (per VM, counting up from 1), and the answer
 * to it comes back through MVM_HC_MSG_WAIT with that id.
 */
#define MVM_MSG_MAX 65536u
#define MVM_MSG_SENDS_MAX 16u /* sends waiting for their answer, per VM: then -EAGAIN */

/* What MVM_HC_MSG_WAIT returns in rax (and in kind). */
#define MVM_MSG_TIMEOUT 0u /* the timeout passed, nothing came */
#define MVM_MSG_REQUEST 1u /* a message to answer: id, len, from */
#define MVM_MSG_ANSWER 2u  /* the answer to one of our sends: id, len, status */
#define MVM_MSG_STOP 3u    /* the VM was asked to stop: exit soon */
#define MVM_MSG_AGAIN 4u   /* the host ended the wait early (the VM is being
			    * paused): nothing came, the answer (if any) went,
			    * timeout_ns now holds what is left; wait again */

/* MVM_HC_MSG_SEND's block (read by the host). */
struct mvm_hc_send {
	char iface[MVM_BLOB_REF_LEN]; /* "sha256:<64 hex>", no NUL */
	uint8_t pad;
	uint64_t buf;
	uint64_t len; /* <= MVM_MSG_MAX, else -EMSGSIZE */
};

/*
 * MVM_HC_MSG_WAIT's block: first the answer (answer_id 0: none) goes out,
 * then the call blocks in the host until a message, an answer to a send,
 * a stop or the timeout. min(len, cap) bytes are written to buf; len is
 * the whole size (the rest is dropped). One exit answers one message and
 * waits for the next. MVM_HC_MSG_ANSWER sends the answer part and
 * returns at once. The block must be writable guest memory.
 */
struct mvm_hc_msg {
	/* in: the answer */
	uint64_t answer_id;
	uint64_t answer_buf;
	uint64_t answer_len; /* <= MVM_MSG_MAX, else -EMSGSIZE and nothing is done */
	/* in: the wait */
	uint64_t buf;
	uint64_t cap;        /* <= MVM_MSG_MAX */
	int64_t timeout_ns;  /* < 0: none */
	/* out */
	uint64_t id;         /* REQUEST: the message's id (answer with it); ANSWER: the send's */
	uint32_t len;        /* bytes of the message or answer, whole */
	int32_t status;      /* ANSWER: 0, or -errno: the send failed (docs/actors.md) */
	uint32_t from;       /* REQUEST: 0 an RPC client, k > 0 through the VM's k-th handled interface */
	uint32_t kind;       /* = rax */
};

/* Limits the host enforces (larger requests are a guest fault). */
#define MVM_HC_CONSOLE_MAX 65536u
#define MVM_HC_RANDOM_MAX 256u
#define MVM_HC_ABORT_MAX 1024u

/* Fixed guest-physical layout. */
#define MVM_GUEST_PML4 0x1000ull      /* page tables: 0x1000..0x8000, supervisor only */
#define MVM_GUEST_GDT 0x8000ull       /* GDT, supervisor only */
#define MVM_GUEST_STACK_PT 0x9000ull  /* 4 KiB page table of the top 2 MiB, supervisor */
#define MVM_GUEST_BOOT_INFO 0x10000ull /* boot info, user read-only, MVM_BOOT_INFO_MAX */
#define MVM_BOOT_INFO_MAX 0x10000ull
#define MVM_GUEST_IMAGE_MIN 0x200000ull /* lowest address an ELF segment may use */
#define MVM_GUEST_STACK_SIZE 0x100000ull /* at the top of memory */
#define MVM_GUEST_STACK_GUARD 0x1000ull  /* unmapped page below the stack */

#define MVM_BOOT_MAGIC 0x31544f4f424d564dull /* "MVMBOOT1" */
#define MVM_BOOT_VERSION 3u /* 2: envc/envp, workload_size; 3: flags, warm_bytes */

/*
 * Boot-info flags. MVM_BOOT_F_WARM: the VM was built ahead of time for a
 * pool (docs/worker-protocol.md, "Warm workers"): the boot info has the
 * memory map but no arguments yet. The guest touches warm_bytes of its
 * largest free region and the top of its stack (so those first touches
 * are paid before anyone waits), then calls MVM_HC_CONFIG, which returns
 * once the host has rewritten the whole block for the VM it now is.
 */
#define MVM_BOOT_F_WARM 0x1u
/*
 * MVM_BOOT_F_PRIMED, set by MVM_HC_CONFIG's answer instead of the whole
 * configuration: the boot info names the workload (workload,
 * workload_size) and nothing else yet. A guest may load and compile the
 * module now, then call MVM_HC_CONFIG again for the rest (arguments,
 * environment, capabilities; the same workload). A guest that has no use
 * for it just calls again at once.
 */
#define MVM_BOOT_F_PRIMED 0x2u

enum mvm_mem_type {
	MVM_MEM_RESERVED = 1, /* page tables, GDT, boot info: do not touch */
	MVM_MEM_IMAGE = 2,    /* the loaded ELF */
	MVM_MEM_FREE = 3,     /* free for the guest's heap */
	MVM_MEM_STACK = 4,    /* the initial stack (rsp starts at its end) */
	MVM_MEM_GUARD = 5,    /* not mapped: a stack overflow faults here */
};

struct mvm_mem_region {
	uint64_t base;
	uint64_t size;
	uint32_t type; /* enum mvm_mem_type */
	uint32_t pad;
};

#define MVM_BOOT_REGIONS_MAX 8u

/*
 * At MVM_GUEST_BOOT_INFO; its address is also passed in rdi at entry.
 * argv, caps and envp point into the same block (NULL terminated arrays of
 * NUL terminated strings; envp entries are "NAME=value"); workload is ""
 * or "sha256:<64 hex>", and workload_size the verified module's size in
 * bytes (what MVM_HC_BLOB_LOAD copies), 0 without a workload.
 */
struct mvm_boot_info {
	uint64_t magic;
	uint32_t version;
	uint32_t size; /* bytes used from MVM_GUEST_BOOT_INFO */
	uint64_t mem_size;
	uint32_t vcpus;
	uint32_t nregions;
	struct mvm_mem_region regions[MVM_BOOT_REGIONS_MAX];
	uint32_t argc;
	uint32_t ncaps;
	uint64_t argv; /* guest address of char *argv[argc + 1] */
	uint64_t caps; /* guest address of char *caps[ncaps + 1] */
	char workload[80];
	/* version 2 */
	uint32_t envc;
	uint32_t pad2;
	uint64_t envp; /* guest address of char *envp[envc + 1] */
	uint64_t workload_size;
	/* version 3 */
	uint32_t flags;      /* MVM_BOOT_F_* */
	uint32_t pad3;
	uint64_t warm_bytes; /* with MVM_BOOT_F_WARM: heap bytes to touch first */
};

#endif
