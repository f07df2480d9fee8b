/*
 * Why this file exists: the zone editor edits every zone key, and an operator must learn that a
 * value is wrong in the page, in the words `streetorder check` would use, not after pasting the
 * YAML. One source of truth serves both:
 * - GET /fields.json: the rows of the zone key table (config/fields.c: key, type, required,
 *   default, range and its wording from util/range.c, what a string must be), from which the
 *   page builds its form and checks each value as it is typed ("expected a number from 0 to 1,
 *   got \"1.5\"", the loader's wording);
 * - GET /cameras/<id>/check?zones=JSON: the draft zones run through the real config loader
 *   (so_config_load) before the page exports them: its errors are exactly check's, key path and
 *   message (schedule windows, polygons, unique ids, max_box >= min_box...). JSON is YAML flow
 *   syntax, so the draft goes to the loader as a one-camera config in an anonymous memory file
 *   (memfd): nothing is written to disk, nothing of the running config changes.
 * - GET /cameras/<id>/preview?polygon=x,y,...: what a draft zone would see now: the share of it
 *   at rest on the published rest mask (pixels at rest 2 s or more, the snapshot's magenta) and
 *   the tracks whose ground footprint is in it. An estimate for drawing, not the rules' verdict
 *   (the rules clean the mask and decide per kind): the camera page shows that once the zone
 *   runs.
 * All on an HTTP worker thread, from immutable tables or the published live view.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jansson.h>

#include "fields.h"
#include "http.h"
#include "zone_mask.h"

#define MAX_DRAFT_POINTS 64
#define FOOTPRINT_HEIGHT 0.4    /* the lower part of a box that stands on the ground */
#define FOOTPRINT_IN 0.5        /* rules.c: a thing is in a zone by this share of its footprint */

static const char *const type_names[] = {
    [SO_FIELD_ID] = "id",         [SO_FIELD_STRING] = "string", [SO_FIELD_DIGITS] = "digits",
    [SO_FIELD_NUMBER] = "number", [SO_FIELD_INT] = "integer",   [SO_FIELD_KIND] = "kind",
    [SO_FIELD_POLYGON] = "polygon", [SO_FIELD_SCHEDULE] = "schedule",
    [SO_FIELD_CLASSES] = "classes", [SO_FIELD_BOOL] = "bool",
};

static json_t *range_json(const struct so_range *r)
{
    char text[160];
    json_t *o = json_pack("{s:s, s:b, s:b, s:b}", "text", so_range_text(r, text, sizeof(text)),
                          "integer", r->integer, "lo_open", r->lo_open, "hi_open", r->hi_open);
    json_object_set_new(o, "lo", isfinite(r->lo) ? json_real(r->lo) : json_null());
    json_object_set_new(o, "hi", isfinite(r->hi) ? json_real(r->hi) : json_null());
    return o;
}

char *so_http_fields_json(size_t *len)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < so_zone_fields.n; i++) {
        const struct so_field *f = &so_zone_fields.fields[i];
        json_t *o = json_pack("{s:s, s:s, s:b}", "key", f->key, "type", type_names[f->type],
                              "required", f->required);
        if (f->type == SO_FIELD_NUMBER || f->type == SO_FIELD_INT) {
            json_object_set_new(o, "range", range_json(&f->range));
            if (!f->required) {
                json_object_set_new(o, "default", json_real(f->def));
            }
        }
        if (f->type == SO_FIELD_BOOL) {
            json_object_set_new(o, "default", json_boolean(f->def != 0));
        }
        if (f->type == SO_FIELD_DIGITS) {
            json_object_set_new(o, "digits", json_integer((json_int_t)f->digits));
        }
        if (f->what) {
            json_object_set_new(o, "what", json_string(f->what));
        }
        json_array_append_new(rows, o);
    }
    json_t *kinds = json_array();
    for (int k = 0; k < SO_ZONE_KIND_COUNT; k++) {
        json_array_append_new(kinds, json_string(so_zone_kind_name((enum so_zone_kind)k)));
    }
    return so_http_json_dump(json_pack("{s:o, s:o}", "zone", rows, "kinds", kinds), len);
}

/* The loader's errors on a one-camera config holding `zones` (a JSON array), as
 * [{"key", "message"}] with the key path from the camera ("zones[1].dwell_s"). */
static json_t *loader_errors(const char *camera, json_t *zones)
{
    json_t *doc = json_pack("{s:[{s:s, s:s, s:O}]}", "cameras", "id", camera, "url",
                            "rtsp://127.0.0.1/check", "zones", zones);
    char *text = json_dumps(doc, JSON_REAL_PRECISION(15));
    json_decref(doc);
    json_t *out = json_array();
    int fd = memfd_create("zone-check", MFD_CLOEXEC);
    size_t n = text ? strlen(text) : 0;
    if (!text || fd < 0 || write(fd, text, n) != (ssize_t)n) {
        json_array_append_new(out, json_pack("{s:s, s:s}", "key", "", "message",
                                             "the check could not run (out of memory)"));
        free(text);
        if (fd >= 0) {
            close(fd);
        }
        return out;
    }
    free(text);
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    struct so_config_errors errors = {0};
    struct so_config *cfg = so_config_load(path, &errors);
    so_config_destroy(cfg);
    close(fd);
    static const char prefix[] = "cameras[0].";
    for (size_t i = 0; i < errors.n; i++) {
        const char *key = errors.items[i].key ? errors.items[i].key : "";
        if (strncmp(key, prefix, sizeof(prefix) - 1) == 0) {
            key += sizeof(prefix) - 1;
        }
        json_array_append_new(out, json_pack("{s:s, s:s}", "key", key, "message",
                                             errors.items[i].message));
    }
    so_config_errors_finish(&errors);
    return out;
}

char *so_http_check_zones(const char *camera, const char *zones_json, size_t *len)
{
    json_error_t jerr;
    json_t *zones = zones_json ? json_loads(zones_json, 0, &jerr) : NULL;
    json_t *errors;
    if (!json_is_array(zones)) {
        errors = json_pack("[{s:s, s:s}]", "key", "", "message",
                           "expected ?zones= a JSON list of zones");
    } else {
        errors = loader_errors(camera, zones);
    }
    json_decref(zones);
    json_t *root = json_pack("{s:b, s:o}", "ok", json_array_size(errors) == 0, "errors", errors);
    return so_http_json_dump(root, len);
}

/* "x,y,x,y,..." in frame fractions into pts; the number of points, or -1 when malformed. */
static int parse_points(const char *s, struct so_pointf *pts, int max)
{
    int n = 0;
    while (s && *s && n < max) {
        char *end;
        double x = strtod(s, &end);
        if (end == s || *end != ',') {
            return -1;
        }
        s = end + 1;
        double y = strtod(s, &end);
        if (end == s || (*end && *end != ',') || !isfinite(x) || !isfinite(y)) {
            return -1;
        }
        pts[n++] = (struct so_pointf){x < 0 ? 0 : x > 1 ? 1 : x, y < 0 ? 0 : y > 1 ? 1 : y};
        s = *end ? end + 1 : end;
    }
    return s && *s ? -1 : n;
}

int so_http_preview(const struct so_live_view *v, const char *polygon, char **out, size_t *len)
{
    struct so_pointf pts[MAX_DRAFT_POINTS];
    int n = parse_points(polygon, pts, MAX_DRAFT_POINTS);
    if (n < 3) {
        return -EINVAL;
    }
    if (!v->frame) {
        return -EAGAIN;
    }
    int w = v->frame->width, h = v->frame->height;
    struct so_polygon poly = {pts, (size_t)n};
    struct so_zone_mask *zm = so_zone_mask_create(&poly, w, h);
    if (!zm) {
        return -ENOMEM;
    }
    long at_rest = 0;
    bool mask = v->static_mask && v->mask_w == w && v->mask_h == h;
    for (size_t i = 0; mask && i < (size_t)w * h; i++) {
        at_rest += zm->mask[i] && v->static_mask[i];
    }
    json_t *tracks = json_array();
    for (int i = 0; i < v->n_boxes; i++) {
        const struct so_live_box *b = &v->boxes[i];
        int fh = (int)(b->h * FOOTPRINT_HEIGHT + 0.5);
        fh = fh < 1 ? 1 : fh;
        if (so_zone_mask_share(zm, b->x, b->y + b->h - fh, b->w, fh) >= FOOTPRINT_IN) {
            json_array_append_new(tracks, json_pack("{s:[iiii], s:i, s:s, s:f, s:b}", "box",
                                                    b->x, b->y, b->w, b->h, "track", b->track,
                                                    "class", b->cls, "score",
                                                    round(b->score * 100) / 100, "stationary",
                                                    b->stationary));
        }
    }
    json_t *root = json_pack("{s:i, s:I, s:o, s:o}", "area_px", zm->area, "at_rest_px",
                             (json_int_t)at_rest, "occupancy",
                             mask && zm->area ? json_real(round(1000.0 * at_rest / zm->area)
                                                          / 1000)
                                              : json_null(),
                             "tracks", tracks);
    so_zone_mask_destroy(zm);
    *out = so_http_json_dump(root, len);
    return 0;
}
