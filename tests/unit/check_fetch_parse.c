/* SPDX-License-Identifier: Apache-2.0 */
/* mvm-fetch's parsers of registry answers (daemon/mvm-fetch/parse.c) and
 * mvmd's of references and --blob-source flags (daemon/mvmd/pull-config.c). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "pull.h"
#include "mvmt-main.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static int pick(const char *json, const char *ctype, fetch_pick_t *p)
{
	return fetch_manifest_pick(json, strlen(json), ctype, p);
}

START_TEST(test_manifest)
{
	fetch_pick_t p;

	/* the Wasm layer among others, by media type */
	ck_assert_int_eq(pick("{\"mediaType\":\"" FETCH_MT_OCI_MANIFEST "\",\"layers\":["
			      "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" D1 "\",\"size\":5},"
			      "{\"mediaType\":\"application/wasm\",\"digest\":\"" D2 "\",\"size\":7}]}", NULL, &p), 0);
	ck_assert_str_eq(p.digest, D2);
	ck_assert_int_eq(p.size, 7);
	ck_assert(!p.is_index);
	/* two Wasm layers: ambiguous */
	ck_assert_int_eq(pick("{\"layers\":[{\"mediaType\":\"application/wasm\",\"digest\":\"" D1 "\",\"size\":5},"
			      "{\"mediaType\":\"application/wasm\",\"digest\":\"" D2 "\",\"size\":7}]}", NULL, &p), -ENOENT);
	/* the only layer of a Wasm artifact; not of any artifact */
	ck_assert_int_eq(pick("{\"artifactType\":\"application/vnd.wasm.module.v1+wasm\",\"layers\":["
			      "{\"mediaType\":\"application/octet-stream\",\"digest\":\"" D1 "\",\"size\":5}]}", NULL, &p), 0);
	ck_assert_str_eq(p.digest, D1);
	ck_assert_int_eq(pick("{\"artifactType\":\"application/vnd.example.sbom\",\"layers\":["
			      "{\"mediaType\":\"application/octet-stream\",\"digest\":\"" D1 "\",\"size\":5}]}", NULL, &p), -ENOENT);
	/* Docker schema 2, told by the Content-Type */
	ck_assert_int_eq(pick("{\"layers\":[{\"mediaType\":\"application/vnd.wasm.content.layer.v1+wasm\",\"digest\":\"" D1
			      "\",\"size\":5}]}", FETCH_MT_DOCKER_MANIFEST "; charset=utf-8", &p), 0);
	/* an index: the wasm platform, else the only entry */
	ck_assert_int_eq(pick("{\"mediaType\":\"" FETCH_MT_OCI_INDEX "\",\"manifests\":["
			      "{\"digest\":\"" D1 "\",\"size\":5,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
			      "{\"digest\":\"" D2 "\",\"size\":7,\"platform\":{\"architecture\":\"wasm\",\"os\":\"wasip1\"}}]}",
			      NULL, &p), 0);
	ck_assert(p.is_index);
	ck_assert_str_eq(p.digest, D2);
	ck_assert_int_eq(pick("{\"manifests\":[{\"digest\":\"" D1 "\",\"size\":5,\"platform\":{\"architecture\":\"amd64\"}},"
			      "{\"digest\":\"" D2 "\",\"size\":7,\"platform\":{\"architecture\":\"arm64\"}}]}", NULL, &p), -ENOENT);
	/* malformed: bad digests, negative sizes, not JSON, trailing bytes, NULs */
	ck_assert_int_eq(pick("{\"layers\":[{\"mediaType\":\"application/wasm\",\"digest\":\"sha256:../x\",\"size\":5}]}", NULL, &p), -EBADMSG);
	ck_assert_int_eq(pick("{\"layers\":[{\"mediaType\":\"application/wasm\",\"digest\":\"" D1 "\",\"size\":-1}]}", NULL, &p), -EBADMSG);
	ck_assert_int_eq(pick("[1,2]", NULL, &p), -EBADMSG);
	ck_assert_int_eq(pick("{\"layers\":[]} x", NULL, &p), -EBADMSG);
	ck_assert_int_eq(fetch_manifest_pick("{}\0{}", 5, NULL, &p), -EBADMSG);
	ck_assert_int_eq(pick("{\"mediaType\":\"application/vnd.docker.distribution.manifest.v1+json\"}", NULL, &p), -EMEDIUMTYPE);
}
END_TEST

START_TEST(test_challenge)
{
	const char *v = "Bearer realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:a/b:pull\"";
	fetch_challenge_t c;
	char *out = NULL;

	ck_assert_int_eq(fetch_challenge_parse(v, strlen(v), &c), 0);
	ck_assert_str_eq(c.scheme, "Bearer");
	ck_assert_str_eq(c.realm, "https://auth.example/token");
	ck_assert_str_eq(c.service, "registry.example");
	ck_assert_str_eq(c.scope, "repository:a/b:pull");
	v = "basic realm=\"x \\\"quoted\\\"\"";
	ck_assert_int_eq(fetch_challenge_parse(v, strlen(v), &c), 0);
	ck_assert_str_eq(c.realm, "x \"quoted\"");
	ck_assert_int_eq(fetch_challenge_parse("Bearer realm=\"open", 18, &c), -EBADMSG);
	ck_assert_int_eq(fetch_challenge_parse("Negotiate abc", 13, &c), -EMEDIUMTYPE);
	ck_assert_int_eq(fetch_challenge_parse("", 0, &c), -EBADMSG);

	ck_assert_int_eq(fetch_token_parse("{\"access_token\":\"t0k\"}", 22, &out), 0);
	ck_assert_str_eq(out, "t0k");
	free(out);
	ck_assert_int_eq(fetch_token_parse("{\"token\":\"a\\r\\nX-Evil: 1\"}", 26, &out), -EBADMSG);
	ck_assert_int_eq(fetch_token_parse("{}", 2, &out), -ENOENT);
}
END_TEST

START_TEST(test_urls)
{
	char *out = NULL;
	const char *base = "http://127.0.0.1:5000/v2/a/blobs/sha256:00";

	ck_assert_int_eq(fetch_location_resolve(base, "/v2/b/x?y=1", 11, &out), 0);
	ck_assert_str_eq(out, "http://127.0.0.1:5000/v2/b/x?y=1");
	free(out);
	ck_assert_int_eq(fetch_location_resolve(base, "https://s3.example/k", 20, &out), 0);
	free(out);
	ck_assert_int_eq(fetch_location_resolve(base, "file:///etc/passwd", 18, &out), -EBADMSG);
	ck_assert_int_eq(fetch_location_resolve(base, "/a\r\nb", 5, &out), -EBADMSG);

	ck_assert_int_eq(fetch_url_allowed("https://registry.example/v2/", false), 0);
	ck_assert_int_eq(fetch_url_allowed("http://127.0.0.1:5000/v2/", false), 0);
	ck_assert_int_eq(fetch_url_allowed("http://localhost/v2/", false), 0);
	ck_assert_int_eq(fetch_url_allowed("http://[::1]:5000/v2/", false), 0);
	ck_assert_int_eq(fetch_url_allowed("http://registry.example/v2/", false), -EPERM);
	ck_assert_int_eq(fetch_url_allowed("http://127.0.0.1.evil.example/v2/", false), -EPERM);
	ck_assert_int_eq(fetch_url_allowed("http://registry.example/v2/", true), 0);
	ck_assert_int_eq(fetch_url_allowed("ftp://registry.example/", true), -EPERM);
}
END_TEST

START_TEST(test_config)
{
	pull_config_t c = { 0 };
	pull_spec_t s;
	char *err = NULL;

	ck_assert_int_eq(pull_config_add_source(&c, "hub=https://registry.example:5000/wasm/mods", &err), 0);
	ck_assert_int_eq(pull_config_add_source(&c, "lo=http://127.0.0.1:5000/x", &err), 0);
	ck_assert_int_eq(pull_config_add_source(&c, "hub=https://other/x", &err), -EINVAL);
	free(err), err = NULL;
	ck_assert_int_eq(pull_config_add_source(&c, "bad=https://h/Upper", &err), -EINVAL);
	free(err), err = NULL;
	ck_assert_int_eq(pull_config_add_source(&c, "bad=https://h/a/../b", &err), -EINVAL);
	free(err), err = NULL;
	ck_assert_int_eq(pull_config_add_source(&c, "bad=https://h", &err), -EINVAL);
	free(err), err = NULL;
	ck_assert_int_eq(pull_config_finish(&c, &err), 0);
	ck_assert_str_eq(c.sources[0].host, "registry.example:5000");
	ck_assert(!c.sources[1].allow_http); /* loopback http needs no flag and gets none */

	ck_assert_int_eq(pull_reference_parse(&c, "hub/other/repo:v1.2", &s, &err), 0);
	ck_assert_str_eq(s.repository, "other/repo");
	ck_assert_str_eq(s.tag, "v1.2");
	ck_assert_int_eq(pull_reference_parse(&c, "hub:latest", &s, &err), 0);
	ck_assert_str_eq(s.repository, "wasm/mods");
	ck_assert_int_eq(pull_reference_parse(&c, "lo@" D1, &s, &err), 0);
	ck_assert_int_eq(s.source_index, 1);
	ck_assert_str_eq(s.digest, D1);
	ck_assert_int_eq(pull_reference_parse(&c, "nosuch:v1", &s, &err), -EINVAL);
	free(err), err = NULL;
	ck_assert_int_eq(pull_reference_parse(&c, "hub/repo", &s, &err), -EINVAL);
	free(err), err = NULL;
	ck_assert_int_eq(pull_reference_parse(&c, "hub@sha256:short", &s, &err), -EINVAL);
	free(err), err = NULL;
	pull_config_done(&c);

	/* plain http elsewhere: only with the insecure flag */
	ck_assert_int_eq(pull_config_add_source(&c, "far=http://registry.example/x", &err), 0);
	ck_assert_int_eq(pull_config_finish(&c, &err), -EINVAL);
	free(err), err = NULL;
	c.insecure = true;
	ck_assert_int_eq(pull_config_finish(&c, &err), 0);
	ck_assert(c.sources[0].allow_http);
	pull_config_done(&c);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "fetch_parse",
		.tests = MVMT_TESTS(
			MVMT_TEST(test_manifest),
			MVMT_TEST(test_challenge),
			MVMT_TEST(test_urls),
			MVMT_TEST(test_config)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "fetch_parse", .tcases = tcases)
