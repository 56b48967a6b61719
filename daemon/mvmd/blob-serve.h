/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd's blob server for one VM (docs/blob-protocol.md): guests fetch Wasm
 * modules by hash over a guest-initiated vsock connection to host port
 * BLOB_PROTO_PORT. With hybrid vsock (cloud-hypervisor, Firecracker) that
 * connection arrives on the Unix socket "<vm vsock socket>_1025", which
 * the server listens on.
 *
 * Policy: a VM may fetch only the blobs granted to it (blob_serve_grant()),
 * i.e. those mvmd itself asked it to run. Any other hash — stored or not —
 * gets the same "unavailable" answer, so a guest cannot probe what other
 * tenants stored.
 *
 * Resource bounds, whatever the guest does: at most max_connections open
 * (more wait in the listen backlog), a request of at most
 * BLOB_PROTO_REQUEST_MAX bytes that must arrive within request_timeout_ms,
 * one 64 KiB buffer per connection (the blob is read from its file only as
 * fast as the guest takes it), and a connection that makes no progress for
 * stall_timeout_ms is closed. Every call is non-blocking on mvmd's sd-event
 * loop. Does not log; blob_serve_stats() counts what happened.
 */
#ifndef MVM_BLOB_SERVE_H
#define MVM_BLOB_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "proto/blob-proto.h"
#include "blob.h"

typedef struct blob_serve blob_serve_t;

typedef struct blob_serve_opts {
	unsigned max_connections;    /* 0: 16 */
	unsigned request_timeout_ms; /* 0: 10000 */
	unsigned stall_timeout_ms;   /* 0: 30000 */
} blob_serve_opts_t;

typedef struct blob_serve_stats {
	uint64_t accepted, served, refused, timed_out;
	uint64_t bytes; /* blob bytes sent */
} blob_serve_stats_t;

/*
 * Listen on "<vsock_path>_<BLOB_PROTO_PORT>" (an existing socket file
 * there is replaced) and serve on e. The store must outlive the server.
 * opts may be NULL. This and blob_serve_stop() are what a backend calls
 * when a VM with a hybrid-vsock device starts and stops.
 */
int blob_serve_start(sd_event *e, blob_store_t *store, const char *vsock_path, const blob_serve_opts_t *opts,
		     blob_serve_t **ret);
/* Close the listener and every connection, unlink the socket; NULL-safe. */
blob_serve_t *blob_serve_stop(blob_serve_t *s);

/* The same on an exact socket path (tests; other transports). */
int blob_serve_start_at(sd_event *e, blob_store_t *store, const char *socket_path,
			const blob_serve_opts_t *opts, blob_serve_t **ret);

/* Let the VM fetch hex (64 lowercase hex). -EINVAL for a malformed hex,
 * -ENOSPC past BLOB_SERVE_MAX_GRANTS. Granting twice is a no-op. */
#define BLOB_SERVE_MAX_GRANTS 4096
int blob_serve_grant(blob_serve_t *s, const char *hex);

unsigned blob_serve_connections(const blob_serve_t *s);
void blob_serve_get_stats(const blob_serve_t *s, blob_serve_stats_t *ret);
const char *blob_serve_path(const blob_serve_t *s);

/*
 * The request parser (fuzzed: tests/fuzz/fuzz_blob_serve.c): buf holds the
 * first len bytes received. 0 and the hex when they start with a complete
 * request, -EAGAIN when they are a proper prefix of one, -EBADMSG when
 * they cannot become one.
 */
int blob_serve_parse_request(const void *buf, size_t len, char ret_hex[static BLOB_HEX_LEN + 1]);

#endif
