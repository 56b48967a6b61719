/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pause, resume and snapshot of a kvm micro-VM through its worker's
 * control connection (docs/worker-protocol.md, docs/snapshots.md):
 *
 *   pause:    PAUSE → PAUSED                          Running → Paused
 *   resume:   RESUME → RESUMED                        Paused → Running
 *   snapshot: (Running: PAUSE → PAUSED, → Paused)
 *             SNAPSHOT + fd of vms/<id>/snapshots/<n>/snapshot → SNAPSHOT_DONE
 *             (Running before: RESUME → RESUMED, → Running)
 *             the file goes into the blob store; snapshots/<n>/hash names it
 *
 * One operation at a time; the VM's end or a stop cancels it (-ECANCELED),
 * as for ch (daemon/mvmd/ch/pause.c).
 *
 * Each step has a deadline (--kvm-op-timeout-ms, 10 s; a snapshot's write
 * 1 s more per 64 MiB of guest memory). The worker's control thread
 * answers PAUSE and RESUME within one poll round whatever its guest does
 * (the vCPU is kicked out of KVM_RUN and out of its waits), so a worker
 * that misses one is wedged, and mvmd could no longer say whether its
 * guest runs, nor trust a late answer. It is killed: the VM ends Failed
 * ("killed by mvmd: the worker did not answer PAUSE within N ms") and
 * the request is answered -ETIMEDOUT once that is recorded
 * (docs/snapshots.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend-kvm.h"
#include "blob.h"
#include "kvm-runtime.h"
#include "proto/cpuid.h"
#include "proto/snapshot.h"
#include "util/cause.h"
#include "util/fs.h"
#include "util/macro.h"

/* op_why, the kill's reason, reads "killed by mvmd: the worker did not
 * answer ..." in the VM's cause; the request's reason is the rest. */
#define OP_WHO "mvmd: "

static void op_finish(kvm_runtime_t *k, int error, const char *cause)
{
	manager_done_fn done = k->op_done;
	void *userdata = k->op_userdata;
	_cleanup_free_ char *why = TAKE_PTR(k->op_cause);

	k->op = KVM_OP_NONE;
	k->op_done = NULL;
	k->op_userdata = NULL;
	k->op_resume = false;
	k->op_error = 0;
	free(k->op_dir);
	k->op_dir = NULL;
	k->op_fd = safe_close(k->op_fd);
	k->op_retry = sd_event_source_disable_unref(k->op_retry);
	k->op_deadline = sd_event_source_disable_unref(k->op_deadline);
	k->op_timed_out = false;
	if (done)
		done(k->m, k->vm->id, error, cause ? cause : why, userdata);
}

void kvm_pause_abort(kvm_runtime_t *k, const char *cause)
{
	_cleanup_free_ char *why = NULL;

	if (!k->op_done)
		return;
	if (!k->op_timed_out) {
		op_finish(k, -ECANCELED, cause);
		return;
	}
	/* The end is the kill of a worker that missed its deadline (or a
	 * stop in the meantime): the answer's data.state says which. */
	if (asprintf(&why, "%s: it was killed", k->op_why + strlen(OP_WHO)) < 0)
		why = NULL;
	op_finish(k, -ETIMEDOUT, why ? why : k->op_why);
}

void kvm_pause_drop(kvm_runtime_t *k)
{
	/* mvmd is exiting (or the VM is gone): as for ch, an operation in
	 * progress is dropped unanswered; the server that would answer it
	 * is going away. */
	k->op_done = NULL;
	op_finish(k, 0, NULL);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	kvm_runtime_t *k = userdata;

	k->op_deadline = sd_event_source_disable_unref(k->op_deadline);
	if (k->op_timed_out) {
		/* Killed a deadline ago and still not gone (stuck in the
		 * kernel): answer now; its end is recorded when it comes. */
		op_finish(k, -ETIMEDOUT, "the worker did not answer and was killed, but has not ended yet");
		return 0;
	}
	k->op_retry = sd_event_source_disable_unref(k->op_retry);
	k->op_timed_out = true;
	/* Answered from the VM's end (kvm_pause_abort), or at a second
	 * deadline if it does not come, so that nothing waits forever. */
	if (!k->proc || sv_kill(k->proc, k->op_why) < 0 ||
	    sd_event_add_time_relative(manager_event(k->m), &k->op_deadline, CLOCK_MONOTONIC,
				       (uint64_t)k->b->op_timeout_ms * 1000, 1000, on_deadline, k) < 0)
		op_finish(k, -ETIMEDOUT, k->op_why + strlen(OP_WHO));
	return 0;
}

/* The worker owes an answer to `sent` (PAUSE, SNAPSHOT, RESUME) within
 * the backend's op timeout plus extra_ms. */
static int op_arm(kvm_runtime_t *k, const char *sent, uint64_t extra_ms)
{
	uint64_t ms = (uint64_t)k->b->op_timeout_ms + extra_ms;

	snprintf(k->op_why, sizeof(k->op_why), OP_WHO "the worker did not answer %s within %" PRIu64 " ms", sent, ms);
	k->op_deadline = sd_event_source_disable_unref(k->op_deadline);
	return sd_event_add_time_relative(manager_event(k->m), &k->op_deadline, CLOCK_MONOTONIC, ms * 1000, 1000,
					  on_deadline, k);
}

static int send_empty(kvm_runtime_t *k, uint32_t type)
{
	int r;

	if (!k->w.ctl)
		return -ENOTCONN;
	r = kvm_ctl_queue(k->w.ctl, type, NULL, 0);
	kvm_runtime_ctl_update(k);
	return r;
}

static int op_begin(vm_t *vm, int op, uint32_t first, manager_done_fn done, void *userdata)
{
	kvm_runtime_t *k = vm->backend_data;
	int r;

	if (!k)
		return -ESRCH;
	if (k->op != KVM_OP_NONE)
		return -EBUSY;
	r = op_arm(k, first == KVM_MSG_PAUSE ? "PAUSE" : "RESUME", 0);
	if (r >= 0)
		r = send_empty(k, first);
	if (r < 0) {
		k->op_deadline = sd_event_source_disable_unref(k->op_deadline);
		return r;
	}
	k->op = op;
	k->op_done = done;
	k->op_userdata = userdata;
	return 0;
}

int kvm_pause(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata)
{
	return op_begin(vm, KVM_OP_PAUSE, KVM_MSG_PAUSE, done, userdata);
}

int kvm_resume(manager_t *m, vm_t *vm, manager_done_fn done, void *userdata)
{
	return op_begin(vm, KVM_OP_RESUME, KVM_MSG_RESUME, done, userdata);
}

int kvm_snapshot(manager_t *m, vm_t *vm, const char *dir, manager_done_fn done, void *userdata)
{
	kvm_runtime_t *k = vm->backend_data;
	bool running = vm->state == VM_STATE_RUNNING;
	char *d = strdup(dir);
	int r;

	if (!d)
		return -ENOMEM;
	r = op_begin(vm, KVM_OP_SNAPSHOT, KVM_MSG_PAUSE, done, userdata);
	if (r < 0) {
		free(d);
		return r;
	}
	/* A Paused VM is paused already: its worker answers PAUSED again. */
	k->op_resume = running;
	k->op_dir = d;
	return 0;
}

/* The end of a snapshot: on its way to Running again first if it was. */
static void snapshot_end(kvm_runtime_t *k, int error, const char *cause)
{
	if (k->op_resume) {
		k->op_error = error;
		free(k->op_cause);
		k->op_cause = cause ? strdup(cause) : NULL;
		if (op_arm(k, "RESUME", 0) < 0 || send_empty(k, KVM_MSG_RESUME) < 0)
			op_finish(k, error < 0 ? error : -EIO, "cannot resume the VM after its snapshot; it stays Paused");
		return;
	}
	op_finish(k, error, cause);
}

static void snapshot_send(kvm_runtime_t *k);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	kvm_runtime_t *k = userdata;

	k->op_retry = sd_event_source_disable_unref(k->op_retry);
	if (k->op == KVM_OP_SNAPSHOT)
		snapshot_send(k);
	return 0;
}

/* Paused: hand the worker the file to write. A frame with a descriptor
 * goes out only on an empty queue (kvm_ctl_send_fd): while console input
 * for the guest is still queued, try again shortly (the worker's control
 * thread reads on while its vCPU is parked). */
static void snapshot_send(kvm_runtime_t *k)
{
	kvm_msg_snapshot_t req = { 0 };
	int r;

	if (!k->w.ctl) {
		snapshot_end(k, -ENOTCONN, "the worker's control connection is gone");
		return;
	}
	if (k->op_fd < 0) {
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s/snapshot", k->op_dir) < 0) {
			snapshot_end(k, -ENOMEM, NULL);
			return;
		}
		k->op_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (k->op_fd < 0) {
			snapshot_end(k, -errno, "cannot create the snapshot's file");
			return;
		}
	}
	r = kvm_ctl_pending(k->w.ctl) ? kvm_ctl_flush(k->w.ctl) : 0;
	if (r == 0)
		r = kvm_ctl_send_fd(k->w.ctl, KVM_MSG_SNAPSHOT, &req, sizeof(req), k->op_fd);
	else if (r > 0)
		r = -EAGAIN;
	/* -EAGAIN with the frame's rest queued: sent (the fd went with its
	 * first byte); with nothing queued: not sent. */
	if (r == 0 || (r == -EAGAIN && kvm_ctl_pending(k->w.ctl))) {
		k->op_fd = safe_close(k->op_fd);
	} else if (r == -EAGAIN) {
		r = sd_event_add_time_relative(manager_event(k->m), &k->op_retry, CLOCK_MONOTONIC, 10 * 1000, 1000,
					       on_retry, k);
		if (r < 0)
			snapshot_end(k, r, "cannot hand the worker the snapshot's file");
	} else {
		snapshot_end(k, r, "cannot hand the worker the snapshot's file");
	}
	kvm_runtime_ctl_update(k);
}

/*
 * The worker wrote it: into the blob store (hashed there, as every blob
 * is; the worker is not trusted to name it), then the file goes and
 * snapshots/<n>/hash says which blob it is.
 */
static int snapshot_store(kvm_runtime_t *k, char **ret_cause)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int dfd = -1;
	blob_put_opts_t opts = { 0 };
	blob_info_t info;
	bool created;
	char line[BLOB_REF_LEN + 2];
	int r;

	if (asprintf(&path, "%s/snapshot", k->op_dir) < 0)
		return -ENOMEM;
	r = blob_put_path(manager_blobs(k->m), path, &opts, &info, &created);
	if (r < 0) {
		*ret_cause = strdup("cannot store the snapshot in the blob store");
		return r;
	}
	snprintf(line, sizeof(line), "sha256:%s\n", info.hex);
	/* Durable: the snapshot must outlive a crash of mvmd or the host. */
	dfd = open(k->op_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	r = write_file_at_full(dfd, "hash", line, strlen(line), 0600, true, NULL);
	if (r < 0)
		return r;
	(void)unlink(path);
	return 0;
}

void kvm_pause_on_msg(kvm_runtime_t *k, const kvm_msg_t *msg)
{
	vm_t *vm = k->vm;

	/* Too late: the worker is being killed for it, and its VM ends. */
	if (k->op_timed_out)
		return;
	switch (msg->type) {
	case KVM_MSG_PAUSED:
		if (vm->state == VM_STATE_RUNNING)
			(void)manager_transition(k->m, vm, VM_STATE_PAUSED,
						 k->op == KVM_OP_SNAPSHOT ? "paused for a snapshot" : "paused");
		if (k->op == KVM_OP_PAUSE)
			op_finish(k, 0, NULL);
		else if (k->op == KVM_OP_SNAPSHOT) {
			/* The write takes longer the more memory the guest has. */
			int r = op_arm(k, "SNAPSHOT", vm->memory_mib * 1000 / KVM_OP_SNAPSHOT_MIB_PER_S);
			if (r < 0)
				snapshot_end(k, r, "cannot arm the snapshot's deadline");
			else
				snapshot_send(k);
		}
		break;
	case KVM_MSG_RESUMED:
		if (vm->state == VM_STATE_PAUSED)
			(void)manager_transition(k->m, vm, VM_STATE_RUNNING,
						 k->op == KVM_OP_SNAPSHOT ? "resumed after a snapshot" : "resumed");
		if (k->op == KVM_OP_RESUME || k->op == KVM_OP_SNAPSHOT)
			op_finish(k, k->op_error, NULL);
		break;
	case KVM_MSG_SNAPSHOT_DONE: {
		kvm_msg_snapshot_done_t d;
		_cleanup_free_ char *cause = NULL;
		if (k->op != KVM_OP_SNAPSHOT || kvm_msg_get_snapshot_done(msg, &d) < 0)
			break;
		if (d.error < 0) {
			if (asprintf(&cause, "the worker could not write the snapshot: %s", strerror(-d.error)) < 0)
				cause = NULL;
			snapshot_end(k, d.error, cause);
			break;
		}
		int r = snapshot_store(k, &cause);
		snapshot_end(k, r, cause);
		break;
	}
	default:
		break;
	}
}

/*
 * A re-adopted worker's HELLO: where it stands wins over what this mvmd
 * read from disk, for a pause or resume the last mvmd asked for but did
 * not live to record.
 */
void kvm_pause_on_hello(kvm_runtime_t *k, uint32_t worker_state)
{
	if (worker_state == KVM_VM_PAUSED && k->vm->state == VM_STATE_RUNNING)
		(void)manager_transition(k->m, k->vm, VM_STATE_PAUSED, "paused (found so after a restart)");
	else if (worker_state == KVM_VM_RUNNING && k->vm->state == VM_STATE_PAUSED)
		(void)manager_transition(k->m, k->vm, VM_STATE_RUNNING, "resumed (found so after a restart)");
}

/* compute.vm.start {snapshot: "<n>"}: the VM's own snapshot n, by its hash. */
int kvm_restore(manager_t *m, vm_t *vm, const char *dir, char **ret_cause)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t len = 0;
	int r;

	r = dfd < 0 ? -errno : read_file_at(dfd, "hash", 128, &text, &len);
	if (r < 0 || len != BLOB_REF_LEN + 1 || text[BLOB_REF_LEN] != '\n') {
		if (ret_cause)
			*ret_cause = strdup("the snapshot was never completed (no hash)");
		return -ENOENT;
	}
	text[BLOB_REF_LEN] = 0;
	return kvm_start_worker_from(m, vm, text, true, ret_cause);
}

int backend_kvm_snapshot_check(manager_t *m, const char *ref, kvm_snapshot_info_t *ret, char **ret_cause)
{
	kvm_backend_t *b = manager_backend_userdata(m, VM_BACKEND_KVM);
	_cleanup_free_ kvm_snapshot_t *s = malloc(sizeof(*s));
	_cleanup_free_ struct kvm_cpuid2 *host = NULL;
	_cleanup_close_ int fd = -1;
	char hex[BLOB_HEX_LEN + 1], why[KVM_SNAP_WHY_MAX] = "";
	uint64_t size = 0;
	void *map;
	int r;

	if (!s)
		return -ENOMEM;
	if (blob_ref_to_hex(ref, hex) < 0)
		return set_cause(ret_cause, -EINVAL, "\"%s\" is no sha256:<64 hex> reference", ref);
	r = blob_open(manager_blobs(m), hex, false, &fd, &size);
	if (r == -ENOENT)
		return set_cause(ret_cause, r, "no blob %s in the store", ref);
	if (r < 0)
		return set_cause(ret_cause, r, "cannot open blob %s: %s", ref, strerror(-r));
	if (size == 0)
		return set_cause(ret_cause, -ENODATA, "blob %s is empty: no snapshot", ref);
	map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return set_cause(ret_cause, negative_errno(), "cannot read blob %s", ref);
	/* The whole of it, trailer hash included: what a worker would read. */
	r = kvm_snapshot_parse(map, size, false, s, why, sizeof(why));
	if (r == 0 && b && b->kvm_fd >= 0) {
		int cfd = kvm_cpuid_memfd(b->kvm_fd);
		r = cfd < 0 ? cfd : kvm_cpuid_read_fd(cfd, &host);
		if (r == 0)
			r = kvm_snapshot_check_cpuid(s, host, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "cannot read this host's CPUID table: %s", strerror(-r));
	}
	munmap(map, size);
	if (r < 0)
		return set_cause(ret_cause, r, "%s", why);
	ret->memory_mib = s->hdr.memory_mib;
	ret->vcpus = s->hdr.vcpus;
	snprintf(ret->workload, sizeof(ret->workload), "%s", s->workload);
	return 0;
}

int backend_kvm_snapshot_blob_check(const void *data, size_t len, void *userdata)
{
	kvm_snapshot_blob_check_t *c = userdata;
	_cleanup_free_ kvm_snapshot_t *s = malloc(sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	r = kvm_snapshot_parse(data, len, false, s, c->why, sizeof(c->why));
	if (r < 0) {
		c->failed = true;
		return -EINVAL;
	}
	return 0;
}
