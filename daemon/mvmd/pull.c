/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pull jobs: one mvm-fetch per download, its messages, and the check of
 * what it wrote (docs/blobs.md). pull_finish() is the one place a pull
 * ends, whatever the outcome.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "metrics.h"
#include "pull.h"
#include "proto/fetch-proto.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/pidfd.h"
#include "wasm-check.h"

typedef struct pull_job pull_job_t;

struct pull_waiter {
	pull_job_t *job;
	pull_done_fn done;
	pull_progress_fn progress;
	void *userdata;
	pull_waiter_t *next;
};

struct pull_job {
	puller_t *p;
	pull_spec_t spec;
	char key[600];
	blob_tmp_t *tmp;
	int ctl_fd, pidfd;
	pid_t pid;
	sd_event_source *io, *child;
	pull_waiter_t *waiters;
	/* what mvm-fetch said */
	json_object *answers;
	json_object *final;
	char source[64];
	pull_progress_t progress;
	pull_job_t *next;
};

struct puller {
	sd_event *e;
	blob_store_t *blobs;
	pull_config_t cfg;
	pull_job_t *jobs;
	struct metrics *metrics; /* or NULL */
};

void puller_set_metrics(puller_t *p, struct metrics *mt)
{
	p->metrics = mt;
}

int puller_new(sd_event *e, blob_store_t *blobs, pull_config_t *cfg, puller_t **ret)
{
	puller_t *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->e = sd_event_ref(e);
	p->blobs = blobs;
	p->cfg = *cfg;
	*cfg = (pull_config_t){ 0 };
	*ret = p;
	return 0;
}

static void job_free(pull_job_t *j);
static uint64_t pull_max_size(const puller_t *p);

puller_t *puller_free(puller_t *p)
{
	if (!p)
		return NULL;
	while (p->jobs) {
		pull_job_t *j = p->jobs;
		p->jobs = j->next;
		while (j->waiters) {
			pull_waiter_t *w = j->waiters;
			j->waiters = w->next;
			free(w);
		}
		job_free(j);
	}
	pull_config_done(&p->cfg);
	sd_event_unref(p->e);
	free(p);
	return NULL;
}

const pull_config_t *puller_config(const puller_t *p) { return &p->cfg; }
bool puller_has_sources(const puller_t *p) { return p && p->cfg.n_sources > 0; }

static void job_free(pull_job_t *j)
{
	sd_event_source_disable_unref(j->io);
	sd_event_source_disable_unref(j->child);
	if (j->pidfd >= 0) {
		/* mvmd going away (or a job torn down early): the helper is ours to end */
		pidfd_kill(j->pidfd, SIGKILL);
		pidfd_reap(j->pidfd, WEXITED, NULL);
	}
	safe_close(j->pidfd);
	safe_close(j->ctl_fd);
	blob_tmp_discard(j->p->blobs, j->tmp);
	json_object_put(j->answers);
	json_object_put(j->final);
	free(j);
}

static void job_unlink(pull_job_t *j)
{
	for (pull_job_t **pp = &j->p->jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			return;
		}
}

static void job_key(const pull_spec_t *s, char *buf, size_t size)
{
	if (s->by_reference)
		snprintf(buf, size, "ref:%zu/%s%s%s%s%s", s->source_index, s->repository, s->tag[0] ? ":" : "", s->tag,
			 s->digest[0] ? "@" : "", s->digest);
	else
		snprintf(buf, size, "hash:%s", s->hex);
	if (s->wasm)
		strncat(buf, "#wasm", size - strlen(buf) - 1);
}

/* --- the end of a pull ----------------------------------------------------------- */

/*
 * The one place a pull ends: every waiter hears the same result, then the
 * job is gone, and mvmd_blob_pulls_total counts it.
 */
static void pull_finish(pull_job_t *j, pull_result_t *res)
{
	pull_waiter_t *w;

	res->answers = j->answers;
	if (j->p->metrics)
		metrics_blob_pull(j->p->metrics, res->error ? res->error_class : "ok");
	if (res->error)
		log_warning("pull %s failed (%s): %s", j->key, res->error_class, res->reason);
	else
		log_info("pulled %s from %s: " BLOB_REF_PREFIX "%s, %" PRIu64 " bytes", j->key, res->source, res->info.hex,
			 res->info.size);
	job_unlink(j);
	while ((w = j->waiters)) {
		j->waiters = w->next;
		w->done(res, w->userdata);
		free(w);
	}
	job_free(j);
}

static const char *final_str(pull_job_t *j, const char *k)
{
	json_object *v;
	return j->final && json_object_object_get_ex(j->final, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

/* The helper is gone: judge what it left. */
static void job_judge(pull_job_t *j, const siginfo_t *si)
{
	pull_result_t res = { .source = j->source[0] ? j->source : NULL };
	const char *type = final_str(j, "type");
	char reason[768], expect[BLOB_HEX_LEN + 1];
	const char *digest = final_str(j, "digest");
	blob_put_opts_t opts = { 0 };
	wasm_check_t wc = { 0 };
	blob_tmp_t *tmp;
	int r;

	if (!type || (strcmp(type, "done") != 0 && strcmp(type, "failed") != 0)) {
		if (si->si_code == CLD_EXITED)
			snprintf(reason, sizeof(reason), "mvm-fetch exited with status %d without an answer", si->si_status);
		else
			snprintf(reason, sizeof(reason), "mvm-fetch was killed by signal %d (%s) without an answer%s", si->si_status,
				 strsignal(si->si_status), si->si_status == SIGSYS ? ": a system call outside its seccomp allow-list" : "");
		res.error = -EIO;
		res.error_class = FETCH_ERR_INTERNAL;
		res.reason = reason;
		pull_finish(j, &res);
		return;
	}
	if (strcmp(type, "failed") == 0) {
		const char *cls = final_str(j, "error"), *why = final_str(j, "reason");
		res.error_class = cls && strcmp(cls, FETCH_ERR_NOT_FOUND) == 0 ? FETCH_ERR_NOT_FOUND
				  : cls && strcmp(cls, FETCH_ERR_TOO_LARGE) == 0 ? FETCH_ERR_TOO_LARGE
				  : cls && strcmp(cls, FETCH_ERR_AUTH) == 0 ? FETCH_ERR_AUTH
				  : cls && strcmp(cls, FETCH_ERR_NETWORK) == 0 ? FETCH_ERR_NETWORK
				  : cls && strcmp(cls, FETCH_ERR_PROTOCOL) == 0 ? FETCH_ERR_PROTOCOL : FETCH_ERR_INTERNAL;
		res.error = strcmp(res.error_class, FETCH_ERR_NOT_FOUND) == 0 ? -ENOENT
			    : strcmp(res.error_class, FETCH_ERR_TOO_LARGE) == 0 ? -E2BIG
			    : strcmp(res.error_class, FETCH_ERR_AUTH) == 0 ? -EACCES : -EIO;
		snprintf(reason, sizeof(reason), "%s", why ? why : "mvm-fetch gave no reason");
		res.reason = reason;
		pull_finish(j, &res);
		return;
	}

	/* "done": by hash the digest must be the one asked for; by reference
	 * it is the layer the manifest named. Either way the bytes decide. */
	if (!j->spec.by_reference)
		memcpy(expect, j->spec.hex, sizeof(expect));
	else if (!digest || blob_ref_to_hex(digest, expect) < 0) {
		res.error = -EIO;
		res.error_class = FETCH_ERR_PROTOCOL;
		res.reason = "mvm-fetch named no valid digest";
		pull_finish(j, &res);
		return;
	}
	fault_point("pull.tmp-written");
	opts.expect_hex = expect;
	opts.max_size = pull_max_size(j->p);
	if (j->spec.wasm) {
		opts.check = wasm_check_module;
		opts.check_userdata = &wc;
	}
	tmp = TAKE_PTR(j->tmp);
	r = blob_tmp_commit(j->p->blobs, tmp, &opts, &res.info, &res.created);
	if (r == 0) {
		res.manifest_digest = final_str(j, "manifest_digest");
		pull_finish(j, &res);
		return;
	}
	res.error = r;
	if (r == -EBADMSG) {
		res.error_class = "digest_mismatch";
		snprintf(reason, sizeof(reason), "source %s served bytes hashing to " BLOB_REF_PREFIX "%s, not " BLOB_REF_PREFIX "%s: refused, nothing stored",
			 j->source, opts.actual_hex, expect);
	} else if (wc.failed && r == -EINVAL) {
		res.error_class = "invalid_wasm";
		snprintf(reason, sizeof(reason), "not a valid WebAssembly module: %s at byte offset %" PRIu32, wc.err.message,
			 wc.err.offset);
	} else if (r == -E2BIG || r == -EFBIG) {
		res.error_class = FETCH_ERR_TOO_LARGE;
		snprintf(reason, sizeof(reason), "larger than the size limit");
	} else {
		res.error_class = "store";
		snprintf(reason, sizeof(reason), "cannot store the blob: %s", strerror(-r));
	}
	res.reason = reason;
	pull_finish(j, &res);
}

/* --- the helper's messages ------------------------------------------------------- */

static void on_message(pull_job_t *j, json_object *m)
{
	json_object *v;
	const char *type, *src = NULL;

	if (!json_object_is_type(m, json_type_object) || !json_object_object_get_ex(m, "type", &v))
		return;
	type = json_object_get_string(v);
	if (json_object_object_get_ex(m, "source", &v) && json_object_is_type(v, json_type_string)) {
		/* only names we configured: the helper cannot make up sources */
		src = json_object_get_string(v);
		if (pull_config_find(&j->p->cfg, src, NULL))
			snprintf(j->source, sizeof(j->source), "%s", src);
	}
	if (strcmp(type, "progress") == 0) {
		json_object *b, *t;
		if (json_object_object_get_ex(m, "bytes", &b) && json_object_object_get_ex(m, "total", &t)) {
			j->progress.bytes = (uint64_t)json_object_get_int64(b);
			j->progress.total = (uint64_t)json_object_get_int64(t);
			j->progress.source = j->source;
			for (pull_waiter_t *w = j->waiters; w; w = w->next)
				if (w->progress)
					w->progress(&j->progress, w->userdata);
		}
	} else if (strcmp(type, "answer") == 0) {
		json_object *a = json_object_new_object(), *st, *why;
		json_object_object_add(a, "source", json_object_new_string(j->source));
		if (json_object_object_get_ex(m, "status", &st) && json_object_is_type(st, json_type_int))
			json_object_object_add(a, "status", json_object_new_int64(json_object_get_int64(st)));
		if (json_object_object_get_ex(m, "reason", &why) && json_object_is_type(why, json_type_string))
			json_object_object_add(a, "reason", json_object_new_string(json_object_get_string(why)));
		json_object_array_add(j->answers, a);
	} else if ((strcmp(type, "done") == 0 || strcmp(type, "failed") == 0) && !j->final) {
		j->final = json_object_get(m);
	}
}

static int on_ctl(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	pull_job_t *j = userdata;
	char buf[FETCH_MSG_MAX + 1];

	for (;;) {
		ssize_t n = recv(fd, buf, FETCH_MSG_MAX, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			/* EOF or error: the exit (on_child) ends the job */
			sd_event_source_set_enabled(s, SD_EVENT_OFF);
			return 0;
		}
		buf[n] = '\0';
		json_object *m = json_tokener_parse(buf);
		if (m)
			on_message(j, m);
		json_object_put(m);
	}
}

/* The pidfd turned readable: the helper (every thread of it) is gone,
 * so nothing writes the temp file any more. */
static int on_child(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	pull_job_t *j = userdata;
	siginfo_t si = { 0 };

	if (pidfd_reap(j->pidfd, WEXITED | WNOHANG, &si) < 0 || si.si_pid == 0)
		return 0; /* not yet */
	/* read what is still queued: the final message may trail the exit */
	if (j->io && sd_event_source_get_enabled(j->io, NULL) > 0)
		on_ctl(j->io, j->ctl_fd, EPOLLIN, j);
	j->child = sd_event_source_disable_unref(j->child);
	j->pidfd = safe_close(j->pidfd);
	job_judge(j, &si);
	return 0;
}

/* --- starting one --------------------------------------------------------------- */

static const char *const env_keep[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };

static int spawn_fetch(const char *path, int ctl, pid_t *ret_pid)
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
		r = -posix_spawn_file_actions_addclosefrom_np(&fa, FETCH_CTL_FD + 1);
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

static uint64_t pull_max_size(const puller_t *p)
{
	return p->cfg.max_size && p->cfg.max_size < BLOB_DEFAULT_MAX_SIZE ? p->cfg.max_size : BLOB_DEFAULT_MAX_SIZE;
}

static json_object *request_json(const puller_t *p, const pull_spec_t *s)
{
	json_object *o = json_object_new_object(), *srcs = json_object_new_array();

	for (size_t i = 0; i < p->cfg.n_sources; i++) {
		const pull_source_t *src = &p->cfg.sources[i];
		json_object *e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string(src->name));
		json_object_object_add(e, "url", json_object_new_string(src->url));
		json_object_object_add(e, "repository", json_object_new_string(src->repository));
		json_object_object_add(e, "allow_http", json_object_new_boolean(src->allow_http));
		if (src->auth)
			json_object_object_add(e, "auth", json_object_new_string(src->auth));
		json_object_array_add(srcs, e);
	}
	json_object_object_add(o, "sources", srcs);
	if (p->cfg.ca_file)
		json_object_object_add(o, "ca_file", json_object_new_string(p->cfg.ca_file));
	json_object_object_add(o, "max_size", json_object_new_int64((int64_t)pull_max_size(p)));
	if (!s->by_reference) {
		char ref[BLOB_REF_LEN + 1];
		snprintf(ref, sizeof(ref), BLOB_REF_PREFIX "%s", s->hex);
		json_object_object_add(o, "digest", json_object_new_string(ref));
	} else {
		json_object *r = json_object_new_object();
		json_object_object_add(r, "source", json_object_new_int64((int64_t)s->source_index));
		json_object_object_add(r, "repository", json_object_new_string(s->repository));
		if (s->digest[0])
			json_object_object_add(r, "digest", json_object_new_string(s->digest));
		else
			json_object_object_add(r, "tag", json_object_new_string(s->tag));
		json_object_object_add(o, "reference", r);
	}
	return o;
}

static int send_request(int fd, json_object *req, int file_fd)
{
	const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)s, strlen(s) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	if (iov.iov_len > FETCH_MSG_MAX)
		return -EMSGSIZE;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &file_fd, sizeof(int));
	return sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 ? negative_errno() : 0;
}

static int job_start(puller_t *p, pull_job_t *j)
{
	_cleanup_close_ int child_end = -1;
	json_object *req;
	int sv[2], r;

	if (!p->cfg.fetch_path)
		return -ENOENT;
	r = blob_tmp_new(p->blobs, &j->tmp);
	if (r < 0)
		return r;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return negative_errno();
	j->ctl_fd = sv[0];
	child_end = sv[1];
	r = spawn_fetch(p->cfg.fetch_path, child_end, &j->pid);
	if (r < 0)
		return r;
	j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
	if (j->pidfd < 0) {
		r = negative_errno();
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		return r;
	}
	fcntl(j->pidfd, F_SETFD, FD_CLOEXEC);
	req = request_json(p, &j->spec);
	if (!req)
		return -ENOMEM;
	r = send_request(j->ctl_fd, req, blob_tmp_fd(j->tmp));
	json_object_put(req);
	if (r < 0)
		return r;
	r = sd_event_add_io(p->e, &j->io, j->ctl_fd, EPOLLIN, on_ctl, j);
	if (r < 0)
		return r;
	r = sd_event_add_io(p->e, &j->child, j->pidfd, EPOLLIN, on_child, j);
	if (r < 0)
		return r;
	return 0;
}

int puller_start(puller_t *p, const pull_spec_t *spec, pull_done_fn done, pull_progress_fn progress,
		 void *userdata, pull_waiter_t **ret)
{
	pull_waiter_t *w = calloc(1, sizeof(*w));
	char key[sizeof(((pull_job_t *)0)->key)];
	pull_job_t *j;
	int r;

	if (!w)
		return -ENOMEM;
	w->done = done;
	w->progress = progress;
	w->userdata = userdata;
	job_key(spec, key, sizeof(key));
	for (j = p->jobs; j; j = j->next)
		if (strcmp(j->key, key) == 0)
			break;
	if (!j) {
		if (!puller_has_sources(p)) {
			free(w);
			return -ENOMEDIUM;
		}
		j = calloc(1, sizeof(*j));
		if (!j) {
			free(w);
			return -ENOMEM;
		}
		j->p = p;
		j->spec = *spec;
		j->ctl_fd = j->pidfd = -1;
		memcpy(j->key, key, sizeof(key));
		j->answers = json_object_new_array();
		r = j->answers ? job_start(p, j) : -ENOMEM;
		if (r < 0) {
			job_free(j);
			free(w);
			return r;
		}
		j->next = p->jobs;
		p->jobs = j;
	}
	w->job = j;
	w->next = j->waiters;
	j->waiters = w;
	if (ret)
		*ret = w;
	return 0;
}

void pull_waiter_cancel(pull_waiter_t *w)
{
	pull_job_t *j;

	if (!w)
		return;
	j = w->job;
	for (pull_waiter_t **pp = &j->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	free(w);
	/* the download goes on without anyone waiting: its blob is stored */
}

bool puller_in_flight(puller_t *p, const char *hex, pull_progress_t *ret, size_t *ret_waiters)
{
	if (!p)
		return false;
	for (pull_job_t *j = p->jobs; j; j = j->next)
		if (!j->spec.by_reference && strcmp(j->spec.hex, hex) == 0) {
			size_t n = 0;
			for (pull_waiter_t *w = j->waiters; w; w = w->next)
				n++;
			*ret = j->progress;
			ret->source = j->source[0] ? j->source : NULL;
			if (ret_waiters)
				*ret_waiters = n;
			return true;
		}
	return false;
}
