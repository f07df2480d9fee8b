/*
 * Enforcement schedules: a weekly bitmap of minutes built from windows like
 * "mon-fri 07:00-20:00", "sat,sun 09:00-18:00", "daily 22:00-06:00" (crossing midnight: the
 * window starts on the listed days and runs into the next day). Value type, no allocation.
 */
#ifndef SO_CONFIG_SCHEDULE_H
#define SO_CONFIG_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SO_MINUTES_PER_WEEK (7 * 1440)

struct so_schedule {
    bool always;                                /* true: no schedule given, always enforced */
    uint8_t bits[SO_MINUTES_PER_WEEK / 8];      /* minute m of the week (0 = Monday 00:00) */
};

/* Start an empty schedule (never enforced, always = false). */
void so_schedule_init_empty(struct so_schedule *s);

/* Start an always-enforced schedule. */
void so_schedule_init_always(struct so_schedule *s);

/*
 * Add one window "DAYS HH:MM-HH:MM". DAYS is a comma list of days (mon tue wed thu fri sat
 * sun) or ranges (mon-fri, fri-mon wraps), or "daily"/"*". HH 00-24, MM 00-59; "24:00" only as
 * an end. Start == end means the whole day. Returns 0, or -1 with a message in err saying what
 * was expected.
 */
int so_schedule_add(struct so_schedule *s, const char *window, char *err, size_t err_size);

/* Is minute-of-week `m` (0 = Monday 00:00) enforced? */
bool so_schedule_active_at(const struct so_schedule *s, int minute_of_week);

/* The first minute of the week (0 = Monday 00:00) that is not enforced, or -1 when every
 * minute is (a schedule's windows are then best said as the whole week). */
int so_schedule_first_clear(const struct so_schedule *s);

/*
 * The runs of enforced minutes, in order, each starting after a clear minute so that none is
 * split by the end of the week. `clear` is so_schedule_first_clear() (must be >= 0); start with
 * *pos = 0. Sets the run's first minute of the week and its length; false when there is none
 * left.
 */
bool so_schedule_next_run(const struct so_schedule *s, int clear, int *pos, int *start,
                          int *len);

/* Is Unix time `t` enforced, in the process's local time zone (TZ)? */
bool so_schedule_active(const struct so_schedule *s, double unix_time);

/*
 * Write a readable form of the bitmap into out (always NUL-terminated, truncated if needed),
 * e.g. "mon-fri 07:00-20:00, sat,sun 09:00-18:00", "always", "never". Windows are rebuilt from
 * the bits, so overlapping inputs come back merged. Returns out.
 */
char *so_schedule_describe(const struct so_schedule *s, char *out, size_t size);

#endif
