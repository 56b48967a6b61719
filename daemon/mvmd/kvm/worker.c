/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spawn, adopt and reap mvm-vmm workers (the parent side; see worker.h).
 * The child gets exactly: 0,1 /dev/null, 2 log or /dev/null, 3 /dev/kvm,
 * 4 the guest image, 5 a SOCK_SEQPACKET socket, 6 a sealed memfd with the
 * supported-CPUID table (asked once per parent). On fd 5 a cold worker
 * finds its ASSIGN (lib/proto/warm.h) already waiting: the VM's control
 * socket, result file, vsock socket and module as SCM_RIGHTS, and its
 * strings (args, capabilities, environment, workload hash); a warm worker
 * gets the same ASSIGN there later. The command line holds only fd
 * numbers, sizes and limits: it is world-readable in /proc/PID/cmdline,
 * and no string a tenant gave may be in it.
 * The parent closes its copies and sets them to -1 once handed over, as
 * OpenBSD vmd does, so no fd of one VM leaks into another VM's worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/cpuid.h"
#include "proto/warm.h"
#include "kvm/worker.h"
#include "kvm/zygote.h"
#include "supervise.h"
#include "util/macro.h"

extern char **environ;

#define FD_KVM 3
#define FD_IMAGE 4
#define FD_SOCK 5 /* the assign (cold) or pool (warm) socket */
#define FD_CPUID 6
#define CHILD_NFDS KVM_WORKER_NFDS
#define FD_SNAPSHOT 7 /* only a worker that restores a snapshot */
#define CHILD_NFDS_MAX KVM_WORKER_NFDS_MAX
#define ARGV_MAX 16

static int spawn_exec(const int src[CHILD_NFDS_MAX], int nfds, char **argv, pid_t *ret_pid);

static int sockaddr_for(const char *path, struct sockaddr_un *sa)
{
	size_t l = strlen(path);
	if (l == 0 || l >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, l + 1);
	return 0;
}

int kvm_worker_connect(const char *ctl_path, kvm_ctl_t **ret)
{
	struct sockaddr_un sa;
	_cleanup_close_ int fd = -1;
	int r = sockaddr_for(ctl_path, &sa);

	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	/* Blocking connect: on AF_UNIX it completes at once or fails. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return negative_errno();
	r = kvm_ctl_new(fd, 1u << 20, ret);
	if (r < 0)
		return r;
	TAKE_FD(fd);
	return 0;
}

static int listen_at(const char *path)
{
	struct sockaddr_un sa;
	_cleanup_close_ int fd = -1;
	int r = sockaddr_for(path, &sa);

	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	if (unlink(path) < 0 && errno != ENOENT)
		return negative_errno();
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return negative_errno();
	/* Only root (the worker checks SO_PEERCRED too). */
	if (chmod(path, 0600) < 0 || listen(fd, 8) < 0) {
		r = negative_errno();
		unlink(path);
		return r;
	}
	return TAKE_FD(fd);
}

typedef struct argv_buf {
	char *v[ARGV_MAX];
	size_t n;
} argv_buf_t;

static void argv_free(argv_buf_t *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

/* Append prefix + s, or prefix + u when s is NULL. */
static int argv_add(argv_buf_t *a, const char *prefix, const char *s, unsigned long u)
{
	char *x;
	int k;

	if (a->n + 2 > ARGV_MAX)
		return -E2BIG;
	k = s ? asprintf(&x, "%s%s", prefix, s) : asprintf(&x, "%s%lu", prefix, u);
	if (k < 0)
		return -ENOMEM;
	a->v[a->n++] = x;
	a->v[a->n] = NULL;
	return 0;
}

/* Numbers only: the VM's strings go in the ASSIGN. */
static int build_argv(const kvm_worker_config_t *c, uint32_t mem, uint32_t vcpus, argv_buf_t *a)
{
	int r = 0;

	r = r ?: argv_add(a, "", c->vmm_path, 0);
	r = r ?: argv_add(a, "--kvm-fd=", NULL, FD_KVM);
	r = r ?: argv_add(a, "--image-fd=", NULL, FD_IMAGE);
	r = r ?: argv_add(a, "--assign-fd=", NULL, FD_SOCK);
	r = r ?: argv_add(a, "--cpuid-fd=", NULL, FD_CPUID);
	r = r ?: argv_add(a, "--memory-mib=", NULL, mem);
	r = r ?: argv_add(a, "--vcpus=", NULL, vcpus);
	if (c->rlimit_as)
		r = r ?: argv_add(a, "--rlimit-as=", NULL, (unsigned long)c->rlimit_as);
	if (c->debug & KVM_WORKER_DEBUG_FORBIDDEN_SYSCALL)
		r = r ?: argv_add(a, "--debug-forbidden-syscall", "", 0);
	if (c->debug & KVM_WORKER_DEBUG_EXEC_MAPPING)
		r = r ?: argv_add(a, "--debug-exec-mapping", "", 0);
	if (c->snapshot_fd > 0)
		r = r ?: argv_add(a, "--snapshot-fd=", NULL, FD_SNAPSHOT);
	return r;
}

/*
 * posix_spawn (clone with CLONE_VM|CLONE_VFORK in glibc): no copy of the
 * parent's page tables, which matters for a large (or sanitized) mvmd, and
 * exec failures come back as the return value. Every source fd is moved to
 * CHILD_NFDS_MAX or above first, so the dup2s into 0..nfds-1 cannot
 * clobber one another, and a source is never its own target (dup2 onto
 * itself would keep O_CLOEXEC).
 */
/*
 * The worker faces hostile guests: it gets none of mvmd's environment
 * (NOTIFY_SOCKET, credentials, whatever an operator set), only the
 * sanitizer options that make sanitized test runs work.
 */
static const char *const env_keep[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };

static void worker_env(char *envp[static 4])
{
	size_t n = 0;
	for (size_t i = 0; i < ELEMENTSOF(env_keep); i++)
		for (char **e = environ; e && *e; e++)
			if (strncmp(*e, env_keep[i], strlen(env_keep[i])) == 0 &&
			    (*e)[strlen(env_keep[i])] == '=') {
				envp[n++] = *e;
				break;
			}
	envp[n] = NULL;
}

static int spawn_child(const int src[CHILD_NFDS_MAX], int nfds, char **argv, pid_t *ret_pid)
{
	/* The zygote forks it into the one shared filter (zygote.c); a
	 * zygote that cannot run here leaves the worker to load its own. */
	int z = kvm_zygote_fork(argv[0], src, nfds, argv, ret_pid);
	if (z != -ENOSYS)
		return z;
	return spawn_exec(src, nfds, argv, ret_pid);
}

int kvm_worker_exec(const int src[CHILD_NFDS_MAX], int nfds, char **argv, pid_t *ret_pid)
{
	return spawn_exec(src, nfds, argv, ret_pid);
}

static int spawn_exec(const int src[CHILD_NFDS_MAX], int nfds, char **argv, pid_t *ret_pid)
{
	char *envp[ELEMENTSOF(env_keep) + 1];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int high[CHILD_NFDS_MAX], r;
	sigset_t none, all;

	for (int i = 0; i < CHILD_NFDS_MAX; i++)
		high[i] = -1;
	for (int i = 0; i < nfds; i++) {
		if (src[i] < CHILD_NFDS_MAX) {
			high[i] = fcntl(src[i], F_DUPFD_CLOEXEC, CHILD_NFDS_MAX);
			if (high[i] < 0) {
				r = negative_errno();
				goto out_fds;
			}
		}
	}
	r = -posix_spawn_file_actions_init(&fa);
	if (r < 0)
		goto out_fds;
	r = -posix_spawnattr_init(&attr);
	if (r < 0)
		goto out_fa;
	for (int i = 0; i < nfds && r == 0; i++)
		r = -posix_spawn_file_actions_adddup2(&fa, high[i] >= 0 ? high[i] : src[i], i);
	if (r == 0)
		r = -posix_spawn_file_actions_addclosefrom_np(&fa, nfds);
	sigemptyset(&none);
	sigfillset(&all);
	/* Own session (terminal signals are not ours), empty mask, every
	 * signal at its default (mvmd's handlers and SIG_IGN stay behind). */
	if (r == 0)
		r = -posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
						     POSIX_SPAWN_SETSIGDEF);
	if (r == 0)
		r = -posix_spawnattr_setsigmask(&attr, &none);
	if (r == 0)
		r = -posix_spawnattr_setsigdefault(&attr, &all);
	worker_env(envp);
	if (r == 0)
		r = -posix_spawn(ret_pid, argv[0], &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
out_fa:
	posix_spawn_file_actions_destroy(&fa);
out_fds:
	for (int i = 0; i < CHILD_NFDS_MAX; i++)
		safe_close(high[i]);
	return r;
}

/* The per-VM endpoints a worker gets, made by the parent: the listening
 * control socket, the result file, the listening vsock socket, and our
 * connection to the control socket, made before the worker exists (it
 * waits in the backlog, so not a byte of early console output is missed). */
typedef struct vm_fds {
	int listen_fd, result_fd, vsock_fd;
	kvm_ctl_t *ctl;
} vm_fds_t;

static void vm_fds_close(vm_fds_t *v, const kvm_worker_config_t *c, bool unlink_paths)
{
	v->listen_fd = safe_close(v->listen_fd);
	v->result_fd = safe_close(v->result_fd);
	v->vsock_fd = safe_close(v->vsock_fd);
	v->ctl = kvm_ctl_free(v->ctl);
	if (unlink_paths && c->ctl_path) {
		unlink(c->ctl_path);
		if (c->vsock_path)
			unlink(c->vsock_path);
	}
}

/* A control socket path, or a run's socketpair (kvm_worker_config_t). */
static bool ctl_given(const kvm_worker_config_t *c)
{
	return c->ctl_path || (c->flags & KVM_WARM_F_RUN);
}

static int vm_fds_open(const kvm_worker_config_t *c, vm_fds_t *v)
{
	int r;

	*v = (vm_fds_t){ .listen_fd = -1, .result_fd = -1, .vsock_fd = -1 };
	if (c->result_path) {
		v->result_fd = open(c->result_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (v->result_fd < 0)
			return negative_errno();
	}
	/* A run's worker is never reconnected to (a restarted mvmd does
	 * not look for it): the connection itself, no socket file. */
	if (!c->ctl_path) {
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
			return negative_errno();
		v->listen_fd = sp[1];
		r = kvm_ctl_new(sp[0], 1u << 20, &v->ctl);
		if (r < 0) {
			close(sp[0]);
			vm_fds_close(v, c, false);
		}
		return r;
	}
	v->listen_fd = listen_at(c->ctl_path);
	if (v->listen_fd < 0) {
		r = v->listen_fd;
		vm_fds_close(v, c, false);
		return r;
	}
	/* Hybrid vsock: made here, so the sandboxed worker binds nothing. */
	if (c->vsock_path) {
		v->vsock_fd = listen_at(c->vsock_path);
		if (v->vsock_fd < 0) {
			r = v->vsock_fd;
			unlink(c->ctl_path);
			vm_fds_close(v, c, false);
			return r;
		}
	}
	r = kvm_worker_connect(c->ctl_path, &v->ctl);
	if (r < 0) {
		vm_fds_close(v, c, true);
		return r;
	}
	return 0;
}

/* pidfd and start time of a child we just spawned; kills it if we cannot
 * watch it (it must not run on unsupervised). */
static int watch_child(pid_t pid, int *ret_pidfd, uint64_t *ret_start_time)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0), r;

	if (fd < 0) {
		/* No pidfd (out of fds or memory): the loop cannot hear this
		 * worker end and the supervisor cannot take it (it reaps by
		 * pidfd), while leaving it would leave a zombie for mvmd's
		 * lifetime. So this one wait stays blocking; it is short: the
		 * worker was spawned a moment ago, has no VM yet and is in no
		 * uninterruptible wait, so SIGKILL ends it at once and the
		 * wait is for the kernel's exit path only. */
		r = negative_errno();
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return r;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	*ret_pidfd = fd;
	*ret_start_time = 0;
	(void)sv_proc_start_time(pid, ret_start_time);
	return 0;
}

/*
 * The guest image as a sealed memfd, one per image file (the last few
 * used), made again when the file changes (another inode, size or
 * mtime): workers map its code MAP_PRIVATE (daemon/vmm/kvm-vm.c,
 * share_image), so every VM of one image reads one page-cache copy, and
 * the seals guarantee that nobody changes the code under a running guest
 * (a file the operator rewrites in place would have). -errno when the
 * file cannot be read; the caller then opens it as before.
 */
#define IMAGE_CACHE 4
static struct image_entry {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int fd;
} image_cache[IMAGE_CACHE] = { [0 ... IMAGE_CACHE - 1] = { .fd = -1 } };
static unsigned image_next;
static pthread_mutex_t image_lock = PTHREAD_MUTEX_INITIALIZER;

static int image_memfd_make(int src, off_t size)
{
	_cleanup_close_ int fd = memfd_create("mvm-guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	off_t off = 0;

	if (fd < 0)
		return negative_errno();
	while (off < size) {
		ssize_t n = sendfile(fd, src, &off, (size_t)(size - off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? negative_errno() : -EIO;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return negative_errno();
	return TAKE_FD(fd);
}

static int image_open(const char *path)
{
	_cleanup_close_ int src = open(path, O_RDONLY | O_CLOEXEC);
	struct image_entry *e = NULL;
	struct stat st;
	int r;

	if (src < 0)
		return negative_errno();
	if (fstat(src, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	pthread_mutex_lock(&image_lock);
	for (unsigned i = 0; i < IMAGE_CACHE; i++)
		if (image_cache[i].path && strcmp(image_cache[i].path, path) == 0)
			e = &image_cache[i];
	if (e && (e->dev != st.st_dev || e->ino != st.st_ino || e->size != st.st_size ||
		  e->mtime.tv_sec != st.st_mtim.tv_sec || e->mtime.tv_nsec != st.st_mtim.tv_nsec))
		e->fd = safe_close(e->fd);
	if (!e) {
		e = &image_cache[image_next++ % IMAGE_CACHE];
		free(e->path);
		e->fd = safe_close(e->fd);
		e->path = strdup(path);
	}
	if (e->fd < 0 && e->path) {
		e->fd = image_memfd_make(src, st.st_size);
		e->dev = st.st_dev;
		e->ino = st.st_ino;
		e->size = st.st_size;
		e->mtime = st.st_mtim;
	}
	if (!e->path) {
		r = -ENOMEM;
	} else if (e->fd < 0) {
		r = e->fd; /* -errno: made again next time */
		e->fd = -1;
	} else {
		r = fcntl(e->fd, F_DUPFD_CLOEXEC, 3);
		if (r < 0)
			r = negative_errno();
	}
	pthread_mutex_unlock(&image_lock);
	return r;
}

/* What every worker gets whatever its VM: /dev/kvm, the guest image, the
 * shared CPUID memfd (cached for the process: not the caller's to close)
 * and /dev/null for the slots it leaves empty. */
static int open_sources(const kvm_worker_config_t *c, uint32_t mem, uint32_t vcpus, int *ret_kvm, int *ret_image,
			int *ret_cpuid, int *ret_null)
{
	if (!c->vmm_path || !c->image_path)
		return -EINVAL;
	if (mem < KVM_VM_MEM_MIN_MIB || mem > KVM_VM_MEM_MAX_MIB || vcpus > KVM_VM_VCPUS_MAX)
		return -EINVAL;
	/* mvmd's own, opened once (it is stateless: every worker makes its
	 * VM from its copy), or opened here. */
	if (c->kvm_fd > 0)
		*ret_kvm = fcntl(c->kvm_fd, F_DUPFD_CLOEXEC, 3);
	else
		*ret_kvm = open(c->kvm_path ? c->kvm_path : "/dev/kvm", O_RDWR | O_CLOEXEC);
	if (*ret_kvm < 0)
		return negative_errno();
	*ret_image = image_open(c->image_path);
	if (*ret_image < 0)
		*ret_image = open(c->image_path, O_RDONLY | O_CLOEXEC); /* copied by the worker, as before */
	if (*ret_image < 0)
		return negative_errno();
	*ret_cpuid = kvm_cpuid_memfd(*ret_kvm);
	if (*ret_cpuid < 0)
		return *ret_cpuid;
	*ret_null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (*ret_null < 0)
		return negative_errno();
	return 0;
}

/*
 * The ASSIGN that makes a worker this VM (lib/proto/warm.h), cold or warm:
 * the VM's strings, and fds[] with its control socket, result file, vsock
 * socket and (unless primed already, or none) its module. log_fd goes
 * along only where asked (a warm worker's stderr is /dev/null until
 * then; a cold one has its log as fd 2 from the start), and so does
 * snapshot_fd (> 0: a warm worker's; a cold one has it as --snapshot-fd).
 * *ret is big: the caller allocates it.
 */
static int assign_make(const kvm_worker_config_t *c, uint32_t mem, uint32_t vcpus, const vm_fds_t *v, int log_fd,
		       bool send_blob, int snapshot_fd, kvm_warm_assign_t *ret, int fds[KVM_WARM_FD_MAX])
{
	if (c->nargs > KVM_WARM_LIST_MAX || c->ncaps > KVM_WARM_LIST_MAX || c->nenvs > KVM_WARM_LIST_MAX)
		return -E2BIG;
	*ret = (kvm_warm_assign_t){ .type = KVM_WARM_MSG_ASSIGN, .memory_mib = mem, .vcpus = vcpus, .flags = c->flags,
				    .workload = c->workload, .nargs = c->nargs, .ncaps = c->ncaps, .nenvs = c->nenvs };
	for (size_t i = 0; i < c->nargs; i++)
		ret->args[i] = c->args[i];
	for (size_t i = 0; i < c->ncaps; i++)
		ret->caps[i] = c->caps[i];
	for (size_t i = 0; i < c->nenvs; i++)
		ret->envs[i] = c->envs[i];
	fds[KVM_WARM_FD_CTL] = v->listen_fd;
	fds[KVM_WARM_FD_RESULT] = v->result_fd;
	fds[KVM_WARM_FD_LOG] = log_fd;
	fds[KVM_WARM_FD_VSOCK] = v->vsock_fd;
	fds[KVM_WARM_FD_BLOB] = send_blob && c->workload && c->blob_fd > 0 ? c->blob_fd : -1;
	fds[KVM_WARM_FD_CONSOLE] = c->console_fd > 0 ? c->console_fd : -1;
	fds[KVM_WARM_FD_SNAPSHOT] = snapshot_fd > 0 ? snapshot_fd : -1;
	for (int i = 0; i < KVM_WARM_FD_MAX; i++)
		if (fds[i] >= 0)
			ret->fd_mask |= 1u << i;
	return 0;
}

int kvm_worker_spawn(const kvm_worker_config_t *c, kvm_worker_t *ret)
{
	_cleanup_close_ int kvm_fd = -1, image_fd = -1, null_fd = -1, sock = -1, child_sock = -1;
	_cleanup_free_ kvm_warm_assign_t *a = NULL;
	int cpuid_fd, fds[KVM_WARM_FD_MAX], sp[2];
	argv_buf_t argv = { .n = 0 };
	vm_fds_t v;
	uint32_t mem = c->memory_mib ? c->memory_mib : 16, vcpus = c->vcpus ? c->vcpus : 1;
	pid_t pid;
	int r;

	if (!ctl_given(c))
		return -EINVAL;
	r = open_sources(c, mem, vcpus, &kvm_fd, &image_fd, &cpuid_fd, &null_fd);
	if (r < 0)
		return r;
	a = malloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return negative_errno();
	sock = sp[0];
	child_sock = sp[1];
	r = vm_fds_open(c, &v);
	if (r < 0)
		return r;
	/* The ASSIGN waits in the socket before the worker exists: one
	 * datagram, its fds in flight (dropped by the kernel if the spawn
	 * fails and both ends close). */
	r = assign_make(c, mem, vcpus, &v, -1, true, -1, a, fds);
	if (r == 0)
		r = kvm_warm_send(sock, a, fds);
	sock = safe_close(sock);
	if (r == 0)
		r = build_argv(c, mem, vcpus, &argv);
	if (r < 0)
		goto fail;

	int src[CHILD_NFDS_MAX] = { null_fd, null_fd, c->log_fd >= 0 ? c->log_fd : null_fd,
				    kvm_fd, image_fd, child_sock, cpuid_fd, c->snapshot_fd };
	r = spawn_child(src, c->snapshot_fd > 0 ? CHILD_NFDS_MAX : CHILD_NFDS, argv.v, &pid);
	argv_free(&argv);
	if (r < 0)
		goto fail;

	/* Handed over: our copies go. */
	kvm_ctl_t *ctl = TAKE_PTR(v.ctl);
	vm_fds_close(&v, c, false);
	*ret = (kvm_worker_t){ .pid = pid, .pidfd = -1, .ctl = ctl };
	r = watch_child(pid, &ret->pidfd, &ret->start_time);
	if (r < 0) {
		ret->ctl = kvm_ctl_free(ret->ctl);
		return r;
	}
	return 0;
fail:
	argv_free(&argv);
	vm_fds_close(&v, c, true);
	return r;
}

int kvm_worker_spawn_warm(const kvm_worker_config_t *c, uint64_t warm_bytes, kvm_warm_worker_t *ret)
{
	_cleanup_close_ int kvm_fd = -1, image_fd = -1, null_fd = -1;
	int cpuid_fd;
	int sp[2] = { -1, -1 };
	argv_buf_t a = { .n = 0 };
	uint32_t mem = c->memory_mib ? c->memory_mib : 16, vcpus = c->vcpus ? c->vcpus : 1;
	pid_t pid;
	int r;

	r = open_sources(c, mem, vcpus, &kvm_fd, &image_fd, &cpuid_fd, &null_fd);
	if (r < 0)
		return r;
	/* SEQPACKET: READY and ASSIGN are one message each, fds attached. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return negative_errno();
	r = 0;
	r = r ?: argv_add(&a, "", c->vmm_path, 0);
	r = r ?: argv_add(&a, "--kvm-fd=", NULL, FD_KVM);
	r = r ?: argv_add(&a, "--image-fd=", NULL, FD_IMAGE);
	r = r ?: argv_add(&a, "--pool-fd=", NULL, FD_SOCK);
	r = r ?: argv_add(&a, "--cpuid-fd=", NULL, FD_CPUID);
	r = r ?: argv_add(&a, "--memory-mib=", NULL, mem);
	r = r ?: argv_add(&a, "--vcpus=", NULL, vcpus);
	r = r ?: argv_add(&a, "--warm-kib=", NULL, (unsigned long)(warm_bytes >> 10));
	if (c->rlimit_as)
		r = r ?: argv_add(&a, "--rlimit-as=", NULL, (unsigned long)c->rlimit_as);
	if (r == 0) {
		int src[CHILD_NFDS_MAX] = { null_fd, null_fd, null_fd, kvm_fd, image_fd, sp[1], cpuid_fd };
		r = spawn_child(src, CHILD_NFDS, a.v, &pid);
	}
	argv_free(&a);
	close(sp[1]);
	if (r < 0) {
		close(sp[0]);
		return r;
	}
	*ret = (kvm_warm_worker_t){ .pid = pid, .pidfd = -1, .pool_fd = sp[0], .memory_mib = mem, .vcpus = vcpus };
	r = watch_child(pid, &ret->pidfd, &ret->start_time);
	if (r < 0) {
		ret->pool_fd = safe_close(ret->pool_fd);
		return r;
	}
	return 0;
}

int kvm_worker_warm_ready(kvm_warm_worker_t *w)
{
	kvm_warm_ready_t m;
	ssize_t n = recv(w->pool_fd, &m, sizeof(m), MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN ? 0 : negative_errno();
	if (n == 0)
		return -EPIPE;
	if (n != (ssize_t)sizeof(m) || m.type != KVM_WARM_MSG_READY || m.version != KVM_WARM_VERSION ||
	    m.pid != w->pid)
		return -EBADMSG;
	w->ready = true;
	return 1;
}

int kvm_worker_assign(kvm_warm_worker_t *w, const kvm_worker_config_t *c, kvm_worker_t *ret)
{
	uint32_t mem = c->memory_mib ? c->memory_mib : 16, vcpus = c->vcpus ? c->vcpus : 1;
	_cleanup_free_ kvm_warm_assign_t *a = NULL;
	int fds[KVM_WARM_FD_MAX];
	vm_fds_t v;
	int r;

	if (!w->ready || w->pool_fd < 0)
		return -EAGAIN;
	if (!ctl_given(c) || mem != w->memory_mib || vcpus != w->vcpus || c->debug)
		return -EINVAL;
	/* A primed worker holds one module: only a VM that runs it; and a
	 * VM from a snapshot replaces all of its guest, so an unprimed one. */
	if (w->primed[0] && (!c->workload || strcmp(c->workload, w->primed) != 0 || c->snapshot_fd > 0))
		return -EINVAL;
	a = malloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	r = vm_fds_open(c, &v);
	if (r < 0)
		return r;
	r = assign_make(c, mem, vcpus, &v, c->log_fd, !w->primed[0], c->snapshot_fd, a, fds);
	if (r == 0)
		r = kvm_warm_send(w->pool_fd, a, fds);
	if (r < 0) {
		vm_fds_close(&v, c, true);
		return r;
	}
	/* Handed over: our copies go, and so does the pool socket. */
	kvm_ctl_t *ctl = TAKE_PTR(v.ctl);
	vm_fds_close(&v, c, false);
	/* ... unless the worker comes back on it after a reusable run
	 * (KVM_WARM_F_REUSE): the caller takes w->pool_fd then. */
	if (!(c->flags & KVM_WARM_F_REUSE))
		w->pool_fd = safe_close(w->pool_fd);
	*ret = (kvm_worker_t){ .pid = w->pid, .pidfd = TAKE_FD(w->pidfd), .start_time = w->start_time, .ctl = ctl };
	return 0;
}

/* One message to an idle warm worker (PRIME, TEMPLATE or RESTORE): the
 * module's hash and the fds given (-1: none). The worker is busy until it
 * says READY again; a module it loads is what it is primed with. */
static int warm_send_idle(kvm_warm_worker_t *w, uint32_t type, const char *workload, int tmpl_fd, int blob_fd)
{
	kvm_warm_assign_t *a;
	int fds[KVM_WARM_FD_MAX], r;

	for (int i = 0; i < KVM_WARM_FD_MAX; i++)
		fds[i] = -1;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	*a = (kvm_warm_assign_t){ .type = type, .memory_mib = w->memory_mib, .vcpus = w->vcpus, .workload = workload };
	if (tmpl_fd >= 0) {
		a->fd_mask |= 1u << KVM_WARM_FD_TEMPLATE;
		fds[KVM_WARM_FD_TEMPLATE] = tmpl_fd;
	}
	if (blob_fd >= 0) {
		a->fd_mask |= 1u << KVM_WARM_FD_BLOB;
		fds[KVM_WARM_FD_BLOB] = blob_fd;
	}
	r = kvm_warm_send(w->pool_fd, a, fds);
	free(a);
	if (r < 0)
		return r;
	if (workload != w->primed)
		snprintf(w->primed, sizeof(w->primed), "%s", workload);
	w->ready = false;
	return 0;
}

int kvm_worker_prime(kvm_warm_worker_t *w, const char *workload, int blob_fd)
{
	if (!w->ready || w->pool_fd < 0 || w->primed[0])
		return -EAGAIN;
	if (!workload || strlen(workload) >= sizeof(w->primed) || blob_fd < 0)
		return -EINVAL;
	return warm_send_idle(w, KVM_WARM_MSG_PRIME, workload, -1, blob_fd);
}

int kvm_worker_template(kvm_warm_worker_t *w, int tmpl_fd)
{
	if (!w->ready || w->pool_fd < 0 || tmpl_fd < 0 || !w->primed[0])
		return -EAGAIN;
	return warm_send_idle(w, KVM_WARM_MSG_TEMPLATE, w->primed, tmpl_fd, -1);
}

int kvm_worker_restore(kvm_warm_worker_t *w, const char *workload, int tmpl_fd, int blob_fd)
{
	if (!w->ready || w->pool_fd < 0 || w->primed[0])
		return -EAGAIN;
	if (!workload || strlen(workload) >= sizeof(w->primed) || tmpl_fd < 0 || blob_fd < 0)
		return -EINVAL;
	return warm_send_idle(w, KVM_WARM_MSG_RESTORE, workload, tmpl_fd, blob_fd);
}

void kvm_worker_warm_release(kvm_warm_worker_t *w)
{
	w->pool_fd = safe_close(w->pool_fd);
	w->pidfd = safe_close(w->pidfd);
}

void kvm_worker_release(kvm_worker_t *w)
{
	w->ctl = kvm_ctl_free(w->ctl);
	w->pidfd = safe_close(w->pidfd);
}

int kvm_worker_wait(kvm_worker_t *w, int timeout_ms, int *ret_status)
{
	struct pollfd p = { .fd = w->pidfd, .events = POLLIN };
	int status, r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return negative_errno();
	if (r == 0)
		return -ETIMEDOUT;
	if (waitpid(w->pid, &status, 0) < 0)
		return negative_errno();
	*ret_status = status;
	return 0;
}
