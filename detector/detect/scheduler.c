/*
 * Detection on demand: when the network looks, and at what.
 *
 * The network is by far the largest cost of a camera (docs/performance.md), and most of the
 * time a street does not need it: a parked car stays parked, and the tracker follows it on
 * appearance alone (resting objects whose crop still matches count as seen). So detector ticks
 * come at the camera's detect_fps (by media time, so --fast runs are deterministic) and on each
 * tick the network looks at a region (the whole analysis frame, or a close-up around a small
 * vehicle zone: set_zones) only when something there needs it:
 * - the first STARTUP_PASSES ticks (objects already in place: a car parked before the start);
 * - something the tracker does not know came to rest around a zone (the watched areas): at
 *   least NEW_REST_CELLS cells of 8x8 pixels mostly of a stationary age between NEW_REST_MIN_S
 *   and NEW_REST_MAX_S; then on every tick for BURST_S more, so the tracker can establish what
 *   it is;
 * - the tracker asks for it (so_tracker_pending): a resting object being established, or a
 *   known one in doubt (missed, and its crop no longer matches); with `decode: keyframes`
 *   (zones of slow rules only, a look per key frame at most) not for people being
 *   established: the rules wait for vehicles, goods and stalls there, and on a busy street
 *   walkers kept the network looking at every key frame (bench: 30 of 30 -> 14 of 30); at
 *   full decode not for a person whose box is not at rest (resting(): a walker who slowed
 *   down; bench 58 -> 46 of 60); and only for things that meet a zone's surroundings
 *   (near_zone): what lies elsewhere in the view changes no verdict (stall_day 210 -> 177
 *   looks, goods_clouds 71 -> 33; same episodes);
 * - at least every REFRESH_S, whatever happens.
 * A thing inside a close-up is looked at through the close-up only (it sees small things
 * better). The budget is detect_fps looks a second, whatever the close-ups: a tick may spend
 * what the time since the previous tick earned (one look at full decode; two per key frame
 * with `decode: keyframes` at 1 fps and a GOP of 2 s), at least one. When the regions needed
 * are more than that, those looked at longest ago go first; the others wait for the next tick
 * and the tracker holds their things meanwhile (so_tracker_update's `held`).
 *
 * Why a module of its own: this is policy, and it was tangled with the camera's threads in
 * app/run.c. The decision (so_scheduler_decide) takes what the frame offers as plain data and
 * calls nothing, so tests/unit/test_scheduler.c checks each reason for a look, the budget and
 * the close-ups without a network; so_scheduler_frame() is the only part that talks to the
 * detector, the tracker and the static model. It sits above detector.c and tracker.c (it drives
 * both) and sees no camera thread: the app hands it a stop predicate.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "log.h"
#include "scheduler.h"
#include "static_model.h"
#include "tracker.h"
#include "xalloc.h"

#define MAX_DETECTIONS 128
#define MAX_MOVING_SHARE 0.25       /* a vehicle box over more moving pixels than this is traffic */
#define STARTUP_PASSES 5
#define NEW_REST_MIN_S 1.0f
#define NEW_REST_MAX_S 3.0f
#define REST_CELL 8
#define NEW_REST_CELLS 2
#define BURST_S 3.0
#define PERSON_REST_SHARE 0.25      /* a person's box this much at rest: standing, not walking */
#define REFRESH_S 10.0
#define ROI_MIN_SIDE 128.0          /* a close-up is the zone's box grown twice, at least this */
#define ROI_MAX_SHARE 0.4           /* zones whose close-up would cover more: the whole frame */

struct so_scheduler {
    const char *id;                 /* camera id, for log lines */
    double detect_fps;
    bool keyframes;
    int width, height;              /* the analysis frame the regions were planned for */
    struct so_box rois[SO_SCHED_MAX_ROIS];      /* close-up regions around small vehicle zones */
    int n_rois;
    struct so_box watch[SO_SCHED_MAX_WATCH];    /* zone surroundings watched for things at rest */
    int n_watch;
    double next_detect_s;           /* media time of the next tick */
    double last_tick_s;             /* media time of the last tick */
    double last_pass_s;             /* media time of the last network pass */
    double last_look_s[SO_SCHED_MAX_REGIONS];   /* per region: media time of its last look */
    double burst_until_s[SO_SCHED_MAX_REGIONS]; /* per region: look on every tick until then */
    unsigned deferred;              /* regions needed on this tick but left for the next */
    struct so_sched_stats stats;
    struct so_detection shown[SO_SCHED_MAX_SHOWN];  /* the last look's detections (console) */
    int n_shown;
    double shown_s;                 /* media time of that look, -1 before one */
};

struct so_scheduler *so_scheduler_create(const char *id, double detect_fps, bool keyframes)
{
    struct so_scheduler *s = so_xcalloc(1, sizeof(*s));
    s->id = id;
    s->detect_fps = detect_fps;
    s->keyframes = keyframes;
    s->shown_s = -1;
    return s;
}

void so_scheduler_destroy(struct so_scheduler *s)
{
    free(s);
}

/*
 * Close-ups: the detector sees a fixed-size input (320x320 for the small models), so a vehicle
 * zone that covers a small part of the frame gets a second pass on a region around it (the
 * zone's box grown to twice its size, at least ROI_MIN_SIDE px a side): distant parked cars
 * become big enough to be found. Zones that cover much of the frame are served by the
 * whole-frame pass.
 */
static void plan_rois(struct so_scheduler *s, const struct so_camera_cfg *cam, int width,
                      int height)
{
    s->n_rois = 0;
    for (size_t i = 0; i < cam->n_zones && s->n_rois < SO_SCHED_MAX_ROIS; i++) {
        const struct so_zone_cfg *z = &cam->zones[i];
        if (z->kind != SO_ZONE_ILLEGAL_PARKING && z->kind != SO_ZONE_NONMOTOR_PARKING) {
            continue;
        }
        double x0, y0, x1, y1;
        so_polygon_bounds(&z->polygon, &x0, &y0, &x1, &y1);
        double w = (x1 - x0) * width, h = (y1 - y0) * height;
        double side_w = w * 2 > ROI_MIN_SIDE ? w * 2 : ROI_MIN_SIDE;
        double side_h = h * 2 > ROI_MIN_SIDE ? h * 2 : ROI_MIN_SIDE;
        if (side_w * side_h > ROI_MAX_SHARE * width * height) {
            continue;
        }
        double cx = (x0 + x1) / 2 * width, cy = (y0 + y1) / 2 * height;
        int rx = (int)(cx - side_w / 2), ry = (int)(cy - side_h / 2);
        int rw = (int)side_w, rh = (int)side_h;
        rx = rx < 0 ? 0 : (rx + rw > width ? width - rw : rx);
        ry = ry < 0 ? 0 : (ry + rh > height ? height - rh : ry);
        rx = rx < 0 ? 0 : rx;
        ry = ry < 0 ? 0 : ry;
        rw = rw > width ? width : rw;
        rh = rh > height ? height : rh;
        s->rois[s->n_rois++] = (struct so_box){rx, ry, rw, rh};
    }
}

/*
 * Where things coming to rest matter: each zone's bounding box, grown by half its height
 * upwards and a quarter of its width sideways (a car whose ground point is in the zone stands
 * above it), in analysis pixels.
 */
static void plan_watch(struct so_scheduler *s, const struct so_camera_cfg *cam, int width,
                       int height)
{
    s->n_watch = 0;
    for (size_t i = 0; i < cam->n_zones && s->n_watch < SO_SCHED_MAX_WATCH; i++) {
        double x0, y0, x1, y1;
        so_polygon_bounds(&cam->zones[i].polygon, &x0, &y0, &x1, &y1);
        double w = x1 - x0, h = y1 - y0;
        x0 -= w / 4;
        x1 += w / 4;
        y0 -= h / 2;
        int bx0 = x0 < 0 ? 0 : (int)(x0 * width), by0 = y0 < 0 ? 0 : (int)(y0 * height);
        int bx1 = x1 > 1 ? width : (int)(x1 * width), by1 = y1 > 1 ? height : (int)(y1 * height);
        if (bx1 > bx0 && by1 > by0) {
            s->watch[s->n_watch++] = (struct so_box){bx0, by0, bx1 - bx0, by1 - by0};
        }
    }
}

void so_scheduler_set_zones(struct so_scheduler *s, const struct so_camera_cfg *cam, int width,
                            int height)
{
    s->width = width;
    s->height = height;
    plan_rois(s, cam, width, height);
    plan_watch(s, cam, width, height);
}

void so_scheduler_restart(struct so_scheduler *s)
{
    for (int r = 0; r < SO_SCHED_MAX_REGIONS; r++) {
        s->burst_until_s[r] = 0;
        s->last_look_s[r] = -1e9;
    }
    s->stats.passes = 0;
}

bool so_scheduler_people(const struct so_scheduler *s)
{
    return !s->keyframes;
}

int so_scheduler_rois(const struct so_scheduler *s, const struct so_box **out)
{
    *out = s->rois;
    return s->n_rois;
}

void so_scheduler_get_stats(const struct so_scheduler *s, struct so_sched_stats *out)
{
    *out = s->stats;
}

/* Does any of the tracker's spots (known things: people, cues, vehicles) cover (x, y)? */
static bool known_at(const struct so_track *tracks, int n, int x, int y)
{
    for (int k = 0; k < n; k++) {
        if (so_box_contains(&tracks[k].box, x, y)) {
            return true;
        }
    }
    return false;
}

/* Pixels of box b (inside the frame) whose stationary age is in [lo, hi). */
static long aged_px(const struct so_scheduler *s, const struct so_sched_scene *scene,
                    struct so_box b, float lo, float hi)
{
    long n = 0;
    for (int y = b.y; y < b.y + b.h; y++) {
        const float *row = scene->age + (size_t)y * s->width;
        for (int x = b.x; x < b.x + b.w; x++) {
            n += row[x] >= lo && row[x] < hi;
        }
    }
    return n;
}

/*
 * Did something the tracker does not know yet come to rest in box b? Counted on a grid of
 * REST_CELL-pixel cells: a cell is resting when at least half of its pixels have a stationary
 * age in [NEW_REST_MIN_S, NEW_REST_MAX_S) and are not covered by a known spot; scattered
 * pixels (sensor noise, the edges of people slowing down) fill no cell.
 */
static bool came_to_rest(const struct so_scheduler *s, const struct so_sched_scene *scene,
                         const struct so_box *b)
{
    int cells = 0;
    for (int cy = b->y / REST_CELL; cy * REST_CELL < b->y + b->h; cy++) {
        for (int cx = b->x / REST_CELL; cx * REST_CELL < b->x + b->w; cx++) {
            int x0 = cx * REST_CELL, y0 = cy * REST_CELL;
            struct so_box cell = so_box_clip((struct so_box){x0, y0, REST_CELL, REST_CELL},
                                             s->width, s->height);
            if (2 * aged_px(s, scene, cell, NEW_REST_MIN_S, NEW_REST_MAX_S) >=
                    REST_CELL * REST_CELL &&
                !known_at(scene->tracks, scene->n_tracks, x0 + REST_CELL / 2,
                          y0 + REST_CELL / 2)) {
                cells++;
            }
        }
    }
    return cells >= NEW_REST_CELLS;
}

/*
 * Is something at rest in box b (PERSON_REST_SHARE of its pixels of a stationary age of at least
 * NEW_REST_MIN_S)? A person matters to the rules only at rest: standing in a zone, a person is
 * not goods; walking, nobody (and one who stops comes to rest, which asks for a look anyway).
 * A person spot being established over pixels that are not at rest is a walker who slowed
 * down: no look for it (bench, a busy street: 58 -> 46 of 60 ticks looked).
 */
static bool resting(const struct so_scheduler *s, const struct so_sched_scene *scene,
                    const struct so_box *b)
{
    struct so_box in = so_box_clip(*b, s->width, s->height);
    long n = (long)in.w * in.h;
    return n > 0 && aged_px(s, scene, in, NEW_REST_MIN_S, INFINITY) >= PERSON_REST_SHARE * n;
}

/* The region that looks at box b: the first close-up holding it, else the whole frame (0). */
static int region_of(const struct so_scheduler *s, const struct so_box *b)
{
    for (int r = 0; r < s->n_rois; r++) {
        if (so_box_inside(*b, s->rois[r])) {
            return 1 + r;
        }
    }
    return 0;
}

/*
 * Does box b meet the surroundings of a zone (plan_watch)? What lies wholly outside all of them
 * changes no zone's verdict: the tracker does not get a look to establish it.
 */
static bool near_zone(const struct so_scheduler *s, const struct so_box *b)
{
    for (int k = 0; k < s->n_watch; k++) {
        if (so_box_iou(*b, s->watch[k]) > 0) {
            return true;
        }
    }
    return false;
}

/* Is the frame at `now` a detector tick? If so, *budget is the looks it earned, at least one. */
static bool next_tick(struct so_scheduler *s, double now, int *budget)
{
    double fps = s->detect_fps;
    if (!(fps > 0 && now >= s->next_detect_s - 1e-6)) {
        return false;
    }
    double since = s->stats.ticks ? now - s->last_tick_s : 1.0 / fps;
    int earned = (int)floor(since * fps + 0.5);
    *budget = earned < 1 ? 1 : earned;
    s->last_tick_s = now;
    s->next_detect_s += 1.0 / fps;
    if (s->next_detect_s <= now) {
        s->next_detect_s = now + 1.0 / fps;
    }
    s->stats.ticks++;
    return true;
}

/* Which regions the network must look at on this tick: bit 0 the whole frame, bit 1+r roi r. */
static unsigned regions_needed(struct so_scheduler *s, double now,
                               const struct so_sched_scene *scene)
{
    unsigned all = (1u << (1 + s->n_rois)) - 1;
    if (s->stats.passes < STARTUP_PASSES || now - s->last_pass_s >= REFRESH_S - 1e-6) {
        return all;
    }
    for (int k = 0; k < s->n_watch; k++) {
        if (came_to_rest(s, scene, &s->watch[k])) {
            s->burst_until_s[region_of(s, &s->watch[k])] = now + BURST_S;
        }
    }
    unsigned need = 0;
    for (int i = 0; i < scene->n_pending; i++) {
        const struct so_box *b = &scene->pending[i];
        bool walker = scene->pending_person && scene->pending_person[i];
        if (near_zone(s, b) && !(walker && !resting(s, scene, b))) {
            need |= 1u << region_of(s, b);
        }
    }
    for (int r = 0; r <= s->n_rois; r++) {
        if (now <= s->burst_until_s[r] + 1e-6) {
            need |= 1u << r;
        }
    }
    return need;
}

/*
 * Of the regions in `need`, the one the network looked at longest ago (the whole frame first
 * on a tie); -1 when none.
 */
static int next_region(const struct so_scheduler *s, unsigned need)
{
    int best = -1;
    for (int r = 0; r <= s->n_rois; r++) {
        if ((need & (1u << r)) && (best < 0 || s->last_look_s[r] < s->last_look_s[best])) {
            best = r;
        }
    }
    return best;
}

void so_scheduler_decide(struct so_scheduler *s, double now, const struct so_sched_scene *scene,
                         struct so_sched_plan *out)
{
    *out = (struct so_sched_plan){0};
    out->tick = next_tick(s, now, &out->budget);
    out->need = out->tick ? regions_needed(s, now, scene) : 0;
    out->deferred = out->need;
    if (out->need) {
        s->stats.passes++;
        s->last_pass_s = now;
    }
    for (int r; out->n_looks < out->budget && (r = next_region(s, out->deferred)) >= 0;) {
        out->looks[out->n_looks++] = r;
        out->deferred &= ~(1u << r);
    }
    s->deferred = out->deferred;
}

void so_scheduler_looking(struct so_scheduler *s, int r, double now)
{
    s->last_look_s[r] = now;
    s->stats.inferences++;
}

bool so_scheduler_held(const struct so_box *b, void *scheduler)
{
    const struct so_scheduler *s = scheduler;
    return (s->deferred & (1u << region_of(s, b))) != 0;
}

/*
 * Run the network on the plan's regions, in order. Returns the detections written to dets
 * (after a class-aware NMS when more than one region was seen: the same object twice). On a
 * stop or a detector failure returns 0 with *tick false (no tick rather than a tick that saw
 * nothing) and nothing deferred.
 */
static int look(struct so_scheduler *s, struct so_detector *detector, const struct so_frame *f,
                const struct so_sched_plan *plan, bool (*stopping)(void *), void *opaque,
                struct so_detection *dets, bool *tick)
{
    if (!plan->n_looks) {
        return 0;
    }
    struct so_image img = {f->bgr, f->width, f->height, f->bgr_stride};
    struct so_detect_filter filter = {
        .roles = SO_ROLE_BIT(SO_ROLE_VEHICLE) | SO_ROLE_BIT(SO_ROLE_NONMOTOR) |
                 SO_ROLE_BIT(SO_ROLE_PERSON) | SO_ROLE_BIT(SO_ROLE_STALL_CUE),
    };
    int n = 0;
    for (int k = 0; k < plan->n_looks; k++) {
        int r = plan->looks[k], got = 0;
        if (stopping && stopping(opaque)) {     /* up to 9 looks: stop within 2 s */
            *tick = false;
            s->deferred = 0;
            return 0;
        }
        so_scheduler_looking(s, r, f->media_s);
        if (so_detector_run(detector, &img, r ? &s->rois[r - 1] : NULL, &filter, dets + n,
                            MAX_DETECTIONS - n, &got) < 0) {
            so_warn(s->id, "object detector failed: %s", so_detector_last_error(detector));
            *tick = false;
            s->deferred = 0;
            return 0;
        }
        n += got;
    }
    if (plan->n_looks > 1) {
        n = so_detect_nms(dets, n, so_detector_model(detector)->nms_threshold);
    }
    for (unsigned w = s->deferred; w; w &= w - 1) {
        s->stats.waits++;
    }
    return n;
}

void so_scheduler_frame(struct so_scheduler *s, struct so_detector *detector,
                        struct so_tracker *tracker, const struct so_static_model *model,
                        const struct so_frame *f, bool (*stopping)(void *opaque), void *opaque)
{
    struct so_box pending[SO_TRACK_MAX];
    bool person[SO_TRACK_MAX];
    struct so_sched_scene scene = {.age = so_static_model_age(model), .pending = pending,
                                   .pending_person = person};
    scene.n_tracks = so_tracker_tracks(tracker, &scene.tracks);
    scene.n_pending = so_tracker_pending(tracker, pending, person, SO_TRACK_MAX,
                                         so_scheduler_people(s));
    struct so_sched_plan plan;
    so_scheduler_decide(s, f->media_s, &scene, &plan);

    struct so_detection dets[MAX_DETECTIONS];
    bool tick = plan.tick;
    int n = look(s, detector, f, &plan, stopping, opaque, dets, &tick);
    /*
     * The tracker follows things at rest: a vehicle box over moving pixels is traffic. What the
     * whole frame saw inside a close-up that waits for its turn is left to the close-up (its
     * things are held meanwhile): seen small, two cars in a row may come out as one box.
     */
    /* A shaking camera (analysis/stabilise.h): the static model, the zones and so the tracks
     * live in the background's frame; the network saw the frame as it came. */
    struct so_shift sh = so_static_model_shift(model);
    int sx = sh.ok ? (int)lround(sh.dx) : 0, sy = sh.ok ? (int)lround(sh.dy) : 0;
    for (int i = 0; i < n; i++) {
        dets[i].box.x -= sx;
        dets[i].box.y -= sy;
    }
    if (plan.n_looks && tick) {     /* what the network saw, for the console */
        s->n_shown = n < SO_SCHED_MAX_SHOWN ? n : SO_SCHED_MAX_SHOWN;
        memcpy(s->shown, dets, sizeof(*dets) * (size_t)s->n_shown);
        s->shown_s = f->media_s;
    }
    int kept = 0;
    for (int i = 0; i < n; i++) {
        bool vehicle = dets[i].role == SO_ROLE_VEHICLE || dets[i].role == SO_ROLE_NONMOTOR;
        const struct so_box *b = &dets[i].box;
        if (s->deferred && so_scheduler_held(b, s)) {
            continue;
        }
        if (!vehicle ||
            so_static_model_moving_share(model, b->x, b->y, b->w, b->h) < MAX_MOVING_SHARE) {
            dets[kept++] = dets[i];
        }
    }
    so_tracker_update(tracker, f, dets, kept, tick, s->deferred ? so_scheduler_held : NULL, s);
}

int so_scheduler_last_look(const struct so_scheduler *s, const struct so_detection **dets,
                           double *media_s)
{
    *dets = s->shown;
    *media_s = s->shown_s;
    return s->n_shown;
}
