/*
 * Unit tests for detector/util/timeutil.c: the conversion of a clock reading to a timespec (for
 * timed condvar waits), durations as text, and that the clocks read sensibly; util/stages.c,
 * the per-stage CPU counters built on the thread clock.
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <time.h>

#include "stages.h"
#include "testlib.h"
#include "timeutil.h"

static void test_timespec(void)
{
    static const struct {
        double seconds;
        time_t sec;
        long nsec_min, nsec_max;    /* a range: the double cannot hold every nanosecond */
    } cases[] = {
        {0.0, 0, 0, 0},
        {-1.5, 0, 0, 0},                            /* the past: the epoch, a wait returns */
        {0.25, 0, 250000000L, 250000000L},
        {1.5, 1, 500000000L, 500000000L},
        {12.000000001, 12, 0, 2},
        {86400.999999999, 86400, 999999000L, 999999999L},
        {1764000000.75, 1764000000, 749999000L, 750001000L},  /* a wall-clock reading */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct timespec ts = so_time_timespec(cases[i].seconds);
        so_test_check(ts.tv_sec == cases[i].sec && ts.tv_nsec >= cases[i].nsec_min &&
                          ts.tv_nsec <= cases[i].nsec_max && ts.tv_nsec < 1000000000L,
                      __FILE__, __LINE__, "timespec(%.9f) = {%lld, %ld}", cases[i].seconds,
                      (long long)ts.tv_sec, ts.tv_nsec);
    }
}

static void test_duration(void)
{
    static const struct {
        double seconds;
        const char *text;
    } cases[] = {
        {-3, "0s"}, {0, "0s"}, {41.6, "42s"}, {59.4, "59s"}, {60, "1m00s"},
        {180, "3m00s"}, {3599, "59m59s"}, {3600, "1h00m00s"}, {3725, "1h02m05s"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[32];
        CHECK_STR(so_time_duration(cases[i].seconds, buf, sizeof(buf)), cases[i].text);
    }
}

static void test_clocks(void)
{
    double m0 = so_time_mono(), w = so_time_wall(), m1 = so_time_mono();
    CHECK(m1 >= m0);
    CHECK(w > 1.6e9);   /* after 2020 */
    struct timespec ts = so_time_timespec(w);
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    CHECK(rt.tv_sec - ts.tv_sec >= 0 && rt.tv_sec - ts.tv_sec <= 1);
}

/* The thread's CPU clock counts work and not sleep. */
static void test_thread_cpu(void)
{
    double c0 = so_time_thread_cpu(), m0 = so_time_mono();
    volatile double x = 0;
    while (so_time_thread_cpu() - c0 < 0.02 && so_time_mono() - m0 < 10) {
        for (int i = 0; i < 10000; i++) {
            x += i * 0.5;
        }
    }
    double c1 = so_time_thread_cpu();
    CHECK(c1 - c0 >= 0.02);     /* work advances it (within 10 s even on a crowded machine) */
    struct timespec nap = {0, 50 * 1000 * 1000};
    nanosleep(&nap, NULL);
    CHECK(so_time_thread_cpu() - c1 < 0.02);
}

static void test_stages(void)
{
    static const struct {
        enum so_stage st;
        const char *name;
    } names[] = {
        {SO_STAGE_DECODE, "decode"}, {SO_STAGE_SCALE, "scale"},   {SO_STAGE_STATIC, "static"},
        {SO_STAGE_NETWORK, "network"}, {SO_STAGE_TRACKER, "tracker"}, {SO_STAGE_RULES, "rules"},
        {SO_STAGE_OTHER, "other"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        CHECK_STR(so_stage_name(names[i].st), names[i].name);
    }
    CHECK(so_stage_name(SO_STAGE_COUNT) == NULL);
    struct so_stages s;
    so_stages_init(&s);
    so_stages_add(&s, SO_STAGE_NETWORK, 0.25);
    so_stages_add(&s, SO_STAGE_NETWORK, 0.5);
    so_stages_add(&s, SO_STAGE_DECODE, -1.0);       /* a clock step back: ignored */
    so_stages_add(&s, SO_STAGE_COUNT, 1.0);         /* out of range: ignored */
    so_stages_add(NULL, SO_STAGE_RULES, 1.0);
    CHECK(so_stages_get(&s, SO_STAGE_NETWORK) > 0.749 && so_stages_get(&s, SO_STAGE_NETWORK) <
          0.751);
    CHECK(so_stages_get(&s, SO_STAGE_DECODE) == 0);
    CHECK(so_stages_get(&s, SO_STAGE_COUNT) == 0);
    CHECK(so_stages_get(NULL, SO_STAGE_NETWORK) == 0);
}

int main(void)
{
    test_timespec();
    test_duration();
    test_clocks();
    test_thread_cpu();
    test_stages();
    return so_test_done();
}
