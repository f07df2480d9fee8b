/*
 * Why this file exists: without an object detector there are no tracks, yet illegal_parking and
 * nonmotor_parking still need one episode per vehicle. Here the static blobs of vehicle size and
 * shape (rest_mask.c) whose ground point lies in the zone are followed frame to frame: a blob
 * belongs to the followed vehicle whose box, grown by a quarter of its size each side, holds at
 * least BLOB_MATCH of the smaller of the two (a vehicle splits into pieces: windows, a pole in
 * front; the largest piece comes first and claims it, the others are fragments). A vehicle
 * must be followed BLOB_CONFIRM_S before it may open (pieces of a car merging into a vehicle
 * shape as it pulls out are gone by then); one unconfirmed and unseen for BLOB_FORGET_S is
 * dropped. The episodes are stepped by rules_vehicles_step (vehicles.c), as with a model.
 *
 * Vehicles that touch (issue 14: one episode per vehicle, each with its own start): static
 * pixels of cars parked bumper to bumper, or of bicycles left side by side, merge into one
 * blob, and following that blob as one vehicle gave one episode whose start jumped to the last
 * arrival. So a vehicle's footprint is settled once it is confirmed (or labelled), and a blob
 * reaching past settled footprints is split (split_beside): they keep theirs, and what lies
 * outside them is followed on its own when it is vehicle-sized next to them.
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

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

#define VEHICLE_MIN_AREA 0.004  /* a vehicle's blob covers at least this share of the frame */
#define NONMOTOR_MIN_AREA 0.0008    /* a bicycle's or scooter's blob at least this share */
#define UPRIGHT_RATIO 0.7       /* a blob narrower than this share of its height stands upright
                                 * like a person: not a vehicle */
#define BLOB_MATCH 0.5          /* a blob belongs to a vehicle whose grown box holds this much
                                 * of the smaller of the two */
#define EXPLAINED 0.3           /* a blob this much inside a track's box is that track's */
#define BESIDE_AREA 0.3         /* what rests beside a settled vehicle is a vehicle of its own */
#define BESIDE_HEIGHT 0.5       /* ... when its box is this big and this tall next to it */
#define MAX_BESIDE 4            /* pieces of one blob followed beside settled vehicles */
#define FLAT_VAR 4.0            /* pixels varying less than this (grey levels squared) are flat */

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

/* A followed vehicle's box grown by a quarter of its size each side: a vehicle often splits into
 * pieces (windows, a pole in front), and pieces this close belong to it. */
static struct so_box grown_box(const struct track *tr)
{
    return (struct so_box){tr->box[0] - tr->box[2] / 4, tr->box[1] - tr->box[3] / 4,
                           tr->box[2] + tr->box[2] / 2, tr->box[3] + tr->box[3] / 2};
}

/* A followed vehicle whose footprint is settled: labelled (the tracker follows it) or a blob
 * followed long enough to be confirmed. Its box no longer grows with what comes to rest beside
 * it. */
static bool settled(const struct track *tr, double now)
{
    return tr->used && (!tr->blob || now - tr->first_seen_s >= BLOB_CONFIRM_S);
}

/* The followed vehicle blob b belongs to (its grown box holds BLOB_MATCH of the smaller of the
 * two), or NULL; settled vehicles are left out when `unsettled_only`. */
static struct track *owner(struct zone_state *z, struct so_box blob, double now,
                           bool unsettled_only)
{
    struct track *best = NULL;
    double best_overlap = BLOB_MATCH;
    for (int t = 0; t < MAX_TRACKS; t++) {
        struct track *tr = &z->tracks[t];
        if (!tr->used || (unsettled_only && settled(tr, now))) {
            continue;
        }
        double o = so_box_overlap_smaller(grown_box(tr), blob);
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
            tr->before = rules_frame_before(r, start - BEFORE_S);
            tr->rest = rules_rest_frame(r, start, frame);
            return tr;
        }
    }
    return NULL;
}

/* Static pixels a zone may follow as one vehicle: a whole blob, or the part of one beside
 * settled vehicles (split_beside). */
struct piece {
    struct so_box box;
    int area;               /* pixels */
    double rest_s;          /* how long it has been at rest (as rules_blob_rest_age) */
    double ground_ncc;      /* its pixels' correlation with the learnt background; -2: flat */
};

/*
 * The pixels of `box` whose entry in `labels` (a map of box.w x box.h or larger, `stride`
 * entries a row, its first entry at the box's corner) is `label`, as a piece: its box, pixel
 * count, rest age and how its pixels correlate with the learnt background (normalised: gain
 * and offset, a light change, cancel). The box test (so_place_background_likeness) looks at a
 * whole box, and a thin thing (a bicycle: a frame and two rings) leaves most of its box to the
 * ground; its own pixels are not the ground. Returns false when there is no such pixel.
 */
static bool gather(struct so_rules *r, struct so_box box, const int32_t *labels, int stride,
                   int32_t label, const float *age, struct piece *out)
{
    const float *fr = so_static_model_frame(r->model), *bg = so_static_model_background(r->model);
    int x0 = r->w, y0 = r->h, x1 = -1, y1 = -1, n = 0;
    double sf = 0, sb = 0, sff = 0, sbb = 0, sfb = 0;
    for (int y = box.y; y < box.y + box.h; y++) {
        const int32_t *row = labels + (size_t)(y - box.y) * stride - box.x;
        for (int x = box.x; x < box.x + box.w; x++) {
            if (row[x] != label) {
                continue;
            }
            size_t i = (size_t)y * r->w + x;
            r->buf[n++] = age[i];
            sf += fr[i];
            sb += bg[i];
            sff += (double)fr[i] * fr[i];
            sbb += (double)bg[i] * bg[i];
            sfb += (double)fr[i] * bg[i];
            x0 = x < x0 ? x : x0;
            x1 = x > x1 ? x : x1;
            y0 = y < y0 ? y : y0;
            y1 = y > y1 ? y : y1;
        }
    }
    if (n == 0) {
        return false;
    }
    double vf = sff - sf * sf / n, vb = sbb - sb * sb / n, cov = sfb - sf * sb / n;
    bool flat = vf < FLAT_VAR * n || vb < FLAT_VAR * n;
    *out = (struct piece){{x0, y0, x1 - x0 + 1, y1 - y0 + 1}, n,
                          so_kth_largest(r->buf, n, (3 * n + 3) / 4),
                          flat ? -2 : cov / sqrt(vf * vb)};
    return true;
}

/* Blob bl as one piece. */
static bool whole_blob(struct so_rules *r, const struct socv_blob *bl, const float *age,
                       struct piece *out)
{
    struct so_box box = {bl->x, bl->y, bl->w, bl->h};
    return gather(r, box, r->labels + (size_t)bl->y * r->w + bl->x, r->w, bl->label, age, out);
}

/* Follow piece p as an unlabelled vehicle of zone z (a new one, or the one it belongs to):
 * its ground point in the zone, not refused by the zone, not the learnt ground. */
static void follow_piece(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
                         const struct socv_blob *bl, struct piece p, struct track *best,
                         const struct so_track *tracks, int n_tracks)
{
    const struct so_zone_cfg *zc = z->cfg;
    bool model = tracks != NULL;
    double now = frame->media_s;
    enum so_status_why refused = model ? unlabelled_refusal(zc, tracks, n_tracks, p.box)
                                       : SO_WHY_COUNTS;
    if (refused != SO_WHY_COUNTS) {
        rules_status_blob(r, z, bl, refused);
        return;
    }
    /* A blob is a part of a silhouette (a pole splits a car; a driver stands beside it): its
     * ground point must be in the zone, as it always was. The footprint share (rules_grounded)
     * is for whole boxes: the network's, and what it places. */
    if (!so_zone_mask_contains(z->zm, p.box.x + p.box.w / 2.0, p.box.y + p.box.h - 1)) {
        return;
    }
    if (best && best->seen) {
        return;     /* another piece of a vehicle already matched this frame */
    }
    bool open = best && best->ep.state == SO_EPISODE_OPEN;
    bool unlike_ground = p.ground_ncc > -2 && p.ground_ncc < SO_PLACE_SAME;
    if (!open && r->model && !unlike_ground &&
        so_place_background_likeness(frame, r->model, p.box, r->look) >= SO_PLACE_SAME) {
        return;     /* the learnt ground under a light the model had not caught up with */
    }
    double start = so_static_model_rest_since(r->model, p.rest_s);  /* gaps: not at rest less */
    if (!best && !(best = new_slot(r, z, frame, start))) {
        return;
    }
    if (!settled(best, now)) {  /* a settled footprint no longer grows or shrinks */
        memcpy(best->box, (int[4]){p.box.x, p.box.y, p.box.w, p.box.h}, sizeof(best->box));
    }
    snprintf(best->cls, sizeof(best->cls), "%s", model ? CLASS_UNCLASSIFIED : "object");
    best->score = model ? 0.0 : 1.0;
    best->seen = true;
    if (!open) {    /* an open one's place is judged (vehicles.c observe) */
        best->last_seen_s = now;
        best->start_est = start;
    }
}

/*
 * Vehicles parked bumper to bumper, bicycles wheeled in one after another: their static pixels
 * merge into one blob. A blob that reaches past the footprint of a settled vehicle holds
 * something beside it: the settled vehicles keep their own footprints (a blob-followed one is
 * seen, its start stays its own), and the blob's pixels outside all of them fall into pieces
 * (connected components: one on each side of a footprint), each a vehicle of its own when it
 * is vehicle-sized next to them (BESIDE_AREA of the neighbour's box, BESIDE_HEIGHT of its
 * height: things side by side at one place in the image are of a size) and not upright; up to
 * MAX_BESIDE of them go to `beside`. Returns how many, or -1 when blob bl is not split (no
 * settled vehicle under it, or all of it within one's footprint: it is followed whole).
 */
static int split_beside(struct so_rules *r, struct zone_state *z, const struct socv_blob *bl,
                        const float *age, double now, double min_area,
                        struct piece beside[MAX_BESIDE])
{
    struct so_box blob = {bl->x, bl->y, bl->w, bl->h}, claims[MAX_TRACKS];
    const struct track *neighbour = NULL;
    double neighbour_overlap = BLOB_MATCH;
    int n_claims = 0;
    bool within = false;
    for (int t = 0; t < MAX_TRACKS; t++) {
        const struct track *tr = &z->tracks[t];
        if (!settled(tr, now)) {
            continue;
        }
        struct so_box own = {tr->box[0], tr->box[1], tr->box[2], tr->box[3]};
        if (so_box_overlap_smaller(own, blob) > 0) {
            claims[n_claims++] = own;
            within |= so_box_inside(blob, own);
        }
        double o = so_box_overlap_smaller(grown_box(tr), blob);
        if (o >= neighbour_overlap) {
            neighbour_overlap = o;
            neighbour = tr;
        }
    }
    if (!neighbour || within) {
        return -1;
    }
    for (int t = 0; t < MAX_TRACKS; t++) {
        struct track *tr = &z->tracks[t];
        if (settled(tr, now) && tr->blob && tr->ep.state != SO_EPISODE_OPEN &&
            so_box_overlap_smaller(grown_box(tr), blob) >= BLOB_MATCH) {
            tr->seen = true;    /* an open one's place is judged (vehicles.c observe) */
            tr->last_seen_s = now;
        }
    }
    size_t n_px = (size_t)bl->w * bl->h;
    uint8_t *mask = calloc(n_px, 1);
    int32_t *labels = malloc(n_px * sizeof(*labels));
    struct socv_blob parts[MAX_BESIDE];
    int n_parts = 0, n = 0;
    for (int y = bl->y; mask && labels && y < bl->y + bl->h; y++) {
        for (int x = bl->x; x < bl->x + bl->w; x++) {
            bool claimed = false;
            for (int c = 0; c < n_claims && !claimed; c++) {
                claimed = so_box_contains(&claims[c], x, y);
            }
            mask[(size_t)(y - bl->y) * bl->w + x - bl->x] =
                !claimed && r->labels[(size_t)y * r->w + x] == bl->label ? 255 : 0;
        }
    }
    struct socv_view v = {mask, bl->w, bl->h, bl->w, 1};
    if (!mask || !labels || socv_mask_components(&v, labels, bl->w, (int)min_area, parts,
                                                 MAX_BESIDE, &n_parts) != SOCV_OK) {
        n_parts = 0;
    }
    double nb_area = (double)neighbour->box[2] * neighbour->box[3];
    for (int k = 0; k < n_parts; k++) {
        struct so_box at = {bl->x + parts[k].x, bl->y + parts[k].y, parts[k].w, parts[k].h};
        struct piece p;
        if (gather(r, at, labels + (size_t)parts[k].y * bl->w + parts[k].x, bl->w,
                   parts[k].label, age, &p) &&
            (double)p.box.w * p.box.h >= BESIDE_AREA * nb_area &&
            p.box.h >= BESIDE_HEIGHT * neighbour->box[3] && p.box.w >= UPRIGHT_RATIO * p.box.h) {
            beside[n++] = p;
        }
    }
    free(mask);
    free(labels);
    return n;
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
        struct piece beside[MAX_BESIDE];
        int n_beside = split_beside(r, z, bl, age, now, min_area, beside);
        for (int k = 0; k < n_beside; k++) {
            follow_piece(r, z, frame, bl, beside[k], owner(z, beside[k].box, now, true), tracks,
                         n_tracks);
        }
        if (n_beside >= 0) {
            continue;
        }
        struct so_box box = {bl->x, bl->y, bl->w, bl->h};
        struct track *best = owner(z, box, now, false);
        if (model && best && !best->blob) {
            /* On a vehicle the network labelled: its track (or its place, vehicles.c) says
             * whether it is still there. Static pixels alone do not: what a car leaves behind
             * rests there too until the model learns the place again. */
            continue;
        }
        struct piece whole;
        if (whole_blob(r, bl, age, &whole)) {
            follow_piece(r, z, frame, bl, whole, best, tracks, n_tracks);
        }
    }
}
