/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-sources: daemon/mvmd/blob-serve.c daemon/mvmd/blob.c lib/util/fs.c lib/util/fault.c lib/util/io.c */
/*
 * The blob server's request parser and request path on guest bytes.
 *
 * - blob_serve_parse_request() agrees with a direct reading of the
 *   grammar ("sha256:" 64*[0-9a-f] "\n", then anything), and is
 *   consistent across prefixes: once a prefix is refused every longer one
 *   is, a prefix of an accepted input is never refused.
 * - The whole server (real socket, real store with one granted blob, its
 *   sd-event loop) answers the input with one well-formed header and
 *   closes: ok with exactly the blob's bytes for the granted hash, another
 *   status for anything else; no connection is left open.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "blob-serve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sd_event *ev;
static blob_store_t *store;
static blob_serve_t *srv;
static char sock[256], granted[65];
static const char content[] = "the granted blob";

static void init(void)
{
	char dir[] = "/tmp/mvm-fuzz-bserve-XXXXXX";
	blob_info_t info;
	bool created;

	if (!mkdtemp(dir))
		abort();
	snprintf(sock, sizeof(sock), "%s/blob.sock", dir);
	if (blob_store_open(dir, &store) < 0 || sd_event_new(&ev) < 0 ||
	    blob_put_data(store, content, sizeof(content) - 1, NULL, &info, &created) < 0 ||
	    blob_serve_start_at(ev, store, sock, NULL, &srv) < 0 || blob_serve_grant(srv, info.hex) < 0)
		abort();
	memcpy(granted, info.hex, 65);
}

static bool grammar_ok(const uint8_t *d, size_t n)
{
	if (n < 72 || memcmp(d, "sha256:", 7) != 0 || d[71] != '\n')
		return false;
	for (int i = 7; i < 71; i++)
		if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
			return false;
	return true;
}

static void check_parser(const uint8_t *data, size_t size)
{
	char hex[65];
	int r = blob_serve_parse_request(data, size, hex), prev = -EAGAIN;

	if ((r == 0) != grammar_ok(data, size))
		abort();
	if (r == 0 && memcmp(hex, data + 7, 64) != 0)
		abort();
	for (size_t i = 0; i <= size && i <= 80; i++) {
		int ri = blob_serve_parse_request(data, i, hex);
		if (prev == -EBADMSG && ri != -EBADMSG)
			abort();
		if (prev == 0 && ri != 0)
			abort();
		if (r == 0 && ri == -EBADMSG)
			abort();
		prev = ri;
	}
}

static void check_server(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t out[256];
	size_t got = 0, sent = 0;
	bool closed = false;
	uint32_t st;
	uint64_t sz;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	for (int rounds = 0; !closed && rounds < 1000; rounds++) {
		ssize_t n;
		if (sent < size) {
			n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno == EPIPE)
				sent = size; /* the server answered and closed early */
		}
		if (sent == size)
			shutdown(fd, SHUT_WR); /* an incomplete request then ends */
		sd_event_run(ev, 100000);
		while ((n = recv(fd, out + got, sizeof(out) - got, 0)) > 0)
			got += (size_t)n;
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			closed = true;
		if (got == sizeof(out))
			abort(); /* more than a header + the small blob */
	}
	close(fd);
	if (!closed)
		abort();
	for (int i = 0; i < 5 && blob_serve_connections(srv) > 0; i++)
		sd_event_run(ev, 1000);
	if (blob_serve_connections(srv) != 0)
		abort();
	if (got == 0) {
		char hex[65];
		/* Only a request cut short by its end gets no answer. */
		if (blob_serve_parse_request(data, size, hex) != -EAGAIN)
			abort();
		return;
	}
	if (got < BLOB_PROTO_HEADER_LEN || blob_proto_header_decode(out, &st, &sz) < 0)
		abort();
	if (grammar_ok(data, size) && memcmp(data + 7, granted, 64) == 0) {
		if (st != BLOB_STATUS_OK || sz != sizeof(content) - 1 || got != 16 + sz ||
		    memcmp(out + 16, content, sz) != 0)
			abort();
	} else if (st == BLOB_STATUS_OK || sz != 0 || got != 16) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!srv)
		init();
	check_parser(data, size);
	if (size <= 4096)
		check_server(data, size);
	return 0;
}
