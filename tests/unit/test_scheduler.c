/*
 * Unit tests for detection on demand (detect/scheduler.c), on the pure decision alone: made-up
 * stationary-age maps, tracker spots and tracker requests, no network. Why a look happens
 * (startup passes, refresh, a came-to-rest burst, a pending track near a zone, nothing far from
 * the zones), the budget a tick may spend (full decode, key frames with a GOP of 2 s), the
 * close-ups (planned around small vehicle zones, longest unlooked first, the deferred ones
 * held) and keyframe mode (people not requested).
 */
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"
#include "testlib.h"
#include "tracker.h"

#define W 640
#define H 360
#define NONE (-1)

/* Zones in frame fractions: a small parking zone (a close-up; its watched area lies inside
 * it), a second one elsewhere, a sidewalk zone at the top left (watched, no close-up), and a
 * parking zone too big for a close-up. */
static struct so_pointf small_park[] = {{0.70, 0.70}, {0.80, 0.70}, {0.80, 0.80}, {0.70, 0.80}};
static struct so_pointf other_park[] = {{0.10, 0.75}, {0.20, 0.75}, {0.20, 0.85}, {0.10, 0.85}};
static struct so_pointf corner_park[] = {{0.95, 0.95}, {1.0, 0.95}, {1.0, 1.0}, {0.95, 1.0}};
static struct so_pointf sidewalk[] = {{0.0, 0.1}, {0.3, 0.1}, {0.3, 0.5}, {0.0, 0.5}};
static struct so_pointf big_park[] = {{0.0, 0.0}, {1.0, 0.0}, {1.0, 0.6}, {0.0, 0.6}};

static struct so_zone_cfg zone(enum so_zone_kind kind, struct so_pointf *pts)
{
    return (struct so_zone_cfg){.id = "z", .kind = kind, .polygon = {pts, 4}};
}

static struct so_camera_cfg camera(struct so_zone_cfg *zones, size_t n)
{
    return (struct so_camera_cfg){.id = "cam", .zones = zones, .n_zones = n};
}

/* A scheduler planned for the camera, as setup_analysis does it. */
static struct so_scheduler *planned(const struct so_camera_cfg *cam, double fps, bool keyframes)
{
    struct so_scheduler *s = so_scheduler_create("cam", fps, keyframes);
    so_scheduler_set_zones(s, cam, W, H);
    so_scheduler_restart(s);
    return s;
}

/* Decide, and let the network look where the plan says (as so_scheduler_frame does). */
static void step(struct so_scheduler *s, double t, const struct so_sched_scene *scene,
                 struct so_sched_plan *plan)
{
    so_scheduler_decide(s, t, scene, plan);
    for (int k = 0; k < plan->n_looks; k++) {
        so_scheduler_looking(s, plan->looks[k], t);
    }
}

static void test_close_ups(void)
{
    static const struct {
        const char *name;
        enum so_zone_kind kind;
        struct so_pointf *pts;
        int n_rois;
        struct so_box roi;
    } cases[] = {
        /* 0.8 - 0.7 is a hair over 0.1: the close-up starts a hair left of 416, at 415 */
        {"small parking zone: twice its box, 128 px at least", SO_ZONE_ILLEGAL_PARKING,
         small_park, 1, {415, 206, 128, 128}},
        {"small non-motor parking zone: a close-up too", SO_ZONE_NONMOTOR_PARKING, small_park, 1,
         {415, 206, 128, 128}},
        {"in a corner: pushed back inside the frame", SO_ZONE_ILLEGAL_PARKING, corner_park, 1,
         {512, 232, 128, 128}},
        {"sidewalk zone: no close-up", SO_ZONE_SIDEWALK_OCCUPIED, sidewalk, 0, {0}},
        {"parking zone over much of the frame: the whole frame serves it",
         SO_ZONE_ILLEGAL_PARKING, big_park, 0, {0}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct so_zone_cfg z[] = {zone(cases[i].kind, cases[i].pts)};
        struct so_camera_cfg cam = camera(z, 1);
        struct so_scheduler *s = planned(&cam, 1, false);
        const struct so_box *rois;
        int n = so_scheduler_rois(s, &rois);
        so_test_check(n == cases[i].n_rois, __FILE__, __LINE__, "%s: %d close-ups",
                      cases[i].name, n);
        if (n == 1) {
            const struct so_box *e = &cases[i].roi;
            so_test_check(memcmp(&rois[0], e, sizeof(*e)) == 0, __FILE__, __LINE__,
                          "%s: close-up %d,%d %dx%d", cases[i].name, rois[0].x, rois[0].y,
                          rois[0].w, rois[0].h);
        }
        so_scheduler_destroy(s);
    }
}

/* What a scene at t = 6 s (after the five startup passes at t = 0..4) shows. */
struct scene_case {
    const char *name;
    struct so_box resting[2];       /* pixels of age 2 s (came to rest); w = 0: none */
    struct so_box known;            /* a track's box; w = 0: none */
    struct so_box pending;          /* the tracker asks for a look there; w = 0: none */
    unsigned need;                  /* regions needing a look: bit 0 whole frame, 1 close-up */
    bool person;                    /* the pending track is a person */
};

/* A stationary-age map of W x H, all 0 (nothing at rest). */
static float *age_map(void)
{
    float *age = calloc((size_t)W * H, sizeof(*age));
    if (!age) {
        abort();
    }
    return age;
}

static void paint(float *age, struct so_box b, float v)
{
    for (int y = b.y; y < b.y + b.h; y++) {
        for (int x = b.x; x < b.x + b.w; x++) {
            age[(size_t)y * W + x] = v;
        }
    }
}

static void test_why_a_look(void)
{
    static const struct scene_case cases[] = {
        {"quiet scene after the startup passes: no look", {{0}}, {0}, {0}, 0x0},
        {"came to rest in a zone's surroundings (in the close-up)", {{440, 240, 16, 16}}, {0},
         {0}, 0x2},
        {"came to rest near the sidewalk zone: the whole frame", {{40, 40, 16, 16}}, {0}, {0},
         0x1},
        {"came to rest where the tracker knows a thing: no look", {{440, 240, 16, 16}},
         {430, 230, 40, 40}, {0}, 0x0},
        {"one resting cell (scattered pixels): no look", {{440, 240, 8, 8}}, {0}, {0}, 0x0},
        {"came to rest far from every zone: no look", {{600, 20, 16, 16}}, {0}, {0}, 0x0},
        {"pending track near the sidewalk zone: the whole frame", {{0}}, {0}, {50, 50, 40, 40},
         0x1},
        {"pending track inside the close-up: the close-up only", {{0}}, {0}, {440, 240, 30, 30},
         0x2},
        {"pending track far from every zone: no look", {{0}}, {0}, {560, 20, 40, 40}, 0x0},
        {"pending person near the sidewalk zone, nothing at rest (a walker): no look", {{0}},
         {0}, {50, 50, 40, 40}, 0x0, true},
        {"pending person near the sidewalk zone, standing (at rest): the whole frame",
         {{50, 50, 40, 40}}, {50, 50, 40, 40}, {50, 50, 40, 40}, 0x1, true},
        {"the same standing pixels, known and nothing pending: no look", {{50, 50, 40, 40}},
         {50, 50, 40, 40}, {0}, 0x0},
    };
    struct so_zone_cfg z[] = {zone(SO_ZONE_ILLEGAL_PARKING, small_park),
                              zone(SO_ZONE_SIDEWALK_OCCUPIED, sidewalk)};
    struct so_camera_cfg cam = camera(z, 2);
    float *age = age_map();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct scene_case *c = &cases[i];
        struct so_scheduler *s = planned(&cam, 1, false);
        struct so_sched_scene quiet = {.age = age};
        struct so_sched_plan p;
        for (int t = 0; t < 5; t++) {
            step(s, t, &quiet, &p);
            so_test_check(p.tick && p.need == 0x3, __FILE__, __LINE__,
                          "%s: startup pass %d looks everywhere (need %#x)", c->name, t, p.need);
        }
        step(s, 5, &quiet, &p);
        so_test_check(p.tick && p.need == 0, __FILE__, __LINE__, "%s: t=5 quiet", c->name);

        memset(age, 0, (size_t)W * H * sizeof(*age));
        for (int k = 0; k < 2 && c->resting[k].w; k++) {
            paint(age, c->resting[k], 2.0f);
        }
        struct so_track track = {.box = c->known};
        struct so_sched_scene scene = {.age = age, .tracks = &track, .n_tracks = c->known.w > 0,
                                       .pending = &c->pending, .n_pending = c->pending.w > 0,
                                       .pending_person = &c->person};
        step(s, 6, &scene, &p);
        so_test_check(p.tick && p.need == c->need, __FILE__, __LINE__, "%s (need %#x)",
                      c->name, p.need);
        memset(age, 0, (size_t)W * H * sizeof(*age));
        so_scheduler_destroy(s);
    }
    free(age);
}

/* After coming to rest: a look on every tick for 3 s more, then none; a refresh 10 s after
 * the last pass, whatever happens. */
static void test_burst_and_refresh(void)
{
    static const struct {
        double t;
        bool resting;
        unsigned need;
    } steps[] = {
        {5, false, 0x0}, {6, true, 0x2}, {7, false, 0x2}, {8, false, 0x2}, {9, false, 0x2},
        {10, false, 0x0}, {18, false, 0x0}, {19, false, 0x3}, {20, false, 0x0},
    };
    struct so_zone_cfg z[] = {zone(SO_ZONE_ILLEGAL_PARKING, small_park)};
    struct so_camera_cfg cam = camera(z, 1);
    struct so_scheduler *s = planned(&cam, 1, false);
    float *age = age_map(), *rest = age_map();
    paint(rest, (struct so_box){440, 240, 16, 16}, 2.0f);
    struct so_sched_plan p;
    for (int t = 0; t < 5; t++) {
        step(s, t, &(struct so_sched_scene){.age = age}, &p);
    }
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct so_sched_scene scene = {.age = steps[i].resting ? rest : age};
        step(s, steps[i].t, &scene, &p);
        so_test_check(p.need == steps[i].need, __FILE__, __LINE__,
                      "burst/refresh: t=%g need %#x (expected %#x)", steps[i].t, p.need,
                      steps[i].need);
    }
    struct so_sched_stats st;
    so_scheduler_get_stats(s, &st);
    CHECK_INT(st.ticks, 14);
    CHECK_INT(st.passes, 10);      /* 5 startup, 4 burst, 1 refresh */
    free(rest);
    free(age);
    so_scheduler_destroy(s);
}

/* The budget: detect_fps looks a second, earned by the time since the previous tick. */
static void test_budget(void)
{
    static const struct {
        const char *name;
        double fps;
        double t[6];                /* frame media times, ascending; < 0 ends */
        int budget[6];              /* per frame: looks the tick may spend, 0 = no tick */
    } cases[] = {
        {"full decode at 5 fps, detect_fps 1: a look a second", 1,
         {0, 0.2, 0.4, 0.6, 0.8, 1.0}, {1, 0, 0, 0, 0, 1}},
        {"key frames, GOP 2 s, detect_fps 1: two looks per key frame", 1,
         {0, 2, 4, 6, -1}, {1, 2, 2, 2}},
        {"detect_fps 2 at 5 fps", 2, {0, 0.2, 0.4, 0.6, 0.8, 1.0}, {1, 0, 0, 1, 0, 1}},
        {"a frame 3 s late: three looks", 1, {0, 3, 3.2, 4, -1}, {1, 3, 0, 1}},
        {"detect_fps 0: never", 0, {0, 1, 2, -1}, {0, 0, 0}},
    };
    struct so_zone_cfg z[] = {zone(SO_ZONE_SIDEWALK_OCCUPIED, sidewalk)};
    struct so_camera_cfg cam = camera(z, 1);
    float *age = age_map();
    struct so_sched_scene quiet = {.age = age};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct so_scheduler *s = planned(&cam, cases[i].fps, false);
        for (int k = 0; k < 6 && cases[i].t[k] >= 0; k++) {
            struct so_sched_plan p;
            step(s, cases[i].t[k], &quiet, &p);
            so_test_check(p.tick == (cases[i].budget[k] > 0) && p.budget == cases[i].budget[k],
                          __FILE__, __LINE__, "%s: t=%g budget %d", cases[i].name,
                          cases[i].t[k], p.budget);
        }
        so_scheduler_destroy(s);
    }
    free(age);
}

/*
 * Close-ups share the budget: with the whole frame and two close-ups needed on every startup
 * tick, full decode looks at one region a tick, the one looked at longest ago (the whole frame
 * first on a tie), and defers the others; key frames with a GOP of 2 s look at two.
 */
static void test_close_up_order(void)
{
    static const struct {
        const char *name;
        double dt;
        int looks[5][2];            /* per tick: regions looked at, NONE past the last */
        unsigned deferred[5];
    } cases[] = {
        {"full decode", 1,
         {{0, NONE}, {1, NONE}, {2, NONE}, {0, NONE}, {1, NONE}}, {0x6, 0x5, 0x3, 0x6, 0x5}},
        {"key frames, GOP 2 s", 2, {{0, NONE}, {1, 2}, {0, 1}, {2, 0}, {1, 0}},
         {0x6, 0x1, 0x4, 0x2, 0x4}},
    };
    struct so_zone_cfg z[] = {zone(SO_ZONE_ILLEGAL_PARKING, small_park),
                              zone(SO_ZONE_ILLEGAL_PARKING, other_park)};
    struct so_camera_cfg cam = camera(z, 2);
    float *age = age_map();
    struct so_sched_scene quiet = {.age = age};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct so_scheduler *s = planned(&cam, 1, cases[i].dt > 1);
        const struct so_box *rois;
        CHECK_INT(so_scheduler_rois(s, &rois), 2);
        for (int k = 0; k < 5; k++) {
            struct so_sched_plan p;
            step(s, k * cases[i].dt, &quiet, &p);
            int n = cases[i].looks[k][1] == NONE ? 1 : 2;
            bool ok = p.need == 0x7 && p.n_looks == n && p.deferred == cases[i].deferred[k];
            for (int j = 0; ok && j < n; j++) {
                ok = p.looks[j] == cases[i].looks[k][j];
            }
            so_test_check(ok, __FILE__, __LINE__, "%s: tick %d looks %d (%d, %d) deferred %#x",
                          cases[i].name, k, p.n_looks, p.looks[0],
                          p.n_looks > 1 ? p.looks[1] : NONE, p.deferred);
        }
        /* What the last tick deferred is held: on full decode it looked at close-up 0 only
         * (the whole frame and close-up 1 wait), with key frames at close-up 0 and the whole
         * frame (close-up 1 waits). */
        struct so_box in_roi0 = {rois[0].x + 4, rois[0].y + 4, 20, 20};
        struct so_box in_roi1 = {rois[1].x + 4, rois[1].y + 4, 20, 20};
        struct so_box elsewhere = {10, 10, 20, 20};
        if (cases[i].dt == 1) {
            CHECK(so_scheduler_held(&in_roi1, s));
            CHECK(!so_scheduler_held(&in_roi0, s));
            CHECK(so_scheduler_held(&elsewhere, s));
        } else {
            CHECK(!so_scheduler_held(&in_roi0, s));
            CHECK(so_scheduler_held(&in_roi1, s));
            CHECK(!so_scheduler_held(&elsewhere, s));
        }
        so_scheduler_destroy(s);
    }
    free(age);
}

static void test_keyframe_mode(void)
{
    struct so_scheduler *full = so_scheduler_create("cam", 1, false);
    struct so_scheduler *key = so_scheduler_create("cam", 1, true);
    CHECK(so_scheduler_people(full));
    CHECK(!so_scheduler_people(key));
    so_scheduler_destroy(full);
    so_scheduler_destroy(key);
    so_scheduler_destroy(NULL);
}

int main(void)
{
    test_close_ups();
    test_why_a_look();
    test_burst_and_refresh();
    test_budget();
    test_close_up_order();
    test_keyframe_mode();
    return so_test_done();
}
