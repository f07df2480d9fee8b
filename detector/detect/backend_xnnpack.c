/*
 * Why this file exists: one look of yolo-fastest-1.1-xl through OpenCV 4.6's dnn costs
 * ~24 ms on one core, more than decoding a second of a 360p substream, and OpenCV 4.6 has no
 * cheaper CPU path (issue 15). XNNPACK, the operator library under TensorFlow Lite's and
 * PyTorch Mobile's CPU paths, runs the same network 2.5-2.7x faster. This backend builds an
 * XNNPACK subgraph from the darknet cfg and weights (darknet_cfg.c) and decodes the yolo
 * heads into exactly the rows OpenCV's region layer gives, so detector.c cannot tell them
 * apart (tests/unit/test_xnnpack.c holds them to that on images and clip frames).
 *
 * How each darknet layer maps onto the subgraph API of Debian 12's XNNPACK (2022-02-16):
 *   convolutional  convolution_2d (weights reordered to OHWI), or depthwise_convolution_2d
 *                  (HWC) when groups = channels, part by part over a list; linear and relu fuse as the node's clamp;
 *                  leaky is its own leaky_relu node (only clamps fuse in that version);
 *   maxpool        max_pooling_2d with OpenCV's padding (size-1, split floor/ceil);
 *   route          no concatenate in that version: a layer's output is kept as a LIST of
 *                  parts (tensors side by side in channels); a route joins lists; a
 *                  convolution of a list is the sum of convolutions of its parts (the
 *                  weights split by input channel, the bias on the first part only), and
 *                  channel-wise layers (max pool, upsample) run per part;
 *   shortcut       add2; upsample: nearest 2x = deconvolution 2x2, stride 2, one group per
 *                  channel, unit weights; dropout: nothing; yolo: the head's convolution
 *                  output is an external output, decoded here in C.
 * Anything else (a depthwise or shortcut over a list, an activation XNNPACK lacks, an input
 * size other than the cfg's) is -ENOTSUP: detector.c then falls back to OpenCV and says why.
 *
 * Preprocessing is OpenCV's own resize (socv_resize, the cv::resize blobFromImage uses) into
 * a buffer of the input size, then scale/mean/swap in C into the NHWC float input: the same
 * input OpenCV sees, to the bit. The decode reproduces the region layer's float arithmetic:
 * logistic objectness, logistic classes times objectness zeroed at or below 0.2 (the importer's
 * yolo thresh), box centre (cell + (logistic - 0.5) * scale_x_y + 0.5) / cells, size
 * exp(t) * anchor / input size.
 *
 * Trade-offs: weights stay in memory twice (the reordered copy here, XNNPACK's packed copy),
 * because XNNPACK requires static data to outlive the runtime: ~2x the weights file (the
 * darknet-order copy is freed once the runtime exists). threads <= 1 runs on the caller's thread (no pool); more creates a
 * pthreadpool per detector (not process-wide, unlike OpenCV's).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthreadpool.h>
#include <xnnpack.h>

#include "backend_impl.h"
#include "darknet_cfg.h"
#include "xalloc.h"

#define MAX_PARTS 16
#define MAX_HEADS 8
#define LEAKY_SLOPE 0.1f
#define YOLO_THRESH 0.2f    /* the region layer's thresh for [yolo] in OpenCV's importer */

struct part {
    uint32_t id;
    int c;
};

/* A layer's output: parts side by side in channels (one part unless a route joined some). */
struct val {
    struct part p[MAX_PARTS];
    int n;
};

struct head {
    int layer;          /* the [yolo] layer */
    uint32_t id;        /* its input value (external output) */
    float *out;         /* NHWC: h x w x anchors*(5+classes) */
};

struct xnn {
    struct so_darknet *net;
    xnn_subgraph_t sg;
    xnn_runtime_t rt;
    pthreadpool_t pool;
    float **consts;     /* reordered weights, zero biases, unit kernels: outlive the runtime */
    int n_consts, cap_consts;
    struct val *vals;   /* per layer, while building */
    struct head heads[MAX_HEADS];
    int n_heads;
    uint8_t *resized;   /* input_w x input_h BGR */
    float *input;       /* NHWC */
    float *rows;
    int n_rows, n_cols;
};

static float *keep(struct xnn *x, size_t n)
{
    if (x->n_consts == x->cap_consts) {
        x->cap_consts = x->cap_consts ? 2 * x->cap_consts : 256;
        float **c = realloc(x->consts, (size_t)x->cap_consts * sizeof(*c));
        if (!c) {
            abort();
        }
        x->consts = c;
    }
    float *p = so_xcalloc(n ? n : 1, sizeof(float));
    x->consts[x->n_consts++] = p;
    return p;
}

static bool tensor(struct xnn *x, size_t nd, const size_t *dims, const float *data, uint32_t ext,
                   uint32_t flags, uint32_t *id)
{
    return xnn_define_tensor_value(x->sg, xnn_datatype_fp32, nd, dims, data, ext, flags, id) ==
           xnn_status_success;
}

static bool act4(struct xnn *x, int h, int w, int c, uint32_t ext, uint32_t *id)
{
    size_t d[4] = {1, (size_t)h, (size_t)w, (size_t)c};
    uint32_t flags = ext != XNN_INVALID_VALUE_ID ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT : 0;
    return tensor(x, 4, d, NULL, ext, flags, id);
}

static bool const1(struct xnn *x, const float *data, int n, uint32_t *id)
{
    size_t d[1] = {(size_t)n};
    return tensor(x, 1, d, data, XNN_INVALID_VALUE_ID, 0, id);
}

/* The external id of layer i's output when a [yolo] reads it, else XNN_INVALID_VALUE_ID. */
static uint32_t head_ext(const struct xnn *x, int i)
{
    const struct so_darknet *n = x->net;
    if (i + 1 < n->n_layers && n->layers[i + 1].kind == SO_DN_YOLO) {
        return (uint32_t)(1 + x->n_heads);
    }
    return XNN_INVALID_VALUE_ID;
}

static int conv(struct xnn *x, int i, const struct val *in, struct val *out, char *err,
                size_t errlen)
{
    const struct so_dn_layer *L = &x->net->layers[i];
    int k = L->size, F = L->filters, C = L->in_c, pad = L->padding, s = L->stride;
    uint32_t ext = head_ext(x, i);
    float lo = L->act == SO_DN_RELU ? 0.0f : -INFINITY, hi = INFINITY;
    bool leaky = L->act == SO_DN_LEAKY;
    uint32_t y = 0;
    bool ok = true;
    size_t kk = (size_t)k * (size_t)k;

    if (L->groups == C && F == C) {
        /* depthwise: channel-wise, so a list stays a list (one node per part) */
        if (in->n > 1 && ext != XNN_INVALID_VALUE_ID) {
            snprintf(err, errlen, "layer %d: a yolo head over a concatenation", i);
            return -ENOTSUP;
        }
        int off = 0;
        out->n = in->n;
        for (int j = 0; j < in->n && ok; j++) {
            int cj = in->p[j].c;
            uint32_t f, b, o;
            float *bias = keep(x, (size_t)cj);
            memcpy(bias, L->bias + off, (size_t)cj * sizeof(float));
            float *w = keep(x, kk * (size_t)cj);    /* [1][k][k][cj] */
            for (int c = 0; c < cj; c++) {
                for (size_t t = 0; t < kk; t++) {
                    w[t * (size_t)cj + (size_t)c] = L->weights[(size_t)(off + c) * kk + t];
                }
            }
            size_t d[4] = {1, (size_t)k, (size_t)k, (size_t)cj};
            ok = const1(x, bias, cj, &b) && tensor(x, 4, d, w, XNN_INVALID_VALUE_ID, 0, &f) &&
                 act4(x, L->out_h, L->out_w, cj, leaky ? XNN_INVALID_VALUE_ID : ext, &o) &&
                 xnn_define_depthwise_convolution_2d(x->sg, pad, pad, pad, pad, k, k, s, s, 1, 1,
                                                     1, cj, lo, hi, in->p[j].id, f, b, o, 0) ==
                     xnn_status_success;
            if (ok && leaky) {
                uint32_t z;
                ok = act4(x, L->out_h, L->out_w, cj, ext, &z) &&
                     xnn_define_leaky_relu(x->sg, LEAKY_SLOPE, o, z, 0) == xnn_status_success;
                o = z;
            }
            out->p[j] = (struct part){o, cj};
            off += cj;
        }
        if (!ok) {
            snprintf(err, errlen, "layer %d: XNNPACK refused the depthwise convolution", i);
            return -ENOTSUP;
        }
        return 0;
    }
    if (L->groups > 1) {
        if (in->n != 1) {
            snprintf(err, errlen, "layer %d: a grouped convolution of a concatenation", i);
            return -ENOTSUP;
        }
        uint32_t f, b;
        float *bias = keep(x, (size_t)F);
        memcpy(bias, L->bias, (size_t)F * sizeof(float));
        ok = const1(x, bias, F, &b) && act4(x, L->out_h, L->out_w, F, leaky ? XNN_INVALID_VALUE_ID
                                                                            : ext, &y);
        int gi = C / L->groups;
        float *w = keep(x, kk * (size_t)gi * (size_t)F);    /* [F][k][k][gi] */
        for (int o = 0; o < F; o++) {
            for (int c = 0; c < gi; c++) {
                for (size_t t = 0; t < kk; t++) {
                    w[((size_t)o * kk + t) * (size_t)gi + (size_t)c] =
                        L->weights[((size_t)o * (size_t)gi + (size_t)c) * kk + t];
                }
            }
        }
        size_t d[4] = {(size_t)F, (size_t)k, (size_t)k, (size_t)gi};
        ok = ok && tensor(x, 4, d, w, XNN_INVALID_VALUE_ID, 0, &f) &&
             xnn_define_convolution_2d(x->sg, pad, pad, pad, pad, k, k, s, s, 1, 1, L->groups,
                                       gi, F / L->groups, lo, hi, in->p[0].id, f, b, y, 0) ==
                 xnn_status_success;
    } else {
        /* a convolution of a concatenation = the sum of the convolutions of its parts */
        int off = 0;
        uint32_t acc = 0;
        for (int j = 0; j < in->n && ok; j++) {
            int cj = in->p[j].c;
            bool last = j == in->n - 1;
            float *w = keep(x, (size_t)F * kk * (size_t)cj);   /* [F][k][k][cj] */
            for (int o = 0; o < F; o++) {
                for (int c = 0; c < cj; c++) {
                    for (size_t t = 0; t < kk; t++) {
                        w[((size_t)o * kk + t) * (size_t)cj + (size_t)c] =
                            L->weights[((size_t)o * (size_t)C + (size_t)(off + c)) * kk + t];
                    }
                }
            }
            float *bias = keep(x, (size_t)F);
            if (j == 0) {
                memcpy(bias, L->bias, (size_t)F * sizeof(float));
            }
            size_t d[4] = {(size_t)F, (size_t)k, (size_t)k, (size_t)cj};
            uint32_t f, b, o;
            bool single = in->n == 1;
            ok = tensor(x, 4, d, w, XNN_INVALID_VALUE_ID, 0, &f) && const1(x, bias, F, &b) &&
                 act4(x, L->out_h, L->out_w, F,
                      single && !leaky ? ext : XNN_INVALID_VALUE_ID, &o) &&
                 xnn_define_convolution_2d(x->sg, pad, pad, pad, pad, k, k, s, s, 1, 1, 1, cj, F,
                                           single ? lo : -INFINITY, single ? hi : INFINITY,
                                           in->p[j].id, f, b, o, 0) == xnn_status_success;
            if (ok && j > 0) {
                uint32_t sum;
                ok = act4(x, L->out_h, L->out_w, F, last && !leaky ? ext : XNN_INVALID_VALUE_ID,
                          &sum) &&
                     xnn_define_add2(x->sg, last ? lo : -INFINITY, last ? hi : INFINITY, acc, o,
                                     sum, 0) == xnn_status_success;
                o = sum;
            }
            acc = o;
            off += cj;
        }
        y = acc;
    }
    if (ok && leaky) {
        uint32_t z;
        ok = act4(x, L->out_h, L->out_w, F, ext, &z) &&
             xnn_define_leaky_relu(x->sg, LEAKY_SLOPE, y, z, 0) == xnn_status_success;
        y = z;
    }
    if (!ok) {
        snprintf(err, errlen, "layer %d: XNNPACK refused the convolution", i);
        return -ENOTSUP;
    }
    out->n = 1;
    out->p[0] = (struct part){y, F};
    return 0;
}

/* Max pool or nearest 2x upsample, part by part (both are channel-wise). */
static int per_part(struct xnn *x, int i, const struct val *in, struct val *out, char *err,
                    size_t errlen)
{
    const struct so_dn_layer *L = &x->net->layers[i];
    out->n = in->n;
    for (int j = 0; j < in->n; j++) {
        int c = in->p[j].c;
        uint32_t y;
        bool ok = act4(x, L->out_h, L->out_w, c, XNN_INVALID_VALUE_ID, &y);
        if (L->kind == SO_DN_MAXPOOL) {
            if (L->size == 1 && L->stride == 1) {
                out->p[j] = in->p[j];
                continue;
            }
            int a = L->padding / 2, b = L->padding - a;
            ok = ok && xnn_define_max_pooling_2d(x->sg, a, b, b, a, L->size, L->size, L->stride,
                                                 L->stride, 1, 1, -INFINITY, INFINITY,
                                                 in->p[j].id, y, 0) == xnn_status_success;
        } else {
            float *ones = keep(x, 4 * (size_t)c), *zeros = keep(x, (size_t)c);
            for (int t = 0; t < 4 * c; t++) {
                ones[t] = 1.0f;
            }
            size_t d[4] = {(size_t)c, 2, 2, 1};
            uint32_t f, b;
            ok = ok && tensor(x, 4, d, ones, XNN_INVALID_VALUE_ID, 0, &f) &&
                 const1(x, zeros, c, &b) &&
                 xnn_define_deconvolution_2d(x->sg, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 1, 1, c, 1, 1,
                                             -INFINITY, INFINITY, in->p[j].id, f, b, y, 0) ==
                     xnn_status_success;
        }
        if (!ok) {
            snprintf(err, errlen, "layer %d: XNNPACK refused the %s", i,
                     L->kind == SO_DN_MAXPOOL ? "max pool" : "upsample");
            return -ENOTSUP;
        }
        out->p[j] = (struct part){y, c};
    }
    return 0;
}

/*
 * Slightly long: one pass over the darknet layers in order, one case per layer type defining
 * its XNNPACK nodes; the per-type work is in the helpers above.
 */
static int build_graph(struct xnn *x, char *err, size_t errlen)
{
    const struct so_darknet *net = x->net;
    int n_heads = 0;
    for (int i = 0; i < net->n_layers; i++) {
        n_heads += net->layers[i].kind == SO_DN_YOLO;
    }
    if (n_heads == 0 || n_heads > MAX_HEADS) {
        snprintf(err, errlen, "%d [yolo] layers (1 to %d supported)", n_heads, MAX_HEADS);
        return -ENOTSUP;
    }
    if (xnn_create_subgraph((uint32_t)(1 + n_heads), 0, &x->sg) != xnn_status_success) {
        snprintf(err, errlen, "xnn_create_subgraph failed");
        return -ENOMEM;
    }
    size_t d[4] = {1, (size_t)net->height, (size_t)net->width, (size_t)net->channels};
    uint32_t in_id;
    if (!tensor(x, 4, d, NULL, 0, XNN_VALUE_FLAG_EXTERNAL_INPUT, &in_id)) {
        snprintf(err, errlen, "cannot define the input");
        return -ENOTSUP;
    }
    struct val input = {.p = {{in_id, net->channels}}, .n = 1};
    x->vals = so_xcalloc((size_t)net->n_layers, sizeof(*x->vals));
    for (int i = 0; i < net->n_layers; i++) {
        const struct so_dn_layer *L = &net->layers[i];
        const struct val *prev = i ? &x->vals[i - 1] : &input;
        struct val *out = &x->vals[i];
        int rc = 0;
        switch (L->kind) {
        case SO_DN_CONV:
            rc = conv(x, i, prev, out, err, errlen);
            break;
        case SO_DN_MAXPOOL:
        case SO_DN_UPSAMPLE:
            rc = per_part(x, i, prev, out, err, errlen);
            break;
        case SO_DN_DROPOUT:
            *out = *prev;
            break;
        case SO_DN_ROUTE:
            out->n = 0;
            for (int k = 0; k < L->n_from; k++) {
                const struct val *v = &x->vals[L->from[k]];
                if (out->n + v->n > MAX_PARTS) {
                    snprintf(err, errlen, "layer %d: a route of more than %d parts", i,
                             MAX_PARTS);
                    return -ENOTSUP;
                }
                memcpy(&out->p[out->n], v->p, (size_t)v->n * sizeof(v->p[0]));
                out->n += v->n;
            }
            break;
        case SO_DN_SHORTCUT: {
            const struct val *o = &x->vals[L->from[0]];
            uint32_t y;
            if (prev->n != 1 || o->n != 1 || !act4(x, L->out_h, L->out_w, L->out_c,
                                                   head_ext(x, i), &y) ||
                xnn_define_add2(x->sg, -INFINITY, INFINITY, prev->p[0].id, o->p[0].id, y, 0) !=
                    xnn_status_success) {
                snprintf(err, errlen, "layer %d: a shortcut XNNPACK cannot add", i);
                return -ENOTSUP;
            }
            out->n = 1;
            out->p[0] = (struct part){y, L->out_c};
            break;
        }
        case SO_DN_YOLO:
            if (i == 0 || (net->layers[i - 1].kind != SO_DN_CONV &&
                           net->layers[i - 1].kind != SO_DN_SHORTCUT)) {
                snprintf(err, errlen, "layer %d: a [yolo] not right after a convolution", i);
                return -ENOTSUP;
            }
            x->heads[x->n_heads].layer = i;
            x->heads[x->n_heads].id = (uint32_t)(1 + x->n_heads);
            x->n_heads++;
            *out = *prev;
            break;
        }
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static void destroy(void *priv)
{
    struct xnn *x = priv;
    if (!x) {
        return;
    }
    if (x->rt) {
        xnn_delete_runtime(x->rt);
    }
    if (x->sg) {
        xnn_delete_subgraph(x->sg);
    }
    if (x->pool) {
        pthreadpool_destroy(x->pool);
    }
    for (int i = 0; i < x->n_consts; i++) {
        free(x->consts[i]);
    }
    free(x->consts);
    for (int i = 0; i < x->n_heads; i++) {
        free(x->heads[i].out);
    }
    free(x->vals);
    free(x->resized);
    free(x->input);
    free(x->rows);
    so_darknet_destroy(x->net);
    free(x);
}

static void *create(const struct so_model_desc *desc, int threads, int *code, char *err,
                    size_t errlen)
{
    if (xnn_initialize(NULL) != xnn_status_success) {
        snprintf(err, errlen, "xnn_initialize failed (CPU without the instructions XNNPACK "
                 "needs?)");
        *code = -ENOTSUP;
        return NULL;
    }
    struct xnn *x = so_xcalloc(1, sizeof(*x));
    x->net = so_darknet_load(desc->files[SO_MODEL_CFG].path, desc->files[SO_MODEL_WEIGHTS].path,
                             code, err, errlen);
    if (!x->net) {
        goto fail;
    }
    const struct so_darknet *net = x->net;
    if (net->channels != 3 || net->width != desc->input_width ||
        net->height != desc->input_height) {
        snprintf(err, errlen, "the descriptor's input %dx%d differs from the cfg's %dx%dx%d",
                 desc->input_width, desc->input_height, net->width, net->height, net->channels);
        *code = -ENOTSUP;
        goto fail;
    }
    *code = build_graph(x, err, errlen);
    if (*code < 0) {
        goto fail;
    }
    if (threads > 1) {
        x->pool = pthreadpool_create((size_t)threads);
    }
    if (xnn_create_runtime_v2(x->sg, x->pool, 0, &x->rt) != xnn_status_success) {
        snprintf(err, errlen, "xnn_create_runtime_v2 failed");
        *code = -ENOTSUP;
        goto fail;
    }
    xnn_delete_subgraph(x->sg);
    x->sg = NULL;
    free(x->vals);
    x->vals = NULL;
    for (int i = 0; i < x->net->n_layers; i++) {
        /* the subgraph's static data are the reordered copies in consts, not these */
        free(x->net->layers[i].weights);
        free(x->net->layers[i].bias);
        x->net->layers[i].weights = x->net->layers[i].bias = NULL;
    }

    struct xnn_external_value ext[1 + MAX_HEADS];
    size_t px = (size_t)net->width * (size_t)net->height;
    x->resized = so_xcalloc(px, 3);
    x->input = so_xcalloc(px * 3, sizeof(float));
    ext[0] = (struct xnn_external_value){0, x->input};
    x->n_cols = 0;
    for (int h = 0; h < x->n_heads; h++) {
        const struct so_dn_layer *Y = &net->layers[x->heads[h].layer];
        if (x->n_cols && x->n_cols != 5 + Y->classes) {
            snprintf(err, errlen, "[yolo] layers with different class counts");
            *code = -ENOTSUP;
            goto fail;
        }
        x->n_cols = 5 + Y->classes;
        x->n_rows += Y->out_h * Y->out_w * Y->n_anchors;
        x->heads[h].out = so_xcalloc((size_t)Y->out_h * (size_t)Y->out_w * (size_t)Y->out_c,
                                     sizeof(float));
        ext[1 + h] = (struct xnn_external_value){x->heads[h].id, x->heads[h].out};
    }
    x->rows = so_xcalloc((size_t)x->n_rows * (size_t)x->n_cols, sizeof(float));
    if (xnn_setup_runtime(x->rt, (size_t)(1 + x->n_heads), ext) != xnn_status_success) {
        snprintf(err, errlen, "xnn_setup_runtime failed");
        *code = -ENOTSUP;
        goto fail;
    }
    return x;
fail:
    destroy(x);
    return NULL;
}

static inline float logistic(float v)
{
    return 1.f / (1.f + expf(-v));
}

/* The region layer's arithmetic, row (y*w + x)*anchors + a of each head, heads in cfg order. */
static void decode(struct xnn *x)
{
    const struct so_darknet *net = x->net;
    int cols = x->n_cols;
    float *dst = x->rows;
    for (int h = 0; h < x->n_heads; h++) {
        const struct so_dn_layer *Y = &net->layers[x->heads[h].layer];
        const float *src = x->heads[h].out;
        int gw = Y->out_w, gh = Y->out_h, na = Y->n_anchors;
        for (int gy = 0; gy < gh; gy++) {
            for (int gx = 0; gx < gw; gx++) {
                for (int a = 0; a < na; a++, src += cols, dst += cols) {
                    float obj = logistic(src[4]);
                    float xt = (logistic(src[0]) - 0.5f) * Y->scale_x_y + 0.5f;
                    float yt = (logistic(src[1]) - 0.5f) * Y->scale_x_y + 0.5f;
                    dst[0] = ((float)gx + xt) / (float)gw;
                    dst[1] = ((float)gy + yt) / (float)gh;
                    dst[2] = expf(src[2]) * Y->anchors[2 * a] / (float)net->width;
                    dst[3] = expf(src[3]) * Y->anchors[2 * a + 1] / (float)net->height;
                    dst[4] = obj;
                    for (int c = 5; c < cols; c++) {
                        float p = obj * logistic(src[c]);
                        dst[c] = p > YOLO_THRESH ? p : 0.0f;
                    }
                }
            }
        }
    }
}

static int forward(void *priv, const struct socv_view *bgr, const struct socv_dnn_input *in,
                   const float **rows, int *n_rows, int *n_cols, char *err, size_t errlen)
{
    struct xnn *x = priv;
    const struct so_darknet *net = x->net;
    if (in->width != net->width || in->height != net->height) {
        snprintf(err, errlen, "input %dx%d, the network was built for %dx%d", in->width,
                 in->height, net->width, net->height);
        return -EINVAL;
    }
    struct socv_view dst = {
        .data = x->resized,
        .width = net->width,
        .height = net->height,
        .stride = net->width * 3,
        .channels = 3,
    };
    if (socv_resize(bgr, &dst) != SOCV_OK) {
        snprintf(err, errlen, "resize: %s", socv_last_error());
        return -EIO;
    }
    /* blobFromImage: (pixel - mean) * scale, mean in the order after the swap */
    size_t px = (size_t)net->width * (size_t)net->height;
    float scale = (float)in->scale;
    float mean[3] = {(float)in->mean[0], (float)in->mean[1], (float)in->mean[2]};
    int src_of[3] = {0, 1, 2};
    if (in->swap_rb) {
        src_of[0] = 2;
        src_of[2] = 0;
    }
    const uint8_t *p = x->resized;
    float *q = x->input;
    for (size_t i = 0; i < px; i++, p += 3, q += 3) {
        for (int c = 0; c < 3; c++) {
            q[c] = ((float)p[src_of[c]] - mean[c]) * scale;
        }
    }
    if (xnn_invoke_runtime(x->rt) != xnn_status_success) {
        snprintf(err, errlen, "xnn_invoke_runtime failed");
        return -EIO;
    }
    decode(x);
    *rows = x->rows;
    *n_rows = x->n_rows;
    *n_cols = x->n_cols;
    return 0;
}

const struct so_backend_impl so_backend_xnnpack = {
    .name = "xnnpack",
    .create = create,
    .destroy = destroy,
    .forward = forward,
};
