/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's services for the vCPU thread (kvm_host_ops_t, kvm-vm.h):
 * console and stderr output into their rings, console input, the waits
 * of MVM_HC_WAIT and MVM_HC_MSG_WAIT. The control thread (vmm.c) moves
 * the rings' bytes to mvmd and wakes these waits through wake_vcpu.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "proto/guest-abi.h"
#include "proto/warm.h"
#include "util/macro.h"
#include "vmm-internal.h"

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Output into a ring. A console drops its oldest bytes when the ring is
 * full: a flooding guest costs bounded memory whether anyone reads or not.
 * A run's output is its answer (KVM_WARM_F_RUN), which must not lose
 * bytes unsaid: its guest waits instead, as a writer to a full pipe does,
 * until the control thread has moved bytes on (it wakes wake_vcpu) or the
 * VM is being stopped (then the rest is dropped and counted).
 */
static void output_put(vmm_t *m, ring_t *r, const uint8_t *buf, size_t len)
{
	bool run = m->cfg->flags & KVM_WARM_F_RUN;

	pthread_mutex_lock(&m->lock);
	m->console_bytes += len;
	while (run && len) {
		size_t k = MIN(len, r->cap - r->len);
		if (k == 0) {
			if (atomic_load(&m->stop_forced))
				break;
			pthread_mutex_unlock(&m->lock);
			vmm_efd_signal(m->wake_main);
			struct pollfd p = { .fd = m->wake_vcpu, .events = POLLIN };
			if (poll(&p, 1, 100) > 0)
				vmm_efd_drain(m->wake_vcpu);
			pthread_mutex_lock(&m->lock);
			continue;
		}
		ring_put(r, buf, k, false);
		buf += k;
		len -= k;
	}
	m->console_dropped += ring_put(r, buf, len, true);
	pthread_mutex_unlock(&m->lock);
	vmm_efd_signal(m->wake_main);
}

static void host_console_write(void *ud, const uint8_t *buf, size_t len)
{
	vmm_t *m = ud;
	output_put(m, &m->out, buf, len);
}

/* A run's stderr is a stream of its own; any other VM's joins the console. */
static void host_stderr_write(void *ud, const uint8_t *buf, size_t len)
{
	vmm_t *m = ud;
	output_put(m, m->err.buf ? &m->err : &m->out, buf, len);
}

static int64_t host_console_read(void *ud, uint8_t *buf, size_t cap)
{
	vmm_t *m = ud;
	pthread_mutex_lock(&m->lock);
	size_t n = ring_get(&m->in, buf, cap);
	bool eof = n == 0 && m->in_eof;
	if (eof)
		m->eof_unseen = false;
	pthread_mutex_unlock(&m->lock);
	return eof ? -EPIPE : (int64_t)n;
}

static uint32_t host_wait(void *ud, int64_t timeout_ns)
{
	vmm_t *m = ud;
	/* In ns: a deadline in whole ms of a clock read in whole ms came up
	 * to 1 ms short. Guest-chosen: saturate instead of overflowing. */
	int64_t start = now_ns();
	int64_t deadline = timeout_ns < 0 ? -1 : timeout_ns > INT64_MAX - start ? INT64_MAX : start + timeout_ns;

	for (;;) {
		uint32_t ev = 0;
		pthread_mutex_lock(&m->lock);
		/* The end of input wakes a reader once (the read then says
		 * so), not every wait after it: a sleeper must not spin. */
		if (m->in.len || m->eof_unseen)
			ev |= MVM_EV_CONSOLE_IN;
		m->eof_unseen = false;
		pthread_mutex_unlock(&m->lock);
		if (atomic_load(&m->stop_requested) || atomic_load(&m->stop_forced))
			ev |= MVM_EV_STOP;
		ev |= kvm_vsock_take_events(m->vsock);
		if (ev)
			return ev;
		/* A pause ends the wait early, with no events (as a timeout
		 * would; the guest then looks at its clock again): the vCPU
		 * must leave the hypercall to park with its state whole. */
		if (atomic_load(&m->pause_requested))
			return 0;
		int wait = -1;
		if (deadline >= 0) {
			int64_t left = deadline - now_ns();
			if (left <= 0)
				return 0;
			/* poll sleeps whole ms: round up, never wake early */
			wait = (int)MIN(left / 1000000 + (left % 1000000 != 0), (int64_t)INT32_MAX);
		}
		/* The vCPU sleeps here: an idle guest costs no CPU. */
		struct pollfd p = { .fd = m->wake_vcpu, .events = POLLIN };
		if (poll(&p, 1, wait) > 0)
			vmm_efd_drain(m->wake_vcpu);
	}
}

/* MVM_HC_MSG_WAIT's sleep: only the actor's inbox and a stop wake it
 * (console input or vsock activity would make it spin). */
static kvm_msg_wait_t host_msg_wait(void *ud, int64_t deadline_ns)
{
	vmm_t *m = ud;

	for (;;) {
		if (atomic_load(&m->stop_requested) || atomic_load(&m->stop_forced))
			return KVM_MSG_WAIT_STOP;
		if (kvm_actor_inbox_ready(m->actor))
			return KVM_MSG_WAIT_AGAIN;
		if (atomic_load(&m->pause_requested))
			return KVM_MSG_WAIT_PAUSE;
		int wait = -1;
		if (deadline_ns >= 0) {
			int64_t left = deadline_ns - now_ns();
			if (left <= 0)
				return KVM_MSG_WAIT_AGAIN;
			wait = (int)MIN(left / 1000000 + (left % 1000000 != 0), (int64_t)INT32_MAX);
		}
		struct pollfd p = { .fd = m->wake_vcpu, .events = POLLIN };
		if (poll(&p, 1, wait) > 0)
			vmm_efd_drain(m->wake_vcpu);
	}
}

static bool host_stop_forced(void *ud)
{
	vmm_t *m = ud;
	return atomic_load(&m->stop_forced);
}

void vmm_host_ops_init(vmm_t *m)
{
	m->ops.userdata = m;
	m->ops.console_write = host_console_write;
	m->ops.console_read = host_console_read;
	m->ops.stderr_write = host_stderr_write;
	m->ops.wait = host_wait;
	m->ops.stop_forced = host_stop_forced;
	m->ops.pause_requested = vmm_pause_requested;
	m->ops.park = vmm_park;
	m->ops.vsock = m->vsock;
	m->ops.blob = m->blob;
	m->ops.blob_size = m->blob_size;
	m->ops.grants = m->grants;
	m->ops.actor = m->actor;
	m->ops.msg_wait = host_msg_wait;
}
