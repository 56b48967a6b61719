/* SPDX-License-Identifier: Apache-2.0 */
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "io.h"
#include "macro.h"

int write_file_at_full(int dirfd, const char *name, const void *data, size_t len, mode_t mode, bool durable,
		       const char *fault)
{
	char tmp[256];
	_cleanup_close_ int fd = -1;
	int r;

	if (strchr(name, '/') || strlen(name) > 200)
		return -EINVAL;

	/* A unique temp name without mkostemp (which has no *at variant). */
	for (int attempt = 0;; attempt++) {
		unsigned rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = (unsigned)getpid() * 2654435761u + (unsigned)attempt;
		snprintf(tmp, sizeof(tmp), ".%s.%08x.tmp", name, rnd);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
		if (fd >= 0)
			break;
		if (errno != EEXIST || attempt > 16)
			return negative_errno();
	}

	r = write_all(fd, data, len);
	if (r == 0 && durable && fsync(fd) < 0)
		r = negative_errno();
	if (r == 0 && fault)
		fault_point(fault);
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = negative_errno();
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	/* The rename is durable only once the directory is. */
	if (durable && fsync(dirfd) < 0)
		return negative_errno();
	return 0;
}

int replace_file_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
	return write_file_at_full(dirfd, name, data, len, mode, false, NULL);
}

/* ".<name>.XXXXXXXX.tmp" with eight lowercase hex digits: exactly what
 * write_file_at_full() makes, nothing a user could have put there. */
static bool is_temp_of(const char *f, const char *name)
{
	size_t n = strlen(name), l = strlen(f);

	if (l != n + 14 || f[0] != '.' || strncmp(f + 1, name, n) != 0 || f[n + 1] != '.' ||
	    strcmp(f + n + 10, ".tmp") != 0)
		return false;
	for (size_t i = n + 2; i < n + 10; i++)
		if (!((f[i] >= '0' && f[i] <= '9') || (f[i] >= 'a' && f[i] <= 'f')))
			return false;
	return true;
}

int opendir_at(int dirfd, const char *name, int flags, DIR **ret)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | flags);
	DIR *d;

	if (fd < 0)
		return negative_errno();
	d = fdopendir(fd);
	if (!d) {
		int r = negative_errno();
		safe_close(fd);
		return r;
	}
	*ret = d;
	return 0;
}

int remove_temp_files_at(int dirfd, const char *name)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int n = 0, r;

	r = opendir_at(dirfd, ".", 0, &d);
	if (r < 0)
		return r;
	while ((de = readdir(d)))
		if (is_temp_of(de->d_name, name) && unlinkat(dirfd, de->d_name, 0) == 0)
			n++;
	return n;
}

int read_file_at(int dirfd, const char *name, size_t max, char **ret_data, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t len = 0;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -EBADFD;
	if ((size_t)st.st_size > max)
		return -EFBIG;

	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return -EFBIG; /* grew while we read */
	}
	buf[len] = '\0';
	*ret_data = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

static int rm_rf_children(int fd)
{
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		safe_close(fd);
		return negative_errno();
	}
	while ((errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int q = rm_rf_at(dirfd(d), de->d_name);
		if (q < 0 && r == 0)
			r = q;
	}
	return r;
}

int rm_rf_at(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return negative_errno();
	/* An empty directory needs no fd (which may be what ran out). */
	if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;

	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : negative_errno();
	int r = rm_rf_children(fd); /* takes fd */
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return r < 0 ? r : negative_errno();
	return r;
}

int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return negative_errno();
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}
