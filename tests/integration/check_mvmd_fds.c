/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd out of file descriptors: its RLIMIT_NOFILE lowered (prlimit) to a
 * little above what it uses idle, then used up by clients and running
 * VMs. What needs an fd fails with a clear error (-32005, data.errno
 * "EMFILE", data.reason) and leaves nothing behind; what needs none
 * (status, list) still works; mvmd does not crash; once fds are free
 * again, everything works. VMs are cloud-hypervisor VMs run by the test
 * double (tests/doubles), so no /dev/kvm is needed.
 */
#include <limits.h>
#include <sys/resource.h>

#include "ch-daemon.h"
#include "durability-helpers.h"
#include "mvmt-main.h"

#define RESOURCE_LIMIT (-32005)
#define MAX_CLIENTS 200

static char fake_ch[PATH_MAX + 32], kernel[256];
static int clients[MAX_CLIENTS];
static int n_clients;

static void fds_setup(void)
{
	mvmt_daemon_init(&wl.d);
	/* This suite's own link to the double: its processes are counted
	 * by this suite's directory, its knobs are <fake_ch>.env. */
	chd_double_files(&wl.d, "fake-cloud-hypervisor", fake_ch, sizeof(fake_ch), kernel, sizeof(kernel));
	/* The ch backend opens the KVM device only to check it. */
	mvmt_daemon_start(&wl.d, "--kvm-pool", "0", "--ch-binary", fake_ch, "--kvm-device",
			  mvmt_kvm_skip_reason() ? "/dev/null" : "/dev/kvm", NULL);
	wl.fd = mvmt_connect(wl.d.sock);
	n_clients = 0;
}

static void close_clients(void)
{
	for (int i = 0; i < n_clients; i++) {
		close(clients[i]);
		mvmt_forget_fd(clients[i]);
	}
	n_clients = 0;
}

static void fds_teardown(void)
{
	close_clients();
	/* Room again for the teardown's own requests. */
	struct rlimit rl = { 4096, 4096 };
	if (wl.d.pid > 0)
		prlimit(wl.d.pid, RLIMIT_NOFILE, &rl, NULL);
	close(wl.fd);
	mvmt_forget_fd(wl.fd);
	if (wl.d.pid > 0) {
		int c = mvmt_connect(wl.d.sock);
		mvmt_remove_all_vms(c);
		close(c);
		mvmt_forget_fd(c);
	}
	mvmt_daemon_cleanup(&wl.d);
}

/* mvmd's open fds numbered below limit: it can open no more once that is
 * limit (RLIMIT_NOFILE bounds fd numbers, not their count). */
static int fds_below(rlim_t limit)
{
	char path[64];
	DIR *dd;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)wl.d.pid);
	dd = opendir(path);
	ck_assert_ptr_nonnull(dd);
	while ((de = readdir(dd)))
		if (de->d_name[0] != '.' && (rlim_t)atoi(de->d_name) < limit)
			n++;
	closedir(dd);
	return n;
}

static bool exhausted(void)
{
	struct rlimit rl;

	ck_assert_int_eq(prlimit(wl.d.pid, RLIMIT_NOFILE, NULL, &rl), 0);
	return (rlim_t)fds_below(rl.rlim_cur) >= rl.rlim_cur;
}

/* Leave mvmd `spare` fds above what it holds now. */
static void limit_fds(int spare)
{
	struct rlimit rl;
	int used = mvmt_count_fds(wl.d.pid);

	ck_assert_int_gt(used, 0);
	rl.rlim_cur = rl.rlim_max = (rlim_t)(used + spare);
	ck_assert_int_eq(prlimit(wl.d.pid, RLIMIT_NOFILE, &rl, NULL), 0);
}

/* Connect clients until mvmd holds every fd it may (the rest wait in the
 * listen backlog). */
static void exhaust_with_clients(void)
{
	while (n_clients < MAX_CLIENTS && !exhausted()) {
		clients[n_clients++] = mvmt_connect(wl.d.sock);
		for (int i = 0; i < 50 && !exhausted(); i++)
			usleep(2000);
	}
	ck_assert_msg(exhausted(), "mvmd never used all its fds");
}

/* Before each request that must find no fd: take any fd that came free
 * meanwhile (a connection mvmd was still closing). */
static void ensure_exhausted(void)
{
	for (int i = 0; i < 200 && !exhausted(); i++) {
		if (n_clients < MAX_CLIENTS)
			clients[n_clients++] = mvmt_connect(wl.d.sock);
		usleep(20000);
	}
	ck_assert(exhausted());
}

static void assert_emfile(json_object *r)
{
	ck_assert_msg(mvmt_get(r, "error") != NULL, "no error: %s", json_object_to_json_string(r));
	ck_assert_int_eq(mvmt_int(r, "error.code"), RESOURCE_LIMIT);
	ck_assert_str_eq(mvmt_str(r, "error.data.errno"), "EMFILE");
	ck_assert(strlen(mvmt_str(r, "error.data.reason")) > 0);
}

static void create_ch(const char *name)
{
	char p[512];

	snprintf(p, sizeof(p), "{\"name\":\"%s\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"%s\"}", name, kernel);
	json_object_put(mvmt_result(wl.fd, "compute.vm.create", p));
}

static bool wait_fds_below(int n)
{
	for (int i = 0; i < 1000; i++) {
		if (mvmt_count_fds(wl.d.pid) < n)
			return true;
		usleep(10000);
	}
	return false;
}

/* Clients take every fd: create, start and blob.put fail with EMFILE
 * and leave nothing; reads still work; then the clients go and all of
 * it works, including new connections. */
START_TEST(test_clients_use_every_fd)
{
	char vms[256], blobs[256];

	create_ch("early");
	limit_fds(24);
	exhaust_with_clients();

	ensure_exhausted();
	json_object *r = mvmt_call(wl.fd, "compute.vm.create", "{\"name\":\"late\",\"memory_mib\":16}");
	assert_emfile(r);
	json_object_put(r);
	snprintf(vms, sizeof(vms), "%s/vms", wl.d.state);
	ck_assert_int_eq(dh_count_entries(vms, NULL), 1);

	ensure_exhausted();
	r = wl_call_id("compute.vm.start", "early", NULL);
	assert_emfile(r);
	ck_assert_str_eq(mvmt_str(r, "error.data.state"), "Configured");
	json_object_put(r);
	ck_assert_int_eq(dh_count_procs(wl.d.dir, "fake-cloud"), 0);

	ensure_exhausted();
	r = mvmt_call(wl.fd, "compute.blob.put", "{\"data\":\"aGVsbG8K\"}");
	assert_emfile(r);
	json_object_put(r);
	snprintf(blobs, sizeof(blobs), "%s/blobs/sha256", wl.d.state);
	ck_assert_int_eq(dh_count_entries(blobs, NULL), 0);

	r = wl_status("early");
	ck_assert_str_eq(mvmt_str(r, "state"), "Configured");
	json_object_put(r);
	json_object_put(mvmt_result(wl.fd, "compute.vm.list", NULL));

	int used = mvmt_count_fds(wl.d.pid);
	close_clients();
	ck_assert(wait_fds_below(used - 10));
	json_object_put(mvmt_result(wl.fd, "compute.vm.create", "{\"name\":\"late\",\"memory_mib\":16}"));
	r = wl_call_id("compute.vm.start", "early", NULL);
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	json_object_put(mvmt_result(wl.fd, "compute.blob.put", "{\"data\":\"aGVsbG8K\"}"));
	int c = mvmt_connect(wl.d.sock);
	json_object_put(mvmt_result(c, "compute.node.info", NULL));
	close(c);
	mvmt_forget_fd(c);
	ck_assert_int_eq(kill(wl.d.pid, 0), 0);
}
END_TEST

/* Running VMs take the fds: a start that finds none fails with EMFILE
 * and the VM keeps its state; once VMs stop, starts work again. */
START_TEST(test_running_vms_use_every_fd)
{
	char name[32];
	int running = 0;
	json_object *r = NULL;

	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "vm%d", i);
		create_ch(name);
	}
	limit_fds(40);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "vm%d", i);
		r = wl_call_id("compute.vm.start", name, NULL);
		if (!mvmt_get(r, "result"))
			break;
		running++;
		json_object_put(r);
		r = NULL;
	}
	ck_assert_msg(r != NULL, "40 VMs ran on 40 spare fds");
	ck_assert_int_gt(running, 0);
	ck_assert_int_eq(mvmt_int(r, "error.code"), RESOURCE_LIMIT);
	ck_assert_str_eq(mvmt_str(r, "error.data.errno"), "EMFILE");
	ck_assert(strlen(mvmt_str(r, "error.data.reason")) > 0);
	json_object_put(r);
	json_object *s = wl_status(name);
	ck_assert(strcmp(mvmt_str(s, "state"), "Configured") == 0 || strcmp(mvmt_str(s, "state"), "StartFailed") == 0);
	json_object_put(s);
	ck_assert_int_eq(dh_count_procs(wl.d.dir, "fake-cloud"), running);

	/* stop them: the failed one starts */
	for (int i = 0; i < running; i++) {
		char other[32];
		snprintf(other, sizeof(other), "vm%d", i);
		json_object_put(wl_call_id("compute.vm.stop", other, "\"force\":true"));
	}
	r = wl_call_id("compute.vm.start", name, NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start after the stops: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Running");
	json_object_put(r);
	ck_assert_int_eq(kill(wl.d.pid, 0), 0);
}
END_TEST

/* --- out of fds between the ping and the vm.create ------------------------ */

static char *slurp(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* The lowest fd number mvmd does not hold (its tick opens and closes a
 * socket now and then: the lowest of a few looks). */
static int lowest_free_fd(pid_t pid)
{
	int lowest = INT_MAX;

	for (int look = 0; look < 10; look++) {
		char path[64];
		bool used[4096] = { false };
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		DIR *dd = opendir(path);
		struct dirent *de;
		ck_assert_ptr_nonnull(dd);
		while ((de = readdir(dd)))
			if (de->d_name[0] != '.' && atoi(de->d_name) < 4096)
				used[atoi(de->d_name)] = true;
		closedir(dd);
		int n = 0;
		while (n < 4096 && used[n])
			n++;
		if (n < lowest)
			lowest = n;
		usleep(5000);
	}
	return lowest;
}

/* mvmd pinged cloud-hypervisor, then found no fd for its vm.create: the
 * start fails at once (-32005, errno EMFILE), not at its 30 s deadline and
 * not as a refused connection. The double holds the ping's answer at a
 * gate while the test lowers mvmd's RLIMIT_NOFILE to the lowest fd it does
 * not hold; the ping's socket is then the only fd below the limit that
 * comes free, and the serial socket (listened on from the gate on) takes
 * it. */
START_TEST(test_create_finds_no_fd)
{
	char knobs[PATH_MAX + 64], gate[300], reqs[512], line[256];
	struct rlimit rl, old;

	snprintf(gate, sizeof(gate), "%s/ping-gate", wl.d.dir);
	snprintf(knobs, sizeof(knobs), "%s.env", fake_ch);
	FILE *f = fopen(knobs, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "MVM_FAKE_CH_PING_GATE=%s\n", gate);
	fclose(f);
	create_ch("starved");
	json_object *s = wl_status("starved");
	snprintf(reqs, sizeof(reqs), "%s/vms/%s/fake-ch.requests", wl.d.state, mvmt_str(s, "id"));
	json_object_put(s);
	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"compute.vm.start\",\"params\":{\"id\":\"starved\"}}");
	mvmt_send_line(wl.fd, line);
	for (int i = 0; i < 1000 && !(slurp(reqs) && strstr(slurp(reqs), "GET /api/v1/vmm.ping")); i++)
		usleep(10000);
	ck_assert_msg(slurp(reqs) && strstr(slurp(reqs), "GET /api/v1/vmm.ping"), "no ping reached the double");

	ck_assert_int_eq(prlimit(wl.d.pid, RLIMIT_NOFILE, NULL, &old), 0);
	rl = old;
	rl.rlim_cur = (rlim_t)lowest_free_fd(wl.d.pid);
	ck_assert_int_eq(prlimit(wl.d.pid, RLIMIT_NOFILE, &rl, NULL), 0);
	f = fopen(gate, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);

	char *answer = mvmt_read_line(wl.fd, 20000);
	ck_assert_msg(answer, "no answer to the start");
	json_object *r = json_tokener_parse(answer);
	free(answer);
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(mvmt_get(r, "error") != NULL && mvmt_int(r, "error.code") == RESOURCE_LIMIT &&
			      strcmp(mvmt_str(r, "error.data.errno"), "EMFILE") == 0,
		      "not EMFILE: %s", json_object_to_json_string(r));
	json_object_put(r);
	/* It was the vm.create that found no fd: none reached the double. */
	const char *got = slurp(reqs);
	ck_assert_msg(got && !strstr(got, "vm.create"), "%s", got);

	ck_assert_int_eq(prlimit(wl.d.pid, RLIMIT_NOFILE, &old, NULL), 0);
	s = mvmt_wait_state(wl.fd, "starved", "StartFailed");
	ck_assert_msg(strstr(mvmt_str(s, "cause"), "out of file descriptors"), "%s", mvmt_str(s, "cause"));
	json_object_put(s);
	ck_assert_int_eq(dh_count_procs(wl.d.dir, "fake-cloud"), 0);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "emfile",
		.timeout = 120,
		.setup = fds_setup,
		.teardown = fds_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_clients_use_every_fd),
			MVMT_TEST(test_running_vms_use_every_fd),
			MVMT_TEST(test_create_finds_no_fd)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd_fds", .tcases = tcases)
