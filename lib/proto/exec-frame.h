/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The exec frame protocol: binary, length-prefixed frames between the host
 * (mvmd's exec proxy) and a guest's exec agent (mvm-init or mvm-guest).
 * The byte layout, caps and versioning are documented in
 * docs/exec-protocol.md; keep the two in step.
 *
 * This header and frame*.c are freestanding: they use only <stdint.h>,
 * <stddef.h> and <stdbool.h>, and the compiler may emit calls to
 * memcpy/memset/memcmp/memmove (which every platform provides). `make
 * check` compiles them with -ffreestanding -nostdlib and verifies that with
 * nm. Errors are negative Linux errno values, spelled EXEC_E* here because
 * <errno.h> is not a freestanding header.
 *
 * Ownership: nothing here allocates. A decoder works in a buffer the caller
 * provides; decoded frames and parsed requests point into that buffer and
 * stay valid until the next exec_decoder_feed() call.
 */
#ifndef MVM_EXEC_FRAME_H
#define MVM_EXEC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Protocol constants. */
#define EXEC_PROTOCOL_VERSION 1u
#define EXEC_AGENT_PORT 52u /* AF_VSOCK port the guest agent listens on */

#define EXEC_FRAME_MAGIC0 0x4du /* 'M' */
#define EXEC_FRAME_MAGIC1 0x58u /* 'X' */
#define EXEC_FRAME_HEADER_SIZE 8u

/* Hard caps; every length and count read from the wire is checked. */
#define EXEC_MAX_ARGC 256u              /* 1..256 argv strings */
#define EXEC_MAX_ENVC 256u              /* 0..256 env strings */
#define EXEC_MAX_STRING 4096u           /* bytes per argv/env string */
#define EXEC_MAX_INLINE_STDIN 65536u    /* stdin carried in the request */
#define EXEC_MAX_REQUEST 131072u        /* request payload */
#define EXEC_MAX_DATA 32768u            /* stdout/stderr/stdin-data payload */
#define EXEC_MAX_ERROR_MESSAGE 512u     /* error frame message bytes */
#define EXEC_MAX_PAYLOAD EXEC_MAX_REQUEST /* largest payload of any type */
#define EXEC_MAX_TIMEOUT_MS 86400000u   /* one day */

/* Negative values returned by this module (Linux errno numbers). */
#define EXEC_E2BIG 7
#define EXEC_EINVAL 22
#define EXEC_ENOSPC 28
#define EXEC_EPROTO 71
#define EXEC_EBADMSG 74
#define EXEC_EMSGSIZE 90
#define EXEC_EPROTONOSUPPORT 93

typedef enum exec_frame_type {
	EXEC_FRAME_REQUEST = 0x01,    /* host -> guest, first and only once */
	EXEC_FRAME_STDIN_DATA = 0x02, /* host -> guest, stdin mode STREAM */
	EXEC_FRAME_STDIN_EOF = 0x03,  /* host -> guest, stdin mode STREAM */
	EXEC_FRAME_STDOUT = 0x81,     /* guest -> host */
	EXEC_FRAME_STDERR = 0x82,     /* guest -> host */
	EXEC_FRAME_EXIT = 0x83,       /* guest -> host, last frame */
	EXEC_FRAME_ERROR = 0x84,      /* guest -> host, last frame */
	EXEC_FRAME_TYPE_MAX
} exec_frame_type_t;

typedef enum exec_stdin_mode {
	EXEC_STDIN_NONE = 0,   /* stdin is /dev/null */
	EXEC_STDIN_INLINE = 1, /* the request carries all of stdin, then EOF */
	EXEC_STDIN_STREAM = 2, /* STDIN_DATA frames follow, ended by STDIN_EOF */
	EXEC_STDIN_MODE_MAX
} exec_stdin_mode_t;

typedef enum exec_exit_kind {
	EXEC_EXIT_CODE = 0,   /* value is the exit code (a process: 0..255; Wasm: any u32) */
	EXEC_EXIT_SIGNAL = 1, /* value is the signal number that killed it */
	EXEC_EXIT_KIND_MAX
} exec_exit_kind_t;

#define EXEC_EXIT_FLAG_TIMED_OUT 0x01u /* the agent killed it at the timeout */

/* Error frame codes: what went wrong, for the host to map to its errors. */
typedef enum exec_error_code {
	EXEC_ERROR_PROTOCOL = 1,      /* malformed or unexpected frame */
	EXEC_ERROR_VERSION = 2,       /* request version not supported */
	EXEC_ERROR_NOT_FOUND = 3,     /* program not found */
	EXEC_ERROR_PERMISSION = 4,    /* program not executable */
	EXEC_ERROR_NOT_SUPPORTED = 5, /* e.g. sha256:<hex> Wasm modules */
	EXEC_ERROR_RESOURCES = 6,     /* out of memory, processes, fds */
	EXEC_ERROR_EXEC_FAILED = 7,   /* execve failed for another reason */
	EXEC_ERROR_INTERNAL = 8,
	EXEC_ERROR_CODE_MAX
} exec_error_code_t;

/* Names as in docs/exec-protocol.md ("stdin-eof", "not-supported", ...);
 * to_string gives NULL for an unknown value, from_string -EXEC_EINVAL for
 * an unknown name. */
const char *exec_frame_type_to_string(int type);
int exec_frame_type_from_string(const char *s);
const char *exec_error_code_to_string(int code);
int exec_error_code_from_string(const char *s);
const char *exec_stdin_mode_to_string(int mode);
int exec_stdin_mode_from_string(const char *s);
const char *exec_exit_kind_to_string(int kind);
int exec_exit_kind_from_string(const char *s);

typedef struct exec_str {
	const char *ptr; /* not NUL-terminated; never contains NUL */
	uint32_t len;
} exec_str_t;

typedef struct exec_request {
	uint16_t version;
	uint8_t stdin_mode;  /* exec_stdin_mode_t */
	uint32_t timeout_ms; /* 0: no timeout */
	uint32_t argc;
	uint32_t envc;
	exec_str_t argv[EXEC_MAX_ARGC];
	exec_str_t envp[EXEC_MAX_ENVC];
	const uint8_t *stdin_data; /* EXEC_STDIN_INLINE only */
	uint32_t stdin_len;
} exec_request_t;

typedef struct exec_exit {
	uint8_t kind;  /* exec_exit_kind_t */
	uint8_t flags; /* EXEC_EXIT_FLAG_* */
	uint32_t value;
} exec_exit_t;

typedef struct exec_frame {
	uint8_t type;
	uint32_t len;
	const uint8_t *payload; /* points into the decoder's buffer */
} exec_frame_t;

/* Largest payload allowed for a frame type, or -EXEC_EPROTO if unknown. */
int exec_frame_max_payload(int type);

/*
 * Encoders write one whole frame (header + payload) into buf and return its
 * size, or -EXEC_ENOSPC if cap is too small, or -EXEC_EINVAL / -EXEC_E2BIG
 * if the frame would violate the protocol (so a peer never sees it).
 */
int exec_encode_header(uint8_t *buf, size_t cap, int type, uint32_t len);
int exec_encode_request(uint8_t *buf, size_t cap, const exec_request_t *req);
int exec_encode_data(uint8_t *buf, size_t cap, int type, const void *data, size_t len);
int exec_encode_exit(uint8_t *buf, size_t cap, const exec_exit_t *ex);
int exec_encode_error(uint8_t *buf, size_t cap, uint32_t code, const char *msg, size_t msg_len);
/* Upper bound of exec_encode_request()'s output, or -EXEC_E2BIG. */
int exec_request_encoded_size(const exec_request_t *req);

/* Payload parsers (also run by the decoder on every complete frame). */
int exec_parse_request(const uint8_t *p, size_t len, exec_request_t *ret);
int exec_parse_exit(const uint8_t *p, size_t len, exec_exit_t *ret);
int exec_parse_error(const uint8_t *p, size_t len, uint32_t *ret_code, exec_str_t *ret_msg);

/*
 * Incremental decoder. Feed it bytes as they arrive, in any split; it
 * returns 1 with *ret_frame set when a frame is complete (*ret_used says how
 * many bytes of data it consumed; feed the rest next), 0 when it consumed
 * everything and needs more, or a negative EXEC_E* when the stream is
 * malformed; after an error every further feed fails the same way.
 */
typedef struct exec_decoder {
	uint8_t header[EXEC_FRAME_HEADER_SIZE];
	uint32_t have_header;
	uint32_t want;     /* payload length of the frame being read */
	uint32_t have;     /* payload bytes buffered */
	uint8_t *buf;      /* caller's buffer, at least buf_cap bytes */
	uint32_t buf_cap;  /* frames larger than this are refused */
	int error;         /* sticky error, 0 while healthy */
	bool frame_done;   /* previous feed returned a frame */
} exec_decoder_t;

/* buf_cap below a type's cap lowers that cap for this decoder. */
void exec_decoder_init(exec_decoder_t *d, uint8_t *buf, uint32_t buf_cap);
int exec_decoder_feed(exec_decoder_t *d, const uint8_t *data, size_t len, size_t *ret_used,
		      exec_frame_t *ret_frame);
/* True when no partial frame is buffered (a clean place for EOF). */
bool exec_decoder_idle(const exec_decoder_t *d);

#endif
