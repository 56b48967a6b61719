/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ch backend's insides, shared by its files: daemon/mvmd/ch/backend-ch.c
 * (the backend's operations: start, adopt, kill, ...), ch/boot.c (from the
 * spawn to Running through the REST API), ch/serial.c (the serial port
 * relayed to the VM's console) and ch/stop.c (power button, shutdown,
 * kill). Nothing outside daemon/mvmd/ch/ includes this.
 */
#ifndef MVM_CH_VM_H
#define MVM_CH_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "blob-serve.h"
#include "ch/api.h"
#include "ch/exit-report.h"
#include "ch/guest-process.h"
#include "ch/http.h"
#include "ch/process.h"
#include "console.h"
#include "manager.h"
#include "supervise.h"

#define TICK_USEC 20000u           /* readiness / serial polling period */
#define READY_TIMEOUT_USEC 30000000u /* spawn → vm.info "Running" */
#define STOP_GRACE_MS 2000u        /* vmm.shutdown → SIGKILL */
#define API_TIMEOUT_MS 2000u
#define SETUP_TIMEOUT_MS 10000u    /* vm.create, vm.boot: loading the kernel takes a while */
#define VERSION_TIMEOUT_MS 2000
#define SERIAL_BUF 65536

/* The backend's state: the manager's userdata for VM_BACKEND_CH. */
typedef struct ch_backend {
	char *binary;    /* as configured: a name looked up on PATH, or a path */
	char *initramfs; /* default initramfs */
	ch_kernel_cache_t initramfs_kernel; /* its .kernel file (ch/guest-process.h) */
	char *kvm_path;
	int kvm_fd;      /* kvm_path, opened once it could be: the usable check keeps it */
	ch_http_t *http;
	ch_probe_t probe; /* the binary's --version, run once per change of the file */
	supervisor_t *sv; /* the cloud-hypervisor processes' pidfds and reaping */
	sd_event *event;  /* the manager's loop (borrowed), NULL in unit tests */
	bool probe_in_loop; /* registered: a --version runs from the loop (ch/probe.c) */
	struct ch_version_run *version_run; /* the one running, if any */
} ch_backend_t;

typedef enum ch_phase {
	PHASE_PING,    /* waiting for the API to answer */
	PHASE_CREATE,  /* PUT vm.create with the VmConfig */
	PHASE_BOOT,    /* PUT vm.boot */
	PHASE_RESTORE, /* a restore: PUT vm.restore with the RestoreConfig */
	PHASE_RESUME,  /* a restore: PUT vm.resume (restored VMs come back Paused) */
	PHASE_INFO,    /* waiting for vm.info "Running" */
	PHASE_RUNNING, /* up: only the serial socket may still need connecting */
	PHASE_STOPPING,
} ch_phase_t;

typedef struct ch_vm {
	manager_t *m;
	ch_backend_t *b;
	vm_t *vm;
	sv_proc_t *proc; /* cloud-hypervisor, watched (daemon/mvmd/supervise.h) */
	ch_phase_t phase;
	const char *stop_cause;
	char *vmconfig;        /* the vm.create (or vm.restore) body, until it is accepted */
	bool restoring;        /* this start is a restore (ch/boot.c): vm.restore + vm.resume */
	bool resume_tried;     /* an adopted restore found "Paused" was sent vm.resume once */
	char *start_error;     /* why a start failed (create/boot refused), killed for it */
	bool adopted;          /* re-adopted while Starting: create/boot may be missing */
	bool boot_tried;       /* an adopted VM found "Created" was sent vm.boot once */
	uint64_t ready_deadline; /* CLOCK_MONOTONIC usec */
	char *api, *serial, *vsock, *log;
	char *guest_initramfs; /* the VM's own initramfs, with its process (ch/guest-process.h) */
	int serial_fd;
	ch_http_req_t *req; /* at most one API request in flight */
	sd_event_source *serial_src, *tick, *stop_timer;
	console_t *console;
	blob_serve_t *blobs; /* the guest fetches Wasm modules: vsock.sock_1025 */
	ch_exit_report_t *exit_report; /* how the image's process ended: vsock.sock_1026 */
	/* Pause, resume, snapshot (ch/pause.c): at most one at a time. */
	bool paused;            /* cloud-hypervisor's VM is Paused (a stop skips the power button) */
	ch_api_op_t op;         /* the request in flight for it; _CH_API_OP_MAX: none */
	bool op_resume;         /* a snapshot of a Running VM: resume after it */
	int op_error;           /* a snapshot that failed, reported after the resume */
	char *op_cause;
	char *op_body;          /* vm.snapshot's VmSnapshotConfig, a hotplug request's body */
	json_object *op_device; /* hotplug (ch/hotplug.c): the spec entry added or removed */
	bool op_net;            /* it is a "net" entry (else "disks") */
	size_t op_index;        /* remove: its index in the spec's array */
	manager_done_fn op_done;
	void *op_userdata;
} ch_vm_t;

/* ch/probe.c: ch_probe_binary for the configured binary; once registered,
 * a changed file's --version runs from the loop and the previous result
 * answers meanwhile. */
typedef struct ch_version_run ch_version_run_t;
int ch_binary_check(ch_backend_t *b, char **ret_path, char **ret_cause);
void ch_version_run_free(ch_backend_t *b);

/* ch/serial.c */
int ch_serial_connect(ch_vm_t *c);
/* Read what the guest wrote, at most max_reads reads, into the console. */
void ch_serial_drain(ch_vm_t *c, unsigned max_reads);
void ch_serial_close(ch_vm_t *c);
/* console_config_t.on_input: console input to the serial port. */
int ch_serial_write(const void *buf, size_t len, void *userdata);

/* ch/boot.c */
/* The readiness timer's handler (sd_event_time_handler_t). */
int ch_boot_on_tick(sd_event_source *s, uint64_t usec, void *userdata);
/* Poll again in TICK_USEC while something is still awaited. */
void ch_boot_tick_arm(ch_vm_t *c);
/* Send op to the VM's API (the one request in flight: an older one is
 * cancelled); done hears the answer. */
int ch_vm_api_send(ch_vm_t *c, ch_api_op_t op, ch_http_done_fn done);

/* ch/pause.c: backend_ops_t's pause, resume, snapshot. */
int ch_pause_vm(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata);
int ch_resume_vm(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata);
int ch_snapshot_vm(manager_t *m, vm_t *vm, const char *dir, manager_done_fn done, void *userdata);
/* End the operation in progress, if any (its request is cancelled): a
 * stop, a kill or the process's end came first. */
void ch_op_abort(ch_vm_t *c, const char *cause);
/* The operation ended: its fields are reset, then its done is called. */
void ch_op_finish(ch_vm_t *c, int error, const char *cause);
/* What cloud-hypervisor said to op (or why it could not be asked),
 * printable; malloc'd, NULL when out of memory. */
char *ch_op_refusal(ch_api_op_t op, int error, long status, const char *body, size_t len);

/* ch/hotplug.c: backend_ops_t's add_device, remove_device. */
int ch_add_device(manager_t *m, vm_t *vm, json_object *entry, bool net, char **ret_cause, manager_done_fn done,
		  void *userdata);
int ch_remove_device(manager_t *m, vm_t *vm, const char *device, json_object **ret_device,
			 char **ret_cause, manager_done_fn done, void *userdata);

/* ch/stop.c */
int ch_stop_vm(manager_t *m, vm_t *vm, bool force, uint64_t timeout_ms);
/* The guest did not power off in time (or cannot be asked): shut it down,
 * then kill it STOP_GRACE_MS later. */
void ch_stop_escalate(ch_vm_t *c, const char *cause);

#endif
