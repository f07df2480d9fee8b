/*
 * One loaded network (a model descriptor run by one backend) shared by several detectors: a
 * small pool of backend instances (an XNNPACK runtime or an OpenCV Net each) handed out one
 * look at a time, in the order the looks were asked for (internal to detector/detect/; the
 * detector is its only caller).
 *
 * Ownership: so_netpool_create() borrows the descriptor (it must outlive the pool); a lease
 * lends one instance until so_netpool_release(); the rows of so_netpool_forward() belong to
 * that instance and are valid only until the lease is released.
 *
 * Threads: every function but create/destroy may be called from any thread at once. A thread
 * holds at most one lease at a time (a second acquire would wait for itself when the pool is
 * full).
 *
 * Errors: create returns NULL with a message in err (the backend's, or "not built in");
 * forward returns 0 or a negative errno with a message in err.
 */
#ifndef SO_DETECT_NETPOOL_H
#define SO_DETECT_NETPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "backend.h"
#include "model.h"
#include "socv.h"

struct so_netpool;

/* An instance lent for one look. */
struct so_netpool_lease {
    int slot;               /* which instance */
    bool waited;            /* the look had to wait for an instance (others were looking) */
    double wait_s;          /* how long, monotonic seconds (0 when it did not wait) */
};

/*
 * Load the network: the first instance now (errors and the XNNPACK -> OpenCV fallback are
 * decided here, as so_detector_create_backend() describes), the others when looks overlap, up
 * to `max_instances` (>= 1). `threads`: per instance, as so_detector_create_backend() says.
 */
struct so_netpool *so_netpool_create(const struct so_model_desc *desc,
                                     enum so_detect_backend backend, int threads,
                                     int max_instances, char *err, size_t errlen);

/* Free every instance; no lease may be outstanding. Accepts NULL. */
void so_netpool_destroy(struct so_netpool *p);

/* "opencv" or "xnnpack": the backend actually running. */
const char *so_netpool_backend(const struct so_netpool *p);

/* Why the requested backend was replaced by OpenCV; NULL when it was not. */
const char *so_netpool_fallback(const struct so_netpool *p);

/* Instances loaded so far (1..max_instances) and looks asked for and not served yet (waiting
 * for an instance). Any thread. */
void so_netpool_counts(struct so_netpool *p, int *instances, int *queued);

/*
 * Wait for an instance, first come first served: a look asked for earlier is always served
 * earlier, so a camera that looks often cannot starve one that looks rarely (each analysis
 * thread has at most one look pending, so the waiting cameras are served round-robin). Creates
 * another instance when none is idle and fewer than max_instances exist (a failure to create
 * one is logged once and the pool stays at its size).
 */
void so_netpool_acquire(struct so_netpool *p, struct so_netpool_lease *lease);

/* Run the network on the leased instance (backend_impl.h, forward). */
int so_netpool_forward(struct so_netpool *p, const struct so_netpool_lease *lease,
                       const struct socv_view *bgr, const struct socv_dnn_input *in,
                       const float **rows, int *n_rows, int *n_cols, char *err, size_t errlen);

/* Give the instance back (the next look in line gets it). */
void so_netpool_release(struct so_netpool *p, const struct so_netpool_lease *lease);

#endif
