/* SPDX-License-Identifier: Apache-2.0 */
#include "mvmtest.h"
#include "mvmt-events.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <seccomp.h>
#include <time.h>
#include <unistd.h>

const char *mvmt_bin(const char *name)
{
	static char buf[8][512];
	static int slot;
	const char *dir = getenv("MVM_BUILD_DIR");
	char *p = buf[slot++ % 8];

	snprintf(p, 512, "%s/bin/%s", dir && *dir ? dir : "build", name);
	return p;
}

void mvmt_daemon_init(mvmt_daemon_t *d)
{
	memset(d, 0, sizeof(*d));
	strcpy(d->dir, "/tmp/mvmd-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d->dir));
	snprintf(d->sock, sizeof(d->sock), "%s/run/rpc.sock", d->dir);
	snprintf(d->state, sizeof(d->state), "%s/state", d->dir);
	snprintf(d->console, sizeof(d->console), "%s/run/console", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/mvmd.log", d->dir);
}

/*
 * A daemon that answers on path, not just a socket that takes a connect:
 * right after a kill -9, the socket the old mvmd listened on can live on
 * for a moment in a child it was spawning (between its clone and its
 * exec it holds copies of every fd), and a connect lands in that
 * backlog, where nobody will ever answer.
 */
static bool daemon_answers(const char *path)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"rpc.discover\"}\n";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = false;
	char c;

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path)) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(req) - 1)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ok = poll(&p, 1, 500) == 1 && recv(fd, &c, 1, 0) == 1;
	}
	close(fd);
	return ok;
}

void mvmt_daemon_start(mvmt_daemon_t *d, ...)
{
	const char *argv[64];
	int argc = 0;
	va_list ap;

	argv[argc++] = mvmt_bin("mvmd");
	argv[argc++] = "--rpc-socket";
	argv[argc++] = d->sock;
	argv[argc++] = "--state-dir";
	argv[argc++] = d->state;
	argv[argc++] = "--console-dir";
	argv[argc++] = d->console;
	argv[argc++] = "--log-level";
	argv[argc++] = "debug";
	va_start(ap, d);
	for (const char *a; (a = va_arg(ap, const char *)) && argc < 62;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	d->pid = pid;
	for (int i = 0; i < 1000; i++) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			d->pid = 0;
			ck_abort_msg("mvmd exited during startup (status %d), see %s", st, d->log);
		}
		if (daemon_answers(d->sock))
			return;
		usleep(10000);
	}
	ck_abort_msg("mvmd did not start listening on %s", d->sock);
}

int mvmt_daemon_stop(mvmt_daemon_t *d, int sig)
{
	int st = -1;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, sig);
	while (waitpid(d->pid, &st, 0) < 0 && errno == EINTR)
		;
	d->pid = 0;
	return st;
}

void mvmt_daemon_cleanup(mvmt_daemon_t *d)
{
	char cmd[128];

	mvmt_daemon_stop(d, SIGKILL);
	if (d->dir[0] && getenv("MVM_KEEP_TEST_DIRS") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", d->dir);
	}
}

int mvmt_connect(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s: %s", path, strerror(errno));
	return fd;
}

void mvmt_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_msg(n > 0, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

void mvmt_send_line(int fd, const char *line)
{
	/* One write: a daemon that refuses the line (too long) closes the
	 * connection as soon as it has seen enough, and a separate "\n"
	 * written after that would fail with EPIPE. */
	size_t n = strlen(line);
	char *buf = malloc(n + 1);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, line, n);
	buf[n] = '\n';
	mvmt_write(fd, buf, n + 1);
	free(buf);
}

/* Per-fd read buffers: tests use few fds, a small table is enough. */
typedef struct rbuf {
	int fd;
	char *data;
	size_t len;
} rbuf_t;
static rbuf_t bufs[64];

static rbuf_t *buf_for(int fd)
{
	for (size_t i = 0; i < 64; i++)
		if (bufs[i].data && bufs[i].fd == fd)
			return &bufs[i];
	for (size_t i = 0; i < 64; i++)
		if (!bufs[i].data) {
			bufs[i] = (rbuf_t){ .fd = fd, .data = malloc(1) };
			return &bufs[i];
		}
	ck_abort_msg("too many test fds");
	return NULL;
}

void mvmt_forget_fd(int fd)
{
	for (size_t i = 0; i < 64; i++)
		if (bufs[i].data && bufs[i].fd == fd) {
			free(bufs[i].data);
			bufs[i] = (rbuf_t){ 0 };
		}
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* 1 line ready, 0 timeout, -1 EOF */
static int fill_until_line(rbuf_t *b, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		if (memchr(b->data, '\n', b->len))
			return 1;
		long long left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = { .fd = b->fd, .events = POLLIN };
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		char tmp[65536];
		ssize_t n = read(b->fd, tmp, sizeof(tmp));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		b->data = realloc(b->data, b->len + (size_t)n + 1);
		memcpy(b->data + b->len, tmp, (size_t)n);
		b->len += (size_t)n;
	}
}

char *mvmt_read_line(int fd, int timeout_ms)
{
	rbuf_t *b = buf_for(fd);

	if (fill_until_line(b, timeout_ms) <= 0)
		return NULL;
	char *nl = memchr(b->data, '\n', b->len);
	size_t n = (size_t)(nl - b->data);
	char *line = strndup(b->data, n);
	memmove(b->data, nl + 1, b->len - n - 1);
	b->len -= n + 1;
	return line;
}

bool mvmt_wait_closed(int fd, int timeout_ms)
{
	rbuf_t *b = buf_for(fd);
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		int r = fill_until_line(b, (int)(deadline - now_ms()));
		if (r < 0)
			return true;
		if (r == 0)
			return false;
		free(mvmt_read_line(fd, 0));
	}
}

json_object *mvmt_request(int fd, const char *line)
{
	mvmt_send_line(fd, line);
	char *resp = mvmt_read_line(fd, 10000);
	ck_assert_msg(resp != NULL, "no response to %.200s", line);
	json_object *o = json_tokener_parse(resp);
	ck_assert_msg(o != NULL, "unparsable response: %.200s", resp);
	free(resp);
	return o;
}

json_object *mvmt_call(int fd, const char *method, const char *params_json)
{
	static int id = 1000;
	char *line;
	json_object *o;

	if (params_json)
		ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\",\"params\":%s}", ++id,
					  method, params_json), 0);
	else
		ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"}", ++id, method), 0);
	o = mvmt_request(fd, line);
	ck_assert_int_eq(mvmt_int(o, "id"), id);
	free(line);
	return o;
}

json_object *mvmt_result(int fd, const char *method, const char *params_json)
{
	json_object *o = mvmt_call(fd, method, params_json), *r;

	ck_assert_msg(json_object_object_get_ex(o, "result", &r), "%s %s failed: %s", method,
		      params_json ? params_json : "", json_object_to_json_string(o));
	r = json_object_get(r);
	json_object_put(o);
	return r;
}

int mvmt_error_code(int fd, const char *method, const char *params_json)
{
	json_object *o = mvmt_call(fd, method, params_json);
	ck_assert_msg(json_object_object_get_ex(o, "error", NULL), "%s %s succeeded: %s", method,
		      params_json ? params_json : "", json_object_to_json_string(o));
	int code = (int)mvmt_int(o, "error.code");
	json_object_put(o);
	return code;
}

json_object *mvmt_get(json_object *o, const char *dotted)
{
	char *copy = strdup(dotted), *save = NULL;
	json_object *cur = o;

	for (char *tok = strtok_r(copy, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
		json_object *next = NULL;
		if (json_object_is_type(cur, json_type_array)) {
			size_t idx = strtoul(tok, NULL, 10);
			next = json_object_array_get_idx(cur, idx);
		} else if (!json_object_object_get_ex(cur, tok, &next)) {
			next = NULL;
		}
		cur = next;
	}
	free(copy);
	return cur;
}

const char *mvmt_str(json_object *o, const char *dotted)
{
	json_object *v = mvmt_get(o, dotted);
	ck_assert_msg(v && json_object_is_type(v, json_type_string), "no string at %s in %s", dotted,
		      json_object_to_json_string(o));
	return json_object_get_string(v);
}

int64_t mvmt_int(json_object *o, const char *dotted)
{
	json_object *v = mvmt_get(o, dotted);
	ck_assert_msg(v && json_object_is_type(v, json_type_int), "no integer at %s in %s", dotted,
		      json_object_to_json_string(o));
	return json_object_get_int64(v);
}

int mvmt_count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	for (struct dirent *de; (de = readdir(d));)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int mvmt_settled_fds(pid_t pid)
{
	/* A count taken while a VM's start still winds down (a guest's
	 * module fetch or boot-time connection closing) is no baseline:
	 * wait until it holds for half a second, at most 20 s. */
	int n = mvmt_count_fds(pid), same = 0;
	for (int i = 0; i < 2000 && same < 50; i++) {
		usleep(10000);
		int m = mvmt_count_fds(pid);
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

void mvmt_wait_pool_settled(int fd)
{
	/* Until the daemon's warm kvm pool (node.info backends.kvm.pool) is
	 * full with nothing warming: its fds then stay as they are. Without
	 * a pool, at once; a pool that cannot fill (paused on failures) is
	 * waited for at most 10 s. */
	for (int i = 0; i < 1000; i++) {
		json_object *r = mvmt_result(fd, "compute.node.info", NULL), *b, *k, *p, *ready, *size, *warming;
		bool settled = !(json_object_object_get_ex(r, "backends", &b) && json_object_object_get_ex(b, "kvm", &k) &&
				 json_object_object_get_ex(k, "pool", &p)) ||
			       (json_object_object_get_ex(p, "ready", &ready) && json_object_object_get_ex(p, "size", &size) &&
				json_object_object_get_ex(p, "warming", &warming) && json_object_get_int(warming) == 0 &&
				json_object_get_int(ready) == json_object_get_int(size));
		json_object_put(r);
		if (settled)
			return;
		usleep(10000);
	}
}

/* One request as nobody:nogroup (65534) over sock; the parsed reply. */
json_object *mvmt_call_as_nobody(const char *sock, const char *method, const char *params)
{
	char buf[8192];
	size_t len = 0;
	ssize_t k;
	int p[2], st;

	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		char line[1024];
		close(p[0]);
		alarm(10);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
		if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(3);
		int n = snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}\n",
				 method, params);
		if (write(c, line, (size_t)n) != n)
			_exit(4);
		shutdown(c, SHUT_WR); /* answered, then closed */
		while ((k = read(c, buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)k;
		if (write(p[1], buf, len) != (ssize_t)len)
			_exit(5);
		_exit(0);
	}
	close(p[1]);
	while ((k = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)k;
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "client as nobody failed: status %d", st);
	buf[len] = 0;
	json_object *o = json_tokener_parse(buf);
	ck_assert_msg(o, "bad reply: %s", buf);
	return o;
}

int mvmt_run_as(uid_t uid, gid_t gid, const gid_t *groups, size_t n, int (*fn)(void *arg), void *arg)
{
	int st;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		alarm(20);
		if (setgroups(n, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(250);
		_exit(fn(arg) & 0xff);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *log_find(const char *path, va_list ap)
{
	char *line = NULL, *found = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	while (!found && getline(&line, &cap, f) > 0) {
		va_list aq;
		bool all = true;
		va_copy(aq, ap);
		for (const char *needle; all && (needle = va_arg(aq, const char *));)
			all = strstr(line, needle) != NULL;
		va_end(aq);
		if (all)
			found = strdup(line);
	}
	free(line);
	fclose(f);
	return found;
}

char *mvmt_daemon_log_line(const mvmt_daemon_t *d, int timeout_ms, ...)
{
	char *found = NULL;

	for (int waited = 0;; waited += 20) {
		va_list ap;
		va_start(ap, timeout_ms);
		found = log_find(d->log, ap);
		va_end(ap);
		if (found || waited >= timeout_ms)
			return found;
		usleep(20000);
	}
}

bool mvmt_have_kvm(void)
{
	int k = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (k < 0)
		return false;
	close(k);
	return true;
}

bool mvmt_kvm_shutdown_keeps_regs(void)
{
	return access("/sys/module/kvm_amd", F_OK) != 0;
}

const char *mvmt_kvm_skip_reason(void)
{
	int st;

	if (!mvmt_have_kvm())
		return "/dev/kvm is missing or not usable: micro-VM workers need it";
	pid_t pid = fork();
	if (pid < 0)
		return "cannot fork to probe seccomp";
	if (pid == 0) {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		_exit(ctx && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && seccomp_load(ctx) == 0 ? 0 : 1);
	}
	for (int i = 0; i < 500; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? NULL : "the kernel refuses seccomp filters: the worker sandbox cannot be built";
		usleep(10000);
	}
	kill(pid, SIGKILL); /* a task blocked in the kernel may not even die */
	return "loading a seccomp filter blocks in the kernel for more than 5 s (a wedged BPF JIT allocator; "
	       "see tests/lib/mvmtest.h): every sandboxed worker would hang, so nothing here can run until the "
	       "machine reboots";
}

bool mvmt_wait_process_ended(pid_t pid, int timeout_ms)
{
	for (int i = 0; i < timeout_ms / 10 && !mvmt_process_ended(pid); i++)
		usleep(10000);
	return mvmt_process_ended(pid);
}

bool mvmt_process_ended(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'Z';
}

json_object *mvmt_call_id(int fd, const char *method, const char *name, const char *extra)
{
	char p[1024];

	snprintf(p, sizeof(p), "{\"id\":\"%s\"%s%s}", name, extra ? "," : "", extra ? extra : "");
	return mvmt_call(fd, method, p);
}

json_object *mvmt_status(int fd, const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "{\"id\":\"%s\"}", name);
	return mvmt_result(fd, "compute.vm.status", p);
}

json_object *mvmt_wait_state(int fd, const char *name, const char *state)
{
	mvmt_follow_t f;
	char id[128];

	/* Subscribed before the first look, so no transition is missed. */
	mvmt_follow_open_like(&f, fd);
	json_object *s = mvmt_status(fd, name);
	if (strcmp(mvmt_str(s, "state"), state) != 0) {
		snprintf(id, sizeof(id), "%s", mvmt_str(s, "id"));
		json_object_put(s);
		json_object_put(mvmt_follow_wait_state(&f, id, state));
		s = mvmt_status(fd, name);
	}
	mvmt_follow_close(&f);
	return s;
}

void mvmt_wait_log(int fd, const char *name, const char *needle)
{
	for (int i = 0; i < 500; i++) {
		json_object *r = mvmt_call_id(fd, "compute.vm.logs", name, NULL);
		bool found = strstr(mvmt_str(r, "result.data"), needle) != NULL;
		json_object_put(r);
		if (found)
			return;
		usleep(10000);
	}
	ck_abort_msg("%s: log never showed \"%s\"", name, needle);
}

void mvmt_stop_running_vms(const mvmt_daemon_t *d)
{
	if (d->pid <= 0)
		return;
	int c = mvmt_connect(d->sock);
	json_object *r = mvmt_result(c, "compute.vm.list", "{\"state\":\"Running\"}");
	json_object *vms = mvmt_get(r, "vms");
	for (size_t i = 0; i < json_object_array_length(vms); i++)
		json_object_put(mvmt_call_id(c, "compute.vm.stop", mvmt_str(json_object_array_get_idx(vms, i), "id"),
					     "\"force\":true"));
	json_object_put(r);
	close(c);
	mvmt_forget_fd(c);
}

void mvmt_remove_all_vms(int fd)
{
	json_object *r = mvmt_result(fd, "compute.vm.list", NULL);
	json_object *vms = mvmt_get(r, "vms");

	for (size_t i = 0; i < json_object_array_length(vms); i++) {
		char p[128];
		snprintf(p, sizeof(p), "{\"id\":\"%s\",\"force\":true}", mvmt_str(json_object_array_get_idx(vms, i), "id"));
		json_object_put(mvmt_call(fd, "compute.vm.remove", p));
	}
	json_object_put(r);
}
