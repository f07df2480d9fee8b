/*
 * socv: the C API over OpenCV 4 that the rest of streetorder uses. The shim's .cpp files
 * (socv.cpp, socv_dnn.cpp, socv_imgio.cpp, with socv_internal.hpp) are the only places that
 * know about OpenCV and C++; this header and socv_imgio.h are their C face.
 *
 * Rules of the shim (learned from OpenCvSharpExtern): every function returns an enum
 * socv_status (or a handle that is NULL on failure); no C++ exception ever crosses the
 * extern "C" boundary (one wrapper catches everything and maps it to a status); values come
 * back through out-parameters; handles are typed opaque structs, never void *.
 *
 * Images crossing the API are plain interleaved buffers described by struct socv_view (the
 * caller keeps ownership; OpenCV wraps them without copying unless a function says it copies).
 * Thread-safety: functions are reentrant; a handle may be used by one thread at a time.
 */
#ifndef SO_CVSHIM_SOCV_H
#define SO_CVSHIM_SOCV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum socv_status {
    SOCV_OK = 0,
    SOCV_EINVAL = -1,   /* bad argument (size, stride, channel count, NULL) */
    SOCV_ENOMEM = -2,
    SOCV_ECV = -3,      /* OpenCV raised an error; see socv_last_error() */
    SOCV_EIO = -4,      /* file could not be read or written */
};

/* A borrowed image: `channels` is 1 (gray/mask) or 3 (BGR). */
struct socv_view {
    uint8_t *data;
    int width, height;
    int stride;         /* bytes per row */
    int channels;
};

struct socv_color {
    uint8_t b, g, r;
};

/* The message of the last error raised on this thread ("" if none). */
const char *socv_last_error(void);

/* ---- Canvas: an owned BGR copy of a frame to draw on and encode (evidence, snapshots). */
struct socv_canvas;

/* Copy a BGR view into a new canvas. NULL on failure. */
struct socv_canvas *socv_canvas_create(const struct socv_view *bgr);
/* Free; accepts NULL. */
void socv_canvas_destroy(struct socv_canvas *c);
/* A view of the canvas pixels (valid until destroy). */
struct socv_view socv_canvas_view(struct socv_canvas *c);

/* Polyline through n points (xy = x0,y0,x1,y1... in pixels). filled: fill instead of stroke. */
enum socv_status socv_canvas_polygon(struct socv_canvas *c, const int *xy, int n, int closed,
                                     struct socv_color color, int thickness, int filled);
/* Translucent fill of a polygon (alpha 0..1 of color over the image). */
enum socv_status socv_canvas_polygon_blend(struct socv_canvas *c, const int *xy, int n,
                                           struct socv_color color, double alpha);
enum socv_status socv_canvas_rect(struct socv_canvas *c, int x, int y, int w, int h,
                                  struct socv_color color, int thickness);
/* Text with a dark outline so it reads on any background; ASCII only. */
enum socv_status socv_canvas_text(struct socv_canvas *c, const char *text, int x, int y,
                                  double scale, struct socv_color color);

/* JPEG encoding is not here: detector/util/jpeg.h (libjpeg-turbo, no libopencv_imgcodecs). */

/* ---- Masks (8-bit, one channel) */

/* Fill a polygon with `value` into a mask view. */
enum socv_status socv_mask_fill_polygon(const struct socv_view *mask, const int *xy, int n,
                                        uint8_t value);

/* In place morphological open (erode then dilate) then close, with a square kernel of
 * `open_size` / `close_size` pixels (1 or less skips that step). */
enum socv_status socv_mask_open_close(const struct socv_view *mask, int open_size,
                                      int close_size);

/*
 * Resize `src` into `dst` (same channel count, sizes from the views) with bilinear
 * interpolation, exactly as cv::dnn::blobFromImage resizes (cv::resize, INTER_LINEAR), so a
 * backend other than OpenCV dnn sees the same network input. Both views are borrowed.
 */
enum socv_status socv_resize(const struct socv_view *src, const struct socv_view *dst);

/* In place Gaussian blur of a gray view; ksize odd. */
enum socv_status socv_gray_blur(const struct socv_view *gray, int ksize);

struct socv_blob {
    int x, y, w, h;     /* bounding box */
    int area;           /* pixels */
    int label;          /* value in `labels` */
};

/*
 * Connected components (8-connectivity) of the non-zero pixels of `mask`. Writes each pixel's
 * label into `labels` (int32, mask->height rows of `labels_stride` elements, 0 = background)
 * when labels != NULL, and up to max_blobs blobs with area >= min_area into `blobs` (in the
 * view's coordinates); *n_blobs gets how many were written.
 */
enum socv_status socv_mask_components(const struct socv_view *mask, int32_t *labels,
                                      int labels_stride, int min_area, struct socv_blob *blobs,
                                      int max_blobs, int *n_blobs);

/* ---- DNN (socv_dnn.cpp): a darknet network through cv::dnn, CPU backend and target. */
struct socv_net;

/* How an image becomes the network's input blob (cv::dnn::blobFromImage, crop = false). */
struct socv_dnn_input {
    int width, height;      /* network input size; the image is resized to it, no letterbox */
    double scale;           /* pixel multiplier, e.g. 1/255 */
    double mean[3];         /* subtracted per channel (in the order after any swap) */
    int swap_rb;            /* non-zero: BGR -> RGB */
};

/*
 * Read a darknet network (cv::dnn::readNetFromDarknet) and select the OpenCV backend on the
 * CPU target. NULL on failure (unreadable or malformed file), message in socv_last_error().
 * The net is used by one thread at a time; different nets may run concurrently.
 */
struct socv_net *socv_net_create_darknet(const char *cfg_path, const char *weights_path);

/* Free; accepts NULL. */
void socv_net_destroy(struct socv_net *net);

/*
 * Run the network on a BGR view (any size: pass a sub-view to run on a region of interest).
 * On success *rows points to *n_rows x *n_cols floats, the outputs of every unconnected layer
 * concatenated in layer order (for darknet region layers: cx, cy, w, h as fractions of the
 * input, objectness, then one score per class). The buffer belongs to the net and stays valid
 * until the next forward or destroy.
 */
enum socv_status socv_net_forward(struct socv_net *net, const struct socv_view *bgr,
                                  const struct socv_dnn_input *input, const float **rows,
                                  int *n_rows, int *n_cols);

/*
 * cv::setNumThreads(): the size of OpenCV's worker pool. PROCESS-WIDE (OpenCV has one pool
 * for every thread and every net), so the last call wins; 0 or less keeps OpenCV's default
 * (all cores).
 */
enum socv_status socv_set_num_threads(int threads);

/* Reading image files (cv::imread) is in socv_imgio.h, a library only tests and tools link. */

#ifdef __cplusplus
}
#endif

#endif
