/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ch backend as mvmd runs it: one cloud-hypervisor process per VM,
 * started detached in its own session (it outlives mvmd restarts),
 * supervised through its pidfd, driven through its REST API on
 * STATE_DIR/vms/<id>/ch-api.sock (daemon/mvmd/ch/http.h, never blocking the loop),
 * its serial port (serial.sock) relayed by daemon/mvmd/console.c exactly as for
 * micro-VMs, and its hybrid vsock socket (vsock.sock) recorded for exec.
 *
 * Start:  spawn `cloud-hypervisor --api-socket path=...` (nothing a tenant
 *         gave is on its command line or in its environment: both are
 *         world-readable in /proc) → GET vmm.ping until the API answers →
 *         PUT vm.create with the VmConfig (ch/vmconfig.h) → PUT vm.boot →
 *         GET vm.info until "Running" → Running. A refused create or boot
 *         kills the process: StartFailed, with what cloud-hypervisor said.
 *         The serial socket is connected as soon as it exists, so the boot
 *         output is in the console log.
 * Stop:   PUT vm.power-button; at timeout_ms PUT vm.shutdown then
 *         PUT vmm.shutdown; STOP_GRACE_MS later SIGKILL (ch/stop.c).
 * Adopt:  pid + start time (daemon/mvmd/supervise.h, as kvm), then
 *         reconnect the serial socket. A VM adopted while Starting may
 *         have died with mvmd before its create or boot: vm.info says
 *         which (no VM, "Created") and the missing step is sent.
 * Restore: as Start, with PUT vm.restore {"source_url": "file://<the VM's
 *         snapshots/<n>>"} and PUT vm.resume for vm.create and vm.boot;
 *         runtime.backend.restored_from records it for a re-adoption.
 *
 * This file holds the backend's operations and how a VM ended; the start's
 * API steps are in ch/boot.c, the serial port in ch/serial.c, the stop in
 * ch/stop.c, their shared state in ch/ch-vm.h.
 */
#include "backend-ch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ch/ch-vm.h"
#include "ch/cmdline.h"
#include "ch/exit-report.h"
#include "ch/guest-process.h"
#include "ch/spec-devices.h"
#include "ch/version.h"
#include "ch/vmconfig.h"
#include "util/cause.h"
#include "util/macro.h"

static ch_backend_t *backend_of(manager_t *m)
{
	return manager_backend_userdata(m, VM_BACKEND_CH);
}

static uint64_t now_usec(manager_t *m)
{
	uint64_t t = 0;

	sd_event_now(manager_event(m), CLOCK_MONOTONIC, &t);
	return t;
}

static const char *spec_string(const vm_t *vm, const char *key)
{
	json_object *v;

	if (vm->spec && json_object_object_get_ex(vm->spec, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static void ch_vm_free(ch_vm_t *c)
{
	if (!c)
		return;
	ch_http_cancel(c->req);
	c->proc = sv_release(c->proc);
	sd_event_source_disable_unref(c->serial_src);
	sd_event_source_disable_unref(c->tick);
	sd_event_source_disable_unref(c->stop_timer);
	console_free(c->console);
	blob_serve_stop(c->blobs);
	ch_exit_report_stop(c->exit_report);
	safe_close(c->serial_fd);
	free(c->api);
	free(c->serial);
	free(c->vsock);
	free(c->log);
	free(c->guest_initramfs);
	free(c->vmconfig);
	free(c->start_error);
	free(c->op_body);
	json_object_put(c->op_device);
	free(c->op_cause);
	if (c->vm && c->vm->backend_data == c)
		c->vm->backend_data = NULL;
	free(c);
}

static ch_vm_t *ch_vm_new(manager_t *m, vm_t *vm)
{
	ch_vm_t *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->m = m;
	c->b = backend_of(m);
	c->vm = vm;
	c->serial_fd = -1;
	c->op = _CH_API_OP_MAX;
	c->api = manager_vm_path(m, vm, "ch-api.sock");
	c->serial = manager_vm_path(m, vm, "serial.sock");
	c->vsock = manager_vm_path(m, vm, "vsock.sock");
	c->log = manager_vm_path(m, vm, "ch.log");
	c->guest_initramfs = manager_vm_path(m, vm, CH_GUEST_INITRAMFS);
	if (!c->api || !c->serial || !c->vsock || !c->log || !c->guest_initramfs) {
		ch_vm_free(c);
		return NULL;
	}
	return c;
}

/* --- how a VM ended ------------------------------------------------------ */

static void unlink_sockets(ch_vm_t *c)
{
	unlink(c->api);
	unlink(c->serial);
	unlink(c->vsock);
}

static void on_exit_(sv_proc_t *p, const sv_exit_t *x, void *userdata)
{
	ch_vm_t *c = userdata;
	manager_t *m = c->m;
	vm_t *vm = c->vm;
	char how[160] = "", cause[768];
	bool exited = x->known && x->exited, clean = exited && x->status == 0;
	vm_state_t to;

	ch_serial_drain(c, UINT_MAX); /* the last words: the peer is gone, this ends */
	if (!sv_exit_text(x, "cloud-hypervisor", how, sizeof(how)))
		snprintf(how, sizeof(how), "cloud-hypervisor ended (exit status unknown: re-adopted after a mvmd restart)");

	if (c->start_error && vm->state == VM_STATE_STARTING) {
		snprintf(cause, sizeof(cause), "%s", c->start_error);
		to = VM_STATE_START_FAILED;
	} else if (x->killed) {
		snprintf(cause, sizeof(cause), "killed by %s", x->killed);
		to = vm->state == VM_STATE_STARTING ? VM_STATE_START_FAILED : VM_STATE_STOPPED;
		if (vm->state == VM_STATE_STARTING)
			snprintf(cause, sizeof(cause), "cloud-hypervisor killed: %s", x->killed);
	} else if (vm->state == VM_STATE_STOPPING) {
		snprintf(cause, sizeof(cause), "%s", c->stop_cause ? c->stop_cause : "stopped");
		to = VM_STATE_STOPPED;
	} else if (clean) {
		/* cloud-hypervisor exits 0 when the guest powers off. */
		snprintf(cause, sizeof(cause), "guest powered off");
		to = VM_STATE_STOPPED;
		if (vm->state == VM_STATE_STARTING)
			(void)manager_transition(m, vm, VM_STATE_RUNNING, "guest running");
	} else {
		/* What cloud-hypervisor said last explains an error exit; a
		 * signal comes from outside and its log says nothing about it. */
		_cleanup_free_ char *last = exited ? ch_log_last_line(c->log) : NULL;
		snprintf(cause, sizeof(cause), "%s%s%s", how, last ? ": " : "", last ? last : "");
		to = vm->state == VM_STATE_STARTING ? VM_STATE_START_FAILED : VM_STATE_FAILED;
	}
	vm->pid = 0;
	vm->pid_starttime = 0;
	unlink_sockets(c);
	ch_op_abort(c, "cloud-hypervisor ended");
	ch_vm_free(c);
	if (manager_transition(m, vm, to, cause) == -EBUSY)
		(void)manager_save(m, vm);
}

/* mvm-init says how the image's process ended: the VM's exit_code. */
static void on_exit_report(int code, void *userdata)
{
	ch_vm_t *c = userdata;

	c->vm->exit_code = (uint32_t)code;
	c->vm->has_exit_code = true;
	(void)manager_save(c->m, c->vm);
}

/* Event sources and console for a process we watch (c->proc). */
static int ch_vm_attach(ch_vm_t *c)
{
	sd_event *e = manager_event(c->m);
	_cleanup_free_ char *sock = manager_vm_console_path(c->m, c->vm),
			   *log = manager_vm_path(c->m, c->vm, "console.log");
	int r;

	if (!sock || !log)
		return -ENOMEM;
	console_config_t ccfg = {
		.socket_path = sock,
		.socket_group = manager_config(c->m)->socket_group,
		.socket_gid = manager_config(c->m)->socket_gid,
		.log_path = log,
		.on_input = ch_serial_write,
		.userdata = c,
	};
	r = console_new(e, &ccfg, &c->console);
	if (r < 0)
		return r;
	/* Grants do not survive a re-adoption: each exec grants again. */
	r = blob_serve_start(e, manager_blobs(c->m), c->vsock, NULL, &c->blobs);
	if (r < 0)
		return r;
	_cleanup_free_ char *exit_path = NULL;
	if (asprintf(&exit_path, "%s_%d", c->vsock, CH_EXIT_REPORT_PORT) < 0)
		return -ENOMEM;
	r = ch_exit_report_start(e, exit_path, on_exit_report, c, &c->exit_report);
	if (r < 0)
		return r;
	r = sd_event_add_time_relative(e, &c->tick, CLOCK_MONOTONIC, 0, 1000, ch_boot_on_tick, c);
	if (r < 0)
		return r;
	sd_event_source_set_enabled(c->tick, SD_EVENT_ONESHOT);
	c->ready_deadline = now_usec(c->m) + READY_TIMEOUT_USEC;
	c->vm->backend_data = c;
	return 0;
}

/* --- backend ops ------------------------------------------------------- */

/* /dev/kvm is opened once it can be, and kept: a start does not open it
 * again just to see that it could (cloud-hypervisor opens its own). */
static bool ch_usable(manager_t *m, char **ret_cause)
{
	ch_backend_t *b = backend_of(m);

	if (b->kvm_fd < 0) {
		b->kvm_fd = open(b->kvm_path, O_RDWR | O_CLOEXEC);
		if (b->kvm_fd < 0) {
			(void)set_cause(ret_cause, 0, "%s: %s", b->kvm_path, strerror(errno));
			return false;
		}
	}
	return ch_binary_check(b, NULL, ret_cause) == 0;
}

static void ch_describe(manager_t *m, json_object *info)
{
	_cleanup_free_ char *path = NULL, *reason = NULL;
	ch_backend_t *b = backend_of(m);

	json_object_object_add(info, "min_version", json_object_new_string(CH_VERSION_MIN_TEXT));
	json_object_object_add(info, "default_initramfs", json_object_new_string(b->initramfs));
	/* Which guest kernel its modules (vsock, virtio, button) are for. */
	const char *kernel = NULL;
	(void)ch_initramfs_kernel(&b->initramfs_kernel, &kernel);
	json_object_object_add(info, "initramfs_kernel", kernel ? json_object_new_string(kernel) : NULL);
	(void)ch_binary_check(b, NULL, &reason); /* refreshes the cache */
	if (b->probe.path && b->probe.error == 0 && ch_binary_find(b->binary, &path) == 0 &&
	    strcmp(path, b->probe.path) == 0) {
		char v[48];
		snprintf(v, sizeof(v), "%u.%u.%u", b->probe.version.major, b->probe.version.minor, b->probe.version.patch);
		json_object_object_add(info, "binary", json_object_new_string(b->probe.path));
		json_object_object_add(info, "version", json_object_new_string(v));
		json_object_object_add(info, "version_output", json_object_new_string(b->probe.text));
	}
}

static int file_check(const char *what, const char *path, char **ret_cause)
{
	struct stat st;

	errno = 0;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, R_OK) < 0) {
		(void)set_cause(ret_cause, 0, "%s not usable: %s: %s", what, path, errno ? strerror(errno) : "not a regular file");
		return -ENOENT;
	}
	return 0;
}

/* The lowest CID >= 3 no other ch VM of this node holds (docs/linux-guests.md). */
static uint32_t cid_allocate(manager_t *m, const vm_t *self)
{
	size_t n;
	vm_t *const *vms = manager_vms(m, &n);

	for (uint32_t cid = 3;; cid++) {
		bool taken = false;
		for (size_t i = 0; i < n && !taken; i++) {
			json_object *v;
			if (vms[i] == self || vms[i]->backend != VM_BACKEND_CH || !vms[i]->backend_state)
				continue;
			taken = json_object_object_get_ex(vms[i]->backend_state, "cid", &v) &&
				(uint32_t)json_object_get_int64(v) == cid;
		}
		if (!taken)
			return cid;
	}
}

static int ch_provision(manager_t *m, vm_t *vm, char **ret_cause)
{
	const char *kernel = spec_string(vm, "kernel"), *initramfs = spec_string(vm, "initramfs");
	ch_backend_t *b = backend_of(m);
	json_object *st;
	int r;

	if (!kernel) {
		*ret_cause = strdup("no kernel: the ch backend needs \"kernel\"");
		return -EINVAL;
	}
	/* The spec records the defaults used, so a later start means the same. */
	if (!initramfs) {
		json_object_object_add(vm->spec, "initramfs", json_object_new_string(b->initramfs));
		initramfs = b->initramfs;
	}
	if (!spec_string(vm, "cmdline"))
		json_object_object_add(vm->spec, "cmdline", json_object_new_string(BACKEND_CH_DEFAULT_CMDLINE));
	r = ch_spec_devices_fill(vm);
	if (r < 0)
		return r;
	r = file_check("kernel", kernel, ret_cause);
	if (r >= 0)
		r = file_check("initramfs", initramfs, ret_cause);
	if (r < 0)
		return r;
	st = json_object_new_object();
	if (!st)
		return -ENOMEM;
	json_object_object_add(st, "cid", json_object_new_int64(cid_allocate(m, vm)));
	json_object_put(vm->backend_state);
	vm->backend_state = st;
	return 0;
}

static uint32_t vm_cid(const vm_t *vm)
{
	json_object *v;

	if (vm->backend_state && json_object_object_get_ex(vm->backend_state, "cid", &v) &&
	    json_object_get_int64(v) >= 3 && json_object_get_int64(v) <= UINT32_MAX)
		return (uint32_t)json_object_get_int64(v);
	return 3;
}

/* runtime.backend: what exec and an operator need to find the VM's sockets. */
static void record_runtime(ch_vm_t *c, const char *binary, const char *restore_dir)
{
	json_object *st = json_object_new_object();

	if (!st)
		return;
	json_object_object_add(st, "cid", json_object_new_int64(vm_cid(c->vm)));
	json_object_object_add(st, "api_socket", json_object_new_string(c->api));
	json_object_object_add(st, "serial_socket", json_object_new_string(c->serial));
	json_object_object_add(st, "vsock_socket", json_object_new_string(c->vsock));
	json_object_object_add(st, "log", json_object_new_string(c->log));
	json_object_object_add(st, "binary", json_object_new_string(binary));
	json_object_object_add(st, "version", json_object_new_string(c->b->probe.text));
	/* A restarted mvmd finishes a restore, not a boot (ch_adopt). */
	if (restore_dir)
		json_object_object_add(st, "restored_from", json_object_new_string(restore_dir));
	json_object_put(c->vm->backend_state);
	c->vm->backend_state = st;
}

typedef struct ch_spawn_record {
	ch_vm_t *c;
	const char *binary;
	const char *restore_dir;
} ch_spawn_record_t;

/*
 * Called between cloud-hypervisor's fork and its exec: its pid (and start
 * time) go to the VM's state file first. A restarted mvmd then finds every
 * cloud-hypervisor that ever ran; one killed before this write leaves a
 * child that never execs (ch_process_spawn's gate), not an orphan that no
 * record names, and one that cannot write it refuses the start.
 */
static int record_spawned(pid_t pid, void *userdata)
{
	ch_spawn_record_t *rec = userdata;
	vm_t *vm = rec->c->vm;
	int r;

	vm->pid = pid;
	(void)sv_proc_start_time(pid, &vm->pid_starttime);
	vm->has_exit_code = false;
	record_runtime(rec->c, rec->binary, rec->restore_dir);
	r = manager_save(rec->c->m, vm);
	if (r < 0) {
		vm->pid = 0;
		vm->pid_starttime = 0;
	}
	return r;
}

/* What cloud-hypervisor is told about the VM, from its spec and paths. */
static ch_launch_t launch_of(const ch_vm_t *c, const char *binary)
{
	ch_launch_t l = {
		.binary = binary,
		.api_socket = c->api,
		.kernel = spec_string(c->vm, "kernel"),
		.initramfs = ch_guest_process_wanted(c->vm) ? c->guest_initramfs : spec_string(c->vm, "initramfs"),
		.cmdline = spec_string(c->vm, "cmdline"),
		.vcpus = c->vm->vcpus,
		.memory_mib = c->vm->memory_mib,
		.serial_socket = c->serial,
		.vsock_socket = c->vsock,
		.cid = vm_cid(c->vm),
	};

	ch_spec_devices_launch(c->vm, &l);
	return l;
}

/* The spec's initramfs plus the process's config, written at each start. */
static int guest_initramfs_prepare(ch_vm_t *c)
{
	_cleanup_free_ char *conf = NULL;
	size_t len = 0;
	int r;

	if (!ch_guest_process_wanted(c->vm))
		return 0;
	r = ch_guest_process_conf(c->vm, &conf, &len);
	if (r < 0)
		return r;
	return ch_guest_initramfs_write(spec_string(c->vm, "initramfs"), c->guest_initramfs, conf, len);
}

/* A start, or a restore from the snapshot in restore_dir: the same
 * process, supervision and records; ch/boot.c sends vm.restore and
 * vm.resume instead of vm.create and vm.boot. */
static int launch(manager_t *m, vm_t *vm, const char *restore_dir, char **ret_cause)
{
	_cleanup_free_ char *binary = NULL, *reason = NULL, **argv = NULL;
	_cleanup_close_ int log_fd = -1;
	ch_backend_t *b = backend_of(m);
	ch_vm_t *c;
	pid_t pid;
	int pidfd, r;

	r = ch_binary_check(b, &binary, &reason);
	if (r < 0) {
		*ret_cause = TAKE_PTR(reason);
		return r;
	}
	c = ch_vm_new(m, vm);
	if (!c)
		return -ENOMEM;
	ch_launch_t l = launch_of(c, binary);
	r = ch_cmdline_build(&l, &argv);
	if (r < 0) {
		(void)set_cause(ret_cause, 0, "cannot build the cloud-hypervisor command line: %s", strerror(-r));
		goto fail;
	}
	r = guest_initramfs_prepare(c);
	if (r < 0) {
		(void)set_cause(ret_cause, 0, "cannot write the VM's initramfs with its process: %s", strerror(-r));
		goto fail;
	}
	c->restoring = restore_dir != NULL;
	r = restore_dir ? ch_api_restore_body(restore_dir, &c->vmconfig) : ch_vmconfig_build(&l, &c->vmconfig);
	if (r < 0) {
		(void)set_cause(ret_cause, 0, "cannot build the VM's configuration for cloud-hypervisor: %s", strerror(-r));
		goto fail;
	}
	if (strlen(c->api) >= sizeof(((struct sockaddr_un *)0)->sun_path) ||
	    strlen(c->vsock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		*ret_cause = strdup("the VM's socket paths are too long for AF_UNIX (shorten --state-dir)");
		r = -ENAMETOOLONG;
		goto fail;
	}
	/* Leftovers of an earlier run would make cloud-hypervisor refuse to bind. */
	unlink_sockets(c);
	log_fd = open(c->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (log_fd < 0) {
		r = negative_errno();
		goto fail;
	}
	ch_spawn_record_t rec = { .c = c, .binary = binary, .restore_dir = restore_dir };
	r = ch_process_spawn(b->sv, argv, log_fd, record_spawned, &rec, &pid, &pidfd);
	if (r < 0) {
		vm->pid = 0;
		vm->pid_starttime = 0;
		(void)set_cause(ret_cause, 0, "cannot start %s: %s", binary, strerror(-r));
		goto fail;
	}
	r = sv_watch(b->sv, pid, pidfd, true, on_exit_, c, &c->proc);
	if (r < 0)
		/* A process nobody watches must not run on. */
		sv_abandon(b->sv, pidfd, true);
	else if ((r = ch_vm_attach(c)) < 0)
		(void)sv_kill(c->proc, NULL);
	if (r < 0) {
		vm->pid = 0;
		(void)set_cause(ret_cause, 0, "cannot supervise cloud-hypervisor: %s", strerror(-r));
		goto fail;
	}
	return 0;
fail:
	ch_vm_free(c);
	return r;
}

static int ch_start(manager_t *m, vm_t *vm, char **ret_cause)
{
	return launch(m, vm, NULL, ret_cause);
}

static int ch_restore(manager_t *m, vm_t *vm, const char *dir, char **ret_cause)
{
	return launch(m, vm, dir, ret_cause);
}

static int ch_kill(manager_t *m, vm_t *vm)
{
	ch_vm_t *c = vm->backend_data;

	if (!c)
		return 0;
	/* Killed, not waited for: the supervisor reaps it once it is gone. */
	(void)sv_kill(c->proc, NULL);
	unlink_sockets(c);
	ch_op_abort(c, "the VM was killed");
	ch_vm_free(c);
	vm->pid = 0;
	return 0;
}

/* mvmd is exiting (or the VM is gone): an operation in progress is
 * dropped unanswered, as the server that would answer it is gone. */
static void ch_release(manager_t *m, vm_t *vm)
{
	ch_vm_free(vm->backend_data);
}

static int ch_adopt(manager_t *m, vm_t *vm, char **ret_cause)
{
	ch_vm_t *c;
	int pidfd = -1, r;

	r = sv_adopt(vm->pid, vm->pid_starttime, &pidfd);
	if (r < 0 && vm->pid <= 0) {
		/* Its pid is written before anything runs: none, no process. */
		*ret_cause = strdup("start interrupted: mvmd stopped before cloud-hypervisor ran");
		return -ENOENT;
	}
	if (r < 0) {
		vm->pid = 0;
		*ret_cause = strdup("cloud-hypervisor ended while mvmd was down");
		return -ESRCH;
	}
	c = ch_vm_new(m, vm);
	if (!c) {
		close(pidfd);
		return -ENOMEM;
	}
	r = sv_watch(c->b->sv, vm->pid, pidfd, false, on_exit_, c, &c->proc);
	if (r < 0) {
		close(pidfd);
		ch_vm_free(c);
		*ret_cause = strdup("cannot supervise the re-adopted cloud-hypervisor");
		return r;
	}
	c->phase = vm->state == VM_STATE_STARTING ? PHASE_PING : PHASE_RUNNING;
	/* Paused stays Paused: cloud-hypervisor kept it so (vm.info says "Paused"). */
	c->paused = vm->state == VM_STATE_PAUSED;
	if (vm->state == VM_STATE_STARTING) {
		/* The old mvmd may have died before its vm.create (vm.restore):
		 * keep the body at hand (on_info sends it when there is no VM). */
		ch_launch_t l = launch_of(c, "cloud-hypervisor");
		json_object *v;
		c->adopted = true;
		c->restoring = vm->backend_state && json_object_object_get_ex(vm->backend_state, "restored_from", &v) &&
			       json_object_is_type(v, json_type_string);
		if (c->restoring)
			(void)ch_api_restore_body(json_object_get_string(v), &c->vmconfig);
		else
			(void)ch_vmconfig_build(&l, &c->vmconfig);
	}
	r = ch_vm_attach(c);
	if (r < 0) {
		ch_vm_free(c);
		*ret_cause = strdup("cannot supervise the re-adopted cloud-hypervisor");
		return r;
	}
	/* A stop in progress lost its timer with the old mvmd: finish it now. */
	if (vm->state == VM_STATE_STOPPING) {
		c->phase = PHASE_STOPPING;
		ch_stop_escalate(c, "stopped by vm.shutdown (a stop was in progress when mvmd restarted)");
	}
	return 0;
}

static int ch_grant_blob(manager_t *m, vm_t *vm, const char *hex)
{
	ch_vm_t *c = vm->backend_data;

	return c && c->blobs ? blob_serve_grant(c->blobs, hex) : -ESRCH;
}

static void ch_done(manager_t *m, void *userdata)
{
	ch_backend_t *b = userdata;

	ch_version_run_free(b);
	b->http = ch_http_free(b->http);
	b->sv = supervisor_free(b->sv);
	safe_close(b->kvm_fd);
	free(b->binary);
	free(b->initramfs);
	ch_kernel_cache_done(&b->initramfs_kernel);
	free(b->kvm_path);
	free(b->probe.path);
	free(b);
}

/* Disks and taps are checked before the VM exists: a bad one is -32602
 * and leaves nothing behind. */
static int ch_validate(manager_t *m, const vm_t *vm, char **ret_cause)
{
	int r = ch_spec_devices_validate(vm, ret_cause);

	return r < 0 ? r : ch_guest_process_validate(vm, ret_cause);
}

static const backend_ops_t ch_ops = {
	.usable = ch_usable,
	.validate = ch_validate,
	.provision = ch_provision,
	.start = ch_start,
	.restore = ch_restore,
	.stop = ch_stop_vm,
	.adopt = ch_adopt,
	.kill = ch_kill,
	.release = ch_release,
	.describe = ch_describe,
	.grant_blob = ch_grant_blob,
	.pause = ch_pause_vm,
	.resume = ch_resume_vm,
	.snapshot = ch_snapshot_vm,
	.add_device = ch_add_device,
	.remove_device = ch_remove_device,
	.done = ch_done,
};

int backend_ch_register(manager_t *m, const backend_ch_config_t *cfg)
{
	ch_backend_t *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	b->kvm_fd = -1;
	b->binary = strdup(cfg->binary ? cfg->binary : "cloud-hypervisor");
	b->initramfs = strdup(cfg->initramfs);
	b->kvm_path = strdup(cfg->kvm_path ? cfg->kvm_path : "/dev/kvm");
	r = b->binary && b->initramfs && b->kvm_path ? ch_kernel_cache_init(&b->initramfs_kernel, b->initramfs) : -ENOMEM;
	if (r >= 0)
		r = supervisor_new(manager_event(m), &b->sv);
	/* A manager without an event loop (unit tests) gets no API client:
	 * starting a VM then fails cleanly. */
	if (r >= 0 && manager_event(m))
		r = ch_http_new(manager_event(m), &b->http);
	if (r < 0) {
		ch_done(m, b);
		return r;
	}
	/* The binary's --version, once now: the loop does not serve anyone
	 * yet, and the first compute.node.info already knows. Later runs
	 * (a changed file) go through the loop. */
	(void)ch_binary_check(b, NULL, NULL);
	b->event = manager_event(m);
	b->probe_in_loop = true;
	/* From here the manager owns b (ch_ops.done). */
	manager_register_backend(m, VM_BACKEND_CH, &ch_ops, b);
	return 0;
}
