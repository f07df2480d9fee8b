/*
 * Why this file exists: the per-zone kinds (sidewalk_occupied, stall_encroachment) decide on
 * the share of the zone that is at rest, not on objects: goods, a stall, a pile of boxes have no
 * class the rule must know. The per-pixel ages give both the decision (enough of the zone static
 * for long enough) and the start time (when that share came to rest), so a late confirmation
 * does not make a late start. With an object detector, the tracks refine it: people at rest do
 * not count, stall cues (table, umbrella) count from when they came to rest, and the objects
 * reported carry the class of the detection that covers them.
 */
#include "rules_impl.h"

#include <math.h>
#include <stdio.h>

#include "log.h"
#include "select.h"

#define ABSENCE_LAG_S 1.0       /* the model needs this long to see a pixel is free again */
#define PLACE_ABSENT_S 2.0      /* a zone place judged absent this long in a row is forgotten */
#define GONE_LINK_S 10.0        /* a zone free this soon after its last place went: gone then */
#define BLOB_TRACK_MIN_SHARE 0.3    /* a track explains a blob when more of it is in its box */

/* Is pixel (x, y) inside the box of a person at rest (people never start or make an episode)? */
static bool on_person(const struct so_track *tracks, int n_tracks, int x, int y)
{
    for (int k = 0; k < n_tracks; k++) {
        const struct so_box *b = &tracks[k].box;
        if (tracks[k].role == SO_ROLE_PERSON && tracks[k].present &&
            so_box_contains(b, x, y)) {
            return true;
        }
    }
    return false;
}

/* The track that best explains a static blob (most of the blob in its box), or NULL. */
const struct so_track *rules_blob_track(const struct so_track *tracks, int n_tracks,
                                        const struct socv_blob *bl)
{
    const struct so_track *best = NULL;
    double best_share = BLOB_TRACK_MIN_SHARE;
    struct so_box b = {bl->x, bl->y, bl->w, bl->h};
    for (int k = 0; k < n_tracks; k++) {
        if (!tracks[k].present || tracks[k].role == SO_ROLE_PERSON) {
            continue;
        }
        double share = so_box_covered(b, tracks[k].box);
        if (share > best_share) {
            best_share = share;
            best = &tracks[k];
        }
    }
    return best;
}

/*
 * Stall cues of a stall zone: stationary, present tracks of the stall-cue role (table,
 * umbrella, chair, goods...) standing in the zone. Returns how many (at most max).
 */
static int zone_cues(const struct zone_state *z, const struct so_track *tracks, int n_tracks,
                     const struct so_track **out, int max)
{
    int n = 0;
    if (z->cfg->kind != SO_ZONE_STALL_ENCROACHMENT) {
        return 0;
    }
    for (int k = 0; k < n_tracks && n < max; k++) {
        const struct so_track *tk = &tracks[k];
        if (tk->role == SO_ROLE_STALL_CUE && tk->present && tk->stationary &&
            rules_grounded(z, &tk->box, false)) {
            out[n++] = tk;
        }
    }
    return n;
}

/* The age a stall cue gives pixel (x, y): how long the cue covering it has rested; 0 if none. */
static double cue_age(const struct so_track *const *cues, int n_cues, int x, int y, double now)
{
    double best = 0;
    for (int k = 0; k < n_cues; k++) {
        const struct so_box *b = &cues[k]->box;
        if (so_box_contains(b, x, y) && now - cues[k]->rest_s > best) {
            best = now - cues[k]->rest_s;
        }
    }
    return best;
}

/* Does a static blob lie in the zone (its centre, or the middle of its bottom edge)? */
static bool blob_in_zone(const struct so_rules *r, const struct so_zone_mask *zm,
                         const struct socv_blob *bl)
{
    int cx = bl->x + bl->w / 2, cy = bl->y + bl->h / 2;
    return zm->mask[(size_t)cy * r->w + cx] || so_zone_mask_contains(zm, cx, bl->y + bl->h - 1);
}

/*
 * The objects of a zone's report (at most SO_REPORT_MAX_OBJECTS in objs): the static blobs that
 * lie in the zone, largest first, with the class of the track that explains each; then the
 * stall cues not already reported through a blob, then the people lingering in a stall zone.
 */
static int zone_objects(const struct so_rules *r, const struct zone_state *z,
                        const struct so_track *tracks, int n_tracks, struct so_object *objs)
{
    const struct so_zone_mask *zm = z->zm;
    int n_objs = 0;
    for (int b = 0; b < r->n_blobs && n_objs < SO_REPORT_MAX_OBJECTS; b++) {
        const struct socv_blob *bl = &r->blobs[b];
        if (!blob_in_zone(r, zm, bl)) {
            continue;
        }
        struct so_object *o = &objs[n_objs++];
        *o = (struct so_object){
            .cls = "object", .score = 1.0, .box = {bl->x, bl->y, bl->w, bl->h}, .track = -1};
        const struct so_track *tk = rules_blob_track(tracks, n_tracks, bl);
        if (tk) {
            snprintf(o->cls, sizeof(o->cls), "%s", tk->cls);
            o->score = tk->score;
            o->track = tk->id;
        }
    }
    /* Stall cues not already reported through a blob, then the people lingering there. */
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < n_tracks && n_objs < SO_REPORT_MAX_OBJECTS; k++) {
            const struct so_track *tk = &tracks[k];
            bool want = pass == 0 ? tk->role == SO_ROLE_STALL_CUE
                                  : z->cfg->kind == SO_ZONE_STALL_ENCROACHMENT &&
                                        tk->role == SO_ROLE_PERSON && tk->stationary;
            if (!want || !tk->present || !rules_grounded(z, &tk->box, false)) {
                continue;
            }
            bool listed = false;
            for (int j = 0; j < n_objs && !listed; j++) {
                listed = objs[j].track == tk->id;
            }
            if (!listed) {
                objs[n_objs++] = (struct so_object){
                    .score = tk->score, .box = {tk->box.x, tk->box.y, tk->box.w, tk->box.h},
                    .track = tk->id};
                snprintf(objs[n_objs - 1].cls, sizeof(objs[0].cls), "%s", tk->cls);
            }
        }
    }
    return n_objs;
}

/*
 * A zone episode clears when its share at rest drops, and the static model's background decides
 * that share. Under a light the model cannot normalise (the IR switch turns a colour scene grey
 * with another contrast) the ground a stall stood on never looks like the colour background
 * again, and the episode stayed open for good after the stall was packed away. So, like a
 * vehicle's, the zone's things are watched where they stood (up to ZONE_PLACES static blobs
 * when the episode opens, with the zone's look before its candidate came to rest): a place
 * judged absent (rules/presence.h: its look gone, the place looking again like it did before,
 * light-invariant) for PLACE_ABSENT_S in a row is learnt as background at once, and the
 * coverage then sees it free. A place still there, or not judged (hidden, unknown), is left
 * to the static model as before. When the zone is free soon after its last place went
 * (GONE_LINK_S), the episode ended when that place was first seen empty, not when people
 * walking past let the judgement finish.
 */
void rules_zone_places_drop(struct zone_state *z)
{
    for (int i = 0; i < z->n_places; i++) {
        so_place_finish(&z->places[i].place);
    }
    z->n_places = 0;
    z->gone_s = z->forgot_s = -1;
    so_frame_unref(z->before);
    z->before = NULL;
}

static void zone_places_take(struct so_rules *r, struct zone_state *z, struct so_frame *frame)
{
    for (int i = 0; i < z->n_places; i++) {
        so_place_finish(&z->places[i].place);
    }
    z->n_places = 0;
    for (int b = 0; b < r->n_blobs && z->n_places < ZONE_PLACES; b++) {
        const struct socv_blob *bl = &r->blobs[b];
        if (!blob_in_zone(r, z->zm, bl)) {
            continue;
        }
        struct zone_place *zp = &z->places[z->n_places++];
        so_place_init(&zp->place);
        so_place_take(&zp->place, frame, (struct so_box){bl->x, bl->y, bl->w, bl->h},
                      z->before);
        zp->absent_since = -1;
    }
}

static void zone_places_check(struct so_rules *r, struct zone_state *z, struct so_frame *frame)
{
    double now = frame->media_s;
    for (int i = 0; i < z->n_places;) {
        struct zone_place *zp = &z->places[i];
        enum so_presence p = so_place_judge(&zp->place, frame, r->model, r->look);
        if (p == SO_PRESENCE_PRESENT) {
            zp->absent_since = -1;
        } else if (p == SO_PRESENCE_ABSENT && zp->absent_since < 0) {
            zp->absent_since = now;
        }
        if (p != SO_PRESENCE_ABSENT || now - zp->absent_since < PLACE_ABSENT_S) {
            i++;
            continue;
        }
        so_debug(r->cam->id, "zone %s: place %d,%d %dx%d seen empty since %.1f s: learnt again",
                 z->cfg->id, zp->place.box.x, zp->place.box.y, zp->place.box.w,
                 zp->place.box.h, zp->absent_since);
        rules_forget_box(r, zp->place.box);
        z->gone_s = zp->absent_since;
        z->forgot_s = now;
        so_place_finish(&zp->place);
        *zp = z->places[--z->n_places];
    }
}

/*
 * Per-zone kinds: coverage of static pixels. With an object detector, pixels of people at
 * rest do not count (a vendor standing by the stall keeps nothing open by himself) and the
 * objects reported carry the class of the detection that covers them. In a stall zone, stall
 * cues are a signal of their own: the pixels of a table or umbrella at rest count as covered
 * since the cue came to rest, even where the static model does not see them (a stall set up
 * before the start is part of the learnt background; a thin umbrella pole covers few pixels);
 * people lingering in the zone are reported with the objects.
 */
#define MAX_CUES 8

void rules_zone_coverage(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
                         const float *age, const struct so_track *tracks, int n_tracks)
{
    const struct so_zone_cfg *zc = z->cfg;
    const struct so_zone_mask *zm = z->zm;
    double now = frame->media_s;
    const struct so_track *cues[MAX_CUES];
    int n_cues = zone_cues(z, tracks, n_tracks, cues, MAX_CUES);
    int n = 0;
    for (int y = zm->y0; y < zm->y1; y++) {
        for (int x = zm->x0; x < zm->x1; x++) {
            size_t i = (size_t)y * r->w + x;
            if (!zm->mask[i]) {
                continue;
            }
            double cue = n_cues ? cue_age(cues, n_cues, x, y, now) : 0;
            if (cue > 0) {
                r->buf[n++] = (float)(r->mask[i] && age[i] > cue ? age[i] : cue);
            } else if (r->mask[i] && !on_person(tracks, n_tracks, x, y)) {
                r->buf[n++] = age[i];
            }
        }
    }
    int need = (int)ceil(zc->min_occupancy * zm->area);
    if (need < 1) {
        need = 1;
    }
    double occupancy = zm->area ? (double)n / zm->area : 0;
    bool open = z->ep.state == SO_EPISODE_OPEN;
    bool present = open ? n >= (need + 1) / 2 : n >= need;
    double start = now;
    if (n >= need) {
        start = now - so_kth_largest(r->buf, n, need);
    }
    bool enforced = so_schedule_active(&zc->schedule, rules_wall_at(frame, now));
    struct so_episode_params p = rules_episode_params(zc);
    if (z->ep.state == SO_EPISODE_OPEN && r->model) {
        zone_places_check(r, z, frame);
    }
    bool was_candidate = z->ep.state == SO_EPISODE_CANDIDATE && z->ep.start_s >= 0;
    double end = now - ABSENCE_LAG_S;
    if (z->forgot_s >= 0 && z->n_places == 0 && now - z->forgot_s <= GONE_LINK_S &&
        z->gone_s < end) {
        end = z->gone_s;
    }
    if (enforced && z->ep.state == SO_EPISODE_CANDIDATE && r->n_gates) {
        enforced = rules_gate_allows(r, z, frame, NULL);
    }
    enum so_episode_action a = so_episode_step(&z->ep, &p, now, present, start, end, enforced);
    if (z->ep.state == SO_EPISODE_CANDIDATE) {
        if (z->ep.start_s >= 0 && !was_candidate) {
            so_frame_unref(z->rest);
            z->rest = rules_rest_frame(r, z->ep.start_s, frame);
            so_frame_unref(z->before);
            z->before = rules_frame_before(r, z->ep.start_s - BEFORE_S);
        } else if (z->ep.start_s < 0 && z->rest) {
            so_frame_unref(z->rest);
            z->rest = NULL;
            rules_zone_places_drop(z);
        }
    }
    if (a == SO_EPISODE_OPENED) {
        zone_places_take(r, z, frame);
    }
    rules_status_coverage(r, z, occupancy, tracks, n_tracks);
    if (a == SO_EPISODE_NONE) {
        return;
    }
    struct so_object objs[SO_REPORT_MAX_OBJECTS];
    int n_objs = zone_objects(r, z, tracks, n_tracks, objs);
    rules_emit(r, z, &z->ep, a, REASON_LEFT, occupancy, objs, n_objs, z->rest, frame);
    if (so_episode_ended(a)) {
        so_frame_unref(z->rest);
        z->rest = NULL;
        rules_zone_places_drop(z);
        so_episode_init(&z->ep);
    }
}
