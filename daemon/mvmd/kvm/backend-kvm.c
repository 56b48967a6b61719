/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kvm backend as mvmd runs it: one mvm-vmm worker per VM (daemon/mvmd/kvm/worker.h),
 * supervised from the event loop through its pidfd (daemon/mvmd/supervise.h)
 * and its control connection (daemon/mvmd/kvm/kvm-runtime.c), with the
 * console relayed by daemon/mvmd/console.c. This file holds the backend's
 * operations: start, stop, kill, adopt, ...
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "kvm-runtime.h"
#include "kvm/zygote.h"
#include "proto/warm.h"
#include "run.h"
#include "util/cause.h"
#include "util/macro.h"
#include "vmlog.h"
#include "workload.h"


static kvm_backend_t *backend_of(manager_t *m)
{
	return manager_backend_userdata(m, VM_BACKEND_KVM);
}


/* --- backend ops ------------------------------------------------------- */

/*
 * /dev/kvm is opened once it can be, and kept: every worker gets that fd
 * (its VM is made from it), and a start does not open the device again
 * just to see that it could. The worker and the image are looked at on
 * every start: a reinstall may move them.
 */
static bool kvm_usable(manager_t *m, char **ret_cause)
{
	kvm_backend_t *b = backend_of(m);

	if (b->kvm_fd < 0) {
		b->kvm_fd = open(b->kvm_path, O_RDWR | O_CLOEXEC);
		if (b->kvm_fd < 0) {
			(void)set_cause(ret_cause, 0, "%s: %s", b->kvm_path, strerror(errno));
			return false;
		}
	}
	if (access(b->vmm_path, X_OK) < 0) {
		(void)set_cause(ret_cause, 0, "worker %s: %s", b->vmm_path, strerror(errno));
		return false;
	}
	if (access(b->image_path, R_OK) < 0) {
		(void)set_cause(ret_cause, 0, "guest image %s: %s", b->image_path, strerror(errno));
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

static int kvm_validate(manager_t *m, const vm_t *vm, char **ret_cause)
{
	if (vm->memory_mib < KVM_VM_MEM_MIN_MIB || vm->memory_mib > KVM_VM_MEM_MAX_MIB) {
		(void)set_cause(ret_cause, 0, "kvm micro-VMs take %u..%u MiB of memory, not %llu", KVM_VM_MEM_MIN_MIB,
			     KVM_VM_MEM_MAX_MIB, (unsigned long long)vm->memory_mib);
		return -ENOSPC;
	}
	if (vm->vcpus > KVM_VM_VCPUS_MAX) {
		(void)set_cause(ret_cause, 0, "kvm micro-VMs take at most %u vCPUs, not %u", KVM_VM_VCPUS_MAX, vm->vcpus);
		return -ENOSPC;
	}
	return 0;
}

static void kvm_describe(manager_t *m, json_object *o)
{
	kvm_backend_t *b = backend_of(m);

	if (b->pool)
		json_object_object_add(o, "pool", kvm_pool_describe(b->pool));
	json_object_object_add(o, "min_memory_mib", json_object_new_int(KVM_VM_MEM_MIN_MIB));
	json_object_object_add(o, "max_memory_mib", json_object_new_int(KVM_VM_MEM_MAX_MIB));
	json_object_object_add(o, "max_vcpus", json_object_new_int(KVM_VM_VCPUS_MAX));
	json_object_object_add(o, "teardown", kvm_teardown_describe(b));
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
		(void)set_cause(ret_cause, 0, "guest image not usable: %s: %s", image,
			     errno ? strerror(errno) : "not a regular file");
		return -ENOENT;
	}
	return r;
}

/* The spec's "snapshot": a VM created from one starts from it. */
static const char *spec_snapshot(const vm_t *vm)
{
	json_object *v;

	if (vm->spec && json_object_object_get_ex(vm->spec, "snapshot", &v))
		return json_object_get_string(v);
	return NULL;
}

static int start_worker(manager_t *m, vm_t *vm, bool allow_pool, const char *snapshot, char **ret_cause)
{
	kvm_backend_t *b = backend_of(m);
	kvm_worker_t w = { .pidfd = -1 };
	const char *args[64];
	size_t nargs = spec_guest_args(vm, args, ELEMENTSOF(args));
	/* A run (run.h) has no file at all: nobody re-adopts it (no result
	 * file; its control connection is a socketpair, worker.c), nobody
	 * execs into its one module (no vsock), and its worker's stderr is
	 * ours (docs/workloads.md, "One-shot runs"). */
	bool run = vm->ephemeral;
	_cleanup_free_ char *ctl = run ? NULL : manager_vm_path(m, vm, "ctl.sock"),
			   *result = run ? NULL : manager_vm_path(m, vm, "result"),
			   *wlog = run ? NULL : manager_vm_path(m, vm, "worker.log"),
			   *vsock = run ? NULL : manager_vm_path(m, vm, "vsock.sock");
	_cleanup_free_ char *con = run ? NULL : manager_vm_console_path(m, vm);
	_cleanup_close_ int log_fd = -1, snap_fd = -1, con_fd = -1, reuse_fd = -1;
	_cleanup_(workload_start_done) workload_start_t wl = { .blob_fd = -1 };
	kvm_runtime_t *k;
	bool pooled;
	int r;

	if (!run && (!ctl || !result || !wlog || !vsock || !con))
		return -ENOMEM;
	if (workload_present(vm)) {
		r = workload_start_prepare(m, vm, &wl, ret_cause);
		if (r < 0)
			return r;
	}
	if (vm->memory_mib > UINT32_MAX)
		return -EINVAL;
	log_fd = run ? fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)
		     : open(wlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (log_fd < 0)
		return negative_errno();
	if (snapshot) {
		/* Read-only, from the store: the worker checks every byte. */
		char hex[BLOB_HEX_LEN + 1];
		r = blob_ref_to_hex(snapshot, hex);
		if (r == 0)
			r = blob_open(manager_blobs(m), hex, false, &snap_fd, NULL);
		if (r < 0) {
			(void)set_cause(ret_cause, 0, "snapshot %s: %s", snapshot, strerror(-r));
			return r;
		}
		/* An unprimed warm worker of the size takes it: its VM is
		 * built, and its memory is replaced by the snapshot's. */
	}
	/* The console socket goes to the worker, which hands its clients
	 * back: mvmd holds no fd for a console nobody uses (docs/density.md). */
	if (con) {
		r = console_listen(con, manager_config(m)->socket_group, manager_config(m)->socket_gid, &con_fd);
		if (r < 0) {
			(void)set_cause(ret_cause, 0, "cannot make the console socket: %s", strerror(-r));
			return r;
		}
	}

	kvm_worker_config_t cfg = {
		.vmm_path = b->vmm_path,
		.kvm_path = b->kvm_path,
		.kvm_fd = b->kvm_fd,
		.image_path = spec_guest_image(vm) ? spec_guest_image(vm) : b->image_path,
		.ctl_path = ctl,
		.vsock_path = vsock,
		.args = args,
		.nargs = nargs,
		.result_path = result,
		.memory_mib = (uint32_t)vm->memory_mib,
		.vcpus = vm->vcpus,
		.log_fd = log_fd,
		.flags = run ? KVM_WARM_F_RUN : 0,
		.snapshot_fd = snap_fd,
		.console_fd = con_fd,
		.reuse_key = run ? manager_run_reuse_key(vm->run) : NULL,
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
	r = b->pool && allow_pool ? kvm_pool_take(b->pool, &cfg, &w, &reuse_fd) : -ENOENT;
	pooled = r == 0;
	if (r < 0)
		r = kvm_worker_spawn(&cfg, &w);
	if (r < 0) {
		if (con)
			unlink(con);
		(void)set_cause(ret_cause, 0, "cannot start the worker: %s", strerror(-r));
		return r;
	}
	r = kvm_runtime_new(m, vm, &w, true, &k);
	if (r < 0) {
		/* A worker nobody watches must not run on. */
		sv_abandon(b->sv, w.pidfd, true);
		w.pidfd = -1;
		kvm_worker_release(&w);
	} else {
		k->pooled = pooled;
		/* Should it die before its first word, it starts again cold,
		 * from the same snapshot (kvm-runtime.c). */
		if (pooled && snapshot && !(k->snapshot = strdup(snapshot)))
			r = -ENOMEM;
		if (r >= 0 && reuse_fd >= 0)
			r = kvm_runtime_set_reuse(k, &reuse_fd, cfg.workload, cfg.reuse_key);
		if (r >= 0)
			r = kvm_runtime_attach(k);
		if (r < 0) {
			(void)sv_kill(k->proc, NULL);
			kvm_runtime_free(k);
		}
	}
	if (r < 0) {
		(void)set_cause(ret_cause, 0, "cannot supervise the worker: %s", strerror(-r));
		return r;
	}
	vm->pid = w.pid;
	vm->pid_starttime = w.start_time;
	vm->has_exit_code = false;
	(void)kvm_runtime_arm_timeout(k, wl.timeout_ms * 1000u);
	/* Stdin that cannot even be queued (no control connection, no
	 * room): the worker is broken, killed; its end comes as any
	 * worker's does, through its pidfd. */
	if (vm->run && kvm_runtime_send_input(k) < 0)
		(void)sv_kill(k->proc, "mvmd: the run's stdin could not be sent");
	/* The pid: a restarted mvmd finds it through HELLO if need be. */
	(void)manager_save_lazy(m, vm);
	return 0;
}

/* Before Starting is written: the worker of this run truncates the last
 * run's result only once it is spawned, and a mvmd killed in between
 * must not take that result for this run's end (docs/state.md). */
static int kvm_forget_run(manager_t *m, vm_t *vm)
{
	if (vm->ephemeral)
		return 0; /* a run has no result file */
	_cleanup_free_ char *result = manager_vm_path(m, vm, "result");

	if (!result)
		return -ENOMEM;
	return unlink(result) < 0 && errno != ENOENT ? negative_errno() : 0;
}

int kvm_start_worker(manager_t *m, vm_t *vm, bool allow_pool, char **ret_cause)
{
	return start_worker(m, vm, allow_pool, spec_snapshot(vm), ret_cause);
}

int kvm_start_worker_from(manager_t *m, vm_t *vm, const char *snapshot_ref, bool allow_pool, char **ret_cause)
{
	return start_worker(m, vm, allow_pool, snapshot_ref, ret_cause);
}

static int kvm_start(manager_t *m, vm_t *vm, char **ret_cause)
{
	return kvm_start_worker(m, vm, true, ret_cause);
}

static int kvm_stop(manager_t *m, vm_t *vm, bool force, uint64_t timeout_ms)
{
	kvm_runtime_t *k = vm->backend_data;

	if (!k)
		return -ESRCH;
	kvm_pause_abort(k, "the VM is being stopped");
	/* Now, or once fewer workers are in teardown (kvm-teardown.c). */
	return kvm_teardown_stop(k, force, timeout_ms);
}

static int kvm_kill(manager_t *m, vm_t *vm)
{
	kvm_runtime_t *k = vm->backend_data;

	if (!k)
		return 0;
	/* Killed, not waited for: the supervisor reaps it once it is gone. */
	kvm_teardown_kill(k);
	kvm_pause_abort(k, "the VM was killed");
	kvm_runtime_free(k);
	vm->pid = 0;
	return 0;
}

static void kvm_release(manager_t *m, vm_t *vm)
{
	kvm_runtime_free(vm->backend_data);
}

static int kvm_adopt(manager_t *m, vm_t *vm, char **ret_cause)
{
	_cleanup_free_ char *ctl = manager_vm_path(m, vm, "ctl.sock"), *result = manager_vm_path(m, vm, "result");
	kvm_ctl_t *early_ctl = NULL;
	kvm_msg_hello_t hello = { 0 };
	kvm_result_t res;
	kvm_runtime_t *k;
	int pidfd = -1, r;

	if (!ctl || !result)
		return -ENOMEM;
	/* mvmd may have died after spawning the worker but before recording
	 * its pid: the worker's HELLO on its control socket says who it is. */
	if (vm->pid <= 0 && kvm_worker_connect(ctl, &early_ctl) == 0) {
		kvm_msg_t msg;
		/* A console client waiting through the restart may come right
		 * behind the HELLO, in the same read: kept for on_ctl. */
		kvm_ctl_accept_fds(early_ctl, true);
		kvm_msg_hello_t h;
		uint64_t st;
		if (kvm_ctl_recv(early_ctl, 1000, &msg) == 1 && msg.type == KVM_MSG_HELLO &&
		    kvm_msg_get_hello(&msg, &h) == 0 && h.pid > 0 && sv_proc_start_time(h.pid, &st) == 0) {
			vm->pid = h.pid;
			vm->pid_starttime = st;
			hello = h;
		} else {
			early_ctl = kvm_ctl_free(early_ctl);
		}
	}
	r = sv_adopt(vm->pid, vm->pid_starttime, &pidfd);
	if (r < 0) {
		kvm_ctl_free(early_ctl);
		/* Gone while mvmd was down: the result file may say how. */
		if (kvm_result_read(result, &res) == 0) {
			kvm_apply_end(m, vm, &res, NULL);
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
	/* The control socket: a worker that cannot be reached still gets
	 * supervised through its pidfd, and can be killed. */
	kvm_worker_t w = { .pid = vm->pid, .pidfd = pidfd, .start_time = vm->pid_starttime, .ctl = early_ctl };
	if (!w.ctl)
		(void)kvm_worker_connect(ctl, &w.ctl);
	r = kvm_runtime_new(m, vm, &w, false, &k);
	if (r < 0) {
		kvm_worker_release(&w);
		*ret_cause = strdup("cannot supervise the re-adopted worker");
		return r;
	}
	k->adopted = true;
	r = kvm_runtime_attach(k);
	if (r < 0) {
		kvm_runtime_free(k);
		*ret_cause = strdup("cannot supervise the re-adopted worker");
		return r;
	}
	if (hello.state) {
		/* We consumed its HELLO above: act on it here, and record the pid. */
		kvm_runtime_on_hello(k, &hello);
		if (hello.state == KVM_VM_RUNNING && vm->state == VM_STATE_STARTING)
			(void)manager_transition(m, vm, VM_STATE_RUNNING, "guest running");
		kvm_pause_on_hello(k, hello.state);
		(void)manager_save(m, vm);
	}
	(void)kvm_runtime_arm_timeout(k, workload_timeout_left_usec(workload_timeout_ms(vm), vm->pid_starttime));
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
	kvm_runtime_ctl_update(k);
	return r;
}

static void kvm_done(manager_t *m, void *userdata);

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
	.pause = kvm_pause,
	.resume = kvm_resume,
	.snapshot = kvm_snapshot,
	.restore = kvm_restore,
	.done = kvm_done,
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

static void kvm_done(manager_t *m, void *userdata)
{
	kvm_backend_t *b = userdata;

	/* Idle warm workers read EOF and end; any still warming is killed.
	 * None is waited for: workers still tearing down, and these, are
	 * left to outlive mvmd (its exit is no turn of the loop either). */
	b->pool = kvm_pool_free(b->pool);
	b->sv = supervisor_free(b->sv);
	safe_close(b->kvm_fd);
	free(b->vmm_path);
	free(b->image_path);
	free(b->kvm_path);
	free(b);
}

int backend_kvm_register(manager_t *m, const backend_kvm_config_t *cfg)
{
	kvm_backend_t *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	b->kvm_fd = -1;
	b->op_timeout_ms = cfg->op_timeout_ms ? cfg->op_timeout_ms : KVM_OP_TIMEOUT_MS_DEFAULT;
	b->vmm_path = strdup(cfg->vmm_path);
	b->image_path = strdup(cfg->image_path);
	b->kvm_path = strdup(cfg->kvm_path ? cfg->kvm_path : "/dev/kvm");
	r = b->vmm_path && b->image_path && b->kvm_path ? supervisor_new(manager_event(m), &b->sv) : -ENOMEM;
	if (r < 0) {
		kvm_done(m, b);
		return r;
	}
	b->teardown_max = cfg->teardown_max;
	supervisor_on_teardown_done(b->sv, kvm_teardown_next, b);
	/* From here the manager owns b (kvm_ops.done). */
	manager_register_backend(m, VM_BACKEND_KVM, &kvm_ops, b);
	/* Warm workers only where a VM could start at all; primed from the
	 * blob store (the worker verifies what it reads). */
	_cleanup_free_ char *why = NULL;
	bool usable = kvm_usable(m, &why);
	if (usable)
		kvm_zygote_prestart(b->vmm_path);
	if (cfg->pool_size && usable) {
		kvm_pool_config_t pcfg = {
			.vmm_path = b->vmm_path, .image_path = b->image_path, .kvm_path = b->kvm_path,
			.kvm_fd = b->kvm_fd, .supervisor = b->sv,
			.size = cfg->pool_size, .memory_mib = cfg->pool_memory_mib,
			.warm_bytes = KVM_POOL_WARM_BYTES, .ready_timeout_ms = cfg->pool_ready_ms,
			.open_module = open_module, .on_pause = vmlog_pool_pause, .userdata = m,
		};
		r = kvm_pool_new(manager_event(m), &pcfg, &b->pool);
		if (r < 0)
			return r;
	}
	return 0;
}

bool backend_kvm_pool_stats(manager_t *m, kvm_pool_stats_t *ret)
{
	kvm_backend_t *b = manager_backend_userdata(m, VM_BACKEND_KVM);

	*ret = (kvm_pool_stats_t){ 0 };
	if (!b || !b->pool)
		return false;
	kvm_pool_stats(b->pool, ret);
	return true;
}
