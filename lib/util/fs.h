/* SPDX-License-Identifier: Apache-2.0 */
/* File-system helpers: crash-safe writes, bounded reads, recursive removal. */
#ifndef MVM_UTIL_FS_H
#define MVM_UTIL_FS_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Replace dirfd/name with data: write a temp file in the same directory
 * (".<name>.XXXXXX.tmp", removed on every error path) and rename it over
 * name. Readers (and a restarted process) see the old or the new content,
 * never a mix, but without fsyncs a power cut may bring back the old one.
 */
int replace_file_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode);

/* The same, and when durable the temp file is fsync'd before the rename and
 * the directory after it: after a power cut the file holds either the old
 * or the new content. fault_point(fault) (lib/util/fault.h) fires once the
 * temp file is complete, before its rename; fault may be NULL. */
int write_file_at_full(int dirfd, const char *name, const void *data, size_t len, mode_t mode, bool durable,
		       const char *fault);

/* Remove the temp files of `name` in dirfd that the writers above leave
 * behind when the process dies mid-write (".<name>.XXXXXXXX.tmp", nothing
 * else). Returns how many were removed, or -errno. */
int remove_temp_files_at(int dirfd, const char *name);

/* Read a whole regular file of at most max bytes (-EFBIG beyond), NUL-terminated. */
int read_file_at(int dirfd, const char *name, size_t max, char **ret_data, size_t *ret_len);

/* dirfd/name (".": dirfd itself) as a directory stream of its own fd, so
 * closedir() leaves dirfd open. flags are added to openat()'s
 * (O_NOFOLLOW). */
int opendir_at(int dirfd, const char *name, int flags, DIR **ret);

/* Remove dirfd/name and everything below it, never following symlinks. */
int rm_rf_at(int dirfd, const char *name);

/* mkdir -p with mode for each created component. */
int mkdir_p(const char *path, mode_t mode);

#endif
