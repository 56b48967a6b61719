/* SPDX-License-Identifier: Apache-2.0 */
#include "blob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "util/fault.h"
#include "util/fs.h"
#include "util/io.h"
#include "util/macro.h"

#define COPY_CHUNK (1u << 20)
#define DEFAULT_CHECK_MAX ((size_t)256 << 20)

struct blob_store {
	int dirfd;        /* STATE_DIR/blobs/sha256 */
	char *dir;
	size_t cleaned;   /* temp files removed at open */
	uint64_t count, bytes;
};

static void evp_md_ctx_freep(EVP_MD_CTX **p)
{
	if (*p)
		EVP_MD_CTX_free(*p);
}
#define _cleanup_md_ _cleanup_(evp_md_ctx_freep)

static void hex_encode(const unsigned char *md, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[BLOB_HEX_LEN] = '\0';
}

static int md_new(EVP_MD_CTX **ret)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -EIO;
	}
	*ret = ctx;
	return 0;
}

static int md_update(EVP_MD_CTX *ctx, const void *data, size_t len)
{
	return EVP_DigestUpdate(ctx, data, len) == 1 ? 0 : -EIO;
}

static int md_final(EVP_MD_CTX *ctx, char *ret_hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(ctx, md, &n) != 1 || n != 32)
		return -EIO;
	hex_encode(md, ret_hex);
	return 0;
}

bool blob_hex_is_valid(const char *hex)
{
	if (!hex)
		return false;
	for (size_t i = 0; i < BLOB_HEX_LEN; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return false;
	return hex[BLOB_HEX_LEN] == '\0';
}

int blob_ref_to_hex(const char *ref, char ret_hex[static BLOB_HEX_LEN + 1])
{
	size_t n = strlen(BLOB_REF_PREFIX);

	if (!ref || strncmp(ref, BLOB_REF_PREFIX, n) != 0 || !blob_hex_is_valid(ref + n))
		return -EINVAL;
	memcpy(ret_hex, ref + n, BLOB_HEX_LEN + 1);
	return 0;
}

int blob_hash_data(const void *data, size_t len, char ret_hex[static BLOB_HEX_LEN + 1])
{
	_cleanup_md_ EVP_MD_CTX *ctx = NULL;
	int r = md_new(&ctx);

	if (r == 0)
		r = md_update(ctx, data, len);
	if (r == 0)
		r = md_final(ctx, ret_hex);
	return r;
}

/* Hash an fd from offset 0 to EOF with pread (the fd's offset is kept). */
static int hash_fd(int fd, char *ret_hex, uint64_t *ret_size)
{
	_cleanup_md_ EVP_MD_CTX *ctx = NULL;
	_cleanup_free_ char *buf = malloc(COPY_CHUNK);
	uint64_t off = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	r = md_new(&ctx);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = pread(fd, buf, COPY_CHUNK, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			break;
		r = md_update(ctx, buf, (size_t)n);
		if (r < 0)
			return r;
		off += (uint64_t)n;
	}
	r = md_final(ctx, ret_hex);
	if (r == 0 && ret_size)
		*ret_size = off;
	return r;
}

/* --- the store -------------------------------------------------------- */

static bool is_tmp_name(const char *name)
{
	return strncmp(name, BLOB_TMP_PREFIX, strlen(BLOB_TMP_PREFIX)) == 0;
}

/* Count the blobs and (clean) remove crash leftovers. Other names are ignored
 * (neither listed nor removed): the store never deletes what it did not
 * write. */
static int scan(blob_store_t *s, bool clean)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r = opendir_at(s->dirfd, ".", 0, &d);

	if (r < 0)
		return r;
	s->count = s->bytes = 0;
	while ((errno = 0, de = readdir(d))) {
		struct stat st;

		if (clean && is_tmp_name(de->d_name)) {
			if (unlinkat(s->dirfd, de->d_name, 0) < 0 && errno != ENOENT)
				return negative_errno();
			s->cleaned++;
			continue;
		}
		if (!blob_hex_is_valid(de->d_name))
			continue;
		if (fstatat(s->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		s->count++;
		s->bytes += (uint64_t)st.st_size;
	}
	if (errno)
		return negative_errno();
	if (s->cleaned && fsync(s->dirfd) < 0)
		return negative_errno();
	return 0;
}

int blob_store_open(const char *state_dir, blob_store_t **ret)
{
	blob_store_t *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dirfd = -1;
	if (asprintf(&s->dir, "%s/blobs/sha256", state_dir) < 0) {
		s->dir = NULL;
		blob_store_free(s);
		return -ENOMEM;
	}
	r = mkdir_p(s->dir, 0700);
	if (r >= 0) {
		s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->dirfd < 0)
			r = negative_errno();
	}
	if (r >= 0)
		r = scan(s, true);
	if (r < 0) {
		blob_store_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

blob_store_t *blob_store_free(blob_store_t *s)
{
	if (!s)
		return NULL;
	safe_close(s->dirfd);
	free(s->dir);
	free(s);
	return NULL;
}

size_t blob_store_cleaned(const blob_store_t *s) { return s->cleaned; }
const char *blob_store_dir(const blob_store_t *s) { return s->dir; }

void blob_store_usage(const blob_store_t *s, uint64_t *ret_count, uint64_t *ret_bytes)
{
	if (ret_count)
		*ret_count = s->count;
	if (ret_bytes)
		*ret_bytes = s->bytes;
}

static void info_from_stat(const char *hex, const struct stat *st, blob_info_t *ret)
{
	memcpy(ret->hex, hex, BLOB_HEX_LEN + 1);
	ret->size = (uint64_t)st->st_size;
	ret->created_usec = (uint64_t)st->st_mtim.tv_sec * 1000000u + (uint64_t)st->st_mtim.tv_nsec / 1000u;
}

int blob_stat(blob_store_t *s, const char *hex, blob_info_t *ret)
{
	struct stat st;

	if (!blob_hex_is_valid(hex))
		return -EINVAL;
	if (fstatat(s->dirfd, hex, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -ENOENT; /* not something the store wrote */
	info_from_stat(hex, &st, ret);
	return 0;
}

/* --- put ---------------------------------------------------------------- */

/* A temp file being written; unlinked by tmp_discard() unless committed. */
typedef struct tmp_file {
	int fd;
	char name[sizeof(BLOB_TMP_PREFIX) + 16];
} tmp_file_t;

static int tmp_create(blob_store_t *s, tmp_file_t *t)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		uint64_t rnd;
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			return negative_errno();
		snprintf(t->name, sizeof(t->name), BLOB_TMP_PREFIX "%016llx", (unsigned long long)rnd);
		t->fd = openat(s->dirfd, t->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (t->fd >= 0)
			return 0;
		if (errno != EEXIST)
			return negative_errno();
	}
	return -EEXIST;
}

static void tmp_discard(blob_store_t *s, tmp_file_t *t)
{
	if (t->fd < 0)
		return;
	t->fd = safe_close(t->fd);
	unlinkat(s->dirfd, t->name, 0);
}

/*
 * The content is in t and hashes to hex: check expect and existence, then
 * make it the blob. On every error the temp file is gone.
 */
static int tmp_commit(blob_store_t *s, tmp_file_t *t, const char *hex, blob_info_t *ret_info, bool *ret_created)
{
	struct stat st, old;
	bool existed = false;
	int r = 0;

	if (fstat(t->fd, &st) < 0)
		r = negative_errno();
	else if (fstatat(s->dirfd, hex, &old, AT_SYMLINK_NOFOLLOW) == 0)
		existed = true;
	else if (errno != ENOENT)
		r = negative_errno();
	if (r < 0) {
		tmp_discard(s, t);
		return r;
	}
	if (existed && S_ISREG(old.st_mode) && old.st_size == st.st_size) {
		/* Same bytes already stored: keep the old file (and its time),
		 * and spare the fsync of a copy that is thrown away. */
		tmp_discard(s, t);
		info_from_stat(hex, &old, ret_info);
		*ret_created = false;
		return 0;
	}
	if (fsync(t->fd) < 0 || fchmod(t->fd, BLOB_FILE_MODE) < 0 || fstat(t->fd, &st) < 0) {
		r = negative_errno();
		tmp_discard(s, t);
		return r;
	}
	fault_point("blob.tmp-written");
	/* Otherwise a file of the wrong size (truncated, damaged) or type is
	 * replaced: putting the right bytes again is the repair. */
	if (renameat(s->dirfd, t->name, s->dirfd, hex) < 0) {
		r = negative_errno();
		tmp_discard(s, t);
		return r;
	}
	t->fd = safe_close(t->fd);
	/* The rename is durable only once the directory is: a hash must not be
	 * handed out that a power cut could take back. */
	if (fsync(s->dirfd) < 0) {
		r = negative_errno();
		if (!existed)
			unlinkat(s->dirfd, hex, 0);
		return r;
	}
	if (existed) {
		/* A repair: the damaged file's size was never what we counted,
		 * so count again rather than adjust (rare). */
		(void)scan(s, false);
	} else {
		s->count++;
		s->bytes += (uint64_t)st.st_size;
	}
	info_from_stat(hex, &st, ret_info);
	*ret_created = true;
	return 0;
}

static int check_expect(blob_put_opts_t *opts, const char *hex)
{
	if (opts) {
		memcpy(opts->actual_hex, hex, BLOB_HEX_LEN + 1);
		if (opts->expect_hex && strcmp(opts->expect_hex, hex) != 0)
			return -EBADMSG;
	}
	return 0;
}

static int check_opts(const blob_put_opts_t *opts)
{
	if (opts && opts->expect_hex && !blob_hex_is_valid(opts->expect_hex))
		return -EINVAL;
	return 0;
}

static size_t check_max(const blob_put_opts_t *opts)
{
	return opts->check_max ? opts->check_max : DEFAULT_CHECK_MAX;
}

static uint64_t max_size(const blob_put_opts_t *opts)
{
	return opts && opts->max_size ? opts->max_size : BLOB_DEFAULT_MAX_SIZE;
}

int blob_put_data(blob_store_t *s, const void *data, size_t len, blob_put_opts_t *opts,
		  blob_info_t *ret_info, bool *ret_created)
{
	tmp_file_t t = { .fd = -1 };
	char hex[BLOB_HEX_LEN + 1], written[BLOB_HEX_LEN + 1];
	blob_info_t info;
	int r;

	r = check_opts(opts);
	if (r < 0)
		return r;
	if (len > max_size(opts))
		return -E2BIG;
	/* Everything that can refuse the content runs before a byte is
	 * written, so a refused put touches nothing. */
	r = blob_hash_data(data, len, hex);
	if (r < 0)
		return r;
	r = check_expect(opts, hex);
	if (r < 0)
		return r;
	/* The check runs even when the content is stored already: the same
	 * bytes put earlier without a check must not pass one now unchecked. */
	if (opts && opts->check) {
		if (len > check_max(opts))
			return -EFBIG;
		r = opts->check(data, len, opts->check_userdata);
		if (r < 0)
			return r;
	}
	if (blob_stat(s, hex, &info) == 0 && info.size == len) {
		*ret_info = info;
		*ret_created = false;
		return 0;
	}

	r = tmp_create(s, &t);
	if (r < 0)
		return r;
	r = write_all(t.fd, data, len);
	if (r < 0)
		goto fail;
	/* Name the file by what it holds, not by what we meant to write. */
	r = hash_fd(t.fd, written, NULL);
	if (r < 0)
		goto fail;
	if (strcmp(written, hex) != 0) {
		r = -EIO;
		goto fail;
	}
	return tmp_commit(s, &t, hex, ret_info, ret_created);
fail:
	tmp_discard(s, &t);
	return r;
}

/* Open a host path for a put: no symlink as the last component, regular
 * files only, never blocking on a FIFO. */
static int open_source(const char *path, int *ret_fd, uint64_t *ret_size)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	/* Regular files ignore O_NONBLOCK for reads, but drop it anyway. */
	if (fcntl(fd, F_SETFL, 0) < 0)
		return negative_errno();
	*ret_fd = TAKE_FD(fd);
	*ret_size = (uint64_t)st.st_size;
	return 0;
}

int blob_put_path(blob_store_t *s, const char *path, blob_put_opts_t *opts,
		  blob_info_t *ret_info, bool *ret_created)
{
	_cleanup_md_ EVP_MD_CTX *ctx = NULL;
	_cleanup_close_ int src = -1;
	_cleanup_free_ char *buf = NULL, *whole = NULL;
	tmp_file_t t = { .fd = -1 };
	size_t whole_len = 0, whole_max = 0;
	uint64_t src_size, copied = 0;
	char hex[BLOB_HEX_LEN + 1];
	int r;

	r = check_opts(opts);
	if (r < 0)
		return r;
	r = open_source(path, &src, &src_size);
	if (r < 0)
		return r;
	if (src_size > max_size(opts))
		return -E2BIG;
	buf = malloc(COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	if (opts && opts->check)
		whole_max = check_max(opts);
	r = md_new(&ctx);
	if (r < 0)
		return r;
	r = tmp_create(s, &t);
	if (r < 0)
		return r;

	/* One pass: what is hashed is exactly what is written. */
	for (;;) {
		ssize_t n = read(src, buf, COPY_CHUNK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = negative_errno();
			goto fail;
		}
		if (n == 0)
			break;
		copied += (uint64_t)n;
		if (copied > max_size(opts)) { /* it grew while we read */
			r = -E2BIG;
			goto fail;
		}
		r = md_update(ctx, buf, (size_t)n);
		if (r == 0)
			r = write_all(t.fd, buf, (size_t)n);
		if (r < 0)
			goto fail;
		if (whole_max) {
			if (whole_len + (size_t)n > whole_max) {
				r = -EFBIG;
				goto fail;
			}
			char *p = realloc(whole, whole_len + (size_t)n);
			if (!p) {
				r = -ENOMEM;
				goto fail;
			}
			whole = p;
			memcpy(whole + whole_len, buf, (size_t)n);
			whole_len += (size_t)n;
		}
	}
	r = md_final(ctx, hex);
	if (r < 0)
		goto fail;
	r = check_expect(opts, hex);
	if (r < 0)
		goto fail;
	if (whole_max) {
		r = opts->check(whole ? whole : "", whole_len, opts->check_userdata);
		if (r < 0)
			goto fail;
	}
	return tmp_commit(s, &t, hex, ret_info, ret_created);
fail:
	tmp_discard(s, &t);
	return r;
}

/* --- streamed in (pulls) ------------------------------------------------ */

/* Start the disk's writeback every this many bytes, so that the fsync at
 * the commit waits only for the tail of a large blob. */
#define WRITEBACK_EVERY ((uint64_t)4 << 20)

struct blob_tmp {
	tmp_file_t t;
	EVP_MD_CTX *md;
	uint64_t size, writeback_from;
};

int blob_tmp_new(blob_store_t *s, blob_tmp_t **ret)
{
	blob_tmp_t *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	b->t.fd = -1;
	r = md_new(&b->md);
	if (r == 0)
		r = tmp_create(s, &b->t);
	if (r < 0) {
		blob_tmp_discard(s, b);
		return r;
	}
	*ret = b;
	return 0;
}

uint64_t blob_tmp_size(const blob_tmp_t *b) { return b->size; }

int blob_tmp_write(blob_tmp_t *b, const void *data, size_t len)
{
	int r = md_update(b->md, data, len);

	if (r < 0)
		return r;
	r = write_all(b->t.fd, data, len);
	if (r < 0)
		return r;
	b->size += len;
	if (b->size - b->writeback_from >= WRITEBACK_EVERY) {
		/* asynchronous: only queues the range for writeback */
		(void)sync_file_range(b->t.fd, (off_t)b->writeback_from, (off_t)(b->size - b->writeback_from),
				      SYNC_FILE_RANGE_WRITE);
		b->writeback_from = b->size;
	}
	return 0;
}

int blob_tmp_restart(blob_tmp_t *b)
{
	if (ftruncate(b->t.fd, 0) < 0 || lseek(b->t.fd, 0, SEEK_SET) < 0)
		return negative_errno();
	b->size = b->writeback_from = 0;
	return EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

void blob_tmp_discard(blob_store_t *s, blob_tmp_t *b)
{
	if (!b)
		return;
	tmp_discard(s, &b->t);
	if (b->md)
		EVP_MD_CTX_free(b->md);
	free(b);
}

int blob_tmp_commit(blob_store_t *s, blob_tmp_t *b, blob_put_opts_t *opts, blob_info_t *ret_info, bool *ret_created)
{
	char hex[BLOB_HEX_LEN + 1];
	int r;

	r = check_opts(opts);
	if (r < 0)
		goto fail;
	if (b->size > max_size(opts)) {
		r = -E2BIG;
		goto fail;
	}
	/* the hash of exactly what blob_tmp_write() wrote, no second read */
	r = md_final(b->md, hex);
	if (r < 0)
		goto fail;
	r = check_expect(opts, hex);
	if (r < 0)
		goto fail;
	if (opts && opts->check) {
		void *map;
		if (b->size > check_max(opts)) {
			r = -EFBIG;
			goto fail;
		}
		map = b->size ? mmap(NULL, b->size, PROT_READ, MAP_PRIVATE, b->t.fd, 0) : (void *)"";
		if (map == MAP_FAILED) {
			r = negative_errno();
			goto fail;
		}
		r = opts->check(map, b->size, opts->check_userdata);
		if (b->size)
			munmap(map, b->size);
		if (r < 0)
			goto fail;
	}
	r = tmp_commit(s, &b->t, hex, ret_info, ret_created); /* closes or discards t */
fail:
	blob_tmp_discard(s, b);
	return r;
}

/* --- read side ---------------------------------------------------------- */

int blob_open(blob_store_t *s, const char *hex, bool verify, int *ret_fd, uint64_t *ret_size)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (!blob_hex_is_valid(hex))
		return -EINVAL;
	fd = openat(s->dirfd, hex, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return errno == ELOOP ? -ENOENT : negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -ENOENT;
	if (verify) {
		char actual[BLOB_HEX_LEN + 1];
		r = hash_fd(fd, actual, NULL);
		if (r < 0)
			return r;
		if (strcmp(actual, hex) != 0)
			return -EBADMSG;
	}
	*ret_fd = TAKE_FD(fd);
	if (ret_size)
		*ret_size = (uint64_t)st.st_size;
	return 0;
}

int blob_verify(blob_store_t *s, const char *hex, char *ret_actual_hex)
{
	_cleanup_close_ int fd = -1;
	char actual[BLOB_HEX_LEN + 1];
	int r;

	r = blob_open(s, hex, false, &fd, NULL);
	if (r < 0)
		return r;
	r = hash_fd(fd, actual, NULL);
	if (r < 0)
		return r;
	if (ret_actual_hex)
		memcpy(ret_actual_hex, actual, BLOB_HEX_LEN + 1);
	return strcmp(actual, hex) == 0 ? 0 : -EBADMSG;
}

int blob_remove(blob_store_t *s, const char *hex)
{
	blob_info_t info;
	int r;

	r = blob_stat(s, hex, &info);
	if (r < 0)
		return r;
	if (unlinkat(s->dirfd, hex, 0) < 0)
		return negative_errno();
	s->count = s->count ? s->count - 1 : 0;
	s->bytes = s->bytes >= info.size ? s->bytes - info.size : 0;
	if (fsync(s->dirfd) < 0)
		return negative_errno();
	return 0;
}

static int info_cmp(const void *a, const void *b)
{
	return strcmp(((const blob_info_t *)a)->hex, ((const blob_info_t *)b)->hex);
}

int blob_list(blob_store_t *s, const char *after_hex, size_t limit, blob_info_t **ret, size_t *ret_n,
	      bool *ret_more)
{
	_cleanup_free_ blob_info_t *v = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r;

	if (after_hex && !blob_hex_is_valid(after_hex))
		return -EINVAL;
	r = opendir_at(s->dirfd, ".", 0, &d);
	if (r < 0)
		return r;
	while ((errno = 0, de = readdir(d))) {
		struct stat st;

		if (!blob_hex_is_valid(de->d_name))
			continue;
		if (after_hex && strcmp(de->d_name, after_hex) <= 0)
			continue;
		if (fstatat(s->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			blob_info_t *p = reallocarray(v, nc, sizeof(*v));
			if (!p)
				return -ENOMEM;
			v = p;
			cap = nc;
		}
		info_from_stat(de->d_name, &st, &v[n++]);
	}
	if (errno)
		return negative_errno();
	if (n)
		qsort(v, n, sizeof(*v), info_cmp);
	bool more = limit && n > limit;
	if (more)
		n = limit;
	*ret = TAKE_PTR(v);
	*ret_n = n;
	if (ret_more)
		*ret_more = more;
	return 0;
}
