/*
 * Why this file exists: a grab from the NVR's main stream takes a connection, a handshake and
 * a keyframe (hundreds of milliseconds, seconds when the NVR is slow), and the analysis thread
 * must never wait on the network. So the camera's events take a detour through this thread,
 * which grabs the still and then hands the event to the outputs.
 *
 * Design:
 * - All the camera's events come here, not only the ones that get a still, so the per-camera
 *   order of the outputs (and of `seq`) is the order the rules reported them in.
 * - One grab per opened / cleared / warning event, each with its own connection and a deadline
 *   (SO_EVIDENCE_GRAB_TIMEOUT_S from when it starts): an event waits at most that long, and
 *   the events queued behind it too. Events are rare (minutes apart per zone), so the queue is
 *   an unbounded list; a burst (a reload clearing many zones) just waits its turn.
 * - Stop (SIGTERM, restart) is a flag that the grab's interrupt callback watches: the grab in
 *   progress returns within FFmpeg's polling interval and every event left is submitted with
 *   its analysis evidence, before the camera (and later the outputs) go away.
 *
 * Lock order: only w->lock; the outputs' queue lock is taken without it held.
 */
#define _POSIX_C_SOURCE 200809L
#include "evidence_worker.h"

#include <libavutil/error.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "grab.h"
#include "log.h"
#include "timeutil.h"
#include "xalloc.h"

struct node {
    struct so_event *ev;
    struct node *next;
};

struct so_evidence_worker {
    char *url, *safe_url, *camera_id;
    double timeout_s;
    struct so_outputs *outputs;
    atomic_bool stop;
    pthread_t thread;

    pthread_mutex_t lock;   /* guards the queue and closing */
    pthread_cond_t cond;
    struct node *head, *tail;
    bool closing;           /* destroy: leave once the queue is empty */
    bool busy;              /* an event is out of the queue, being grabbed for */
};

/* Replace the event's confirm (opened) / after (cleared) / warning (warning) / verification
 * image with one from the main stream (a verification without a still, result unknown, gets
 * none). */
static void grab_for(struct so_evidence_worker *w, struct so_event *ev)
{
    const char *role = strcmp(ev->state, "opened") == 0    ? "confirm"
                       : strcmp(ev->state, "cleared") == 0 ? "after"
                       : strcmp(ev->state, "warning") == 0 ? "warning"
                       : strcmp(ev->state, "verification") == 0 && ev->n_evidence ? "verification"
                                                                                  : NULL;
    if (!role || atomic_load(&w->stop)) {
        return;
    }
    double t0 = so_time_mono();
    struct so_grab_opts go = {.url = w->url, .camera_id = w->camera_id, .media_s = ev->media_s,
                              .deadline_mono = t0 + w->timeout_s, .stop = &w->stop};
    struct so_frame *still = NULL;
    int r = so_grab_still(&go, &still);
    if (r == AVERROR_EXIT) {
        return;     /* stopping: no warning, the analysis image goes out */
    }
    if (r == 0) {
        r = so_event_replace_evidence(ev, role, still);
        if (r == 0) {
            so_debug(w->camera_id, "%s image of %s/%s from the evidence_url: %dx%d at %.2f s "
                     "in %.0f ms", role, ev->zone_id, ev->state, still->width, still->height,
                     still->media_s, (so_time_mono() - t0) * 1000);
        }
        so_frame_unref(still);
    }
    if (r < 0) {
        so_warn(w->camera_id, "no %s image from evidence_url %s for %s %s/%s (%s after %.1f s): "
                "sending the analysis image", role, w->safe_url, ev->kind, ev->zone_id,
                ev->state, av_err2str(r), so_time_mono() - t0);
    }
}

static void *worker_main(void *arg)
{
    struct so_evidence_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->closing) {
            pthread_cond_wait(&w->cond, &w->lock);
        }
        struct node *n = w->head;
        if (!n) {
            break;      /* closing and nothing left */
        }
        w->head = n->next;
        if (!w->head) {
            w->tail = NULL;
        }
        w->busy = true;
        pthread_mutex_unlock(&w->lock);
        grab_for(w, n->ev);
        so_outputs_submit(w->outputs, n->ev);
        free(n);
        pthread_mutex_lock(&w->lock);
        w->busy = false;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void worker_free(struct so_evidence_worker *w)
{
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w->safe_url);
    free(w->camera_id);
    free(w->url);
    free(w);
}

struct so_evidence_worker *so_evidence_worker_create(const struct so_evidence_worker_opts *o)
{
    struct so_evidence_worker *w = so_xcalloc(1, sizeof(*w));
    w->url = so_xstrdup(o->url);
    w->camera_id = so_xstrdup(o->camera_id);
    size_t n = strlen(o->url) + 8;
    w->safe_url = so_xcalloc(1, n);
    so_log_redact_url(o->url, w->safe_url, n);
    w->timeout_s = o->timeout_s > 0 ? o->timeout_s : SO_EVIDENCE_GRAB_TIMEOUT_S;
    w->outputs = o->outputs;
    atomic_init(&w->stop, false);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        so_err(w->camera_id, "cannot start the evidence worker");
        worker_free(w);
        return NULL;
    }
    so_info(w->camera_id, "evidence images from %s (one still per opened/cleared event)",
            w->safe_url);
    return w;
}

void so_evidence_worker_submit(struct so_evidence_worker *w, struct so_event *ev)
{
    struct node *n = so_xcalloc(1, sizeof(*n));
    n->ev = ev;
    pthread_mutex_lock(&w->lock);
    if (w->tail) {
        w->tail->next = n;
    } else {
        w->head = n;
    }
    w->tail = n;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

bool so_evidence_worker_idle(struct so_evidence_worker *w)
{
    if (!w) {
        return true;
    }
    pthread_mutex_lock(&w->lock);
    bool idle = !w->head && !w->busy;
    pthread_mutex_unlock(&w->lock);
    return idle;
}

void so_evidence_worker_stop(struct so_evidence_worker *w)
{
    if (w) {
        atomic_store(&w->stop, true);
    }
}

void so_evidence_worker_destroy(struct so_evidence_worker *w)
{
    if (!w) {
        return;
    }
    pthread_mutex_lock(&w->lock);
    w->closing = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    worker_free(w);
}
