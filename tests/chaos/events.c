/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event sequence numbers across restarts. Every mvmd the driver starts
 * gets a follower (`compute.vm.events.tail {since: 0, follow: true}`) for
 * its whole life, so the driver sees every event that mvmd published:
 * first the backlog rebuilt from the state files, then each new one. A
 * number must always name the same event (VM, from, to), numbers from
 * one mvmd must increase, and an event never seen before must be newer
 * than every event seen before: a number below that was handed out
 * again. Events an mvmd published but had not written when it was killed
 * simply never come back (docs/state.md, "Events across restarts").
 */
#include "chaos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static chaos_event_t *slot_for(chaos_t *c, uint64_t seq)
{
	if (c->n_events * 2 >= c->events_cap) {
		size_t cap = c->events_cap ? c->events_cap * 2 : 4096;
		chaos_event_t *t = calloc(cap, sizeof(*t));
		if (!t) {
			fprintf(stderr, "chaos: out of memory\n");
			exit(2);
		}
		for (size_t i = 0; i < c->events_cap; i++)
			if (c->events[i].seq) {
				size_t j = (size_t)(c->events[i].seq * 0x9E3779B97F4A7C15ull) & (cap - 1);
				while (t[j].seq)
					j = (j + 1) & (cap - 1);
				t[j] = c->events[i];
			}
		free(c->events);
		c->events = t;
		c->events_cap = cap;
	}
	size_t j = (size_t)(seq * 0x9E3779B97F4A7C15ull) & (c->events_cap - 1);
	while (c->events[j].seq && c->events[j].seq != seq)
		j = (j + 1) & (c->events_cap - 1);
	return &c->events[j];
}

static void note(chaos_t *c, json_object *ev)
{
	json_object *v;
	const char *vm = json_str_at(ev, "vm"), *from = json_str_at(ev, "from"), *to = json_str_at(ev, "to");

	if (!json_object_object_get_ex(ev, "seq", &v) || !vm || !from || !to) {
		chaos_violation(c, "malformed event: %s", json_object_to_json_string(ev));
		return;
	}
	uint64_t seq = (uint64_t)json_object_get_int64(v);
	if (seq <= c->run_seq)
		chaos_violation(c, "event seq %llu after %llu from the same mvmd (went back)", (unsigned long long)seq,
				(unsigned long long)c->run_seq);
	c->run_seq = seq > c->run_seq ? seq : c->run_seq;

	chaos_event_t *e = slot_for(c, seq);
	if (e->seq) {
		if (strcmp(e->vm, vm) || strcmp(e->from, from) || strcmp(e->to, to))
			chaos_violation(c, "event seq %llu reused: first %s %s->%s, now %s %s->%s", (unsigned long long)seq,
					e->vm, e->from, e->to, vm, from, to);
		return;
	}
	if (seq <= c->max_seq)
		chaos_violation(c, "new event seq %llu (%s %s->%s) is not above %llu, already handed out",
				(unsigned long long)seq, vm, from, to, (unsigned long long)c->max_seq);
	*e = (chaos_event_t){ .seq = seq };
	snprintf(e->vm, sizeof(e->vm), "%s", vm);
	snprintf(e->from, sizeof(e->from), "%s", from);
	snprintf(e->to, sizeof(e->to), "%s", to);
	c->n_events++;
	if (seq > c->max_seq)
		c->max_seq = seq;
}

void chaos_events_follow(chaos_t *c)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"compute.vm.events.tail\","
				  "\"params\":{\"since\":0,\"limit\":10000,\"follow\":true}}\n";

	c->run_seq = 0;
	if (conn_open(&c->follow, c->sock) < 0 || conn_send(&c->follow, req, sizeof(req) - 1) < 0) {
		chaos_violation(c, "cannot follow events of the new mvmd");
		conn_close(&c->follow);
	}
}

void chaos_events_drain(chaos_t *c, int timeout_ms)
{
	json_object *o;

	if (c->follow.fd < 0)
		return;
	conn_fill(&c->follow, timeout_ms);
	while ((o = conn_next(&c->follow))) {
		json_object *list = json_at(o, "result.events"), *params = json_at(o, "params");
		if (list && json_object_is_type(list, json_type_array)) {
			for (size_t i = 0; i < json_object_array_length(list); i++)
				note(c, json_object_array_get_idx(list, i));
		} else if (params && json_str_at(o, "method") && !strcmp(json_str_at(o, "method"), "compute.vm.event")) {
			note(c, params);
		} else if (json_at(o, "error")) {
			chaos_violation(c, "events.tail refused: %s", json_object_to_json_string(o));
		}
		json_object_put(o);
	}
}

/* mvmd is gone (or going): what it sent before it died still counts. */
void chaos_events_stop(chaos_t *c)
{
	if (c->follow.fd < 0)
		return;
	for (int i = 0; i < 50 && !c->follow.eof; i++)
		chaos_events_drain(c, 100);
	chaos_events_drain(c, 0);
	conn_close(&c->follow);
}
