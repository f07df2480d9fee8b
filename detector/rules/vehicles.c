/*
 * Why this file exists: illegal_parking and nonmotor_parking are about one vehicle each: one
 * episode per stationary vehicle track (role vehicle, or non-motor) whose ground point is in
 * the zone, from when it came to rest. The tracker (track/) says what rests where; this file
 * says which of its tracks are this zone's vehicles, keeps one episode per vehicle when the
 * detector frames a car twice or straddles two, carries an episode over when the tracker loses
 * a parked car and finds it again under a new id, and steps the episodes (rules_vehicles_step,
 * shared with the no-model path in vehicle_blobs.c).
 */
#include "rules_impl.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

#define SAME_VEHICLE 0.7        /* two boxes this much over the smaller: the same vehicle */
#define SEEN_LATELY_S 2.0       /* a followed vehicle seen this recently is still there */
#define STRADDLE_COVER 0.7      /* a box the others cover this much (sampled) straddles them */
#define STRADDLE_TOUCH 0.1      /* ... when at least STRADDLE_MIN of them cover more than this */
#define STRADDLE_MIN 2
#define STRADDLE_GRID 8         /* covered_by_others samples the box on a grid this fine */

struct so_object rules_track_object(const struct track *tr)
{
    struct so_object obj = {.score = tr->score, .track = tr->id};
    snprintf(obj.cls, sizeof(obj.cls), "%s", tr->cls);
    memcpy(obj.box, tr->box, sizeof(obj.box));
    return obj;
}

void rules_track_reset(struct track *tr)
{
    so_frame_unref(tr->rest);
    so_frame_unref(tr->before);
    so_place_finish(&tr->place);
    *tr = (struct track){0};
}

/* Only a candidate about to open is asked (the gates' look checks cost a little). */
static bool gate_allows(struct so_rules *r, struct zone_state *z, const struct track *tr,
                        struct so_frame *frame)
{
    if (tr->ep.state != SO_EPISODE_CANDIDATE || !r->n_gates) {
        return true;
    }
    struct so_box b = {tr->box[0], tr->box[1], tr->box[2], tr->box[3]};
    return rules_gate_allows(r, z, frame, &b);
}

enum so_presence rules_vehicle_judge(struct so_rules *r, const struct track *tr,
                                     const struct so_frame *frame)
{
    return so_place_judge_apart(&tr->place, frame, r->model, r->look, tr->start_est);
}

/*
 * What this frame says about a followed vehicle. Seen by what follows it (its track, its static
 * blob, unless its place is seen empty): present. Otherwise, once its episode is open, its
 * place is judged (rules_vehicle_judge): its look still there is present; the place seen empty
 * is absent; anything else (a bus in front, the network missing it, a light change) is unknown
 * and changes nothing. Before it opens, an
 * unseen candidate simply is not seen (it was never confirmed: nothing to keep).
 */
static enum so_presence observe(struct so_rules *r, struct track *tr, struct so_frame *frame)
{
    if (tr->seen && (!tr->blob || tr->ep.state != SO_EPISODE_OPEN || !r->model)) {
        return SO_PRESENCE_PRESENT;
    }
    if (tr->seen) {
        /* Static pixels are no proof that a blob-followed vehicle is still there: under a light
         * the background was not learnt for (an exposure ramp while it stood) the ground it
         * uncovered stays "at rest". Its place seen empty, light-invariantly, is absent; and
         * while its look cannot be judged (people walking past) it was not seen. Without a
         * look (a flat car) the blob is all there is. */
        enum so_presence p = rules_vehicle_judge(r, tr, frame);
        if (p == SO_PRESENCE_UNKNOWN && tr->place.look) {
            return p;
        }
        if (p != SO_PRESENCE_ABSENT) {
            tr->last_seen_s = frame->media_s;
            return SO_PRESENCE_PRESENT;
        }
        return p;
    }
    if (tr->ep.state != SO_EPISODE_OPEN || !r->model) {
        return SO_PRESENCE_ABSENT;
    }
    enum so_presence p = rules_vehicle_judge(r, tr, frame);
    if (p == SO_PRESENCE_PRESENT) {
        tr->last_seen_s = frame->media_s;
    }
    return p;
}

/*
 * One vehicle, one warning: the detector sometimes frames a part of a car as a second vehicle
 * that the zone follows too (it came when the car's own box was missed). Such a candidate
 * rarely lives to its dwell, but it can live to warn_s; a vehicle at least half on
 * (WARNED_SAME of the smaller box: a part, not a neighbour bumper to bumper) another followed
 * one already warned of or open is that vehicle again, and is not warned of.
 */
#define WARNED_SAME 0.5

static bool warned_already(const struct zone_state *z, const struct track *tr)
{
    struct so_box b = {tr->box[0], tr->box[1], tr->box[2], tr->box[3]};
    for (int t = 0; t < MAX_TRACKS; t++) {
        const struct track *o = &z->tracks[t];
        struct so_box ob = {o->box[0], o->box[1], o->box[2], o->box[3]};
        if (o != tr && o->used && (o->ep.warned_s >= 0 || o->ep.state == SO_EPISODE_OPEN) &&
            so_box_overlap_smaller(b, ob) >= WARNED_SAME) {
            return true;
        }
    }
    return false;
}

/* Report what a followed vehicle's episode did (nothing for SO_EPISODE_NONE). */
static void vehicle_report(struct so_rules *r, struct zone_state *z, const struct track *tr,
                           enum so_episode_action a, struct so_frame *frame)
{
    if (a != SO_EPISODE_NONE) {
        struct so_object obj = rules_track_object(tr);
        rules_emit(r, z, &tr->ep, a, REASON_LEFT, -1, &obj, 1, tr->rest, frame);
    }
}

void rules_vehicles_step(struct so_rules *r, struct zone_state *z, struct so_frame *frame)
{
    const struct so_zone_cfg *zc = z->cfg;
    double now = frame->media_s;
    bool enforced = so_schedule_active(&zc->schedule, rules_wall_at(frame, now));
    struct so_episode_params p = rules_episode_params(zc);
    for (int t = 0; t < MAX_TRACKS; t++) {
        struct track *tr = &z->tracks[t];
        if (!tr->used) {
            continue;
        }
        /* A blob must be followed a few seconds before it can be confirmed, however old its
         * pixels: a blob that only now took a vehicle's shape (pieces of a car merging as it
         * pulls out) is gone before then. A track is established by the tracker already. */
        double confirm_s = tr->blob ? BLOB_CONFIRM_S : 0.0;
        double forget_s = tr->blob ? BLOB_FORGET_S : ORPHAN_S;
        if (tr->ep.state != SO_EPISODE_OPEN && !tr->seen) {
            if (now - tr->last_seen_s >= forget_s) {
                /* Gone before it opened: a warning it had ends when it was last seen. */
                vehicle_report(r, z, tr, so_episode_force_clear(&tr->ep, tr->last_seen_s),
                               frame);
                rules_track_reset(tr);
            }
            continue;
        }
        bool followed = now - tr->first_seen_s >= confirm_s;
        bool silenced = enforced && followed && !gate_allows(r, z, tr, frame);
        enum so_episode_action a = so_episode_observe(&tr->ep, &p, now, observe(r, tr, frame),
                                                      tr->start_est, tr->last_seen_s,
                                                      enforced && followed && !silenced);
        if (a == SO_EPISODE_WARNING && warned_already(z, tr)) {
            so_episode_withdraw_warning(&tr->ep);
            a = SO_EPISODE_NONE;
        }
        rules_status_vehicle(r, z, tr, enforced, followed, silenced);
        if (a == SO_EPISODE_OPENED) {
            struct so_box b = {tr->box[0], tr->box[1], tr->box[2], tr->box[3]};
            so_place_take(&tr->place, frame, b, tr->before);
            so_place_take_own(&tr->place, r->model, r->w, tr->start_est);
            so_frame_unref(tr->before);
            tr->before = NULL;
        }
        vehicle_report(r, z, tr, a, frame);
        if (a == SO_EPISODE_CLEARED_NOW) {
            rules_forget_box(r, (struct so_box){tr->box[0], tr->box[1], tr->box[2], tr->box[3]});
        }
        if (so_episode_ended(a)) {
            rules_track_reset(tr);
        }
    }
}

/* Share of box a covered by the union of boxes[0..n) (sampled on a grid). */
static double covered_share(struct so_box a, const struct so_box *boxes, int n)
{
    int hit = 0, total = 0;
    for (int j = 0; j < STRADDLE_GRID; j++) {
        for (int i = 0; i < STRADDLE_GRID; i++) {
            double x = a.x + (i + 0.5) * a.w / STRADDLE_GRID;
            double y = a.y + (j + 0.5) * a.h / STRADDLE_GRID;
            total++;
            for (int k = 0; k < n; k++) {
                if (so_box_contains(&boxes[k], x, y)) {
                    hit++;
                    break;
                }
            }
        }
    }
    return (double)hit / total;
}

/* Share of c[self]'s box covered by the union of the other boxes of c. */
static double covered_by_others(const struct so_track *const *c, int n, int self)
{
    struct so_box others[SO_TRACK_MAX];
    int m = 0;
    for (int k = 0; k < n && m < SO_TRACK_MAX; k++) {
        if (k != self) {
            others[m++] = c[k]->box;
        }
    }
    return covered_share(c[self]->box, others, m);
}

/*
 * One vehicle, one episode. Detectors on a row of parked cars give, besides one box per car,
 * boxes that straddle two cars, and now and then a second track on the same car. A box that
 * the other boxes mostly cover together (STRADDLE_COVER, with STRADDLE_MIN or more of them),
 * and no one of them alone, is a straddling box and goes. A box lying in one bigger box is no
 * straddler: the bigger one may be (a car framed alone and again with half its neighbour: the
 * car's own box went as "covered", the straddler with it, and a car parked bumper to bumper
 * waited 6 s for the network to frame it cleanly, scene-row seed 3). Of two boxes that mostly
 * cover one another (SAME_VEHICLE of the smaller) the older track stays. Vehicles already
 * followed (`followed`) are never dropped: the choice is made once, when a vehicle comes to
 * rest, and sticks. Returns the number kept (in place).
 */
static int dedupe_vehicles(const struct so_track **c, int n, const bool *followed)
{
    bool drop[SO_TRACK_MAX] = {false};
    for (int i = 0; i < n; i++) {
        if (followed[i]) {
            continue;   /* a vehicle already followed keeps its episode */
        }
        int overlaps = 0;
        bool inside_one = false;
        for (int k = 0; k < n; k++) {
            double share = k != i ? so_box_covered(c[i]->box, c[k]->box) : 0;
            overlaps += share > STRADDLE_TOUCH;
            inside_one |= share >= STRADDLE_COVER;
        }
        drop[i] = overlaps >= STRADDLE_MIN && !inside_one &&
                  covered_by_others(c, n, i) >= STRADDLE_COVER;
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < n && !drop[i] && !followed[i]; k++) {
            if (k == i || drop[k]) {
                continue;
            }
            double small = so_box_overlap_smaller(c[i]->box, c[k]->box);
            bool first = followed[k] || c[k]->first_s < c[i]->first_s ||
                         (c[k]->first_s == c[i]->first_s && c[k]->id < c[i]->id);
            if (small >= SAME_VEHICLE && first) {
                drop[i] = true;
            }
        }
    }
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (!drop[i]) {
            c[kept++] = c[i];
        }
    }
    return kept;
}

/* A present, stationary track other than tk among c[] that mostly covers tk or is mostly
 * covered by it (SAME_VEHICLE of the smaller box): the same vehicle seen as another spot. */
static const struct so_track *same_vehicle(const struct so_track *const *c, int n,
                                           const struct so_track *tk)
{
    for (int i = 0; i < n; i++) {
        if (c[i] == tk || !c[i]->present || !c[i]->stationary) {
            continue;
        }
        if (so_box_overlap_smaller(tk->box, c[i]->box) >= SAME_VEHICLE) {
            return c[i];
        }
    }
    return NULL;
}

/* The zone's object filters (config: classes, min_score, min_box, max_box). */
static bool zone_accepts(const struct so_zone_cfg *zc, const struct so_track *tk)
{
    if (tk->score < zc->min_score) {
        return false;
    }
    if (zc->min_box && (tk->box.w < zc->min_box || tk->box.h < zc->min_box)) {
        return false;
    }
    if (zc->max_box && (tk->box.w > zc->max_box || tk->box.h > zc->max_box)) {
        return false;
    }
    if (!zc->n_classes) {
        return true;
    }
    for (size_t i = 0; i < zc->n_classes; i++) {
        if (strcmp(zc->classes[i], tk->cls) == 0) {
            return true;
        }
    }
    return false;
}

/* A zone slot whose track the tracker no longer has, at the place of `tk`. */
static struct track *orphan_slot(struct zone_state *z, const struct so_track *tk,
                                 const struct so_track *tracks, int n_tracks)
{
    for (int t = 0; t < MAX_TRACKS; t++) {
        struct track *sl = &z->tracks[t];
        if (!sl->used || sl->blob) {
            continue;
        }
        bool alive = false;
        for (int k = 0; k < n_tracks && !alive; k++) {
            alive = tracks[k].id == sl->id;
        }
        struct so_box b = {sl->box[0], sl->box[1], sl->box[2], sl->box[3]};
        double small = so_box_overlap_smaller(b, tk->box);
        if (!alive && small >= SAME_VEHICLE && tk->first_s - sl->last_seen_s <= ORPHAN_S) {
            return sl;
        }
    }
    return NULL;
}

/*
 * Was the thing in box b there when the static model learnt its background? Its pixels are the
 * background (at most SO_PLACE_FG_MAX differ) and its look is the background's there (NCC >=
 * SO_PLACE_SAME): the model never learns a thing that came to rest later (selective update),
 * so a car that shows in the warm-up background was parked before the analysis began, however
 * late the network first framed it (on a shaking camera, after a gust; on a 150 kbit/s
 * substream, seconds in).
 */
static bool in_background(struct so_rules *r, const struct so_frame *frame, struct so_box box)
{
    struct so_box b = so_box_clip(box, r->w, r->h);
    return r->model && b.w > 0 && b.h > 0 &&
           so_place_foreground_share(r->model, r->w, b) <= SO_PLACE_FG_MAX &&
           so_place_background_likeness(frame, r->model, box, r->look) >= SO_PLACE_SAME;
}

/*
 * A new track on vehicles followed there is not a new vehicle when nothing arrived: two cars
 * bumper to bumper on a 150 kbit/s substream came out as two boxes, then, a minute on, as a
 * third box across them, and opened a third episode. A vehicle that parks there has pixels
 * that differ from the learnt background (the static model never learns a thing at rest);
 * a new box that is mostly (REFRAMED_COVER) on vehicles seen lately and whose pixels are
 * the background (at most SO_PLACE_FG_MAX differ) frames what was already there.
 */
#define REFRAMED_COVER 0.5

static bool reframed(struct so_rules *r, const struct zone_state *z,
                     const struct so_frame *frame, const struct so_track *tk)
{
    struct so_box followed[MAX_TRACKS];
    int n = 0;
    for (int t = 0; t < MAX_TRACKS; t++) {
        const struct track *sl = &z->tracks[t];
        if (sl->used && frame->media_s - sl->last_seen_s <= SEEN_LATELY_S) {
            followed[n++] = (struct so_box){sl->box[0], sl->box[1], sl->box[2], sl->box[3]};
        }
    }
    if (!n || !r->model || covered_share(tk->box, followed, n) < REFRAMED_COVER) {
        return false;
    }
    struct so_box b = so_box_clip(tk->box, r->w, r->h);
    return b.w > 0 && b.h > 0 && so_place_foreground_share(r->model, r->w, b) <= SO_PLACE_FG_MAX;
}

/*
 * The zone's slot for track tk: the one that follows it already; else, for a present
 * stationary track, the slot of a vehicle the tracker lost at its place (the episode goes on
 * under the new id) or a new one. NULL if none (not at rest yet, or every slot taken).
 */
static struct track *follow(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
                            const struct so_track *tk, const struct so_track *tracks,
                            int n_tracks)
{
    const struct so_zone_cfg *zc = z->cfg;
    struct track *slot = NULL;
    for (int t = 0; t < MAX_TRACKS && !slot; t++) {
        if (z->tracks[t].used && !z->tracks[t].blob && z->tracks[t].id == tk->id) {
            slot = &z->tracks[t];
        }
    }
    if (slot) {
        return slot;
    }
    if (!tk->stationary || !tk->present) {
        return NULL;
    }
    /* An unclassified vehicle the network now labels: the same vehicle, the same episode. */
    for (int t = 0; t < MAX_TRACKS; t++) {
        struct track *sl = &z->tracks[t];
        struct so_box b = {sl->box[0], sl->box[1], sl->box[2], sl->box[3]};
        if (sl->used && sl->blob && so_box_overlap_smaller(b, tk->box) >= SAME_VEHICLE) {
            so_debug(r->cam->id, "zone %s: %s track %d is unclassified vehicle %d", zc->id,
                     tk->cls, tk->id, sl->id);
            sl->blob = false;
            sl->id = tk->id;
            return sl;
        }
    }
    /* The tracker lost a parked vehicle and found it again under a new id: the vehicle's
     * episode goes on with it. */
    slot = orphan_slot(z, tk, tracks, n_tracks);
    if (slot) {
        so_debug(r->cam->id, "zone %s: track %d takes over from lost track %d", zc->id, tk->id,
                 slot->id);
        slot->id = tk->id;
        return slot;
    }
    if (reframed(r, z, frame, tk)) {
        return NULL;
    }
    double start = tk->rest_s;
    if (in_background(r, frame, tk->box) && so_static_model_first_s(r->model) >= 0 &&
        so_static_model_first_s(r->model) < start) {
        so_debug(r->cam->id, "zone %s: %s track %d is part of the learnt background: there "
                 "since %.1f s", zc->id, tk->cls, tk->id, so_static_model_first_s(r->model));
        start = so_static_model_first_s(r->model);
    }
    for (int t = 0; t < MAX_TRACKS && !slot; t++) {
        if (!z->tracks[t].used) {
            slot = &z->tracks[t];
            *slot = (struct track){.used = true, .id = tk->id, .first_seen_s = frame->media_s,
                                   .start_est = start};
            so_place_init(&slot->place);
            slot->before = rules_frame_before(r, tk->rest_s - BEFORE_S);
            so_debug(r->cam->id, "zone %s follows %s track %d at %d,%d %dx%d (at rest since "
                     "%.1f s)", zc->id, tk->cls, tk->id, tk->box.x, tk->box.y, tk->box.w,
                     tk->box.h, tk->rest_s);
            so_episode_init(&slot->ep);
            slot->rest = rules_rest_frame(r, tk->rest_s, frame);
        }
    }
    return slot;
}

/*
 * Vehicle zones with an object detector: one episode per stationary vehicle track (role
 * vehicle for illegal_parking, non-motor for nonmotor_parking) whose ground point is in the
 * zone; start = when the track came to rest (its first sighting for a car parked before the
 * detector started).
 */
void rules_vehicles_tracked(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
                            const struct so_track *tracks, int n_tracks)
{
    const struct so_zone_cfg *zc = z->cfg;
    enum so_role want = zc->kind == SO_ZONE_ILLEGAL_PARKING ? SO_ROLE_VEHICLE : SO_ROLE_NONMOTOR;
    const struct so_track *cand[SO_TRACK_MAX];
    bool followed[SO_TRACK_MAX];
    int n_cand = 0;
    for (int k = 0; k < n_tracks && n_cand < SO_TRACK_MAX; k++) {
        const struct so_track *tk = &tracks[k];
        if (tk->role != want || !zone_accepts(zc, tk)) {
            rules_status_rejected(r, z, tk);
            continue;
        }
        bool known = false;
        for (int t = 0; t < MAX_TRACKS && !known; t++) {
            known = z->tracks[t].used && !z->tracks[t].blob && z->tracks[t].id == tk->id;
        }
        if (!rules_grounded(z, &tk->box, known)) {
            rules_status_track(r, z, tk, SO_WHY_FOOTPRINT);
            continue;
        }
        rules_status_track(r, z, tk, known || tk->stationary ? SO_WHY_COUNTS : SO_WHY_MOVING);
        if (known || tk->stationary) {
            followed[n_cand] = known;
            cand[n_cand++] = tk;
        }
    }
    const struct so_track *all[SO_TRACK_MAX];
    int n_all = n_cand;
    memcpy(all, cand, sizeof(*all) * (size_t)n_cand);
    n_cand = dedupe_vehicles(cand, n_cand, followed);
    for (int k = 0; k < n_cand; k++) {
        const struct so_track *tk = cand[k];
        struct track *slot = follow(r, z, frame, tk, tracks, n_tracks);
        if (!slot) {
            continue;
        }
        slot->seen = tk->present && tk->stationary;
        if (slot->seen) {
            slot->last_seen_s = tk->last_seen_s;   /* the last sighting, not now */
        } else {
            /* Another box on the same vehicle (dropped as a duplicate) still sees it: the
             * detector now frames the car differently (people in front of it, a door open). */
            const struct so_track *same = same_vehicle(all, n_all, tk);
            if (same) {
                slot->seen = true;
                slot->last_seen_s = same->last_seen_s;
            }
        }
        /* A followed vehicle's rest never starts later (a new track id after a lost one). */
        if (tk->rest_s < slot->start_est) {
            slot->start_est = tk->rest_s;
        }
        slot->box[0] = tk->box.x;
        slot->box[1] = tk->box.y;
        slot->box[2] = tk->box.w;
        slot->box[3] = tk->box.h;
        slot->score = tk->score;
        snprintf(slot->cls, sizeof(slot->cls), "%s", tk->cls);
    }
}

