/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between agent.c, agent-spawn.c and agent-builtin.c; not exported. */
#ifndef MVM_EXEC_AGENT_INTERNAL_H
#define MVM_EXEC_AGENT_INTERNAL_H

#include <stdint.h>

#include "exec-agent.h"
#include "proto/exec-frame.h"

#define AGENT_OUT_HIGH_WATER (256u * 1024) /* stop reading the child above */
#define AGENT_IN_HIGH_WATER (128u * 1024)  /* stop reading the socket above */
#define AGENT_DRAIN_MS 1000                /* wait for pipe EOF after exit */
#define AGENT_DEFAULT_MAX_CONNECTIONS 16
#define AGENT_DEFAULT_REQUEST_TIMEOUT_MS 30000

typedef enum conn_state {
	CONN_WAIT_REQUEST, /* reading the request frame */
	CONN_RUNNING,      /* child (or streaming built-in) running */
	CONN_CLOSING,      /* last frame queued: flush, then close */
} conn_state_t;

typedef struct exec_conn {
	struct exec_conn *next;
	exec_agent_t *agent;
	int fd;
	conn_state_t state;
	exec_decoder_t dec;
	uint8_t *dbuf;
	bool peer_eof;

	/* Frames queued for the host. */
	uint8_t *out;
	size_t out_len, out_off, out_cap;

	/* The child, if one was spawned. */
	pid_t pid;      /* > 0 until reaped */
	bool exited;    /* waited for; status valid */
	int status;
	bool timed_out;
	bool echo;      /* mvm.echo in stream mode: stdin-data comes back */
	uint8_t stdin_mode;
	int in_fd, out_fd, err_fd;
	uint8_t *in_buf;
	size_t in_len, in_off;
	bool in_eof;    /* host finished stdin */
	uint64_t request_deadline_ms; /* the request must be complete by then */
	uint64_t deadline_ms; /* 0: none */
	uint64_t drain_deadline_ms;
} exec_conn_t;

struct exec_agent {
	exec_agent_config_t cfg;
	int listen_fd;
	exec_conn_t *conns;
	unsigned nconns;
	/* What each pollfd of the last exec_agent_pollfds() call refers to. */
	struct poll_ref {
		exec_conn_t *conn; /* NULL: the listener */
		int which;         /* POLL_SOCK, POLL_IN, POLL_OUT, POLL_ERR */
	} *refs;
	size_t refs_cap;
};

enum { POLL_SOCK, POLL_CHILD_IN, POLL_CHILD_OUT, POLL_CHILD_ERR };

uint64_t agent_now_ms(void);
/* Queue frames for the host; -ENOMEM on allocation failure. */
int conn_queue_data(exec_conn_t *c, int type, const void *data, size_t len);
int conn_queue_error(exec_conn_t *c, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int conn_queue_exit(exec_conn_t *c, int kind, unsigned value, bool timed_out);

/* agent-spawn.c: fork/execve the request; on failure queue an error frame. */
int agent_spawn(exec_conn_t *c, const exec_request_t *req);
void agent_kill_group(exec_conn_t *c);
/* agent-builtin.c: 1 if argv[0] was a built-in (frames queued), else 0. */
/* The hex part if s is "sha256:" + 64 lowercase hex digits, else NULL. */
const char *agent_wasm_hash(const char *s, size_t len);
int agent_builtin(exec_conn_t *c, const exec_request_t *req);

#endif
