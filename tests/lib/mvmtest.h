/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for integration tests: start the real build/bin/mvmd on
 * temporary directories, talk line-delimited JSON-RPC to it over its real
 * socket, and look at its process from outside.
 */
#ifndef MVM_TEST_H
#define MVM_TEST_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct mvmt_daemon {
	pid_t pid;
	char dir[64];       /* temp root */
	char sock[128];     /* RPC socket */
	char state[128];    /* state dir */
	char console[128];  /* console dir */
	char log[128];      /* stderr of the daemon */
} mvmt_daemon_t;

/* Path of a built binary, from $MVM_BUILD_DIR (default ./build). */
const char *mvmt_bin(const char *name);

/* Fresh temp dirs; does not start anything. */
void mvmt_daemon_init(mvmt_daemon_t *d);
/* Start mvmd with the daemon's paths plus extra args (NULL-terminated),
 * and wait until its socket accepts. Fails the test on timeout. */
void mvmt_daemon_start(mvmt_daemon_t *d, ...) __attribute__((sentinel));
/* Send sig and reap; returns the wait status. */
int mvmt_daemon_stop(mvmt_daemon_t *d, int sig);
/* Stop (if running) and remove the temp dirs. */
void mvmt_daemon_cleanup(mvmt_daemon_t *d);

int mvmt_connect(const char *path);
/* Write everything or fail the test. */
void mvmt_write(int fd, const void *buf, size_t len);
void mvmt_send_line(int fd, const char *line);
/* Read one '\n'-terminated line (without the '\n'), waiting up to
 * timeout_ms. Returns NULL on EOF or timeout. Buffered per fd. */
char *mvmt_read_line(int fd, int timeout_ms);
/* True when the peer closed (EOF) within timeout_ms, reading and
 * discarding any pending data lines. */
bool mvmt_wait_closed(int fd, int timeout_ms);
void mvmt_forget_fd(int fd); /* drop the read buffer of a closed fd */

/* One request line in, one parsed response out (fails the test on EOF). */
json_object *mvmt_request(int fd, const char *line);
/* {"jsonrpc":"2.0","id":N,"method":method,"params":params_json}; returns
 * the whole response object. params_json may be NULL. */
json_object *mvmt_call(int fd, const char *method, const char *params_json);
/* The "result" of mvmt_call, failing the test on an error response. */
json_object *mvmt_result(int fd, const char *method, const char *params_json);
/* The error code of mvmt_call, failing the test on success. */
int mvmt_error_code(int fd, const char *method, const char *params_json);

/* obj.path.to.member as string / int (fails the test when missing). */
const char *mvmt_str(json_object *o, const char *dotted);
int64_t mvmt_int(json_object *o, const char *dotted);
json_object *mvmt_get(json_object *o, const char *dotted);

/* One request sent as nobody:nogroup (65534) from a forked child over
 * sock (mvmd must grant the socket to nogroup); the parsed reply. */
json_object *mvmt_call_as_nobody(const char *sock, const char *method, const char *params);

/*
 * Run fn(arg) in a forked child as uid:gid with exactly the supplementary
 * groups given (n may be 0), and return its exit status (fn's return
 * value, 0..255), or -1 when it died of a signal. The child has 20 s and
 * must not use ck_assert: it reports through its return value.
 */
int mvmt_run_as(uid_t uid, gid_t gid, const gid_t *groups, size_t n, int (*fn)(void *arg), void *arg);

/* The first line of the daemon's log (its stderr, d->log, kept across
 * restarts of the same d) that contains every needle, waiting up to
 * timeout_ms for it; malloc'd, NULL on timeout. A NULL ends the needles. */
char *mvmt_daemon_log_line(const mvmt_daemon_t *d, int timeout_ms, ...) __attribute__((sentinel));

/* True when /dev/kvm can be opened read-write here. */
bool mvmt_have_kvm(void);
/*
 * NULL when micro-VM workers can run here, else why not (for a SKIP line):
 * no usable /dev/kvm, or a kernel that cannot load a seccomp filter in 5 s.
 * The second happened on a development machine whose kernel wedged freeing
 * ~10,000 JIT'd BPF filters at once (a workqueue deadlock in
 * bpf_prog_pack_free): every later seccomp() blocked for good, so every
 * sandboxed worker would hang. The probe's child is left behind if it hangs.
 */
const char *mvmt_kvm_skip_reason(void);
/*
 * False on hosts whose KVM resets the vCPU at a triple fault (kvm_amd: the
 * VMCB is undefined after a SHUTDOWN intercept), where mvm-vmm reports a
 * shutdown fault without registers; true where they survive (PVM, Intel).
 */
bool mvmt_kvm_shutdown_keeps_regs(void);
/* Gone, or a zombie its new parent (init) has not reaped yet. */
bool mvmt_process_ended(pid_t pid);
/* A VM is Stopped once its worker's RESULT is in; the process follows. */
bool mvmt_wait_process_ended(pid_t pid, int timeout_ms);

/* method with {"id": name[, extra]} (extra: more members, "k":v,...): the
 * whole response. */
json_object *mvmt_call_id(int fd, const char *method, const char *name, const char *extra);
/* compute.vm.status of name: the result (fails the test on an error). */
json_object *mvmt_status(int fd, const char *name);
/* Wait on mvmd's events until the VM enters `state` (at once if it is
 * in it; MVMT_EVENT_TIMEOUT_MS, tests/lib/mvmt-events.h); its status then. */
json_object *mvmt_wait_state(int fd, const char *name, const char *state);
/* Poll compute.vm.logs until it contains needle (5 s). */
void mvmt_wait_log(int fd, const char *name, const char *needle);
/* Force-stop every Running VM of a live daemon: workers outlive mvmd by
 * design, so a test must not leave them behind. */
void mvmt_stop_running_vms(const mvmt_daemon_t *d);
/* compute.vm.remove with force of every VM, over fd: the ch doubles
 * outlive mvmd by design, so a ch suite's teardown ends them this way. */
void mvmt_remove_all_vms(int fd);

/* Number of open fds of a process. */
int mvmt_count_fds(pid_t pid);
/* The count once it has not changed for half a second: a baseline. */
int mvmt_settled_fds(pid_t pid);
/* Wait until mvmd's warm kvm pool is full and idle (its fd count stable). */
void mvmt_wait_pool_settled(int fd);

#endif
