/* SPDX-License-Identifier: Apache-2.0 */
/* The metrics (daemon/mvmd/metrics*.c): the cause and exec classes,
 * bounded label sets, a render of a manager's state, the textfile. The
 * encoder under them has its own suite (check_prom.c). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manager.h"
#include "metrics.h"
#include "util/fs.h"
#include "mvmt-main.h"

START_TEST(test_cause_classes)
{
	static const struct {
		vm_state_t from, to;
		const char *cause;
		bool nonzero;
		const char *want; /* NULL: no failure */
	} cases[] = {
		{ VM_STATE_RUNNING, VM_STATE_FAILED, "guest fault: page fault at rip=0x1000", false, "guest_fault" },
		{ VM_STATE_RUNNING, VM_STATE_FAILED, "guest abort: unreachable", false, "guest_fault" },
		{ VM_STATE_STARTING, VM_STATE_START_FAILED, "worker error: reading the workload module: EIO", false, "worker_error" },
		{ VM_STATE_RUNNING, VM_STATE_FAILED, "worker lost while mvmd was down", false, "worker_lost" },
		{ VM_STATE_RUNNING, VM_STATE_FAILED, "worker killed by signal 9 (Killed)", false, "worker_lost" },
		{ VM_STATE_RUNNING, VM_STATE_FAILED, "cloud-hypervisor exited with status 1: boom", false, "worker_lost" },
		{ VM_STATE_RUNNING, VM_STATE_FAILED, "killed by workload timeout (timeout_ms 100)", false, "timeout" },
		{ VM_STATE_STARTING, VM_STATE_START_FAILED, "cloud-hypervisor killed: forced stop", false, "killed" },
		{ VM_STATE_STARTING, VM_STATE_START_FAILED, "start interrupted: mvmd stopped before the VM ran", false, "start_interrupted" },
		{ VM_STATE_STARTING, VM_STATE_START_FAILED, "kvm backend unavailable: no /dev/kvm", false, "backend_unavailable" },
		{ VM_STATE_STARTING, VM_STATE_START_FAILED, "cannot start the worker: ENOENT", false, "spawn_failed" },
		{ VM_STATE_STARTING, VM_STATE_START_FAILED, "cloud-hypervisor refused vm.boot (HTTP 500)", false, "vmm_api_error" },
		{ VM_STATE_PROVISIONING, VM_STATE_FAILED, "blob not found: sha256:00", false, "provision_failed" },
		{ VM_STATE_RUNNING, VM_STATE_FAILED, "something new", false, "other" },
		{ VM_STATE_RUNNING, VM_STATE_FAILED, NULL, false, "other" },
		{ VM_STATE_RUNNING, VM_STATE_STOPPED, "guest exited with code 3", true, "exit_nonzero" },
		{ VM_STATE_RUNNING, VM_STATE_STOPPED, "guest exited with code 0", false, NULL },
		{ VM_STATE_STARTING, VM_STATE_RUNNING, "guest running", false, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		metrics_cause_t c = metrics_cause_classify(cases[i].from, cases[i].to, cases[i].cause, cases[i].nonzero);
		if (!cases[i].want)
			ck_assert_msg(c == _METRICS_CAUSE_MAX, "case %zu counted as %s", i, metrics_cause_to_string(c));
		else
			ck_assert_msg(c < _METRICS_CAUSE_MAX && strcmp(metrics_cause_to_string(c), cases[i].want) == 0,
				      "case %zu (%s): %s, want %s", i, cases[i].cause ? cases[i].cause : "(null)",
				      metrics_cause_to_string(c), cases[i].want);
	}
}
END_TEST

START_TEST(test_exec_classes)
{
	exec_result_t r = { .exited = true, .kind = EXEC_EXIT_CODE, .value = 0 };

	ck_assert_str_eq(metrics_exec_to_string(metrics_exec_classify(0, &r)), "ok");
	r.value = 2;
	ck_assert_str_eq(metrics_exec_to_string(metrics_exec_classify(0, &r)), "exit_nonzero");
	r.timed_out = true;
	ck_assert_str_eq(metrics_exec_to_string(metrics_exec_classify(0, &r)), "timed_out");
	r = (exec_result_t){ .exited = true, .kind = EXEC_EXIT_SIGNAL, .value = 9 };
	ck_assert_str_eq(metrics_exec_to_string(metrics_exec_classify(0, &r)), "signaled");
	r = (exec_result_t){ .error_code = 1 };
	ck_assert_str_eq(metrics_exec_to_string(metrics_exec_classify(0, &r)), "agent_error");
	ck_assert_str_eq(metrics_exec_to_string(metrics_exec_classify(-ECONNREFUSED, &r)), "unreachable");
	ck_assert_str_eq(metrics_exec_to_string(metrics_exec_classify(-ETIMEDOUT, &r)), "host_timeout");
	ck_assert_str_eq(metrics_exec_to_string(metrics_exec_classify(-ENOMEM, &r)), "error");
}
END_TEST

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/mvm-metrics-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	rm_rf_at(AT_FDCWD, dir);
}

static manager_t *mgr(void)
{
	manager_config_t cfg = { .state_dir = dir, .console_dir = "/nonexistent", .max_vms = 8, .max_vcpus = 4,
				 .max_memory_mib = 1024 };
	manager_t *m;

	ck_assert_int_eq(manager_new(NULL, &cfg, &m), 0);
	return m;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

#define ck_assert_line(text, line) ck_assert_msg(has_line(text, line), "no line \"%s\" in:\n%s", line, text)

START_TEST(test_render)
{
	manager_t *m = mgr();
	metrics_t *mt = manager_metrics(m);
	vm_t *vm;
	char *text, *detail = NULL;
	size_t len;

	json_object *spec = json_tokener_parse("{\"name\":\"a\",\"memory_mib\":16}");

	ck_assert_ptr_nonnull(mt);
	ck_assert_int_eq(manager_create_vm(m, spec, &vm, NULL), 0);
	json_object_put(spec);
	/* No backend registered: the start ends StartFailed at once. */
	ck_assert_int_eq(manager_start_vm(m, vm, &detail), -ENODEV);
	free(detail);
	metrics_rpc(mt, "compute.vm.start", 0, 1500);
	metrics_rpc(mt, "compute.vm.start", -32003, 200);
	metrics_rpc(mt, NULL, -32601, 10);
	/* Pull results: a bounded set, the rest "other". */
	for (int i = 0; i < METRICS_MAX_PULL_RESULTS + 3; i++) {
		char w[16];
		snprintf(w, sizeof(w), "r%c", 'a' + i);
		metrics_blob_pull(mt, w);
	}
	metrics_blob_pull(mt, "ok");
	metrics_blob_pull(mt, "Not a word");
	metrics_exec(mt, METRICS_EXEC_OK);

	ck_assert_int_eq(metrics_render(m, &text, &len), 0);
	ck_assert_uint_eq(strlen(text), len);
	ck_assert(len > 0 && text[len - 1] == '\n');
	ck_assert_line(text, "# TYPE mvmd_vms gauge");
	ck_assert_line(text, "mvmd_vms{state=\"StartFailed\",backend=\"kvm\"} 1");
	ck_assert_line(text, "mvmd_vms{state=\"Running\",backend=\"ch\"} 0");
	ck_assert_line(text, "mvmd_vm_transitions_total{to=\"Configured\"} 1");
	ck_assert_line(text, "mvmd_vm_transitions_total{to=\"Starting\"} 1");
	ck_assert_line(text, "mvmd_vm_transitions_total{to=\"StartFailed\"} 1");
	ck_assert_line(text, "mvmd_vm_failures_total{cause=\"backend_unavailable\"} 1");
	ck_assert_line(text, "mvmd_vm_failures_total{cause=\"guest_fault\"} 0");
	ck_assert_line(text, "mvmd_vm_start_duration_seconds_count{backend=\"kvm\"} 0");
	ck_assert_line(text, "mvmd_rpc_requests_total{method=\"compute.vm.start\",code=\"0\"} 1");
	ck_assert_line(text, "mvmd_rpc_requests_total{method=\"compute.vm.start\",code=\"-32003\"} 1");
	ck_assert_line(text, "mvmd_rpc_requests_total{method=\"unknown\",code=\"-32601\"} 1");
	ck_assert_line(text, "mvmd_rpc_request_duration_seconds_bucket{method=\"compute.vm.start\",le=\"0.00025\"} 1");
	ck_assert_line(text, "mvmd_rpc_request_duration_seconds_bucket{method=\"compute.vm.start\",le=\"0.0025\"} 2");
	ck_assert_line(text, "mvmd_rpc_request_duration_seconds_count{method=\"compute.vm.start\"} 2");
	ck_assert_line(text, "mvmd_blob_pulls_total{result=\"ra\"} 1");
	ck_assert_line(text, "mvmd_blob_pulls_total{result=\"other\"} 5");
	ck_assert(!strstr(text, "mvmd_blob_pulls_total{result=\"ok\"}"));
	ck_assert_line(text, "mvmd_exec_requests_total{result=\"ok\"} 1");
	ck_assert_line(text, "mvmd_blob_store_blobs 0");
	ck_assert_line(text, "mvmd_kvm_pool_idle 0");
	/* One TYPE per family, however many series it has. */
	const char *first = strstr(text, "# TYPE mvmd_vms ");
	ck_assert_ptr_nonnull(first);
	ck_assert_ptr_null(strstr(first + 1, "# TYPE mvmd_vms "));
	free(text);
	manager_free(m);
}
END_TEST

START_TEST(test_textfile)
{
	manager_t *m = mgr();
	char path[128], *data;
	size_t len;
	struct stat st;
	mode_t old = umask(0077);

	snprintf(path, sizeof(path), "%s/out", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	strcat(path, "/mvmd.prom");
	ck_assert_int_eq(metrics_textfile_start(m, path, 1000000), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_int_eq(read_file_at(AT_FDCWD, path, 1 << 20, &data, &len), 0);
	ck_assert(has_line(data, "# TYPE mvmd_vms gauge"));
	free(data);
	ck_assert_int_eq(metrics_textfile_write(m), 0);
	/* Nothing but the file is left in the directory. */
	snprintf(path, sizeof(path), "test \"$(ls -A %s/out)\" = mvmd.prom", dir);
	ck_assert_int_eq(system(path), 0);
	/* A directory that does not exist is an error at start. */
	snprintf(path, sizeof(path), "%s/none/mvmd.prom", dir);
	ck_assert_int_eq(metrics_textfile_start(m, path, 1000000), -ENOENT);
	ck_assert_int_eq(metrics_textfile_start(m, "relative.prom", 1000000), -EINVAL);
	umask(old);
	manager_free(m);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "classes",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_cause_classes),
			MVMT_TEST(test_exec_classes)),
	},
	{
		.name = "render",
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_render),
			MVMT_TEST(test_textfile)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "metrics", .tcases = tcases)
