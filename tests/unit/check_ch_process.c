/* SPDX-License-Identifier: Apache-2.0 */
/* Finding cloud-hypervisor, reading its version (once per change of the
 * file), and spawning it detached: against small shell scripts standing in
 * for the binary, and /bin/sh for the spawn. */
#include <check.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ch/process.h"
#include "mvmt-main.h"

static char dir[64];
static sd_event *event;
static supervisor_t *sv;

/* Runs the loop until the supervisor has reaped every child let go. */
static void reap_abandoned(void)
{
	for (int i = 0; i < 3000 && supervisor_pending(sv) > 0; i++)
		ck_assert_int_ge(sd_event_run(event, 10 * 1000), 0);
	ck_assert_uint_eq(supervisor_pending(sv), 0);
}

static void setup(void)
{
	strcpy(dir, "/tmp/ch-proc-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_ge(sd_event_new(&event), 0);
	ck_assert_int_ge(supervisor_new(event, &sv), 0);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	sv = supervisor_free(sv);
	event = sd_event_unref(event);
}

/* dir/name := "#!/bin/sh\n<body>" with mode; returns the path (static). */
static const char *script(const char *name, const char *body, mode_t mode)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

START_TEST(test_find)
{
	char *p = NULL, bin[128];

	snprintf(bin, sizeof(bin), "%s/bin", dir);
	ck_assert_int_eq(mkdir(bin, 0755), 0);
	script("bin/cloud-hypervisor", "exit 0", 0755);
	script("plain", "exit 0", 0644);

	char *old = strdup(getenv("PATH"));
	char path_env[256];
	snprintf(path_env, sizeof(path_env), "relative:/nonexistent:%s", bin);
	setenv("PATH", path_env, 1);
	ck_assert_int_eq(ch_binary_find("cloud-hypervisor", &p), 0);
	ck_assert_str_eq(p, script("bin/cloud-hypervisor", "exit 0", 0755));
	free(p);
	ck_assert_int_eq(ch_binary_find("cloud-hypervisor-nope", &p), -ENOENT);
	setenv("PATH", old, 1);
	free(old);

	ck_assert_int_eq(ch_binary_find(script("plain", "exit 0", 0644), &p), -EACCES);
	ck_assert_int_eq(ch_binary_find("/nonexistent/ch", &p), -ENOENT);
	ck_assert_int_eq(ch_binary_find(dir, &p), -EACCES); /* a directory */
	ck_assert_int_eq(ch_binary_find("", &p), -EINVAL);
}
END_TEST

START_TEST(test_version)
{
	ch_version_t v;
	char text[128];

	ck_assert_int_eq(ch_binary_version(script("ok", "echo 'cloud-hypervisor v41.0.0'; echo 'features: kvm'", 0755),
					   2000, &v, text, sizeof(text)),
			 0);
	ck_assert_uint_eq(v.major, 41);
	ck_assert_str_eq(text, "cloud-hypervisor v41.0.0");
	ck_assert_int_eq(ch_binary_version(script("garbage", "echo hello", 0755), 2000, &v, NULL, 0), -EINVAL);
	ck_assert_int_eq(ch_binary_version(script("fails", "echo 'cloud-hypervisor v41.0.0'; exit 3", 0755), 2000, &v,
					   NULL, 0),
			 -ENOEXEC);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(ch_binary_version(script("hangs", "exec sleep 30", 0755), 200, &v, NULL, 0), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 5);
	ck_assert_int_eq(ch_binary_version("/nonexistent", 2000, &v, NULL, 0), -ENOEXEC);
}
END_TEST

static int count_runs(void)
{
	char path[128], buf[64] = "";
	snprintf(path, sizeof(path), "%s/runs", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (int)strlen(buf);
}

START_TEST(test_probe_cache)
{
	ch_probe_t p = { 0 };
	char body[256], *reason = NULL, *path = NULL;

	snprintf(body, sizeof(body), "printf x >> %s/runs; echo 'cloud-hypervisor v36.0.0'", dir);
	const char *bin = script("ch", body, 0755);
	char binpath[256];
	snprintf(binpath, sizeof(binpath), "%s", bin);

	ck_assert_int_eq(ch_probe_binary(&p, binpath, 2000, &path, &reason), 0);
	ck_assert_str_eq(path, binpath);
	ck_assert_ptr_null(reason);
	free(path);
	ck_assert_int_eq(ch_probe_binary(&p, binpath, 2000, NULL, NULL), 0);
	ck_assert_int_eq(count_runs(), 1); /* cached while the file is unchanged */

	/* A new binary in place (another size): read again, and refused. */
	snprintf(body, sizeof(body), "printf x >> %s/runs; echo 'cloud-hypervisor v35.1.0-dirty'", dir);
	script("ch", body, 0755);
	ck_assert_int_eq(ch_probe_binary(&p, binpath, 2000, NULL, &reason), -EPROTONOSUPPORT);
	ck_assert_int_eq(count_runs(), 2);
	ck_assert_ptr_nonnull(strstr(reason, "is 35.1.0, older than the minimum v36.0"));
	free(reason);

	ck_assert_int_eq(ch_probe_binary(&p, "no-such-cloud-hypervisor", 2000, NULL, &reason), -ENOENT);
	ck_assert_str_eq(reason, "no-such-cloud-hypervisor not found on PATH (install it, or pass mvmd --ch-binary)");
	free(reason);
	ch_probe_done(&p);
}
END_TEST

START_TEST(test_log_last_line)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/log", dir);
	ck_assert_ptr_null(ch_log_last_line(path));
	FILE *f = fopen(path, "w");
	fprintf(f, "first\nError booting VM: \x1b[31mbad\tkernel\n\n  \n");
	fclose(f);
	char *l = ch_log_last_line(path);
	ck_assert_str_eq(l, "Error booting VM:  [31mbad kernel");
	free(l);
}
END_TEST

START_TEST(test_spawn_detached)
{
	/* The child says which session it is in, then becomes `sleep`, whose
	 * fds the test reads from outside: listing them from inside the shell
	 * (ls /proc/$$/fd | tr) raced with the shell's own pipe fds. */
	char log[128], *argv[] = { (char *)"/bin/sh", (char *)"-c",
				   (char *)"echo sid=$(cut -d' ' -f6 /proc/$$/stat) pid=$$; exec sleep 30", NULL };
	char path[64], comm[32] = "";
	pid_t pid;
	int pidfd, st;

	snprintf(log, sizeof(log), "%s/out.log", dir);
	int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int leak = open("/dev/null", O_RDONLY); /* not CLOEXEC: must not reach the child anyway */
	ck_assert_int_eq(ch_process_spawn(sv, argv, logfd, NULL, NULL, &pid, &pidfd), 0);
	close(leak);
	ck_assert_int_ge(pidfd, 0);

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	for (int i = 0; i < 500 && strcmp(comm, "sleep\n") != 0; i++) {
		FILE *c = fopen(path, "r");
		if (c) {
			if (!fgets(comm, sizeof(comm), c))
				comm[0] = '\0';
			fclose(c);
		}
		usleep(10000);
	}
	ck_assert_str_eq(comm, "sleep\n");
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	ck_assert_ptr_nonnull(d);
	int fds = 0;
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		ck_assert_msg(atoi(de->d_name) <= 2, "fd %s reached the child", de->d_name); /* nothing but stdio */
		fds++;
	}
	closedir(d);
	ck_assert_int_eq(fds, 3);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	close(pidfd);
	close(logfd);

	char buf[512] = "", want[64];
	FILE *f = fopen(log, "r");
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	snprintf(want, sizeof(want), "sid=%d pid=%d\n", (int)pid, (int)pid); /* its own session */
	ck_assert_str_eq(buf, want);

	char *missing[] = { (char *)"/nonexistent/cloud-hypervisor", NULL };
	logfd = open(log, O_WRONLY | O_APPEND | O_CLOEXEC);
	ck_assert_int_eq(ch_process_spawn(sv, missing, logfd, NULL, NULL, &pid, &pidfd), -ENOENT);
	reap_abandoned();
	close(logfd);
}
END_TEST

typedef struct gate {
	pid_t seen;
	char marker[200];
	int ret;
} gate_t;

/* The hook runs with the child forked but not yet exec'd; -EIO refuses. */
static int gate_hook(pid_t pid, void *userdata)
{
	gate_t *g = userdata;

	g->seen = pid;
	ck_assert_msg(access(g->marker, F_OK) < 0, "the child ran before the hook answered");
	return g->ret;
}

START_TEST(test_spawn_gated)
{
	gate_t g = { 0 };
	char log[128], cmd[300], *argv[] = { (char *)"/bin/sh", (char *)"-c", cmd, NULL };
	pid_t pid = 0;
	int pidfd = -1, st;

	snprintf(log, sizeof(log), "%s/out.log", dir);
	snprintf(g.marker, sizeof(g.marker), "%s/ran", dir);
	snprintf(cmd, sizeof(cmd), "touch '%s'", g.marker);
	int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	/* refused: killed before its exec, never runs */
	g.ret = -EIO;
	ck_assert_int_eq(ch_process_spawn(sv, argv, logfd, gate_hook, &g, &pid, &pidfd), -EIO);
	ck_assert_int_gt(g.seen, 0);
	reap_abandoned(); /* from the loop: the refusal did not wait for it */
	ck_assert_int_eq(waitpid(g.seen, &st, WNOHANG), -1); /* reaped */
	ck_assert_int_lt(access(g.marker, F_OK), 0);

	/* accepted: the same child pid then runs argv */
	g = (gate_t){ .ret = 0 };
	snprintf(g.marker, sizeof(g.marker), "%s/ran", dir);
	ck_assert_int_eq(ch_process_spawn(sv, argv, logfd, gate_hook, &g, &pid, &pidfd), 0);
	ck_assert_int_eq(pid, g.seen);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(access(g.marker, F_OK), 0);
	close(pidfd);
	close(logfd);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "ch_process",
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_find),
			MVMT_TEST(test_version),
			MVMT_TEST(test_probe_cache),
			MVMT_TEST(test_log_last_line),
			MVMT_TEST(test_spawn_detached),
			MVMT_TEST(test_spawn_gated)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "ch_process", .tcases = tcases)
