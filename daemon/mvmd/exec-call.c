/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One exec exchange without I/O (see exec_call_* in client.h): the whole
 * outgoing byte stream is encoded up front (request, then stdin-data
 * frames and stdin-eof in stream mode); incoming bytes are decoded and
 * stdout/stderr collected up to the output cap until exit or error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "exec-client.h"
#include "util/macro.h"

struct exec_call {
	uint8_t *out;
	size_t out_len, out_off;
	size_t cap;
	exec_decoder_t dec;
	uint8_t *dbuf;
	exec_result_t res;
	int state; /* 0 running, 1 finished, <0 sticky error */
};

void exec_result_clear(exec_result_t *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

static int append(uint8_t **buf, size_t *len, size_t cap, const uint8_t *p, size_t n, bool *trunc)
{
	uint8_t *b;

	if (*len + n > cap) {
		*trunc = true;
		n = cap - *len;
	}
	b = realloc(*buf, *len + n + 1);
	if (!b)
		return -ENOMEM;
	if (n)
		memcpy(b + *len, p, n);
	*len += n;
	b[*len] = '\0';
	*buf = b;
	return 0;
}

static int build_outgoing(exec_call_t *c, const exec_request_t *req, const exec_client_opts_t *o)
{
	int n = exec_request_encoded_size(req);
	size_t chunks = 0, total, off;
	const uint8_t *s = o->stream_stdin;

	if (n < 0)
		return n;
	if (req->stdin_mode == EXEC_STDIN_STREAM)
		chunks = (o->stream_stdin_len + EXEC_MAX_DATA - 1) / EXEC_MAX_DATA + 1;
	else if (o->stream_stdin_len)
		return -EINVAL; /* stream_stdin needs stdin mode stream */
	total = (size_t)n + chunks * EXEC_FRAME_HEADER_SIZE + o->stream_stdin_len;
	c->out = malloc(total);
	if (!c->out)
		return -ENOMEM;
	n = exec_encode_request(c->out, total, req);
	if (n < 0)
		return n;
	off = (size_t)n;
	if (req->stdin_mode == EXEC_STDIN_STREAM) {
		for (size_t left = o->stream_stdin_len; left;) {
			size_t k = MIN(left, (size_t)EXEC_MAX_DATA);
			off += (size_t)exec_encode_data(c->out + off, total - off, EXEC_FRAME_STDIN_DATA, s, k);
			s += k;
			left -= k;
		}
		off += (size_t)exec_encode_data(c->out + off, total - off, EXEC_FRAME_STDIN_EOF, NULL, 0);
	}
	c->out_len = off;
	return 0;
}

int exec_call_new(const exec_request_t *req, const exec_client_opts_t *opts, exec_call_t **ret)
{
	static const exec_client_opts_t defaults = { 0 };
	const exec_client_opts_t *o = opts ? opts : &defaults;
	exec_call_t *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->cap = o->output_cap == EXEC_OUTPUT_NONE ? 0 : o->output_cap ? o->output_cap : 1024 * 1024;
	r = build_outgoing(c, req, o);
	if (r == 0) {
		c->dbuf = malloc(EXEC_MAX_PAYLOAD);
		r = c->dbuf ? 0 : -ENOMEM;
	}
	if (r < 0) {
		exec_call_free(c);
		return r;
	}
	exec_decoder_init(&c->dec, c->dbuf, EXEC_MAX_PAYLOAD);
	*ret = c;
	return 0;
}

exec_call_t *exec_call_free(exec_call_t *c)
{
	if (!c)
		return NULL;
	exec_result_clear(&c->res);
	free(c->out);
	free(c->dbuf);
	free(c);
	return NULL;
}

void exec_call_output(const exec_call_t *c, const uint8_t **ret_buf, size_t *ret_len)
{
	*ret_buf = c->out + c->out_off;
	*ret_len = c->state == 0 ? c->out_len - c->out_off : 0;
}

void exec_call_output_done(exec_call_t *c, size_t n)
{
	c->out_off += MIN(n, c->out_len - c->out_off);
}

static int handle_frame(exec_call_t *c, const exec_frame_t *f)
{
	exec_result_t *res = &c->res;
	exec_exit_t ex;
	exec_str_t msg;
	int r;

	switch (f->type) {
	case EXEC_FRAME_STDOUT:
		return append(&res->out, &res->out_len, c->cap, f->payload, f->len, &res->truncated);
	case EXEC_FRAME_STDERR:
		return append(&res->err, &res->err_len, c->cap, f->payload, f->len, &res->truncated);
	case EXEC_FRAME_EXIT:
		if ((r = exec_parse_exit(f->payload, f->len, &ex)) < 0)
			return -EBADMSG;
		res->exited = true;
		res->kind = ex.kind;
		res->value = ex.value;
		res->timed_out = ex.flags & EXEC_EXIT_FLAG_TIMED_OUT;
		return 1;
	case EXEC_FRAME_ERROR:
		if ((r = exec_parse_error(f->payload, f->len, &res->error_code, &msg)) < 0)
			return -EBADMSG;
		memcpy(res->error_message, msg.ptr, msg.len);
		res->error_message[msg.len] = '\0';
		return 1;
	default:
		return -EBADMSG; /* a guest-bound frame type from the guest */
	}
}

int exec_call_feed(exec_call_t *c, const uint8_t *data, size_t len)
{
	if (c->state != 0)
		return c->state;
	if (len == 0)
		return c->state = -ECONNRESET;
	for (size_t off = 0, used; off < len; off += used) {
		exec_frame_t f;
		int r = exec_decoder_feed(&c->dec, data + off, len - off, &used, &f);

		if (r < 0)
			return c->state = -EBADMSG;
		if (r == 0)
			break;
		r = handle_frame(c, &f);
		if (r != 0)
			return c->state = r; /* 1: finished; bytes after it are ignored */
	}
	return 0;
}

int exec_call_take_result(exec_call_t *c, exec_result_t *ret)
{
	if (c->state != 1)
		return -EAGAIN;
	*ret = c->res;
	memset(&c->res, 0, sizeof(c->res));
	return 0;
}
