/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The zygote (daemon/vmm/zygote.c, docs/density.md): every worker a
 * process spawns is forked from one zygote that loaded the seccomp filter
 * once, so each holds that one filter (and no second one of its own), no
 * capability, no_new_privs, is the spawning process's child (CLONE_PARENT:
 * reaped by it, as an exec'd worker is) and still stops when told to (its
 * stop signal goes to its own vCPU thread). With the zygote off, workers
 * are exec'd and load their own filter, as before.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "kvm-helpers.h"
#include "kvm/zygote.h"
#include "mvmt-main.h"
#include "mvmtest.h"

/* "Key:\tvalue" of /proc/PID/status as text (static buffer). */
static const char *status_field(pid_t pid, const char *key)
{
	static char v[128];
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	v[0] = 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':') {
			snprintf(v, sizeof(v), "%s", line + strlen(key) + 1 + strspn(line + strlen(key) + 1, " \t"));
			v[strcspn(v, "\n")] = 0;
			break;
		}
	fclose(f);
	return v;
}

/* /proc/PID/cmdline with NULs as spaces (static buffer). */
static const char *cmdline(pid_t pid)
{
	static char buf[512];
	char path[64];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	buf[n] = 0;
	return buf;
}

/* Our children whose command line is the zygote's but the given pids. */
static int zygotes(pid_t not_a, pid_t not_b, pid_t *ret)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char want[32];
	int n = 0;

	snprintf(want, sizeof(want), "%d", (int)getpid());
	while (d && (de = readdir(d))) {
		pid_t p = (pid_t)atoi(de->d_name);
		if (p <= 0 || p == not_a || p == not_b || strcmp(status_field(p, "PPid"), want) != 0)
			continue;
		if (strcmp(status_field(p, "Name"), "mvm-zygote") == 0) {
			*ret = p;
			n++;
		}
	}
	if (d)
		closedir(d);
	return n;
}

static void assert_sandboxed(pid_t pid)
{
	char me[32];

	snprintf(me, sizeof(me), "%d", (int)getpid());
	ck_assert_str_eq(status_field(pid, "Seccomp"), "2");
	ck_assert_str_eq(status_field(pid, "Seccomp_filters"), "1");
	ck_assert_str_eq(status_field(pid, "NoNewPrivs"), "1");
	ck_assert_str_eq(status_field(pid, "CapEff"), "0000000000000000");
	ck_assert_str_eq(status_field(pid, "CapPrm"), "0000000000000000");
	ck_assert_str_eq(status_field(pid, "PPid"), me);
}

START_TEST(test_workers_share_the_zygotes_filter)
{
	tvm_t a, b;
	pid_t z = 0;
	unsigned long forks = kvm_zygote_forks();

	tvm_start(&a, "mvm-guest", NULL, 0);
	tvm_wait_console(&a, "mvm-guest: ready", 60000);
	tvm_start(&b, "mvm-guest", NULL, 0);
	tvm_wait_console(&b, "mvm-guest: ready", 60000);
	/* forked by the zygote, showing their own command lines */
	ck_assert_uint_eq(kvm_zygote_forks(), forks + 2);
	ck_assert_ptr_nonnull(strstr(cmdline(a.w.pid), "--kvm-fd=3 --image-fd=4 --assign-fd=5"));
	ck_assert_ptr_null(strstr(cmdline(a.w.pid), "--zygote-fd"));
	/* one filter each (the inherited one: a forked worker loads none),
	 * no capability, our children */
	assert_sandboxed(a.w.pid);
	assert_sandboxed(b.w.pid);
	ck_assert_str_eq(status_field(a.w.pid, "Name"), "mvm-vmm");
	/* one zygote for both, in the same one filter */
	ck_assert_int_eq(zygotes(a.w.pid, b.w.pid, &z), 1);
	assert_sandboxed(z);
	ck_assert_str_eq(status_field(z, "Name"), "mvm-zygote");
	/* a forced stop reaches its vCPU thread */
	ck_assert_int_eq(kvm_ctl_send_stop(a.w.ctl, 0), 0);
	int st = tvm_finish(&a, 60000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(a.res.outcome, KVM_OUTCOME_STOPPED);
	/* a graceful one too, and the guest exits by itself */
	ck_assert_int_eq(kvm_ctl_send_stop(b.w.ctl, 5000), 0);
	st = tvm_finish(&b, 60000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(b.res.outcome, KVM_OUTCOME_EXIT);
	tvm_cleanup(&a);
	tvm_cleanup(&b);
	/* the zygote stays for the next worker */
	ck_assert_int_eq(kill(z, 0), 0);
}
END_TEST

START_TEST(test_workload_in_a_forked_worker)
{
	tvm_t t;
	const char *args[] = { "7" };

	tvm_start(&t, "exitcode", args, 1);
	tvm_finish(&t, 60000);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_EXIT);
	ck_assert_uint_eq(t.res.exit_code, 7);
	tvm_cleanup(&t);
}
END_TEST

START_TEST(test_exec_when_off)
{
	tvm_t t;

	kvm_zygote_set_enabled(false);
	unsigned long forks = kvm_zygote_forks();
	tvm_start(&t, "mvm-guest", NULL, 0);
	tvm_wait_console(&t, "mvm-guest: ready", 60000);
	/* exec'd with its own line, and its own filter */
	ck_assert_uint_eq(kvm_zygote_forks(), forks);
	ck_assert_ptr_nonnull(strstr(cmdline(t.w.pid), "--kvm-fd=3"));
	assert_sandboxed(t.w.pid);
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 0), 0);
	tvm_finish(&t, 60000);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_STOPPED);
	tvm_cleanup(&t);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "zygote",
		.timeout = 120,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_workers_share_the_zygotes_filter),
			MVMT_TEST(test_workload_in_a_forked_worker),
			MVMT_TEST(test_exec_when_off)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "kvm-zygote", .tcases = tcases)
