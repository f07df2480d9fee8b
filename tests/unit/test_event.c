/*
 * Unit tests for detector/events/event.c: the event record of ARCHITECTURE "Event record
 * (contract)" built from a hand-made so_report (config structs filled here, frames from
 * so_frame_alloc), the evidence JPEGs and their hashes, categories, and privacy masks.
 */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "event.h"
#include "frame.h"
#include "rules.h"
#include "testlib.h"
#include "zone_mask.h"

#define W 160
#define H 120
#define NOW_WALL 1764216221.2       /* 2025-11-27T04:03:41.200Z = 12:03:41.200+08:00 */
#define N_ZONES 5

static struct so_pointf zone_pts[] = {{0.05, 0.55}, {0.45, 0.55}, {0.45, 0.95}, {0.05, 0.95}};
static struct so_pointf mask_pts[] = {{0.5, 0.1}, {0.9, 0.1}, {0.9, 0.5}, {0.5, 0.5}};
static struct so_polygon mask_polys[] = {{mask_pts, 4}};

enum { Z_WALK, Z_BAY, Z_BIKES, Z_STALL, Z_HAWKER };

static struct so_zone_cfg zones[N_ZONES] = {
    [Z_WALK] = {.id = (char *)"walk-1", .kind = SO_ZONE_SIDEWALK_OCCUPIED,
                .polygon = {zone_pts, 4}, .dwell_s = 180, .min_occupancy = 0.02,
                .report_interval_s = 60, .clear_s = 10, .schedule = {.always = true},
                .grid = (char *)"620102001001001", .address = (char *)"永定路东口北侧"},
    [Z_BAY] = {.id = (char *)"bay-a", .kind = SO_ZONE_ILLEGAL_PARKING, .polygon = {zone_pts, 4},
               .dwell_s = 180, .min_occupancy = 0.02, .report_interval_s = 60, .clear_s = 10,
               .schedule = {.always = true}},
    [Z_BIKES] = {.id = (char *)"bikes", .kind = SO_ZONE_NONMOTOR_PARKING,
                 .polygon = {zone_pts, 4}, .dwell_s = 180, .min_occupancy = 0.02,
                 .report_interval_s = 60, .clear_s = 10, .schedule = {.always = true},
                 .grid = (char *)"620102001001002"},
    [Z_STALL] = {.id = (char *)"stall-n", .kind = SO_ZONE_STALL_ENCROACHMENT,
                 .polygon = {zone_pts, 4}, .dwell_s = 180, .min_occupancy = 0.02,
                 .report_interval_s = 60, .clear_s = 10, .schedule = {.always = true},
                 .address = (char *)"永定路东口北侧"},
    [Z_HAWKER] = {.id = (char *)"hawker", .kind = SO_ZONE_STALL_ENCROACHMENT,
                  .polygon = {zone_pts, 4}, .dwell_s = 180, .min_occupancy = 0.02,
                  .report_interval_s = 60, .clear_s = 10, .schedule = {.always = true},
                  .grid = (char *)"620102001001001", .category = (char *)"0501"},
};

static struct so_camera_cfg camera = {
    .id = (char *)"cam-023",
    .url = (char *)"rtsp://user:pass@nvr/ch23/sub",
    .resolved_url = (char *)"rtsp://user:pass@nvr/ch23/sub",
    .analysis = {5, 640, 1},
    .zones = zones,
    .n_zones = N_ZONES,
    .privacy_masks = mask_polys,
    .n_privacy_masks = 1,
};

/* The same camera without its privacy mask. */
static struct so_camera_cfg camera_nomask = {
    .id = (char *)"cam-023",
    .url = (char *)"rtsp://user:pass@nvr/ch23/sub",
    .resolved_url = (char *)"rtsp://user:pass@nvr/ch23/sub",
    .analysis = {5, 640, 1},
    .zones = zones,
    .n_zones = N_ZONES,
};

static int zone_xy[8];

/* A frame filled with a deterministic pattern (seed varies it), at media / wall time. */
static struct so_frame *make_frame(int seed, double media_s, double wall_s)
{
    struct so_frame *f = so_frame_alloc(W, H);
    if (!f) {
        return NULL;
    }
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            uint8_t *p = f->bgr + (size_t)y * f->bgr_stride + 3 * x;
            p[0] = (uint8_t)(x * 3 + y * 2 + seed * 17);
            p[1] = (uint8_t)((x ^ y) * 5 + seed * 31);
            p[2] = (uint8_t)(((x / 8 + y / 8) & 1) ? 200 - seed : 40 + seed);
            f->gray[(size_t)y * f->gray_stride + x] = (uint8_t)((p[0] + p[1] + p[2]) / 3);
        }
    }
    f->media_s = media_s;
    f->wall_s = wall_s;
    return f;
}

static void sha256_hex(const uint8_t *data, size_t size, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    out[0] = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, data, size) &&
        EVP_DigestFinal_ex(c, md, &len) && len == 32) {
        for (unsigned int i = 0; i < len; i++) {
            snprintf(out + 2 * i, 3, "%02x", md[i]);
        }
    }
    EVP_MD_CTX_free(c);
}

static bool is_hex(const char *s, size_t n)
{
    if (!s || strlen(s) != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F'))) {
            return false;
        }
    }
    return true;
}

static regex_t iso_re;

static bool is_iso8601(const char *s)
{
    return s && regexec(&iso_re, s, 0, NULL, 0) == 0;
}

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool jnull(const json_t *o, const char *key)
{
    return json_is_null(json_object_get(o, key));
}

/* An expected number (>= 0) or null (< 0). */
static void check_number_or_null(const char *name, const json_t *rec, const char *key,
                                 double want)
{
    const json_t *v = json_object_get(rec, key);
    if (want < 0) {
        so_test_check(json_is_null(v), __FILE__, __LINE__, "%s: %s is null", name, key);
    } else {
        so_test_check(json_is_number(v) && json_number_value(v) - want < 1e-6 &&
                          want - json_number_value(v) < 1e-6,
                      __FILE__, __LINE__, "%s: %s == %g (got %s %g)", name, key, want,
                      json_is_number(v) ? "number" : "non-number",
                      json_is_number(v) ? json_number_value(v) : 0.0);
    }
}

static void check_time_or_null(const char *name, const json_t *rec, const char *key,
                               const char *want)
{
    const json_t *v = json_object_get(rec, key);
    if (!want) {
        so_test_check(json_is_null(v), __FILE__, __LINE__, "%s: %s is null", name, key);
        return;
    }
    const char *got = json_string_value(v);
    so_test_check(is_iso8601(got), __FILE__, __LINE__, "%s: %s \"%s\" is ISO-8601 with offset",
                  name, key, got ? got : "(not a string)");
    so_test_check(got && strcmp(got, want) == 0, __FILE__, __LINE__, "%s: %s == \"%s\" (got %s)",
                  name, key, want, got ? got : "(not a string)");
}

struct ev_case {
    const char *name;
    int zone;
    enum so_episode_action action;
    const char *reason;
    bool with_rest;
    double now_media;
    double start_s, confirmed_s, end_s;
    double occupancy;
    int n_objects;
    const char *model;
    /* expected */
    const char *kind, *state, *code, *cname;
    const char *roles;          /* comma-separated evidence roles, in order */
    double media_end;           /* -1: null */
    double dwell;
    const char *started_at, *confirmed_at, *ended_at;
    double occupancy_out;       /* -1: null */
    /* warn_s (issue 16): when the episode was warned of (warned_media), and the warned_at
     * expected; NULL: not warned, no warned_at or media_warned_s in the record */
    const char *warned_at;
    double warned_media;
};

static const struct ev_case ev_cases[] = {
    {"sidewalk opened", Z_WALK, SO_EPISODE_OPENED, NULL, true, 200.0, 20.0, 200.0, -1, 0.43219,
     2, NULL, "sidewalk_occupied", "opened", "0507", "乱堆物料", "rest,confirm", -1, 180.0,
     "2025-11-27T12:00:41.200+08:00", "2025-11-27T12:03:41.200+08:00", NULL, 0.4322},
    {"parking opened no rest", Z_BAY, SO_EPISODE_OPENED, NULL, false, 200.0, 20.0, 200.0, -1,
     -1, 1, "yolo-fastest-1.1-xl", "illegal_parking", "opened", "0505", "机动车乱停放",
     "confirm", -1, 180.0, "2025-11-27T12:00:41.200+08:00", "2025-11-27T12:03:41.200+08:00",
     NULL, -1},
    {"parking opened from first frame", Z_BAY, SO_EPISODE_OPENED, NULL, true, 180.0, 0.0, 180.0,
     -1, -1, 1, NULL, "illegal_parking", "opened", "0505", "机动车乱停放", "rest,confirm", -1,
     180.0, "2025-11-27T12:00:21.200+08:00", "2025-11-27T12:03:21.200+08:00", NULL, -1},
    {"nonmotor update", Z_BIKES, SO_EPISODE_UPDATE, NULL, true, 260.0, 20.0, 200.0, -1, -1, 2,
     NULL, "nonmotor_parking", "update", "0506", "非机动车乱停放", "confirm", -1, 240.0,
     "2025-11-27T12:00:41.200+08:00", "2025-11-27T12:03:41.200+08:00", NULL, -1},
    {"stall cleared left", Z_STALL, SO_EPISODE_CLEARED_NOW, "left", true, 500.0, 20.0, 200.0,
     480.0, 0.0, 0, NULL, "stall_encroachment", "cleared", "0504", "店外经营", "after", 480.0,
     460.0, "2025-11-27T12:00:41.200+08:00", "2025-11-27T12:03:41.200+08:00",
     "2025-11-27T12:08:21.200+08:00", 0.0},
    {"hawker override opened", Z_HAWKER, SO_EPISODE_OPENED, NULL, true, 200.0, 20.0, 200.0, -1,
     0.25, 1, NULL, "stall_encroachment", "opened", "0501", "无照经营游商", "rest,confirm", -1,
     180.0, "2025-11-27T12:00:41.200+08:00", "2025-11-27T12:03:41.200+08:00", NULL, 0.25},
    {"sidewalk zone removed", Z_WALK, SO_EPISODE_CLEARED_NOW, "zone_removed", false, 300.0,
     20.0, 200.0, 300.0, 0.1, 0, NULL, "sidewalk_occupied", "cleared", "0507", "乱堆物料",
     "after", 300.0, 280.0, "2025-11-27T12:00:41.200+08:00", "2025-11-27T12:03:41.200+08:00",
     "2025-11-27T12:05:21.200+08:00", 0.1},
    {"parking warning", Z_BAY, SO_EPISODE_WARNING, NULL, true, 80.0, 20.0, -1, -1, -1, 1, NULL,
     "illegal_parking", "warning", "0505", "机动车乱停放", "warning", -1, 60.0,
     "2025-11-27T12:00:41.200+08:00", NULL, NULL, -1, "2025-11-27T12:01:41.200+08:00", 80.0},
    {"parking warning cleared", Z_BAY, SO_EPISODE_WARNING_CLEARED, "left", true, 100.0, 20.0, -1,
     90.0, -1, 1, NULL, "illegal_parking", "warning_cleared", "0505", "机动车乱停放", "after",
     90.0, 70.0, "2025-11-27T12:00:41.200+08:00", NULL, "2025-11-27T12:01:51.200+08:00", -1,
     "2025-11-27T12:01:41.200+08:00", 80.0},
    {"parking opened after warning", Z_BAY, SO_EPISODE_OPENED, NULL, true, 200.0, 20.0, 200.0,
     -1, -1, 1, NULL, "illegal_parking", "opened", "0505", "机动车乱停放", "rest,confirm", -1,
     180.0, "2025-11-27T12:00:41.200+08:00", "2025-11-27T12:03:41.200+08:00", NULL, -1,
     "2025-11-27T12:01:41.200+08:00", 80.0},
};

static const struct so_object sample_objects[] = {
    {"car", 0.875, {10, 70, 40, 30}, 7},
    {"object", 0.5, {60, 80, 20, 20}, -1},
};

static void fill_report(struct so_report *rep, const struct ev_case *c, struct so_episode *ep,
                        struct so_frame *rest, struct so_frame *now)
{
    so_episode_init(ep);
    snprintf(ep->id, sizeof(ep->id), "%s", "0123456789abcdef0123456789abcdef");
    ep->state = so_episode_ended(c->action)        ? SO_EPISODE_CLEARED
                : c->action == SO_EPISODE_WARNING ? SO_EPISODE_CANDIDATE
                                                  : SO_EPISODE_OPEN;
    ep->warned_s = c->warned_at ? c->warned_media : -1;
    ep->start_s = c->start_s;
    ep->confirmed_s = c->confirmed_s;
    ep->last_report_s = c->now_media;
    ep->end_s = c->end_s;
    *rep = (struct so_report){
        .action = c->action,
        .reason = c->reason,
        .camera = &camera,
        .zone = &zones[c->zone],
        .episode = ep,
        .zone_xy_n = 4,
        .zone_xy = zone_xy,
        .occupancy = c->occupancy,
        .n_objects = c->n_objects,
        .rest = c->with_rest ? rest : NULL,
        .now = now,
    };
    for (int i = 0; i < c->n_objects; i++) {
        rep->objects[i] = sample_objects[i];
    }
}

static void check_category(const char *name, const json_t *rec, const struct ev_case *c)
{
    const json_t *cat = json_object_get(rec, "category");
    so_test_check(json_is_object(cat), __FILE__, __LINE__, "%s: category is an object", name);
    const char *std = jstr(cat, "standard"), *code = jstr(cat, "code"), *cname = jstr(cat, "name");
    so_test_check(std && strcmp(std, "GB/T 30428.2") == 0, __FILE__, __LINE__,
                  "%s: category.standard (got %s)", name, std ? std : "(null)");
    so_test_check(code && strcmp(code, c->code) == 0, __FILE__, __LINE__,
                  "%s: category.code == %s (got %s)", name, c->code, code ? code : "(null)");
    so_test_check(cname && strcmp(cname, c->cname) == 0, __FILE__, __LINE__,
                  "%s: category.name == %s (got %s)", name, c->cname, cname ? cname : "(null)");
    /* no mapping table in the context: no local code or name (tests/unit/test_categories.c and
     * the fault tests cover a mapped one) */
    so_test_check(!json_object_get(cat, "local_code") && !json_object_get(cat, "local_name"),
                  __FILE__, __LINE__, "%s: no local_code/local_name without a mapping", name);
}

static void check_objects(const char *name, const json_t *rec, const struct ev_case *c)
{
    const json_t *objs = json_object_get(rec, "objects");
    so_test_check(json_is_array(objs) && (int)json_array_size(objs) == c->n_objects, __FILE__,
                  __LINE__, "%s: objects is an array of %d", name, c->n_objects);
    for (int i = 0; i < c->n_objects && i < (int)json_array_size(objs); i++) {
        const json_t *o = json_array_get(objs, (size_t)i);
        const struct so_object *want = &sample_objects[i];
        const json_t *box = json_object_get(o, "box");
        bool box_ok = json_is_array(box) && json_array_size(box) == 4;
        for (size_t k = 0; box_ok && k < 4; k++) {
            box_ok = json_is_integer(json_array_get(box, k)) &&
                     json_integer_value(json_array_get(box, k)) == want->box[k];
        }
        const char *cls = jstr(o, "class");
        const json_t *score = json_object_get(o, "score");
        const json_t *track = json_object_get(o, "track");
        bool track_ok = want->track >= 0
                            ? json_is_integer(track) && json_integer_value(track) == want->track
                            : (track == NULL || json_is_null(track));
        so_test_check(cls && strcmp(cls, want->cls) == 0 && json_is_number(score) &&
                          json_number_value(score) > want->score - 1e-9 &&
                          json_number_value(score) < want->score + 1e-9 && box_ok && track_ok,
                      __FILE__, __LINE__, "%s: objects[%d] {class %s, score, box, track}", name,
                      i, want->cls);
    }
}

static void check_evidence(const char *name, const json_t *rec, const struct so_event *ev,
                           const struct ev_case *c)
{
    char roles[64];
    snprintf(roles, sizeof(roles), "%s", c->roles);
    const char *want[SO_EVENT_MAX_EVIDENCE];
    int n_want = 0;
    char *save = NULL;
    for (char *tok = strtok_r(roles, ",", &save); tok && n_want < SO_EVENT_MAX_EVIDENCE;
         tok = strtok_r(NULL, ",", &save)) {
        want[n_want++] = tok;
    }
    const json_t *evid = json_object_get(rec, "evidence");
    so_test_check(json_is_array(evid) && (int)json_array_size(evid) == n_want &&
                      ev->n_evidence == n_want,
                  __FILE__, __LINE__, "%s: evidence has %d entries (%s): record %zu, event %d",
                  name, n_want, c->roles, json_array_size(evid), ev->n_evidence);
    for (int i = 0; i < n_want && i < (int)json_array_size(evid) && i < ev->n_evidence; i++) {
        const json_t *e = json_array_get(evid, (size_t)i);
        const struct so_evidence *src = &ev->evidence[i];
        const char *role = jstr(e, "role"), *format = jstr(e, "format");
        const char *sha = jstr(e, "sha256"), *file = jstr(e, "file");
        const json_t *size = json_object_get(e, "size");
        so_test_check(role && strcmp(role, want[i]) == 0, __FILE__, __LINE__,
                      "%s: evidence[%d].role == %s (got %s)", name, i, want[i],
                      role ? role : "(null)");
        so_test_check(format && strcmp(format, "jpeg") == 0, __FILE__, __LINE__,
                      "%s: evidence[%d].format == jpeg", name, i);
        so_test_check(json_is_integer(size) && src->jpeg && src->size > 100 &&
                          (size_t)json_integer_value(size) == src->size,
                      __FILE__, __LINE__, "%s: evidence[%d].size == JPEG buffer size (%lld vs %zu)",
                      name, i, json_is_integer(size) ? (long long)json_integer_value(size) : -1LL,
                      src->size);
        bool soi = src->jpeg && src->size >= 4 && src->jpeg[0] == 0xFF && src->jpeg[1] == 0xD8;
        bool eoi = src->jpeg && src->size >= 4 && src->jpeg[src->size - 2] == 0xFF &&
                   src->jpeg[src->size - 1] == 0xD9;
        so_test_check(soi && eoi, __FILE__, __LINE__,
                      "%s: evidence[%d] buffer starts FF D8 and ends FF D9", name, i);
        char hex[65] = "";
        if (src->jpeg) {
            sha256_hex(src->jpeg, src->size, hex);
        }
        so_test_check(is_hex(sha, 64) && strcmp(sha, hex) == 0 && strcmp(src->sha256, hex) == 0,
                      __FILE__, __LINE__, "%s: evidence[%d].sha256 == SHA-256 of the buffer "
                      "(%s vs %s)", name, i, sha ? sha : "(null)", hex);
        char want_file[128];
        snprintf(want_file, sizeof(want_file), "%s-%s.jpg", ev->event_id, want[i]);
        so_test_check(file && strcmp(file, src->file) == 0 && strcmp(file, want_file) == 0,
                      __FILE__, __LINE__, "%s: evidence[%d].file == %s (got %s)", name, i,
                      want_file, file ? file : "(null)");
        so_test_check(strcmp(src->role, want[i]) == 0, __FILE__, __LINE__,
                      "%s: event evidence[%d].role == %s", name, i, want[i]);
    }
    /* rest and confirm come from different frames: different images */
    if (n_want == 2 && ev->n_evidence == 2) {
        so_test_check(strcmp(ev->evidence[0].sha256, ev->evidence[1].sha256) != 0, __FILE__,
                      __LINE__, "%s: rest and confirm images differ", name);
    }
}

static const char *const required_keys[] = {
    "schema", "event_id", "episode_id", "kind", "state", "reason", "detector_id", "camera_id",
    "zone_id", "category", "grid", "address", "media_start_s", "media_confirmed_s",
    "media_end_s", "started_at", "confirmed_at", "ended_at", "dwell_s", "occupancy", "objects",
    "evidence", "model",
};

static void test_event_case(const struct ev_case *c)
{
    const char *name = c->name;
    struct so_frame *rest = make_frame(1, c->start_s, NOW_WALL - (c->now_media - c->start_s));
    struct so_frame *now = make_frame(2, c->now_media, NOW_WALL + (c->now_media - 200.0));
    if (!CHECK(rest && now)) {
        so_frame_unref(rest);
        so_frame_unref(now);
        return;
    }
    struct so_episode ep;
    struct so_report rep;
    fill_report(&rep, c, &ep, rest, now);
    struct so_event_ctx ctx = {"nvr-07", c->model, 0};
    struct so_event *ev = so_event_create(&ctx, &rep);
    if (!so_test_check(ev && ev->record, __FILE__, __LINE__, "%s: so_event_create", name)) {
        so_event_destroy(ev);
        so_frame_unref(rest);
        so_frame_unref(now);
        return;
    }
    char *text = json_dumps(ev->record, JSON_COMPACT);
    so_test_check(text != NULL, __FILE__, __LINE__, "%s: json_dumps", name);
    json_error_t err;
    json_t *rec = text ? json_loads(text, 0, &err) : NULL;
    so_test_check(json_is_object(rec), __FILE__, __LINE__, "%s: round-trips through JSON", name);
    if (!rec) {
        free(text);
        so_event_destroy(ev);
        so_frame_unref(rest);
        so_frame_unref(now);
        return;
    }
    for (size_t k = 0; k < sizeof(required_keys) / sizeof(required_keys[0]); k++) {
        so_test_check(json_object_get(rec, required_keys[k]) != NULL, __FILE__, __LINE__,
                      "%s: record has \"%s\"", name, required_keys[k]);
    }
    so_test_check(json_object_get(rec, "seq") == NULL, __FILE__, __LINE__,
                  "%s: no seq before the outputs thread assigns it", name);

    CHECK_STR(jstr(rec, "schema"), "streetorder.event.v1");
    const char *event_id = jstr(rec, "event_id");
    so_test_check(is_hex(event_id, 32) && strcmp(event_id, ev->event_id) == 0, __FILE__,
                  __LINE__, "%s: event_id is 32 hex and equals ev->event_id (%s)", name,
                  event_id ? event_id : "(null)");
    CHECK_STR(jstr(rec, "episode_id"), ep.id);
    CHECK_STR(jstr(rec, "kind"), c->kind);
    CHECK_STR(jstr(rec, "state"), c->state);
    if (c->reason) {
        CHECK_STR(jstr(rec, "reason"), c->reason);
    } else {
        so_test_check(jnull(rec, "reason"), __FILE__, __LINE__, "%s: reason is null", name);
    }
    CHECK_STR(jstr(rec, "detector_id"), "nvr-07");
    CHECK_STR(jstr(rec, "camera_id"), "cam-023");
    CHECK_STR(jstr(rec, "zone_id"), zones[c->zone].id);
    check_category(name, rec, c);
    if (zones[c->zone].grid) {
        CHECK_STR(jstr(rec, "grid"), zones[c->zone].grid);
    } else {
        so_test_check(jnull(rec, "grid"), __FILE__, __LINE__, "%s: grid is null", name);
    }
    if (zones[c->zone].address) {
        CHECK_STR(jstr(rec, "address"), zones[c->zone].address);
        /* UTF-8 as is in the serialised text, not \u escapes */
        CHECK_CONTAINS(text, "\"address\":\"永定路东口北侧\"");
    } else {
        so_test_check(jnull(rec, "address"), __FILE__, __LINE__, "%s: address is null", name);
    }
    check_number_or_null(name, rec, "media_start_s", c->start_s);
    check_number_or_null(name, rec, "media_confirmed_s", c->confirmed_s);
    check_number_or_null(name, rec, "media_end_s", c->media_end);
    check_time_or_null(name, rec, "started_at", c->started_at);
    check_time_or_null(name, rec, "confirmed_at", c->confirmed_at);
    check_time_or_null(name, rec, "ended_at", c->ended_at);
    check_number_or_null(name, rec, "dwell_s", c->dwell);
    check_number_or_null(name, rec, "occupancy", c->occupancy_out);
    if (c->model) {
        CHECK_STR(jstr(rec, "model"), c->model);
    } else {
        so_test_check(jnull(rec, "model"), __FILE__, __LINE__, "%s: model is null", name);
    }
    check_objects(name, rec, c);
    check_evidence(name, rec, ev, c);

    if (c->warned_at) {
        check_time_or_null(name, rec, "warned_at", c->warned_at);
        check_number_or_null(name, rec, "media_warned_s", c->warned_media);
    } else {
        so_test_check(!json_object_get(rec, "warned_at") &&
                          !json_object_get(rec, "media_warned_s"),
                      __FILE__, __LINE__, "%s: not warned: no warned_at, media_warned_s", name);
    }
    char topic[160];
    bool warning = c->action == SO_EPISODE_WARNING || c->action == SO_EPISODE_WARNING_CLEARED;
    snprintf(topic, sizeof(topic), "%s.%s.cam-023", warning ? "warning" : "event", c->kind);
    CHECK_STR(ev->topic, topic);
    CHECK_STR(ev->kind, c->kind);
    CHECK_STR(ev->state, c->state);
    CHECK_STR(ev->camera_id, "cam-023");

    /* a second event from the same report: new event_id, same episode_id */
    struct so_event *ev2 = so_event_create(&ctx, &rep);
    so_test_check(ev2 && strcmp(ev2->event_id, ev->event_id) != 0 &&
                      strcmp(jstr(ev2->record, "episode_id"), ep.id) == 0,
                  __FILE__, __LINE__, "%s: each event gets its own event_id", name);
    so_event_destroy(ev2);

    json_decref(rec);
    free(text);
    so_event_destroy(ev);
    so_frame_unref(rest);
    so_frame_unref(now);
}

/* Offsets follow TZ: a zone west of UTC gives a negative offset. */
static void test_other_time_zone(void)
{
    setenv("TZ", "America/New_York", 1);
    tzset();
    const struct ev_case *c = &ev_cases[0];
    struct so_frame *rest = make_frame(1, 20.0, NOW_WALL - 180.0);
    struct so_frame *now = make_frame(2, 200.0, NOW_WALL);
    struct so_episode ep;
    struct so_report rep;
    fill_report(&rep, c, &ep, rest, now);
    struct so_event_ctx ctx = {"nvr-07", NULL, 90};
    struct so_event *ev = so_event_create(&ctx, &rep);
    CHECK(ev != NULL);
    if (ev) {
        CHECK_STR(jstr(ev->record, "started_at"), "2025-11-26T23:00:41.200-05:00");
        CHECK(is_iso8601(jstr(ev->record, "confirmed_at")));
    }
    so_event_destroy(ev);
    setenv("TZ", "UTC", 1);
    tzset();
    ev = so_event_create(&ctx, &rep);
    CHECK(ev != NULL);
    if (ev) {
        const char *s = jstr(ev->record, "started_at");
        CHECK(s && (strcmp(s, "2025-11-27T04:00:41.200+00:00") == 0 ||
                    strcmp(s, "2025-11-27T04:00:41.200Z") == 0));
        CHECK(is_iso8601(s));
    }
    so_event_destroy(ev);
    setenv("TZ", "Asia/Shanghai", 1);
    tzset();
    so_frame_unref(rest);
    so_frame_unref(now);
}

struct cat_case {
    const char *code, *name;
};

static void test_categories(void)
{
    static const struct cat_case names[] = {
        {"0102", "暴露垃圾"},       {"0501", "无照经营游商"},   {"0504", "店外经营"},
        {"0505", "机动车乱停放"},   {"0506", "非机动车乱停放"}, {"0507", "乱堆物料"},
        {"0999", NULL},             {"", NULL},                 {"05050", NULL},
        {"050", NULL},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *got = so_category_name(names[i].code);
        if (names[i].name) {
            so_test_check(got && strcmp(got, names[i].name) == 0, __FILE__, __LINE__,
                          "so_category_name(\"%s\") == %s (got %s)", names[i].code,
                          names[i].name, got ? got : "(null)");
        } else {
            so_test_check(got == NULL, __FILE__, __LINE__, "so_category_name(\"%s\") == NULL",
                          names[i].code);
        }
    }
    static const struct {
        int zone;
        const char *code;
    } codes[] = {
        {Z_WALK, "0507"}, {Z_BAY, "0505"}, {Z_BIKES, "0506"}, {Z_STALL, "0504"},
        {Z_HAWKER, "0501"},
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *got = so_category_code(&zones[codes[i].zone]);
        so_test_check(got && strcmp(got, codes[i].code) == 0, __FILE__, __LINE__,
                      "so_category_code(%s) == %s (got %s)", zones[codes[i].zone].id,
                      codes[i].code, got ? got : "(null)");
    }
}

static bool same_jpeg(const struct so_evidence *a, const struct so_evidence *b)
{
    return a->jpeg && b->jpeg && a->size == b->size && memcmp(a->jpeg, b->jpeg, a->size) == 0;
}

/*
 * Privacy masks, without decoding: two frames that differ only strictly inside the mask
 * polygon must give byte-identical evidence when the mask is applied (the region is fully
 * overwritten), and different evidence when it is not.
 */
static void test_privacy_mask(void)
{
    struct so_frame *a = make_frame(3, 200.0, NOW_WALL);
    struct so_frame *b = make_frame(3, 200.0, NOW_WALL);
    if (!CHECK(a && b)) {
        so_frame_unref(a);
        so_frame_unref(b);
        return;
    }
    /* the mask covers pixels x 80..143, y 12..60; change x 84..139, y 16..56 in b */
    int xy[8];
    so_polygon_to_pixels(&mask_polys[0], W, H, xy);
    CHECK_INT(xy[0], 80);
    CHECK_INT(xy[1], 12);
    CHECK_INT(xy[4], 143);
    CHECK_INT(xy[5], 60);
    for (int y = 16; y <= 56; y++) {
        for (int x = 84; x <= 139; x++) {
            uint8_t *p = b->bgr + (size_t)y * b->bgr_stride + 3 * x;
            p[0] = (uint8_t)(255 - p[0]);
            p[1] = (uint8_t)(p[1] + 90);
            p[2] = (uint8_t)(x * y);
        }
    }
    struct so_episode ep;
    struct so_report rep;
    fill_report(&rep, &ev_cases[0], &ep, NULL, a);
    struct so_evidence ma = {0}, mb = {0}, na = {0}, nb = {0};
    int ra = so_evidence_render(&rep, a, "confirm", 85, &ma);
    int rb = so_evidence_render(&rep, b, "confirm", 85, &mb);
    rep.camera = &camera_nomask;
    int rna = so_evidence_render(&rep, a, "confirm", 85, &na);
    int rnb = so_evidence_render(&rep, b, "confirm", 85, &nb);
    CHECK_INT(ra, 0);
    CHECK_INT(rb, 0);
    CHECK_INT(rna, 0);
    CHECK_INT(rnb, 0);
    CHECK(ma.jpeg && ma.size > 2 && ma.jpeg[0] == 0xFF && ma.jpeg[1] == 0xD8);
    CHECK_STR(ma.role, "confirm");
    char hex[65] = "";
    if (ma.jpeg) {
        sha256_hex(ma.jpeg, ma.size, hex);
    }
    CHECK_STR(ma.sha256, hex);
    /* with the mask, what is under it does not reach the image */
    so_test_check(same_jpeg(&ma, &mb), __FILE__, __LINE__,
                  "masked: frames differing only under the mask give identical JPEGs");
    /* without the mask it does; and the mask changes the image */
    so_test_check(!same_jpeg(&na, &nb), __FILE__, __LINE__,
                  "unmasked: frames differing under the mask give different JPEGs");
    so_test_check(!same_jpeg(&ma, &na), __FILE__, __LINE__,
                  "the privacy mask changes the evidence image");
    /* the source frame is not modified by rendering (frames are immutable once published) */
    struct so_frame *a2 = make_frame(3, 200.0, NOW_WALL);
    CHECK(a2 && memcmp(a->bgr, a2->bgr, (size_t)a->bgr_stride * H) == 0);
    so_frame_unref(a2);
    free(ma.jpeg);
    free(mb.jpeg);
    free(na.jpeg);
    free(nb.jpeg);

    /* object boxes are drawn on rest/confirm images, not on the "after" image */
    struct so_evidence with = {0}, without = {0};
    rep.camera = &camera;
    rep.n_objects = 1;
    so_evidence_render(&rep, a, "confirm", 85, &with);
    rep.n_objects = 0;
    so_evidence_render(&rep, a, "confirm", 85, &without);
    so_test_check(!same_jpeg(&with, &without), __FILE__, __LINE__,
                  "confirm image shows the object boxes");
    free(with.jpeg);
    free(without.jpeg);
    memset(&with, 0, sizeof(with));
    memset(&without, 0, sizeof(without));
    rep.n_objects = 1;
    so_evidence_render(&rep, a, "after", 85, &with);
    rep.n_objects = 0;
    so_evidence_render(&rep, a, "after", 85, &without);
    so_test_check(same_jpeg(&with, &without), __FILE__, __LINE__,
                  "after image has no object boxes");
    free(with.jpeg);
    free(without.jpeg);

    /* quality is honoured: lower quality, smaller file */
    struct so_evidence lo = {0}, hi = {0};
    so_evidence_render(&rep, a, "confirm", 20, &lo);
    so_evidence_render(&rep, a, "confirm", 95, &hi);
    CHECK(lo.jpeg && hi.jpeg && lo.size < hi.size);
    free(lo.jpeg);
    free(hi.jpeg);

    so_frame_unref(a);
    so_frame_unref(b);
}

static const json_t *evidence_item(const json_t *rec, const char *role)
{
    const json_t *items = json_object_get(rec, "evidence");
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *it = json_array_get(items, i);
        const char *r = jstr(it, "role");
        if (r && strcmp(r, role) == 0) {
            return it;
        }
    }
    return NULL;
}

/*
 * so_event_replace_evidence (evidence_url): the image is drawn again by the same code at the
 * still's size; on the analysis frame itself it is byte-identical to the original; the record
 * item gets size, sha256, width, height and source; other roles are untouched.
 */
static void test_replace_evidence(void)
{
    struct so_frame *rest = make_frame(1, 20.0, NOW_WALL - 180.0);
    struct so_frame *now = make_frame(2, 200.0, NOW_WALL);
    struct so_frame *big = so_frame_alloc(4 * W, 3 * H);  /* another aspect: axes scale apart */
    if (!CHECK(rest && now && big)) {
        so_frame_unref(rest);
        so_frame_unref(now);
        so_frame_unref(big);
        return;
    }
    memset(big->bgr, 90, (size_t)big->bgr_stride * big->height);
    struct so_episode ep;
    struct so_report rep;
    fill_report(&rep, &ev_cases[0], &ep, rest, now);
    struct so_event_ctx ctx = {"nvr-07", NULL, 85};
    struct so_event *ev = so_event_create(&ctx, &rep);
    if (!CHECK(ev && ev->n_evidence == 2)) {
        so_event_destroy(ev);
        goto out;
    }
    const json_t *conf = evidence_item(ev->record, "confirm");
    CHECK_STR(jstr(conf, "source"), "analysis");
    CHECK_INT(json_integer_value(json_object_get(conf, "width")), W);
    CHECK_INT(json_integer_value(json_object_get(conf, "height")), H);
    CHECK_DBL(json_number_value(json_object_get(conf, "media_s")), 200.0, 1e-9);
    CHECK_DBL(json_number_value(json_object_get(evidence_item(ev->record, "rest"), "media_s")),
              20.0, 1e-9);
    struct so_evidence orig = ev->evidence[1];
    uint8_t *orig_jpeg = malloc(orig.size);
    if (!CHECK(orig_jpeg)) {
        so_event_destroy(ev);
        goto out;
    }
    memcpy(orig_jpeg, orig.jpeg, orig.size);
    char rest_sha[65];
    memcpy(rest_sha, ev->evidence[0].sha256, sizeof(rest_sha));

    /* Same size, same picture: the one drawing gives the same bytes. */
    CHECK_INT(so_event_replace_evidence(ev, "confirm", now), 0);
    CHECK(ev->evidence[1].size == orig.size &&
          memcmp(ev->evidence[1].jpeg, orig_jpeg, orig.size) == 0);
    CHECK_STR(ev->evidence[1].sha256, orig.sha256);

    /* A larger still: new bytes, size, hash and dimensions, in the struct and the record. */
    CHECK_INT(so_event_replace_evidence(ev, "confirm", big), 0);
    const struct so_evidence *e = &ev->evidence[1];
    conf = evidence_item(ev->record, "confirm");
    char hex[65] = "";
    sha256_hex(e->jpeg, e->size, hex);
    CHECK_STR(e->sha256, hex);
    CHECK_STR(jstr(conf, "sha256"), hex);
    CHECK_STR(e->role, "confirm");
    CHECK_STR(e->file, orig.file);
    CHECK_INT(json_integer_value(json_object_get(conf, "size")), (long long)e->size);
    CHECK_INT(json_integer_value(json_object_get(conf, "width")), 4 * W);
    CHECK_INT(json_integer_value(json_object_get(conf, "height")), 3 * H);
    CHECK_INT(e->width, 4 * W);
    CHECK_STR(jstr(conf, "source"), "evidence_url");
    CHECK(e->jpeg[0] == 0xFF && e->jpeg[1] == 0xD8 && strcmp(e->sha256, orig.sha256) != 0);
    CHECK_STR(ev->evidence[0].sha256, rest_sha);
    CHECK_STR(jstr(evidence_item(ev->record, "rest"), "source"), "analysis");
    /* No such role: nothing changes. */
    CHECK_INT(so_event_replace_evidence(ev, "after", big), -ENOENT);
    CHECK(evidence_item(ev->record, "after") == NULL);
    free(orig_jpeg);
    so_event_destroy(ev);
out:
    so_frame_unref(rest);
    so_frame_unref(now);
    so_frame_unref(big);
}

int main(void)
{
    setenv("TZ", "Asia/Shanghai", 1);
    tzset();
    if (regcomp(&iso_re,
                "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}"
                "([+-][0-9]{2}:[0-9]{2}|Z)$",
                REG_EXTENDED | REG_NOSUB) != 0) {
        printf("Bail out! regcomp\n");
        return 1;
    }
    so_polygon_to_pixels(&zones[0].polygon, W, H, zone_xy);

    test_categories();
    for (size_t i = 0; i < sizeof(ev_cases) / sizeof(ev_cases[0]); i++) {
        test_event_case(&ev_cases[i]);
    }
    test_other_time_zone();
    test_privacy_mask();
    test_replace_evidence();

    regfree(&iso_re);
    return so_test_done();
}
