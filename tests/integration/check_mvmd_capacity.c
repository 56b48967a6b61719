/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node capacity: mvmd started with a small budget (--max-memory-mib,
 * --max-vcpus) refuses a start the VMs already holding their budget
 * leave no room for: -32005 with data.resource, used, free, limit and
 * requested, before anything is written or spawned, the VM left in its
 * state; once a VM stops, the same start works. compute.node.info's
 * numbers add up, and compute.vm.status reports the CPU time and RSS of
 * a running VM's process, and none once it stops. VMs are
 * cloud-hypervisor VMs run by the test double (tests/doubles), so no
 * /dev/kvm is needed.
 */
#include <limits.h>
#include <sys/sysinfo.h>

#include "ch-daemon.h"
#include "durability-helpers.h"
#include "mvmt-main.h"

#define RESOURCE_LIMIT (-32005)

static char fake_ch[PATH_MAX + 32], kernel[256];

static void cap_setup(void)
{
	mvmt_daemon_init(&wl.d);
	/* This suite's own link to the double: its processes are counted
	 * by this suite's directory, its knobs are <fake_ch>.env. */
	chd_double_files(&wl.d, "fake-cloud-hypervisor", fake_ch, sizeof(fake_ch), kernel, sizeof(kernel));
	mvmt_daemon_start(&wl.d, "--kvm-pool", "0", "--ch-binary", fake_ch, "--kvm-device",
			  mvmt_kvm_skip_reason() ? "/dev/null" : "/dev/kvm", "--max-memory-mib", "200",
			  "--max-vcpus", "3", NULL);
	wl.fd = mvmt_connect(wl.d.sock);
}

static void cap_teardown(void)
{
	mvmt_remove_all_vms(wl.fd);
	close(wl.fd);
	mvmt_forget_fd(wl.fd);
	mvmt_daemon_cleanup(&wl.d);
}

static void create_ch(const char *name, int memory_mib, int vcpus)
{
	char p[512];

	snprintf(p, sizeof(p), "{\"name\":\"%s\",\"backend\":\"ch\",\"memory_mib\":%d,\"vcpus\":%d,\"kernel\":\"%s\"}",
		 name, memory_mib, vcpus, kernel);
	json_object_put(mvmt_result(wl.fd, "compute.vm.create", p));
}

static void start_ok(const char *name)
{
	json_object *r = wl_call_id("compute.vm.start", name, NULL);

	ck_assert_msg(mvmt_get(r, "result") != NULL, "start %s: %s", name, json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
}

static void stop_ok(const char *name)
{
	json_object *r = wl_call_id("compute.vm.stop", name, "\"force\":true");

	ck_assert_msg(mvmt_get(r, "result") != NULL, "stop %s: %s", name, json_object_to_json_string(r));
	json_object_put(r);
}

/* The VM's state.json as mvmd last wrote it. */
static char *state_file(const char *name)
{
	json_object *s = wl_status(name);
	char path[512];
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/vms/%s/state.json", wl.d.state, mvmt_str(s, "id"));
	json_object_put(s);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ne(getdelim(&text, &len, '\0', f), -1);
	fclose(f);
	return text;
}

/* A start over the budget: -32005 with the numbers, and nothing done:
 * state and state.json unchanged, no process. */
static void assert_refused(const char *name, const char *resource, int used, int limit, int requested)
{
	char *before = state_file(name), *after = NULL;
	int procs = dh_count_procs(wl.d.dir, "fake-cloud");
	json_object *s = wl_status(name);
	char was[32];
	snprintf(was, sizeof(was), "%s", mvmt_str(s, "state"));
	json_object_put(s);
	json_object *r = wl_call_id("compute.vm.start", name, NULL);

	ck_assert_msg(mvmt_get(r, "error") != NULL, "start %s: %s", name, json_object_to_json_string(r));
	ck_assert_int_eq(mvmt_int(r, "error.code"), RESOURCE_LIMIT);
	ck_assert_str_eq(mvmt_str(r, "error.data.resource"), resource);
	ck_assert_int_eq(mvmt_int(r, "error.data.used"), used);
	ck_assert_int_eq(mvmt_int(r, "error.data.limit"), limit);
	ck_assert_int_eq(mvmt_int(r, "error.data.free"), limit - used);
	ck_assert_int_eq(mvmt_int(r, "error.data.requested"), requested);
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), was);
	ck_assert(strlen(mvmt_str(r, "error.data.reason")) > 0);
	json_object_put(r);

	s = wl_status(name);
	ck_assert_str_eq(mvmt_str(s, "state"), was);
	ck_assert_ptr_null(mvmt_get(s, "pid"));
	ck_assert_ptr_null(mvmt_get(s, "cpu_seconds"));
	json_object_put(s);
	after = state_file(name);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	ck_assert_int_eq(dh_count_procs(wl.d.dir, "fake-cloud"), procs);
}

static void assert_capacity(int mem_used, int vcpus_used)
{
	json_object *o = mvmt_result(wl.fd, "compute.node.info", NULL);

	ck_assert_int_eq(mvmt_int(o, "capacity.memory_mib_limit"), 200);
	ck_assert_int_eq(mvmt_int(o, "capacity.memory_mib_used"), mem_used);
	ck_assert_int_eq(mvmt_int(o, "capacity.memory_mib_free"), 200 - mem_used);
	ck_assert_int_eq(mvmt_int(o, "capacity.vcpus_limit"), 3);
	ck_assert_int_eq(mvmt_int(o, "capacity.vcpus_used"), vcpus_used);
	ck_assert_int_eq(mvmt_int(o, "capacity.vcpus_free"), 3 - vcpus_used);
	ck_assert_int_eq(mvmt_int(o, "limits.max_memory_mib"), 200);
	ck_assert_int_eq(mvmt_int(o, "limits.max_vcpus"), 3);
	json_object_put(o);
}

START_TEST(test_memory_budget)
{
	create_ch("a", 128, 1);
	create_ch("b", 100, 1);
	assert_capacity(0, 0);
	start_ok("a");
	assert_capacity(128, 1);
	assert_refused("b", "memory_mib", 128, 200, 100);
	assert_capacity(128, 1);
	stop_ok("a");
	assert_capacity(0, 0);
	start_ok("b");
	assert_capacity(100, 1);
	/* a no longer fits beside b. */
	assert_refused("a", "memory_mib", 100, 200, 128);
}
END_TEST

START_TEST(test_vcpu_budget)
{
	create_ch("a", 32, 2);
	create_ch("b", 32, 2);
	create_ch("c", 32, 1);
	start_ok("a");
	assert_refused("b", "vcpus", 2, 3, 2);
	start_ok("c");
	assert_capacity(64, 3);
	stop_ok("a");
	assert_capacity(32, 1);
	start_ok("b");
	assert_capacity(64, 3);
}
END_TEST

/* Over the whole budget, a VM is refused at create already. */
START_TEST(test_create_over_budget)
{
	char p[512];

	snprintf(p, sizeof(p), "{\"backend\":\"ch\",\"memory_mib\":256,\"kernel\":\"%s\"}", kernel);
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.create", p), RESOURCE_LIMIT);
	snprintf(p, sizeof(p), "{\"backend\":\"ch\",\"memory_mib\":32,\"vcpus\":4,\"kernel\":\"%s\"}", kernel);
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.create", p), RESOURCE_LIMIT);
}
END_TEST

START_TEST(test_status_process_usage)
{
	char path[64], comm[64] = "";

	create_ch("a", 64, 1);
	json_object *s = wl_status("a");
	ck_assert_ptr_null(mvmt_get(s, "cpu_seconds"));
	ck_assert_ptr_null(mvmt_get(s, "rss_bytes"));
	json_object_put(s);

	start_ok("a");
	s = wl_status("a");
	int pid = (int)mvmt_int(s, "pid");
	ck_assert_int_gt(pid, 0);
	/* The pid is the double's process. */
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(comm, sizeof(comm), f));
	fclose(f);
	ck_assert_msg(strncmp(comm, "fake-cloud", 10) == 0, "pid %d is %s", pid, comm);
	ck_assert_ptr_nonnull(mvmt_get(s, "cpu_seconds"));
	ck_assert(json_object_get_double(mvmt_get(s, "cpu_seconds")) >= 0);
	ck_assert_int_gt(mvmt_int(s, "rss_bytes"), 0);
	json_object_put(s);

	stop_ok("a");
	s = wl_status("a");
	ck_assert(strcmp(mvmt_str(s, "state"), "Stopped") == 0 || strcmp(mvmt_str(s, "state"), "Failed") == 0);
	ck_assert_ptr_null(mvmt_get(s, "cpu_seconds"));
	ck_assert_ptr_null(mvmt_get(s, "rss_bytes"));
	json_object_put(s);
}
END_TEST

/* Without the options, the budget comes from the host: sysinfo(2)'s RAM
 * less the reserve, the online CPUs times the overcommit factor
 * (docs/mvmd.8). */
START_TEST(test_defaults_from_host)
{
	mvmt_daemon_t d2;
	struct sysinfo si;
	uint64_t total, reserve;

	ck_assert_int_eq(sysinfo(&si), 0);
	total = ((uint64_t)si.totalram * si.mem_unit) >> 20;
	reserve = total / 8 < 256 ? 256 : total / 8;
	if (reserve > total / 2)
		reserve = total / 2;
	mvmt_daemon_init(&d2);
	mvmt_daemon_start(&d2, "--kvm-pool", "0", NULL);
	int c = mvmt_connect(d2.sock);
	json_object *o = mvmt_result(c, "compute.node.info", NULL);
	ck_assert_int_eq(mvmt_int(o, "capacity.vcpus_limit"), sysconf(_SC_NPROCESSORS_ONLN) * 64);
	ck_assert_int_eq(mvmt_int(o, "capacity.memory_mib_limit"), (int64_t)(total - reserve));
	ck_assert_int_eq(mvmt_int(o, "capacity.vcpus_used"), 0);
	ck_assert_int_eq(mvmt_int(o, "capacity.memory_mib_free"), (int64_t)(total - reserve));
	json_object_put(o);
	close(c);
	mvmt_forget_fd(c);
	mvmt_daemon_cleanup(&d2);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "budget",
		.timeout = 120,
		.setup = cap_setup,
		.teardown = cap_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_memory_budget),
			MVMT_TEST(test_vcpu_budget),
			MVMT_TEST(test_create_over_budget),
			MVMT_TEST(test_status_process_usage),
			MVMT_TEST(test_defaults_from_host)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd_capacity", .tcases = tcases)
