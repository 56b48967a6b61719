/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A cold mvm-vmm takes its VM from an ASSIGN (daemon/vmm/assign.c), as a warm
 * one does: nothing a tenant gave is on its command line. Without
 * /dev/kvm the worker is run by hand (its "/dev/kvm" is /dev/null, so it
 * gets as far as creating the VM, after the ASSIGN); with it, a real
 * spawn's /proc/PID/cmdline and environ hold none of the VM's strings.
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "kvm-helpers.h"
#include "proto/warm.h"
#include "mvmtest.h"
#include "mvmt-main.h"

#define H1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"

typedef struct hand {
	char dir[32], log[64], result[64], ctl[64];
	int listen_fd, result_fd;
} hand_t;

static void hand_setup(hand_t *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(h->dir, sizeof(h->dir), "/tmp/mvm-assign.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(h->dir));
	snprintf(h->log, sizeof(h->log), "%s/log", h->dir);
	snprintf(h->result, sizeof(h->result), "%s/result", h->dir);
	snprintf(h->ctl, sizeof(h->ctl), "%s/ctl.sock", h->dir);
	h->result_fd = open(h->result, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(h->result_fd, 0);
	h->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h->ctl);
	ck_assert_int_eq(bind(h->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(h->listen_fd, 4), 0);
}

static void hand_cleanup(hand_t *h)
{
	safe_close(h->listen_fd);
	safe_close(h->result_fd);
	unlink(h->log);
	unlink(h->result);
	unlink(h->ctl);
	rmdir(h->dir);
}

/* Run mvm-vmm with fd 3 /dev/null, 4 a file, 5 the assign socket (a
 * queued if given, the sender's end closed) and the options given; its
 * exit status, its stderr in h->log. */
static int hand_run(hand_t *h, const kvm_warm_assign_t *a, const int fds[KVM_WARM_FD_MAX], const char *opt)
{
	char vmm[512];
	int sp[2], st;
	snprintf(vmm, sizeof(vmm), "%s/bin/mvm-vmm", tbuild());
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	if (a)
		ck_assert_int_eq(kvm_warm_send(sp[0], a, fds), 0);
	close(sp[0]);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR), log = open(h->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int image = open(vmm, O_RDONLY);
		if (null < 0 || log < 0 || image < 0)
			_exit(126);
		/* Moved high first, so the dup2s below cannot clobber them. */
		int s = fcntl(sp[1], F_DUPFD, 20), n = fcntl(null, F_DUPFD, 20), i = fcntl(image, F_DUPFD, 20);
		int l = fcntl(log, F_DUPFD, 20);
		dup2(n, 0);
		dup2(n, 1);
		dup2(l, 2);
		dup2(n, 3);
		dup2(i, 4);
		dup2(s, 5);
		close_range(6, ~0u, 0);
		execl(vmm, vmm, "--kvm-fd=3", "--image-fd=4", "--assign-fd=5", "--memory-mib=16", opt, (char *)NULL);
		_exit(127);
	}
	close(sp[1]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static char *read_all(const char *path)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static void assign_for(hand_t *h, kvm_warm_assign_t *a, int fds[KVM_WARM_FD_MAX])
{
	static const char *args[] = { "prog", "--password=ARG-SECRET-1" }, *envs[] = { "TOKEN=ENV-SECRET-1" },
			  *caps[] = { "stdout" };
	*a = (kvm_warm_assign_t){ .type = KVM_WARM_MSG_ASSIGN, .memory_mib = 16, .vcpus = 1, .workload = H1,
				  .nargs = 2, .ncaps = 1, .nenvs = 1,
				  .fd_mask = 1u << KVM_WARM_FD_CTL | 1u << KVM_WARM_FD_RESULT };
	a->args[0] = args[0];
	a->args[1] = args[1];
	a->caps[0] = caps[0];
	a->envs[0] = envs[0];
	for (int i = 0; i < KVM_WARM_FD_MAX; i++)
		fds[i] = -1;
	fds[KVM_WARM_FD_CTL] = h->listen_fd;
	fds[KVM_WARM_FD_RESULT] = h->result_fd;
}

START_TEST(test_cold_worker_takes_its_vm_from_the_assign)
{
	/* The result file reached the worker only in the ASSIGN: finding
	 * its verdict there ("creating the VM", the step after) shows the
	 * worker read the ASSIGN first and became that VM. */
	hand_t h;
	kvm_warm_assign_t *a = calloc(1, sizeof(*a));
	int fds[KVM_WARM_FD_MAX];
	kvm_result_t res;
	hand_setup(&h);
	assign_for(&h, a, fds);
	ck_assert_int_eq(hand_run(&h, a, fds, "--vcpus=1"), 1);
	ck_assert_int_eq(kvm_result_read(h.result, &res), 0);
	ck_assert_int_eq(res.outcome, KVM_OUTCOME_ERROR);
	ck_assert_msg(strstr(res.message, "creating the VM"), "result: %s", res.message);
	free(a);
	hand_cleanup(&h);
}
END_TEST

START_TEST(test_cold_worker_of_another_size)
{
	/* An ASSIGN for 32 MiB to a worker started for 16: an error told in
	 * the VM's own result file, before any VM is built. */
	hand_t h;
	kvm_warm_assign_t *a = calloc(1, sizeof(*a));
	int fds[KVM_WARM_FD_MAX];
	kvm_result_t res;
	hand_setup(&h);
	assign_for(&h, a, fds);
	a->memory_mib = 32;
	ck_assert_int_eq(hand_run(&h, a, fds, "--vcpus=1"), 1);
	ck_assert_int_eq(kvm_result_read(h.result, &res), 0);
	ck_assert_int_eq(res.outcome, KVM_OUTCOME_ERROR);
	ck_assert_msg(strstr(res.message, "another size"), "result: %s", res.message);
	free(a);
	hand_cleanup(&h);
}
END_TEST

START_TEST(test_cold_worker_without_an_assign)
{
	/* No message, or a PRIME: nothing to become; exit 1, said on its
	 * log, and its result file (which it never got) stays empty. */
	hand_t h;
	hand_setup(&h);
	ck_assert_int_eq(hand_run(&h, NULL, NULL, "--vcpus=1"), 1);
	ck_assert_msg(strstr(read_all(h.log), "reading the VM's ASSIGN"), "log: %s", read_all(h.log));
	int fds[KVM_WARM_FD_MAX] = { -1, -1, -1, -1, h.result_fd };
	kvm_warm_assign_t *p = calloc(1, sizeof(*p));
	*p = (kvm_warm_assign_t){ .type = KVM_WARM_MSG_PRIME, .fd_mask = 1u << KVM_WARM_FD_BLOB, .memory_mib = 16,
				  .vcpus = 1, .workload = H1 };
	ck_assert_int_eq(hand_run(&h, p, fds, "--vcpus=1"), 1);
	ck_assert_msg(strstr(read_all(h.log), "reading the VM's ASSIGN"), "log: %s", read_all(h.log));
	ck_assert_str_eq(read_all(h.result), "");
	free(p);
	hand_cleanup(&h);
}
END_TEST

START_TEST(test_vm_strings_are_no_options)
{
	/* The options that used to carry a VM's strings are gone; so is a
	 * worker with both an assign and a pool socket. */
	static const char *gone[] = { "--arg=x", "--env=A=b", "--cap=stdout", "--workload=" H1, "--ctl-fd=7",
				      "--result-fd=7", "--blob-fd=7", "--vsock-fd=7", "--pool-fd=7" };
	hand_t h;
	hand_setup(&h);
	for (size_t i = 0; i < ELEMENTSOF(gone); i++)
		ck_assert_msg(hand_run(&h, NULL, NULL, gone[i]) == 64, "%s accepted", gone[i]);
	hand_cleanup(&h);
}
END_TEST

/* Whether the NUL-separated file /proc/PID/<what> contains needle. */
static bool proc_has(pid_t pid, const char *what, const char *needle)
{
	char path[64], buf[65536];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	ck_assert_int_ge(n, 0);
	return memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
}

START_TEST(test_spawned_worker_shows_no_vm_strings)
{
	/* A real cold spawn of a VM with arguments, capabilities and an
	 * environment: none of them (nor its workload hash) is in the
	 * worker's argv or environment while it runs; the guest got them. */
	static const char *args[] = { "echo", "ARG-SECRET-2" }, *caps[] = { "stdout" }, *envs[] = { "TOKEN=ENV-SECRET-2" };
	tvm_t t;
	kvm_worker_config_t c;
	tvm_config(&t, "mvm-guest", &c);
	c.args = args;
	c.nargs = 2;
	c.caps = caps;
	c.ncaps = 1;
	c.envs = envs;
	c.nenvs = 1;
	int r = tvm_start_cfg(&t, &c);
	ck_assert_msg(r == 0, "spawn: %s", strerror(-r));
	tvm_wait_console(&t, "mvm-guest: ready", 20000);
	ck_assert_ptr_nonnull(strstr(t.console, "arg[1]=ARG-SECRET-2"));
	static const char *secrets[] = { "ARG-SECRET-2", "ENV-SECRET-2", "TOKEN", "--arg", "--cap", "--env" };
	for (size_t i = 0; i < ELEMENTSOF(secrets); i++) {
		ck_assert_msg(!proc_has(t.w.pid, "cmdline", secrets[i]), "%s in cmdline", secrets[i]);
		ck_assert_msg(!proc_has(t.w.pid, "environ", secrets[i]), "%s in environ", secrets[i]);
	}
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 0), 0);
	tvm_finish(&t, 20000);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_STOPPED);
	tvm_cleanup(&t);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "assign",
		.timeout = 60,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_cold_worker_takes_its_vm_from_the_assign),
			MVMT_TEST(test_cold_worker_of_another_size),
			MVMT_TEST(test_cold_worker_without_an_assign),
			MVMT_TEST(test_vm_strings_are_no_options)),
	},
	{
		.name = "spawned",
		.timeout = 60,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_spawned_worker_shows_no_vm_strings)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "kvm-assign", .tcases = tcases, .init = mvmt_ignore_sigpipe)
