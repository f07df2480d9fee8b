/*
 * Why this file exists: the console pages (the camera grid at /, the camera page at
 * /cameras/<id>/) are static HTML that draw what two JSON documents say, refreshed every few
 * seconds: /cameras.json (every camera's health since when, fps, open episodes, and delivery)
 * and /cameras/<id>/status.json (the rules' per-zone decisions on the last analysed frame, the
 * boxes, the recent episodes with their evidence). Scripts read the same documents.
 *
 * Everything here is formatting on an HTTP worker thread of what the analysis threads
 * published (live.c: counters, the frame's boxes, and the copy of the rules' status taken at
 * the end of each frame); nothing is computed from the analysis state.
 *
 * Times are given twice: unix seconds for scripts and ISO-8601 for people. Never a camera URL.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "categories.h"
#include "http.h"
#include "timeutil.h"

static json_t *iso_time(double wall)
{
    char buf[40];
    return wall > 0 ? json_string(so_time_iso8601(wall, buf, sizeof(buf))) : json_null();
}

/* Seconds rounded to a tenth (ages and durations read by people). */
static json_t *seconds(double s)
{
    return json_real(round(s * 10) / 10);
}

int so_http_health(const struct so_http_camera *cam)
{
    int h = cam->health ? atomic_load(cam->health) : -1;
    if (h < 0 && cam->source) {
        struct so_source_stats st;
        so_source_get_stats(cam->source, &st);
        h = (int)st.health;
    }
    return h;
}

static const char *health_name(int h)
{
    return h >= 0 ? so_health_name((enum so_health)h) : "unknown";
}

char *so_http_json_dump(json_t *root, size_t *len)
{
    char *text = json_dumps(root, JSON_REAL_PRECISION(15));
    json_decref(root);
    if (!text) {
        abort();
    }
    *len = strlen(text);
    return text;
}

static json_t *delivery_json(struct so_outputs *outputs, double now)
{
    struct so_delivery_stats d;
    so_outputs_delivery_stats(outputs, &d);
    json_t *o = json_pack("{s:b, s:I, s:o, s:I, s:I, s:o}", "enabled", d.enabled, "pending",
                          (json_int_t)d.pending, "oldest_age_s", seconds(d.oldest_age_s), "sent",
                          (json_int_t)d.sent, "acked", (json_int_t)d.acked, "last_ack",
                          iso_time(d.last_ack_wall));
    json_object_set_new(o, "last_ack_age_s",
                        d.last_ack_wall > 0 ? seconds(now - d.last_ack_wall) : json_null());
    return o;
}

char *so_http_cameras_json(const struct so_http_camera *cams, size_t n,
                           struct so_outputs *outputs, size_t *len)
{
    double now = so_time_wall();
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct so_http_camera *c = &cams[i];
        struct so_live_view v;
        struct so_live_console con;
        so_live_get(c->live, true, &v);
        so_live_get_console(c->live, &con);
        int h = so_http_health(c);
        json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:i, s:I, s:b}", "id",
                              c->cfg->id, "health", health_name(h), "health_since",
                              iso_time(con.health_since), "health_for_s",
                              con.health_since > 0 ? seconds(now - con.health_since)
                                                   : json_null(),
                              "health_detail", con.health_detail, "fps_analysed",
                              seconds(v.fps_analysed), "fps_decoded", seconds(v.fps_decoded),
                              "episodes_open", atomic_load(&c->live->episodes_open), "zones",
                              (json_int_t)c->cfg->n_zones, "has_frame", v.frame != NULL);
        json_object_set_new(o, "frame_time", v.frame ? iso_time(v.frame->wall_s) : json_null());
        json_array_append_new(arr, o);
        so_live_console_finish(&con);
        so_live_view_finish(&v);
    }
    json_t *root = json_pack("{s:f, s:o, s:o, s:o}", "now", now, "time", iso_time(now),
                             "delivery", delivery_json(outputs, now), "cameras", arr);
    return so_http_json_dump(root, len);
}

static json_t *box_json(const int b[4])
{
    return json_pack("[iiii]", b[0], b[1], b[2], b[3]);
}

/* The evidence of episode `id` among the recent ones: [{role, url}], or an empty array. */
static json_t *evidence_json(const struct so_live_console *con, const char *id)
{
    json_t *arr = json_array();
    for (int i = 0; id[0] && i < con->n_episodes; i++) {
        const struct so_live_episode *e = &con->episodes[i];
        if (strcmp(e->episode, id) != 0) {
            continue;
        }
        for (int k = 0; k < e->n_files; k++) {
            char url[128];
            snprintf(url, sizeof(url), "/evidence/%s", e->files[k]);
            json_array_append_new(arr, json_pack("{s:s, s:s}", "role", e->roles[k], "url", url));
        }
        break;
    }
    return arr;
}

static json_t *episode_json(const struct so_live_console *con, enum so_episode_state state,
                            const char *id, bool warned)
{
    return json_pack("{s:s, s:s?, s:o}", "state", so_status_episode_name_warned(state, id, warned),
                     "id", id[0] ? id : NULL, "evidence", evidence_json(con, id));
}

static json_t *candidate_json(const struct so_live_console *con, const struct so_zone_status *zs,
                              const struct so_cand_status *c)
{
    json_t *o = json_pack("{s:o, s:s, s:f, s:i, s:o, s:o, s:b, s:s, s:b}", "box",
                          box_json(c->box), "class", c->cls, "score", round(c->score * 100) / 100,
                          "track", c->track, "age_s", seconds(c->age_s), "dwell_s",
                          seconds(zs->dwell_s), "counted", c->counted, "reason",
                          so_status_why_name(c->why), "followed", c->followed);
    if (c->followed) {
        json_object_set_new(o, "episode", episode_json(con, c->ep_state, c->ep_id, c->warned));
    }
    return o;
}

static json_t *polygon_json(const struct so_polygon *p)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < p->n; i++) {
        json_array_append_new(arr, json_pack("[ff]", p->pts[i].x, p->pts[i].y));
    }
    return arr;
}

static json_t *zone_status_json(const struct so_camera_cfg *cfg, const struct so_live_console *con,
                                const struct so_zone_status *zs, bool suspended)
{
    const struct so_zone_cfg *zc = NULL;
    for (size_t i = 0; i < cfg->n_zones && !zc; i++) {
        zc = strcmp(cfg->zones[i].id, zs->id) == 0 ? &cfg->zones[i] : NULL;
    }
    json_t *o = json_pack("{s:s, s:s, s:b, s:o, s:o}", "id", zs->id, "kind",
                          so_zone_kind_name(zs->kind), "enforced", zs->enforced, "dwell_s",
                          seconds(zs->dwell_s), "min_occupancy", json_real(zs->min_occupancy));
    if (zc) {
        json_object_set_new(o, "category", json_string(so_category_code(zc)));
        json_object_set_new(o, "polygon", polygon_json(&zc->polygon));
    }
    bool per_zone = zs->occupancy >= 0;
    json_object_set_new(o, "occupancy",
                        per_zone ? json_real(round(zs->occupancy * 1000) / 1000) : json_null());
    if (per_zone) {
        json_object_set_new(o, "age_s", seconds(zs->age_s));
        json_object_set_new(o, "episode", episode_json(con, zs->ep_state, zs->ep_id,
                                                       zs->warned));
    }
    json_t *cands = json_array();
    for (int i = 0; i < zs->n_cands; i++) {
        json_t *c = candidate_json(con, zs, &zs->cands[i]);
        if (suspended) {    /* the rules did not run: nothing counts until they resume */
            json_object_set_new(c, "counted", json_false());
            json_object_set_new(c, "reason", json_string(so_status_why_name(SO_WHY_SUSPENDED)));
        }
        json_array_append_new(cands, c);
    }
    json_object_set_new(o, "candidates", cands);
    json_object_set_new(o, "more", json_integer(zs->n_more));
    return o;
}

char *so_http_status_json(const struct so_camera_cfg *cfg, const struct so_live_view *v,
                          const struct so_live_console *con, int health, size_t *len)
{
    const struct so_rules_status *s = con->status;
    json_t *root = json_pack("{s:s, s:s, s:b}", "camera", cfg->id, "health", health_name(health),
                             "suspended", s && s->suspended);
    json_object_set_new(root, "media_s", s ? json_real(s->media_s) : json_null());
    json_object_set_new(root, "time", iso_time(s ? s->wall_s : 0));
    json_object_set_new(root, "frame", v->frame ? json_pack("{s:i, s:i}", "width",
                                                            v->frame->width, "height",
                                                            v->frame->height)
                                                : json_null());
    json_t *zones = json_array();
    for (size_t i = 0; s && i < s->n_zones; i++) {
        json_array_append_new(zones, zone_status_json(cfg, con, &s->zones[i], s->suspended));
    }
    json_object_set_new(root, "zones", zones);
    json_t *tracks = json_array();
    for (int i = 0; i < v->n_boxes; i++) {
        const struct so_live_box *b = &v->boxes[i];
        const int box[4] = {b->x, b->y, b->w, b->h};
        json_array_append_new(tracks, json_pack("{s:o, s:i, s:s, s:f, s:b, s:b}", "box",
                                                box_json(box), "track", b->track, "class",
                                                b->cls, "score", round(b->score * 100) / 100,
                                                "stationary", b->stationary, "last_look",
                                                b->last_look));
    }
    json_object_set_new(root, "tracks", tracks);
    json_t *dets = json_array();
    for (int i = 0; i < v->n_dets; i++) {
        const struct so_live_det *d = &v->dets[i];
        const int box[4] = {d->x, d->y, d->w, d->h};
        json_array_append_new(dets, json_pack("{s:o, s:s, s:f}", "box", box_json(box), "class",
                                              d->cls, "score", round(d->score * 100) / 100));
    }
    json_object_set_new(root, "detections", dets);
    json_object_set_new(root, "detections_media_s",
                        v->dets_media_s >= 0 ? json_real(v->dets_media_s) : json_null());
    json_t *eps = json_array();
    for (int i = 0; i < con->n_episodes; i++) {
        const struct so_live_episode *e = &con->episodes[i];
        json_array_append_new(eps, json_pack("{s:s, s:s, s:s, s:o}", "id", e->episode, "zone",
                                             e->zone, "state", e->state, "evidence",
                                             evidence_json(con, e->episode)));
    }
    json_object_set_new(root, "episodes", eps);
    return so_http_json_dump(root, len);
}
