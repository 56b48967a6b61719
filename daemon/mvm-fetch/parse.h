/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsers of what registries send (docs/blobs.md, "Pulling from
 * registries"): image manifests and indexes, WWW-Authenticate challenges,
 * token answers and redirect targets. Every input is hostile: lengths are
 * capped, nothing is trusted to be NUL-terminated, errors are -errno.
 * Runs only in the sandboxed mvm-fetch; tests/fuzz/fuzz_fetch_*.c fuzz it.
 * Does not log.
 */
#ifndef MVM_FETCH_PARSE_H
#define MVM_FETCH_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A manifest larger than this is refused (registries cap theirs at 4 MiB). */
#define FETCH_MANIFEST_MAX ((size_t)4 << 20)
#define FETCH_DIGEST_LEN (7 + 64) /* "sha256:" + hex */

/* The media types a manifest request accepts, in preference order. */
#define FETCH_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define FETCH_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define FETCH_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define FETCH_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

typedef struct fetch_pick {
	bool is_index;                        /* digest names a manifest to fetch next */
	char digest[FETCH_DIGEST_LEN + 1];    /* the layer (or child manifest) */
	uint64_t size;                        /* as the manifest declares it */
	char reason[160];                     /* why nothing was picked */
} fetch_pick_t;

/*
 * Pick the Wasm module out of a manifest: in an image manifest the layer
 * whose media type is application/wasm or
 * application/vnd.wasm.content.layer.v1+wasm, else the only layer of an
 * artifact whose artifactType or config media type names Wasm; in an
 * index the manifest for architecture "wasm", else the only one.
 * content_type (may be NULL) is the answer's Content-Type; the body's
 * mediaType wins when present. -EBADMSG: not JSON / malformed;
 * -EMEDIUMTYPE: not a supported manifest; -ENOENT: no Wasm layer
 * (ret->reason says why).
 */
int fetch_manifest_pick(const char *body, size_t len, const char *content_type, fetch_pick_t *ret);

/* "sha256:" + 64 lowercase hex. */
bool fetch_digest_is_valid(const char *s);

typedef struct fetch_challenge {
	char scheme[16];   /* "Bearer" or "Basic" (as sent, compared without case) */
	char realm[1024];
	char service[256];
	char scope[512];
} fetch_challenge_t;

/*
 * One WWW-Authenticate header value: scheme, then comma-separated
 * key=value or key="quoted \" value" parameters. Unknown keys are
 * skipped; over-long values are -E2BIG; malformed input -EBADMSG.
 */
int fetch_challenge_parse(const char *value, size_t len, fetch_challenge_t *ret);

/* A token endpoint's answer: {"token": ...} or {"access_token": ...}
 * (at most 16 KiB). *ret is malloc'd. */
int fetch_token_parse(const char *body, size_t len, char **ret);

/*
 * Resolve a Location header against the URL that answered it (relative
 * references included) into a malloc'd absolute URL. -EBADMSG for
 * anything that is not an http(s) URL.
 */
int fetch_location_resolve(const char *base, const char *location, size_t len, char **ret);

/*
 * The transport policy for every URL the fetcher connects to (the
 * configured source, a redirect target, a token realm): https always;
 * http only with allow_http or to a loopback address (127.0.0.0/8, ::1,
 * "localhost"). -EPERM otherwise, -EBADMSG for an unparsable URL.
 */
int fetch_url_allowed(const char *url, bool allow_http);

#endif
