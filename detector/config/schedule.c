/*
 * Why this file exists: zone rules are enforced only inside operator-given windows (a market
 * street is legal for stalls in the evening, a bay is a no-parking zone on work days). Windows
 * are written by people ("mon-fri 07:00-20:00", "sun 22:00-06:00"), so the parser is forgiving
 * about spacing and case, accepts full day names, and when it rejects a window it says what was
 * expected and quotes what it got.
 *
 * Representation: a bitmap of the 10080 minutes of a week (1260 bytes), Monday 00:00 first.
 * Any number of windows, ranges that wrap (fri-mon), windows that cross midnight (they run into
 * the next day, and from Sunday into Monday) all reduce to setting bits, and the hot-path
 * question "is this minute enforced?" is one bit test. The cost is minute resolution, which is
 * what the syntax can express anyway.
 */
#define _POSIX_C_SOURCE 200809L
#include "schedule.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define EXPECTED "expected \"DAYS HH:MM-HH:MM\" with DAYS like mon-fri or sat,sun"

static const char *const day_short[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *const day_long[7] = {"monday", "tuesday", "wednesday", "thursday",
                                        "friday", "saturday", "sunday"};

void so_schedule_init_empty(struct so_schedule *s)
{
    memset(s, 0, sizeof(*s));
}

void so_schedule_init_always(struct so_schedule *s)
{
    memset(s, 0, sizeof(*s));
    s->always = true;
}

static void set_minute(struct so_schedule *s, int m)
{
    m %= SO_MINUTES_PER_WEEK;
    s->bits[m >> 3] |= (uint8_t)(1u << (m & 7));
}

bool so_schedule_active_at(const struct so_schedule *s, int minute_of_week)
{
    if (s->always) {
        return true;
    }
    int m = minute_of_week % SO_MINUTES_PER_WEEK;
    if (m < 0) {
        m += SO_MINUTES_PER_WEEK;
    }
    return (s->bits[m >> 3] >> (m & 7)) & 1u;
}

bool so_schedule_active(const struct so_schedule *s, double unix_time)
{
    if (s->always) {
        return true;
    }
    time_t t = (time_t)floor(unix_time);
    struct tm tm;
    if (!localtime_r(&t, &tm)) {
        return true; /* cannot tell: enforcing is the safe side */
    }
    int day = (tm.tm_wday + 6) % 7; /* tm_wday: 0 = Sunday */
    return so_schedule_active_at(s, day * 1440 + tm.tm_hour * 60 + tm.tm_min);
}

/* Report "DETAIL: expected ..., got "WINDOW"" (or without the detail). Always returns -1. */
static int fail(char *err, size_t err_size, const char *window, const char *detail)
{
    if (err && err_size) {
        if (detail) {
            snprintf(err, err_size, "%s: " EXPECTED ", got \"%s\"", detail, window);
        } else {
            snprintf(err, err_size, EXPECTED ", got \"%s\"", window);
        }
    }
    return -1;
}

static int parse_day(const char *name)
{
    for (int d = 0; d < 7; d++) {
        if (strcmp(name, day_short[d]) == 0 || strcmp(name, day_long[d]) == 0) {
            return d;
        }
    }
    return -1;
}

static char *trim(char *p)
{
    while (isspace((unsigned char)*p)) {
        p++;
    }
    size_t n = strlen(p);
    while (n > 0 && isspace((unsigned char)p[n - 1])) {
        p[--n] = '\0';
    }
    return p;
}

/* Parse "H:MM" or "HH:MM" (0..24, 00..59) at *p into minutes of the day; advances *p. */
static bool parse_clock(const char **p, int *minutes)
{
    const char *q = *p;
    int h = 0, digits = 0;
    while (isdigit((unsigned char)*q) && digits < 3) {
        h = h * 10 + (*q++ - '0');
        digits++;
    }
    if (digits < 1 || digits > 2 || *q != ':') {
        return false;
    }
    q++;
    if (!isdigit((unsigned char)q[0]) || !isdigit((unsigned char)q[1]) ||
        isdigit((unsigned char)q[2])) {
        return false;
    }
    int m = (q[0] - '0') * 10 + (q[1] - '0');
    if (h > 24 || m > 59 || (h == 24 && m != 0)) {
        return false;
    }
    *minutes = h * 60 + m;
    *p = q + 2;
    return true;
}

/*
 * One left-to-right parse of `DAYS HH:MM-HH:MM` (day lists and ranges, wrapping ranges, times
 * crossing midnight) with an exact error message at each place it can fail: one reading of the
 * text, kept in one function so that every message says where in the window it stopped.
 */
int so_schedule_add(struct so_schedule *s, const char *window, char *err, size_t err_size)
{
    char buf[160], detail[128];
    if (!window) {
        return fail(err, err_size, "", "no window given");
    }
    if (strlen(window) >= sizeof(buf)) {
        return fail(err, err_size, window, "window too long");
    }
    /* Days never contain digits: split before the first digit. Lower-case the days. */
    snprintf(buf, sizeof(buf), "%s", window);
    char *digit = buf;
    while (*digit && !isdigit((unsigned char)*digit)) {
        *digit = (char)tolower((unsigned char)*digit);
        digit++;
    }
    if (!*digit) {
        return fail(err, err_size, window, "missing the time range");
    }
    char times[160];
    snprintf(times, sizeof(times), "%s", digit);
    *digit = '\0';
    char *days = trim(buf);
    if (!*days) {
        return fail(err, err_size, window, "missing the days");
    }

    /* Days: a comma list of days, ranges (wrapping), "daily" or "*". */
    bool on[7] = {false};
    char *save = NULL;
    for (char *item = strtok_r(days, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        item = trim(item);
        if (strcmp(item, "daily") == 0 || strcmp(item, "*") == 0) {
            for (int d = 0; d < 7; d++) {
                on[d] = true;
            }
            continue;
        }
        char *dash = strchr(item, '-');
        if (dash) {
            *dash = '\0';
            char *a = trim(item), *b = trim(dash + 1);
            int da = parse_day(a), db = parse_day(b);
            if (da < 0 || db < 0) {
                snprintf(detail, sizeof(detail), "unknown day \"%.20s\"", da < 0 ? a : b);
                return fail(err, err_size, window, detail);
            }
            for (int d = da;; d = (d + 1) % 7) {
                on[d] = true;
                if (d == db) {
                    break;
                }
            }
        } else {
            int d = parse_day(item);
            if (d < 0) {
                snprintf(detail, sizeof(detail), "unknown day \"%.20s\"", item);
                return fail(err, err_size, window, detail);
            }
            on[d] = true;
        }
    }
    bool any = false;
    for (int d = 0; d < 7; d++) {
        any = any || on[d];
    }
    if (!any) {
        return fail(err, err_size, window, "missing the days");
    }

    /* Time: HH:MM-HH:MM, spaces allowed around the dash. */
    const char *p = times;
    int start, end;
    bool ok = parse_clock(&p, &start);
    while (ok && *p == ' ') {
        p++;
    }
    ok = ok && *p++ == '-';
    while (ok && *p == ' ') {
        p++;
    }
    ok = ok && parse_clock(&p, &end);
    while (ok && isspace((unsigned char)*p)) {
        p++;
    }
    if (!ok || *p) {
        snprintf(detail, sizeof(detail), "bad time range \"%.40s\" (HH:MM-HH:MM, 00:00 to 24:00)",
                 trim(times));
        return fail(err, err_size, window, detail);
    }
    if (start == 1440) {
        return fail(err, err_size, window, "24:00 is only valid as the end of a window");
    }

    int len = end > start ? end - start : (end == start ? 1440 : 1440 - start + end);
    for (int d = 0; d < 7; d++) {
        if (!on[d]) {
            continue;
        }
        for (int m = 0; m < len; m++) {
            set_minute(s, d * 1440 + start + m);
        }
    }
    return 0;
}

/* --- describe: bitmap back to windows, for summaries ---------------------------------------- */

struct run {
    int start, len;
};

static void append(char *out, size_t size, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *out, size_t size, size_t *pos, const char *fmt, ...)
{
    if (*pos >= size) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *pos, size - *pos, fmt, ap);
    va_end(ap);
    if (n > 0) {
        *pos += (size_t)n;
    }
    if (*pos >= size) {
        *pos = size;
    }
}

static void append_days(char *out, size_t size, size_t *pos, unsigned mask)
{
    if (mask == 0x7f) {
        append(out, size, pos, "daily");
        return;
    }
    bool first = true;
    for (int d = 0; d < 7;) {
        if (!(mask & (1u << d))) {
            d++;
            continue;
        }
        int e = d;
        while (e + 1 < 7 && (mask & (1u << (e + 1)))) {
            e++;
        }
        append(out, size, pos, "%s%s", first ? "" : ",", day_short[d]);
        if (e > d) {
            append(out, size, pos, "%s%s", e == d + 1 ? "," : "-", day_short[e]);
        }
        first = false;
        d = e + 1;
    }
}

int so_schedule_first_clear(const struct so_schedule *s)
{
    for (int m = 0; m < SO_MINUTES_PER_WEEK; m++) {
        if (!so_schedule_active_at(s, m)) {
            return m;
        }
    }
    return -1;
}

bool so_schedule_next_run(const struct so_schedule *s, int clear, int *pos, int *start,
                          int *len)
{
    while (*pos < SO_MINUTES_PER_WEEK) {
        int m = (clear + ++*pos) % SO_MINUTES_PER_WEEK;
        if (!so_schedule_active_at(s, m)) {
            continue;
        }
        int n = 0;
        while (so_schedule_active_at(s, (m + n) % SO_MINUTES_PER_WEEK)) {
            n++;
        }
        *pos += n - 1;
        *start = m;
        *len = n;
        return true;
    }
    return false;
}

char *so_schedule_describe(const struct so_schedule *s, char *out, size_t size)
{
    if (!size) {
        return out;
    }
    out[0] = '\0';
    size_t pos = 0;
    if (s->always) {
        append(out, size, &pos, "always");
        return out;
    }
    int clear = so_schedule_first_clear(s);
    if (clear < 0) {
        append(out, size, &pos, "all week");
        return out;
    }
    /* Collect runs starting after a clear minute, so none is split by the week's end. */
    struct run runs[64];
    size_t n_runs = 0;
    bool truncated = false;
    int at = 0, run_start, run_len;
    while (so_schedule_next_run(s, clear, &at, &run_start, &run_len)) {
        if (n_runs < sizeof(runs) / sizeof(runs[0])) {
            runs[n_runs++] = (struct run){run_start, run_len};
        } else {
            truncated = true;
        }
    }
    if (n_runs == 0) {
        append(out, size, &pos, "never");
        return out;
    }
    /* Group runs with the same time of day and length (< 1 day) into one day list. */
    bool used[64] = {false};
    bool first = true;
    for (size_t i = 0; i < n_runs; i++) {
        if (used[i]) {
            continue;
        }
        int tod = runs[i].start % 1440, len = runs[i].len;
        append(out, size, &pos, "%s", first ? "" : ", ");
        first = false;
        if (len > 1440 || (len == 1440 && tod != 0)) {
            int e = (runs[i].start + len) % SO_MINUTES_PER_WEEK;
            append(out, size, &pos, "%s %02d:%02d-%s %02d:%02d", day_short[runs[i].start / 1440],
                   tod / 60, tod % 60, day_short[e / 1440], (e % 1440) / 60, e % 60);
            used[i] = true;
            continue;
        }
        unsigned mask = 0;
        for (size_t j = i; j < n_runs; j++) {
            if (!used[j] && runs[j].start % 1440 == tod && runs[j].len == len) {
                mask |= 1u << (runs[j].start / 1440);
                used[j] = true;
            }
        }
        int end = (tod + len) > 1440 ? tod + len - 1440 : tod + len;
        append_days(out, size, &pos, mask);
        append(out, size, &pos, " %02d:%02d-%02d:%02d", tod / 60, tod % 60, end / 60, end % 60);
    }
    if (truncated) {
        append(out, size, &pos, ", ...");
    }
    return out;
}
