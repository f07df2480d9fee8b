/*
 * Evidence worker: one thread per camera with an `evidence_url` (the NVR's main stream). Every
 * event of that camera passes through it on its way to the outputs, in order (an update never
 * overtakes its opened). For `opened`, `cleared` and `warning` events it grabs one still from
 * the evidence_url (source/grab.h: the first picture of a live stream; for files the picture at
 * the event's media time) and replaces the `confirm` / `after` / `warning` image with a
 * rendering at the still's size (so_event_replace_evidence). When the grab fails or runs past
 * the deadline the event goes out with its analysis-frame evidence and a warning (URL
 * redacted) is logged.
 *
 * Thread-safety: submit from any thread (the camera's analysis thread, or the main thread at a
 * reload); create/stop/destroy from the thread that owns the camera.
 */
#ifndef SO_EVENTS_EVIDENCE_WORKER_H
#define SO_EVENTS_EVIDENCE_WORKER_H

#include "event.h"
#include "outputs.h"

#define SO_EVIDENCE_GRAB_TIMEOUT_S 5.0

struct so_evidence_worker_opts {
    const char *url;            /* the camera's evidence_url (resolved); copied */
    const char *camera_id;      /* for log lines; copied */
    double timeout_s;           /* per grab, from the moment it starts; 0 = the default */
    struct so_outputs *outputs; /* borrowed: must outlive the worker */
};

/* Start the thread. NULL (logged) when it cannot start. */
struct so_evidence_worker *so_evidence_worker_create(const struct so_evidence_worker_opts *o);

/* Queue an event for the outputs; the worker owns `ev` from here in every case. */
void so_evidence_worker_submit(struct so_evidence_worker *w, struct so_event *ev);

/*
 * Stop grabbing: a grab in progress is aborted at once, and every event queued now or later
 * goes to the outputs with its analysis evidence. For SIGINT/SIGTERM and camera restarts.
 * Thread-safe, idempotent.
 */
void so_evidence_worker_stop(struct so_evidence_worker *w);

/* Nothing queued and no grab under way (every event handed to the outputs)? Accepts NULL. */
bool so_evidence_worker_idle(struct so_evidence_worker *w);

/*
 * Hand everything queued to the outputs (with grabs unless stopped: at the end of a file input
 * the last events still get their still), join the thread and free. Accepts NULL.
 */
void so_evidence_worker_destroy(struct so_evidence_worker *w);

#endif
