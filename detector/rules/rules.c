/*
 * Why this file exists: it is where "something stays put" becomes "a violation in this zone".
 * Inputs are the static-age map (analysis/static_model) and the camera's zones; outputs are
 * episode reports. The per-pixel ages give both the decision (enough of the zone static for
 * long enough) and the start time (when that share came to rest), so a late confirmation does
 * not make a late start.
 *
 * Per frame: one static mask (age >= PRESENT_AGE_S, cleaned by a morphological open/close) and
 * one connected-component pass shared by all zones. Per-zone kinds read coverage from the mask;
 * vehicle kinds follow blobs of vehicle size and shape whose ground point lies in the zone,
 * matched frame to frame by overlap, each with its own episode.
 */
#include "rules.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "select.h"
#include "socv.h"
#include "zone_mask.h"

#define PRESENT_AGE_S 1.5       /* a pixel counts as occupied after resting this long */
#define MAX_BLOBS 128
#define RING_FRAMES 10          /* seconds of recent frames kept for "rest" evidence */
#define MAX_TRACKS 16
#define TRACK_FORGET_S 3.0
#define ORPHAN_S 10.0           /* a lost vehicle found again within this keeps its episode */
#define TRACK_CONFIRM_S 5.0     /* a track must be followed this long before it can open */      /* an unconfirmed track absent this long is dropped */
#define ABSENCE_LAG_S 1.0       /* the model needs this long to see a pixel is free again */
#define GHOST_MIN_AGE_S 3.0     /* blobs are judged light artefact or object once settled */
#define GHOST_MAX_AGE_S 6.0
#define GHOST_WINDOW_S 4.0      /* light changing this long before coming to rest counts */
#define DEPARTED_EDGE_RATIO 1.5 /* a blob whose outline is this much stronger in the background */
#define DEPARTED_EDGE_MIN 6.0   /* (plus this) than in the frame is what an object left behind */
#define VEHICLE_MIN_AREA 0.004  /* share of the frame */
#define NONMOTOR_MIN_AREA 0.0008

struct track {
    bool used;
    int id;
    int box[4];
    double start_est;
    double first_seen_s;
    double last_seen_s;
    bool seen;                  /* matched in the current frame */
    char cls[24];               /* "object" while class-agnostic */
    double score;
    struct so_episode ep;
    struct so_frame *rest;
};

struct zone_state {
    const struct so_zone_cfg *cfg;
    struct so_zone_mask *zm;
    struct so_episode ep;       /* per-zone kinds */
    struct so_frame *rest;
    struct track tracks[MAX_TRACKS];
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
    struct so_frame *ring[RING_FRAMES];  /* one recent frame a second, for "rest" evidence */
    int ring_head;
    double ring_next_s;
    struct so_frame *last;              /* the last frame processed ("after" image on reload) */
    const char *clear_reason;           /* reason of a cleared report; NULL = "left" */
};

/*
 * The frame closest after media time `t` among the last RING_FRAMES seconds (the moment an
 * object came to rest is known only a little later), else `fallback`. Borrowed.
 */
static struct so_frame *rest_frame(struct so_rules *r, double t, struct so_frame *fallback)
{
    struct so_frame *best = NULL;
    for (int i = 0; i < RING_FRAMES; i++) {
        struct so_frame *f = r->ring[i];
        if (f && f->media_s >= t - 0.5 && (!best || f->media_s < best->media_s)) {
            best = f;
        }
    }
    return best ? best : fallback;
}

static void ring_push(struct so_rules *r, struct so_frame *frame)
{
    if (frame->media_s < r->ring_next_s) {
        return;
    }
    r->ring_next_s = frame->media_s + 1.0;
    so_frame_unref(r->ring[r->ring_head]);
    r->ring[r->ring_head] = so_frame_ref(frame);
    r->ring_head = (r->ring_head + 1) % RING_FRAMES;
}

static bool per_vehicle(enum so_zone_kind k)
{
    return k == SO_ZONE_ILLEGAL_PARKING || k == SO_ZONE_NONMOTOR_PARKING;
}

void so_rules_destroy(struct so_rules *r)
{
    if (!r) {
        return;
    }
    for (size_t i = 0; i < r->n_zones; i++) {
        so_zone_mask_destroy(r->zones[i].zm);
        so_frame_unref(r->zones[i].rest);
        for (int t = 0; t < MAX_TRACKS; t++) {
            so_frame_unref(r->zones[i].tracks[t].rest);
        }
    }
    for (int i = 0; i < RING_FRAMES; i++) {
        so_frame_unref(r->ring[i]);
    }
    so_frame_unref(r->last);
    free(r->zones);
    free(r->mask);
    free(r->ghost);
    free(r->labels);
    free(r->buf);
    free(r);
}

struct so_rules *so_rules_create(const struct so_camera_cfg *camera, int width, int height,
                                 so_report_fn report, void *opaque)
{
    struct so_rules *r = calloc(1, sizeof(*r));
    if (!r) {
        return NULL;
    }
    size_t n = (size_t)width * height;
    r->cam = camera;
    r->w = width;
    r->h = height;
    r->report = report;
    r->opaque = opaque;
    r->n_zones = camera->n_zones;
    r->zones = calloc(camera->n_zones, sizeof(*r->zones));
    r->mask = malloc(n);
    r->ghost = malloc(n);
    r->labels = malloc(n * sizeof(int32_t));
    r->buf = malloc(n * sizeof(float));
    if (!r->zones || !r->mask || !r->ghost || !r->labels || !r->buf) {
        so_rules_destroy(r);
        return NULL;
    }
    for (size_t i = 0; i < camera->n_zones; i++) {
        struct zone_state *z = &r->zones[i];
        z->cfg = &camera->zones[i];
        so_episode_init(&z->ep);
        z->zm = so_zone_mask_create(&z->cfg->polygon, width, height);
        if (!z->zm) {
            so_rules_destroy(r);
            return NULL;
        }
    }
    return r;
}

/* Overlap of two boxes over the smaller one's area: a fragment of a vehicle's blob (half
 * occluded, or splitting as it pulls out) still matches the vehicle's track. */
static double overlap(const int a[4], const int b[4])
{
    int x0 = a[0] > b[0] ? a[0] : b[0];
    int y0 = a[1] > b[1] ? a[1] : b[1];
    int x1 = a[0] + a[2] < b[0] + b[2] ? a[0] + a[2] : b[0] + b[2];
    int y1 = a[1] + a[3] < b[1] + b[3] ? a[1] + a[3] : b[1] + b[3];
    if (x1 <= x0 || y1 <= y0) {
        return 0;
    }
    double inter = (double)(x1 - x0) * (y1 - y0);
    double small = (double)a[2] * a[3] < (double)b[2] * b[3] ? (double)a[2] * a[3]
                                                               : (double)b[2] * b[3];
    return inter / small;
}

static void emit(struct so_rules *r, struct zone_state *z, const struct so_episode *ep,
                 enum so_episode_action action, double occupancy, const struct so_object *objs,
                 int n_objs, struct so_frame *rest, struct so_frame *now)
{
    if (action == SO_EPISODE_NONE) {
        return;
    }
    struct so_report rep = {
        .action = action,
        .reason = action != SO_EPISODE_CLEARED_NOW ? NULL
                  : r->clear_reason ? r->clear_reason : "left",
        .camera = r->cam,
        .zone = z->cfg,
        .episode = ep,
        .zone_xy_n = z->zm->n,
        .zone_xy = z->zm->xy,
        .occupancy = occupancy,
        .rest = rest,
        .now = now,
    };
    rep.n_objects = n_objs > SO_REPORT_MAX_OBJECTS ? SO_REPORT_MAX_OBJECTS : n_objs;
    memcpy(rep.objects, objs, sizeof(*objs) * (size_t)rep.n_objects);
    r->report(r->opaque, &rep);
}

static double wall_at(const struct so_frame *f, double media)
{
    return f->wall_s - (f->media_s - media);
}

/* Per-zone kinds: coverage of static pixels. */
/* Share of box a covered by box b. */
static double covered_by(struct so_box a, struct so_box b)
{
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
    int y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    if (x1 <= x0 || y1 <= y0 || a.w <= 0 || a.h <= 0) {
        return 0;
    }
    return (double)(x1 - x0) * (y1 - y0) / ((double)a.w * a.h);
}

/* Is pixel (x, y) inside the box of a person at rest (people never start or make an episode)? */
static bool on_person(const struct so_track *tracks, int n_tracks, int x, int y)
{
    for (int k = 0; k < n_tracks; k++) {
        const struct so_box *b = &tracks[k].box;
        if (tracks[k].role == SO_ROLE_PERSON && tracks[k].present && x >= b->x &&
            x < b->x + b->w && y >= b->y && y < b->y + b->h) {
            return true;
        }
    }
    return false;
}

/* The track that best explains a static blob (most of the blob in its box), or NULL. */
static const struct so_track *blob_track(const struct so_track *tracks, int n_tracks,
                                         const struct socv_blob *bl)
{
    const struct so_track *best = NULL;
    double best_share = 0.3;
    struct so_box b = {bl->x, bl->y, bl->w, bl->h};
    for (int k = 0; k < n_tracks; k++) {
        if (!tracks[k].present || tracks[k].role == SO_ROLE_PERSON) {
            continue;
        }
        double share = covered_by(b, tracks[k].box);
        if (share > best_share) {
            best_share = share;
            best = &tracks[k];
        }
    }
    return best;
}

/*
 * Is the thing in box b in the zone: its ground point, the bottom-centre, inside, give or take
 * GROUND_JITTER of the box's size (a detector's box edges move by that much from one look to
 * the next, shadows and wheels included)? A vehicle already followed stays in while its ground
 * point is within GROUND_SLACK of the zone: a zone edge drawn along a parked car must not make
 * the car leave and come back as its box jitters.
 */
#define GROUND_JITTER 0.05
#define GROUND_SLACK 0.15

static bool grounded(const struct zone_state *z, const struct so_box *b, bool followed)
{
    double gx = b->x + b->w / 2.0, gy = b->y + b->h - 1;
    if (so_zone_mask_contains(z->zm, gx, gy)) {
        return true;
    }
    double slack = followed ? GROUND_SLACK : GROUND_JITTER;
    double dx = slack * b->w, dy = slack * b->h;
    return so_zone_mask_contains(z->zm, gx - dx, gy) || so_zone_mask_contains(z->zm, gx + dx, gy) ||
           so_zone_mask_contains(z->zm, gx, gy - dy) || so_zone_mask_contains(z->zm, gx, gy + dy);
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
            grounded(z, &tk->box, false)) {
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
        if (x >= b->x && x < b->x + b->w && y >= b->y && y < b->y + b->h &&
            now - cues[k]->rest_s > best) {
            best = now - cues[k]->rest_s;
        }
    }
    return best;
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

static void process_zone(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
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
    bool enforced = so_schedule_active(&zc->schedule, wall_at(frame, now));
    struct so_episode_params p = {zc->dwell_s, zc->report_interval_s, zc->clear_s};
    bool was_candidate = z->ep.state == SO_EPISODE_CANDIDATE && z->ep.start_s >= 0;
    enum so_episode_action a =
        so_episode_step(&z->ep, &p, now, present, start, now - ABSENCE_LAG_S, enforced);
    if (z->ep.state == SO_EPISODE_CANDIDATE) {
        if (z->ep.start_s >= 0 && !was_candidate) {
            so_frame_unref(z->rest);
            z->rest = so_frame_ref(rest_frame(r, z->ep.start_s, frame));
        } else if (z->ep.start_s < 0 && z->rest) {
            so_frame_unref(z->rest);
            z->rest = NULL;
        }
    }
    if (a == SO_EPISODE_NONE) {
        return;
    }
    /* Objects: the static blobs that lie in the zone, largest first. */
    struct so_object objs[SO_REPORT_MAX_OBJECTS];
    int n_objs = 0;
    for (int b = 0; b < r->n_blobs && n_objs < SO_REPORT_MAX_OBJECTS; b++) {
        const struct socv_blob *bl = &r->blobs[b];
        int cx = bl->x + bl->w / 2, cy = bl->y + bl->h / 2;
        if (!zm->mask[(size_t)cy * r->w + cx] &&
            !so_zone_mask_contains(zm, cx, bl->y + bl->h - 1)) {
            continue;
        }
        struct so_object *o = &objs[n_objs++];
        *o = (struct so_object){
            .cls = "object", .score = 1.0, .box = {bl->x, bl->y, bl->w, bl->h}, .track = -1};
        const struct so_track *tk = blob_track(tracks, n_tracks, bl);
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
                                  : zc->kind == SO_ZONE_STALL_ENCROACHMENT &&
                                        tk->role == SO_ROLE_PERSON && tk->stationary;
            if (!want || !tk->present || !grounded(z, &tk->box, false)) {
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
    emit(r, z, &z->ep, a, occupancy, objs, n_objs, z->rest, frame);
    if (a == SO_EPISODE_CLEARED_NOW) {
        so_frame_unref(z->rest);
        z->rest = NULL;
        so_episode_init(&z->ep);
    }
}

/* Age (seconds) that 75% of a blob's pixels have reached: when most of it came to rest. */
static double blob_rest_age(struct so_rules *r, const struct socv_blob *b, const float *age)
{
    int n = 0;
    for (int y = b->y; y < b->y + b->h; y++) {
        for (int x = b->x; x < b->x + b->w; x++) {
            size_t i = (size_t)y * r->w + x;
            if (r->labels[i] == b->label) {
                r->buf[n++] = age[i];
            }
        }
    }
    return n ? so_kth_largest(r->buf, n, (3 * n + 3) / 4) : 0;
}

/*
 * Advance the episode of every followed vehicle of a zone. `confirm_s`: how long a track must
 * be followed before it may open; `forget_s`: how long an unconfirmed one is kept unseen.
 */
static void step_tracks(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
                        double confirm_s, double forget_s)
{
    const struct so_zone_cfg *zc = z->cfg;
    double now = frame->media_s;
    bool enforced = so_schedule_active(&zc->schedule, wall_at(frame, now));
    struct so_episode_params p = {zc->dwell_s, zc->report_interval_s, zc->clear_s};
    for (int t = 0; t < MAX_TRACKS; t++) {
        struct track *tr = &z->tracks[t];
        if (!tr->used) {
            continue;
        }
        if (tr->ep.state != SO_EPISODE_OPEN && !tr->seen) {
            if (now - tr->last_seen_s >= forget_s) {
                so_frame_unref(tr->rest);
                *tr = (struct track){0};
            }
            continue;
        }
        /* A vehicle must be followed a few seconds before it can be confirmed, however old
         * its pixels: a blob that only now took a vehicle's shape (pieces of a car merging as
         * it pulls out) is gone before then. */
        bool followed = now - tr->first_seen_s >= confirm_s;
        enum so_episode_action a = so_episode_step(&tr->ep, &p, now, tr->seen, tr->start_est,
                                                   tr->last_seen_s, enforced && followed);
        if (a == SO_EPISODE_NONE) {
            continue;
        }
        struct so_object obj = {.score = tr->score, .track = tr->id};
        snprintf(obj.cls, sizeof(obj.cls), "%s", tr->cls);
        memcpy(obj.box, tr->box, sizeof(obj.box));
        emit(r, z, &tr->ep, a, -1, &obj, 1, tr->rest, frame);
        if (a == SO_EPISODE_CLEARED_NOW) {
            so_frame_unref(tr->rest);
            *tr = (struct track){0};
        }
    }
}

static void process_vehicles(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
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
        if (bl->area < min_area || bl->w < 0.7 * bl->h) {
            continue;   /* too small, or upright like a standing person */
        }
        double gx = bl->x + bl->w / 2.0, gy = bl->y + bl->h - 1;
        if (!so_zone_mask_contains(z->zm, gx, gy)) {
            continue;
        }
        int box[4] = {bl->x, bl->y, bl->w, bl->h};
        struct track *best = NULL;
        double best_overlap = 0.5;
        bool fragment = false;
        for (int t = 0; t < MAX_TRACKS; t++) {
            struct track *tr = &z->tracks[t];
            /* A vehicle often splits into pieces (windows, a pole in front): pieces within a
             * quarter of its size around its box belong to it. */
            int grown[4] = {tr->box[0] - tr->box[2] / 4, tr->box[1] - tr->box[3] / 4,
                            tr->box[2] + tr->box[2] / 2, tr->box[3] + tr->box[3] / 2};
            double o = tr->used ? overlap(grown, box) : 0;
            if (o >= best_overlap) {
                best_overlap = o;
                best = tr;
            }
        }
        if (best && best->seen) {
            fragment = true;    /* another piece of a vehicle already matched this frame */
        }
        double start = now - blob_rest_age(r, bl, age);
        if (!best) {
            for (int t = 0; t < MAX_TRACKS && !best; t++) {
                if (!z->tracks[t].used) {
                    best = &z->tracks[t];
                    *best = (struct track){.used = true, .id = r->next_track++,
                                           .first_seen_s = now};
                    so_episode_init(&best->ep);
                    best->rest = so_frame_ref(rest_frame(r, start, frame));
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
    step_tracks(r, z, frame, TRACK_CONFIRM_S, TRACK_FORGET_S);
}

/*
 * Artefacts absorbed into the background, judged on a static blob's outline once it has settled
 * (GHOST_MIN_AGE_S) and never after GHOST_MAX_AGE_S, so an established object is not dropped
 * later:
 * - light: it came to rest while the light over it was changing and its outline has no more
 *   edges in the frame than in the background (a vanished cast shadow, a contrast change);
 * - departed: its outline is much stronger in the background than in the frame. That is the
 *   ground an object uncovered when it left, where the object was part of the learnt background
 *   (a stall or a car already there at start-up: the warm-up median learnt it). An object put
 *   down brings its outline into the frame instead.
 */
static double blob_rest_age(struct so_rules *r, const struct socv_blob *b, const float *age);

/*
 * Mean edge strength along a blob's outline in the normalised frame and in the background. An
 * object put down brings its outline with it (frame edges); a vanished shadow or a contrast
 * change does not add edges (the background has as many or more). Returns false if the blob has
 * too little outline to judge.
 */
static bool outline_edges(struct so_rules *r, const struct socv_blob *b, const float *frame,
                          const float *bg, double *e_frame, double *e_bg)
{
    int w = r->w, h = r->h;
    double ef = 0, eb = 0;
    int n = 0;
    for (int y = b->y; y < b->y + b->h; y++) {
        for (int x = b->x; x < b->x + b->w; x++) {
            size_t i = (size_t)y * w + x;
            if (r->labels[i] != b->label || x < 2 || y < 2 || x >= w - 2 || y >= h - 2) {
                continue;
            }
            if (r->labels[i - 1] == b->label && r->labels[i + 1] == b->label &&
                r->labels[i - w] == b->label && r->labels[i + w] == b->label) {
                continue;   /* interior */
            }
            size_t dy = 2 * (size_t)w;
            ef += fabsf(frame[i + 2] - frame[i - 2]) + fabsf(frame[i + dy] - frame[i - dy]);
            eb += fabsf(bg[i + 2] - bg[i - 2]) + fabsf(bg[i + dy] - bg[i - dy]);
            n++;
        }
    }
    if (n < 8) {
        return false;
    }
    *e_frame = ef / n;
    *e_bg = eb / n;
    return true;
}

static void remove_light_artefacts(struct so_rules *r, struct so_static_model *model,
                                   double now)
{
    const float *age = so_static_model_age(model);
    const float *frame = so_static_model_frame(model);
    const float *bg = so_static_model_background(model);
    bool any = false;
    int kept = 0;
    for (int b = 0; b < r->n_blobs; b++) {
        const struct socv_blob *bl = &r->blobs[b];
        double rest = blob_rest_age(r, bl, age), e_frame = 0, e_bg = 0;
        if (rest < GHOST_MIN_AGE_S || rest > GHOST_MAX_AGE_S ||
            !outline_edges(r, bl, frame, bg, &e_frame, &e_bg)) {
            r->blobs[kept++] = *bl;
            continue;
        }
        bool departed = e_bg > DEPARTED_EDGE_RATIO * e_frame + DEPARTED_EDGE_MIN;
        bool light = !departed && e_frame <= 1.2 * e_bg + 4.0 &&
                     so_static_model_light_changed(model, bl->x, bl->y, bl->w, bl->h,
                                                   now - rest - GHOST_WINDOW_S, now - rest + 1.0);
        if (!departed && !light) {
            r->blobs[kept++] = *bl;
            continue;
        }
        if (!any) {
            memset(r->ghost, 0, (size_t)r->w * r->h);
            any = true;
        }
        for (int y = bl->y; y < bl->y + bl->h; y++) {
            for (int x = bl->x; x < bl->x + bl->w; x++) {
                size_t i = (size_t)y * r->w + x;
                /* Only what came to rest with it: an older object the artefact has merged
                 * with (goods on a lawn a cloud darkens) keeps its age. */
                if (r->labels[i] == bl->label && age[i] <= GHOST_MAX_AGE_S + GHOST_WINDOW_S) {
                    r->ghost[i] = 255;
                    r->mask[i] = 0;
                    r->labels[i] = 0;
                }
            }
        }
        so_debug(r->cam->id, "blob at %d,%d %dx%d %s (edges %.1f, background %.1f): absorbed",
                 bl->x, bl->y, bl->w, bl->h,
                 departed ? "is background an object left from (its outline is in the "
                            "background, not in the frame)"
                          : "came to rest while the light changed and brought no outline",
                 e_frame, e_bg);
    }
    r->n_blobs = kept;
    if (any) {
        so_static_model_absorb(model, r->ghost);
    }
}

static int cmp_blob_area(const void *a, const void *b)
{
    const struct socv_blob *x = a, *y = b;
    return (y->area > x->area) - (y->area < x->area);
}

/* Share of box a covered by the union of the other boxes (sampled on a grid). */
static double covered_by_others(const struct so_track *const *c, int n, int self)
{
    struct so_box a = c[self]->box;
    int hit = 0, total = 0;
    for (int j = 0; j < 8; j++) {
        for (int i = 0; i < 8; i++) {
            double x = a.x + (i + 0.5) * a.w / 8, y = a.y + (j + 0.5) * a.h / 8;
            total++;
            for (int k = 0; k < n; k++) {
                struct so_box b = c[k]->box;
                if (k != self && x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h) {
                    hit++;
                    break;
                }
            }
        }
    }
    return (double)hit / total;
}

/*
 * One vehicle, one episode. Detectors on a row of parked cars give, besides one box per car,
 * boxes that straddle two cars, and now and then a second track on the same car. A box that
 * the other boxes mostly cover (>= 70%, with two or more of them) is a straddling
 * box and goes; of two boxes that mostly cover one another (>= 70% of the smaller) the older
 * track stays. Vehicles already followed (`followed`) are never dropped: the choice is made
 * once, when a vehicle comes to rest, and sticks. Returns the number kept (in place).
 */
static int dedupe_vehicles(const struct so_track **c, int n, const bool *followed)
{
    bool drop[SO_TRACK_MAX] = {false};
    for (int i = 0; i < n; i++) {
        if (followed[i]) {
            continue;   /* a vehicle already followed keeps its episode */
        }
        int overlaps = 0;
        for (int k = 0; k < n; k++) {
            overlaps += k != i && covered_by(c[i]->box, c[k]->box) > 0.1;
        }
        drop[i] = overlaps >= 2 && covered_by_others(c, n, i) >= 0.7;
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < n && !drop[i] && !followed[i]; k++) {
            if (k == i || drop[k]) {
                continue;
            }
            struct so_box a = c[i]->box, b = c[k]->box;
            double small = (double)a.w * a.h < (double)b.w * b.h ? covered_by(a, b)
                                                                  : covered_by(b, a);
            bool first = followed[k] || c[k]->first_s < c[i]->first_s ||
                         (c[k]->first_s == c[i]->first_s && c[k]->id < c[i]->id);
            if (small >= 0.7 && first) {
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
 * covered by it (>= 70% of the smaller box): the same vehicle seen as another spot. */
static const struct so_track *same_vehicle(const struct so_track *const *c, int n,
                                           const struct so_track *tk)
{
    for (int i = 0; i < n; i++) {
        if (c[i] == tk || !c[i]->present || !c[i]->stationary) {
            continue;
        }
        struct so_box a = tk->box, b = c[i]->box;
        double small = (double)a.w * a.h < (double)b.w * b.h ? covered_by(a, b)
                                                              : covered_by(b, a);
        if (small >= 0.7) {
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
        if (!sl->used) {
            continue;
        }
        bool alive = false;
        for (int k = 0; k < n_tracks && !alive; k++) {
            alive = tracks[k].id == sl->id;
        }
        struct so_box b = {sl->box[0], sl->box[1], sl->box[2], sl->box[3]};
        double small = (double)b.w * b.h < (double)tk->box.w * tk->box.h
                           ? covered_by(b, tk->box) : covered_by(tk->box, b);
        if (!alive && small >= 0.7 && tk->first_s - sl->last_seen_s <= ORPHAN_S) {
            return sl;
        }
    }
    return NULL;
}

/*
 * Vehicle zones with an object detector: one episode per stationary vehicle track (role
 * vehicle for illegal_parking, non-motor for nonmotor_parking) whose ground point is in the
 * zone; start = when the track came to rest (its first sighting for a car parked before the
 * detector started).
 */
static void process_tracked(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
                            const struct so_track *tracks, int n_tracks)
{
    const struct so_zone_cfg *zc = z->cfg;
    double now = frame->media_s;
    enum so_role want = zc->kind == SO_ZONE_ILLEGAL_PARKING ? SO_ROLE_VEHICLE : SO_ROLE_NONMOTOR;
    for (int t = 0; t < MAX_TRACKS; t++) {
        z->tracks[t].seen = false;
    }
    const struct so_track *cand[SO_TRACK_MAX];
    bool followed[SO_TRACK_MAX];
    int n_cand = 0;
    for (int k = 0; k < n_tracks && n_cand < SO_TRACK_MAX; k++) {
        const struct so_track *tk = &tracks[k];
        if (tk->role != want || !zone_accepts(zc, tk)) {
            continue;
        }
        bool known = false;
        for (int t = 0; t < MAX_TRACKS && !known; t++) {
            known = z->tracks[t].used && z->tracks[t].id == tk->id;
        }
        if (!grounded(z, &tk->box, known)) {
            continue;
        }
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
        struct track *slot = NULL;
        for (int t = 0; t < MAX_TRACKS && !slot; t++) {
            if (z->tracks[t].used && z->tracks[t].id == tk->id) {
                slot = &z->tracks[t];
            }
        }
        if (!slot) {
            if (!tk->stationary || !tk->present) {
                continue;
            }
            /* The tracker lost a parked vehicle and found it again under a new id: the
             * vehicle's episode goes on with it. */
            slot = orphan_slot(z, tk, tracks, n_tracks);
            if (slot) {
                so_debug(r->cam->id, "zone %s: track %d takes over from lost track %d", zc->id,
                         tk->id, slot->id);
                slot->id = tk->id;
            }
        }
        if (!slot) {
            if (!tk->stationary || !tk->present) {
                continue;
            }
            for (int t = 0; t < MAX_TRACKS && !slot; t++) {
                if (!z->tracks[t].used) {
                    slot = &z->tracks[t];
                    *slot = (struct track){.used = true, .id = tk->id, .first_seen_s = now,
                                           .start_est = tk->rest_s};
                    so_debug(r->cam->id, "zone %s follows %s track %d at %d,%d %dx%d (at rest "
                             "since %.1f s)", zc->id, tk->cls, tk->id, tk->box.x, tk->box.y,
                             tk->box.w, tk->box.h, tk->rest_s);
                    so_episode_init(&slot->ep);
                    slot->rest = so_frame_ref(rest_frame(r, tk->rest_s, frame));
                }
            }
            if (!slot) {
                continue;
            }
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
    step_tracks(r, z, frame, 0.0, ORPHAN_S);
}

/* The box the mask's open/close and components run on: what is at rest, grown and aligned. */
#define MASK_MARGIN 8
#define MASK_ALIGN 8

void so_rules_process(struct so_rules *r, struct so_frame *frame, struct so_static_model *model,
                      const struct so_track *tracks, int n_tracks)
{
    const float *age = so_static_model_age(model);
    size_t n = (size_t)r->w * r->h;
    ring_push(r, frame);
    so_frame_unref(r->last);
    r->last = so_frame_ref(frame);
    /* The mask, and the rows and columns where it has anything. */
    int x0 = r->w, x1 = -1, y0 = r->h, y1 = -1;
    for (int y = 0; y < r->h; y++) {
        const float *a = age + (size_t)y * r->w;
        uint8_t *m = r->mask + (size_t)y * r->w;
        bool row = false;
        for (int x = 0; x < r->w; x++) {
            bool on = a[x] >= PRESENT_AGE_S;
            m[x] = on ? 255 : 0;
            row |= on;
        }
        if (row) {
            int first = 0, last = r->w - 1;
            while (!m[first]) {
                first++;
            }
            while (!m[last]) {
                last--;
            }
            x0 = first < x0 ? first : x0;
            x1 = last > x1 ? last : x1;
            y0 = y < y0 ? y : y0;
            y1 = y;
        }
    }
    /*
     * Nothing at rest (most frames of most cameras): the open/close of an empty mask is empty
     * and it has no components, so both are skipped. The labels are only read for blobs, and
     * there are none. Otherwise both run on the box of what is at rest, grown by MASK_MARGIN and
     * aligned to MASK_ALIGN: the same result as on the whole mask (an opening and a closing of 3
     * and 5 pixels reach 4 pixels beyond the box, and the labeller's 2x2 blocks and scan order
     * are those of the whole mask), at the cost of the box. Labels outside it are stale, and no
     * blob reaches there.
     */
    r->n_blobs = 0;
    if (x1 >= 0) {
        x0 = (x0 - MASK_MARGIN > 0 ? x0 - MASK_MARGIN : 0) / MASK_ALIGN * MASK_ALIGN;
        y0 = (y0 - MASK_MARGIN > 0 ? y0 - MASK_MARGIN : 0) / MASK_ALIGN * MASK_ALIGN;
        x1 = x1 + MASK_MARGIN < r->w - 1 ? x1 + MASK_MARGIN : r->w - 1;
        y1 = y1 + MASK_MARGIN < r->h - 1 ? y1 + MASK_MARGIN : r->h - 1;
        size_t at = (size_t)y0 * r->w + x0;
        struct socv_view mv = {r->mask + at, x1 - x0 + 1, y1 - y0 + 1, r->w, 1};
        socv_mask_open_close(&mv, 3, 5);
        int min_blob = (int)(0.0002 * (double)n);
        if (socv_mask_components(&mv, r->labels + at, r->w, min_blob > 4 ? min_blob : 4,
                                 r->blobs, MAX_BLOBS, &r->n_blobs) != SOCV_OK) {
            so_warn(r->cam->id, "connected components failed: %s", socv_last_error());
            r->n_blobs = 0;
        }
        for (int i = 0; i < r->n_blobs; i++) {
            r->blobs[i].x += x0;
            r->blobs[i].y += y0;
        }
    }
    /* Largest first: a vehicle's main blob claims its track before its fragments do. */
    qsort(r->blobs, (size_t)r->n_blobs, sizeof(r->blobs[0]), cmp_blob_area);
    remove_light_artefacts(r, model, frame->media_s);
    for (size_t i = 0; i < r->n_zones; i++) {
        struct zone_state *z = &r->zones[i];
        if (per_vehicle(z->cfg->kind) && tracks) {
            process_tracked(r, z, frame, tracks, n_tracks);
        } else if (per_vehicle(z->cfg->kind)) {
            process_vehicles(r, z, frame, age);
        } else {
            process_zone(r, z, frame, age, tracks, n_tracks);
        }
    }
}

int so_rules_open_count(const struct so_rules *r)
{
    int n = 0;
    for (size_t i = 0; i < r->n_zones; i++) {
        const struct zone_state *z = &r->zones[i];
        n += z->ep.state == SO_EPISODE_OPEN;
        for (int t = 0; t < MAX_TRACKS; t++) {
            n += z->tracks[t].used && z->tracks[t].ep.state == SO_EPISODE_OPEN;
        }
    }
    return n;
}

/*
 * Reload (detector/app/run.c): the camera's zones change while it runs. A zone keeps its state
 * (episode, tracks, rest frame) when the new set has a zone with the same id and kind; its other
 * settings apply from the next frame (a new polygon gets a new mask). Any other zone that goes
 * away closes its open episodes at the last frame processed, reason "zone_removed", with that
 * frame as the "after" image; new zones start with nothing seen. The masks are built before
 * anything changes, so a failure leaves the rules as they were.
 */
static void zone_state_finish(struct zone_state *z)
{
    so_zone_mask_destroy(z->zm);
    so_frame_unref(z->rest);
    for (int t = 0; t < MAX_TRACKS; t++) {
        so_frame_unref(z->tracks[t].rest);
    }
}

static void close_removed_zone(struct so_rules *r, struct zone_state *z)
{
    if (!r->last) {
        return;     /* no frame processed yet: nothing can be open */
    }
    double now = r->last->media_s;
    struct so_object none[1];
    r->clear_reason = "zone_removed";
    if (so_episode_force_clear(&z->ep, now) == SO_EPISODE_CLEARED_NOW) {
        emit(r, z, &z->ep, SO_EPISODE_CLEARED_NOW, -1, none, 0, z->rest, r->last);
        so_info(r->cam->id, "zone %s removed: episode %s cleared", z->cfg->id, z->ep.id);
    }
    for (int t = 0; t < MAX_TRACKS; t++) {
        struct track *tr = &z->tracks[t];
        if (!tr->used || so_episode_force_clear(&tr->ep, now) != SO_EPISODE_CLEARED_NOW) {
            continue;
        }
        struct so_object obj = {.score = tr->score, .track = tr->id};
        snprintf(obj.cls, sizeof(obj.cls), "%s", tr->cls);
        memcpy(obj.box, tr->box, sizeof(obj.box));
        emit(r, z, &tr->ep, SO_EPISODE_CLEARED_NOW, -1, &obj, 1, tr->rest, r->last);
        so_info(r->cam->id, "zone %s removed: episode %s cleared", z->cfg->id, tr->ep.id);
    }
    r->clear_reason = NULL;
}

int so_rules_set_camera(struct so_rules *r, const struct so_camera_cfg *camera)
{
    size_t n = camera ? camera->n_zones : 0;
    struct zone_state *nz = calloc(n ? n : 1, sizeof(*nz));
    int *from = malloc((n ? n : 1) * sizeof(*from));
    bool *kept = calloc(r->n_zones ? r->n_zones : 1, sizeof(*kept));
    if (!nz || !from || !kept) {
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const struct so_zone_cfg *zc = &camera->zones[i];
        from[i] = -1;
        for (size_t j = 0; j < r->n_zones && from[i] < 0; j++) {
            const struct so_zone_cfg *old = r->zones[j].cfg;
            if (!kept[j] && old->kind == zc->kind && strcmp(old->id, zc->id) == 0) {
                from[i] = (int)j;
                kept[j] = true;
            }
        }
        if (from[i] < 0 || !so_polygon_equal(&r->zones[from[i]].cfg->polygon, &zc->polygon)) {
            nz[i].zm = so_zone_mask_create(&zc->polygon, r->w, r->h);
            if (!nz[i].zm) {
                goto fail;
            }
        }
    }
    /* Nothing fails from here on. */
    for (size_t j = 0; j < r->n_zones; j++) {
        if (!kept[j]) {
            close_removed_zone(r, &r->zones[j]);
            zone_state_finish(&r->zones[j]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct so_zone_mask *zm = nz[i].zm;
        if (from[i] >= 0) {
            nz[i] = r->zones[from[i]];
            if (zm) {
                so_zone_mask_destroy(nz[i].zm);
                nz[i].zm = zm;
            }
        } else {
            so_episode_init(&nz[i].ep);
        }
        nz[i].cfg = &camera->zones[i];
    }
    free(r->zones);
    r->zones = nz;
    r->n_zones = n;
    if (camera) {
        r->cam = camera;
    }
    free(from);
    free(kept);
    return 0;
fail:
    for (size_t i = 0; nz && i < n; i++) {
        so_zone_mask_destroy(nz[i].zm);
    }
    free(nz);
    free(from);
    free(kept);
    return -ENOMEM;
}
