/*
 * Why this file exists: the operator watching a terminal wants one readable line per event
 * (what, where, how long, which category and objects, seq) rather than JSON; the records
 * themselves go to the files and the feeds unchanged. Kept apart from the outputs thread so
 * the format can be unit-tested on its own.
 */
#include "sink_console.h"

#include <stdio.h>
#include <string.h>

#include "timeutil.h"

/* One append per field, each checked against the room left: the line is cut, never overrun. */
char *so_sink_console_format(const struct so_event *ev, const json_t *rec, char *line,
                             size_t size)
{
    char when[40], dwell[32];
    so_time_iso8601(ev->wall_s, when, sizeof(when));
    so_time_duration(ev->dwell_s, dwell, sizeof(dwell));
    char upper[sizeof(ev->state)];
    size_t i = 0;
    for (; ev->state[i] && i < sizeof(upper) - 1; i++) {
        upper[i] = (char)(ev->state[i] >= 'a' && ev->state[i] <= 'z' ? ev->state[i] - 32
                                                                      : ev->state[i]);
    }
    upper[i] = 0;
    int n = snprintf(line, size, "%.19s  %-12s %-12s %-18s %-8s dwell %-8s", when,
                     ev->camera_id, ev->zone_id, ev->kind, upper, dwell);
    if (n >= (int)size) {
        return line;
    }
    /* A case that was warned of says so; the warning's own lines say it by their state. */
    if (ev->media_warned_s >= 0 && strncmp(ev->state, "warning", 7) != 0) {
        n += snprintf(line + n, size - (size_t)n, " warned at %.1fs", ev->media_warned_s);
    }
    if (ev->media_end_s >= 0) {
        n += snprintf(line + n, size - (size_t)n, " media %.1f-%.1fs (%s)",
                      ev->media_start_s, ev->media_end_s, ev->reason);
    } else {
        n += snprintf(line + n, size - (size_t)n, " media from %.1fs", ev->media_start_s);
    }
    const char *verified = json_string_value(
        json_object_get(json_object_get(rec, "verification"), "result"));
    if (verified && n < (int)size) {
        n += snprintf(line + n, size - (size_t)n, "  verified: %s", verified);
    }
    if (ev->occupancy >= 0 && n < (int)size) {
        n += snprintf(line + n, size - (size_t)n, "  %.0f%% of zone",
                      ev->occupancy * 100.0);
    }
    /* What the dispatcher files it under, what is there, where. */
    const json_t *cat = json_object_get(rec, "category");
    const char *code = json_string_value(json_object_get(cat, "code"));
    const char *name = json_string_value(json_object_get(cat, "name"));
    if (code && name && n < (int)size) {
        n += snprintf(line + n, size - (size_t)n, "  [%s %s]", code, name);
    }
    /* Objects: the first classified ones with their score, then how many unclassified. */
    const json_t *objs = json_object_get(rec, "objects");
    size_t shown = 0, unclassified = 0, more = 0;
    for (size_t k = 0; k < json_array_size(objs); k++) {
        const json_t *o = json_array_get(objs, k);
        const char *cls = json_string_value(json_object_get(o, "class"));
        if (!cls || strcmp(cls, "object") == 0) {
            unclassified++;
        } else if (shown == 3 || n >= (int)size) {
            more++;
        } else {
            n += snprintf(line + n, size - (size_t)n, "%s%s %.2f", shown ? ", " : "  ",
                          cls, json_real_value(json_object_get(o, "score")));
            shown++;
        }
    }
    if (unclassified + more && n < (int)size) {
        n += snprintf(line + n, size - (size_t)n, "%s%zu %sobject%s",
                      shown ? ", " : "  ", unclassified + more, shown ? "more " : "",
                      unclassified + more == 1 ? "" : "s");
    }
    const json_t *address = json_object_get(rec, "address");
    if (json_is_string(address) && n < (int)size) {
        n += snprintf(line + n, size - (size_t)n, "  %s", json_string_value(address));
    }
    const json_t *grid = json_object_get(rec, "grid");
    if (json_is_string(grid) && n < (int)size) {
        n += snprintf(line + n, size - (size_t)n, "  grid %s", json_string_value(grid));
    }
    if (n < (int)size) {
        snprintf(line + n, size - (size_t)n, "  seq %lld",
                 (long long)json_integer_value(json_object_get(rec, "seq")));
    }
    return line;
}

void so_sink_console_print(const struct so_event *ev, const json_t *rec)
{
    char line[1024];
    printf("%s\n", so_sink_console_format(ev, rec, line, sizeof(line)));
    fflush(stdout);
}
