/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A VM's serial console as mvmd serves it (docs/design.md §7): a Unix socket any
 * number of clients attach to (socat -,raw,echo=0 UNIX-CONNECT:...), all
 * guest output broadcast to them and appended to a size-capped log, and
 * client input handed to the backend for the guest's console input.
 *
 * The log is two files, LOG and LOG.1: when LOG reaches half the cap it
 * replaces LOG.1, so the newest output (between half and all of the cap)
 * survives, across mvmd restarts too. A log is open only while its
 * console is among the most recent writers (a small cache): an idle VM's
 * console holds no fd for its log.
 *
 * The socket may be someone else's: a kvm worker holds its VM's
 * listening socket and hands each client it accepts over
 * (console_add_client), so that mvmd holds no fd for a console nobody is
 * attached to (docs/density.md).
 */
#ifndef MVM_CONSOLE_H
#define MVM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

typedef struct console console_t;

/* Input from a client. Return -ENOBUFS when the guest side cannot take
 * more now; the bytes are then dropped for that client (counted). */
typedef int (*console_input_fn)(const void *buf, size_t len, void *userdata);

typedef struct console_config {
	const char *socket_path; /* created 0600 (a stale socket is replaced); NULL: clients come
				  * through console_add_client() only */
	/* Access as the RPC socket's (--socket-group): with socket_group the
	 * socket is 0660 with group socket_gid, so that group's members may
	 * attach; without, 0600 (mvmd's user only). */
	bool socket_group;
	gid_t socket_gid;
	const char *log_path;
	uint64_t log_max_bytes;  /* default 4 MiB */
	size_t client_queue_max; /* per client; a client that falls further behind is disconnected (default 1 MiB) */
	unsigned max_clients;    /* default 16 */
	console_input_fn on_input;
	void *userdata;
} console_config_t;

int console_new(sd_event *e, const console_config_t *cfg, console_t **ret);
/* Closes clients and the socket it listens on, unlinks it; the log and a
 * socket it does not listen on stay. */
console_t *console_free(console_t *c);

/* A listening socket at path, as console_new makes one (mode 0600, or
 * 0660 with socket_gid): for a console whose clients someone else accepts. */
int console_listen(const char *path, bool socket_group, gid_t socket_gid, int *ret_fd);
/* Listen at socket_path from now on (a console made without one):
 * -EALREADY if it listens already. */
int console_listen_at(console_t *c, const char *socket_path);
/* A client someone else accepted (fd taken, closed on error): -EBADF for
 * anything but a stream socket, -EUSERS past max_clients (told so). */
int console_add_client(console_t *c, int fd);

/* Guest output: append to the log and send to every client. */
int console_output(console_t *c, const void *buf, size_t len);

unsigned console_n_clients(const console_t *c);

/*
 * The last `tail` bytes of a console log (LOG.1 then LOG), read without a
 * console object so it works for VMs that are not running. *ret_size is
 * the total bytes held. -ENOENT when there is no log yet.
 */
int console_log_read(const char *log_path, uint64_t tail, char **ret_data, size_t *ret_len, uint64_t *ret_size);

#endif
