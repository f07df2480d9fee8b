/*
 * The object detector: a located model (model.h) run by a backend (XNNPACK, or OpenCV dnn
 * through the shim; `enum so_detect_backend`) on a BGR image or a region of it, returning boxes in the image's pixels with class, role and score, after
 * class-aware non-maximum suppression and the caller's filters.
 *
 * Ownership: so_detector_create() borrows the descriptor: it must stay alive (and unchanged)
 * until so_detector_destroy(); detections point into it (class_name). Images are borrowed for
 * the duration of the call only.
 *
 * Threads: one detector is used by one thread at a time (one per analysis thread); different
 * detectors may run concurrently, also when they share one network (so_detector_create_shared:
 * looks then take turns on the network's instances, netpool.h). The `threads` argument of
 * so_detector_create() sizes OpenCV's worker pool, which is PROCESS-WIDE: the last detector
 * created decides for all; with XNNPACK it sizes the detector's own pool (1 = the caller's
 * thread only). so_detector_look_stats() may be called from any thread.
 *
 * Errors: constructors return NULL with a message in the caller's buffer; so_detector_run()
 * returns 0 or a negative errno-style code (-EINVAL bad arguments, -EIO inference failed; the
 * message is then in so_detector_last_error()).
 */
#ifndef SO_DETECT_DETECTOR_H
#define SO_DETECT_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "box.h"
#include "model.h"

/* A borrowed BGR24 image (e.g. a struct so_frame's bgr plane). */
struct so_image {
    const uint8_t *bgr;
    int width, height;
    int stride;         /* bytes per row, >= width * 3 */
};

struct so_detection {
    struct so_box box;          /* in pixels of the whole image, clipped to it */
    int class_id;               /* index into desc->classes (after aliases: train -> truck) */
    const char *class_name;     /* desc->classes[class_id].name; valid while the desc lives */
    enum so_role role;
    float score;                /* class score (objectness x class probability), 0..1 */
};

/*
 * Per-call filters, applied before NMS. Zero-initialised = the model's defaults, no size
 * limits, every role.
 */
struct so_detect_filter {
    double min_score;   /* minimum score; the model's thresholds.score when lower (or 0) */
    int min_size;       /* drop boxes narrower or lower than this many pixels; 0 = none */
    int max_size;       /* drop boxes wider or taller than this many pixels; 0 = none */
    unsigned roles;     /* mask of SO_ROLE_BIT(role) to keep; 0 = every role */
};

struct so_detector;
struct so_netshare;

/* What one detector (one camera) got from its network; cumulative, read with atomics. */
struct so_look_stats {
    uint64_t looks;         /* forward passes (one per so_detector_run on a non-empty region) */
    uint64_t waited;        /* of which had to wait for an instance (other cameras looking) */
    double wait_s;          /* total of those waits, seconds */
    double cpu_s;           /* CPU seconds of the calling thread inside so_detector_run */
};


/*
 * Load the network of a located descriptor (so_model_open / so_model_locate) with the default
 * backend: so_detector_create_backend(desc, SO_DETECT_BACKEND_DEFAULT, ...).
 */
struct so_detector *so_detector_create(const struct so_model_desc *desc, int threads, char *err,
                                       size_t errlen);

/*
 * Load the network with a given backend. `threads` > 0: OpenCV's (process-wide) thread count,
 * or the size of this detector's own XNNPACK thread pool; <= 0 leaves OpenCV's and runs
 * XNNPACK on the caller's thread. When XNNPACK cannot run the model (a layer it lacks) the
 * detector falls back to OpenCV, logs why (warning, `who` = the model name) and
 * so_detector_fallback() says so; any other failure is NULL with a message in err.
 */
struct so_detector *so_detector_create_backend(const struct so_model_desc *desc,
                                               enum so_detect_backend backend, int threads,
                                               char *err, size_t errlen);

/*
 * A detector over the share's network for this model and backend (netshare.h): the weights
 * are loaded by the first detector that needs them and freed with the last; the others only
 * count a reference. Its instances are the share's (one look at a time each); threads = 1 per
 * instance. Errors as so_detector_create_backend(); NULL share is an error.
 */
struct so_detector *so_detector_create_shared(struct so_netshare *share,
                                              const struct so_model_desc *desc,
                                              enum so_detect_backend backend, char *err,
                                              size_t errlen);

/* The detector's look counters. Any thread; NULL gives zeros. */
void so_detector_look_stats(const struct so_detector *det, struct so_look_stats *out);

/* The backend actually running: "opencv" or "xnnpack". */
const char *so_detector_backend(const struct so_detector *det);

/* Why the requested backend was replaced by OpenCV; NULL when it was not. */
const char *so_detector_fallback(const struct so_detector *det);

/* Free (a shared network: one reference less); accepts NULL. */
void so_detector_destroy(struct so_detector *det);

/* The descriptor the detector was created with. */
const struct so_model_desc *so_detector_model(const struct so_detector *det);

/*
 * Detect objects in `img`, or only in `roi` of it when roi != NULL (the region is resized to
 * the network input on its own, so small objects in a crop are found at a better scale); boxes
 * are always in pixels of the whole image. The ROI is clipped to the image; an empty one gives
 * no detections. `filter` may be NULL (defaults). Writes up to `max` detections, best score
 * first, into out and their count into *n (when more were found, the weakest are dropped).
 */
int so_detector_run(struct so_detector *det, const struct so_image *img,
                    const struct so_box *roi, const struct so_detect_filter *filter,
                    struct so_detection *out, int max, int *n);

/* The message of the last failed so_detector_run() on this detector ("" if none). */
const char *so_detector_last_error(const struct so_detector *det);

/*
 * Class-aware non-maximum suppression in place: sorts `d` by score (best first) and removes
 * every box whose IoU with a better box of the same class_id is above `iou`. Returns how many
 * remain (at the front of d). Pure function, exposed for tests and for callers merging the
 * detections of several crops.
 */
int so_detect_nms(struct so_detection *d, int n, double iou);

#endif
