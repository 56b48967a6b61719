/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker: builds the VM, sandboxes itself, then runs two threads.
 *
 *   vCPU (main)  KVM_RUN and hypercalls, in the main thread so the guest
 *                starts at once while the control thread is still being
 *                scheduled (a thread start costs milliseconds on a loaded
 *                host); console output goes into a bounded
 *                ring (oldest bytes dropped when full), WAIT blocks in poll
 *                on an eventfd, so an idle guest costs no CPU.
 *   main thread  the control socket: accepts (and re-accepts after a parent
 *                restart) one connection, relays console bytes both ways,
 *                handles stop/status, writes the result at the end.
 *
 * Stop: the main thread sets stop_forced and sends SIGUSR1 to the vCPU
 * thread, whose handler sets immediate_exit, so KVM_RUN returns EINTR
 * wherever the thread was (daemon/vmm/vcpu.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "actor.h"
#include "grants.h"
#include "vmm-internal.h"
#include "proto/guest-abi.h"
#include "kvm-vm.h"
#include "vmm.h"
#include "vsock.h"
#include "proto/warm.h"
#include "ring.h"
#include "sandbox.h"
#include "util/macro.h"

#define CONN_OUT_MAX (256u << 10)
#define CTL_THREAD_STACK (512u << 10) /* below a huge page: see vmm_go_live */
#define FINISH_FLUSH_MS 2000

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void efd_signal(int fd)
{
	uint64_t one = 1;
	ssize_t _unused_ k = write(fd, &one, sizeof(one));
}

static void efd_drain(int fd)
{
	uint64_t v;
	ssize_t _unused_ k = read(fd, &v, sizeof(v));
}

static void vcpu_main(vmm_t *m)
{
	sigset_t set;
	int r;

	vmm_host_ops_init(m);
	sigemptyset(&set);
	sigaddset(&set, STOP_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	r = kvm_vcpu_run(m->vm, 0, &m->ops, &m->result, &m->exits);
	if (r < 0) {
		memset(&m->result, 0, sizeof(m->result));
		m->result.outcome = KVM_OUTCOME_ERROR;
		m->result.error = r;
		snprintf(m->result.message, sizeof(m->result.message), "KVM_RUN: %s", strerror(-r));
	}
	atomic_store(&m->vcpu_done, true);
	efd_signal(m->wake_main);
}

/* --- control connection --------------------------------------------------- */

static void conn_drop(vmm_t *m)
{
	m->conn = kvm_ctl_free(m->conn);
}

static void force_stop(vmm_t *m);

/*
 * The connection failed or closed. A run's worker stops its VM then: no
 * restarted mvmd will look for it (nothing durable names it), so a worker
 * whose mvmd is gone must not run on (lib/proto/warm.h, KVM_WARM_F_RUN).
 */
static void conn_lost(vmm_t *m)
{
	conn_drop(m);
	if ((m->cfg->flags & KVM_WARM_F_RUN) && m->state != KVM_VM_ENDED)
		force_stop(m);
}

/* Move output from a ring into the connection's queue as frames of type. */
static void pump_ring(vmm_t *m, ring_t *ring, uint32_t type)
{
	while (m->conn && ring->buf) {
		size_t space = kvm_ctl_space(m->conn);
		if (space <= sizeof(kvm_msg_hdr_t))
			break;
		pthread_mutex_lock(&m->lock);
		size_t n = ring_get(ring, m->chunk, MIN(space - sizeof(kvm_msg_hdr_t), KVM_MSG_PAYLOAD_MAX));
		pthread_mutex_unlock(&m->lock);
		if (n == 0)
			break;
		/* A run's guest may wait for room (output_put). */
		if (m->cfg->flags & KVM_WARM_F_RUN)
			efd_signal(m->wake_vcpu);
		if (kvm_ctl_queue(m->conn, type, m->chunk, n) < 0)
			break;
	}
}

/* Move console (and a run's stderr) output into the connection's queue. */
static void pump_console(vmm_t *m)
{
	pump_ring(m, &m->out, KVM_MSG_CONSOLE_OUT);
	pump_ring(m, &m->err, KVM_MSG_STDERR_OUT);
	if (m->conn && m->actor)
		kvm_actor_pump(m->actor, m->conn);
	if (m->conn && kvm_ctl_pending(m->conn) && kvm_ctl_flush(m->conn) < 0)
		conn_lost(m);
}

static void queue_status(vmm_t *m)
{
	kvm_msg_status_t s = { .state = m->state };
	pthread_mutex_lock(&m->lock);
	s.console_bytes = m->console_bytes;
	s.console_dropped = m->console_dropped;
	s.console_buffered = m->out.len + m->err.len;
	pthread_mutex_unlock(&m->lock);
	s.exits = __atomic_load_n(&m->exits, __ATOMIC_RELAXED);
	(void)kvm_ctl_queue(m->conn, KVM_MSG_STATUS, &s, sizeof(s));
}

static void accept_conn(vmm_t *m)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	kvm_ctl_t *c;
	int fd;

	/* A run's control socket is the connection itself (a socketpair:
	 * nobody reconnects to a run's worker); any other VM's listens. */
	if (m->cfg->flags & KVM_WARM_F_RUN) {
		fd = m->own.ctl_fd;
		m->own.ctl_fd = -1;
	} else {
		fd = accept4(m->cfg->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	}
	if (fd < 0)
		return;
	/* Only root or our own uid may drive the VM (the socket is also 0600). */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != 0 && cred.uid != m->uid)) {
		close(fd);
		return;
	}
	if (kvm_ctl_new(fd, CONN_OUT_MAX, &c) < 0) {
		close(fd);
		return;
	}
	/* The newest connection wins: a restarted mvmd replaces a stale one. */
	conn_drop(m);
	m->conn = c;
	if (m->actor)
		kvm_actor_reset(m->actor);
	kvm_ctl_accept_fds(c, true); /* BLOB_GRANT; any other fd is refused */
	kvm_msg_hello_t h = { .version = KVM_PROTO_VERSION, .state = m->state, .pid = getpid(),
			      .flags = m->cfg->console_fd >= 0 ? KVM_HELLO_F_CONSOLE : 0 };
	(void)kvm_ctl_queue(m->conn, KVM_MSG_HELLO, &h, sizeof(h));
	pump_console(m);
}

/*
 * Console clients (docs/density.md): the VM's console socket is ours, so
 * that mvmd holds no fd for a VM nobody is attached to. Each client is
 * handed to the parent at once; it relays the console from then on. Only
 * while a parent is connected and its connection has nothing queued (a
 * descriptor goes out on an empty queue, kvm_ctl_send_fd): until then the
 * clients wait in the socket's backlog, so one that connects while mvmd
 * restarts is served by the next one.
 */
static void accept_console(vmm_t *m)
{
	for (int i = 0; i < 16 && m->conn && !kvm_ctl_pending(m->conn); i++) {
		int fd = accept4(m->cfg->console_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		/* -EAGAIN with nothing sent (the parent reads nothing): this
		 * client is dropped, as mvmd drops one past its limit. */
		(void)kvm_ctl_send_fd(m->conn, KVM_MSG_CONSOLE_CLIENT, NULL, 0, fd);
		close(fd);
	}
}

static void force_stop(vmm_t *m)
{
	if (atomic_exchange(&m->stop_forced, true))
		return;
	m->state = KVM_VM_STOPPING;
	efd_signal(m->wake_vcpu);
	vmm_kick_vcpu(m);
}

static void handle_msg(vmm_t *m, const kvm_msg_t *msg)
{
	kvm_msg_stop_t stop;

	switch (msg->type) {
	case KVM_MSG_PAUSE:
		if (m->state == KVM_VM_RUNNING)
			vmm_pause_vcpu(m); /* PAUSED once it is parked (vmm_pause_progress) */
		else if (m->state == KVM_VM_PAUSED)
			(void)kvm_ctl_queue(m->conn, KVM_MSG_PAUSED, NULL, 0);
		break;
	case KVM_MSG_RESUME:
		if (m->state == KVM_VM_PAUSED || (m->state == KVM_VM_RUNNING && atomic_load(&m->pause_requested))) {
			vmm_resume_vcpu(m);
			m->state = KVM_VM_RUNNING;
		}
		if (m->state == KVM_VM_RUNNING)
			(void)kvm_ctl_queue(m->conn, KVM_MSG_RESUMED, NULL, 0);
		break;
	case KVM_MSG_SNAPSHOT:
		vmm_handle_snapshot(m, msg->fd);
		break;
	case KVM_MSG_CONSOLE_IN:
		pthread_mutex_lock(&m->lock);
		ring_put(&m->in, msg->payload, msg->len, false);
		pthread_mutex_unlock(&m->lock);
		efd_signal(m->wake_vcpu);
		break;
	case KVM_MSG_CONSOLE_EOF:
		pthread_mutex_lock(&m->lock);
		m->eof_unseen = !m->in_eof;
		m->in_eof = true;
		pthread_mutex_unlock(&m->lock);
		efd_signal(m->wake_vcpu);
		break;
	case KVM_MSG_STOP:
		if (kvm_msg_get_stop(msg, &stop) < 0 || m->state == KVM_VM_ENDED)
			break;
		/* A paused guest runs again to hear the stop (and is halted
		 * after the grace, as a running one is). */
		vmm_resume_vcpu(m);
		if (stop.grace_ms == 0) {
			force_stop(m);
		} else if (!atomic_exchange(&m->stop_requested, true)) {
			m->state = KVM_VM_STOPPING;
			m->stop_deadline = now_ms() + stop.grace_ms;
			efd_signal(m->wake_vcpu);
		}
		break;
	case KVM_MSG_STATUS_REQ:
		queue_status(m);
		break;
	case KVM_MSG_BLOB_GRANT: {
		/* Read and verified here, before the guest can ask for it
		 * (main_loop handles this connection before vsock input). A
		 * blob that does not match its name is not kept: the guest's
		 * load then says it is not there. */
		if (m->grants)
			(void)kvm_grants_add_fd(m->grants, (const char *)msg->payload, msg->fd);
		close(msg->fd);
		break;
	}
	case KVM_MSG_ACTOR_DELIVER:
		if (!m->actor || kvm_actor_deliver(m->actor, msg) < 0)
			conn_drop(m);
		break;
	default:
		/* Worker-to-parent types from the parent: a confused peer. */
		if (msg->fd >= 0)
			close(msg->fd);
		conn_drop(m);
		break;
	}
}

static void read_conn(vmm_t *m)
{
	for (int rounds = 0; m->conn && rounds < 16; rounds++) {
		kvm_msg_t msg;
		int r = kvm_ctl_fill(m->conn);
		if (r == 0 || (r < 0 && r != -EAGAIN && r != -ENOBUFS)) {
			conn_lost(m);
			return;
		}
		while (m->conn && (r = kvm_ctl_next(m->conn, &msg)) > 0)
			handle_msg(m, &msg);
		if (r < 0) {
			conn_lost(m);
			return;
		}
		if (r == 0 && rounds > 0)
			return;
	}
}

/* --- end of the VM -------------------------------------------------------- */

static void write_result(vmm_t *m)
{
	char buf[4096];
	int n = kvm_result_format(&m->result, buf, sizeof(buf));

	if (n < 0 || m->cfg->result_fd < 0)
		return;
	/* No fsync (it cost ~12 ms per VM here): the file is read by a
	 * restarted mvmd on the same running kernel, i.e. from the page
	 * cache; after a host crash every VM is gone and marked Failed. */
	if (pwrite(m->cfg->result_fd, buf, (size_t)n, 0) == n)
		(void)!ftruncate(m->cfg->result_fd, n);
}

/* Deliver remaining console output and the result, for a bounded time. */
static void finish(vmm_t *m)
{
	int64_t deadline = now_ms() + FINISH_FLUSH_MS;

	m->state = KVM_VM_ENDED;
	write_result(m);
	if (!m->conn)
		accept_conn(m); /* the parent's pre-connected socket, if any */
	while (m->conn) {
		pump_console(m);
		pthread_mutex_lock(&m->lock);
		bool empty = m->out.len == 0 && m->err.len == 0;
		pthread_mutex_unlock(&m->lock);
		if (m->conn && empty && kvm_ctl_space(m->conn) >= sizeof(kvm_msg_hdr_t) + sizeof(kvm_result_t)) {
			(void)kvm_ctl_queue(m->conn, KVM_MSG_RESULT, &m->result, sizeof(m->result));
			while (m->conn && kvm_ctl_pending(m->conn) && now_ms() < deadline) {
				struct pollfd p = { .fd = kvm_ctl_fd(m->conn), .events = POLLOUT };
				poll(&p, 1, (int)MAX(deadline - now_ms(), 1));
				if (kvm_ctl_flush(m->conn) < 0)
					conn_drop(m);
			}
			break;
		}
		if (!m->conn || now_ms() >= deadline)
			break;
		struct pollfd p = { .fd = kvm_ctl_fd(m->conn), .events = POLLOUT };
		poll(&p, 1, (int)MAX(deadline - now_ms(), 1));
	}
	conn_drop(m);
}

static int set_error(vmm_t *m, int err, const char *what)
{
	memset(&m->result, 0, sizeof(m->result));
	m->result.outcome = KVM_OUTCOME_ERROR;
	m->result.error = err;
	snprintf(m->result.message, sizeof(m->result.message), "%s: %s", what, strerror(-err));
	return err;
}

/* The helpers daemon/vmm/vmm-pause.c shares (vmm-internal.h). */
void vmm_kick_vcpu(vmm_t *m)
{
	/* By its kernel tid, not pthread_kill: in a worker forked by the
	 * zygote (daemon/vmm/zygote.c) glibc still holds the zygote's tid for
	 * the main thread, which is the vCPU thread. */
	syscall(SYS_tgkill, getpid(), m->vcpu_tid, STOP_SIGNAL);
}

void vmm_efd_signal(int fd)
{
	efd_signal(fd);
}

void vmm_efd_drain(int fd)
{
	efd_drain(fd);
}

int vmm_set_error(vmm_t *m, int err, const char *what)
{
	return set_error(m, err, what);
}

static int fail_setup(vmm_t *m, int err, const char *what)
{
	set_error(m, err, what);
	finish(m);
	return KVM_VMM_EXIT_ERROR;
}

/* The VM itself: memory, vCPUs, the guest image. */
static int build_vm(vmm_t *m)
{
	const kvm_vmm_config_t *c = m->cfg;
	_cleanup_free_ struct kvm_cpuid2 *cpuid = NULL;
	int r;

	if (c->cpuid_fd >= 0) {
		r = kvm_cpuid_read_fd(c->cpuid_fd, &cpuid);
		if (r < 0)
			return fail_setup(m, r, "reading the CPUID table");
		safe_close(c->cpuid_fd);
	}
	r = kvm_vm_new(c->kvm_fd, c->memory_mib, c->vcpus, cpuid, &m->vm);
	if (r < 0)
		return fail_setup(m, r, "creating the VM");
	/* Exec'd blobs: together at most the guest's memory (no more can load). */
	r = kvm_grants_new(m->vm->mem_size, &m->grants);
	if (r < 0)
		return fail_setup(m, r, "allocating the blob grants");
	if (c->snapshot_fd >= 0)
		return 0; /* its code is in the snapshot's memory (vmm_restore, daemon/vmm/vmm-pause.c) */
	r = kvm_vm_load_image_fd(m->vm, c->image_fd);
	if (r == -E2BIG)
		return fail_setup(m, r, "loading the guest image: a segment lies outside [2 MiB, stack guard)");
	if (r < 0)
		return fail_setup(m, r, "loading the guest image");
	return 0;
}

/* What makes the VM this VM: boot info, the workload module. Runs before
 * the sandbox for a cold worker, inside it for a warm one. Errors are
 * set in m->result (outcome error) and returned. */
int vmm_configure_vm(vmm_t *m)
{
	const kvm_vmm_config_t *c = m->cfg;
	int r;

	/* A run's stderr waits in a ring of its own (host_stderr_write). */
	if ((c->flags & KVM_WARM_F_RUN) && !m->err.buf) {
		m->err = (ring_t){ .buf = malloc(KVM_VMM_CONSOLE_RING), .cap = KVM_VMM_CONSOLE_RING };
		if (!m->err.buf)
			return set_error(m, -ENOMEM, "allocating the stderr buffer");
	}
	r = kvm_vm_write_boot_info(m->vm, c->args, c->nargs, c->caps, c->ncaps, c->workload);
	if (r < 0)
		return set_error(m, r, "writing the boot info");
	if (c->blob_fd >= 0) {
		/* Verified here, before the guest runs: it gets exactly the
		 * bytes the spec's hash names. Larger than guest memory cannot
		 * load at all. */
		r = kvm_workload_read(c->blob_fd, c->workload, m->vm->mem_size, &m->blob, &m->blob_size);
		if (r < 0)
			return set_error(m, r, r == -EFBIG ? "workload module larger than guest memory"
					 : r == -EBADMSG ? "workload module does not match its hash"
					 : "reading the workload module");
		safe_close(c->blob_fd);
		kvm_workload_prefault(m->vm, m->blob_size);
	}
	r = kvm_vm_write_workload_info(m->vm, c->envs, c->nenvs, m->blob_size);
	if (r < 0)
		return set_error(m, r, "writing the boot info");
	return 0;
}

/* Non-blocking control and vsock sockets, and the vsock device. */
int vmm_setup_sockets(vmm_t *m)
{
	const kvm_vmm_config_t *c = m->cfg;
	int fl, r;

	fl = fcntl(c->ctl_fd, F_GETFL);
	if (fl < 0 || fcntl(c->ctl_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return set_error(m, negative_errno(), "control socket");
	if (c->vsock_fd >= 0) {
		fl = fcntl(c->vsock_fd, F_GETFL);
		if (fl < 0 || fcntl(c->vsock_fd, F_SETFL, fl | O_NONBLOCK) < 0)
			return set_error(m, negative_errno(), "vsock socket");
	}
	if (c->console_fd >= 0) {
		fl = fcntl(c->console_fd, F_GETFL);
		if (fl < 0 || fcntl(c->console_fd, F_SETFL, fl | O_NONBLOCK) < 0)
			return set_error(m, negative_errno(), "console socket");
	}
	/* Without a socket the calls still work; nobody can connect. */
	r = kvm_vsock_new(c->vsock_fd, m->wake_vcpu, m->wake_main, (uint32_t)m->uid, &m->vsock);
	if (r < 0)
		return set_error(m, r, "vsock");
	return 0;
}

static int main_loop(vmm_t *m)
{
	while (!atomic_load(&m->vcpu_done)) {
		struct pollfd p[4 + KVM_VSOCK_POLLFDS_MAX] = {
			{ .fd = m->cfg->ctl_fd, .events = POLLIN },
			{ .fd = m->wake_main, .events = POLLIN },
			{ .fd = m->conn ? kvm_ctl_fd(m->conn) : -1,
			  .events = POLLIN | (m->conn && kvm_ctl_pending(m->conn) ? POLLOUT : 0) },
			/* console clients wait in the backlog until they can go (accept_console) */
			{ .fd = m->conn && !kvm_ctl_pending(m->conn) ? m->cfg->console_fd : -1, .events = POLLIN },
		};
		size_t nv = kvm_vsock_pollfds(m->vsock, p + 4, KVM_VSOCK_POLLFDS_MAX);
		int timeout = kvm_vsock_timeout_ms(m->vsock, now_ms());
		if (m->stop_deadline >= 0 && !atomic_load(&m->stop_forced)) {
			int t = (int)MAX(m->stop_deadline - now_ms(), 0);
			timeout = timeout < 0 ? t : MIN(timeout, t);
		}
		if (poll(p, 4 + nv, timeout) < 0 && errno != EINTR)
			return -errno;
		/* Control input before vsock input, in the same round: mvmd
		 * writes a BLOB_GRANT before its exec connects to vsock.sock,
		 * so the grant is stored before the guest hears of the exec
		 * that will ask for it. */
		if (m->conn && p[2].fd == kvm_ctl_fd(m->conn) && (p[2].revents & (POLLIN | POLLHUP | POLLERR)))
			read_conn(m);
		if (p[0].revents & POLLIN)
			accept_conn(m);
		if (p[3].revents & POLLIN)
			accept_console(m);
		kvm_vsock_dispatch(m->vsock, p + 4, nv, now_ms());
		if (p[1].revents & POLLIN)
			efd_drain(m->wake_main);
		vmm_pause_progress(m);
		pump_console(m);
		if (m->stop_deadline >= 0 && now_ms() >= m->stop_deadline)
			force_stop(m);
	}
	return 0;
}

static void *ctl_main(void *p)
{
	vmm_t *m = p;

	for (;;) {
		m->loop_error = main_loop(m);
		if (m->loop_error < 0)
			force_stop(m); /* nobody could stop it any more */
		pthread_mutex_lock(&m->ctl_lock);
		m->ctl_idle = true;
		pthread_cond_broadcast(&m->ctl_cond);
		while (!m->ctl_go && !m->ctl_end)
			pthread_cond_wait(&m->ctl_cond, &m->ctl_lock);
		bool end = m->ctl_end;
		m->ctl_go = false;
		pthread_mutex_unlock(&m->ctl_lock);
		if (end)
			return NULL;
	}
}

/* On the vCPU thread, its guest done: until the control thread's loop
 * has returned (it sees vcpu_done), as a join would. */
static void ctl_wait_idle(vmm_t *m)
{
	pthread_mutex_lock(&m->ctl_lock);
	while (!m->ctl_idle)
		pthread_cond_wait(&m->ctl_cond, &m->ctl_lock);
	pthread_mutex_unlock(&m->ctl_lock);
}

/* The control thread's next loop (a reused worker's next run), or its end. */
static void ctl_wake(vmm_t *m, bool end)
{
	pthread_mutex_lock(&m->ctl_lock);
	m->ctl_idle = false;
	if (end)
		m->ctl_end = true;
	else
		m->ctl_go = true;
	pthread_cond_broadcast(&m->ctl_cond);
	pthread_mutex_unlock(&m->ctl_lock);
}

static vmm_t vmm; /* one per process */

/* The guest runs from here on: READY to whoever is connected, then the
 * control thread. Called on the vCPU thread, which keeps running it. */
int vmm_go_live(vmm_t *m)
{
	sigset_t set, old;
	int r;

	m->state = KVM_VM_RUNNING;
	accept_conn(m);
	if (m->conn)
		(void)kvm_ctl_queue(m->conn, KVM_MSG_READY, NULL, 0);
	pump_console(m);

	/* Test hooks: each must die by SIGSYS. */
	if (m->cfg->debug & KVM_VMM_DEBUG_FORBIDDEN_SYSCALL)
		syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	if (m->cfg->debug & KVM_VMM_DEBUG_EXEC_MAPPING)
		mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	/* A reused worker's control thread is there already, waiting. */
	if (m->ctl_exists) {
		ctl_wake(m, false);
		m->ctl_started = true;
		return 0;
	}
	/* The control thread must not take the stop signal meant for the
	 * vCPU thread: it starts with it blocked, whoever creates it. */
	sigemptyset(&set);
	sigaddset(&set, STOP_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	/* A small stack (it moves frames and holds no big buffers): glibc's
	 * default 8 MiB one lets a THP-"always" kernel back its top with a
	 * whole 2 MiB huge page in every worker (docs/density.md). */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	(void)pthread_attr_setstacksize(&attr, CTL_THREAD_STACK);
	r = pthread_create(&m->ctl_thread, &attr, ctl_main, m);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return set_error(m, -r, "creating the control thread");
	m->ctl_started = m->ctl_exists = true;
	return 0;
}

static int vmm_run(const kvm_vmm_config_t *cfg)
{
	static uint8_t chunk[KVM_MSG_PAYLOAD_MAX];
	vmm_t *m = &vmm;
	bool warm = cfg->pool_fd >= 0;
	sigset_t set;
	int r, status;

	*m = (vmm_t){ .own = *cfg, .state = KVM_VM_STARTING, .stop_deadline = -1, .snap_fd = -1,
		      .wake_main = -1, .wake_vcpu = -1, .uid = getuid(), .chunk = chunk };
	m->cfg = &m->own;
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->ctl_lock, NULL);
	pthread_cond_init(&m->ctl_cond, NULL);
	m->out = (ring_t){ .buf = malloc(KVM_VMM_CONSOLE_RING), .cap = KVM_VMM_CONSOLE_RING };
	m->in = (ring_t){ .buf = malloc(KVM_VMM_INPUT_RING), .cap = KVM_VMM_INPUT_RING };
	if (!m->out.buf || !m->in.buf)
		return fail_setup(m, -ENOMEM, "allocating console buffers");
	/* The parent's death must not kill us: no SIGPIPE, no PDEATHSIG. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, STOP_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* only while running the vCPU */
	r = kvm_vcpu_signal_setup(STOP_SIGNAL);
	if (r < 0)
		return fail_setup(m, r, "installing the stop signal");
	m->wake_main = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m->wake_vcpu = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->wake_main < 0 || m->wake_vcpu < 0)
		return fail_setup(m, negative_errno(), "eventfd");
	r = kvm_actor_new(m->wake_vcpu, m->wake_main, &m->actor);
	if (r < 0)
		return fail_setup(m, r, "allocating the actor queues");
	/* A cold worker's VM comes in an ASSIGN too (daemon/vmm/assign.c). */
	r = warm ? 0 : kvm_vmm_assign_recv(&m->own);
	if (r < 0 && r != -EINVAL)
		return fail_setup(m, r, "reading the VM's ASSIGN");
	if (!warm && vmm_setup_sockets(m) < 0) {
		finish(m);
		return KVM_VMM_EXIT_ERROR;
	}
	if (r < 0)
		return fail_setup(m, r, "assigned a VM of another size");

	r = build_vm(m);
	if (r != 0)
		return r;
	if (warm) {
		/* Boot info with the memory map only; the guest touches its
		 * heap and waits in MVM_HC_CONFIG (vmm_host_config). The host side
		 * of those pages is populated here, off anyone's clock. */
		r = kvm_vm_write_boot_info(m->vm, NULL, 0, NULL, 0, NULL);
		if (r == 0)
			r = kvm_vm_set_warm(m->vm, cfg->warm_bytes);
		if (r < 0)
			return fail_setup(m, r, "writing the boot info");
		kvm_workload_prefault(m->vm, cfg->warm_bytes / 8);
		m->ops.config = vmm_host_config;
	} else if (cfg->snapshot_fd >= 0 ? vmm_restore(m) < 0 : vmm_configure_vm(m) < 0) {
		finish(m);
		return KVM_VMM_EXIT_ERROR;
	}
	/* The guest image and /dev/kvm are no longer needed. */
	safe_close(cfg->image_fd);
	safe_close(cfg->kvm_fd);
	m->vm->kvm_fd = -1;

	/* Privilege boundary: from here on no capabilities, no new privileges,
	 * and only the syscalls in daemon/vmm/seccomp-policy.c. */
	r = cfg->sandboxed ? 0 : sandbox_enter(sandbox_vmm_rules, sandbox_vmm_nrules);
	if (r < 0)
		return fail_setup(m, r, "entering the sandbox");

	m->vcpu_tid = (pid_t)syscall(SYS_gettid);
	/* A warm worker goes live inside MVM_HC_CONFIG, once it has a job. */
	if (!warm && vmm_go_live(m) < 0) {
		finish(m);
		return KVM_VMM_EXIT_ERROR;
	}
	for (;;) {
		vcpu_main(m);
		if (m->ctl_started)
			ctl_wait_idle(m);
		if (m->loop_error < 0)
			return fail_setup(m, m->loop_error, "control loop");
		finish(m);
		/* A reusable run ended cleanly: back to the template, then
		 * READY and the next ASSIGN (an EOF there ends us quietly). */
		if (!vmm_reusable(m) || vmm_reset(m) < 0)
			break;
		if (vmm_host_config(m, &m->result) != 0) {
			finish(m);
			break;
		}
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		vmm_reset_resume(m, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	}
	if (m->ctl_exists) {
		ctl_wake(m, true);
		pthread_join(m->ctl_thread, NULL);
	}
	switch (m->result.outcome) {
	case KVM_OUTCOME_EXIT: case KVM_OUTCOME_STOPPED: status = KVM_VMM_EXIT_OK; break;
	case KVM_OUTCOME_FAULT: status = KVM_VMM_EXIT_FAULT; break;
	default: status = KVM_VMM_EXIT_ERROR; break;
	}
	return status;
}

int kvm_vmm_main(const kvm_vmm_config_t *cfg, kvm_result_t *ret_result)
{
	int status = vmm_run(cfg);
	if (ret_result)
		*ret_result = vmm.result;
	return status;
}
