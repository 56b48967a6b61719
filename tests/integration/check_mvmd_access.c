/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who may use mvmd (docs/access.md), through the real mvmd and real
 * processes of other users: with --socket-group, a member of that group
 * (a test user made here) uses the RPC socket and a running VM's console
 * (attach, type, read the guest's answer); a user outside the group
 * reaches neither; without --socket-group, only root does.
 *
 * The test accounts are made once with groupadd/useradd: group mvmdtest
 * and user mvmdtest (a system account without home or shell, in that
 * group only); later runs reuse them. An account of that name that is not
 * such an account is never touched: the suite skips.
 *
 * The VM runs on the real /dev/kvm (tcase "kvm", skipped where KVM is not
 * usable) and as a ch VM driven against the cloud-hypervisor TEST DOUBLE
 * (tcase "ch-double"), whose serial port echoes what it is sent; mvmd
 * probes /dev/kvm before it calls the ch backend usable, which only the
 * real cloud-hypervisor needs, so the double gets a stand-in file.
 */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvmt-main.h"
#include "mvmtest.h"

#define TEST_ACCOUNT "mvmdtest"

typedef enum { BACKEND_KVM, BACKEND_CH_DOUBLE } backend_t;

static backend_t backend;
static mvmt_daemon_t d;
static int fd = -1;
static uid_t member_uid, outsider_uid;
static gid_t member_gid, outsider_gid;
static char fake_ch[PATH_MAX], fake_kvm[PATH_MAX], kernel[PATH_MAX];

/* --- the test accounts --------------------------------------------------- */

static int run(const char *const argv[])
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* NULL when group and user mvmdtest exist (made now if need be) and are
 * the test's, else why not. A concurrent run may make them first: each
 * lookup is repeated after the command. */
static const char *test_accounts(void)
{
	static const char *const groupadd[] = { "/usr/sbin/groupadd", "--system", TEST_ACCOUNT, NULL };
	static const char *const useradd[] = { "/usr/sbin/useradd", "--system", "--gid", TEST_ACCOUNT,
						"--no-create-home", "--home-dir", "/nonexistent",
						"--shell", "/usr/sbin/nologin", TEST_ACCOUNT, NULL };
	struct group *g;
	struct passwd *pw;

	if (geteuid() != 0)
		return "not root: cannot make test accounts or start mvmd";
	if (!getgrnam(TEST_ACCOUNT) && access(groupadd[0], X_OK) < 0)
		return "groupadd is missing (package passwd)";
	if (!getgrnam(TEST_ACCOUNT))
		(void)run(groupadd);
	g = getgrnam(TEST_ACCOUNT);
	if (!g)
		return "cannot make the group " TEST_ACCOUNT;
	member_gid = g->gr_gid;
	if (!getpwnam(TEST_ACCOUNT) && access(useradd[0], X_OK) < 0)
		return "useradd is missing (package passwd)";
	if (!getpwnam(TEST_ACCOUNT))
		(void)run(useradd);
	pw = getpwnam(TEST_ACCOUNT);
	if (!pw)
		return "cannot make the user " TEST_ACCOUNT;
	if (pw->pw_gid != member_gid || pw->pw_uid == 0 || strcmp(pw->pw_shell, "/usr/sbin/nologin") != 0)
		return "a user " TEST_ACCOUNT " exists that this suite did not make: not touched";
	member_uid = pw->pw_uid;
	pw = getpwnam("nobody");
	if (!pw)
		return "no user nobody to be the outsider";
	outsider_uid = pw->pw_uid;
	outsider_gid = pw->pw_gid;
	if (outsider_gid == member_gid)
		return "nobody's group is " TEST_ACCOUNT;
	return NULL;
}

/* --- daemon and VM --------------------------------------------------------- */

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("a stand-in\n", f);
	fclose(f);
}

static void start_daemon(bool group)
{
	const char *args[12];
	size_t n = 0;

	if (group) {
		args[n++] = "--socket-group";
		args[n++] = TEST_ACCOUNT;
	}
	if (backend == BACKEND_CH_DOUBLE) {
		args[n++] = "--ch-binary";
		args[n++] = fake_ch;
		args[n++] = "--kvm-device";
		args[n++] = fake_kvm;
		args[n++] = "--kvm-pool";
		args[n++] = "0";
	}
	while (n < sizeof(args) / sizeof(args[0]))
		args[n++] = NULL;
	mvmt_daemon_start(&d, args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7], NULL);
	fd = mvmt_connect(d.sock);
}

static void setup(void)
{
	const char *b = getenv("MVM_BUILD_DIR");
	char rel[256];

	snprintf(rel, sizeof(rel), "%s/tests/doubles/fake-cloud-hypervisor", b && *b ? b : "build");
	ck_assert_msg(realpath(rel, fake_ch), "%s is missing: run make", rel);
	mvmt_daemon_init(&d);
	/* others may pass through to the sockets below; mvmd decides there */
	ck_assert_int_eq(chmod(d.dir, 0711), 0);
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", d.dir);
	touch(kernel);
	snprintf(fake_kvm, sizeof(fake_kvm), "%s/fake-kvm", d.dir);
	touch(fake_kvm);
}

static void setup_kvm(void)
{
	backend = BACKEND_KVM;
	setup();
}

static void setup_ch(void)
{
	backend = BACKEND_CH_DOUBLE;
	setup();
}

static void teardown(void)
{
	if (d.pid > 0 && fd >= 0) {
		json_object *r = mvmt_result(fd, "compute.vm.list", NULL);
		json_object *vms = mvmt_get(r, "vms");
		for (size_t i = 0; i < json_object_array_length(vms); i++) {
			char p[128];
			snprintf(p, sizeof(p), "{\"id\":\"%s\",\"force\":true}",
				 mvmt_str(json_object_array_get_idx(vms, i), "id"));
			json_object_put(mvmt_call(fd, "compute.vm.remove", p));
		}
		json_object_put(r);
	}
	if (fd >= 0) {
		close(fd);
		mvmt_forget_fd(fd);
		fd = -1;
	}
	mvmt_daemon_cleanup(&d);
}

/* A running VM whose console answers what it is sent with "echo: ...". */
static void run_vm(const char *name)
{
	char p[PATH_MAX + 128];

	if (backend == BACKEND_CH_DOUBLE)
		snprintf(p, sizeof(p), "{\"name\":\"%s\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\"}", name,
			 kernel);
	else
		snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":16}", name);
	json_object_put(mvmt_result(fd, "compute.vm.create", p));
	json_object *r = mvmt_call_id(fd, "compute.vm.start", name, NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start: %s", json_object_to_json_string(r));
	json_object_put(r);
	/* the guest reads its console once it said it is up */
	mvmt_wait_log(fd, name, backend == BACKEND_KVM ? "mvm-guest: ready" : "mvm-init: ready");
}

static char console_path[PATH_MAX];

static void find_console(const char *name)
{
	json_object *r = mvmt_call_id(fd, "compute.vm.console.endpoint", name, NULL);
	snprintf(console_path, sizeof(console_path), "%s", mvmt_str(r, "result.path"));
	json_object_put(r);
}

/* --- what runs as another user (no ck_assert there: exit codes) ---------- */

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (c < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(c);
		return -e;
	}
	return c;
}

/* Read from c until the text holds needle (10 s). */
static bool read_until(int c, const char *needle)
{
	char buf[16384];
	size_t len = 0;

	for (int i = 0; i < 1000 && len < sizeof(buf) - 1; i++) {
		struct pollfd p = { .fd = c, .events = POLLIN };
		if (poll(&p, 1, 10) == 1) {
			ssize_t n = read(c, buf + len, sizeof(buf) - 1 - len);
			if (n <= 0)
				return false;
			len += (size_t)n;
			buf[len] = '\0';
			if (strstr(buf, needle))
				return true;
		}
	}
	return false;
}

/* As a member: the VM's console path from the RPC socket, then the console. */
static int member_uses_rpc_and_console(void *arg)
{
	const char *name = arg;
	char line[512];
	int c = connect_unix(d.sock), n;

	if (c < 0)
		return 10;
	n = snprintf(line, sizeof(line),
		     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"compute.vm.console.endpoint\",\"params\":{\"id\":\"%s\"}}\n", name);
	if (write(c, line, (size_t)n) != n || !read_until(c, "\"raw\""))
		return 11;
	/* ... and the log, which the guest's banner is in */
	n = snprintf(line, sizeof(line),
		     "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"compute.vm.logs\",\"params\":{\"id\":\"%s\"}}\n", name);
	if (write(c, line, (size_t)n) != n || !read_until(c, ": ready"))
		return 12;
	close(c);

	c = connect_unix(console_path);
	if (c < 0)
		return 13;
	if (write(c, "typed-by-member\n", 16) != 16)
		return 14;
	if (!read_until(c, "echo: typed-by-member"))
		return 15;
	close(c);
	return 0;
}

/* Outside the group: 0 when both sockets refuse with EACCES. */
static int outsider_refused(void *arg)
{
	int r = connect_unix(d.sock);

	if (r >= 0)
		return 1;
	if (r != -EACCES)
		return 3;
	r = connect_unix(console_path);
	if (r >= 0)
		return 2;
	return r == -EACCES ? 0 : 4;
}

/* --- the cases ------------------------------------------------------------ */

static void assert_mode(const char *path, mode_t mode, gid_t gid)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_msg((st.st_mode & 07777) == mode, "%s: mode %04o, not %04o", path, st.st_mode & 07777, mode);
	ck_assert_int_eq(st.st_uid, 0);
	ck_assert_int_eq(st.st_gid, gid);
}

START_TEST(test_group_member_uses_console)
{
	start_daemon(true);
	run_vm("shared");
	find_console("shared");
	assert_mode(d.sock, 0660, member_gid);
	assert_mode(console_path, 0660, member_gid);
	assert_mode(d.console, 0710, member_gid);

	gid_t groups[] = { member_gid };
	ck_assert_int_eq(mvmt_run_as(member_uid, member_gid, groups, 1, member_uses_rpc_and_console, "shared"), 0);
	ck_assert_int_eq(mvmt_run_as(outsider_uid, outsider_gid, NULL, 0, outsider_refused, NULL), 0);
	/* what the member typed reached the guest, for everyone to see */
	mvmt_wait_log(fd, "shared", "echo: typed-by-member");
}
END_TEST

/* Without --socket-group only root gets in, also after mvmd ran with one
 * (the console directory follows the option at every start). */
START_TEST(test_without_group_root_only)
{
	start_daemon(true);
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGTERM);
	start_daemon(false);
	run_vm("private");
	find_console("private");
	assert_mode(d.sock, 0600, 0);
	assert_mode(console_path, 0600, 0);
	struct stat st;
	ck_assert_int_eq(stat(d.console, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);

	gid_t groups[] = { member_gid };
	ck_assert_int_eq(mvmt_run_as(member_uid, member_gid, groups, 1, outsider_refused, NULL), 0);
}
END_TEST

/* Each case runs once on each backend. */
static const mvmt_test_t cases[] = {
	MVMT_TEST(test_group_member_uses_console),
	MVMT_TEST(test_without_group_root_only),
	{ 0 }
};

static const mvmt_tcase_t tcases[] = {
	{
		.name = "kvm",
		.timeout = 60,
		.setup = setup_kvm,
		.teardown = teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = cases,
	},
	{
		.name = "ch-double",
		.timeout = 60,
		.setup = setup_ch,
		.teardown = teardown,
		.tests = cases,
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd-access", .tcases = tcases, .skip = test_accounts)
