/*
 * Unit tests for the tracker's requests for the detector (so_tracker_pending), on grey frames
 * drawn here: who asks for the next look, that people can be left out of it (the
 * `decode: keyframes` cameras of detector/detect/scheduler.c), and that a thing the detector
 * was not shown on a tick (its region waits for the next one) is held, not missed.
 */
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "tracker.h"

#define W 320
#define H 240

/* A textured background (so appearance templates have something to correlate). */
static struct so_frame *frame_at(double media_s)
{
    struct so_frame *f = so_frame_alloc(W, H);
    if (!f) {
        abort();
    }
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            int v = x * 7 + y * 13 + (x * y) % 31;
            f->gray[(size_t)y * f->gray_stride + x] = (uint8_t)(v & 255);
        }
    }
    f->media_s = media_s;
    return f;
}

static struct so_detection det(enum so_role role, const char *cls, int x, int y, int w, int h)
{
    return (struct so_detection){.box = {x, y, w, h}, .class_name = cls, .role = role,
                                 .score = 0.8f};
}

/* so_tracker_held_fn: everything left of x = *ud was not looked at. */
static bool left_of(const struct so_box *b, void *ud)
{
    return b->x + b->w <= *(const int *)ud;
}

/* One detector tick at `t` seconds with the given detections; things left of x = held_x (when
 * not NULL) were not looked at. */
static void tick_held(struct so_tracker *tr, double t, const struct so_detection *d, int n,
                      int *held_x)
{
    struct so_frame *f = frame_at(t);
    so_tracker_update(tr, f, d, n, true, held_x ? left_of : NULL, held_x);
    so_frame_unref(f);
}

static void tick(struct so_tracker *tr, double t, const struct so_detection *d, int n)
{
    tick_held(tr, t, d, n, NULL);
}

/* Is the track with box origin (x, y) present? */
static bool present_at(const struct so_tracker *tr, int x, int y)
{
    const struct so_track *v;
    int n = so_tracker_tracks(tr, &v);
    for (int i = 0; i < n; i++) {
        if (v[i].box.x == x && v[i].box.y == y) {
            return v[i].present;
        }
    }
    return false;
}

static int pending(const struct so_tracker *tr, bool people)
{
    struct so_box b[SO_TRACK_MAX];
    return so_tracker_pending(tr, b, NULL, SO_TRACK_MAX, people);
}

static void test_person_being_established(void)
{
    printf("# case: a person standing still asks for looks unless people are left out\n");
    struct so_tracker *tr = so_tracker_create(W, H);
    CHECK(tr != NULL);
    struct so_detection p = det(SO_ROLE_PERSON, "person", 100, 80, 30, 80);
    tick(tr, 0, &p, 1);
    CHECK_INT(pending(tr, true), 0);     /* seen once: maybe a walker */
    tick(tr, 1, &p, 1);
    CHECK_INT(pending(tr, true), 1);     /* twice at the same place: being established */
    CHECK_INT(pending(tr, false), 0);
    so_tracker_destroy(tr);
}

static void test_vehicle_being_established(void)
{
    printf("# case: a vehicle coming to rest asks for looks either way\n");
    struct so_tracker *tr = so_tracker_create(W, H);
    CHECK(tr != NULL);
    struct so_detection car = det(SO_ROLE_VEHICLE, "car", 150, 120, 90, 50);
    struct so_detection both[2] = {car, det(SO_ROLE_PERSON, "person", 20, 60, 30, 80)};
    tick(tr, 0, both, 2);
    CHECK_INT(pending(tr, true), 1);     /* the car; the person was seen once */
    CHECK_INT(pending(tr, false), 1);
    tick(tr, 1, both, 2);
    CHECK_INT(pending(tr, true), 2);
    CHECK_INT(pending(tr, false), 1);
    so_tracker_destroy(tr);
}

static void test_walker_never_pending(void)
{
    printf("# case: a walker leaves one-vote spots and never asks\n");
    struct so_tracker *tr = so_tracker_create(W, H);
    CHECK(tr != NULL);
    bool asked = false;
    for (int i = 0; i < 6; i++) {
        struct so_detection p = det(SO_ROLE_PERSON, "person", 10 + 45 * i, 80, 30, 80);
        tick(tr, i, &p, 1);
        asked |= pending(tr, true) > 0;
    }
    CHECK(!asked);
    so_tracker_destroy(tr);
}

static void test_held_is_not_missed(void)
{
    printf("# case: a car whose region waits a tick keeps its state; a missed one loses it\n");
    struct so_detection cars[2] = {det(SO_ROLE_VEHICLE, "car", 20, 120, 90, 50),
                                   det(SO_ROLE_VEHICLE, "car", 200, 120, 90, 50)};
    struct so_tracker *tr = so_tracker_create(W, H);
    CHECK(tr != NULL);
    tick(tr, 0, cars, 2);
    tick(tr, 1, cars, 2);
    CHECK(present_at(tr, 20, 120));
    CHECK(present_at(tr, 200, 120));
    int held_x = 160;           /* the left car's region waits; the right one was looked at */
    tick_held(tr, 2, NULL, 0, &held_x);
    CHECK(present_at(tr, 20, 120));
    CHECK(!present_at(tr, 200, 120));
    CHECK_INT(pending(tr, true), 2);     /* both still being established */
    for (int t = 3; t < 6; t++) {        /* the left one waits again and again: never missed */
        tick_held(tr, t, &cars[1], 1, &held_x);
    }
    CHECK(present_at(tr, 20, 120));
    tick(tr, 6, &cars[0], 1);            /* looked at: seen three times, a template */
    CHECK(present_at(tr, 20, 120));
    CHECK_INT(pending(tr, true), 0);
    so_tracker_destroy(tr);
}

int main(void)
{
    test_person_being_established();
    test_vehicle_being_established();
    test_walker_never_pending();
    test_held_is_not_missed();
    return so_test_done();
}
