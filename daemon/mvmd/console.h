/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A VM's serial console as mvmd serves it (docs/design.md §7): a Unix socket any
 * number of clients attach to (socat -,raw,echo=0 UNIX-CONNECT:...), all
 * guest output broadcast to them and appended to a size-capped log, and
 * client input handed to the backend for the guest's console input.
 *
 * The log is two files, LOG and LOG.1: when LOG reaches half the cap it
 * replaces LOG.1, so the newest output (between half and all of the cap)
 * survives, across mvmd restarts too.
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
	const char *socket_path; /* created 0600; a stale socket is replaced */
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
/* Closes clients and the socket, unlinks it; the log stays. */
console_t *console_free(console_t *c);

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
