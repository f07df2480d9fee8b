/*
 * Object tracker for things at rest: turns the detector's snapshots (about one a second) into
 * resting objects ("spots") with a first-seen time and an identity that survives missed
 * detections, jittery boxes, boxes straddling two parked cars, light changes and brief
 * occlusion by passing traffic; an appearance check (normalised cross-correlation of the box's
 * grey crop against the crop taken once it had settled) tells "the same car" from "another car
 * now parked there". Moving objects only leave short-lived spots that never become present.
 *
 * Ownership: the tracker owns its tracks; pointers from so_tracker_tracks() are valid until the
 * next update or destroy. Not thread-safe: one analysis thread per tracker.
 */
#ifndef SO_TRACK_TRACKER_H
#define SO_TRACK_TRACKER_H

#include <stdbool.h>

#include "detector.h"
#include "frame.h"

#define SO_TRACK_MAX 64

struct so_track {
    int id;                     /* unique per tracker, from 0 */
    enum so_role role;
    char cls[24];               /* latest class name */
    float score;                /* best recent score */
    struct so_box box;          /* latest box, analysis pixels */
    double first_s;             /* media time first seen at this place */
    double rest_s;              /* media time it came to rest (= first_s for a spot) */
    double last_seen_s;         /* last detection or appearance confirmation */
    bool stationary;            /* seen at the same place at least twice */
    bool present;               /* voted for on 4 of the last 10 detector ticks (detected or
                                 * by appearance), or on every tick of a new spot seen twice */
};

struct so_tracker;

/* A tracker for width x height frames (presence and forgetting count in detector ticks, not
 * seconds). NULL if out of memory. */
struct so_tracker *so_tracker_create(int width, int height);
/* Accepts NULL. */
void so_tracker_destroy(struct so_tracker *t);

/*
 * Which spots the detector was not shown on this tick although they needed it (the detector
 * looks at one region a tick; the others wait for the next): `held(box, ud)` returns true for
 * the box of such a spot. NULL: every spot was shown or did not need it.
 */
typedef bool (*so_tracker_held_fn)(const struct so_box *box, void *ud);

/*
 * Advance to `frame`. `dets` are this frame's detections when `detected` is true (the
 * detector runs at its own rate; on other frames pass detected = false and tracks keep their
 * state). Presence and forgetting count in detector ticks. A spot without a vote for which
 * `held` returns true keeps its state on this tick (no miss: nobody looked); `held` may be NULL.
 */
void so_tracker_update(struct so_tracker *t, const struct so_frame *frame,
                       const struct so_detection *dets, int n, bool detected,
                       so_tracker_held_fn held, void *ud);

/*
 * Where does the tracker need the detector on its next tick? While a resting object is being
 * established (voted for, no appearance template yet) or a known one is in doubt (missed on the
 * last tick and its crop no longer matches): appearance alone cannot settle those. People
 * count only while being established, once seen at the same place twice (walkers leave
 * one-vote spots; a person who walks off is no case to follow), and only when `people` is
 * true. Writes the boxes of those objects (at most `max`), and in `is_person` (may be NULL)
 * whether each is a person, and returns how many.
 */
int so_tracker_pending(const struct so_tracker *t, struct so_box *boxes, bool *is_person, int max,
                       bool people);

/* The live tracks; returns how many (at most SO_TRACK_MAX). */
int so_tracker_tracks(const struct so_tracker *t, const struct so_track **out);

/* The camera came back a few pixels off (analysis/view_check.h, so_view_align): move every
 * resting place, its box and its appearance template's box by (dx, dy), kept in the frame. */
void so_tracker_translate(struct so_tracker *t, int dx, int dy);

#endif
