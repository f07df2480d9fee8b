/*
 * Why this file exists: a detector model is three files a user downloads by hand or with
 * scripts/fetch-models, and a descriptor in the source tree that says what they are. Getting
 * any of that wrong (a truncated download, the cfg of one model with the weights of another,
 * an RGB network fed BGR, a class list off by one) does not crash: it silently detects
 * nothing, or calls cars umbrellas, and the violations are missed. So everything that can be
 * checked is checked once, when the model is opened (and by `streetorder check`): the
 * descriptor against a strict schema, every file's size and sha256, the names file against the
 * descriptor's class list. Messages name the file and the place, like the config loader:
 * "models/x.yaml:12:5: thresholds.score: expected a number in (0, 1), got "2"".
 *
 * How: libyaml's document API (nodes carry start marks), a small walker that checks each
 * mapping's keys against a table and collects every problem into the caller's buffer, then
 * typed conversion into struct so_model_desc. Locating the files follows ARCHITECTURE's order
 * (weights_dir, $STREETORDER_MODELS/NAME/, $STREETORDER_ASSETS/models/NAME/); the folder is
 * chosen by the weights file, and a corrupt file there is an error rather than a reason to fall
 * back to another copy: an operator who put a file in place should hear it is broken.
 *
 * Trade-offs: hashing reads the weights (1-4 MB, a few ms) at every open; cheap next to
 * loading the network, and the only way to tell a corrupt file from a good one. Descriptors
 * are small and trusted-ish (they ship with the source), but they are still validated fully so
 * that a user-written one for another model gets precise errors.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "model.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "enumname.h"
#include "sha256.h"
#include "xalloc.h"

#include "so_build_config.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* --- small helpers -------------------------------------------------------------------------- */


/* Write a message into the caller's buffer (replacing what was there). */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *const role_names[SO_ROLE_COUNT] = {
    [SO_ROLE_OTHER] = "other",
    [SO_ROLE_VEHICLE] = "vehicle",
    [SO_ROLE_NONMOTOR] = "nonmotor",
    [SO_ROLE_PERSON] = "person",
    [SO_ROLE_STALL_CUE] = "stall_cue",
};

const char *so_role_name(enum so_role role)
{
    return so_enum_name(role_names, ARRAY_LEN(role_names), (int)role);
}

bool so_role_parse(const char *name, enum so_role *out)
{
    int r;
    bool ok = so_enum_parse(role_names, ARRAY_LEN(role_names), name, &r);
    if (ok && out) {
        *out = (enum so_role)r;
    }
    return ok;
}

static const char *const file_keys[SO_MODEL_FILE_COUNT] = {
    [SO_MODEL_CFG] = "cfg",
    [SO_MODEL_WEIGHTS] = "weights",
    [SO_MODEL_NAMES] = "names",
};

/* --- the descriptor walker ------------------------------------------------------------------ */

struct loader {
    const char *file;
    yaml_document_t *doc;
    char *err;
    size_t errlen, used;
    int n_errors;
};

static void errorf(struct loader *ld, const yaml_node_t *node, const char *key, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));
static void errorf(struct loader *ld, const yaml_node_t *node, const char *key, const char *fmt,
                   ...)
{
    ld->n_errors++;
    if (!ld->err || ld->used + 1 >= ld->errlen) {
        return;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int w;
    if (node) {
        w = snprintf(ld->err + ld->used, ld->errlen - ld->used, "%s%s:%d:%d: %s%s%s",
                     ld->used ? "\n" : "", ld->file, (int)node->start_mark.line + 1,
                     (int)node->start_mark.column + 1, key ? key : "", key ? ": " : "", msg);
    } else {
        w = snprintf(ld->err + ld->used, ld->errlen - ld->used, "%s%s: %s%s%s",
                     ld->used ? "\n" : "", ld->file, key ? key : "", key ? ": " : "", msg);
    }
    if (w > 0) {
        ld->used += (size_t)w;
        if (ld->used >= ld->errlen) {
            ld->used = ld->errlen - 1;
        }
    }
}

static yaml_node_t *node_at(struct loader *ld, int index)
{
    return yaml_document_get_node(ld->doc, index);
}

static bool is_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE;
}

static const char *text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* What a node is, for "got ..." in messages. */
static const char *got(const yaml_node_t *n, char *buf, size_t size)
{
    if (!n) {
        return "nothing";
    }
    if (n->type == YAML_MAPPING_NODE) {
        return "a mapping";
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        return "a list";
    }
    snprintf(buf, size, "\"%.60s\"", text(n));
    return buf;
}

static yaml_node_t *map_get(struct loader *ld, const yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node_at(ld, p->key);
        if (is_scalar(k) && strcmp(text(k), key) == 0) {
            return node_at(ld, p->value);
        }
    }
    return NULL;
}

/* Report keys of `map` not in `allowed`; `path` is the mapping's key path ("" at the top). */
static void check_keys(struct loader *ld, const yaml_node_t *map, const char *path,
                       const char *const *allowed, size_t n)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node_at(ld, p->key);
        bool ok = false;
        for (size_t i = 0; is_scalar(k) && i < n; i++) {
            ok = ok || strcmp(text(k), allowed[i]) == 0;
        }
        if (!ok) {
            char list[256] = "", buf[80];
            size_t pos = 0;
            for (size_t i = 0; i < n && pos < sizeof(list); i++) {
                int w = snprintf(list + pos, sizeof(list) - pos, "%s%s", i ? ", " : "",
                                 allowed[i]);
                pos += w > 0 ? (size_t)w : 0;
            }
            char key[128];
            snprintf(key, sizeof(key), "%s%s%s", path, *path ? "." : "",
                     is_scalar(k) ? text(k) : "?");
            errorf(ld, k, key, "unknown key %s; expected one of: %s", got(k, buf, sizeof(buf)),
                   list);
        }
    }
}

/* The mapping at key `key` of `map`; reports and returns NULL when absent (if required) or not
 * a mapping. */
static yaml_node_t *get_map(struct loader *ld, const yaml_node_t *map, const char *key,
                            const char *path, bool required)
{
    yaml_node_t *n = map_get(ld, map, key);
    char buf[80];
    if (!n) {
        if (required) {
            errorf(ld, map, path, "missing (expected a mapping)");
        }
        return NULL;
    }
    if (n->type != YAML_MAPPING_NODE) {
        errorf(ld, n, path, "expected a mapping, got %s", got(n, buf, sizeof(buf)));
        return NULL;
    }
    return n;
}

static bool get_string(struct loader *ld, const yaml_node_t *map, const char *key,
                       const char *path, bool required, char **out)
{
    yaml_node_t *n = map_get(ld, map, key);
    char buf[80];
    if (!n) {
        if (required) {
            errorf(ld, map, path, "missing (expected a string)");
        }
        return false;
    }
    if (!is_scalar(n) || !*text(n)) {
        errorf(ld, n, path, "expected a non-empty string, got %s", got(n, buf, sizeof(buf)));
        return false;
    }
    free(*out);
    *out = so_xstrdup(text(n));
    return true;
}

static bool parse_number(const yaml_node_t *n, double *out)
{
    if (!is_scalar(n) || !*text(n)) {
        return false;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(text(n), &end);
    if (errno || *end || v != v) {
        return false;
    }
    *out = v;
    return true;
}

/* A number in [lo, hi] (open ends when lo_open / hi_open). */
static bool get_number(struct loader *ld, const yaml_node_t *map, const char *key,
                       const char *path, bool required, double lo, bool lo_open, double hi,
                       bool hi_open, double *out)
{
    yaml_node_t *n = map_get(ld, map, key);
    char buf[80];
    if (!n) {
        if (required) {
            errorf(ld, map, path, "missing (expected a number in %c%g, %g%c)",
                   lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']');
        }
        return false;
    }
    double v;
    if (!parse_number(n, &v) || (lo_open ? v <= lo : v < lo) || (hi_open ? v >= hi : v > hi)) {
        errorf(ld, n, path, "expected a number in %c%g, %g%c, got %s", lo_open ? '(' : '[', lo,
               hi, hi_open ? ')' : ']', got(n, buf, sizeof(buf)));
        return false;
    }
    *out = v;
    return true;
}

static bool get_bool(struct loader *ld, const yaml_node_t *map, const char *key,
                     const char *path, bool *out)
{
    yaml_node_t *n = map_get(ld, map, key);
    char buf[80];
    if (!n) {
        errorf(ld, map, path, "missing (expected true or false)");
        return false;
    }
    if (is_scalar(n) && (!strcmp(text(n), "true") || !strcmp(text(n), "false"))) {
        *out = text(n)[0] == 't';
        return true;
    }
    errorf(ld, n, path, "expected true or false, got %s", got(n, buf, sizeof(buf)));
    return false;
}

/* A plain file name: no '/', not "." or "..". */
static bool plain_file_name(const char *s)
{
    return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

static bool is_sha256_hex(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        if (!isxdigit((unsigned char)s[n])) {
            return false;
        }
    }
    return n == 64;
}

static void load_file_entry(struct loader *ld, const yaml_node_t *files, int kind,
                            struct so_model_file *f)
{
    char path[32], key[64];
    snprintf(path, sizeof(path), "files.%s", file_keys[kind]);
    yaml_node_t *m = get_map(ld, files, file_keys[kind], path, true);
    f->size = -1;
    if (!m) {
        return;
    }
    static const char *const keys[] = {"name", "size", "sha256", "url"};
    check_keys(ld, m, path, keys, ARRAY_LEN(keys));
    char buf[80];

    snprintf(key, sizeof(key), "%s.name", path);
    if (get_string(ld, m, "name", key, true, &f->name) && !plain_file_name(f->name)) {
        errorf(ld, map_get(ld, m, "name"), key, "expected a plain file name, got \"%s\"",
               f->name);
    }
    snprintf(key, sizeof(key), "%s.sha256", path);
    yaml_node_t *sha = map_get(ld, m, "sha256");
    if (!sha) {
        errorf(ld, m, key, "missing (expected 64 hex digits)");
    } else if (!is_scalar(sha) || !is_sha256_hex(text(sha))) {
        errorf(ld, sha, key, "expected 64 hex digits, got %s", got(sha, buf, sizeof(buf)));
    } else {
        for (int i = 0; i < 64; i++) {
            f->sha256[i] = (char)tolower((unsigned char)text(sha)[i]);
        }
        f->sha256[64] = '\0';
    }
    snprintf(key, sizeof(key), "%s.size", path);
    double size;
    if (get_number(ld, m, "size", key, false, 0, false, 1e12, false, &size)) {
        if (size != (double)(long long)size) {
            errorf(ld, map_get(ld, m, "size"), key, "expected a whole number of bytes");
        }
        f->size = (long long)size;
    }
    snprintf(key, sizeof(key), "%s.url", path);
    get_string(ld, m, "url", key, false, &f->url);
}

/* A list of class names for roles.X: every entry must be a class; returns nothing. */
static void load_roles(struct loader *ld, const yaml_node_t *root, struct so_model_desc *d,
                       enum so_role *roles)
{
    yaml_node_t *m = get_map(ld, root, "roles", "roles", false);
    if (!m) {
        return;
    }
    char buf[80], key[64];
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(ld, p->key), *v = node_at(ld, p->value);
        enum so_role role;
        if (!is_scalar(k) || !so_role_parse(text(k), &role) || role == SO_ROLE_OTHER) {
            errorf(ld, k, "roles", "unknown role %s; expected one of: vehicle, nonmotor, "
                   "person, stall_cue", got(k, buf, sizeof(buf)));
            continue;
        }
        snprintf(key, sizeof(key), "roles.%s", text(k));
        if (!v || v->type != YAML_SEQUENCE_NODE) {
            errorf(ld, v ? v : k, key, "expected a list of class names, got %s",
                   got(v, buf, sizeof(buf)));
            continue;
        }
        size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *c = node_at(ld, v->data.sequence.items.start[i]);
            int idx = is_scalar(c) ? so_model_class_index(d, text(c)) : -1;
            char ikey[96];
            snprintf(ikey, sizeof(ikey), "%s[%zu]", key, i);
            if (idx < 0) {
                errorf(ld, c, ikey, "expected one of the model's classes, got %s",
                       got(c, buf, sizeof(buf)));
            } else if (roles[idx] != SO_ROLE_OTHER && roles[idx] != role) {
                errorf(ld, c, ikey, "class \"%s\" already has role %s", text(c),
                       so_role_name(roles[idx]));
            } else {
                roles[idx] = role;
            }
        }
    }
}

static void load_aliases(struct loader *ld, const yaml_node_t *root, struct so_model_desc *d)
{
    yaml_node_t *m = get_map(ld, root, "aliases", "aliases", false);
    if (!m) {
        return;
    }
    char buf[80], key[96];
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(ld, p->key), *v = node_at(ld, p->value);
        int from = is_scalar(k) ? so_model_class_index(d, text(k)) : -1;
        if (from < 0) {
            errorf(ld, k, "aliases", "expected one of the model's classes, got %s",
                   got(k, buf, sizeof(buf)));
            continue;
        }
        snprintf(key, sizeof(key), "aliases.%s", text(k));
        int to = is_scalar(v) ? so_model_class_index(d, text(v)) : -1;
        if (to < 0) {
            errorf(ld, v, key, "expected one of the model's classes, got %s",
                   got(v, buf, sizeof(buf)));
            continue;
        }
        d->classes[from].report_id = to;
    }
}

static void load_classes(struct loader *ld, const yaml_node_t *root, struct so_model_desc *d)
{
    yaml_node_t *s = map_get(ld, root, "classes");
    char buf[80];
    if (!s) {
        errorf(ld, root, "classes", "missing (expected the list of class names)");
        return;
    }
    size_t n = s->type == YAML_SEQUENCE_NODE
                   ? (size_t)(s->data.sequence.items.top - s->data.sequence.items.start)
                   : 0;
    if (n == 0 || n > 10000) {
        errorf(ld, s, "classes", "expected a list of 1 to 10000 class names, got %s",
               got(s, buf, sizeof(buf)));
        return;
    }
    d->classes = so_xcalloc(n, sizeof(*d->classes));
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *c = node_at(ld, s->data.sequence.items.start[i]);
        char key[32];
        snprintf(key, sizeof(key), "classes[%zu]", i);
        if (!is_scalar(c) || !*text(c) || strchr(text(c), '\n')) {
            errorf(ld, c, key, "expected a class name, got %s", got(c, buf, sizeof(buf)));
            d->classes[i].name = so_xstrdup("?");
        } else if (so_model_class_index(d, text(c)) >= 0) {
            errorf(ld, c, key, "duplicate class \"%s\"", text(c));
            d->classes[i].name = so_xstrdup("?");
        } else {
            d->classes[i].name = so_xstrdup(text(c));
        }
        d->classes[i].report_id = (int)i;
        d->n_classes = (int)i + 1;
    }
}

static void load_root(struct loader *ld, const yaml_node_t *root, struct so_model_desc *d)
{
    static const char *const keys[] = {"name", "format", "source", "files", "input",
                                       "preprocess", "output", "thresholds", "classes", "roles",
                                       "aliases"};
    check_keys(ld, root, "", keys, ARRAY_LEN(keys));
    char buf[80];

    get_string(ld, root, "name", "name", true, &d->name);
    if (get_string(ld, root, "format", "format", true, &d->format) &&
        strcmp(d->format, "darknet") != 0) {
        errorf(ld, map_get(ld, root, "format"), "format",
               "expected darknet (the only format supported), got \"%s\"", d->format);
    }

    yaml_node_t *src = get_map(ld, root, "source", "source", false);
    if (src) {
        static const char *const skeys[] = {"repo", "commit", "changed", "path", "licence",
                                            "url"};
        check_keys(ld, src, "source", skeys, ARRAY_LEN(skeys));
        get_string(ld, src, "repo", "source.repo", false, &d->source_repo);
        get_string(ld, src, "commit", "source.commit", false, &d->source_commit);
        get_string(ld, src, "licence", "source.licence", false, &d->licence);
    }

    yaml_node_t *files = get_map(ld, root, "files", "files", true);
    if (files) {
        check_keys(ld, files, "files", file_keys, ARRAY_LEN(file_keys));
        for (int k = 0; k < SO_MODEL_FILE_COUNT; k++) {
            load_file_entry(ld, files, k, &d->files[k]);
        }
    }

    yaml_node_t *in = get_map(ld, root, "input", "input", true);
    if (in) {
        static const char *const ikeys[] = {"width", "height"};
        check_keys(ld, in, "input", ikeys, ARRAY_LEN(ikeys));
        const char *names[2] = {"width", "height"};
        int *dst[2] = {&d->input_width, &d->input_height};
        for (int i = 0; i < 2; i++) {
            char key[32];
            snprintf(key, sizeof(key), "input.%s", names[i]);
            double v;
            if (get_number(ld, in, names[i], key, true, 32, false, 4096, false, &v)) {
                if (v != (double)(int)v || (int)v % 32 != 0) {
                    errorf(ld, map_get(ld, in, names[i]), key,
                           "expected a multiple of 32, got %g", v);
                } else {
                    *dst[i] = (int)v;
                }
            }
        }
    }

    yaml_node_t *pre = get_map(ld, root, "preprocess", "preprocess", true);
    if (pre) {
        static const char *const pkeys[] = {"scale", "swap_rb", "resize", "mean"};
        check_keys(ld, pre, "preprocess", pkeys, ARRAY_LEN(pkeys));
        get_number(ld, pre, "scale", "preprocess.scale", true, 0, true, 1, false, &d->scale);
        get_bool(ld, pre, "swap_rb", "preprocess.swap_rb", &d->swap_rb);
        yaml_node_t *rs = map_get(ld, pre, "resize");
        if (!rs) {
            errorf(ld, pre, "preprocess.resize", "missing (expected plain)");
        } else if (!is_scalar(rs) || strcmp(text(rs), "plain") != 0) {
            errorf(ld, rs, "preprocess.resize",
                   "expected plain (stretch, no letterbox: the only mode supported), got %s",
                   got(rs, buf, sizeof(buf)));
        }
        yaml_node_t *mean = map_get(ld, pre, "mean");
        if (mean) {
            size_t n = mean->type == YAML_SEQUENCE_NODE
                           ? (size_t)(mean->data.sequence.items.top -
                                      mean->data.sequence.items.start)
                           : 0;
            bool ok = n == 3;
            for (size_t i = 0; ok && i < 3; i++) {
                ok = parse_number(node_at(ld, mean->data.sequence.items.start[i]), &d->mean[i]);
            }
            if (!ok) {
                errorf(ld, mean, "preprocess.mean", "expected a list of 3 numbers, got %s",
                       got(mean, buf, sizeof(buf)));
            }
        }
    }

    yaml_node_t *out = get_map(ld, root, "output", "output", true);
    if (out) {
        static const char *const okeys[] = {"layout"};
        check_keys(ld, out, "output", okeys, ARRAY_LEN(okeys));
        yaml_node_t *lay = map_get(ld, out, "layout");
        if (!lay) {
            errorf(ld, out, "output.layout", "missing (expected region)");
        } else if (!is_scalar(lay) || strcmp(text(lay), "region") != 0) {
            errorf(ld, lay, "output.layout",
                   "expected region (OpenCV region-layer rows: cx, cy, w, h, objectness, "
                   "class scores), got %s", got(lay, buf, sizeof(buf)));
        }
    }

    yaml_node_t *th = get_map(ld, root, "thresholds", "thresholds", true);
    if (th) {
        static const char *const tkeys[] = {"score", "nms"};
        check_keys(ld, th, "thresholds", tkeys, ARRAY_LEN(tkeys));
        get_number(ld, th, "score", "thresholds.score", true, 0, true, 1, true,
                   &d->score_threshold);
        get_number(ld, th, "nms", "thresholds.nms", true, 0, true, 1, false, &d->nms_threshold);
    }

    load_classes(ld, root, d);
    if (d->n_classes > 0) {
        enum so_role *roles = so_xcalloc((size_t)d->n_classes, sizeof(*roles));
        load_roles(ld, root, d, roles);
        load_aliases(ld, root, d);
        for (int i = 0; i < d->n_classes; i++) {
            d->classes[i].role = roles[d->classes[i].report_id];
        }
        free(roles);
    }
}

/* "dir/name.yaml" → "name" (into out). */
static void stem(const char *path, char *out, size_t size)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".yaml") == 0) {
        n -= 5;
    }
    snprintf(out, size, "%.*s", (int)n, base);
}

struct so_model_desc *so_model_load_file(const char *path, char *err, size_t errlen)
{
    set_err(err, errlen, "%s", "");
    if (!path) {
        set_err(err, errlen, "no descriptor path");
        return NULL;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        set_err(err, errlen, "%s: cannot open model descriptor: %s", path, strerror(errno));
        return NULL;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, fp);
    if (!yaml_parser_load(&parser, &doc)) {
        set_err(err, errlen, "%s:%d:%d: %s", path, (int)parser.problem_mark.line + 1,
                (int)parser.problem_mark.column + 1,
                parser.problem ? parser.problem : "YAML syntax error");
        yaml_parser_delete(&parser);
        fclose(fp);
        return NULL;
    }
    yaml_parser_delete(&parser);
    fclose(fp);

    struct loader ld = {.file = path, .doc = &doc, .err = err, .errlen = errlen};
    struct so_model_desc *d = so_xcalloc(1, sizeof(*d));
    d->desc_path = so_xstrdup(path);
    for (int k = 0; k < SO_MODEL_FILE_COUNT; k++) {
        d->files[k].size = -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    char buf[80];
    if (!root || root->type != YAML_MAPPING_NODE) {
        errorf(&ld, root, NULL, "expected a mapping (a model descriptor), got %s",
               got(root, buf, sizeof(buf)));
    } else {
        load_root(&ld, root, d);
        char want[256];
        stem(path, want, sizeof(want));
        if (d->name && strcmp(d->name, want) != 0) {
            errorf(&ld, map_get(&ld, root, "name"), "name",
                   "expected \"%s\" (the descriptor's file name), got \"%s\"", want, d->name);
        }
    }
    yaml_document_delete(&doc);
    if (ld.n_errors) {
        so_model_destroy(d);
        return NULL;
    }
    return d;
}

const char *so_model_descriptor_dir(void)
{
    const char *env = getenv("STREETORDER_MODELS_DIR");
    if (env && *env) {
        return env;
    }
    /* The source tree's while it is there (a build directory), else the installed copy. */
    return access(SO_MODELS_DIR, R_OK | X_OK) == 0 ? SO_MODELS_DIR : SO_DATA_DIR "/models";
}

static bool valid_model_name(const char *name)
{
    if (!name || !*name || name[0] == '.' || strlen(name) > 128) {
        return false;
    }
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-') {
            return false;
        }
    }
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a, b, c": the descriptors present in dir, for "no such model" messages. */
static void list_models(const char *dir, char *out, size_t size)
{
    out[0] = '\0';
    DIR *dp = opendir(dir);
    if (!dp) {
        snprintf(out, size, "none: folder unreadable");
        return;
    }
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) && n < ARRAY_LEN(names)) {
        size_t len = strlen(e->d_name);
        if (len > 5 && e->d_name[0] != '.' && strcmp(e->d_name + len - 5, ".yaml") == 0) {
            names[n++] = so_xprintf("%.*s", (int)(len - 5), e->d_name);
        }
    }
    closedir(dp);
    qsort(names, n, sizeof(names[0]), cmp_str);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (pos < size) {
            int w = snprintf(out + pos, size - pos, "%s%s", i ? ", " : "", names[i]);
            pos += w > 0 ? (size_t)w : 0;
        }
        free(names[i]);
    }
    if (n == 0) {
        snprintf(out, size, "none");
    }
}

struct so_model_desc *so_model_load(const char *name, char *err, size_t errlen)
{
    if (!valid_model_name(name)) {
        set_err(err, errlen, "model name \"%s\": expected letters, digits, '.', '_' or '-'",
                name ? name : "(null)");
        return NULL;
    }
    const char *dir = so_model_descriptor_dir();
    char *path = so_xprintf("%s/%s.yaml", dir, name);
    struct stat st;
    struct so_model_desc *d = NULL;
    if (stat(path, &st) != 0) {
        char known[512];
        list_models(dir, known, sizeof(known));
        set_err(err, errlen, "%s: no such model descriptor (model \"%s\"; known: %s)", path,
                name, known);
    } else {
        d = so_model_load_file(path, err, errlen);
    }
    free(path);
    return d;
}

/* --- files ---------------------------------------------------------------------------------- */

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Does the names file list exactly the descriptor's classes, one per line? */
static int check_names(const struct so_model_desc *d, const char *path, char *err,
                       size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -EIO;
    }
    char line[256];
    int i = 0, rc = 0;
    while (fgets(line, sizeof(line), fp)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line) {
            continue;
        }
        if (i >= d->n_classes || strcmp(line, d->classes[i].name) != 0) {
            set_err(err, errlen, "%s: line %d is \"%s\", but the descriptor %s says class %d "
                    "is \"%s\"", path, i + 1, line, d->desc_path, i,
                    i < d->n_classes ? d->classes[i].name : "(none)");
            rc = -EBADMSG;
            break;
        }
        i++;
    }
    fclose(fp);
    if (rc == 0 && i != d->n_classes) {
        set_err(err, errlen, "%s: %d class names, but the descriptor %s lists %d", path, i,
                d->desc_path, d->n_classes);
        rc = -EBADMSG;
    }
    return rc;
}

/* Check one file in dir: present, size, sha256. Fills f->path on success. */
static int verify_file(const struct so_model_desc *d, struct so_model_file *f, const char *dir,
                       char *err, size_t errlen)
{
    char *path = so_xprintf("%s/%s", dir, f->name);
    if (!is_file(path)) {
        set_err(err, errlen, "model %s: %s is missing (the weights are in %s; run "
                "scripts/fetch-models %s)", d->name, path, dir, d->name);
        free(path);
        return -ENOENT;
    }
    char sum[65];
    long long size = 0;
    int rc = so_sha256_file(path, sum, &size);
    if (rc < 0) {
        set_err(err, errlen, "model %s: %s: cannot read: %s", d->name, path, strerror(-rc));
        free(path);
        return -EIO;
    }
    if (f->size >= 0 && size != f->size) {
        set_err(err, errlen, "model %s: %s is %lld bytes, expected %lld (truncated or wrong "
                "file; run scripts/fetch-models %s)", d->name, path, size, f->size, d->name);
        free(path);
        return -EBADMSG;
    }
    if (strcmp(sum, f->sha256) != 0) {
        set_err(err, errlen, "model %s: %s has sha256 %s, expected %s (corrupt or wrong file; "
                "run scripts/fetch-models %s)", d->name, path, sum, f->sha256, d->name);
        free(path);
        return -EBADMSG;
    }
    free(f->path);
    f->path = path;
    return 0;
}

int so_model_locate(struct so_model_desc *d, const char *weights_dir, char *err, size_t errlen)
{
    set_err(err, errlen, "%s", "");
    if (!d) {
        set_err(err, errlen, "no model descriptor");
        return -EINVAL;
    }
    /* Candidate folders in ARCHITECTURE's order. */
    char *cand[4] = {NULL};
    int n = 0;
    if (weights_dir && *weights_dir) {
        char *sub = so_xprintf("%s/%s", weights_dir, d->name);
        char *w = so_xprintf("%s/%s", sub, d->files[SO_MODEL_WEIGHTS].name);
        if (is_file(w)) {
            cand[n++] = sub;
        } else {
            free(sub);
            cand[n++] = so_xstrdup(weights_dir);
        }
        free(w);
    }
    const char *models = getenv("STREETORDER_MODELS");
    if (models && *models) {
        cand[n++] = so_xprintf("%s/%s", models, d->name);
    } else {
        const char *xdg = getenv("XDG_DATA_HOME");
        const char *home = getenv("HOME");
        if (xdg && *xdg) {
            cand[n++] = so_xprintf("%s/streetorder/models/%s", xdg, d->name);
        } else if (home && *home) {
            cand[n++] = so_xprintf("%s/.local/share/streetorder/models/%s", home, d->name);
        }
    }
    const char *assets = getenv("STREETORDER_ASSETS");
    cand[n++] = so_xprintf("%s/models/%s", (assets && *assets) ? assets
                                                            : SO_SOURCE_DIR "/../shared/assets",
                        d->name);

    int found = -1;
    for (int i = 0; i < n && found < 0; i++) {
        char *w = so_xprintf("%s/%s", cand[i], d->files[SO_MODEL_WEIGHTS].name);
        if (is_file(w)) {
            found = i;
        }
        free(w);
    }
    int rc = 0;
    if (found < 0) {
        char where[1024] = "";
        size_t pos = 0;
        for (int i = 0; i < n && pos < sizeof(where); i++) {
            int w = snprintf(where + pos, sizeof(where) - pos, "%s%s/", i ? ", " : "", cand[i]);
            pos += w > 0 ? (size_t)w : 0;
        }
        set_err(err, errlen, "model %s: weights file %s not found in %s (run "
                "scripts/fetch-models %s, or set detector.weights_dir)", d->name,
                d->files[SO_MODEL_WEIGHTS].name, where, d->name);
        rc = -ENOENT;
    }
    for (int k = 0; rc == 0 && k < SO_MODEL_FILE_COUNT; k++) {
        rc = verify_file(d, &d->files[k], cand[found], err, errlen);
    }
    if (rc == 0) {
        rc = check_names(d, d->files[SO_MODEL_NAMES].path, err, errlen);
    }
    if (rc == 0) {
        free(d->dir);
        d->dir = so_xstrdup(cand[found]);
    } else {
        for (int k = 0; k < SO_MODEL_FILE_COUNT; k++) {
            free(d->files[k].path);
            d->files[k].path = NULL;
        }
    }
    for (int i = 0; i < n; i++) {
        free(cand[i]);
    }
    return rc;
}

struct so_model_desc *so_model_open(const char *name, const char *weights_dir, char *err,
                                    size_t errlen)
{
    struct so_model_desc *d = so_model_load(name, err, errlen);
    if (d && so_model_locate(d, weights_dir, err, errlen) < 0) {
        so_model_destroy(d);
        d = NULL;
    }
    return d;
}

int so_model_check(const char *name, const char *weights_dir, char *err, size_t errlen)
{
    set_err(err, errlen, "%s", "");
    if (!name) {
        return 0;
    }
    struct so_model_desc *d = so_model_load(name, err, errlen);
    if (!d) {
        return -EINVAL;
    }
    int rc = so_model_locate(d, weights_dir, err, errlen);
    so_model_destroy(d);
    return rc;
}

void so_model_destroy(struct so_model_desc *d)
{
    if (!d) {
        return;
    }
    free(d->name);
    free(d->desc_path);
    free(d->format);
    free(d->source_repo);
    free(d->source_commit);
    free(d->licence);
    for (int k = 0; k < SO_MODEL_FILE_COUNT; k++) {
        free(d->files[k].name);
        free(d->files[k].url);
        free(d->files[k].path);
    }
    free(d->dir);
    for (int i = 0; i < d->n_classes; i++) {
        free(d->classes[i].name);
    }
    free(d->classes);
    free(d);
}

int so_model_class_index(const struct so_model_desc *d, const char *name)
{
    for (int i = 0; d && name && i < d->n_classes; i++) {
        if (d->classes[i].name && strcmp(d->classes[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}
