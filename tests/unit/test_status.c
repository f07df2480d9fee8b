/*
 * Unit tests of the rules' status (rules/status.c) and its JSON (http/console.c,
 * /cameras/<id>/status.json), on the real rules over a synthetic scene: a flat background where
 * a car-sized box comes to rest at 10 s, in a vehicle zone ("bay"), a per-zone zone ("walk")
 * and a vehicle zone whose schedule is never active then ("night"). Checked: a candidate's age
 * rises to the dwell while it is confirmed then counts, the episode opens with the id the report
 * carried, the per-zone occupancy and age, "not_enforced" in the night zone; then, with hand-made
 * tracker tracks, each reason a track does not count (a person, another class, moving, too
 * small, outside the footprint share); the copy published for HTTP and its JSON, with the
 * evidence of the open episode and "suspended" while the camera is moved.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http.h"
#include "rules.h"
#include "static_model.h"
#include "status.h"
#include "testlib.h"

#define W 320
#define H 180
#define FPS 5.0
#define CAR_X 100
#define CAR_Y 120
#define CAR_W 48
#define CAR_H 24

struct opened {
    struct {
        char zone[16];
        char episode[33];
    } items[8];
    int n;
};

static void on_report(void *opaque, const struct so_report *rep)
{
    struct opened *o = opaque;
    if (rep->action == SO_EPISODE_OPENED && o->n < 8) {
        snprintf(o->items[o->n].zone, sizeof(o->items[0].zone), "%s", rep->zone->id);
        snprintf(o->items[o->n].episode, sizeof(o->items[0].episode), "%s", rep->episode->id);
        o->n++;
    }
}

/* Background texture; from `t_car` on, a bright box at the car's place and one in walk. */
static struct so_frame *scene_frame(double t, bool car)
{
    struct so_frame *f = so_frame_alloc(W, H);
    if (!f) {
        abort();
    }
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            bool in = car && ((x >= CAR_X && x < CAR_X + CAR_W && y >= CAR_Y &&
                               y < CAR_Y + CAR_H) ||
                              (x >= 240 && x < 270 && y >= 30 && y < 50));
            uint8_t v = in ? 220 : (uint8_t)(80 + ((x / 4 + y / 4) & 1) * 20);
            f->gray[(size_t)y * f->gray_stride + x] = v;
            uint8_t *p = f->bgr + (size_t)y * f->bgr_stride + 3 * x;
            p[0] = p[1] = p[2] = v;
        }
    }
    f->media_s = t;
    f->wall_s = 1.7e9 + t;      /* a Tuesday, 22:13 UTC */
    return f;
}

static const struct so_zone_status *zone_named(const struct so_rules_status *s, const char *id)
{
    for (size_t i = 0; s && i < s->n_zones; i++) {
        if (strcmp(s->zones[i].id, id) == 0) {
            return &s->zones[i];
        }
    }
    return NULL;
}

static struct so_pointf bay_pts[] = {{0.2, 0.6}, {0.6, 0.6}, {0.6, 0.9}, {0.2, 0.9}};
static struct so_pointf walk_pts[] = {{0.7, 0.1}, {0.9, 0.1}, {0.9, 0.35}, {0.7, 0.35}};

static struct so_zone_cfg zone(const char *id, enum so_zone_kind kind, struct so_pointf *pts,
                               double dwell)
{
    struct so_zone_cfg z = {.id = (char *)id, .kind = kind, .polygon = {pts, 4},
                            .dwell_s = dwell, .min_occupancy = 0.05, .clear_s = 2};
    so_schedule_init_always(&z.schedule);
    return z;
}

/* The JSON of a published status, parsed; the caller decrefs. */
static json_t *status_json(const struct so_camera_cfg *cam, struct so_live *live)
{
    struct so_live_view v;
    struct so_live_console con;
    so_live_get(live, true, &v);
    so_live_get_console(live, &con);
    size_t len = 0;
    char *text = so_http_status_json(cam, &v, &con, 0, &len);
    CHECK_INT((int)len, (int)strlen(text));
    json_error_t err;
    json_t *root = json_loads(text, 0, &err);
    CHECK(root != NULL);
    free(text);
    so_live_console_finish(&con);
    so_live_view_finish(&v);
    return root;
}

static json_t *zone_json(json_t *root, size_t i)
{
    return json_array_get(json_object_get(root, "zones"), i);
}

/* Run the class-agnostic rules to 30 s: the bay candidate confirms, counts, opens. */
static void blob_rules(struct so_camera_cfg *cam)
{
    struct opened opened = {0};
    struct so_static_model *m = so_static_model_create(W, H, NULL);
    struct so_rules *r = so_rules_create(cam, W, H, on_report, &opened);
    CHECK(m && r);
    CHECK(so_rules_status(NULL) == NULL);
    struct so_live live;
    so_live_init(&live);
    double confirming_age = -1, counts_age = -1, prev_age = -1;
    bool age_rises = true;
    const char *walk_warned = NULL;     /* walk's episode in the JSON once warned (warn_s) */
    json_t *warned_root = NULL;
    for (double t = 0; t < 30; t += 1.0 / FPS) {
        struct so_frame *f = scene_frame(t, t >= 10);
        so_static_model_update(m, f->gray, f->gray_stride, f->media_s);
        so_rules_process(r, f, m, NULL, 0);
        so_live_publish(&live, f, 0.001, so_rules_open_count(r), NULL, 0, m, 0);
        so_live_publish_status(&live, so_rules_status(r), false);
        so_frame_unref(f);
        const struct so_zone_status *walk = zone_named(so_rules_status(r), "walk");
        if (walk && walk->warned && walk->ep_state == SO_EPISODE_CANDIDATE && !warned_root) {
            warned_root = status_json(cam, &live);
            walk_warned = json_string_value(json_object_get(
                json_object_get(zone_json(warned_root, 1), "episode"), "state"));
        }
        const struct so_zone_status *bay = zone_named(so_rules_status(r), "bay");
        if (bay && bay->n_cands == 1 && bay->cands[0].followed) {
            const struct so_cand_status *c = &bay->cands[0];
            if (c->why == SO_WHY_CONFIRMING && confirming_age < 0) {
                confirming_age = c->age_s;
            }
            if (c->why == SO_WHY_COUNTS && counts_age < 0) {
                counts_age = c->age_s;
            }
            age_rises = age_rises && c->age_s >= prev_age - 1e-9;
            prev_age = c->age_s;
        }
    }
    const struct so_rules_status *s = so_rules_status(r);
    CHECK_INT((int)s->n_zones, 3);
    CHECK(confirming_age >= 0 && counts_age > confirming_age && age_rises);
    const struct so_zone_status *bay = zone_named(s, "bay");
    const struct so_zone_status *walk = zone_named(s, "walk");
    const struct so_zone_status *night = zone_named(s, "night");
    CHECK(bay && walk && night);
    if (!bay || !walk || !night) {
        return;
    }
    CHECK(bay->enforced && !night->enforced);
    CHECK_INT(bay->n_cands, 1);
    CHECK_STR(bay->cands[0].cls, "object");
    CHECK(bay->cands[0].counted && bay->cands[0].age_s > bay->dwell_s);
    CHECK_INT(bay->cands[0].ep_state, SO_EPISODE_OPEN);
    CHECK_DBL(bay->occupancy, -1, 0);
    CHECK_INT(night->n_cands, 1);
    CHECK_STR(so_status_why_name(night->cands[0].why), "not_enforced");
    CHECK(!night->cands[0].counted && night->cands[0].ep_state != SO_EPISODE_OPEN);
    CHECK(walk->occupancy > walk->min_occupancy && walk->age_s > 10);
    CHECK_INT(walk->ep_state, SO_EPISODE_OPEN);
    /* walk has a warn_s: warned before it opened, and the console said so */
    so_test_check(walk_warned && strcmp(walk_warned, "warned") == 0, __FILE__, __LINE__,
                  "walk's episode shows \"warned\" between its warning and its opening (%s)",
                  walk_warned ? walk_warned : "never warned");
    json_decref(warned_root);
    CHECK(walk->n_cands >= 1 && walk->cands[0].counted);
    /* the episode ids are the reports' */
    for (int i = 0; i < opened.n; i++) {
        const struct so_zone_status *z = zone_named(s, opened.items[i].zone);
        const char *id = z == bay ? bay->cands[0].ep_id : z ? z->ep_id : "";
        CHECK_STR(id, opened.items[i].episode);
    }
    CHECK_INT(opened.n, 2);      /* bay and walk, never night */

    /* The JSON: reasons by name, the evidence of the episode the events named. */
    struct so_event ev = {.record = json_pack("{s:s}", "episode_id", bay->cands[0].ep_id),
                          .zone_id = "bay", .state = "opened", .n_evidence = 2};
    snprintf(ev.evidence[0].role, sizeof(ev.evidence[0].role), "rest");
    snprintf(ev.evidence[0].file, sizeof(ev.evidence[0].file), "abc-rest.jpg");
    snprintf(ev.evidence[1].role, sizeof(ev.evidence[1].role), "confirm");
    snprintf(ev.evidence[1].file, sizeof(ev.evidence[1].file), "abc-confirm.jpg");
    so_live_episode(&live, &ev);
    so_live_episode(&live, &ev);        /* a second report of it replaces, not adds */
    json_decref(ev.record);
    json_t *root = status_json(cam, &live);
    CHECK_STR(json_string_value(json_object_get(root, "camera")), "cam");
    CHECK(json_is_false(json_object_get(root, "suspended")));
    CHECK_INT((int)json_integer_value(json_object_get(json_object_get(root, "frame"), "width")),
              W);
    json_t *zb = zone_json(root, 0), *zw = zone_json(root, 1), *zn = zone_json(root, 2);
    CHECK_STR(json_string_value(json_object_get(zb, "kind")), "illegal_parking");
    CHECK_STR(json_string_value(json_object_get(zb, "category")), "0505");
    CHECK(json_is_null(json_object_get(zb, "occupancy")));
    json_t *cb = json_array_get(json_object_get(zb, "candidates"), 0);
    CHECK_STR(json_string_value(json_object_get(cb, "reason")), "counts");
    CHECK(json_is_true(json_object_get(cb, "counted")));
    CHECK_DBL(json_number_value(json_object_get(cb, "dwell_s")), 6, 1e-9);
    json_t *ep = json_object_get(cb, "episode");
    CHECK_STR(json_string_value(json_object_get(ep, "state")), "open");
    json_t *evj = json_object_get(ep, "evidence");
    CHECK_INT((int)json_array_size(evj), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(evj, 1), "url")),
              "/evidence/abc-confirm.jpg");
    CHECK_INT((int)json_array_size(json_object_get(root, "episodes")), 1);
    CHECK(json_number_value(json_object_get(zw, "occupancy")) > 0.05);
    CHECK_STR(json_string_value(json_object_get(json_object_get(zw, "episode"), "state")),
              "open");
    CHECK(json_is_false(json_object_get(zn, "enforced")));
    json_t *cn = json_array_get(json_object_get(zn, "candidates"), 0);
    CHECK_STR(json_string_value(json_object_get(cn, "reason")), "not_enforced");
    json_decref(root);

    /* Moved: the frame is not analysed; the last status is shown suspended. */
    so_live_publish_status(&live, so_rules_status(r), true);
    root = status_json(cam, &live);
    CHECK(json_is_true(json_object_get(root, "suspended")));
    cb = json_array_get(json_object_get(zone_json(root, 0), "candidates"), 0);
    CHECK_STR(json_string_value(json_object_get(cb, "reason")), "suspended");
    CHECK(json_is_false(json_object_get(cb, "counted")));
    json_decref(root);

    so_live_finish(&live);
    so_rules_destroy(r);
    so_static_model_destroy(m);
}

/* Tracks the vehicle zone looks at, one frame, and the reason each gets. */
static const struct {
    const char *name;
    enum so_role role;
    const char *cls;
    float score;
    struct so_box box;
    bool stationary;
    const char *why;
} track_cases[] = {
    {"a person", SO_ROLE_PERSON, "person", 0.9f, {90, 100, 14, 40}, true, "person"},
    {"a bicycle", SO_ROLE_NONMOTOR, "bicycle", 0.9f, {150, 120, 30, 20}, true, "other_kind"},
    {"a truck", SO_ROLE_VEHICLE, "truck", 0.9f, {70, 115, 50, 28}, true, "class"},
    {"a faint car", SO_ROLE_VEHICLE, "car", 0.2f, {70, 115, 50, 28}, true, "score"},
    {"a tiny car", SO_ROLE_VEHICLE, "car", 0.9f, {120, 130, 10, 8}, true, "too_small"},
    {"a car on the edge", SO_ROLE_VEHICLE, "car", 0.9f, {170, 140, 60, 30}, true, "footprint"},
    {"a car driving", SO_ROLE_VEHICLE, "car", 0.9f, {100, 120, 50, 25}, false, "moving"},
    {"a parked car", SO_ROLE_VEHICLE, "car", 0.9f, {100, 120, 50, 25}, true, "counts"},
};

static void track_reasons(void)
{
    static char *classes[] = {"car"};
    struct so_zone_cfg z = zone("bay", SO_ZONE_ILLEGAL_PARKING, bay_pts, 6);
    z.classes = classes;
    z.n_classes = 1;
    z.min_score = 0.5;
    z.min_box = 12;
    struct so_camera_cfg cam = {.id = (char *)"cam", .zones = &z, .n_zones = 1};
    struct opened opened = {0};
    struct so_static_model *m = so_static_model_create(W, H, NULL);
    struct so_rules *r = so_rules_create(&cam, W, H, on_report, &opened);
    size_t n = sizeof(track_cases) / sizeof(track_cases[0]);
    struct so_track tracks[16];
    for (size_t i = 0; i < n; i++) {
        tracks[i] = (struct so_track){.id = (int)i, .role = track_cases[i].role,
                                      .score = track_cases[i].score, .box = track_cases[i].box,
                                      .first_s = 1, .rest_s = 1, .last_seen_s = 2,
                                      .stationary = track_cases[i].stationary, .present = true};
        snprintf(tracks[i].cls, sizeof(tracks[i].cls), "%s", track_cases[i].cls);
    }
    struct so_frame *f = scene_frame(2, false);
    so_static_model_update(m, f->gray, f->gray_stride, f->media_s);
    so_rules_process(r, f, m, tracks, (int)n);
    so_frame_unref(f);
    const struct so_zone_status *zs = zone_named(so_rules_status(r), "bay");
    CHECK(zs != NULL);
    for (size_t i = 0; zs && i < n; i++) {
        const struct so_cand_status *c = NULL;
        for (int k = 0; k < zs->n_cands && !c; k++) {
            c = zs->cands[k].track == (int)i ? &zs->cands[k] : NULL;
        }
        const char *why = c ? so_status_why_name(c->why) : "(not listed)";
        so_test_check(strcmp(why, track_cases[i].why) == 0, __FILE__, __LINE__,
                      "%s: %s (want %s)", track_cases[i].name, why, track_cases[i].why);
    }
    CHECK_STR(so_status_why_name(SO_WHY_COUNT_), "unknown");
    CHECK_STR(so_status_episode_name(SO_EPISODE_CANDIDATE, ""), "none");
    CHECK_STR(so_status_episode_name(SO_EPISODE_CANDIDATE, "ab"), "candidate");
    so_rules_destroy(r);
    so_static_model_destroy(m);
}

/*
 * With a model, a static blob no track explains would be an unclassified vehicle; a zone
 * that wants labels only, or whose min_box refuses it, lists it with that reason.
 */
static void blob_refusals(void)
{
    struct so_zone_cfg zones[] = {zone("labels", SO_ZONE_ILLEGAL_PARKING, bay_pts, 6),
                                  zone("small", SO_ZONE_ILLEGAL_PARKING, bay_pts, 6),
                                  zone("any", SO_ZONE_ILLEGAL_PARKING, bay_pts, 6)};
    zones[0].require_class = true;
    zones[1].min_box = 200;
    struct so_camera_cfg cam = {.id = (char *)"cam", .zones = zones, .n_zones = 3};
    struct opened opened = {0};
    struct so_static_model *m = so_static_model_create(W, H, NULL);
    struct so_rules *r = so_rules_create(&cam, W, H, on_report, &opened);
    CHECK(m && r);
    static const struct so_track none[1];   /* a model that sees nothing */
    for (double t = 0; m && r && t < 20; t += 1.0 / FPS) {
        struct so_frame *f = scene_frame(t, t >= 10);
        so_static_model_update(m, f->gray, f->gray_stride, f->media_s);
        so_rules_process(r, f, m, none, 0);
        so_frame_unref(f);
    }
    struct so_rules_status *st = so_rules_status_copy(so_rules_status(r));
    static const struct {
        const char *zone;
        enum so_status_why why;
        bool followed;
    } want[] = {
        {"labels", SO_WHY_NEEDS_CLASS, false},
        {"small", SO_WHY_TOO_SMALL, false},
        {"any", SO_WHY_COUNTS, true},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct so_zone_status *zs = zone_named(st, want[i].zone);
        bool found = false;
        for (int k = 0; zs && k < zs->n_cands && !found; k++) {
            found = zs->cands[k].why == want[i].why && zs->cands[k].followed == want[i].followed;
        }
        so_test_check(found, __FILE__, __LINE__, "zone %s lists the blob as %s", want[i].zone,
                      so_status_why_name(want[i].why));
    }
    so_rules_status_destroy(st);
    so_rules_destroy(r);
    so_static_model_destroy(m);
}

int main(void)
{
    struct so_zone_cfg zones[] = {zone("bay", SO_ZONE_ILLEGAL_PARKING, bay_pts, 6),
                                  zone("walk", SO_ZONE_SIDEWALK_OCCUPIED, walk_pts, 4),
                                  zone("night", SO_ZONE_ILLEGAL_PARKING, bay_pts, 6)};
    char err[128];
    zones[1].warn_s = 2;
    so_schedule_init_empty(&zones[2].schedule);
    CHECK(so_schedule_add(&zones[2].schedule, "mon 00:00-00:01", err, sizeof(err)) == 0);
    struct so_camera_cfg cam = {.id = (char *)"cam", .zones = zones, .n_zones = 3};
    blob_rules(&cam);
    track_reasons();
    blob_refusals();
    so_rules_status_destroy(NULL);
    return so_test_done();
}
