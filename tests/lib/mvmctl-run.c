/* SPDX-License-Identifier: Apache-2.0 */
#include "mvmctl-run.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void mvmt_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

void mvmt_ctl_init(mvmt_ctl_t *c)
{
	const char *b = getenv("MVM_BUILD_DIR");
	char rel[200];

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	snprintf(rel, sizeof(rel), "%s/tests/doubles/fake-cloud-hypervisor", b && *b ? b : "build");
	ck_assert_msg(realpath(rel, c->fake_ch), "%s is missing: run make", rel);
	ck_assert_msg(realpath(mvmt_bin("mvmctl"), c->bin), "%s is missing: run make", mvmt_bin("mvmctl"));
	mvmt_daemon_init(&c->d);
	snprintf(c->kernel, sizeof(c->kernel), "%s/vmlinuz", c->d.dir);
	mvmt_write_file(c->kernel, "not a kernel: the double only checks it is readable\n");
	snprintf(c->fake_kvm, sizeof(c->fake_kvm), "%s/fake-kvm", c->d.dir);
	mvmt_write_file(c->fake_kvm, "");
}

void mvmt_ctl_start(mvmt_ctl_t *c, ...)
{
	const char *extra[8] = { NULL };
	va_list ap;
	int n = 0;

	va_start(ap, c);
	for (const char *a; (a = va_arg(ap, const char *)) && n < 7;)
		extra[n++] = a;
	va_end(ap);
	mvmt_daemon_start(&c->d, "--ch-binary", c->fake_ch, "--kvm-device", c->fake_kvm, "--kvm-pool", "0", extra[0],
			  extra[1], extra[2], extra[3], extra[4], extra[5], extra[6], NULL);
	c->fd = mvmt_connect(c->d.sock);
}

void mvmt_ctl_cleanup(mvmt_ctl_t *c)
{
	if (c->fd >= 0 && c->d.pid > 0)
		mvmt_remove_all_vms(c->fd);
	if (c->fd >= 0) {
		close(c->fd);
		mvmt_forget_fd(c->fd);
		c->fd = -1;
	}
	mvmt_daemon_cleanup(&c->d);
}

static void append(int from, char *buf, size_t cap, size_t *len, bool *open)
{
	ssize_t n = read(from, buf + *len, cap - 1 - *len);
	if (n <= 0) {
		*open = false;
		return;
	}
	*len += (size_t)n;
	buf[*len] = '\0';
}

void mvmt_ctl_run(const mvmt_ctl_t *c, mvmt_run_t *r, const char *socket, const char *in, const char *const *args)
{
	const char *argv[64];
	int o[2], e[2], i[2], n = 0, st;
	size_t olen = 0, elen = 0;
	bool oo = true, eo = true;

	argv[n++] = c->bin;
	if (socket) {
		argv[n++] = "--socket";
		argv[n++] = socket;
	}
	for (; *args && n < 63; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	ck_assert(pipe2(o, O_CLOEXEC) == 0 && pipe2(e, O_CLOEXEC) == 0 && pipe2(i, O_CLOEXEC) == 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(i[0], 0);
		dup2(o[1], 1);
		dup2(e[1], 2);
		execv(c->bin, (char **)argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	close(i[0]);
	if (in)
		mvmt_put(i[1], in, strlen(in));
	close(i[1]);
	memset(r, 0, sizeof(*r));
	while (oo || eo) {
		struct pollfd p[2] = { { .fd = oo ? o[0] : -1, .events = POLLIN }, { .fd = eo ? e[0] : -1, .events = POLLIN } };
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[0].revents)
			append(o[0], r->out, sizeof(r->out), &olen, &oo);
		if (p[1].revents)
			append(e[0], r->err, sizeof(r->err), &elen, &eo);
	}
	close(o[0]);
	close(e[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

pid_t mvmt_ctl_spawn(const mvmt_ctl_t *c, const char *const *args, int *ret_out)
{
	const char *argv[16];
	int o[2], n = 0;

	argv[n++] = c->bin;
	argv[n++] = "--socket";
	argv[n++] = c->d.sock;
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(o, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(o[1], 1);
		execv(c->bin, (char **)argv);
		_exit(127);
	}
	close(o[1]);
	*ret_out = o[0];
	return pid;
}

void mvmt_put(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		ck_assert_msg(n > 0, "write: %m");
		p += n;
		len -= (size_t)n;
	}
}

char *mvmt_expect_output(int fd, const char *needle)
{
	static char buf[65536];
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < 1000 && !strstr(buf, needle); i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 10) == 1) {
			ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
			if (n <= 0)
				break;
			len += (size_t)n;
			buf[len] = '\0';
		}
	}
	ck_assert_msg(strstr(buf, needle), "never saw \"%s\" in \"%s\"", needle, buf);
	return buf;
}

int mvmt_wait_exit(pid_t pid)
{
	int st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
