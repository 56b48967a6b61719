/* SPDX-License-Identifier: Apache-2.0 */
/* The actor suites' steps (see actor-daemon.h). */
#include "actor-daemon.h"

void wl_actor_up_with(const char *name, const char *extra)
{
	json_object_put(wl_create(name, "actor", 16, extra));
	json_object *r = wl_call_id("compute.vm.start", name, NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
	json_object_put(r);
	json_object_put(mvmt_wait_state(wl.fd, name, "Running"));
	mvmt_wait_log(wl.fd, name, "actor ready\n");
}

void wl_actor_up(const char *name)
{
	wl_actor_up_with(name, NULL);
}

json_object *wl_send_text(int fd, const char *name, const char *text, int timeout_ms)
{
	json_object *p = json_object_new_object();
	json_object_object_add(p, "id", json_object_new_string(name));
	json_object_object_add(p, "data", json_object_new_string(text));
	if (timeout_ms > 0)
		json_object_object_add(p, "timeout_ms", json_object_new_int(timeout_ms));
	json_object *r = mvmt_call(fd, "compute.vm.send", json_object_to_json_string(p));
	json_object_put(p);
	return r;
}

char *wl_ask(const char *name, const char *text)
{
	json_object *r = wl_send_text(wl.fd, name, text, 60000);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "send %s: %s", text, json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.encoding"), "utf-8");
	ck_assert_int_gt(mvmt_int(r, "result.message_id"), 0);
	char *s = strdup(mvmt_str(r, "result.data"));
	json_object_put(r);
	return s;
}

void wl_ask_eq(const char *name, const char *text, const char *want)
{
	char *got = wl_ask(name, text);
	ck_assert_str_eq(got, want);
	free(got);
}

int64_t wl_send_async(int fd, const char *name, const char *text, int timeout_ms)
{
	json_object *p = json_object_new_object();
	json_object_object_add(p, "id", json_object_new_string(name));
	json_object_object_add(p, "data", json_object_new_string(text));
	json_object_object_add(p, "wait", json_object_new_boolean(0));
	json_object_object_add(p, "timeout_ms", json_object_new_int(timeout_ms));
	json_object *r = mvmt_result(fd, "compute.vm.send", json_object_to_json_string(p));
	json_object_put(p);
	int64_t id = mvmt_int(r, "message_id");
	json_object_put(r);
	return id;
}

int64_t wl_client_send_async(int fd, const char *client, const char *iface, const char *msg)
{
	char text[512];
	snprintf(text, sizeof(text), "send %s %s", iface, msg);
	return wl_send_async(fd, client, text, 120000);
}

/* Lines on fd until a notification `method`, for message id (any: id < 0). */
static json_object *next_notification(int fd, const char *method, int64_t id)
{
	for (;;) {
		char *line = mvmt_read_line(fd, 60000);
		ck_assert_msg(line != NULL, "no %s (%lld)", method, (long long)id);
		json_object *o = json_tokener_parse(line);
		free(line);
		ck_assert_ptr_nonnull(o);
		const char *m = mvmt_str(o, "method");
		if (m && strcmp(m, method) == 0 && (id < 0 || mvmt_int(o, "params.message_id") == id))
			return o;
		json_object_put(o);
	}
}

json_object *wl_next_answer(int fd, int64_t id)
{
	return next_notification(fd, "compute.vm.answer", id);
}

json_object *wl_next_message(int fd)
{
	return next_notification(fd, "compute.interface.message", -1);
}
