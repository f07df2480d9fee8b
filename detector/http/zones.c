/*
 * Why this file exists: the zone editor page (editor.html) starts from the zones the camera
 * runs with now, and its "Export YAML" must give back every key the operator did not touch.
 * /cameras/<id>/zones.json is that starting point, built from the loaded (immutable) config.
 *
 * Design and trade-offs:
 * - The keys, their order and their defaults are the rows of so_zone_fields (config/fields.c):
 *   a new zone key shows here without a change to this file. The config keeps typed values,
 *   not the YAML text, so optional keys are written only when they differ from their defaults
 *   (so_field_is_default). A key written with its default value comes back omitted: the same
 *   meaning, one line shorter.
 * - A schedule is kept as a minute bitmap, so its windows are rebuilt from the bits: each run
 *   of enforced minutes becomes windows of at most one day ("fri 22:00-06:00" crosses
 *   midnight), grouped by time of day into day lists ("mon-fri 07:00-20:00"). Every window is
 *   in the syntax the loader reads, and the bits they set are exactly the original ones (unit
 *   test), though overlapping windows come back merged.
 * - Never any camera URL: the page shows zones only.
 * Runs on an HTTP worker thread; the config is read-only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fields.h"
#include "http.h"

static const char *const day_short[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

/* Integral values as JSON integers (dwell_s: 180, not 180.0). */
static json_t *number(double v)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        return json_integer((json_int_t)v);
    }
    return json_real(v);
}

struct window_group {
    int start, end;     /* minutes of the day; end may be 1440 ("24:00") or < start (crosses) */
    unsigned days;      /* bit d: day d (0 = Monday) */
};

static void add_piece(struct window_group *g, size_t *n, int day, int start, int end)
{
    for (size_t i = 0; i < *n; i++) {
        if (g[i].start == start && g[i].end == end) {
            g[i].days |= 1u << day;
            return;
        }
    }
    g[(*n)++] = (struct window_group){start, end, 1u << day};
}

/* "mon-fri", "mon,wed", "daily": ranges for three or more consecutive days. */
static void days_text(unsigned days, char *out, size_t size)
{
    size_t pos = 0;
    out[0] = 0;
    if (days == 0x7f) {
        snprintf(out, size, "daily");
        return;
    }
    for (int d = 0; d < 7; d++) {
        if (!(days & (1u << d))) {
            continue;
        }
        int e = d;
        while (e + 1 < 7 && (days & (1u << (e + 1)))) {
            e++;
        }
        const char *sep = pos ? "," : "";
        int n;
        if (e - d >= 2) {
            n = snprintf(out + pos, size - pos, "%s%s-%s", sep, day_short[d], day_short[e]);
        } else if (e == d + 1) {
            n = snprintf(out + pos, size - pos, "%s%s,%s", sep, day_short[d], day_short[e]);
        } else {
            n = snprintf(out + pos, size - pos, "%s%s", sep, day_short[d]);
        }
        pos += n > 0 && (size_t)n < size - pos ? (size_t)n : 0;
        d = e;
    }
}

/* The windows of a schedule (not always enforced) as a JSON array of strings. */
static json_t *schedule_windows(const struct so_schedule *s)
{
    json_t *arr = json_array();
    if (s->always) {
        return arr;
    }
    int clear = so_schedule_first_clear(s);
    if (clear < 0) {
        json_array_append_new(arr, json_string("daily 00:00-24:00"));
        return arr;
    }
    /* Each run of enforced minutes (starting after a clear one, so none is split by the end of
     * the week) gives pieces of at most a day; at most 2 pieces per run plus 7 per full week. */
    size_t cap = SO_MINUTES_PER_WEEK + 16, n = 0;
    struct window_group *g = calloc(cap, sizeof(*g));
    if (!g) {
        abort();
    }
    int pos = 0, m, len;
    while (so_schedule_next_run(s, clear, &pos, &m, &len)) {
        while (len > 0) {
            int day = (m / 1440) % 7, tod = m % 1440;
            if (tod + len <= 1440) {
                add_piece(g, &n, day, tod, tod + len);
                break;
            }
            if (len < 1440) {       /* crosses midnight: one window into the next day */
                add_piece(g, &n, day, tod, tod + len - 1440);
                break;
            }
            add_piece(g, &n, day, tod, 1440);
            len -= 1440 - tod;
            m = (m + 1440 - tod) % SO_MINUTES_PER_WEEK;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char days[64], w[96];
        days_text(g[i].days, days, sizeof(days));
        snprintf(w, sizeof(w), "%s %02d:%02d-%02d:%02d", days, g[i].start / 60, g[i].start % 60,
                 g[i].end / 60, g[i].end % 60);
        json_array_append_new(arr, json_string(w));
    }
    free(g);
    return arr;
}

/* One field's value as JSON, by its type (fields.h). */
static json_t *field_json(const struct so_field *f, const struct so_zone_cfg *z)
{
    const void *p = so_field_at(f, z);
    size_t n;
    switch (f->type) {
    case SO_FIELD_ID:
    case SO_FIELD_STRING:
    case SO_FIELD_DIGITS:
        return json_string(so_field_string(f, z));
    case SO_FIELD_NUMBER:
    case SO_FIELD_INT:
        return number(so_field_number(f, z));
    case SO_FIELD_KIND:
        return json_string(so_zone_kind_name(*(const enum so_zone_kind *)p));
    case SO_FIELD_BOOL:
        return json_boolean(*(const bool *)p);
    case SO_FIELD_POLYGON: {
        const struct so_polygon *poly = p;
        json_t *arr = json_array();
        for (size_t i = 0; i < poly->n; i++) {
            json_array_append_new(arr, json_pack("[oo]", number(poly->pts[i].x),
                                                 number(poly->pts[i].y)));
        }
        return arr;
    }
    case SO_FIELD_SCHEDULE:
        return schedule_windows(p);
    case SO_FIELD_CLASSES: {
        char *const *items = so_field_list(f, z, &n);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(arr, json_string(items[i]));
        }
        return arr;
    }
    }
    return json_null();
}

/* Every key of the zone table, in its order; an optional one only when not at its default. */
static json_t *zone_json(const struct so_zone_cfg *z)
{
    json_t *o = json_object();
    for (size_t i = 0; i < so_zone_fields.n; i++) {
        const struct so_field *f = &so_zone_fields.fields[i];
        if (!so_field_is_default(f, z)) {
            json_object_set_new(o, f->key, field_json(f, z));
        }
    }
    return o;
}

char *so_http_zones_json(const struct so_camera_cfg *cam, size_t *len)
{
    json_t *root = json_object();
    json_object_set_new(root, "camera", json_string(cam->id));
    json_t *kinds = json_array();
    for (int k = 0; k < SO_ZONE_KIND_COUNT; k++) {
        json_array_append_new(kinds, json_string(so_zone_kind_name((enum so_zone_kind)k)));
    }
    json_object_set_new(root, "kinds", kinds);
    json_t *zones = json_array();
    for (size_t i = 0; i < cam->n_zones; i++) {
        json_array_append_new(zones, zone_json(&cam->zones[i]));
    }
    json_object_set_new(root, "zones", zones);
    /* 15 significant digits: every decimal the config can hold in practice comes back as
     * written (0.45, not 0.45000000000000001). */
    char *text = json_dumps(root, JSON_REAL_PRECISION(15));
    json_decref(root);
    if (!text) {
        abort();
    }
    *len = strlen(text);
    return text;
}
