/*
 * Zone rules for one camera: turn the static-age map, and the object tracker's tracks when a
 * model runs, into episodes per zone kind.
 *
 * - sidewalk_occupied, stall_encroachment: one episode per zone; the zone is occupied while
 *   static pixels cover at least min_occupancy of it; the episode starts when that share had
 *   come to rest. With a model, people at rest do not count, stall cues (table, umbrella) at
 *   rest count from when they came to rest, and the objects reported carry the detection's class.
 * - illegal_parking, nonmotor_parking: one episode per vehicle whose ground point (bottom-centre)
 *   is in the zone: with a model, per stationary track of the zone's role (vehicle, non-motor)
 *   that passes the zone's object filters; without one, per static blob of vehicle size and shape
 *   (class "object").
 *
 * With a zone's warn_s, a candidate at rest that long is reported first as a warning (and a
 * warning_cleared if it goes before it opens): episode.h says when.
 *
 * Reports go out through a callback, synchronously, on the analysis thread; frames in a
 * report are borrowed for the duration of the call (take a reference to keep one).
 * Not thread-safe: one analysis thread per so_rules.
 */
#ifndef SO_RULES_RULES_H
#define SO_RULES_RULES_H

#include <stdbool.h>

#include "box.h"
#include "config.h"
#include "episode.h"
#include "frame.h"
#include "static_model.h"
#include "tracker.h"

#define SO_REPORT_MAX_OBJECTS 8

struct so_object {
    char cls[24];           /* detection class; "object" without a model */
    double score;           /* 0..1 */
    int box[4];             /* x, y, w, h in analysis pixels */
    int track;              /* track id, -1 if none */
};

struct so_report {
    enum so_episode_action action;      /* any but NONE (episode.h) */
    const char *reason;                 /* cleared, warning_cleared: "left", "zone_removed",
                                         * "view_changed", "dismissed", "permitted"; else NULL */
    const struct so_camera_cfg *camera;
    const struct so_zone_cfg *zone;
    const struct so_episode *episode;
    int zone_xy_n;                      /* zone polygon in analysis pixels, for drawing */
    const int *zone_xy;
    double occupancy;                   /* per-zone kinds: share of the zone; else -1 */
    struct so_object objects[SO_REPORT_MAX_OBJECTS];
    int n_objects;
    struct so_frame *rest;              /* frame when it came to rest (may be NULL) */
    struct so_frame *now;               /* current frame (confirm / after image); NULL only
                                         * for a verification without a frame */
    /* SO_EPISODE_VERIFIED: the command, "present" | "gone" | "unknown", and why */
    const char *command_id, *verified, *verify_reason;
    double wall_s, media_s;             /* when `now` is NULL: the moment of the report */
};

typedef void (*so_report_fn)(void *opaque, const struct so_report *report);

struct so_rules;

/* Rules for `camera` (borrowed: must outlive the rules) at the analysis size. */
struct so_rules *so_rules_create(const struct so_camera_cfg *camera, int width, int height,
                                 so_report_fn report, void *opaque);

/* Closes nothing: open episodes simply stop being followed (end of input never clears). */
void so_rules_destroy(struct so_rules *r);

/*
 * Evaluate all zones on `frame` with the static model already updated on it. `tracks` (n of
 * them) are the object tracker's current tracks when an object detector runs, NULL without one:
 * vehicle zones then follow stationary vehicle tracks instead of static blobs. Schedules are
 * evaluated at wall = frame->wall_s - (frame->media_s - media).
 */
void so_rules_process(struct so_rules *r, struct so_frame *frame, struct so_static_model *model,
                      const struct so_track *tracks, int n_tracks);

/* Number of episodes currently open (all zones). */
int so_rules_open_count(const struct so_rules *r);

/*
 * Reload: follow `camera`'s zones from now on (borrowed like at create; NULL = no zones, e.g.
 * the camera was removed). Zones matched by id and kind keep their state and open episodes and
 * use the new settings from the next frame; every other old zone's open episodes are reported
 * cleared now (reason "zone_removed", "after" image and end = the last frame processed; its
 * warned candidates warning_cleared, the same way), through
 * the report callback on the calling thread; new zones start with nothing seen. Not
 * thread-safe: call between two so_rules_process() calls (the caller serialises). Returns 0, or
 * -ENOMEM with the rules unchanged.
 */
/*
 * The camera came back a few pixels off (analysis/view_check.h, so_view_align): every place the
 * rules follow (a vehicle's box and its place, a zone episode's places, a dismissed thing's)
 * moves by (dx, dy) with the scene, kept in the frame, as the static model and the tracker do.
 * Without it a parked car's place stayed where the car had been before the camera turned away,
 * its look 3 px off no longer matched, and the car went unseen until it left: its `cleared`
 * said it had left when the camera turned away, 47 s early (scene-ptz_parked, seed 5).
 * NULL-safe.
 */
void so_rules_translate(struct so_rules *r, int dx, int dy);

/*
 * The camera's view was re-learnt (a view moved for longer than the view check waits, then
 * adopted): every open episode ends now, `cleared` with reason "view_changed", the "after"
 * image from `frame` (the new view). Not a verified departure: the platform must not read it
 * as one (docs/delivery.md). What is still there in the new view starts afresh. NULL-safe.
 */
void so_rules_view_changed(struct so_rules *r, struct so_frame *frame);

int so_rules_set_camera(struct so_rules *r, const struct so_camera_cfg *camera);

/*
 * Commands from the platform (rules/commands.c, docs/delivery.md "Commands"), between two
 * so_rules_process() calls on the analysis thread.
 *
 * so_rules_dismiss: the open episode `episode_id` ends now, `cleared` with reason "dismissed"
 * (the "after" image: the last frame processed). 0, or -ENOENT when no such episode is open.
 *
 * so_rules_suppress: the thing that looks like `look` (tw x th, appearance.h; copied; NULL:
 * none) at `box` in zone `zone_id` opens no episode until `until_wall`, whenever it stands
 * there (it may leave and come back). A different thing in the same place is raised as usual.
 *
 * so_rules_permit: zone `zone_id` opens no episode from `from_wall` to `until_wall`; episodes
 * open when the window starts end then, `cleared` with reason "permitted".
 *
 * Each returns 0, or -ENOSPC when SO_RULES_GATES_MAX are held already (logged).
 */
#define SO_RULES_GATES_MAX 64
int so_rules_dismiss(struct so_rules *r, const char *episode_id);
int so_rules_suppress(struct so_rules *r, const char *zone_id, struct so_box box,
                      const float *look, int tw, int th, double until_wall);
int so_rules_permit(struct so_rules *r, const char *zone_id, double from_wall, double until_wall);

/*
 * A `verify` command on the last frame processed: is the thing of episode `episode_id` still
 * there (present / gone / unknown, presence.h), reported at once (SO_EPISODE_VERIFIED, with
 * that frame). Returns 0, or -ENOENT when these rules do not follow the episode (nothing
 * reported: the caller says unknown).
 */
int so_rules_verify(struct so_rules *r, const char *episode_id, const char *command_id);

#endif
