/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A JSON-RPC server with the spec's example methods plus a few probes,
 * run in a forked child on a real socket and a real sd-event loop, and a
 * small blocking client to talk to it. Shared by check_rpc_server.c and
 * check_rpc_limits.c.
 */
#ifndef MVM_TEST_RPC_SERVER_H
#define MVM_TEST_RPC_SERVER_H

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "rpc.h"
#include "util/log.h"

/* --- the server, in a forked child --------------------------------------------- */

typedef struct rts_server {
	char dir[64], path[128];
	pid_t pid;
} rts_server_t;
void rts_limits(rpc_limits_t *l);
void rts_start(rts_server_t *t, const rpc_limits_t *limits);

/* Stops the server and checks it shut down cleanly (under ASan this also
 * means no leaks in the child). */
void rts_stop(rts_server_t *t);

/* --- a blocking client ------------------------------------------------------------ */

typedef struct rts_client {
	int fd;
	char *buf;
	size_t len, alloc;
} rts_client_t;
void rts_open(rts_client_t *c, const char *path);
void rts_close(rts_client_t *c);
void rts_send(rts_client_t *c, const char *s);

/* Next line without its '\n' (malloc'd), or NULL at EOF/error/timeout. */
char *rts_readline(rts_client_t *c);
json_object *rts_read_json(rts_client_t *c);
json_object *rts_call(rts_client_t *c, const char *request);
json_object *rts_get(json_object *o, const char *path);
int64_t rts_int(json_object *o, const char *path);
const char *rts_str(json_object *o, const char *path);

/* The "stats" method's result. */
json_object *rts_stats(rts_client_t *c);

/* Polls stats until field == want (for things that happen after a close). */
json_object *rts_stats_wait(rts_client_t *c, const char *field, int64_t want);

/* How many methods the test server has (rpc.discover lists one more). */
extern const size_t rts_method_count;

#endif
