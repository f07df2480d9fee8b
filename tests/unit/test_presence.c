/*
 * Unit tests for detector/rules/presence.c: is a thing still at its place? A real static model
 * (analysis/static_model.c) learns a textured road, a textured "car" comes to rest on it, and
 * its place is judged on frames that show: the car (present), the car under a cloud that dims
 * the whole frame to 60 % (present: its look is invariant to the light's gain), the car under
 * an IR-like contrast change (present), traffic crossing the place (unknown: hidden), another
 * thing at rest there (unknown: not the car, not the road either), the empty road again
 * (absent), the empty road under the cloud (absent), and right after an IR-like contrast jump
 * the model cannot normalise (absent: it looks like the learnt road). Then with the empty
 * road's look known: another thing stopped in front is not the empty place.
 */
#include <stdlib.h>
#include <string.h>

#include "appearance.h"
#include "presence.h"
#include "static_model.h"
#include "testlib.h"

#define W 96
#define H 64
#define FPS 5.0

static const struct so_box car = {30, 20, 32, 20};

/* Deterministic texture: value in 40..215 from a small hash of (x, y, seed). */
static uint8_t texture(int x, int y, unsigned seed)
{
    unsigned v = ((unsigned)x * 73856093u) ^ ((unsigned)y * 19349663u) ^ (seed * 83492791u);
    v ^= v >> 13;
    v *= 0x5bd1e995u;
    v ^= v >> 15;
    return (uint8_t)(40 + (v % 176));
}

/* BIG: a car of coarser texture (blocks of 6 pixels: the static model's blur keeps it);
 * BIG_LEFT, BIG_RIGHT: that car with its left 25 % (right 60 %) hidden by something flat.
 * THIN: a thin thing in the car's box (a bicycle: a lattice of bars, the road between them);
 * PAIR: that thing and a neighbour against it whose bars fill the box's left third exactly as
 * the thing's do there (a wheel in front of a wheel); NEIGHBOUR: the neighbour alone. */
enum scene { ROAD, CAR, OTHER, TRAFFIC, BIG, BIG_LEFT, BIG_RIGHT, THIN, PAIR, NEIGHBOUR };

/* A bar of the thin things' lattice at (x, y)? */
static bool on_bar(int x, int y)
{
    return (x - car.x) % 16 < 3;
}

/* The frame of a scene: the road, with the car (or another thing, or a moving block at phase
 * `i`) on it, then every pixel v -> gain * v + offset. */
static void draw(struct so_frame *f, enum scene s, int i, double gain, double offset)
{
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            /* the road: smooth blocks, so that it is seen as background, not noise */
            double v = texture(x / 4, y / 4, 1);
            bool on_car = x >= car.x && x < car.x + car.w && y >= car.y && y < car.y + car.h;
            bool hidden = (s == BIG_LEFT && x < car.x + car.w / 4) ||
                          (s == BIG_RIGHT && x >= car.x + car.w - car.w * 60 / 100);
            bool in_thin = on_car && (s == THIN || s == PAIR);
            bool in_neighbour = (s == PAIR || s == NEIGHBOUR) && x >= car.x - 24 &&
                                x < car.x + car.w / 3 && y >= car.y && y < car.y + car.h;
            if ((in_thin || in_neighbour) && on_bar(x, y)) {
                v = 20;     /* dark bars */
            } else if (on_car && hidden) {
                v = 128;    /* flat */
            } else if (s >= BIG && s <= BIG_RIGHT && on_car) {
                v = texture(x / 6, y / 6, 5);
            } else if (s == CAR && on_car) {
                v = texture(x / 2, y / 2, 2);
            } else if (s == OTHER && on_car) {
                v = texture(x / 3, y / 5, 3);
            } else if (s == TRAFFIC && x >= (i * 9) % W - 20 && x < (i * 9) % W && y >= 14 &&
                       y < 46) {
                v = texture(x / 2, y / 2, 4 + i);
            }
            v = gain * v + offset;
            f->gray[(size_t)y * f->gray_stride + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

static int frame_no;

/* Feed `n` frames of a scene to the model; returns the last one (caller unrefs). */
static struct so_frame *feed(struct so_static_model *m, enum scene s, int n, double gain,
                             double offset)
{
    struct so_frame *f = NULL;
    for (int k = 0; k < n; k++) {
        so_frame_unref(f);
        f = so_frame_alloc(W, H);
        if (!f) {
            return NULL;
        }
        f->media_s = frame_no++ / FPS;
        draw(f, s, frame_no, gain, offset);
        so_static_model_update(m, f->gray, f->gray_stride, f->media_s);
    }
    return f;
}

static const char *name(enum so_presence p)
{
    return p == SO_PRESENCE_PRESENT ? "present" : p == SO_PRESENCE_ABSENT ? "absent" : "unknown";
}

/*
 * A place whose empty look is known (the road before the car came): something else stopped
 * in front of the car (a bus: not moving, neither the car nor the road) is not the empty
 * place, however little it correlates with the car; the road is, and a car at rest is not
 * ground (its look correlates little with the learnt road).
 */
static void test_other_in_front(float *scratch)
{
    struct so_static_model *m = so_static_model_create(W, H, NULL);
    struct so_place place;
    so_place_init(&place);
    struct so_frame *road = feed(m, ROAD, (int)(12 * FPS), 1, 0);
    struct so_frame *f = feed(m, CAR, (int)(20 * FPS), 1, 0);
    so_test_check(m && road && f && so_place_take(&place, f, car, road) && place.empty,
                  __FILE__, __LINE__, "the car's look and the empty road's taken");
    so_test_check(f && so_place_background_likeness(f, m, car, scratch) < SO_PLACE_OTHER,
                  __FILE__, __LINE__, "a car at rest does not look like the learnt road");
    so_frame_unref(f);
    static const struct {
        const char *what;
        enum scene scene;
        int frames;
        enum so_presence want;
    } rows[] = {
        {"known empty look: another thing stopped in front", OTHER, (int)(6 * FPS),
         SO_PRESENCE_UNKNOWN},
        {"known empty look: the empty road", ROAD, (int)(4 * FPS), SO_PRESENCE_ABSENT},
    };
    for (size_t i = 0; m && road && i < sizeof(rows) / sizeof(rows[0]); i++) {
        f = feed(m, rows[i].scene, rows[i].frames, 1, 0);
        enum so_presence got = f ? so_place_judge(&place, f, m, scratch) : SO_PRESENCE_UNKNOWN;
        so_test_check(got == rows[i].want, __FILE__, __LINE__, "%s: %s (want %s)",
                      rows[i].what, name(got), name(rows[i].want));
        so_frame_unref(f);
    }
    so_frame_unref(road);
    so_place_finish(&place);
    so_static_model_destroy(m);
}

/*
 * A car parked before the analysis began is part of the learnt background. Its look, taken
 * while a quarter of it was hidden (still much like the background), and the frame now, with
 * 60 % of it hidden, match less than the frame matches the background: that is no sign that
 * the car left (a car that never moved was judged gone on a shaking camera, parked_row~shake).
 */
static void test_parked_before(float *scratch)
{
    struct so_static_model *m = so_static_model_create(W, H, NULL);
    struct so_place place;
    so_place_init(&place);
    so_frame_unref(feed(m, BIG, (int)(12 * FPS), 1, 0));      /* learnt with the car */
    struct so_frame *f = feed(m, BIG_LEFT, (int)(2 * FPS), 1, 0);
    so_test_check(m && f && so_place_take(&place, f, car, NULL) && place.look, __FILE__,
                  __LINE__, "the look of the pre-parked car taken");
    so_frame_unref(f);
    f = m ? feed(m, BIG_RIGHT, (int)(2 * FPS), 1, 0) : NULL;
    double bg = f ? so_place_background_likeness(f, m, car, scratch) : -2;
    enum so_presence got = f ? so_place_judge(&place, f, m, scratch) : SO_PRESENCE_ABSENT;
    so_test_check(got != SO_PRESENCE_ABSENT && bg >= SO_PLACE_SAME, __FILE__, __LINE__,
                  "the car still there, more like the background (%.2f) than its look: %s "
                  "(never absent)", bg, name(got));
    so_frame_unref(f);
    so_place_finish(&place);
    so_static_model_destroy(m);
}

/*
 * A thin thing (a bicycle) with a neighbour left against it later: the neighbour's bars fill
 * the left third of its box exactly as its own did. When the thing is wheeled away, that third
 * is unchanged and over the whole box the look is neither the thing's nor the empty road's
 * (never absent: the first bicycle of scene-bikes was never cleared). Judged on its own pixels
 * apart from what came later, part by part: present while it stands, absent once it has gone.
 */
static void test_thin_beside(float *scratch)
{
    struct so_static_model *m = so_static_model_create(W, H, NULL);
    struct so_place place;
    so_place_init(&place);
    struct so_frame *road = feed(m, ROAD, (int)(12 * FPS), 1, 0);
    double since = frame_no / FPS;
    so_frame_unref(feed(m, THIN, (int)(10 * FPS), 1, 0));
    struct so_frame *f = feed(m, PAIR, (int)(10 * FPS), 1, 0);
    bool taken = m && road && f && so_place_take(&place, f, car, road) &&
                 so_place_take_own(&place, m, W, since) && place.own;
    so_test_check(taken, __FILE__, __LINE__, "the thin thing's look and own pixels taken");
    int own = 0;
    for (int i = 0; taken && i < place.tw * place.th; i++) {
        own += place.own[i];
    }
    so_test_check(own > 0 && own < place.tw * place.th / 2, __FILE__, __LINE__,
                  "its own pixels are its bars (%d of %d samples)", own,
                  place.tw * place.th);
    so_frame_unref(f);
    f = taken ? feed(m, PAIR, (int)(2 * FPS), 1, 0) : NULL;
    enum so_presence got = f ? so_place_judge_apart(&place, f, m, scratch, since)
                             : SO_PRESENCE_UNKNOWN;
    so_test_check(got == SO_PRESENCE_PRESENT, __FILE__, __LINE__,
                  "the thin thing with its neighbour: %s (want present)", name(got));
    so_frame_unref(f);
    f = taken ? feed(m, PAIR, (int)(2 * FPS), 0.6, 0) : NULL;
    got = f ? so_place_judge_apart(&place, f, m, scratch, since) : SO_PRESENCE_UNKNOWN;
    so_test_check(got == SO_PRESENCE_PRESENT, __FILE__, __LINE__,
                  "... under a cloud: %s (want present)", name(got));
    so_frame_unref(f);
    f = taken ? feed(m, NEIGHBOUR, (int)(6 * FPS), 1, 0) : NULL;
    got = f ? so_place_judge(&place, f, m, scratch) : SO_PRESENCE_ABSENT;
    so_test_check(got != SO_PRESENCE_ABSENT, __FILE__, __LINE__,
                  "gone, its neighbour's bars in its box: the whole box says %s", name(got));
    got = f ? so_place_judge_apart(&place, f, m, scratch, since) : SO_PRESENCE_UNKNOWN;
    so_test_check(got == SO_PRESENCE_ABSENT, __FILE__, __LINE__,
                  "... its own part, apart from what came later: %s (want absent)", name(got));
    so_frame_unref(f);
    so_frame_unref(road);
    so_place_finish(&place);
    so_test_check(place.own == NULL, __FILE__, __LINE__, "finish releases the own pixels");
    so_static_model_destroy(m);
}

int main(void)
{
    struct so_static_model *m = so_static_model_create(W, H, NULL);
    float *scratch = malloc(sizeof(float) * SO_PLACE_SCRATCH);
    struct so_place place;
    so_place_init(&place);
    so_frame_unref(feed(m, ROAD, (int)(12 * FPS), 1, 0));     /* learn the road */
    struct so_frame *f = feed(m, CAR, (int)(20 * FPS), 1, 0);  /* the car comes to rest */
    so_test_check(f && so_place_take(&place, f, car, NULL) && place.look, __FILE__, __LINE__,
                  "the car's look taken");
    so_frame_unref(f);
    static const struct {
        const char *what;
        enum scene scene;
        int frames;
        double gain, offset;
        enum so_presence want;
    } rows[] = {
        {"the car", CAR, 5, 1, 0, SO_PRESENCE_PRESENT},
        {"the car under a cloud", CAR, 3, 0.6, 0, SO_PRESENCE_PRESENT},
        {"the car after an IR-like switch", CAR, 3, 1.3, -30, SO_PRESENCE_PRESENT},
        {"traffic over the place", TRAFFIC, 1, 1, 0, SO_PRESENCE_UNKNOWN},
        {"another thing at rest there", OTHER, (int)(6 * FPS), 1, 0, SO_PRESENCE_UNKNOWN},
        {"the empty road", ROAD, (int)(4 * FPS), 1, 0, SO_PRESENCE_ABSENT},
        {"the empty road under a cloud", ROAD, (int)(4 * FPS), 0.6, 0, SO_PRESENCE_ABSENT},
        /* The light changed in a way the model cannot normalise at once (an IR-like contrast
         * jump: much of the place is "foreground"; once nothing moves): the place looks like the learnt
         * road, light-invariantly. */
        {"the empty road after an IR-like switch", ROAD, 8, 1.6, -60, SO_PRESENCE_ABSENT},
    };
    for (size_t i = 0; m && scratch && i < sizeof(rows) / sizeof(rows[0]); i++) {
        f = feed(m, rows[i].scene, rows[i].frames, rows[i].gain, rows[i].offset);
        enum so_presence got = f ? so_place_judge(&place, f, m, scratch) : SO_PRESENCE_UNKNOWN;
        so_test_check(got == rows[i].want, __FILE__, __LINE__, "%s: %s (want %s)",
                      rows[i].what, name(got), name(rows[i].want));
        so_frame_unref(f);
    }
    /* What the judge leans on in that last row: the model still sees most of the place as
     * foreground. */
    f = feed(m, ROAD, 1, 1.6, -60);
    so_test_check(f && so_place_foreground_share(m, W, car) > SO_PLACE_FG_MAX, __FILE__,
                  __LINE__, "an IR-like switch: the model's foreground over the place %.2f > %.2f",
                  f ? so_place_foreground_share(m, W, car) : -1.0, SO_PLACE_FG_MAX);
    so_test_check(f && so_place_background_likeness(f, m, car, scratch) >= SO_PLACE_SAME,
                  __FILE__, __LINE__, "... yet the road looks like the learnt road (%.2f)",
                  f ? so_place_background_likeness(f, m, car, scratch) : -2.0);
    so_frame_unref(f);
    test_other_in_front(scratch);
    test_parked_before(scratch);
    test_thin_beside(scratch);
    so_place_finish(&place);
    so_place_finish(NULL);
    so_test_check(place.look == NULL, __FILE__, __LINE__, "finish releases the look");
    free(scratch);
    so_static_model_destroy(m);
    return so_test_done();
}
