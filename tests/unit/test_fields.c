/*
 * Unit tests for detector/config/fields.c, the zone and analysis key tables. One sample row per
 * key (the value of a base zone, another valid value, a wrong one and its exact message), and
 * every check runs over every table row, so a new key without a sample fails here:
 * - each optional key is at its default when absent, given as null, or given its default;
 * - each wrong value is rejected with its message, under its key path; each numeric key also
 *   outside its range as the table states it;
 * - equality flips when one key differs (so_zone_cfg_equal, so_camera_stream_equal);
 * - the zone editor's export (so_http_zones_json) omits defaults and reads back equal;
 * - the summary lines, to the byte.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "fields.h"
#include "http.h"
#include "testlib.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct sample {
    const char *key;
    const char *base;       /* in the base config; NULL = absent */
    const char *other;      /* another valid value, not the default */
    const char *bad;        /* a wrong value ... */
    const char *message;    /* ... and the error it gets */
};

static const struct sample zone_samples[] = {
    {"id", "z1", "z2", "\"a b\"",
     "expected an id of 1 to 64 letters, digits, '_', '.' or '-', got \"a b\""},
    {"kind", "illegal_parking", "sidewalk_occupied", "parking",
     "expected one of illegal_parking, nonmotor_parking, sidewalk_occupied, stall_encroachment, "
     "got \"parking\""},
    {"polygon", "[[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]", "[[0.1, 0.1], [0.9, 0.1], [0.5, 0.8]]",
     "[[0, 0], [1, 1]]", "expected at least 3 points, got 2"},
    {"dwell_s", "60", "61", "0", "expected a number from 1 to 86400, got \"0\""},
    {"warn_s", NULL, "30", "-1", "expected a number from 0 to 86400, got \"-1\""},
    {"min_occupancy", NULL, "0.5", "0",
     "expected a number greater than 0 and at most 1, got \"0\""},
    {"schedule", NULL, "\"mon-fri 07:00-20:00\"", "{a: 1}",
     "expected a window like \"mon-fri 07:00-20:00\" or a list of them, got a mapping"},
    {"report_interval_s", NULL, "0", "-1", "expected a number >= 0, got \"-1\""},
    {"clear_s", NULL, "4", "x", "expected a number >= 0, got \"x\""},
    {"grid", NULL, "\"620102001001001\"", "\"1234\"",
     "expected a grid cell code of exactly 15 digits, got \"1234\""},
    {"address", NULL, "somewhere", "\"\"", "expected an address (text), got an empty string"},
    {"category", NULL, "\"0504\"", "\"504\"",
     "expected a category code of exactly 4 digits like \"0504\", got \"504\""},
    {"classes", NULL, "[car, bus]", "[Car]",
     "expected a class name in lower case like \"car\", got \"Car\""},
    {"min_score", NULL, "0.4", "1.5", "expected a number from 0 to 1, got \"1.5\""},
    {"min_box", NULL, "8", "4097", "expected an integer from 0 to 4096, got \"4097\""},
    {"max_box", NULL, "300", "8.5", "expected an integer from 0 to 4096, got \"8.5\""},
    {"require_class", NULL, "true", "maybe", "expected true or false, got \"maybe\""},
};

static const struct sample analysis_samples[] = {
    {"fps", NULL, "10", "-1", "expected a number from 0 to 60, got \"-1\""},
    {"width", NULL, "320", "15", "expected an integer from 16 to 4096, got \"15\""},
    {"detect_fps", NULL, "0", "30.5", "expected a number from 0 to 30, got \"30.5\""},
};

/* The values written into a config: one per row of each table, NULL = absent. */
struct values {
    const char *zone[ARRAY_LEN(zone_samples)];
    const char *analysis[ARRAY_LEN(analysis_samples)];
};

static char config_path[64];

static const struct sample *sample_for(const struct sample *s, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s[i].key, key) == 0) {
            return &s[i];
        }
    }
    return NULL;
}

static struct values base_values(void)
{
    struct values v;
    for (size_t i = 0; i < ARRAY_LEN(zone_samples); i++) {
        v.zone[i] = zone_samples[i].base;
    }
    for (size_t i = 0; i < ARRAY_LEN(analysis_samples); i++) {
        v.analysis[i] = analysis_samples[i].base;
    }
    return v;
}

/* Write the config of `v` (one camera, one zone) and load it. */
static struct so_config *load_values(const struct values *v, struct so_config_errors *errors)
{
    FILE *f = fopen(config_path, "w");
    if (!f) {
        perror(config_path);
        exit(1);
    }
    fprintf(f, "cameras:\n  - id: cam1\n    url: rtsp://h/s\n    analysis: {");
    const char *sep = "";
    for (size_t i = 0; i < ARRAY_LEN(analysis_samples); i++) {
        if (v->analysis[i]) {
            fprintf(f, "%s%s: %s", sep, analysis_samples[i].key, v->analysis[i]);
            sep = ", ";
        }
    }
    fprintf(f, "}\n    zones:\n      -");
    for (size_t i = 0; i < ARRAY_LEN(zone_samples); i++) {
        if (v->zone[i]) {
            fprintf(f, "\n        %s: %s", zone_samples[i].key, v->zone[i]);
        }
    }
    fprintf(f, "\n");
    fclose(f);
    return so_config_load(config_path, errors);
}

/* Load and expect no error; the test fails (and NULL comes back) otherwise. */
static struct so_config *load_ok(const struct values *v, const char *what)
{
    struct so_config_errors errors = {0};
    struct so_config *cfg = load_values(v, &errors);
    so_test_check(cfg != NULL, __FILE__, __LINE__, "%s loads (%zu errors, first: %s)", what,
                  errors.n, errors.n ? errors.items[0].message : "-");
    so_config_errors_finish(&errors);
    return cfg;
}

/* Load and expect exactly one error, under `key` and saying `message`. */
static void load_bad(const struct values *v, const char *key, const char *message)
{
    struct so_config_errors errors = {0};
    struct so_config *cfg = load_values(v, &errors);
    bool ok = !cfg && errors.n == 1 && strncmp(errors.items[0].key, key, strlen(key)) == 0 &&
              strcmp(errors.items[0].message, message) == 0;
    so_test_check(ok, __FILE__, __LINE__, "%s: \"%s\" (got %zu errors: %s: %s)", key, message,
                  errors.n, errors.n ? errors.items[0].key : "-",
                  errors.n ? errors.items[0].message : "-");
    so_config_destroy(cfg);
    so_config_errors_finish(&errors);
}

/* Where row i's value of one table goes. */
static const char **slot(struct values *v, bool analysis, size_t i)
{
    return analysis ? &v->analysis[i] : &v->zone[i];
}

/* Each row has a sample, each sample a row, keys are unique and the types that cannot be
 * required are not. */
static void check_tables(const struct so_field_table *t, const struct sample *s, size_t n)
{
    CHECK_INT(t->n, n);
    for (size_t i = 0; i < t->n; i++) {
        const struct so_field *f = &t->fields[i];
        so_test_check(sample_for(s, n, f->key) == &s[i], __FILE__, __LINE__,
                      "row %zu \"%s\" has the sample of the same place", i, f->key);
        so_test_check(!f->required || (f->type != SO_FIELD_DIGITS &&
                                       f->type != SO_FIELD_SCHEDULE &&
                                       f->type != SO_FIELD_CLASSES),
                      __FILE__, __LINE__, "%s: a required key of a type that allows it", f->key);
        so_test_check(f->line >= 0 && (size_t)f->line < t->n_lines, __FILE__, __LINE__,
                      "%s: on a summary line of the table", f->key);
        bool unique = true;
        for (size_t j = 0; j < i; j++) {
            unique = unique && strcmp(t->fields[j].key, f->key) != 0;
        }
        so_test_check(unique, __FILE__, __LINE__, "%s: one row", f->key);
    }
}

/* The struct a table describes in a loaded config. */
static const void *item_of(const struct so_config *cfg, bool analysis)
{
    return analysis ? (const void *)&cfg->cameras[0].analysis
                    : (const void *)&cfg->cameras[0].zones[0];
}

/* Absent, null and the default written out: the row's default each time. */
static void check_defaults(const struct so_field_table *t, bool analysis)
{
    struct values v = base_values();
    struct so_config *base = load_ok(&v, "the base config");
    for (size_t i = 0; base && i < t->n; i++) {
        const struct so_field *f = &t->fields[i];
        if (f->required) {
            continue;
        }
        so_test_check(so_field_is_default(f, item_of(base, analysis)), __FILE__, __LINE__,
                      "%s absent: its default", f->key);
        char def[64];
        const char *forms[] = {"~", def};
        snprintf(def, sizeof(def), "%.17g", f->def);
        size_t n_forms = f->type == SO_FIELD_NUMBER || f->type == SO_FIELD_INT ? 2 : 1;
        for (size_t k = 0; k < n_forms; k++) {
            struct values w = base_values();
            *slot(&w, analysis, i) = forms[k];
            struct so_config *cfg = load_ok(&w, f->key);
            so_test_check(cfg && so_field_is_default(f, item_of(cfg, analysis)) &&
                          so_fields_equal(t, item_of(cfg, analysis), item_of(base, analysis)),
                          __FILE__, __LINE__, "%s: %s parses as the default", f->key, forms[k]);
            so_config_destroy(cfg);
        }
    }
    so_config_destroy(base);
}

/* Each wrong value with its message; numbers also just outside the range the row states. */
static void check_errors(const struct so_field_table *t, const struct sample *s, bool analysis)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct so_field *f = &t->fields[i];
        char key[128], value[64], message[256], range[96];
        snprintf(key, sizeof(key), "cameras[0].%s.%s", analysis ? "analysis" : "zones[0]",
                 f->key);
        struct values v = base_values();
        *slot(&v, analysis, i) = s[i].bad;
        load_bad(&v, key, s[i].message);
        if (f->type != SO_FIELD_NUMBER && f->type != SO_FIELD_INT) {
            continue;
        }
        double outside[] = {f->range.lo_open ? f->range.lo : f->range.lo - 1, f->range.hi + 1};
        for (size_t k = 0; k < (isinf(f->range.hi) ? 1 : 2); k++) {
            snprintf(value, sizeof(value), "%g", outside[k]);
            snprintf(message, sizeof(message), "expected %s, got \"%s\"",
                     so_range_text(&f->range, range, sizeof(range)), value);
            *slot(&v, analysis, i) = value;
            load_bad(&v, key, message);
        }
    }
}

/* One key changed from the base: not equal; the base reloaded: equal. */
static void check_equality(const struct so_field_table *t, const struct sample *s, bool analysis)
{
    struct values v = base_values();
    struct so_config *a = load_ok(&v, "the base config");
    struct so_config *b = load_ok(&v, "the base config again");
    if (!a || !b) {
        so_config_destroy(a);
        so_config_destroy(b);
        return;
    }
    CHECK(so_zone_cfg_equal(&a->cameras[0].zones[0], &b->cameras[0].zones[0]));
    CHECK(so_camera_stream_equal(&a->cameras[0], &b->cameras[0]));
    for (size_t i = 0; i < t->n; i++) {
        struct values w = base_values();
        *slot(&w, analysis, i) = s[i].other;
        struct so_config *c = load_ok(&w, s[i].other);
        if (!c) {
            continue;
        }
        const struct so_camera_cfg *ca = &a->cameras[0], *cc = &c->cameras[0];
        bool zones_eq = so_zone_cfg_equal(&ca->zones[0], &cc->zones[0]);
        bool stream_eq = so_camera_stream_equal(ca, cc);
        so_test_check(analysis ? zones_eq && !stream_eq : !zones_eq && stream_eq, __FILE__,
                      __LINE__, "%s: %s differs from %s (zones equal %d, stream equal %d)",
                      s[i].key, s[i].other, s[i].base ? s[i].base : "absent", zones_eq,
                      stream_eq);
        CHECK(!so_field_is_default(&t->fields[i], item_of(c, analysis)));
        so_config_destroy(c);
    }
    so_config_destroy(a);
    so_config_destroy(b);
}

/* Export `cfg`'s zone, load the JSON back as the zone of a config (YAML reads JSON), and
 * compare; `keys` gets the exported object's key count. */
static void check_round_trip(const struct so_config *cfg, const char *what, size_t *keys)
{
    size_t len;
    char *text = so_http_zones_json(&cfg->cameras[0], &len);
    json_t *root = json_loads(text, 0, NULL);
    json_t *zone = json_array_get(json_object_get(root, "zones"), 0);
    char *zone_text = json_dumps(zone, JSON_REAL_PRECISION(15));
    *keys = json_object_size(zone);
    FILE *f = fopen(config_path, "w");
    fprintf(f, "cameras:\n  - id: cam1\n    url: rtsp://h/s\n    zones: [%s]\n",
            zone_text ? zone_text : "");
    fclose(f);
    struct so_config_errors errors = {0};
    struct so_config *back = so_config_load(config_path, &errors);
    bool equal = back && so_zone_cfg_equal(&back->cameras[0].zones[0], &cfg->cameras[0].zones[0]);
    so_test_check(equal, __FILE__, __LINE__, "%s: the export reads back equal (%zu errors): %s",
                  what, errors.n, zone_text ? zone_text : "(none)");
    so_config_destroy(back);
    so_config_errors_finish(&errors);
    free(zone_text);
    json_decref(root);
    free(text);
}

/* The base exports its required keys only; each key changed adds itself; all changed reads
 * back too. */
static void check_export(void)
{
    size_t n_required = 0, keys;
    for (size_t i = 0; i < so_zone_fields.n; i++) {
        n_required += so_zone_fields.fields[i].required;
    }
    struct values all = base_values();
    struct so_config *cfg = load_ok(&all, "the base config");
    if (cfg) {
        check_round_trip(cfg, "the base zone", &keys);
        CHECK_INT(keys, n_required);
    }
    so_config_destroy(cfg);
    for (size_t i = 0; i < ARRAY_LEN(zone_samples); i++) {
        struct values v = base_values();
        v.zone[i] = all.zone[i] = zone_samples[i].other;
        cfg = load_ok(&v, zone_samples[i].other);
        if (cfg) {
            check_round_trip(cfg, zone_samples[i].key, &keys);
            CHECK_INT(keys, n_required + !so_zone_fields.fields[i].required);
        }
        so_config_destroy(cfg);
    }
    cfg = load_ok(&all, "every key changed");
    if (cfg) {
        check_round_trip(cfg, "every key changed", &keys);
        CHECK_INT(keys, so_zone_fields.n);
    }
    so_config_destroy(cfg);
}

static void check_print(const struct so_field_table *t, const void *base, const char *want)
{
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    so_fields_print(t, base, mem);
    fclose(mem);
    if (!so_test_check(strcmp(text, want) == 0, __FILE__, __LINE__, "summary \"%.*s\"...",
                       (int)strcspn(want, "\n"), want)) {
        printf("# want:\n%s# got:\n%s", want, text);
    }
    free(text);
}

/* The summary as `streetorder check` has always printed it: the base, every key changed,
 * the object line without classes and the grid line with one key of three. */
static const struct summary_case {
    const char *set[4];     /* zone key, value pairs over the base; "*": every key its other */
    const char *zone, *analysis;
} summary_cases[] = {
    {{NULL},
     "    zone z1: illegal_parking, 3 points, 32.0% of the frame, dwell 60 s\n"
     "      min occupancy 0.02, updates every 60 s, clear after 10 s\n"
     "      enforced: always\n",
     ", analysis 2 fps (from the zones) at width 640, detector 1 fps\n"},
    {{"*"},
     "    zone z2: sidewalk_occupied, 3 points, 28.0% of the frame, dwell 61 s\n"
     "      min occupancy 0.5, updates 0 (none), clear after 4 s\n"
     "      enforced: mon-fri 07:00-20:00\n"
     "      objects: car, bus; min score 0.4, box 8..300 px, labelled only: yes\n"
     "      grid 620102001001001, address somewhere, category 0504\n"
     "      warning after 30 s at rest (before the case opens)\n",
     ", analysis 10 fps at width 320, detector 0 fps\n"},
    {{"min_score", "0.5", "address", "x"},
     "    zone z1: illegal_parking, 3 points, 32.0% of the frame, dwell 60 s\n"
     "      min occupancy 0.02, updates every 60 s, clear after 10 s\n"
     "      enforced: always\n"
     "      objects: min score 0.5, box 0..0 px, labelled only: no\n"
     "      grid -, address x, category (kind default)\n",
     ", analysis 2 fps (from the zones) at width 640, detector 1 fps\n"},
};

static void check_summary(void)
{
    for (size_t c = 0; c < ARRAY_LEN(summary_cases); c++) {
        const struct summary_case *sc = &summary_cases[c];
        struct values v = base_values();
        bool all = sc->set[0] && strcmp(sc->set[0], "*") == 0;
        for (size_t i = 0; all && i < ARRAY_LEN(zone_samples); i++) {
            v.zone[i] = zone_samples[i].other;
        }
        for (size_t i = 0; all && i < ARRAY_LEN(analysis_samples); i++) {
            v.analysis[i] = analysis_samples[i].other;
        }
        for (size_t k = 0; !all && k + 1 < ARRAY_LEN(sc->set) && sc->set[k]; k += 2) {
            const struct sample *s = sample_for(zone_samples, ARRAY_LEN(zone_samples), sc->set[k]);
            v.zone[s - zone_samples] = sc->set[k + 1];
        }
        struct so_config *cfg = load_ok(&v, "a summary case");
        if (cfg) {
            check_print(&so_zone_fields, &cfg->cameras[0].zones[0], sc->zone);
            check_print(&so_analysis_fields, &cfg->cameras[0].analysis, sc->analysis);
        }
        so_config_destroy(cfg);
    }
}

int main(void)
{
    char dir[] = "/tmp/so_test_fields_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(config_path, sizeof(config_path), "%s/c.yaml", dir);

    check_tables(&so_zone_fields, zone_samples, ARRAY_LEN(zone_samples));
    check_tables(&so_analysis_fields, analysis_samples, ARRAY_LEN(analysis_samples));
    check_defaults(&so_zone_fields, false);
    check_defaults(&so_analysis_fields, true);
    check_errors(&so_zone_fields, zone_samples, false);
    check_errors(&so_analysis_fields, analysis_samples, true);
    check_equality(&so_zone_fields, zone_samples, false);
    check_equality(&so_analysis_fields, analysis_samples, true);
    check_export();
    check_summary();

    unlink(config_path);
    rmdir(dir);
    return so_test_done();
}
