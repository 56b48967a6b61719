/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's insides, shared by daemon/vmm/vmm.c (its life: the VM, the
 * control connection, the end), daemon/vmm/vmm-host.c (the vCPU thread's
 * host services) and daemon/vmm/vmm-pause.c (pause, resume, snapshots and
 * the restore from one). Nothing outside daemon/vmm/
 * includes this.
 */
#ifndef MVM_KVM_VMM_INTERNAL_H
#define MVM_KVM_VMM_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "actor.h"
#include "grants.h"
#include "kvm-vm.h"
#include "ring.h"
#include "vmm.h"
#include "vsock.h"

#define STOP_SIGNAL SIGUSR1

typedef struct vmm {
	const kvm_vmm_config_t *cfg; /* &own, filled in further by an ASSIGN */
	kvm_vmm_config_t own;
	kvm_host_ops_t ops;
	bool ctl_started; /* the control thread runs this run's loop */
	kvm_vm_t *vm;
	pthread_t ctl_thread;
	/* The control thread runs main_loop once per run, then waits here
	 * (ctl_idle) for the next one of a reused worker (ctl_go) or its end
	 * (ctl_end): one thread for all of a worker's runs. */
	bool ctl_exists, ctl_idle, ctl_go, ctl_end;
	pthread_mutex_t ctl_lock;
	pthread_cond_t ctl_cond;
	pid_t vcpu_tid; /* the vCPU (main) thread, for STOP_SIGNAL (vmm_kick_vcpu) */
	int loop_error;
	pthread_mutex_t lock; /* guards the rings, console counters and input flags */
	ring_t out, in;
	ring_t err;            /* a run's stderr (KVM_WARM_F_RUN); else it goes to out */
	bool in_eof;           /* CONSOLE_EOF came: reads past the input say -EPIPE */
	bool eof_unseen;       /* ... and no wait has said so yet */
	uint64_t console_bytes, console_dropped;
	uint64_t exits;
	atomic_bool stop_requested, stop_forced, vcpu_done;
	/* Pause: the control thread sets pause_requested; the vCPU thread
	 * parks (parked, under lock) once KVM_RUN came back with the state
	 * whole, and writes a snapshot handed to it (snap_fd) while parked. */
	atomic_bool pause_requested;
	bool parked;
	int snap_fd;
	bool snap_done;
	kvm_msg_snapshot_done_t snap_res;
	int wake_main, wake_vcpu; /* eventfds */
	uid_t uid;
	kvm_result_t result;
	kvm_ctl_t *conn;
	uint32_t state;
	int64_t stop_deadline; /* ms, -1 none */
	uint8_t *chunk;        /* KVM_MSG_PAYLOAD_MAX bytes: ring -> frame */
	kvm_vsock_t *vsock;    /* hybrid vsock (daemon/vmm/vsock.c) */
	uint8_t *blob;         /* the verified workload module, or NULL */
	uint64_t blob_size;
	kvm_grants_t *grants;  /* blobs granted at exec time (BLOB_GRANT) */
	kvm_actor_t *actor;    /* messages to and from the guest (daemon/vmm/actor.h) */
	struct vmm_template *tmpl; /* a primed worker's template (daemon/vmm/reuse.c), or NULL */
} vmm_t;

/* vmm.c */
/* STOP_SIGNAL to the vCPU thread: KVM_RUN returns EINTR wherever it was. */
void vmm_kick_vcpu(vmm_t *m);
void vmm_efd_signal(int fd);
void vmm_efd_drain(int fd);
/* Outcome error with "what: strerror" as the message; returns err. */
int vmm_set_error(vmm_t *m, int err, const char *what);
/* Non-blocking control, vsock and console sockets, and the vsock device. */
int vmm_setup_sockets(vmm_t *m);
/* Boot info and the workload module: what makes the VM this VM. Errors
 * are set in m->result (outcome error) and returned. */
int vmm_configure_vm(vmm_t *m);
/* The guest runs from here on: READY to whoever is connected, then the
 * control thread. */
int vmm_go_live(vmm_t *m);

/* warm-take.c: MVM_HC_CONFIG of a warm guest (kvm_host_ops_t.config):
 * its PRIME, TEMPLATE, RESTORE and ASSIGN (lib/proto/warm.h). */
int vmm_host_config(void *ud, kvm_result_t *res);

/* vmm-host.c: m->ops, the services the vCPU loop calls (kvm-vm.h). */
void vmm_host_ops_init(vmm_t *m);

/* vmm-pause.c: the host ops the vCPU loop calls (kvm-vm.h). */
bool vmm_pause_requested(void *ud);
void vmm_park(void *ud);
/* Control thread: PAUSE, RESUME, SNAPSHOT (its fd is taken), and after
 * each poll round what the vCPU thread did (PAUSED, SNAPSHOT_DONE). */
void vmm_pause_vcpu(vmm_t *m);
void vmm_resume_vcpu(vmm_t *m);
void vmm_handle_snapshot(vmm_t *m, int fd);
void vmm_pause_progress(vmm_t *m);
/* Before the sandbox: make the VM the one on --snapshot-fd. Errors are
 * set in m->result (outcome error) and returned. */
int vmm_restore(vmm_t *m);
/* The same on a warm worker, inside its sandbox, in MVM_HC_CONFIG: its
 * booted guest cleared first. -EFAULT: the guest memory may be gone. */
int vmm_restore_warm(vmm_t *m);

/* reuse.c (lib/proto/warm.h, KVM_WARM_F_REUSE): on the vCPU thread in
 * MVM_HC_CONFIG once a primed module compiled, keep the VM as it is as
 * the template (its memory then backs the guest MAP_PRIVATE); -errno and
 * no template when that failed. After a run: whether this worker may
 * serve another, and the reset to the template (memory, vCPU, every
 * worker-side state of the run); then vmm_reset_resume() once its next
 * ASSIGN came, with the time its new life began. */
int vmm_template_take(vmm_t *m);
/* TEMPLATE: write the template into fd (taken on success) and back the
 * guest with it. RESTORE: become the primed VM the sealed template fd
 * holds (fd taken on success). Any error ends the worker (-EFAULT: its
 * guest memory may be gone). */
int vmm_template_write(vmm_t *m, int fd);
int vmm_template_restore(vmm_t *m, int fd);
bool vmm_reusable(const vmm_t *m);
int vmm_reset(vmm_t *m);
void vmm_reset_resume(vmm_t *m, uint64_t mono_ns);


#endif
