/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.node.metrics with kvm micro-VMs on the real /dev/kvm (the ch
 * side, the textfile and Prometheus itself are in
 * tests/suites/metrics-prometheus.sh): starts served by the warm pool,
 * their latency, a workload's non-zero exit as a failure class, and a
 * pool that pauses after failures, counted and logged, then resumes.
 */
#include "workload-daemon.h"
#include "mvmt-main.h"

/* The value of the sample whose name and labels are exactly `series`
 * ("name{a=\"b\"}" or "name"); -1 when there is none. */
static double metric(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/* A pool of 2: half the default's warm-up, which under the emulated KVM
 * of tests/tools/kvm-in-qemu.sh keeps mvmd answering within mvmtest's
 * 10 s while it fills. */
static void setup_pool2(void)
{
	mvmt_daemon_init(&wl.d);
	mvmt_daemon_start(&wl.d, "--kvm-pool", "2", NULL);
	wl.fd = mvmt_connect(wl.d.sock);
}

static char *metrics_text(int c)
{
	json_object *r = mvmt_result(c, "compute.node.metrics", NULL);
	char *t = strdup(mvmt_str(r, "text"));

	ck_assert_str_eq(mvmt_str(r, "content_type"), "text/plain; version=0.0.4; charset=utf-8");
	json_object_put(r);
	return t;
}

START_TEST(test_kvm_starts_counted)
{
	mvmt_wait_pool_settled(wl.fd);
	json_object_put(wl_create("m-hello", "hello", 16, NULL));
	json_object_put(wl_call_id("compute.vm.start", "m-hello", NULL));
	json_object *st = wl_wait_end("m-hello", 10000);
	ck_assert_str_eq(mvmt_str(st, "state"), "Stopped");
	json_object_put(st);
	json_object_put(wl_create("m-exit", "exit", 16, "\"args\":[\"exit\",\"3\"]"));
	json_object_put(wl_call_id("compute.vm.start", "m-exit", NULL));
	st = wl_wait_end("m-exit", 10000);
	ck_assert_int_eq(mvmt_int(st, "exit_code"), 3);
	json_object_put(st);

	json_object *info = mvmt_result(wl.fd, "compute.node.info", NULL);
	char *t = metrics_text(wl.fd);
	/* The pool's own counters, as compute.node.info shows them. */
	ck_assert_int_eq((long long)metric(t, "mvmd_kvm_pool_hits_total"), mvmt_int(info, "backends.kvm.pool.hits"));
	ck_assert_int_eq((long long)metric(t, "mvmd_kvm_pool_misses_total"), mvmt_int(info, "backends.kvm.pool.misses"));
	ck_assert_int_eq((long long)metric(t, "mvmd_kvm_pool_failures_total"), 0);
	ck_assert_int_eq((long long)metric(t, "mvmd_kvm_pool_size"), 2);
	ck_assert(metric(t, "mvmd_kvm_pool_spawned_total") >= 2);
	ck_assert(metric(t, "mvmd_kvm_pool_hits_total") >= 1);
	json_object_put(info);
	/* Both starts went Starting -> Running (a workload that ends while
	 * Starting passes through Running), once each. */
	ck_assert_int_eq((long long)metric(t, "mvmd_vm_start_duration_seconds_count{backend=\"kvm\"}"), 2);
	ck_assert(metric(t, "mvmd_vm_start_duration_seconds_sum{backend=\"kvm\"}") > 0);
	ck_assert_int_eq((long long)metric(t, "mvmd_vm_start_duration_seconds_bucket{backend=\"kvm\",le=\"+Inf\"}"), 2);
	ck_assert_int_eq((long long)metric(t, "mvmd_vm_failures_total{cause=\"exit_nonzero\"}"), 1);
	ck_assert_int_eq((long long)metric(t, "mvmd_vm_transitions_total{to=\"Stopped\"}"), 2);
	ck_assert_int_eq((long long)metric(t, "mvmd_vms{state=\"Stopped\",backend=\"kvm\"}"), 2);
	ck_assert_int_eq((long long)metric(t, "mvmd_rpc_requests_total{method=\"compute.vm.start\",code=\"0\"}"), 2);
	free(t);
}
END_TEST

START_TEST(test_pool_pause_counted_and_logged)
{
	/* Warm workers never ready in time (a 1 ms limit): three failures
	 * in a row pause the pool for 10 s, then it resumes. */
	mvmt_daemon_t d2;
	char *t = NULL, *line;
	int c;

	mvmt_daemon_init(&d2);
	mvmt_daemon_start(&d2, "--kvm-pool", "2", "--kvm-pool-ready-timeout-ms", "1", NULL);
	c = mvmt_connect(d2.sock);
	for (int i = 0; i < 1000; i++) {
		free(t);
		t = metrics_text(c);
		if (metric(t, "mvmd_kvm_pool_paused") == 1)
			break;
		usleep(10000);
	}
	ck_assert_int_eq((long long)metric(t, "mvmd_kvm_pool_paused"), 1);
	ck_assert_int_eq((long long)metric(t, "mvmd_kvm_pool_pauses_total"), 1);
	ck_assert(metric(t, "mvmd_kvm_pool_failures_total") >= 3);
	ck_assert(metric(t, "mvmd_kvm_pool_spawned_total") >= 3);
	ck_assert_int_eq((long long)metric(t, "mvmd_kvm_pool_idle"), 0);
	free(t);
	line = mvmt_daemon_log_line(&d2, 10000, "<4>kvm pool paused after failures in a row",
				    "not ready within 1 ms", NULL);
	ck_assert_ptr_nonnull(line);
	free(line);
	/* The pause ends after 10 s; the deadline is generous. */
	line = mvmt_daemon_log_line(&d2, 60000, "<6>kvm pool resumed", NULL);
	ck_assert_ptr_nonnull(line);
	free(line);
	close(c);
	mvmt_forget_fd(c);
	mvmt_daemon_cleanup(&d2);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "kvm",
		.timeout = 120,
		.setup = setup_pool2,
		.teardown = wl_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_kvm_starts_counted),
			MVMT_TEST(test_pool_pause_counted_and_logged)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd-metrics", .tcases = tcases, .skip = mvmt_kvm_skip_reason)
