/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd's exec proxy: the exchanges of compute.vm.exec, each a small state
 * machine on mvmd's sd-event loop driving the sans-I/O exec client
 * (exec_call_* in exec-client.h) over the VM's hybrid vsock socket,
 * STATE_DIR/vms/<id>/vsock.sock (the kvm worker's, or cloud-hypervisor's).
 * No thread, no pipe: an exec holds one socket, one I/O source and one
 * timer, and nothing else runs for it between events.
 *
 * The node runs at most EXEC_PROXY_MAX_IN_FLIGHT execs at once (all VMs
 * together; docs/rpc-methods.md): each may hold up to twice its output
 * cap (8 MiB per stream at most) plus a 128 KiB frame buffer, so the
 * bound is on mvmd's memory. A VM's removal ends its execs at once.
 *
 * Single-threaded: called from mvmd's event loop only.
 */
#ifndef MVM_EXEC_PROXY_H
#define MVM_EXEC_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "blob.h"
#include "exec-client.h"
#include "manager.h"
#include "pull.h"

#define EXEC_PROXY_MAX_IN_FLIGHT 64u
/* A VM is Running a moment before its guest's agent listens: a closed
 * port is asked again (every EXEC_PROXY_RETRY_MS) for this long. It is
 * also the time a VMM has to answer the CONNECT line, and what the host
 * waits past the request's timeout_ms for the agent to report a kill. */
#define EXEC_PROXY_SLACK_MS 2000u
#define EXEC_PROXY_RETRY_MS 10u

typedef struct exec_proxy exec_proxy_t;
typedef struct exec_op exec_op_t;

/*
 * Where an exec that never reached its agent stopped, when that was
 * before the exchange: the pull of its module, or handing the pulled
 * module to the VM (manager_vm_grant_blob).
 */
typedef struct exec_proxy_prelude {
	const pull_result_t *pull; /* the pull failed: how (rc is pull->error) */
	bool grant;                /* rc is manager_vm_grant_blob's */
} exec_proxy_prelude_t;

/*
 * How an exec ended: rc 0 with *result filled (an exit or an error frame
 * arrived; the callee may move its buffers out, the rest is freed after
 * the call), or rc < 0:
 *   -ENOENT        no vsock socket (the VM's process is gone)
 *   -ECONNREFUSED  nothing listens on the agent's port (after the slack)
 *   -ECONNRESET    the agent closed the connection before its last frame
 *   -ETIMEDOUT     no answer within the host timeout (or the CONNECT line
 *                  within EXEC_PROXY_SLACK_MS)
 *   -EIDRM         the VM was removed
 *   -ECANCELED     mvmd is shutting down
 *   -EBADMSG, -ENOMEM, -ENAMETOOLONG, ... as the socket calls say
 * pre is non-NULL when it ended in its prelude (exec_proxy_start's
 * pull_hex): rc then says what the pull or the grant said (-ETIMEDOUT and
 * -EIDRM keep pre NULL: they mean what they mean for any exec).
 * The op is freed after the callback returns.
 */
typedef void (*exec_proxy_done_fn)(int rc, exec_result_t *result, const exec_proxy_prelude_t *pre, void *userdata);

/* Subscribes to m's events (for removals); free it before m. */
int exec_proxy_new(manager_t *m, exec_proxy_t **ret);
/* Ends every exec still running with -ECANCELED (their callbacks run). */
exec_proxy_t *exec_proxy_free(exec_proxy_t *p);

bool exec_proxy_full(const exec_proxy_t *p);
/* How long the host waits for the answer to a request whose agent-side
 * timeout is timeout_ms: timeout_ms + EXEC_PROXY_SLACK_MS. */
uint64_t exec_proxy_host_timeout_ms(uint32_t timeout_ms);

/*
 * Start an exec of req on vm (Running; checked by the caller). The
 * request is encoded at once (req and opts need not outlive the call;
 * opts->timeout_ms is ignored: the host timeout follows req->timeout_ms).
 * done runs later, from the event loop, never inside this call.
 *
 * pull_hex (may be NULL): argv[0]'s module, missing from the store. The
 * exec first pulls it from the configured sources (or joins the pull
 * already under way; pull.h), then grants it to the VM and connects. The
 * pull counts against the host timeout; the command, once started, has
 * its whole timeout_ms. Cancelling the exec leaves the pull, which goes on
 * for the store and its other waiters.
 *
 * -EBUSY when EXEC_PROXY_MAX_IN_FLIGHT run already; -E2BIG/-EINVAL from
 * the encoder; -ENOMEM; puller_start's errors.
 */
int exec_proxy_start(exec_proxy_t *p, const vm_t *vm, const exec_request_t *req, const exec_client_opts_t *opts,
		     const char *pull_hex, exec_proxy_done_fn done, void *userdata, exec_op_t **ret);
/* Stop an exec and free it without calling done (its client went away):
 * closing the socket tells the agent, which kills the command. */
void exec_op_cancel(exec_op_t *op);

#endif
