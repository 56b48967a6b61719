/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A byte ring: the worker's console and stderr output waiting for mvmd,
 * and console input waiting for the guest (daemon/vmm/vmm.c). Not locked:
 * the caller holds the lock that guards it.
 */
#ifndef MVM_VMM_RING_H
#define MVM_VMM_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ring {
	uint8_t *buf;
	size_t cap, head, len;
} ring_t;

/* Append n bytes. drop_oldest: make room by dropping the oldest bytes;
 * else the excess of p is dropped. Returns how many bytes were dropped. */
size_t ring_put(ring_t *r, const uint8_t *p, size_t n, bool drop_oldest);
/* Take up to n bytes, oldest first; how many were taken. */
size_t ring_get(ring_t *r, uint8_t *p, size_t n);

#endif
