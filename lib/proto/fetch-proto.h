/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd <-> mvm-fetch, the privilege-separated registry client
 * (docs/blobs.md, "Privilege separation").
 *
 * mvmd spawns mvm-fetch with fd 0 and 1 on /dev/null, fd 2 its own stderr
 * (the journal), FETCH_CTL_FD a SOCK_SEQPACKET socket and FETCH_DATA_FD
 * the write end of a pipe. Nothing else: no argv beyond the program name,
 * no environment but the sanitizer options. mvmd may spawn it ahead of a
 * pull (a spare): it sets itself up and waits for its one job.
 *
 * Over the socket, one JSON message each:
 *
 *   mvmd -> fetch   first the setup, at once: {"ca_file"?: path}; the
 *                   helper reads the CA bundle and enters its sandbox
 *   mvmd -> fetch   then the job, when there is one:
 *     {"sources": [{"name", "url", "repository", "allow_http", "auth"?}],
 *      "max_size": bytes,
 *      "digest": "sha256:<hex>"                      pull by hash, or
 *      "reference": {"source": index, "repository", "tag"? | "digest"?}}
 *     "auth" is the base64 "user:password" of the Docker config.json
 *     entry for that registry.
 *   fetch -> mvmd   any number of
 *     {"type": "progress", "source", "total"}     a download from source
 *                                                 starts (total 0: unknown)
 *     {"type": "answer", "source", "status"?, "reason"}  a source that did not have it
 *   and last one of
 *     {"type": "done", "source", "digest", "size", "manifest_digest"?}
 *     {"type": "failed", "error": FETCH_ERR_*, "reason"}
 *
 * The blob's bytes go over the pipe as frames: a fetch_frame_t header,
 * then for FETCH_FRAME_DATA len bytes of the blob. FETCH_FRAME_RESTART
 * (len 0) voids everything before it: the helper started over (a server
 * that answered a Range request with the whole blob, the next source).
 * mvmd hashes and writes the bytes as they come (lib/proto/fetch-stream.h
 * decodes the frames) and trusts nothing else of them: once the helper
 * has exited and the pipe is drained, it stores them only under the hash
 * they have.
 */
#ifndef MVM_PROTO_FETCH_PROTO_H
#define MVM_PROTO_FETCH_PROTO_H

#include <stdint.h>

#define FETCH_CTL_FD 3
#define FETCH_DATA_FD 4
#define FETCH_MSG_MAX (64 * 1024)

/* A frame on the data pipe (host byte order: both ends are this host). */
typedef struct fetch_frame {
	uint32_t type;
	uint32_t len;
} fetch_frame_t;
#define FETCH_FRAME_DATA 1u    /* len (1..FETCH_FRAME_MAX) bytes of the blob follow */
#define FETCH_FRAME_RESTART 2u /* len 0: the blob starts again at byte 0 */
#define FETCH_FRAME_MAX (1u << 20)

/* "error" of a failed message: mvmd maps them to RPC errors. */
#define FETCH_ERR_NOT_FOUND "not_found"   /* no source has it */
#define FETCH_ERR_TOO_LARGE "too_large"   /* over max_size */
#define FETCH_ERR_AUTH "auth"             /* 401/403 */
#define FETCH_ERR_NETWORK "network"       /* connect, TLS, connection lost after retries */
#define FETCH_ERR_PROTOCOL "protocol"     /* bad manifest, redirect loop, refused URL */
#define FETCH_ERR_INTERNAL "internal"

#endif
