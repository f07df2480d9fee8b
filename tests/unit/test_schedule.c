/* Unit tests for detector/config/schedule.c: parsing, day ranges, midnight, describe. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "schedule.h"
#include "testlib.h"

enum { MON, TUE, WED, THU, FRI, SAT, SUN };

static int at(int day, int hour, int minute)
{
    return day * 1440 + hour * 60 + minute;
}

struct probe {
    int day, hour, minute;
    bool active;
};

struct sched_case {
    const char *windows[3];     /* NULL-terminated */
    struct probe probes[8];     /* terminated by day -1 */
};

struct bad_case {
    const char *window;
    const char *message;        /* substring expected in the error */
};

int main(void)
{
    const struct sched_case cases[] = {
        {{"mon-fri 07:00-20:00"},
         {{MON, 7, 0, true}, {MON, 6, 59, false}, {FRI, 19, 59, true}, {FRI, 20, 0, false},
          {SAT, 12, 0, false}, {WED, 12, 0, true}, {-1, 0, 0, false}}},
        {{"sat,sun 09:00-18:00"},
         {{SAT, 9, 0, true}, {SUN, 17, 59, true}, {SUN, 18, 0, false}, {FRI, 12, 0, false},
          {-1, 0, 0, false}}},
        /* day range wrapping the week end */
        {{"fri-mon 10:00-11:00"},
         {{FRI, 10, 30, true}, {SAT, 10, 30, true}, {SUN, 10, 30, true}, {MON, 10, 30, true},
          {TUE, 10, 30, false}, {THU, 10, 30, false}, {-1, 0, 0, false}}},
        /* crossing midnight, and from Sunday into Monday */
        {{"sun 22:00-06:00"},
         {{SUN, 22, 0, true}, {SUN, 23, 59, true}, {MON, 3, 0, true}, {MON, 6, 0, false},
          {SUN, 3, 0, false}, {SAT, 23, 0, false}, {-1, 0, 0, false}}},
        /* 24:00 end */
        {{"wed 18:00-24:00"},
         {{WED, 23, 59, true}, {THU, 0, 0, false}, {WED, 17, 59, false}, {-1, 0, 0, false}}},
        /* daily, and "*" */
        {{"daily 12:00-13:00"},
         {{MON, 12, 0, true}, {SUN, 12, 59, true}, {THU, 13, 0, false}, {-1, 0, 0, false}}},
        {{"* 00:00-01:00"}, {{SAT, 0, 30, true}, {SAT, 1, 0, false}, {-1, 0, 0, false}}},
        /* start == end: the whole day */
        {{"tue 00:00-00:00"},
         {{TUE, 0, 0, true}, {TUE, 23, 59, true}, {WED, 0, 0, false}, {MON, 23, 59, false},
          {-1, 0, 0, false}}},
        /* lists mixing ranges and days, several windows, case and spacing */
        {{"Mon-Tue, thu 08:00 - 09:00", "saturday 7:30-8:00"},
         {{MON, 8, 0, true}, {TUE, 8, 59, true}, {WED, 8, 0, false}, {THU, 8, 30, true},
          {SAT, 7, 30, true}, {SAT, 8, 0, false}, {SAT, 7, 29, false}, {-1, 0, 0, false}}},
    };
    char err[256];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct sched_case *c = &cases[i];
        struct so_schedule s;
        so_schedule_init_empty(&s);
        for (size_t w = 0; w < 3 && c->windows[w]; w++) {
            err[0] = '\0';
            int rc = so_schedule_add(&s, c->windows[w], err, sizeof(err));
            so_test_check(rc == 0, __FILE__, __LINE__, "parse \"%s\" (%s)", c->windows[w], err);
        }
        for (size_t p = 0; c->probes[p].day >= 0; p++) {
            const struct probe *pr = &c->probes[p];
            bool act = so_schedule_active_at(&s, at(pr->day, pr->hour, pr->minute));
            so_test_check(act == pr->active, __FILE__, __LINE__,
                          "\"%s\": day %d %02d:%02d is %s", c->windows[0], pr->day, pr->hour,
                          pr->minute, pr->active ? "active" : "inactive");
        }
    }

    const struct bad_case bad[] = {
        {"monday 7-20", "expected \"DAYS HH:MM-HH:MM\" with DAYS like mon-fri or sat,sun, "
                        "got \"monday 7-20\""},
        {"mon-fri", "missing the time range"},
        {"07:00-20:00", "missing the days"},
        {"funday 07:00-20:00", "unknown day \"funday\""},
        {"mon-xyz 07:00-20:00", "unknown day \"xyz\""},
        {"mon 25:00-26:00", "bad time range"},
        {"mon 07:60-08:00", "bad time range"},
        {"mon 24:00-06:00", "24:00 is only valid as the end"},
        {"mon 24:30", "bad time range"},
        {"mon 07:00-20:00 extra", "bad time range"},
        {"mon 07:00", "bad time range"},
        {", 07:00-08:00", "missing the days"},
        {"", "missing the time range"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct so_schedule s;
        so_schedule_init_empty(&s);
        err[0] = '\0';
        int rc = so_schedule_add(&s, bad[i].window, err, sizeof(err));
        so_test_check(rc == -1, __FILE__, __LINE__, "reject \"%s\"", bad[i].window);
        CHECK_CONTAINS(err, bad[i].message);
        CHECK_CONTAINS(err, "expected \"DAYS HH:MM-HH:MM\"");
    }

    /* Empty and always schedules. */
    struct so_schedule s;
    so_schedule_init_empty(&s);
    CHECK(!so_schedule_active_at(&s, at(MON, 12, 0)));
    so_schedule_init_always(&s);
    CHECK(so_schedule_active_at(&s, at(SUN, 23, 59)));
    CHECK(so_schedule_active(&s, 0.0));

    /* Wall time: TZ=UTC, 2024-01-01 was a Monday. 03:00 Monday is inside "sun 22:00-06:00". */
    setenv("TZ", "UTC", 1);
    tzset();
    so_schedule_init_empty(&s);
    CHECK_INT(so_schedule_add(&s, "sun 22:00-06:00", err, sizeof(err)), 0);
    double monday_0300 = 1704078000.0; /* 2024-01-01T03:00:00Z */
    CHECK(so_schedule_active(&s, monday_0300));
    CHECK(so_schedule_active(&s, monday_0300 - 4 * 3600.0)); /* Sunday 23:00 */
    CHECK(!so_schedule_active(&s, monday_0300 + 3 * 3600.0)); /* Monday 06:00 */
    CHECK(!so_schedule_active(&s, monday_0300 + 86400.0));    /* Tuesday 03:00 */

    /* Describe turns the bitmap back into windows. */
    char buf[256];
    so_schedule_init_empty(&s);
    CHECK_INT(so_schedule_add(&s, "mon-fri 07:00-20:00", err, sizeof(err)), 0);
    CHECK_INT(so_schedule_add(&s, "sat-sun 09:00-18:00", err, sizeof(err)), 0);
    CHECK_STR(so_schedule_describe(&s, buf, sizeof(buf)),
              "mon-fri 07:00-20:00, sat,sun 09:00-18:00");
    so_schedule_init_empty(&s);
    CHECK_INT(so_schedule_add(&s, "daily 22:00-06:00", err, sizeof(err)), 0);
    CHECK_STR(so_schedule_describe(&s, buf, sizeof(buf)), "daily 22:00-06:00");
    so_schedule_init_empty(&s);
    CHECK_STR(so_schedule_describe(&s, buf, sizeof(buf)), "never");
    so_schedule_init_always(&s);
    CHECK_STR(so_schedule_describe(&s, buf, sizeof(buf)), "always");
    return so_test_done();
}
