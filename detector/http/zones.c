/*
 * Why this file exists: the zone editor page (editor.html) starts from the zones the camera
 * runs with now, and its "Export YAML" must give back every key the operator did not touch.
 * /cameras/<id>/zones.json is that starting point, built from the loaded (immutable) config.
 *
 * Design and trade-offs:
 * - The config keeps typed values, not the YAML text, so optional keys are written only when
 *   they differ from their defaults (min_occupancy 0.02, report_interval_s 60, clear_s 10,
 *   min_score/min_box/max_box 0, schedule absent = always). A key written with its default
 *   value comes back omitted: the same meaning, one line shorter.
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

static json_t *zone_json(const struct so_zone_cfg *z)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(z->id));
    json_object_set_new(o, "kind", json_string(so_zone_kind_name(z->kind)));
    json_t *poly = json_array();
    for (size_t i = 0; i < z->polygon.n; i++) {
        json_array_append_new(poly, json_pack("[oo]", number(z->polygon.pts[i].x),
                                              number(z->polygon.pts[i].y)));
    }
    json_object_set_new(o, "polygon", poly);
    json_object_set_new(o, "dwell_s", number(z->dwell_s));
    if (z->min_occupancy != 0.02) {
        json_object_set_new(o, "min_occupancy", number(z->min_occupancy));
    }
    if (!z->schedule.always) {
        json_object_set_new(o, "schedule", schedule_windows(&z->schedule));
    }
    if (z->report_interval_s != 60) {
        json_object_set_new(o, "report_interval_s", number(z->report_interval_s));
    }
    if (z->clear_s != 10) {
        json_object_set_new(o, "clear_s", number(z->clear_s));
    }
    if (z->grid) {
        json_object_set_new(o, "grid", json_string(z->grid));
    }
    if (z->address) {
        json_object_set_new(o, "address", json_string(z->address));
    }
    if (z->category) {
        json_object_set_new(o, "category", json_string(z->category));
    }
    if (z->n_classes) {
        json_t *cls = json_array();
        for (size_t i = 0; i < z->n_classes; i++) {
            json_array_append_new(cls, json_string(z->classes[i]));
        }
        json_object_set_new(o, "classes", cls);
    }
    if (z->min_score != 0) {
        json_object_set_new(o, "min_score", number(z->min_score));
    }
    if (z->min_box) {
        json_object_set_new(o, "min_box", json_integer(z->min_box));
    }
    if (z->max_box) {
        json_object_set_new(o, "max_box", json_integer(z->max_box));
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
