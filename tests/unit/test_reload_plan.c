/*
 * Unit tests for the reload plan (detector/config/reload_plan.c): one table row per kind of
 * edit to a running config (nothing, a zone's settings, a zone's kind, a zone added, a stream
 * setting, decode, cameras added, removed or reordered, restart-only keys), each checked for the
 * fate of every running camera, where each camera of the new config comes from, the counts,
 * whether anything changes, the restart-only keys listed and the zone changes logged.
 */
#include <string.h>

#include "reload_plan.h"
#include "testlib.h"

#define KEEP SO_RELOAD_KEEP
#define ZONES SO_RELOAD_ZONES
#define RESTART SO_RELOAD_RESTART
#define REMOVE SO_RELOAD_REMOVE

static struct so_pointf square[] = {{0.1, 0.1}, {0.4, 0.1}, {0.4, 0.4}, {0.1, 0.4}};
static struct so_pointf other[] = {{0.5, 0.5}, {0.9, 0.5}, {0.9, 0.9}, {0.5, 0.9}};

/* A config built in memory: cameras "a" (zones z1, z2) and "b" (zone z3), room for a third
 * camera and a further zone per camera. */
struct fixture {
    struct so_config cfg;
    struct so_camera_cfg cams[3];
    struct so_zone_cfg zones[3][3];
};

static struct so_zone_cfg zone(char *id, enum so_zone_kind kind, struct so_pointf *pts)
{
    return (struct so_zone_cfg){.id = id, .kind = kind, .polygon = {pts, 4}, .dwell_s = 60,
                                .min_occupancy = 0.02, .report_interval_s = 60, .clear_s = 10,
                                .schedule = {.always = true}};
}

static struct so_camera_cfg camera(char *id, char *url, struct so_zone_cfg *zones, size_t n)
{
    return (struct so_camera_cfg){.id = id, .url = url, .resolved_url = url, .zones = zones,
                                  .n_zones = n, .analysis = {.fps = 5, .width = 640,
                                                             .detect_fps = 1}};
}

static void fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->zones[0][0] = zone("z1", SO_ZONE_SIDEWALK_OCCUPIED, square);
    f->zones[0][1] = zone("z2", SO_ZONE_ILLEGAL_PARKING, other);
    f->zones[1][0] = zone("z3", SO_ZONE_ILLEGAL_PARKING, square);
    f->cams[0] = camera("a", "a.mp4", f->zones[0], 2);
    f->cams[1] = camera("b", "b.mp4", f->zones[1], 1);
    f->cfg.detector_id = "det";
    f->cfg.cameras = f->cams;
    f->cfg.n_cameras = 2;
}

static void no_edit(struct fixture *f)
{
    (void)f;
}

static void zone_dwell(struct fixture *f)
{
    f->zones[0][0].dwell_s = 120;
}

static void zone_redrawn(struct fixture *f)
{
    f->zones[1][0].polygon.pts = other;
}

static void zone_kind(struct fixture *f)
{
    f->zones[0][1].kind = SO_ZONE_NONMOTOR_PARKING;
}

static void zone_added(struct fixture *f)
{
    f->zones[0][2] = zone("z4", SO_ZONE_STALL_ENCROACHMENT, other);
    f->cams[0].n_zones = 3;
}

static void zone_removed(struct fixture *f)
{
    f->cams[0].n_zones = 1;
}

static void stream_url(struct fixture *f)
{
    f->cams[1].resolved_url = "b-new.mp4";
}

static void stream_decode(struct fixture *f)
{
    f->cams[0].decode = SO_DECODE_KEYFRAMES;
}

static void stream_and_zones(struct fixture *f)
{
    f->cams[0].analysis.detect_fps = 2;
    f->zones[0][0].dwell_s = 120;
}

static void camera_added(struct fixture *f)
{
    f->zones[2][0] = zone("z5", SO_ZONE_ILLEGAL_PARKING, square);
    f->cams[2] = camera("c", "c.mp4", f->zones[2], 1);
    f->cfg.n_cameras = 3;
}

static void camera_removed(struct fixture *f)
{
    f->cams[0] = f->cams[1];
    f->cfg.n_cameras = 1;
}

static void cameras_swapped(struct fixture *f)
{
    struct so_camera_cfg a = f->cams[0];
    f->cams[0] = f->cams[1];
    f->cams[1] = a;
}

static void restart_keys(struct fixture *f)
{
    f->cfg.model = "yolo";
    f->cfg.http_listen = "127.0.0.1:8080";
}

static const struct {
    const char *name;
    void (*edit)(struct fixture *next);
    enum so_reload_fate fate[2];    /* of the running cameras a, b */
    int from[3];                    /* per camera of the new config; -2 past the last */
    size_t n_zones, n_restart, n_remove, n_add;
    bool changes;
    const char *keys;               /* restart-only keys listed */
    const char *diff[3];            /* camera a's zones: removed, added, new settings */
} cases[] = {
    {"unchanged config", no_edit, {KEEP, KEEP}, {0, 1, -2}, 0, 0, 0, 0, false, "",
     {"", "", ""}},
    {"a zone's dwell edited", zone_dwell, {ZONES, KEEP}, {0, 1, -2}, 1, 0, 0, 0, true, "",
     {"", "", "z1"}},
    {"a zone redrawn", zone_redrawn, {KEEP, ZONES}, {0, 1, -2}, 1, 0, 0, 0, true, "",
     {"", "", ""}},
    {"a zone's kind changed: removed and added", zone_kind, {ZONES, KEEP}, {0, 1, -2}, 1, 0, 0,
     0, true, "", {"z2", "z2", ""}},
    {"a zone added", zone_added, {ZONES, KEEP}, {0, 1, -2}, 1, 0, 0, 0, true, "",
     {"", "z4", ""}},
    {"a zone removed", zone_removed, {ZONES, KEEP}, {0, 1, -2}, 1, 0, 0, 0, true, "",
     {"z2", "", ""}},
    {"a stream url changed: restart", stream_url, {KEEP, RESTART}, {0, 1, -2}, 0, 1, 0, 0, true,
     "", {"", "", ""}},
    {"decode changed: restart", stream_decode, {RESTART, KEEP}, {0, 1, -2}, 0, 1, 0, 0, true,
     "", {"", "", ""}},
    {"stream and zones changed: restart", stream_and_zones, {RESTART, KEEP}, {0, 1, -2}, 0, 1, 0,
     0, true, "", {"", "", "z1"}},
    {"a camera added", camera_added, {KEEP, KEEP}, {0, 1, -1}, 0, 0, 0, 1, true, "",
     {"", "", ""}},
    {"a camera removed", camera_removed, {REMOVE, KEEP}, {1, -2}, 0, 0, 1, 0, true, "",
     {"", "", ""}},
    {"cameras reordered: kept", cameras_swapped, {KEEP, KEEP}, {1, 0, -2}, 0, 0, 0, 0, false, "",
     {"", "", ""}},
    {"restart-only keys listed, cameras kept", restart_keys, {KEEP, KEEP}, {0, 1, -2}, 0, 0, 0,
     0, false, "detector.model, http.listen", {"", "", ""}},
};

static void test_plans(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture cur, next;
        fixture_init(&cur);
        fixture_init(&next);
        cases[i].edit(&next);
        struct so_reload_plan p;
        so_reload_plan(&cur.cfg, &cur.cfg, &next.cfg, &p);
        const char *name = cases[i].name;
        bool ok = p.n_cur == 2 && p.fate[0] == cases[i].fate[0] &&
                  p.fate[1] == cases[i].fate[1];
        so_test_check(ok, __FILE__, __LINE__, "%s: fates %d %d", name, p.fate[0], p.fate[1]);
        size_t n_next = 0;
        while (n_next < 3 && cases[i].from[n_next] != -2) {
            n_next++;
        }
        ok = p.n_next == n_next;
        for (size_t k = 0; ok && k < n_next; k++) {
            ok = p.from[k] == cases[i].from[k];
        }
        so_test_check(ok, __FILE__, __LINE__, "%s: new cameras from their running ones", name);
        so_test_check(p.n_zones == cases[i].n_zones && p.n_restart == cases[i].n_restart &&
                      p.n_remove == cases[i].n_remove && p.n_add == cases[i].n_add,
                      __FILE__, __LINE__, "%s: counts %zu zones, %zu restart, %zu remove, %zu add",
                      name, p.n_zones, p.n_restart, p.n_remove, p.n_add);
        so_test_check(so_reload_plan_changes(&p) == cases[i].changes, __FILE__, __LINE__,
                      "%s: changes a camera: %d", name, so_reload_plan_changes(&p));
        so_test_check(strcmp(p.restart_keys, cases[i].keys) == 0, __FILE__, __LINE__,
                      "%s: restart-only keys \"%s\"", name, p.restart_keys);
        const struct so_camera_cfg *na = so_config_find_camera(&next.cfg, "a");
        if (na) {
            struct so_zone_diff d;
            so_reload_zone_diff(&cur.cams[0], na, &d);
            so_test_check(strcmp(d.removed, cases[i].diff[0]) == 0 &&
                          strcmp(d.added, cases[i].diff[1]) == 0 &&
                          strcmp(d.changed, cases[i].diff[2]) == 0, __FILE__, __LINE__,
                          "%s: zones removed [%s], added [%s], new settings [%s]", name,
                          d.removed, d.added, d.changed);
        }
        so_reload_plan_finish(&p);
        so_reload_plan_finish(&p);      /* a finished plan may be finished again */
    }
}

/* Restart-only keys are compared with the config the process started with, not the latest:
 * a key changed by an earlier reload is still not applied, so it is listed again. */
static void test_keys_against_base(void)
{
    struct fixture base, cur, next;
    fixture_init(&base);
    fixture_init(&cur);
    fixture_init(&next);
    restart_keys(&cur);
    restart_keys(&next);
    zone_dwell(&next);
    struct so_reload_plan p;
    so_reload_plan(&base.cfg, &cur.cfg, &next.cfg, &p);
    CHECK_INT(p.n_restart_keys, 2);
    CHECK_STR(p.restart_keys, "detector.model, http.listen");
    CHECK_INT(p.fate[0], ZONES);
    so_reload_plan_finish(&p);
    so_reload_plan(&cur.cfg, &cur.cfg, &next.cfg, &p);
    CHECK_INT(p.n_restart_keys, 0);
    CHECK_STR(p.restart_keys, "");
    so_reload_plan_finish(&p);
}

int main(void)
{
    test_plans();
    test_keys_against_base();
    return so_test_done();
}
