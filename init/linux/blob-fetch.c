/* SPDX-License-Identifier: Apache-2.0 */
/* Guest-side blob fetch; see blob-fetch.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "blob-fetch.h"
#include "util/io.h"
#include "util/sha256.h"
#include "vsock-addr.h"

#define DEFAULT_MAX_SIZE ((uint64_t)256 << 20)
#define DEFAULT_TIMEOUT_MS 30000

static int connect_fd(int fd, const struct sockaddr *sa, socklen_t len)
{
	int r;

	if (fd < 0)
		return -errno;
	while ((r = connect(fd, sa, len)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int vsock_connect(const blob_fetch_transport_t *t)
{
	mvm_sockaddr_vm sa;

	vsock_addr(&sa, t->cid, t->port);

	return connect_fd(socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0), (struct sockaddr *)&sa, sizeof(sa));
}

static int unix_connect(const blob_fetch_transport_t *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(t->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, t->path);
	return connect_fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), (struct sockaddr *)&sa, sizeof(sa));
}

blob_fetch_transport_t blob_fetch_transport_vsock(unsigned cid, unsigned port)
{
	return (blob_fetch_transport_t){ .name = "vsock", .connect = vsock_connect, .cid = cid, .port = port };
}

blob_fetch_transport_t blob_fetch_transport_unix(const char *path)
{
	return (blob_fetch_transport_t){ .name = "unix", .connect = unix_connect, .path = path };
}

/* Read exactly len bytes; -EPROTO on an early end. */
static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -EPROTO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static bool hex_ok(const char *hex)
{
	for (int i = 0; i < 64; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return false;
	return hex[64] == '\0';
}

int blob_fetch(const blob_fetch_transport_t *t, const char *hex, const blob_fetch_opts_t *opts,
	       uint8_t **ret_data, size_t *ret_len, uint32_t *ret_status)
{
	uint64_t max = opts && opts->max_size ? opts->max_size : DEFAULT_MAX_SIZE;
	unsigned tmo = opts && opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	struct timeval tv = { .tv_sec = tmo / 1000, .tv_usec = (tmo % 1000) * 1000 };
	char req[BLOB_PROTO_REQUEST_LEN + 1], got[65];
	uint8_t hdr[BLOB_PROTO_HEADER_LEN], *data = NULL;
	uint32_t status;
	uint64_t size;
	int fd, r;

	if (!hex || !hex_ok(hex))
		return -EINVAL;
	fd = t->connect(t);
	if (fd < 0)
		return fd;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memcpy(req, "sha256:", 7);
	memcpy(req + 7, hex, 64);
	req[71] = '\n';
	r = write_all(fd, req, BLOB_PROTO_REQUEST_LEN);
	if (r >= 0)
		r = read_full(fd, hdr, sizeof(hdr));
	if (r < 0)
		goto out;
	if (blob_proto_header_decode(hdr, &status, &size) < 0) {
		r = -EPROTO;
		goto out;
	}
	if (ret_status)
		*ret_status = status;
	switch (status) {
	case BLOB_STATUS_OK: break;
	case BLOB_STATUS_UNAVAILABLE: r = -ENOENT; goto out;
	case BLOB_STATUS_IO_ERROR: r = -EIO; goto out;
	default: r = -EPROTO; goto out;
	}
	if (size > max || size > SIZE_MAX - 1) {
		r = -EFBIG;
		goto out;
	}
	data = malloc(size ? (size_t)size : 1);
	if (!data) {
		r = -ENOMEM;
		goto out;
	}
	r = read_full(fd, data, (size_t)size);
	if (r < 0)
		goto out;
	sha256_hex(data, (size_t)size, got);
	if (memcmp(got, hex, 64) != 0) {
		r = -EBADMSG;
		goto out;
	}
	*ret_data = data;
	*ret_len = (size_t)size;
	data = NULL;
out:
	free(data);
	close(fd);
	return r;
}
