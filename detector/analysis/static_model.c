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

#include "select.h"
#include "socv.h"

#define WARMUP_SAMPLES 16
#define GAIN_RADIUS 5       /* blocks each side: an 11x11-block neighbourhood */

struct so_static_model {
    int w, h;
    struct so_static_params p;
    uint8_t *blur;          /* blurred grey frame */
    float *frame;           /* normalised frame */
    float *bg;              /* long-term background at reference illumination */
    float *fast;            /* short-term running average */
    float *age, *hold, *miss;
    uint8_t *fg;
    uint8_t *moving;        /* 255 where the frame differs from the short-term average */
    float *gain_row;        /* per-pixel gain of the row being updated */
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
    /* warm-up */
    uint8_t *samples;       /* WARMUP_SAMPLES frames */
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
    };
}

void so_static_model_destroy(struct so_static_model *m)
{
    if (!m) {
        return;
    }
    free(m->blur);
    free(m->frame);
    free(m->bg);
    free(m->fast);
    free(m->age);
    free(m->hold);
    free(m->miss);
    free(m->fg);
    free(m->moving);
    free(m->gain_row);
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
    m->frame = malloc(n * sizeof(float));
    m->bg = malloc(n * sizeof(float));
    m->fast = malloc(n * sizeof(float));
    m->age = calloc(n, sizeof(float));
    m->hold = calloc(n, sizeof(float));
    m->miss = calloc(n, sizeof(float));
    m->fg = calloc(n, 1);
    m->moving = calloc(n, 1);
    m->gain_row = malloc((size_t)width * sizeof(float));
    m->gx_a = malloc((size_t)width * sizeof(int));
    m->gx_b = malloc((size_t)width * sizeof(int));
    m->gx_t = malloc((size_t)width * sizeof(float));
    m->window = malloc(win * sizeof(float));
    m->block_gain = malloc(nb * sizeof(float));
    m->block_smooth = malloc(nb * sizeof(float));
    m->block_ref = malloc(nb * sizeof(float));
    m->block_hist = calloc(nb * 2, sizeof(uint64_t));
    m->scratch = malloc(scratch * sizeof(float));
    m->samples = malloc(n * WARMUP_SAMPLES);
    if (!m->blur || !m->frame || !m->bg || !m->fast || !m->age || !m->hold || !m->miss ||
        !m->fg || !m->moving || !m->gain_row || !m->gx_a || !m->gx_b || !m->gx_t ||
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
    m->warming = true;
    return m;
}

static float median(float *v, int n)
{
    return so_kth_smallest(v, n, n / 2 + 1);
}

/* Sorted window of n values: the first index whose value is not below v. */
static int lower_bound(const float *win, int n, float v)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (win[mid] < v) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Insert v / remove one value equal to v. */
static int window_insert(float *win, int n, float v)
{
    int lo = lower_bound(win, n, v);
    memmove(win + lo + 1, win + lo, sizeof(float) * (size_t)(n - lo));
    win[lo] = v;
    return n + 1;
}

static int window_remove(float *win, int n, float v)
{
    int lo = lower_bound(win, n, v);
    memmove(win + lo, win + lo + 1, sizeof(float) * (size_t)(n - lo - 1));
    return n - 1;
}

/*
 * Each block's gain = the median of the block gains of its (2 GAIN_RADIUS + 1)^2 neighbourhood
 * (clipped to the frame). Along a row of blocks the neighbourhood slides one column at a time,
 * so a sorted window is kept: one column leaves, one enters, and the median is read off the
 * middle. It is the same value a selection over the whole neighbourhood gives (the median of
 * the same multiset), at a fraction of the cost.
 */
static void smooth_blocks(struct so_static_model *m)
{
    int nbx = m->nbx, nby = m->nby;
    float *win = m->window;
    for (int by = 0; by < nby; by++) {
        int y0 = by - GAIN_RADIUS < 0 ? 0 : by - GAIN_RADIUS;
        int y1 = by + GAIN_RADIUS >= nby ? nby - 1 : by + GAIN_RADIUS;
        int n = 0;
        for (int x = 0; x <= GAIN_RADIUS && x < nbx; x++) {
            for (int y = y0; y <= y1; y++) {
                n = window_insert(win, n, m->block_gain[y * nbx + x]);
            }
        }
        for (int bx = 0; bx < nbx; bx++) {
            m->block_smooth[by * nbx + bx] = win[n / 2];
            int out = bx - GAIN_RADIUS, in = bx + GAIN_RADIUS + 1;
            for (int y = y0; y <= y1; y++) {
                if (out >= 0) {
                    n = window_remove(win, n, m->block_gain[y * nbx + out]);
                }
                if (in < nbx) {
                    n = window_insert(win, n, m->block_gain[y * nbx + in]);
                }
            }
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
    memcpy(m->scratch, m->block_smooth, sizeof(float) * (size_t)m->nbx * m->nby);
    m->median_gain = median(m->scratch, m->nbx * m->nby);
}

/* The gains of row y (bilinear between block centres) into m->gain_row. */
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
    const float *ra = m->block_smooth + (size_t)ya * m->nbx;
    const float *rb = m->block_smooth + (size_t)yb * m->nbx;
    const int *xa = m->gx_a, *xb = m->gx_b;
    const float *tx = m->gx_t;
    float *out = m->gain_row;
    for (int x = 0; x < m->w; x++) {
        float top = ra[xa[x]] + (ra[xb[x]] - ra[xa[x]]) * tx[x];
        float bot = rb[xa[x]] + (rb[xb[x]] - rb[xa[x]]) * tx[x];
        out[x] = top + (bot - top) * ty;
    }
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
    int bx0 = x / m->bs, by0 = y / m->bs;
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

/* Background = per-pixel median of the warm-up samples. */
static void warmup_median(struct so_static_model *m)
{
    size_t n = (size_t)m->w * m->h;
    uint8_t v[WARMUP_SAMPLES];
    for (size_t i = 0; i < n; i++) {
        /* At most 16 bytes: insertion sort beats qsort's calls through a comparator. */
        for (int s = 0; s < m->n_samples; s++) {
            uint8_t x = m->samples[(size_t)s * n + i];
            int k = s;
            for (; k > 0 && v[k - 1] > x; k--) {
                v[k] = v[k - 1];
            }
            v[k] = x;
        }
        m->bg[i] = v[m->n_samples / 2];
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

    if (!m->started) {
        m->started = true;
        m->t0 = media_s;
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
            memcpy(m->samples + (size_t)m->n_samples * n, m->blur, n);
            m->n_samples++;
            m->next_sample_t += m->p.warmup_s / WARMUP_SAMPLES;
            warmup_median(m);
        }
        if (media_s - m->t0 >= m->p.warmup_s) {
            m->warming = false;
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
    /*
     * Two passes per row. The first is the same arithmetic for every pixel, without branches
     * (the compiler turns it into selects): normalise, compare with the background and the
     * short-term average, update the average, learn the background where the pixel is neither
     * foreground nor static. The second visits only the pixels that are foreground or static
     * (few, in a street scene) for the age bookkeeping. Same values as one branchy pass.
     */
    for (int y = 0; y < h; y++) {
        if (!unit_gain) {
            gain_row(m, y);
        }
        size_t row = (size_t)y * w;
        for (int x = 0; x < w; x++) {
            size_t i = row + (size_t)x;
            float in = (float)blur[i] / gain[x];
            frame[i] = in;
            float bg = bgs[i];
            bool resting = age[i] > 0;
            float thr = thr_abs > thr_rel * bg ? thr_abs : thr_rel * bg;
            thr = resting ? thr * 0.7f : thr;
            bool fg = fabsf(in - bg) > thr;
            bool moving = fabsf(in - fast[i]) > 0.8f * thr;
            fast[i] += a_fast * (in - fast[i]);
            fgs[i] = fg ? 255 : 0;
            movs[i] = moving ? 255 : 0;
            bool learn_px = learn && !fg && !resting;
            bgs[i] = learn_px ? bg + a_bg * (in - bg) : bg;
        }
        for (int x = 0; x < w; x++) {
            size_t i = row + (size_t)x;
            if (!fgs[i] && !(age[i] > 0)) {
                continue;
            }
            if (fgs[i]) {
                miss[i] = 0;
                if (!movs[i]) {
                    if (age[i] <= 0) {
                        /* The short-term average needed this long to settle on the new
                         * value: the object has been at rest that long already. (The
                         * background was not learnt for this pixel: fg.) */
                        float in = frame[i], bg = bgs[i];
                        float thr = thr_abs > thr_rel * bg ? thr_abs : thr_rel * bg;
                        float settle = fabsf(in - bg) / (0.8f * thr);
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

void so_static_model_skip(struct so_static_model *m, double media_s)
{
    if (!m || !m->started || media_s <= m->last_t) {
        return;
    }
    double gap = media_s - m->last_t;
    m->t0 += gap;               /* the warm-up counts analysed time only */
    m->next_sample_t += gap;
    m->last_t = media_s;
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
