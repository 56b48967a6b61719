/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reap a child later: for a process whose part is over (a worker that has
 * reported how its VM ended and is only tearing down) but that has not
 * exited yet. An event source waits for its pidfd and reaps it; nothing
 * else is done. Never logs.
 */
#ifndef MVM_UTIL_REAP_H
#define MVM_UTIL_REAP_H

#include <stdbool.h>
#include <systemd/sd-event.h>

/* Take pidfd (ours to close from now on, whatever the outcome: false
 * leaves it to the caller) and reap its process once it is gone. */
bool reap_later(sd_event *e, int pidfd);
/* Drop every pending wait (at exit): the processes are not touched. */
void reap_later_forget_all(void);

#endif
