/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pause, resume and snapshots of kvm micro-VMs through the real mvmd on
 * the real /dev/kvm (docs/snapshots.md): a paused VM runs no guest code
 * and spends no CPU, keeps its console and stays paused across a restart
 * of mvmd; a workload snapshotted mid-run continues in a new VM and ends
 * with the right output and exit code while its origin runs on by itself;
 * corrupt, truncated, foreign and newer snapshots are refused with nothing
 * made; a snapshot outlives mvmd; a worker that does not answer a pause,
 * resume or snapshot is killed at the deadline and the request answered.
 *
 * The guest is tests/microvm-guests/steps.c: each console byte is a step
 * that adds the byte to a sum; after the last it exits with the sum's low
 * byte.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvmtest.h"
#include "mvmt-events.h"
#include "mvmt-main.h"
#include "proto/snapshot.h"
#include "util/sha256.h"

static mvmt_daemon_t d;
static int fd;
static char guests[4096];
static bool exec_workers; /* --no-kvm-zygote: workers exec'd, not forked by the zygote */
static bool no_pool;      /* --kvm-pool 0: every restore in a cold worker */
static const char *op_timeout_ms; /* --kvm-op-timeout-ms, or NULL */

static void start_daemon(void)
{
	if (no_pool)
		mvmt_daemon_start(&d, "--allow-custom-guests", "--kvm-pool", "0", NULL);
	else if (exec_workers)
		mvmt_daemon_start(&d, "--allow-custom-guests", "--no-kvm-zygote", NULL);
	else if (op_timeout_ms)
		mvmt_daemon_start(&d, "--allow-custom-guests", "--kvm-op-timeout-ms", op_timeout_ms, NULL);
	else
		mvmt_daemon_start(&d, "--allow-custom-guests", NULL);
	fd = mvmt_connect(d.sock);
}

static void stop_daemon(int sig)
{
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, sig);
}

static void setup_with(bool exec)
{
	exec_workers = exec;
	const char *b = getenv("MVM_BUILD_DIR");
	char rel[200];
	snprintf(rel, sizeof(rel), "%s/guest/tests", b && *b ? b : "build");
	ck_assert_ptr_nonnull(realpath(rel, guests));
	mvmt_daemon_init(&d);
	start_daemon();
}

static void setup(void)
{
	op_timeout_ms = NULL;
	no_pool = false;
	setup_with(false);
}

/* No warm pool: a restore spawns its worker, which restores before its
 * filter (a zygote's in the zygote's). */
static void setup_cold(void)
{
	op_timeout_ms = NULL;
	no_pool = true;
	setup_with(false);
}

/* A deadline shorter than the default, long enough for a healthy worker
 * under TCG (kvm-in-qemu) to answer a pause many times over. */
#define OP_TIMEOUT_MS "5000"

static void setup_deadline(void)
{
	op_timeout_ms = OP_TIMEOUT_MS;
	no_pool = false;
	setup_with(false);
}

/* The same with every worker exec'd: the snapshot reaches the worker
 * as posix_spawn's fd 7 instead of in the zygote's request, and the
 * worker restores before loading its own filter. */
static void setup_exec(void)
{
	op_timeout_ms = NULL;
	no_pool = false;
	setup_with(true);
}

static void teardown(void)
{
	/* Workers outlive mvmd by design: stop the paused ones too. */
	json_object *r = mvmt_result(fd, "compute.vm.list", "{\"state\":\"Paused\"}");
	json_object *vms = mvmt_get(r, "vms");
	for (size_t i = 0; i < json_object_array_length(vms); i++)
		json_object_put(mvmt_call_id(fd, "compute.vm.stop", mvmt_str(json_object_array_get_idx(vms, i), "id"),
					     "\"force\":true"));
	json_object_put(r);
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_stop_running_vms(&d);
	mvmt_daemon_cleanup(&d);
}

static void create_guest(const char *name, const char *guest, const char *arg)
{
	char p[5200];
	snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":16,\"guest\":{\"image\":\"%s/%s\",\"args\":[\"%s\"]}}", name,
		 guests, guest, arg);
	json_object_put(mvmt_result(fd, "compute.vm.create", p));
}

static json_object *ok(const char *method, const char *name, const char *extra)
{
	json_object *r = mvmt_call_id(fd, method, name, extra);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "%s %s: %s", method, name, json_object_to_json_string(r));
	return r;
}

/* Logs are polled for 60 s: a guest under TCG (kvm-in-qemu) is slow. */
static void wait_log(const char *name, const char *needle)
{
	for (int i = 0; i < 6000; i++) {
		json_object *r = mvmt_call_id(fd, "compute.vm.logs", name, NULL);
		bool found = strstr(mvmt_str(r, "result.data"), needle) != NULL;
		json_object_put(r);
		if (found)
			return;
		usleep(10000);
	}
	ck_abort_msg("%s: log never showed \"%s\"", name, needle);
}

static bool log_has(const char *name, const char *needle)
{
	json_object *r = mvmt_call_id(fd, "compute.vm.logs", name, NULL);
	bool found = strstr(mvmt_str(r, "result.data"), needle) != NULL;
	json_object_put(r);
	return found;
}

static void console_send(const char *name, const char *bytes)
{
	json_object *r = mvmt_call_id(fd, "compute.vm.console.endpoint", name, NULL);
	int c = mvmt_connect(mvmt_str(r, "result.path"));
	json_object_put(r);
	mvmt_write(c, bytes, strlen(bytes));
	/* The relay reads it before it sees the hang-up (both in order). */
	close(c);
	mvmt_forget_fd(c);
}

static const char *state_of(const char *name, char *buf, size_t size)
{
	json_object *s = mvmt_status(fd, name);
	snprintf(buf, size, "%s", mvmt_str(s, "state"));
	json_object_put(s);
	return buf;
}

static int pid_of(const char *name)
{
	json_object *s = mvmt_status(fd, name);
	int pid = (int)mvmt_int(s, "pid");
	json_object_put(s);
	return pid;
}

/* utime + stime of every thread of pid, in clock ticks. */
static unsigned long long cpu_ticks(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(f, 0);
	ssize_t n = read(f, buf, sizeof(buf) - 1);
	close(f);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	unsigned long long ut = 0, st = 0;
	/* after ")": state(3) ... utime is field 14, stime 15 */
	ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st), 2);
	return ut + st;
}

/* The warm pool's hits (node.info), -1 with no pool. */
static int64_t pool_hits(void)
{
	json_object *r = mvmt_result(fd, "compute.node.info", NULL);
	json_object *h = mvmt_get(r, "backends.kvm.pool.hits");
	int64_t n = h ? json_object_get_int64(h) : -1;
	json_object_put(r);
	return n;
}

/* Once the pool has a warm worker ready (60 s under TCG): its hits. */
static int64_t pool_hits_when_ready(void)
{
	for (int i = 0; !no_pool && i < 6000; i++) {
		json_object *r = mvmt_result(fd, "compute.node.info", NULL);
		json_object *ready = mvmt_get(r, "backends.kvm.pool.ready");
		bool ok = ready && json_object_get_int(ready) > 0;
		json_object_put(r);
		if (ok)
			break;
		usleep(10000);
	}
	return pool_hits();
}

/* Start name (with extra): Running, in a warm worker unless there is no
 * pool (the restore inside the worker's sandbox, vmm_restore_warm). */
static json_object *start_restored(const char *name, const char *extra)
{
	int64_t hits = pool_hits_when_ready();
	json_object *r = ok("compute.vm.start", name, extra);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	ck_assert_int_eq(pool_hits(), no_pool ? -1 : hits + 1);
	return r;
}

static void snapshot_of(const char *name, char *hash, size_t size)
{
	json_object *r = ok("compute.vm.snapshot", name, NULL);
	ck_assert_str_eq(mvmt_str(r, "result.snapshot.name"), "1");
	snprintf(hash, size, "%s", mvmt_str(r, "result.snapshot.hash"));
	ck_assert_int_eq(strlen(hash), 71);
	json_object_put(r);
}

START_TEST(test_pause_resume_costs_no_cpu)
{
	char st[32];
	create_guest("spin", "loop", "0");
	json_object_put(ok("compute.vm.start", "spin", NULL));
	wait_log("spin", "looping");
	int pid = pid_of("spin");

	json_object *r = ok("compute.vm.pause", "spin", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Paused");
	json_object_put(r);
	ck_assert_str_eq(state_of("spin", st, sizeof(st)), "Paused");
	ck_assert_int_eq(pid_of("spin"), pid);
	/* A spinning guest burns a whole CPU; paused it burns none. Over a
	 * second of other work, the worker gets at most a tick or two. */
	unsigned long long t0 = cpu_ticks(pid);
	for (int i = 0; i < 20; i++) {
		json_object_put(mvmt_status(fd, "spin"));
		usleep(50000);
	}
	unsigned long long t1 = cpu_ticks(pid);
	ck_assert_msg(t1 - t0 <= 2, "paused worker used %llu ticks", t1 - t0);
	/* Pause again: -32002, still Paused */
	r = mvmt_call_id(fd, "compute.vm.pause", "spin", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32002);
	json_object_put(r);

	r = ok("compute.vm.resume", "spin", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	/* It spins again: its CPU time grows. */
	bool grew = false;
	for (int i = 0; i < 600 && !grew; i++) {
		usleep(50000);
		grew = cpu_ticks(pid) > t1 + 5;
	}
	ck_assert_msg(grew, "resumed worker does not run");
	r = mvmt_call_id(fd, "compute.vm.resume", "spin", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32002);
	json_object_put(r);

	/* A paused VM stops (forced or not) */
	json_object_put(ok("compute.vm.pause", "spin", NULL));
	r = ok("compute.vm.stop", "spin", "\"timeout_ms\":500");
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Stopped");
	json_object_put(r);
	json_object *s = mvmt_status(fd, "spin");
	const char *ts = json_object_to_json_string_ext(mvmt_get(s, "transitions"), JSON_C_TO_STRING_PLAIN);
	ck_assert_msg(strstr(ts, "\"to\":\"Paused\"") && strstr(ts, "\"cause\":\"resumed\""), "%s", ts);
	json_object_put(s);
}
END_TEST

START_TEST(test_paused_guest_keeps_console)
{
	create_guest("steps", "steps", "2");
	json_object_put(ok("compute.vm.start", "steps", NULL));
	wait_log("steps", "steps=2");
	/* Paused while it waits for input: input is kept, no step is taken. */
	json_object_put(ok("compute.vm.pause", "steps", NULL));
	console_send("steps", "a");
	json_object *r = ok("compute.vm.snapshot", "steps", NULL); /* a round trip through the worker */
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Paused");
	json_object_put(r);
	ck_assert(!log_has("steps", "step 1"));
	json_object_put(ok("compute.vm.resume", "steps", NULL));
	wait_log("steps", "step 1 sum=97");
	console_send("steps", "b");
	json_object *s = mvmt_wait_final(fd, "steps", 60000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), (97 + 98) & 0xff);
	json_object_put(s);
	wait_log("steps", "done sum=195");
}
END_TEST

START_TEST(test_snapshot_midrun_continues_independently)
{
	char hash[80], p[256];
	create_guest("origin", "steps", "4");
	json_object_put(ok("compute.vm.start", "origin", NULL));
	wait_log("origin", "steps=4");
	console_send("origin", "a");
	wait_log("origin", "step 1 sum=97");

	/* A Running VM is paused around its snapshot and runs on. */
	snapshot_of("origin", hash, sizeof(hash));
	char st[32];
	ck_assert_str_eq(state_of("origin", st, sizeof(st)), "Running");
	json_object *r = mvmt_result(fd, "compute.blob.stat", (snprintf(p, sizeof(p), "{\"hash\":\"%s\"}", hash), p));
	ck_assert_int_gt(mvmt_int(r, "size"), 4096);
	json_object_put(r);

	snprintf(p, sizeof(p), "{\"name\":\"copy\",\"memory_mib\":16,\"snapshot\":\"%s\"}", hash);
	r = mvmt_result(fd, "compute.vm.create", p);
	ck_assert_str_eq(mvmt_str(r, "state"), "Configured");
	json_object_put(r);
	r = start_restored("copy", NULL);
	ck_assert_int_ne(mvmt_int(r, "result.pid"), pid_of("origin"));
	json_object_put(r);

	/* Each goes on from step 1 with its own input. */
	console_send("copy", "bcd");
	console_send("origin", "xyz");
	json_object *s = mvmt_wait_final(fd, "copy", 60000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), (97 + 98 + 99 + 100) & 0xff);
	json_object_put(s);
	wait_log("copy", "step 4 sum=394");
	wait_log("copy", "done sum=394");
	ck_assert(!log_has("copy", "step 1")); /* it began after step 1 */
	s = mvmt_wait_final(fd, "origin", 60000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), (97 + 120 + 121 + 122) & 0xff);
	json_object_put(s);
	wait_log("origin", "done sum=460");

	/* start {snapshot: "1"}: the origin goes back to its own snapshot. */
	json_object_put(start_restored("origin", "\"snapshot\":\"1\""));
	console_send("origin", "\x01\x01\x01");
	s = mvmt_wait_final(fd, "origin", 60000);
	ck_assert_int_eq(mvmt_int(s, "exit_code"), (97 + 3) & 0xff);
	json_object_put(s);
}
END_TEST

/* The snapshot's bytes, from the store. */
static uint8_t *read_blob(const char *hash, size_t *ret_len)
{
	char path[PATH_MAX];
	struct stat stt;
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", d.state, hash + 7);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(f, 0);
	ck_assert_int_eq(fstat(f, &stt), 0);
	uint8_t *b = malloc((size_t)stt.st_size);
	ck_assert_int_eq(read(f, b, (size_t)stt.st_size), stt.st_size);
	close(f);
	*ret_len = (size_t)stt.st_size;
	return b;
}

/* Entries of dir but those whose name begins with a dot (0 when it
 * does not exist). */
static int count_entries(const char *dir)
{
	DIR *dd = opendir(dir);
	int n = 0;

	for (struct dirent *de; dd && (de = readdir(dd));)
		n += de->d_name[0] != '.';
	if (dd)
		closedir(dd);
	return n;
}

static int nvms(void)
{
	json_object *r = mvmt_result(fd, "compute.vm.list", NULL);
	int n = (int)json_object_array_length(mvmt_get(r, "vms"));
	json_object_put(r);
	return n;
}

/* Put bytes as a blob (through a host file), create a VM from them:
 * refused with -32602 and reason containing want; no VM made. */
static void refused(const uint8_t *b, size_t len, bool fix_trailer, const char *want)
{
	char path[PATH_MAX], p[PATH_MAX + 64];
	uint8_t *copy = malloc(len);
	memcpy(copy, b, len);
	if (fix_trailer && len >= KVM_SNAP_TRAILER_SIZE)
		sha256(copy, len - KVM_SNAP_TRAILER_SIZE, copy + len - KVM_SNAP_TRAILER_SIZE);
	snprintf(path, sizeof(path), "%s/bad.snap", d.dir);
	int f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(f, 0);
	ck_assert_int_eq(write(f, copy, len), (ssize_t)len);
	close(f);
	free(copy);
	snprintf(p, sizeof(p), "{\"path\":\"%s\"}", path);
	json_object *r = mvmt_result(fd, "compute.blob.put", p);
	char hash[80];
	snprintf(hash, sizeof(hash), "%s", mvmt_str(r, "hash"));
	json_object_put(r);

	int before = nvms();
	snprintf(p, sizeof(p), "{\"name\":\"bad\",\"memory_mib\":16,\"snapshot\":\"%s\"}", hash);
	r = mvmt_call(fd, "compute.vm.create", p);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32602);
	ck_assert_str_eq(mvmt_str(r, "error.data.param"), "snapshot");
	ck_assert_msg(strstr(mvmt_str(r, "error.data.reason"), want), "%s", json_object_to_json_string(r));
	json_object_put(r);
	ck_assert_int_eq(nvms(), before);
	r = mvmt_call(fd, "compute.vm.status", "{\"id\":\"bad\"}");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32001);
	json_object_put(r);
}

START_TEST(test_bad_snapshots_refused)
{
	char hash[80];
	size_t len;
	create_guest("src", "steps", "2");
	json_object_put(ok("compute.vm.start", "src", NULL));
	wait_log("src", "steps=2");
	json_object_put(ok("compute.vm.pause", "src", NULL));
	snapshot_of("src", hash, sizeof(hash));
	uint8_t *b = read_blob(hash, &len);

	refused(b, len / 2, false, "truncated");
	uint8_t *x = malloc(len);
	memcpy(x, b, len);
	x[len / 2] ^= 0x40;
	refused(x, len, false, "corrupt");
	/* Another host: its CPUID differs (the trailer matches the change). */
	memcpy(x, b, len);
	struct kvm_cpuid_entry2 *e = (void *)(x + KVM_SNAP_HEADER_SIZE + sizeof(kvm_snap_section_t) + 8);
	e->eax ^= 1;
	refused(x, len, true, "other CPU features");
	/* A newer format */
	memcpy(x, b, len);
	((kvm_snap_header_t *)(void *)x)->version = KVM_SNAP_VERSION + 1;
	refused(x, len, true, "format version");
	/* Not a snapshot at all */
	refused((const uint8_t *)"hello, world\n", 13, false, "no snapshot header");
	free(x);
	free(b);
	/* A size other than the snapshot's */
	char p[256];
	snprintf(p, sizeof(p), "{\"name\":\"big\",\"memory_mib\":32,\"snapshot\":\"%s\"}", hash);
	json_object *r = mvmt_call(fd, "compute.vm.create", p);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32602);
	ck_assert_str_eq(mvmt_str(r, "error.data.param"), "memory_mib");
	json_object_put(r);
	/* The origin is untouched by all this. */
	char st[32];
	ck_assert_str_eq(state_of("src", st, sizeof(st)), "Paused");
}
END_TEST

START_TEST(test_pause_and_snapshot_survive_restart)
{
	char hash[80], st[32], p[256];
	create_guest("keep", "steps", "2");
	json_object_put(ok("compute.vm.start", "keep", NULL));
	wait_log("keep", "steps=2");
	int pid = pid_of("keep");
	json_object_put(ok("compute.vm.pause", "keep", NULL));
	snapshot_of("keep", hash, sizeof(hash));

	stop_daemon(SIGKILL);
	start_daemon();
	/* Re-adopted, still paused: input waits, no step is taken. */
	ck_assert_str_eq(state_of("keep", st, sizeof(st)), "Paused");
	ck_assert_int_eq(pid_of("keep"), pid);
	console_send("keep", "a");
	json_object_put(ok("compute.vm.snapshot", "keep", NULL)); /* a round trip */
	ck_assert(!log_has("keep", "step 1"));
	json_object_put(ok("compute.vm.resume", "keep", NULL));
	wait_log("keep", "step 1 sum=97");

	/* The snapshot taken before the restart makes a VM after it. */
	snprintf(p, sizeof(p), "{\"name\":\"later\",\"memory_mib\":16,\"snapshot\":\"%s\"}", hash);
	json_object_put(mvmt_result(fd, "compute.vm.create", p));
	json_object_put(ok("compute.vm.start", "later", NULL));
	console_send("later", "AB");
	json_object *s = mvmt_wait_final(fd, "later", 60000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), (65 + 66) & 0xff);
	json_object_put(s);
	console_send("keep", "b");
	s = mvmt_wait_final(fd, "keep", 60000);
	ck_assert_int_eq(mvmt_int(s, "exit_code"), (97 + 98) & 0xff);
	json_object_put(s);
}
END_TEST

/* A VM restored in a warm worker (or a cold one, kvm-cold) outlives a
 * kill -9 of mvmd as any VM does: the next mvmd re-adopts the same
 * worker, and the guest goes on from where its snapshot stood. */
START_TEST(test_restored_vm_survives_restart)
{
	char hash[80], st[32], p[256];
	create_guest("base", "steps", "2");
	json_object_put(ok("compute.vm.start", "base", NULL));
	wait_log("base", "steps=2");
	snapshot_of("base", hash, sizeof(hash));
	snprintf(p, sizeof(p), "{\"name\":\"twin\",\"memory_mib\":16,\"snapshot\":\"%s\"}", hash);
	json_object_put(mvmt_result(fd, "compute.vm.create", p));
	json_object *r = start_restored("twin", NULL);
	int pid = (int)mvmt_int(r, "result.pid");
	json_object_put(r);

	stop_daemon(SIGKILL);
	start_daemon();
	ck_assert_str_eq(state_of("twin", st, sizeof(st)), "Running");
	ck_assert_int_eq(pid_of("twin"), pid);
	console_send("twin", "CD");
	json_object *s = mvmt_wait_final(fd, "twin", 60000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), (67 + 68) & 0xff);
	json_object_put(s);
	wait_log("twin", "done sum=135");
	json_object_put(ok("compute.vm.stop", "base", "\"force\":true"));
}
END_TEST

/*
 * A wedged worker: stopped with SIGSTOP, it reads nothing and answers
 * nothing. `method` of `name` must be answered -32006 at the deadline
 * (not hang), the worker killed and the VM Failed, with nothing left
 * waiting: the same connection answers the next call.
 */
static void unanswered(const char *name, const char *method, const char *msg)
{
	char line[256], want[128];
	int pid = pid_of(name);

	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(pid, SIGSTOP), 0);
	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"%s\",\"params\":{\"id\":\"%s\"}}", method,
		 name);
	mvmt_send_line(fd, line);
	/* Far past the deadline: the answer must come, whatever the load. */
	char *resp = mvmt_read_line(fd, 120000);
	ck_assert_msg(resp != NULL, "%s of a worker that does not answer: no answer", method);
	json_object *r = json_tokener_parse(resp);
	free(resp);
	ck_assert_int_eq(mvmt_int(r, "id"), 7);
	ck_assert_msg(mvmt_int(r, "error.code") == -32006, "%s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "error.data.errno"), "ETIMEDOUT");
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), "Failed");
	snprintf(want, sizeof(want), "the worker did not answer %s within " OP_TIMEOUT_MS, msg);
	ck_assert_msg(strstr(mvmt_str(r, "error.data.reason"), want), "%s", json_object_to_json_string(r));
	json_object_put(r);

	json_object *s = mvmt_status(fd, name);
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	snprintf(want, sizeof(want), "killed by mvmd: the worker did not answer %s", msg);
	ck_assert_msg(strstr(mvmt_str(s, "cause"), want), "%s", mvmt_str(s, "cause"));
	json_object_put(s);
	ck_assert(mvmt_wait_process_ended(pid, 60000));
}

START_TEST(test_unanswered_pause_resume_snapshot)
{
	char dir[PATH_MAX];

	create_guest("p", "loop", "0");
	create_guest("r", "steps", "2");
	create_guest("s", "steps", "2");
	json_object_put(ok("compute.vm.start", "p", NULL));
	json_object_put(ok("compute.vm.start", "r", NULL));
	json_object_put(ok("compute.vm.start", "s", NULL));
	wait_log("p", "looping");
	wait_log("r", "steps=2");
	wait_log("s", "steps=2");

	unanswered("p", "compute.vm.pause", "PAUSE");
	json_object_put(ok("compute.vm.pause", "r", NULL));
	unanswered("r", "compute.vm.resume", "RESUME");
	/* A snapshot begins with a PAUSE, of a Paused VM too. */
	json_object_put(ok("compute.vm.pause", "s", NULL));
	json_object *st = mvmt_status(fd, "s");
	snprintf(dir, sizeof(dir), "%s/vms/%s/snapshots", d.state, mvmt_str(st, "id"));
	json_object_put(st);
	unanswered("s", "compute.vm.snapshot", "PAUSE");
	/* The failed snapshot left no directory. */
	ck_assert_int_eq(count_entries(dir), 0);
	/* A Failed VM starts again, and its pause is answered as before. */
	json_object_put(ok("compute.vm.start", "p", NULL));
	json_object *r = ok("compute.vm.pause", "p", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Paused");
	json_object_put(r);
}
END_TEST

/* Without KVM too: what is not a snapshot is refused at the door. */
START_TEST(test_not_a_snapshot_anywhere)
{
	/* "hello" */
	json_object *r = mvmt_call(fd, "compute.blob.put", "{\"data\":\"aGVsbG8=\",\"kind\":\"snapshot\"}");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32602);
	ck_assert_str_eq(mvmt_str(r, "error.data.param"), "data");
	ck_assert_msg(strstr(mvmt_str(r, "error.data.reason"), "not a snapshot"), "%s", json_object_to_json_string(r));
	json_object_put(r);
	r = mvmt_result(fd, "compute.blob.list", NULL);
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "blobs")), 0);
	json_object_put(r);

	/* stored raw, it still makes no VM */
	r = mvmt_result(fd, "compute.blob.put", "{\"data\":\"aGVsbG8=\"}");
	char p[256];
	snprintf(p, sizeof(p), "{\"name\":\"bad\",\"memory_mib\":16,\"snapshot\":\"%s\"}", mvmt_str(r, "hash"));
	json_object_put(r);
	r = mvmt_call(fd, "compute.vm.create", p);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32602);
	ck_assert_msg(strstr(mvmt_str(r, "error.data.reason"), "no snapshot header"), "%s", json_object_to_json_string(r));
	json_object_put(r);
	/* a blob that is not there */
	r = mvmt_call(fd, "compute.vm.create",
		      "{\"name\":\"bad\",\"memory_mib\":16,\"snapshot\":\"sha256:"
		      "0000000000000000000000000000000000000000000000000000000000000000\"}");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32602);
	ck_assert_msg(strstr(mvmt_str(r, "error.data.reason"), "no blob"), "%s", json_object_to_json_string(r));
	json_object_put(r);
	/* ch VMs restore their own snapshots by name only */
	r = mvmt_call(fd, "compute.vm.create",
		      "{\"name\":\"bad\",\"backend\":\"ch\",\"kernel\":\"/nonexistent\",\"memory_mib\":64,\"snapshot\":\"sha256:"
		      "0000000000000000000000000000000000000000000000000000000000000000\"}");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32602);
	json_object_put(r);
	ck_assert_int_eq(nvms(), 0);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/vms", d.state);
	ck_assert_int_eq(count_entries(dir), 0);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "kvm",
		.timeout = 300,
		.setup = setup,
		.teardown = teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_pause_resume_costs_no_cpu),
			MVMT_TEST(test_paused_guest_keeps_console),
			MVMT_TEST(test_snapshot_midrun_continues_independently),
			MVMT_TEST(test_bad_snapshots_refused),
			MVMT_TEST(test_pause_and_snapshot_survive_restart),
			MVMT_TEST(test_restored_vm_survives_restart)),
	},
	{
		.name = "kvm-exec",
		.timeout = 300,
		.setup = setup_exec,
		.teardown = teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(MVMT_TEST(test_pause_resume_costs_no_cpu),
				    MVMT_TEST(test_snapshot_midrun_continues_independently)),
	},
	{
		.name = "kvm-cold",
		.timeout = 300,
		.setup = setup_cold,
		.teardown = teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(MVMT_TEST(test_snapshot_midrun_continues_independently),
				    MVMT_TEST(test_restored_vm_survives_restart)),
	},
	{
		.name = "kvm-deadline",
		.timeout = 600,
		.setup = setup_deadline,
		.teardown = teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(MVMT_TEST(test_unanswered_pause_resume_snapshot)),
	},
	{
		/* Runs everywhere, /dev/kvm or not. */
		.name = "any",
		.timeout = 60,
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(MVMT_TEST(test_not_a_snapshot_anywhere)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd-kvm-snapshot", .tcases = tcases)
