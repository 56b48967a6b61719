/* SPDX-License-Identifier: Apache-2.0 */
#include "ch/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "util/list.h"

/* The I/O source of one of curl's sockets, by fd. Kept here rather than
 * with curl_multi_assign(): the entry goes when the socket is closed (our
 * close callback), so an fd number curl reuses never meets a stale source. */
typedef struct sock_src {
	int fd;
	sd_event_source *src;
} sock_src_t;

struct ch_http {
	sd_event *event;
	CURLM *multi;
	sd_event_source *timer;
	ch_http_req_t *reqs; /* pending, for cancellation at free */
	sock_src_t *socks;
	size_t n_socks, cap_socks;
};

struct ch_http_req {
	ch_http_t *h;
	CURL *easy;
	struct curl_slist *headers;
	char *buf;
	size_t len, cap, max;
	bool overflow;
	int socket_errno; /* why socket() failed, 0 if it did not */
	ch_http_done_fn done;
	void *userdata;
	ch_http_req_t *prev, *next;
};

static void req_free(ch_http_req_t *req)
{
	if (!req)
		return;
	if (req->easy)
		curl_easy_cleanup(req->easy);
	curl_slist_free_all(req->headers);
	free(req->buf);
	free(req);
}

/* Out of the multi and the list; still allocated. */
static void req_detach(ch_http_req_t *req)
{
	ch_http_t *h = req->h;

	if (!h)
		return;
	curl_multi_remove_handle(h->multi, req->easy);
	LIST_REMOVE(h->reqs, req);
	req->h = NULL;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	ch_http_req_t *req = userdata;
	size_t n = size * nmemb;

	if (n > req->max - req->len) {
		req->overflow = true;
		return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
	}
	if (req->len + n + 1 > req->cap) {
		size_t nc = req->cap ? req->cap : 1024;
		while (nc < req->len + n + 1)
			nc *= 2;
		char *p = realloc(req->buf, nc);
		if (!p)
			return 0;
		req->buf = p;
		req->cap = nc;
	}
	memcpy(req->buf + req->len, data, n);
	req->len += n;
	req->buf[req->len] = '\0';
	return n;
}

static int map_error(CURLcode rc, bool overflow)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return -ECONNRESET;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_WRITE_ERROR:
		return overflow ? -EMSGSIZE : -ENOMEM;
	default:
		return -EIO;
	}
}

/* Hand every finished transfer to its callback. */
static void check_done(ch_http_t *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left))) {
		ch_http_req_t *req = NULL;
		long status = 0;
		int err;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&req);
		if (!req)
			continue;
		err = map_error(msg->data.result, req->overflow);
		if (msg->data.result == CURLE_COULDNT_CONNECT && req->socket_errno) {
			err = -req->socket_errno;
		} else if (msg->data.result == CURLE_COULDNT_CONNECT) {
			/* Out of fds or memory is not a refusal: say which. */
			long os = 0;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_OS_ERRNO, &os);
			if (os == EMFILE || os == ENFILE || os == ENOMEM || os == ENOBUFS)
				err = -(int)os;
		}
		if (err == 0)
			curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
		req_detach(req);
		req->done(err, status, req->buf ? req->buf : "", req->len, req->userdata);
		req_free(req);
	}
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	ch_http_t *h = userdata;
	int flags = 0, running;

	if (revents & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (revents & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(h->multi, fd, flags, &running);
	check_done(h);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	ch_http_t *h = userdata;
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
	return 0;
}

static sock_src_t *sock_find(ch_http_t *h, int fd)
{
	for (size_t i = 0; i < h->n_socks; i++)
		if (h->socks[i].fd == fd)
			return &h->socks[i];
	return NULL;
}

static void sock_forget(ch_http_t *h, int fd)
{
	sock_src_t *e = sock_find(h, fd);

	if (!e)
		return;
	sd_event_source_disable_unref(e->src);
	*e = h->socks[--h->n_socks];
}

/* curl says which events it wants on a socket. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	ch_http_t *h = userp;
	sock_src_t *e = sock_find(h, fd);
	uint32_t events = 0;

	if (what == CURL_POLL_REMOVE) {
		sock_forget(h, fd);
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (e)
		return sd_event_source_set_io_events(e->src, events) < 0 ? -1 : 0;
	if (h->n_socks == h->cap_socks) {
		size_t nc = h->cap_socks ? h->cap_socks * 2 : 8;
		sock_src_t *p = realloc(h->socks, nc * sizeof(*p));
		if (!p)
			return -1;
		h->socks = p;
		h->cap_socks = nc;
	}
	e = &h->socks[h->n_socks];
	if (sd_event_add_io(h->event, &e->src, fd, events, on_io, h) < 0)
		return -1;
	e->fd = fd;
	h->n_socks++;
	return 0;
}

/* curl closes a socket: its source goes first. */
/* curl turns a socket() that failed into CURLE_COULDNT_CONNECT and keeps
 * no errno for it (CURLINFO_OS_ERRNO stays 0): mvmd out of fds would read
 * as a VMM that refuses connections. Opening it here keeps the errno. */
static curl_socket_t on_open_socket(void *userp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	ch_http_req_t *req = userp;
	int fd;

	(void)purpose;
	fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	if (fd < 0) {
		req->socket_errno = errno;
		return CURL_SOCKET_BAD;
	}
	return fd;
}

static int on_close_socket(void *userp, curl_socket_t fd)
{
	sock_forget(userp, fd);
	return close(fd);
}

/* curl asks to be called back after timeout_ms (-1: never). */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	ch_http_t *h = userp;
	uint64_t now;

	if (timeout_ms < 0)
		return sd_event_source_set_enabled(h->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
	if (sd_event_now(h->event, CLOCK_MONOTONIC, &now) < 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	}
	if (sd_event_source_set_time(h->timer, now + (uint64_t)timeout_ms * 1000u) < 0 ||
	    sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT) < 0)
		return -1;
	return 0;
}

int ch_http_new(sd_event *e, ch_http_t **ret)
{
	ch_http_t *h;
	int r;

	/* Plain HTTP on a Unix socket: no TLS library to initialise. */
	if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK)
		return -EIO;
	h = calloc(1, sizeof(*h));
	if (!h) {
		curl_global_cleanup();
		return -ENOMEM;
	}
	h->event = sd_event_ref(e);
	h->multi = curl_multi_init();
	if (!h->multi) {
		ch_http_free(h);
		return -ENOMEM;
	}
	r = sd_event_add_time(e, &h->timer, CLOCK_MONOTONIC, 0, 1000, on_timer, h);
	if (r < 0) {
		ch_http_free(h);
		return r;
	}
	sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	*ret = h;
	return 0;
}

ch_http_t *ch_http_free(ch_http_t *h)
{
	if (!h)
		return NULL;
	while (h->reqs) {
		ch_http_req_t *req = h->reqs;
		req_detach(req);
		req_free(req);
	}
	if (h->multi)
		curl_multi_cleanup(h->multi);
	while (h->n_socks)
		sock_forget(h, h->socks[0].fd);
	free(h->socks);
	sd_event_source_disable_unref(h->timer);
	sd_event_unref(h->event);
	free(h);
	curl_global_cleanup();
	return NULL;
}

int ch_http_request(ch_http_t *h, const char *sock_path, const char *method, const char *path,
		    unsigned timeout_ms, size_t body_max, ch_http_done_fn done, void *userdata,
		    ch_http_req_t **ret_req)
{
	return ch_http_request_body(h, sock_path, method, path, NULL, timeout_ms, body_max, done, userdata, ret_req);
}

int ch_http_request_body(ch_http_t *h, const char *sock_path, const char *method, const char *path,
			 const char *body, unsigned timeout_ms, size_t body_max, ch_http_done_fn done,
			 void *userdata, ch_http_req_t **ret_req)
{
	ch_http_req_t *req;
	char url[512];
	bool put;

	if (!h || !sock_path || !method || !path || path[0] != '/' || !done)
		return -EINVAL;
	put = strcmp(method, "PUT") == 0;
	if ((!put && strcmp(method, "GET") != 0) || (body && !put))
		return -EINVAL;
	if (snprintf(url, sizeof(url), "http://localhost%s", path) >= (int)sizeof(url))
		return -ENAMETOOLONG;
	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	req->max = body_max;
	req->done = done;
	req->userdata = userdata;
	req->easy = curl_easy_init();
	if (!req->easy)
		goto oom;
	/* "Expect:" drops a header curl would add on its own. */
	const char *hdrs[] = { "Accept: application/json", "Expect:", put ? "Content-Type: application/json" : NULL };
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]) && hdrs[i]; i++) {
		struct curl_slist *l = curl_slist_append(req->headers, hdrs[i]);
		if (!l)
			goto oom;
		req->headers = l;
	}

	if (curl_easy_setopt(req->easy, CURLOPT_UNIX_SOCKET_PATH, sock_path) != CURLE_OK ||
	    curl_easy_setopt(req->easy, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, req->headers) != CURLE_OK)
		goto oom;
	curl_easy_setopt(req->easy, CURLOPT_PROTOCOLS_STR, "http");
	if (put) {
		curl_easy_setopt(req->easy, CURLOPT_CUSTOMREQUEST, "PUT");
		/* COPYPOSTFIELDS: curl keeps its own copy, sent as is. */
		curl_easy_setopt(req->easy, CURLOPT_POSTFIELDSIZE, body ? (long)strlen(body) : 0L);
		if (curl_easy_setopt(req->easy, CURLOPT_COPYPOSTFIELDS, body ? body : "") != CURLE_OK)
			goto oom;
	}
	curl_easy_setopt(req->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(req->easy, CURLOPT_WRITEDATA, req);
	curl_easy_setopt(req->easy, CURLOPT_PRIVATE, req);
	curl_easy_setopt(req->easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	curl_easy_setopt(req->easy, CURLOPT_OPENSOCKETDATA, req);
	curl_easy_setopt(req->easy, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
	curl_easy_setopt(req->easy, CURLOPT_CLOSESOCKETDATA, h);
	curl_easy_setopt(req->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(req->easy, CURLOPT_NOSIGNAL, 1L);
	/* One connection per request: the VMM may have gone in between. */
	curl_easy_setopt(req->easy, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(req->easy, CURLOPT_FRESH_CONNECT, 1L);

	if (curl_multi_add_handle(h->multi, req->easy) != CURLM_OK)
		goto oom;
	req->h = h;
	LIST_PREPEND(h->reqs, req);
	if (ret_req)
		*ret_req = req;
	return 0;
oom:
	req_free(req);
	return -ENOMEM;
}

void ch_http_cancel(ch_http_req_t *req)
{
	if (!req)
		return;
	req_detach(req);
	req_free(req);
}
