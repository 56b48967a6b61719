/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The zygote (mvm-vmm --zygote-fd=N, docs/density.md): it drops its
 * capabilities, sets no_new_privs and loads the seccomp filter once, then
 * forks every worker mvmd asks for into that one filter. Each worker
 * inherits the zygote's BPF program instead of loading one of its own, so
 * a node holds one program, not one per VM.
 *
 * A request is one SOCK_SEQPACKET datagram: the worker's command line as
 * NUL-terminated strings (fd numbers, sizes and limits only, as an exec'd
 * worker's; nothing a tenant gave), and ZYGOTE_NFDS fds, the ones an
 * exec'd worker finds as 0..6 (daemon/mvmd/kvm/worker.c), or
 * ZYGOTE_NFDS_MAX with the snapshot a worker restores as its fd 7
 * (--snapshot-fd). The answer is an int32: the worker's pid, or -errno.
 *
 * clone(CLONE_PARENT): the worker is mvmd's child, not the zygote's, so
 * mvmd watches and reaps it through its pidfd as it does an exec'd one,
 * and the zygote never has a child to wait for.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"
#include "vmm.h"
#include "util/macro.h"

#define ZYGOTE_NFDS 7
#define ZYGOTE_NFDS_MAX 8
#define ZYGOTE_MSG_MAX 4096
#define ZYGOTE_ARGV_MAX 32

/* The worker, in the child: its nfds fds to 0..nfds-1 (each moved above
 * them first, so that no dup2 clobbers a source), nothing else open, a
 * session of its own, then the worker's command line, sandboxed already.
 * The zygote holds nothing but 0..6 (its socket among them) and what the
 * request brought, so those are all there is to close. */
static char *title; /* the zygote's argv area: each worker's line goes there */
static size_t title_size;

static _Noreturn void become_worker(int fds[ZYGOTE_NFDS_MAX], int nfds, char *msg, size_t len)
{
	char *argv[ZYGOTE_ARGV_MAX + 1];
	int hi[ZYGOTE_NFDS_MAX], argc = 0;
	sigset_t none;

	for (int i = 0; i < nfds; i++) {
		hi[i] = fcntl(fds[i], F_DUPFD, ZYGOTE_NFDS_MAX + ZYGOTE_NFDS_MAX + 1);
		if (hi[i] < 0)
			_exit(KVM_VMM_EXIT_ERROR);
	}
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= ZYGOTE_NFDS)
			close(fds[i]);
	for (int i = 0; i < nfds; i++) {
		if (dup2(hi[i], i) < 0)
			_exit(KVM_VMM_EXIT_ERROR);
		close(hi[i]);
	}
	(void)setsid();
	/* A worker, by name again: ps, pkill and mvmd's tests tell it from
	 * the zygote it was forked from by its comm. */
	(void)prctl(PR_SET_NAME, "mvm-vmm", 0, 0, 0);
	/* Its own command line in /proc/PID/cmdline (numbers only, as the
	 * zygote's request), as an exec'd worker shows: the area is the
	 * zygote's argv, made long enough for it by mvmd. */
	if (title && title_size) {
		size_t n = len < title_size ? len : title_size;
		memcpy(title, msg, n);
		memset(title + n, 0, title_size - n);
		title[title_size - 1] = 0;
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (size_t off = 0; off < len && argc < ZYGOTE_ARGV_MAX; off += strlen(msg + off) + 1)
		argv[argc++] = msg + off;
	argv[argc] = NULL;
	optind = 0; /* getopt starts over: the zygote parsed its own line */
	_exit(kvm_vmm_cli(argc, argv, true));
}

/* One request: -errno, or the child's pid. */
static int fork_worker(int sock)
{
	static char msg[ZYGOTE_MSG_MAX + 1];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * (ZYGOTE_NFDS_MAX + 1))];
	} ctrl;
	int fds[ZYGOTE_NFDS_MAX + 1], nfds = 0;
	struct iovec iov = { .iov_base = msg, .iov_len = ZYGOTE_MSG_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.b, .msg_controllen = sizeof(ctrl.b) };
	ssize_t k;
	pid_t pid;

	do
		k = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (k < 0 && errno == EINTR);
	if (k <= 0)
		return k == 0 ? 0 : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				if (nfds < ZYGOTE_NFDS_MAX + 1)
					fds[nfds++] = fd;
				else
					close(fd);
			}
	msg[k] = 0;
	if (nfds < ZYGOTE_NFDS || nfds > ZYGOTE_NFDS_MAX || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || msg[k - 1] != 0) {
		pid = -EBADMSG;
	} else {
		/* A process of its own (no CLONE_VM, no namespace), mvmd's
		 * child; the same flags the filter allows and nothing else. */
		pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
		if (pid == 0)
			become_worker(fds, nfds, msg, (size_t)k);
		if (pid < 0)
			pid = -errno;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return pid;
}

int kvm_zygote_main(int sock, char *argv_area, size_t argv_size)
{
	int r;

	title = argv_area;
	title_size = argv_size;
	(void)prctl(PR_SET_NAME, "mvm-zygote", 0, 0, 0);
	/* The one filter every worker shares: loaded here, once. */
	r = sandbox_enter(sandbox_zygote_rules, sandbox_zygote_nrules);
	if (r < 0)
		return KVM_VMM_EXIT_ERROR;
	for (;;) {
		r = fork_worker(sock);
		if (r == 0)
			return KVM_VMM_EXIT_OK; /* mvmd closed its end */
		int32_t answer = r;
		if (write(sock, &answer, sizeof(answer)) != (ssize_t)sizeof(answer))
			return KVM_VMM_EXIT_OK;
	}
}
