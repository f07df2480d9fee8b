/*
 * Why this file exists: every other part of the analysis assumes the camera looks at the scene
 * its zones were drawn on. A PTZ camera turned to another preset, a lens covered with a bag or
 * sprayed, or knocked out of focus breaks that assumption for the whole frame at once, and the
 * static model would take "everything changed" for objects at rest in every zone. This checker
 * tells those cases apart from what the static model already handles (light changes, traffic,
 * things put down), cheaply enough to run on every analysed frame.
 *
 * Per frame, one pass over the grey frame builds:
 *  - a thumbnail (THUMB_W wide, area averages): its std-dev is the contrast (a covered lens is
 *    near-uniform, dark or bright), and its central-difference gradients are the "scene
 *    signature";
 *  - the fine-edge energy: RMS of the differences between neighbouring 2x2 bins of the full
 *    frame (binning halves the sensor noise, squaring lets edges dominate), divided by the mean
 *    level so a global gain change cancels. Defocus removes it; a bus over part of the frame
 *    does not.
 * Scene match: the gradient thumbnail is cut into BLOCKS_X x BLOCKS_Y blocks; each textured
 * block of the reference gets its zero-mean normalised cross-correlation with the frame's,
 * best over shifts of +-1 thumbnail pixel (camera shake, a preset that returns a pixel off);
 * the match is the median over blocks. Gradients and ZNCC make it blind to gain; the median
 * makes it blind to objects covering less than about half of the blocks. When the camera has
 * moved, a wide shift search of the whole thumbnail says by how much, when it can.
 *
 * Decision, in order: covered (contrast below cover_contrast and below cover_share of the
 * reference's), defocused (fine edges below sharp_min of the reference's), moved (match below
 * match_min), else good. Time hysteresis (enter_s / leave_s) turns frames into states; moved
 * for adopt_s adopts the current view (learning again). The reference is the mean thumbnail of
 * the first learn_s seconds (a covered frame restarts it), then follows good frames of the
 * normal state with a slow time constant, so gradual changes (seasons, a parked car) never
 * look like a moved camera.
 *
 * Trade-offs: a vehicle filling most of the view for longer than enter_s (a truck parked right
 * in front of the camera) is indistinguishable from a moved camera here; fog or heavy rain
 * lower the fine edges like defocus does.
 */
#include "view_check.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THUMB_W 80
#define BLOCKS_X 4
#define BLOCKS_Y 3
#define MARGIN 2            /* thumbnail border left out of the match (shifts, gradients) */
#define MIN_TEXTURE 1.0     /* RMS gradient (thumbnail grey levels) of a textured block */
#define WIDE_SHIFT 0.25     /* the wide search covers this share of the thumbnail size */

enum frame_class { C_GOOD, C_MOVED, C_COVERED, C_BLURRED };

struct so_view_check {
    int w, h, tw, th;
    struct so_view_params p;
    int *col_of;            /* frame column -> thumbnail column */
    int *col_start;         /* thumbnail column -> its first frame column (tw + 1 entries) */
    int *row_of;            /* frame row -> thumbnail row */
    float *cell_n;          /* frame pixels per thumbnail cell */
    uint32_t *sum;          /* thumbnail sums */
    float *thumb;           /* current thumbnail */
    float *gx, *gy;         /* current gradients */
    float *ref;             /* reference thumbnail (sum while learning) */
    float *rgx, *rgy;       /* reference gradients */
    int32_t *bins;          /* one row of 2x2 bin sums (fine edges) */
    double ref_sharp, ref_contrast;
    /* learning */
    double learn_t0;        /* -1: not started */
    int n_learn;
    double learn_sharp, learn_contrast;
    /* states */
    enum so_view_state state;
    bool started;
    bool have_ref;          /* learning done */
    double last_t;
    double bad_since, good_since, kind_since, state_since;
    enum frame_class last_bad;
    char reason[112];
};

void so_view_params_default(struct so_view_params *p)
{
    *p = (struct so_view_params){
        .learn_s = 4.0,
        .enter_s = 2.0,
        .leave_s = 2.0,
        .adopt_s = 60.0,
        .refresh_tau_s = 120.0,
        .match_min = 0.4,
        .sharp_min = 0.55,
        .cover_contrast = 6.0,
        .cover_share = 0.35,
    };
}

const char *so_view_state_name(enum so_view_state s)
{
    switch (s) {
    case SO_VIEW_LEARNING:
        return "learning";
    case SO_VIEW_NORMAL:
        return "normal";
    case SO_VIEW_MOVED:
        return "moved";
    case SO_VIEW_TAMPERED:
        return "tampered";
    }
    return "?";
}

void so_view_check_destroy(struct so_view_check *v)
{
    if (!v) {
        return;
    }
    free(v->col_of);
    free(v->col_start);
    free(v->row_of);
    free(v->cell_n);
    free(v->sum);
    free(v->thumb);
    free(v->gx);
    free(v->gy);
    free(v->ref);
    free(v->rgx);
    free(v->rgy);
    free(v->bins);
    free(v);
}

struct so_view_check *so_view_check_create(int width, int height,
                                           const struct so_view_params *params)
{
    if (width < 16 || height < 16) {
        return NULL;
    }
    struct so_view_check *v = calloc(1, sizeof(*v));
    if (!v) {
        return NULL;
    }
    if (params) {
        v->p = *params;
    } else {
        so_view_params_default(&v->p);
    }
    v->w = width;
    v->h = height;
    v->tw = width < THUMB_W ? width : THUMB_W;
    v->th = (int)lround((double)v->tw * height / width);
    v->th = v->th < 12 ? 12 : (v->th > THUMB_W ? THUMB_W : v->th);
    v->th = v->th > height ? height : v->th;
    size_t tn = (size_t)v->tw * v->th;
    v->col_of = malloc(sizeof(int) * (size_t)width);
    v->col_start = malloc(sizeof(int) * (size_t)(v->tw + 1));
    v->row_of = malloc(sizeof(int) * (size_t)height);
    v->cell_n = calloc(tn, sizeof(float));
    v->sum = malloc(sizeof(uint32_t) * tn);
    v->thumb = malloc(sizeof(float) * tn);
    v->gx = calloc(tn, sizeof(float));
    v->gy = calloc(tn, sizeof(float));
    v->ref = calloc(tn, sizeof(float));
    v->rgx = calloc(tn, sizeof(float));
    v->rgy = calloc(tn, sizeof(float));
    v->bins = malloc(sizeof(int32_t) * (size_t)(width / 2 + 1));
    if (!v->col_of || !v->col_start || !v->row_of || !v->cell_n || !v->sum || !v->thumb || !v->gx || !v->gy ||
        !v->ref || !v->rgx || !v->rgy || !v->bins) {
        so_view_check_destroy(v);
        return NULL;
    }
    for (int x = 0; x < width; x++) {
        v->col_of[x] = (int)((long)x * v->tw / width);
    }
    for (int c = 0; c <= v->tw; c++) {  /* the first x with col_of[x] >= c */
        v->col_start[c] = (int)(((long)c * width + v->tw - 1) / v->tw);
    }
    for (int y = 0; y < height; y++) {
        v->row_of[y] = (int)((long)y * v->th / height);
    }
    for (int y = 0; y < height; y++) {
        for (int x = 0; x < width; x++) {
            v->cell_n[(size_t)v->row_of[y] * v->tw + v->col_of[x]] += 1.0f;
        }
    }
    v->learn_t0 = -1;
    v->bad_since = v->good_since = v->kind_since = -1;
    v->state = SO_VIEW_LEARNING;
    return v;
}

/*
 * One pass: thumbnail sums and the fine-edge energy (RMS difference of neighbouring 2x2 bins,
 * horizontally and vertically). Fills v->thumb; returns the fine-edge RMS.
 */
static double scan_frame(struct so_view_check *v, const uint8_t *gray, int stride)
{
    size_t tn = (size_t)v->tw * v->th;
    memset(v->sum, 0, sizeof(uint32_t) * tn);
    int bw = v->w / 2;
    int64_t e2 = 0;             /* integer: exact, and the loops vectorise */
    long n_e = 0;
    for (int y = 0; y < v->h; y++) {
        const uint8_t *row = gray + (size_t)y * stride;
        uint32_t *srow = v->sum + (size_t)v->row_of[y] * v->tw;
        for (int c = 0; c < v->tw; c++) {
            uint32_t cell = 0;
            for (int x = v->col_start[c]; x < v->col_start[c + 1]; x++) {
                cell += row[x];
            }
            srow[c] += cell;
        }
        if ((y & 1) == 0 || bw < 2) {
            continue;
        }
        const uint8_t *r0 = row - stride;
        int32_t prev = 0;
        for (int bx = 0; bx < bw; bx++) {
            int32_t b = r0[2 * bx] + r0[2 * bx + 1] + row[2 * bx] + row[2 * bx + 1];
            if (bx > 0) {
                int64_t d = b - prev;
                e2 += d * d;
                n_e++;
            }
            if (y > 1) {
                int64_t d = b - v->bins[bx];
                e2 += d * d;
                n_e++;
            }
            v->bins[bx] = b;
            prev = b;
        }
    }
    for (size_t i = 0; i < tn; i++) {
        v->thumb[i] = v->sum[i] / v->cell_n[i];
    }
    return n_e ? sqrt((double)e2 / n_e) / 4.0 : 0;     /* per pixel grey levels (a bin sums 4) */
}

static void gradients(const struct so_view_check *v, const float *t, float *gx, float *gy)
{
    int tw = v->tw;
    for (int y = 1; y < v->th - 1; y++) {
        for (int x = 1; x < tw - 1; x++) {
            size_t i = (size_t)y * tw + x;
            gx[i] = t[i + 1] - t[i - 1];
            gy[i] = t[i + tw] - t[i - tw];
        }
    }
}

static void mean_std(const float *t, size_t n, double *mean, double *std)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        s += t[i];
        s2 += (double)t[i] * t[i];
    }
    *mean = s / n;
    double var = s2 / n - *mean * *mean;
    *std = var > 0 ? sqrt(var) : 0;
}

/* Sums for a zero-mean normalised cross-correlation of two-channel samples (a, b). */
struct ncc {
    double sa, sb, saa, sbb, sab;
    long n;
};

static inline void ncc_add(struct ncc *c, double a1, double a2, double b1, double b2)
{
    c->sa += a1 + a2;
    c->sb += b1 + b2;
    c->saa += a1 * a1 + a2 * a2;
    c->sbb += b1 * b1 + b2 * b2;
    c->sab += a1 * b1 + a2 * b2;
    c->n += 2;
}

/* The correlation, or 0 when either side's variance is at most `flat` per sample. */
static double ncc_value(const struct ncc *c, double flat)
{
    if (c->n == 0) {
        return 0;
    }
    double va = c->saa - c->sa * c->sa / c->n, vb = c->sbb - c->sb * c->sb / c->n;
    if (va <= flat * c->n || vb <= flat * c->n) {
        return 0;
    }
    return (c->sab - c->sa * c->sb / c->n) / sqrt(va * vb);
}

/*
 * ZNCC of the reference gradients over [x0,x1)x[y0,y1) with the current ones shifted by
 * (dx, dy) (the caller keeps the shifted window inside the thumbnail). Both channels count as
 * one signal. Returns 0 when either side is flat; *ref_rms gets the reference's RMS gradient.
 */
static double zncc(const struct so_view_check *v, int x0, int y0, int x1, int y1, int dx, int dy,
                   double *ref_rms)
{
    struct ncc c = {0};
    for (int y = y0; y < y1; y++) {
        const float *ax = v->rgx + (size_t)y * v->tw, *ay = v->rgy + (size_t)y * v->tw;
        const float *bx = v->gx + (size_t)(y + dy) * v->tw + dx;
        const float *by = v->gy + (size_t)(y + dy) * v->tw + dx;
        for (int x = x0; x < x1; x++) {
            ncc_add(&c, ax[x], ay[x], bx[x], by[x]);
        }
    }
    if (ref_rms && c.n) {
        *ref_rms = sqrt(c.saa / c.n);
    }
    return ncc_value(&c, 1e-6);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median over textured blocks of each block's best ZNCC within +-1 thumbnail pixel. */
static double scene_match(const struct so_view_check *v)
{
    double scores[BLOCKS_X * BLOCKS_Y], all[BLOCKS_X * BLOCKS_Y];
    int n = 0, n_all = 0;
    int iw = v->tw - 2 * MARGIN, ih = v->th - 2 * MARGIN;
    for (int by = 0; by < BLOCKS_Y; by++) {
        for (int bx = 0; bx < BLOCKS_X; bx++) {
            int x0 = MARGIN + bx * iw / BLOCKS_X, x1 = MARGIN + (bx + 1) * iw / BLOCKS_X;
            int y0 = MARGIN + by * ih / BLOCKS_Y, y1 = MARGIN + (by + 1) * ih / BLOCKS_Y;
            double best = -1, rms = 0;
            for (int dy = -1; dy <= 1; dy++) {
                for (int dx = -1; dx <= 1; dx++) {
                    double z = zncc(v, x0, y0, x1, y1, dx, dy, &rms);
                    best = z > best ? z : best;
                }
            }
            all[n_all++] = best;
            if (rms >= MIN_TEXTURE) {
                scores[n++] = best;
            }
        }
    }
    double *s = n >= 3 ? scores : all;
    int k = n >= 3 ? n : n_all;
    qsort(s, (size_t)k, sizeof(double), cmp_double);
    return k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
}

/* Wide shift search of the whole thumbnail: where did the reference go? Returns the best
 * ZNCC; *dx, *dy get the shift of the scene in thumbnail pixels. */
static double wide_shift(const struct so_view_check *v, int *best_dx, int *best_dy)
{
    int rx = (int)(v->tw * WIDE_SHIFT), ry = (int)(v->th * WIDE_SHIFT);
    double best = -1;
    *best_dx = *best_dy = 0;
    for (int dy = -ry; dy <= ry; dy++) {
        for (int dx = -rx; dx <= rx; dx++) {
            int x0 = MARGIN - (dx < 0 ? dx : 0), x1 = v->tw - MARGIN - (dx > 0 ? dx : 0);
            int y0 = MARGIN - (dy < 0 ? dy : 0), y1 = v->th - MARGIN - (dy > 0 ? dy : 0);
            if (x1 - x0 < v->tw / 2 || y1 - y0 < v->th / 2) {
                continue;
            }
            double z = zncc(v, x0, y0, x1, y1, dx, dy, NULL);
            if (z > best) {
                best = z;
                *best_dx = dx;
                *best_dy = dy;
            }
        }
    }
    return best;
}

static void set_reason_moved(struct so_view_check *v, double match)
{
    int dx, dy;
    double z = wide_shift(v, &dx, &dy);
    if (z >= 0.5 && (abs(dx) >= 2 || abs(dy) >= 2)) {
        /* The scene moved by (dx, dy) in the picture: the camera turned the other way. */
        snprintf(v->reason, sizeof(v->reason),
                 "view shifted: camera turned about %d%% of the width %s, %d%% of the height %s",
                 abs(dx) * 100 / v->tw, dx > 0 ? "left" : "right", abs(dy) * 100 / v->th,
                 dy > 0 ? "up" : "down");
    } else {
        snprintf(v->reason, sizeof(v->reason),
                 "scene does not match the reference view (match %.2f)", match);
    }
}

static void set_reason_tamper(struct so_view_check *v, enum frame_class c, double contrast,
                              double sharp_share)
{
    if (c == C_COVERED && !v->have_ref) {
        snprintf(v->reason, sizeof(v->reason), "lens covered: near-uniform picture (contrast "
                 "%.1f)", contrast);
    } else if (c == C_COVERED) {
        snprintf(v->reason, sizeof(v->reason),
                 "lens covered: near-uniform picture (contrast %.1f, reference %.1f)", contrast,
                 v->ref_contrast);
    } else {
        snprintf(v->reason, sizeof(v->reason),
                 "image defocused: fine edges at %.0f%% of the reference", sharp_share * 100);
    }
}

static void start_learning(struct so_view_check *v)
{
    v->learn_t0 = -1;
    v->n_learn = 0;
    v->learn_sharp = v->learn_contrast = 0;
    v->have_ref = false;
    memset(v->ref, 0, sizeof(float) * (size_t)v->tw * v->th);
}

int so_view_check_update(struct so_view_check *v, const uint8_t *gray, int stride,
                         double media_s, struct so_view_result *out)
{
    if (!v || !gray || !out || stride < v->w) {
        return -EINVAL;
    }
    size_t tn = (size_t)v->tw * v->th;
    double fine = scan_frame(v, gray, stride);
    double mean, contrast;
    mean_std(v->thumb, tn, &mean, &contrast);
    double sharp = fine / (mean + 8.0);
    gradients(v, v->thumb, v->gx, v->gy);
    double dt = v->started && media_s > v->last_t ? media_s - v->last_t : 0;
    v->started = true;
    v->last_t = media_s;
    enum so_view_state before = v->state;
    bool adopted = false;

    *out = (struct so_view_result){.match = 1.0, .sharpness = 1.0, .contrast = contrast};
    enum frame_class c = C_GOOD;
    double match = 1.0, sharp_share = 1.0;
    if (!v->have_ref) {
        /* No reference yet: only a covered lens can be told (absolute contrast). */
        if (contrast < v->p.cover_contrast) {
            c = C_COVERED;
            start_learning(v);
        } else if (v->state == SO_VIEW_LEARNING) {
            if (v->learn_t0 < 0) {
                v->learn_t0 = media_s;
            }
            for (size_t i = 0; i < tn; i++) {
                v->ref[i] += v->thumb[i];
            }
            v->n_learn++;
            v->learn_sharp += sharp;
            v->learn_contrast += contrast;
            if (media_s - v->learn_t0 >= v->p.learn_s - 1e-9 && v->n_learn >= 3) {
                for (size_t i = 0; i < tn; i++) {
                    v->ref[i] /= (float)v->n_learn;
                }
                gradients(v, v->ref, v->rgx, v->rgy);
                v->ref_sharp = v->learn_sharp / v->n_learn;
                v->ref_contrast = v->learn_contrast / v->n_learn;
                v->have_ref = true;
                v->state = SO_VIEW_NORMAL;
                v->state_since = media_s;
            }
        }
    } else {
        match = scene_match(v);
        sharp_share = v->ref_sharp > 0 ? sharp / v->ref_sharp : 1.0;
        if (contrast < v->p.cover_contrast && contrast < v->p.cover_share * v->ref_contrast) {
            c = C_COVERED;
        } else if (sharp_share < v->p.sharp_min) {
            c = C_BLURRED;
        } else if (match < v->p.match_min) {
            c = C_MOVED;
        }
        out->match = match;
        out->sharpness = sharp_share;
    }

    /* Hysteresis in media time. */
    bool tamper = c == C_COVERED || c == C_BLURRED;
    if (c == C_GOOD) {
        v->bad_since = -1;
        v->kind_since = -1;
        if (v->good_since < 0) {
            v->good_since = media_s;
        }
    } else {
        v->good_since = -1;
        if (v->bad_since < 0) {
            v->bad_since = media_s;
        }
        bool same_kind = v->kind_since >= 0 &&
                         ((v->last_bad == C_MOVED) == (c == C_MOVED));
        if (!same_kind) {
            v->kind_since = media_s;
        }
        v->last_bad = c;
    }
    switch (v->state) {
    case SO_VIEW_LEARNING:
    case SO_VIEW_NORMAL:
        if (c != C_GOOD && media_s - v->bad_since >= v->p.enter_s - 1e-9) {
            v->state = tamper ? SO_VIEW_TAMPERED : SO_VIEW_MOVED;
            v->state_since = media_s;
            if (tamper) {
                set_reason_tamper(v, c, contrast, sharp_share);
            } else {
                set_reason_moved(v, match);
            }
        } else if (v->state == SO_VIEW_NORMAL && c == C_GOOD && v->p.refresh_tau_s > 0) {
            /* Follow slow changes of the scene. */
            float a = (float)(1.0 - exp(-dt / v->p.refresh_tau_s));
            for (size_t i = 0; i < tn; i++) {
                v->ref[i] += a * (v->thumb[i] - v->ref[i]);
            }
            gradients(v, v->ref, v->rgx, v->rgy);
            v->ref_sharp += a * (sharp - v->ref_sharp);
            v->ref_contrast += a * (contrast - v->ref_contrast);
        }
        break;
    case SO_VIEW_MOVED:
    case SO_VIEW_TAMPERED:
        if (c == C_GOOD && media_s - v->good_since >= v->p.leave_s - 1e-9) {
            snprintf(v->reason, sizeof(v->reason), "view matches the reference again");
            v->state = v->have_ref ? SO_VIEW_NORMAL : SO_VIEW_LEARNING;
            v->state_since = media_s;
        } else if (c != C_GOOD && (tamper != (v->state == SO_VIEW_TAMPERED)) &&
                   media_s - v->kind_since >= v->p.enter_s - 1e-9) {
            v->state = tamper ? SO_VIEW_TAMPERED : SO_VIEW_MOVED;
            v->state_since = media_s;
            if (tamper) {
                set_reason_tamper(v, c, contrast, sharp_share);
            } else {
                set_reason_moved(v, match);
            }
        } else if (v->state == SO_VIEW_MOVED && v->p.adopt_s > 0 &&
                   media_s - v->state_since >= v->p.adopt_s - 1e-9) {
            /* Moved for long: a preset changed on purpose. This view is the scene now. */
            snprintf(v->reason, sizeof(v->reason),
                     "moved for %.0f s: current view adopted as the reference",
                     media_s - v->state_since);
            start_learning(v);
            v->state = SO_VIEW_LEARNING;
            v->state_since = media_s;
            v->bad_since = v->good_since = v->kind_since = -1;
            adopted = true;
        }
        break;
    }
    out->state = v->state;
    out->changed = v->state != before;
    out->adopted = adopted;
    out->frame_ok = (v->state == SO_VIEW_LEARNING || v->state == SO_VIEW_NORMAL) &&
                    (c == C_GOOD || adopted);
    snprintf(out->reason, sizeof(out->reason), "%s", v->reason);
    return 0;
}

double so_view_align(const float *ref, const uint8_t *gray, int stride, int w, int h,
                     int max_shift, int *dx, int *dy)
{
    int r = max_shift;
    if (!ref || !gray || !dx || !dy || r < 0 || stride < w || w < 2 * r + 8 || h < 2 * r + 8) {
        return -2;
    }
    *dx = *dy = 0;
    double best = -2;
    for (int sy = -r; sy <= r; sy++) {
        for (int sx = -r; sx <= r; sx++) {
            struct ncc c = {0};
            for (int y = r + 1; y < h - r - 1; y += 2) {
                const float *a = ref + (size_t)y * w;
                const uint8_t *b = gray + (size_t)(y + sy) * stride + sx;
                for (int x = r + 1; x < w - r - 1; x += 2) {
                    ncc_add(&c, a[x + 1] - a[x - 1], a[x + w] - a[x - w], b[x + 1] - b[x - 1],
                            b[x + stride] - b[x - stride]);
                }
            }
            double z = ncc_value(&c, 0);
            /* Ties go to the smaller shift: no move unless the scene really moved. */
            if (z > best + 1e-9 || (fabs(z - best) <= 1e-9 && abs(sx) + abs(sy) <
                                                                abs(*dx) + abs(*dy))) {
                best = z;
                *dx = sx;
                *dy = sy;
            }
        }
    }
    return best;
}
