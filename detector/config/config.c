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
 * libyaml stays inside this file: config.h exposes plain C types only.
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
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "xalloc.h"

#include "log.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* --- small helpers -------------------------------------------------------------------------- */


static void add_error(struct so_config_errors *errors, const char *file, int line, int column,
                      const char *key, const char *message)
{
    struct so_config_error *items =
        realloc(errors->items, (errors->n + 1) * sizeof(*errors->items));
    if (!items) {
        abort();
    }
    errors->items = items;
    items[errors->n++] = (struct so_config_error){
        .file = so_xstrdup(file),
        .line = line,
        .column = column,
        .key = so_xstrdup(key),
        .message = so_xstrdup(message),
    };
}

/* Edit distance (case-insensitive) between short strings, for "did you mean". */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) {
        return SIZE_MAX;
    }
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++) {
        prev[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best) {
                best = prev[j] + 1;
            }
            if (cur[j - 1] + 1 < best) {
                best = cur[j - 1] + 1;
            }
            cur[j] = best;
        }
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb];
}

/* The closest candidate within a small distance of `word`, or NULL. */
static const char *closest(const char *word, const char *const *candidates, size_t n)
{
    size_t limit = strlen(word) / 3;
    if (limit < 1) {
        limit = 1;
    }
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, candidates[i]);
        if (d <= limit && d < best_d) {
            best = candidates[i];
            best_d = d;
        }
    }
    return best;
}

/* "a, b, c" into buf. */
static const char *join(const char *const *items, size_t n, char *buf, size_t size)
{
    size_t pos = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && pos < size; i++) {
        int w = snprintf(buf + pos, size - pos, "%s%s", i ? ", " : "", items[i]);
        if (w < 0) {
            break;
        }
        pos += (size_t)w;
    }
    return buf;
}

/* --- zone kinds ----------------------------------------------------------------------------- */

static const char *const kind_names[SO_ZONE_KIND_COUNT] = {
    [SO_ZONE_ILLEGAL_PARKING] = "illegal_parking",
    [SO_ZONE_NONMOTOR_PARKING] = "nonmotor_parking",
    [SO_ZONE_SIDEWALK_OCCUPIED] = "sidewalk_occupied",
    [SO_ZONE_STALL_ENCROACHMENT] = "stall_encroachment",
};

const char *so_zone_kind_name(enum so_zone_kind kind)
{
    if ((int)kind < 0 || kind >= SO_ZONE_KIND_COUNT) {
        return NULL;
    }
    return kind_names[kind];
}

bool so_zone_kind_parse(const char *name, enum so_zone_kind *out)
{
    for (int k = 0; name && k < SO_ZONE_KIND_COUNT; k++) {
        if (strcmp(name, kind_names[k]) == 0) {
            if (out) {
                *out = (enum so_zone_kind)k;
            }
            return true;
        }
    }
    return false;
}

/* --- the loader: document, current key path, error list ------------------------------------ */

struct loader {
    const char *file;
    yaml_document_t *doc;
    struct so_config_errors *errors;
    char path[384];
    size_t path_len;
};

static void errorv(struct loader *ld, const yaml_node_t *node, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void errorv(struct loader *ld, const yaml_node_t *node, const char *fmt, va_list ap)
{
    char msg[768];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    int line = node ? (int)node->start_mark.line + 1 : 0;
    int column = node ? (int)node->start_mark.column + 1 : 0;
    add_error(ld->errors, ld->file, line, column, ld->path, msg);
}

/* Report an error at `node`, under the current key path. */
static void errorf(struct loader *ld, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errorf(struct loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errorv(ld, node, fmt, ap);
    va_end(ap);
}

/* Append ".key" (or "key" at the top) to the path; returns the mark to pop back to. */
static size_t path_key(struct loader *ld, const char *key)
{
    size_t mark = ld->path_len;
    if (mark < sizeof(ld->path)) {
        int w = snprintf(ld->path + mark, sizeof(ld->path) - mark, "%s%s", mark ? "." : "", key);
        ld->path_len = w < 0 ? mark : mark + (size_t)w;
        if (ld->path_len >= sizeof(ld->path)) {
            ld->path_len = sizeof(ld->path) - 1;
        }
    }
    return mark;
}

static size_t path_index(struct loader *ld, size_t i)
{
    size_t mark = ld->path_len;
    if (mark < sizeof(ld->path)) {
        int w = snprintf(ld->path + mark, sizeof(ld->path) - mark, "[%zu]", i);
        ld->path_len = w < 0 ? mark : mark + (size_t)w;
        if (ld->path_len >= sizeof(ld->path)) {
            ld->path_len = sizeof(ld->path) - 1;
        }
    }
    return mark;
}

static void path_pop(struct loader *ld, size_t mark)
{
    ld->path_len = mark;
    ld->path[mark] = '\0';
}

static yaml_node_t *node_at(struct loader *ld, int index)
{
    return yaml_document_get_node(ld->doc, index);
}

static const char *text(const yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

static bool is_null(const yaml_node_t *node)
{
    if (!node || node->type != YAML_SCALAR_NODE ||
        node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return false;
    }
    const char *s = text(node);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static size_t seq_len(const yaml_node_t *node)
{
    return (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
}

static yaml_node_t *seq_item(struct loader *ld, const yaml_node_t *node, size_t i)
{
    return node_at(ld, node->data.sequence.items.start[i]);
}

/* What a node is, for "got ..." in messages: "\"text\"", "nothing", "a mapping", ... */
static const char *got(const yaml_node_t *node, char *buf, size_t size)
{
    if (!node || is_null(node)) {
        return "nothing";
    }
    if (node->type == YAML_MAPPING_NODE) {
        return "a mapping";
    }
    if (node->type == YAML_SEQUENCE_NODE) {
        size_t n = seq_len(node);
        snprintf(buf, size, "a list of %zu item%s", n, n == 1 ? "" : "s");
        return buf;
    }
    const char *s = text(node);
    size_t max = size > 8 ? size - 8 : 0, n = strlen(s);
    bool cut = n > max && max > 0;
    if (cut) {
        n = max > 60 ? 60 : max;
        /* never cut a UTF-8 sequence in half */
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    size_t pos = 0;
    buf[pos++] = '"';
    for (size_t i = 0; i < n && pos + 6 < size; i++) {
        buf[pos++] = ((unsigned char)s[i] < 0x20) ? '?' : s[i];
    }
    if (cut) {
        memcpy(buf + pos, "...", 3);
        pos += 3;
    }
    buf[pos++] = '"';
    buf[pos] = '\0';
    return buf;
}

/* Find `key` in a mapping; NULL when absent. */
static yaml_node_t *map_get(struct loader *ld, const yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node_at(ld, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp(text(k), key) == 0) {
            return node_at(ld, p->value);
        }
    }
    return NULL;
}

/*
 * Check that `node` is a mapping whose keys are all in `allowed` and appear once. Reports a
 * wrong type (at the node) or each bad key (at the key). Returns false only for a wrong type.
 */
static bool check_mapping(struct loader *ld, yaml_node_t *node, const char *const *allowed,
                          size_t n_allowed, const char *what)
{
    char buf[512], gbuf[96];
    if (node->type != YAML_MAPPING_NODE) {
        errorf(ld, node, "expected %s (keys: %s), got %s", what,
               join(allowed, n_allowed, buf, sizeof(buf)), got(node, gbuf, sizeof(gbuf)));
        return false;
    }
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node_at(ld, p->key);
        if (k->type != YAML_SCALAR_NODE) {
            errorf(ld, k, "expected a key name (one of %s), got %s",
                   join(allowed, n_allowed, buf, sizeof(buf)), got(k, gbuf, sizeof(gbuf)));
            continue;
        }
        const char *name = text(k);
        size_t mark = path_key(ld, name);
        bool known = false;
        for (size_t i = 0; i < n_allowed; i++) {
            known = known || strcmp(name, allowed[i]) == 0;
        }
        if (!known) {
            const char *hint = closest(name, allowed, n_allowed);
            if (hint) {
                errorf(ld, k, "unknown key \"%s\" (did you mean \"%s\"?)", name, hint);
            } else {
                errorf(ld, k, "unknown key \"%s\"; allowed keys are %s", name,
                       join(allowed, n_allowed, buf, sizeof(buf)));
            }
        } else {
            for (yaml_node_pair_t *q = node->data.mapping.pairs.start; q < p; q++) {
                yaml_node_t *k0 = node_at(ld, q->key);
                if (k0->type == YAML_SCALAR_NODE && strcmp(text(k0), name) == 0) {
                    errorf(ld, k, "duplicate key \"%s\" (first given at line %d): expected "
                           "each key once", name, (int)k0->start_mark.line + 1);
                    break;
                }
            }
        }
        path_pop(ld, mark);
    }
    return true;
}

/*
 * Push `key` on the path and return its value, or NULL when absent or null; a missing required
 * key is reported at the mapping. The caller pops the path with path_pop(ld, *mark).
 */
static yaml_node_t *enter(struct loader *ld, yaml_node_t *map, const char *key, bool required,
                          const char *what, size_t *mark)
{
    *mark = path_key(ld, key);
    yaml_node_t *v = map ? map_get(ld, map, key) : NULL;
    if (v && is_null(v)) {
        if (required) {
            errorf(ld, v, "expected %s, got nothing", what);
        }
        return NULL;
    }
    if (!v && required) {
        errorf(ld, map, "missing required key \"%s\" (expected %s)", key, what);
    }
    return v;
}

/* --- typed values --------------------------------------------------------------------------- */

static bool val_string(struct loader *ld, yaml_node_t *v, const char *what, char **out)
{
    char gbuf[96];
    if (v->type != YAML_SCALAR_NODE) {
        errorf(ld, v, "expected %s, got %s", what, got(v, gbuf, sizeof(gbuf)));
        return false;
    }
    if (!*text(v)) {
        errorf(ld, v, "expected %s, got an empty string", what);
        return false;
    }
    free(*out);
    *out = so_xstrdup(text(v));
    return true;
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

static bool val_id(struct loader *ld, yaml_node_t *v, char **out)
{
    char gbuf[96];
    if (v->type != YAML_SCALAR_NODE || !is_id(text(v))) {
        errorf(ld, v, "expected " ID_EXPECTED ", got %s", got(v, gbuf, sizeof(gbuf)));
        return false;
    }
    free(*out);
    *out = so_xstrdup(text(v));
    return true;
}

/* Decimal number: [+-] digits [. digits] [e [+-] digits], at least one digit before e. */
static bool parse_number(const char *s, double *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-') {
        p++;
    }
    int digits = 0;
    while (isdigit((unsigned char)*p)) {
        p++;
        digits++;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            digits++;
        }
    }
    if (!digits) {
        return false;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') {
            p++;
        }
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
        while (isdigit((unsigned char)*p)) {
            p++;
        }
    }
    if (*p) {
        return false;
    }
    double d = strtod(s, NULL);
    if (!isfinite(d)) {
        return false;
    }
    *out = d;
    return true;
}

struct range {
    double lo, hi;
    bool lo_open;   /* lo itself excluded */
    bool integer;
};

static const struct range R_DWELL = {1, 86400, false, false};
static const struct range R_OCCUPANCY = {0, 1, true, false};
static const struct range R_NONNEG = {0, INFINITY, false, false};
static const struct range R_FPS = {0, 60, true, false};
static const struct range R_DETECT_FPS = {0, 30, false, false};
static const struct range R_WIDTH = {16, 4096, false, true};
static const struct range R_COORD = {0, 1, false, false};
static const struct range R_QUOTA = {0, 65536, true, false};
static const struct range R_RESEND = {0.1, 3600, false, false};

static const char *range_text(const struct range *r, char *buf, size_t size)
{
    const char *noun = r->integer ? "an integer" : "a number";
    if (isinf(r->hi)) {
        snprintf(buf, size, "%s %s %g", noun, r->lo_open ? ">" : ">=", r->lo);
    } else if (r->lo_open) {
        snprintf(buf, size, "%s greater than %g and at most %g", noun, r->lo, r->hi);
    } else {
        snprintf(buf, size, "%s from %g to %g", noun, r->lo, r->hi);
    }
    return buf;
}

static bool val_number(struct loader *ld, yaml_node_t *v, const struct range *r, double *out)
{
    char rbuf[96], gbuf[96];
    double d = 0;
    bool ok = v->type == YAML_SCALAR_NODE && parse_number(text(v), &d);
    ok = ok && (r->lo_open ? d > r->lo : d >= r->lo) && d <= r->hi;
    ok = ok && (!r->integer || d == floor(d));
    if (!ok) {
        errorf(ld, v, "expected %s, got %s", range_text(r, rbuf, sizeof(rbuf)),
               got(v, gbuf, sizeof(gbuf)));
        return false;
    }
    *out = d;
    return true;
}

/* Optional/required keyed values: look up, convert, pop the path. */
static yaml_node_t *key_string(struct loader *ld, yaml_node_t *map, const char *key,
                               bool required, const char *what, char **out)
{
    size_t mark;
    yaml_node_t *v = enter(ld, map, key, required, what, &mark);
    if (v && !val_string(ld, v, what, out)) {
        v = NULL;
    }
    path_pop(ld, mark);
    return v;
}

static yaml_node_t *key_id(struct loader *ld, yaml_node_t *map, const char *key, bool required,
                           char **out)
{
    size_t mark;
    yaml_node_t *v = enter(ld, map, key, required, ID_EXPECTED, &mark);
    if (v && !val_id(ld, v, out)) {
        v = NULL;
    }
    path_pop(ld, mark);
    return v;
}

static void key_number(struct loader *ld, yaml_node_t *map, const char *key, bool required,
                       const struct range *r, double *out)
{
    char rbuf[96];
    size_t mark;
    yaml_node_t *v = enter(ld, map, key, required, range_text(r, rbuf, sizeof(rbuf)), &mark);
    if (v) {
        val_number(ld, v, r, out);
    }
    path_pop(ld, mark);
}

/* A ZeroMQ endpoint "transport://address". */
static void key_endpoint(struct loader *ld, yaml_node_t *map, const char *key, char **out)
{
    char gbuf[96];
    const char *what = "a ZeroMQ endpoint like \"tcp://127.0.0.1:5556\"";
    yaml_node_t *v = key_string(ld, map, key, false, what, out);
    if (v && !strstr(*out, "://")) {
        size_t mark = path_key(ld, key);
        errorf(ld, v, "expected %s, got %s", what, got(v, gbuf, sizeof(gbuf)));
        path_pop(ld, mark);
    }
}

/* A boolean: true/false (also yes/no, on/off). */
static void key_bool(struct loader *ld, yaml_node_t *map, const char *key, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", "On"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off", "Off"};
    const char *what = "true or false";
    char gbuf[96];
    size_t mark;
    yaml_node_t *v = enter(ld, map, key, false, what, &mark);
    if (v) {
        bool found = false;
        for (size_t i = 0; v->type == YAML_SCALAR_NODE && i < ARRAY_LEN(yes) && !found; i++) {
            if (!strcmp(text(v), yes[i]) || !strcmp(text(v), no[i])) {
                *out = !strcmp(text(v), yes[i]);
                found = true;
            }
        }
        if (!found) {
            errorf(ld, v, "expected %s, got %s", what, got(v, gbuf, sizeof(gbuf)));
        }
    }
    path_pop(ld, mark);
}

/* A CURVE key: 40 characters of the Z85 alphabet (`streetorder keygen` prints them). */
static yaml_node_t *key_curve(struct loader *ld, yaml_node_t *map, const char *key, char **out)
{
    static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              ".-:+=^!/*?&<>()[]{}@%$#";
    const char *what = "a 40-character Z85 CURVE key (see `streetorder keygen`)";
    char gbuf[96];
    yaml_node_t *v = key_string(ld, map, key, false, what, out);
    if (v && (strlen(*out) != 40 || strspn(*out, z85) != 40)) {
        size_t mark = path_key(ld, key);
        errorf(ld, v, "expected %s, got %s", what, got(v, gbuf, sizeof(gbuf)));
        path_pop(ld, mark);
        free(*out);
        *out = NULL;
        v = NULL;
    }
    return v;
}

/* A scalar of exactly `n` digits (an unquoted integer keeps its text). */
static void key_digits(struct loader *ld, yaml_node_t *map, const char *key, size_t n,
                       const char *what, char **out)
{
    char gbuf[96];
    size_t mark;
    yaml_node_t *v = enter(ld, map, key, false, what, &mark);
    if (v) {
        bool ok = v->type == YAML_SCALAR_NODE && strlen(text(v)) == n;
        for (size_t i = 0; ok && i < n; i++) {
            ok = isdigit((unsigned char)text(v)[i]);
        }
        if (ok) {
            *out = so_xstrdup(text(v));
        } else {
            errorf(ld, v, "expected %s, got %s", what, got(v, gbuf, sizeof(gbuf)));
        }
    }
    path_pop(ld, mark);
}

/* --- polygons ------------------------------------------------------------------------------- */

#define POLYGON_EXPECTED "a list of at least 3 points [x, y] (fractions of the frame, 0 to 1)"

/* Convert and validate a polygon at the current path; false (reported) if anything is wrong. */
static bool val_polygon(struct loader *ld, yaml_node_t *v, struct so_polygon *poly)
{
    char gbuf[96];
    if (v->type != YAML_SEQUENCE_NODE) {
        errorf(ld, v, "expected " POLYGON_EXPECTED ", got %s", got(v, gbuf, sizeof(gbuf)));
        return false;
    }
    size_t n = seq_len(v);
    poly->pts = so_xcalloc(n, sizeof(*poly->pts));
    poly->n = n;
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        size_t mark = path_index(ld, i);
        yaml_node_t *pt = seq_item(ld, v, i);
        if (pt->type != YAML_SEQUENCE_NODE || seq_len(pt) != 2) {
            errorf(ld, pt, "expected a point [x, y] of two numbers from 0 to 1, got %s",
                   got(pt, gbuf, sizeof(gbuf)));
            ok = false;
        } else {
            for (size_t k = 0; k < 2; k++) {
                size_t mk = path_index(ld, k);
                double d = 0;
                if (!val_number(ld, seq_item(ld, pt, k), &R_COORD, &d)) {
                    ok = false;
                }
                if (k == 0) {
                    poly->pts[i].x = d;
                } else {
                    poly->pts[i].y = d;
                }
                path_pop(ld, mk);
            }
        }
        path_pop(ld, mark);
    }
    if (n < 3) {
        errorf(ld, v, "expected at least 3 points, got %zu", n);
        return false;
    }
    size_t ea, eb;
    if (ok && so_polygon_find_self_intersection(poly, &ea, &eb)) {
        if (eb == (ea + 1) % n &&
            poly->pts[ea].x == poly->pts[eb].x && poly->pts[ea].y == poly->pts[eb].y) {
            errorf(ld, v, "expected a simple polygon, but points %zu and %zu are the same", ea,
                   eb);
        } else {
            errorf(ld, v, "expected a simple polygon (edges must not cross or touch), but the "
                   "edge from point %zu to %zu meets the edge from point %zu to %zu",
                   ea, (ea + 1) % n, eb, (eb + 1) % n);
        }
        return false;
    }
    return ok;
}

/* --- zones, cameras, top level -------------------------------------------------------------- */

static const char *const top_keys[] = {"detector", "outputs", "http", "cameras"};
static const char *const detector_keys[] = {"id", "state_dir", "model", "weights_dir",
                                            "timezone"};
static const char *const outputs_keys[] = {"jsonl", "publish", "evidence_dir", "deliver"};
static const char *const deliver_keys[] = {"endpoint", "drain_s", "quota_mb", "resend_s",
                                           "fsync", "server_key", "public_key", "secret_key"};
static const char *const http_keys[] = {"listen"};
static const char *const camera_keys[] = {"id",     "url",      "evidence_url", "decode",
                                          "analysis", "zones", "privacy_masks"};
static const char *const analysis_keys[] = {"fps", "width", "detect_fps"};
static const char *const zone_keys[] = {"id",      "kind",       "polygon",
                                        "dwell_s", "min_occupancy", "schedule",
                                        "report_interval_s", "clear_s", "grid",
                                        "address", "category"};

#define SCHEDULE_EXPECTED "a window like \"mon-fri 07:00-20:00\" or a list of them"

static void load_schedule(struct loader *ld, yaml_node_t *zmap, struct so_zone_cfg *z)
{
    char err[384], gbuf[96];
    size_t mark;
    so_schedule_init_always(&z->schedule);
    yaml_node_t *v = enter(ld, zmap, "schedule", false, SCHEDULE_EXPECTED, &mark);
    if (v && v->type == YAML_SCALAR_NODE) {
        so_schedule_init_empty(&z->schedule);
        if (so_schedule_add(&z->schedule, text(v), err, sizeof(err)) < 0) {
            errorf(ld, v, "%s", err);
        }
    } else if (v && v->type == YAML_SEQUENCE_NODE) {
        so_schedule_init_empty(&z->schedule);
        if (seq_len(v) == 0) {
            errorf(ld, v, "expected at least one window like \"mon-fri 07:00-20:00\" (leave "
                   "schedule out to enforce at all times), got an empty list");
        }
        for (size_t i = 0; i < seq_len(v); i++) {
            size_t mi = path_index(ld, i);
            yaml_node_t *w = seq_item(ld, v, i);
            if (w->type != YAML_SCALAR_NODE) {
                errorf(ld, w, "expected a window like \"mon-fri 07:00-20:00\", got %s",
                       got(w, gbuf, sizeof(gbuf)));
            } else if (so_schedule_add(&z->schedule, text(w), err, sizeof(err)) < 0) {
                errorf(ld, w, "%s", err);
            }
            path_pop(ld, mi);
        }
    } else if (v) {
        errorf(ld, v, "expected " SCHEDULE_EXPECTED ", got %s", got(v, gbuf, sizeof(gbuf)));
    }
    path_pop(ld, mark);
}

static void load_zone(struct loader *ld, yaml_node_t *node, struct so_camera_cfg *cam,
                      size_t index)
{
    char buf[256], gbuf[96];
    struct so_zone_cfg *z = &cam->zones[index];
    z->line = (int)node->start_mark.line + 1;
    z->column = (int)node->start_mark.column + 1;
    z->min_occupancy = 0.02;
    z->report_interval_s = 60;
    z->clear_s = 10;
    so_schedule_init_always(&z->schedule);
    if (!check_mapping(ld, node, zone_keys, ARRAY_LEN(zone_keys), "a zone")) {
        return;
    }

    yaml_node_t *idn = key_id(ld, node, "id", true, &z->id);
    for (size_t j = 0; idn && j < index; j++) {
        if (cam->zones[j].id && strcmp(cam->zones[j].id, z->id) == 0) {
            size_t mark = path_key(ld, "id");
            errorf(ld, idn, "duplicate zone id \"%s\" in camera \"%s\" (first defined at line "
                   "%d): expected ids unique within a camera", z->id, cam->id ? cam->id : "?",
                   cam->zones[j].line);
            path_pop(ld, mark);
            break;
        }
    }

    size_t mark;
    yaml_node_t *v = enter(ld, node, "kind", true, "a zone kind", &mark);
    if (v && (v->type != YAML_SCALAR_NODE || !so_zone_kind_parse(text(v), &z->kind))) {
        const char *hint = v->type == YAML_SCALAR_NODE
                               ? closest(text(v), kind_names, ARRAY_LEN(kind_names)) : NULL;
        errorf(ld, v, "expected one of %s, got %s%s%s%s",
               join(kind_names, ARRAY_LEN(kind_names), buf, sizeof(buf)),
               got(v, gbuf, sizeof(gbuf)), hint ? " (did you mean \"" : "", hint ? hint : "",
               hint ? "\"?)" : "");
    }
    path_pop(ld, mark);

    v = enter(ld, node, "polygon", true, POLYGON_EXPECTED, &mark);
    if (v) {
        val_polygon(ld, v, &z->polygon);
    }
    path_pop(ld, mark);

    key_number(ld, node, "dwell_s", true, &R_DWELL, &z->dwell_s);
    key_number(ld, node, "min_occupancy", false, &R_OCCUPANCY, &z->min_occupancy);
    load_schedule(ld, node, z);
    key_number(ld, node, "report_interval_s", false, &R_NONNEG, &z->report_interval_s);
    key_number(ld, node, "clear_s", false, &R_NONNEG, &z->clear_s);
    key_digits(ld, node, "grid", 15, "a grid cell code of exactly 15 digits", &z->grid);
    key_string(ld, node, "address", false, "an address (text)", &z->address);
    key_digits(ld, node, "category", 4, "a category code of exactly 4 digits like \"0504\"",
               &z->category);
}

/* Join a relative path to the config's folder; URLs and absolute paths are kept. */
static char *resolve_url(const char *dir, const char *url)
{
    if (strstr(url, "://") || url[0] == '/' || !dir) {
        return so_xstrdup(url);
    }
    return so_xprintf("%s/%s", dir, url);
}

static void load_analysis(struct loader *ld, yaml_node_t *cmap, struct so_analysis_cfg *a)
{
    size_t mark;
    a->fps = 5;
    a->width = 640;
    a->detect_fps = 1;
    yaml_node_t *v = enter(ld, cmap, "analysis", false, "a mapping", &mark);
    if (v && check_mapping(ld, v, analysis_keys, ARRAY_LEN(analysis_keys), "a mapping")) {
        double width = a->width;
        key_number(ld, v, "fps", false, &R_FPS, &a->fps);
        key_number(ld, v, "width", false, &R_WIDTH, &width);
        key_number(ld, v, "detect_fps", false, &R_DETECT_FPS, &a->detect_fps);
        a->width = (int)width;
    }
    path_pop(ld, mark);
}

static void load_camera(struct loader *ld, struct so_config *cfg, yaml_node_t *node,
                        size_t index)
{
    char gbuf[96];
    struct so_camera_cfg *cam = &cfg->cameras[index];
    cam->line = (int)node->start_mark.line + 1;
    cam->column = (int)node->start_mark.column + 1;
    cam->decode = SO_DECODE_FULL;
    cam->analysis = (struct so_analysis_cfg){5, 640, 1};
    if (!check_mapping(ld, node, camera_keys, ARRAY_LEN(camera_keys), "a camera")) {
        return;
    }

    yaml_node_t *idn = key_id(ld, node, "id", true, &cam->id);
    for (size_t j = 0; idn && j < index; j++) {
        if (cfg->cameras[j].id && strcmp(cfg->cameras[j].id, cam->id) == 0) {
            size_t mark = path_key(ld, "id");
            errorf(ld, idn, "duplicate camera id \"%s\" (first defined at line %d): expected "
                   "camera ids unique in the file", cam->id, cfg->cameras[j].line);
            path_pop(ld, mark);
            break;
        }
    }
    if (key_string(ld, node, "url", true, "the stream URL or a file path", &cam->url)) {
        cam->resolved_url = resolve_url(cfg->dir, cam->url);
    }
    char *evidence = NULL;
    if (key_string(ld, node, "evidence_url", false, "a stream URL or a file path", &evidence)) {
        cam->evidence_url = resolve_url(cfg->dir, evidence);
    }
    free(evidence);

    size_t mark;
    yaml_node_t *v = enter(ld, node, "decode", false, "full or keyframes", &mark);
    if (v) {
        if (v->type == YAML_SCALAR_NODE && strcmp(text(v), "full") == 0) {
            cam->decode = SO_DECODE_FULL;
        } else if (v->type == YAML_SCALAR_NODE && strcmp(text(v), "keyframes") == 0) {
            cam->decode = SO_DECODE_KEYFRAMES;
        } else {
            errorf(ld, v, "expected full or keyframes, got %s", got(v, gbuf, sizeof(gbuf)));
        }
    }
    path_pop(ld, mark);

    load_analysis(ld, node, &cam->analysis);

    v = enter(ld, node, "zones", true, "a list of zones", &mark);
    if (v && v->type != YAML_SEQUENCE_NODE) {
        errorf(ld, v, "expected a list of zones, got %s", got(v, gbuf, sizeof(gbuf)));
    } else if (v && seq_len(v) == 0) {
        errorf(ld, v, "expected at least one zone, got an empty list");
    } else if (v) {
        cam->n_zones = seq_len(v);
        cam->zones = so_xcalloc(cam->n_zones, sizeof(*cam->zones));
        for (size_t i = 0; i < cam->n_zones; i++) {
            size_t mi = path_index(ld, i);
            load_zone(ld, seq_item(ld, v, i), cam, i);
            path_pop(ld, mi);
        }
    }
    path_pop(ld, mark);

    v = enter(ld, node, "privacy_masks", false, "a list of polygons", &mark);
    if (v && v->type != YAML_SEQUENCE_NODE) {
        errorf(ld, v, "expected a list of polygons, got %s", got(v, gbuf, sizeof(gbuf)));
    } else if (v) {
        cam->n_privacy_masks = seq_len(v);
        cam->privacy_masks = so_xcalloc(cam->n_privacy_masks, sizeof(*cam->privacy_masks));
        for (size_t i = 0; i < cam->n_privacy_masks; i++) {
            size_t mi = path_index(ld, i);
            val_polygon(ld, seq_item(ld, v, i), &cam->privacy_masks[i]);
            path_pop(ld, mi);
        }
    }
    path_pop(ld, mark);
}

/* Enter an optional sub-mapping; NULL when absent or not a mapping (reported). */
static yaml_node_t *enter_mapping(struct loader *ld, yaml_node_t *map, const char *key,
                                  const char *const *keys, size_t n_keys, size_t *mark)
{
    yaml_node_t *v = enter(ld, map, key, false, "a mapping", mark);
    if (v && !check_mapping(ld, v, keys, n_keys, "a mapping")) {
        v = NULL;
    }
    return v;
}

static void load_root(struct loader *ld, struct so_config *cfg, yaml_node_t *root)
{
    char gbuf[96];
    size_t mark, m2;
    cfg->deliver.drain_s = 10;
    cfg->deliver.quota_mb = 1024;
    cfg->deliver.resend_s = 5;
    cfg->deliver.fsync = true;
    if (!check_mapping(ld, root, top_keys, ARRAY_LEN(top_keys),
                       "a mapping at the top of the file")) {
        return;
    }

    yaml_node_t *det = enter_mapping(ld, root, "detector", detector_keys,
                                     ARRAY_LEN(detector_keys), &mark);
    if (det) {
        key_id(ld, det, "id", false, &cfg->detector_id);
        key_string(ld, det, "state_dir", false, "a folder path", &cfg->state_dir);
        key_id(ld, det, "model", false, &cfg->model);
        key_string(ld, det, "weights_dir", false, "a folder path", &cfg->weights_dir);
        key_string(ld, det, "timezone", false, "a time zone name like \"Asia/Shanghai\"",
                   &cfg->timezone);
    }
    path_pop(ld, mark);

    yaml_node_t *out = enter_mapping(ld, root, "outputs", outputs_keys, ARRAY_LEN(outputs_keys),
                                     &mark);
    if (out) {
        key_string(ld, out, "jsonl", false, "a file path", &cfg->jsonl);
        key_endpoint(ld, out, "publish", &cfg->publish);
        key_string(ld, out, "evidence_dir", false, "a folder path", &cfg->evidence_dir);
        yaml_node_t *del = enter_mapping(ld, out, "deliver", deliver_keys,
                                         ARRAY_LEN(deliver_keys), &m2);
        if (del) {
            key_endpoint(ld, del, "endpoint", &cfg->deliver.endpoint);
            key_number(ld, del, "drain_s", false, &R_NONNEG, &cfg->deliver.drain_s);
            key_number(ld, del, "quota_mb", false, &R_QUOTA, &cfg->deliver.quota_mb);
            key_number(ld, del, "resend_s", false, &R_RESEND, &cfg->deliver.resend_s);
            key_bool(ld, del, "fsync", &cfg->deliver.fsync);
            yaml_node_t *sk = key_curve(ld, del, "server_key", &cfg->deliver.server_key);
            yaml_node_t *pk = key_curve(ld, del, "public_key", &cfg->deliver.public_key);
            yaml_node_t *xk = key_curve(ld, del, "secret_key", &cfg->deliver.secret_key);
            if ((pk || xk) && !(pk && xk)) {
                size_t m3 = path_key(ld, pk ? "secret_key" : "public_key");
                errorf(ld, pk ? pk : xk, "expected public_key and secret_key together");
                path_pop(ld, m3);
            } else if (sk && !pk) {
                size_t m3 = path_key(ld, "public_key");
                errorf(ld, sk, "expected public_key and secret_key with server_key (CURVE)");
                path_pop(ld, m3);
            } else if (pk && !sk) {
                size_t m3 = path_key(ld, "server_key");
                errorf(ld, pk, "expected server_key (the platform's public key) with "
                       "public_key and secret_key");
                path_pop(ld, m3);
            }
        }
        path_pop(ld, m2);
    }
    path_pop(ld, mark);

    yaml_node_t *http = enter_mapping(ld, root, "http", http_keys, ARRAY_LEN(http_keys), &mark);
    if (http) {
        const char *what = "HOST:PORT like \"127.0.0.1:8080\"";
        yaml_node_t *v = key_string(ld, http, "listen", false, what, &cfg->http_listen);
        if (v) {
            const char *colon = strrchr(cfg->http_listen, ':');
            char *end = NULL;
            long port = colon && isdigit((unsigned char)colon[1]) ? strtol(colon + 1, &end, 10)
                                                                  : 0;
            if (!end || *end || port < 1 || port > 65535) {
                m2 = path_key(ld, "listen");
                errorf(ld, v, "expected %s, got %s", what, got(v, gbuf, sizeof(gbuf)));
                path_pop(ld, m2);
            }
        }
    }
    path_pop(ld, mark);

    yaml_node_t *cams = enter(ld, root, "cameras", true, "a list of cameras", &mark);
    if (cams && cams->type != YAML_SEQUENCE_NODE) {
        errorf(ld, cams, "expected a list of cameras, got %s", got(cams, gbuf, sizeof(gbuf)));
    } else if (cams && seq_len(cams) == 0) {
        errorf(ld, cams, "expected at least one camera, got an empty list");
    } else if (cams) {
        cfg->n_cameras = seq_len(cams);
        cfg->cameras = so_xcalloc(cfg->n_cameras, sizeof(*cfg->cameras));
        for (size_t i = 0; i < cfg->n_cameras; i++) {
            size_t mi = path_index(ld, i);
            load_camera(ld, cfg, seq_item(ld, cams, i), i);
            path_pop(ld, mi);
        }
    }
    path_pop(ld, mark);
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

/* Stable sort of errors[from..] by line, then column (insertion sort: lists are short). */
static void sort_errors(struct so_config_errors *errors, size_t from)
{
    for (size_t i = from + 1; i < errors->n; i++) {
        struct so_config_error e = errors->items[i];
        size_t j = i;
        while (j > from && (errors->items[j - 1].line > e.line ||
                            (errors->items[j - 1].line == e.line &&
                             errors->items[j - 1].column > e.column))) {
            errors->items[j] = errors->items[j - 1];
            j--;
        }
        errors->items[j] = e;
    }
}

/* Line and column (1-based) of a byte offset, for reader errors that only carry an offset. */
static void offset_to_mark(FILE *f, size_t offset, int *line, int *column)
{
    *line = 1;
    *column = 1;
    if (fseek(f, 0, SEEK_SET) != 0) {
        return;
    }
    for (size_t i = 0; i < offset; i++) {
        int c = fgetc(f);
        if (c == EOF) {
            break;
        }
        if (c == '\n') {
            (*line)++;
            *column = 1;
        } else {
            (*column)++;
        }
    }
}

static void report_parser_error(struct loader *ld, yaml_parser_t *parser, FILE *f)
{
    char msg[512];
    int line, column;
    if (parser->error == YAML_READER_ERROR) {
        offset_to_mark(f, parser->problem_offset, &line, &column);
        snprintf(msg, sizeof(msg), "YAML error: %s (expected UTF-8 or UTF-16 text)",
                 parser->problem ? parser->problem : "cannot read the input");
    } else if (parser->error == YAML_MEMORY_ERROR) {
        line = column = 0;
        snprintf(msg, sizeof(msg), "out of memory while parsing");
    } else {
        line = (int)parser->problem_mark.line + 1;
        column = (int)parser->problem_mark.column + 1;
        if (parser->context) {
            snprintf(msg, sizeof(msg), "YAML syntax error: %s (%s started at line %d, "
                     "column %d)", parser->problem ? parser->problem : "invalid YAML",
                     parser->context, (int)parser->context_mark.line + 1,
                     (int)parser->context_mark.column + 1);
        } else {
            snprintf(msg, sizeof(msg), "YAML syntax error: %s",
                     parser->problem ? parser->problem : "invalid YAML");
        }
    }
    add_error(ld->errors, ld->file, line, column, "", msg);
}

struct so_config *so_config_load(const char *path, struct so_config_errors *errors)
{
    char msg[512];
    size_t before = errors->n;
    struct loader ld = {.file = path, .errors = errors};

    FILE *f = fopen(path, "rb");
    struct stat st;
    if (f && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        f = NULL;
        errno = EISDIR;
    }
    if (!f) {
        snprintf(msg, sizeof(msg), "cannot read: %s", strerror(errno));
        add_error(errors, path, 0, 0, "", msg);
        return NULL;
    }

    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        abort();
    }
    yaml_parser_set_input_file(&parser, f);
    ld.doc = &doc;
    if (!yaml_parser_load(&parser, &doc)) {
        report_parser_error(&ld, &parser, f);
        yaml_parser_delete(&parser);
        fclose(f);
        return NULL;
    }

    struct so_config *cfg = so_xcalloc(1, sizeof(*cfg));
    cfg->path = so_xstrdup(path);
    cfg->dir = folder_of(path);

    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || is_null(root)) {
        add_error(errors, path, root ? (int)root->start_mark.line + 1 : 0,
                  root ? (int)root->start_mark.column + 1 : 0, "",
                  "the file is empty: expected a mapping with at least a \"cameras\" list");
    } else {
        load_root(&ld, cfg, root);
        /* A second document is almost certainly a mistake (a stray "---"). */
        yaml_document_t next;
        if (!yaml_parser_load(&parser, &next)) {
            report_parser_error(&ld, &parser, f);
        } else {
            yaml_node_t *r2 = yaml_document_get_root_node(&next);
            if (r2) {
                add_error(errors, path, (int)r2->start_mark.line + 1,
                          (int)r2->start_mark.column + 1, "",
                          "expected one YAML document, found a second one (remove the "
                          "\"---\" line)");
            }
            yaml_document_delete(&next);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);

    if (errors->n > before) {
        sort_errors(errors, before);
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
            struct so_zone_cfg *z = &cam->zones[j];
            free(z->id);
            free(z->polygon.pts);
            free(z->grid);
            free(z->address);
            free(z->category);
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
    free(cfg->weights_dir);
    free(cfg->timezone);
    free(cfg->jsonl);
    free(cfg->publish);
    free(cfg->evidence_dir);
    free(cfg->deliver.endpoint);
    free(cfg->deliver.server_key);
    free(cfg->deliver.public_key);
    free(cfg->deliver.secret_key);
    free(cfg->http_listen);
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
    char url[512], sched[512];
    fprintf(out, "config %s\n", cfg->path);
    fprintf(out, "detector: id %s, state dir %s\n", cfg->detector_id, cfg->state_dir);
    fprintf(out, "  model: %s\n", or_none(cfg->model, "none (class-agnostic)"));
    if (cfg->weights_dir) {
        fprintf(out, "  weights dir: %s\n", cfg->weights_dir);
    }
    fprintf(out, "  timezone: %s\n", or_none(cfg->timezone, "the system's"));
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
    fprintf(out, "http: %s\n", or_none(cfg->http_listen, "none"));
    fprintf(out, "cameras: %zu\n", cfg->n_cameras);
    for (size_t i = 0; i < cfg->n_cameras; i++) {
        const struct so_camera_cfg *cam = &cfg->cameras[i];
        fprintf(out, "  camera %s: %s\n", cam->id,
                so_log_redact_url(cam->resolved_url, url, sizeof(url)));
        if (cam->evidence_url) {
            fprintf(out, "    evidence: %s\n",
                    so_log_redact_url(cam->evidence_url, url, sizeof(url)));
        }
        fprintf(out, "    decode %s, analysis %g fps at width %d, detector %g fps\n",
                cam->decode == SO_DECODE_KEYFRAMES ? "keyframes" : "full", cam->analysis.fps,
                cam->analysis.width, cam->analysis.detect_fps);
        if (cam->n_privacy_masks) {
            fprintf(out, "    privacy masks: %zu\n", cam->n_privacy_masks);
        }
        for (size_t j = 0; j < cam->n_zones; j++) {
            const struct so_zone_cfg *z = &cam->zones[j];
            fprintf(out, "    zone %s: %s, %zu points, %.1f%% of the frame, dwell %g s\n", z->id,
                    so_zone_kind_name(z->kind), z->polygon.n,
                    100.0 * fabs(so_polygon_signed_area(&z->polygon)), z->dwell_s);
            fprintf(out, "      min occupancy %g, updates %s%g%s, clear after %g s\n",
                    z->min_occupancy, z->report_interval_s > 0 ? "every " : "",
                    z->report_interval_s, z->report_interval_s > 0 ? " s" : " (none)",
                    z->clear_s);
            fprintf(out, "      enforced: %s\n",
                    so_schedule_describe(&z->schedule, sched, sizeof(sched)));
            if (z->grid || z->address || z->category) {
                fprintf(out, "      grid %s, address %s, category %s\n", or_none(z->grid, "-"),
                        or_none(z->address, "-"), or_none(z->category, "(kind default)"));
            }
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
