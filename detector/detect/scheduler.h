/*
 * When the object detector looks, and where: one camera's detection schedule (docs/detection.md,
 * "Detection on demand"). The network looks at regions, the whole analysis frame (region 0) and
 * close-ups around small vehicle zones (regions 1..n_rois); on each detector tick (detect_fps,
 * by media time) it looks at a region only when something there needs it, within a budget of
 * detect_fps looks a second.
 *
 * Two layers. so_scheduler_decide() is the decision alone: from the scheduler's state and what
 * the frame offers (the stationary-age map, the tracker's spots and requests) it says whether
 * this frame is a tick, which regions need a look, which the tick's budget looks at and in which
 * order, and which are deferred; it calls neither the network nor the tracker, so the unit tests
 * drive it with made-up scenes (tests/unit/test_scheduler.c). so_scheduler_frame() is the
 * wiring: it gathers the scene from the tracker and the static model, decides, runs the detector
 * on the chosen regions and advances the tracker.
 *
 * Ownership: the scheduler owns its state only; everything passed in is borrowed for the call.
 * The camera config given to so_scheduler_set_zones() is read during the call, not kept.
 *
 * Threads: not thread-safe; one scheduler per analysis thread (the main thread may call
 * so_scheduler_set_zones() while it holds that camera's analysis lock).
 *
 * Errors: so_scheduler_create() aborts when memory is out (a small allocation); a detector
 * failure in so_scheduler_frame() is logged (with the camera id) and that tick counts as no
 * tick rather than a tick that saw nothing.
 */
#ifndef SO_DETECT_SCHEDULER_H
#define SO_DETECT_SCHEDULER_H

#include <stdbool.h>

#include "config.h"
#include "detector.h"

struct so_frame;
struct so_static_model;
struct so_track;
struct so_tracker;

#define SO_SCHED_MAX_SHOWN 32     /* detections of the last look kept for the console */
#define SO_SCHED_MAX_ROIS 8         /* close-ups, at most (the first vehicle zones that need one) */
#define SO_SCHED_MAX_WATCH 32       /* watched zone surroundings, at most (the first zones) */
#define SO_SCHED_MAX_REGIONS (1 + SO_SCHED_MAX_ROIS)

/* Counters over the scheduler's life (the log line at the end of a camera's analysis). */
struct so_sched_stats {
    long ticks;                     /* detector ticks (at detect_fps) */
    long passes;                    /* of which the network ran (since the last restart) */
    long inferences;                /* network runs (one per region looked at) */
    long waits;                     /* regions that needed it and waited for a later tick */
};

/* What so_scheduler_decide() sees of a frame; all borrowed for the call. */
struct so_sched_scene {
    const float *age;               /* stationary-age map of the planned size (static model) */
    const struct so_track *tracks;  /* what the tracker knows (so_tracker_tracks) */
    int n_tracks;
    const struct so_box *pending;   /* where the tracker asks for a look (so_tracker_pending, */
    int n_pending;                  /* people only when so_scheduler_people() says so) */
    const bool *pending_person;     /* per pending box: a person (NULL: none is) */
};

/* The decision for one frame. */
struct so_sched_plan {
    bool tick;                      /* a detector tick */
    int budget;                     /* looks the tick may spend (0 when not a tick) */
    unsigned need;                  /* regions needing a look: bit 0 whole frame, 1+r close-up r */
    int looks[SO_SCHED_MAX_REGIONS]; /* the regions to look at, in order (longest unlooked first,
                                     * the whole frame first on a tie) */
    int n_looks;                    /* at most budget */
    unsigned deferred;              /* needed but left for the next tick (need minus looks) */
};

/* `id`: the camera id for log lines (borrowed: must outlive the scheduler). `detect_fps`: ticks
 * a second (0: never). `keyframes`: the camera decodes key frames only (`decode: keyframes`).
 * Call so_scheduler_set_zones() and so_scheduler_restart() before the first frame. Never NULL. */
struct so_scheduler *so_scheduler_create(const char *id, double detect_fps, bool keyframes);

/* NULL is accepted. */
void so_scheduler_destroy(struct so_scheduler *s);

/* Plan the close-ups and the watched areas for the camera's zones on a width x height analysis
 * frame (at start, on a new frame size or view, on a zone reload). Bursts and look times are
 * kept by region index. */
void so_scheduler_set_zones(struct so_scheduler *s, const struct so_camera_cfg *cam, int width,
                            int height);

/* A new analysis (new frame size or view): startup passes again, no bursts, every region
 * unlooked. The tick clock and the counters other than passes go on. */
void so_scheduler_restart(struct so_scheduler *s);

/* Does the scheduler ask the tracker for people being established? Not with `decode:
 * keyframes` (zones of slow rules: the rules wait for vehicles, goods and stalls there). */
bool so_scheduler_people(const struct so_scheduler *s);

/* The close-ups planned (so_box in analysis pixels); returns how many. */
int so_scheduler_rois(const struct so_scheduler *s, const struct so_box **out);

/*
 * The decision for the frame at media time `now` (see the file's comment). Updates the tick
 * clock, the bursts, the ticks/passes counters and the regions deferred (so_scheduler_held);
 * the looks themselves are recorded by so_scheduler_looking(). Calls nothing outside the
 * scheduler.
 */
void so_scheduler_decide(struct so_scheduler *s, double now, const struct so_sched_scene *scene,
                         struct so_sched_plan *out);

/* The network is about to look at region r at media time `now` (it counts, even if it fails). */
void so_scheduler_looking(struct so_scheduler *s, int r, double now);

/* so_tracker_held_fn (ud: the scheduler): is box b in a region the last decision deferred (its
 * things are held by the tracker, not missed)? */
bool so_scheduler_held(const struct so_box *b, void *scheduler);

/*
 * One analysed frame: decide, run the detector on the regions chosen, keep what the tracker
 * should follow (no vehicle over moving pixels) and advance the tracker (so_tracker_update).
 * `stopping(opaque)` is asked before each look (a shutdown stops within 2 s); it may be NULL.
 */
void so_scheduler_frame(struct so_scheduler *s, struct so_detector *detector,
                        struct so_tracker *tracker, const struct so_static_model *model,
                        const struct so_frame *f, bool (*stopping)(void *opaque), void *opaque);

/* The detections of the network's last look (at most SO_SCHED_MAX_SHOWN, in the background's
 * frame, before the tracker's filters), its media time in *media_s (-1 before any). For the
 * console; the array is the scheduler's, valid until its next frame. Analysis thread. */
int so_scheduler_last_look(const struct so_scheduler *s, const struct so_detection **dets,
                           double *media_s);

void so_scheduler_get_stats(const struct so_scheduler *s, struct so_sched_stats *out);

#endif
