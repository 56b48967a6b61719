/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include "util/log.h"

static int log_max_level = LOG_INFO;

static const char *const log_level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "err", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void log_set_max_level(int level)
{
	log_max_level = level < LOG_EMERG ? LOG_EMERG : level > LOG_DEBUG ? LOG_DEBUG : level;
}

int log_get_max_level(void)
{
	return log_max_level;
}

int log_level_from_string(const char *s)
{
	if (!s)
		return -EINVAL;
	for (int i = 0; i < (int)ELEMENTSOF(log_level_names); i++)
		if (strcasecmp(s, log_level_names[i]) == 0)
			return i;
	if (strcasecmp(s, "error") == 0)
		return LOG_ERR;
	if (strcasecmp(s, "warn") == 0)
		return LOG_WARNING;
	if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	return -EINVAL;
}

const char *log_level_to_string(int level)
{
	if (level < 0 || level >= (int)ELEMENTSOF(log_level_names))
		return NULL;
	return log_level_names[level];
}

int log_internalv(int level, int error, const char *fmt, va_list ap)
{
	char prefix[8], msg[2048];
	int saved = errno;

	if (error < 0)
		error = -error;
	if (error > 0)
		errno = error; /* for %m */
	snprintf(prefix, sizeof(prefix), "<%d>", level & LOG_PRIMASK);
	vsnprintf(msg, sizeof(msg), fmt, ap);

	/* One writev so that lines from several processes sharing stderr do
	 * not interleave mid-line. */
	struct iovec iov[3] = {
		{ .iov_base = prefix, .iov_len = strlen(prefix) },
		{ .iov_base = msg, .iov_len = strlen(msg) },
		{ .iov_base = (char *)"\n", .iov_len = 1 },
	};
	(void)!writev(STDERR_FILENO, iov, 3);
	errno = saved;
	return -error;
}

int log_internal(int level, int error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = log_internalv(level, error, fmt, ap);
	va_end(ap);
	return r;
}
