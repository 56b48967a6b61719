/* SPDX-License-Identifier: Apache-2.0 */
#include "proc-scan.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Read /proc/PID/<what>; -1 when it cannot be read (gone, or not ours). */
static ssize_t proc_read(const char *pid, const char *what, char *buf, size_t size)
{
	char path[300];
	snprintf(path, sizeof(path), "/proc/%s/%s", pid, what);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	size_t len = 0;
	ssize_t k;
	while (len < size && (k = read(f, buf + len, size - len)) > 0)
		len += (size_t)k;
	close(f);
	return (ssize_t)len;
}

void mvmt_proc_scan(const char *const *strs, size_t n, pid_t pid, mvmt_proc_scan_t *s)
{
	static char buf[1 << 20];
	const char *what[] = { "cmdline", "environ" };
	DIR *dir = opendir("/proc");
	struct dirent *e;

	memset(s, 0, sizeof(*s));
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		for (size_t w = 0; w < 2; w++) {
			ssize_t len = proc_read(e->d_name, what[w], buf, sizeof(buf));
			if (len < 0)
				continue;
			if (w == 0) {
				s->cmdlines_read++;
				s->saw_pid |= atoi(e->d_name) == pid;
			}
			for (size_t i = 0; i < n; i++)
				if (memmem(buf, (size_t)len, strs[i], strlen(strs[i])) && !s->hits++)
					snprintf(s->first, sizeof(s->first), "/proc/%.16s/%s has \"%.80s\"", e->d_name,
						 what[w], strs[i]);
		}
	}
	closedir(dir);
}

void mvmt_proc_scan_as_nobody(const char *const *strs, size_t n, pid_t pid, mvmt_proc_scan_t *s)
{
	int p[2], st;
	ck_assert_int_eq(pipe(p), 0);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		mvmt_proc_scan_t r;
		close(p[0]);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0 || getuid() != 65534)
			_exit(2);
		mvmt_proc_scan(strs, n, pid, &r);
		_exit(write(p[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 3);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], s, sizeof(*s)), (ssize_t)sizeof(*s));
	close(p[0]);
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "scan as nobody: status %d", st);
}
