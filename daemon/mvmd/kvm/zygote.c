/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd's side of the zygote (zygote.h). The zygote is kept in statics, as
 * worker.c keeps the CPUID memfd: one per process that spawns workers
 * (mvmd, or a test), under a lock. It dies with its parent: its socket
 * reads end-of-file and it exits; one that died is started again once
 * per request, and one that cannot start makes workers exec'd as before.
 */
#include "kvm/zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/macro.h"

#define ZYGOTE_MSG_MAX 4096
#define ZYGOTE_ANSWER_MS 10000
#define ZYGOTE_TITLE_ROOM 256
static unsigned long zygote_forks;

static pthread_mutex_t zygote_lock = PTHREAD_MUTEX_INITIALIZER;
static int zygote_sock = -1;
static pid_t zygote_pid;
static bool zygote_broken; /* it could not start here (or is off): exec workers */

void kvm_zygote_set_enabled(bool on)
{
	pthread_mutex_lock(&zygote_lock);
	zygote_broken = !on;
	pthread_mutex_unlock(&zygote_lock);
}

static void zygote_drop(void)
{
	zygote_sock = safe_close(zygote_sock);
	/* Our child: reaped here, nobody else knows it. */
	if (zygote_pid > 0 && waitpid(zygote_pid, NULL, WNOHANG) == 0) {
		kill(zygote_pid, SIGKILL);
		(void)waitpid(zygote_pid, NULL, 0);
	}
	zygote_pid = 0;
}

static int zygote_start(const char *vmm_path)
{
	/* Room in its argv for each worker's own line (daemon/vmm/zygote.c
	 * writes it there): a worker's /proc/PID/cmdline is then its own. */
	char fdarg[32], room[ZYGOTE_TITLE_ROOM], *argv[] = { (char *)vmm_path, fdarg, room, NULL };
	_cleanup_close_ int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	int sp[2], r;

	if (null_fd < 0)
		return negative_errno();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return negative_errno();
	snprintf(fdarg, sizeof(fdarg), "--zygote-fd=3");
	memset(room, ' ', sizeof(room) - 1);
	room[sizeof(room) - 1] = 0;
	int src[KVM_WORKER_NFDS_MAX] = { null_fd, null_fd, null_fd, sp[1], null_fd, null_fd, null_fd };
	r = kvm_worker_exec(src, KVM_WORKER_NFDS, argv, &zygote_pid);
	close(sp[1]);
	if (r < 0) {
		close(sp[0]);
		zygote_pid = 0;
		return r;
	}
	zygote_sock = sp[0];
	return 0;
}

/* One request and its answer: the pid, -errno of the fork, or -EPIPE
 * when the zygote is gone (or silent). */
static int zygote_ask(const int src[KVM_WORKER_NFDS_MAX], int nfds, char **argv)
{
	char msg[ZYGOTE_MSG_MAX];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * KVM_WORKER_NFDS_MAX)];
	} ctrl;
	size_t len = 0;
	int32_t answer;

	for (int i = 0; argv[i]; i++) {
		size_t l = strlen(argv[i]) + 1;
		if (len + l > sizeof(msg))
			return -E2BIG;
		memcpy(msg + len, argv[i], l);
		len += l;
	}
	struct iovec iov = { .iov_base = msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.b,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds) };
	memset(&ctrl, 0, sizeof(ctrl));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
	memcpy(CMSG_DATA(c), src, sizeof(int) * (size_t)nfds);
	if (sendmsg(zygote_sock, &mh, MSG_NOSIGNAL) != (ssize_t)len)
		return -EPIPE;
	struct pollfd p = { .fd = zygote_sock, .events = POLLIN };
	int n;
	do
		n = poll(&p, 1, ZYGOTE_ANSWER_MS);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || read(zygote_sock, &answer, sizeof(answer)) != (ssize_t)sizeof(answer))
		return -EPIPE;
	return answer;
}

unsigned long kvm_zygote_forks(void)
{
	pthread_mutex_lock(&zygote_lock);
	unsigned long n = zygote_forks;
	pthread_mutex_unlock(&zygote_lock);
	return n;
}

void kvm_zygote_prestart(const char *vmm_path)
{
	pthread_mutex_lock(&zygote_lock);
	if (!zygote_broken && zygote_sock < 0 && zygote_start(vmm_path) < 0)
		zygote_broken = true;
	pthread_mutex_unlock(&zygote_lock);
}

int kvm_zygote_fork(const char *vmm_path, const int src[KVM_WORKER_NFDS_MAX], int nfds, char **argv,
		    pid_t *ret_pid)
{
	int r = -ENOSYS;

	pthread_mutex_lock(&zygote_lock);
	for (int attempt = 0; attempt < 2 && !zygote_broken; attempt++) {
		if (zygote_sock < 0 && zygote_start(vmm_path) < 0) {
			zygote_broken = true;
			break;
		}
		r = zygote_ask(src, nfds, argv);
		if (r != -EPIPE)
			break;
		/* Gone (killed, or its filter refused it something): once more,
		 * then exec'd workers from here on. */
		zygote_drop();
		r = -ENOSYS;
		if (attempt == 1)
			zygote_broken = true;
	}
	if (r > 0)
		zygote_forks++;
	pthread_mutex_unlock(&zygote_lock);
	if (r > 0) {
		*ret_pid = r;
		return 0;
	}
	return r == 0 ? -EIO : r;
}
