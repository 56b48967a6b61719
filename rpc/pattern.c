/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whole-string matching of the schemas' POSIX extended patterns.
 *
 * Schema patterns are nearly always a run of character classes with
 * counts ("[A-Za-z0-9][A-Za-z0-9._-]{0,62}"), and glibc's regexec is slow
 * on bounded repeats: its DFA states carry one node per optional copy,
 * which showed up as a quarter of a compute.vm.status call. Such patterns
 * are matched here in O(pieces x length) without backtracking: the set of
 * string positions reachable after each piece, computed from the run
 * length of the piece's class at every position. Anything else (groups,
 * alternation, anchors, named classes) and very long strings go to
 * regexec, which also checks every pattern's syntax at compile time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "rpc-internal.h"

#define PIECES_MAX 32
#define FAST_LEN_MAX 4096

typedef struct piece {
	uint64_t set[4];   /* bytes this piece accepts */
	unsigned min, max; /* max UINT32_MAX = unbounded */
} piece_t;

struct rpc_pattern {
	regex_t re;
	size_t n_pieces;   /* 0: not fast-pathable, use re */
	piece_t pieces[PIECES_MAX];
};

static void set_add(piece_t *p, unsigned char c)
{
	p->set[c >> 6] |= UINT64_C(1) << (c & 63);
}

static bool set_has(const piece_t *p, unsigned char c)
{
	return p->set[c >> 6] >> (c & 63) & 1;
}

/* Parses "[...]" starting after '['; returns the index after ']', or 0
 * when it uses something this matcher does not do. */
static size_t parse_bracket(const char *s, size_t i, piece_t *p)
{
	bool negate = false;
	uint64_t set[4] = { 0 };
	size_t start;

	if (s[i] == '^') {
		negate = true;
		i++;
	}
	start = i;
	for (;;) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0')
			return 0;
		if (c == ']' && i > start)
			break;
		if (c == '[' && (s[i + 1] == ':' || s[i + 1] == '.' || s[i + 1] == '='))
			return 0; /* named classes, collating elements */
		unsigned char hi = c;
		if (s[i + 1] == '-' && s[i + 2] != ']' && s[i + 2] != '\0') {
			hi = (unsigned char)s[i + 2];
			if (hi == '[')
				return 0;
			if (hi < c)
				return 0; /* regcomp rejects it anyway */
			i += 2;
		}
		for (unsigned k = c; k <= hi; k++)
			set[k >> 6] |= UINT64_C(1) << (k & 63);
		i++;
	}
	for (int w = 0; w < 4; w++)
		p->set[w] = negate ? ~set[w] : set[w];
	/* Strings never contain NUL; keep it out of negated sets too. */
	p->set[0] &= ~UINT64_C(1);
	return i + 1;
}

static bool parse_count(const char *s, size_t *i, unsigned *ret)
{
	unsigned long v = 0;
	size_t j = *i;
	if (s[j] < '0' || s[j] > '9')
		return false;
	while (s[j] >= '0' && s[j] <= '9') {
		v = v * 10 + (unsigned long)(s[j++] - '0');
		if (v > 255) /* RE_DUP_MAX */
			return false;
	}
	*i = j;
	*ret = (unsigned)v;
	return true;
}

/* Compiles the fast form; false when the pattern is outside its subset. */
static bool fast_compile(const char *s, rpc_pattern_t *pat)
{
	size_t i = 0, n = 0;

	while (s[i]) {
		if (n == PIECES_MAX)
			return false;
		piece_t *p = &pat->pieces[n];
		memset(p, 0, sizeof(*p));
		p->min = p->max = 1;
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '[':
			if (!(i = parse_bracket(s, i + 1, p)))
				return false;
			break;
		case '.':
			memset(p->set, 0xff, sizeof(p->set));
			p->set[0] &= ~UINT64_C(1);
			i++;
			break;
		case '\\':
			c = (unsigned char)s[i + 1];
			/* Only escaped punctuation is a plain literal. */
			if (!c || !strchr(".[]()*+?{}|^$\\/-", c))
				return false;
			set_add(p, c);
			i += 2;
			break;
		case '(': case ')': case '|': case '^': case '$': case '*': case '+': case '?': case '{':
			return false;
		default:
			set_add(p, c);
			i++;
		}
		/* One quantifier; a second one is left to regcomp's judgement. */
		switch (s[i]) {
		case '*': p->min = 0; p->max = UINT32_MAX; i++; break;
		case '+': p->min = 1; p->max = UINT32_MAX; i++; break;
		case '?': p->min = 0; p->max = 1; i++; break;
		case '{':
			i++;
			if (!parse_count(s, &i, &p->min))
				return false;
			p->max = p->min;
			if (s[i] == ',') {
				i++;
				p->max = UINT32_MAX;
				if (s[i] != '}' && !parse_count(s, &i, &p->max))
					return false;
			}
			if (s[i] != '}' || p->max < p->min)
				return false;
			i++;
			break;
		}
		if (s[i] == '*' || s[i] == '+' || s[i] == '?' || s[i] == '{')
			return false;
		n++;
	}
	pat->n_pieces = n;
	return n > 0;
}

int rpc_pattern_compile(const char *pattern, rpc_pattern_t **ret)
{
	size_t len = strlen(pattern);
	rpc_pattern_t *p = calloc(1, sizeof(*p));
	char *full = malloc(len + 5);
	int r;

	if (!p || !full) {
		free(p);
		free(full);
		return -ENOMEM;
	}
	snprintf(full, len + 5, "^(%s)$", pattern);
	r = regcomp(&p->re, full, REG_EXTENDED | REG_NOSUB);
	free(full);
	if (r != 0) {
		free(p);
		return r == REG_ESPACE ? -ENOMEM : -EINVAL;
	}
	if (!fast_compile(pattern, p))
		p->n_pieces = 0;
	*ret = p;
	return 0;
}

rpc_pattern_t *rpc_pattern_free(rpc_pattern_t *p)
{
	if (p) {
		regfree(&p->re);
		free(p);
	}
	return NULL;
}

bool rpc_pattern_match(const rpc_pattern_t *p, const char *s, size_t n)
{
	if (p->n_pieces == 0 || n > FAST_LEN_MAX)
		return regexec(&p->re, s, 0, NULL, 0) == 0;

	/* reach[i]: s[0..i) matches the pieces so far. run: how many bytes
	 * of the current piece's class start at each position. */
	uint8_t reach[FAST_LEN_MAX + 1];
	int32_t next[FAST_LEN_MAX + 2];
	uint32_t run[FAST_LEN_MAX + 1];
	memset(reach, 0, n + 1);
	reach[0] = 1;
	for (size_t k = 0; k < p->n_pieces; k++) {
		const piece_t *pc = &p->pieces[k];
		run[n] = 0;
		for (size_t i = n; i-- > 0;)
			run[i] = set_has(pc, (unsigned char)s[i]) ? run[i + 1] + 1 : 0;
		/* Mark [i+min, i+min(max,run)] for every reachable i, as a
		 * difference array, then sum it up. */
		memset(next, 0, (n + 2) * sizeof(next[0]));
		bool any = false;
		for (size_t i = 0; i <= n; i++) {
			if (!reach[i] || run[i] < pc->min)
				continue;
			size_t lo = i + pc->min, hi = i + MIN((size_t)pc->max, (size_t)run[i]);
			next[lo]++;
			next[hi + 1]--;
			any = true;
		}
		if (!any)
			return false;
		int acc = 0;
		for (size_t i = 0; i <= n; i++) {
			acc += next[i];
			reach[i] = acc > 0;
		}
	}
	return reach[n];
}

bool rpc_pattern_is_fast(const rpc_pattern_t *p)
{
	return p->n_pieces > 0;
}
