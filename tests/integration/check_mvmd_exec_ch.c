/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compute.vm.exec as mvmd's event loop runs it (daemon/mvmd/exec-proxy.c),
 * on ch VMs against the cloud-hypervisor TEST DOUBLE
 * (tests/doubles/fake-cloud-hypervisor.c), whose vsock socket speaks the
 * hybrid vsock handshake in front of the project's exec agent running
 * host programs: so this runs on any host. What it proves: many execs on
 * one VM progress independently, each on its own gate, while mvmd keeps
 * its one thread; a client that leaves mid-exec frees everything (mvmd's
 * fds back to where they were, the command killed); removing the VM
 * answers its pending execs at once (-32001); an exec that times out on
 * the host leaves no fd; a SIGTERM with execs pending ends mvmd cleanly;
 * the node's limit of 64 execs at once answers the next -32005.
 * The same exchanges into micro-VMs are check_mvmd_exec.c (needs KVM).
 */
#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ch-daemon.h"
#include "mvmtest.h"
#include "mvmt-main.h"

#define N_CONCURRENT 12 /* within the double's agent's 16 connections */

static char gates[256];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* The ch fixture (tests/lib/ch-daemon.h), with a directory for the
 * commands' gates. */
static void setup(void)
{
	chd_setup();
	snprintf(gates, sizeof(gates), "%s/gates", chd.d.dir);
	ck_assert_int_eq(mkdir(gates, 0755), 0);
	chd_start(NULL);
}

/* The commands the tests left (gates/NAME.pid): a guest's end would end
 * them, but the double's agent runs them on the host, where a killed
 * agent leaves them to init. */
static void kill_commands(void)
{
	DIR *dir = opendir(gates);
	char path[600], buf[32];

	if (!dir)
		return;
	for (struct dirent *de; (de = readdir(dir));) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".pid") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", gates, de->d_name);
		FILE *f = fopen(path, "r");
		if (f && fgets(buf, sizeof(buf), f) && atoi(buf) > 1)
			kill((pid_t)atoi(buf), SIGKILL);
		if (f)
			fclose(f);
	}
	closedir(dir);
}

static void teardown(void)
{
	kill_commands();
	chd_teardown();
}

static void start_ch(const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "{\"name\":\"%s\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\"}", name, chd.kernel);
	json_object_put(mvmt_result(chd.fd, "compute.vm.create", p));
	snprintf(p, sizeof(p), "{\"id\":\"%s\"}", name);
	json_object *r = mvmt_result(chd.fd, "compute.vm.start", p);
	ck_assert_str_eq(mvmt_str(r, "state"), "Running");
	json_object_put(r);
	mvmt_wait_log(chd.fd, name, "mvm-init: ready");
}

/* A new connection with one compute.vm.exec of "/bin/sh -c script" sent. */
static int exec_async(const char *vm, const char *script, const char *extra)
{
	char line[2048];
	int c = mvmt_connect(chd.d.sock);
	json_object *s = json_object_new_string(script);

	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"compute.vm.exec\",\"params\":{\"id\":\"%s\","
		 "\"argv\":[\"/bin/sh\",\"-c\",%s]%s%s}}",
		 vm, json_object_to_json_string(s), extra ? "," : "", extra ? extra : "");
	json_object_put(s);
	mvmt_send_line(c, line);
	return c;
}

/* The answer on c (20 s: a loaded machine), parsed. */
static json_object *answer(int c)
{
	char *line = mvmt_read_line(c, 20000);
	ck_assert_msg(line != NULL, "no answer");
	json_object *o = json_tokener_parse(line);
	ck_assert_msg(o != NULL, "not JSON: %s", line);
	free(line);
	return o;
}

static void close_conn(int c)
{
	close(c);
	mvmt_forget_fd(c);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Wait (20 s) until path exists: the command got that far. */
static void wait_file(const char *path)
{
	for (int i = 0; i < 2000 && !exists(path); i++)
		usleep(10000);
	ck_assert_msg(exists(path), "%s never appeared", path);
}

static int count_tasks(pid_t pid)
{
	char path[64];
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	ck_assert_ptr_nonnull(dir);
	for (struct dirent *de; (de = readdir(dir));)
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* Wait (20 s) until mvmd holds `want` fds; the last count. */
static int wait_fds(int want)
{
	int n = mvmt_count_fds(chd.d.pid);
	for (int i = 0; i < 2000 && n != want; i++) {
		usleep(10000);
		n = mvmt_count_fds(chd.d.pid);
	}
	return n;
}

static pid_t read_pid(const char *path)
{
	char buf[32] = "";
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	return (pid_t)atoi(buf);
}

/* exec "sleep 120" on vm from a new connection, once it runs: its pid in
 * gates/<tag>.pid (written whole, then renamed). The connection. */
static int exec_sleeper(const char *vm, const char *tag, pid_t *ret_pid)
{
	char script[1024], path[300];

	snprintf(path, sizeof(path), "%s/%s.pid", gates, tag);
	snprintf(script, sizeof(script), "echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 120", path, path, path);
	int c = exec_async(vm, script, NULL);
	wait_file(path);
	*ret_pid = read_pid(path);
	ck_assert_int_gt(*ret_pid, 1);
	return c;
}

START_TEST(test_concurrent_execs_one_thread)
{
	int c[N_CONCURRENT], tasks0;
	char script[1024], path[300];

	start_ch("web");
	tasks0 = count_tasks(chd.d.pid);
	/* Each waits for its own gate: none can finish before the test says. */
	for (int i = 0; i < N_CONCURRENT; i++) {
		snprintf(script, sizeof(script),
			 "touch %s/started.%d; while [ ! -e %s/go.%d ]; do sleep 0.02; done; echo done %d", gates, i, gates, i,
			 i);
		c[i] = exec_async("web", script, NULL);
	}
	for (int i = 0; i < N_CONCURRENT; i++) {
		snprintf(path, sizeof(path), "%s/started.%d", gates, i);
		wait_file(path);
	}
	/* All of them in flight in the guest, and mvmd is still one event
	 * loop on as many threads as before (a thread per exec made it 13). */
	ck_assert_int_eq(count_tasks(chd.d.pid), tasks0);
	/* Another exec meanwhile is answered at once, on the test's own connection. */
	json_object *r = mvmt_result(chd.fd, "compute.vm.exec", "{\"id\":\"web\",\"argv\":[\"mvm.echo\",\"meanwhile\"]}");
	ck_assert_str_eq(mvmt_str(r, "stdout"), "meanwhile\n");
	json_object_put(r);
	/* Released last first: each is answered when its own gate opens. */
	for (int i = N_CONCURRENT - 1; i >= 0; i--) {
		char want[32];
		snprintf(path, sizeof(path), "%s/go.%d", gates, i);
		write_file(path, "");
		json_object *o = answer(c[i]);
		snprintf(want, sizeof(want), "done %d\n", i);
		ck_assert_msg(mvmt_get(o, "result") != NULL, "exec %d: %s", i, json_object_to_json_string(o));
		ck_assert_str_eq(mvmt_str(o, "result.stdout"), want);
		ck_assert_int_eq(mvmt_int(o, "result.exit_code"), 0);
		json_object_put(o);
		close_conn(c[i]);
	}
	ck_assert_int_eq(count_tasks(chd.d.pid), tasks0);
}
END_TEST

/* The node's limit (EXEC_PROXY_MAX_IN_FLIGHT, 64): one more is refused
 * with -32005 and the limit, and served once the others are done. The
 * double's vsock backlog is 4, so most of these connects meet a full
 * one first and are asked again. */
START_TEST(test_node_limit)
{
	enum { LIMIT = 64 };
	char script[1024], path[300];
	int c[LIMIT];

	start_ch("web");
	int fds0 = mvmt_settled_fds(chd.d.pid);
	snprintf(path, sizeof(path), "%s/go", gates);
	snprintf(script, sizeof(script), "while [ ! -e %s ]; do sleep 0.05; done; echo ok", path);
	for (int i = 0; i < LIMIT; i++)
		c[i] = exec_async("web", script, NULL);
	/* All in flight: each holds its RPC connection and its vsock socket. */
	int n = wait_fds(fds0 + 2 * LIMIT);
	ck_assert_msg(n == fds0 + 2 * LIMIT, "mvmd holds %d fds, %d before %d execs", n, fds0, LIMIT);
	json_object *r = mvmt_call(chd.fd, "compute.vm.exec", "{\"id\":\"web\",\"argv\":[\"mvm.echo\",\"one more\"]}");
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32005);
	ck_assert_int_eq(mvmt_int(r, "error.data.limit"), LIMIT);
	json_object_put(r);
	write_file(path, "");
	for (int i = 0; i < LIMIT; i++) {
		json_object *o = answer(c[i]);
		ck_assert_msg(mvmt_get(o, "result") != NULL, "exec %d: %s", i, json_object_to_json_string(o));
		ck_assert_str_eq(mvmt_str(o, "result.stdout"), "ok\n");
		json_object_put(o);
		close_conn(c[i]);
	}
	r = mvmt_result(chd.fd, "compute.vm.exec", "{\"id\":\"web\",\"argv\":[\"mvm.echo\",\"one more\"]}");
	ck_assert_str_eq(mvmt_str(r, "stdout"), "one more\n");
	json_object_put(r);
	n = wait_fds(fds0);
	ck_assert_msg(n == fds0, "mvmd holds %d fds, %d before", n, fds0);
}
END_TEST

START_TEST(test_client_leaves_mid_exec)
{
	pid_t cmd;

	start_ch("web");
	int fds0 = mvmt_settled_fds(chd.d.pid);
	int c = exec_sleeper("web", "leaver", &cmd);
	/* Its RPC connection and its vsock connection. */
	ck_assert_int_eq(mvmt_count_fds(chd.d.pid), fds0 + 2);
	close_conn(c);
	/* mvmd lets go of the exec's socket as soon as its client is gone
	 * (a thread would hold it until the command ended, 120 s later),
	 * and the agent, seeing the connection close, kills the command. */
	int n = wait_fds(fds0);
	ck_assert_msg(n == fds0, "mvmd holds %d fds, %d before the exec", n, fds0);
	for (int i = 0; i < 2000 && !mvmt_process_ended(cmd); i++)
		usleep(10000);
	ck_assert_msg(mvmt_process_ended(cmd), "the command (pid %d) still runs", (int)cmd);
	/* The VM serves the next one. */
	json_object *r = mvmt_result(chd.fd, "compute.vm.exec", "{\"id\":\"web\",\"argv\":[\"mvm.echo\",\"next\"]}");
	ck_assert_str_eq(mvmt_str(r, "stdout"), "next\n");
	json_object_put(r);
}
END_TEST

START_TEST(test_remove_answers_pending_execs)
{
	char script[1024], path[300];
	pid_t cmd;
	int c[3];

	start_ch("other");
	int fds0 = mvmt_settled_fds(chd.d.pid);
	start_ch("web");
	c[0] = exec_sleeper("web", "web0", &cmd);
	c[1] = exec_sleeper("web", "web1", &cmd);
	snprintf(path, sizeof(path), "%s/other.started", gates);
	snprintf(script, sizeof(script), "touch %s; while [ ! -e %s/other.go ]; do sleep 0.02; done; echo other", path, gates);
	c[2] = exec_async("other", script, NULL);
	wait_file(path);

	json_object *r = mvmt_result(chd.fd, "compute.vm.remove", "{\"id\":\"web\",\"force\":true}");
	ck_assert(json_object_get_boolean(mvmt_get(r, "removed")));
	json_object_put(r);
	/* Both of web's execs: the VM is gone, as a request naming it now
	 * would hear (a thread per exec answered "Exec agent unreachable"
	 * once it noticed the socket close, or never for a VMM that kept it). */
	for (int i = 0; i < 2; i++) {
		json_object *o = answer(c[i]);
		ck_assert_msg(mvmt_get(o, "error") != NULL, "exec %d: %s", i, json_object_to_json_string(o));
		ck_assert_int_eq(mvmt_int(o, "error.code"), -32001);
		ck_assert_str_eq(mvmt_str(o, "error.message"), "VM not found");
		ck_assert_str_eq(mvmt_str(o, "error.data.reason"), "removed while the request waited");
		json_object_put(o);
		close_conn(c[i]);
	}
	/* The other VM's exec is untouched: it ends when its command does. */
	snprintf(path, sizeof(path), "%s/other.go", gates);
	write_file(path, "");
	json_object *o = answer(c[2]);
	ck_assert_msg(mvmt_get(o, "result") != NULL, "exec on other: %s", json_object_to_json_string(o));
	ck_assert_str_eq(mvmt_str(o, "result.stdout"), "other\n");
	json_object_put(o);
	close_conn(c[2]);
	/* Nothing of web's (its execs, console, API) is held any more. */
	int n = wait_fds(fds0);
	ck_assert_msg(n == fds0, "mvmd holds %d fds, %d before web", n, fds0);
}
END_TEST

START_TEST(test_host_timeout_leaves_no_fd)
{
	/* A guest whose agent never answers: the double says OK to the
	 * CONNECT line and then swallows everything. */
	chd_knob("MVM_FAKE_CH_VSOCK_MUTE", "1");
	start_ch("mute");
	int fds0 = mvmt_settled_fds(chd.d.pid);
	json_object *r = mvmt_call(chd.fd, "compute.vm.exec", "{\"id\":\"mute\",\"argv\":[\"mvm.echo\"],\"timeout_ms\":1}");
	/* The agent would have killed it at timeout_ms; the host waits 2 s
	 * more for it to say so, then gives up. */
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32006);
	ck_assert_str_eq(mvmt_str(r, "error.message"), "Timeout");
	ck_assert_int_eq(mvmt_int(r, "error.data.timeout_ms"), 2001);
	json_object_put(r);
	int n = wait_fds(fds0);
	ck_assert_msg(n == fds0, "mvmd holds %d fds, %d before the exec", n, fds0);
}
END_TEST

START_TEST(test_sigterm_with_execs_pending)
{
	pid_t cmd;
	int c[2];

	start_ch("web");
	c[0] = exec_sleeper("web", "term0", &cmd);
	c[1] = exec_sleeper("web", "term1", &cmd);
	/* The double outlives mvmd by design: ended by its pid, after mvmd. */
	json_object *s = mvmt_status(chd.fd, "web");
	pid_t ch = (pid_t)mvmt_int(s, "pid");
	json_object_put(s);
	close_conn(chd.fd);
	chd.fd = -1;
	int st = mvmt_daemon_stop(&chd.d, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "mvmd ended with status 0x%x", st);
	for (int i = 0; i < 2; i++) {
		ck_assert(mvmt_wait_closed(c[i], 20000));
		close_conn(c[i]);
	}
	kill(ch, SIGKILL);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "exec-ch",
		.timeout = 120,
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_concurrent_execs_one_thread),
			MVMT_TEST(test_node_limit),
			MVMT_TEST(test_client_leaves_mid_exec),
			MVMT_TEST(test_remove_answers_pending_execs),
			MVMT_TEST(test_host_timeout_leaves_no_fd),
			MVMT_TEST(test_sigterm_with_execs_pending)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd-exec-ch", .tcases = tcases)
