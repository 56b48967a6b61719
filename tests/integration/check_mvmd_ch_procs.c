/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The processes of the ch backend through the real mvmd, against the
 * cloud-hypervisor double (tests/lib/ch-daemon.h): re-adoption of a
 * running cloud-hypervisor after kill -9 of mvmd (before and after its
 * vm.create), and nothing a tenant gave in any process's argv or
 * environment. The rest of the backend is check_mvmd_ch.c.
 */
/*
 * The ch backend's processes through the real mvmd, against a TEST DOUBLE of
 * cloud-hypervisor (build/tests/doubles/fake-cloud-hypervisor, which serves
 * the REST API double of tests/lib/ch-api-double.c): cloud-hypervisor is
 * not packaged by Debian and cannot boot a guest here. What this proves:
 * the command line mvmd runs (the API socket only: nothing a tenant gave
 * is in any process's argv or environment), the VmConfig it creates the
 * VM with (vm.create, vm.boot), readiness through vmm.ping and vm.info, the
 * serial console relay both ways, stop through the power button and its
 * escalation, the version and binary checks, crash reporting, and
 * re-adoption after kill -9 of mvmd. What it cannot prove (a real boot)
 * is tests/integration/check_ch_real.c.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/blob-proto.h"
#include "ch-daemon.h"
#include "mvmt-main.h"
#include "mvmtest.h"
#include "proc-scan.h"

START_TEST(test_readopt_after_kill9)
{
	chd_start(NULL);
	chd_create("keep");
	json_object *r = chd_call_id("compute.vm.start", "keep", NULL);
	int pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	chd_wait_log("keep", "mvm-init: ready");

	/* kill -9 mvmd: cloud-hypervisor runs on. */
	close(chd.fd);
	mvmt_forget_fd(chd.fd);
	mvmt_daemon_stop(&chd.d, SIGKILL);

	chd_start(NULL);
	/* Running may not have been written yet when mvmd died (it is
	 * written behind): then the restarted mvmd asks vm.info again. */
	json_object *s = mvmt_wait_state(chd.fd, "keep", "Running");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	ck_assert_int_eq(mvmt_int(s, "pid"), pid);
	json_object_put(s);
	/* The console relay is back: mvmd reconnected the serial socket. */
	chd_wait_log("keep", "fake-ch: serial reconnected");
	int c = chd_console_connect("keep");
	mvmt_write(c, "after restart\n", 14);
	chd_console_expect(c, "echo: after restart");
	/* the same process answered: it ran on through mvmd's death */
	ck_assert(!mvmt_process_ended(pid));
	close(c);
	mvmt_forget_fd(c);

	r = chd_call_id("compute.vm.stop", "keep", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	ck_assert_str_eq(mvmt_str(r, "result.cause"), "stopped (power button)");
	json_object_put(r);
	chd_wait_ended(pid);

	/* A cloud-hypervisor that ended while mvmd was down: Failed, with why. */
	r = chd_call_id("compute.vm.start", "keep", NULL);
	pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);
	close(chd.fd);
	mvmt_forget_fd(chd.fd);
	mvmt_daemon_stop(&chd.d, SIGKILL);
	kill(pid, SIGKILL);
	chd_wait_ended(pid);
	chd_start(NULL);
	s = chd_status("keep");
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	ck_assert_str_eq(mvmt_str(s, "cause"), "cloud-hypervisor ended while mvmd was down");
	json_object_put(s);
}
END_TEST

/* mvmd killed after the spawn, before its vm.create: the restarted mvmd
 * finds no VM behind the API (vm.info is an error) and creates and boots
 * it then, once. */
START_TEST(test_readopt_before_create)
{
	char reqs[512];

	chd_knob("MVM_FAKE_CH_DELAY_MS", "1500");
	chd_start(NULL);
	chd_create("late");
	json_object *r = chd_call_id("compute.vm.start", "late", "\"timeout_ms\":50");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32006);
	json_object_put(r);
	json_object *s = chd_status("late");
	int pid = (int)mvmt_int(s, "pid");
	json_object_put(s);
	chd_vm_file("late", "fake-ch.requests", reqs, sizeof(reqs));
	close(chd.fd);
	mvmt_forget_fd(chd.fd);
	mvmt_daemon_stop(&chd.d, SIGKILL);

	chd_start(NULL);
	s = chd_wait_state("late", "Running");
	ck_assert_int_eq(mvmt_int(s, "pid"), pid);
	json_object_put(s);
	const char *got = chd_slurp(reqs);
	ck_assert_msg(got && strstr(got, "GET /api/v1/vm.info\nPUT /api/v1/vm.create body="), "%s", got);
	ck_assert_ptr_null(strstr(strstr(got, "vm.create") + 1, "vm.create"));
	ck_assert_ptr_nonnull(strstr(got, "PUT /api/v1/vm.boot\n"));
	chd_wait_log("late", "mvm-init: ready");
}
END_TEST

/* --- nothing a tenant gave in any argv or environment --------------------- */

/* A ch VM's kernel command line, name, labels and kernel path are the
 * tenant's: cloud-hypervisor gets them through vm.create, never on its
 * command line, and it inherits none of mvmd's environment. */
START_TEST(test_no_tenant_strings)
{
	char cmdline[128], name[64], label[64], kname[64], kpath[300], canary[64], p[1024], path[512];

	snprintf(cmdline, sizeof(cmdline), "CMDLINE-SECRET-%d-%ld", (int)getpid(), (long)time(NULL));
	snprintf(name, sizeof(name), "name-secret-%d", (int)getpid());
	snprintf(label, sizeof(label), "LABEL-SECRET-%d", (int)getpid());
	snprintf(kname, sizeof(kname), "KERNEL-SECRET-%d-%ld", (int)getpid(), (long)time(NULL));
	snprintf(kpath, sizeof(kpath), "%s/vmlinuz-%s", chd.d.dir, kname);
	snprintf(canary, sizeof(canary), "MVMD-ENV-CANARY-%d", (int)getpid());
	ck_assert_int_eq(rename(chd.kernel, kpath), 0);
	/* mvmd's own environment must not reach cloud-hypervisor either. */
	setenv("MVMT_CH_CANARY", canary, 1);
	chd_start(NULL);
	unsetenv("MVMT_CH_CANARY");
	snprintf(p, sizeof(p),
		 "{\"name\":\"%s\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\","
		 "\"cmdline\":\"console=ttyS0 mvm.token=%s\",\"labels\":{\"team\":\"%s\"}}",
		 name, kpath, cmdline, label);
	json_object_put(mvmt_result(chd.fd, "compute.vm.create", p));
	json_object *r = chd_call_id("compute.vm.start", name, NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start failed: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	pid_t pid = (pid_t)mvmt_int(r, "result.pid");
	json_object_put(r);
	ck_assert(!mvmt_process_ended(pid));

	/* (mvmd's own environment holds the canary: it is checked below in
	 * what cloud-hypervisor got, not scanned for.) */
	const char *strs[] = { cmdline, name, label, kname };
	mvmt_proc_scan_t s;
	mvmt_proc_scan(strs, sizeof(strs) / sizeof(strs[0]), pid, &s);
	ck_assert_msg(s.hits == 0, "as root: %d hits, first: %s", s.hits, s.first);
	ck_assert_msg(s.saw_pid, "as root: cloud-hypervisor %d was not scanned", (int)pid);
	mvmt_proc_scan_as_nobody(strs, sizeof(strs) / sizeof(strs[0]), pid, &s);
	ck_assert_msg(s.hits == 0, "as nobody: %d hits, first: %s", s.hits, s.first);
	ck_assert_msg(s.saw_pid, "as nobody: cloud-hypervisor %d's cmdline was not readable", (int)pid);

	/* The VM really got them: the double's view of its VmConfig. */
	chd_vm_file(name, "fake-ch.config", path, sizeof(path));
	json_object *cfg = json_object_from_file(path);
	ck_assert_ptr_nonnull(cfg);
	snprintf(p, sizeof(p), "console=ttyS0 mvm.token=%s", cmdline);
	ck_assert_str_eq(mvmt_str(cfg, "payload.cmdline"), p);
	ck_assert_str_eq(mvmt_str(cfg, "payload.kernel"), kpath);
	json_object_put(cfg);

	/* Its whole environment, as it saw it: the sanitizer options at most. */
	chd_vm_file(name, "fake-ch.environ", path, sizeof(path));
	char *env = chd_slurp(path);
	ck_assert_ptr_nonnull(env);
	for (char *line = env; *line; line = strchr(line, '\n') + 1)
		ck_assert_msg(strncmp(line, "ASAN_OPTIONS=", 13) == 0 || strncmp(line, "UBSAN_OPTIONS=", 14) == 0 ||
				      strncmp(line, "LSAN_OPTIONS=", 13) == 0,
			      "cloud-hypervisor inherited %.*s", (int)strcspn(line, "\n"), line);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "mvmd_ch_procs",
		.timeout = 60,
		.setup = chd_setup,
		.teardown = chd_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_readopt_after_kill9),
			MVMT_TEST(test_no_tenant_strings),
			MVMT_TEST(test_readopt_before_create)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd_ch_procs", .tcases = tcases)
