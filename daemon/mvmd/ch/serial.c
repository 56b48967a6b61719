/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A ch VM's serial port (serial.sock, cloud-hypervisor's ttyS0) relayed to
 * its console (daemon/mvmd/console.c), as a micro-VM's console is: what the
 * guest writes goes to the console log and its clients, what they type
 * goes to the guest. Non-blocking; connected as soon as the socket exists
 * (ch/boot.c's tick tries until it does).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ch/ch-vm.h"
#include "util/macro.h"

void ch_serial_close(ch_vm_t *c)
{
	c->serial_src = sd_event_source_disable_unref(c->serial_src);
	c->serial_fd = safe_close(c->serial_fd);
}

void ch_serial_drain(ch_vm_t *c, unsigned max_reads)
{
	char buf[SERIAL_BUF];

	while (c->serial_fd >= 0 && max_reads--) {
		ssize_t n = read(c->serial_fd, buf, sizeof(buf));
		if (n > 0) {
			if (c->console)
				console_output(c->console, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || errno != EAGAIN)
			ch_serial_close(c);
		break;
	}
}

static int on_serial(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	/* A chatty guest gets 1 MiB per turn; the loop serves the others. */
	ch_serial_drain(userdata, 16);
	return 0;
}

int ch_serial_write(const void *buf, size_t len, void *userdata)
{
	ch_vm_t *c = userdata;
	ssize_t n;

	if (c->serial_fd < 0)
		return -EPIPE;
	n = send(c->serial_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN ? -ENOBUFS : negative_errno();
	return (size_t)n == len ? 0 : -ENOBUFS;
}

/* Non-blocking connect to serial.sock: 0 connected, <0 not (yet). */
int ch_serial_connect(ch_vm_t *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	int r;

	if (strlen(c->serial) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, c->serial, strlen(c->serial) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return negative_errno();
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		return negative_errno();
	r = sd_event_add_io(manager_event(c->m), &c->serial_src, fd, EPOLLIN, on_serial, c);
	if (r < 0)
		return r;
	/* Output before exit notifications: the last words reach the log. */
	sd_event_source_set_priority(c->serial_src, -10);
	c->serial_fd = TAKE_FD(fd);
	return 0;
}

