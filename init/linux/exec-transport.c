/* SPDX-License-Identifier: Apache-2.0 */
/* Agent transports: AF_VSOCK in a guest, AF_UNIX in tests. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "exec-agent.h"
#include "vsock-addr.h"

static int listen_on(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (bind(fd, sa, len) < 0 || listen(fd, 64) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int vsock_listen(const exec_transport_t *t)
{
	mvm_sockaddr_vm sa;
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	vsock_addr(&sa, MVM_VMADDR_CID_ANY, t->port);

	if (fd < 0)
		return -errno;
	return listen_on(fd, (const struct sockaddr *)&sa, sizeof(sa));
}

static int unix_listen(const exec_transport_t *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (!t->path || strlen(t->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, t->path);
	/* Replace a stale socket, never another kind of file. */
	if (lstat(t->path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(t->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	return listen_on(fd, (const struct sockaddr *)&sa, sizeof(sa));
}

exec_transport_t exec_transport_vsock(unsigned port)
{
	return (exec_transport_t){ .name = "vsock", .listen = vsock_listen, .port = port };
}

exec_transport_t exec_transport_unix(const char *path)
{
	return (exec_transport_t){ .name = "unix", .listen = unix_listen, .path = path };
}
