/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvm-fetch: download one blob from OCI registries for mvmd, without
 * privileges (lib/proto/fetch-proto.h, docs/blobs.md). Started by mvmd
 * only, maybe ahead of a pull: it reads its setup from FETCH_CTL_FD,
 * reads the CA bundle, enters its sandbox, and only then waits for its
 * job and talks to the network.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fetch.h"
#include "parse.h"
#include "proto/fetch-proto.h"
#include "util/fs.h"
#include "util/macro.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define CA_MAX ((size_t)8 << 20)

int fetch_send(int ctl_fd, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int r = 0;

	if (!s || strlen(s) > FETCH_MSG_MAX)
		r = -EMSGSIZE;
	else if (send(ctl_fd, s, strlen(s), MSG_NOSIGNAL) < 0)
		r = negative_errno();
	json_object_put(o);
	return r;
}

static int recv_message(json_object **ret)
{
	static char buf[FETCH_MSG_MAX + 1];
	ssize_t n;

	do
		n = recv(FETCH_CTL_FD, buf, FETCH_MSG_MAX, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? negative_errno() : -ECONNRESET;
	buf[n] = '\0';
	*ret = json_tokener_parse(buf);
	return *ret && json_object_is_type(*ret, json_type_object) ? 0 : -EBADMSG;
}

static const char *get_str(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int parse_job(json_object *req, fetch_job_t *job)
{
	json_object *srcs, *v, *ref;

	if (!json_object_object_get_ex(req, "sources", &srcs) || !json_object_is_type(srcs, json_type_array))
		return -EINVAL;
	job->n_sources = json_object_array_length(srcs);
	job->sources = calloc(job->n_sources ? job->n_sources : 1, sizeof(*job->sources));
	if (!job->sources)
		return -ENOMEM;
	for (size_t i = 0; i < job->n_sources; i++) {
		json_object *s = json_object_array_get_idx(srcs, i);
		fetch_source_t *d = &job->sources[i];
		d->name = (char *)get_str(s, "name");
		d->url = (char *)get_str(s, "url");
		d->repository = (char *)get_str(s, "repository");
		d->auth = (char *)get_str(s, "auth");
		d->allow_http = json_object_object_get_ex(s, "allow_http", &v) && json_object_get_boolean(v);
		if (!d->name || !d->url || !d->repository)
			return -EINVAL;
	}
	if (!json_object_object_get_ex(req, "max_size", &v))
		return -EINVAL;
	job->max_size = (uint64_t)json_object_get_int64(v);
	job->digest = get_str(req, "digest");
	if (json_object_object_get_ex(req, "reference", &ref)) {
		if (!json_object_object_get_ex(ref, "source", &v))
			return -EINVAL;
		job->ref_source = (size_t)json_object_get_int64(v);
		job->ref_repository = get_str(ref, "repository");
		job->ref_tag = get_str(ref, "tag");
		job->ref_digest = get_str(ref, "digest");
		if (job->ref_source >= job->n_sources || !job->ref_repository || (!job->ref_tag == !job->ref_digest))
			return -EINVAL;
	} else if (!fetch_digest_is_valid(job->digest))
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	json_object *setup = NULL, *req = NULL;
	fetch_job_t job = { .data_fd = FETCH_DATA_FD, .ctl_fd = FETCH_CTL_FD };
	_cleanup_free_ char *ca = NULL;
	size_t ca_len = 0;
	const char *ca_file;
	int r;

	/* mvmd's child only: gone when mvmd is */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() == 1)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	r = recv_message(&setup);
	if (r < 0) {
		fprintf(stderr, "mvm-fetch: no valid setup on fd %d (started by mvmd only)\n", FETCH_CTL_FD);
		return 2;
	}
	ca_file = get_str(setup, "ca_file");
	r = read_file_at(AT_FDCWD, ca_file ? ca_file : SYSTEM_CA_BUNDLE, CA_MAX, &ca, &ca_len);
	if (r < 0 && !ca_file) {
		/* No system bundle (no ca-certificates): plain http to loopback
		 * still works, and any TLS peer fails verification. */
		fprintf(stderr, "mvm-fetch: no CA bundle at %s: TLS peers cannot be verified\n", SYSTEM_CA_BUNDLE);
		ca = strdup("");
		ca_len = 0;
		r = ca ? 0 : -ENOMEM;
	}
	if (r < 0) {
		char reason[512];
		snprintf(reason, sizeof(reason), "cannot read the CA bundle %s: %s", ca_file ? ca_file : SYSTEM_CA_BUNDLE,
			 strerror(-r));
		json_object *o = json_object_new_object();
		json_object_object_add(o, "type", json_object_new_string("failed"));
		json_object_object_add(o, "error", json_object_new_string(FETCH_ERR_INTERNAL));
		json_object_object_add(o, "reason", json_object_new_string(reason));
		fetch_send(FETCH_CTL_FD, o);
		return 1;
	}
	job.ca = ca_len ? ca : NULL;
	job.ca_len = ca_len;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	r = fetch_sandbox_enter();
	if (r < 0) {
		fprintf(stderr, "mvm-fetch: cannot enter the sandbox: %s\n", strerror(-r));
		return 1;
	}
	/* set up and sandboxed: now the job (a spare waits here for its pull;
	 * mvmd closing the socket instead means there is none) */
	r = recv_message(&req);
	if (r == -ECONNRESET) {
		json_object_put(setup);
		return 0;
	}
	if (r == 0)
		r = parse_job(req, &job);
	if (r < 0) {
		fprintf(stderr, "mvm-fetch: malformed job\n");
		return 2;
	}
	r = fetch_run(&job);
	json_object_put(req);
	json_object_put(setup);
	free(job.sources);
	return r < 0 ? 1 : 0;
}
