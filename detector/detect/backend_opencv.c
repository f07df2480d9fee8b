/*
 * The OpenCV dnn backend: a thin adapter from the backend vtable (backend_impl.h) to the
 * shim's darknet network (socv_dnn.cpp), where OpenCV's region layer already produces the rows.
 * Kept as the fallback for models XNNPACK cannot run and as the reference the XNNPACK backend
 * is tested against.
 */
#include <errno.h>
#include <stdio.h>

#include "backend_impl.h"

static void *create(const struct so_model_desc *desc, int threads, int *code, char *err,
                    size_t errlen)
{
    if (threads > 0 && socv_set_num_threads(threads) != SOCV_OK) {
        snprintf(err, errlen, "setNumThreads(%d): %s", threads, socv_last_error());
        *code = -EIO;
        return NULL;
    }
    struct socv_net *net = socv_net_create_darknet(desc->files[SO_MODEL_CFG].path,
                                                   desc->files[SO_MODEL_WEIGHTS].path);
    if (!net) {
        snprintf(err, errlen, "model %s: cannot load %s: %s", desc->name,
                 desc->files[SO_MODEL_WEIGHTS].path, socv_last_error());
        *code = -EIO;
    }
    return net;
}

static void destroy(void *priv)
{
    socv_net_destroy(priv);
}

static int forward(void *priv, const struct socv_view *bgr, const struct socv_dnn_input *in,
                   const float **rows, int *n_rows, int *n_cols, char *err, size_t errlen)
{
    if (socv_net_forward(priv, bgr, in, rows, n_rows, n_cols) != SOCV_OK) {
        snprintf(err, errlen, "%s", socv_last_error());
        return -EIO;
    }
    return 0;
}

const struct so_backend_impl so_backend_opencv = {
    .name = "opencv",
    .create = create,
    .destroy = destroy,
    .forward = forward,
};
