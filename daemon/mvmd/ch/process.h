/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cloud-hypervisor process: where the binary is, what version it is,
 * and starting it detached from mvmd. Never logs.
 */
#ifndef MVM_CH_PROCESS_H
#define MVM_CH_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ch/version.h"
#include "supervise.h"

/* "cloud-hypervisor" on $PATH (or a path with '/', taken as is), when it is
 * an executable regular file. *ret is malloc'd. -ENOENT when not found. */
int ch_binary_find(const char *name, char **ret);

/*
 * Run `binary --version` (stdin /dev/null, stderr discarded, the same bare
 * environment as ch_process_spawn) and parse its
 * first line. Waits at most timeout_ms (then kills it: -ETIMEDOUT). The
 * parsed text (first line, at most 127 bytes) goes to ret_text if given.
 * -EINVAL for output that is not a version, -ENOEXEC when it exits non-zero.
 */
int ch_binary_version(const char *binary, int timeout_ms, ch_version_t *ret, char *ret_text, size_t text_size);

/* The pieces of ch_binary_version for a caller that waits in its event
 * loop: the child (its pid, a pidfd, and the read end of its stdout,
 * all O_CLOEXEC), and the verdict on what it printed (buf has room for a
 * NUL at len; full: it filled CH_VERSION_OUTPUT_MAX - 1 bytes and was
 * killed for it; exited_ok: it exited with status 0). */
#define CH_VERSION_OUTPUT_MAX 4096
int ch_version_spawn(const char *binary, pid_t *ret_pid, int *ret_pidfd, int *ret_rd);
int ch_version_result(char *buf, size_t len, bool full, bool exited_ok, ch_version_t *ret, char *ret_text,
		      size_t text_size);

/* Called with the child's pid before it may exec: < 0 refuses the exec. */
typedef int (*ch_spawn_hook_t)(pid_t pid, void *userdata);

/*
 * Start argv[0] with argv in a new session (setsid), stdin /dev/null,
 * stdout and stderr appended to log_fd, no other fds, an environment of
 * the sanitizer options only (none of mvmd's). The child is ours (reap it), yet it survives mvmd: it is not
 * in mvmd's process group and gets no signal when mvmd ends. Returns once
 * the exec happened (or failed: its errno, e.g. -ENOENT, -EACCES), with a
 * pidfd for it.
 *
 * With before_exec, the forked child waits before its exec until
 * before_exec(pid, userdata) returned >= 0 (a negative return kills it and
 * is returned; sv reaps every child that does not run on): the caller records the pid durably there, and a caller
 * killed before then leaves a child that exits without ever running
 * argv[0], never an untracked one.
 */
int ch_process_spawn(supervisor_t *sv, char *const argv[], int log_fd, ch_spawn_hook_t before_exec, void *userdata,
		     pid_t *ret_pid, int *ret_pidfd);

/*
 * What the configured binary is, cached by path, device, inode, size and
 * mtime so that its --version runs once per change of the file.
 */
typedef struct ch_probe {
	char *path;           /* the binary last examined */
	struct stat st;
	int error;            /* of --version: 0, -EINVAL (not a version), -ETIMEDOUT, ... */
	ch_version_t version;
	char text[128];       /* the first line of --version */
} ch_probe_t;

/*
 * Find `name` (ch_binary_find) and refresh *p when the file changed. 0 when
 * the binary is usable: found, printing a version, at least the minimum.
 * Otherwise -errno and, when ret_cause is given, a malloc'd sentence saying
 * why (for compute.node.info). *ret_path (optional, malloc'd) on success.
 */
int ch_probe_binary(ch_probe_t *p, const char *name, int timeout_ms, char **ret_path, char **ret_cause);
/* The steps of ch_probe_binary, for a caller that runs --version itself:
 * find and stat the binary (the cause as above); whether *p is about that
 * very file; record a result; and the verdict on what *p holds (-EAGAIN
 * when it holds nothing yet). */
int ch_probe_find(const char *name, char **ret_path, struct stat *ret_st, char **ret_cause);
/* The same file, unchanged: device, inode, size and mtime. */
bool ch_same_file(const struct stat *a, const struct stat *b);
bool ch_probe_fresh(const ch_probe_t *p, const char *path, const struct stat *st);
int ch_probe_set(ch_probe_t *p, const char *path, const struct stat *st, int error, const ch_version_t *v,
		 const char *text);
int ch_probe_verdict(const ch_probe_t *p, char **ret_cause);
void ch_probe_done(ch_probe_t *p);

/* The last non-empty line of a log file (what a process said last), with
 * control characters blanked; NULL when there is none. */
char *ch_log_last_line(const char *path);

#endif
