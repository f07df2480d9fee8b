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
 * Trade-offs: greedy O(n^2) NMS on the candidates above threshold (tens, rarely a few hundred)
 * is cheaper than sorting the 1500 raw rows; candidates live in a buffer owned by the detector
 * and grown on demand, so the steady state does not allocate.
 */
#include "detector.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_impl.h"
#include "log.h"
#include "socv.h"
#include "xalloc.h"

struct so_detector {
    const struct so_model_desc *desc;
    const struct so_backend_impl *impl;
    void *net;                  /* the backend's state */
    char *fallback;             /* why not the backend asked for; NULL when it is */
    struct so_detection *cand;  /* candidates of the current call */
    int cand_cap;
    char error[512];
};

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
    if (!desc || !desc->dir || !desc->files[SO_MODEL_CFG].path ||
        !desc->files[SO_MODEL_WEIGHTS].path) {
        snprintf(err, errlen, "model %s: not located (so_model_open / so_model_locate)",
                 desc && desc->name ? desc->name : "(none)");
        return NULL;
    }
    if (!so_detect_backend_available(backend)) {
        snprintf(err, errlen, "backend %s: not built in (meson found no XNNPACK)",
                 so_detect_backend_name(backend) ? so_detect_backend_name(backend) : "?");
        return NULL;
    }
    if (backend == SO_DETECT_BACKEND_DEFAULT) {
        backend = so_detect_backend_default();
    }
    const struct so_backend_impl *impl = &so_backend_opencv;
    char *fallback = NULL;
    void *net = NULL;
    int code = 0;
#ifdef SO_HAVE_XNNPACK
    if (backend == SO_DETECT_BACKEND_XNNPACK) {
        char why[512] = "";
        net = so_backend_xnnpack.create(desc, threads, &code, why, sizeof(why));
        if (net) {
            impl = &so_backend_xnnpack;
        } else if (code == -ENOTSUP) {
            fallback = so_xprintf("xnnpack cannot run it (%s): using opencv", why);
            so_warn(desc->name, "%s", fallback);
        } else {
            snprintf(err, errlen, "model %s: xnnpack: %s", desc->name, why);
            return NULL;
        }
    }
#endif
    if (!net) {
        net = impl->create(desc, threads, &code, err, errlen);
        if (!net) {
            free(fallback);
            return NULL;
        }
    }
    struct so_detector *det = so_xcalloc(1, sizeof(*det));
    det->desc = desc;
    det->impl = impl;
    det->net = net;
    det->fallback = fallback;
    return det;
}

const char *so_detector_backend(const struct so_detector *det)
{
    return det ? det->impl->name : NULL;
}

const char *so_detector_fallback(const struct so_detector *det)
{
    return det ? det->fallback : NULL;
}

void so_detector_destroy(struct so_detector *det)
{
    if (!det) {
        return;
    }
    det->impl->destroy(det->net);
    free(det->fallback);
    free(det->cand);
    free(det);
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
    int rc = det->impl->forward(det->net, &view, &in, &rows, &n_rows, &n_cols, why, sizeof(why));
    if (rc < 0) {
        snprintf(det->error, sizeof(det->error), "model %s: inference failed (%s): %s", m->name,
                 det->impl->name, why);
        return -EIO;
    }
    if (n_rows > 0 && n_cols != 5 + m->n_classes) {
        snprintf(det->error, sizeof(det->error),
                 "model %s: output rows have %d values, expected %d (4 box + objectness + %d "
                 "classes): the descriptor does not match the network", m->name, n_cols,
                 5 + m->n_classes, m->n_classes);
        return -EIO;
    }

    double min_score = m->score_threshold;
    unsigned roles = ~0u;
    int min_size = 0, max_size = 0;
    if (filter) {
        if (filter->min_score > min_score) {
            min_score = filter->min_score;
        }
        roles = filter->roles ? filter->roles : ~0u;
        min_size = filter->min_size;
        max_size = filter->max_size;
    }

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
        if (!(score >= min_score)) {
            continue;
        }
        const struct so_model_class *cls = &m->classes[best];
        if (!(roles & SO_ROLE_BIT(cls->role))) {
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
        if (min_size > 0 && (b.w < min_size || b.h < min_size)) {
            continue;
        }
        if (max_size > 0 && (b.w > max_size || b.h > max_size)) {
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

    int kept = so_detect_nms(det->cand, nc, m->nms_threshold);
    int w = kept < max ? kept : max;
    if (w > 0) {
        memcpy(out, det->cand, (size_t)w * sizeof(*out));
    }
    *n = w;
    return 0;
}
