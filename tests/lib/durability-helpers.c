/* SPDX-License-Identifier: Apache-2.0 */
/* The durability suites' helpers (see durability-helpers.h). */
#include "durability-helpers.h"

/* A daemon that answers rpc.discover on d->sock. */
bool dh_answers(const mvmt_daemon_t *dm)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"rpc.discover\"}\n";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = false;
	char c;

	if (s < 0 || strlen(dm->sock) >= sizeof(sa.sun_path)) {
		if (s >= 0)
			close(s);
		return false;
	}
	memcpy(sa.sun_path, dm->sock, strlen(dm->sock) + 1);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    send(s, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(req) - 1)) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		ok = poll(&p, 1, 500) == 1 && recv(s, &c, 1, 0) == 1;
	}
	close(s);
	return ok;
}

/* build/bin/mvmd-fault with MVMD_FAULT=fault on dm's paths (with
 * --kvm-pool 0 when pool_off, then up to 4 more arguments from extra,
 * NULL-terminated, when it is not NULL), then wait until it answers. */
void dh_start_fault_with(mvmt_daemon_t *dm, const char *fault, bool pool_off, const char *const *extra)
{
	const char *more[5] = { NULL };
	pid_t pid;

	for (int i = 0; extra && extra[i] && i < 4; i++)
		more[i] = extra[i];
	pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int lfd = open(dm->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (lfd >= 0) {
			dup2(lfd, 2);
			dup2(lfd, 1);
		}
		setenv("MVMD_FAULT", fault, 1);
		execl(mvmt_bin("mvmd-fault"), "mvmd-fault", "--rpc-socket", dm->sock, "--state-dir", dm->state,
		      "--console-dir", dm->console, "--log-level", "debug", pool_off ? "--kvm-pool" : "--log-level",
		      pool_off ? "0" : "debug", more[0], more[1], more[2], more[3], (char *)NULL);
		_exit(127);
	}
	dm->pid = pid;
	for (int i = 0; i < 1000; i++) {
		int st;
		ck_assert_msg(waitpid(pid, &st, WNOHANG) != pid, "mvmd-fault exited during startup, see %s", dm->log);
		if (dh_answers(dm))
			return;
		usleep(10000);
	}
	ck_abort_msg("mvmd-fault did not start listening on %s", dm->sock);
}

void dh_start_fault(mvmt_daemon_t *dm, const char *fault, bool pool_off)
{
	dh_start_fault_with(dm, fault, pool_off, NULL);
}

/* Send a request line and expect the daemon to die on it (its fault
 * point fired): EOF instead of an answer, and a SIGKILL status. */
void dh_call_expect_death(mvmt_daemon_t *dm, int cfd, const char *line)
{
	int st = -1;

	mvmt_send_line(cfd, line);
	ck_assert_msg(mvmt_wait_closed(cfd, 20000), "mvmd answered %s instead of dying at its fault point", line);
	ck_assert_int_eq(waitpid(dm->pid, &st, 0), dm->pid);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "mvmd-fault ended with status %d", st);
	dm->pid = 0;
}

/* The live processes named comm_prefix* that hold an fd under dir; each
 * is sent sig unless it is 0. Their number. */
int dh_signal_procs(const char *dir, const char *comm_prefix, int sig)
{
	DIR *pd = opendir("/proc");
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(pd);
	while ((de = readdir(pd))) {
		char path[300], comm[64] = "", link[4096];
		pid_t pid = (pid_t)atoi(de->d_name);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		if (strncmp(comm, comm_prefix, strlen(comm_prefix)) != 0 || mvmt_process_ended(pid))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		DIR *fdd = opendir(path);
		struct dirent *fe;
		bool mine = false;
		while (fdd && !mine && (fe = readdir(fdd))) {
			char fp[600];
			snprintf(fp, sizeof(fp), "%s/%s", path, fe->d_name);
			ssize_t k = readlink(fp, link, sizeof(link) - 1);
			if (k > 0) {
				link[k] = 0;
				mine = strncmp(link, dir, strlen(dir)) == 0;
			}
		}
		if (fdd)
			closedir(fdd);
		if (mine && sig)
			kill(pid, sig);
		n += mine;
	}
	closedir(pd);
	return n;
}

int dh_count_procs(const char *dir, const char *comm_prefix)
{
	return dh_signal_procs(dir, comm_prefix, 0);
}

int dh_count_workers(const char *dir)
{
	return dh_count_procs(dir, "mvm-vmm");
}

/* Wait (MVMT_EVENT_TIMEOUT_MS: processes are no events) until the test's workers number n. */
bool dh_wait_workers(const char *dir, int n)
{
	for (int i = 0; i < MVMT_EVENT_TIMEOUT_MS / 10; i++) {
		if (dh_count_workers(dir) == n)
			return true;
		usleep(10000);
	}
	return dh_count_workers(dir) == n;
}

/* STATE/vms/<id>/state.json as text (caller frees), NULL when missing. */
char *dh_state_file(const mvmt_daemon_t *dm, const char *id)
{
	char path[512];
	FILE *f;
	char *buf = NULL;
	size_t cap = 0, len = 0;

	snprintf(path, sizeof(path), "%s/vms/%s/state.json", dm->state, id);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		size_t k = fread(buf + len, 1, cap - len - 1, f);
		if (!k)
			break;
		len += k;
	}
	fclose(f);
	buf[len] = 0;
	return buf;
}

/* The runtime.state of the VM's state.json on disk ("" when missing). */
char *dh_disk_state(const mvmt_daemon_t *dm, const char *id)
{
	char *text = dh_state_file(dm, id);
	json_object *doc = text ? json_tokener_parse(text) : NULL, *v;
	char *s = strdup(doc && json_object_object_get_ex(doc, "runtime", &v) &&
				 json_object_object_get_ex(v, "state", &v) ? json_object_get_string(v) : "");

	json_object_put(doc);
	free(text);
	return s;
}

/* Entries of dir whose name satisfies keep(name) (NULL: all but . and ..). */
int dh_count_entries(const char *dir, bool (*keep)(const char *))
{
	DIR *dd = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!dd)
		return -1;
	while ((de = readdir(dd)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && (!keep || keep(de->d_name)))
			n++;
	closedir(dd);
	return n;
}

/* How many transitions of a status object lead to `to`. */
int dh_count_transitions_to(json_object *st, const char *to)
{
	json_object *arr = mvmt_get(st, "transitions");
	int n = 0;

	for (size_t i = 0; i < json_object_array_length(arr); i++)
		n += strcmp(mvmt_str(json_object_array_get_idx(arr, i), "to"), to) == 0;
	return n;
}
