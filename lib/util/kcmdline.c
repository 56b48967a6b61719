/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/hex.h"
#include "util/kcmdline.h"

/* Next word starting at *p: copies it without quotes into out (which has
 * room for strlen(cmdline)+1). Returns false at the end. */
static bool next_word(const char **p, char *out)
{
	const char *s = *p;
	bool quoted = false;
	size_t n = 0;

	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	if (!*s)
		return false;
	for (; *s && (quoted || (*s != ' ' && *s != '\t' && *s != '\n')); s++) {
		if (*s == '"')
			quoted = !quoted;
		else
			out[n++] = *s;
	}
	out[n] = '\0';
	*p = s;
	return true;
}

int kcmdline_get(const char *cmdline, const char *key, char **ret_value)
{
	size_t len = strlen(cmdline), klen = strlen(key);
	char *word, *found = NULL;
	const char *p = cmdline;

	if (len > KCMDLINE_MAX)
		return -E2BIG;
	word = malloc(len + 1);
	if (!word)
		return -ENOMEM;
	while (next_word(&p, word)) {
		if (strcmp(word, "--") == 0)
			break; /* the rest belongs to init's argv */
		if (strncmp(word, key, klen) != 0 || (word[klen] != '=' && word[klen] != '\0'))
			continue;
		free(found);
		found = strdup(word[klen] == '=' ? word + klen + 1 : "");
		if (!found) {
			free(word);
			return -ENOMEM;
		}
	}
	free(word);
	if (!found)
		return 0;
	*ret_value = found;
	return 1;
}

int kcmdline_parse_bool(const char *v)
{
	static const char *const yes[] = { "1", "yes", "true", "on" }, *const no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0)
			return 1;
		if (strcmp(v, no[i]) == 0)
			return 0;
	}
	return -EINVAL;
}

int kcmdline_split_run(const char *value, char ***ret_argv)
{
	size_t len = strlen(value), argc = 1;
	char **argv, *out;

	if (len > KCMDLINE_MAX)
		return -E2BIG;
	for (const char *s = value; *s; s++)
		argc += *s == ',';
	if (argc > KCMDLINE_MAX_ARGS)
		return -E2BIG;
	argv = malloc((argc + 1) * sizeof(char *) + len + 1);
	if (!argv)
		return -ENOMEM;
	out = (char *)(argv + argc + 1);
	argc = 0;
	argv[argc++] = out;
	for (const char *s = value; *s; s++) {
		if (*s == ',') {
			*out++ = '\0';
			argv[argc++] = out;
		} else if (*s == '%') {
			int hi = hex_digit_value(s[1]), lo = hi < 0 ? -1 : hex_digit_value(s[2]);
			if (lo < 0 || (hi == 0 && lo == 0)) {
				free(argv);
				return -EINVAL;
			}
			*out++ = (char)(hi << 4 | lo);
			s += 2;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
	argv[argc] = NULL;
	if (!argv[0][0]) {
		free(argv);
		return -EINVAL;
	}
	*ret_argv = argv;
	return (int)argc;
}
