/*
 * The inference backends of the detector (internal to detector/detect/): each turns a BGR
 * view into the raw rows of OpenCV's region layer (x, y, w, h as fractions of the input,
 * objectness, then per class objectness x probability, zeroed at or below 0.2), so
 * detector.c's policy (thresholds, roles, NMS, coordinates) is the same whatever runs the
 * network.
 *
 *   backend_opencv.c   cv::dnn through the shim (socv_dnn.cpp); always built.
 *   backend_xnnpack.c  an XNNPACK subgraph built from the darknet files (darknet_cfg.c);
 *                      built when meson finds XNNPACK (SO_HAVE_XNNPACK).
 *
 * Ownership: create() returns a state owned by the detector (destroy() accepts NULL); the
 * rows returned by forward() belong to the state and stay valid until its next forward().
 * Threads: one state is used by one thread at a time.
 * Errors: create() returns NULL with a message in err and *code set: -ENOTSUP when this
 * backend cannot run the model (the caller may fall back to OpenCV), another negative errno
 * otherwise; forward() returns 0 or a negative errno with a message in err.
 */
#ifndef SO_DETECT_BACKEND_IMPL_H
#define SO_DETECT_BACKEND_IMPL_H

#include <stddef.h>

#include "model.h"
#include "socv.h"

struct so_backend_impl {
    const char *name;
    void *(*create)(const struct so_model_desc *desc, int threads, int *code, char *err,
                    size_t errlen);
    void (*destroy)(void *priv);
    int (*forward)(void *priv, const struct socv_view *bgr, const struct socv_dnn_input *in,
                   const float **rows, int *n_rows, int *n_cols, char *err, size_t errlen);
};

extern const struct so_backend_impl so_backend_opencv;
#ifdef SO_HAVE_XNNPACK
extern const struct so_backend_impl so_backend_xnnpack;
#endif

#endif
