/*
 * A darknet network read from its .cfg and .weights into plain arrays, for inference engines
 * other than OpenCV dnn (backend_xnnpack.c). Only what the shipped models use is understood:
 * [convolutional] (batch norm, groups, linear / leaky / relu), [maxpool], [route],
 * [shortcut], [upsample], [dropout] (identity at inference) and [yolo]; anything else is
 * refused with -ENOTSUP so the caller can fall back to OpenCV.
 *
 * Batch norm is folded into each convolution's weights and bias as OpenCV's darknet importer
 * does (eps 1e-6), and padding follows OpenCV's reading of the cfg (a convolution's `pad=1`
 * is size/2 for size >= 3 and 0 below; a max pool's padding defaults to size-1, split
 * floor/ceil), so an engine built from this gives OpenCV's numbers.
 *
 * Ownership: so_darknet_load() returns a net owned by the caller (so_darknet_destroy). It is
 * immutable afterwards; any thread may read it.
 *
 * Errors: NULL with "FILE:LINE: what" (cfg) or "FILE: what" (weights) in err; *code (when not
 * NULL) gets -ENOENT/-EIO (unreadable), -EBADMSG (malformed) or -ENOTSUP (a layer or option
 * this reader does not handle).
 */
#ifndef SO_DETECT_DARKNET_CFG_H
#define SO_DETECT_DARKNET_CFG_H

#include <stdbool.h>
#include <stddef.h>

enum so_dn_kind {
    SO_DN_CONV = 0,
    SO_DN_MAXPOOL,
    SO_DN_ROUTE,
    SO_DN_SHORTCUT,
    SO_DN_UPSAMPLE,
    SO_DN_DROPOUT,
    SO_DN_YOLO,
};

enum so_dn_act {
    SO_DN_LINEAR = 0,
    SO_DN_LEAKY,    /* slope 0.1 */
    SO_DN_RELU,
};

#define SO_DN_MAX_FROM 8
#define SO_DN_MAX_ANCHORS 16

struct so_dn_layer {
    enum so_dn_kind kind;
    int line;                   /* of its [section] in the cfg */
    int in_c, in_h, in_w;       /* input shape (of the previous layer for conv/pool/...) */
    int out_c, out_h, out_w;
    /* convolution: weights [filters][in_c/groups][size][size] with batch norm folded */
    int filters, size, stride, padding, groups;
    enum so_dn_act act;         /* convolution and shortcut */
    float *weights, *bias;
    /* max pool: size, stride above; padding is the total (top/left get padding/2) */
    /* route: absolute layer indexes; shortcut: from[0] */
    int from[SO_DN_MAX_FROM];
    int n_from;
    /* yolo: the masked anchors in pixels of the input (w, h pairs) */
    float anchors[2 * SO_DN_MAX_ANCHORS];
    int n_anchors, classes;
    float scale_x_y;
};

struct so_darknet {
    int width, height, channels;    /* the network input */
    struct so_dn_layer *layers;
    int n_layers;
};

/* Read cfg and weights. NULL on failure (see above). */
struct so_darknet *so_darknet_load(const char *cfg_path, const char *weights_path, int *code,
                                   char *err, size_t errlen);

/* Free; accepts NULL. */
void so_darknet_destroy(struct so_darknet *net);

#endif
