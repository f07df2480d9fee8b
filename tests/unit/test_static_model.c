/*
 * Unit tests for detector/analysis/static_model.c on synthetic grey scenes: a textured
 * background (deterministic pseudo-random texture plus gradients) with small noise from a
 * fixed-seed LCG, fed at 5 fps media times with the default parameters (warm-up 8 s).
 *
 * Each case is a scene (illumination keyframes, an optional static block, an optional moving
 * block) and a list of probes: over a window of media time, a statistic of a region (max/min
 * age, foreground share, gain, warming flag) must stay within [lo, hi] on every frame.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "static_model.h"
#include "testlib.h"

#define W 160
#define H 120
#define FPS 5
#define MAX_KEYS 6
#define MAX_PROBES 8
#define NEVER 1e9

struct rect {
    int x, y, w, h;
};

struct gain_key {
    double t, g;
};

struct scene {
    double duration;
    struct gain_key gain[MAX_KEYS];     /* piecewise linear; n_gain 0 = constant 1 */
    int n_gain;
    /* a block of flat intensity, present for t in [on, off) */
    struct rect block;
    int block_value;
    double block_on, block_off;
    /* a block moving horizontally by `speed` px per frame from x = move_x0 at move_on */
    struct rect mover;                  /* x ignored */
    int move_x0, speed, mover_value;
    bool wrap;                          /* re-enter from the left after leaving */
    double move_on, move_off;
    bool shake;         /* the camera jitters by +-1 px every frame; a gust of up to 3 px
                         * over 30..31.5 s */
    struct rect osd;    /* burned-in text (2 px stripes, near-white and near-black) drawn over
                         * the picture after the light and the noise; w 0: none */
};

enum region {
    R_ALL,              /* every pixel */
    R_BLOCK,            /* every pixel of the static block */
    R_BLOCK_INNER,      /* the static block less 2 px each side (blur reaches 2 px) */
    R_OUTSIDE,          /* every pixel more than 3 px away from the static block */
    R_OSD_INNER,        /* the on-screen text less 2 px each side (blur reaches 2 px) */
    R_OFF_OSD,          /* every pixel more than 2 px away from the on-screen text */
};

enum stat {
    S_MAX_AGE,
    S_MIN_AGE,
    S_FG_SHARE,         /* share of pixels flagged foreground */
    S_GAIN,             /* so_static_model_gain(), region ignored */
    S_WARMING,          /* 1 while warming up, region ignored */
    S_OVERLAY,          /* share of pixels found to be a burned-in overlay */
};

struct probe {
    double t0, t1;      /* inclusive window of media time */
    enum region region;
    enum stat stat;
    double lo, hi;
    bool peak;          /* the highest value over the window is in [lo, hi] (not every one) */
};

struct sm_case {
    const char *name;
    struct scene scene;
    struct probe probes[MAX_PROBES];
    int n_probes;
    bool no_stabilise;  /* stabilise_px = 0 (what the stabiliser prevents) */
};

/* ---- scene rendering */

static uint32_t hash2(int x, int y)
{
    uint32_t h = (uint32_t)x * 374761393u + (uint32_t)y * 668265263u;
    h = (h ^ (h >> 13)) * 1274126177u;
    return h ^ (h >> 16);
}

/* Background: gradients + cell texture (8x8 cells) + fine texture; about 55..155. */
static float background_at(int x, int y)
{
    float grad = 60.0f + 40.0f * (float)x / W + 25.0f * (float)y / H;
    float cell = (float)(hash2(x / 8, y / 8 + 1000) % 29) - 14.0f;
    float fine = (float)(hash2(x, y) % 13) - 6.0f;
    return grad + cell + fine;
}

static uint32_t lcg_state;

static float lcg_uniform(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (float)(lcg_state >> 8) / 16777216.0f * 2.0f - 1.0f;     /* [-1, 1) */
}

/* Gaussian-ish noise (sum of three uniforms), sigma about 1.5 grey levels. */
static float noise(void)
{
    return (lcg_uniform() + lcg_uniform() + lcg_uniform()) * 1.5f;
}

static double gain_at(const struct scene *s, double t)
{
    if (s->n_gain == 0) {
        return 1.0;
    }
    if (t <= s->gain[0].t) {
        return s->gain[0].g;
    }
    for (int i = 1; i < s->n_gain; i++) {
        if (t <= s->gain[i].t) {
            const struct gain_key *a = &s->gain[i - 1], *b = &s->gain[i];
            return a->g + (b->g - a->g) * (t - a->t) / (b->t - a->t);
        }
    }
    return s->gain[s->n_gain - 1].g;
}

static bool in_rect(const struct rect *r, int x, int y)
{
    return x >= r->x && x < r->x + r->w && y >= r->y && y < r->y + r->h;
}

/* Where the shaking camera points at this frame: the scene appears moved by (*sx, *sy). */
static void shake_at(const struct scene *s, int frame, int *sx, int *sy)
{
    *sx = *sy = 0;
    if (!s->shake) {
        return;
    }
    uint32_t h = hash2(frame, 77);
    *sx = (int)(h % 3) - 1;
    *sy = (int)((h >> 8) % 3) - 1;
    double t = (double)frame / FPS;
    if (t >= 30.0 && t < 31.5) {
        double phase = sin((t - 30.0) / 1.5 * M_PI);
        *sx += (int)lround(3.0 * phase * sin(t * 13.0));
        *sy += (int)lround(2.0 * phase * cos(t * 11.0));
    }
}

static void render(const struct scene *s, const float *bg, int frame, uint8_t *out)
{
    double t = (double)frame / FPS;
    int sx, sy;
    shake_at(s, frame, &sx, &sy);
    float g = (float)gain_at(s, t);
    bool block_on = s->block.w > 0 && t >= s->block_on - 1e-9 && t < s->block_off - 1e-9;
    bool mover_on = s->mover.w > 0 && t >= s->move_on - 1e-9 && t < s->move_off - 1e-9;
    struct rect mv = s->mover;
    if (mover_on) {
        int steps = frame - (int)lround(s->move_on * FPS);
        int x = s->move_x0 + steps * s->speed;
        if (s->wrap) {
            int span = W + mv.w;
            x = ((x + mv.w) % span + span) % span - mv.w;
        }
        mv.x = x;
    }
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            int wx = x - sx, wy = y - sy;  /* the world point seen at (x, y) */
            wx = wx < 0 ? 0 : (wx >= W ? W - 1 : wx);
            wy = wy < 0 ? 0 : (wy >= H ? H - 1 : wy);
            float v = bg[wy * W + wx];
            if (block_on && in_rect(&s->block, wx, wy)) {
                v = (float)s->block_value;
            }
            if (mover_on && in_rect(&mv, x, y)) {
                v = (float)s->mover_value;
            }
            v = v * g + noise();
            if (in_rect(&s->osd, x, y)) {
                v = (x - s->osd.x) / 2 % 2 ? 245.0f : 25.0f;
            }
            out[y * W + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrintf(v));
        }
    }
}

/* ---- probes */

static bool in_region(const struct scene *s, enum region r, int x, int y)
{
    const struct rect *b = &s->block;
    switch (r) {
    case R_ALL:
        return true;
    case R_BLOCK:
        return in_rect(b, x, y);
    case R_BLOCK_INNER:
        return x >= b->x + 2 && x < b->x + b->w - 2 && y >= b->y + 2 && y < b->y + b->h - 2;
    case R_OUTSIDE:
        return b->w == 0 || x < b->x - 3 || x >= b->x + b->w + 3 || y < b->y - 3 ||
               y >= b->y + b->h + 3;
    case R_OSD_INNER:
        return x >= s->osd.x + 2 && x < s->osd.x + s->osd.w - 2 && y >= s->osd.y + 2 &&
               y < s->osd.y + s->osd.h - 2;
    case R_OFF_OSD:
        return s->osd.w == 0 || x < s->osd.x - 2 || x >= s->osd.x + s->osd.w + 2 ||
               y < s->osd.y - 2 || y >= s->osd.y + s->osd.h + 2;
    }
    return false;
}

static double measure(const struct scene *s, const struct so_static_model *m,
                      const struct probe *p)
{
    const float *age = so_static_model_age(m);
    const uint8_t *fg = so_static_model_foreground(m);
    const uint8_t *ov = so_static_model_overlay(m);
    switch (p->stat) {
    case S_GAIN:
        return so_static_model_gain(m);
    case S_WARMING:
        return so_static_model_warming_up(m) ? 1.0 : 0.0;
    default:
        break;
    }
    double mx = -1e30, mn = 1e30;
    long n = 0, n_fg = 0, n_ov = 0;
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            if (!in_region(s, p->region, x, y)) {
                continue;
            }
            double a = age[y * W + x];
            mx = a > mx ? a : mx;
            mn = a < mn ? a : mn;
            n++;
            n_fg += fg[y * W + x] != 0;
            n_ov += ov && ov[y * W + x] == 1;
        }
    }
    if (n == 0) {
        return NAN;
    }
    switch (p->stat) {
    case S_MAX_AGE:
        return mx;
    case S_MIN_AGE:
        return mn;
    case S_FG_SHARE:
        return (double)n_fg / (double)n;
    case S_OVERLAY:
        return (double)n_ov / (double)n;
    default:
        return NAN;
    }
}

static const char *region_name(enum region r)
{
    static const char *const names[] = {"all", "block", "block interior", "outside block",
                                        "text interior", "off the text"};
    return names[r];
}

static const char *stat_name(enum stat s)
{
    static const char *const names[] = {"max age", "min age", "foreground share", "gain",
                                        "warming", "overlay share"};
    return names[s];
}

struct probe_result {
    int frames;
    bool ok;
    double first_bad_t, first_bad_v;
    double seen_lo, seen_hi;
};

/* The scenes' background, every pixel. */
static void fill_background(float *bg)
{
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            bg[y * W + x] = background_at(x, y);
        }
    }
}

static void run_case(const struct sm_case *c)
{
    static float bg[W * H];
    static uint8_t gray[W * H];
    fill_background(bg);
    lcg_state = 12345u;
    struct so_static_params params;
    so_static_params_default(&params);
    if (c->no_stabilise) {
        params.stabilise_px = 0;
    }
    struct so_static_model *m = so_static_model_create(W, H, &params);
    if (!so_test_check(m != NULL, __FILE__, __LINE__, "%s: so_static_model_create", c->name)) {
        return;
    }
    struct probe_result res[MAX_PROBES];
    for (int i = 0; i < c->n_probes; i++) {
        res[i] = (struct probe_result){0, true, 0, 0, 1e30, -1e30};
    }
    int n_frames = (int)lround(c->scene.duration * FPS);
    bool update_ok = true;
    for (int f = 0; f <= n_frames; f++) {
        double t = (double)f / FPS;
        render(&c->scene, bg, f, gray);
        if (so_static_model_update(m, gray, W, t) != 0) {
            update_ok = false;
        }
        for (int i = 0; i < c->n_probes; i++) {
            const struct probe *p = &c->probes[i];
            if (t < p->t0 - 1e-9 || t > p->t1 + 1e-9) {
                continue;
            }
            double v = measure(&c->scene, m, p);
            struct probe_result *r = &res[i];
            r->frames++;
            r->seen_lo = v < r->seen_lo ? v : r->seen_lo;
            r->seen_hi = v > r->seen_hi ? v : r->seen_hi;
            if (r->ok && !p->peak && !(v >= p->lo && v <= p->hi)) {
                r->ok = false;
                r->first_bad_t = t;
                r->first_bad_v = v;
            }
        }
    }
    so_test_check(update_ok, __FILE__, __LINE__, "%s: every update returned 0", c->name);
    for (int i = 0; i < c->n_probes; i++) {
        const struct probe *p = &c->probes[i];
        struct probe_result *r = &res[i];
        if (p->peak && !(r->seen_hi >= p->lo && r->seen_hi <= p->hi)) {
            r->ok = false;
            r->first_bad_t = p->t1;
            r->first_bad_v = r->seen_hi;
        }
        if (r->ok && r->frames > 0) {
            so_test_check(true, __FILE__, __LINE__,
                          "%s: %s of %s in [%g, %g] for t in [%g, %g] (seen %.3g..%.3g)",
                          c->name, stat_name(p->stat), region_name(p->region), p->lo, p->hi,
                          p->t0, p->t1, r->seen_lo, r->seen_hi);
        } else {
            so_test_check(false, __FILE__, __LINE__,
                          "%s: %s of %s in [%g, %g] for t in [%g, %g]: first violation at "
                          "t=%.1f value %.6g (seen %.3g..%.3g over %d frames)",
                          c->name, stat_name(p->stat), region_name(p->region), p->lo, p->hi,
                          p->t0, p->t1, r->first_bad_t, r->first_bad_v, r->seen_lo, r->seen_hi,
                          r->frames);
        }
    }
    so_static_model_destroy(m);
}

/* ---- the cases */

#define BLOCK {70, 40, 20, 15}
#define NO_MOVER .mover = {0, 0, 0, 0}, .move_on = NEVER, .move_off = NEVER
/* darker x0.6 from 20-24 s to 50-54 s */
#define DARK_20_TO_54 \
    .gain = {{0, 1.0}, {20.0, 1.0}, {24.0, 0.6}, {50.0, 0.6}, {54.0, 1.0}}, .n_gain = 5
#define NO_BLOCK .block = {0, 0, 0, 0}, .block_on = NEVER, .block_off = NEVER

static const struct sm_case cases[] = {
    {"(a) empty scene",
     {.duration = 60, NO_BLOCK, NO_MOVER},
     {{8.0, 60, R_ALL, S_MAX_AGE, 0, 0},
      {0.0, 60, R_ALL, S_FG_SHARE, 0, 0.001},
      {0.0, 7.8, R_ALL, S_WARMING, 1, 1},
      {8.2, 60, R_ALL, S_WARMING, 0, 0},
      {8.2, 60, R_ALL, S_GAIN, 0.98, 1.02}},
     5},
    {"(b) block left at 20 s",
     {.duration = 60, .block = BLOCK, .block_value = 160, .block_on = 20, .block_off = NEVER,
      NO_MOVER},
     {{40.0, 40.0, R_BLOCK_INNER, S_MIN_AGE, 18, 22},
      {40.0, 40.0, R_BLOCK_INNER, S_MAX_AGE, 18, 22},
      {40.0, 40.0, R_BLOCK, S_MIN_AGE, 0.001, 22},
      {60.0, 60.0, R_BLOCK_INNER, S_MIN_AGE, 38, 42},
      {8.0, 60.0, R_OUTSIDE, S_MAX_AGE, 0, 0},
      {22.0, 60.0, R_BLOCK, S_FG_SHARE, 1, 1},
      {8.0, 19.8, R_ALL, S_MAX_AGE, 0, 0}},
     7},
    /* A high-contrast object (a white van on dark asphalt): same expectation. */
    {"(b2) bright block left at 20 s",
     {.duration = 40, .block = BLOCK, .block_value = 240, .block_on = 20, .block_off = NEVER,
      NO_MOVER},
     {{40.0, 40.0, R_BLOCK_INNER, S_MIN_AGE, 18, 22},
      {40.0, 40.0, R_BLOCK_INNER, S_MAX_AGE, 18, 22},
      {8.0, 40.0, R_OUTSIDE, S_MAX_AGE, 0, 0}},
     3},
    {"(c) moving block",
     {.duration = 60, NO_BLOCK, .mover = {0, 50, 20, 15}, .move_x0 = -20, .speed = 4,
      .mover_value = 185, .wrap = true, .move_on = 10, .move_off = NEVER},
     {{0.0, 60, R_ALL, S_MAX_AGE, 0, 2.999}},
     1},
    {"(d) sudden light x1.3",
     {.duration = 60, .gain = {{0, 1.0}, {19.9, 1.0}, {20.0, 1.3}}, .n_gain = 3, NO_BLOCK,
      NO_MOVER},
     {{0.0, 60, R_ALL, S_MAX_AGE, 0, 2.999},
      {25.0, 60, R_ALL, S_GAIN, 1.15, 1.35}},
     2},
    {"(e) gradual darkening x0.7",
     {.duration = 50,
      .gain = {{0, 1.0}, {20.0, 1.0}, {22.0, 0.7}, {30.0, 0.7}, {32.0, 1.0}},
      .n_gain = 5, NO_BLOCK, NO_MOVER},
     {{0.0, 50, R_ALL, S_MAX_AGE, 0, 2.999},
      {24.0, 29.0, R_ALL, S_GAIN, 0.65, 0.75}},
     2},
    /* The occluder (20 px wide, 4 px/frame) covers each block pixel for 1 s, around t=35..37:
     * the age is held (not reset) through it, then grows on, so at 42 it is above its value
     * at 34. */
    {"(f) occlusion of a static block",
     {.duration = 45, .block = BLOCK, .block_value = 185, .block_on = 20, .block_off = NEVER,
      .mover = {0, 35, 20, 25}, .move_x0 = 10, .speed = 4, .mover_value = 20, .wrap = false,
      .move_on = 33.0, .move_off = 41.0},
     {{34.0, 34.0, R_BLOCK_INNER, S_MIN_AGE, 11, 14},
      {34.0, 45.0, R_BLOCK_INNER, S_MIN_AGE, 11, 100},
      {42.0, 42.0, R_BLOCK_INNER, S_MIN_AGE, 13, 23}},
     3},
    {"(g) static block removed at 50 s",
     {.duration = 60, .block = BLOCK, .block_value = 185, .block_on = 20, .block_off = 50,
      NO_MOVER},
     {{49.8, 49.8, R_BLOCK_INNER, S_MIN_AGE, 27, 31},
      {52.0, 60.0, R_ALL, S_MAX_AGE, 0, 0}},
     2},
    {"(h) object leaves during warm-up",
     {.duration = 40, .block = BLOCK, .block_value = 185, .block_on = 0, .block_off = 3,
      NO_MOVER},
     {{20.0, 40.0, R_ALL, S_MAX_AGE, 0, 5}},
     1},
    {"(h') dark object leaves during warm-up",
     {.duration = 40, .block = BLOCK, .block_value = 15, .block_on = 0, .block_off = 3,
      NO_MOVER},
     {{20.0, 40.0, R_ALL, S_MAX_AGE, 0, 5}},
     1},
    /* A camera on a pole in the wind (analysis/stabilise.c): the frames are moved back onto
     * the background, so the jittering edges of an empty scene never come to rest, a gust
     * included; and a block left in the shaking view is at rest as on a steady camera. */
    {"(i) shaking camera, empty scene",
     {.duration = 60, NO_BLOCK, NO_MOVER, .shake = true},
     {{8.0, 60, R_ALL, S_MAX_AGE, 0, 2.999},
      {12.0, 29.8, R_ALL, S_FG_SHARE, 0, 0.001}},
     2},
    {"(i') shaking camera, block left at 20 s",
     {.duration = 60, .block = BLOCK, .block_value = 160, .block_on = 20, .block_off = NEVER,
      NO_MOVER, .shake = true},
     {{40.0, 40.0, R_BLOCK_INNER, S_MIN_AGE, 17, 22},
      {60.0, 60.0, R_BLOCK_INNER, S_MIN_AGE, 37, 42},
      {8.0, 60.0, R_OUTSIDE, S_MAX_AGE, 0, 2.999}},
     3},
    /* A camera's on-screen display keeps its raw value when the light changes: divided by the
     * scene's gain it looks changed. The pixels that kept their raw value through the change
     * are found (overlay) and compared raw, so the text never comes to rest; no pixel of the
     * scene is taken for one, the light back included; what the blur mixes with the scene at
     * the text's rim is left to the rules (the overlay's reach, rest_mask.c). The rest of the
     * scene is seen as before: a block left in the dark, whose value happens to be its raw
     * background's (160 x 0.6 = 96 on a background of about 90), is no overlay: the scene
     * under it followed the light first. */
    {"(j) on-screen text through a darkening x0.6",
     {.duration = 70, DARK_20_TO_54, NO_BLOCK, NO_MOVER, .osd = {10, 100, 64, 10}},
     {{8.0, 70, R_OSD_INNER, S_MAX_AGE, 0, 2.999},
      {8.0, 70, R_OFF_OSD, S_MAX_AGE, 0, 2.999},
      {8.0, 19.8, R_ALL, S_OVERLAY, 0, 0},
      {26.0, 70, R_OSD_INNER, S_OVERLAY, 0.9, 1},
      {8.0, 70, R_OFF_OSD, S_OVERLAY, 0, 0}},
     5},
    {"(j') on-screen text, a block left in the dark",
     {.duration = 70, DARK_20_TO_54, .block = BLOCK, .block_value = 160, .block_on = 30,
      .block_off = NEVER, NO_MOVER, .osd = {10, 100, 64, 10}},
     {{48.0, 48.0, R_BLOCK_INNER, S_MIN_AGE, 16, 20},
      {48.0, 48.0, R_BLOCK, S_OVERLAY, 0, 0},
      {8.0, 70, R_OSD_INNER, S_MAX_AGE, 0, 2.999}},
     3},
    /* A thing at rest before the light changes is part of the scene, whatever its value: in
     * the dark this block's raw value (150 x 0.6 = 90) is its raw background's, yet it stays
     * at rest and is no overlay. */
    {"(j'') on-screen text, a block at rest before a darkening",
     {.duration = 60, .gain = {{0, 1.0}, {30.0, 1.0}, {34.0, 0.6}}, .n_gain = 3,
      .block = BLOCK, .block_value = 150, .block_on = 12, .block_off = NEVER, NO_MOVER,
      .osd = {10, 100, 64, 10}},
     {{50.0, 50.0, R_BLOCK_INNER, S_MIN_AGE, 34, 40},
      {8.0, 60.0, R_BLOCK, S_OVERLAY, 0, 0},
      {40.0, 60.0, R_OSD_INNER, S_OVERLAY, 0.9, 1}},
     3},
    /* What it prevents: the same shaking empty scene without stabilisation has edges at rest
     * for many seconds (and is most of the frame "foreground"). */
    {"(i'') shaking camera, not stabilised",
     {.duration = 60, NO_BLOCK, NO_MOVER, .shake = true},
     {{8.0, 60, R_ALL, S_MAX_AGE, 10, 1e9, .peak = true}},
     1, .no_stabilise = true},
};

static void test_bad_input(void)
{
    CHECK(so_static_model_create(4, 4, NULL) == NULL);
    CHECK(so_static_model_create(0, 120, NULL) == NULL);
    struct so_static_model *m = so_static_model_create(W, H, NULL);
    CHECK(m != NULL);
    if (!m) {
        return;
    }
    static uint8_t gray[W * H];
    CHECK_INT(so_static_model_update(m, gray, W - 1, 0.0), -EINVAL);
    CHECK_INT(so_static_model_update(m, NULL, W, 0.0), -EINVAL);
    CHECK_INT(so_static_model_update(m, gray, W, 0.0), 0);
    CHECK(so_static_model_warming_up(m));
    so_static_model_destroy(m);
    so_static_model_destroy(NULL);

    struct so_static_params p;
    so_static_params_default(&p);
    CHECK_DBL(p.warmup_s, 8.0, 1e-9);
}

/*
 * The warm-up background is the per-pixel (upper) median of the samples so far, after every
 * sample, also when the camera moved in between (so_static_model_translate). Frames are made
 * of 20x20 tiles of one grey each (the blur keeps a tile's centre), a new random grey per tile
 * and sample, one frame per sample period (0.5 s).
 */
#define TILE 20
#define TX (W / TILE)
#define TY (H / TILE)

static int cmp_u8(const void *a, const void *b)
{
    return *(const uint8_t *)a - *(const uint8_t *)b;
}

static void test_warmup_median(void)
{
    struct so_static_model *m = so_static_model_create(W, H, NULL);
    CHECK(m != NULL);
    if (!m) {
        return;
    }
    static uint8_t gray[W * H];
    uint8_t hist[TY][TX][16], sorted[16];
    uint32_t seed = 99;
    for (int s = 0; s < 16; s++) {
        if (s == 8) {
            /* The camera came back one tile to the right: tile x now shows what tile x - 1
             * showed (tile 0: itself, the edge is clamped). */
            CHECK_INT(so_static_model_translate(m, TILE, 0), 0);
            for (int ty = 0; ty < TY; ty++) {
                for (int tx = TX - 1; tx > 0; tx--) {
                    memcpy(hist[ty][tx], hist[ty][tx - 1], 16);
                }
            }
        }
        for (int ty = 0; ty < TY; ty++) {
            for (int tx = 0; tx < TX; tx++) {
                seed = seed * 1664525u + 1013904223u;
                uint8_t v = (uint8_t)(seed >> 24);
                hist[ty][tx][s] = v;
                for (int y = ty * TILE; y < (ty + 1) * TILE; y++) {
                    memset(gray + (size_t)y * W + tx * TILE, v, TILE);
                }
            }
        }
        CHECK_INT(so_static_model_update(m, gray, W, 0.5 * s), 0);
        const float *bg = so_static_model_background(m);
        int wrong = 0;
        for (int ty = 0; ty < TY; ty++) {
            for (int tx = 0; tx < TX; tx++) {
                memcpy(sorted, hist[ty][tx], (size_t)s + 1);
                qsort(sorted, (size_t)s + 1, 1, cmp_u8);
                float got = bg[(size_t)(ty * TILE + TILE / 2) * W + tx * TILE + TILE / 2];
                wrong += got != (float)sorted[(s + 1) / 2];
            }
        }
        so_test_check(wrong == 0, __FILE__, __LINE__, "warm-up median after sample %d: %d of %d "
                      "tiles differ", s + 1, wrong, TX * TY);
    }
    CHECK(so_static_model_warming_up(m));
    so_static_model_destroy(m);
}

/*
 * A block put down at 12 s; the frames from 20 to 50 s are not analysed (the camera turned to
 * another preset: so_static_model_skip), then it is seen again to 55 s. Ages stood still over
 * the gap, so "now - age" dates the block to the gap (42 s); so_static_model_rest_since dates
 * it to when it came to rest. Without a gap the two agree.
 */
static void test_rest_since_gap(void)
{
    static float bg[W * H];
    static uint8_t gray[W * H];
    fill_background(bg);
    lcg_state = 12345u;
    const struct scene sc = {.duration = 55, .block = {60, 40, 30, 24}, .block_value = 230,
                             .block_on = 12, .block_off = NEVER};
    struct so_static_model *m = so_static_model_create(W, H, NULL);
    CHECK(m != NULL);
    size_t centre = (size_t)(40 + 12) * W + 60 + 15;
    for (int f = 0; m && f <= 55 * FPS; f++) {
        double t = (double)f / FPS;
        if (t > 20 && t < 50) {
            so_static_model_skip(m, t);
            continue;
        }
        render(&sc, bg, f, gray);
        CHECK_INT(so_static_model_update(m, gray, W, t), 0);
        if (f == 20 * FPS) {
            double age = so_static_model_age(m)[centre];
            CHECK_DBL(so_static_model_rest_since(m, age), t - age, 1e-9);
            CHECK_DBL(so_static_model_rest_since(m, age), 12.0, 1.5);
        }
    }
    double age = m ? so_static_model_age(m)[centre] : 0;
    CHECK_DBL(55.0 - age, 42.0, 1.5);
    CHECK_DBL(m ? so_static_model_rest_since(m, age) : -1, 12.0, 1.5);
    CHECK_DBL(m ? so_static_model_rest_since(m, 1.0) : -1, 54.0, 1e-9);
    so_static_model_destroy(m);
}

int main(void)
{
    test_bad_input();
    test_rest_since_gap();
    test_warmup_median();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_case(&cases[i]);
    }
    return so_test_done();
}
