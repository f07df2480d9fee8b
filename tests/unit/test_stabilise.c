/*
 * Unit tests for detector/analysis/stabilise.c on synthetic views: a smooth textured world
 * (8x8 cells of pseudo-random grey, box-blurred like the static model's frames); the
 * reference is the world, the frame is the world moved by a known (sub-pixel) shift, under a
 * light change (global gain, a shadow over half the frame, a soft gradient), with sensor noise
 * and an object that drove in. Each case gives the shift expected (or none) and a tolerance.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stabilise.h"
#include "testlib.h"

#define W 320
#define H 180
#define MAX_SHIFT 6

enum light { L_NONE, L_GAIN, L_SHADOW, L_GRADIENT };

struct tcase {
    const char *name;
    double dx, dy;          /* content at ref (x, y) is at frame (x + dx, y + dy) */
    enum light light;
    bool object;            /* a bright 60x40 block in the frame, not in the skip mask */
    bool other_world;       /* the frame shows another scene (a moved PTZ) */
    bool flat;              /* the reference has no texture */
    bool expect_ok;
    double tol;
};

static uint32_t hash2(int x, int y, uint32_t seed)
{
    uint32_t h = (uint32_t)x * 374761393u + (uint32_t)y * 668265263u + seed * 2246822519u;
    h = (h ^ (h >> 13)) * 1274126177u;
    return h ^ (h >> 16);
}

/* The world at real coordinates: bilinear between cell-textured pixels, box-blurred 5x5. */
static float world_px(int x, int y, uint32_t seed)
{
    float s = 0;
    for (int j = -2; j <= 2; j++) {
        for (int i = -2; i <= 2; i++) {
            s += (float)(60 + hash2((x + i + 1000) / 8, (y + j + 1000) / 8, seed) % 120);
        }
    }
    return s / 25.0f;
}

static float world(double x, double y, uint32_t seed)
{
    int x0 = (int)floor(x), y0 = (int)floor(y);
    float fx = (float)(x - x0), fy = (float)(y - y0);
    return (1 - fy) * ((1 - fx) * world_px(x0, y0, seed) + fx * world_px(x0 + 1, y0, seed)) +
           fy * ((1 - fx) * world_px(x0, y0 + 1, seed) + fx * world_px(x0 + 1, y0 + 1, seed));
}

static float light_at(enum light l, int x, int y)
{
    switch (l) {
    case L_GAIN:
        return 1.4f;
    case L_SHADOW:
        return x < W / 2 ? 0.55f : 1.0f;
    case L_GRADIENT:
        return 0.6f + 0.8f * (float)(x + y) / (W + H);
    default:
        return 1.0f;
    }
}

static void make_views(const struct tcase *c, float *ref, uint8_t *frame)
{
    uint32_t noise = 4242;
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            ref[y * W + x] = c->flat ? 100.0f : world(x, y, 1);
            float v = c->flat ? 100.0f : world(x - c->dx, y - c->dy, c->other_world ? 2 : 1);
            v *= light_at(c->light, x, y);
            if (c->object && x >= 150 && x < 210 && y >= 60 && y < 100) {
                v = 230.0f - (float)((x / 6 + y / 6) % 2) * 40.0f;
            }
            noise = noise * 1664525u + 1013904223u;
            v += (float)(noise >> 29) - 3.5f;   /* +-3.5 grey levels */
            frame[y * W + x] = (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : lrintf(v)));
        }
    }
}

static const struct tcase cases[] = {
    {"steady", 0, 0, L_NONE, false, false, false, true, 0.05},
    {"one pixel right", 1, 0, L_NONE, false, false, false, true, 0.15},
    {"one pixel up-left", -1, -1, L_NONE, false, false, false, true, 0.15},
    {"half a pixel", 0.5, -0.3, L_NONE, false, false, false, true, 0.2},
    {"a gust", 3.6, -2.4, L_NONE, false, false, false, true, 0.25},
    {"the search's limit", -6, 5, L_NONE, false, false, false, true, 0.25},
    {"auto-exposure x1.4, steady", 0, 0, L_GAIN, false, false, false, true, 0.05},
    {"auto-exposure x1.4, shaken", 1, 1, L_GAIN, false, false, false, true, 0.15},
    {"cloud shadow over half, steady", 0, 0, L_SHADOW, false, false, false, true, 0.1},
    {"cloud shadow over half, shaken", -2, 1, L_SHADOW, false, false, false, true, 0.2},
    {"light gradient, shaken", 1, -1, L_GRADIENT, false, false, false, true, 0.2},
    {"a car drove in, steady", 0, 0, L_NONE, true, false, false, true, 0.1},
    {"a car drove in, shaken", 2, 0, L_NONE, true, false, false, true, 0.2},
    {"another scene (moved PTZ)", 0, 0, L_NONE, false, true, false, false, 0},
    {"no texture", 0, 0, L_NONE, false, false, true, false, 0},
};

static void run_case(struct so_stabiliser *s, const struct tcase *c, float *ref, uint8_t *frame,
                     uint8_t *back)
{
    make_views(c, ref, frame);
    struct so_shift sh;
    so_stabiliser_estimate(s, ref, frame, NULL, &sh);
    if (!c->expect_ok) {
        so_test_check(!sh.ok, __FILE__, __LINE__, "%s: no shift (got %s %+.2f,%+.2f, match "
                      "%.2f, %d points)", c->name, sh.ok ? "ok" : "none", sh.dx, sh.dy,
                      sh.match, sh.points);
        return;
    }
    so_test_check(sh.ok && fabs(sh.dx - c->dx) <= c->tol && fabs(sh.dy - c->dy) <= c->tol,
                  __FILE__, __LINE__, "%s: shift %+.2f,%+.2f within %.2f (got %s %+.2f,%+.2f, "
                  "match %.2f, %d points)", c->name, c->dx, c->dy, c->tol,
                  sh.ok ? "ok" : "none", sh.dx, sh.dy, sh.match, sh.points);
    if (!sh.ok || c->light != L_NONE || c->object) {
        return;
    }
    /* Moved back by the estimate, the frame is the reference again (inside the border the
     * shift uncovered): mean |difference| at the noise's level. */
    so_stabiliser_warp(s, frame, back, sh.dx, sh.dy);
    double sum = 0;
    long n = 0;
    for (int y = 10; y < H - 10; y++) {
        for (int x = 10; x < W - 10; x++) {
            sum += fabs(back[y * W + x] - ref[y * W + x]);
            n++;
        }
    }
    so_test_check(sum / n < 2.5, __FILE__, __LINE__, "%s: warped back, mean |frame - ref| "
                  "%.2f < 2.5", c->name, sum / n);
}

/* Pixels the caller marks (foreground) do not vote: an object that moved with the view's
 * shift would otherwise pull the estimate; here a large textured block in the frame, shifted
 * by 4 px while the scene is steady, is in the skip mask. */
static void test_skip(struct so_stabiliser *s, float *ref, uint8_t *frame)
{
    struct tcase steady = {"skip", 0, 0, L_NONE, false, false, false, true, 0.05};
    make_views(&steady, ref, frame);
    static uint8_t skip[W * H];
    memset(skip, 0, sizeof(skip));
    for (int y = 20; y < 160; y++) {
        for (int x = 20; x < 200; x++) {
            frame[y * W + x] = (uint8_t)lrintf(world(x - 4, y, 1));
            skip[y * W + x] = 255;
        }
    }
    struct so_shift sh;
    so_stabiliser_estimate(s, ref, frame, skip, &sh);
    so_test_check(sh.ok && fabs(sh.dx) < 0.1 && fabs(sh.dy) < 0.1, __FILE__, __LINE__,
                  "skipped pixels do not vote: steady (got %s %+.2f,%+.2f, %d points)",
                  sh.ok ? "ok" : "none", sh.dx, sh.dy, sh.points);
}

int main(void)
{
    CHECK(so_stabiliser_create(8, 100, 4) == NULL);
    CHECK(so_stabiliser_create(W, H, 0) == NULL);
    CHECK(so_stabiliser_create(W, H, 17) == NULL);
    so_stabiliser_destroy(NULL);
    struct so_stabiliser *s = so_stabiliser_create(W, H, MAX_SHIFT);
    CHECK(s != NULL);
    float *ref = malloc(sizeof(float) * W * H);
    uint8_t *frame = malloc(W * H), *back = malloc(W * H);
    if (s && ref && frame && back) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            run_case(s, &cases[i], ref, frame, back);
        }
        test_skip(s, ref, frame);
    }
    free(ref);
    free(frame);
    free(back);
    so_stabiliser_destroy(s);
    return so_test_done();
}
