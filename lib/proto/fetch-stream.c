/* SPDX-License-Identifier: Apache-2.0 */
#include "fetch-stream.h"

#include <string.h>

#include "fetch-proto.h"

_Static_assert(sizeof(fetch_frame_t) == 8, "the frame header is 8 bytes on the pipe");

int fetch_stream_feed(fetch_stream_t *s, const void *buf, size_t len, const fetch_stream_ops_t *ops, void *userdata)
{
	const uint8_t *p = buf;
	int r;

	while (len > 0 && s->error == 0) {
		if (s->left > 0) {
			size_t n = len < s->left ? len : s->left;
			r = ops->on_data(p, n, userdata);
			if (r < 0)
				return s->error = r;
			s->left -= (uint32_t)n;
			p += n, len -= n;
			continue;
		}
		size_t n = sizeof(s->head) - s->head_len;
		if (n > len)
			n = len;
		memcpy(s->head + s->head_len, p, n);
		s->head_len += n;
		p += n, len -= n;
		if (s->head_len < sizeof(s->head))
			break;
		fetch_frame_t f;
		memcpy(&f, s->head, sizeof(f));
		s->head_len = 0;
		if (f.type == FETCH_FRAME_DATA && f.len >= 1 && f.len <= FETCH_FRAME_MAX)
			s->left = f.len;
		else if (f.type == FETCH_FRAME_RESTART && f.len == 0) {
			r = ops->on_restart(userdata);
			if (r < 0)
				return s->error = r;
		} else
			return s->error = -FETCH_STREAM_EPROTO;
	}
	return s->error;
}

int fetch_stream_end(const fetch_stream_t *s)
{
	if (s->error)
		return s->error;
	return s->head_len || s->left ? -FETCH_STREAM_EPROTO : 0;
}
