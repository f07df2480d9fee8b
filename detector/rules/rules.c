/*
 * Why this file exists: it is where "something stays put" becomes "a violation in this zone".
 * Inputs are the static-age map (analysis/static_model), the object tracker's tracks when a
 * model runs, and the camera's zones; outputs are episode reports. This file is the frame loop
 * and the bookkeeping around it: the zone states (created, carried over or closed on reload),
 * the reports, and a ring of recent frames for the "rest" image of an episode. The rules
 * themselves live beside it, one concept a file (rules_impl.h has the map):
 *
 * Per frame: one mask of what is at rest and its blobs, shared by all zones (rest_mask.c); then
 * each zone by its kind: coverage of the zone (coverage.c), or one episode per vehicle, on the
 * tracker's tracks (vehicles.c) or, without a model, on static blobs (vehicle_blobs.c).
 */
#include "rules_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define RING_PERIOD_S 1.0       /* the ring keeps one frame per this much media time */
#define REST_EARLY_S 0.5        /* a ring frame this much before the rest estimate still shows
                                 * the object at rest (the estimate is not to the frame) */

/*
 * The frame closest after media time `t` among the last RING_FRAMES seconds (the moment an
 * object came to rest is known only a little later), else `fallback`. A new reference.
 */
struct so_frame *rules_rest_frame(struct so_rules *r, double t, struct so_frame *fallback)
{
    const struct so_frame_compact *best = NULL;
    for (int i = 0; i < RING_FRAMES; i++) {
        const struct so_frame_compact *c = &r->ring[i];
        if (c->gray && c->media_s >= t - REST_EARLY_S && (!best || c->media_s < best->media_s)) {
            best = c;
        }
    }
    struct so_frame *f = best ? so_frame_compact_expand(best) : NULL;
    return f ? f : so_frame_ref(fallback);
}

struct so_frame *rules_frame_before(struct so_rules *r, double t)
{
    const struct so_frame_compact *best = NULL;
    for (int i = 0; i < RING_FRAMES; i++) {
        const struct so_frame_compact *c = &r->ring[i];
        if (c->gray && c->media_s <= t && (!best || c->media_s > best->media_s)) {
            best = c;
        }
    }
    return best ? so_frame_compact_expand(best) : NULL;
}

/* Keep a compact copy of one frame a second (not a reference: the ring would hold ten of the
 * source's frames at 4 bytes a pixel, 8.8 MiB a camera at 640x360; compact, 3.3 MiB). */
static void ring_push(struct so_rules *r, const struct so_frame *frame)
{
    if (frame->media_s < r->ring_next_s) {
        return;
    }
    r->ring_next_s = frame->media_s + RING_PERIOD_S;
    if (!so_frame_compact_keep(&r->ring[r->ring_head], frame)) {
        so_warn(r->cam->id, "out of memory for the recent-frame ring; rest images fall back to "
                "the current frame");
    }
    r->ring_head = (r->ring_head + 1) % RING_FRAMES;
}

static bool per_vehicle(enum so_zone_kind k)
{
    return k == SO_ZONE_ILLEGAL_PARKING || k == SO_ZONE_NONMOTOR_PARKING;
}

/* A zone state with nothing seen (its mask and config are the caller's). */
static void zone_state_start(struct zone_state *z)
{
    so_episode_init(&z->ep);
    z->gone_s = z->forgot_s = -1;
}

/* Release what a zone state holds (its mask, its frame references, its places). */
static void zone_state_finish(struct zone_state *z)
{
    so_zone_mask_destroy(z->zm);
    so_frame_unref(z->rest);
    rules_zone_places_drop(z);
    for (int t = 0; t < MAX_TRACKS; t++) {
        rules_track_reset(&z->tracks[t]);
    }
}

void so_rules_destroy(struct so_rules *r)
{
    if (!r) {
        return;
    }
    for (size_t i = 0; i < r->n_zones; i++) {
        zone_state_finish(&r->zones[i]);
    }
    for (int i = 0; i < RING_FRAMES; i++) {
        so_frame_compact_clear(&r->ring[i]);
    }
    so_frame_unref(r->last);
    rules_gates_finish(r);
    free(r->zones);
    free(r->status.zones);
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
        zone_state_start(z);
        z->zm = so_zone_mask_create(&z->cfg->polygon, width, height);
        if (!z->zm) {
            so_rules_destroy(r);
            return NULL;
        }
    }
    return r;
}

void rules_emit(struct so_rules *r, struct zone_state *z, const struct so_episode *ep,
                enum so_episode_action action, const char *reason, double occupancy,
                const struct so_object *objs, int n_objs, struct so_frame *rest,
                struct so_frame *now)
{
    if (action == SO_EPISODE_NONE) {
        return;
    }
    struct so_report rep = {
        .action = action,
        .reason = so_episode_ended(action) ? reason : NULL,
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

double rules_wall_at(const struct so_frame *f, double media)
{
    return f->wall_s - (f->media_s - media);
}

/*
 * Is the thing in box b in the zone? By the share of its ground footprint inside the polygon,
 * not by one point (issue 14): seen from a mast a box is the thing's whole silhouette, and its
 * bottom edge is the part nearest the camera, not where it stands. The footprint is the lower
 * FOOTPRINT_HEIGHT of the box (a car's body down to its wheels; a bag, a table's legs). A thing
 * is in when at least FOOTPRINT_IN of its footprint is; one already followed stays in while at
 * least FOOTPRINT_STAY is, so a box that jitters across the edge never flaps in and out. A
 * neighbour that only touches the edge has a sliver of its footprint inside: out.
 */
#define FOOTPRINT_HEIGHT 0.4
#define FOOTPRINT_IN 0.5
#define FOOTPRINT_STAY 0.25

/*
 * A thing seen gone: its place is learnt as background again at once, so that what the static
 * model still holds there (the ground it uncovered, under a light that changed while it stood:
 * the IR switch, a new exposure) does not stay at rest, or come to rest as a new object of the
 * same age.
 */
void rules_forget_box(struct so_rules *r, struct so_box box)
{
    if (!r->model) {
        return;
    }
    /* The box grown by a quarter of its size each side: its shadow, its fragments. */
    struct so_box grown = {box.x - box.w / 4, box.y - box.h / 4, box.w + box.w / 2,
                           box.h + box.h / 2};
    struct so_box b = so_box_clip(grown, r->w, r->h);
    memset(r->ghost, 0, (size_t)r->w * r->h);
    for (int y = b.y; y < b.y + b.h; y++) {
        memset(r->ghost + (size_t)y * r->w + b.x, 255, (size_t)b.w);
    }
    so_static_model_absorb(r->model, r->ghost);
}

bool rules_grounded(const struct zone_state *z, const struct so_box *b, bool followed)
{
    int fh = (int)(b->h * FOOTPRINT_HEIGHT + 0.5);
    fh = fh < 1 ? 1 : fh;
    double share = so_zone_mask_share(z->zm, b->x, b->y + b->h - fh, b->w, fh);
    return share >= (followed ? FOOTPRINT_STAY : FOOTPRINT_IN);
}

void so_rules_process(struct so_rules *r, struct so_frame *frame, struct so_static_model *model,
                      const struct so_track *tracks, int n_tracks)
{
    const float *age = so_static_model_age(model);
    ring_push(r, frame);
    so_frame_unref(r->last);
    r->last = so_frame_ref(frame);
    r->model = model;
    rules_status_begin(r, frame);
    rules_gates_step(r, frame);
    rules_rest_mask(r, model, frame->media_s);
    for (size_t i = 0; i < r->n_zones; i++) {
        struct zone_state *z = &r->zones[i];
        if (per_vehicle(z->cfg->kind)) {
            for (int t = 0; t < MAX_TRACKS; t++) {
                z->tracks[t].seen = false;
            }
            if (tracks) {
                rules_vehicles_tracked(r, z, frame, tracks, n_tracks);
            }
            rules_vehicles_blob_marks(r, z, frame, age, tracks, n_tracks);
            rules_vehicles_step(r, z, frame);
        } else {
            rules_zone_coverage(r, z, frame, age, tracks, n_tracks);
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
void rules_close_zone(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
                      const char *reason)
{
    double now = frame->media_s;
    struct so_object none[1];
    enum so_episode_action a = so_episode_force_clear(&z->ep, now);
    if (a != SO_EPISODE_NONE) {
        rules_emit(r, z, &z->ep, a, reason, -1, none, 0, z->rest, frame);
        so_info(r->cam->id, "zone %s: episode %s %s (%s)", z->cfg->id, z->ep.id,
                a == SO_EPISODE_CLEARED_NOW ? "cleared" : "warning cleared", reason);
        so_frame_unref(z->rest);
        z->rest = NULL;
        rules_zone_places_drop(z);
        so_episode_init(&z->ep);
    }
    for (int t = 0; t < MAX_TRACKS; t++) {
        struct track *tr = &z->tracks[t];
        a = tr->used ? so_episode_force_clear(&tr->ep, now) : SO_EPISODE_NONE;
        if (a == SO_EPISODE_NONE) {
            continue;
        }
        struct so_object obj = rules_track_object(tr);
        rules_emit(r, z, &tr->ep, a, reason, -1, &obj, 1, tr->rest, frame);
        so_info(r->cam->id, "zone %s: episode %s %s (%s)", z->cfg->id, tr->ep.id,
                a == SO_EPISODE_CLEARED_NOW ? "cleared" : "warning cleared", reason);
    }
}

static void close_removed_zone(struct so_rules *r, struct zone_state *z)
{
    if (r->last) {  /* no frame processed yet: nothing can be open */
        rules_close_zone(r, z, r->last, REASON_ZONE_REMOVED);
    }
}

void so_rules_view_changed(struct so_rules *r, struct so_frame *frame)
{
    for (size_t i = 0; r && i < r->n_zones; i++) {
        rules_close_zone(r, &r->zones[i], frame, REASON_VIEW_CHANGED);
    }
}

/* A place moved with the scene (its looks are samples of its box: they move with it). */
static void place_moved(struct so_place *p, int dx, int dy, int w, int h)
{
    p->box = so_box_moved(p->box, dx, dy, w, h);
}

void so_rules_translate(struct so_rules *r, int dx, int dy)
{
    for (size_t i = 0; r && i < r->n_zones; i++) {
        struct zone_state *z = &r->zones[i];
        for (int k = 0; k < z->n_places; k++) {
            place_moved(&z->places[k].place, dx, dy, r->w, r->h);
        }
        for (int t = 0; t < MAX_TRACKS; t++) {
            struct track *tr = &z->tracks[t];
            if (!tr->used) {
                continue;
            }
            struct so_box b = so_box_moved((struct so_box){tr->box[0], tr->box[1], tr->box[2],
                                                           tr->box[3]},
                                           dx, dy, r->w, r->h);
            memcpy(tr->box, (int[4]){b.x, b.y, b.w, b.h}, sizeof(tr->box));
            place_moved(&tr->place, dx, dy, r->w, r->h);
        }
    }
    for (int g = 0; r && g < r->n_gates; g++) {
        place_moved(&r->gates[g].place, dx, dy, r->w, r->h);
    }
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
            zone_state_start(&nz[i]);
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
