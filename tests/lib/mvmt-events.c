/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Followers of compute.vm.events.tail (see mvmt-events.h).
 */
#include "mvmt-events.h"

#include <check.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mvmtest.h"

void mvmt_follow_open(mvmt_follow_t *f, const char *sock)
{
	f->fd = mvmt_connect(sock);
	/* limit 0: no backlog, only what happens from now on. The reply
	 * comes before any notification, so once it is read the
	 * subscription is in place. */
	json_object_put(mvmt_result(f->fd, "compute.vm.events.tail", "{\"follow\":true,\"limit\":0}"));
}

void mvmt_follow_open_like(mvmt_follow_t *f, int fd)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	ck_assert_int_eq(getpeername(fd, (struct sockaddr *)&sa, &len), 0);
	ck_assert_int_eq(sa.sun_family, AF_UNIX);
	mvmt_follow_open(f, sa.sun_path);
}

void mvmt_follow_close(mvmt_follow_t *f)
{
	if (f->fd >= 0) {
		close(f->fd);
		mvmt_forget_fd(f->fd);
	}
	f->fd = -1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

json_object *mvmt_follow_next(mvmt_follow_t *f, int timeout_ms, mvmt_event_match_fn match, void *arg)
{
	long long end = now_ms() + timeout_ms;

	for (long long left = timeout_ms; left > 0; left = end - now_ms()) {
		char *line = mvmt_read_line(f->fd, (int)left);
		if (!line)
			return NULL;
		json_object *o = json_tokener_parse(line);
		free(line);
		ck_assert_ptr_nonnull(o);
		json_object *method, *params;
		if (json_object_object_get_ex(o, "method", &method) &&
		    strcmp(json_object_get_string(method), "compute.vm.event") == 0 &&
		    json_object_object_get_ex(o, "params", &params) && (!match || match(params, arg))) {
			json_object_get(params);
			json_object_put(o);
			return params;
		}
		json_object_put(o);
	}
	return NULL;
}

struct state_match {
	const char *vm, *state;
};

static bool is_vm_state(json_object *ev, void *arg)
{
	const struct state_match *m = arg;

	return strcmp(mvmt_str(ev, "vm"), m->vm) == 0 && strcmp(mvmt_str(ev, "to"), m->state) == 0;
}

static bool is_vm(json_object *ev, void *arg)
{
	return strcmp(mvmt_str(ev, "vm"), arg) == 0;
}

json_object *mvmt_follow_wait_state(mvmt_follow_t *f, const char *vm_id, const char *state)
{
	struct state_match m = { vm_id, state };
	json_object *ev = mvmt_follow_next(f, MVMT_EVENT_TIMEOUT_MS, is_vm_state, &m);

	ck_assert_msg(ev, "VM %s never entered %s", vm_id, state);
	return ev;
}

bool mvmt_follow_next_is(mvmt_follow_t *f, const char *vm_id, const char *state, int timeout_ms)
{
	json_object *ev = mvmt_follow_next(f, timeout_ms, is_vm, (void *)vm_id);
	bool is = ev && strcmp(mvmt_str(ev, "to"), state) == 0;

	json_object_put(ev);
	return is;
}

bool mvmt_state_is_final(const char *s)
{
	return !strcmp(s, "Stopped") || !strcmp(s, "Failed") || !strcmp(s, "StartFailed");
}

static bool is_end_of(json_object *ev, void *id)
{
	return strcmp(mvmt_str(ev, "vm"), id) == 0 && mvmt_state_is_final(mvmt_str(ev, "to"));
}

json_object *mvmt_wait_final(int fd, const char *name, int timeout_ms)
{
	mvmt_follow_t f;
	char id[128];

	/* Subscribed before the first look, so the end cannot slip by. */
	mvmt_follow_open_like(&f, fd);
	json_object *s = mvmt_status(fd, name);
	if (!mvmt_state_is_final(mvmt_str(s, "state"))) {
		snprintf(id, sizeof(id), "%s", mvmt_str(s, "id"));
		json_object_put(s);
		json_object *ev = mvmt_follow_next(&f, timeout_ms, is_end_of, id);
		s = mvmt_status(fd, name);
		ck_assert_msg(ev, "%s never ended: %s", name, json_object_to_json_string(s));
		json_object_put(ev);
	}
	mvmt_follow_close(&f);
	return s;
}
