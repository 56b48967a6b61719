/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kvm backend as mvmd runs it: one mvm-vmm worker per VM (daemon/mvmd/kvm/worker.h),
 * supervised from the event loop through its pidfd and its control
 * connection, with the console relayed by daemon/mvmd/console.c.
 *
 * Per VM, STATE_DIR/vms/<id>/ holds ctl.sock (the worker's control socket,
 * reconnectable after a mvmd restart), vsock.sock (hybrid vsock: created
 * here, served by the worker, so it outlives a mvmd restart), result (how it ended, written by the
 * worker), worker.log (its stderr) and console.log; the console socket is
 * CONSOLE_DIR/<id>.sock.
 */
#include "backend-kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blob.h"
#include "console.h"
#include "kvm-pool.h"
#include "kvm/worker.h"
#include "util/fault.h"
#include "util/macro.h"
#include "util/pidfd.h"
#include "reap.h"
#include "workload.h"

#define CTL_QUEUE_MAX (1u << 20)
#define STOP_GRACE_MS 2000u

typedef struct kvm_backend {
	char *vmm_path, *image_path, *kvm_path;
	kvm_pool_t *pool; /* warm workers, or NULL */
} kvm_backend_t;

typedef struct kvm_runtime {
	manager_t *m;
	vm_t *vm;
	kvm_worker_t w;    /* pid, pidfd, start_time, ctl */
	bool is_child;     /* spawned by this mvmd: its exit status is ours to reap */
	bool pooled;       /* a warm worker from the pool (daemon/mvmd/kvm/kvm-pool.h) */
	bool heard;        /* it said anything on its control connection */
	const char *killed; /* why mvmd killed it ("forced stop", "stop timeout"), NULL otherwise */
	bool have_result;
	kvm_result_t result;
	sd_event_source *pidfd_src, *ctl_src, *kill_timer;
	sd_event_source *timeout_timer; /* the workload's timeout_ms */
	char timeout_why[64];
	console_t *console;
} kvm_runtime_t;

static kvm_backend_t backend;

static int start_worker(manager_t *m, vm_t *vm, bool allow_pool, char **ret_cause);

/* Tear down the runtime objects; the worker itself is not touched. */
static void runtime_free(kvm_runtime_t *k)
{
	if (!k)
		return;
	sd_event_source_disable_unref(k->pidfd_src);
	sd_event_source_disable_unref(k->ctl_src);
	sd_event_source_disable_unref(k->kill_timer);
	sd_event_source_disable_unref(k->timeout_timer);
	console_free(k->console);
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

/* Apply a final outcome to the VM: Stopped, StartFailed or Failed. */
static void apply_end(manager_t *m, vm_t *vm, const kvm_result_t *r, const char *fallback_cause)
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
 * of the VM's life, so it is reaped whenever it is gone, by a source the
 * loop owns.
 */
static void end_vm(kvm_runtime_t *k, const kvm_result_t *r, const char *fallback, bool reaped)
{
	manager_t *m = k->m;
	vm_t *vm = k->vm;

	/* One epoll registration per fd: the pidfd's watcher goes first. */
	k->pidfd_src = sd_event_source_disable_unref(k->pidfd_src);
	if (k->is_child && !reaped && k->w.pidfd >= 0) {
		if (reap_later(manager_event(m), k->w.pidfd)) {
			k->w.pidfd = -1;
		} else {
			/* No room to wait for it: wait now (it is ending). */
			(void)pidfd_reap(k->w.pidfd, WEXITED, NULL);
		}
	}
	apply_end(m, vm, r, fallback);
	runtime_free(k);
	_cleanup_free_ char *ctl = manager_vm_path(m, vm, "ctl.sock"), *vsock = manager_vm_path(m, vm, "vsock.sock");
	if (ctl)
		unlink(ctl);
	if (vsock)
		unlink(vsock);
}

static int on_worker_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
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
				if (msg.type == KVM_MSG_CONSOLE_OUT && k->console)
					console_output(k->console, msg.payload, msg.len);
				else if (msg.type == KVM_MSG_RESULT && kvm_msg_get_result(&msg, &k->result) == 0)
					k->have_result = true;
			}
		}
	}
	if (!k->have_result) {
		_cleanup_free_ char *rp = manager_vm_path(m, vm, "result");
		if (rp && kvm_result_read(rp, &k->result) == 0)
			k->have_result = true;
	}
	if (k->is_child) {
		siginfo_t si = { 0 };
		if (pidfd_reap(fd, WEXITED | WNOHANG, &si) == 0 && si.si_pid) {
			if (si.si_code == CLD_EXITED)
				snprintf(fallback, sizeof(fallback), "worker exited with status %d", si.si_status);
			else
				snprintf(fallback, sizeof(fallback), "worker killed by signal %d (%s)", si.si_status,
					 strsignal(si.si_status));
		}
	}
	if (k->killed && !k->have_result)
		snprintf(fallback, sizeof(fallback), "killed by %s", k->killed);
	/* A warm worker that died between its ASSIGN and its first word
	 * (killed while idle, a moment before we picked it) never ran this
	 * VM: start it again, cold. */
	if (k->pooled && !k->heard && !k->have_result && !k->killed && vm->state == VM_STATE_STARTING) {
		_cleanup_free_ char *cause = NULL;
		runtime_free(k);
		int r = start_worker(m, vm, false, &cause);
		if (r < 0)
			(void)manager_transition(m, vm, VM_STATE_START_FAILED,
						 cause ? cause : "cannot start the worker");
		return 0;
	}
	/* A worker killed by a signal may have left a stale partial result:
	 * only a result it finished writing counts (the parser checks). */
	end_vm(k, k->have_result ? &k->result : NULL, fallback, true);
	return 0;
}

/* --- the control connection ---------------------------------------------- */

static void ctl_update_events(kvm_runtime_t *k)
{
	if (k->ctl_src)
		sd_event_source_set_io_events(k->ctl_src, kvm_ctl_pending(k->w.ctl) ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static void ctl_close(kvm_runtime_t *k)
{
	k->ctl_src = sd_event_source_disable_unref(k->ctl_src);
	k->w.ctl = kvm_ctl_free(k->w.ctl);
}

static int on_ctl(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	kvm_runtime_t *k = userdata;
	kvm_msg_t msg;
	int r;

	if (revents & EPOLLOUT) {
		if (kvm_ctl_flush(k->w.ctl) < 0) {
			ctl_close(k);
			return 0;
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
				kvm_msg_hello_t h;
				if (kvm_msg_get_hello(&msg, &h) == 0 && h.state == KVM_VM_RUNNING &&
				    k->vm->state == VM_STATE_STARTING)
					(void)manager_transition(k->m, k->vm, VM_STATE_RUNNING, "guest running");
				break;
			}
			case KVM_MSG_READY:
				if (k->vm->state == VM_STATE_STARTING)
					(void)manager_transition(k->m, k->vm, VM_STATE_RUNNING, "guest running");
				break;
			case KVM_MSG_CONSOLE_OUT:
				if (k->console)
					console_output(k->console, msg.payload, msg.len);
				break;
			case KVM_MSG_RESULT:
				/* The last frame: all its console output came
				 * before it. The VM ends here, not when the
				 * process is gone (end_vm). */
				if (kvm_msg_get_result(&msg, &k->result) == 0) {
					k->have_result = true;
					end_vm(k, &k->result, NULL, false);
					return 0;
				}
				break;
			default:
				break;
			}
		}
		if (r < 0) {
			/* A worker that speaks garbage is not trusted further. */
			pidfd_kill(k->w.pidfd, SIGKILL);
			ctl_close(k);
			return 0;
		}
	}
	ctl_update_events(k);
	return 0;
}

static int console_to_guest(const void *buf, size_t len, void *userdata)
{
	kvm_runtime_t *k = userdata;
	int r;

	if (!k->w.ctl)
		return -EPIPE;
	r = kvm_ctl_send_console(k->w.ctl, buf, len);
	ctl_update_events(k);
	return r;
}

/* Event sources and console for a worker we have a pidfd (and maybe a ctl) for. */
static int runtime_attach(kvm_runtime_t *k)
{
	sd_event *e = manager_event(k->m);
	_cleanup_free_ char *sock = manager_vm_console_path(k->m, k->vm), *log = manager_vm_path(k->m, k->vm, "console.log");
	int r;

	if (!sock || !log)
		return -ENOMEM;
	console_config_t ccfg = {
		.socket_path = sock,
		.socket_group = manager_config(k->m)->socket_group,
		.socket_gid = manager_config(k->m)->socket_gid,
		.log_path = log,
		.on_input = console_to_guest,
		.userdata = k,
	};
	r = console_new(e, &ccfg, &k->console);
	if (r < 0)
		return r;
	r = sd_event_add_io(e, &k->pidfd_src, k->w.pidfd, EPOLLIN, on_worker_exit, k);
	if (r < 0)
		return r;
	if (k->w.ctl) {
		r = sd_event_add_io(e, &k->ctl_src, kvm_ctl_fd(k->w.ctl), EPOLLIN, on_ctl, k);
		if (r < 0)
			return r;
		/* Console output beats exit notifications: handle ctl first. */
		sd_event_source_set_priority(k->ctl_src, -10);
	}
	k->vm->backend_data = k;
	return 0;
}

/* --- backend ops ------------------------------------------------------- */

static bool kvm_usable(manager_t *m, char **ret_reason)
{
	int fd = open(backend.kvm_path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		if (asprintf(ret_reason, "%s: %s", backend.kvm_path, strerror(errno)) < 0)
			*ret_reason = NULL;
		return false;
	}
	close(fd);
	if (access(backend.vmm_path, X_OK) < 0) {
		if (asprintf(ret_reason, "worker %s: %s", backend.vmm_path, strerror(errno)) < 0)
			*ret_reason = NULL;
		return false;
	}
	if (access(backend.image_path, R_OK) < 0) {
		if (asprintf(ret_reason, "guest image %s: %s", backend.image_path, strerror(errno)) < 0)
			*ret_reason = NULL;
		return false;
	}
	return true;
}

/* The spec's "guest" object: a custom image and boot arguments. */
static const char *spec_guest_image(const vm_t *vm)
{
	json_object *g, *v;

	if (vm->spec && json_object_object_get_ex(vm->spec, "guest", &g) && json_object_object_get_ex(g, "image", &v))
		return json_object_get_string(v);
	return NULL;
}

static size_t spec_guest_args(const vm_t *vm, const char **args, size_t max)
{
	json_object *g, *a;
	size_t n = 0;

	if (!vm->spec || !json_object_object_get_ex(vm->spec, "guest", &g) || !json_object_object_get_ex(g, "args", &a))
		return 0;
	for (size_t i = 0; i < json_object_array_length(a) && n < max; i++)
		args[n++] = json_object_get_string(json_object_array_get_idx(a, i));
	return n;
}

static int kvm_validate(manager_t *m, const vm_t *vm, char **ret_detail)
{
	if (vm->memory_mib < KVM_VM_MEM_MIN_MIB || vm->memory_mib > KVM_VM_MEM_MAX_MIB) {
		if (asprintf(ret_detail, "kvm micro-VMs take %u..%u MiB of memory, not %llu", KVM_VM_MEM_MIN_MIB,
			     KVM_VM_MEM_MAX_MIB, (unsigned long long)vm->memory_mib) < 0)
			*ret_detail = NULL;
		return -ENOSPC;
	}
	if (vm->vcpus > KVM_VM_VCPUS_MAX) {
		if (asprintf(ret_detail, "kvm micro-VMs take at most %u vCPUs, not %u", KVM_VM_VCPUS_MAX, vm->vcpus) < 0)
			*ret_detail = NULL;
		return -ENOSPC;
	}
	return 0;
}

static void kvm_describe(manager_t *m, json_object *o)
{
	if (backend.pool)
		json_object_object_add(o, "pool", kvm_pool_describe(backend.pool));
	json_object_object_add(o, "min_memory_mib", json_object_new_int(KVM_VM_MEM_MIN_MIB));
	json_object_object_add(o, "max_memory_mib", json_object_new_int(KVM_VM_MEM_MAX_MIB));
	json_object_object_add(o, "max_vcpus", json_object_new_int(KVM_VM_VCPUS_MAX));
}

static int kvm_provision(manager_t *m, vm_t *vm, char **ret_cause)
{
	const char *image = spec_guest_image(vm);
	struct stat st;

	int r = workload_provision(m, vm, ret_cause);
	if (r < 0 && r != -EINPROGRESS) /* -EINPROGRESS: a pull; the image is checked now all the same */
		return r;
	if (!image)
		return r;
	if (stat(image, &st) < 0 || !S_ISREG(st.st_mode) || access(image, R_OK) < 0) {
		if (asprintf(ret_cause, "guest image not usable: %s: %s", image,
			     errno ? strerror(errno) : "not a regular file") < 0)
			*ret_cause = NULL;
		return -ENOENT;
	}
	return r;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	kvm_runtime_t *k = userdata;

	/* No grace: a workload past its time is not asked, it is ended. */
	snprintf(k->timeout_why, sizeof(k->timeout_why), "workload timeout (timeout_ms %" PRIu64 ")",
		 workload_timeout_ms(k->vm));
	k->killed = k->timeout_why;
	pidfd_kill(k->w.pidfd, SIGKILL);
	return 0;
}

/* Arm the workload's timeout, left_usec from now (none without one). */
static int arm_timeout(kvm_runtime_t *k, uint64_t left_usec)
{
	if (!workload_timeout_ms(k->vm))
		return 0;
	k->timeout_timer = sd_event_source_disable_unref(k->timeout_timer);
	return sd_event_add_time_relative(manager_event(k->m), &k->timeout_timer, CLOCK_MONOTONIC,
					  MAX(left_usec, (uint64_t)1), 1000, on_timeout, k);
}

static int start_worker(manager_t *m, vm_t *vm, bool allow_pool, char **ret_cause)
{
	const char *args[64];
	size_t nargs = spec_guest_args(vm, args, ELEMENTSOF(args));
	_cleanup_free_ char *ctl = manager_vm_path(m, vm, "ctl.sock"), *result = manager_vm_path(m, vm, "result"),
			   *wlog = manager_vm_path(m, vm, "worker.log"), *vsock = manager_vm_path(m, vm, "vsock.sock");
	_cleanup_close_ int log_fd = -1;
	_cleanup_(workload_start_done) workload_start_t wl = { .blob_fd = -1 };
	kvm_runtime_t *k;
	int r;

	if (!ctl || !result || !wlog || !vsock)
		return -ENOMEM;
	if (workload_present(vm)) {
		r = workload_start_prepare(m, vm, &wl, ret_cause);
		if (r < 0)
			return r;
	}
	if (vm->memory_mib > UINT32_MAX)
		return -EINVAL;
	log_fd = open(wlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (log_fd < 0)
		return negative_errno();

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->m = m;
	k->vm = vm;
	k->w.pidfd = -1;
	k->is_child = true;
	kvm_worker_config_t cfg = {
		.vmm_path = backend.vmm_path,
		.kvm_path = backend.kvm_path,
		.image_path = spec_guest_image(vm) ? spec_guest_image(vm) : backend.image_path,
		.ctl_path = ctl,
		.vsock_path = vsock,
		.args = args,
		.nargs = nargs,
		.result_path = result,
		.memory_mib = (uint32_t)vm->memory_mib,
		.vcpus = vm->vcpus,
		.log_fd = log_fd,
	};
	if (wl.hash) {
		/* The workload's argv replaces the guest's boot arguments. */
		cfg.workload = wl.hash;
		cfg.blob_fd = wl.blob_fd;
		cfg.args = wl.args;
		cfg.nargs = wl.nargs;
		cfg.envs = (const char *const *)wl.envs;
		cfg.nenvs = wl.nenvs;
		cfg.caps = wl.caps;
		cfg.ncaps = wl.ncaps;
	}
	/* A warm worker if one of this size is ready (same worker, same
	 * sandbox, its VM built ahead of time), else a cold spawn. */
	r = backend.pool && allow_pool ? kvm_pool_take(backend.pool, &cfg, &k->w) : -ENOENT;
	k->pooled = r == 0;
	if (r < 0)
		r = kvm_worker_spawn(&cfg, &k->w);
	if (r < 0) {
		free(k);
		if (asprintf(ret_cause, "cannot start the worker: %s", strerror(-r)) < 0)
			*ret_cause = NULL;
		return r;
	}
	vm->pid = k->w.pid;
	vm->pid_starttime = k->w.start_time;
	vm->has_exit_code = false;
	r = runtime_attach(k);
	if (r < 0) {
		pidfd_kill(k->w.pidfd, SIGKILL);
		waitpid(k->w.pid, NULL, 0);
		vm->pid = 0;
		runtime_free(k);
		if (asprintf(ret_cause, "cannot supervise the worker: %s", strerror(-r)) < 0)
			*ret_cause = NULL;
		return r;
	}
	(void)arm_timeout(k, wl.timeout_ms * 1000u);
	/* The pid: a restarted mvmd finds it through HELLO if need be. */
	(void)manager_save_lazy(m, vm);
	return 0;
}

/* Before Starting is written: the worker of this run truncates the last
 * run's result only once it is spawned, and a mvmd killed in between
 * must not take that result for this run's end (docs/state.md). */
static int kvm_forget_run(manager_t *m, vm_t *vm)
{
	_cleanup_free_ char *result = manager_vm_path(m, vm, "result");

	if (!result)
		return -ENOMEM;
	return unlink(result) < 0 && errno != ENOENT ? negative_errno() : 0;
}

static int kvm_start(manager_t *m, vm_t *vm, char **ret_cause)
{
	return start_worker(m, vm, true, ret_cause);
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	kvm_runtime_t *k = userdata;

	k->killed = "stop timeout";
	pidfd_kill(k->w.pidfd, SIGKILL);
	return 0;
}

static int kvm_stop(manager_t *m, vm_t *vm, bool force, uint64_t timeout_ms)
{
	kvm_runtime_t *k = vm->backend_data;
	int r;

	if (!k)
		return -ESRCH;
	if (force || !k->w.ctl || timeout_ms == 0) {
		k->killed = "forced stop";
		return pidfd_kill(k->w.pidfd, SIGKILL) < 0 ? negative_errno() : 0;
	}
	r = kvm_ctl_send_stop(k->w.ctl, (uint32_t)MIN(timeout_ms, (uint64_t)STOP_GRACE_MS));
	ctl_update_events(k);
	if (r < 0) {
		k->killed = "forced stop";
		return pidfd_kill(k->w.pidfd, SIGKILL) < 0 ? negative_errno() : 0;
	}
	/* A worker that does not end in time is killed. */
	k->kill_timer = sd_event_source_disable_unref(k->kill_timer);
	r = sd_event_add_time_relative(manager_event(m), &k->kill_timer, CLOCK_MONOTONIC, timeout_ms * 1000u, 1000,
				       on_kill_timer, k);
	return r < 0 ? r : 0;
}

static int kvm_kill(manager_t *m, vm_t *vm)
{
	kvm_runtime_t *k = vm->backend_data;

	if (!k)
		return 0;
	pidfd_kill(k->w.pidfd, SIGKILL);
	if (k->is_child)
		(void)pidfd_reap(k->w.pidfd, WEXITED, NULL);
	runtime_free(k);
	vm->pid = 0;
	return 0;
}

static void kvm_release(manager_t *m, vm_t *vm)
{
	runtime_free(vm->backend_data);
}

static int kvm_adopt(manager_t *m, vm_t *vm, char **ret_cause)
{
	_cleanup_free_ char *ctl = manager_vm_path(m, vm, "ctl.sock"), *result = manager_vm_path(m, vm, "result");
	kvm_ctl_t *early_ctl = NULL;
	uint32_t hello_state = 0;
	kvm_result_t res;
	kvm_runtime_t *k;
	int pidfd, r;

	if (!ctl || !result)
		return -ENOMEM;
	/* mvmd may have died after spawning the worker but before recording
	 * its pid: the worker's HELLO on its control socket says who it is. */
	if (vm->pid <= 0 && kvm_worker_connect(ctl, &early_ctl) == 0) {
		kvm_msg_t msg;
		kvm_msg_hello_t h;
		uint64_t st;
		if (kvm_ctl_recv(early_ctl, 1000, &msg) == 1 && msg.type == KVM_MSG_HELLO &&
		    kvm_msg_get_hello(&msg, &h) == 0 && h.pid > 0 && kvm_worker_proc_start_time(h.pid, &st) == 0) {
			vm->pid = h.pid;
			vm->pid_starttime = st;
			hello_state = h.state;
		} else {
			early_ctl = kvm_ctl_free(early_ctl);
		}
	}
	r = vm->pid > 0 ? kvm_worker_adopt(vm->pid, vm->pid_starttime, &pidfd) : -ESRCH;
	if (r >= 0) {
		/* A worker that died while mvmd was down may linger as a zombie
		 * of its new parent: it is gone all the same. */
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		if (poll(&p, 1, 0) == 1) {
			close(pidfd);
			r = -ESRCH;
		}
	}
	if (r < 0) {
		kvm_ctl_free(early_ctl);
		/* Gone while mvmd was down: the result file may say how. */
		if (kvm_result_read(result, &res) == 0) {
			apply_end(m, vm, &res, NULL);
			return 1;
		}
		/* The pid is written behind, so a worker answered Running may
		 * have none on disk. But its result file is made (empty) just
		 * before it is spawned or assigned, after the Starting record,
		 * and a start removes the last run's first (forget_run): no
		 * file, no worker ever took this run. */
		bool started = vm->pid > 0 || access(result, F_OK) == 0;
		vm->pid = 0;
		if (!started) {
			*ret_cause = strdup("start interrupted: no worker took the VM over while mvmd was down");
			return -ENOENT;
		}
		*ret_cause = strdup("worker lost while mvmd was down");
		return -ESRCH;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		kvm_ctl_free(early_ctl);
		close(pidfd);
		return -ENOMEM;
	}
	k->m = m;
	k->vm = vm;
	k->w = (kvm_worker_t){ .pid = vm->pid, .pidfd = pidfd, .start_time = vm->pid_starttime, .ctl = early_ctl };
	/* The control socket: a worker that cannot be reached still gets
	 * supervised through its pidfd, and can be killed. */
	if (!k->w.ctl)
		(void)kvm_worker_connect(ctl, &k->w.ctl);
	r = runtime_attach(k);
	if (r < 0) {
		runtime_free(k);
		*ret_cause = strdup("cannot supervise the re-adopted worker");
		return r;
	}
	if (hello_state) {
		/* We consumed its HELLO above: act on it here, and record the pid. */
		if (hello_state == KVM_VM_RUNNING && vm->state == VM_STATE_STARTING)
			(void)manager_transition(m, vm, VM_STATE_RUNNING, "guest running");
		(void)manager_save(m, vm);
	}
	(void)arm_timeout(k, workload_timeout_left_usec(workload_timeout_ms(vm), vm->pid_starttime));
	return 0;
}

/*
 * compute.vm.exec of "sha256:<hex>": hand that one blob to the worker
 * (docs/worker-protocol.md, BLOB_GRANT). The worker is sandboxed and never
 * sees the blob directory; it gets a read-only fd to this blob, reads and
 * verifies it. The frame must be on the socket before the exec connects
 * to vsock.sock (the worker reads control input first), so a frame that
 * cannot be written at once is an error, not a queued message. A hash
 * that is not in the store is not granted: the guest's agent then answers
 * not-found, as it does for any module it may not load.
 */
static int kvm_grant_blob(manager_t *m, vm_t *vm, const char *hex)
{
	kvm_runtime_t *k = vm->backend_data;
	char ref[KVM_BLOB_REF_LEN + 1];
	_cleanup_close_ int fd = -1;
	int r;

	if (!k)
		return -ESRCH;
	if (!k->w.ctl)
		return -ENOTCONN;
	if (snprintf(ref, sizeof(ref), "sha256:%s", hex) != KVM_BLOB_REF_LEN)
		return -EINVAL;
	r = blob_open(manager_blobs(m), hex, false, &fd, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = kvm_ctl_send_fd(k->w.ctl, KVM_MSG_BLOB_GRANT, ref, KVM_BLOB_REF_LEN, fd);
	ctl_update_events(k);
	return r;
}

static const backend_ops_t kvm_ops = {
	.usable = kvm_usable,
	.validate = kvm_validate,
	.describe = kvm_describe,
	.provision = kvm_provision,
	.forget_run = kvm_forget_run,
	.start = kvm_start,
	.stop = kvm_stop,
	.adopt = kvm_adopt,
	.kill = kvm_kill,
	.release = kvm_release,
	.grant_blob = kvm_grant_blob,
};

static int open_module(void *userdata, const char *workload)
{
	char hex[BLOB_HEX_LEN + 1];
	uint64_t size;
	int fd, r;

	if (blob_ref_to_hex(workload, hex) < 0)
		return -EINVAL;
	r = blob_open(manager_blobs(userdata), hex, false, &fd, &size);
	return r < 0 ? r : fd;
}

int backend_kvm_register(manager_t *m, const backend_kvm_config_t *cfg)
{
	free(backend.vmm_path);
	free(backend.image_path);
	free(backend.kvm_path);
	backend.vmm_path = strdup(cfg->vmm_path);
	backend.image_path = strdup(cfg->image_path);
	backend.kvm_path = strdup(cfg->kvm_path ? cfg->kvm_path : "/dev/kvm");
	if (!backend.vmm_path || !backend.image_path || !backend.kvm_path)
		return -ENOMEM;
	manager_register_backend(m, VM_BACKEND_KVM, &kvm_ops, &backend);
	/* Warm workers only where a VM could start at all; primed from the
	 * blob store (the worker verifies what it reads). */
	_cleanup_free_ char *why = NULL;
	if (cfg->pool_size && kvm_usable(m, &why)) {
		kvm_pool_config_t pcfg = {
			.vmm_path = backend.vmm_path, .image_path = backend.image_path, .kvm_path = backend.kvm_path,
			.size = cfg->pool_size, .memory_mib = cfg->pool_memory_mib,
			.warm_bytes = KVM_POOL_WARM_BYTES, .ready_timeout_ms = cfg->pool_ready_ms,
			.open_module = open_module, .userdata = m,
		};
		int r = kvm_pool_new(manager_event(m), &pcfg, &backend.pool);
		if (r < 0)
			return r;
	}
	return 0;
}

void backend_kvm_unregister(void)
{
	/* Workers still tearing down are mvmd's children: let them go. */
	reap_later_forget_all();
	backend.pool = kvm_pool_free(backend.pool);
	free(backend.vmm_path);
	free(backend.image_path);
	free(backend.kvm_path);
	backend = (kvm_backend_t){ 0 };
}
