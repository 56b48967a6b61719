/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Steps the actor suites (check_mvmd_actor.c, check_mvmd_actor_fail.c)
 * repeat on the workload fixture (workload-daemon.h): bring up the C
 * test actor (tests/workloads/actor.c), send it messages with
 * compute.vm.send, and read the notifications that come back.
 */
#ifndef MVM_TESTS_ACTOR_DAEMON_H
#define MVM_TESTS_ACTOR_DAEMON_H

#include <stdint.h>

#include "workload-daemon.h"

/* The actor VM name, with extra workload members (NULL: none), Running
 * and waiting for messages. */
void wl_actor_up_with(const char *name, const char *extra);
void wl_actor_up(const char *name);
/* compute.vm.send of text on fd (timeout_ms <= 0: the default); the whole response. */
json_object *wl_send_text(int fd, const char *name, const char *text, int timeout_ms);
/* The answer's text to a send on wl.fd that must succeed (caller frees). */
char *wl_ask(const char *name, const char *text);
void wl_ask_eq(const char *name, const char *text, const char *want);
/* compute.vm.send of text with "wait": false on fd: its message id. */
int64_t wl_send_async(int fd, const char *name, const char *text, int timeout_ms);
/* The same of "send IFACE MSG" to the client actor (120 s). */
int64_t wl_client_send_async(int fd, const char *client, const char *iface, const char *msg);
/* Lines on fd until the compute.vm.answer for message id (60 s). */
json_object *wl_next_answer(int fd, int64_t id);
/* Lines on fd until a compute.interface.message (60 s). */
json_object *wl_next_message(int fd);

#endif
