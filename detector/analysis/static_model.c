/*
 * Why this file exists: street-order violations are things that stay put (a parked car, goods,
 * a stall) while everything else moves. This model finds "things that stay put" without
 * knowing what they are, per pixel, cheaply enough for many cameras per core.
 *
 * Per analysis frame (grey, lightly blurred):
 *  1. Gain field. Clouds and switched-on lights multiply the brightness of large areas. Each
 *     block of the frame gets the median of frame/background ratios; each block's gain is then
 *     the median over an 11x11-block neighbourhood, so objects smaller than about half of that
 *     neighbourhood cannot pull the gain to themselves; pixels get bilinear gains. Dividing the
 *     frame by this field gives a frame at the background's reference illumination.
 *  2. Foreground: normalised frame differs from the long-term background by more than a
 *     threshold (absolute + relative, lower for pixels already static: hysteresis).
 *  3. Moving: normalised frame differs from a short-term running average (tau ~0.8 s).
 *  4. Age: foreground and not moving -> age grows by dt; foreground and moving with age > 0 ->
 *     hold (an occlusion by passing traffic), up to hold_max_s; background for miss_reset_s in a
 *     row -> age 0 (one noisy frame does not reset a parked car).
 *  5. Background update only where the pixel is background and not static (selective update),
 *     so a parked car is never learnt while it stays; it is learnt again once it has gone.
 *  The first warmup_s seconds build the background as a temporal median of sampled frames, so
 *  people and cars present in the first frame do not leave "ghosts" once they move on.
 *
 * Trade-offs: a person standing still is "static" too (rules decide what counts); a change of
 * illumination with sharp local structure (a new shadow edge) can look like an object while it
 * stays; the object-aware layer (detector + tracker) refines both.
 */
#include "static_model.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "socv.h"
#include "stabilise.h"

#define WARMUP_SAMPLES 16
#define STAB_MIN_PX 0.3     /* shifts below this are left alone (estimation noise) */
#define GAIN_RADIUS 5       /* blocks each side: an 11x11-block neighbourhood */
/* Pixels per chunk of the per-pixel loops: -O2 vectorises only under the "very cheap" cost
 * model, which refuses a loop that would need a scalar epilogue; a fixed count of 16 (a
 * multiple of every vector width) needs none. The rest of a row is done by a plain loop. */
#define CHUNK 16

#define SKIP_GAPS 32        /* gaps remembered for so_static_model_rest_since (older: merged) */

struct so_static_model {
    int w, h;
    struct so_static_params p;
    uint8_t *blur;          /* blurred grey frame (moved back onto the background) */
    uint8_t *blur_tmp;      /* the warp's output, then swapped with blur */
    struct so_stabiliser *stab; /* NULL: stabilise_px 0 */
    struct so_shift shift;  /* of the last frame */
    float *frame;           /* normalised frame */
    float *bg;              /* long-term background at reference illumination */
    float *fast;            /* short-term running average */
    float *age, *hold, *miss;
    uint8_t *fg;
    uint8_t *moving;        /* 255 where the frame differs from the short-term average */
    uint8_t *overlay;       /* per pixel: light changes it kept its raw value through, in a row
                             * (vote_overlay) */
    uint8_t *overlay_near;  /* 1: an overlay pixel; 2: within OVERLAY_REACH of one */
    bool any_overlay;
    uint8_t *block_lit;     /* per gain block: the light changed there as its gain says */
    uint8_t *lit_row;       /* ... per pixel of the row being voted */
    bool followers;         /* some overlay[] is OVERLAY_FOLLOWS */
    bool voting;            /* the light is off: vote_overlay votes */
    double light_moved_s;   /* media time the frame's light last moved (track_light_changes) */
    float *gain_row;        /* per-pixel gain of the row being updated */
    float *gain_top, *gain_bot; /* the two block rows it blends, interpolated along x ... */
    int gain_ya, gain_yb;   /* ... for these block rows (-1: stale, after compute_gain) */
    uint8_t *chunk_busy;    /* per CHUNK pixels of a row: some pixel is fg or static */
    int *gx_a, *gx_b;       /* per column: the two gain blocks it interpolates between */
    float *gx_t;            /* ... and the weight of the second one */
    int bs, nbx, nby;       /* gain blocks */
    float *block_gain, *block_smooth, *scratch;
    float *window;          /* sorted sliding window of block gains (neighbourhood medians) */
    float *block_ref;       /* slow average of each block's gain */
    uint64_t *block_hist;   /* per block, 2 words: bit k = light changing k seconds ago */
    long hist_sec;          /* the second that bit 0 stands for */
    double median_ref;      /* slow average of median_gain */
    double median_gain;
    bool started;
    double last_t, t0;
    double skipped;             /* media seconds not analysed so far (so_static_model_skip) */
    struct {
        double at;              /* analysed time (media time less `skipped` before it) */
        double len;             /* media seconds skipped there */
    } gaps[SKIP_GAPS];          /* the latest gaps, oldest first */
    int n_gaps;
    double first_s;         /* media time of the first frame (t0 moves over gaps; this not) */
    /* warm-up */
    uint8_t *samples;       /* WARMUP_SAMPLES planes, sorted per pixel (warmup_add_sample);
                             * NULL once warmed up */
    int n_samples;
    double next_sample_t;
    bool warming;
};

void so_static_params_default(struct so_static_params *p)
{
    *p = (struct so_static_params){
        .warmup_s = 8.0,
        .bg_tau_s = 10.0,
        .fast_tau_s = 0.8,
        .fg_threshold = 14.0,
        .fg_relative = 0.10,
        .miss_reset_s = 1.0,
        .hold_max_s = 120.0,
        .stabilise_px = 6,
    };
}

double so_static_params_min_fps(const struct so_static_params *p)
{
    return fmax(WARMUP_SAMPLES / p->warmup_s, 1.0 / p->fast_tau_s);
}

void so_static_model_destroy(struct so_static_model *m)
{
    if (!m) {
        return;
    }
    free(m->blur);
    free(m->blur_tmp);
    so_stabiliser_destroy(m->stab);
    free(m->frame);
    free(m->bg);
    free(m->fast);
    free(m->age);
    free(m->hold);
    free(m->miss);
    free(m->fg);
    free(m->moving);
    free(m->overlay);
    free(m->overlay_near);
    free(m->block_lit);
    free(m->lit_row);
    free(m->gain_row);
    free(m->gain_top);
    free(m->gain_bot);
    free(m->chunk_busy);
    free(m->gx_a);
    free(m->gx_b);
    free(m->gx_t);
    free(m->window);
    free(m->block_gain);
    free(m->block_smooth);
    free(m->block_ref);
    free(m->block_hist);
    free(m->scratch);
    free(m->samples);
    free(m);
}

struct so_static_model *so_static_model_create(int width, int height,
                                               const struct so_static_params *params)
{
    if (width < 8 || height < 8) {
        return NULL;
    }
    struct so_static_model *m = calloc(1, sizeof(*m));
    if (!m) {
        return NULL;
    }
    size_t n = (size_t)width * height;
    m->w = width;
    m->h = height;
    if (params) {
        m->p = *params;
    } else {
        so_static_params_default(&m->p);
    }
    m->bs = width / 40 > 8 ? width / 40 : 8;
    m->nbx = (width + m->bs - 1) / m->bs;
    m->nby = (height + m->bs - 1) / m->bs;
    size_t nb = (size_t)m->nbx * m->nby;
    size_t scratch = (size_t)m->bs * m->bs;
    size_t win = (size_t)(2 * GAIN_RADIUS + 1) * (2 * GAIN_RADIUS + 1);
    if (scratch < win) {
        scratch = win;
    }
    if (scratch < nb) {
        scratch = nb;
    }
    m->blur = malloc(n);
    m->blur_tmp = malloc(n);
    if (m->p.stabilise_px > 0) {
        m->stab = so_stabiliser_create(width, height, m->p.stabilise_px);
    }
    m->frame = malloc(n * sizeof(float));
    m->bg = malloc(n * sizeof(float));
    m->fast = malloc(n * sizeof(float));
    m->age = calloc(n, sizeof(float));
    m->hold = calloc(n, sizeof(float));
    m->miss = calloc(n, sizeof(float));
    m->fg = calloc(n, 1);
    m->moving = calloc(n, 1);
    m->overlay = calloc(n, 1);
    m->overlay_near = calloc(n, 1);
    m->block_lit = calloc(nb, 1);
    m->lit_row = calloc((size_t)width, 1);
    m->gain_row = malloc((size_t)width * sizeof(float));
    m->gain_top = malloc((size_t)width * sizeof(float));
    m->gain_bot = malloc((size_t)width * sizeof(float));
    m->chunk_busy = malloc((size_t)width / CHUNK + 1);
    m->gx_a = malloc((size_t)width * sizeof(int));
    m->gx_b = malloc((size_t)width * sizeof(int));
    m->gx_t = malloc((size_t)width * sizeof(float));
    /* two windows (smooth_blocks merges one into the other) and its sorted block columns */
    m->window = malloc((2 * win + (size_t)m->nbx * (2 * GAIN_RADIUS + 1)) * sizeof(float));
    m->block_gain = malloc(nb * sizeof(float));
    m->block_smooth = malloc(nb * sizeof(float));
    m->block_ref = malloc(nb * sizeof(float));
    m->block_hist = calloc(nb * 2, sizeof(uint64_t));
    m->scratch = malloc(scratch * sizeof(float));
    m->samples = malloc(n * WARMUP_SAMPLES);
    if (!m->blur || !m->blur_tmp || (m->p.stabilise_px > 0 && !m->stab) || !m->frame ||
        !m->bg || !m->fast || !m->age || !m->hold || !m->miss || !m->fg || !m->moving ||
        !m->overlay || !m->overlay_near || !m->block_lit || !m->lit_row || !m->gain_row ||
        !m->gx_a || !m->gx_b || !m->gx_t ||
        !m->gain_top || !m->gain_bot || !m->chunk_busy ||
        !m->window || !m->block_gain || !m->block_smooth ||
        !m->block_ref || !m->block_hist || !m->scratch ||
        !m->samples) {
        so_static_model_destroy(m);
        return NULL;
    }
    for (size_t i = 0; i < nb; i++) {
        m->block_ref[i] = 1.0f;
    }
    /* Bilinear interpolation between block centres: the horizontal part is the same for
     * every row and every frame. */
    for (int x = 0; x < width; x++) {
        float fx = ((float)x + 0.5f) / (float)m->bs - 0.5f;
        int x0 = (int)floorf(fx);
        float tx = fx - (float)x0;
        m->gx_a[x] = x0 < 0 ? 0 : (x0 >= m->nbx ? m->nbx - 1 : x0);
        m->gx_b[x] = x0 + 1 >= m->nbx ? m->nbx - 1 : (x0 + 1 < 0 ? 0 : x0 + 1);
        m->gx_t[x] = x0 < 0 ? 0 : tx;
    }
    m->median_gain = 1.0;
    m->median_ref = 1.0;
    m->light_moved_s = -1e9;
    m->warming = true;
    return m;
}

/*
 * The (n / 2 + 1)-th smallest of v[0..n-1] (reorders v): the value so_kth_smallest() gives, by
 * a quickselect whose partition has no data-dependent branch. On the ~64 ratios of a gain block
 * the classic partition mispredicts about every other comparison, and compute_gain runs it
 * for every block of every frame. Each round splits off the values below the pivot and, if
 * the k-th is not among them, those equal to it, so it also ends on many equal values.
 */
static float median(float *v, int n)
{
    int k = n / 2, lo = 0, hi = n;     /* the k-th (from 0) is in v[lo..hi) */
    while (hi - lo > 1) {
        float pivot = v[lo + (hi - lo) / 2];
        int s = lo;
        for (int i = lo; i < hi; i++) {
            float t = v[i];
            v[i] = v[s];
            v[s] = t;
            s += t < pivot;
        }
        if (k < s) {
            hi = s;
            continue;
        }
        int e = s;
        for (int i = s; i < hi; i++) {
            float t = v[i];
            v[i] = v[e];
            v[e] = t;
            e += !(t > pivot);          /* == pivot here; also ends on a NaN pivot */
        }
        if (k < e) {
            return pivot;
        }
        lo = e;
    }
    return v[k];
}

/* Sort a few values in place (insertion sort: no calls through a comparator). */
static void sort_small(float *v, int n)
{
    for (int i = 1; i < n; i++) {
        float x = v[i];
        int k = i;
        for (; k > 0 && v[k - 1] > x; k--) {
            v[k] = v[k - 1];
        }
        v[k] = x;
    }
}

/*
 * One step of a sorted sliding window, in a single merge pass: dst = win (n values) minus the
 * values of `out` plus the values of `in` (both sorted; `out` is part of `win`). Returns the
 * new count.
 */
static int window_slide(float *restrict dst, const float *restrict win, int n,
                        const float *restrict out, int n_out, const float *restrict in, int n_in)
{
    int i = 0, o = 0, q = 0, d = 0;
    while (i < n) {
        float v = win[i];
        if (o < n_out && !(v < out[o])) {  /* == out[o], as out is part of win */
            i++;
            o++;
            continue;
        }
        while (q < n_in && in[q] < v) {
            dst[d++] = in[q++];
        }
        dst[d++] = v;
        i++;
    }
    while (q < n_in) {
        dst[d++] = in[q++];
    }
    return d;
}

/*
 * Each block's gain = the median of the block gains of its (2 GAIN_RADIUS + 1)^2 neighbourhood
 * (clipped to the frame). Along a row of blocks the neighbourhood slides one column at a time,
 * so a sorted window is kept: the leaving and entering columns are sorted and merged with it in
 * one pass, and the median is read off the middle. It is the same value a selection over the
 * whole neighbourhood gives (the median of the same multiset), at a fraction of the cost.
 */
static void smooth_blocks(struct so_static_model *m)
{
    int nbx = m->nbx, nby = m->nby;
    int win_max = (2 * GAIN_RADIUS + 1) * (2 * GAIN_RADIUS + 1);
    float *win = m->window, *next = win + win_max;
    float *cols = next + win_max;   /* nbx sorted columns of `rows` values */
    for (int by = 0; by < nby; by++) {
        int y0 = by - GAIN_RADIUS < 0 ? 0 : by - GAIN_RADIUS;
        int y1 = by + GAIN_RADIUS >= nby ? nby - 1 : by + GAIN_RADIUS;
        int rows = y1 - y0 + 1;
        /* Each column enters and leaves the window once: sort it once. */
        for (int x = 0; x < nbx; x++) {
            float *c = cols + (size_t)x * rows;
            for (int y = y0; y <= y1; y++) {
                c[y - y0] = m->block_gain[y * nbx + x];
            }
            sort_small(c, rows);
        }
        int n = 0;
        for (int x = 0; x <= GAIN_RADIUS && x < nbx; x++) {
            n = window_slide(next, win, n, NULL, 0, cols + (size_t)x * rows, rows);
            float *t = win;
            win = next;
            next = t;
        }
        for (int bx = 0; bx < nbx; bx++) {
            m->block_smooth[by * nbx + bx] = win[n / 2];
            int out = bx - GAIN_RADIUS, in = bx + GAIN_RADIUS + 1;
            if (out < 0 && in >= nbx) {
                continue;
            }
            n = window_slide(next, win, n, out >= 0 ? cols + (size_t)out * rows : NULL,
                             out >= 0 ? rows : 0, in < nbx ? cols + (size_t)in * rows : NULL,
                             in < nbx ? rows : 0);
            float *t = win;
            win = next;
            next = t;
        }
    }
}

static void compute_gain(struct so_static_model *m)
{
    int w = m->w, h = m->h, bs = m->bs;
    for (int by = 0; by < m->nby; by++) {
        for (int bx = 0; bx < m->nbx; bx++) {
            int n = 0;
            for (int y = by * bs; y < (by + 1) * bs && y < h; y += 2) {
                for (int x = bx * bs; x < (bx + 1) * bs && x < w; x += 2) {
                    size_t i = (size_t)y * w + x;
                    m->scratch[n++] = ((float)m->blur[i] + 8.0f) / (m->bg[i] + 8.0f);
                }
            }
            m->block_gain[by * m->nbx + bx] = n ? median(m->scratch, n) : 1.0f;
        }
    }
    smooth_blocks(m);
    m->gain_ya = m->gain_yb = -1;       /* new block gains: gain_row() recomputes */
    memcpy(m->scratch, m->block_smooth, sizeof(float) * (size_t)m->nbx * m->nby);
    m->median_gain = median(m->scratch, m->nbx * m->nby);
}

/* out = top + (bot - top) * t over a row, in chunks (vectorised). */
static __attribute__((noinline)) void blend_rows(float *restrict out, const float *restrict top,
                                                 const float *restrict bot, float t, int w)
{
    int x0 = 0;
    for (; x0 + CHUNK <= w; x0 += CHUNK) {
        for (int k = 0; k < CHUNK; k++) {
            out[x0 + k] = top[x0 + k] + (bot[x0 + k] - top[x0 + k]) * t;
        }
    }
    for (; x0 < w; x0++) {
        out[x0] = top[x0] + (bot[x0] - top[x0]) * t;
    }
}

/*
 * The gains of row y (bilinear between block centres) into m->gain_row. The interpolation along
 * x of the two block rows it blends is the same for the bs rows between their centres: it is
 * kept (gain_top/bot) until the block rows change or compute_gain makes new gains.
 */
static void gain_row(struct so_static_model *m, int y)
{
    float fy = ((float)y + 0.5f) / (float)m->bs - 0.5f;
    int y0 = (int)floorf(fy);
    float ty = fy - (float)y0;
    int ya = y0 < 0 ? 0 : (y0 >= m->nby ? m->nby - 1 : y0);
    int yb = y0 + 1 >= m->nby ? m->nby - 1 : (y0 + 1 < 0 ? 0 : y0 + 1);
    if (y0 < 0) {
        ty = 0;
    }
    if (ya != m->gain_ya || yb != m->gain_yb) {
        const float *ra = m->block_smooth + (size_t)ya * m->nbx;
        const float *rb = m->block_smooth + (size_t)yb * m->nbx;
        const int *xa = m->gx_a, *xb = m->gx_b;
        const float *tx = m->gx_t;
        for (int x = 0; x < m->w; x++) {
            m->gain_top[x] = ra[xa[x]] + (ra[xb[x]] - ra[xa[x]]) * tx[x];
            m->gain_bot[x] = rb[xa[x]] + (rb[xb[x]] - rb[xa[x]]) * tx[x];
        }
        m->gain_ya = ya;
        m->gain_yb = yb;
    }
    blend_rows(m->gain_row, m->gain_top, m->gain_bot, ty, m->w);
}

/*
 * Light-change history. A cast shadow that vanishes when a cloud covers the sun (or the change
 * of contrast a cloud brings) alters patches that no smooth gain field explains, and they then
 * stay put like objects. What gives them away is timing: they came to rest while the light
 * was changing there. Each block keeps 128 one-second bits of "its gain moved by more than
 * LIGHT_CHANGE against its 2-second average, while the frame's median gain moved by more than
 * GLOBAL_CHANGE" (an object entering a block moves that block's gain a little, never the
 * frame's median). Rules ask about a blob's blocks at the time it came to rest.
 */
#define LIGHT_CHANGE 0.06
#define GLOBAL_CHANGE 0.03
#define HIST_BITS 128

static void track_light_changes(struct so_static_model *m, double dt, double media_s)
{
    long sec = (long)floor(media_s);
    long shift = sec - m->hist_sec;
    m->hist_sec = sec;
    float alpha = (float)(1.0 - exp(-dt / 2.0));
    bool global = fabs(m->median_gain - m->median_ref) / m->median_ref > GLOBAL_CHANGE;
    if (global) {
        m->light_moved_s = media_s;
    }
    m->median_ref += alpha * (m->median_gain - m->median_ref);
    for (int b = 0; b < m->nbx * m->nby; b++) {
        uint64_t *h = m->block_hist + 2 * b;
        if (shift >= HIST_BITS) {
            h[0] = h[1] = 0;
        } else if (shift >= 64) {
            h[1] = h[0] << (shift - 64);
            h[0] = 0;
        } else if (shift > 0) {
            h[1] = (h[1] << shift) | (h[0] >> (64 - shift));
            h[0] <<= shift;
        }
        float g = m->block_smooth[b], ref = m->block_ref[b];
        if (global && fabsf(g - ref) / ref > LIGHT_CHANGE) {
            h[0] |= 1;
        }
        m->block_ref[b] = ref + alpha * (g - ref);
    }
}

bool so_static_model_light_changed(const struct so_static_model *m, int x, int y, int w, int h,
                                   double t0, double t1)
{
    long s0 = (long)floor(t0), s1 = (long)floor(t1);
    int bx0 = x < 0 ? 0 : x / m->bs, by0 = y < 0 ? 0 : y / m->bs;   /* boxes may reach out */
    int bx1 = (x + w - 1) / m->bs, by1 = (y + h - 1) / m->bs;
    for (int by = by0; by <= by1 && by < m->nby; by++) {
        for (int bx = bx0; bx <= bx1 && bx < m->nbx; bx++) {
            const uint64_t *hb = m->block_hist + 2 * (by * m->nbx + bx);
            for (long s = s0; s <= s1; s++) {
                long k = m->hist_sec - s;
                if (k < 0 || k >= HIST_BITS) {
                    continue;
                }
                if ((k < 64 ? hb[0] >> k : hb[1] >> (k - 64)) & 1) {
                    return true;
                }
            }
        }
    }
    return false;
}

/*
 * Warm-up samples are kept sorted per pixel: plane j holds each pixel's j-th smallest sample, so
 * the median is a read. Adding a sample x to k sorted planes p is, per pixel, an insertion by
 * min/max only (p[-1] = 0): p'[j] = min(p[j], max(x, p[j-1])) for j < k, p'[k] = max(x, p[k-1]).
 * (Where p[j] <= x it stays; the first p[j] above x becomes x; the rest move up one.) The
 * helpers work plane by plane on non-overlapping planes (restrict), in chunks so that -O2
 * vectorises them, and are never inlined (GCC 12 then loses the restrict and does not).
 */
static __attribute__((noinline)) void plane_insert(uint8_t *restrict hi,
                                                   const uint8_t *restrict lo,
                                                   const uint8_t *restrict x, size_t n)
{
    size_t i0 = 0;
    for (; i0 + CHUNK <= n; i0 += CHUNK) {
        for (int k = 0; k < CHUNK; k++) {
            uint8_t a = x[i0 + k] > lo[i0 + k] ? x[i0 + k] : lo[i0 + k];
            hi[i0 + k] = hi[i0 + k] < a ? hi[i0 + k] : a;
        }
    }
    for (; i0 < n; i0++) {
        uint8_t a = x[i0] > lo[i0] ? x[i0] : lo[i0];
        hi[i0] = hi[i0] < a ? hi[i0] : a;
    }
}

/* top = max(x, lo) (top is a new plane); with lo == NULL, the bottom plane: top = min(top, x). */
static __attribute__((noinline)) void plane_edge(uint8_t *restrict top,
                                                 const uint8_t *restrict lo,
                                                 const uint8_t *restrict x, size_t n)
{
    size_t i0 = 0;
    if (lo) {
        for (; i0 + CHUNK <= n; i0 += CHUNK) {
            for (int k = 0; k < CHUNK; k++) {
                top[i0 + k] = x[i0 + k] > lo[i0 + k] ? x[i0 + k] : lo[i0 + k];
            }
        }
        for (; i0 < n; i0++) {
            top[i0] = x[i0] > lo[i0] ? x[i0] : lo[i0];
        }
        return;
    }
    for (; i0 + CHUNK <= n; i0 += CHUNK) {
        for (int k = 0; k < CHUNK; k++) {
            top[i0 + k] = x[i0 + k] < top[i0 + k] ? x[i0 + k] : top[i0 + k];
        }
    }
    for (; i0 < n; i0++) {
        top[i0] = x[i0] < top[i0] ? x[i0] : top[i0];
    }
}

static __attribute__((noinline)) void plane_to_float(float *restrict dst,
                                                     const uint8_t *restrict src, size_t n)
{
    size_t i0 = 0;
    for (; i0 + CHUNK <= n; i0 += CHUNK) {
        for (int k = 0; k < CHUNK; k++) {
            dst[i0 + k] = src[i0 + k];
        }
    }
    for (; i0 < n; i0++) {
        dst[i0] = src[i0];
    }
}

/* Add the blurred frame to the sorted warm-up samples; background = their per-pixel median
 * (the upper one of an even count). */
static void warmup_add_sample(struct so_static_model *m)
{
    size_t n = (size_t)m->w * m->h;
    int k = m->n_samples;
    uint8_t *p = m->samples;
    plane_edge(p + (size_t)k * n, p + (size_t)(k - 1) * n, m->blur, n);
    for (int j = k - 1; j >= 1; j--) {
        plane_insert(p + (size_t)j * n, p + (size_t)(j - 1) * n, m->blur, n);
    }
    plane_edge(p, NULL, m->blur, n);
    m->n_samples = k + 1;
    plane_to_float(m->bg, p + (size_t)(m->n_samples / 2) * n, n);
}

/* The foreground threshold for a background value: absolute or relative, the larger. */
static inline float fg_thr(float thr_abs, float thr_rel, float bg)
{
    float rel = thr_rel * bg;
    return thr_abs > rel ? thr_abs : rel;
}

/* Constants of the first pass of an update. */
struct pass_consts {
    float thr_abs, thr_rel, a_fast, a_learn;
};

/*
 * One pixel of the first pass. Branch-free, and every arithmetic result is computed whatever
 * the selects pick (with -ftrapping-math the compiler may not speculate a floating-point
 * operation that the source only does conditionally, and would leave branches that block
 * vectorisation). a_learn is 0 during the warm-up: bg + 0 * d == bg.
 */
static inline uint8_t first_pass_px(const uint8_t *restrict blur, const float *restrict gain,
                                    float *restrict frame, float *restrict bgs,
                                    float *restrict fast, const float *restrict age,
                                    uint8_t *restrict fgs, uint8_t *restrict movs, int i,
                                    const struct pass_consts *pc)
{
    float in = (float)blur[i] / gain[i];
    frame[i] = in;
    float bg = bgs[i], f = fast[i];
    bool resting = age[i] > 0;
    float thr = fg_thr(pc->thr_abs, pc->thr_rel, bg);
    thr *= 1.0f - 0.3f * (float)(int)resting;    /* 0.7f exactly; a select would become a
                                                   * conditional multiply */
    float d_bg = in - bg, d_fast = in - f;
    bool fg = fabsf(d_bg) > thr;
    bool moving = fabsf(d_fast) > 0.8f * thr;
    fast[i] = f + pc->a_fast * d_fast;
    fgs[i] = fg ? 255 : 0;
    movs[i] = moving ? 255 : 0;
    float a = (fg | resting) ? 0.0f : pc->a_learn;
    bgs[i] = bg + a * d_bg;
    return fg | resting;     /* 1: the pixel needs the second pass */
}

/*
 * The first pass over one row, in chunks (vectorised); busy[c] = some pixel of chunk c needs the
 * second pass. restrict: the row's arrays do not overlap. Not inlined: GCC 12 loses the
 * restrict then, and with it the vectorisation.
 */
static __attribute__((noinline)) void first_pass_row(
    const uint8_t *restrict blur, const float *restrict gain, float *restrict frame,
    float *restrict bgs, float *restrict fast, const float *restrict age, uint8_t *restrict fgs,
    uint8_t *restrict movs, uint8_t *restrict busy, int w, struct pass_consts pcv)
{
    const struct pass_consts *pc = &pcv;    /* a local: its loads cannot trap */
    int x0 = 0;
    for (; x0 + CHUNK <= w; x0 += CHUNK) {
        uint8_t any = 0;
        for (int k = 0; k < CHUNK; k++) {
            any |= first_pass_px(blur + x0, gain + x0, frame + x0, bgs + x0, fast + x0,
                                 age + x0, fgs + x0, movs + x0, k, pc);
        }
        busy[x0 / CHUNK] = any;
    }
    uint8_t any = 0;
    for (int k = 0; k < w - x0; k++) {
        any |= first_pass_px(blur + x0, gain + x0, frame + x0, bgs + x0, fast + x0, age + x0,
                             fgs + x0, movs + x0, k, pc);
    }
    busy[x0 / CHUNK] = any;
}

/*
 * Camera shake (analysis/stabilise.c): move the blurred frame back onto the background before
 * anything compares the two. Only once there is a background (after the warm-up), and only for
 * shifts over STAB_MIN_PX, so a steady camera's frames are used as they are. The pixels that
 * were foreground in the last frame (traffic, parked cars) do not vote.
 */
static void stabilise(struct so_static_model *m)
{
    so_stabiliser_estimate(m->stab, m->bg, m->blur, m->fg, &m->shift);
    if (m->shift.ok && hypot(m->shift.dx, m->shift.dy) >= STAB_MIN_PX) {
        so_stabiliser_warp(m->stab, m->blur, m->blur_tmp, m->shift.dx, m->shift.dy);
        uint8_t *t = m->blur;
        m->blur = m->blur_tmp;
        m->blur_tmp = t;
    }
}

/*
 * Burned-in overlays. A camera's on-screen display (date and time, its name) is drawn after the
 * exposure: its pixels keep their raw value when the light over the scene changes, so divided
 * by the scene's gain they look changed, and text at rest would be an object at rest wherever
 * a cloud, the IR switch or an auto-exposure step moves the gain. Evidence decides which pixels
 * these are, not a place on the screen. While the gain is far enough from 1 that "kept its raw
 * value" and "followed the light" cannot be confused for a pixel (its background scaled by its
 * gain is OVERLAY_SEP thresholds away from it), and where the light did change as the gain
 * field says (the blocks around have that ratio: the smoothed field also spreads a headlight
 * onto the unlit goods beside it, which then "keep their value"), a pixel within OVERLAY_NEAR
 * of that distance of its raw background gains a vote, and one as near its scaled background
 * is a follower until
 * the light is back: the scene under it follows the light, so what shows its raw background
 * later in this change (a thing put down whose value happens to match) is no overlay. What has
 * been at rest OVERLAY_SETTLED_S when a change begins is a follower too (a thing in the scene
 * follows the light, whatever its value; text comes to rest only with the change). Votes are
 * taken while the light moves and OVERLAY_STEADY_S after (a lasting step costs a few frames,
 * not its whole length). After OVERLAY_VOTES votes the pixel is compared raw
 * (so_static_model_update): its own value is its value at reference light. What covers it
 * still differs from its raw background and is seen;
 * a lamp, a lit sign or a clipped highlight, which keep their value under a cloud as well, are
 * treated the same way, rightly. The pixels the blur mixes an overlay with the scene follow
 * neither model: they are marked (overlay_near, 2) for the rules, which leave them out of a
 * blob's outline and learn a blob that lies wholly among them (rules/rest_mask.c). Clearing
 * them here instead cut holes into the blobs of scene light artefacts near a clipped
 * highlight, whose new outline kept them as objects (goods_clouds, parked_row).
 */
#define OVERLAY_MIN_GAIN 0.12   /* frames whose median gain is this far from 1 vote */
#define OVERLAY_SEP 1.5         /* raw and scaled background this many thresholds apart */
#define OVERLAY_NEAR 0.25       /* within this share of that distance of one of them */
#define OVERLAY_VOTES 4         /* votes that make a pixel an overlay */
#define OVERLAY_FOLLOWS 255     /* overlay[] of a follower (votes stop below it) */
#define OVERLAY_SETTLED_S 10.0  /* at rest this long when a change begins: a follower */
#define OVERLAY_STEADY_S 5.0    /* votes stop this long after the light last moved */
#define OVERLAY_REACH 2         /* the blur's radius: a pixel this near an overlay mixes it with
                                 * the scene (overlay_reach's loops are written for 2) */

static inline bool is_overlay(uint8_t votes)
{
    return votes >= OVERLAY_VOTES && votes != OVERLAY_FOLLOWS;
}

/* overlay_near from overlay: 1 on overlay pixels, 2 within OVERLAY_REACH of one: a separable
 * maximum, in straight loops the compiler vectorises (blur_tmp is free between updates: the
 * stabiliser writes it first thing). */
static void overlay_reach(struct so_static_model *m)
{
    int w = m->w, h = m->h, r = OVERLAY_REACH;
    size_t n = (size_t)w * h;
    uint8_t *restrict core = m->overlay_near, *restrict rows = m->blur_tmp;
    const uint8_t *restrict votes = m->overlay;
    uint8_t any = 0;
    for (size_t i = 0; i < n; i++) {
        core[i] = is_overlay(votes[i]);
        any |= core[i];
    }
    m->any_overlay = any;
    if (!any) {
        return;
    }
    for (int y = 0; y < h; y++) {
        const uint8_t *restrict c = core + (size_t)y * w;
        uint8_t *restrict o = rows + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            if (x == r && w > 2 * r) {
                for (; x < w - r; x++) {    /* the interior: fixed offsets (vectorised) */
                    o[x] = c[x - 2] | c[x - 1] | c[x] | c[x + 1] | c[x + 2];
                }
                if (x >= w) {
                    break;
                }
            }
            int x0 = x - r < 0 ? 0 : x - r, x1 = x + r >= w ? w - 1 : x + r;
            uint8_t v = 0;
            for (int k = x0; k <= x1; k++) {
                v |= c[k];
            }
            o[x] = v;
        }
    }
    for (int y = 0; y < h; y++) {
        const uint8_t *restrict rk[2 * OVERLAY_REACH + 1];
        for (int k = -r; k <= r; k++) {
            int yy = y + k < 0 ? 0 : (y + k >= h ? h - 1 : y + k);
            rk[k + r] = rows + (size_t)yy * w;
        }
        uint8_t *restrict out = core + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            uint8_t v = rk[0][x] | rk[1][x] | rk[2][x] | rk[3][x] | rk[4][x];
            out[x] = (uint8_t)((v != 0) * (2 - out[x]));
        }
    }
}

/* One pixel's vote (branch-free, as first_pass_px); *changed: it became or stopped being an
 * overlay, *follows: it is a follower. */
static inline void vote_px(uint8_t *restrict votes, const uint8_t *restrict blur,
                           const float *restrict bgs, const float *restrict gain,
                           const uint8_t *restrict lit, int i, float thr_abs, float thr_rel,
                           uint8_t *changed, uint8_t *follows)
{
    float bg = bgs[i], g = gain[i], raw = (float)blur[i];
    float thr = fg_thr(thr_abs, thr_rel, bg);
    float sep = fabsf(bg - g * bg);
    uint8_t was = votes[i];
    bool judged = lit[i] && sep >= OVERLAY_SEP * thr && was != OVERLAY_FOLLOWS;
    bool fol = fabsf(raw - g * bg) <= OVERLAY_NEAR * sep;
    bool stays = fabsf(raw - bg) <= OVERLAY_NEAR * sep && was < OVERLAY_FOLLOWS - 1;
    uint8_t now = judged ? (fol ? OVERLAY_FOLLOWS : (uint8_t)(was + stays)) : was;
    votes[i] = now;
    *changed |= is_overlay(was) != is_overlay(now);
    *follows |= now == OVERLAY_FOLLOWS;
}

static __attribute__((noinline)) void vote_row(uint8_t *restrict votes,
                                               const uint8_t *restrict blur,
                                               const float *restrict bg,
                                               const float *restrict gain,
                                               const uint8_t *restrict lit, int w,
                                               float thr_abs, float thr_rel, uint8_t *changed,
                                               uint8_t *follows)
{
    uint8_t ch = 0, fo = 0;
    for (int x = 0; x < w; x++) {
        vote_px(votes, blur, bg, gain, lit, x, thr_abs, thr_rel, &ch, &fo);
    }
    *changed = ch;
    *follows = fo;
}

static void vote_overlay(struct so_static_model *m)
{
    size_t n = (size_t)m->w * m->h;
    if (fabs(m->median_gain - 1.0) < OVERLAY_MIN_GAIN) {
        if (m->followers) {     /* the light is back: the next change is judged afresh */
            for (size_t i = 0; i < n; i++) {
                m->overlay[i] = m->overlay[i] == OVERLAY_FOLLOWS ? 0 : m->overlay[i];
            }
            m->followers = false;
        }
        m->voting = false;
        return;
    }
    if (!m->voting) {
        /* A change begins. What was at rest well before it is part of the scene (a car, goods
         * put down): it follows the light, whatever its value. */
        for (size_t i = 0; i < n; i++) {
            if (m->age[i] >= OVERLAY_SETTLED_S && !is_overlay(m->overlay[i])) {
                m->overlay[i] = OVERLAY_FOLLOWS;
                m->followers = true;
            }
        }
        m->voting = true;
    }
    if (m->last_t - m->light_moved_s > OVERLAY_STEADY_S) {
        return;     /* steady light: what keeps its value has had its votes */
    }
    /* Where the light really changed as the gain field says: the median ratio of the 5x5
     * blocks around (moved inward at the frame's edges) is that block's smoothed gain (a
     * headlight lighting the road next to a pile of goods moves the smoothed gain over the
     * goods, not the light on them). A line of text is one or two blocks tall: it does not
     * make that median. */
    int nbx = m->nbx, nby = m->nby;
    for (int by = 0; by < nby; by++) {
        for (int bx = 0; bx < nbx; bx++) {
            float g = m->block_smooth[by * nbx + bx];
            if (fabsf(g - 1.0f) < OVERLAY_SEP * (float)m->p.fg_relative) {
                m->block_lit[by * nbx + bx] = 0;   /* no pixel there can tell the two apart */
                continue;
            }
            /* 5x5 blocks, moved inward at the frame's edges (OSDs sit there) */
            int y0 = by - 2 < 0 ? 0 : by - 2, x0 = bx - 2 < 0 ? 0 : bx - 2;
            y0 = y0 + 5 > nby ? (nby - 5 > 0 ? nby - 5 : 0) : y0;
            x0 = x0 + 5 > nbx ? (nbx - 5 > 0 ? nbx - 5 : 0) : x0;
            float v[25];
            int k = 0;
            for (int yy = y0; yy < y0 + 5 && yy < nby; yy++) {
                for (int xx = x0; xx < x0 + 5 && xx < nbx; xx++) {
                    v[k++] = m->block_gain[yy * nbx + xx];
                }
            }
            m->block_lit[by * nbx + bx] =
                fabsf(median(v, k) - g) <= OVERLAY_NEAR * fabsf(g - 1.0f);
        }
    }
    float thr_abs = (float)m->p.fg_threshold, thr_rel = (float)m->p.fg_relative;
    bool changed = false, followers = false;
    for (int y = 0; y < m->h; y++) {
        gain_row(m, y);
        if (y % m->bs == 0) {
            const uint8_t *lit = m->block_lit + (size_t)(y / m->bs) * nbx;
            for (int bx = 0; bx < nbx; bx++) {
                int x0 = bx * m->bs, len = m->w - x0 < m->bs ? m->w - x0 : m->bs;
                memset(m->lit_row + x0, lit[bx], (size_t)len);
            }
        }
        size_t row = (size_t)y * m->w;
        uint8_t ch = 0, fo = 0;
        vote_row(m->overlay + row, m->blur + row, m->bg + row, m->gain_row, m->lit_row, m->w,
                 thr_abs, thr_rel, &ch, &fo);
        changed |= ch;
        followers |= fo;
    }
    m->followers |= followers;
    if (changed) {
        overlay_reach(m);
    }
}

int so_static_model_update(struct so_static_model *m, const uint8_t *gray, int stride,
                           double media_s)
{
    if (!m || !gray || stride < m->w) {
        return -EINVAL;
    }
    int w = m->w, h = m->h;
    size_t n = (size_t)w * h;
    for (int y = 0; y < h; y++) {
        memcpy(m->blur + (size_t)y * w, gray + (size_t)y * stride, (size_t)w);
    }
    struct socv_view v = {m->blur, w, h, w, 1};
    socv_gray_blur(&v, 5);
    if (m->stab && m->started) {
        stabilise(m);
    }

    if (!m->started) {
        m->started = true;
        m->t0 = media_s;
        m->first_s = media_s;
        m->last_t = media_s;
        for (size_t i = 0; i < n; i++) {
            m->bg[i] = m->fast[i] = m->frame[i] = m->blur[i];
        }
        memcpy(m->samples, m->blur, n);
        m->n_samples = 1;
        m->next_sample_t = media_s + m->p.warmup_s / WARMUP_SAMPLES;
        return 0;
    }
    double dt = media_s - m->last_t;
    if (dt < 0) {
        dt = 0;
    }
    m->last_t = media_s;

    bool unit_gain = m->warming;
    if (m->warming) {
        if (media_s >= m->next_sample_t && m->n_samples < WARMUP_SAMPLES) {
            warmup_add_sample(m);
            m->next_sample_t += m->p.warmup_s / WARMUP_SAMPLES;
        }
        if (media_s - m->t0 >= m->p.warmup_s) {
            m->warming = false;
            /* The samples served the warm-up median only: their planes (3.5 MiB at 640x360)
             * go back now, and re-registering a shaken frame stops moving them. */
            free(m->samples);
            m->samples = NULL;
            m->n_samples = 0;
        }
        for (int x = 0; x < w; x++) {
            m->gain_row[x] = 1.0f;
        }
        m->median_gain = 1.0;
    } else {
        compute_gain(m);
        track_light_changes(m, dt, media_s);
    }

    float a_bg = (float)(1.0 - exp(-dt / m->p.bg_tau_s));
    float a_fast = (float)(1.0 - exp(-dt / m->p.fast_tau_s));
    float fdt = (float)dt;
    float thr_abs = (float)m->p.fg_threshold, thr_rel = (float)m->p.fg_relative;
    float miss_reset = (float)m->p.miss_reset_s, hold_max = (float)m->p.hold_max_s;
    bool learn = !m->warming;
    float settle_tau = (float)m->p.fast_tau_s;
    /* Local copies: the arrays do not alias, and the compiler cannot know it through m. */
    const uint8_t *restrict blur = m->blur;
    const float *gain = m->gain_row;   /* rewritten by gain_row() each row */
    float *restrict frame = m->frame, *restrict bgs = m->bg, *restrict fast = m->fast;
    float *restrict age = m->age, *restrict hold = m->hold, *restrict miss = m->miss;
    uint8_t *restrict fgs = m->fg, *restrict movs = m->moving;
    const uint8_t *restrict near = m->any_overlay ? m->overlay_near : NULL;
    uint8_t *restrict busy = m->chunk_busy;
    struct pass_consts pc = {thr_abs, thr_rel, a_fast, learn ? a_bg : 0.0f};
    /*
     * Two passes per row. The first is the same arithmetic for every pixel, without branches
     * (the compiler turns it into selects): normalise, compare with the background and the
     * short-term average, update the average, learn the background where the pixel is neither
     * foreground nor static. The second visits only the pixels that are foreground or static
     * (few, in a street scene; whole chunks without any are skipped) for the age bookkeeping.
     * Same values as one branchy pass.
     */
    for (int y = 0; y < h; y++) {
        if (!unit_gain) {
            gain_row(m, y);
        }
        size_t row = (size_t)y * w;
        first_pass_row(blur + row, gain, frame + row, bgs + row, fast + row, age + row,
                       fgs + row, movs + row, busy, w, pc);
        for (int x = 0; x < w; x++) {
            if (!busy[x / CHUNK]) {
                x |= CHUNK - 1; /* the whole chunk is background: next chunk (CHUNK = 2^k) */
                continue;
            }
            size_t i = row + (size_t)x;
            if (!fgs[i] && !(age[i] > 0)) {
                continue;
            }
            if (near && fgs[i] && near[i] == 1) {
                /* An overlay is compared raw. */
                if (fabsf((float)blur[i] - bgs[i]) <= fg_thr(thr_abs, thr_rel, bgs[i])) {
                    fgs[i] = movs[i] = 0;
                    frame[i] = fast[i] = blur[i];
                }
            }
            if (fgs[i]) {
                miss[i] = 0;
                if (!movs[i]) {
                    if (age[i] <= 0) {
                        /* The short-term average needed this long to settle on the new
                         * value: the object has been at rest that long already. (The
                         * background was not learnt for this pixel: fg.) */
                        float in = frame[i], bg = bgs[i];
                        float settle = fabsf(in - bg) / (0.8f * fg_thr(thr_abs, thr_rel, bg));
                        age[i] = settle > 1.0f ? settle_tau * logf(settle) : 0;
                    }
                    age[i] += fdt;
                    hold[i] = 0;
                } else if (age[i] > 0) {
                    hold[i] += fdt;
                    if (hold[i] > hold_max) {
                        age[i] = 0;
                        hold[i] = 0;
                    }
                }
            } else {
                miss[i] += fdt;
                if (miss[i] >= miss_reset) {
                    age[i] = 0;
                    miss[i] = 0;
                    hold[i] = 0;
                }
            }
        }
    }
    if (!m->warming) {
        vote_overlay(m);
    }
    return 0;
}

void so_static_model_absorb(struct so_static_model *m, const uint8_t *mask)
{
    size_t n = (size_t)m->w * m->h;
    for (size_t i = 0; i < n; i++) {
        if (mask[i]) {
            m->bg[i] = m->fast[i] = m->frame[i];
            m->age[i] = m->hold[i] = m->miss[i] = 0;
        }
    }
}

const float *so_static_model_age(const struct so_static_model *m)
{
    return m->age;
}

const uint8_t *so_static_model_foreground(const struct so_static_model *m)
{
    return m->fg;
}

double so_static_model_moving_share(const struct so_static_model *m, int x, int y, int w, int h)
{
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > m->w ? m->w : x + w, y1 = y + h > m->h ? m->h : y + h;
    if (x1 <= x0 || y1 <= y0) {
        return 0;
    }
    long n = 0;
    for (int yy = y0; yy < y1; yy++) {
        const uint8_t *row = m->moving + (size_t)yy * m->w;
        for (int xx = x0; xx < x1; xx++) {
            n += row[xx] != 0;
        }
    }
    return (double)n / ((double)(x1 - x0) * (y1 - y0));
}

double so_static_model_gain(const struct so_static_model *m)
{
    return m->median_gain;
}

double so_static_model_first_s(const struct so_static_model *m)
{
    return m->started ? m->first_s : -1;
}

bool so_static_model_warming_up(const struct so_static_model *m)
{
    return m->warming;
}

const float *so_static_model_frame(const struct so_static_model *m)
{
    return m->frame;
}

const float *so_static_model_background(const struct so_static_model *m)
{
    return m->bg;
}

const uint8_t *so_static_model_overlay(const struct so_static_model *m)
{
    return m->any_overlay ? m->overlay_near : NULL;
}

struct so_shift so_static_model_shift(const struct so_static_model *m)
{
    return m->shift;
}

void so_static_model_skip(struct so_static_model *m, double media_s)
{
    if (!m || !m->started || media_s <= m->last_t) {
        return;
    }
    double gap = media_s - m->last_t;
    double at = m->last_t - m->skipped;
    m->t0 += gap;               /* the warm-up counts analysed time only */
    m->next_sample_t += gap;
    m->last_t = media_s;
    m->skipped += gap;
    if (m->n_gaps > 0 && fabs(m->gaps[m->n_gaps - 1].at - at) < 1e-6) {
        m->gaps[m->n_gaps - 1].len += gap;  /* the same gap goes on */
        return;
    }
    if (m->n_gaps == SKIP_GAPS) {   /* the two oldest become one, at the later's place */
        m->gaps[1].len += m->gaps[0].len;
        memmove(m->gaps, m->gaps + 1, sizeof(m->gaps[0]) * (SKIP_GAPS - 1));
        m->n_gaps--;
    }
    m->gaps[m->n_gaps].at = at;
    m->gaps[m->n_gaps++].len = gap;
}

double so_static_model_rest_since(const struct so_static_model *m, double age)
{
    double t = m->last_t - m->skipped - age, since = t;
    for (int k = 0; k < m->n_gaps && m->gaps[k].at <= t; k++) {
        since += m->gaps[k].len;
    }
    return since;
}

/* dst(x + dx, y + dy) = src(x, y); uncovered pixels: the nearest source pixel (clamp), or 0. */
static void translate_f(float *a, float *tmp, int w, int h, int dx, int dy, bool zero)
{
    for (int y = 0; y < h; y++) {
        int sy = y - dy;
        bool out_y = sy < 0 || sy >= h;
        sy = sy < 0 ? 0 : (sy >= h ? h - 1 : sy);
        for (int x = 0; x < w; x++) {
            int sx = x - dx;
            bool out = out_y || sx < 0 || sx >= w;
            sx = sx < 0 ? 0 : (sx >= w ? w - 1 : sx);
            tmp[(size_t)y * w + x] = zero && out ? 0.0f : a[(size_t)sy * w + sx];
        }
    }
    memcpy(a, tmp, sizeof(float) * (size_t)w * h);
}

int so_static_model_translate(struct so_static_model *m, int dx, int dy)
{
    if (!m || abs(dx) >= m->w / 2 || abs(dy) >= m->h / 2) {
        return -EINVAL;
    }
    if ((dx == 0 && dy == 0) || !m->started) {
        return 0;
    }
    int w = m->w, h = m->h;
    size_t n = (size_t)w * h;
    float *tmp = malloc(n * sizeof(float)), *smp = malloc(n * sizeof(float));
    if (!tmp || !smp) {
        free(tmp);
        free(smp);
        return -ENOMEM;
    }
    translate_f(m->bg, tmp, w, h, dx, dy, false);
    translate_f(m->fast, tmp, w, h, dx, dy, false);
    translate_f(m->frame, tmp, w, h, dx, dy, false);
    translate_f(m->age, tmp, w, h, dx, dy, true);
    translate_f(m->hold, tmp, w, h, dx, dy, true);
    translate_f(m->miss, tmp, w, h, dx, dy, true);
    for (int k = 0; k < m->n_samples; k++) {   /* warm-up samples, while warming */
        uint8_t *sample = m->samples + (size_t)k * n;
        for (size_t i = 0; i < n; i++) {
            smp[i] = sample[i];
        }
        translate_f(smp, tmp, w, h, dx, dy, false);
        for (size_t i = 0; i < n; i++) {
            sample[i] = (uint8_t)smp[i];
        }
    }
    free(smp);
    free(tmp);
    return 0;
}
