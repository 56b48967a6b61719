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
 *         PUT vmm.shutdown; STOP_GRACE_MS later SIGKILL (pidfd).
 * Adopt:  pid + start time (as kvm), then reconnect the serial socket. A
 *         VM adopted while Starting may have died with mvmd before its
 *         create or boot: vm.info says which (no VM, "Created") and the
 *         missing step is sent.
 */
#include "backend-ch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blob-serve.h"
#include "ch/api.h"
#include "ch/cmdline.h"
#include "ch/http.h"
#include "ch/exit-report.h"
#include "ch/guest-process.h"
#include "ch/process.h"
#include "ch/spec-devices.h"
#include "ch/version.h"
#include "ch/vmconfig.h"
#include "console.h"
#include "kvm/worker.h"
#include "util/macro.h"
#include "util/pidfd.h"

#define TICK_USEC 20000u           /* readiness / serial polling period */
#define READY_TIMEOUT_USEC 30000000u /* spawn → vm.info "Running" */
#define STOP_GRACE_MS 2000u        /* vmm.shutdown → SIGKILL */
#define API_TIMEOUT_MS 2000u
#define SETUP_TIMEOUT_MS 10000u    /* vm.create, vm.boot: loading the kernel takes a while */
#define VERSION_TIMEOUT_MS 2000
#define SERIAL_BUF 65536

typedef struct ch_backend {
	char *binary;    /* as configured: a name looked up on PATH, or a path */
	char *initramfs; /* default initramfs */
	char *kvm_path;
	ch_http_t *http;
	ch_probe_t probe; /* the binary's --version, run once per change of the file */
} ch_backend_t;

typedef enum ch_phase {
	PHASE_PING,    /* waiting for the API to answer */
	PHASE_CREATE,  /* PUT vm.create with the VmConfig */
	PHASE_BOOT,    /* PUT vm.boot */
	PHASE_INFO,    /* waiting for vm.info "Running" */
	PHASE_RUNNING, /* up: only the serial socket may still need connecting */
	PHASE_STOPPING,
} ch_phase_t;

typedef struct ch_vm {
	manager_t *m;
	vm_t *vm;
	pid_t pid;
	int pidfd;
	bool is_child; /* spawned by this mvmd: its exit status is ours to reap */
	ch_phase_t phase;
	const char *killed; /* why mvmd killed it, NULL otherwise */
	const char *stop_cause;
	char *vmconfig;        /* the vm.create body, until it is accepted */
	char *start_error;     /* why a start failed (create/boot refused), killed for it */
	bool adopted;          /* re-adopted while Starting: create/boot may be missing */
	bool boot_tried;       /* an adopted VM found "Created" was sent vm.boot once */
	uint64_t ready_deadline; /* CLOCK_MONOTONIC usec */
	char *api, *serial, *vsock, *log;
	char *guest_initramfs; /* the VM's own initramfs, with its process (ch/guest-process.h) */
	int serial_fd;
	ch_http_req_t *req; /* at most one API request in flight */
	sd_event_source *pidfd_src, *serial_src, *tick, *stop_timer;
	console_t *console;
	blob_serve_t *blobs; /* the guest fetches Wasm modules: vsock.sock_1025 */
	ch_exit_report_t *exit_report; /* how the image's process ended: vsock.sock_1026 */
} ch_vm_t;

static ch_backend_t backend;

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
	sd_event_source_disable_unref(c->pidfd_src);
	sd_event_source_disable_unref(c->serial_src);
	sd_event_source_disable_unref(c->tick);
	sd_event_source_disable_unref(c->stop_timer);
	console_free(c->console);
	blob_serve_stop(c->blobs);
	ch_exit_report_stop(c->exit_report);
	safe_close(c->serial_fd);
	safe_close(c->pidfd);
	free(c->api);
	free(c->serial);
	free(c->vsock);
	free(c->log);
	free(c->guest_initramfs);
	free(c->vmconfig);
	free(c->start_error);
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
	c->vm = vm;
	c->pidfd = -1;
	c->serial_fd = -1;
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

/* --- the binary and its version --------------------------------------------- */

static int binary_check(char **ret_path, char **ret_reason)
{
	return ch_probe_binary(&backend.probe, backend.binary, VERSION_TIMEOUT_MS, ret_path, ret_reason);
}

/* --- how a VM ended ------------------------------------------------------ */

static void serial_drain(ch_vm_t *c, unsigned max_reads);

static void unlink_sockets(ch_vm_t *c)
{
	unlink(c->api);
	unlink(c->serial);
	unlink(c->vsock);
}

static int on_exit_(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	ch_vm_t *c = userdata;
	manager_t *m = c->m;
	vm_t *vm = c->vm;
	char how[160] = "", cause[768];
	bool clean = false, known = false, exited = false;
	vm_state_t to;

	serial_drain(c, UINT_MAX); /* the last words: the peer is gone, this ends */
	if (c->is_child) {
		siginfo_t si = { 0 };
		if (pidfd_reap(fd, WEXITED | WNOHANG, &si) == 0 && si.si_pid) {
			known = true;
			if (si.si_code == CLD_EXITED) {
				exited = true;
				clean = si.si_status == 0;
				snprintf(how, sizeof(how), "cloud-hypervisor exited with status %d", si.si_status);
			} else {
				snprintf(how, sizeof(how), "cloud-hypervisor killed by signal %d (%s)", si.si_status,
					 strsignal(si.si_status));
			}
		}
	}
	if (!known)
		snprintf(how, sizeof(how), "cloud-hypervisor ended (exit status unknown: re-adopted after a mvmd restart)");

	if (c->start_error && vm->state == VM_STATE_STARTING) {
		snprintf(cause, sizeof(cause), "%s", c->start_error);
		to = VM_STATE_START_FAILED;
	} else if (c->killed) {
		snprintf(cause, sizeof(cause), "killed by %s", c->killed);
		to = vm->state == VM_STATE_STARTING ? VM_STATE_START_FAILED : VM_STATE_STOPPED;
		if (vm->state == VM_STATE_STARTING)
			snprintf(cause, sizeof(cause), "cloud-hypervisor killed: %s", c->killed);
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
	ch_vm_free(c);
	if (manager_transition(m, vm, to, cause) == -EBUSY)
		(void)manager_save(m, vm);
	return 0;
}

/* --- serial console ------------------------------------------------------ */

static void serial_close(ch_vm_t *c)
{
	c->serial_src = sd_event_source_disable_unref(c->serial_src);
	c->serial_fd = safe_close(c->serial_fd);
}

static void serial_drain(ch_vm_t *c, unsigned max_reads)
{
	char buf[SERIAL_BUF];

	while (c->serial_fd >= 0 && max_reads--) {
		ssize_t n = read(c->serial_fd, buf, sizeof(buf));
		if (n > 0) {
			if (c->console)
				console_output(c->console, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || errno != EAGAIN)
			serial_close(c);
		break;
	}
}

static int on_serial(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	/* A chatty guest gets 1 MiB per turn; the loop serves the others. */
	serial_drain(userdata, 16);
	return 0;
}

static int console_to_guest(const void *buf, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;
	ssize_t n;

	if (c->serial_fd < 0)
		return -EPIPE;
	n = send(c->serial_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN ? -ENOBUFS : negative_errno();
	return (size_t)n == len ? 0 : -ENOBUFS;
}

/* Non-blocking connect to serial.sock: 0 connected, <0 not (yet). */
static int serial_connect(ch_vm_t *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	int r;

	if (strlen(c->serial) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, c->serial, strlen(c->serial) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return negative_errno();
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		return negative_errno();
	r = sd_event_add_io(manager_event(c->m), &c->serial_src, fd, EPOLLIN, on_serial, c);
	if (r < 0)
		return r;
	/* Output before exit notifications: the last words reach the log. */
	sd_event_source_set_priority(c->serial_src, -10);
	c->serial_fd = TAKE_FD(fd);
	return 0;
}

/* --- readiness ------------------------------------------------------------ */

static void tick_arm(ch_vm_t *c);

/* A readiness request that failed for want of fds or memory would fail
 * again on every tick until the start's deadline: the start fails now,
 * and says why (-32005 with data.errno, as a spawn that fails so). */
static bool start_starved(ch_vm_t *c, int error)
{
	if (error != -EMFILE && error != -ENFILE && error != -ENOMEM && error != -ENOBUFS)
		return false;
	if (c->vm->state != VM_STATE_STARTING || c->killed)
		return false;
	c->vm->start_errno = error;
	c->killed = error == -EMFILE || error == -ENFILE ? "cannot reach its API: mvmd is out of file descriptors"
							 : "cannot reach its API: out of memory";
	pidfd_kill(c->pidfd, SIGKILL);
	return true;
}

static void on_ping(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;
	_cleanup_free_ char *version = NULL;

	c->req = NULL;
	if (start_starved(c, error))
		return;
	if (error == 0 && ch_api_check_status(CH_API_PING, status) == 0 &&
	    ch_api_parse_ping(body, len, &version) == 0 && c->phase == PHASE_PING)
		c->phase = c->vmconfig && !c->adopted ? PHASE_CREATE : PHASE_INFO;
	tick_arm(c);
}

/* cloud-hypervisor refused the VM (or could not be asked): the start fails
 * with what it said, and the process goes (on_exit_ reports it). */
static void start_fail(ch_vm_t *c, ch_api_op_t op, int error, long status, const char *body, size_t len)
{
	char said[256];
	size_t n = 0;

	for (size_t i = 0; i < len && n < sizeof(said) - 1; i++)
		said[n++] = (unsigned char)body[i] < ' ' || body[i] == 0x7f ? ' ' : body[i];
	said[n] = '\0';
	free(c->start_error);
	c->start_error = NULL;
	if (error < 0 && asprintf(&c->start_error, "cloud-hypervisor's %s failed: %s", ch_api_op_to_string(op),
				  strerror(-error)) < 0)
		c->start_error = NULL;
	else if (error == 0 && asprintf(&c->start_error, "cloud-hypervisor refused %s (HTTP %ld)%s%s",
					ch_api_op_to_string(op), status, n ? ": " : "", said) < 0)
		c->start_error = NULL;
	if (!c->start_error)
		c->killed = "the VM could not be created";
	pidfd_kill(c->pidfd, SIGKILL);
}

static void on_create(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;

	c->req = NULL;
	if (start_starved(c, error))
		return;
	if (c->phase != PHASE_CREATE) {
		tick_arm(c);
		return;
	}
	if (error < 0 || ch_api_check_status(CH_API_VM_CREATE, status) < 0) {
		start_fail(c, CH_API_VM_CREATE, error, status, body, len);
		return;
	}
	free(c->vmconfig);
	c->vmconfig = NULL;
	c->phase = PHASE_BOOT;
	tick_arm(c);
}

static void on_boot(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;

	c->req = NULL;
	if (start_starved(c, error))
		return;
	if (c->phase != PHASE_BOOT) {
		tick_arm(c);
		return;
	}
	/* An adopted VM may have been booted by the mvmd that died: vm.info
	 * decides. */
	if (!c->adopted && (error < 0 || ch_api_check_status(CH_API_VM_BOOT, status) < 0)) {
		start_fail(c, CH_API_VM_BOOT, error, status, body, len);
		return;
	}
	c->phase = PHASE_INFO;
	tick_arm(c);
}

static void on_info(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;
	ch_vm_state_t s;

	c->req = NULL;
	if (start_starved(c, error))
		return;
	if (c->phase != PHASE_INFO) {
		tick_arm(c);
		return;
	}
	if (error == 0 && ch_api_check_status(CH_API_INFO, status) == 0 && ch_api_parse_info(body, len, &s) == 0) {
		if (s == CH_VM_RUNNING) {
			c->phase = PHASE_RUNNING;
			if (c->vm->state == VM_STATE_STARTING)
				(void)manager_transition(c->m, c->vm, VM_STATE_RUNNING, "guest running");
		} else if (s == CH_VM_CREATED && c->adopted && !c->boot_tried) {
			c->boot_tried = true;
			c->phase = PHASE_BOOT;
		}
	} else if (error == 0 && c->adopted && c->vmconfig) {
		/* No VM: the mvmd that spawned it died before its vm.create. */
		c->adopted = false;
		c->phase = PHASE_CREATE;
	}
	tick_arm(c);
}

static int api_send(ch_vm_t *c, ch_api_op_t op, ch_http_done_fn done)
{
	const ch_api_request_t *rq = ch_api_request(op);
	unsigned timeout = op == CH_API_VM_CREATE || op == CH_API_VM_BOOT ? SETUP_TIMEOUT_MS : API_TIMEOUT_MS;

	ch_http_cancel(c->req);
	c->req = NULL;
	return ch_http_request_body(backend.http, c->api, rq->method, rq->path, rq->takes_body ? c->vmconfig : NULL,
				    timeout, CH_API_BODY_MAX, done, c, &c->req);
}

static bool phase_starting(ch_phase_t p)
{
	return p == PHASE_PING || p == PHASE_CREATE || p == PHASE_BOOT || p == PHASE_INFO;
}

/* The request the start's phase waits on. */
static int api_send_phase(ch_vm_t *c)
{
	switch (c->phase) {
	case PHASE_PING:
		return api_send(c, CH_API_PING, on_ping);
	case PHASE_CREATE:
		return api_send(c, CH_API_VM_CREATE, on_create);
	case PHASE_BOOT:
		return api_send(c, CH_API_VM_BOOT, on_boot);
	default:
		return api_send(c, CH_API_INFO, on_info);
	}
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	ch_vm_t *c = userdata;

	if (c->serial_fd < 0)
		(void)serial_connect(c);
	if (phase_starting(c->phase) && now_usec(c->m) > c->ready_deadline) {
		c->killed = "the VM was not running 30 s after start";
		pidfd_kill(c->pidfd, SIGKILL);
		return 0;
	}
	if (!c->req && phase_starting(c->phase)) {
		int r = api_send_phase(c);
		if (r < 0 && !start_starved(c, r))
			tick_arm(c);
	} else
		tick_arm(c);
	return 0;
}

/* Poll again in TICK_USEC while something is still awaited. */
static void tick_arm(ch_vm_t *c)
{
	bool want = phase_starting(c->phase) ||
		    (c->serial_fd < 0 && c->phase != PHASE_STOPPING);

	if (!c->tick)
		return;
	if (!want || c->req) {
		sd_event_source_set_enabled(c->tick, SD_EVENT_OFF);
		return;
	}
	sd_event_source_set_time_relative(c->tick, TICK_USEC);
	sd_event_source_set_enabled(c->tick, SD_EVENT_ONESHOT);
}

/* mvm-init says how the image's process ended: the VM's exit_code. */
static void on_exit_report(int code, void *userdata)
{
	ch_vm_t *c = userdata;

	c->vm->exit_code = (uint32_t)code;
	c->vm->has_exit_code = true;
	(void)manager_save(c->m, c->vm);
}

/* Event sources and console for a process we hold a pidfd for. */
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
		.on_input = console_to_guest,
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
	r = sd_event_add_io(e, &c->pidfd_src, c->pidfd, EPOLLIN, on_exit_, c);
	if (r < 0)
		return r;
	r = sd_event_add_time_relative(e, &c->tick, CLOCK_MONOTONIC, 0, 1000, on_tick, c);
	if (r < 0)
		return r;
	sd_event_source_set_enabled(c->tick, SD_EVENT_ONESHOT);
	c->ready_deadline = now_usec(c->m) + READY_TIMEOUT_USEC;
	c->vm->backend_data = c;
	return 0;
}

/* --- backend ops ------------------------------------------------------- */

static bool ch_usable(manager_t *m, char **ret_reason)
{
	int fd = open(backend.kvm_path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		if (asprintf(ret_reason, "%s: %s", backend.kvm_path, strerror(errno)) < 0)
			*ret_reason = NULL;
		return false;
	}
	close(fd);
	return binary_check(NULL, ret_reason) == 0;
}

static void ch_describe(manager_t *m, json_object *info)
{
	_cleanup_free_ char *path = NULL, *reason = NULL;

	json_object_object_add(info, "min_version", json_object_new_string(CH_VERSION_MIN_TEXT));
	json_object_object_add(info, "default_initramfs", json_object_new_string(backend.initramfs));
	/* Which guest kernel its modules (vsock, virtio, button) are for. */
	_cleanup_free_ char *kernel = NULL;
	(void)ch_initramfs_kernel(backend.initramfs, &kernel);
	json_object_object_add(info, "initramfs_kernel", kernel ? json_object_new_string(kernel) : NULL);
	(void)binary_check(NULL, &reason); /* refreshes the cache */
	if (backend.probe.path && backend.probe.error == 0 && ch_binary_find(backend.binary, &path) == 0 &&
	    strcmp(path, backend.probe.path) == 0) {
		char v[48];
		snprintf(v, sizeof(v), "%u.%u.%u", backend.probe.version.major, backend.probe.version.minor, backend.probe.version.patch);
		json_object_object_add(info, "binary", json_object_new_string(backend.probe.path));
		json_object_object_add(info, "version", json_object_new_string(v));
		json_object_object_add(info, "version_output", json_object_new_string(backend.probe.text));
	}
}

static int file_check(const char *what, const char *path, char **ret_cause)
{
	struct stat st;

	errno = 0;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, R_OK) < 0) {
		if (asprintf(ret_cause, "%s not usable: %s: %s", what, path, errno ? strerror(errno) : "not a regular file") < 0)
			*ret_cause = NULL;
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
	json_object *st;
	int r;

	if (!kernel) {
		*ret_cause = strdup("no kernel: the ch backend needs \"kernel\"");
		return -EINVAL;
	}
	/* The spec records the defaults used, so a later start means the same. */
	if (!initramfs) {
		json_object_object_add(vm->spec, "initramfs", json_object_new_string(backend.initramfs));
		initramfs = backend.initramfs;
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
static void record_runtime(ch_vm_t *c, const char *binary)
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
	json_object_object_add(st, "version", json_object_new_string(backend.probe.text));
	json_object_put(c->vm->backend_state);
	c->vm->backend_state = st;
}

typedef struct ch_spawn_record {
	ch_vm_t *c;
	const char *binary;
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
	(void)kvm_worker_proc_start_time(pid, &vm->pid_starttime);
	vm->has_exit_code = false;
	record_runtime(rec->c, rec->binary);
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

static int ch_start(manager_t *m, vm_t *vm, char **ret_cause)
{
	_cleanup_free_ char *binary = NULL, *reason = NULL, **argv = NULL;
	_cleanup_close_ int log_fd = -1;
	ch_vm_t *c;
	int r;

	r = binary_check(&binary, &reason);
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
		if (asprintf(ret_cause, "cannot build the cloud-hypervisor command line: %s", strerror(-r)) < 0)
			*ret_cause = NULL;
		goto fail;
	}
	r = guest_initramfs_prepare(c);
	if (r < 0) {
		if (asprintf(ret_cause, "cannot write the VM's initramfs with its process: %s", strerror(-r)) < 0)
			*ret_cause = NULL;
		goto fail;
	}
	r = ch_vmconfig_build(&l, &c->vmconfig);
	if (r < 0) {
		if (asprintf(ret_cause, "cannot build the VM's configuration for cloud-hypervisor: %s", strerror(-r)) < 0)
			*ret_cause = NULL;
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
	ch_spawn_record_t rec = { .c = c, .binary = binary };
	r = ch_process_spawn(argv, log_fd, record_spawned, &rec, &c->pid, &c->pidfd);
	if (r < 0) {
		vm->pid = 0;
		vm->pid_starttime = 0;
		if (asprintf(ret_cause, "cannot start %s: %s", binary, strerror(-r)) < 0)
			*ret_cause = NULL;
		goto fail;
	}
	c->is_child = true;
	r = ch_vm_attach(c);
	if (r < 0) {
		pidfd_kill(c->pidfd, SIGKILL);
		waitpid(c->pid, NULL, 0);
		vm->pid = 0;
		if (asprintf(ret_cause, "cannot supervise cloud-hypervisor: %s", strerror(-r)) < 0)
			*ret_cause = NULL;
		goto fail;
	}
	return 0;
fail:
	ch_vm_free(c);
	return r;
}

/* --- stop --------------------------------------------------------------- */

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	ch_vm_t *c = userdata;

	c->killed = "stop timeout";
	pidfd_kill(c->pidfd, SIGKILL);
	return 0;
}

static void arm_stop_timer(ch_vm_t *c, uint64_t ms, sd_event_time_handler_t fn)
{
	c->stop_timer = sd_event_source_disable_unref(c->stop_timer);
	if (sd_event_add_time_relative(manager_event(c->m), &c->stop_timer, CLOCK_MONOTONIC, ms * 1000u, 1000, fn, c) < 0) {
		/* Without a timer nothing would end it: end it now. */
		c->killed = "stop timeout";
		pidfd_kill(c->pidfd, SIGKILL);
	}
}

static void on_vmm_shutdown(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;

	c->req = NULL;
}

static void on_vm_shutdown(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;

	c->req = NULL;
	/* The VM is down (or the API is gone): the VMM process goes next. */
	if (api_send(c, CH_API_VMM_SHUTDOWN, on_vmm_shutdown) < 0) {
		c->killed = "stop timeout";
		pidfd_kill(c->pidfd, SIGKILL);
	}
}

/* The guest did not power off in time (or cannot be asked): shut it down. */
static void escalate(ch_vm_t *c, const char *cause)
{
	c->stop_cause = cause;
	arm_stop_timer(c, STOP_GRACE_MS, on_kill_timer);
	if (api_send(c, CH_API_VM_SHUTDOWN, on_vm_shutdown) < 0) {
		c->killed = "stop timeout";
		pidfd_kill(c->pidfd, SIGKILL);
	}
}

static int on_stop_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	escalate(userdata, "stopped by vm.shutdown (the guest ignored the power button)");
	return 0;
}

static void on_power_button(int error, long status, const char *body, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;

	c->req = NULL;
	/* No API yet (a stop right after the spawn): no guest to ask either. */
	if (error == -ECONNREFUSED) {
		c->killed = "stop (cloud-hypervisor's API was not up yet)";
		pidfd_kill(c->pidfd, SIGKILL);
		return;
	}
	if (error < 0 || ch_api_check_status(CH_API_POWER_BUTTON, status) < 0) {
		c->stop_timer = sd_event_source_disable_unref(c->stop_timer);
		escalate(c, "stopped by vm.shutdown (the power button request failed)");
	}
}

static int ch_stop(manager_t *m, vm_t *vm, bool force, uint64_t timeout_ms)
{
	ch_vm_t *c = vm->backend_data;

	if (!c)
		return -ESRCH;
	if (force || timeout_ms == 0) {
		c->killed = "forced stop";
		return pidfd_kill(c->pidfd, SIGKILL) < 0 ? negative_errno() : 0;
	}
	c->phase = PHASE_STOPPING;
	c->stop_cause = "stopped (power button)";
	if (c->tick)
		sd_event_source_set_enabled(c->tick, SD_EVENT_OFF);
	if (api_send(c, CH_API_POWER_BUTTON, on_power_button) < 0) {
		escalate(c, "stopped by vm.shutdown (the power button request failed)");
		return 0;
	}
	arm_stop_timer(c, timeout_ms, on_stop_timer);
	return 0;
}

static int ch_kill(manager_t *m, vm_t *vm)
{
	ch_vm_t *c = vm->backend_data;

	if (!c)
		return 0;
	pidfd_kill(c->pidfd, SIGKILL);
	if (c->is_child)
		(void)pidfd_reap(c->pidfd, WEXITED, NULL);
	unlink_sockets(c);
	ch_vm_free(c);
	vm->pid = 0;
	return 0;
}

static void ch_release(manager_t *m, vm_t *vm)
{
	ch_vm_free(vm->backend_data);
}

static int ch_adopt(manager_t *m, vm_t *vm, char **ret_cause)
{
	ch_vm_t *c;
	int pidfd, r;

	r = vm->pid > 0 ? kvm_worker_adopt(vm->pid, vm->pid_starttime, &pidfd) : -ESRCH;
	if (r >= 0) {
		/* Dead but not yet reaped by its new parent: gone all the same. */
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		if (poll(&p, 1, 0) == 1) {
			close(pidfd);
			r = -ESRCH;
		}
	}
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
	c->pid = vm->pid;
	c->pidfd = pidfd;
	c->phase = vm->state == VM_STATE_STARTING ? PHASE_PING : PHASE_RUNNING;
	if (vm->state == VM_STATE_STARTING) {
		/* The old mvmd may have died before its vm.create: keep the body
		 * at hand (on_info sends it when there is no VM). */
		ch_launch_t l = launch_of(c, "cloud-hypervisor");
		c->adopted = true;
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
		escalate(c, "stopped by vm.shutdown (a stop was in progress when mvmd restarted)");
	}
	return 0;
}

static int ch_grant_blob(manager_t *m, vm_t *vm, const char *hex)
{
	ch_vm_t *c = vm->backend_data;

	return c && c->blobs ? blob_serve_grant(c->blobs, hex) : -ESRCH;
}

/* Disks and taps are checked before the VM exists: a bad one is -32602
 * and leaves nothing behind. */
static int ch_validate(manager_t *m, const vm_t *vm, char **ret_detail)
{
	int r = ch_spec_devices_validate(vm, ret_detail);

	return r < 0 ? r : ch_guest_process_validate(vm, ret_detail);
}

static const backend_ops_t ch_ops = {
	.usable = ch_usable,
	.validate = ch_validate,
	.provision = ch_provision,
	.start = ch_start,
	.stop = ch_stop,
	.adopt = ch_adopt,
	.kill = ch_kill,
	.release = ch_release,
	.describe = ch_describe,
	.grant_blob = ch_grant_blob,
};

int backend_ch_register(manager_t *m, const backend_ch_config_t *cfg)
{
	int r;

	backend_ch_unregister();
	backend.binary = strdup(cfg->binary ? cfg->binary : "cloud-hypervisor");
	backend.initramfs = strdup(cfg->initramfs);
	backend.kvm_path = strdup(cfg->kvm_path ? cfg->kvm_path : "/dev/kvm");
	if (!backend.binary || !backend.initramfs || !backend.kvm_path)
		return -ENOMEM;
	/* A manager without an event loop (unit tests) gets no API client:
	 * starting a VM then fails cleanly. */
	if (manager_event(m)) {
		r = ch_http_new(manager_event(m), &backend.http);
		if (r < 0)
			return r;
	}
	manager_register_backend(m, VM_BACKEND_CH, &ch_ops, &backend);
	return 0;
}

void backend_ch_unregister(void)
{
	backend.http = ch_http_free(backend.http);
	free(backend.binary);
	free(backend.initramfs);
	free(backend.kvm_path);
	free(backend.probe.path);
	backend = (ch_backend_t){ 0 };
}
