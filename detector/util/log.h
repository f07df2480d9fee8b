/*
 * Logging: one line per message on stderr, prefixed with the wall time, the level and the
 * component (usually a camera id) that the message concerns.
 *
 * Thread-safe: each message is formatted into a local buffer and written with one write(2), so
 * lines from different threads never interleave. No global mutable state but the level, which is
 * set once at start-up before threads exist.
 */
#ifndef SO_UTIL_LOG_H
#define SO_UTIL_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum so_log_level {
    SO_LOG_ERROR = 0,
    SO_LOG_WARN,
    SO_LOG_INFO,
    SO_LOG_DEBUG,
};

/* Set the most verbose level printed (default SO_LOG_INFO). Call before starting threads. */
void so_log_set_level(enum so_log_level level);

/* Log one message. `who` names the component or camera (may be NULL). */
void so_log(enum so_log_level level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void so_logv(enum so_log_level level, const char *who, const char *fmt, va_list ap);

#define so_err(who, ...) so_log(SO_LOG_ERROR, who, __VA_ARGS__)
#define so_warn(who, ...) so_log(SO_LOG_WARN, who, __VA_ARGS__)
#define so_info(who, ...) so_log(SO_LOG_INFO, who, __VA_ARGS__)
#define so_debug(who, ...) so_log(SO_LOG_DEBUG, who, __VA_ARGS__)

/*
 * Copy `url` into `out` with any user:password@ credentials replaced by "***@", so that URLs
 * can be logged. Always NUL-terminates (truncating if needed). Returns out.
 */
char *so_log_redact_url(const char *url, char *out, size_t out_size);

#endif
