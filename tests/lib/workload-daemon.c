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
	return mvmt_state_is_final(s);
}

json_object *wl_wait_end(const char *name, int timeout_ms)
{
	return mvmt_wait_final(wl.fd, name, timeout_ms > MVMT_EVENT_TIMEOUT_MS ? timeout_ms : MVMT_EVENT_TIMEOUT_MS);
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
