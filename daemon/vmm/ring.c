/* SPDX-License-Identifier: Apache-2.0 */
#include "ring.h"

#include <string.h>

#include "util/macro.h"

size_t ring_put(ring_t *r, const uint8_t *p, size_t n, bool drop_oldest)
{
	size_t dropped = 0;

	if (drop_oldest) {
		if (n > r->cap) {
			dropped += n - r->cap;
			p += n - r->cap;
			n = r->cap;
		}
		if (r->len + n > r->cap) {
			size_t d = r->len + n - r->cap;
			r->head = (r->head + d) % r->cap;
			r->len -= d;
			dropped += d;
		}
	} else if (r->len + n > r->cap) {
		dropped = r->len + n - r->cap;
		n = r->cap - r->len;
	}
	for (size_t i = 0; i < n;) {
		size_t tail = (r->head + r->len) % r->cap;
		size_t k = MIN(n - i, r->cap - tail);
		memcpy(r->buf + tail, p + i, k);
		r->len += k;
		i += k;
	}
	return dropped;
}

size_t ring_get(ring_t *r, uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n && r->len) {
		size_t k = MIN(n - got, MIN(r->len, r->cap - r->head));
		memcpy(p + got, r->buf + r->head, k);
		r->head = (r->head + k) % r->cap;
		r->len -= k;
		got += k;
	}
	return got;
}
