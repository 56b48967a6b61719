/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exec frame codec: encoders, payload parsers and the incremental decoder.
 * Freestanding (see frame.h): no libc beyond what the compiler emits for
 * __builtin_mem*. All integers on the wire are little-endian.
 */
#include "exec-frame.h"

#define copy(d, s, n) __builtin_memcpy((d), (s), (n))

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static bool streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* Reverse lookup over a to_string function's range. */
static int from_string(const char *(*to)(int), int lo, int hi, const char *s)
{
	for (int v = lo; v < hi && s; v++) {
		const char *n = to(v);
		if (n && streq(n, s))
			return v;
	}
	return -EXEC_EINVAL;
}

const char *exec_frame_type_to_string(int type)
{
	switch (type) {
	case EXEC_FRAME_REQUEST: return "request";
	case EXEC_FRAME_STDIN_DATA: return "stdin-data";
	case EXEC_FRAME_STDIN_EOF: return "stdin-eof";
	case EXEC_FRAME_STDOUT: return "stdout";
	case EXEC_FRAME_STDERR: return "stderr";
	case EXEC_FRAME_EXIT: return "exit";
	case EXEC_FRAME_ERROR: return "error";
	default: return NULL;
	}
}

int exec_frame_type_from_string(const char *s)
{
	return from_string(exec_frame_type_to_string, 0, EXEC_FRAME_TYPE_MAX, s);
}

const char *exec_error_code_to_string(int code)
{
	static const char *const names[EXEC_ERROR_CODE_MAX] = {
		[EXEC_ERROR_PROTOCOL] = "protocol",
		[EXEC_ERROR_VERSION] = "version",
		[EXEC_ERROR_NOT_FOUND] = "not-found",
		[EXEC_ERROR_PERMISSION] = "permission",
		[EXEC_ERROR_NOT_SUPPORTED] = "not-supported",
		[EXEC_ERROR_RESOURCES] = "resources",
		[EXEC_ERROR_EXEC_FAILED] = "exec-failed",
		[EXEC_ERROR_INTERNAL] = "internal",
	};
	if (code <= 0 || code >= EXEC_ERROR_CODE_MAX)
		return NULL;
	return names[code];
}

int exec_error_code_from_string(const char *s)
{
	return from_string(exec_error_code_to_string, 1, EXEC_ERROR_CODE_MAX, s);
}

const char *exec_stdin_mode_to_string(int mode)
{
	switch (mode) {
	case EXEC_STDIN_NONE: return "none";
	case EXEC_STDIN_INLINE: return "inline";
	case EXEC_STDIN_STREAM: return "stream";
	default: return NULL;
	}
}

int exec_stdin_mode_from_string(const char *s)
{
	return from_string(exec_stdin_mode_to_string, 0, EXEC_STDIN_MODE_MAX, s);
}

const char *exec_exit_kind_to_string(int kind)
{
	switch (kind) {
	case EXEC_EXIT_CODE: return "exited";
	case EXEC_EXIT_SIGNAL: return "signaled";
	default: return NULL;
	}
}

int exec_exit_kind_from_string(const char *s)
{
	return from_string(exec_exit_kind_to_string, 0, EXEC_EXIT_KIND_MAX, s);
}

int exec_frame_max_payload(int type)
{
	switch (type) {
	case EXEC_FRAME_REQUEST: return EXEC_MAX_REQUEST;
	case EXEC_FRAME_STDIN_DATA:
	case EXEC_FRAME_STDOUT:
	case EXEC_FRAME_STDERR: return EXEC_MAX_DATA;
	case EXEC_FRAME_STDIN_EOF: return 0;
	case EXEC_FRAME_EXIT: return 8;
	case EXEC_FRAME_ERROR: return 6 + EXEC_MAX_ERROR_MESSAGE;
	default: return -EXEC_EPROTO;
	}
}

int exec_encode_header(uint8_t *buf, size_t cap, int type, uint32_t len)
{
	int max = exec_frame_max_payload(type);

	if (max < 0)
		return -EXEC_EINVAL;
	if (len > (uint32_t)max)
		return -EXEC_E2BIG;
	if (cap < EXEC_FRAME_HEADER_SIZE)
		return -EXEC_ENOSPC;
	buf[0] = EXEC_FRAME_MAGIC0;
	buf[1] = EXEC_FRAME_MAGIC1;
	buf[2] = (uint8_t)type;
	buf[3] = 0; /* flags: none defined in version 1 */
	put32(buf + 4, len);
	return EXEC_FRAME_HEADER_SIZE;
}

/* A string is valid when it has no NUL byte; env strings also need "K=". */
static bool str_valid(const char *s, uint32_t len, bool env)
{
	if (len > EXEC_MAX_STRING)
		return false;
	for (uint32_t i = 0; i < len; i++)
		if (s[i] == '\0')
			return false;
	if (env) {
		for (uint32_t i = 1; i < len; i++)
			if (s[i] == '=')
				return true;
		return false;
	}
	return true;
}

static int request_check(const exec_request_t *req)
{
	if (req->version == 0)
		return -EXEC_EINVAL;
	if (req->argc < 1 || req->argc > EXEC_MAX_ARGC || req->envc > EXEC_MAX_ENVC)
		return -EXEC_E2BIG;
	if (req->stdin_mode >= EXEC_STDIN_MODE_MAX || req->timeout_ms > EXEC_MAX_TIMEOUT_MS)
		return -EXEC_EINVAL;
	if (req->stdin_mode != EXEC_STDIN_INLINE && req->stdin_len != 0)
		return -EXEC_EINVAL;
	if (req->stdin_len > EXEC_MAX_INLINE_STDIN)
		return -EXEC_E2BIG;
	if (req->argv[0].len == 0)
		return -EXEC_EINVAL;
	for (uint32_t i = 0; i < req->argc; i++)
		if (!str_valid(req->argv[i].ptr, req->argv[i].len, false))
			return req->argv[i].len > EXEC_MAX_STRING ? -EXEC_E2BIG : -EXEC_EINVAL;
	for (uint32_t i = 0; i < req->envc; i++)
		if (!str_valid(req->envp[i].ptr, req->envp[i].len, true))
			return req->envp[i].len > EXEC_MAX_STRING ? -EXEC_E2BIG : -EXEC_EINVAL;
	return 0;
}

int exec_request_encoded_size(const exec_request_t *req)
{
	uint64_t n = 16;
	int r = request_check(req);

	if (r < 0)
		return r;
	for (uint32_t i = 0; i < req->argc; i++)
		n += 4 + (uint64_t)req->argv[i].len;
	for (uint32_t i = 0; i < req->envc; i++)
		n += 4 + (uint64_t)req->envp[i].len;
	n += req->stdin_len;
	if (n > EXEC_MAX_REQUEST)
		return -EXEC_E2BIG;
	return (int)(n + EXEC_FRAME_HEADER_SIZE);
}

static uint8_t *put_str(uint8_t *p, const exec_str_t *s)
{
	put32(p, s->len);
	if (s->len)
		copy(p + 4, s->ptr, s->len);
	return p + 4 + s->len;
}

int exec_encode_request(uint8_t *buf, size_t cap, const exec_request_t *req)
{
	int total = exec_request_encoded_size(req);
	uint8_t *p;

	if (total < 0)
		return total;
	if (cap < (size_t)total)
		return -EXEC_ENOSPC;
	exec_encode_header(buf, cap, EXEC_FRAME_REQUEST, (uint32_t)total - EXEC_FRAME_HEADER_SIZE);
	p = buf + EXEC_FRAME_HEADER_SIZE;
	put16(p, req->version);
	p[2] = req->stdin_mode;
	p[3] = 0;
	put32(p + 4, req->timeout_ms);
	put16(p + 8, (uint16_t)req->argc);
	put16(p + 10, (uint16_t)req->envc);
	put32(p + 12, req->stdin_len);
	p += 16;
	for (uint32_t i = 0; i < req->argc; i++)
		p = put_str(p, &req->argv[i]);
	for (uint32_t i = 0; i < req->envc; i++)
		p = put_str(p, &req->envp[i]);
	if (req->stdin_len)
		copy(p, req->stdin_data, req->stdin_len);
	return total;
}

int exec_encode_data(uint8_t *buf, size_t cap, int type, const void *data, size_t len)
{
	int r;

	if (type != EXEC_FRAME_STDOUT && type != EXEC_FRAME_STDERR &&
	    type != EXEC_FRAME_STDIN_DATA && type != EXEC_FRAME_STDIN_EOF)
		return -EXEC_EINVAL;
	if (len > EXEC_MAX_DATA)
		return -EXEC_E2BIG;
	if (cap < EXEC_FRAME_HEADER_SIZE + len)
		return -EXEC_ENOSPC;
	r = exec_encode_header(buf, cap, type, (uint32_t)len);
	if (r < 0)
		return r;
	if (len)
		copy(buf + EXEC_FRAME_HEADER_SIZE, data, len);
	return (int)(EXEC_FRAME_HEADER_SIZE + len);
}

int exec_encode_exit(uint8_t *buf, size_t cap, const exec_exit_t *ex)
{
	uint8_t *p = buf + EXEC_FRAME_HEADER_SIZE;

	if (ex->kind >= EXEC_EXIT_KIND_MAX || (ex->flags & ~EXEC_EXIT_FLAG_TIMED_OUT))
		return -EXEC_EINVAL;
	/* An exit code is any u32 (a Wasm module's, whole); a signal 1..64. */
	if (ex->kind == EXEC_EXIT_SIGNAL && (ex->value < 1 || ex->value > 64))
		return -EXEC_EINVAL;
	if (cap < EXEC_FRAME_HEADER_SIZE + 8)
		return -EXEC_ENOSPC;
	exec_encode_header(buf, cap, EXEC_FRAME_EXIT, 8);
	p[0] = ex->kind;
	p[1] = ex->flags;
	put16(p + 2, 0);
	put32(p + 4, ex->value);
	return EXEC_FRAME_HEADER_SIZE + 8;
}

int exec_encode_error(uint8_t *buf, size_t cap, uint32_t code, const char *msg, size_t msg_len)
{
	uint8_t *p = buf + EXEC_FRAME_HEADER_SIZE;

	if (code == 0 || code >= EXEC_ERROR_CODE_MAX)
		return -EXEC_EINVAL;
	/* Messages are diagnostics: truncate rather than fail. */
	if (msg_len > EXEC_MAX_ERROR_MESSAGE)
		msg_len = EXEC_MAX_ERROR_MESSAGE;
	for (size_t i = 0; i < msg_len; i++)
		if (msg[i] == '\0') {
			msg_len = i;
			break;
		}
	if (cap < EXEC_FRAME_HEADER_SIZE + 6 + msg_len)
		return -EXEC_ENOSPC;
	exec_encode_header(buf, cap, EXEC_FRAME_ERROR, (uint32_t)(6 + msg_len));
	put32(p, code);
	put16(p + 4, (uint16_t)msg_len);
	if (msg_len)
		copy(p + 6, msg, msg_len);
	return (int)(EXEC_FRAME_HEADER_SIZE + 6 + msg_len);
}

/*
 * Walk a request payload. With ret == NULL it only validates (the decoder
 * does that for every request frame without needing an exec_request_t).
 */
static int request_walk(const uint8_t *p, size_t len, exec_request_t *ret)
{
	uint32_t argc, envc, stdin_len, timeout_ms;
	uint8_t mode;
	size_t off = 16;

	if (len > EXEC_MAX_REQUEST)
		return -EXEC_EMSGSIZE;
	if (len < 16)
		return -EXEC_EBADMSG;
	/* Version first, so a newer host gets a version error, not garbage. */
	if (get16(p) != EXEC_PROTOCOL_VERSION)
		return -EXEC_EPROTONOSUPPORT;
	mode = p[2];
	timeout_ms = get32(p + 4);
	argc = get16(p + 8);
	envc = get16(p + 10);
	stdin_len = get32(p + 12);
	if (p[3] != 0 || mode >= EXEC_STDIN_MODE_MAX || timeout_ms > EXEC_MAX_TIMEOUT_MS)
		return -EXEC_EBADMSG;
	if (argc < 1 || argc > EXEC_MAX_ARGC || envc > EXEC_MAX_ENVC || stdin_len > EXEC_MAX_INLINE_STDIN)
		return -EXEC_E2BIG;
	if (mode != EXEC_STDIN_INLINE && stdin_len != 0)
		return -EXEC_EBADMSG;
	for (uint32_t i = 0; i < argc + envc; i++) {
		bool env = i >= argc;
		uint32_t n;

		if (len - off < 4)
			return -EXEC_EBADMSG;
		n = get32(p + off);
		if (n > EXEC_MAX_STRING)
			return -EXEC_E2BIG;
		if (len - off - 4 < n)
			return -EXEC_EBADMSG;
		if (!str_valid((const char *)p + off + 4, n, env) || (i == 0 && n == 0))
			return -EXEC_EBADMSG;
		if (ret) {
			exec_str_t *s = env ? &ret->envp[i - argc] : &ret->argv[i];
			s->ptr = (const char *)(p + off + 4);
			s->len = n;
		}
		off += 4 + (size_t)n;
	}
	if (len - off != stdin_len)
		return -EXEC_EBADMSG;
	if (ret) {
		ret->version = EXEC_PROTOCOL_VERSION;
		ret->stdin_mode = mode;
		ret->timeout_ms = timeout_ms;
		ret->argc = argc;
		ret->envc = envc;
		ret->stdin_len = stdin_len;
		ret->stdin_data = stdin_len ? p + off : NULL;
	}
	return 0;
}

int exec_parse_request(const uint8_t *p, size_t len, exec_request_t *ret)
{
	return request_walk(p, len, ret);
}

int exec_parse_exit(const uint8_t *p, size_t len, exec_exit_t *ret)
{
	exec_exit_t ex;

	if (len != 8)
		return -EXEC_EBADMSG;
	ex.kind = p[0];
	ex.flags = p[1];
	ex.value = get32(p + 4);
	if (get16(p + 2) != 0 || ex.kind >= EXEC_EXIT_KIND_MAX || (ex.flags & ~EXEC_EXIT_FLAG_TIMED_OUT))
		return -EXEC_EBADMSG;
	if (ex.kind == EXEC_EXIT_SIGNAL && (ex.value < 1 || ex.value > 64))
		return -EXEC_EBADMSG;
	*ret = ex;
	return 0;
}

int exec_parse_error(const uint8_t *p, size_t len, uint32_t *ret_code, exec_str_t *ret_msg)
{
	uint32_t code;
	uint16_t n;

	if (len < 6 || len > 6 + EXEC_MAX_ERROR_MESSAGE)
		return -EXEC_EBADMSG;
	code = get32(p);
	n = get16(p + 4);
	if (code == 0 || code >= EXEC_ERROR_CODE_MAX || (size_t)n != len - 6)
		return -EXEC_EBADMSG;
	for (uint16_t i = 0; i < n; i++)
		if (p[6 + i] == 0)
			return -EXEC_EBADMSG;
	*ret_code = code;
	ret_msg->ptr = (const char *)(p + 6);
	ret_msg->len = n;
	return 0;
}

void exec_decoder_init(exec_decoder_t *d, uint8_t *buf, uint32_t buf_cap)
{
	__builtin_memset(d, 0, sizeof(*d));
	d->buf = buf;
	d->buf_cap = buf_cap;
}

bool exec_decoder_idle(const exec_decoder_t *d)
{
	return d->error == 0 && (d->have_header == 0 || d->frame_done);
}

/* Validate a complete frame's payload by type. */
static int frame_check(const exec_frame_t *f)
{
	exec_exit_t ex;
	exec_str_t msg;
	uint32_t code;

	switch (f->type) {
	case EXEC_FRAME_EXIT: return exec_parse_exit(f->payload, f->len, &ex);
	case EXEC_FRAME_ERROR: return exec_parse_error(f->payload, f->len, &code, &msg);
	case EXEC_FRAME_REQUEST: return request_walk(f->payload, f->len, NULL);
	default: return 0;
	}
}

static int header_check(exec_decoder_t *d)
{
	const uint8_t *h = d->header;
	int max;
	uint32_t len = get32(h + 4);

	if (h[0] != EXEC_FRAME_MAGIC0 || h[1] != EXEC_FRAME_MAGIC1 || h[3] != 0)
		return -EXEC_EBADMSG;
	max = exec_frame_max_payload(h[2]);
	if (max < 0)
		return -EXEC_EPROTO;
	if (len > (uint32_t)max || len > d->buf_cap)
		return -EXEC_EMSGSIZE;
	d->want = len;
	d->have = 0;
	return 0;
}

int exec_decoder_feed(exec_decoder_t *d, const uint8_t *data, size_t len, size_t *ret_used,
		      exec_frame_t *ret_frame)
{
	size_t used = 0;
	int r;

	if (d->error)
		return d->error;
	if (d->frame_done) {
		/* The previous frame was handed out; start the next one. */
		d->frame_done = false;
		d->have_header = 0;
	}
	while (used < len || (d->have_header == EXEC_FRAME_HEADER_SIZE && d->have == d->want)) {
		if (d->have_header < EXEC_FRAME_HEADER_SIZE) {
			size_t n = EXEC_FRAME_HEADER_SIZE - d->have_header;
			if (n > len - used)
				n = len - used;
			copy(d->header + d->have_header, data + used, n);
			d->have_header += (uint32_t)n;
			used += n;
			if (d->have_header < EXEC_FRAME_HEADER_SIZE)
				break;
			if ((r = header_check(d)) < 0)
				return d->error = r;
			continue;
		}
		if (d->have < d->want) {
			size_t n = d->want - d->have;
			if (n > len - used)
				n = len - used;
			copy(d->buf + d->have, data + used, n);
			d->have += (uint32_t)n;
			used += n;
			if (d->have < d->want)
				break;
		}
		ret_frame->type = d->header[2];
		ret_frame->len = d->want;
		ret_frame->payload = d->buf;
		if ((r = frame_check(ret_frame)) < 0)
			return d->error = r;
		d->frame_done = true;
		*ret_used = used;
		return 1;
	}
	*ret_used = used;
	return 0;
}
