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
    float *gain;            /* per-pixel gain */
    int bs, nbx, nby;       /* gain blocks */
    float *block_gain, *block_smooth, *scratch;
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
    free(m->gain);
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
    m->gain = malloc(n * sizeof(float));
    m->block_gain = malloc(nb * sizeof(float));
    m->block_smooth = malloc(nb * sizeof(float));
    m->block_ref = malloc(nb * sizeof(float));
    m->block_hist = calloc(nb * 2, sizeof(uint64_t));
    m->scratch = malloc(scratch * sizeof(float));
    m->samples = malloc(n * WARMUP_SAMPLES);
    if (!m->blur || !m->frame || !m->bg || !m->fast || !m->age || !m->hold || !m->miss ||
        !m->fg || !m->moving || !m->gain || !m->block_gain || !m->block_smooth ||
        !m->block_ref || !m->block_hist || !m->scratch ||
        !m->samples) {
        so_static_model_destroy(m);
        return NULL;
    }
    for (size_t i = 0; i < nb; i++) {
        m->block_ref[i] = 1.0f;
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
    for (int by = 0; by < m->nby; by++) {
        for (int bx = 0; bx < m->nbx; bx++) {
            int n = 0;
            for (int y = by - GAIN_RADIUS; y <= by + GAIN_RADIUS; y++) {
                for (int x = bx - GAIN_RADIUS; x <= bx + GAIN_RADIUS; x++) {
                    if (y >= 0 && y < m->nby && x >= 0 && x < m->nbx) {
                        m->scratch[n++] = m->block_gain[y * m->nbx + x];
                    }
                }
            }
            m->block_smooth[by * m->nbx + bx] = median(m->scratch, n);
        }
    }
    memcpy(m->scratch, m->block_smooth, sizeof(float) * (size_t)m->nbx * m->nby);
    m->median_gain = median(m->scratch, m->nbx * m->nby);
    /* Bilinear interpolation between block centres. */
    for (int y = 0; y < h; y++) {
        float fy = ((float)y + 0.5f) / (float)bs - 0.5f;
        int y0 = (int)floorf(fy);
        float ty = fy - (float)y0;
        int ya = y0 < 0 ? 0 : (y0 >= m->nby ? m->nby - 1 : y0);
        int yb = y0 + 1 >= m->nby ? m->nby - 1 : (y0 + 1 < 0 ? 0 : y0 + 1);
        if (y0 < 0) {
            ty = 0;
        }
        const float *ra = m->block_smooth + (size_t)ya * m->nbx;
        const float *rb = m->block_smooth + (size_t)yb * m->nbx;
        for (int x = 0; x < w; x++) {
            float fx = ((float)x + 0.5f) / (float)bs - 0.5f;
            int x0 = (int)floorf(fx);
            float tx = fx - (float)x0;
            int xa = x0 < 0 ? 0 : (x0 >= m->nbx ? m->nbx - 1 : x0);
            int xb = x0 + 1 >= m->nbx ? m->nbx - 1 : (x0 + 1 < 0 ? 0 : x0 + 1);
            if (x0 < 0) {
                tx = 0;
            }
            float top = ra[xa] + (ra[xb] - ra[xa]) * tx;
            float bot = rb[xa] + (rb[xb] - rb[xa]) * tx;
            m->gain[(size_t)y * w + x] = top + (bot - top) * ty;
        }
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

static int cmp_u8(const void *a, const void *b)
{
    return (int)*(const uint8_t *)a - (int)*(const uint8_t *)b;
}

/* Background = per-pixel median of the warm-up samples. */
static void warmup_median(struct so_static_model *m)
{
    size_t n = (size_t)m->w * m->h;
    uint8_t v[WARMUP_SAMPLES];
    for (size_t i = 0; i < n; i++) {
        for (int s = 0; s < m->n_samples; s++) {
            v[s] = m->samples[(size_t)s * n + i];
        }
        qsort(v, (size_t)m->n_samples, 1, cmp_u8);
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
            m->gain[i] = 1.0f;
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
        for (size_t i = 0; i < n; i++) {
            m->gain[i] = 1.0f;
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
    for (size_t i = 0; i < n; i++) {
        float in = (float)m->blur[i] / m->gain[i];
        m->frame[i] = in;
        float bg = m->bg[i];
        float thr = thr_abs > thr_rel * bg ? thr_abs : thr_rel * bg;
        if (m->age[i] > 0) {
            thr *= 0.7f;
        }
        bool fg = fabsf(in - bg) > thr;
        bool moving = fabsf(in - m->fast[i]) > 0.8f * thr;
        m->fast[i] += a_fast * (in - m->fast[i]);
        m->fg[i] = fg ? 255 : 0;
        m->moving[i] = moving ? 255 : 0;
        if (fg) {
            m->miss[i] = 0;
            if (!moving) {
                if (m->age[i] <= 0) {
                    /* The short-term average needed this long to settle on the new value:
                     * the object has been at rest that long already. */
                    float settle = fabsf(in - bg) / (0.8f * thr);
                    m->age[i] = settle > 1.0f ? (float)m->p.fast_tau_s * logf(settle) : 0;
                }
                m->age[i] += fdt;
                m->hold[i] = 0;
            } else if (m->age[i] > 0) {
                m->hold[i] += fdt;
                if (m->hold[i] > hold_max) {
                    m->age[i] = 0;
                    m->hold[i] = 0;
                }
            }
        } else if (m->age[i] > 0) {
            m->miss[i] += fdt;
            if (m->miss[i] >= miss_reset) {
                m->age[i] = 0;
                m->miss[i] = 0;
                m->hold[i] = 0;
            }
        } else if (!m->warming) {
            m->bg[i] = bg + a_bg * (in - bg);
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
