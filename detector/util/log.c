/*
 * Why this file exists: every module logs, and log lines from several camera threads must stay
 * whole and say which camera they are about. Formatting happens into a stack buffer and is
 * written with a single write(2) (atomic for pipes up to PIPE_BUF, and in practice for terminals
 * and files), so no lock is needed.
 */
#define _POSIX_C_SOURCE 200809L
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum so_log_level max_level = SO_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void so_log_set_level(enum so_log_level level)
{
    max_level = level;
}

void so_logv(enum so_log_level level, const char *who, const char *fmt, va_list ap)
{
    if (level > max_level) {
        return;
    }
    char buf[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, ".%03ld %-5s ", ts.tv_nsec / 1000000L,
                  level_names[level]);
    if (who && *who) {
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "[%s] ", who);
    }
    if (n < (int)sizeof(buf)) {
        int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
        n = (m < 0) ? n : n + m;
    }
    if (n > (int)sizeof(buf) - 2) {
        n = (int)sizeof(buf) - 2;
    }
    buf[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
    (void)w;
}

void so_log(enum so_log_level level, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    so_logv(level, who, fmt, ap);
    va_end(ap);
}

char *so_log_redact_url(const char *url, char *out, size_t out_size)
{
    if (!out_size) {
        return out;
    }
    if (!url) {
        snprintf(out, out_size, "(null)");
        return out;
    }
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *slash = strchr(host, '/');
    const char *at = strchr(host, '@');
    if (scheme && at && (!slash || at < slash)) {
        snprintf(out, out_size, "%.*s***@%s", (int)(host - url), url, at + 1);
    } else {
        snprintf(out, out_size, "%s", url);
    }
    return out;
}
