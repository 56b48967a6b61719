/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.1 over a Unix socket (cloud-hypervisor's --api-socket) from an
 * sd-event loop: libcurl's multi interface driven by the loop's I/O and
 * timer sources, so a request never blocks mvmd (docs/design.md §8).
 *
 * Each request is one connection (no reuse: the VMM may go away between
 * two requests). Its callback runs exactly once, from the event loop, unless
 * it was cancelled first; the request object is freed after the callback.
 */
#ifndef MVM_CH_HTTP_H
#define MVM_CH_HTTP_H

#include <stddef.h>
#include <systemd/sd-event.h>

typedef struct ch_http ch_http_t;
typedef struct ch_http_req ch_http_req_t;

/*
 * error: 0 when an HTTP response arrived (status is its code), else a
 * negative errno: -ECONNREFUSED (no listener, no socket file), -ETIMEDOUT,
 * -EMSGSIZE (body above the cap), -EIO (anything else curl reports).
 * body is NUL-terminated (len without it), valid during the call only.
 */
typedef void (*ch_http_done_fn)(int error, long status, const char *body, size_t len, void *userdata);

int ch_http_new(sd_event *e, ch_http_t **ret);
/* Cancels (without callbacks) every request still pending. */
ch_http_t *ch_http_free(ch_http_t *h);

/*
 * Start METHOD http://localhost<path> on the Unix socket at sock_path.
 * A PUT carries an empty body (Content-Length: 0). body_max caps the
 * response body. *ret_req (optional) identifies it for ch_http_cancel until
 * the callback runs.
 */
int ch_http_request(ch_http_t *h, const char *sock_path, const char *method, const char *path,
		    unsigned timeout_ms, size_t body_max, ch_http_done_fn done, void *userdata,
		    ch_http_req_t **ret_req);

/* The same with a JSON request body (a PUT only; NULL: empty). The body is
 * copied: the caller's may go at once. */
int ch_http_request_body(ch_http_t *h, const char *sock_path, const char *method, const char *path,
			 const char *body, unsigned timeout_ms, size_t body_max, ch_http_done_fn done,
			 void *userdata, ch_http_req_t **ret_req);

/* Drop a pending request; its callback never runs. NULL is a no-op. */
void ch_http_cancel(ch_http_req_t *req);

#endif
