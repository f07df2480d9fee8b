/*
 * Why this file exists: a detector model is three files a user downloads by hand or with
 * scripts/fetch-models, and a descriptor in the source tree that says what they are. Getting
 * any of that wrong (a truncated download, the cfg of one model with the weights of another,
 * an RGB network fed BGR, a class list off by one) does not crash: it silently detects
 * nothing, or calls cars umbrellas, and the violations are missed. So everything that can be
 * checked is checked once, when the model is opened (and by `streetorder check`): the
 * descriptor against a strict schema, every file's size and sha256, the names file against the
 * descriptor's class list. Messages name the file and the place exactly as the config
 * loader's do, because they are made by the same code:
 * "models/x.yaml:12:10: thresholds.score: expected a number greater than 0 and less than 1,
 * got "2"".
 *
 * How: the config's YAML walker (config/yamlnode.c: libyaml's document, key path, typed values,
 * key tables with "did you mean", every problem collected), then typed conversion into struct
 * so_model_desc; the collected errors are printed into the caller's buffer with
 * so_config_errors_print(), one per line. Booleans, numbers, "missing" and "unknown key" read
 * as they do in the config. Locating the files follows ARCHITECTURE's order
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

#include "enumname.h"
#include "sha256.h"
#include "xalloc.h"
#include "yamlnode.h"

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

/* --- the descriptor walker (config/yamlnode.h) ---------------------------------------------- */

/* The only value each of these keys may have today; a table so that a second one is a line. */
static const char *const formats[] = {"darknet"};
static const char *const resize_modes[] = {"plain"};
static const char *const layouts[] = {"region"};

static const struct so_range R_SCORE = {0, 1, true, false, true};   /* (0, 1) */
static const struct so_range R_UNIT = {0, 1, true, false, false};   /* (0, 1] */
static const struct so_range R_INPUT = {32, 4096, false, true, false};
static const struct so_range R_BYTES = {0, 1e12, false, true, false};

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

static void load_file_entry(struct so_yaml_loader *ld, yaml_node_t *files, int kind,
                            struct so_model_file *f)
{
    static const char *const keys[] = {"name", "size", "sha256", "url"};
    size_t mark;
    yaml_node_t *m =
        so_yaml_enter_mapping(ld, files, file_keys[kind], true, keys, ARRAY_LEN(keys), &mark);
    f->size = -1;
    if (m) {
        so_yaml_key_checked(ld, m, "name", true, "a plain file name (no folder)",
                            plain_file_name, &f->name);
        char *sha = NULL;
        if (so_yaml_key_checked(ld, m, "sha256", true, "64 hex digits", is_sha256_hex, &sha)) {
            for (int i = 0; i < 64; i++) {
                f->sha256[i] = (char)tolower((unsigned char)sha[i]);
            }
            f->sha256[64] = '\0';
        }
        free(sha);
        double size;
        if (so_yaml_key_number(ld, m, "size", false, &R_BYTES, &size)) {
            f->size = (long long)size;
        }
        so_yaml_key_string(ld, m, "url", false, "a download URL", &f->url);
    }
    so_yaml_path_pop(ld, mark);
}

/* roles: {ROLE: [class, ...]}, every entry one of the classes, each class in one role. */
static void load_roles(struct so_yaml_loader *ld, yaml_node_t *root, struct so_model_desc *d,
                       enum so_role *roles)
{
    char gbuf[96];
    size_t mark;
    /* Every role but "other" (the role of a class no list names). */
    yaml_node_t *m = so_yaml_enter_mapping(ld, root, "roles", false, role_names + 1,
                                           ARRAY_LEN(role_names) - 1, &mark);
    for (yaml_node_pair_t *p = m ? m->data.mapping.pairs.start : NULL;
         m && p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = so_yaml_node(ld, p->key), *v = so_yaml_node(ld, p->value);
        enum so_role role;
        if (k->type != YAML_SCALAR_NODE || !so_role_parse(so_yaml_text(k), &role) ||
            role == SO_ROLE_OTHER) {
            continue;   /* reported by so_yaml_enter_mapping() */
        }
        size_t mk = so_yaml_path_key(ld, so_yaml_text(k));
        size_t n = v->type == YAML_SEQUENCE_NODE ? so_yaml_seq_len(v) : 0;
        if (v->type != YAML_SEQUENCE_NODE) {
            so_yaml_error(ld, v, "expected a list of class names, got %s",
                          so_yaml_got(v, gbuf, sizeof(gbuf)));
        }
        for (size_t i = 0; i < n; i++) {
            size_t mi = so_yaml_path_index(ld, i);
            yaml_node_t *c = so_yaml_seq_item(ld, v, i);
            int idx = c->type == YAML_SCALAR_NODE ? so_model_class_index(d, so_yaml_text(c)) : -1;
            if (idx < 0) {
                so_yaml_error(ld, c, "expected one of the model's classes, got %s",
                              so_yaml_got(c, gbuf, sizeof(gbuf)));
            } else if (roles[idx] != SO_ROLE_OTHER && roles[idx] != role) {
                so_yaml_error(ld, c, "class \"%s\" already has role %s", so_yaml_text(c),
                              so_role_name(roles[idx]));
            } else {
                roles[idx] = role;
            }
            so_yaml_path_pop(ld, mi);
        }
        so_yaml_path_pop(ld, mk);
    }
    so_yaml_path_pop(ld, mark);
}

/* aliases: {class: class it is reported as}. */
static void load_aliases(struct so_yaml_loader *ld, yaml_node_t *root, struct so_model_desc *d)
{
    char gbuf[96];
    size_t mark;
    yaml_node_t *m = so_yaml_enter(ld, root, "aliases", false, "a mapping", &mark);
    if (m && m->type != YAML_MAPPING_NODE) {
        so_yaml_error(ld, m, "expected a mapping of class names, got %s",
                      so_yaml_got(m, gbuf, sizeof(gbuf)));
        m = NULL;
    }
    for (yaml_node_pair_t *p = m ? m->data.mapping.pairs.start : NULL;
         m && p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = so_yaml_node(ld, p->key), *v = so_yaml_node(ld, p->value);
        bool named = k->type == YAML_SCALAR_NODE;
        size_t mk = so_yaml_path_key(ld, named ? so_yaml_text(k) : "?");
        int from = named ? so_model_class_index(d, so_yaml_text(k)) : -1;
        int to = v->type == YAML_SCALAR_NODE ? so_model_class_index(d, so_yaml_text(v)) : -1;
        if (from < 0 || to < 0) {
            yaml_node_t *bad = from < 0 ? k : v;
            so_yaml_error(ld, bad, "expected one of the model's classes, got %s",
                          so_yaml_got(bad, gbuf, sizeof(gbuf)));
        } else {
            d->classes[from].report_id = to;
        }
        so_yaml_path_pop(ld, mk);
    }
    so_yaml_path_pop(ld, mark);
}

static bool one_line(const char *s)
{
    return !strchr(s, '\n');
}

/* classes: the network's output order; names unique. */
static void load_classes(struct so_yaml_loader *ld, yaml_node_t *root, struct so_model_desc *d)
{
    char **names = NULL;
    size_t n = 0;
    yaml_node_t *s = so_yaml_key_names(ld, root, "classes", true,
                                       "a list of 1 to 10000 class names", 10000,
                                       "a class name", one_line, &names, &n);
    d->classes = n ? so_xcalloc(n, sizeof(*d->classes)) : NULL;
    for (size_t i = 0; i < n; i++) {
        d->classes[i] = (struct so_model_class){.name = names[i], .report_id = (int)i};
    }
    d->n_classes = (int)n;
    free(names);
    /* Duplicates, at the later one's place (on the list's items: a bad item was left out). */
    size_t len = s ? so_yaml_seq_len(s) : 0;
    size_t mark = so_yaml_path_key(ld, "classes");
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *c = so_yaml_seq_item(ld, s, i);
        for (size_t j = 0; c->type == YAML_SCALAR_NODE && j < i; j++) {
            yaml_node_t *e = so_yaml_seq_item(ld, s, j);
            if (e->type == YAML_SCALAR_NODE && !strcmp(so_yaml_text(c), so_yaml_text(e))) {
                size_t mi = so_yaml_path_index(ld, i);
                so_yaml_error(ld, c, "duplicate class \"%s\" (first given at line %d)",
                              so_yaml_text(c), (int)e->start_mark.line + 1);
                so_yaml_path_pop(ld, mi);
                break;
            }
        }
    }
    so_yaml_path_pop(ld, mark);
}

/* input: {width, height}, each a multiple of 32. */
static void load_input(struct so_yaml_loader *ld, yaml_node_t *root, struct so_model_desc *d)
{
    static const char *const keys[] = {"width", "height"};
    int *dst[ARRAY_LEN(keys)] = {&d->input_width, &d->input_height};
    char gbuf[96];
    size_t mark;
    yaml_node_t *in = so_yaml_enter_mapping(ld, root, "input", true, keys, ARRAY_LEN(keys), &mark);
    for (size_t i = 0; in && i < ARRAY_LEN(keys); i++) {
        double v = 0;
        yaml_node_t *n = so_yaml_key_number(ld, in, keys[i], true, &R_INPUT, &v);
        if (n && (int)v % 32 != 0) {
            so_yaml_key_error(ld, keys[i], n, "expected a multiple of 32, got %s",
                              so_yaml_got(n, gbuf, sizeof(gbuf)));
        } else if (n) {
            *dst[i] = (int)v;
        }
    }
    so_yaml_path_pop(ld, mark);
}

/* preprocess: how an image becomes the network input (cv::dnn::blobFromImage's arguments). */
static void load_preprocess(struct so_yaml_loader *ld, yaml_node_t *root, struct so_model_desc *d)
{
    static const char *const keys[] = {"scale", "swap_rb", "resize", "mean"};
    char gbuf[96];
    size_t mark, mk;
    yaml_node_t *pre = so_yaml_enter_mapping(ld, root, "preprocess", true, keys, ARRAY_LEN(keys),
                                             &mark);
    if (pre) {
        int mode;
        so_yaml_key_number(ld, pre, "scale", true, &R_UNIT, &d->scale);
        so_yaml_key_bool(ld, pre, "swap_rb", true, &d->swap_rb);
        so_yaml_key_enum(ld, pre, "resize", true, resize_modes, ARRAY_LEN(resize_modes),
                         "plain (stretch, no letterbox: the only mode supported)", &mode);
        yaml_node_t *mean = so_yaml_enter(ld, pre, "mean", false, "a list of 3 numbers", &mk);
        bool ok = !mean || (mean->type == YAML_SEQUENCE_NODE && so_yaml_seq_len(mean) == 3);
        for (size_t i = 0; mean && ok && i < 3; i++) {
            yaml_node_t *x = so_yaml_seq_item(ld, mean, i);
            ok = x->type == YAML_SCALAR_NODE && so_yaml_parse_number(so_yaml_text(x), &d->mean[i]);
        }
        if (!ok) {
            so_yaml_error(ld, mean, "expected a list of 3 numbers, got %s",
                          so_yaml_got(mean, gbuf, sizeof(gbuf)));
        }
        so_yaml_path_pop(ld, mk);
    }
    so_yaml_path_pop(ld, mark);
}

/* output (how rows are laid out) and thresholds (the defaults of the detector's filter). */
static void load_output(struct so_yaml_loader *ld, yaml_node_t *root, struct so_model_desc *d)
{
    static const char *const okeys[] = {"layout"};
    static const char *const tkeys[] = {"score", "nms"};
    size_t mark;
    int layout;
    yaml_node_t *out =
        so_yaml_enter_mapping(ld, root, "output", true, okeys, ARRAY_LEN(okeys), &mark);
    if (out) {
        so_yaml_key_enum(ld, out, "layout", true, layouts, ARRAY_LEN(layouts),
                         "region (OpenCV region-layer rows: cx, cy, w, h, objectness, class "
                         "scores)", &layout);
    }
    so_yaml_path_pop(ld, mark);
    yaml_node_t *th =
        so_yaml_enter_mapping(ld, root, "thresholds", true, tkeys, ARRAY_LEN(tkeys), &mark);
    if (th) {
        so_yaml_key_number(ld, th, "score", true, &R_SCORE, &d->score_threshold);
        so_yaml_key_number(ld, th, "nms", true, &R_UNIT, &d->nms_threshold);
    }
    so_yaml_path_pop(ld, mark);
}

/* name, format, source: what the model is and where it comes from. */
static void load_header(struct so_yaml_loader *ld, yaml_node_t *root, struct so_model_desc *d)
{
    static const char *const skeys[] = {"repo", "commit", "changed", "path", "licence", "url"};
    size_t mark;
    int format;
    so_yaml_key_string(ld, root, "name", true, "the model's name", &d->name);
    if (so_yaml_key_enum(ld, root, "format", true, formats, ARRAY_LEN(formats),
                         "darknet (the only format supported)", &format)) {
        d->format = so_xstrdup(formats[format]);
    }
    yaml_node_t *src =
        so_yaml_enter_mapping(ld, root, "source", false, skeys, ARRAY_LEN(skeys), &mark);
    if (src) {
        so_yaml_key_string(ld, src, "repo", false, "a repository", &d->source_repo);
        so_yaml_key_string(ld, src, "commit", false, "a commit", &d->source_commit);
        so_yaml_key_string(ld, src, "licence", false, "a licence", &d->licence);
    }
    so_yaml_path_pop(ld, mark);
}

static void load_root(struct so_yaml_loader *ld, yaml_node_t *root, struct so_model_desc *d)
{
    load_header(ld, root, d);
    size_t mark;
    yaml_node_t *files = so_yaml_enter_mapping(ld, root, "files", true, file_keys,
                                               ARRAY_LEN(file_keys), &mark);
    for (int k = 0; files && k < SO_MODEL_FILE_COUNT; k++) {
        load_file_entry(ld, files, k, &d->files[k]);
    }
    so_yaml_path_pop(ld, mark);
    load_input(ld, root, d);
    load_preprocess(ld, root, d);
    load_output(ld, root, d);
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

/* The errors as `streetorder check` prints the config's, one per line, into err. */
static void errors_to_text(const struct so_config_errors *errors, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (!fp) {
        set_err(err, errlen, "out of memory");
        return;
    }
    so_config_errors_print(errors, fp);
    fclose(fp);
    if (len > 0 && text[len - 1] == '\n') {
        text[len - 1] = '\0';
    }
    set_err(err, errlen, "%s", text);
    free(text);
}

struct so_model_desc *so_model_load_file(const char *path, char *err, size_t errlen)
{
    static const char *const keys[] = {"name", "format", "source", "files", "input",
                                       "preprocess", "output", "thresholds", "classes", "roles",
                                       "aliases"};
    set_err(err, errlen, "%s", "");
    if (!path) {
        set_err(err, errlen, "no descriptor path");
        return NULL;
    }
    struct so_config_errors errors = {0};
    struct so_yaml_loader ld = {.file = path, .errors = &errors};
    yaml_document_t doc;
    yaml_node_t *root = so_yaml_load_file(&ld, &doc, "the file is empty: expected a model "
                                                     "descriptor");
    struct so_model_desc *d = NULL;
    if (root) {
        d = so_xcalloc(1, sizeof(*d));
        d->desc_path = so_xstrdup(path);
        for (int k = 0; k < SO_MODEL_FILE_COUNT; k++) {
            d->files[k].size = -1;
        }
        if (so_yaml_check_mapping(&ld, root, keys, ARRAY_LEN(keys), "a model descriptor")) {
            load_root(&ld, root, d);
        }
        char want[256];
        stem(path, want, sizeof(want));
        if (d->name && strcmp(d->name, want) != 0) {
            so_yaml_key_error(&ld, "name", so_yaml_map_get(&ld, root, "name"),
                              "expected \"%s\" (the descriptor's file name), got \"%s\"", want,
                              d->name);
        }
        yaml_document_delete(&doc);
    }
    if (errors.n) {
        so_yaml_sort_errors(&errors, 0);
        errors_to_text(&errors, err, errlen);
        so_model_destroy(d);
        d = NULL;
    }
    so_config_errors_finish(&errors);
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
