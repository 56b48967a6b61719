/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Waiting on what mvmd says happened instead of polling for it: a
 * follower is a connection of its own subscribed to every VM transition
 * from the moment it opens (compute.vm.events.tail {follow: true,
 * limit: 0}, docs/rpc-methods.md). Open it BEFORE the request whose
 * effect you wait for, so no event can slip between the two.
 *
 * A test that asserts something did NOT happen (a VM was not restarted, a
 * request was not answered) waits for the event that closes the window
 * (the VM reached its final state, a later transition of the same VM was
 * published) and then checks that the unwanted thing is not among what
 * came before it.
 */
#ifndef MVM_TESTS_MVMT_EVENTS_H
#define MVM_TESTS_MVMT_EVENTS_H

#include <json-c/json.h>
#include <stdbool.h>

/* Generous: a loaded 2-core machine may take seconds per transition. */
#define MVMT_EVENT_TIMEOUT_MS 60000

typedef struct mvmt_follow {
	int fd;
} mvmt_follow_t;

/* Subscribe on the mvmd socket at sock. */
void mvmt_follow_open(mvmt_follow_t *f, const char *sock);
/* Subscribe on the socket that fd (a client connection) talks to. */
void mvmt_follow_open_like(mvmt_follow_t *f, int fd);
void mvmt_follow_close(mvmt_follow_t *f);

/* Return true to accept ev, one compute.vm.event's params
 * ({"seq", "time", "vm", "from", "to", "cause"}). */
typedef bool (*mvmt_event_match_fn)(json_object *ev, void *arg);

/* The next event that matches (a reference the caller puts), or NULL when
 * none came within timeout_ms. Events that do not match are dropped. */
json_object *mvmt_follow_next(mvmt_follow_t *f, int timeout_ms, mvmt_event_match_fn match, void *arg);

/* The next event of VM vm_id (its id, not its name) entering state (the
 * "to" of the event; "Removed" too); fails the test after
 * MVMT_EVENT_TIMEOUT_MS. */
json_object *mvmt_follow_wait_state(mvmt_follow_t *f, const char *vm_id, const char *state);

/* True when the next event of VM vm_id within timeout_ms enters state;
 * false when another transition of that VM comes first, or none comes. */
bool mvmt_follow_next_is(mvmt_follow_t *f, const char *vm_id, const char *state, int timeout_ms);

/* Stopped, Failed or StartFailed: a state a VM does not leave on its own. */
bool mvmt_state_is_final(const char *state);
/* compute.vm.status of VM name (on fd's mvmd) once it is in a final
 * state, waiting on its events for up to timeout_ms; fails the test then. */
json_object *mvmt_wait_final(int fd, const char *name, int timeout_ms);

#endif
