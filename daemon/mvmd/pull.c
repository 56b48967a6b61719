/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pull jobs: one mvm-fetch per download, its messages, the blob's bytes
 * hashed and written as they come off its pipe, and the end of it all
 * (docs/blobs.md). pull_finish() is the one place a pull ends, whatever
 * the outcome.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics.h"
#include "pull-internal.h"
#include "proto/fetch-proto.h"
#include "proto/fetch-stream.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/pidfd.h"
#include "wasm-check.h"

/* One read of the data pipe (its size: pull-helper.c), and how many one
 * dispatch makes before other events get their turn. */
#define READ_SIZE ((size_t)1 << 20)
#define READS_PER_DISPATCH 4
#define PROGRESS_EVERY_USEC 100000

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
	pull_helper_t h;
	sd_event_source *io, *data, *child;
	/* the data pipe: decoded, hashed and written as it comes */
	fetch_stream_t stream;
	int stream_err; /* why mvmd stopped reading (and killed the helper) */
	bool stream_eof;
	uint64_t notified_usec, notified_bytes;
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
	/* a helper started ahead of the next pull, set up and sandboxed */
	pull_helper_t spare;
	sd_event_source *spare_exit;
	uint8_t *buf; /* READ_SIZE, for every job's reads (one loop, one at a time) */
};

void puller_set_metrics(puller_t *p, struct metrics *mt)
{
	p->metrics = mt;
}

/* --- the spare helper ------------------------------------------------------------ */

static void spare_end(puller_t *p)
{
	p->spare_exit = sd_event_source_disable_unref(p->spare_exit);
	pull_helper_end(&p->spare);
}

/* It died waiting (it could not read its CA bundle, say): the next pull
 * starts its own, which reports why. */
static int on_spare_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	spare_end(userdata);
	return 0;
}

/* Start the spare if there is none: on mvmd's start and after each pull,
 * never during one (its startup would compete with the download). */
static void spare_start(puller_t *p)
{
	int r;

	if (p->spare.pid || !puller_has_sources(p) || !p->cfg.fetch_path)
		return;
	r = pull_helper_spawn(&p->cfg, &p->spare);
	if (r == 0)
		r = sd_event_add_io(p->e, &p->spare_exit, p->spare.pidfd, EPOLLIN, on_spare_exit, p);
	if (r < 0) {
		log_debug("cannot start a spare mvm-fetch: %s", strerror(-r));
		spare_end(p);
	}
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
	p->spare = (pull_helper_t){ .pidfd = -1, .ctl_fd = -1, .data_fd = -1 };
	spare_start(p);
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
	spare_end(p);
	free(p->buf);
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
	sd_event_source_disable_unref(j->data);
	sd_event_source_disable_unref(j->child);
	/* mvmd going away (or a job torn down early): the helper is ours to end */
	pull_helper_end(&j->h);
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
	puller_t *p = j->p;
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
	spare_start(p);
}

static const char *final_str(pull_job_t *j, const char *k)
{
	json_object *v;
	return j->final && json_object_object_get_ex(j->final, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

/* mvmd stopped reading the pipe (and killed the helper): why. */
static void judge_stream_error(pull_job_t *j, pull_result_t *res, char *reason, size_t size)
{
	int r = j->stream_err;

	res->error = r;
	if (r == -E2BIG) {
		res->error_class = FETCH_ERR_TOO_LARGE;
		snprintf(reason, size, "larger than the size limit (%" PRIu64 " bytes)", pull_max_size(j->p));
	} else if (r == -FETCH_STREAM_EPROTO) {
		res->error = -EIO;
		res->error_class = FETCH_ERR_INTERNAL;
		snprintf(reason, size, "mvm-fetch sent a malformed data stream");
	} else {
		res->error_class = "store";
		snprintf(reason, size, "cannot store the blob: %s", strerror(-r));
	}
	res->reason = reason;
}

/* The helper is gone and its pipe drained: judge what it left. */
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

	if (j->stream_err) {
		judge_stream_error(j, &res, reason, sizeof(reason));
		pull_finish(j, &res);
		return;
	}
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
	if (!j->stream_eof) {
		res.error = -EIO;
		res.error_class = FETCH_ERR_INTERNAL;
		res.reason = "mvm-fetch's data stream did not end";
		pull_finish(j, &res);
		return;
	}
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

/* --- the helper's messages and bytes ----------------------------------------------- */

static void progress_notify(pull_job_t *j)
{
	j->progress.source = j->source;
	j->notified_bytes = j->progress.bytes;
	(void)sd_event_now(j->p->e, CLOCK_MONOTONIC, &j->notified_usec);
	for (pull_waiter_t *w = j->waiters; w; w = w->next)
		if (w->progress)
			w->progress(&j->progress, w->userdata);
}

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
		/* a download starts: its total; the bytes are what mvmd has */
		json_object *t;
		if (json_object_object_get_ex(m, "total", &t)) {
			j->progress.total = (uint64_t)json_object_get_int64(t);
			progress_notify(j);
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

static int stream_data(const void *data, size_t len, void *userdata)
{
	pull_job_t *j = userdata;

	/* the cap holds during the download, whatever the helper counts */
	if (blob_tmp_size(j->tmp) + len > pull_max_size(j->p))
		return -E2BIG;
	return blob_tmp_write(j->tmp, data, len);
}

static int stream_restart(void *userdata)
{
	pull_job_t *j = userdata;
	return blob_tmp_restart(j->tmp);
}

static const fetch_stream_ops_t stream_ops = { .on_data = stream_data, .on_restart = stream_restart };

/* Stop reading: the helper is killed, and its exit judges the job. */
static void stream_fail(pull_job_t *j, int r)
{
	j->stream_err = r;
	sd_event_source_set_enabled(j->data, SD_EVENT_OFF);
	if (j->h.pidfd >= 0)
		pidfd_kill(j->h.pidfd, SIGKILL);
}

/* Read up to max_reads of the pipe: 1 when more may come, 0 at its end
 * (EOF or an error), -EAGAIN when it is empty for now. */
static int stream_read(pull_job_t *j, int max_reads)
{
	uint64_t now;
	int r;

	if (j->stream_eof || j->stream_err)
		return 0;
	for (int i = 0; i < max_reads; i++) {
		ssize_t n = read(j->h.data_fd, j->p->buf, READ_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return -EAGAIN;
		if (n < 0) {
			stream_fail(j, negative_errno());
			return 0;
		}
		if (n == 0) {
			j->stream_eof = true;
			sd_event_source_set_enabled(j->data, SD_EVENT_OFF);
			r = fetch_stream_end(&j->stream);
			if (r < 0)
				stream_fail(j, r);
			else if (j->progress.bytes != j->notified_bytes)
				progress_notify(j); /* the last count */
			return 0;
		}
		r = fetch_stream_feed(&j->stream, j->p->buf, (size_t)n, &stream_ops, j);
		j->progress.bytes = blob_tmp_size(j->tmp);
		if (r < 0) {
			stream_fail(j, r);
			return 0;
		}
	}
	if (sd_event_now(j->p->e, CLOCK_MONOTONIC, &now) >= 0 && now - j->notified_usec >= PROGRESS_EVERY_USEC)
		progress_notify(j);
	return 1;
}

static int on_data(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)stream_read(userdata, READS_PER_DISPATCH);
	return 0;
}

/* The pidfd turned readable: the helper (every thread of it) is gone,
 * so nothing writes the pipe any more. */
static int on_child(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	pull_job_t *j = userdata;
	siginfo_t si = { 0 };

	if (pidfd_reap(j->h.pidfd, WEXITED | WNOHANG, &si) < 0 || si.si_pid == 0)
		return 0; /* not yet */
	/* read what is still queued: the final message and the pipe's last
	 * bytes may trail the exit (a dead writer's pipe never blocks) */
	if (j->io && sd_event_source_get_enabled(j->io, NULL) > 0)
		on_ctl(j->io, j->h.ctl_fd, EPOLLIN, j);
	while (stream_read(j, READS_PER_DISPATCH) > 0)
		;
	if (!j->stream_eof && !j->stream_err)
		stream_fail(j, -EIO);
	j->child = sd_event_source_disable_unref(j->child);
	j->h.pidfd = safe_close(j->h.pidfd);
	job_judge(j, &si);
	return 0;
}

/* --- starting one --------------------------------------------------------------- */

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

/* A helper for j, its job sent: the spare if there is one (if it died
 * meanwhile, the send fails), else a new one. */
static int job_helper(puller_t *p, pull_job_t *j, json_object *req)
{
	int r;

	if (p->spare.pid) {
		p->spare_exit = sd_event_source_disable_unref(p->spare_exit);
		j->h = p->spare;
		p->spare = (pull_helper_t){ .pidfd = -1, .ctl_fd = -1, .data_fd = -1 };
		if (pull_send_json(j->h.ctl_fd, req) == 0)
			return 0;
		pull_helper_end(&j->h);
	}
	r = pull_helper_spawn(&p->cfg, &j->h);
	if (r < 0)
		return r;
	return pull_send_json(j->h.ctl_fd, req);
}

static int job_start(puller_t *p, pull_job_t *j)
{
	json_object *req;
	int r;

	if (!p->buf && !(p->buf = malloc(READ_SIZE)))
		return -ENOMEM;
	r = blob_tmp_new(p->blobs, &j->tmp);
	if (r < 0)
		return r;
	req = request_json(p, &j->spec);
	r = req ? job_helper(p, j, req) : -ENOMEM;
	json_object_put(req);
	if (r < 0)
		return r;
	r = sd_event_add_io(p->e, &j->io, j->h.ctl_fd, EPOLLIN, on_ctl, j);
	if (r < 0)
		return r;
	r = sd_event_add_io(p->e, &j->data, j->h.data_fd, EPOLLIN, on_data, j);
	if (r < 0)
		return r;
	return sd_event_add_io(p->e, &j->child, j->h.pidfd, EPOLLIN, on_child, j);
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
		j->h = (pull_helper_t){ .pidfd = -1, .ctl_fd = -1, .data_fd = -1 };
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
