/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's store of blobs granted at exec time (grants.h). Each blob
 * is read once, when its grant arrives, and verified before it is kept;
 * the guest only ever gets bytes whose hash it named. A second grant of a
 * held blob only makes it the newest (its fd is not read again), so the
 * same module exec'd many times costs one read and one hash.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grants.h"
#include "proto/guest-abi.h"
#include "util/sha256.h"
#include "kvm-vm.h"
#include "util/macro.h"

#define REF_PREFIX "sha256:"
#define PREFIX_LEN (sizeof(REF_PREFIX) - 1)
#define READ_CHUNK (64u << 10)

typedef struct grant {
	char ref[KVM_BLOB_REF_LEN];
	uint8_t *data; /* NULL: larger than the store may hold (size unknown) */
	uint64_t size;
	uint64_t seq; /* higher is newer */
} grant_t;

struct kvm_grants {
	pthread_mutex_t lock;
	uint64_t max_total, total, seq;
	unsigned n;
	grant_t g[KVM_GRANTS_MAX];
};

static bool ref_ok(const char *ref)
{
	if (memcmp(ref, REF_PREFIX, PREFIX_LEN) != 0)
		return false;
	for (size_t i = PREFIX_LEN; i < KVM_BLOB_REF_LEN; i++) {
		char c = ref[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

int kvm_grants_new(uint64_t max_total, kvm_grants_t **ret)
{
	kvm_grants_t *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	pthread_mutex_init(&g->lock, NULL);
	g->max_total = max_total;
	*ret = g;
	return 0;
}

kvm_grants_t *kvm_grants_free(kvm_grants_t *g)
{
	if (!g)
		return NULL;
	for (unsigned i = 0; i < g->n; i++)
		free(g->g[i].data);
	pthread_mutex_destroy(&g->lock);
	free(g);
	return NULL;
}

/* Under the lock. */
static grant_t *find(kvm_grants_t *g, const char *ref)
{
	for (unsigned i = 0; i < g->n; i++)
		if (memcmp(g->g[i].ref, ref, KVM_BLOB_REF_LEN) == 0)
			return &g->g[i];
	return NULL;
}

static void drop(kvm_grants_t *g, unsigned i)
{
	if (g->g[i].data)
		g->total -= g->g[i].size;
	free(g->g[i].data);
	g->g[i] = g->g[--g->n];
}

static void drop_oldest(kvm_grants_t *g)
{
	unsigned old = 0;
	for (unsigned i = 1; i < g->n; i++)
		if (g->g[i].seq < g->g[old].seq)
			old = i;
	drop(g, old);
}

/* Read all of fd, at most max bytes: -EFBIG beyond. No fstat (the sandbox
 * has read, not stat): the buffer grows as the bytes come. */
static int read_all(int fd, uint64_t max, uint8_t **ret, uint64_t *ret_size)
{
	uint8_t *buf = NULL;
	uint64_t len = 0, cap = 0;

	for (;;) {
		if (len == cap) {
			uint64_t ncap = cap ? cap * 2 : READ_CHUNK;
			if (ncap > max + 1)
				ncap = max + 1; /* one byte more tells "too large" */
			if (ncap <= cap) {
				free(buf);
				return -EFBIG;
			}
			uint8_t *n = realloc(buf, (size_t)ncap);
			if (!n) {
				free(buf);
				return -ENOMEM;
			}
			buf = n;
			cap = ncap;
		}
		ssize_t k = read(fd, buf + len, (size_t)(cap - len));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int r = -errno;
			free(buf);
			return r;
		}
		if (k == 0)
			break;
		len += (uint64_t)k;
		if (len > max) {
			free(buf);
			return -EFBIG;
		}
	}
	*ret = buf;
	*ret_size = len;
	return 0;
}

int kvm_grants_add_fd(kvm_grants_t *g, const char *ref, int fd)
{
	char hex[2 * SHA256_DIGEST_LEN + 1];
	uint8_t *data = NULL;
	uint64_t size = 0;
	grant_t *e;
	int r;

	if (!ref_ok(ref))
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	e = find(g, ref);
	if (e)
		e->seq = ++g->seq;
	pthread_mutex_unlock(&g->lock);
	if (e)
		return 0;

	/* Outside the lock: the guest may load other blobs meanwhile. */
	r = read_all(fd, g->max_total, &data, &size);
	if (r < 0 && r != -EFBIG)
		return r;
	if (r == 0) {
		sha256_hex(data, size, hex);
		if (memcmp(hex, ref + PREFIX_LEN, sizeof(hex) - 1) != 0) {
			free(data);
			return -EBADMSG;
		}
	}
	pthread_mutex_lock(&g->lock);
	if (find(g, ref)) { /* one control thread adds: cannot happen, but be exact */
		pthread_mutex_unlock(&g->lock);
		free(data);
		return 0;
	}
	while (g->n > 0 && (g->n >= KVM_GRANTS_MAX || (data && g->total + size > g->max_total)))
		drop_oldest(g);
	e = &g->g[g->n++];
	memcpy(e->ref, ref, KVM_BLOB_REF_LEN);
	e->data = data;
	e->size = data ? size : 0;
	e->seq = ++g->seq;
	if (data)
		g->total += size;
	pthread_mutex_unlock(&g->lock);
	return r; /* 0, or -EFBIG: kept as a marker */
}

int kvm_grants_each(kvm_grants_t *g, int (*fn)(void *ud, const char *ref, const uint8_t *data, uint64_t size),
		    void *ud)
{
	int r = 0;

	pthread_mutex_lock(&g->lock);
	/* Oldest first, so that a restore adds them back in the same order. */
	for (uint64_t done = 0, last = 0; done < g->n && r >= 0; done++) {
		grant_t *next = NULL;
		for (unsigned i = 0; i < g->n; i++)
			if (g->g[i].seq > last && (!next || g->g[i].seq < next->seq))
				next = &g->g[i];
		if (!next)
			break;
		last = next->seq;
		r = fn(ud, next->ref, next->data, next->size);
	}
	pthread_mutex_unlock(&g->lock);
	return r;
}

int kvm_grants_add_data(kvm_grants_t *g, const char *ref, const uint8_t *data, uint64_t size)
{
	char hex[2 * SHA256_DIGEST_LEN + 1];
	uint8_t *copy = NULL;
	grant_t *e;

	if (!ref_ok(ref) || (data && size > g->max_total))
		return -EINVAL;
	if (data) {
		sha256_hex(data, size, hex);
		if (memcmp(hex, ref + PREFIX_LEN, sizeof(hex) - 1) != 0)
			return -EBADMSG;
		copy = malloc(size ? size : 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, data, size);
	}
	pthread_mutex_lock(&g->lock);
	if (find(g, ref)) {
		pthread_mutex_unlock(&g->lock);
		free(copy);
		return 0;
	}
	while (g->n > 0 && (g->n >= KVM_GRANTS_MAX || (copy && g->total + size > g->max_total)))
		drop_oldest(g);
	e = &g->g[g->n++];
	memcpy(e->ref, ref, KVM_BLOB_REF_LEN);
	e->data = copy;
	e->size = copy ? size : 0;
	e->seq = ++g->seq;
	if (copy)
		g->total += size;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

void kvm_grants_stats(kvm_grants_t *g, unsigned *ret_count, uint64_t *ret_bytes)
{
	pthread_mutex_lock(&g->lock);
	*ret_count = g->n;
	*ret_bytes = g->total;
	pthread_mutex_unlock(&g->lock);
}

bool kvm_hc_blob_load_hash(kvm_vm_t *vm, kvm_grants_t *g, uint64_t ref_gpa, uint64_t buf, uint64_t cap,
			   uint64_t *rax, uint64_t *rdx, uint64_t *fault_addr)
{
	const char *ref = kvm_vm_guest_ptr(vm, ref_gpa, KVM_BLOB_REF_LEN, false);
	grant_t *e;
	uint8_t *p;

	*rdx = 0;
	if (!ref) {
		*fault_addr = ref_gpa;
		return false;
	}
	if (!g || !ref_ok(ref)) {
		*rax = (uint64_t)-ENOENT;
		return true;
	}
	pthread_mutex_lock(&g->lock);
	e = find(g, ref);
	if (!e) {
		*rax = (uint64_t)-ENOENT;
	} else if (!e->data) {
		*rax = (uint64_t)-EFBIG;
	} else if (cap < e->size) {
		/* Not a fault: the guest asks again with room enough. */
		*rax = (uint64_t)-E2BIG;
		*rdx = e->size;
	} else if (!(p = kvm_vm_guest_ptr(vm, buf, e->size, true))) {
		pthread_mutex_unlock(&g->lock);
		*fault_addr = buf;
		return false;
	} else {
		memcpy(p, e->data, e->size);
		*rax = e->size;
	}
	pthread_mutex_unlock(&g->lock);
	return true;
}
