/*
 * Live view of one camera for operators: what the analysis thread publishes after each frame
 * so that the HTTP server (another thread) can answer /metrics, /cameras/<id>/snapshot.jpg and
 * /cameras/<id>/frame.jpg without touching the analysis state.
 *
 * Two kinds of data, two kinds of synchronisation:
 * - counters (episodes, latency histogram) are atomics, written by the analysis thread only;
 * - the latest frame (a reference, never a copy), the track boxes, a stationary-pixel mask and
 *   the fps figures are published together under one mutex, held only for pointer swaps and
 *   small copies (never while encoding a JPEG).
 *
 * Embedded in the per-camera state: so_live_init() / so_live_finish(). Writers: one analysis
 * thread. Readers: any thread, while the struct lives.
 */
#ifndef SO_HTTP_LIVE_H
#define SO_HTTP_LIVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "episode.h"
#include "event.h"
#include "frame.h"
#include "static_model.h"
#include "status.h"
#include "detector.h"
#include "tracker.h"

#define SO_LIVE_MAX_BOXES 32
#define SO_LIVE_N_BUCKETS 12            /* latency histogram upper bounds, +Inf excluded */
#define SO_LIVE_STATIC_AGE_S 2.0        /* pixels at rest this long are "static" on snapshots */

/* Upper bounds (seconds) of the analysis latency histogram buckets. */
extern const double so_live_buckets[SO_LIVE_N_BUCKETS];

#define SO_LIVE_MAX_EPISODES 16        /* episodes whose evidence files a camera remembers */

struct so_live_box {
    int x, y, w, h;
    int track;
    bool stationary;
    char cls[24];                   /* the network's class of the track */
    float score;
    bool last_look;                 /* the network saw it on its last look (not held) */
};

/* A detection of the network's last look, as the console draws it. */
struct so_live_det {
    int x, y, w, h;
    char cls[24];
    float score;
};

/* The evidence files of an episode's latest report (events/event.h), for the camera page. */
struct so_live_episode {
    char episode[33];
    char zone[64];
    char state[16];                 /* opened, update, cleared, warning, warning_cleared,
                                     * verification */
    int n_files;
    char roles[SO_EVENT_MAX_EVIDENCE][16];
    char files[SO_EVENT_MAX_EVIDENCE][96];    /* names under the evidence folder */
};

struct so_live {
    /* atomics: analysis thread writes, anyone reads */
    atomic_uint_fast64_t episodes_opened, episodes_cleared;
    atomic_int episodes_open;
    /* warnings (warn_s): issued, whose case opened, cleared with no case */
    atomic_uint_fast64_t warnings_issued, warnings_opened, warnings_cleared;
    atomic_uint_fast64_t latency_le[SO_LIVE_N_BUCKETS + 1];    /* per bucket, last = +Inf */
    atomic_uint_fast64_t latency_count, latency_sum_ns, latency_last_ns;

    /* under `lock` */
    pthread_mutex_t lock;
    struct so_frame *frame;         /* latest analysed frame (a reference), NULL before one */
    struct so_live_box boxes[SO_LIVE_MAX_BOXES];
    int n_boxes;
    struct so_live_det dets[SO_LIVE_MAX_BOXES];     /* the network's last look */
    int n_dets;
    double dets_media_s;            /* its media time, -1 before one */
    uint8_t *static_mask;           /* width*height of `frame`, 255 = static; may be NULL */
    int mask_w, mask_h;
    double fps_decoded, fps_analysed;
    double rate_mono;               /* monotonic time the fps figures were computed */
    struct so_rules_status *status; /* the rules' decisions on the last frame, or NULL */
    int health;                     /* enum so_health as set by so_live_set_health, -1 before */
    double health_since;            /* wall time it took that value */
    char health_detail[160];
    struct so_live_episode episodes[SO_LIVE_MAX_EPISODES];  /* a ring, by report */
    int n_episodes, episodes_head;

    /* analysis-thread only: fps window and mask refresh */
    double win_start;
    uint64_t win_decoded, win_analysed, analysed;
    double next_mask_media;
};

void so_live_init(struct so_live *l);
/* Drops the frame reference and frees the mask. Accepts NULL. */
void so_live_finish(struct so_live *l);

/* An episode report went out (counts OPENED, CLEARED_NOW, WARNING, WARNING_CLEARED, and an
 * OPENED of a `warned` episode as a warning that became a case). Analysis thread. */
void so_live_count(struct so_live *l, enum so_episode_action action, bool warned);

/*
 * After analysing `f`: take a reference to it (the previous one is dropped), record the
 * latency, the open-episode count and the tracks (NULL/0 without a detector), refresh the
 * static mask from `model` about once a second (NULL: none) and the fps figures from the
 * source's cumulative `frames_decoded`. Analysis thread.
 */
void so_live_publish(struct so_live *l, struct so_frame *f, double analysis_s, int episodes_open,
                     const struct so_track *tracks, int n_tracks,
                     const struct so_static_model *model, uint64_t frames_decoded);

/* The detections of the network's last look (boxes in analysis pixels, class names copied) at
 * media time `media_s` (< 0: none yet). Analysis thread. */
void so_live_publish_detections(struct so_live *l, const struct so_detection *dets, int n,
                                double media_s);

/* The camera's health changed or was repeated (any thread): `since` moves only on a change. */
void so_live_set_health(struct so_live *l, int health, const char *detail);

/* After so_live_publish: the rules' decisions on that frame (copied; NULL: none, e.g. before
 * the rules exist), `suspended` when the frame was not analysed (camera moved / tampered).
 * Analysis thread. */
void so_live_publish_status(struct so_live *l, const struct so_rules_status *s, bool suspended);

/* An event went out for an episode: remember its evidence file names (the latest report of
 * each of the last SO_LIVE_MAX_EPISODES episodes). Analysis thread (the report callback). */
void so_live_episode(struct so_live *l, const struct so_event *ev);

/* What the console pages show besides the frame: a copy taken under the lock. `status` is
 * malloc()ed (or NULL); release with so_live_console_finish(). Any thread. */
struct so_live_console {
    struct so_rules_status *status;
    int health;
    double health_since;
    char health_detail[160];
    struct so_live_episode episodes[SO_LIVE_MAX_EPISODES];
    int n_episodes;                 /* newest first */
};
void so_live_get_console(struct so_live *l, struct so_live_console *out);
void so_live_console_finish(struct so_live_console *c);

/* A consistent copy for readers. `frame` is a new reference (or NULL); the mask is a
 * malloc()ed copy (or NULL). Release with so_live_view_finish(). Any thread. */
struct so_live_view {
    struct so_frame *frame;
    struct so_live_box boxes[SO_LIVE_MAX_BOXES];
    int n_boxes;
    struct so_live_det dets[SO_LIVE_MAX_BOXES];
    int n_dets;
    double dets_media_s;            /* -1: the network has not looked yet (or no network) */
    uint8_t *static_mask;
    int mask_w, mask_h;
    double fps_decoded, fps_analysed;   /* 0 when no frame was analysed for 3 s */
};
void so_live_get(struct so_live *l, bool with_frame, struct so_live_view *out);
void so_live_view_finish(struct so_live_view *v);

#endif
