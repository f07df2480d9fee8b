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
#define TRACK_CONFIRM_S 5.0     /* a vehicle must be followed this long before it can open */
#define TRACK_FORGET_S 3.0      /* an unconfirmed vehicle unseen this long is dropped */

void rules_vehicles_blobs(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
                          const float *age)
{
    const struct so_zone_cfg *zc = z->cfg;
    double now = frame->media_s;
    double frame_area = (double)r->w * r->h;
    double min_area = (zc->kind == SO_ZONE_ILLEGAL_PARKING ? VEHICLE_MIN_AREA : NONMOTOR_MIN_AREA)
                      * frame_area;
    for (int t = 0; t < MAX_TRACKS; t++) {
        z->tracks[t].seen = false;
    }
    for (int b = 0; b < r->n_blobs; b++) {
        const struct socv_blob *bl = &r->blobs[b];
        if (bl->area < min_area || bl->w < UPRIGHT_RATIO * bl->h) {
            continue;   /* too small, or upright like a standing person */
        }
        double gx = bl->x + bl->w / 2.0, gy = bl->y + bl->h - 1;
        if (!so_zone_mask_contains(z->zm, gx, gy)) {
            continue;
        }
        int box[4] = {bl->x, bl->y, bl->w, bl->h};
        struct track *best = NULL;
        double best_overlap = BLOB_MATCH;
        bool fragment = false;
        for (int t = 0; t < MAX_TRACKS; t++) {
            struct track *tr = &z->tracks[t];
            /* A vehicle often splits into pieces (windows, a pole in front): pieces within a
             * quarter of its size around its box belong to it. */
            struct so_box grown = {tr->box[0] - tr->box[2] / 4, tr->box[1] - tr->box[3] / 4,
                                   tr->box[2] + tr->box[2] / 2, tr->box[3] + tr->box[3] / 2};
            struct so_box blob = {bl->x, bl->y, bl->w, bl->h};
            double o = tr->used ? so_box_overlap_smaller(grown, blob) : 0;
            if (o >= best_overlap) {
                best_overlap = o;
                best = tr;
            }
        }
        if (best && best->seen) {
            fragment = true;    /* another piece of a vehicle already matched this frame */
        }
        double start = now - rules_blob_rest_age(r, bl, age);
        if (!best) {
            for (int t = 0; t < MAX_TRACKS && !best; t++) {
                if (!z->tracks[t].used) {
                    best = &z->tracks[t];
                    *best = (struct track){.used = true, .id = r->next_track++,
                                           .first_seen_s = now};
                    so_episode_init(&best->ep);
                    best->rest = so_frame_ref(rules_rest_frame(r, start, frame));
                }
            }
            if (!best) {
                continue;
            }
        }
        if (fragment) {
            continue;
        }
        memcpy(best->box, box, sizeof(box));
        snprintf(best->cls, sizeof(best->cls), "object");
        best->score = 1.0;
        best->seen = true;
        best->last_seen_s = now;
        best->start_est = start;
    }
    rules_vehicles_step(r, z, frame, TRACK_CONFIRM_S, TRACK_FORGET_S);
}

