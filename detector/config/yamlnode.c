/*
 * Why this file exists: the detector reads more than one hand-written YAML file (the config,
 * the category mapping, the model descriptors), and every one of them must report mistakes the
 * same way: all of them in one run, each as "file:line:col: key.path: what was expected". These
 * are the pieces that make that possible, shared by the loaders instead of copied into each:
 * the error list, the current key path, typed access to libyaml's document nodes with their
 * marks, key checking with "did you mean", the typed values (strings, numbers in a range,
 * booleans, names of an enum) with their messages, and parsing a file into one document. A
 * number or a boolean thus means the same in every file (model.c had its own strtod-based
 * numbers and true/false-only booleans until they were merged here).
 *
 * libyaml stays behind the loaders: config.c, categories.c and detect/model.c include
 * yamlnode.h; nothing else does.
 */
#include "yamlnode.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "enumname.h"
#include "xalloc.h"

/* --- error list ----------------------------------------------------------------------------- */

void so_config_errors_add(struct so_config_errors *errors, const char *file, int line, int column,
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
const char *so_yaml_closest(const char *word, const char *const *candidates, size_t n)
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
const char *so_yaml_join(const char *const *items, size_t n, char *buf, size_t size)
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

/* --- the loader: document, current key path, error list ------------------------------------ */

static void errorv(struct so_yaml_loader *ld, const yaml_node_t *node, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void errorv(struct so_yaml_loader *ld, const yaml_node_t *node, const char *fmt, va_list ap)
{
    char msg[768];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    int line = node ? (int)node->start_mark.line + 1 : 0;
    int column = node ? (int)node->start_mark.column + 1 : 0;
    so_config_errors_add(ld->errors, ld->file, line, column, ld->path, msg);
}

/* Report an error at `node`, under the current key path. */
void so_yaml_error(struct so_yaml_loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errorv(ld, node, fmt, ap);
    va_end(ap);
}

/* so_yaml_error() with `key` pushed on the path for the message. */
void so_yaml_key_error(struct so_yaml_loader *ld, const char *key, const yaml_node_t *node,
                       const char *fmt, ...)
{
    size_t mark = so_yaml_path_key(ld, key);
    va_list ap;
    va_start(ap, fmt);
    errorv(ld, node, fmt, ap);
    va_end(ap);
    so_yaml_path_pop(ld, mark);
}

/* Append ".key" (or "key" at the top) to the path; returns the mark to pop back to. */
size_t so_yaml_path_key(struct so_yaml_loader *ld, const char *key)
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

size_t so_yaml_path_index(struct so_yaml_loader *ld, size_t i)
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

void so_yaml_path_pop(struct so_yaml_loader *ld, size_t mark)
{
    ld->path_len = mark;
    ld->path[mark] = '\0';
}

yaml_node_t *so_yaml_node(struct so_yaml_loader *ld, int index)
{
    return yaml_document_get_node(ld->doc, index);
}

const char *so_yaml_text(const yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

bool so_yaml_is_null(const yaml_node_t *node)
{
    if (!node || node->type != YAML_SCALAR_NODE ||
        node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return false;
    }
    const char *s = so_yaml_text(node);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

size_t so_yaml_seq_len(const yaml_node_t *node)
{
    return (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
}

yaml_node_t *so_yaml_seq_item(struct so_yaml_loader *ld, const yaml_node_t *node, size_t i)
{
    return so_yaml_node(ld, node->data.sequence.items.start[i]);
}

/* What a node is, for "got ..." in messages: "\"text\"", "nothing", "a mapping", ... */
const char *so_yaml_got(const yaml_node_t *node, char *buf, size_t size)
{
    if (!node || so_yaml_is_null(node)) {
        return "nothing";
    }
    if (node->type == YAML_MAPPING_NODE) {
        return "a mapping";
    }
    if (node->type == YAML_SEQUENCE_NODE) {
        size_t n = so_yaml_seq_len(node);
        snprintf(buf, size, "a list of %zu item%s", n, n == 1 ? "" : "s");
        return buf;
    }
    const char *s = so_yaml_text(node);
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
yaml_node_t *so_yaml_map_get(struct so_yaml_loader *ld, const yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = so_yaml_node(ld, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp(so_yaml_text(k), key) == 0) {
            return so_yaml_node(ld, p->value);
        }
    }
    return NULL;
}

/*
 * Check that `node` is a mapping whose keys are all in `allowed` and appear once. Reports a
 * wrong type (at the node) or each bad key (at the key). Returns false only for a wrong type.
 */
bool so_yaml_check_mapping(struct so_yaml_loader *ld, yaml_node_t *node, const char *const *allowed,
                           size_t n_allowed, const char *what)
{
    char buf[512], gbuf[96];
    if (node->type != YAML_MAPPING_NODE) {
        so_yaml_error(ld, node, "expected %s (keys: %s), got %s", what,
                      so_yaml_join(allowed, n_allowed, buf, sizeof(buf)),
                      so_yaml_got(node, gbuf, sizeof(gbuf)));
        return false;
    }
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = so_yaml_node(ld, p->key);
        if (k->type != YAML_SCALAR_NODE) {
            so_yaml_error(ld, k, "expected a key name (one of %s), got %s",
                          so_yaml_join(allowed, n_allowed, buf, sizeof(buf)),
                          so_yaml_got(k, gbuf, sizeof(gbuf)));
            continue;
        }
        const char *name = so_yaml_text(k);
        size_t mark = so_yaml_path_key(ld, name);
        bool known = false;
        for (size_t i = 0; i < n_allowed; i++) {
            known = known || strcmp(name, allowed[i]) == 0;
        }
        if (!known) {
            const char *hint = so_yaml_closest(name, allowed, n_allowed);
            if (hint) {
                so_yaml_error(ld, k, "unknown key \"%s\" (did you mean \"%s\"?)", name, hint);
            } else {
                so_yaml_error(ld, k, "unknown key \"%s\"; allowed keys are %s", name,
                              so_yaml_join(allowed, n_allowed, buf, sizeof(buf)));
            }
        } else {
            for (yaml_node_pair_t *q = node->data.mapping.pairs.start; q < p; q++) {
                yaml_node_t *k0 = so_yaml_node(ld, q->key);
                if (k0->type == YAML_SCALAR_NODE && strcmp(so_yaml_text(k0), name) == 0) {
                    so_yaml_error(ld, k,
                                  "duplicate key \"%s\" (first given at line %d): expected "
                                  "each key once",
                                  name, (int)k0->start_mark.line + 1);
                    break;
                }
            }
        }
        so_yaml_path_pop(ld, mark);
    }
    return true;
}

/*
 * Push `key` on the path and return its value, or NULL when absent or null; a missing required
 * key is reported at the mapping. The caller pops the path with so_yaml_path_pop(ld, *mark).
 */
yaml_node_t *so_yaml_enter(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                           bool required, const char *what, size_t *mark)
{
    *mark = so_yaml_path_key(ld, key);
    yaml_node_t *v = map ? so_yaml_map_get(ld, map, key) : NULL;
    if (v && so_yaml_is_null(v)) {
        if (required) {
            so_yaml_error(ld, v, "expected %s, got nothing", what);
        }
        return NULL;
    }
    if (!v && required) {
        so_yaml_error(ld, map, "missing required key \"%s\" (expected %s)", key, what);
    }
    return v;
}

/* --- typed values --------------------------------------------------------------------------- */

bool so_yaml_val_string(struct so_yaml_loader *ld, yaml_node_t *v, const char *what, char **out)
{
    char gbuf[96];
    if (v->type != YAML_SCALAR_NODE) {
        so_yaml_error(ld, v, "expected %s, got %s", what, so_yaml_got(v, gbuf, sizeof(gbuf)));
        return false;
    }
    if (!*so_yaml_text(v)) {
        so_yaml_error(ld, v, "expected %s, got an empty string", what);
        return false;
    }
    free(*out);
    *out = so_xstrdup(so_yaml_text(v));
    return true;
}

/* Optional/required keyed values: look up, convert, pop the path. */
yaml_node_t *so_yaml_key_string(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                                bool required, const char *what, char **out)
{
    size_t mark;
    yaml_node_t *v = so_yaml_enter(ld, map, key, required, what, &mark);
    if (v && !so_yaml_val_string(ld, v, what, out)) {
        v = NULL;
    }
    so_yaml_path_pop(ld, mark);
    return v;
}

/* A scalar of exactly `n` digits (an unquoted integer keeps its text). */
void so_yaml_key_digits(struct so_yaml_loader *ld, yaml_node_t *map, const char *key, size_t n,
                        const char *what, char **out)
{
    char gbuf[96];
    size_t mark;
    yaml_node_t *v = so_yaml_enter(ld, map, key, false, what, &mark);
    if (v) {
        bool ok = v->type == YAML_SCALAR_NODE && strlen(so_yaml_text(v)) == n;
        for (size_t i = 0; ok && i < n; i++) {
            ok = isdigit((unsigned char)so_yaml_text(v)[i]);
        }
        if (ok) {
            *out = so_xstrdup(so_yaml_text(v));
        } else {
            so_yaml_error(ld, v, "expected %s, got %s", what, so_yaml_got(v, gbuf, sizeof(gbuf)));
        }
    }
    so_yaml_path_pop(ld, mark);
}

/* A string that `valid` accepts; on failure *out is freed and set to NULL. */
yaml_node_t *so_yaml_key_checked(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                                 bool required, const char *what, bool (*valid)(const char *),
                                 char **out)
{
    char gbuf[96];
    yaml_node_t *v = so_yaml_key_string(ld, map, key, required, what, out);
    if (v && !valid(*out)) {
        so_yaml_key_error(ld, key, v, "expected %s, got %s", what,
                          so_yaml_got(v, gbuf, sizeof(gbuf)));
        free(*out);
        *out = NULL;
        v = NULL;
    }
    return v;
}

/* One of the names of an enum table (enumname.h), with "did you mean" for a near miss. */
yaml_node_t *so_yaml_key_enum(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                              bool required, const char *const *names, size_t n,
                              const char *what, int *out)
{
    char gbuf[96];
    size_t mark;
    yaml_node_t *v = so_yaml_enter(ld, map, key, required, what, &mark);
    if (v && (v->type != YAML_SCALAR_NODE || !so_enum_parse(names, n, so_yaml_text(v), out))) {
        const char *hint =
            v->type == YAML_SCALAR_NODE ? so_yaml_closest(so_yaml_text(v), names, n) : NULL;
        so_yaml_error(ld, v, "expected %s, got %s%s%s%s", what,
                      so_yaml_got(v, gbuf, sizeof(gbuf)), hint ? " (did you mean \"" : "",
                      hint ? hint : "", hint ? "\"?)" : "");
        v = NULL;
    }
    so_yaml_path_pop(ld, mark);
    return v;
}

/* A list of 1..max names that `valid` accepts; bad items are reported and left out. */
yaml_node_t *so_yaml_key_names(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                               bool required, const char *what, size_t max,
                               const char *what_item, bool (*valid)(const char *), char ***out,
                               size_t *n)
{
    char gbuf[96];
    size_t mark;
    yaml_node_t *v = so_yaml_enter(ld, map, key, required, what, &mark);
    size_t len = v && v->type == YAML_SEQUENCE_NODE ? so_yaml_seq_len(v) : 0;
    if (v && (len == 0 || len > max)) {
        so_yaml_error(ld, v, "expected %s, got %s", what, so_yaml_got(v, gbuf, sizeof(gbuf)));
        v = NULL;
    }
    if (v) {
        *out = so_xcalloc(len, sizeof(char *));
    }
    for (size_t i = 0; v && i < len; i++) {
        size_t mi = so_yaml_path_index(ld, i);
        yaml_node_t *c = so_yaml_seq_item(ld, v, i);
        const char *t = c->type == YAML_SCALAR_NODE ? so_yaml_text(c) : NULL;
        if (t && *t && valid(t)) {
            (*out)[(*n)++] = so_xstrdup(t);
        } else {
            so_yaml_error(ld, c, "expected %s, got %s", what_item,
                          so_yaml_got(c, gbuf, sizeof(gbuf)));
        }
        so_yaml_path_pop(ld, mi);
    }
    so_yaml_path_pop(ld, mark);
    return v;
}

/* A boolean: true/false (also yes/no, on/off). */
yaml_node_t *so_yaml_key_bool(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                              bool required, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", "On"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off", "Off"};
    const char *what = "true or false";
    char gbuf[96];
    size_t mark;
    yaml_node_t *v = so_yaml_enter(ld, map, key, required, what, &mark);
    if (v) {
        bool found = false;
        for (size_t i = 0; v->type == YAML_SCALAR_NODE && i < sizeof(yes) / sizeof(yes[0]) &&
                           !found;
             i++) {
            if (!strcmp(so_yaml_text(v), yes[i]) || !strcmp(so_yaml_text(v), no[i])) {
                *out = !strcmp(so_yaml_text(v), yes[i]);
                found = true;
            }
        }
        if (!found) {
            so_yaml_error(ld, v, "expected %s, got %s", what, so_yaml_got(v, gbuf, sizeof(gbuf)));
            v = NULL;
        }
    }
    so_yaml_path_pop(ld, mark);
    return v;
}

/* --- numbers -------------------------------------------------------------------------------- */

/* Decimal number: [+-] digits [. digits] [e [+-] digits], at least one digit before e. */
bool so_yaml_parse_number(const char *s, double *out)
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

bool so_yaml_val_number(struct so_yaml_loader *ld, yaml_node_t *v, const struct so_range *r,
                        double *out)
{
    char rbuf[96], gbuf[96];
    double d = 0;
    bool ok = v->type == YAML_SCALAR_NODE && so_yaml_parse_number(so_yaml_text(v), &d) &&
              so_range_contains(r, d);
    if (!ok) {
        so_yaml_error(ld, v, "expected %s, got %s", so_range_text(r, rbuf, sizeof(rbuf)),
                      so_yaml_got(v, gbuf, sizeof(gbuf)));
        return false;
    }
    *out = d;
    return true;
}

yaml_node_t *so_yaml_key_number(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                                bool required, const struct so_range *r, double *out)
{
    char rbuf[96];
    size_t mark;
    yaml_node_t *v =
        so_yaml_enter(ld, map, key, required, so_range_text(r, rbuf, sizeof(rbuf)), &mark);
    if (v && !so_yaml_val_number(ld, v, r, out)) {
        v = NULL;
    }
    so_yaml_path_pop(ld, mark);
    return v;
}

/* Enter a sub-mapping; NULL when absent (reported if required) or not a mapping (reported). */
yaml_node_t *so_yaml_enter_mapping(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                                   bool required, const char *const *keys, size_t n_keys,
                                   size_t *mark)
{
    yaml_node_t *v = so_yaml_enter(ld, map, key, required, "a mapping", mark);
    if (v && !so_yaml_check_mapping(ld, v, keys, n_keys, "a mapping")) {
        v = NULL;
    }
    return v;
}

/* Stable sort of errors[from..] by line, then column (insertion sort: lists are short). */
void so_yaml_sort_errors(struct so_config_errors *errors, size_t from)
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

static void report_parser_error(struct so_yaml_loader *ld, yaml_parser_t *parser, FILE *f)
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
    so_config_errors_add(ld->errors, ld->file, line, column, "", msg);
}

yaml_node_t *so_yaml_load_file(struct so_yaml_loader *ld, yaml_document_t *doc,
                               const char *empty_message)
{
    char msg[512];
    FILE *f = fopen(ld->file, "rb");
    struct stat st;
    if (f && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        f = NULL;
        errno = EISDIR;
    }
    if (!f) {
        snprintf(msg, sizeof(msg), "cannot read: %s", strerror(errno));
        so_config_errors_add(ld->errors, ld->file, 0, 0, "", msg);
        return NULL;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        abort();
    }
    yaml_parser_set_input_file(&parser, f);
    ld->doc = doc;
    yaml_node_t *root = NULL;
    if (!yaml_parser_load(&parser, doc)) {
        report_parser_error(ld, &parser, f);
        ld->doc = NULL;
    } else {
        root = yaml_document_get_root_node(doc);
        if (!root || so_yaml_is_null(root)) {
            so_config_errors_add(ld->errors, ld->file,
                                 root ? (int)root->start_mark.line + 1 : 0,
                                 root ? (int)root->start_mark.column + 1 : 0, "", empty_message);
            yaml_document_delete(doc);
            ld->doc = NULL;
            root = NULL;
        } else {
            /* A second document is almost certainly a mistake (a stray "---"). */
            yaml_document_t next;
            if (!yaml_parser_load(&parser, &next)) {
                report_parser_error(ld, &parser, f);
            } else {
                yaml_node_t *r2 = yaml_document_get_root_node(&next);
                if (r2) {
                    so_config_errors_add(ld->errors, ld->file, (int)r2->start_mark.line + 1,
                                         (int)r2->start_mark.column + 1, "",
                                         "expected one YAML document, found a second one "
                                         "(remove the \"---\" line)");
                }
                yaml_document_delete(&next);
            }
        }
    }
    yaml_parser_delete(&parser);
    fclose(f);
    return root;
}
