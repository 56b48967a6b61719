/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the schema pattern matcher against glibc's regexec.
 * Input: one byte of pattern length, the pattern, then the subject. Every
 * pattern the fast matcher takes must give regexec's answer.
 */
/* fuzz-sources: rpc/pattern.c */
#include <stdlib.h>
#include <string.h>
#include "rpc-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t plen = data[0] % 40;
	if (size - 1 < plen)
		return 0;
	char pat[41], subj[257];
	memcpy(pat, data + 1, plen);
	pat[plen] = '\0';
	size_t slen = MIN(size - 1 - plen, sizeof(subj) - 1);
	memcpy(subj, data + 1 + plen, slen);
	subj[slen] = '\0';
	if (strlen(pat) != plen || strlen(subj) != slen)
		return 0; /* no NULs: schema strings never hold one */
	/* Patterns come from our own method tables, not from clients; keep
	 * to ones glibc itself copes with: no back-references (regexec may
	 * take forever) and no stacked quantifiers ("a+++...": regcomp eats
	 * gigabytes). */
	for (size_t i = 0; i + 1 < plen; i++) {
		if (pat[i] == '\\' && pat[i + 1] >= '0' && pat[i + 1] <= '9')
			return 0;
		if (strchr("*+?}", pat[i]) && strchr("*+?{", pat[i + 1]))
			return 0;
	}

	rpc_pattern_t *p;
	if (rpc_pattern_compile(pat, &p) < 0)
		return 0;
	if (rpc_pattern_is_fast(p)) {
		regex_t re;
		char full[64];
		snprintf(full, sizeof(full), "^(%s)$", pat);
		if (regcomp(&re, full, REG_EXTENDED | REG_NOSUB) != 0)
			abort();
		bool want = regexec(&re, subj, 0, NULL, 0) == 0;
		if (rpc_pattern_match(p, subj, slen) != want)
			abort();
		regfree(&re);
	}
	rpc_pattern_free(p);
	return 0;
}
