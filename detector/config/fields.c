/*
 * Why this file exists: a zone key used to live in six places (the allowed-key list, the
 * loader, the free, the reload comparison, the `streetorder check` summary and the zone
 * editor's export, which also repeated the defaults), kept in step by hand. Here each key is one
 * row, and everything that handles keys walks the rows.
 *
 * How: a row says where the value is (offsetof) and what type it has; each type knows how to
 * default, free, compare and print itself (the switch statements below), the loader in
 * config.c how to parse it, and http/zones.c how to write it as JSON. A key with a special
 * printout (report_interval_s: "every 60 s" / "0 (none)") names its own printer.
 *
 * Trade-offs: the summary's layout is kept exactly as it was (operators and tests read it),
 * which is why rows carry a line number, a label and a unit rather than a generic "key: value".
 * Checks across fields (max_box >= min_box, unique zone ids) stay in the loader: they are about
 * the zone, not one key. The table order is the parse order, the order of the allowed-key list
 * in messages and the key order of the export, so a new row goes where it should show.
 */
#include "fields.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* "updates every 60 s" / "updates 0 (none)". */
static void print_interval(const struct so_field *f, const void *base, FILE *out)
{
    double v = so_field_number(f, base);
    fprintf(out, "%s%g%s", v > 0 ? "every " : "", v, v > 0 ? " s" : " (none)");
}

#define ZONE(m) offsetof(struct so_zone_cfg, m)

/* Lines of a zone's summary (the `line` of each row below). */
static const struct so_field_line zone_lines[] = {
    {"    zone ", false},   /* id: kind, polygon, dwell */
    {"      ", false},      /* occupancy, updates, clear */
    {"      enforced: ", false},
    {"      objects:", true},
    {"      ", true},       /* grid, address, category */
    {"      ", true},       /* warning */
};

static const struct so_field zone_rows[] = {
    {"id", SO_FIELD_ID, .required = true, ZONE(id), .line = 0},
    {"kind", SO_FIELD_KIND, .required = true, ZONE(kind), .line = 0, .label = ": "},
    {"polygon", SO_FIELD_POLYGON, .required = true, ZONE(polygon), .line = 0, .label = ", "},
    {"dwell_s", SO_FIELD_NUMBER, .required = true, ZONE(dwell_s), .range = {1, 86400},
     .line = 0, .label = ", dwell ", .unit = " s"},
    {"warn_s", SO_FIELD_NUMBER, false, ZONE(warn_s), .range = {0, 86400}, .line = 5,
     .label = "warning after ", .unit = " s at rest (before the case opens)"},
    {"min_occupancy", SO_FIELD_NUMBER, false, ZONE(min_occupancy), .range = {0, 1, true},
     .def = 0.02, .line = 1, .label = "min occupancy "},
    {"schedule", SO_FIELD_SCHEDULE, false, ZONE(schedule), .line = 2},
    {"report_interval_s", SO_FIELD_NUMBER, false, ZONE(report_interval_s),
     .range = {0, INFINITY}, .def = 60, .line = 1, .label = ", updates ", .print = print_interval},
    {"clear_s", SO_FIELD_NUMBER, false, ZONE(clear_s), .range = {0, INFINITY}, .def = 10,
     .line = 1, .label = ", clear after ", .unit = " s"},
    {"grid", SO_FIELD_DIGITS, false, ZONE(grid), .digits = 15,
     .what = "a grid cell code of exactly 15 digits", .line = 4, .label = "grid ", .none = "-"},
    {"address", SO_FIELD_STRING, false, ZONE(address), .what = "an address (text)", .line = 4,
     .label = ", address ", .none = "-"},
    {"category", SO_FIELD_DIGITS, false, ZONE(category), .digits = 4,
     .what = "a category code of exactly 4 digits like \"0504\"", .line = 4,
     .label = ", category ", .none = "(kind default)"},
    {"classes", SO_FIELD_CLASSES, false, ZONE(classes), .count_offset = ZONE(n_classes),
     .line = 3, .label = " ", .unit = ";"},
    {"min_score", SO_FIELD_NUMBER, false, ZONE(min_score), .range = {0, 1}, .line = 3,
     .label = " min score "},
    {"min_box", SO_FIELD_INT, false, ZONE(min_box), .range = {0, 4096, false, true}, .line = 3,
     .label = ", box "},
    {"max_box", SO_FIELD_INT, false, ZONE(max_box), .range = {0, 4096, false, true}, .line = 3,
     .label = "..", .unit = " px"},
    {"require_class", SO_FIELD_BOOL, false, ZONE(require_class), .line = 3,
     .label = ", labelled only: "},
};

const struct so_field_table so_zone_fields = {zone_rows, ARRAY_LEN(zone_rows), zone_lines,
                                              ARRAY_LEN(zone_lines)};

#define ANALYSIS(m) offsetof(struct so_analysis_cfg, m)

/* "5 fps" as written, "1.5 fps (from the zones)" when absent (the rate analysed). */
static void print_fps(const struct so_field *f, const void *base, FILE *out)
{
    const struct so_analysis_cfg *a = base;
    bool derived = so_field_is_default(f, base);
    fprintf(out, "%g fps%s", derived ? a->rate : a->fps, derived ? " (from the zones)" : "");
}

/* One line, after the camera's "    decode full". */
static const struct so_field_line analysis_lines[] = {{"", false}};

static const struct so_field analysis_rows[] = {
    {"fps", SO_FIELD_NUMBER, false, ANALYSIS(fps), .range = {0, 60}, .def = 0,
     .label = ", analysis ", .print = print_fps},
    {"width", SO_FIELD_INT, false, ANALYSIS(width), .range = {16, 4096, false, true},
     .def = 640, .label = " at width "},
    {"detect_fps", SO_FIELD_NUMBER, false, ANALYSIS(detect_fps), .range = {0, 30}, .def = 1,
     .label = ", detector ", .unit = " fps"},
};

const struct so_field_table so_analysis_fields = {analysis_rows, ARRAY_LEN(analysis_rows),
                                                  analysis_lines, ARRAY_LEN(analysis_lines)};

/* --- operations by type --------------------------------------------------------------------- */

static void *field_ptr(const struct so_field *f, void *base)
{
    return (char *)base + f->offset;
}

void so_fields_init(const struct so_field_table *t, void *base)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct so_field *f = &t->fields[i];
        if (f->type == SO_FIELD_NUMBER) {
            *(double *)field_ptr(f, base) = f->def;
        } else if (f->type == SO_FIELD_INT) {
            *(int *)field_ptr(f, base) = (int)f->def;
        } else if (f->type == SO_FIELD_SCHEDULE) {
            so_schedule_init_always(field_ptr(f, base));
        }
    }
}

void so_fields_finish(const struct so_field_table *t, void *base)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct so_field *f = &t->fields[i];
        void *p = field_ptr(f, base);
        switch (f->type) {
        case SO_FIELD_ID:
        case SO_FIELD_STRING:
        case SO_FIELD_DIGITS:
            free(*(char **)p);
            *(char **)p = NULL;
            break;
        case SO_FIELD_POLYGON:
            free(((struct so_polygon *)p)->pts);
            *(struct so_polygon *)p = (struct so_polygon){0};
            break;
        case SO_FIELD_CLASSES: {
            size_t *n = (size_t *)((char *)base + f->count_offset);
            char **items = *(char ***)p;
            for (size_t k = 0; k < *n; k++) {
                free(items[k]);
            }
            free(items);
            *(char ***)p = NULL;
            *n = 0;
            break;
        }
        case SO_FIELD_NUMBER:
        case SO_FIELD_INT:
        case SO_FIELD_KIND:
        case SO_FIELD_SCHEDULE:
        case SO_FIELD_BOOL:
            break;
        }
    }
}

/* NULL equals NULL only. */
static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool field_equal(const struct so_field *f, const void *a, const void *b)
{
    const void *pa = so_field_at(f, a), *pb = so_field_at(f, b);
    switch (f->type) {
    case SO_FIELD_ID:
    case SO_FIELD_STRING:
    case SO_FIELD_DIGITS:
        return str_eq(so_field_string(f, a), so_field_string(f, b));
    case SO_FIELD_NUMBER:
    case SO_FIELD_INT:
        return so_field_number(f, a) == so_field_number(f, b);
    case SO_FIELD_KIND:
        return *(const enum so_zone_kind *)pa == *(const enum so_zone_kind *)pb;
    case SO_FIELD_BOOL:
        return *(const bool *)pa == *(const bool *)pb;
    case SO_FIELD_POLYGON:
        return so_polygon_equal(pa, pb);
    case SO_FIELD_SCHEDULE: {
        const struct so_schedule *sa = pa, *sb = pb;
        return sa->always == sb->always && memcmp(sa->bits, sb->bits, sizeof(sa->bits)) == 0;
    }
    case SO_FIELD_CLASSES: {
        size_t na, nb;
        char *const *la = so_field_list(f, a, &na), *const *lb = so_field_list(f, b, &nb);
        for (size_t k = 0; na == nb && k < na; k++) {
            if (!str_eq(la[k], lb[k])) {
                return false;
            }
        }
        return na == nb;
    }
    }
    return false;
}

bool so_fields_equal(const struct so_field_table *t, const void *a, const void *b)
{
    for (size_t i = 0; i < t->n; i++) {
        if (!field_equal(&t->fields[i], a, b)) {
            return false;
        }
    }
    return true;
}

bool so_field_is_default(const struct so_field *f, const void *base)
{
    size_t n;
    if (f->required) {
        return false;
    }
    switch (f->type) {
    case SO_FIELD_ID:
    case SO_FIELD_STRING:
    case SO_FIELD_DIGITS:
        return so_field_string(f, base) == NULL;
    case SO_FIELD_NUMBER:
    case SO_FIELD_INT:
        return so_field_number(f, base) == f->def;
    case SO_FIELD_SCHEDULE:
        return ((const struct so_schedule *)so_field_at(f, base))->always;
    case SO_FIELD_CLASSES:
        so_field_list(f, base, &n);
        return n == 0;
    case SO_FIELD_BOOL:
        return *(const bool *)so_field_at(f, base) == (f->def != 0);
    case SO_FIELD_KIND:
    case SO_FIELD_POLYGON:
        break;
    }
    return false;
}

/* The value alone, as the summary shows it. */
static void print_value(const struct so_field *f, const void *base, FILE *out)
{
    char buf[512];
    const void *p = so_field_at(f, base);
    size_t n;
    switch (f->type) {
    case SO_FIELD_ID:
    case SO_FIELD_STRING:
    case SO_FIELD_DIGITS:
        fputs(so_field_string(f, base) ? so_field_string(f, base) : f->none, out);
        break;
    case SO_FIELD_NUMBER:
        fprintf(out, "%g", so_field_number(f, base));
        break;
    case SO_FIELD_INT:
        fprintf(out, "%d", *(const int *)p);
        break;
    case SO_FIELD_KIND:
        fputs(so_zone_kind_name(*(const enum so_zone_kind *)p), out);
        break;
    case SO_FIELD_BOOL:
        fputs(*(const bool *)p ? "yes" : "no", out);
        break;
    case SO_FIELD_POLYGON:
        fprintf(out, "%zu points, %.1f%% of the frame", ((const struct so_polygon *)p)->n,
                100.0 * fabs(so_polygon_signed_area(p)));
        break;
    case SO_FIELD_SCHEDULE:
        fputs(so_schedule_describe(p, buf, sizeof(buf)), out);
        break;
    case SO_FIELD_CLASSES: {
        char *const *items = so_field_list(f, base, &n);
        for (size_t k = 0; k < n; k++) {
            fprintf(out, "%s%s", k ? ", " : "", items[k]);
        }
        break;
    }
    }
}

static bool line_at_default(const struct so_field_table *t, int line, const void *base)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->fields[i].line == line && !so_field_is_default(&t->fields[i], base)) {
            return false;
        }
    }
    return true;
}

void so_fields_print(const struct so_field_table *t, const void *base, FILE *out)
{
    for (size_t l = 0; l < t->n_lines; l++) {
        if (t->lines[l].optional && line_at_default(t, (int)l, base)) {
            continue;
        }
        fputs(t->lines[l].prefix, out);
        for (size_t i = 0; i < t->n; i++) {
            const struct so_field *f = &t->fields[i];
            /* an empty list shows nothing, not even its label */
            bool empty_list = f->type == SO_FIELD_CLASSES && so_field_is_default(f, base);
            if (f->line != (int)l || empty_list) {
                continue;
            }
            fputs(f->label ? f->label : "", out);
            (f->print ? f->print : print_value)(f, base, out);
            fputs(f->unit ? f->unit : "", out);
        }
        fputc('\n', out);
    }
}
