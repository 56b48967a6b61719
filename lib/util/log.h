/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny logger for the daemons: one line per message on stderr, prefixed
 * with the sd-daemon priority ("<6>") so journald files it at the right
 * level when the service runs under systemd.
 *
 * Levels are the syslog ones (LOG_ERR ... LOG_DEBUG); messages above the
 * maximum level are skipped before formatting. The *_errno variants set
 * errno to the given error first (so "%m" works) and return -abs(error),
 * which lets a caller write "return log_error_errno(r, "...: %m");".
 */
#ifndef MVM_UTIL_LOG_H
#define MVM_UTIL_LOG_H

#include <syslog.h>
#include <stdarg.h>
#include "util/macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);
/* "err", "warning", "notice", "info", "debug" (also "error", "warn", or a
 * number 0-7) -> the level, or -EINVAL. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

/* Returns -abs(error), or 0 when error is 0. */
int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);
int log_internalv(int level, int error, const char *fmt, va_list ap) _printf_(3, 0);

#define log_full_errno(level, error, ...)                                     \
	({                                                                    \
		int _l_ = (level), _e_ = (error);                             \
		_l_ <= log_get_max_level() ? log_internal(_l_, _e_, __VA_ARGS__) \
					   : (_e_ > 0 ? -_e_ : _e_);          \
	})

#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)

#define log_error_errno(error, ...) log_full_errno(LOG_ERR, error, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, error, __VA_ARGS__)
#define log_notice_errno(error, ...) log_full_errno(LOG_NOTICE, error, __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, error, __VA_ARGS__)
#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, error, __VA_ARGS__)

#endif
