/* Clocks and time formatting shared by every module. Thread-safe. */
#ifndef SO_UTIL_TIMEUTIL_H
#define SO_UTIL_TIMEUTIL_H

#include <stddef.h>
#include <time.h>

/* Unix time now (CLOCK_REALTIME), seconds. */
double so_time_wall(void);

/* Monotonic seconds (CLOCK_MONOTONIC) for intervals and timeouts. */
double so_time_mono(void);

/* CPU seconds the calling thread has used (CLOCK_THREAD_CPUTIME_ID): what a stage of work
 * costs, without the time it waited or was preempted. */
double so_time_thread_cpu(void);

/* A time in seconds of either clock as a struct timespec (tv_nsec in [0, 1e9)), for
 * pthread_cond_timedwait and friends. Negative times give {0, 0}. */
struct timespec so_time_timespec(double seconds);

/* ISO-8601 local time with milliseconds and offset, e.g. "2026-11-27T12:03:41.200+08:00",
 * in the process time zone (TZ). Returns buf. */
char *so_time_iso8601(double unix_time, char *buf, size_t size);

/* Parse an ISO-8601 time with an offset ("2026-11-27T12:03:41.200+08:00", "...Z"; seconds and
 * their fraction optional): 0 and the Unix time in *out, or -EINVAL (no offset: ambiguous). */
int so_time_parse_iso8601(const char *s, double *out);

/* "1h02m05s", "3m00s", "42s" for a duration in seconds. Returns buf. */
char *so_time_duration(double seconds, char *buf, size_t size);

#endif
