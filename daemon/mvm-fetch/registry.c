/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI distribution API, client side (docs/blobs.md): blobs by digest
 * (a GET: its 404 says a source lacks it), manifests by tag or digest, the Bearer token flow and
 * Basic auth, redirects followed by hand (so each target passes the same
 * transport policy, fetch_url_allowed), and downloads that retry with
 * backoff and resume with Range. The blob's bytes go to mvmd over the
 * data pipe (lib/proto/fetch-proto.h), in frames of up to OUT_FRAME.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "parse.h"
#include "proto/fetch-proto.h"
#include "util/io.h"
#include "util/macro.h"
#include "util/sha256.h"

#define MAX_REDIRECTS 5
#define MAX_RETRIES 3
#define ERRBODY_MAX 2048
/* libcurl hands the body over 16 KiB at a time: gathered into frames of
 * this size, a 64 MiB blob is 256 writes to the pipe instead of 4096 */
#define OUT_FRAME ((size_t)256 << 10)

typedef struct membuf {
	char *data;
	size_t len, max;
	bool overflow;
} membuf_t;

typedef struct req {
	fetch_job_t *job;
	const fetch_source_t *src;
	CURL *curl;
	/* the answer */
	long status;
	char ctype[128];
	char *location;
	char www_auth[2048];
	int64_t content_length;
	/* the sink: memory, or the data pipe (file_off bytes of the blob so far) */
	membuf_t *mem;
	bool to_file;
	uint64_t file_off, file_total;
	bool too_large;
	bool range_sent; /* a 200 to it restarts the blob from byte 0 */
	int write_err;
	membuf_t errbody;
	char curl_err[CURL_ERROR_SIZE];
	/* the frame being gathered: header, then out_len bytes */
	uint8_t *out;
	size_t out_len;
	bool out_started; /* bytes of the blob went to mvmd since the last restart */
	bool progress_sent; /* this download's total was named to mvmd */
	char *bearer; /* token for the source's host */
} req_t;

static void membuf_add(membuf_t *b, const char *p, size_t n)
{
	if (b->len + n > b->max) {
		b->overflow = true;
		n = b->max > b->len ? b->max - b->len : 0;
	}
	if (!n)
		return;
	char *d = realloc(b->data, b->len + n + 1);
	if (!d) {
		b->overflow = true;
		return;
	}
	b->data = d;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void send_answer(fetch_job_t *job, const fetch_source_t *src, long status, const char *reason)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("answer"));
	json_object_object_add(o, "source", json_object_new_string(src->name));
	if (status)
		json_object_object_add(o, "status", json_object_new_int64(status));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	(void)fetch_send(job->ctl_fd, o);
}

/* A download from q->src starts: mvmd counts the bytes, we name the total. */
static void send_progress(req_t *q)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("progress"));
	json_object_object_add(o, "source", json_object_new_string(q->src->name));
	json_object_object_add(o, "total", json_object_new_int64((int64_t)q->file_total));
	(void)fetch_send(q->job->ctl_fd, o);
}

/* --- the data pipe ----------------------------------------------------------- */

static int out_flush(req_t *q)
{
	fetch_frame_t f = { .type = FETCH_FRAME_DATA, .len = (uint32_t)q->out_len };

	if (!q->out_len)
		return 0;
	memcpy(q->out, &f, sizeof(f));
	q->out_len = 0;
	q->out_started = true;
	return write_all(q->job->data_fd, q->out, sizeof(f) + f.len);
}

static int out_write(req_t *q, const char *p, size_t n)
{
	while (n) {
		size_t k = OUT_FRAME - q->out_len < n ? OUT_FRAME - q->out_len : n;
		memcpy(q->out + sizeof(fetch_frame_t) + q->out_len, p, k);
		q->out_len += k;
		p += k, n -= k;
		if (q->out_len == OUT_FRAME) {
			int r = out_flush(q);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* The blob starts again at byte 0: what mvmd has of it is void. */
static int out_restart(req_t *q)
{
	fetch_frame_t f = { .type = FETCH_FRAME_RESTART, .len = 0 };

	q->out_len = 0;
	q->file_off = 0;
	if (!q->out_started)
		return 0;
	q->out_started = false;
	return write_all(q->job->data_fd, &f, sizeof(f));
}

/* --- curl callbacks -------------------------------------------------------- */

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
	req_t *q = ud;
	size_t len = size * n, vl;
	const char *v;

	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* a new answer (after a 100 Continue): forget the last one's */
		q->ctype[0] = q->www_auth[0] = '\0';
		q->content_length = -1;
		free(q->location);
		q->location = NULL;
		return len;
	}
#define HDR(name) (len > sizeof(name) - 1 && strncasecmp(buf, name, sizeof(name) - 1) == 0 && \
		   (v = buf + sizeof(name) - 1, vl = len - (sizeof(name) - 1), true))
	if (HDR("content-type:") || HDR("location:") || HDR("www-authenticate:") || HDR("content-length:")) {
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (strncasecmp(buf, "content-type:", 13) == 0)
			snprintf(q->ctype, sizeof(q->ctype), "%.*s", (int)vl, v);
		else if (strncasecmp(buf, "location:", 9) == 0) {
			free(q->location);
			q->location = strndup(v, vl);
		} else if (strncasecmp(buf, "www-authenticate:", 17) == 0) {
			/* keep the first challenge we can answer */
			if (!q->www_auth[0] && vl < sizeof(q->www_auth))
				snprintf(q->www_auth, sizeof(q->www_auth), "%.*s", (int)vl, v);
		} else {
			char tmp[32];
			snprintf(tmp, sizeof(tmp), "%.*s", (int)(vl < 31 ? vl : 31), v);
			char *end;
			long long cl = strtoll(tmp, &end, 10);
			q->content_length = end != tmp && cl >= 0 ? cl : -1;
		}
	}
#undef HDR
	return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
	req_t *q = ud;
	size_t len = size * n;

	if (q->status == 0)
		curl_easy_getinfo(q->curl, CURLINFO_RESPONSE_CODE, &q->status);
	if (q->status < 200 || q->status >= 300) {
		membuf_add(&q->errbody, buf, len);
		return len;
	}
	if (!q->to_file) {
		membuf_add(q->mem, buf, len);
		return q->mem->overflow ? 0 : len;
	}
	if (q->range_sent && q->status == 200) {
		q->range_sent = false;
		q->write_err = out_restart(q);
		if (q->write_err < 0)
			return 0;
	}
	if (!q->progress_sent) {
		/* the first bytes of the download: a whole blob's Content-Length
		 * is its size, held to the cap before a byte is taken */
		q->progress_sent = true;
		if (!q->file_total && q->status == 200 && q->content_length > 0)
			q->file_total = (uint64_t)q->content_length;
		if (q->file_total > q->job->max_size) {
			q->too_large = true;
			return 0;
		}
		send_progress(q);
	}
	if (q->file_off + len > q->job->max_size) {
		q->too_large = true;
		return 0;
	}
	q->write_err = out_write(q, buf, len);
	if (q->write_err < 0)
		return 0;
	q->file_off += len;
	return len;
}

/* --- one exchange, with auth and redirects --------------------------------- */

static char *url_host(const char *url)
{
	CURLU *u = curl_url();
	char *h = NULL, *ret = NULL;

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
		char *p = NULL;
		if (curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK && asprintf(&ret, "%s:%s", h, p) < 0)
			ret = NULL;
		curl_free(p);
	}
	curl_free(h);
	if (u)
		curl_url_cleanup(u);
	return ret;
}

static void setup_common(req_t *q, const char *url)
{
	CURL *c = q->curl;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	/* a stalled transfer is a lost connection: retried, then failed */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (q->job->ca) {
		struct curl_blob blob = { .data = (void *)q->job->ca, .len = q->job->ca_len, .flags = CURL_BLOB_NOCOPY };
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(c, CURLOPT_USERAGENT, "mvmd-fetch/" MVM_VERSION);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, q->curl_err);
	/* fewer, larger writes into the temp file (curl's default is 16 KiB) */
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
}

static void reset_answer(req_t *q)
{
	q->status = 0;
	q->ctype[0] = q->www_auth[0] = '\0';
	q->content_length = -1;
	free(q->location);
	q->location = NULL;
	free(q->errbody.data);
	q->errbody = (membuf_t){ .max = ERRBODY_MAX };
	q->curl_err[0] = '\0';
	q->too_large = false;
	q->write_err = 0;
}

static int curl_error(req_t *q, CURLcode cr, char *reason, size_t rlen)
{
	const char *what = q->curl_err[0] ? q->curl_err : curl_easy_strerror(cr);

	switch (cr) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		snprintf(reason, rlen, "TLS: %s", what);
		return -EPROTO;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(reason, rlen, "cannot resolve: %s", what);
		return -EHOSTUNREACH;
	case CURLE_COULDNT_CONNECT:
		snprintf(reason, rlen, "cannot connect: %s", what);
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(reason, rlen, "timed out: %s", what);
		return -ETIMEDOUT;
	default:
		snprintf(reason, rlen, "connection: %s", what);
		return -ECONNRESET;
	}
}

/* Ask the token endpoint a Bearer challenge names. */
static int get_token(req_t *q, const fetch_challenge_t *ch, char *reason, size_t rlen)
{
	_cleanup_free_ char *url = NULL;
	membuf_t body = { .max = 16 << 10 };
	struct curl_slist *hdrs = NULL;
	char *svc = curl_easy_escape(q->curl, ch->service, 0), *scope = curl_easy_escape(q->curl, ch->scope, 0);
	int r;

	if (!svc || !scope ||
	    asprintf(&url, "%s%sservice=%s%s%s", ch->realm, strchr(ch->realm, '?') ? "&" : "?", svc,
		     ch->scope[0] ? "&scope=" : "", ch->scope[0] ? scope : "") < 0)
		url = NULL;
	curl_free(svc);
	curl_free(scope);
	if (!url)
		return -ENOMEM;
	r = fetch_url_allowed(url, q->src->allow_http);
	if (r < 0) {
		snprintf(reason, rlen, "token realm %.200s refused: %s", ch->realm,
			 r == -EPERM ? "plain http to a non-loopback host" : "not a URL");
		return -EPERM;
	}
	reset_answer(q);
	setup_common(q, url);
	membuf_t *saved = q->mem;
	bool saved_file = q->to_file;
	q->mem = &body;
	q->to_file = false;
	if (q->src->auth) {
		_cleanup_free_ char *h = NULL;
		if (asprintf(&h, "Authorization: Basic %s", q->src->auth) >= 0)
			hdrs = curl_slist_append(hdrs, h);
		curl_easy_setopt(q->curl, CURLOPT_HTTPHEADER, hdrs);
	}
	CURLcode cr = curl_easy_perform(q->curl);
	curl_easy_getinfo(q->curl, CURLINFO_RESPONSE_CODE, &q->status);
	curl_slist_free_all(hdrs);
	q->mem = saved;
	q->to_file = saved_file;
	if (cr != CURLE_OK) {
		free(body.data);
		return curl_error(q, cr, reason, rlen);
	}
	if (q->status != 200) {
		free(body.data);
		snprintf(reason, rlen, "token endpoint answered %ld", q->status);
		return q->status == 401 || q->status == 403 ? -EACCES : -EPROTO;
	}
	free(q->bearer);
	q->bearer = NULL;
	r = fetch_token_parse(body.data ? body.data : "", body.len, &q->bearer);
	free(body.data);
	if (r < 0)
		snprintf(reason, rlen, "token endpoint answer without a usable token");
	return r;
}

/*
 * One GET, following redirects and answering one auth challenge.
 * Returns the final HTTP status (>= 200), or -errno with reason set.
 */
static int exchange(req_t *q, const char *url0, const char *accept, uint64_t range_from,
		    char *reason, size_t rlen)
{
	_cleanup_free_ char *url = strdup(url0), *src_host = url_host(q->src->url);
	bool auth_tried = false, use_basic = false;
	int redirects = 0, r;

	if (!url || !src_host)
		return -ENOMEM;
	for (;;) {
		struct curl_slist *hdrs = NULL;
		_cleanup_free_ char *host = url_host(url), *auth = NULL, *range = NULL, *acc = NULL;

		r = fetch_url_allowed(url, q->src->allow_http);
		if (r < 0) {
			snprintf(reason, rlen, "%s %.200s refused: %s", redirects ? "redirect to" : "URL", url,
				 r == -EPERM ? "plain http to a non-loopback host" : "not a URL");
			return -EPERM;
		}
		reset_answer(q);
		q->range_sent = range_from > 0;
		setup_common(q, url);
		if (accept && asprintf(&acc, "Accept: %s", accept) >= 0)
			hdrs = curl_slist_append(hdrs, acc);
		/* Credentials go to the source's own host only, never to the
		 * blob storage a registry redirects to. */
		if (host && strcmp(host, src_host) == 0) {
			if (q->bearer && asprintf(&auth, "Authorization: Bearer %s", q->bearer) < 0)
				auth = NULL;
			else if (!q->bearer && use_basic && asprintf(&auth, "Authorization: Basic %s", q->src->auth) < 0)
				auth = NULL;
			if (auth)
				hdrs = curl_slist_append(hdrs, auth);
		}
		if (range_from && asprintf(&range, "Range: bytes=%" PRIu64 "-", range_from) >= 0)
			hdrs = curl_slist_append(hdrs, range);
		curl_easy_setopt(q->curl, CURLOPT_HTTPHEADER, hdrs);
		CURLcode cr = curl_easy_perform(q->curl);
		curl_slist_free_all(hdrs);
		curl_easy_getinfo(q->curl, CURLINFO_RESPONSE_CODE, &q->status);
		if (q->too_large) {
			snprintf(reason, rlen, "larger than the size limit (%" PRIu64 " bytes)", q->job->max_size);
			return -E2BIG;
		}
		if (q->write_err) {
			snprintf(reason, rlen, "cannot hand the blob to mvmd: %s", strerror(-q->write_err));
			return q->write_err;
		}
		if (cr != CURLE_OK && !(cr == CURLE_WRITE_ERROR && q->mem && q->mem->overflow))
			return curl_error(q, cr, reason, rlen);
		if (cr != CURLE_OK) {
			snprintf(reason, rlen, "answer too large");
			return -E2BIG;
		}
		if (q->status >= 300 && q->status < 400 && q->status != 304 && q->location) {
			_cleanup_free_ char *next = NULL;
			if (++redirects > MAX_REDIRECTS) {
				snprintf(reason, rlen, "more than %d redirects (last to %.200s)", MAX_REDIRECTS, q->location);
				return -ELOOP;
			}
			r = fetch_location_resolve(url, q->location, strlen(q->location), &next);
			if (r < 0) {
				snprintf(reason, rlen, "redirect to an invalid location");
				return -EPROTO;
			}
			free(url);
			url = TAKE_PTR(next);
			continue;
		}
		if (q->status == 401 && !auth_tried) {
			fetch_challenge_t ch;
			auth_tried = true;
			r = fetch_challenge_parse(q->www_auth, strlen(q->www_auth), &ch);
			if (r == 0 && strcasecmp(ch.scheme, "Bearer") == 0 && ch.realm[0]) {
				char *keep_url = strdup(url);
				if (!keep_url)
					return -ENOMEM;
				r = get_token(q, &ch, reason, rlen);
				free(url);
				url = keep_url;
				if (r < 0)
					return r;
				continue;
			}
			if (r == 0 && strcasecmp(ch.scheme, "Basic") == 0 && q->src->auth) {
				use_basic = true;
				continue;
			}
		}
		if (q->status == 401 || q->status == 403) {
			snprintf(reason, rlen, "%ld: authentication %s", q->status,
				 q->src->auth ? "refused with the configured credentials" : "required and no credentials are configured for this registry");
			return (int)q->status;
		}
		return (int)q->status;
	}
}

/* --- blobs and manifests ----------------------------------------------------- */

static char *repo_url(const fetch_source_t *src, const char *repo, const char *kind, const char *what)
{
	char *u;
	size_t l = strlen(src->url);
	if (asprintf(&u, "%.*s/v2/%s/%s/%s", (int)(l && src->url[l - 1] == '/' ? l - 1 : l), src->url, repo, kind, what) < 0)
		return NULL;
	return u;
}

static bool transient(int r)
{
	return r == -ECONNRESET || r == -ETIMEDOUT || r == -ECONNREFUSED || (r >= 500 && r < 600);
}

/*
 * GET the blob into the data pipe, resuming with Range after a lost
 * connection or a 5xx. The size (expect_size, the manifest's; else the
 * first answer's Content-Length; 0: unknown) is held to the cap before
 * the body is taken, and checked at the end. A source that refuses the
 * first connection is not retried: the next one is tried at once.
 */
static int download(req_t *q, const char *url, uint64_t expect_size, char *reason, size_t rlen)
{
	int r = out_restart(q);

	if (r < 0)
		return r;
	q->to_file = true;
	q->file_total = expect_size;
	q->progress_sent = false;
	for (int attempt = 0;; attempt++) {
		uint64_t from = q->file_off;
		r = exchange(q, url, NULL, from, reason, rlen);
		if (r == 200 || r == 206) {
			uint64_t size = q->file_total;
			if (size && q->file_off != size) {
				if (q->file_off < size && attempt < MAX_RETRIES) {
					snprintf(reason, rlen, "short body: %" PRIu64 " of %" PRIu64 " bytes", q->file_off, size);
					goto retry;
				}
				snprintf(reason, rlen, "body of %" PRIu64 " bytes, %s %" PRIu64, q->file_off,
					 expect_size ? "the manifest says" : "its Content-Length said", size);
				return -EBADMSG;
			}
			return out_flush(q);
		}
		if (r == -ECONNREFUSED && attempt == 0)
			return r; /* nothing listens there: the next source, at once */
		if (r == 416 && from > 0) {
			/* our offset is past what it has: start over */
			r = out_restart(q);
			if (r < 0)
				return r;
			goto retry;
		}
		if (!transient(r) || attempt >= MAX_RETRIES) {
			if (r > 0 && r != 401 && r != 403) /* exchange() said why for those */
				snprintf(reason, rlen, r == 404 ? "404: blob unknown" : "GET blob answered %d", r);
			if (transient(r) && attempt > 0) {
				char last[400];
				snprintf(last, sizeof(last), "%s", reason);
				snprintf(reason, rlen, "%s (gave up after %d retries, %" PRIu64 " bytes received)", last, attempt,
					 q->file_off);
			}
			return r;
		}
		if (r > 0)
			snprintf(reason, rlen, "GET blob answered %d", r);
	retry:
		if (attempt >= MAX_RETRIES)
			return -ECONNRESET;
		fprintf(stderr, "mvm-fetch: %s: %s; retrying from byte %" PRIu64 "\n", q->src->name, reason, q->file_off);
		struct timespec ts = { .tv_nsec = (long)(200000000L << attempt) % 1000000000L, .tv_sec = (200L << attempt) / 1000 };
		nanosleep(&ts, NULL);
	}
}

/* A blob from one source: declared is the manifest's size (0: by hash,
 * unknown until the GET answers; a 404 then says this source lacks it). */
static int pull_blob_from(req_t *q, const char *repo, const char *digest, uint64_t declared, char *reason, size_t rlen)
{
	_cleanup_free_ char *url = repo_url(q->src, repo, "blobs", digest);

	if (!url)
		return -ENOMEM;
	if (declared > q->job->max_size) {
		snprintf(reason, rlen, "%" PRIu64 " bytes, over the size limit (%" PRIu64 " bytes)", declared, q->job->max_size);
		return -E2BIG;
	}
	return download(q, url, declared, reason, rlen);
}

static int done(req_t *q, const char *digest, const char *manifest_digest)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("done"));
	json_object_object_add(o, "source", json_object_new_string(q->src->name));
	json_object_object_add(o, "digest", json_object_new_string(digest));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)q->file_off));
	if (manifest_digest)
		json_object_object_add(o, "manifest_digest", json_object_new_string(manifest_digest));
	return fetch_send(q->job->ctl_fd, o);
}

static int failed(fetch_job_t *job, const char *err, const char *reason)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("failed"));
	json_object_object_add(o, "error", json_object_new_string(err));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	return fetch_send(job->ctl_fd, o);
}

static const char *error_class(int r)
{
	if (r == -E2BIG)
		return FETCH_ERR_TOO_LARGE;
	if (r == 401 || r == 403 || r == -EACCES)
		return FETCH_ERR_AUTH;
	if (r == 404)
		return FETCH_ERR_NOT_FOUND;
	if (r == -ECONNRESET || r == -ETIMEDOUT || r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -EPROTO || r >= 500)
		return FETCH_ERR_NETWORK;
	if (r == -ENOMEM || r == -EIO || r == -ENOSPC)
		return FETCH_ERR_INTERNAL;
	return FETCH_ERR_PROTOCOL;
}

static int run_by_hash(req_t *q)
{
	fetch_job_t *job = q->job;
	char reason[512] = "";
	const char *err = FETCH_ERR_NOT_FOUND;
	bool all_404 = true;

	for (size_t i = 0; i < job->n_sources; i++) {
		q->src = &job->sources[i];
		free(q->bearer);
		q->bearer = NULL;
		reason[0] = '\0';
		int r = pull_blob_from(q, q->src->repository, job->digest, 0, reason, sizeof(reason));
		if (r == 0)
			return done(q, job->digest, NULL);
		if (r == -E2BIG)
			return failed(job, FETCH_ERR_TOO_LARGE, reason);
		send_answer(job, q->src, r > 0 ? r : 0, reason[0] ? reason : strerror(-r));
		if (r != 404) {
			all_404 = false;
			err = error_class(r);
		}
		/* nothing of this source may stay in mvmd's file */
		if (out_restart(q) < 0)
			return failed(job, FETCH_ERR_INTERNAL, "cannot hand the blob to mvmd");
	}
	return failed(job, all_404 ? FETCH_ERR_NOT_FOUND : err,
		      job->n_sources == 1 ? reason : "no source could serve the blob; see each source's answer");
}

static int run_by_reference(req_t *q)
{
	fetch_job_t *job = q->job;
	char reason[512] = "", manifest_digest[FETCH_DIGEST_LEN + 1] = "";
	_cleanup_free_ char *what = strdup(job->ref_digest ? job->ref_digest : job->ref_tag);
	bool expect_digest = job->ref_digest != NULL;
	int r;

	if (!what)
		return failed(job, FETCH_ERR_INTERNAL, "out of memory");
	q->src = &job->sources[job->ref_source];
	for (int depth = 0; depth < 3; depth++) {
		membuf_t body = { .max = FETCH_MANIFEST_MAX };
		_cleanup_free_ char *url = repo_url(q->src, job->ref_repository, "manifests", what);
		fetch_pick_t pick;
		char hex[65], got[FETCH_DIGEST_LEN + 1];

		if (!url)
			return failed(job, FETCH_ERR_INTERNAL, "out of memory");
		q->to_file = false;
		q->mem = &body;
		r = exchange(q, url,
			     FETCH_MT_OCI_MANIFEST ", " FETCH_MT_OCI_INDEX ", " FETCH_MT_DOCKER_MANIFEST ", " FETCH_MT_DOCKER_LIST,
			     0, reason, sizeof(reason));
		q->mem = NULL;
		if (r != 200) {
			free(body.data);
			if (r == 404)
				snprintf(reason, sizeof(reason), "404: manifest unknown (%s:%.100s)", job->ref_repository, what);
			else if (r > 0 && r != 401 && r != 403)
				snprintf(reason, sizeof(reason), "GET manifest answered %d", r);
			send_answer(job, q->src, r > 0 ? r : 0, reason);
			return failed(job, error_class(r), reason);
		}
		sha256_hex(body.data ? body.data : "", body.len, hex);
		snprintf(got, sizeof(got), "sha256:%s", hex);
		if (expect_digest && strcmp(got, what) != 0) {
			free(body.data);
			snprintf(reason, sizeof(reason), "manifest hashes to %s, not the %s asked for", got, what);
			return failed(job, FETCH_ERR_PROTOCOL, reason);
		}
		if (depth == 0)
			memcpy(manifest_digest, got, sizeof(got));
		r = fetch_manifest_pick(body.data ? body.data : "", body.len, q->ctype, &pick);
		free(body.data);
		if (r < 0)
			return failed(job, r == -ENOENT ? FETCH_ERR_NOT_FOUND : FETCH_ERR_PROTOCOL, pick.reason);
		if (!pick.is_index) {
			r = pull_blob_from(q, job->ref_repository, pick.digest, pick.size ? pick.size : 0, reason, sizeof(reason));
			if (r == 0)
				return done(q, pick.digest, manifest_digest);
			if (r > 0 && !reason[0])
				snprintf(reason, sizeof(reason), "GET blob answered %d", r);
			return failed(job, error_class(r), reason[0] ? reason : strerror(-r));
		}
		/* an index: the chosen manifest is fetched by digest, and verified */
		free(what);
		what = strdup(pick.digest);
		if (!what)
			return failed(job, FETCH_ERR_INTERNAL, "out of memory");
		expect_digest = true;
	}
	return failed(job, FETCH_ERR_PROTOCOL, "indexes nested too deep");
}

int fetch_run(fetch_job_t *job)
{
	req_t q = { .job = job, .content_length = -1, .errbody = { .max = ERRBODY_MAX } };
	int r;

	q.out = malloc(sizeof(fetch_frame_t) + OUT_FRAME);
	q.curl = q.out ? curl_easy_init() : NULL;
	if (!q.curl) {
		free(q.out);
		return failed(job, FETCH_ERR_INTERNAL, "cannot initialise libcurl");
	}
	r = job->digest ? run_by_hash(&q) : run_by_reference(&q);
	curl_easy_cleanup(q.curl);
	free(q.location);
	free(q.errbody.data);
	free(q.bearer);
	free(q.out);
	return r;
}
