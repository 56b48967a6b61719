/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-sources: lib/proto/fetch-stream.c */
/* mvm-fetch's data pipe as mvmd decodes it (lib/proto/fetch-stream.c):
 * the bytes of a compromised helper, fed in reads of sizes the first
 * byte picks. What comes out never exceeds what went in, and a stream
 * decoded in one read and in pieces gives the same bytes and restarts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/fetch-proto.h"
#include "proto/fetch-stream.h"

typedef struct sink {
	uint64_t bytes, sum, restarts;
} sink_t;

static int on_data(const void *p, size_t n, void *ud)
{
	sink_t *k = ud;
	const uint8_t *b = p;
	if (n == 0 || n > FETCH_FRAME_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		k->sum = k->sum * 31 + b[i];
	k->bytes += n;
	return 0;
}

static int on_restart(void *ud)
{
	sink_t *k = ud;
	k->restarts++;
	k->bytes = k->sum = 0;
	return 0;
}

static const fetch_stream_ops_t ops = { .on_data = on_data, .on_restart = on_restart };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fetch_stream_t whole = { 0 }, parts = { 0 };
	sink_t a = { 0 }, b = { 0 };
	size_t step;
	int ra, rb = 0;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 17 + 1;
	data++, size--;
	ra = fetch_stream_feed(&whole, data, size, &ops, &a);
	for (size_t off = 0; off < size && rb == 0; off += step)
		rb = fetch_stream_feed(&parts, data + off, size - off < step ? size - off : step, &ops, &b);
	if (ra != rb || a.bytes != b.bytes || a.sum != b.sum || a.restarts != b.restarts)
		abort();
	if (a.bytes > size)
		abort();
	if (fetch_stream_end(&whole) != fetch_stream_end(&parts))
		abort();
	return 0;
}
