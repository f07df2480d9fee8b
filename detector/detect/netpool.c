/*
 * Why this file exists: every camera used to load its own network (weights parsed, folded,
 * packed, and the activations of a whole forward pass: ~25 MiB for yolo-fastest-1.1-xl in
 * XNNPACK, ~20 MiB in OpenCV dnn), although a camera looks at most detect_fps times a second
 * and two cores can only run two looks at once (issue 15). Here one network is loaded once and
 * its instances are lent to the cameras one look at a time.
 *
 * Why a pool of instances and not one instance shared: neither backend is re-entrant. An
 * XNNPACK runtime owns its activation buffers and the Debian 12 XNNPACK (2022-02) has no
 * weights cache, so two runtimes cannot share packed weights; an OpenCV Net keeps per-forward
 * state. So an instance serves one look at a time, and the pool grows to as many instances as
 * looks actually overlap, at most max_instances (the daemon gives the CPU count: more
 * simultaneous looks than cores would only share the cores).
 *
 * Why the looks run on the caller's thread rather than on worker threads: a look is already
 * the analysis thread's work, synchronous, with the frame at hand; handing it to another thread
 * would add two wake-ups per look and a copy of the frame for nothing, since the instance, not
 * the thread, is the scarce thing.
 *
 * Fairness: tickets. Each acquire takes the next ticket; only the holder of the lowest ticket
 * not yet served may take an idle instance (or create one). Looks are served strictly in the
 * order they were asked for, and since an analysis thread asks for one look at a time, a camera
 * whose scheduler looks at several regions per tick queues behind every camera already waiting
 * after each of them: cameras with looks pending are served round-robin, whatever their rate.
 * No look is ever refused: --fast runs stay deterministic (the same frames are looked at, the
 * same detections come back, whichever instance runs it), and on a live camera a look that
 * waits makes its analysis slower, which the source absorbs by dropping frames (latest wins)
 * and counting them.
 *
 * Instances give the same rows to the bit: the same weights through the same code on one
 * thread each (tests/unit/test_netpool.c checks it across instances and threads).
 */
#include "netpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend_impl.h"
#include "log.h"
#include "timeutil.h"
#include "xalloc.h"

#define MAX_INSTANCES 64

struct instance {
    void *state;        /* the backend's; NULL while being created */
    bool busy;
};

struct so_netpool {
    const struct so_model_desc *desc;
    const struct so_backend_impl *impl;
    char *fallback;     /* why not the backend asked for; NULL when it is */
    int threads;
    int max;            /* instances at most (lowered when one cannot be created) */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct instance inst[MAX_INSTANCES];
    int n;              /* slots in use, instances being created included */
    uint64_t next_ticket, serving;
};

/* The backend to run and its first instance; *fallback set when XNNPACK gave way to OpenCV. */
static void *load_first(const struct so_model_desc *desc, enum so_detect_backend backend,
                        int threads, const struct so_backend_impl **impl, char **fallback,
                        char *err, size_t errlen)
{
    if (backend == SO_DETECT_BACKEND_DEFAULT) {
        backend = so_detect_backend_default();
    }
    *impl = &so_backend_opencv;
    *fallback = NULL;
    int code = 0;
#ifdef SO_HAVE_XNNPACK
    if (backend == SO_DETECT_BACKEND_XNNPACK) {
        char why[512] = "";
        void *net = so_backend_xnnpack.create(desc, threads, &code, why, sizeof(why));
        if (net) {
            *impl = &so_backend_xnnpack;
            return net;
        }
        if (code != -ENOTSUP) {
            snprintf(err, errlen, "model %s: xnnpack: %s", desc->name, why);
            return NULL;
        }
        *fallback = so_xprintf("xnnpack cannot run it (%s): using opencv", why);
        so_warn(desc->name, "%s", *fallback);
    }
#endif
    void *net = (*impl)->create(desc, threads, &code, err, errlen);
    if (!net) {
        free(*fallback);
        *fallback = NULL;
    }
    return net;
}

struct so_netpool *so_netpool_create(const struct so_model_desc *desc,
                                     enum so_detect_backend backend, int threads,
                                     int max_instances, char *err, size_t errlen)
{
    if (!so_detect_backend_available(backend)) {
        snprintf(err, errlen, "backend %s: not built in (meson found no XNNPACK)",
                 so_detect_backend_name(backend) ? so_detect_backend_name(backend) : "?");
        return NULL;
    }
    const struct so_backend_impl *impl;
    char *fallback;
    void *first = load_first(desc, backend, threads, &impl, &fallback, err, errlen);
    if (!first) {
        return NULL;
    }
    struct so_netpool *p = so_xcalloc(1, sizeof(*p));
    p->desc = desc;
    p->impl = impl;
    p->fallback = fallback;
    p->threads = threads;
    p->max = max_instances < 1 ? 1 : max_instances > MAX_INSTANCES ? MAX_INSTANCES
                                                                   : max_instances;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->inst[0].state = first;
    p->n = 1;
    return p;
}

void so_netpool_destroy(struct so_netpool *p)
{
    if (!p) {
        return;
    }
    for (int i = 0; i < p->n; i++) {
        p->impl->destroy(p->inst[i].state);
    }
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->fallback);
    free(p);
}

const char *so_netpool_backend(const struct so_netpool *p)
{
    return p ? p->impl->name : NULL;
}

const char *so_netpool_fallback(const struct so_netpool *p)
{
    return p ? p->fallback : NULL;
}

void so_netpool_counts(struct so_netpool *p, int *instances, int *queued)
{
    pthread_mutex_lock(&p->lock);
    *instances = p->n;
    *queued = (int)(p->next_ticket - p->serving);
    pthread_mutex_unlock(&p->lock);
}

/* One more instance into slot `slot` (reserved by the caller, lock not held). */
static void grow(struct so_netpool *p, int slot)
{
    char err[512] = "";
    int code = 0;
    void *state = p->impl->create(p->desc, p->threads, &code, err, sizeof(err));
    pthread_mutex_lock(&p->lock);
    if (state) {
        p->inst[slot].state = state;
        p->inst[slot].busy = true;
    } else {
        /* the slot is the last one (slots are only added at the end, under the lock, and
         * this one is not served yet): give it back and stop growing */
        so_warn(p->desc->name, "cannot load another instance of the network (%s): %d looks at "
                "a time from now on", err, slot);
        p->n = slot;
        p->max = slot;
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
}

void so_netpool_acquire(struct so_netpool *p, struct so_netpool_lease *lease)
{
    double t0 = so_time_mono();
    *lease = (struct so_netpool_lease){.slot = -1};
    pthread_mutex_lock(&p->lock);
    uint64_t ticket = p->next_ticket++;
    for (;;) {
        if (ticket == p->serving) {
            for (int i = 0; i < p->n && lease->slot < 0; i++) {
                if (p->inst[i].state && !p->inst[i].busy) {
                    p->inst[i].busy = true;
                    lease->slot = i;
                }
            }
            if (lease->slot >= 0) {
                break;
            }
            if (p->n < p->max) {
                int slot = p->n++;
                pthread_mutex_unlock(&p->lock);
                grow(p, slot);      /* outside the lock: loading takes milliseconds */
                pthread_mutex_lock(&p->lock);
                if (p->inst[slot].state && p->n > slot) {
                    lease->slot = slot;
                    break;
                }
                continue;           /* could not grow: wait for an idle one */
            }
        }
        lease->waited = true;
        pthread_cond_wait(&p->cond, &p->lock);
    }
    p->serving++;
    pthread_cond_broadcast(&p->cond);   /* the next ticket may find another idle instance */
    pthread_mutex_unlock(&p->lock);
    if (lease->waited) {
        lease->wait_s = so_time_mono() - t0;
    }
}

int so_netpool_forward(struct so_netpool *p, const struct so_netpool_lease *lease,
                       const struct socv_view *bgr, const struct socv_dnn_input *in,
                       const float **rows, int *n_rows, int *n_cols, char *err, size_t errlen)
{
    return p->impl->forward(p->inst[lease->slot].state, bgr, in, rows, n_rows, n_cols, err,
                            errlen);
}

void so_netpool_release(struct so_netpool *p, const struct so_netpool_lease *lease)
{
    pthread_mutex_lock(&p->lock);
    p->inst[lease->slot].busy = false;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}
