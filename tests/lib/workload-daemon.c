/* SPDX-License-Identifier: Apache-2.0 */
/* The workload suites' fixture (see workload-daemon.h). */
#include "workload-daemon.h"

#include <limits.h>

mvmt_wl_t wl = { .fd = -1 };

void wl_setup(void)
{
	mvmt_daemon_init(&wl.d);
	mvmt_daemon_start(&wl.d, NULL);
	wl.fd = mvmt_connect(wl.d.sock);
}

void wl_teardown(void)
{
	close(wl.fd);
	mvmt_forget_fd(wl.fd);
	mvmt_stop_running_vms(&wl.d);
	mvmt_daemon_cleanup(&wl.d);
}

char *wl_put_prog(const char *prog)
{
	char rel[256], abs[PATH_MAX], p[PATH_MAX + 32];
	const char *b = getenv("MVM_BUILD_DIR");

	snprintf(rel, sizeof(rel), "%s/wasm-programs/wl-%s.wasm", b && *b ? b : "build", prog);
	ck_assert_msg(realpath(rel, abs) != NULL, "%s not built", rel);
	snprintf(p, sizeof(p), "{\"path\":\"%s\"}", abs);
	json_object *r = mvmt_result(wl.fd, "compute.blob.put", p);
	char *h = strdup(mvmt_str(r, "hash"));
	json_object_put(r);
	return h;
}

json_object *wl_create(const char *name, const char *prog, int mem, const char *extra)
{
	char p[8192];
	char *h = wl_put_prog(prog);

	snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":%d,\"workload\":{\"hash\":\"%s\"%s%s}}", name, mem, h,
		 extra ? "," : "", extra ? extra : "");
	free(h);
	return mvmt_result(wl.fd, "compute.vm.create", p);
}

json_object *wl_call_id(const char *method, const char *name, const char *extra)
{
	return mvmt_call_id(wl.fd, method, name, extra);
}

json_object *wl_status(const char *name)
{
	return mvmt_status(wl.fd, name);
}

bool wl_is_final(const char *s)
{
	return !strcmp(s, "Stopped") || !strcmp(s, "Failed") || !strcmp(s, "StartFailed");
}

static bool is_end_of(json_object *ev, void *id)
{
	return strcmp(mvmt_str(ev, "vm"), id) == 0 && wl_is_final(mvmt_str(ev, "to"));
}

json_object *wl_wait_end(const char *name, int timeout_ms)
{
	mvmt_follow_t f;
	char id[128];

	/* Subscribed before the first look, so the end cannot slip by. */
	mvmt_follow_open(&f, wl.d.sock);
	json_object *s = wl_status(name);
	if (!wl_is_final(mvmt_str(s, "state"))) {
		snprintf(id, sizeof(id), "%s", mvmt_str(s, "id"));
		json_object_put(s);
		json_object *ev = mvmt_follow_next(&f, timeout_ms > MVMT_EVENT_TIMEOUT_MS ? timeout_ms : MVMT_EVENT_TIMEOUT_MS,
						   is_end_of, id);
		s = wl_status(name);
		ck_assert_msg(ev, "%s never ended: %s", name, json_object_to_json_string(s));
		json_object_put(ev);
	}
	mvmt_follow_close(&f);
	return s;
}

char *wl_logs(const char *name)
{
	json_object *r = wl_call_id("compute.vm.logs", name, "\"tail_bytes\":1048576");
	char *s = strdup(mvmt_str(r, "result.data"));

	json_object_put(r);
	return s;
}

json_object *wl_run(const char *name, const char *prog, int mem, const char *extra)
{
	json_object_put(wl_create(name, prog, mem, extra));
	json_object *r = wl_call_id("compute.vm.start", name, NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
	json_object_put(r);
	return wl_wait_end(name, 10000);
}

void wl_assert_contains(const char *hay, const char *needle)
{
	ck_assert_msg(hay && strstr(hay, needle), "\"%s\" not in \"%s\"", needle, hay ? hay : "(null)");
}
