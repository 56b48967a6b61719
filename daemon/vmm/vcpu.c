/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Run one vCPU: KVM_RUN, decode the exit, serve hypercalls (guest-abi.h),
 * turn everything else into a guest fault. Registers travel in kvm_run
 * (KVM_CAP_SYNC_REGS): one ioctl per exit, none to read or write them.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>

#include "actor.h"
#include "grants.h"
#include "proto/guest-abi.h"
#include "kvm-vm.h"
#include "vsock.h"

/* The vCPU this thread runs; the stop signal's handler marks it. */
static __thread struct kvm_run *volatile tls_run;

static void stop_signal_handler(int sig)
{
	struct kvm_run *run = tls_run;
	(void)sig;
	/* If the signal lands outside KVM_RUN, the next KVM_RUN returns EINTR
	 * at once instead of entering a guest that may never exit. */
	if (run)
		run->immediate_exit = 1;
}

int kvm_vcpu_signal_setup(int sig)
{
	struct sigaction sa = { .sa_handler = stop_signal_handler };
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: KVM_RUN must come back with EINTR. */
	if (sigaction(sig, &sa, NULL) < 0)
		return -errno;
	return 0;
}

/*
 * KVM on AMD (svm shutdown_interception) INITs the vCPU on a triple fault,
 * because the VMCB is undefined after a SHUTDOWN intercept: the registers
 * KVM then returns are the reset state (RIP 0xfff0), not the guest's. The
 * guest runs with paging on and cannot turn it off at CPL3, so CR0.PG clear
 * after a shutdown means the host reset the vCPU and the registers are lost.
 */
static bool shutdown_regs_lost(kvm_vm_t *vm, unsigned idx)
{
	struct kvm_sregs sregs;

	return ioctl(vm->vcpu[idx].fd, KVM_GET_SREGS, &sregs) == 0 && !(sregs.cr0 & (1ull << 31));
}

static void fill_regs(kvm_vm_t *vm, unsigned idx, kvm_result_t *r)
{
	const struct kvm_regs *g = &vm->vcpu[idx].run->s.regs.regs;
	struct kvm_sregs sregs;

	r->regs[KVM_REG_RAX] = g->rax; r->regs[KVM_REG_RBX] = g->rbx;
	r->regs[KVM_REG_RCX] = g->rcx; r->regs[KVM_REG_RDX] = g->rdx;
	r->regs[KVM_REG_RSI] = g->rsi; r->regs[KVM_REG_RDI] = g->rdi;
	r->regs[KVM_REG_RSP] = g->rsp; r->regs[KVM_REG_RBP] = g->rbp;
	r->regs[KVM_REG_R8] = g->r8; r->regs[KVM_REG_R9] = g->r9;
	r->regs[KVM_REG_R10] = g->r10; r->regs[KVM_REG_R11] = g->r11;
	r->regs[KVM_REG_R12] = g->r12; r->regs[KVM_REG_R13] = g->r13;
	r->regs[KVM_REG_R14] = g->r14; r->regs[KVM_REG_R15] = g->r15;
	r->regs[KVM_REG_RIP] = g->rip; r->regs[KVM_REG_RFLAGS] = g->rflags;
	/* One extra ioctl, on the fault path only. */
	if (ioctl(vm->vcpu[idx].fd, KVM_GET_SREGS, &sregs) == 0) {
		r->regs[KVM_REG_CR2] = sregs.cr2;
		r->regs[KVM_REG_CR3] = sregs.cr3;
	}
	r->regs_valid = 1;
}

static int guest_fault(kvm_vm_t *vm, unsigned idx, kvm_result_t *r, kvm_fault_t f,
		       uint64_t addr, const char *msg)
{
	r->outcome = KVM_OUTCOME_FAULT;
	r->fault = f;
	r->fault_addr = addr;
	size_t n = strlen(msg);
	if (n > sizeof(r->message) - 1)
		n = sizeof(r->message) - 1;
	memcpy(r->message, msg, n); /* truncated: the message is for people */
	r->message[n] = 0;
	fill_regs(vm, idx, r);
	return 1;
}

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Serve hypercall nr. Returns 0 to resume the guest, 1 when it ended. */
static int hypercall(kvm_vm_t *vm, unsigned idx, unsigned nr, const kvm_host_ops_t *ops,
		     kvm_result_t *res)
{
	struct kvm_run *run = vm->vcpu[idx].run;
	struct kvm_regs *g = &run->s.regs.regs;
	uint64_t a0 = g->rdi, a1 = g->rsi;
	uint8_t *p;
	char msg[MVM_HC_ABORT_MAX + 1];

	switch (nr) {
	case MVM_HC_CONSOLE_WRITE:
	case MVM_HC_CONSOLE_READ:
	case MVM_HC_STDERR_WRITE:
		if (a1 > MVM_HC_CONSOLE_MAX)
			return guest_fault(vm, idx, res, KVM_FAULT_BAD_ARG, a1, "console length too large");
		p = kvm_vm_guest_ptr(vm, a0, a1, nr == MVM_HC_CONSOLE_READ);
		if (!p)
			return guest_fault(vm, idx, res, KVM_FAULT_BAD_POINTER, a0, "console buffer outside guest memory");
		if (nr == MVM_HC_CONSOLE_WRITE) {
			if (a1)
				ops->console_write(ops->userdata, p, a1);
			g->rax = a1;
		} else if (nr == MVM_HC_STDERR_WRITE) {
			if (a1)
				(ops->stderr_write ? ops->stderr_write : ops->console_write)(ops->userdata, p, a1);
			g->rax = a1;
		} else {
			g->rax = a1 ? (uint64_t)ops->console_read(ops->userdata, p, a1) : 0;
		}
		break;
	case MVM_HC_CLOCK:
		g->rax = clock_ns(CLOCK_MONOTONIC);
		g->rdx = clock_ns(CLOCK_REALTIME);
		break;
	case MVM_HC_RANDOM:
		if (a1 > MVM_HC_RANDOM_MAX)
			return guest_fault(vm, idx, res, KVM_FAULT_BAD_ARG, a1, "random length too large");
		p = kvm_vm_guest_ptr(vm, a0, a1, true);
		if (!p)
			return guest_fault(vm, idx, res, KVM_FAULT_BAD_POINTER, a0, "random buffer outside guest memory");
		/* <= 256 bytes from the urandom pool never blocks or comes short. */
		if (a1 && getrandom(p, a1, 0) != (ssize_t)a1)
			g->rax = (uint64_t)-EIO;
		else
			g->rax = a1;
		break;
	case MVM_HC_EXIT:
		res->outcome = KVM_OUTCOME_EXIT;
		res->exit_code = (uint32_t)a0; /* WASI's exit code is a u32: keep it whole */
		return 1;
	case MVM_HC_ABORT:
		if (a1 > MVM_HC_ABORT_MAX)
			a1 = MVM_HC_ABORT_MAX;
		p = kvm_vm_guest_ptr(vm, a0, a1, false);
		if (!p)
			return guest_fault(vm, idx, res, KVM_FAULT_BAD_POINTER, a0, "abort message outside guest memory");
		memcpy(msg, p, a1);
		msg[a1] = 0;
		return guest_fault(vm, idx, res, KVM_FAULT_ABORT, 0, msg);
	case MVM_HC_WAIT: {
		struct mvm_wait_accept wa;
		void *wp = a1 ? kvm_vm_guest_ptr(vm, a1, sizeof(wa), true) : NULL;
		if (a1 && !wp)
			return guest_fault(vm, idx, res, KVM_FAULT_BAD_POINTER, a1, "wait's accept block outside guest memory");
		g->rax = ops->wait(ops->userdata, (int64_t)a0);
		g->rdx = clock_ns(CLOCK_MONOTONIC); /* saves a clock call after waking */
		if (wp && (g->rax & MVM_EV_VSOCK)) {
			/* accept-in-wait: one exit instead of wait + accept */
			uint64_t rax = 0, rdx = 0, fault_addr = 0;
			memcpy(&wa, wp, sizeof(wa));
			int f = kvm_vsock_hypercall(ops->vsock, vm, MVM_HC_VSOCK_ACCEPT, wa.port, wa.buf, wa.cap, &rax, &rdx,
						    &fault_addr);
			if (f)
				return guest_fault(vm, idx, res, (kvm_fault_t)f, fault_addr,
						   f == KVM_FAULT_BAD_POINTER ? "vsock buffer outside guest memory"
						   : "vsock length too large");
			if ((int64_t)rax >= 0) {
				wa.id = (int64_t)rax;
				wa.hint = rdx;
				memcpy(wp, &wa, sizeof(wa));
				g->rax |= MVM_EV_ACCEPTED;
			}
		}
		break;
	}
	case MVM_HC_CONFIG: {
		/* The vCPU thread blocks here until a warm VM is given its job. */
		int c = ops->config ? ops->config(ops->userdata, res) : 0;
		if (c == 1)
			return 1;
		if (c == 2)
			break; /* it became a snapshot's VM: its registers are set */
		g->rax = 0;
		g->rdx = clock_ns(CLOCK_MONOTONIC); /* when its life as this VM began */
		break;
	}
	case MVM_HC_VSOCK_FIRST ... MVM_HC_VSOCK_LAST: {
		uint64_t fault_addr = 0, rax = 0, rdx = 0;
		int f = kvm_vsock_hypercall(ops->vsock, vm, nr, a0, a1, g->rdx, &rax, &rdx, &fault_addr);
		g->rax = rax;
		g->rdx = rdx;
		if (f)
			return guest_fault(vm, idx, res, (kvm_fault_t)f, fault_addr,
					   f == KVM_FAULT_BAD_POINTER ? "vsock buffer outside guest memory"
					   : f == KVM_FAULT_BAD_ARG ? "vsock length too large" : "unknown hypercall");
		break;
	}
	case MVM_HC_MSG_SEND:
	case MVM_HC_MSG_WAIT:
	case MVM_HC_MSG_ANSWER: {
		uint64_t rax = (uint64_t)-ENOSYS, fault_addr = 0;
		int f = ops->actor ? kvm_actor_hypercall(ops->actor, vm, nr, a0, ops->msg_wait, ops->userdata, &rax,
							 &fault_addr) : 0;
		if (f)
			return guest_fault(vm, idx, res, (kvm_fault_t)f, fault_addr, "message buffer outside guest memory");
		g->rax = rax;
		g->rdx = clock_ns(CLOCK_MONOTONIC);
		break;
	}
	case MVM_HC_BLOB_LOAD:
		if (!kvm_hc_blob_load(vm, ops, a0, a1, &a0))
			return guest_fault(vm, idx, res, KVM_FAULT_BAD_POINTER, g->rdi, "blob buffer outside guest memory");
		g->rax = a0;
		break;
	case MVM_HC_BLOB_LOAD_HASH: {
		uint64_t rax = 0, rdx = 0, fault_addr = 0;
		if (!kvm_hc_blob_load_hash(vm, ops->grants, a0, a1, g->rdx, &rax, &rdx, &fault_addr))
			return guest_fault(vm, idx, res, KVM_FAULT_BAD_POINTER, fault_addr,
					   "blob name or buffer outside guest memory");
		g->rax = rax;
		g->rdx = rdx;
		break;
	}
	default:
		return guest_fault(vm, idx, res, KVM_FAULT_BAD_PORT, nr, "unknown hypercall");
	}
	run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	return 0;
}

int kvm_vcpu_run(kvm_vm_t *vm, unsigned idx, const kvm_host_ops_t *ops,
		 kvm_result_t *res, uint64_t *exits)
{
	struct kvm_run *run = vm->vcpu[idx].run;
	int fd = vm->vcpu[idx].fd;
	char msg[KVM_RESULT_MESSAGE_MAX];

	memset(res, 0, sizeof(*res));
	tls_run = run;
	for (;;) {
		if (ops->stop_forced(ops->userdata)) {
			res->outcome = KVM_OUTCOME_STOPPED;
			fill_regs(vm, idx, res);
			break;
		}
		if (ops->pause_requested && ops->pause_requested(ops->userdata))
			run->immediate_exit = 1;
		if (ioctl(fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				run->immediate_exit = 0;
				/* KVM finished the last exit before it looked at
				 * immediate_exit (Documentation/virt/kvm/api.rst,
				 * "immediate_exit"): the registers in kvm_run are
				 * the vCPU's whole state here. */
				if (ops->park)
					ops->park(ops->userdata);
				continue;
			}
			tls_run = NULL;
			return -errno;
		}
		__atomic_fetch_add(exits, 1, __ATOMIC_RELAXED);
		switch (run->exit_reason) {
		case KVM_EXIT_IO: {
			unsigned port = run->io.port;
			if (run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 1 &&
			    run->io.count == 1 && port >= MVM_HC_PORT_BASE &&
			    (port < MVM_HC_PORT_BASE + MVM_HC_MAX ||
			     port - MVM_HC_PORT_BASE - MVM_HC_VSOCK_FIRST <= MVM_HC_VSOCK_LAST - MVM_HC_VSOCK_FIRST)) {
				if (hypercall(vm, idx, port - MVM_HC_PORT_BASE, ops, res))
					goto out;
				continue;
			}
			snprintf(msg, sizeof(msg), "%s to port 0x%x",
				 run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in", port);
			guest_fault(vm, idx, res, KVM_FAULT_BAD_PORT, port, msg);
			goto out;
		}
		case KVM_EXIT_MMIO: {
			uint64_t a = run->mmio.phys_addr;
			if (run->mmio.is_write && run->mmio.len == 1 && a >= MVM_HC_DOORBELL &&
			    a < MVM_HC_DOORBELL + MVM_HC_DOORBELL_SIZE && (a - MVM_HC_DOORBELL) % 8 == 0) {
				if (hypercall(vm, idx, (unsigned)((a - MVM_HC_DOORBELL) / 8), ops, res))
					goto out;
				continue;
			}
			snprintf(msg, sizeof(msg), "%s of unbacked guest memory at 0x%llx",
				 run->mmio.is_write ? "write" : "read",
				 (unsigned long long)run->mmio.phys_addr);
			guest_fault(vm, idx, res, KVM_FAULT_MMIO, run->mmio.phys_addr, msg);
			goto out;
		}
		case KVM_EXIT_SHUTDOWN:
			if (shutdown_regs_lost(vm, idx)) {
				guest_fault(vm, idx, res, KVM_FAULT_SHUTDOWN, 0,
					    "triple fault (exception with no IDT); registers lost: the host reset the vCPU");
				memset(res->regs, 0, sizeof(res->regs));
				res->regs_valid = 0;
				goto out;
			}
			guest_fault(vm, idx, res, KVM_FAULT_SHUTDOWN, 0,
				    "triple fault (exception with no IDT)");
			goto out;
		case KVM_EXIT_HLT:
			guest_fault(vm, idx, res, KVM_FAULT_HLT, 0, "hlt with interrupts disabled");
			goto out;
		case KVM_EXIT_FAIL_ENTRY:
			snprintf(msg, sizeof(msg), "entry failed, reason 0x%llx",
				 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			guest_fault(vm, idx, res, KVM_FAULT_INTERNAL, 0, msg);
			goto out;
		case KVM_EXIT_INTERNAL_ERROR:
			snprintf(msg, sizeof(msg), "KVM internal error, suberror %u",
				 run->internal.suberror);
			guest_fault(vm, idx, res, KVM_FAULT_INTERNAL, 0, msg);
			goto out;
		default:
			snprintf(msg, sizeof(msg), "unexpected exit reason %u", run->exit_reason);
			guest_fault(vm, idx, res, KVM_FAULT_INTERNAL, 0, msg);
			goto out;
		}
	}
out:
	tls_run = NULL;
	return 0;
}
