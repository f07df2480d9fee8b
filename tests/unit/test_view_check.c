/*
 * Unit tests for detector/analysis/view_check.c on synthetic grey views: a "world" of random
 * rectangles (a deterministic LCG) wider than the frame; the camera sees a crop of it, with
 * sensor noise, at 5 fps. Each case is a timeline of views (home crop, a shifted crop, another
 * world, a covered lens, a defocused lens, a global gain, an occluder over part of the frame)
 * and probes: over a window of media time every frame's state must be one of a set, and
 * frame_ok must be as given. Then what the daemon does when a view comes back: so_view_align
 * finds a view a few pixels off, and the static model's so_static_model_translate and
 * so_static_model_skip (no ageing over frames not analysed).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "static_model.h"
#include "testlib.h"
#include "view_check.h"

#define W 160
#define H 120
#define WORLD_W 320
#define FPS 5
#define MAX_SEGS 5
#define MAX_PROBES 6

enum view {
    V_HOME,         /* crop at x = 40 of world 1 */
    V_SHIFT,        /* crop at x = 40 + param of world 1 (a camera turned) */
    V_OTHER,        /* crop of world 2 (another preset) */
    V_COVER,        /* uniform at grey level param, small noise */
    V_BLUR,         /* home, box-blurred with radius param */
    V_GAIN,         /* home times param / 100 (clipped) */
    V_OCCLUDE,      /* home with a textured block over param % of the frame, bottom left */
    V_BUS,          /* home with a 70 x 60 block moving right 8 px a frame */
};

struct seg {
    double t;
    enum view view;
    int param;
};

#define S(st) (1u << (st))
#define ANY_OK (S(SO_VIEW_LEARNING) | S(SO_VIEW_NORMAL))

struct probe {
    double t0, t1;
    unsigned states;    /* allowed states (bit mask) */
    int ok;             /* expected frame_ok: 0, 1, or -1 for either */
};

struct tcase {
    const char *name;
    double duration;
    struct seg segs[MAX_SEGS];
    int n_segs;
    struct probe probes[MAX_PROBES];
    int n_probes;
    const char *reason;     /* the last non-normal state's reason contains this (or NULL) */
    int adopted;            /* times the view must be adopted */
    double adopt_s;         /* 0: default parameters */
};

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void make_world(uint8_t *world, uint32_t seed)
{
    for (int i = 0; i < WORLD_W * H; i++) {
        world[i] = (uint8_t)(90 + (i % WORLD_W) / 8);
    }
    for (int k = 0; k < 260; k++) {
        int w = 4 + (int)(lcg(&seed) % 30), h = 4 + (int)(lcg(&seed) % 24);
        int x0 = (int)(lcg(&seed) % (WORLD_W - w)), y0 = (int)(lcg(&seed) % (H - h));
        uint8_t v = (uint8_t)(30 + lcg(&seed) % 190);
        for (int y = y0; y < y0 + h; y++) {
            memset(world + (size_t)y * WORLD_W + x0, v, (size_t)w);
        }
    }
}

static void box_blur(uint8_t *img, int r)
{
    static uint8_t tmp[W * H];
    for (int pass = 0; pass < 2; pass++) {
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                int s = 0, n = 0;
                for (int d = -r; d <= r; d++) {
                    int xx = pass ? x : x + d, yy = pass ? y + d : y;
                    if (xx >= 0 && xx < W && yy >= 0 && yy < H) {
                        s += img[yy * W + xx];
                        n++;
                    }
                }
                tmp[y * W + x] = (uint8_t)(s / n);
            }
        }
        memcpy(img, tmp, sizeof(tmp));
    }
}

static void render(uint8_t *out, const uint8_t *w1, const uint8_t *w2, const struct seg *s,
                   int frame, uint32_t *noise)
{
    int ox = 40;
    const uint8_t *world = w1;
    if (s->view == V_SHIFT) {
        ox += s->param;
    } else if (s->view == V_OTHER) {
        world = w2;
    }
    for (int y = 0; y < H; y++) {
        memcpy(out + y * W, world + (size_t)y * WORLD_W + ox, W);
    }
    if (s->view == V_COVER) {
        memset(out, s->param, W * H);
    } else if (s->view == V_BLUR) {
        box_blur(out, s->param);
    } else if (s->view == V_OCCLUDE || s->view == V_BUS) {
        int bw, bh, bx, by;
        if (s->view == V_OCCLUDE) {   /* param % of the frame, 4:3 */
            bw = (int)(W * sqrt(s->param / 100.0));
            bh = (int)(H * sqrt(s->param / 100.0));
            bx = 0;
            by = H - bh;
        } else {
            bw = 70;
            bh = 60;
            bx = (frame * 8) % (W + bw) - bw;
            by = 40;
        }
        for (int y = by; y < by + bh; y++) {
            for (int x = bx; x < bx + bw; x++) {
                if (x >= 0 && x < W) {  /* a vehicle side: panels and windows */
                    out[y * W + x] = (uint8_t)((x - bx) % 24 < 4 || (y - by) % 20 < 3 ? 40 : 200);
                }
            }
        }
    }
    for (int i = 0; i < W * H; i++) {
        double v = out[i];
        if (s->view == V_GAIN) {
            v = v * s->param / 100.0;
        }
        v += (int)(lcg(noise) % 5) - 2;     /* sensor noise, +-2 */
        out[i] = (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
    }
}

static const struct tcase cases[] = {
    {"steady view stays normal", 30, {{0, V_HOME, 0}}, 1,
     {{0, 3.9, S(SO_VIEW_LEARNING), 1}, {4.4, 30, S(SO_VIEW_NORMAL), 1}}, 2, NULL, 0, 0},
    {"light x0.5 stays normal", 40, {{0, V_HOME, 0}, {10, V_GAIN, 50}}, 2,
     {{4.4, 40, S(SO_VIEW_NORMAL), 1}}, 1, NULL, 0, 0},
    {"light x1.6 stays normal", 40, {{0, V_HOME, 0}, {10, V_GAIN, 160}}, 2,
     {{4.4, 40, S(SO_VIEW_NORMAL), 1}}, 1, NULL, 0, 0},
    {"occluder over 30% stays normal", 40, {{0, V_HOME, 0}, {10, V_OCCLUDE, 30}, {30, V_HOME, 0}},
     3, {{4.4, 40, S(SO_VIEW_NORMAL), 1}}, 1, NULL, 0, 0},
    {"passing bus stays normal", 40, {{0, V_HOME, 0}, {10, V_BUS, 0}, {30, V_HOME, 0}}, 3,
     {{4.4, 40, S(SO_VIEW_NORMAL), -1}}, 1, NULL, 0, 0},
    {"camera turned: moved, then back", 50,
     {{0, V_HOME, 0}, {10, V_SHIFT, 40}, {30, V_HOME, 0}}, 3,
     {{4.4, 9.9, S(SO_VIEW_NORMAL), 1}, {10, 11.7, S(SO_VIEW_NORMAL), 0},
      {12.1, 30, S(SO_VIEW_MOVED), 0}, {30, 31.7, S(SO_VIEW_MOVED), 0},
      {32.1, 50, S(SO_VIEW_NORMAL), 1}}, 5, "view shifted", 0, 0},
    {"other preset: moved, then back", 50,
     {{0, V_HOME, 0}, {10, V_OTHER, 0}, {40, V_HOME, 0}}, 3,
     {{12.1, 40, S(SO_VIEW_MOVED), 0}, {42.1, 50, S(SO_VIEW_NORMAL), 1}}, 2, "does not match",
     0, 0},
    {"brief mismatch (1.4 s) is no move", 30,
     {{0, V_HOME, 0}, {10, V_OTHER, 0}, {11.4, V_HOME, 0}}, 3,
     {{4.4, 30, S(SO_VIEW_NORMAL), -1}, {10, 11.3, S(SO_VIEW_NORMAL), 0},
      {11.4, 30, S(SO_VIEW_NORMAL), 1}}, 3, NULL, 0, 0},
    {"lens covered dark: tampered", 40, {{0, V_HOME, 0}, {10, V_COVER, 15}, {25, V_HOME, 0}}, 3,
     {{12.1, 25, S(SO_VIEW_TAMPERED), 0}, {27.1, 40, S(SO_VIEW_NORMAL), 1}}, 2, "lens covered",
     0, 0},
    {"lens covered bright: tampered", 40,
     {{0, V_HOME, 0}, {10, V_COVER, 235}, {25, V_HOME, 0}}, 3,
     {{12.1, 25, S(SO_VIEW_TAMPERED), 0}, {27.1, 40, S(SO_VIEW_NORMAL), 1}}, 2, "lens covered",
     0, 0},
    {"defocused: tampered", 40, {{0, V_HOME, 0}, {10, V_BLUR, 3}, {25, V_HOME, 0}}, 3,
     {{12.1, 25, S(SO_VIEW_TAMPERED), 0}, {27.1, 40, S(SO_VIEW_NORMAL), 1}}, 2, "defocused",
     0, 0},
    {"covered from the start: tampered", 20, {{0, V_COVER, 20}, {12, V_HOME, 0}}, 2,
     {{0, 1.9, S(SO_VIEW_LEARNING), 0}, {2.1, 12, S(SO_VIEW_TAMPERED), 0},
      {14.1, 20, ANY_OK, 1}}, 3, "lens covered", 0, 0},
    {"moved for long: new view adopted", 60, {{0, V_HOME, 0}, {10, V_OTHER, 0}}, 2,
     {{12.1, 41.9, S(SO_VIEW_MOVED), 0}, {42.1, 45.9, S(SO_VIEW_LEARNING), 1},
      {46.5, 60, S(SO_VIEW_NORMAL), 1}}, 3, "does not match", 1, 30},
};

static void run_case(const struct tcase *tc, const uint8_t *w1, const uint8_t *w2)
{
    struct so_view_params p;
    so_view_params_default(&p);
    if (tc->adopt_s > 0) {
        p.adopt_s = tc->adopt_s;
    }
    struct so_view_check *v = so_view_check_create(W, H, &p);
    if (!CHECK(v != NULL)) {
        return;
    }
    static uint8_t img[W * H];
    uint32_t noise = 12345;
    int n = (int)(tc->duration * FPS);
    int bad_probe_frames[MAX_PROBES] = {0}, bad_ok_frames[MAX_PROBES] = {0};
    int adopted = 0, changes = 0;
    double min_match = 9, min_sharp = 9, max_sharp = 0;
    char last_reason[sizeof(((struct so_view_result *)0)->reason)] = "";
    for (int i = 0; i < n; i++) {
        double t = (double)i / FPS;
        const struct seg *s = &tc->segs[0];
        for (int k = 0; k < tc->n_segs; k++) {
            if (t >= tc->segs[k].t - 1e-9) {
                s = &tc->segs[k];
            }
        }
        render(img, w1, w2, s, i, &noise);
        struct so_view_result r;
        if (so_view_check_update(v, img, W, t, &r) != 0) {
            CHECK(!"update failed");
            break;
        }
        adopted += r.adopted;
        if (r.state != SO_VIEW_LEARNING) {
            min_match = r.match < min_match ? r.match : min_match;
            min_sharp = r.sharpness < min_sharp ? r.sharpness : min_sharp;
            max_sharp = r.sharpness > max_sharp ? r.sharpness : max_sharp;
        }
        changes += r.changed;
        if (r.state == SO_VIEW_MOVED || r.state == SO_VIEW_TAMPERED) {
            snprintf(last_reason, sizeof(last_reason), "%s", r.reason);
        }
        for (int k = 0; k < tc->n_probes; k++) {
            const struct probe *pr = &tc->probes[k];
            if (t < pr->t0 - 1e-9 || t > pr->t1 + 1e-9) {
                continue;
            }
            if (!(pr->states & S(r.state))) {
                if (!bad_probe_frames[k]++) {
                    so_test_check(false, __FILE__, __LINE__, "%s: t=%.1f state %s (match %.2f "
                                  "sharp %.2f contrast %.1f: %s)", tc->name, t,
                                  so_view_state_name(r.state), r.match, r.sharpness, r.contrast,
                                  r.reason);
                }
            }
            if (pr->ok >= 0 && r.frame_ok != (pr->ok == 1)) {
                if (!bad_ok_frames[k]++) {
                    so_test_check(false, __FILE__, __LINE__, "%s: t=%.1f frame_ok %d (match "
                                  "%.2f sharp %.2f contrast %.1f)", tc->name, t, r.frame_ok,
                                  r.match, r.sharpness, r.contrast);
                }
            }
        }
    }
    for (int k = 0; k < tc->n_probes; k++) {
        so_test_check(bad_probe_frames[k] == 0 && bad_ok_frames[k] == 0, __FILE__, __LINE__,
                      "%s: probe %.1f-%.1f s (%d frames off in state, %d in frame_ok)", tc->name,
                      tc->probes[k].t0, tc->probes[k].t1, bad_probe_frames[k],
                      bad_ok_frames[k]);
    }
    if (tc->reason) {
        so_test_check(strstr(last_reason, tc->reason) != NULL, __FILE__, __LINE__,
                      "%s: reason \"%s\" contains \"%s\"", tc->name, last_reason, tc->reason);
    }
    so_test_check(adopted == tc->adopted, __FILE__, __LINE__, "%s: adopted %d times (want %d)",
                  tc->name, adopted, tc->adopted);
    printf("# %s: %d state changes; match >= %.2f, sharpness %.2f..%.2f\n", tc->name, changes,
           min_match, min_sharp, max_sharp);
    so_view_check_destroy(v);
}

/* so_view_align: a view that came back a few pixels off is found at its offset. */
static void test_align(const uint8_t *world)
{
    enum { AW = 160, AH = 100 };
    static float ref[AW * AH];
    static uint8_t cur[AW * AH];
    const int shifts[][2] = {{0, 0}, {3, 1}, {-2, 2}, {7, -3}};
    for (size_t k = 0; k < sizeof(shifts) / sizeof(shifts[0]); k++) {
        int sx = shifts[k][0], sy = shifts[k][1];
        uint32_t noise = 7;
        for (int y = 0; y < AH; y++) {
            for (int x = 0; x < AW; x++) {
                ref[y * AW + x] = world[(size_t)(y + 10) * WORLD_W + x + 40];
                /* content at ref (x, y) is at cur (x + sx, y + sy); half the gain, noisy */
                int v = world[(size_t)(y + 10 - sy) * WORLD_W + x + 40 - sx] / 2;
                cur[y * AW + x] = (uint8_t)(v + (int)(lcg(&noise) % 5) - 2);
            }
        }
        int dx = 99, dy = 99;
        double z = so_view_align(ref, cur, AW, AW, AH, 8, &dx, &dy);
        so_test_check(dx == sx && dy == sy && z > 0.5, __FILE__, __LINE__,
                      "align: shift %+d,%+d found as %+d,%+d (zncc %.2f)", sx, sy, dx, dy, z);
    }
    int dx, dy;
    CHECK(so_view_align(NULL, cur, AW, AW, AH, 8, &dx, &dy) == -2);
    CHECK(so_view_align(ref, cur, AW - 1, AW, AH, 8, &dx, &dy) == -2);
}

/* so_static_model_translate: ages and background move with the scene. */
static void test_translate(const uint8_t *world)
{
    struct so_static_model *m = so_static_model_create(W, H, NULL);
    if (!CHECK(m != NULL)) {
        return;
    }
    static uint8_t img[W * H];
    uint32_t noise = 3;
    for (int i = 0; i < 20 * FPS; i++) {
        double t = (double)i / FPS;
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                bool block = t >= 10 && x >= 50 && x < 70 && y >= 50 && y < 70;
                int v = block ? 250 : world[(size_t)y * WORLD_W + x + 40];
                img[y * W + x] = (uint8_t)(v + (int)(lcg(&noise) % 5) - 2);
            }
        }
        so_static_model_update(m, img, W, t);
    }
    const float *age = so_static_model_age(m);
    CHECK(age[60 * W + 51] > 5.0f);
    CHECK_INT(so_static_model_translate(m, 3, 1), 0);
    age = so_static_model_age(m);
    so_test_check(age[61 * W + 72] > 5.0f && age[61 * W + 51] == 0.0f, __FILE__, __LINE__,
                  "translate +3,+1: age moved (%.1f at the block's new right edge, %.1f where "
                  "its left edge was)", age[61 * W + 72], age[61 * W + 51]);
    CHECK_INT(so_static_model_translate(m, W / 2, 0), -EINVAL);
    CHECK_INT(so_static_model_translate(m, 0, 0), 0);

    /* so_static_model_skip: 60 s not analysed (camera moved) age nothing. The pixel is in the
     * block before and after the translation: without the skip it would age by 60 s. */
    float before = age[61 * W + 60];
    so_static_model_skip(m, 80.0);
    so_static_model_update(m, img, W, 80.2);
    age = so_static_model_age(m);
    so_test_check(before > 5.0f && age[61 * W + 60] >= before && age[61 * W + 60] - before < 1.0f,
                  __FILE__, __LINE__, "skip: age %.1f -> %.1f over a 60 s gap", before,
                  age[61 * W + 60]);
    so_static_model_destroy(m);
}

int main(void)
{
    static uint8_t w1[WORLD_W * H], w2[WORLD_W * H];
    make_world(w1, 1);
    make_world(w2, 99);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_case(&cases[i], w1, w2);
    }

    test_align(w1);
    test_translate(w1);

    /* Bad input. */
    CHECK(so_view_check_create(8, 8, NULL) == NULL);
    so_view_check_destroy(NULL);
    struct so_view_check *v = so_view_check_create(W, H, NULL);
    struct so_view_result r;
    CHECK_INT(so_view_check_update(v, NULL, W, 0, &r), -EINVAL);
    CHECK_INT(so_view_check_update(v, w1, W - 1, 0, &r), -EINVAL);
    CHECK_STR(so_view_state_name(SO_VIEW_MOVED), "moved");
    CHECK_STR(so_view_state_name(SO_VIEW_TAMPERED), "tampered");
    so_view_check_destroy(v);
    return so_test_done();
}
