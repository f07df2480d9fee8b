/*
 * Why this file exists: a case platform files a violation under a category, and the national
 * standard (GB/T 30428.2, 数字化城市管理信息系统 第2部分: 管理部件和事件) only fixes the first
 * levels of the code. Each city extends it with its own codes and names (often 6 to 10 digits,
 * with a district prefix), and its dispatch rules key on those. So every event carries both:
 * the standard code and name, which the detector knows, and the city's code and name, which
 * only the operator knows and writes into a mapping file (config/categories.yaml, or their own
 * copy named by `detector.categories`).
 *
 * How: the built-in table below holds the standard codes the detector produces. The mapping
 * file is loaded once, with the config, through the same YAML helpers (yamlnode.h), so its
 * mistakes are reported like the config's: all of them, with file:line:col and the key path.
 * A name given in the file for a built-in code must be the standard one: a mismatch almost
 * always means the operator mapped the wrong code (0505 and 0506 look alike), and a wrong
 * category sends a case to the wrong department.
 *
 * Trade-offs: codes are looked up by a linear scan; there are a handful of them.
 */
#include "categories.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "yamlnode.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *code, *name;
} builtin[] = {
    {"0102", "暴露垃圾"},
    {"0501", "无照经营游商"},
    {"0504", "店外经营"},
    {"0505", "机动车乱停放"},
    {"0506", "非机动车乱停放"},
    {"0507", "乱堆物料"},
};

struct entry {
    char code[5];
    char *name, *local_code, *local_name;
    int line;
};

struct so_categories {
    char *path;
    struct entry *entries;
    size_t n;
};

const char *so_category_code(const struct so_zone_cfg *zone)
{
    if (zone->category) {
        return zone->category;
    }
    switch (zone->kind) {
    case SO_ZONE_ILLEGAL_PARKING:
        return "0505";
    case SO_ZONE_NONMOTOR_PARKING:
        return "0506";
    case SO_ZONE_SIDEWALK_OCCUPIED:
        return "0507";
    case SO_ZONE_STALL_ENCROACHMENT:
    default:
        return "0504";
    }
}

const char *so_category_name(const char *code)
{
    for (size_t i = 0; code && i < ARRAY_LEN(builtin); i++) {
        if (strcmp(builtin[i].code, code) == 0) {
            return builtin[i].name;
        }
    }
    return NULL;
}

/* --- loading -------------------------------------------------------------------------------- */

static const char *const top_keys[] = {"categories"};
static const char *const entry_keys[] = {"name", "local_code", "local_name"};

#define CODE_EXPECTED "a standard code of exactly 4 digits like \"0505\""
#define LOCAL_CODE_EXPECTED "a code of 1 to 32 letters, digits, '.', '_' or '-'"

static bool is_code(const char *s)
{
    return strlen(s) == 4 && strspn(s, "0123456789") == 4;
}

static bool is_local_code(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-') {
            return false;
        }
    }
    return n >= 1 && n <= 32;
}

static void load_entry(struct so_yaml_loader *ld, yaml_node_t *v, struct entry *e)
{
    char gbuf[96];
    if (!v || so_yaml_is_null(v)) {
        return; /* listed, nothing mapped (the shipped file's placeholders are comments) */
    }
    if (!so_yaml_check_mapping(ld, v, entry_keys, ARRAY_LEN(entry_keys),
                               "a mapping of name, local_code, local_name")) {
        return;
    }
    yaml_node_t *n = so_yaml_key_string(ld, v, "name", false, "the standard name (text)",
                                        &e->name);
    const char *std = so_category_name(e->code);
    if (n && std && strcmp(std, e->name) != 0) {
        size_t mark = so_yaml_path_key(ld, "name");
        so_yaml_error(ld, n, "expected the standard name of %s, \"%s\" (or no name), got %s",
                      e->code, std, so_yaml_got(n, gbuf, sizeof(gbuf)));
        so_yaml_path_pop(ld, mark);
    }
    yaml_node_t *lc = so_yaml_key_string(ld, v, "local_code", false, LOCAL_CODE_EXPECTED,
                                         &e->local_code);
    if (lc && !is_local_code(e->local_code)) {
        size_t mark = so_yaml_path_key(ld, "local_code");
        so_yaml_error(ld, lc, "expected " LOCAL_CODE_EXPECTED ", got %s",
                      so_yaml_got(lc, gbuf, sizeof(gbuf)));
        so_yaml_path_pop(ld, mark);
    }
    so_yaml_key_string(ld, v, "local_name", false, "the city's name for the category (text)",
                       &e->local_name);
}

static void load_root(struct so_yaml_loader *ld, struct so_categories *cats, yaml_node_t *root)
{
    char gbuf[96];
    if (!so_yaml_check_mapping(ld, root, top_keys, ARRAY_LEN(top_keys),
                               "a mapping at the top of the file")) {
        return;
    }
    size_t mark;
    yaml_node_t *map = so_yaml_enter(ld, root, "categories", true,
                                     "a mapping from standard codes to their local codes", &mark);
    if (map && map->type != YAML_MAPPING_NODE) {
        so_yaml_error(ld, map, "expected a mapping from standard codes like \"0505\" to "
                      "{name, local_code, local_name}, got %s",
                      so_yaml_got(map, gbuf, sizeof(gbuf)));
    } else if (map) {
        size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
        cats->entries = so_xcalloc(n, sizeof(*cats->entries));
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
             p < map->data.mapping.pairs.top; p++) {
            yaml_node_t *k = so_yaml_node(ld, p->key);
            if (k->type != YAML_SCALAR_NODE || !is_code(so_yaml_text(k))) {
                so_yaml_error(ld, k, "expected " CODE_EXPECTED " as the key, got %s",
                              so_yaml_got(k, gbuf, sizeof(gbuf)));
                continue;
            }
            size_t m2 = so_yaml_path_key(ld, so_yaml_text(k));
            const struct entry *first = NULL;
            for (size_t i = 0; i < cats->n && !first; i++) {
                if (strcmp(cats->entries[i].code, so_yaml_text(k)) == 0) {
                    first = &cats->entries[i];
                }
            }
            if (first) {
                so_yaml_error(ld, k, "duplicate code \"%s\" (first given at line %d): expected "
                              "each code once", so_yaml_text(k), first->line);
            } else {
                struct entry *e = &cats->entries[cats->n++];
                memcpy(e->code, so_yaml_text(k), sizeof(e->code));
                e->line = (int)k->start_mark.line + 1;
                load_entry(ld, so_yaml_node(ld, p->value), e);
            }
            so_yaml_path_pop(ld, m2);
        }
    }
    so_yaml_path_pop(ld, mark);
}

struct so_categories *so_categories_load(const char *path, struct so_config_errors *errors)
{
    size_t before = errors->n;
    struct so_yaml_loader ld = {.file = path, .errors = errors};
    yaml_document_t doc;
    yaml_node_t *root = so_yaml_load_file(&ld, &doc,
                                          "the file is empty: expected a \"categories\" mapping");
    if (!root) {
        return NULL;
    }
    struct so_categories *cats = so_xcalloc(1, sizeof(*cats));
    cats->path = so_xstrdup(path);
    load_root(&ld, cats, root);
    yaml_document_delete(&doc);
    if (errors->n > before) {
        so_yaml_sort_errors(errors, before);
        so_categories_destroy(cats);
        return NULL;
    }
    return cats;
}

void so_categories_destroy(struct so_categories *cats)
{
    if (!cats) {
        return;
    }
    for (size_t i = 0; i < cats->n; i++) {
        free(cats->entries[i].name);
        free(cats->entries[i].local_code);
        free(cats->entries[i].local_name);
    }
    free(cats->entries);
    free(cats->path);
    free(cats);
}

/* --- lookups -------------------------------------------------------------------------------- */

bool so_categories_lookup(const struct so_categories *cats, const char *code,
                          struct so_category *out)
{
    *out = (struct so_category){.code = code, .name = so_category_name(code)};
    for (size_t i = 0; cats && code && i < cats->n; i++) {
        const struct entry *e = &cats->entries[i];
        if (strcmp(e->code, code) == 0) {
            if (e->name) {
                out->name = e->name;
            }
            out->local_code = e->local_code;
            out->local_name = e->local_name;
            break;
        }
    }
    return out->name || out->local_code || out->local_name;
}

const char *so_categories_path(const struct so_categories *cats)
{
    return cats ? cats->path : NULL;
}

size_t so_categories_n_local(const struct so_categories *cats)
{
    size_t n = 0;
    for (size_t i = 0; cats && i < cats->n; i++) {
        n += cats->entries[i].local_code || cats->entries[i].local_name;
    }
    return n;
}
