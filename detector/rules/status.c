/*
 * Why this file exists: operators ask "why did this fire?" and "why didn't it?", and only the
 * rules know. Each rule reports what it decided about each thing it looked at through one call
 * into here (rules_status_*), at the place it decides; this file keeps those decisions in a
 * plain struct (status.h) that the analysis thread copies out after each frame for the HTTP
 * server. Nothing here feeds back into a decision: the status is a record, not a second rule.
 *
 * Design:
 * - Fixed arrays per zone (SO_STATUS_MAX_CANDS candidates): no allocation per frame, and a copy
 *   is one memcpy per zone. When a zone's table is full, a thing the zone follows takes the
 *   place of one it does not (the followed ones are what the operator waits on); the rest are
 *   counted in n_more.
 * - Things that merely pass by are not listed: a rejected track only when its footprint touches
 *   the zone, a rejected blob only when its ground point is in the zone.
 * - Per-zone kinds list the static blobs in the zone (class from the track that covers them)
 *   and the people at rest there, which never count (coverage.c leaves their pixels out).
 */
#include "rules_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define TOUCH_HEIGHT 0.4        /* the ground footprint, as rules_grounded takes it */

static const char *const why_names[SO_WHY_COUNT_] = {
    [SO_WHY_COUNTS] = "counts",
    [SO_WHY_NOT_ENFORCED] = "not_enforced",
    [SO_WHY_CONFIRMING] = "confirming",
    [SO_WHY_UNSEEN] = "unseen",
    [SO_WHY_MOVING] = "moving",
    [SO_WHY_PERSON] = "person",
    [SO_WHY_OTHER_KIND] = "other_kind",
    [SO_WHY_CLASS] = "class",
    [SO_WHY_SCORE] = "score",
    [SO_WHY_TOO_SMALL] = "too_small",
    [SO_WHY_TOO_LARGE] = "too_large",
    [SO_WHY_FOOTPRINT] = "footprint",
    [SO_WHY_UPRIGHT] = "upright",
    [SO_WHY_NEEDS_CLASS] = "needs_class",
    [SO_WHY_SUSPENDED] = "suspended",
    [SO_WHY_SILENCED] = "silenced",
};

const char *so_status_why_name(enum so_status_why why)
{
    return (unsigned)why < SO_WHY_COUNT_ ? why_names[why] : "unknown";
}

const char *so_status_episode_name(enum so_episode_state state, const char *ep_id)
{
    switch (state) {
    case SO_EPISODE_OPEN:
        return "open";
    case SO_EPISODE_CLEARED:
        return "cleared";
    case SO_EPISODE_CANDIDATE:
    default:
        return ep_id && ep_id[0] ? "candidate" : "none";
    }
}

const struct so_rules_status *so_rules_status(const struct so_rules *r)
{
    return r ? &r->status : NULL;
}

struct so_rules_status *so_rules_status_copy(const struct so_rules_status *s)
{
    if (!s) {
        return NULL;
    }
    struct so_rules_status *c = malloc(sizeof(*c));
    struct so_zone_status *z = malloc((s->n_zones ? s->n_zones : 1) * sizeof(*z));
    if (!c || !z) {
        abort();
    }
    *c = *s;
    memcpy(z, s->zones, s->n_zones * sizeof(*z));
    c->zones = z;
    return c;
}

void so_rules_status_destroy(struct so_rules_status *s)
{
    if (s) {
        free(s->zones);
        free(s);
    }
}

static struct so_zone_status *zone_of(struct so_rules *r, const struct zone_state *z)
{
    size_t i = (size_t)(z - r->zones);
    return i < r->status.n_zones ? &r->status.zones[i] : NULL;
}

void rules_status_begin(struct so_rules *r, struct so_frame *frame)
{
    struct so_rules_status *s = &r->status;
    if (s->n_zones != r->n_zones) {     /* a reload changed the zones */
        free(s->zones);
        s->zones = calloc(r->n_zones ? r->n_zones : 1, sizeof(*s->zones));
        if (!s->zones) {
            abort();
        }
        s->n_zones = r->n_zones;
    }
    s->media_s = frame->media_s;
    s->wall_s = frame->wall_s;
    s->suspended = false;
    for (size_t i = 0; i < r->n_zones; i++) {
        const struct zone_state *z = &r->zones[i];
        const struct so_zone_cfg *zc = z->cfg;
        struct so_zone_status *zs = &s->zones[i];
        memset(zs, 0, sizeof(*zs));
        snprintf(zs->id, sizeof(zs->id), "%s", zc->id);
        zs->kind = zc->kind;
        zs->enforced = so_schedule_active(&zc->schedule, frame->wall_s);
        zs->dwell_s = zc->dwell_s;
        zs->min_occupancy = zc->min_occupancy;
        zs->occupancy = -1;
    }
}

/* A slot for a new candidate, or NULL (counted in n_more). A followed or counted one may take
 * the place of the last one neither followed nor counted. */
static struct so_cand_status *add(struct so_zone_status *zs, bool keep)
{
    if (zs->n_cands < SO_STATUS_MAX_CANDS) {
        struct so_cand_status *c = &zs->cands[zs->n_cands++];
        memset(c, 0, sizeof(*c));
        return c;
    }
    zs->n_more++;
    for (int i = SO_STATUS_MAX_CANDS - 1; keep && i >= 0; i--) {
        if (!zs->cands[i].followed && !zs->cands[i].counted) {
            memset(&zs->cands[i], 0, sizeof(zs->cands[i]));
            return &zs->cands[i];
        }
    }
    return NULL;
}

static void put(struct so_zone_status *zs, const int box[4], const char *cls, double score,
                int track, double age, enum so_status_why why, bool followed)
{
    struct so_cand_status *c = add(zs, followed || why == SO_WHY_COUNTS);
    if (!c) {
        return;
    }
    memcpy(c->box, box, sizeof(c->box));
    snprintf(c->cls, sizeof(c->cls), "%s", cls);
    c->score = score;
    c->track = track;
    c->age_s = age > 0 ? age : 0;
    c->why = why;
    c->counted = why == SO_WHY_COUNTS;
    c->followed = followed;
    c->ep_state = SO_EPISODE_CANDIDATE;
}

static bool touches(const struct zone_state *z, const struct so_box *b)
{
    int fh = (int)(b->h * TOUCH_HEIGHT + 0.5);
    fh = fh < 1 ? 1 : fh;
    return so_zone_mask_share(z->zm, b->x, b->y + b->h - fh, b->w, fh) > 0;
}

static void put_track(struct so_zone_status *zs, const struct so_track *tk, double now,
                      enum so_status_why why)
{
    const int box[4] = {tk->box.x, tk->box.y, tk->box.w, tk->box.h};
    put(zs, box, tk->cls, tk->score, tk->id, tk->stationary ? now - tk->rest_s : 0, why, false);
}

void rules_status_track(struct so_rules *r, struct zone_state *z, const struct so_track *tk,
                        enum so_status_why why)
{
    struct so_zone_status *zs = zone_of(r, z);
    if (zs && why != SO_WHY_COUNTS && touches(z, &tk->box)) {
        put_track(zs, tk, r->status.media_s, why);
    }
}

void rules_status_rejected(struct so_rules *r, struct zone_state *z, const struct so_track *tk)
{
    const struct so_zone_cfg *zc = z->cfg;
    enum so_role want = zc->kind == SO_ZONE_ILLEGAL_PARKING ? SO_ROLE_VEHICLE : SO_ROLE_NONMOTOR;
    enum so_status_why why = SO_WHY_CLASS;
    if (tk->role == SO_ROLE_PERSON) {
        why = SO_WHY_PERSON;
    } else if (tk->role != want) {
        why = SO_WHY_OTHER_KIND;
    } else if (tk->score < zc->min_score) {
        why = SO_WHY_SCORE;
    } else if (zc->min_box && (tk->box.w < zc->min_box || tk->box.h < zc->min_box)) {
        why = SO_WHY_TOO_SMALL;
    } else if (zc->max_box && (tk->box.w > zc->max_box || tk->box.h > zc->max_box)) {
        why = SO_WHY_TOO_LARGE;
    }
    rules_status_track(r, z, tk, why);
}

void rules_status_blob(struct so_rules *r, struct zone_state *z, const struct socv_blob *bl,
                       enum so_status_why why)
{
    struct so_zone_status *zs = zone_of(r, z);
    if (!zs || !so_zone_mask_contains(z->zm, bl->x + bl->w / 2.0, bl->y + bl->h - 1)) {
        return;
    }
    const float *age = r->model ? so_static_model_age(r->model) : NULL;
    const int box[4] = {bl->x, bl->y, bl->w, bl->h};
    put(zs, box, "object", 1.0, -1, age ? rules_blob_rest_age(r, bl, age) : 0, why, false);
}

void rules_status_vehicle(struct so_rules *r, struct zone_state *z, const struct track *tr,
                          bool enforced, bool followed, bool silenced)
{
    struct so_zone_status *zs = zone_of(r, z);
    if (!zs) {
        return;
    }
    enum so_status_why why = !enforced  ? SO_WHY_NOT_ENFORCED
                             : silenced  ? SO_WHY_SILENCED
                             : !followed ? SO_WHY_CONFIRMING
                             : !tr->seen ? SO_WHY_UNSEEN
                                         : SO_WHY_COUNTS;
    put(zs, tr->box, tr->cls, tr->score, tr->id, r->status.media_s - tr->start_est, why, true);
    struct so_cand_status *c = NULL;
    for (int i = 0; i < zs->n_cands && !c; i++) {
        if (zs->cands[i].followed && zs->cands[i].track == tr->id) {
            c = &zs->cands[i];
        }
    }
    if (c) {
        c->ep_state = tr->ep.state;
        snprintf(c->ep_id, sizeof(c->ep_id), "%s", tr->ep.id);
        c->warned = tr->ep.warned_s >= 0;
    }
}

void rules_status_coverage(struct so_rules *r, struct zone_state *z, double occupancy,
                           const struct so_track *tracks, int n_tracks)
{
    struct so_zone_status *zs = zone_of(r, z);
    if (!zs) {
        return;
    }
    double now = r->status.media_s;
    zs->occupancy = occupancy;
    zs->ep_state = z->ep.state;
    snprintf(zs->ep_id, sizeof(zs->ep_id), "%s", z->ep.id);
    zs->warned = z->ep.warned_s >= 0;
    zs->age_s = z->ep.start_s >= 0 ? now - z->ep.start_s : 0;
    enum so_status_why base = !zs->enforced ? SO_WHY_NOT_ENFORCED : SO_WHY_COUNTS;
    const float *age = r->model ? so_static_model_age(r->model) : NULL;
    for (int b = 0; b < r->n_blobs && age; b++) {
        const struct socv_blob *bl = &r->blobs[b];
        if (!so_zone_mask_contains(z->zm, bl->x + bl->w / 2.0, bl->y + bl->h - 1)) {
            continue;
        }
        const struct so_track *tk = rules_blob_track(tracks, n_tracks, bl);
        const int box[4] = {bl->x, bl->y, bl->w, bl->h};
        put(zs, box, tk ? tk->cls : "object", tk ? tk->score : 1.0, tk ? tk->id : -1,
            rules_blob_rest_age(r, bl, age), base, false);
    }
    for (int k = 0; k < n_tracks; k++) {
        const struct so_track *tk = &tracks[k];
        if (tk->role == SO_ROLE_PERSON && tk->present && tk->stationary &&
            touches(z, &tk->box)) {
            put_track(zs, tk, now, SO_WHY_PERSON);
        }
    }
}
