/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the suites that run Wasm workloads through a real
 * mvmd (check_mvmd_workload, check_mvmd_pool): one daemon per test, the
 * modules built from tests/workloads/, status polling. Header-only, as
 * kvm-helpers.h, so each suite stays one binary. */
#ifndef MVM_TESTS_WORKLOAD_HELPERS_H
#define MVM_TESTS_WORKLOAD_HELPERS_H

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mvmtest.h"

static mvmt_daemon_t d;
static int fd;

static inline void setup(void)
{
	mvmt_daemon_init(&d);
	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);
}

static inline void teardown(void)
{
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_stop_running_vms(&d); /* workers outlive mvmd by design */
	mvmt_daemon_cleanup(&d);
}

/* compute.blob.put of build/wasm-programs/wl-<prog>.wasm; the hash. */
static inline char *put_prog(const char *prog)
{
	char rel[256], abs[4096], p[4200];
	const char *b = getenv("MVM_BUILD_DIR");
	snprintf(rel, sizeof(rel), "%s/wasm-programs/wl-%s.wasm", b && *b ? b : "build", prog);
	ck_assert_msg(realpath(rel, abs) != NULL, "%s not built", rel);
	snprintf(p, sizeof(p), "{\"path\":\"%s\"}", abs);
	json_object *r = mvmt_result(fd, "compute.blob.put", p);
	char *h = strdup(mvmt_str(r, "hash"));
	json_object_put(r);
	return h;
}

/* create {name, memory, workload {hash of prog, extra members}}; the VM. */
static inline json_object *create_wl(const char *name, const char *prog, int mem, const char *extra)
{
	char p[8192];
	char *h = put_prog(prog);
	snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":%d,\"workload\":{\"hash\":\"%s\"%s%s}}", name, mem, h,
		 extra ? "," : "", extra ? extra : "");
	free(h);
	return mvmt_result(fd, "compute.vm.create", p);
}

static inline json_object *call_id(const char *method, const char *name, const char *extra)
{
	return mvmt_call_id(fd, method, name, extra);
}

static inline json_object *status(const char *name)
{
	return mvmt_status(fd, name);
}

static inline bool is_final(const char *s)
{
	return !strcmp(s, "Stopped") || !strcmp(s, "Failed") || !strcmp(s, "StartFailed");
}

/* Poll status until the VM is Stopped/Failed/StartFailed (timeout_ms). */
static inline json_object *wait_end(const char *name, int timeout_ms)
{
	for (int i = 0; i < timeout_ms / 10; i++) {
		json_object *s = status(name);
		if (is_final(mvmt_str(s, "state")))
			return s;
		json_object_put(s);
		usleep(10000);
	}
	json_object *s = status(name);
	ck_abort_msg("%s never ended: %s", name, json_object_to_json_string(s));
	return s;
}

/* The VM's console log (caller frees). */
static inline char *logs(const char *name)
{
	json_object *r = call_id("compute.vm.logs", name, "\"tail_bytes\":1048576");
	char *s = strdup(mvmt_str(r, "result.data"));
	json_object_put(r);
	return s;
}

/* create + start + wait until it ended; returns the final status. */
static inline json_object *run_wl(const char *name, const char *prog, int mem, const char *extra)
{
	json_object_put(create_wl(name, prog, mem, extra));
	json_object *r = call_id("compute.vm.start", name, NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
	json_object_put(r);
	return wait_end(name, 10000);
}

static inline void assert_contains(const char *hay, const char *needle)
{
	ck_assert_msg(hay && strstr(hay, needle), "\"%s\" not in \"%s\"", needle, hay ? hay : "(null)");
}

#endif
