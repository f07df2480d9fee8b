/*
 * Why this file exists: the event record is the contract with the case platform, so it is
 * built in exactly one place. Everything a case needs is in it: the standard category, grid
 * and address, both media and wall times, the objects, and a hash of each evidence image so
 * the platform can verify what it stores.
 *
 * The analysis thread builds it (jansson object + JPEG encode + SHA-256, all CPU); the outputs
 * thread only adds `seq` and does the I/O.
 */
#include "event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpeg.h"
#include "sha256.h"
#include "socv.h"
#include "timeutil.h"
#include "zone_mask.h"

static const struct socv_color zone_color = {0, 215, 255};     /* amber */
static const struct socv_color box_color = {0, 0, 255};        /* red */
static const struct socv_color text_color = {255, 255, 255};

/* The scene's pixel coordinate v (along an axis of `from` pixels) on a picture of `to`. */
static int scale_px(int v, int from, int to)
{
    return from == to ? v : (int)(((long long)v * to + from / 2) / from);
}

/*
 * The one drawing of evidence, at any picture size: the zone (translucent fill and outline),
 * the object boxes (not on "after": they are gone), the privacy masks blacked out and a caption
 * with the time `wall_s`. Lines, text and their offsets grow with the picture (the look of a
 * 640-pixel analysis frame, scaled).
 */
static int render_scene(const struct so_evidence_scene *sc, const struct socv_view *v,
                        double wall_s, const char *role, int quality, struct so_evidence *out)
{
    struct socv_canvas *c = socv_canvas_create(v);
    int *xy = malloc(sizeof(int) * 2 * (size_t)(sc->zone_xy_n > 64 ? sc->zone_xy_n : 64));
    if (!c || !xy) {
        socv_canvas_destroy(c);
        free(xy);
        return -ENOMEM;
    }
    double k = (double)v->width / sc->width;
    int line = k > 1 ? (int)(2 * k + 0.5) : 2;
    for (int i = 0; i < sc->zone_xy_n; i++) {
        xy[2 * i] = scale_px(sc->zone_xy[2 * i], sc->width, v->width);
        xy[2 * i + 1] = scale_px(sc->zone_xy[2 * i + 1], sc->height, v->height);
    }
    socv_canvas_polygon_blend(c, xy, sc->zone_xy_n, zone_color, 0.18);
    socv_canvas_polygon(c, xy, sc->zone_xy_n, 1, zone_color, line, 0);
    if (strcmp(role, "after") != 0) {
        for (int i = 0; i < sc->n_boxes; i++) {
            const int *b = sc->boxes[i];
            int x = scale_px(b[0], sc->width, v->width), y = scale_px(b[1], sc->height, v->height);
            socv_canvas_rect(c, x, y, scale_px(b[0] + b[2], sc->width, v->width) - x,
                             scale_px(b[1] + b[3], sc->height, v->height) - y, box_color, line);
        }
    }
    const struct so_camera_cfg *cam = sc->camera;
    for (size_t m = 0; m < cam->n_privacy_masks; m++) {
        const struct so_polygon *p = &cam->privacy_masks[m];
        int n = p->n > 64 ? 64 : (int)p->n;
        struct so_polygon clipped = {p->pts, (size_t)n};
        so_polygon_to_pixels(&clipped, v->width, v->height, xy);
        socv_canvas_polygon(c, xy, n, 1, (struct socv_color){0, 0, 0}, 1, 1);
    }
    free(xy);
    char caption[256], when[40];
    so_time_iso8601(wall_s, when, sizeof(when));
    snprintf(caption, sizeof(caption), "%s %s %s %s %.19s", cam->id, sc->zone->id,
             so_zone_kind_name(sc->zone->kind), role, when);
    double tk = k > 1 ? k : 1;
    socv_canvas_text(c, caption, (int)(6 * tk), (int)(18 * tk), 0.45 * tk, text_color);
    struct socv_view cv = socv_canvas_view(c);
    uint8_t *jpeg = NULL;
    size_t size = 0;
    int rc = so_jpeg_encode(cv.data, cv.width, cv.height, cv.stride, quality, &jpeg, &size);
    socv_canvas_destroy(c);
    if (rc < 0) {
        return rc;
    }
    out->jpeg = jpeg;       /* overwritten, not freed: callers pass an empty one */
    out->size = size;
    out->width = v->width;
    out->height = v->height;
    snprintf(out->role, sizeof(out->role), "%s", role);
    so_sha256_hex(out->jpeg, out->size, out->sha256);
    return 0;
}

/* The scene of a report (zone_xy borrowed from it). */
static void scene_of(const struct so_report *rep, struct so_evidence_scene *sc)
{
    *sc = (struct so_evidence_scene){.camera = rep->camera, .zone = rep->zone,
                                     .width = rep->now ? rep->now->width : 0,
                                     .height = rep->now ? rep->now->height : 0,
                                     .zone_xy = rep->zone_xy, .zone_xy_n = rep->zone_xy_n};
    for (int i = 0; i < rep->n_objects && i < SO_REPORT_MAX_OBJECTS; i++) {
        memcpy(sc->boxes[i], rep->objects[i].box, sizeof(sc->boxes[i]));
        sc->n_boxes++;
    }
}

static struct socv_view frame_view(const struct so_frame *f)
{
    return (struct socv_view){f->bgr, f->width, f->height, f->bgr_stride, 3};
}

int so_evidence_render(const struct so_report *rep, struct so_frame *frame, const char *role,
                       int quality, struct so_evidence *out)
{
    struct so_evidence_scene sc;
    scene_of(rep, &sc);
    struct socv_view v = frame_view(frame);
    return render_scene(&sc, &v, frame->wall_s, role, quality, out);
}

static json_t *seconds_or_null(double media);

int so_event_replace_evidence(struct so_event *ev, const char *role,
                              const struct so_frame *still)
{
    struct so_evidence *e = NULL;
    for (int i = 0; i < ev->n_evidence && !e; i++) {
        e = strcmp(ev->evidence[i].role, role) == 0 ? &ev->evidence[i] : NULL;
    }
    json_t *items = json_object_get(ev->record, "evidence"), *item = NULL;
    for (size_t i = 0; i < json_array_size(items) && !item; i++) {
        json_t *it = json_array_get(items, i);
        item = strcmp(json_string_value(json_object_get(it, "role")), role) == 0 ? it : NULL;
    }
    if (!e || !item) {
        return -ENOENT;
    }
    struct so_evidence fresh = {0};
    struct socv_view v = frame_view(still);
    int r = render_scene(&ev->scene, &v, ev->wall_s, role, ev->quality, &fresh);
    if (r < 0) {
        return r;
    }
    free(e->jpeg);
    e->jpeg = fresh.jpeg;
    e->size = fresh.size;
    e->width = fresh.width;
    e->height = fresh.height;
    memcpy(e->sha256, fresh.sha256, sizeof(e->sha256));
    json_object_set_new(item, "size", json_integer((json_int_t)e->size));
    json_object_set_new(item, "sha256", json_string(e->sha256));
    json_object_set_new(item, "width", json_integer(e->width));
    json_object_set_new(item, "height", json_integer(e->height));
    json_object_set_new(item, "source", json_string("evidence_url"));
    /* When the picture was taken: its media time in a file; a live stream's picture is as old
     * as the grab (after the analysis frame, by the time the grab took), said as wall time. */
    json_object_set_new(item, "media_s", seconds_or_null(still->wall_s > 0 ? -1 : still->media_s));
    if (still->wall_s > 0) {
        char buf[40];
        json_object_set_new(item, "taken_at",
                            json_string(so_time_iso8601(still->wall_s, buf, sizeof(buf))));
    }
    return 0;
}

/* The report's clock: its frame's, else the moment it gives (a verification without one). */
static void report_clock(const struct so_report *rep, double *wall, double *media)
{
    *wall = rep->now ? rep->now->wall_s : rep->wall_s;
    *media = rep->now ? rep->now->media_s : rep->media_s;
}

static json_t *time_or_null(const struct so_report *rep, double media)
{
    if (media < 0) {
        return json_null();
    }
    double wall, now;
    report_clock(rep, &wall, &now);
    char buf[40];
    return json_string(so_time_iso8601(wall - (now - media), buf, sizeof(buf)));
}

static json_t *seconds_or_null(double media)
{
    return media < 0 ? json_null() : json_real(((long long)(media * 1000 + 0.5)) / 1000.0);
}

static const char *state_name(enum so_episode_action a)
{
    switch (a) {
    case SO_EPISODE_OPENED:
        return "opened";
    case SO_EPISODE_UPDATE:
        return "update";
    case SO_EPISODE_CLEARED_NOW:
        return "cleared";
    case SO_EPISODE_WARNING:
        return "warning";
    case SO_EPISODE_WARNING_CLEARED:
        return "warning_cleared";
    case SO_EPISODE_VERIFIED:
        return "verification";
    default:
        return "none";
    }
}

static json_t *objects_json(const struct so_report *rep)
{
    json_t *arr = json_array();
    for (int i = 0; i < rep->n_objects; i++) {
        const struct so_object *o = &rep->objects[i];
        json_t *obj = json_pack("{s:s, s:f, s:[i,i,i,i]}", "class", o->cls, "score", o->score,
                                "box", o->box[0], o->box[1], o->box[2], o->box[3]);
        if (o->track >= 0) {
            json_object_set_new(obj, "track", json_integer(o->track));
        }
        json_array_append_new(arr, obj);
    }
    return arr;
}

/* Evidence: rest + confirm when opened, after when cleared, confirm for updates; a
 * verification's still when it has a frame and saw something (present or gone). */
static int evidence_frames(const struct so_report *rep, const char **roles,
                           struct so_frame **frames)
{
    int n = 0;
    if (rep->action == SO_EPISODE_VERIFIED) {
        if (rep->now && strcmp(rep->verified, "unknown") != 0) {
            roles[n] = "verification";
            frames[n++] = rep->now;
        }
    } else if (rep->action == SO_EPISODE_OPENED) {
        if (rep->rest) {
            roles[n] = "rest";
            frames[n++] = rep->rest;
        }
        roles[n] = "confirm";
        frames[n++] = rep->now;
    } else {
        /* after when it ended (a warning's too), warning for a warning, confirm for updates */
        roles[n] = so_episode_ended(rep->action)           ? "after"
                   : rep->action == SO_EPISODE_WARNING ? "warning"
                                                       : "confirm";
        frames[n++] = rep->now;
    }
    return n;
}

/* The "verification" object of a verification record. */
static json_t *verification_json(const struct so_report *rep)
{
    return json_pack("{s:s, s:s, s:s}", "command_id", rep->command_id, "result", rep->verified,
                     "reason", rep->verify_reason);
}

/*
 * Long on purpose: it writes the record's fields in the order of the event contract
 * (ARCHITECTURE, schema streetorder.event.v1), one line each, so that the code reads like the
 * schema; the evidence images and the objects are built by helpers above.
 */
struct so_event *so_event_create(const struct so_event_ctx *ctx, const struct so_report *rep)
{
    struct so_event *ev = calloc(1, sizeof(*ev));
    if (!ev) {
        return NULL;
    }
    const struct so_episode *ep = rep->episode;
    const struct so_zone_cfg *zone = rep->zone;
    const char *kind = so_zone_kind_name(zone->kind);
    const char *state = state_name(rep->action);
    int quality = ctx->jpeg_quality > 0 ? ctx->jpeg_quality : 85;
    so_random_id(ev->event_id);
    ev->ready_mono = rep->now ? rep->now->ready_mono : 0;
    bool warning = rep->action == SO_EPISODE_WARNING || rep->action == SO_EPISODE_WARNING_CLEARED;
    snprintf(ev->topic, sizeof(ev->topic), "%s.%s.%s", warning ? "warning" : "event", kind,
             rep->camera->id);

    const char *roles[SO_EVENT_MAX_EVIDENCE];
    struct so_frame *frames[SO_EVENT_MAX_EVIDENCE];
    int n = evidence_frames(rep, roles, frames);
    json_t *evidence = json_array();
    for (int i = 0; i < n; i++) {
        struct so_evidence *e = &ev->evidence[ev->n_evidence];
        if (so_evidence_render(rep, frames[i], roles[i], quality, e) < 0) {
            continue;
        }
        char file[sizeof(e->file)];
        snprintf(file, sizeof(file), "%s-%s.jpg", ev->event_id, roles[i]);
        memcpy(e->file, file, sizeof(file));
        json_array_append_new(evidence,
                              json_pack("{s:s, s:s, s:I, s:s, s:s, s:i, s:i, s:s, s:o}",
                                        "role", e->role, "format", "jpeg", "size",
                                        (json_int_t)e->size, "sha256", e->sha256, "file",
                                        e->file, "width", e->width, "height", e->height,
                                        "source", "analysis", "media_s",
                                        seconds_or_null(frames[i]->media_s)));
        ev->n_evidence++;
    }
    scene_of(rep, &ev->scene);
    ev->scene_xy = malloc(sizeof(int) * 2 * (size_t)(rep->zone_xy_n > 0 ? rep->zone_xy_n : 1));
    if (!ev->scene_xy) {
        json_decref(evidence);
        so_event_destroy(ev);
        return NULL;
    }
    memcpy(ev->scene_xy, rep->zone_xy, sizeof(int) * 2 * (size_t)rep->zone_xy_n);
    ev->scene.zone_xy = ev->scene_xy;
    double now_wall, now_media;
    report_clock(rep, &now_wall, &now_media);
    ev->media_s = now_media;
    ev->quality = quality;

    struct so_category cat;
    so_categories_lookup(ctx->categories, so_category_code(zone), &cat);
    double end = so_episode_ended(rep->action) ? ep->end_s : -1;
    double dwell_to = end >= 0 ? end : now_media;
    json_t *r = json_object();
    json_object_set_new(r, "schema", json_string(SO_EVENT_SCHEMA));
    json_object_set_new(r, "event_id", json_string(ev->event_id));
    json_object_set_new(r, "episode_id", json_string(ep->id));
    json_object_set_new(r, "kind", json_string(kind));
    json_object_set_new(r, "state", json_string(state));
    json_object_set_new(r, "reason", rep->reason ? json_string(rep->reason) : json_null());
    json_object_set_new(r, "detector_id", json_string(ctx->detector_id));
    json_object_set_new(r, "camera_id", json_string(rep->camera->id));
    json_object_set_new(r, "zone_id", json_string(zone->id));
    json_object_set_new(r, "category",
                        json_pack("{s:s, s:s, s:s*, s:s*, s:s*}", "standard",
                                  SO_CATEGORY_STANDARD, "code", cat.code, "name", cat.name,
                                  "local_code", cat.local_code, "local_name", cat.local_name));
    json_object_set_new(r, "grid", zone->grid ? json_string(zone->grid) : json_null());
    json_object_set_new(r, "address", zone->address ? json_string(zone->address) : json_null());
    json_object_set_new(r, "media_start_s", seconds_or_null(ep->start_s));
    json_object_set_new(r, "media_confirmed_s", seconds_or_null(ep->confirmed_s));
    json_object_set_new(r, "media_end_s", seconds_or_null(end));
    json_object_set_new(r, "started_at", time_or_null(rep, ep->start_s));
    json_object_set_new(r, "confirmed_at", time_or_null(rep, ep->confirmed_s));
    json_object_set_new(r, "ended_at", time_or_null(rep, end));
    json_object_set_new(r, "dwell_s", seconds_or_null(dwell_to - ep->start_s));
    if (ep->warned_s >= 0) {    /* a warned episode says when (absent when not warned) */
        json_object_set_new(r, "media_warned_s", seconds_or_null(ep->warned_s));
        json_object_set_new(r, "warned_at", time_or_null(rep, ep->warned_s));
    }
    json_object_set_new(r, "occupancy", rep->occupancy >= 0
                                            ? json_real(((long long)(rep->occupancy * 10000 + 0.5))
                                                        / 10000.0)
                                            : json_null());
    json_object_set_new(r, "objects", objects_json(rep));
    json_object_set_new(r, "evidence", evidence);
    json_object_set_new(r, "model", ctx->model ? json_string(ctx->model) : json_null());
    if (rep->now) {
        json_object_set_new(r, "frame", json_pack("{s:i, s:i}", "width", rep->now->width,
                                                  "height", rep->now->height));
    }
    if (rep->action == SO_EPISODE_VERIFIED) {
        json_object_set_new(r, "verification", verification_json(rep));
    }
    ev->record = r;

    snprintf(ev->camera_id, sizeof(ev->camera_id), "%s", rep->camera->id);
    snprintf(ev->zone_id, sizeof(ev->zone_id), "%s", zone->id);
    snprintf(ev->kind, sizeof(ev->kind), "%s", kind);
    snprintf(ev->state, sizeof(ev->state), "%s", state);
    snprintf(ev->reason, sizeof(ev->reason), "%s", rep->reason ? rep->reason : "");
    ev->media_start_s = ep->start_s;
    ev->media_end_s = end;
    ev->media_warned_s = ep->warned_s;
    ev->dwell_s = dwell_to - ep->start_s;
    ev->wall_s = now_wall;
    ev->occupancy = rep->occupancy;
    return ev;
}

void so_event_destroy(struct so_event *ev)
{
    if (!ev) {
        return;
    }
    for (int i = 0; i < ev->n_evidence; i++) {
        free(ev->evidence[i].jpeg);
    }
    free(ev->scene_xy);
    json_decref(ev->record);
    free(ev);
}
