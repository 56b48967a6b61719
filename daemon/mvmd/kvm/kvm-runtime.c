/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One kvm worker's life as mvmd follows it (daemon/mvmd/kvm/kvm-runtime.h):
 * its control connection (HELLO, READY, console output, RESULT), its
 * console, its workload's timeout, and how its VM ended: the RESULT, the
 * result file for a worker that died before it could send one, or else
 * how the process ended (daemon/mvmd/supervise.h).
 */
#include "kvm-runtime.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor.h"
#include "backend-kvm.h"
#include "run.h"
#include "util/fault.h"
#include "util/macro.h"
#include "workload.h"

void kvm_runtime_free(kvm_runtime_t *k)
{
	if (!k)
		return;
	kvm_pause_drop(k);
	kvm_teardown_dequeue(k);
	/* Not handed back: the worker ends after its run (EOF on it). */
	if (k->reusable)
		safe_close(k->reuse_fd);
	free(k->reuse_workload);
	free(k->reuse_key);
	free(k->snapshot);
	k->ctl_src = sd_event_source_disable_unref(k->ctl_src);
	k->timeout_timer = sd_event_source_disable_unref(k->timeout_timer);
	console_free(k->console);
	k->proc = sv_release(k->proc);
	kvm_worker_release(&k->w);
	if (k->vm && k->vm->backend_data == k)
		k->vm->backend_data = NULL;
	free(k);
}

/* --- how a VM ended ------------------------------------------------------ */

char *backend_kvm_describe_result(const kvm_result_t *r)
{
	char *s = NULL;
	int n = -1;

	switch (r->outcome) {
	case KVM_OUTCOME_EXIT:
		n = asprintf(&s, "guest exited with code %" PRIu32, r->exit_code);
		break;
	case KVM_OUTCOME_STOPPED:
		n = asprintf(&s, "stopped");
		break;
	case KVM_OUTCOME_FAULT:
		/* The guest said why (a Wasm trap, a missing import): its words
		 * first; the registers of the abort call say nothing more. */
		if (r->fault == KVM_FAULT_ABORT) {
			n = asprintf(&s, "guest abort: %s", r->message);
			break;
		}
		if (r->regs_valid)
			n = asprintf(&s, "guest fault: %s at rip=0x%" PRIx64 " rsp=0x%" PRIx64 " cr2=0x%" PRIx64
					 " addr=0x%" PRIx64 "%s%s",
				     kvm_fault_to_string(r->fault), r->regs[KVM_REG_RIP], r->regs[KVM_REG_RSP],
				     r->regs[KVM_REG_CR2], r->fault_addr, r->message[0] ? ": " : "", r->message);
		else
			n = asprintf(&s, "guest fault: %s addr=0x%" PRIx64 "%s%s", kvm_fault_to_string(r->fault),
				     r->fault_addr, r->message[0] ? ": " : "", r->message);
		break;
	case KVM_OUTCOME_ERROR:
		/* The worker's message ends with the error's text already. */
		n = asprintf(&s, "worker error: %s", r->message[0] ? r->message : strerror(-r->error));
		break;
	default:
		n = asprintf(&s, "worker ended without a result");
	}
	return n < 0 ? NULL : s;
}

void kvm_apply_end(manager_t *m, vm_t *vm, const kvm_result_t *r, const char *fallback_cause)
{
	_cleanup_free_ char *cause = r ? backend_kvm_describe_result(r) : NULL;
	const char *why = cause ? cause : fallback_cause;
	vm_state_t to;

	if (r && r->outcome == KVM_OUTCOME_EXIT) {
		vm->has_exit_code = true;
		vm->exit_code = r->exit_code;
		to = VM_STATE_STOPPED;
	} else if (r && r->outcome == KVM_OUTCOME_STOPPED) {
		to = VM_STATE_STOPPED;
		/* The worker halts the vCPU only when the guest did not end
		 * within the grace of the stop it was asked for: say so. */
		if (vm->state == VM_STATE_STOPPING)
			why = "stopped: the guest ignored the stop, its vCPU was halted after the grace";
	} else if (!r && vm->state == VM_STATE_STOPPING && fallback_cause && strncmp(fallback_cause, "killed", 6) == 0) {
		/* mvmd killed it because it was asked to stop it: that is a stop. */
		to = VM_STATE_STOPPED;
	} else {
		to = vm->state == VM_STATE_STARTING && (!r || r->outcome == KVM_OUTCOME_ERROR)
			     ? VM_STATE_START_FAILED : VM_STATE_FAILED;
	}
	/* A guest that exits while still Starting passed through Running. */
	if (to == VM_STATE_STOPPED && vm->state == VM_STATE_STARTING)
		(void)manager_transition(m, vm, VM_STATE_RUNNING, "guest running");
	vm->pid = 0;
	vm->pid_starttime = 0;
	fault_point("result.read");
	if (manager_transition(m, vm, to, why) == -EBUSY)
		(void)manager_save(m, vm);
}

/*
 * The VM has ended: apply how, drop the runtime, remove the sockets. A
 * worker that sent its RESULT is only tearing its VM down now (closing a
 * VM fd costs ~0.2 ms, p99 ~4 ms here, plus its memory): that is no part
 * of the VM's life, so the supervisor reaps it whenever it is gone.
 */
static void end_vm(kvm_runtime_t *k, const kvm_result_t *r, const char *fallback)
{
	manager_t *m = k->m;
	vm_t *vm = k->vm;

	kvm_apply_end(m, vm, r, fallback);
	kvm_pause_abort(k, "the VM ended");
	kvm_runtime_free(k);
	/* Its messages fail now, not at their timeouts. */
	actors_vm_ended(manager_actors(m), vm->id);
	/* (A run has none of these files.) */
	bool run = vm->ephemeral;
	_cleanup_free_ char *ctl = run ? NULL : manager_vm_path(m, vm, "ctl.sock"),
			   *vsock = run ? NULL : manager_vm_path(m, vm, "vsock.sock"),
			   *con = run ? NULL : manager_vm_console_path(m, vm);
	if (ctl)
		unlink(ctl);
	if (vsock)
		unlink(vsock);
	/* The worker held the console socket; nobody does now. */
	if (con)
		unlink(con);
}

int kvm_runtime_set_reuse(kvm_runtime_t *k, int *pool_fd, const char *workload, const char *key)
{
	if (!workload || !key)
		return -EINVAL;
	k->reuse_workload = strdup(workload);
	k->reuse_key = strdup(key);
	if (!k->reuse_workload || !k->reuse_key)
		return -ENOMEM;
	k->reuse_fd = TAKE_FD(*pool_fd);
	k->reusable = true;
	return 0;
}

/*
 * A reusable run's guest exited: its worker goes back to the pool, which
 * keeps it for the next run of the same module and key, instead of being
 * let go. Only a clean exit: a fault, a stop or a timeout ends the worker
 * as any other's (docs/workloads.md, "Reused workers").
 */
static void give_back(kvm_runtime_t *k)
{
	if (!k->reusable || !k->b->pool || k->result.outcome != KVM_OUTCOME_EXIT || !k->proc ||
	    (k->vm->run && manager_run_is_timed_out(k->vm->run)))
		return;
	int pidfd = sv_unwatch(TAKE_PTR(k->proc));
	/* The pool's now, kept or killed. */
	(void)kvm_pool_keep(k->b->pool, &k->w, pidfd, TAKE_FD(k->reuse_fd), k->reuse_workload, k->reuse_key);
	k->reusable = false;
}

/* What the guest wrote: a run's (run.h) goes to it, any other VM's to its console. */
static void vm_output(kvm_runtime_t *k, bool is_stderr, const void *buf, size_t len)
{
	if (k->vm->run)
		manager_run_output(k->vm->run, is_stderr, buf, len);
	else if (k->console)
		console_output(k->console, buf, len);
}

static void on_worker_exit(sv_proc_t *p, const sv_exit_t *how, void *userdata)
{
	kvm_runtime_t *k = userdata;
	manager_t *m = k->m;
	vm_t *vm = k->vm;
	char fallback[128] = "worker exited without a result";

	/* Drain what the worker said last (RESULT, console output). */
	if (k->w.ctl) {
		while (kvm_ctl_fill(k->w.ctl) > 0) {
			kvm_msg_t msg;
			while (kvm_ctl_next(k->w.ctl, &msg) > 0) {
				if (msg.fd >= 0)
					close(msg.fd); /* a console client of a VM that ended */
				if (msg.type == KVM_MSG_CONSOLE_OUT || msg.type == KVM_MSG_STDERR_OUT)
					vm_output(k, msg.type == KVM_MSG_STDERR_OUT, msg.payload, msg.len);
				else if (msg.type == KVM_MSG_RESULT && kvm_msg_get_result(&msg, &k->result) == 0)
					k->have_result = true;
			}
		}
	}
	if (!k->have_result && !vm->ephemeral) {
		_cleanup_free_ char *rp = manager_vm_path(m, vm, "result");
		if (rp && kvm_result_read(rp, &k->result) == 0)
			k->have_result = true;
	}
	(void)sv_exit_text(how, "worker", fallback, sizeof(fallback));
	if (how->killed && !k->have_result)
		snprintf(fallback, sizeof(fallback), "killed by %s", how->killed);
	/* A warm worker that died between its ASSIGN and its first word
	 * (killed while idle, a moment before we picked it) never ran this
	 * VM: start it again, cold. */
	if (k->pooled && !k->heard && !k->have_result && !how->killed && vm->state == VM_STATE_STARTING) {
		_cleanup_free_ char *cause = NULL, *snapshot = TAKE_PTR(k->snapshot);
		kvm_runtime_free(k);
		int r = snapshot ? kvm_start_worker_from(m, vm, snapshot, false, &cause)
				 : kvm_start_worker(m, vm, false, &cause);
		if (r < 0)
			(void)manager_transition(m, vm, VM_STATE_START_FAILED,
						 cause ? cause : "cannot start the worker");
		return;
	}
	/* A worker killed by a signal may have left a stale partial result:
	 * only a result it finished writing counts (the parser checks). */
	end_vm(k, k->have_result ? &k->result : NULL, fallback);
}

/* --- the control connection ---------------------------------------------- */

void kvm_runtime_ctl_update(kvm_runtime_t *k)
{
	if (k->ctl_src)
		sd_event_source_set_io_events(k->ctl_src, kvm_ctl_pending(k->w.ctl) ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static void ctl_close(kvm_runtime_t *k)
{
	k->ctl_src = sd_event_source_disable_unref(k->ctl_src);
	k->w.ctl = kvm_ctl_free(k->w.ctl);
}

void kvm_runtime_on_hello(kvm_runtime_t *k, const kvm_msg_hello_t *h)
{
	/* A worker from before KVM_HELLO_F_CONSOLE leaves its console to us:
	 * listen on it here, as mvmd did then. */
	if (k->console && !(h->flags & KVM_HELLO_F_CONSOLE)) {
		_cleanup_free_ char *sock = manager_vm_console_path(k->m, k->vm);
		if (sock)
			(void)console_listen_at(k->console, sock);
	}
}

static int on_ctl(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	kvm_runtime_t *k = userdata;
	kvm_msg_t msg;
	int r;

	if (revents & EPOLLOUT) {
		if (kvm_ctl_flush(k->w.ctl) < 0) {
			/* The worker closed its end (a run that ended before
			 * it took all its stdin, say): nothing more reaches
			 * it, but what it sent before, its RESULT among it,
			 * is still to be read, and decides how the VM ended. */
			kvm_ctl_drop_output(k->w.ctl);
			kvm_runtime_ctl_update(k);
			revents |= EPOLLIN;
		}
	}
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		r = kvm_ctl_fill(k->w.ctl);
		if (r == 0 || (r < 0 && r != -EAGAIN && r != -EINTR)) {
			/* The worker closed: its pidfd tells the rest. */
			ctl_close(k);
			return 0;
		}
		while ((r = kvm_ctl_next(k->w.ctl, &msg)) > 0) {
			k->heard = true;
			switch (msg.type) {
			case KVM_MSG_HELLO: {
				/* Who it is and where it stands, first on every
				 * connection. READY says Running; only a worker
				 * re-adopted after a restart may have sent its
				 * READY to the mvmd that died, and then its HELLO
				 * is all this one hears of it. */
				kvm_msg_hello_t h;
				if (k->adopted && kvm_msg_get_hello(&msg, &h) == 0) {
					kvm_runtime_on_hello(k, &h);
					if (h.state == KVM_VM_RUNNING && k->vm->state == VM_STATE_STARTING)
						(void)manager_transition(k->m, k->vm, VM_STATE_RUNNING, "guest running");
					kvm_pause_on_hello(k, h.state);
				}
				break;
			}
			case KVM_MSG_PAUSED:
			case KVM_MSG_RESUMED:
			case KVM_MSG_SNAPSHOT_DONE:
				kvm_pause_on_msg(k, &msg);
				break;
			case KVM_MSG_READY:
				if (k->vm->state == VM_STATE_STARTING)
					(void)manager_transition(k->m, k->vm, VM_STATE_RUNNING, "guest running");
				break;
			case KVM_MSG_CONSOLE_OUT:
			case KVM_MSG_STDERR_OUT:
				vm_output(k, msg.type == KVM_MSG_STDERR_OUT, msg.payload, msg.len);
				break;
			case KVM_MSG_ACTOR_ANSWER:
			case KVM_MSG_ACTOR_SEND: {
				kvm_msg_actor_t h;
				const char *iface;
				const uint8_t *data;
				size_t len;
				if (kvm_msg_get_actor(&msg, &h, &iface, &data, &len) < 0)
					break;
				if (msg.type == KVM_MSG_ACTOR_ANSWER)
					actors_answer(manager_actors(k->m), k->vm->id, h.id, data, len);
				else
					actors_guest_send(manager_actors(k->m), k->vm, h.id, iface, data, len);
				break;
			}
			case KVM_MSG_CONSOLE_CLIENT:
				/* Someone attached to the console the worker
				 * listens on: ours to serve from now on. */
				if (k->console)
					(void)console_add_client(k->console, msg.fd);
				else
					close(msg.fd);
				break;
			case KVM_MSG_RESULT:
				/* The last frame: all its console output came
				 * before it. The VM ends here, not when the
				 * process is gone (end_vm). */
				if (kvm_msg_get_result(&msg, &k->result) == 0) {
					k->have_result = true;
					give_back(k);
					end_vm(k, &k->result, NULL);
					return 0;
				}
				break;
			default:
				if (msg.fd >= 0)
					close(msg.fd); /* a descriptor with a frame that is not ours to take */
				break;
			}
		}
		if (r < 0) {
			/* A worker that speaks garbage is not trusted further. */
			(void)sv_kill(k->proc, NULL);
			ctl_close(k);
			return 0;
		}
	}
	kvm_runtime_ctl_update(k);
	return 0;
}

static int console_to_guest(const void *buf, size_t len, void *userdata)
{
	kvm_runtime_t *k = userdata;
	int r;

	if (!k->w.ctl)
		return -EPIPE;
	r = kvm_ctl_send_console(k->w.ctl, buf, len);
	kvm_runtime_ctl_update(k);
	return r;
}

int backend_kvm_actor_deliver(vm_t *vm, const kvm_msg_actor_t *h, const void *data, size_t len)
{
	static uint8_t frame[KVM_MSG_FRAME_MAX];
	kvm_runtime_t *k = vm->backend_data;
	int r;

	if (vm->backend != VM_BACKEND_KVM)
		return -EOPNOTSUPP;
	if (!k || !k->w.ctl || len > KVM_ACTOR_DATA_MAX)
		return -ENOTCONN;
	memcpy(frame, h, sizeof(*h));
	if (len)
		memcpy(frame + sizeof(*h), data, len);
	r = kvm_ctl_queue(k->w.ctl, KVM_MSG_ACTOR_DELIVER, frame, sizeof(*h) + len);
	if (r < 0)
		return r == -ENOBUFS ? -ENOBUFS : -ENOTCONN;
	/* Written now, not from the next EPOLLOUT: a message's way to the
	 * actor then costs one write instead of two epoll_ctl and a loop
	 * turn. What the socket does not take waits for EPOLLOUT as
	 * before; a failed write is on_ctl's to see there. */
	(void)kvm_ctl_flush(k->w.ctl);
	kvm_runtime_ctl_update(k);
	return 0;
}

int kvm_runtime_new(manager_t *m, vm_t *vm, const kvm_worker_t *w, bool is_child, kvm_runtime_t **ret)
{
	kvm_backend_t *b = manager_backend_userdata(m, VM_BACKEND_KVM);
	kvm_runtime_t *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return -ENOMEM;
	k->m = m;
	k->b = b;
	k->vm = vm;
	k->op_fd = -1;
	k->w = (kvm_worker_t){ .pid = w->pid, .pidfd = -1, .start_time = w->start_time, .ctl = w->ctl };
	r = sv_watch(b->sv, w->pid, w->pidfd, is_child, on_worker_exit, k, &k->proc);
	if (r < 0) {
		free(k);
		return r;
	}
	*ret = k;
	return 0;
}

int kvm_runtime_attach(kvm_runtime_t *k)
{
	sd_event *e = manager_event(k->m);
	_cleanup_free_ char *log = NULL;
	int r;

	/* A run's output is its answer (run.h): no console, no log. */
	if (k->vm->ephemeral)
		goto ctl;
	log = manager_vm_path(k->m, k->vm, "console.log");
	if (!log)
		return -ENOMEM;
	/* The socket is the worker's (kvm_worker_config_t.console_fd): mvmd
	 * gets its clients in CONSOLE_CLIENT frames, and listens itself
	 * only for a re-adopted worker that says it does not
	 * (kvm_runtime_on_hello). */
	console_config_t ccfg = {
		.socket_group = manager_config(k->m)->socket_group,
		.socket_gid = manager_config(k->m)->socket_gid,
		.log_path = log,
		.on_input = console_to_guest,
		.userdata = k,
	};
	r = console_new(e, &ccfg, &k->console);
	if (r < 0)
		return r;
ctl:
	if (k->w.ctl) {
		kvm_ctl_accept_fds(k->w.ctl, true); /* CONSOLE_CLIENT; any other is closed (on_ctl) */
		r = sd_event_add_io(e, &k->ctl_src, kvm_ctl_fd(k->w.ctl), EPOLLIN, on_ctl, k);
		if (r < 0)
			return r;
		/* Console output beats exit notifications: handle ctl first. */
		sd_event_source_set_priority(k->ctl_src, -10);
	}
	k->vm->backend_data = k;
	return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	kvm_runtime_t *k = userdata;

	/* No grace: a workload past its time is not asked, it is ended. */
	if (k->vm->run)
		manager_run_timed_out(k->vm->run);
	snprintf(k->timeout_why, sizeof(k->timeout_why), "workload timeout (timeout_ms %" PRIu64 ")",
		 workload_timeout_ms(k->vm));
	(void)sv_kill(k->proc, k->timeout_why);
	return 0;
}

int kvm_runtime_send_input(kvm_runtime_t *k)
{
	const uint8_t *data;
	size_t len;
	int r = 0;

	if (!k->w.ctl)
		return -ENOTCONN;
	manager_run_input(k->vm->run, (const void **)&data, &len);
	/* At most the worker's input ring (the RPC layer refuses more), in
	 * frames the protocol takes; queued in order, then the end. Only
	 * queued: the event loop writes them. A worker whose guest exited
	 * before it took them has closed its end; that is no failure of
	 * the run, whose RESULT is read all the same (on_ctl). */
	for (size_t off = 0; off < len && r >= 0; off += KVM_MSG_PAYLOAD_MAX)
		r = kvm_ctl_queue(k->w.ctl, KVM_MSG_CONSOLE_IN, data + off, MIN(len - off, (size_t)KVM_MSG_PAYLOAD_MAX));
	if (r >= 0)
		r = kvm_ctl_queue(k->w.ctl, KVM_MSG_CONSOLE_EOF, NULL, 0);
	kvm_runtime_ctl_update(k);
	return r;
}

int kvm_runtime_arm_timeout(kvm_runtime_t *k, uint64_t left_usec)
{
	if (!workload_timeout_ms(k->vm))
		return 0;
	k->timeout_timer = sd_event_source_disable_unref(k->timeout_timer);
	return sd_event_add_time_relative(manager_event(k->m), &k->timeout_timer, CLOCK_MONOTONIC,
					  MAX(left_usec, (uint64_t)1), 1000, on_timeout, k);
}
