/*
 * Why this file exists: without an object detector there are no tracks, yet illegal_parking and
 * nonmotor_parking still need one episode per vehicle. Here the static blobs of vehicle size and
 * shape (rest_mask.c) whose ground point lies in the zone are followed frame to frame: a blob
 * belongs to the followed vehicle whose box, grown by a quarter of its size each side, holds at
 * least BLOB_MATCH of the smaller of the two (a vehicle splits into pieces: windows, a pole in
 * front; the largest piece comes first and claims it, the others are fragments). A vehicle
 * must be followed TRACK_CONFIRM_S before it may open (pieces of a car merging into a vehicle
 * shape as it pulls out are gone by then); one unconfirmed and unseen for TRACK_FORGET_S is
 * dropped. The episodes are stepped by rules_vehicles_step (vehicles.c), as with a model.
 *
 * With a model the same blobs are still candidates (issue 14: the model refines, it never
 * gates): a blob that no track explains (no person, vehicle, cue or other labelled thing holds
 * EXPLAINED of it) and that has a vehicle's size and shape is followed as an `unclassified`
 * vehicle (a dark or covered car, a tricycle or handcart, a car half hidden by a pole), unless
 * the zone says `require_class`. A blob that lies on a labelled vehicle the zone already
 * follows is that vehicle's business (its track, its place); when the network labels an
 * unclassified vehicle later, vehicles.c hands its episode to the track.
 *
 * This is a small tracker of its own beside track/tracker.c, on purpose for now. Feeding the
 * blobs to track/ as detections would change the events: the tracker matches by centre
 * distance and size ratio, not by overlap of a grown box, so a split vehicle's pieces would
 * become spots of their own or count as straddling boxes; it needs PRESENT_VOTES detector ticks
 * before a spot is present (a blob counts from its first frame), forgets in ticks rather than
 * seconds, keys spots by role (a blob has none), takes appearance templates, and numbers its
 * ids differently (the ids are in the events). Replacing it needs a tracker mode for
 * class-agnostic blobs (overlap matching of fragments, presence from the first sighting,
 * forgetting in seconds), and events allowed to change: the next rebuild of the vehicle rules.
 */
#include "rules_impl.h"

#include <stdio.h>
#include <string.h>

#define VEHICLE_MIN_AREA 0.004  /* a vehicle's blob covers at least this share of the frame */
#define NONMOTOR_MIN_AREA 0.0008    /* a bicycle's or scooter's blob at least this share */
#define UPRIGHT_RATIO 0.7       /* a blob narrower than this share of its height stands upright
                                 * like a person: not a vehicle */
#define BLOB_MATCH 0.5          /* a blob belongs to a vehicle whose grown box holds this much
                                 * of the smaller of the two */
#define EXPLAINED 0.3           /* a blob this much inside a track's box is that track's */

/* Does a present track (any role: the network's label decides what it is) explain blob b? */
static bool explained(const struct so_track *tracks, int n_tracks, struct so_box b)
{
    for (int k = 0; k < n_tracks; k++) {
        if (tracks[k].present && so_box_covered(b, tracks[k].box) > EXPLAINED) {
            return true;
        }
    }
    return false;
}

/* Why a zone with a model does not take blob `box` as an unclassified vehicle (the console
 * shows it), or SO_WHY_COUNTS when it does: the network labelled it as something (its track's
 * row says what), the zone wants labels only, or the zone's box bounds refuse it. */
static enum so_status_why unlabelled_refusal(const struct so_zone_cfg *zc,
                                             const struct so_track *tracks, int n_tracks,
                                             struct so_box box)
{
    if (explained(tracks, n_tracks, box)) {
        return SO_WHY_OTHER_KIND;
    }
    if (zc->require_class) {
        return SO_WHY_NEEDS_CLASS;
    }
    if (zc->min_box && (box.w < zc->min_box || box.h < zc->min_box)) {
        return SO_WHY_TOO_SMALL;
    }
    if (zc->max_box && (box.w > zc->max_box || box.h > zc->max_box)) {
        return SO_WHY_TOO_LARGE;
    }
    return SO_WHY_COUNTS;
}

/* The followed vehicle blob b belongs to (its grown box holds BLOB_MATCH of the smaller of the
 * two), or NULL. */
static struct track *owner(struct zone_state *z, struct so_box blob)
{
    struct track *best = NULL;
    double best_overlap = BLOB_MATCH;
    for (int t = 0; t < MAX_TRACKS; t++) {
        struct track *tr = &z->tracks[t];
        /* A vehicle often splits into pieces (windows, a pole in front): pieces within a
         * quarter of its size around its box belong to it. */
        struct so_box grown = {tr->box[0] - tr->box[2] / 4, tr->box[1] - tr->box[3] / 4,
                               tr->box[2] + tr->box[2] / 2, tr->box[3] + tr->box[3] / 2};
        double o = tr->used ? so_box_overlap_smaller(grown, blob) : 0;
        if (o >= best_overlap) {
            best_overlap = o;
            best = tr;
        }
    }
    return best;
}

/* A new slot for a blob at rest since `start`, or NULL when every slot is taken. */
static struct track *new_slot(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
                              double start)
{
    for (int t = 0; t < MAX_TRACKS; t++) {
        struct track *tr = &z->tracks[t];
        if (!tr->used) {
            *tr = (struct track){.used = true, .id = r->next_track++, .blob = true,
                                 .first_seen_s = frame->media_s};
            so_episode_init(&tr->ep);
            so_place_init(&tr->place);
            tr->before = so_frame_ref_maybe(rules_frame_before(r, start - BEFORE_S));
            tr->rest = so_frame_ref(rules_rest_frame(r, start, frame));
            return tr;
        }
    }
    return NULL;
}

void rules_vehicles_blob_marks(struct so_rules *r, struct zone_state *z,
                               struct so_frame *frame, const float *age,
                               const struct so_track *tracks, int n_tracks)
{
    const struct so_zone_cfg *zc = z->cfg;
    double now = frame->media_s;
    double frame_area = (double)r->w * r->h;
    double min_area = (zc->kind == SO_ZONE_ILLEGAL_PARKING ? VEHICLE_MIN_AREA : NONMOTOR_MIN_AREA)
                      * frame_area;
    bool model = tracks != NULL;
    for (int b = 0; b < r->n_blobs; b++) {
        const struct socv_blob *bl = &r->blobs[b];
        if (bl->area < min_area || bl->w < UPRIGHT_RATIO * bl->h) {
            rules_status_blob(r, z, bl, bl->area < min_area ? SO_WHY_TOO_SMALL : SO_WHY_UPRIGHT);
            continue;   /* too small, or upright like a standing person */
        }
        struct so_box box = {bl->x, bl->y, bl->w, bl->h};
        struct track *best = owner(z, box);
        if (model && best && !best->blob) {
            /* On a vehicle the network labelled: its track (or its place, vehicles.c) says
             * whether it is still there. Static pixels alone do not: what a car leaves behind
             * rests there too until the model learns the place again. */
            continue;
        }
        enum so_status_why refused = model ? unlabelled_refusal(zc, tracks, n_tracks, box)
                                           : SO_WHY_COUNTS;
        if (refused != SO_WHY_COUNTS) {
            rules_status_blob(r, z, bl, refused);
            continue;
        }
        /* A blob is a part of a silhouette (a pole splits a car; a driver stands beside it):
         * its ground point must be in the zone, as it always was. The footprint share
         * (rules_grounded) is for whole boxes: the network's, and what it places. */
        if (!so_zone_mask_contains(z->zm, bl->x + bl->w / 2.0, bl->y + bl->h - 1)) {
            continue;
        }
        if (best && best->seen) {
            continue;   /* another piece of a vehicle already matched this frame */
        }
        bool open = best && best->ep.state == SO_EPISODE_OPEN;
        if (!open && r->model && so_place_background_likeness(frame, r->model, box, r->look) >=
                                     SO_PLACE_SAME) {
            continue;   /* the learnt ground under a light the model had not caught up with */
        }
        double start = now - rules_blob_rest_age(r, bl, age);
        if (!best && !(best = new_slot(r, z, frame, start))) {
            continue;
        }
        memcpy(best->box, (int[4]){box.x, box.y, box.w, box.h}, sizeof(best->box));
        snprintf(best->cls, sizeof(best->cls), "%s", model ? CLASS_UNCLASSIFIED : "object");
        best->score = model ? 0.0 : 1.0;
        best->seen = true;
        if (!open) {    /* an open one's place is judged (vehicles.c observe) */
            best->last_seen_s = now;
            best->start_est = start;
        }
    }
}
