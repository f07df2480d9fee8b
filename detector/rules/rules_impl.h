/*
 * Inside the rules module: the state so_rules keeps per camera and per zone, shared by its
 * files. Not a public header: only the .c files of rules/ include it.
 *
 *   rules.c          so_rules_create/destroy/process/set_camera, the zone states, the reports
 *                    and the recent-frame ring ("rest" evidence)
 *   rest_mask.c      the mask of what is at rest, its blobs, the light-artefact removal
 *   coverage.c       per-zone kinds (sidewalk_occupied, stall_encroachment): coverage, cues,
 *                    people
 *   vehicles.c       per-vehicle kinds (illegal_parking, nonmotor_parking) on the tracker's
 *                    tracks, and the episode step every followed vehicle shares
 *   vehicle_blobs.c  per-vehicle kinds without a model: static blobs followed frame to frame
 *
 * Ownership: so_rules owns its zone states; a zone state owns its mask and the frame
 * references of its episodes. Not thread-safe (one analysis thread per so_rules).
 */
#ifndef SO_RULES_RULES_IMPL_H
#define SO_RULES_RULES_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "appearance.h"
#include "presence.h"
#include "rules.h"
#include "socv.h"
#include "status.h"
#include "zone_mask.h"

#define PRESENT_AGE_S 1.5       /* a pixel counts as occupied after resting this long */
#define MAX_BLOBS 128
#define RING_FRAMES 10          /* seconds of recent frames kept for "rest" evidence */
#define MAX_TRACKS 16           /* vehicles followed per zone */
#define ORPHAN_S 10.0           /* a lost vehicle found again within this keeps its episode */
#define BLOB_CONFIRM_S 5.0      /* a blob must be followed this long before it can open */
#define BLOB_FORGET_S 3.0       /* an unconfirmed blob unseen this long is dropped */
#define BEFORE_S 3.0            /* the empty place: a frame this long before it came to rest */
#define ZONE_PLACES 4           /* places a zone episode watches for its own clearing */

/* The episode parameters of a zone (every rule steps its episodes with these). */
static inline struct so_episode_params rules_episode_params(const struct so_zone_cfg *zc)
{
    return (struct so_episode_params){zc->dwell_s, zc->report_interval_s, zc->clear_s,
                                      zc->warn_s};
}

#define REASON_LEFT "left"      /* reason of a cleared report: what the rule saw is gone */
#define REASON_ZONE_REMOVED "zone_removed"  /* reason: the zone went away on reload */
#define REASON_VIEW_CHANGED "view_changed"  /* reason: the camera's view was re-learnt */
#define REASON_DISMISSED "dismissed"        /* reason: the platform dismissed it (commands.c) */
#define REASON_PERMITTED "permitted"        /* reason: a permit window began (commands.c) */
#define CLASS_UNCLASSIFIED "unclassified"   /* an object at rest the network did not label */

/* A vehicle a zone follows (a tracker track, or a static blob without a model) and its
 * episode. */
struct track {
    bool used;
    int id;
    int box[4];
    double start_est;
    double first_seen_s;
    double last_seen_s;
    bool seen;                  /* matched in the current frame */
    char cls[24];               /* "object" while class-agnostic; "unclassified": a static
                                 * blob of a vehicle's size the network did not label */
    double score;
    bool blob;                  /* followed as a static blob (no model, or unlabelled) */
    struct so_episode ep;
    struct so_frame *rest;
    struct so_place place;      /* its look when it was confirmed: is it still there? */
    struct so_frame *before;    /* the place before it came to rest (NULL: not seen empty) */
};

/* Where a zone episode's things stood, watched until each is seen gone (coverage.c). */
struct zone_place {
    struct so_place place;
    double absent_since;        /* media time it was first judged absent in a row; -1: not */
};

struct zone_state {
    const struct so_zone_cfg *cfg;
    struct so_zone_mask *zm;
    struct so_episode ep;       /* per-zone kinds */
    struct so_frame *rest;
    struct so_frame *before;    /* per-zone kinds: the zone before its candidate came to rest */
    struct zone_place places[ZONE_PLACES];  /* ... and, once open, where its things stand */
    int n_places;
    double gone_s, forgot_s;    /* the last place forgotten: seen gone since, forgotten at */
    struct track tracks[MAX_TRACKS];
};

/* What a command silences in a zone (commands.c): a dismissed thing (its place and look) or,
 * `permit`, the whole zone for a window. */
struct gate {
    char zone_id[64];
    bool permit;
    double from_wall, until_wall;
    struct so_place place;      /* dismissed: where it stood, its look */
};

struct so_rules {
    const struct so_camera_cfg *cam;
    int w, h;
    struct zone_state *zones;
    size_t n_zones;
    uint8_t *mask;
    uint8_t *ghost;
    int32_t *labels;
    float *buf;
    struct socv_blob blobs[MAX_BLOBS];
    int n_blobs;
    int next_track;
    so_report_fn report;
    void *opaque;
    struct so_frame_compact ring[RING_FRAMES]; /* one recent frame a second, for "rest"
                                                * evidence and the empty place before it */
    int ring_head;
    double ring_next_s;
    struct so_frame *last;              /* the last frame processed ("after" image on reload) */
    struct so_static_model *model;      /* this frame's, for the place checks */
    float look[SO_PLACE_SCRATCH];       /* scratch of the place checks */
    struct so_rules_status status;      /* what this frame decided (status.c) */
    struct gate gates[SO_RULES_GATES_MAX];
    int n_gates;
};

/* rules.c */

/* The frame closest after media time `t` among the last RING_FRAMES seconds, else `fallback`.
 * A new reference (a frame rebuilt from the ring's compact copy, or fallback's). */
struct so_frame *rules_rest_frame(struct so_rules *r, double t, struct so_frame *fallback);

/* The latest recent frame at or before media time `t` (the place before something came to
 * rest there), or NULL. A new reference (rebuilt from the ring's compact copy). */
struct so_frame *rules_frame_before(struct so_rules *r, double t);

/* Report `action` (nothing for SO_EPISODE_NONE) of episode `ep` in zone `z`. `reason` is the
 * reason of a cleared or warning_cleared report (REASON_LEFT, REASON_ZONE_REMOVED), ignored for
 * the others. */
void rules_emit(struct so_rules *r, struct zone_state *z, const struct so_episode *ep,
                enum so_episode_action action, const char *reason, double occupancy,
                const struct so_object *objs, int n_objs, struct so_frame *rest,
                struct so_frame *now);

/* Wall-clock time of media time `media`, from frame f's pair of clocks. */
double rules_wall_at(const struct so_frame *f, double media);

/* Learn box b (grown by half its size) as the static model's background at once: the thing
 * there was seen gone. */
void rules_forget_box(struct so_rules *r, struct so_box b);

/* Is the thing in box b in zone z by the share of its ground footprint (`followed`: with the
 * lower share of a vehicle already followed)? */
bool rules_grounded(const struct zone_state *z, const struct so_box *b, bool followed);

/* End every open episode of zone z now, `cleared` with `reason`, "after" image `frame`; a
 * per-zone kind starts afresh (nothing seen). */
void rules_close_zone(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
                      const char *reason);

/* commands.c */

/* Start of a frame: gates past their end go; a permit window that begins ends the zone's open
 * episodes ("permitted"). */
void rules_gates_step(struct so_rules *r, struct so_frame *frame);

/* May zone z open an episode for the thing at `box` (NULL: the zone's occupation) now? False
 * in a permit window, or when a dismissed thing still stands there. */
bool rules_gate_allows(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
                       const struct so_box *box);

/* Release the gates' looks. */
void rules_gates_finish(struct so_rules *r);

/* rest_mask.c */

/* Build r->mask (what is at rest, cleaned) and r->blobs (its components, largest first, light
 * artefacts removed and absorbed into the model's background) for this frame. */
void rules_rest_mask(struct so_rules *r, struct so_static_model *model, double now);

/* Age (seconds) that 75% of a blob's pixels have reached: when most of it came to rest. */
double rules_blob_rest_age(struct so_rules *r, const struct socv_blob *b, const float *age);

/* coverage.c */

void rules_zone_coverage(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
                         const float *age, const struct so_track *tracks, int n_tracks);

/* Release a zone's places and its "before" frame. */
void rules_zone_places_drop(struct zone_state *z);

/* The track that best explains a static blob (most of the blob in its box), or NULL. */
const struct so_track *rules_blob_track(const struct so_track *tracks, int n_tracks,
                                        const struct socv_blob *bl);

/* vehicles.c */

/* Mark the slots of this zone's vehicle tracks seen (following new ones). Does not step. */
void rules_vehicles_tracked(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
                            const struct so_track *tracks, int n_tracks);

/* Advance the episode of every vehicle zone z follows, on what this frame saw of it (its
 * place judged when nothing followed it this frame). */
void rules_vehicles_step(struct so_rules *r, struct zone_state *z, struct so_frame *frame);

/* Is a followed vehicle still at its place on `frame`? Its place judged on its own pixels,
 * apart from what came to rest there after it (presence.h, so_place_judge_apart). */
enum so_presence rules_vehicle_judge(struct so_rules *r, const struct track *tr,
                                     const struct so_frame *frame);

/* Forget a followed vehicle: release its frame and look, mark the slot unused. */
void rules_track_reset(struct track *tr);

/* Mark slots seen by a static blob (and follow new vehicle-sized blobs in the zone). With a
 * model (`tracks` not NULL) only blobs no track explains count, as unclassified vehicles.
 * Does not step the episodes. */
void rules_vehicles_blob_marks(struct so_rules *r, struct zone_state *z,
                               struct so_frame *frame, const float *age,
                               const struct so_track *tracks, int n_tracks);

/* The object of a vehicle's report: its class, score, track id and box. */
struct so_object rules_track_object(const struct track *tr);

/* vehicle_blobs.c: rules_vehicles_blob_marks above */

/* status.c: what the rules decided, for the console (status.h). One call where a rule decides;
 * none of them changes a decision. */

/* A new frame: every zone's status emptied, its schedule state set. */
void rules_status_begin(struct so_rules *r, struct so_frame *frame);

/* A per-zone kind's occupancy this frame, and the things at rest in it. */
void rules_status_coverage(struct so_rules *r, struct zone_state *z, double occupancy,
                           const struct so_track *tracks, int n_tracks);

/* A tracker track a vehicle zone did not take, and why (SO_WHY_COUNTS: it did; recorded when
 * its episode steps). Only tracks standing on the zone are listed. */
void rules_status_track(struct so_rules *r, struct zone_state *z, const struct so_track *tk,
                        enum so_status_why why);

/* The same for a track of the wrong role or filtered out by the zone's keys: the reason is
 * worked out here. */
void rules_status_rejected(struct so_rules *r, struct zone_state *z, const struct so_track *tk);

/* A static blob a vehicle zone did not follow (listed when its ground point is in the zone). */
void rules_status_blob(struct so_rules *r, struct zone_state *z, const struct socv_blob *bl,
                       enum so_status_why why);

/* A vehicle the zone follows, as its episode stepped this frame (`silenced`: by a dismissal
 * or a permit window, commands.c). */
void rules_status_vehicle(struct so_rules *r, struct zone_state *z, const struct track *tr,
                          bool enforced, bool followed, bool silenced);

#endif
