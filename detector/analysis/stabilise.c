/*
 * Why this file exists: a camera on a pole moves with the wind, by a pixel all the time and by
 * a few in gusts. The static model compares every pixel with a background learnt over minutes,
 * so a scene moved by one pixel turns every edge into "foreground", and edges that jitter in
 * place look at rest: kerbs, lawn borders and window frames came to rest as objects and opened
 * episodes on a shaking view of an empty scene. Moving the frame back onto the background before
 * the comparison removes the cause; thresholds could only hide it.
 *
 * Method, per frame, on up to MAX_POINTS reference points (the strongest gradients of the
 * background on a sparse grid, away from the border and from pixels the caller marks as
 * foreground): the score of a shift is the normalised correlation between the reference's
 * gradients at the points and the frame's gradients at the shifted points. A local gain (a
 * cloud shadow, a lamp that dims half the scene) scales a point's gradients, never the shift
 * where its correlation peaks; an intensity fit with one global gain was pulled by passing
 * cloud shadows and, through the background learning from the frames it moved, walked away.
 * (A mean cosine of gradient directions is as blind to gain but flat along a blurred edge's
 * ramp: it located shifts to a fifth of a pixel only.) The
 * integer shift is a hill-climb from no shift, one pixel at a time up to max_shift; the
 * fraction, a parabola through the scores either side in x and in y.
 * A score below MIN_MATCH or too few points give no estimate: the view itself has changed
 * (moved, covered), which the view check reports.
 *
 * Trade-offs: rotation (a fraction of a degree in a gust) and zoom are not modelled; their
 * residual at the corners of the frame is under a pixel and the blur the static model applies
 * absorbs it. Points come from the background, so an empty, textureless view gives no estimate
 * (and needs none).
 */
#include "stabilise.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MAX_POINTS 2048
#define MIN_POINTS 64
#define MIN_MATCH 0.4
#define MIN_GRAD 3.0f       /* central-difference gradient (grey levels/px) of a point */

struct point {
    int x, y;
    float gx, gy;           /* the reference's gradient */
};

struct so_stabiliser {
    int w, h, max_shift, step;
    struct point *pts;      /* candidates, then the chosen points */
    int n_pts;
    double ref_energy;      /* sum of the points' squared gradients */
    int *col0;              /* per column: the clamped source columns of the warp */
    int *col1;
};

struct so_stabiliser *so_stabiliser_create(int w, int h, int max_shift)
{
    if (w < 16 || h < 16 || max_shift < 1 || max_shift > 16) {
        return NULL;
    }
    struct so_stabiliser *s = calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    s->w = w;
    s->h = h;
    s->max_shift = max_shift;
    s->step = w / 160 > 2 ? w / 160 : 2;
    size_t grid = (size_t)(w / s->step + 1) * (h / s->step + 1);
    s->pts = malloc(grid * sizeof(*s->pts));
    s->col0 = malloc((size_t)w * sizeof(int));
    s->col1 = malloc((size_t)w * sizeof(int));
    if (!s->pts || !s->col0 || !s->col1) {
        so_stabiliser_destroy(s);
        return NULL;
    }
    return s;
}

void so_stabiliser_destroy(struct so_stabiliser *s)
{
    if (!s) {
        return;
    }
    free(s->pts);
    free(s->col0);
    free(s->col1);
    free(s);
}

/* Candidate points with enough gradient; then the MAX_POINTS strongest, by a histogram of
 * gradient magnitudes (no sort). */
static void pick_points(struct so_stabiliser *s, const float *ref, const uint8_t *skip)
{
    int w = s->w, h = s->h, m = s->max_shift + 3, n = 0; /* the search's reach, +1 */
    unsigned hist[256] = {0};
    uint32_t jitter = 2463534242u;
    for (int cy = m; cy < h - m - s->step; cy += s->step) {
        for (int cx = m; cx < w - m - s->step; cx += s->step) {
            /* Anywhere in the grid cell (xorshift): points all on one parity of a pattern
             * sample every edge's ramp on the same side, and the score's peak leans. */
            jitter ^= jitter << 13;
            jitter ^= jitter >> 17;
            jitter ^= jitter << 5;
            int x = cx + (int)(jitter % (unsigned)s->step);
            int y = cy + (int)((jitter >> 8) % (unsigned)s->step);
            size_t i = (size_t)y * w + x;
            if (skip && (skip[i] || skip[i - 1] || skip[i + 1] || skip[i - w] || skip[i + w])) {
                continue;
            }
            float gx = 0.5f * (ref[i + 1] - ref[i - 1]), gy = 0.5f * (ref[i + w] - ref[i - w]);
            float g = fabsf(gx) + fabsf(gy);
            if (g < MIN_GRAD) {
                continue;
            }
            s->pts[n++] = (struct point){x, y, gx, gy};
            hist[g > 255.0f ? 255 : (int)g]++;
        }
    }
    int floor_g = 0;
    unsigned above = 0;
    for (int b = 255; b >= 0 && n > MAX_POINTS; b--) {
        if (above + hist[b] > MAX_POINTS) {
            floor_g = b + 1;
            break;
        }
        above += hist[b];
    }
    if (floor_g > 0) {
        int k = 0;
        for (int i = 0; i < n; i++) {
            struct point p = s->pts[i];
            if (fabsf(p.gx) + fabsf(p.gy) >= (float)floor_g) {
                s->pts[k++] = p;
            }
        }
        n = k;
    }
    s->n_pts = n;
    s->ref_energy = 0;
    for (int i = 0; i < n; i++) {
        s->ref_energy += s->pts[i].gx * s->pts[i].gx + s->pts[i].gy * s->pts[i].gy;
    }
}

/* Normalised correlation of the points' reference gradients with the frame's gradients at
 * shift (sx, sy): a local gain scales both sums of a point, never where it peaks. */
static double score_at(const struct so_stabiliser *s, const uint8_t *frame, int sx, int sy)
{
    int w = s->w;
    double dot = 0, ff = 0;
    for (int i = 0; i < s->n_pts; i++) {
        const struct point *p = &s->pts[i];
        const uint8_t *c = frame + (size_t)(p->y + sy) * w + p->x + sx;
        float gx = 0.5f * ((float)c[1] - c[-1]), gy = 0.5f * ((float)c[w] - c[-w]);
        dot += p->gx * gx + p->gy * gy;
        ff += gx * gx + gy * gy;
    }
    return ff > 0 ? dot / sqrt(s->ref_energy * ff) : -1.0;
}

/* The peak of the parabola through (-1, a), (0, b), (1, c), within +-0.5. */
static double vertex(double a, double b, double c)
{
    double d = a - 2 * b + c;
    if (d >= 0) {
        return 0;
    }
    double v = 0.5 * (a - c) / d;
    return v > 0.5 ? 0.5 : (v < -0.5 ? -0.5 : v);
}

void so_stabiliser_estimate(struct so_stabiliser *s, const float *ref, const uint8_t *frame,
                            const uint8_t *skip, struct so_shift *out)
{
    *out = (struct so_shift){0};
    pick_points(s, ref, skip);
    out->points = s->n_pts;
    if (s->n_pts < MIN_POINTS) {
        return;
    }
    int bx = 0, by = 0, lim = s->max_shift;
    double best = score_at(s, frame, 0, 0);
    for (int moves = 0; moves < 2 * lim; moves++) {    /* hill-climb, one pixel at a time */
        int nx = bx, ny = by;
        double nb = best;
        for (int j = -1; j <= 1; j++) {
            for (int i = -1; i <= 1; i++) {
                int x = bx + i, y = by + j;
                if ((i || j) && abs(x) <= lim && abs(y) <= lim) {
                    double z = score_at(s, frame, x, y);
                    if (z > nb) {
                        nb = z;
                        nx = x;
                        ny = y;
                    }
                }
            }
        }
        if (nx == bx && ny == by) {
            break;
        }
        bx = nx;
        by = ny;
        best = nb;
    }
    out->match = best;
    if (best < MIN_MATCH) {
        return;
    }
    out->dx = bx + vertex(score_at(s, frame, bx - 1, by), best, score_at(s, frame, bx + 1, by));
    out->dy = by + vertex(score_at(s, frame, bx, by - 1), best, score_at(s, frame, bx, by + 1));
    out->ok = true;
}

void so_stabiliser_warp(struct so_stabiliser *s, const uint8_t *src, uint8_t *dst, double dx,
                        double dy)
{
    int w = s->w, h = s->h;
    int ix = (int)floor(dx), iy = (int)floor(dy);
    float fx = (float)(dx - ix), fy = (float)(dy - iy);
    float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
    for (int x = 0; x < w; x++) {
        int a = x + ix, b = a + 1;
        s->col0[x] = a < 0 ? 0 : (a >= w ? w - 1 : a);
        s->col1[x] = b < 0 ? 0 : (b >= w ? w - 1 : b);
    }
    for (int y = 0; y < h; y++) {
        int a = y + iy, b = a + 1;
        a = a < 0 ? 0 : (a >= h ? h - 1 : a);
        b = b < 0 ? 0 : (b >= h ? h - 1 : b);
        const uint8_t *r0 = src + (size_t)a * w, *r1 = src + (size_t)b * w;
        uint8_t *d = dst + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            int c0 = s->col0[x], c1 = s->col1[x];
            float v = w00 * r0[c0] + w01 * r0[c1] + w10 * r1[c0] + w11 * r1[c1];
            d[x] = (uint8_t)(v + 0.5f);
        }
    }
}
