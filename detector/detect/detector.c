/*
 * Why this file exists: the rules need objects (a car, a bicycle, an umbrella, a person), not
 * pixels, and they need them in the analysis frame's coordinates with the few knobs a zone can
 * turn (which roles count, how confident, how big). This file is the policy half of the DNN
 * detector: the OpenCV shim (socv_dnn.cpp) turns pixels into raw region-layer rows, and here
 * the rows become detections.
 *
 * How: for each row take the best class (scores are already objectness x class probability),
 * keep it when it passes the model's score threshold and the call's filters, map its box from
 * input fractions to the pixels of the ROI and then of the whole image (plain resize, so the
 * mapping is a scale per axis), clip it, apply the model's aliases (train -> truck) so the
 * alias merges with its target in NMS, then run class-aware greedy NMS and sort best first.
 *
 * Filters run before NMS on purpose: a box the caller does not want (too big, wrong role) must
 * not suppress a smaller box of the same class that the caller does want.
 *
 * The network runs behind a small backend interface (backend_impl.h): OpenCV dnn
 * (backend_opencv.c) or XNNPACK (backend_xnnpack.c), both giving OpenCV's region-layer rows.
 * XNNPACK is the default when built in; a model it cannot run falls back to OpenCV with the
 * reason logged, never silently.
 *
 * The network itself is a pool (netpool.c): a detector of its own (so_detector_create_backend)
 * or one shared by every camera of the process (so_detector_create_shared, netshare.c). A
 * look leases an instance for the forward pass and the reading of its rows; NMS and the copy
 * out run after the instance is given back, on the detector's own buffer.
 *
 * Trade-offs: greedy O(n^2) NMS on the candidates above threshold (tens, rarely a few hundred)
 * is cheaper than sorting the 1500 raw rows; candidates live in a buffer owned by the detector
 * and grown on demand, so the steady state does not allocate.
 */
#include "detector.h"

#include <errno.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "netpool.h"
#include "netshare.h"
#include "socv.h"
#include "timeutil.h"
#include "xalloc.h"

struct so_detector {
    const struct so_model_desc *desc;
    struct so_netpool *pool;    /* the network: shared through `share`, or this detector's own */
    struct so_netshare *share;  /* NULL: the pool is private */
    struct so_detection *cand;  /* candidates of the current call */
    int cand_cap;
    atomic_uint_fast64_t looks, waited, wait_ns, cpu_ns;
    char error[512];
};

static bool located(const struct so_model_desc *desc, char *err, size_t errlen)
{
    if (!desc || !desc->dir || !desc->files[SO_MODEL_CFG].path ||
        !desc->files[SO_MODEL_WEIGHTS].path) {
        snprintf(err, errlen, "model %s: not located (so_model_open / so_model_locate)",
                 desc && desc->name ? desc->name : "(none)");
        return false;
    }
    return true;
}

static struct so_detector *wrap(const struct so_model_desc *desc, struct so_netpool *pool,
                                struct so_netshare *share)
{
    struct so_detector *det = so_xcalloc(1, sizeof(*det));
    det->desc = desc;
    det->pool = pool;
    det->share = share;
    atomic_init(&det->looks, 0);
    atomic_init(&det->waited, 0);
    atomic_init(&det->wait_ns, 0);
    atomic_init(&det->cpu_ns, 0);
    return det;
}

struct so_detector *so_detector_create(const struct so_model_desc *desc, int threads, char *err,
                                       size_t errlen)
{
    return so_detector_create_backend(desc, SO_DETECT_BACKEND_DEFAULT, threads, err, errlen);
}

struct so_detector *so_detector_create_backend(const struct so_model_desc *desc,
                                               enum so_detect_backend backend, int threads,
                                               char *err, size_t errlen)
{
    char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (!located(desc, err, errlen)) {
        return NULL;
    }
    struct so_netpool *pool = so_netpool_create(desc, backend, threads, 1, err, errlen);
    return pool ? wrap(desc, pool, NULL) : NULL;
}

struct so_detector *so_detector_create_shared(struct so_netshare *share,
                                              const struct so_model_desc *desc,
                                              enum so_detect_backend backend, char *err,
                                              size_t errlen)
{
    char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (!share || !located(desc, err, errlen)) {
        if (!share) {
            snprintf(err, errlen, "no network share");
        }
        return NULL;
    }
    struct so_netpool *pool = so_netshare_get(share, desc, backend, err, errlen);
    return pool ? wrap(desc, pool, share) : NULL;
}

const char *so_detector_backend(const struct so_detector *det)
{
    return det ? so_netpool_backend(det->pool) : NULL;
}

const char *so_detector_fallback(const struct so_detector *det)
{
    return det ? so_netpool_fallback(det->pool) : NULL;
}

void so_detector_destroy(struct so_detector *det)
{
    if (!det) {
        return;
    }
    if (det->share) {
        so_netshare_put(det->share, det->pool);
    } else {
        so_netpool_destroy(det->pool);
    }
    free(det->cand);
    free(det);
}

void so_detector_look_stats(const struct so_detector *det, struct so_look_stats *out)
{
    *out = (struct so_look_stats){0};
    if (!det) {
        return;
    }
    out->looks = atomic_load(&det->looks);
    out->waited = atomic_load(&det->waited);
    out->wait_s = (double)atomic_load(&det->wait_ns) * 1e-9;
    out->cpu_s = (double)atomic_load(&det->cpu_ns) * 1e-9;
}

const struct so_model_desc *so_detector_model(const struct so_detector *det)
{
    return det ? det->desc : NULL;
}

const char *so_detector_last_error(const struct so_detector *det)
{
    return det ? det->error : "";
}

static int by_score_desc(const void *pa, const void *pb)
{
    const struct so_detection *a = pa, *b = pb;
    if (a->score != b->score) {
        return a->score < b->score ? 1 : -1;
    }
    /* deterministic order for equal scores */
    if (a->box.y != b->box.y) {
        return a->box.y < b->box.y ? -1 : 1;
    }
    return a->box.x < b->box.x ? -1 : a->box.x > b->box.x;
}

int so_detect_nms(struct so_detection *d, int n, double iou)
{
    if (!d || n <= 0) {
        return 0;
    }
    qsort(d, (size_t)n, sizeof(*d), by_score_desc);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        bool drop = false;
        for (int k = 0; k < kept && !drop; k++) {
            drop = d[k].class_id == d[i].class_id && so_box_iou(d[k].box, d[i].box) > iou;
        }
        if (!drop) {
            d[kept++] = d[i];
        }
    }
    return kept;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Grow the candidate buffer to hold at least `need`. */
static void reserve(struct so_detector *det, int need)
{
    if (need <= det->cand_cap) {
        return;
    }
    int cap = det->cand_cap ? det->cand_cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    struct so_detection *c = realloc(det->cand, (size_t)cap * sizeof(*c));
    if (!c) {
        abort();
    }
    det->cand = c;
    det->cand_cap = cap;
}

/* The caller's filters merged with the model's defaults. */
struct limits {
    double min_score;
    unsigned roles;
    int min_size, max_size;
};

/*
 * The rows of one forward pass over region r of img, as candidates (det->cand), before NMS.
 * Returns their count. The rows belong to the leased instance: this runs under the lease.
 */
static int collect(struct so_detector *det, const struct so_image *img, struct so_box r,
                   const struct limits *lim, const float *rows, int n_rows, int n_cols)
{
    const struct so_model_desc *m = det->desc;
    int nc = 0;
    for (int i = 0; i < n_rows; i++) {
        const float *row = rows + (size_t)i * (size_t)n_cols;
        const float *scores = row + 5;
        int best = 0;
        for (int c = 1; c < m->n_classes; c++) {
            if (scores[c] > scores[best]) {
                best = c;
            }
        }
        float score = scores[best];
        if (!(score >= lim->min_score)) {
            continue;
        }
        const struct so_model_class *cls = &m->classes[best];
        if (!(lim->roles & SO_ROLE_BIT(cls->role))) {
            continue;
        }
        /* fractions of the (plainly resized) input = fractions of the ROI */
        double cx = row[0] * r.w, cy = row[1] * r.h, bw = row[2] * r.w, bh = row[3] * r.h;
        int x0 = clampi((int)lround(r.x + cx - bw / 2), 0, img->width);
        int y0 = clampi((int)lround(r.y + cy - bh / 2), 0, img->height);
        int x1 = clampi((int)lround(r.x + cx + bw / 2), 0, img->width);
        int y1 = clampi((int)lround(r.y + cy + bh / 2), 0, img->height);
        struct so_box b = {x0, y0, x1 - x0, y1 - y0};
        if (b.w <= 0 || b.h <= 0) {
            continue;
        }
        if (lim->min_size > 0 && (b.w < lim->min_size || b.h < lim->min_size)) {
            continue;
        }
        if (lim->max_size > 0 && (b.w > lim->max_size || b.h > lim->max_size)) {
            continue;
        }
        reserve(det, nc + 1);
        det->cand[nc++] = (struct so_detection){
            .box = b,
            .class_id = cls->report_id,
            .class_name = m->classes[cls->report_id].name,
            .role = cls->role,
            .score = score,
        };
    }
    return nc;
}

/* One forward pass on a leased instance of the network; candidates into det->cand. Returns
 * their count or -EIO (message in det->error). Counts the look and its wait. */
static int look(struct so_detector *det, const struct so_image *img, struct so_box r,
                const struct limits *lim)
{
    const struct so_model_desc *m = det->desc;
    struct socv_view view = {
        .data = (uint8_t *)img->bgr + (size_t)r.y * (size_t)img->stride + (size_t)r.x * 3,
        .width = r.w,
        .height = r.h,
        .stride = img->stride,
        .channels = 3,
    };
    struct socv_dnn_input in = {
        .width = m->input_width,
        .height = m->input_height,
        .scale = m->scale,
        .mean = {m->mean[0], m->mean[1], m->mean[2]},
        .swap_rb = m->swap_rb,
    };
    const float *rows = NULL;
    int n_rows = 0, n_cols = 0;
    char why[256] = "";
    struct so_netpool_lease lease;
    so_netpool_acquire(det->pool, &lease);
    int rc = so_netpool_forward(det->pool, &lease, &view, &in, &rows, &n_rows, &n_cols, why,
                                sizeof(why));
    if (rc < 0) {
        snprintf(det->error, sizeof(det->error), "model %s: inference failed (%s): %s", m->name,
                 so_netpool_backend(det->pool), why);
        rc = -EIO;
    } else if (n_rows > 0 && n_cols != 5 + m->n_classes) {
        snprintf(det->error, sizeof(det->error),
                 "model %s: output rows have %d values, expected %d (4 box + objectness + %d "
                 "classes): the descriptor does not match the network", m->name, n_cols,
                 5 + m->n_classes, m->n_classes);
        rc = -EIO;
    } else {
        rc = collect(det, img, r, lim, rows, n_rows, n_cols);
    }
    so_netpool_release(det->pool, &lease);
    atomic_fetch_add(&det->looks, 1);
    if (lease.waited) {
        atomic_fetch_add(&det->waited, 1);
        atomic_fetch_add(&det->wait_ns, (uint_fast64_t)(lease.wait_s * 1e9));
    }
    return rc;
}

int so_detector_run(struct so_detector *det, const struct so_image *img,
                    const struct so_box *roi, const struct so_detect_filter *filter,
                    struct so_detection *out, int max, int *n)
{
    if (n) {
        *n = 0;
    }
    if (!det || !img || !img->bgr || img->width <= 0 || img->height <= 0 ||
        img->stride < img->width * 3 || !n || max < 0 || (max > 0 && !out)) {
        if (det) {
            snprintf(det->error, sizeof(det->error), "invalid argument");
        }
        return -EINVAL;
    }
    det->error[0] = '\0';
    const struct so_model_desc *m = det->desc;

    /* The region, clipped to the image. */
    struct so_box r = {0, 0, img->width, img->height};
    if (roi) {
        int x0 = clampi(roi->x, 0, img->width), y0 = clampi(roi->y, 0, img->height);
        int x1 = clampi(roi->x + roi->w, 0, img->width);
        int y1 = clampi(roi->y + roi->h, 0, img->height);
        r = (struct so_box){x0, y0, x1 - x0, y1 - y0};
        if (r.w <= 0 || r.h <= 0) {
            return 0;
        }
    }

    struct limits lim = {.min_score = m->score_threshold, .roles = ~0u};
    if (filter) {
        if (filter->min_score > lim.min_score) {
            lim.min_score = filter->min_score;
        }
        lim.roles = filter->roles ? filter->roles : ~0u;
        lim.min_size = filter->min_size;
        lim.max_size = filter->max_size;
    }

    double cpu0 = so_time_thread_cpu();
    int nc = look(det, img, r, &lim);
    if (nc < 0) {
        atomic_fetch_add(&det->cpu_ns, (uint_fast64_t)((so_time_thread_cpu() - cpu0) * 1e9));
        return nc;
    }
    int kept = so_detect_nms(det->cand, nc, m->nms_threshold);
    int w = kept < max ? kept : max;
    if (w > 0) {
        memcpy(out, det->cand, (size_t)w * sizeof(*out));
    }
    *n = w;
    atomic_fetch_add(&det->cpu_ns, (uint_fast64_t)((so_time_thread_cpu() - cpu0) * 1e9));
    return 0;
}
