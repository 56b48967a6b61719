/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interfaces named by hash (docs/actors.md, "Interfaces"): who handles
 * "sha256:<hex>" on this node, and the routing of an actor's send to it
 * and of the answer back. A handler is either a Running VM whose spec's
 * workload.handles names the interface (its messages go through its
 * mailbox, daemon/mvmd/actor.h), or an outside handler registered here,
 * an RPC connection (rpc/methods-interface.c). At most one handler per
 * interface: a second is refused while the first is active.
 *
 * A sender learns nothing of the handler but the answer or an error:
 * -EACCES not granted, -EHOSTUNREACH nobody handles it, -EAGAIN the
 * handler's mailbox is full, -EPIPE the handler ended (or left) first,
 * -ETIMEDOUT no answer within the sender's workload.send_timeout_ms
 * (workload_send_timeout_ms). Every one comes back
 * at once or when it happens: a send never hangs.
 */
#ifndef MVM_INTERFACE_H
#define MVM_INTERFACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "vm.h"

#define INTERFACE_LEN 71u               /* "sha256:" + 64 lowercase hex */
#define INTERFACE_PENDING_MAX 64u       /* messages an outside handler holds unanswered */

typedef struct manager manager_t;
typedef struct actors actors_t;
typedef struct interfaces interfaces_t;

/* An outside handler: deliver a message (0, or < 0 when it cannot take
 * it: the sender gets -EPIPE). */
typedef struct interface_handler_ops {
	int (*deliver)(void *userdata, const char *iface, uint64_t message_id, const uint8_t *data, size_t len);
} interface_handler_ops_t;

int interfaces_new(sd_event *e, manager_t *m, actors_t *a, interfaces_t **ret);
interfaces_t *interfaces_free(interfaces_t *ifs);

/* The guest of sender sent (its send_id) len bytes to iface: route it;
 * the answer, or the error, goes back to the guest. */
void interfaces_route(interfaces_t *ifs, vm_t *sender, uint64_t send_id, const char *iface,
		      const uint8_t *data, size_t len);

/* Whether starting vm would give one of its interfaces a second handler:
 * -EBUSY with *ret_iface (borrowed from its spec) when it would, else 0. */
int interfaces_start_conflict(interfaces_t *ifs, const vm_t *vm, const char **ret_iface);

/* Register userdata as iface's outside handler: 0, -EBUSY (handled,
 * *ret_vm the handling VM's id or "" for an outside handler), -ENOMEM. */
int interfaces_handle(interfaces_t *ifs, const char *iface, const interface_handler_ops_t *ops, void *userdata,
		      const char **ret_vm);
/* The outside handler userdata answers message_id: 0, or -ENOENT (not a
 * message it holds: unknown, answered, timed out). */
int interfaces_answer(interfaces_t *ifs, void *userdata, uint64_t message_id, const uint8_t *data, size_t len);
/* userdata stops handling iface (NULL: everything, its connection
 * closed): every message of it that userdata held fails -EPIPE for its
 * sender. 0, or -ENOENT when userdata did not handle iface. */
int interfaces_release(interfaces_t *ifs, void *userdata, const char *iface);

/* Whether userdata handles any interface. */
bool interfaces_handles_any(interfaces_t *ifs, const void *userdata);

/* Each active handler: iface, and the VM (NULL for an outside handler). */
void interfaces_foreach(interfaces_t *ifs, void (*fn)(const char *iface, const vm_t *vm, void *ud), void *ud);

#endif
