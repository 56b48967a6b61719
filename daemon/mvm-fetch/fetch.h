/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvm-fetch: the registry client that runs without privileges for mvmd
 * (lib/proto/fetch-proto.h, docs/blobs.md). registry.c speaks the OCI
 * distribution API with libcurl; sandbox.c drops privileges; main.c ties
 * them to mvmd's request.
 */
#ifndef MVM_FETCH_FETCH_H
#define MVM_FETCH_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

typedef struct fetch_source {
	char *name, *url, *repository;
	char *auth; /* base64 "user:password", or NULL */
	bool allow_http;
} fetch_source_t;

typedef struct fetch_job {
	fetch_source_t *sources;
	size_t n_sources;
	/* pull by hash: digest set; by reference: ref_* set */
	const char *digest;
	size_t ref_source;
	const char *ref_repository, *ref_tag, *ref_digest;
	uint64_t max_size;
	const void *ca; /* PEM bundle read before the sandbox */
	size_t ca_len;
	int data_fd; /* the blob's bytes to mvmd, framed (FETCH_FRAME_*) */
	int ctl_fd;  /* to mvmd */
} fetch_job_t;

/* Send one JSON message to mvmd (takes o). */
int fetch_send(int ctl_fd, struct json_object *o);

/* Run the job; sends progress, answers and the final message. */
int fetch_run(fetch_job_t *job);

/* Drop to nobody, no capabilities, no_new_privs, the seccomp allow-list. */
int fetch_sandbox_enter(void);

#endif
