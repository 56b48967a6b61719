/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blobs from OCI registries (docs/blobs.md, "Pulling from registries").
 *
 * The operator configures sources (pull-config.c); a pull runs the
 * sandboxed mvm-fetch (daemon/mvm-fetch, lib/proto/fetch-proto.h), which
 * hands the blob's bytes over a pipe; mvmd hashes and writes them into a
 * temp file of the blob store as they come, and once the helper has
 * exited stores it only under the expected hash. Concurrent
 * pulls of one thing share one download: each asker is a waiter of the
 * one job. Single-threaded (mvmd's event loop).
 */
#ifndef MVM_PULL_H
#define MVM_PULL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "blob.h"

/* --- configuration (pull-config.c) ----------------------------------------- */

typedef struct pull_source {
	char *name;       /* [A-Za-z0-9][A-Za-z0-9._-]* */
	char *url;        /* scheme://host[:port], no path */
	char *repository; /* the repository blobs by hash are asked from */
	char *host;       /* host[:port], the key of the credentials file */
	char *auth;       /* base64 user:password from the credentials file, or NULL */
	bool allow_http;  /* http:// to a non-loopback host (--blob-source-insecure) */
} pull_source_t;

typedef struct pull_config {
	pull_source_t *sources;
	size_t n_sources;
	char *ca_file;    /* --blob-source-ca, NULL: the system's CAs */
	char *auth_file;  /* --blob-source-auth (Docker config.json) */
	bool insecure;    /* --blob-source-insecure */
	uint64_t max_size; /* --blob-pull-max-size; 0: the store's cap (BLOB_DEFAULT_MAX_SIZE) */
	char *fetch_path; /* the mvm-fetch binary */
} pull_config_t;

/*
 * --blob-source NAME=URL with URL https://host[:port]/repository (or
 * http:// to a loopback host, or any http:// with insecure). Check order:
 * all sources, then insecure, then credentials: call pull_config_finish()
 * once every flag is parsed. Errors return -EINVAL with *ret_err
 * (malloc'd) saying why.
 */
int pull_config_add_source(pull_config_t *c, const char *arg, char **ret_err);
/* Apply insecure, load the credentials file (must be a regular file owned
 * by root, not readable by group or others: -EPERM otherwise). */
int pull_config_finish(pull_config_t *c, char **ret_err);
void pull_config_done(pull_config_t *c);
const pull_source_t *pull_config_find(const pull_config_t *c, const char *name, size_t *ret_index);

/* --- what to pull ------------------------------------------------------------- */

typedef struct pull_spec {
	/* by hash: hex set. By reference: source_index, repository and one
	 * of tag / digest (lowercase "sha256:<hex>"). */
	char hex[BLOB_HEX_LEN + 1];
	bool by_reference;
	size_t source_index;
	char repository[256];
	char tag[129];
	char digest[BLOB_REF_LEN + 1];
	bool wasm; /* kind "wasm": validated before it is stored */
} pull_spec_t;

/*
 * "SOURCE/REPO:TAG", "SOURCE/REPO@sha256:<hex>", or SOURCE alone for the
 * source's repository ("SOURCE:TAG", "SOURCE@sha256:..."). The source
 * must be configured. -EINVAL (with *ret_err) otherwise.
 */
int pull_reference_parse(const pull_config_t *c, const char *ref, pull_spec_t *ret, char **ret_err);

/* --- pulls ------------------------------------------------------------------------- */

typedef struct puller puller_t;
struct metrics;
/* Count every pull's end in mt (daemon/mvmd/metrics.h: mvmd_blob_pulls_total). */
void puller_set_metrics(puller_t *p, struct metrics *mt);

typedef struct pull_result {
	int error;               /* 0, or -errno (see error_class) */
	const char *error_class; /* NULL on success; fetch-proto.h's, or "digest_mismatch", "invalid_wasm", "store" */
	const char *reason;      /* on failure */
	const char *source;      /* the source that served it (also on a mismatch) */
	blob_info_t info;        /* on success */
	bool created;            /* false: it was in the store already */
	const char *manifest_digest; /* by reference */
	json_object *answers;    /* [{source, status?, reason}]: every source that did not serve it */
} pull_result_t;

typedef struct pull_progress {
	const char *source;
	uint64_t bytes, total; /* total 0: not known yet */
} pull_progress_t;

typedef struct pull_waiter pull_waiter_t;
/* Called once when the pull ends (the waiter is freed after it returns). */
typedef void (*pull_done_fn)(const pull_result_t *res, void *userdata);
/* Called on progress (may be NULL). */
typedef void (*pull_progress_fn)(const pull_progress_t *p, void *userdata);

int puller_new(sd_event *e, blob_store_t *blobs, pull_config_t *cfg, puller_t **ret);
puller_t *puller_free(puller_t *p);
const pull_config_t *puller_config(const puller_t *p);
bool puller_has_sources(const puller_t *p);

/*
 * Pull spec, or join the pull of the same thing already under way. done
 * is called later, from the event loop, never inside this call. *ret (may
 * be NULL) lets the caller cancel its interest.
 */
int puller_start(puller_t *p, const pull_spec_t *spec, pull_done_fn done, pull_progress_fn progress,
		 void *userdata, pull_waiter_t **ret);
/* Stop waiting (done is not called); the download goes on for the others. */
void pull_waiter_cancel(pull_waiter_t *w);

/* A pull by hash (or a reference that resolved to it) in flight: its progress. */
bool puller_in_flight(puller_t *p, const char *hex, pull_progress_t *ret, size_t *ret_waiters);

#endif
