/* Clock helpers: one place for realtime/monotonic reads and the ISO-8601 form of the contract. */
#include "timeutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double so_time_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double so_time_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double so_time_thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct timespec so_time_timespec(double seconds)
{
    if (!(seconds > 0)) {
        return (struct timespec){0, 0};
    }
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

char *so_time_iso8601(double unix_time, char *buf, size_t size)
{
    double whole = floor(unix_time);
    time_t t = (time_t)whole;
    int ms = (int)((unix_time - whole) * 1000.0 + 0.5);
    if (ms >= 1000) {
        t += 1;
        ms -= 1000;
    }
    struct tm tm;
    localtime_r(&t, &tm);
    char date[32], zone[8];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(zone, sizeof(zone), "%z", &tm);    /* +0800 */
    if (strlen(zone) == 5) {
        snprintf(buf, size, "%s.%03d%.3s:%.2s", date, ms, zone, zone + 3);
    } else {
        snprintf(buf, size, "%s.%03dZ", date, ms);
    }
    return buf;
}

int so_time_parse_iso8601(const char *s, double *out)
{
    struct tm tm = {0};
    int n = 0, sec = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &n) != 5 || n != 16) {
        return -EINVAL;
    }
    const char *p = s + n;
    double frac = 0;
    if (*p == ':') {
        int m = 0;
        if (sscanf(p, ":%2d%n", &sec, &m) != 1 || m != 3) {
            return -EINVAL;
        }
        p += m;
        if (*p == '.') {
            char *end;
            frac = strtod(p, &end);
            p = end;
        }
    }
    int off = 0, oh = 0, om = 0, m = 0;
    if (*p == 'Z' && !p[1]) {
        off = 0;
    } else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d%n", &oh, &om, &m) == 2 &&
               m == 5 && !p[6]) {
        off = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    } else {
        return -EINVAL;
    }
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || sec > 60 || oh > 23 || om > 59) {
        return -EINVAL;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_sec = sec;
    *out = (double)timegm(&tm) - off + frac;
    return 0;
}

char *so_time_duration(double seconds, char *buf, size_t size)
{
    long s = seconds < 0 ? 0 : (long)(seconds + 0.5);
    if (s >= 3600) {
        snprintf(buf, size, "%ldh%02ldm%02lds", s / 3600, (s / 60) % 60, s % 60);
    } else if (s >= 60) {
        snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
    } else {
        snprintf(buf, size, "%lds", s);
    }
    return buf;
}
