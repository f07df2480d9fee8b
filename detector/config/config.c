/*
 * Why this file exists: the config is written by hand by operators who draw zones on a camera
 * image and type schedules, often on a device far from any developer. A mistake found at run
 * time means a missed violation or a false case opened against a citizen, so everything is
 * checked once, at load, and every mistake is reported in one run with the place it was made:
 * "file:line:col: cameras[0].zones[1].dwell_s: expected a number from 1 to 86400, got "0"".
 *
 * How: libyaml's document API (yaml_parser_load) builds the node tree with a start mark on
 * every node, so any value, key or mapping can be pointed at. The loader then walks the tree
 * once, keeping the current key path in a small buffer, and converts each value into the typed,
 * immutable structs of config.h. A bad value is reported and the walk goes on (siblings,
 * cousins, other cameras), so the operator fixes everything in one edit. The result is kept
 * only if no error was reported; the partially built tree is freed otherwise.
 *
 * Trade-offs: errors that depend on each other are suppressed rather than piled up (a polygon
 * with a bad point is not also reported as self-intersecting; a camera that is not a mapping is
 * one error, not one per missing key). Numbers may be quoted ("5"): YAML calls that a string,
 * but rejecting it would only annoy. A key given as null (`model:` or `model: ~`) counts as
 * absent. Keys are checked against a table per mapping, and an unknown key gets a "did you
 * mean" when it is within a small edit distance of a known one.
 *
 * The generic parts (error list, key path, node access, key checking, parsing a file) are in
 * yamlnode.c, shared with the category mapping's loader (categories.c), which so_config_load()
 * also runs: the mapping is part of what `streetorder check` validates. libyaml stays inside
 * detector/config/: config.h exposes plain C types only.
 *
 * The keys of a zone and of a camera's `analysis` are not written here but are the rows of
 * fields.c (type, range, default, place in the struct); load_field() converts a row by its
 * type, and the free, the reload comparison and the summary walk the same rows. What involves
 * several keys (unique zone ids, warn_s < dwell_s, max_box >= min_box) stays in load_zone().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "categories.h"
#include "backend.h"
#include "enumname.h"
#include "fields.h"
#include "log.h"
#include "so_build_config.h"
#include "xalloc.h"
#include "yamlnode.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* --- zone kinds ----------------------------------------------------------------------------- */

static const char *const kind_names[SO_ZONE_KIND_COUNT] = {
    [SO_ZONE_ILLEGAL_PARKING] = "illegal_parking",
    [SO_ZONE_NONMOTOR_PARKING] = "nonmotor_parking",
    [SO_ZONE_SIDEWALK_OCCUPIED] = "sidewalk_occupied",
    [SO_ZONE_STALL_ENCROACHMENT] = "stall_encroachment",
};

const char *so_zone_kind_name(enum so_zone_kind kind)
{
    return so_enum_name(kind_names, ARRAY_LEN(kind_names), (int)kind);
}

bool so_zone_kind_parse(const char *name, enum so_zone_kind *out)
{
    int k;
    bool ok = so_enum_parse(kind_names, ARRAY_LEN(kind_names), name, &k);
    if (ok && out) {
        *out = (enum so_zone_kind)k;
    }
    return ok;
}

static bool is_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '.' && c != '-') {
            return false;
        }
    }
    return true;
}

/* Ids name files and ZeroMQ topics: keep them to a safe alphabet. */
#define ID_EXPECTED "an id of 1 to 64 letters, digits, '_', '.' or '-'"

static bool val_id(struct so_yaml_loader *ld, yaml_node_t *v, char **out)
{
    char gbuf[96];
    if (v->type != YAML_SCALAR_NODE || !is_id(so_yaml_text(v))) {
        so_yaml_error(ld, v, "expected " ID_EXPECTED ", got %s",
                      so_yaml_got(v, gbuf, sizeof(gbuf)));
        return false;
    }
    free(*out);
    *out = so_xstrdup(so_yaml_text(v));
    return true;
}

/* Ranges of the keys outside the field tables (fields.c has the zone and analysis ones). */
static const struct so_range R_NONNEG = {0, INFINITY, false, false};
static const struct so_range R_COORD = {0, 1, false, false};
static const struct so_range R_QUOTA = {0, 65536, true, false};
static const struct so_range R_RESEND = {0.1, 3600, false, false};

static yaml_node_t *key_id(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                           bool required, char **out)
{
    size_t mark;
    yaml_node_t *v = so_yaml_enter(ld, map, key, required, ID_EXPECTED, &mark);
    if (v && !val_id(ld, v, out)) {
        v = NULL;
    }
    so_yaml_path_pop(ld, mark);
    return v;
}

static bool is_endpoint(const char *s)
{
    return strstr(s, "://") != NULL;
}

/* A ZeroMQ endpoint "transport://address". */
static void key_endpoint(struct so_yaml_loader *ld, yaml_node_t *map, const char *key, char **out)
{
    so_yaml_key_checked(ld, map, key, false, "a ZeroMQ endpoint like \"tcp://127.0.0.1:5556\"",
                        is_endpoint, out);
}

/* A CURVE key: 40 characters of the Z85 alphabet (`streetorder keygen` prints them). */
static bool is_curve_key(const char *s)
{
    static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              ".-:+=^!/*?&<>()[]{}@%$#";
    return strlen(s) == 40 && strspn(s, z85) == 40;
}

static yaml_node_t *key_curve(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                              char **out)
{
    return so_yaml_key_checked(ld, map, key, false,
                               "a 40-character Z85 CURVE key (see `streetorder keygen`)",
                               is_curve_key, out);
}

/* --- polygons ------------------------------------------------------------------------------- */

#define POLYGON_EXPECTED "a list of at least 3 points [x, y] (fractions of the frame, 0 to 1)"

/* Convert and validate a polygon at the current path; false (reported) if anything is wrong. */
static bool val_polygon(struct so_yaml_loader *ld, yaml_node_t *v, struct so_polygon *poly)
{
    char gbuf[96];
    if (v->type != YAML_SEQUENCE_NODE) {
        so_yaml_error(ld, v, "expected " POLYGON_EXPECTED ", got %s",
                      so_yaml_got(v, gbuf, sizeof(gbuf)));
        return false;
    }
    size_t n = so_yaml_seq_len(v);
    poly->pts = so_xcalloc(n, sizeof(*poly->pts));
    poly->n = n;
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        size_t mark = so_yaml_path_index(ld, i);
        yaml_node_t *pt = so_yaml_seq_item(ld, v, i);
        if (pt->type != YAML_SEQUENCE_NODE || so_yaml_seq_len(pt) != 2) {
            so_yaml_error(ld, pt, "expected a point [x, y] of two numbers from 0 to 1, got %s",
                          so_yaml_got(pt, gbuf, sizeof(gbuf)));
            ok = false;
        } else {
            for (size_t k = 0; k < 2; k++) {
                size_t mk = so_yaml_path_index(ld, k);
                double d = 0;
                if (!so_yaml_val_number(ld, so_yaml_seq_item(ld, pt, k), &R_COORD, &d)) {
                    ok = false;
                }
                if (k == 0) {
                    poly->pts[i].x = d;
                } else {
                    poly->pts[i].y = d;
                }
                so_yaml_path_pop(ld, mk);
            }
        }
        so_yaml_path_pop(ld, mark);
    }
    if (n < 3) {
        so_yaml_error(ld, v, "expected at least 3 points, got %zu", n);
        return false;
    }
    size_t ea, eb;
    if (ok && so_polygon_find_self_intersection(poly, &ea, &eb)) {
        if (eb == (ea + 1) % n &&
            poly->pts[ea].x == poly->pts[eb].x && poly->pts[ea].y == poly->pts[eb].y) {
            so_yaml_error(ld, v, "expected a simple polygon, but points %zu and %zu are the same",
                          ea, eb);
        } else {
            so_yaml_error(ld, v,
                          "expected a simple polygon (edges must not cross or touch), but the "
                          "edge from point %zu to %zu meets the edge from point %zu to %zu",
                          ea, (ea + 1) % n, eb, (eb + 1) % n);
        }
        return false;
    }
    return ok;
}

/* --- zones, cameras, top level -------------------------------------------------------------- */

/* The zone and analysis keys are the rows of so_zone_fields / so_analysis_fields (fields.c). */
static const char *const top_keys[] = {"detector", "outputs", "http", "cameras"};
static const char *const detector_keys[] = {"id",       "state_dir",  "model", "backend",
                                            "weights_dir", "timezone", "categories"};
static const char *const outputs_keys[] = {"jsonl", "publish", "evidence_dir", "deliver"};
static const char *const deliver_keys[] = {"endpoint", "drain_s", "quota_mb", "resend_s",
                                           "fsync", "server_key", "public_key", "secret_key"};
static const char *const http_keys[] = {"listen", "auth", "tls_cert", "tls_key"};
static const char *const camera_keys[] = {"id",     "url",      "evidence_url", "decode",
                                          "analysis", "zones", "privacy_masks"};

#define SCHEDULE_EXPECTED "a window like \"mon-fri 07:00-20:00\" or a list of them"

static yaml_node_t *load_schedule(struct so_yaml_loader *ld, yaml_node_t *zmap, const char *key,
                                  struct so_schedule *s)
{
    char err[384], gbuf[96];
    size_t mark;
    so_schedule_init_always(s);
    yaml_node_t *v = so_yaml_enter(ld, zmap, key, false, SCHEDULE_EXPECTED, &mark);
    if (v && v->type == YAML_SCALAR_NODE) {
        so_schedule_init_empty(s);
        if (so_schedule_add(s, so_yaml_text(v), err, sizeof(err)) < 0) {
            so_yaml_error(ld, v, "%s", err);
        }
    } else if (v && v->type == YAML_SEQUENCE_NODE) {
        so_schedule_init_empty(s);
        if (so_yaml_seq_len(v) == 0) {
            so_yaml_error(ld, v,
                          "expected at least one window like \"mon-fri 07:00-20:00\" (leave "
                          "schedule out to enforce at all times), got an empty list");
        }
        for (size_t i = 0; i < so_yaml_seq_len(v); i++) {
            size_t mi = so_yaml_path_index(ld, i);
            yaml_node_t *w = so_yaml_seq_item(ld, v, i);
            if (w->type != YAML_SCALAR_NODE) {
                so_yaml_error(ld, w, "expected a window like \"mon-fri 07:00-20:00\", got %s",
                              so_yaml_got(w, gbuf, sizeof(gbuf)));
            } else if (so_schedule_add(s, so_yaml_text(w), err, sizeof(err)) < 0) {
                so_yaml_error(ld, w, "%s", err);
            }
            so_yaml_path_pop(ld, mi);
        }
    } else if (v) {
        so_yaml_error(ld, v, "expected " SCHEDULE_EXPECTED ", got %s",
                      so_yaml_got(v, gbuf, sizeof(gbuf)));
    }
    so_yaml_path_pop(ld, mark);
    return v;
}

#define CLASSES_EXPECTED "a list of detector class names like [car, truck, bus]"

static bool is_lower_name(const char *s)
{
    for (const char *p = s; *p; p++) {
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != ' ' &&
            *p != '_' && *p != '-') {
            return false;
        }
    }
    return true;
}

/* classes: the detector classes that count in this zone (e.g. only bicycles for a bike bay). */
static yaml_node_t *load_classes(struct so_yaml_loader *ld, yaml_node_t *zmap, const char *key,
                                 char ***classes, size_t *n_classes)
{
    return so_yaml_key_names(ld, zmap, key, false, CLASSES_EXPECTED, SIZE_MAX,
                             "a class name in lower case like \"car\"", is_lower_name, classes,
                             n_classes);
}

static yaml_node_t *load_kind(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                              bool required, enum so_zone_kind *kind)
{
    char buf[256], gbuf[96];
    size_t mark;
    yaml_node_t *v = so_yaml_enter(ld, map, key, required, "a zone kind", &mark);
    if (v && (v->type != YAML_SCALAR_NODE || !so_zone_kind_parse(so_yaml_text(v), kind))) {
        const char *hint = v->type == YAML_SCALAR_NODE
                               ? so_yaml_closest(so_yaml_text(v), kind_names, ARRAY_LEN(kind_names))
                               : NULL;
        so_yaml_error(ld, v, "expected one of %s, got %s%s%s%s",
                      so_yaml_join(kind_names, ARRAY_LEN(kind_names), buf, sizeof(buf)),
                      so_yaml_got(v, gbuf, sizeof(gbuf)), hint ? " (did you mean \"" : "",
                      hint ? hint : "", hint ? "\"?)" : "");
    }
    so_yaml_path_pop(ld, mark);
    return v;
}

static yaml_node_t *load_polygon(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                                 bool required, struct so_polygon *poly)
{
    size_t mark;
    yaml_node_t *v = so_yaml_enter(ld, map, key, required, POLYGON_EXPECTED, &mark);
    if (v) {
        val_polygon(ld, v, poly);
    }
    so_yaml_path_pop(ld, mark);
    return v;
}

/* Convert one key of a field table (fields.h) from the mapping `map` into `base`. Returns the
 * value node when the key is present and its value was stored, NULL when absent or reported;
 * for digits, whose converter does not tell, NULL always. */
static yaml_node_t *load_field(struct so_yaml_loader *ld, yaml_node_t *map,
                               const struct so_field *f, void *base)
{
    void *p = (char *)base + f->offset;
    double d;
    switch (f->type) {
    case SO_FIELD_ID:
        return key_id(ld, map, f->key, f->required, p);
    case SO_FIELD_STRING:
        return so_yaml_key_string(ld, map, f->key, f->required, f->what, p);
    case SO_FIELD_DIGITS:
        so_yaml_key_digits(ld, map, f->key, f->digits, f->what, p);
        return NULL;
    case SO_FIELD_NUMBER:
        return so_yaml_key_number(ld, map, f->key, f->required, &f->range, p);
    case SO_FIELD_INT: {
        d = *(int *)p;
        yaml_node_t *v = so_yaml_key_number(ld, map, f->key, f->required, &f->range, &d);
        *(int *)p = (int)d;
        return v;
    }
    case SO_FIELD_KIND:
        return load_kind(ld, map, f->key, f->required, p);
    case SO_FIELD_POLYGON:
        return load_polygon(ld, map, f->key, f->required, p);
    case SO_FIELD_SCHEDULE:
        return load_schedule(ld, map, f->key, p);
    case SO_FIELD_CLASSES:
        return load_classes(ld, map, f->key, p, (size_t *)((char *)base + f->count_offset));
    case SO_FIELD_BOOL:
        return so_yaml_key_bool(ld, map, f->key, f->required, p);
    }
    return NULL;
}

/* so_yaml_check_mapping() with the keys of a field table. */
static bool check_fields(struct so_yaml_loader *ld, yaml_node_t *node,
                         const struct so_field_table *t, const char *what)
{
    const char *keys[64];
    if (t->n > ARRAY_LEN(keys)) {
        abort();    /* a table this long needs a bigger array here */
    }
    for (size_t i = 0; i < t->n; i++) {
        keys[i] = t->fields[i].key;
    }
    return so_yaml_check_mapping(ld, node, keys, t->n, what);
}

static void check_zone_id_unique(struct so_yaml_loader *ld, yaml_node_t *idn,
                                 const struct so_camera_cfg *cam, size_t index)
{
    const struct so_zone_cfg *z = &cam->zones[index];
    for (size_t j = 0; j < index; j++) {
        if (cam->zones[j].id && strcmp(cam->zones[j].id, z->id) == 0) {
            size_t mark = so_yaml_path_key(ld, "id");
            so_yaml_error(ld, idn,
                          "duplicate zone id \"%s\" in camera \"%s\" (first defined at line "
                          "%d): expected ids unique within a camera",
                          z->id, cam->id ? cam->id : "?", cam->zones[j].line);
            so_yaml_path_pop(ld, mark);
            break;
        }
    }
}

static void load_zone(struct so_yaml_loader *ld, yaml_node_t *node, struct so_camera_cfg *cam,
                      size_t index)
{
    struct so_zone_cfg *z = &cam->zones[index];
    z->line = (int)node->start_mark.line + 1;
    z->column = (int)node->start_mark.column + 1;
    so_fields_init(&so_zone_fields, z);
    if (!check_fields(ld, node, &so_zone_fields, "a zone")) {
        return;
    }
    for (size_t i = 0; i < so_zone_fields.n; i++) {
        const struct so_field *f = &so_zone_fields.fields[i];
        yaml_node_t *v = load_field(ld, node, f, z);
        if (v && f->type == SO_FIELD_ID) {
            check_zone_id_unique(ld, v, cam, index);
        }
    }
    /* A warning must come before the case it warns of. */
    if (z->warn_s > 0 && z->dwell_s > 0 && z->warn_s >= z->dwell_s) {
        size_t m = so_yaml_path_key(ld, "warn_s");
        yaml_node_t *wv = so_yaml_map_get(ld, node, "warn_s");
        so_yaml_error(ld, wv ? wv : node, "expected warn_s less than dwell_s (%g), got %g",
                      z->dwell_s, z->warn_s);
        so_yaml_path_pop(ld, m);
    }
    /* After the last row (max_box), so the message follows max_box's own. */
    if (z->max_box && z->min_box > z->max_box) {
        size_t m = so_yaml_path_key(ld, "max_box");
        yaml_node_t *mv = so_yaml_map_get(ld, node, "max_box");
        so_yaml_error(ld, mv ? mv : node, "expected max_box >= min_box (%d), got %d",
                      z->min_box, z->max_box);
        so_yaml_path_pop(ld, m);
    }
}

/* The mapping file used when detector.categories is absent: the source tree's, if present,
 * else the installed copy (meson install), if present. */
#define DEFAULT_CATEGORIES SO_SOURCE_DIR "/config/categories.yaml"
#define INSTALLED_CATEGORIES SO_DATA_DIR "/categories.yaml"

/* Join a relative path to the config's folder; URLs and absolute paths are kept. */
static char *resolve_url(const char *dir, const char *url)
{
    if (strstr(url, "://") || url[0] == '/' || !dir) {
        return so_xstrdup(url);
    }
    return so_xprintf("%s/%s", dir, url);
}

/* A key naming a file (`noun`, e.g. "category mapping file"): resolved against the config's
 * folder into *path, and an error at the key unless it is readable now. */
static yaml_node_t *key_file(struct so_yaml_loader *ld, yaml_node_t *map, const char *dir,
                             const char *key, const char *noun, char **path)
{
    char *raw = NULL;
    char what[96];
    snprintf(what, sizeof(what), "the path of a %s", noun);
    yaml_node_t *v = so_yaml_key_string(ld, map, key, false, what, &raw);
    if (v) {
        *path = resolve_url(dir, raw);
        if (access(*path, R_OK) != 0) {
            size_t m = so_yaml_path_key(ld, key);
            so_yaml_error(ld, v, "expected a readable %s, got \"%s\" (%s): %s", noun, raw, *path,
                          strerror(errno));
            so_yaml_path_pop(ld, m);
        }
    }
    free(raw);
    return v;
}

/* analysis: its defaults are set by load_camera(). */
static void load_analysis(struct so_yaml_loader *ld, yaml_node_t *cmap, struct so_analysis_cfg *a)
{
    size_t mark;
    yaml_node_t *v = so_yaml_enter(ld, cmap, "analysis", false, "a mapping", &mark);
    if (v && check_fields(ld, v, &so_analysis_fields, "a mapping")) {
        for (size_t i = 0; i < so_analysis_fields.n; i++) {
            load_field(ld, v, &so_analysis_fields.fields[i], a);
        }
    }
    so_yaml_path_pop(ld, mark);
}

static void load_camera(struct so_yaml_loader *ld, struct so_config *cfg, yaml_node_t *node,
                        size_t index)
{
    char gbuf[96];
    struct so_camera_cfg *cam = &cfg->cameras[index];
    cam->line = (int)node->start_mark.line + 1;
    cam->column = (int)node->start_mark.column + 1;
    cam->decode = SO_DECODE_FULL;
    so_fields_init(&so_analysis_fields, &cam->analysis);
    if (!so_yaml_check_mapping(ld, node, camera_keys, ARRAY_LEN(camera_keys), "a camera")) {
        return;
    }

    yaml_node_t *idn = key_id(ld, node, "id", true, &cam->id);
    for (size_t j = 0; idn && j < index; j++) {
        if (cfg->cameras[j].id && strcmp(cfg->cameras[j].id, cam->id) == 0) {
            size_t mark = so_yaml_path_key(ld, "id");
            so_yaml_error(ld, idn,
                          "duplicate camera id \"%s\" (first defined at line %d): expected "
                          "camera ids unique in the file",
                          cam->id, cfg->cameras[j].line);
            so_yaml_path_pop(ld, mark);
            break;
        }
    }
    if (so_yaml_key_string(ld, node, "url", true, "the stream URL or a file path", &cam->url)) {
        cam->resolved_url = resolve_url(cfg->dir, cam->url);
    }
    char *evidence = NULL;
    if (so_yaml_key_string(ld, node, "evidence_url", false, "a stream URL or a file path",
                           &evidence)) {
        cam->evidence_url = resolve_url(cfg->dir, evidence);
    }
    free(evidence);

    size_t mark;
    yaml_node_t *v = so_yaml_enter(ld, node, "decode", false, "full or keyframes", &mark);
    if (v) {
        if (v->type == YAML_SCALAR_NODE && strcmp(so_yaml_text(v), "full") == 0) {
            cam->decode = SO_DECODE_FULL;
        } else if (v->type == YAML_SCALAR_NODE && strcmp(so_yaml_text(v), "keyframes") == 0) {
            cam->decode = SO_DECODE_KEYFRAMES;
        } else {
            so_yaml_error(ld, v, "expected full or keyframes, got %s",
                          so_yaml_got(v, gbuf, sizeof(gbuf)));
        }
    }
    so_yaml_path_pop(ld, mark);

    load_analysis(ld, node, &cam->analysis);

    v = so_yaml_enter(ld, node, "zones", true, "a list of zones", &mark);
    if (v && v->type != YAML_SEQUENCE_NODE) {
        so_yaml_error(ld, v, "expected a list of zones, got %s",
                      so_yaml_got(v, gbuf, sizeof(gbuf)));
    } else if (v && so_yaml_seq_len(v) == 0) {
        so_yaml_error(ld, v, "expected at least one zone, got an empty list");
    } else if (v) {
        cam->n_zones = so_yaml_seq_len(v);
        cam->zones = so_xcalloc(cam->n_zones, sizeof(*cam->zones));
        for (size_t i = 0; i < cam->n_zones; i++) {
            size_t mi = so_yaml_path_index(ld, i);
            load_zone(ld, so_yaml_seq_item(ld, v, i), cam, i);
            so_yaml_path_pop(ld, mi);
        }
    }
    so_yaml_path_pop(ld, mark);
    cam->analysis.rate = cam->analysis.fps > 0 ? cam->analysis.fps
                                               : so_analysis_fps_for_zones(cam->zones,
                                                                           cam->n_zones,
                                                                           cam->analysis.detect_fps);

    v = so_yaml_enter(ld, node, "privacy_masks", false, "a list of polygons", &mark);
    if (v && v->type != YAML_SEQUENCE_NODE) {
        so_yaml_error(ld, v, "expected a list of polygons, got %s",
                      so_yaml_got(v, gbuf, sizeof(gbuf)));
    } else if (v) {
        cam->n_privacy_masks = so_yaml_seq_len(v);
        cam->privacy_masks = so_xcalloc(cam->n_privacy_masks, sizeof(*cam->privacy_masks));
        for (size_t i = 0; i < cam->n_privacy_masks; i++) {
            size_t mi = so_yaml_path_index(ld, i);
            val_polygon(ld, so_yaml_seq_item(ld, v, i), &cam->privacy_masks[i]);
            so_yaml_path_pop(ld, mi);
        }
    }
    so_yaml_path_pop(ld, mark);
}

/*
 * Long on purpose: one flat block per top-level section (detector, outputs, deliver, http,
 * cameras), in the order of the example config, each a few key calls; the zone and analysis
 * keys live in fields.c. Splitting it by section would only move the same calls apart.
 */
static void load_root(struct so_yaml_loader *ld, struct so_config *cfg, yaml_node_t *root)
{
    char gbuf[96];
    size_t mark, m2;
    cfg->deliver.drain_s = 10;
    cfg->deliver.quota_mb = 1024;
    cfg->deliver.resend_s = 5;
    cfg->deliver.fsync = true;
    if (!so_yaml_check_mapping(ld, root, top_keys, ARRAY_LEN(top_keys),
                               "a mapping at the top of the file")) {
        return;
    }

    yaml_node_t *det =
        so_yaml_enter_mapping(ld, root, "detector", false, detector_keys,
                              ARRAY_LEN(detector_keys), &mark);
    if (det) {
        key_id(ld, det, "id", false, &cfg->detector_id);
        so_yaml_key_string(ld, det, "state_dir", false, "a folder path", &cfg->state_dir);
        key_id(ld, det, "model", false, &cfg->model);
        yaml_node_t *bv = so_yaml_key_string(ld, det, "backend", false, "xnnpack or opencv",
                                             &cfg->backend);
        enum so_detect_backend be;
        if (bv && (!so_detect_backend_parse(cfg->backend, &be) ||
                   !so_detect_backend_available(be))) {
            m2 = so_yaml_path_key(ld, "backend");
            so_yaml_error(ld, bv, "expected xnnpack or opencv, got \"%s\"%s", cfg->backend,
                          so_detect_backend_parse(cfg->backend, &be)
                              ? " (this build has no XNNPACK: install libxnnpack-dev)" : "");
            so_yaml_path_pop(ld, m2);
        }
        so_yaml_key_string(ld, det, "weights_dir", false, "a folder path", &cfg->weights_dir);
        so_yaml_key_string(ld, det, "timezone", false, "a time zone name like \"Asia/Shanghai\"",
                           &cfg->timezone);
        key_file(ld, det, cfg->dir, "categories", "category mapping file",
                 &cfg->categories_path);
    }
    so_yaml_path_pop(ld, mark);

    yaml_node_t *out =
        so_yaml_enter_mapping(ld, root, "outputs", false, outputs_keys,
                              ARRAY_LEN(outputs_keys), &mark);
    if (out) {
        so_yaml_key_string(ld, out, "jsonl", false, "a file path", &cfg->jsonl);
        key_endpoint(ld, out, "publish", &cfg->publish);
        so_yaml_key_string(ld, out, "evidence_dir", false, "a folder path", &cfg->evidence_dir);
        yaml_node_t *del =
            so_yaml_enter_mapping(ld, out, "deliver", false, deliver_keys,
                                  ARRAY_LEN(deliver_keys), &m2);
        if (del) {
            key_endpoint(ld, del, "endpoint", &cfg->deliver.endpoint);
            so_yaml_key_number(ld, del, "drain_s", false, &R_NONNEG, &cfg->deliver.drain_s);
            so_yaml_key_number(ld, del, "quota_mb", false, &R_QUOTA, &cfg->deliver.quota_mb);
            so_yaml_key_number(ld, del, "resend_s", false, &R_RESEND, &cfg->deliver.resend_s);
            so_yaml_key_bool(ld, del, "fsync", false, &cfg->deliver.fsync);
            yaml_node_t *sk = key_curve(ld, del, "server_key", &cfg->deliver.server_key);
            yaml_node_t *pk = key_curve(ld, del, "public_key", &cfg->deliver.public_key);
            yaml_node_t *xk = key_curve(ld, del, "secret_key", &cfg->deliver.secret_key);
            if ((pk || xk) && !(pk && xk)) {
                size_t m3 = so_yaml_path_key(ld, pk ? "secret_key" : "public_key");
                so_yaml_error(ld, pk ? pk : xk, "expected public_key and secret_key together");
                so_yaml_path_pop(ld, m3);
            } else if (sk && !pk) {
                size_t m3 = so_yaml_path_key(ld, "public_key");
                so_yaml_error(ld, sk, "expected public_key and secret_key with server_key (CURVE)");
                so_yaml_path_pop(ld, m3);
            } else if (pk && !sk) {
                size_t m3 = so_yaml_path_key(ld, "server_key");
                so_yaml_error(ld, pk,
                              "expected server_key (the platform's public key) with "
                              "public_key and secret_key");
                so_yaml_path_pop(ld, m3);
            }
        }
        so_yaml_path_pop(ld, m2);
    }
    so_yaml_path_pop(ld, mark);

    yaml_node_t *http =
        so_yaml_enter_mapping(ld, root, "http", false, http_keys, ARRAY_LEN(http_keys), &mark);
    if (http) {
        const char *what = "HOST:PORT like \"127.0.0.1:8080\"";
        yaml_node_t *v = so_yaml_key_string(ld, http, "listen", false, what, &cfg->http_listen);
        if (v) {
            const char *colon = strrchr(cfg->http_listen, ':');
            char *end = NULL;
            long port = colon && isdigit((unsigned char)colon[1]) ? strtol(colon + 1, &end, 10)
                                                                  : 0;
            if (!end || *end || port < 1 || port > 65535) {
                m2 = so_yaml_path_key(ld, "listen");
                so_yaml_error(ld, v, "expected %s, got %s", what,
                              so_yaml_got(v, gbuf, sizeof(gbuf)));
                so_yaml_path_pop(ld, m2);
            }
        }
        key_file(ld, http, cfg->dir, "auth", "users file (NAME ROLE HASH lines)",
                 &cfg->http_auth_path);
        yaml_node_t *cv = key_file(ld, http, cfg->dir, "tls_cert", "PEM certificate file",
                                   &cfg->http_tls_cert);
        yaml_node_t *kv = key_file(ld, http, cfg->dir, "tls_key", "PEM private key file",
                                   &cfg->http_tls_key);
        if (!cv != !kv) {
            m2 = so_yaml_path_key(ld, cv ? "tls_key" : "tls_cert");
            so_yaml_error(ld, cv ? cv : kv, "expected tls_cert and tls_key together");
            so_yaml_path_pop(ld, m2);
        }
    }
    so_yaml_path_pop(ld, mark);

    yaml_node_t *cams = so_yaml_enter(ld, root, "cameras", true, "a list of cameras", &mark);
    if (cams && cams->type != YAML_SEQUENCE_NODE) {
        so_yaml_error(ld, cams, "expected a list of cameras, got %s",
                      so_yaml_got(cams, gbuf, sizeof(gbuf)));
    } else if (cams && so_yaml_seq_len(cams) == 0) {
        so_yaml_error(ld, cams, "expected at least one camera, got an empty list");
    } else if (cams) {
        cfg->n_cameras = so_yaml_seq_len(cams);
        cfg->cameras = so_xcalloc(cfg->n_cameras, sizeof(*cfg->cameras));
        for (size_t i = 0; i < cfg->n_cameras; i++) {
            size_t mi = so_yaml_path_index(ld, i);
            load_camera(ld, cfg, so_yaml_seq_item(ld, cams, i), i);
            so_yaml_path_pop(ld, mi);
        }
    }
    so_yaml_path_pop(ld, mark);
}

/* --- defaults ------------------------------------------------------------------------------- */

static char *default_detector_id(void)
{
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0 || !host[0]) {
        snprintf(host, sizeof(host), "localhost");
    }
    host[sizeof(host) - 1] = '\0';
    for (char *p = host; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-') {
            *p = '-';
        }
    }
    return so_xstrdup(host);
}

static char *default_state_dir(void)
{
    /* systemd's StateDirectory= (the first of them): the folder the unit made for us. */
    const char *sd = getenv("STATE_DIRECTORY");
    if (sd && sd[0] == '/') {
        size_t len = strcspn(sd, ":");
        return so_xprintf("%.*s", (int)len, sd);
    }
    if (geteuid() == 0) {
        return so_xstrdup("/var/lib/streetorder");
    }
    const char *xdg = getenv("XDG_STATE_HOME");
    if (xdg && xdg[0] == '/') { /* the XDG spec ignores relative values */
        return so_xprintf("%s/streetorder", xdg);
    }
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(geteuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (home && *home) {
        return so_xprintf("%s/.local/state/streetorder", home);
    }
    return so_xprintf("/var/tmp/streetorder-%ld", (long)geteuid());
}

/* The folder holding `path`, absolute when it can be made so. */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) {
        dir = so_xstrdup(".");
    } else if (slash == path) {
        dir = so_xstrdup("/");
    } else {
        dir = so_xprintf("%.*s", (int)(slash - path), path);
    }
    char *abs = realpath(dir, NULL);
    if (abs) {
        free(dir);
        dir = abs;
    }
    return dir;
}

/* --- load ----------------------------------------------------------------------------------- */

struct so_config *so_config_load(const char *path, struct so_config_errors *errors)
{
    size_t before = errors->n;
    struct so_yaml_loader ld = {.file = path, .errors = errors};
    yaml_document_t doc;
    yaml_node_t *root = so_yaml_load_file(
        &ld, &doc, "the file is empty: expected a mapping with at least a \"cameras\" list");
    if (!root) {
        return NULL;
    }
    struct so_config *cfg = so_xcalloc(1, sizeof(*cfg));
    cfg->path = so_xstrdup(path);
    cfg->dir = folder_of(path);
    load_root(&ld, cfg, root);
    yaml_document_delete(&doc);
    so_yaml_sort_errors(errors, before);

    /* The category mapping is checked even when the config has errors: one run, every error. */
    if (!cfg->categories_path && access(DEFAULT_CATEGORIES, R_OK) == 0) {
        cfg->categories_path = so_xstrdup(DEFAULT_CATEGORIES);
    } else if (!cfg->categories_path && access(INSTALLED_CATEGORIES, R_OK) == 0) {
        cfg->categories_path = so_xstrdup(INSTALLED_CATEGORIES);
    }
    if (cfg->categories_path && access(cfg->categories_path, R_OK) == 0) {
        cfg->categories = so_categories_load(cfg->categories_path, errors);
    }
    if (cfg->http_auth_path && access(cfg->http_auth_path, R_OK) == 0) {
        cfg->http_auth = so_auth_load(cfg->http_auth_path, errors);
    }

    if (errors->n > before) {
        so_config_destroy(cfg);
        return NULL;
    }
    if (!cfg->detector_id) {
        cfg->detector_id = default_detector_id();
    }
    if (!cfg->state_dir) {
        cfg->state_dir = default_state_dir();
    }
    return cfg;
}

/* --- freeing, errors, summary, lookups ------------------------------------------------------ */

void so_config_destroy(struct so_config *cfg)
{
    if (!cfg) {
        return;
    }
    for (size_t i = 0; i < cfg->n_cameras; i++) {
        struct so_camera_cfg *cam = &cfg->cameras[i];
        for (size_t j = 0; j < cam->n_zones; j++) {
            so_fields_finish(&so_zone_fields, &cam->zones[j]);
        }
        free(cam->zones);
        for (size_t j = 0; j < cam->n_privacy_masks; j++) {
            free(cam->privacy_masks[j].pts);
        }
        free(cam->privacy_masks);
        free(cam->id);
        free(cam->url);
        free(cam->resolved_url);
        free(cam->evidence_url);
    }
    free(cfg->cameras);
    free(cfg->path);
    free(cfg->dir);
    free(cfg->detector_id);
    free(cfg->state_dir);
    free(cfg->model);
    free(cfg->backend);
    free(cfg->weights_dir);
    free(cfg->timezone);
    free(cfg->categories_path);
    so_categories_destroy(cfg->categories);
    free(cfg->jsonl);
    free(cfg->publish);
    free(cfg->evidence_dir);
    free(cfg->deliver.endpoint);
    free(cfg->deliver.server_key);
    free(cfg->deliver.public_key);
    free(cfg->deliver.secret_key);
    free(cfg->http_listen);
    free(cfg->http_auth_path);
    so_auth_destroy(cfg->http_auth);
    free(cfg->http_tls_cert);
    free(cfg->http_tls_key);
    free(cfg);
}

void so_config_errors_finish(struct so_config_errors *errors)
{
    if (!errors) {
        return;
    }
    for (size_t i = 0; i < errors->n; i++) {
        free(errors->items[i].file);
        free(errors->items[i].key);
        free(errors->items[i].message);
    }
    free(errors->items);
    errors->items = NULL;
    errors->n = 0;
}

void so_config_errors_print(const struct so_config_errors *errors, FILE *out)
{
    for (size_t i = 0; i < errors->n; i++) {
        const struct so_config_error *e = &errors->items[i];
        if (e->line <= 0) {
            fprintf(out, "%s: %s\n", e->file, e->message);
        } else if (!e->key || !*e->key) {
            fprintf(out, "%s:%d:%d: %s\n", e->file, e->line, e->column, e->message);
        } else {
            fprintf(out, "%s:%d:%d: %s: %s\n", e->file, e->line, e->column, e->key, e->message);
        }
    }
}

static const char *or_none(const char *s, const char *none)
{
    return s ? s : none;
}

void so_config_print_summary(const struct so_config *cfg, FILE *out)
{
    char url[512];
    fprintf(out, "config %s\n", cfg->path);
    fprintf(out, "detector: id %s, state dir %s\n", cfg->detector_id, cfg->state_dir);
    fprintf(out, "  model: %s\n", or_none(cfg->model, "none (class-agnostic)"));
    if (cfg->model) {
        fprintf(out, "  backend: %s\n", cfg->backend ? cfg->backend :
                so_detect_backend_default() == SO_DETECT_BACKEND_XNNPACK ? "xnnpack (default)"
                                                                          : "opencv (default)");
    }
    if (cfg->weights_dir) {
        fprintf(out, "  weights dir: %s\n", cfg->weights_dir);
    }
    fprintf(out, "  timezone: %s\n", or_none(cfg->timezone, "the system's"));
    if (cfg->categories) {
        size_t n = so_categories_n_local(cfg->categories);
        fprintf(out, "  categories: %s (%zu code%s with a local code or name)\n",
                so_categories_path(cfg->categories), n, n == 1 ? "" : "s");
    } else {
        fprintf(out, "  categories: none (standard codes and names only)\n");
    }
    fprintf(out, "outputs:\n");
    fprintf(out, "  jsonl: %s\n", or_none(cfg->jsonl, "none"));
    fprintf(out, "  publish: %s\n",
            cfg->publish ? so_log_redact_url(cfg->publish, url, sizeof(url)) : "none");
    if (cfg->deliver.endpoint) {
        fprintf(out, "  deliver: %s (drain %g s at the end of file inputs, outbox quota %g MiB, "
                "%s, %s)\n",
                so_log_redact_url(cfg->deliver.endpoint, url, sizeof(url)), cfg->deliver.drain_s,
                cfg->deliver.quota_mb, cfg->deliver.fsync ? "fsync each event" : "no fsync",
                cfg->deliver.server_key ? "CURVE" : "plain");
    } else {
        fprintf(out, "  deliver: none\n");
    }
    fprintf(out, "  evidence dir: %s\n", or_none(cfg->evidence_dir, "<state dir>/evidence"));
    fprintf(out, "http: %s", or_none(cfg->http_listen, "none"));
    if (cfg->http_listen) {
        fprintf(out, " (%s, %s)", cfg->http_tls_cert ? "TLS" : "plain HTTP",
                cfg->http_auth ? "users file" : "no credentials asked");
        if (cfg->http_auth) {
            fprintf(out, "\n  users: %s (%zu)", cfg->http_auth_path,
                    so_auth_count(cfg->http_auth));
        }
    }
    fprintf(out, "\n");
    fprintf(out, "cameras: %zu\n", cfg->n_cameras);
    for (size_t i = 0; i < cfg->n_cameras; i++) {
        const struct so_camera_cfg *cam = &cfg->cameras[i];
        fprintf(out, "  camera %s: %s\n", cam->id,
                so_log_redact_url(cam->resolved_url, url, sizeof(url)));
        if (cam->evidence_url) {
            fprintf(out, "    evidence: %s\n",
                    so_log_redact_url(cam->evidence_url, url, sizeof(url)));
        }
        fprintf(out, "    decode %s", cam->decode == SO_DECODE_KEYFRAMES ? "keyframes" : "full");
        so_fields_print(&so_analysis_fields, &cam->analysis, out);
        if (cam->n_privacy_masks) {
            fprintf(out, "    privacy masks: %zu\n", cam->n_privacy_masks);
        }
        for (size_t j = 0; j < cam->n_zones; j++) {
            so_fields_print(&so_zone_fields, &cam->zones[j], out);
        }
    }
}

const struct so_camera_cfg *so_config_find_camera(const struct so_config *cfg, const char *id)
{
    for (size_t i = 0; cfg && id && i < cfg->n_cameras; i++) {
        if (cfg->cameras[i].id && strcmp(cfg->cameras[i].id, id) == 0) {
            return &cfg->cameras[i];
        }
    }
    return NULL;
}

const struct so_zone_cfg *so_camera_find_zone(const struct so_camera_cfg *cam, const char *id)
{
    for (size_t i = 0; cam && id && i < cam->n_zones; i++) {
        if (cam->zones[i].id && strcmp(cam->zones[i].id, id) == 0) {
            return &cam->zones[i];
        }
    }
    return NULL;
}

double so_analysis_fps_for_zones(const struct so_zone_cfg *zones, size_t n_zones,
                                 double detect_fps)
{
    double shortest = INFINITY;
    for (size_t i = 0; zones && i < n_zones; i++) {
        shortest = fmin(shortest, zones[i].dwell_s);
        if (zones[i].warn_s > 0) {
            shortest = fmin(shortest, zones[i].warn_s);
        }
    }
    double fps = SO_FRAMES_PER_SHORTEST / shortest;     /* no zones: 0, the minimum */
    fps = fmax(SO_ANALYSIS_FPS_MIN, fmin(SO_ANALYSIS_FPS_MAX, fps));
    /* in tenths, rounded up: "1.5 fps", not "1.4634 fps" */
    fps = ceil(fps * 10 - 1e-9) / 10;
    return fmax(fps, detect_fps);
}

/* Comparisons for reloading: NULL equals NULL only. */
static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

bool so_zone_cfg_equal(const struct so_zone_cfg *a, const struct so_zone_cfg *b)
{
    return so_fields_equal(&so_zone_fields, a, b);
}

bool so_camera_stream_equal(const struct so_camera_cfg *a, const struct so_camera_cfg *b)
{
    if (!str_eq(a->id, b->id) || !str_eq(a->resolved_url, b->resolved_url) ||
        !str_eq(a->evidence_url, b->evidence_url) || a->decode != b->decode ||
        !so_fields_equal(&so_analysis_fields, &a->analysis, &b->analysis) ||
        a->analysis.rate != b->analysis.rate ||     /* derived from zones that changed */
        a->n_privacy_masks != b->n_privacy_masks) {
        return false;
    }
    for (size_t i = 0; i < a->n_privacy_masks; i++) {
        if (!so_polygon_equal(&a->privacy_masks[i], &b->privacy_masks[i])) {
            return false;
        }
    }
    return true;
}

bool so_camera_zones_equal(const struct so_camera_cfg *a, const struct so_camera_cfg *b)
{
    if (a->n_zones != b->n_zones) {
        return false;
    }
    for (size_t i = 0; i < a->n_zones; i++) {
        if (!so_zone_cfg_equal(&a->zones[i], &b->zones[i])) {
            return false;
        }
    }
    return true;
}

size_t so_config_restart_changes(const struct so_config *a, const struct so_config *b,
                                 const char **keys, size_t max)
{
    const struct so_deliver_cfg *da = &a->deliver, *db = &b->deliver;
    struct {
        const char *key;
        bool differs;
    } table[] = {
        {"detector.id", !str_eq(a->detector_id, b->detector_id)},
        {"detector.state_dir", !str_eq(a->state_dir, b->state_dir)},
        {"detector.model", !str_eq(a->model, b->model)},
        {"detector.backend", !str_eq(a->backend, b->backend)},
        {"detector.weights_dir", !str_eq(a->weights_dir, b->weights_dir)},
        {"detector.timezone", !str_eq(a->timezone, b->timezone)},
        {"detector.categories", !str_eq(a->categories_path, b->categories_path)},
        {"outputs.jsonl", !str_eq(a->jsonl, b->jsonl)},
        {"outputs.publish", !str_eq(a->publish, b->publish)},
        {"outputs.evidence_dir", !str_eq(a->evidence_dir, b->evidence_dir)},
        {"outputs.deliver",
         !str_eq(da->endpoint, db->endpoint) || da->drain_s != db->drain_s ||
             da->quota_mb != db->quota_mb || da->resend_s != db->resend_s ||
             da->fsync != db->fsync || !str_eq(da->server_key, db->server_key) ||
             !str_eq(da->public_key, db->public_key) ||
             !str_eq(da->secret_key, db->secret_key)},
        {"http.listen", !str_eq(a->http_listen, b->http_listen)},
        {"http.auth", !str_eq(a->http_auth_path, b->http_auth_path)},
        {"http.tls_cert", !str_eq(a->http_tls_cert, b->http_tls_cert)},
        {"http.tls_key", !str_eq(a->http_tls_key, b->http_tls_key)},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (table[i].differs) {
            if (n < max) {
                keys[n] = table[i].key;
            }
            n++;
        }
    }
    return n;
}
