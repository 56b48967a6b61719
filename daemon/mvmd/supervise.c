/* SPDX-License-Identifier: Apache-2.0 */
/* Supervision of VM processes for every backend; see supervise.h. */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/macro.h"
#include "util/pidfd.h"

/* A process let go before it was gone: waited for, then reaped if it is
 * our child; one in teardown is counted until then. */
typedef struct reap {
	supervisor_t *s;
	sd_event_source *src; /* owns the pidfd */
	bool is_child, teardown;
	struct reap *prev, *next;
} reap_t;

struct supervisor {
	sd_event *event;
	reap_t *reaps;
	size_t n_reaps;         /* of which children (supervisor_pending) */
	size_t n_teardown;      /* processes in teardown, not gone yet */
	sd_event_source *td_defer; /* tells on_teardown_done, from the loop */
	void (*on_teardown_done)(void *userdata);
	void *td_userdata;
};

struct sv_proc {
	supervisor_t *s;
	pid_t pid;
	int pidfd;
	bool is_child;
	bool reaped;
	bool teardown;       /* counted in s->n_teardown until it is gone */
	const char *killed;
	const char *kill_timer_why; /* the reason sv_kill_after was given */
	sd_event_source *src, *kill_timer;
	sv_exit_fn fn;
	void *userdata;
};

int supervisor_new(sd_event *e, supervisor_t **ret)
{
	supervisor_t *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->event = e ? sd_event_ref(e) : NULL;
	*ret = s;
	return 0;
}

static bool pidfd_gone(int pidfd);

static int on_td_defer(sd_event_source *src, void *userdata)
{
	supervisor_t *s = userdata;

	if (s->on_teardown_done)
		s->on_teardown_done(s->td_userdata);
	return 0;
}

/* A process in teardown is gone: its owner hears it from the loop, never
 * from inside the call that noticed (which may be its own teardown). */
static void teardown_gone(supervisor_t *s)
{
	s->n_teardown--;
	if (s->on_teardown_done && s->event &&
	    (s->td_defer || sd_event_add_defer(s->event, &s->td_defer, on_td_defer, s) >= 0))
		(void)sd_event_source_set_enabled(s->td_defer, SD_EVENT_ONESHOT);
}

static void reap_free(reap_t *r)
{
	supervisor_t *s = r->s;

	if (r->prev)
		r->prev->next = r->next;
	else
		s->reaps = r->next;
	if (r->next)
		r->next->prev = r->prev;
	if (r->is_child)
		s->n_reaps--;
	if (r->teardown)
		teardown_gone(s);
	sd_event_source_disable_unref(r->src);
	free(r);
}

supervisor_t *supervisor_free(supervisor_t *s)
{
	if (!s)
		return NULL;
	s->on_teardown_done = NULL;
	while (s->reaps) {
		if (s->reaps->is_child)
			(void)pidfd_reap(sd_event_source_get_io_fd(s->reaps->src), WEXITED | WNOHANG, NULL);
		reap_free(s->reaps);
	}
	sd_event_source_disable_unref(s->td_defer);
	sd_event_unref(s->event);
	free(s);
	return NULL;
}

size_t supervisor_pending(const supervisor_t *s)
{
	return s ? s->n_reaps : 0;
}

size_t supervisor_teardowns(const supervisor_t *s)
{
	return s ? s->n_teardown : 0;
}

void supervisor_on_teardown_done(supervisor_t *s, void (*fn)(void *userdata), void *userdata)
{
	s->on_teardown_done = fn;
	s->td_userdata = userdata;
}

static int on_reap(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	reap_t *r = userdata;

	if (r->is_child)
		(void)pidfd_reap(fd, WEXITED | WNOHANG, NULL);
	reap_free(r);
	return 0;
}

/* Reap a child of ours once it is gone, or only wait for one in teardown
 * that is not ours (re-adopted); pidfd is taken. Never waits: one already
 * gone is done with here, any other when its pidfd says so. */
static void reap_later(supervisor_t *s, int pidfd, bool is_child, bool teardown)
{
	siginfo_t si = { 0 };
	reap_t *r;

	if (is_child ? pidfd_reap(pidfd, WEXITED | WNOHANG, &si) == 0 && si.si_pid : pidfd_gone(pidfd)) {
		close(pidfd);
		if (teardown)
			teardown_gone(s);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r || !s->event || sd_event_add_io(s->event, &r->src, pidfd, EPOLLIN, on_reap, r) < 0) {
		/* No room to wait for it: it stays a zombie until mvmd
		 * exits rather than the loop waiting for it (and no longer
		 * counts as in teardown: nothing would ever say it ended). */
		free(r);
		close(pidfd);
		if (teardown)
			teardown_gone(s);
		return;
	}
	sd_event_source_set_io_fd_own(r->src, true);
	r->s = s;
	r->is_child = is_child;
	r->teardown = teardown;
	r->next = s->reaps;
	if (s->reaps)
		s->reaps->prev = r;
	s->reaps = r;
	if (is_child)
		s->n_reaps++;
}

/* --- /proc and adoption ---------------------------------------------------- */

/* Start time (field 22) and state (field 3) from /proc/PID/stat. */
static int proc_stat(pid_t pid, uint64_t *ret_start, char *ret_state)
{
	char path[64], buf[1024];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : negative_errno();
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return n < 0 ? negative_errno() : -ESRCH;
	buf[n] = 0;
	/* comm may contain spaces and parentheses: fields start after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EBADMSG;
	p++;
	if (ret_state)
		*ret_state = p[1];
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EBADMSG;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p + 1, &end, 10);
	if (errno || end == p + 1)
		return -EBADMSG;
	*ret_start = v;
	return 0;
}

int sv_proc_start_time(pid_t pid, uint64_t *ret)
{
	return proc_stat(pid, ret, NULL);
}

static bool pidfd_gone(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

int sv_adopt(pid_t pid, uint64_t start_time, int *ret_pidfd)
{
	uint64_t st;
	char state = 0;
	int fd, r;

	if (pid <= 0)
		return -ESRCH;
	r = proc_stat(pid, &st, NULL);
	if (r < 0)
		return r;
	if (st != start_time)
		return -ESRCH;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return errno == ESRCH ? -ESRCH : negative_errno();
	/* Check again with the pidfd held: the pid cannot be reused under it.
	 * A zombie leader is gone too, even while the pidfd does not say so
	 * yet: KVM's own threads in its group (the nx-lpage recovery worker)
	 * may still be exiting, and its main thread will never speak again.
	 * One that died while mvmd was down lingers as a zombie of its new
	 * parent: gone all the same. */
	r = proc_stat(pid, &st, &state);
	if (r < 0 || st != start_time || state == 'Z' || state == 'X' || pidfd_gone(fd)) {
		close(fd);
		return r < 0 ? r : -ESRCH;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	*ret_pidfd = fd;
	return 0;
}

/* --- watching ----------------------------------------------------------------- */

static int on_pidfd(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	sv_proc_t *p = userdata;
	sv_exit_t how = { .killed = p->killed };

	/* Level-triggered: once is all there is to hear. */
	sd_event_source_set_enabled(p->src, SD_EVENT_OFF);
	if (p->teardown) {
		p->teardown = false;
		teardown_gone(p->s);
	}
	p->kill_timer = sd_event_source_disable_unref(p->kill_timer);
	if (p->is_child) {
		siginfo_t si = { 0 };
		if (pidfd_reap(fd, WEXITED | WNOHANG, &si) == 0 && si.si_pid) {
			p->reaped = true;
			how.known = true;
			how.exited = si.si_code == CLD_EXITED;
			how.status = si.si_status;
		}
	}
	/* Last: the owner may free p. */
	p->fn(p, &how, p->userdata);
	return 0;
}

int sv_watch(supervisor_t *s, pid_t pid, int pidfd, bool is_child, sv_exit_fn fn, void *userdata,
	     sv_proc_t **ret)
{
	sv_proc_t *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	*p = (sv_proc_t){ .s = s, .pid = pid, .pidfd = pidfd, .is_child = is_child, .fn = fn, .userdata = userdata };
	r = s->event ? sd_event_add_io(s->event, &p->src, pidfd, EPOLLIN, on_pidfd, p) : -EINVAL;
	if (r < 0) {
		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

sv_proc_t *sv_release(sv_proc_t *p)
{
	if (!p)
		return NULL;
	/* One epoll registration per fd: the watch goes before the reaper's. */
	p->src = sd_event_source_disable_unref(p->src);
	p->kill_timer = sd_event_source_disable_unref(p->kill_timer);
	if (p->pidfd >= 0) {
		/* One in teardown is still waited for, child or not, so that
		 * it counts until it is gone (supervisor_teardowns). */
		if ((p->is_child && !p->reaped) || p->teardown)
			reap_later(p->s, p->pidfd, p->is_child && !p->reaped, p->teardown);
		else
			close(p->pidfd);
	} else if (p->teardown) {
		teardown_gone(p->s);
	}
	free(p);
	return NULL;
}

void sv_teardown(sv_proc_t *p)
{
	if (p->teardown || p->reaped)
		return;
	p->teardown = true;
	p->s->n_teardown++;
}

bool sv_in_teardown(const sv_proc_t *p)
{
	return p->teardown;
}

int sv_unwatch(sv_proc_t *p)
{
	int fd = p->pidfd;

	p->src = sd_event_source_disable_unref(p->src);
	p->kill_timer = sd_event_source_disable_unref(p->kill_timer);
	if (p->teardown)
		teardown_gone(p->s);
	free(p);
	return fd;
}

void sv_abandon(supervisor_t *s, int pidfd, bool is_child)
{
	if (pidfd < 0)
		return;
	(void)pidfd_kill(pidfd, SIGKILL);
	if (is_child)
		reap_later(s, pidfd, true, false);
	else
		close(pidfd);
}

/* --- killing ----------------------------------------------------------------- */

int sv_kill(sv_proc_t *p, const char *why)
{
	if (why)
		p->killed = why;
	return pidfd_kill(p->pidfd, SIGKILL) < 0 ? negative_errno() : 0;
}

static int on_kill_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	sv_proc_t *p = userdata;

	(void)sv_kill(p, p->kill_timer_why);
	return 0;
}

int sv_kill_after(sv_proc_t *p, uint64_t usec, const char *why)
{
	int r;

	p->kill_timer = sd_event_source_disable_unref(p->kill_timer);
	p->kill_timer_why = why;
	r = sd_event_add_time_relative(p->s->event, &p->kill_timer, CLOCK_MONOTONIC, usec, 1000, on_kill_timer, p);
	if (r < 0) {
		/* Without a timer nothing would end it: end it now. */
		(void)sv_kill(p, why);
		return r;
	}
	return 0;
}

void sv_kill_cancel(sv_proc_t *p)
{
	p->kill_timer = sd_event_source_disable_unref(p->kill_timer);
}

const char *sv_killed(const sv_proc_t *p) { return p->killed; }
pid_t sv_pid(const sv_proc_t *p) { return p->pid; }
int sv_pidfd(const sv_proc_t *p) { return p->pidfd; }
bool sv_exited(const sv_proc_t *p) { return p->reaped || pidfd_gone(p->pidfd); }

bool sv_exit_text(const sv_exit_t *how, const char *who, char *buf, size_t size)
{
	if (!how->known)
		return false;
	if (how->exited)
		snprintf(buf, size, "%s exited with status %d", who, how->status);
	else
		snprintf(buf, size, "%s killed by signal %d (%s)", who, how->status, strsignal(how->status));
	return true;
}
