/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The binary's --version, from the event loop. mvmd runs it once at
 * registration (before the loop serves anyone, so that the first
 * compute.node.info already knows), and again whenever the file changes
 * (ch_probe_fresh). That second run must not stall the loop for up to
 * VERSION_TIMEOUT_MS: it is a supervised child (daemon/mvmd/supervise.h)
 * whose stdout the loop reads, killed at the deadline. Until it ends,
 * checks answer from the previous result.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ch/ch-vm.h"
#include "ch/process.h"
#include "manager.h"
#include "util/macro.h"

struct ch_version_run {
	ch_backend_t *b;
	sv_proc_t *proc;
	sd_event_source *io;
	int rd;
	char *path;
	struct stat st;
	bool full; /* killed for printing too much: its first line counts */
	size_t len;
	char buf[CH_VERSION_OUTPUT_MAX];
};

static void run_free(ch_version_run_t *run)
{
	if (!run)
		return;
	if (run->proc && !sv_exited(run->proc))
		(void)sv_kill(run->proc, "its --version is not needed any more");
	sv_release(run->proc); /* the supervisor reaps it */
	sd_event_source_disable_unref(run->io);
	safe_close(run->rd);
	free(run->path);
	free(run);
}

void ch_version_run_free(ch_backend_t *b)
{
	run_free(TAKE_PTR(b->version_run));
}

/* Reads what is there; true at EOF (or an error). */
static bool run_read(ch_version_run_t *run)
{
	while (!run->full) {
		ssize_t k = read(run->rd, run->buf + run->len, sizeof(run->buf) - 1 - run->len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno != EAGAIN;
		if (k == 0)
			return true;
		run->len += (size_t)k;
		if (run->len == sizeof(run->buf) - 1) {
			/* Chatty beyond reason: no need to wait for it. */
			run->full = true;
			(void)sv_kill(run->proc, "its --version printed too much");
		}
	}
	return true;
}

static int on_output(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	ch_version_run_t *run = userdata;

	if (run_read(run))
		sd_event_source_set_enabled(src, SD_EVENT_OFF);
	return 0;
}

static void on_exit_(sv_proc_t *p, const sv_exit_t *how, void *userdata)
{
	ch_version_run_t *run = userdata;
	ch_backend_t *b = run->b;
	ch_version_t v = { 0 };
	char text[sizeof(b->probe.text)] = "";
	int error;

	(void)run_read(run); /* what it wrote before it ended */
	if (how->killed && !run->full)
		error = -ETIMEDOUT;
	else
		error = ch_version_result(run->buf, run->len, run->full, how->known && how->exited && how->status == 0,
					  &v, text, sizeof(text));
	(void)ch_probe_set(&b->probe, run->path, &run->st, error, &v, text);
	ch_version_run_free(b);
}

/* Starts the run for path (st as found); a run for an older file goes. */
static void run_start(ch_backend_t *b, const char *path, const struct stat *st)
{
	ch_version_run_t *run = b->version_run;
	pid_t pid;
	int pidfd, r;

	if (run && strcmp(run->path, path) == 0 && ch_same_file(&run->st, st))
		return;
	ch_version_run_free(b);
	run = calloc(1, sizeof(*run));
	if (!run || !(run->path = strdup(path))) {
		free(run);
		(void)ch_probe_set(&b->probe, path, st, -ENOMEM, NULL, NULL);
		return;
	}
	run->b = b;
	run->st = *st;
	r = ch_version_spawn(path, &pid, &pidfd, &run->rd);
	if (r < 0) {
		run->rd = -1;
		goto fail;
	}
	r = sv_watch(b->sv, pid, pidfd, true, on_exit_, run, &run->proc);
	if (r < 0) {
		sv_abandon(b->sv, pidfd, true);
		goto fail;
	}
	r = fcntl(run->rd, F_SETFL, O_NONBLOCK) < 0 ? negative_errno() : 0;
	if (r >= 0)
		r = sd_event_add_io(b->event, &run->io, run->rd, EPOLLIN, on_output, run);
	/* Its output is read before the pidfd says it ended. */
	if (r >= 0)
		r = sd_event_source_set_priority(run->io, SD_EVENT_PRIORITY_IMPORTANT);
	if (r >= 0)
		r = sv_kill_after(run->proc, VERSION_TIMEOUT_MS * 1000ull, "its --version timed out");
	if (r < 0)
		goto fail;
	b->version_run = run;
	return;
fail:
	(void)ch_probe_set(&b->probe, path, st, r, NULL, NULL);
	run_free(run);
}

int ch_binary_check(ch_backend_t *b, char **ret_path, char **ret_cause)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;
	int r;

	if (!b->probe_in_loop || !b->event)
		return ch_probe_binary(&b->probe, b->binary, VERSION_TIMEOUT_MS, ret_path, ret_cause);
	r = ch_probe_find(b->binary, &path, &st, ret_cause);
	if (r < 0)
		return r;
	if (!ch_probe_fresh(&b->probe, path, &st))
		run_start(b, path, &st);
	r = ch_probe_verdict(&b->probe, ret_cause);
	if (r == 0 && ret_path)
		*ret_path = TAKE_PTR(path);
	return r;
}
