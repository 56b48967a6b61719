/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The content-addressed blob store: STATE_DIR/blobs/sha256/<64 hex>
 * (docs/design.md §4 and §6, docs/blobs.md).
 *
 * A blob is an immutable file named by the SHA-256 of its bytes, mode 0400
 * (only mvmd, root, reads it; a VM worker gets a read-only fd, never a
 * path). A put writes a temp file ".tmp.XXXXXXXXXXXXXXXX" in the same
 * directory, fsyncs it, hashes exactly the bytes written (OpenSSL EVP),
 * compares with the expected hash and runs the optional content check,
 * and only then renames it to its hash and fsyncs the directory. Every
 * error path unlinks the temp file; temp files left by a crash are removed
 * by blob_store_open().
 *
 * Hashes are passed as 64 lowercase hex characters ("hex"); the
 * "sha256:<hex>" form ("ref") is the RPC spelling, see blob_ref_to_hex().
 *
 * Single-threaded (mvmd's event loop). Does not log.
 */
#ifndef MVM_BLOB_H
#define MVM_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLOB_HEX_LEN 64
#define BLOB_REF_PREFIX "sha256:"
#define BLOB_REF_LEN (sizeof(BLOB_REF_PREFIX) - 1 + BLOB_HEX_LEN)
#define BLOB_FILE_MODE 0400
#define BLOB_TMP_PREFIX ".tmp."
/* Default cap on one blob. Puts run on mvmd's event loop (and under its
 * 30 s systemd watchdog): 1 GiB is about 5 s of copy and hash here, and
 * four times the largest Wasm module the interpreter accepts. */
#define BLOB_DEFAULT_MAX_SIZE ((uint64_t)1 << 30)

typedef struct blob_store blob_store_t;

typedef struct blob_info {
	char hex[BLOB_HEX_LEN + 1];
	uint64_t size;
	uint64_t created_usec; /* wall clock: when the content was written (file mtime) */
} blob_info_t;

/*
 * A check of the complete content, run after it was hashed and before it
 * becomes visible (e.g. "is this a valid Wasm module"). Return 0 to accept
 * or a negative errno to refuse; the put then fails with that value and
 * leaves nothing behind. Details go through userdata.
 */
typedef int (*blob_check_fn)(const void *data, size_t len, void *userdata);

typedef struct blob_put_opts {
	const char *expect_hex;  /* NULL, or the hash the content must have: -EBADMSG otherwise */
	blob_check_fn check;     /* NULL, or a content check */
	void *check_userdata;
	size_t check_max;        /* with check: larger content fails with -EFBIG (0: 256 MiB) */
	uint64_t max_size;       /* larger content fails with -E2BIG (0: BLOB_DEFAULT_MAX_SIZE) */
	/* Out, an exception to ret_* rules so that a mismatch can name both
	 * hashes: set as soon as the content was hashed, also on failure. */
	char actual_hex[BLOB_HEX_LEN + 1];
} blob_put_opts_t;

/*
 * Open (creating STATE_DIR/blobs/sha256, 0700, when missing) and remove
 * temp files left by an interrupted put. The store keeps an fd of the
 * directory and the count and bytes of the blobs in it.
 */
int blob_store_open(const char *state_dir, blob_store_t **ret);
blob_store_t *blob_store_free(blob_store_t *s);

/* Temp files removed by blob_store_open(). */
size_t blob_store_cleaned(const blob_store_t *s);
/* Blobs in the store and their total size (kept up to date by put/remove). */
void blob_store_usage(const blob_store_t *s, uint64_t *ret_count, uint64_t *ret_bytes);
/* The directory holding the blobs (STATE_DIR/blobs/sha256). */
const char *blob_store_dir(const blob_store_t *s);

/* Exactly 64 lowercase hex characters. */
bool blob_hex_is_valid(const char *hex);
/* "sha256:<64 lowercase hex>" -> the hex part (-EINVAL for anything else). */
int blob_ref_to_hex(const char *ref, char ret_hex[static BLOB_HEX_LEN + 1]);
/* SHA-256 of a buffer, as hex. */
int blob_hash_data(const void *data, size_t len, char ret_hex[static BLOB_HEX_LEN + 1]);

/*
 * Store bytes. Putting content already in the store is not an error:
 * *ret_created is false then (and nothing is written). Errors: -EBADMSG
 * (expect mismatch), the check's error, -E2BIG (over opts->max_size),
 * -ENOSPC/-EIO/... from the disk.
 */
int blob_put_data(blob_store_t *s, const void *data, size_t len, blob_put_opts_t *opts,
		  blob_info_t *ret_info, bool *ret_created);

/*
 * Store the content of a host file, streamed (never held in memory whole,
 * unless opts->check needs it). The final path component is not followed
 * when it is a symlink (-ELOOP); the file must be a regular file
 * (-EISDIR for a directory, -EINVAL for anything else: FIFO, socket,
 * device). Opening never blocks (O_NONBLOCK). A file over the size cap is
 * refused before it is read (and if it grows past it while being read).
 * Errors as blob_put_data,
 * plus -ENOENT/-EACCES/... from opening the file.
 */
int blob_put_path(blob_store_t *s, const char *path, blob_put_opts_t *opts,
		  blob_info_t *ret_info, bool *ret_created);

/*
 * A blob streamed in piece by piece (a pull: mvm-fetch's bytes arrive on a
 * pipe, docs/blobs.md). blob_tmp_new() creates an empty temp file in the
 * store; blob_tmp_write() appends and hashes each piece as it comes (so
 * the hash is of exactly what was written, and only mvmd writes the file)
 * and starts the disk's writeback of what is there, so that the commit's
 * fsync waits only for the tail; blob_tmp_restart() empties it (the source
 * started over). blob_tmp_commit() applies opts like blob_put_path (size
 * cap -E2BIG, expect -EBADMSG, check), renames it into the store and frees
 * t on every outcome; blob_tmp_discard() unlinks and frees it. A temp file
 * a crash leaves is removed by the next blob_store_open().
 */
typedef struct blob_tmp blob_tmp_t;
int blob_tmp_new(blob_store_t *s, blob_tmp_t **ret);
int blob_tmp_write(blob_tmp_t *t, const void *data, size_t len);
int blob_tmp_restart(blob_tmp_t *t);
uint64_t blob_tmp_size(const blob_tmp_t *t);
int blob_tmp_commit(blob_store_t *s, blob_tmp_t *t, blob_put_opts_t *opts, blob_info_t *ret_info, bool *ret_created);
void blob_tmp_discard(blob_store_t *s, blob_tmp_t *t);

/* -ENOENT when there is no such blob; -EINVAL for a malformed hex. */
int blob_stat(blob_store_t *s, const char *hex, blob_info_t *ret);

/*
 * Re-hash the blob's file. 0 when it hashes to its name; -EBADMSG when it
 * does not (bit rot, tampering). ret_actual_hex (may be NULL) receives the
 * hash of the file's bytes in both cases.
 */
int blob_verify(blob_store_t *s, const char *hex, char *ret_actual_hex);

/*
 * Blobs sorted by hash, those after `after_hex` (NULL: from the start), at
 * most `limit` (0: no limit). *ret (free()) holds *ret_n entries;
 * *ret_more says whether more follow.
 */
int blob_list(blob_store_t *s, const char *after_hex, size_t limit, blob_info_t **ret, size_t *ret_n,
	      bool *ret_more);

/* Unlink the blob (the directory is fsynced). -ENOENT when absent.
 * Whether anything still uses it is the caller's decision. */
int blob_remove(blob_store_t *s, const char *hex);

/*
 * Open a blob read-only (O_RDONLY | O_CLOEXEC, never following symlinks):
 * the fd to hand a VM worker. The caller owns the fd. ret_size may be
 * NULL. With verify, the content is hashed first (-EBADMSG on mismatch)
 * and the returned fd is at offset 0.
 */
int blob_open(blob_store_t *s, const char *hex, bool verify, int *ret_fd, uint64_t *ret_size);

#endif
