/*
 * The keys of a zone (so_zone_fields) and of a camera's `analysis` mapping
 * (so_analysis_fields), one table row per key: its name, type, range, default, where its value
 * lives in the struct, and how `streetorder check` prints it. The rows drive what is done with
 * each key: parsing and the allowed-key list (config.c), defaults, freeing, comparison for
 * reloading and the summary (fields.c), and the zone editor's export (http/zones.c). A new key
 * of an existing type is one row here plus its field in config.h.
 *
 * Ownership: the tables are static constants. The functions taking `base` work on the struct a
 * table describes (struct so_zone_cfg for so_zone_fields, struct so_analysis_cfg for
 * so_analysis_fields): init/finish write it, the others only read. Thread-safe on distinct
 * structs and on shared read-only ones. No function here fails.
 */
#ifndef SO_CONFIG_FIELDS_H
#define SO_CONFIG_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "range.h"

/* What a value is and how it is stored at the row's offset. */
enum so_field_type {
    SO_FIELD_ID,        /* char *: 1 to 64 letters, digits, '_', '.' or '-' */
    SO_FIELD_STRING,    /* char *: non-empty text; NULL when absent */
    SO_FIELD_DIGITS,    /* char *: exactly `digits` digits; NULL when absent (never required) */
    SO_FIELD_NUMBER,    /* double within `range` */
    SO_FIELD_INT,       /* int within `range` (range.integer set) */
    SO_FIELD_KIND,      /* enum so_zone_kind, by name */
    SO_FIELD_POLYGON,   /* struct so_polygon, owned points */
    SO_FIELD_SCHEDULE,  /* struct so_schedule; absent = always enforced (never required) */
    SO_FIELD_CLASSES,   /* char **, owned, count (size_t) at `count_offset` (never required) */
    SO_FIELD_BOOL,      /* bool: true/false (yes/no, on/off); `def` non-zero = true */
};

struct so_field;

/* Prints a value for the summary (without label and unit). */
typedef void (*so_field_print_fn)(const struct so_field *f, const void *base, FILE *out);

struct so_field {
    const char *key;
    enum so_field_type type;
    bool required;          /* missing = an error; else absent = the default */
    size_t offset;          /* of the value in the struct */
    struct so_range range;  /* NUMBER, INT */
    double def;             /* NUMBER, INT: the value when absent */
    size_t digits;          /* DIGITS: how many */
    const char *what;       /* STRING, DIGITS: what the error says was expected */
    size_t count_offset;    /* CLASSES: of the size_t count */
    /* The summary: the value goes on line `line` of the table's lines, after `label` and
     * followed by `unit`; an absent string shows `none`; an empty list shows nothing at all. */
    int line;
    const char *label, *unit, *none;
    so_field_print_fn print;    /* NULL: by type */
};

/* A line of the summary: its prefix; an optional line is printed only when one of its fields
 * differs from its default. */
struct so_field_line {
    const char *prefix;
    bool optional;
};

struct so_field_table {
    const struct so_field *fields;
    size_t n;
    const struct so_field_line *lines;
    size_t n_lines;
};

extern const struct so_field_table so_zone_fields;       /* struct so_zone_cfg */
extern const struct so_field_table so_analysis_fields;   /* struct so_analysis_cfg */

/* Set every field of `base` to its default (numbers; the schedule to always); others are left
 * as they are (zero from calloc = absent). */
void so_fields_init(const struct so_field_table *t, void *base);

/* Free what the fields of `base` own (strings, polygon points, lists). */
void so_fields_finish(const struct so_field_table *t, void *base);

/* Every field equal: strings by text (NULL equals NULL only), numbers by value, polygons
 * point by point, schedules by their minutes, lists item by item in order. */
bool so_fields_equal(const struct so_field_table *t, const void *a, const void *b);

/* Whether the field holds its default: a number equal to `def`, an absent string, an empty
 * list, an always-enforced schedule. Required fields (no default) never do. */
bool so_field_is_default(const struct so_field *f, const void *base);

/* The summary lines of `base` (each ends with a newline; see struct so_field_line). */
void so_fields_print(const struct so_field_table *t, const void *base, FILE *out);

/* Read access to a field's value; the type must match the row's. so_field_number() reads
 * NUMBER and INT fields. */
static inline const void *so_field_at(const struct so_field *f, const void *base)
{
    return (const char *)base + f->offset;
}
static inline double so_field_number(const struct so_field *f, const void *base)
{
    return f->type == SO_FIELD_INT ? *(const int *)so_field_at(f, base)
                                   : *(const double *)so_field_at(f, base);
}
static inline const char *so_field_string(const struct so_field *f, const void *base)
{
    return *(char *const *)so_field_at(f, base);
}
static inline char *const *so_field_list(const struct so_field *f, const void *base, size_t *n)
{
    *n = *(const size_t *)((const char *)base + f->count_offset);
    return *(char **const *)so_field_at(f, base);
}

#endif
