/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starting mvm-fetch (lib/proto/fetch-proto.h, docs/blobs.md "Privilege
 * separation"): spawned with only its socket and the write end of its
 * data pipe, told its setup at once, so that it reads its CA bundle and
 * enters its sandbox before it has a job. A spare started ahead of a pull
 * takes that startup (dynamic linking of libcurl's dependencies, about
 * as long as the download of a small blob) off the pull's path.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pull-internal.h"
#include "proto/fetch-proto.h"
#include "util/macro.h"
#include "util/pidfd.h"

/* Room for several frames of mvm-fetch's (256 KiB each) between two reads */
#define PIPE_SIZE (1 << 20)

static const char *const env_keep[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };

static int spawn_fetch(const char *path, int ctl, int data, pid_t *ret_pid)
{
	char *envp[ELEMENTSOF(env_keep) + 1], *argv[] = { (char *)"mvm-fetch", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	size_t ne = 0;
	int r;

	for (size_t i = 0; i < ELEMENTSOF(env_keep); i++)
		for (char **e = environ; e && *e; e++)
			if (strncmp(*e, env_keep[i], strlen(env_keep[i])) == 0 && (*e)[strlen(env_keep[i])] == '=') {
				envp[ne++] = *e;
				break;
			}
	envp[ne] = NULL;
	sigemptyset(&none);
	sigfillset(&all);
	r = -posix_spawn_file_actions_init(&fa);
	if (r < 0)
		return r;
	r = -posix_spawnattr_init(&attr);
	if (r == 0)
		r = -posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = -posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (r == 0)
		r = -posix_spawn_file_actions_adddup2(&fa, ctl, FETCH_CTL_FD);
	if (r == 0)
		r = -posix_spawn_file_actions_adddup2(&fa, data, FETCH_DATA_FD);
	if (r == 0)
		r = -posix_spawn_file_actions_addclosefrom_np(&fa, FETCH_DATA_FD + 1);
	if (r == 0)
		r = -posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (r == 0)
		r = -posix_spawnattr_setsigmask(&attr, &none);
	if (r == 0)
		r = -posix_spawnattr_setsigdefault(&attr, &all);
	if (r == 0)
		r = -posix_spawn(ret_pid, path, &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return r;
}

int pull_send_json(int fd, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	if (!s)
		return -ENOMEM;
	if (strlen(s) > FETCH_MSG_MAX)
		return -EMSGSIZE;
	return send(fd, s, strlen(s), MSG_NOSIGNAL) < 0 ? negative_errno() : 0;
}

int pull_helper_spawn(const pull_config_t *cfg, pull_helper_t *ret)
{
	_cleanup_close_ int ctl_child = -1, data_child = -1;
	pull_helper_t h = { .pidfd = -1, .ctl_fd = -1, .data_fd = -1 };
	json_object *setup;
	int sv[2], pfd[2], r;

	if (!cfg->fetch_path)
		return -ENOENT;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return negative_errno();
	h.ctl_fd = sv[0];
	ctl_child = sv[1];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		r = negative_errno();
		goto fail;
	}
	h.data_fd = pfd[0];
	data_child = pfd[1];
	/* the child's dup2 onto FETCH_CTL_FD must not clobber the pipe's end
	 * before its own dup2 (fd 3 may be free in mvmd, or not) */
	if (data_child <= FETCH_DATA_FD) {
		int fd = fcntl(data_child, F_DUPFD_CLOEXEC, FETCH_DATA_FD + 1);
		if (fd < 0) {
			r = negative_errno();
			goto fail;
		}
		safe_close(data_child);
		data_child = fd;
	}
	/* best effort: a smaller pipe only means more wakeups */
	(void)fcntl(h.data_fd, F_SETPIPE_SZ, PIPE_SIZE);
	if (fcntl(h.data_fd, F_SETFL, O_NONBLOCK) < 0) {
		r = negative_errno();
		goto fail;
	}
	r = spawn_fetch(cfg->fetch_path, ctl_child, data_child, &h.pid);
	if (r < 0)
		goto fail;
	h.pidfd = (int)syscall(SYS_pidfd_open, h.pid, 0);
	if (h.pidfd < 0) {
		r = negative_errno();
		kill(h.pid, SIGKILL);
		waitpid(h.pid, NULL, 0);
		goto fail;
	}
	fcntl(h.pidfd, F_SETFD, FD_CLOEXEC);
	setup = json_object_new_object();
	if (setup && cfg->ca_file)
		json_object_object_add(setup, "ca_file", json_object_new_string(cfg->ca_file));
	r = setup ? pull_send_json(h.ctl_fd, setup) : -ENOMEM;
	json_object_put(setup);
	if (r < 0)
		goto fail;
	*ret = h;
	return 0;
fail:
	pull_helper_end(&h);
	return r;
}

void pull_helper_end(pull_helper_t *h)
{
	if (h->pidfd >= 0) {
		pidfd_kill(h->pidfd, SIGKILL);
		pidfd_reap(h->pidfd, WEXITED, NULL);
	}
	h->pidfd = safe_close(h->pidfd);
	h->ctl_fd = safe_close(h->ctl_fd);
	h->data_fd = safe_close(h->data_fd);
	h->pid = 0;
}
