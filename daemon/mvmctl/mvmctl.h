/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmctl, the operator's client of mvmd (docs/mvmctl.1): one JSON-RPC
 * connection per run, calls that wait as long as mvmd takes to answer,
 * and the exit codes every command shares. It links json-c and nothing
 * of mvmd's own but lib/util/text.c (base64): it is a host tool that
 * talks to the daemon only through its socket.
 */
#ifndef MVMCTL_H
#define MVMCTL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit codes (docs/mvmctl.1 "EXIT STATUS"). exec passes the command's. */
enum {
	CTL_OK = 0,
	CTL_ERR_RPC = 1,     /* mvmd answered with an error (printed on stderr) */
	CTL_ERR_USAGE = 2,   /* bad command line */
	CTL_ERR_CONNECT = 3, /* mvmd unreachable, connection lost, local I/O */
	CTL_ERR_EXEC = 255,  /* exec: mvmctl's own failure (as ssh does) */
};

typedef struct ctl {
	const char *socket;
	bool json;       /* --json: raw result objects for scripts */
	int fd;
	unsigned next_id;
	char *buf;       /* bytes read and not yet returned as a line */
	size_t len, cap;
} ctl_t;

/* Connect to c->socket; prints why not. CTL_OK or CTL_ERR_CONNECT. */
int ctl_connect(ctl_t *c);
void ctl_close(ctl_t *c);

/*
 * Call method with params (taken; may be NULL) and wait for its answer,
 * however long it takes: until the response with this call's id arrives
 * or the connection closes. Notifications that arrive meanwhile are
 * dropped. On success *ret_result is the result (owned by the caller).
 * On an error response the error is printed ("mvmctl: METHOD: message:
 * reason") and CTL_ERR_RPC returned; CTL_ERR_CONNECT when the connection
 * failed. ret_error, when not NULL, receives the error object instead of
 * it being printed.
 */
int ctl_call(ctl_t *c, const char *method, json_object *params, json_object **ret_result, json_object **ret_error);

/* The next message from mvmd (a notification while following), or NULL
 * once the connection closed. */
json_object *ctl_read_message(ctl_t *c);

/* Print a result as JSON on stdout, one line (--json) or pretty. */
void ctl_print_json(json_object *o, bool pretty);

/* Members of o; "" (or 0) when missing, so tables never crash on an
 * older or newer mvmd. */
const char *ctl_str(json_object *o, const char *key);
int64_t ctl_int(json_object *o, const char *key);
bool ctl_has(json_object *o, const char *key);

/* All of a file (or stdin for "-"), at most max bytes (-E2BIG). */
int ctl_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

/* cmd-console.c */
int ctl_cmd_console(ctl_t *c, int argc, char **argv);
int ctl_cmd_logs(ctl_t *c, int argc, char **argv);

/* rpc.c: columns padded to their widest cell, the last one not. */
typedef struct ctl_table ctl_table_t;
ctl_table_t *ctl_table_new(size_t ncols, const char *const *headers);
void ctl_table_add(ctl_table_t *t, const char *const *cells);
void ctl_table_print(ctl_table_t *t);
void ctl_table_free(ctl_table_t *t);

/* cmd-vm.c, cmd-exec.c, cmd-blob.c */
int ctl_cmd_list(ctl_t *c, int argc, char **argv);
int ctl_cmd_status(ctl_t *c, int argc, char **argv);
int ctl_cmd_create(ctl_t *c, int argc, char **argv);
int ctl_cmd_start(ctl_t *c, int argc, char **argv);
int ctl_cmd_stop(ctl_t *c, int argc, char **argv);
int ctl_cmd_pause(ctl_t *c, int argc, char **argv);
int ctl_cmd_resume(ctl_t *c, int argc, char **argv);
int ctl_cmd_snapshot(ctl_t *c, int argc, char **argv);
int ctl_cmd_rm(ctl_t *c, int argc, char **argv);
int ctl_cmd_events(ctl_t *c, int argc, char **argv);
int ctl_cmd_exec(ctl_t *c, int argc, char **argv);
int ctl_cmd_run(ctl_t *c, int argc, char **argv);
/* Decode the base64 member key of res and write it to fd (cmd-exec.c). */
int ctl_write_b64(json_object *res, const char *key, int fd);
int ctl_cmd_send(ctl_t *c, int argc, char **argv); /* cmd-send.c */
int ctl_cmd_interface(ctl_t *c, int argc, char **argv); /* cmd-send.c */
int ctl_cmd_blob(ctl_t *c, int argc, char **argv);
/* cmd-device.c */
int ctl_cmd_device(ctl_t *c, int argc, char **argv);
int ctl_cmd_call(ctl_t *c, int argc, char **argv);

/* Print "mvmctl: <fmt>" and the usage hint; returns CTL_ERR_USAGE. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
