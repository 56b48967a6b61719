/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cloud-hypervisor process: where the binary is, what version it is,
 * and starting it detached from mvmd. Never logs.
 */
#ifndef MVM_CH_PROCESS_H
#define MVM_CH_PROCESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ch/version.h"

/* "cloud-hypervisor" on $PATH (or a path with '/', taken as is), when it is
 * an executable regular file. *ret is malloc'd. -ENOENT when not found. */
int ch_binary_find(const char *name, char **ret);

/*
 * Run `binary --version` (stdin /dev/null, stderr discarded) and parse its
 * first line. Waits at most timeout_ms (then kills it: -ETIMEDOUT). The
 * parsed text (first line, at most 127 bytes) goes to ret_text if given.
 * -EINVAL for output that is not a version, -ENOEXEC when it exits non-zero.
 */
int ch_binary_version(const char *binary, int timeout_ms, ch_version_t *ret, char *ret_text, size_t text_size);

/*
 * Start argv[0] with argv in a new session (setsid), stdin /dev/null,
 * stdout and stderr appended to log_fd, no other fds, the caller's
 * environment. The child is ours (reap it), yet it survives mvmd: it is not
 * in mvmd's process group and gets no signal when mvmd ends. Returns once
 * the exec happened (or failed: its errno, e.g. -ENOENT, -EACCES), with a
 * pidfd for it.
 */
int ch_process_spawn(char *const argv[], int log_fd, pid_t *ret_pid, int *ret_pidfd);

#endif
