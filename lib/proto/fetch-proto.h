/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd <-> mvm-fetch, the privilege-separated registry client
 * (docs/blobs.md, "Privilege separation").
 *
 * mvmd spawns one mvm-fetch per download with fd 0 and 1 on /dev/null,
 * fd 2 its own stderr (the journal) and FETCH_CTL_FD a SOCK_SEQPACKET
 * socket. Nothing else: no argv beyond the program name, no environment
 * but the sanitizer options. Over the socket, one message each:
 *
 *   mvmd -> fetch   the request, a JSON object, with SCM_RIGHTS carrying
 *                   the temp file (O_RDWR, empty) the blob is written to:
 *     {"sources": [{"name", "url", "repository", "allow_http", "auth"?}],
 *      "ca_file"?: path, "max_size": bytes,
 *      "digest": "sha256:<hex>"                      pull by hash, or
 *      "reference": {"source": index, "repository", "tag"? | "digest"?}}
 *     "auth" is the base64 "user:password" of the Docker config.json
 *     entry for that registry.
 *   fetch -> mvmd   any number of
 *     {"type": "progress", "source", "bytes", "total"}
 *     {"type": "answer", "source", "status"?, "reason"}  a source that did not have it
 *   and last one of
 *     {"type": "done", "source", "digest", "size", "manifest_digest"?}
 *     {"type": "failed", "error": FETCH_ERR_*, "reason"}
 *
 * mvmd trusts nothing of it: the file's bytes are hashed by mvmd after
 * the helper has exited, and stored only under that hash.
 */
#ifndef MVM_PROTO_FETCH_PROTO_H
#define MVM_PROTO_FETCH_PROTO_H

#define FETCH_CTL_FD 3
#define FETCH_MSG_MAX (64 * 1024)

/* "error" of a failed message: mvmd maps them to RPC errors. */
#define FETCH_ERR_NOT_FOUND "not_found"   /* no source has it */
#define FETCH_ERR_TOO_LARGE "too_large"   /* over max_size */
#define FETCH_ERR_AUTH "auth"             /* 401/403 */
#define FETCH_ERR_NETWORK "network"       /* connect, TLS, connection lost after retries */
#define FETCH_ERR_PROTOCOL "protocol"     /* bad manifest, redirect loop, refused URL */
#define FETCH_ERR_INTERNAL "internal"

#endif
