/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host side of the exec protocol (docs/exec-protocol.md): reach a guest's
 * agent (hybrid vsock or AF_UNIX), send one request, collect stdout,
 * stderr and the exit or error frame. exec_client_run blocks, with a
 * deadline (tests, mvm-probe); mvmd drives the same exchange without I/O
 * (exec_call_*, below) from its event loop (exec-proxy.h). Does not log.
 */
#ifndef MVM_EXEC_CLIENT_H
#define MVM_EXEC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/exec-frame.h"

/* Connect to an AF_UNIX stream socket; *ret_fd is close-on-exec. */
int exec_client_connect_unix(const char *path, int *ret_fd);
/* The same with more socket(2) type flags (SOCK_NONBLOCK: an AF_UNIX
 * connect then fails with -EAGAIN instead of waiting for a full backlog). */
int exec_client_connect_unix_flags(const char *path, int sock_flags, int *ret_fd);

/*
 * Hybrid vsock (cloud-hypervisor, Firecracker, mvm-vmm): connect to the
 * VMM's vsock Unix socket at uds_path and ask for guest port `port`
 * ("CONNECT <port>\n", answer "OK <n>\n"). -ECONNREFUSED if the VMM says
 * anything else, -ETIMEDOUT after timeout_ms (-1: none). On success the fd
 * is a byte stream to the guest agent.
 */
int exec_client_connect_hvsock(const char *uds_path, unsigned port, int timeout_ms, int *ret_fd);
/* The handshake alone, on a connected stream; reads no byte past "\n". */
int exec_hvsock_handshake(int fd, unsigned port, int timeout_ms, unsigned *ret_host_port);
/* Parse the VMM's answer line without its "\n": "OK <n>" → 0, anything
 * not starting with "OK " → -ECONNREFUSED, a bad number → -EBADMSG. */
int exec_hvsock_parse_reply(const char *line, unsigned *ret_host_port);

/* output_cap that keeps no output at all (0 means the default). */
#define EXEC_OUTPUT_NONE ((size_t)-1)

typedef struct exec_client_opts {
	size_t output_cap;  /* bytes kept per stream; 0: 1 MiB; EXEC_OUTPUT_NONE: none. More sets truncated. */
	int timeout_ms;     /* whole exchange, host side; <= 0: none */
	/* EXEC_STDIN_STREAM: sent as stdin-data frames, then stdin-eof. */
	const void *stream_stdin;
	size_t stream_stdin_len;
} exec_client_opts_t;

typedef struct exec_result {
	bool exited;          /* an exit frame arrived: kind/value/timed_out valid */
	uint8_t kind;         /* exec_exit_kind_t */
	unsigned value;       /* exit code or signal */
	bool timed_out;       /* the agent killed it at the request's timeout */
	uint32_t error_code;  /* an error frame arrived (exec_error_code_t), else 0 */
	char error_message[EXEC_MAX_ERROR_MESSAGE + 1];
	uint8_t *out, *err;   /* owned; NUL-terminated for convenience */
	size_t out_len, err_len;
	bool truncated;       /* output beyond output_cap was dropped */
} exec_result_t;

/*
 * Run one request on fd (which stays open; the agent closes its side).
 * Returns 0 with *ret filled when an exit or error frame arrived, or
 * -ETIMEDOUT, -ECONNRESET (closed early), -EBADMSG (malformed reply),
 * -ENOMEM, -E2BIG/-EINVAL (request refused by the encoder).
 * Free ret's buffers with exec_result_clear().
 */
int exec_client_run(int fd, const exec_request_t *req, const exec_client_opts_t *opts,
		    exec_result_t *ret);
void exec_result_clear(exec_result_t *r);

/*
 * The same exchange without I/O, for event loops (mvmd's sd-event): the
 * caller moves bytes, the call encodes, decodes and collects.
 *
 *   exec_call_new(req, opts, &call);          // encodes everything to send
 *   exec_call_output(call, &buf, &len);       // bytes still to send (len 0: none)
 *   exec_call_output_done(call, n);           // n of them were sent
 *   exec_call_feed(call, data, n);            // received bytes (n == 0: EOF);
 *                                             //   1 done, 0 more, <0 error
 *   exec_call_take_result(call, &result);     // after feed returned 1
 *   exec_call_free(call);
 *
 * opts->timeout_ms is the caller's business here; output_cap and
 * stream_stdin are honoured (stream_stdin is copied).
 */
typedef struct exec_call exec_call_t;
int exec_call_new(const exec_request_t *req, const exec_client_opts_t *opts, exec_call_t **ret);
void exec_call_output(const exec_call_t *c, const uint8_t **ret_buf, size_t *ret_len);
void exec_call_output_done(exec_call_t *c, size_t n);
/* -EBADMSG malformed reply, -ECONNRESET EOF before the final frame,
 * -ENOMEM; errors are sticky. */
int exec_call_feed(exec_call_t *c, const uint8_t *data, size_t len);
/* Moves the result out (0), or -EAGAIN if the call has not finished. */
int exec_call_take_result(exec_call_t *c, exec_result_t *ret);
exec_call_t *exec_call_free(exec_call_t *c);

#endif
