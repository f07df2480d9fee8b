/*
 * YAML loading helpers shared by every loader of a hand-written YAML file: the config and the
 * category mapping (detector/config/config.c, categories.c) and the model descriptors
 * (detector/detect/model.c). Typed access to a libyaml document, the current key path, and
 * error reporting with file:line:column and the key (see config.h, "Errors"). Only those
 * loaders include this header: libyaml stays behind them.
 *
 * Ownership: a loader borrows its file name, document and error list from the caller for the
 * duration of one load. Strings stored through so_yaml_val_string() and friends are malloc()ed
 * and owned by the caller. Not thread-safe per loader; separate loaders are independent.
 */
#ifndef SO_CONFIG_YAMLNODE_H
#define SO_CONFIG_YAMLNODE_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#include "config.h"
#include "range.h"

/* One load in progress: the file (for messages), its document, where errors go, and the key
 * path of the node being converted ("cameras[0].zones[1]"). Zero-initialise, then set `file`
 * and `errors`. */
struct so_yaml_loader {
    const char *file;
    yaml_document_t *doc;
    struct so_config_errors *errors;
    char path[384];
    size_t path_len;
};

/*
 * Open and parse ld->file into `doc` (the caller's storage) and set ld->doc. Returns the root
 * node; the caller then calls yaml_document_delete(doc). Returns NULL, with nothing to free,
 * after reporting an unreadable file, a YAML syntax error or an empty file (`empty_message`).
 * A second document in the file is reported but the first is still returned.
 */
yaml_node_t *so_yaml_load_file(struct so_yaml_loader *ld, yaml_document_t *doc,
                               const char *empty_message);

/* Report an error at `node` (NULL: no place) under the current key path. */
void so_yaml_error(struct so_yaml_loader *ld, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* so_yaml_error() under the current path plus `key` (a check after the key was converted). */
void so_yaml_key_error(struct so_yaml_loader *ld, const char *key, const yaml_node_t *node,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Append ".key" / "[i]" to the key path; return the mark that so_yaml_path_pop() goes back to. */
size_t so_yaml_path_key(struct so_yaml_loader *ld, const char *key);
size_t so_yaml_path_index(struct so_yaml_loader *ld, size_t i);
void so_yaml_path_pop(struct so_yaml_loader *ld, size_t mark);

/* Node access. so_yaml_text() is only for scalars. A plain "", "~" or "null" is null. */
yaml_node_t *so_yaml_node(struct so_yaml_loader *ld, int index);
const char *so_yaml_text(const yaml_node_t *node);
bool so_yaml_is_null(const yaml_node_t *node);
size_t so_yaml_seq_len(const yaml_node_t *node);
yaml_node_t *so_yaml_seq_item(struct so_yaml_loader *ld, const yaml_node_t *node, size_t i);
yaml_node_t *so_yaml_map_get(struct so_yaml_loader *ld, const yaml_node_t *map,
                             const char *key);

/* What a node is, for "got ..." in messages: "\"text\"" (cut), "nothing", "a mapping"... */
const char *so_yaml_got(const yaml_node_t *node, char *buf, size_t size);

/* The candidate closest to `word` within a small edit distance, or NULL ("did you mean"). */
const char *so_yaml_closest(const char *word, const char *const *candidates, size_t n);
/* "a, b, c" into buf; returns buf. */
const char *so_yaml_join(const char *const *items, size_t n, char *buf, size_t size);

/*
 * Check that `node` is a mapping whose keys are all in `allowed` and appear once. Reports a
 * wrong type (at the node) or each bad key (at the key, with "did you mean"). Returns false
 * only for a wrong type.
 */
bool so_yaml_check_mapping(struct so_yaml_loader *ld, yaml_node_t *node,
                           const char *const *allowed, size_t n_allowed, const char *what);

/*
 * Push `key` on the path and return its value, or NULL when absent or null; a missing required
 * key is reported at the mapping. The caller pops the path with so_yaml_path_pop(ld, *mark).
 */
yaml_node_t *so_yaml_enter(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                           bool required, const char *what, size_t *mark);

/* so_yaml_enter() for a sub-mapping checked against `keys`; NULL when absent (reported when
 * required) or not a mapping (reported). The caller pops the path. */
yaml_node_t *so_yaml_enter_mapping(struct so_yaml_loader *ld, yaml_node_t *map,
                                   const char *key, bool required, const char *const *keys,
                                   size_t n_keys, size_t *mark);

/* A non-empty scalar into *out (replacing and freeing what was there); false if reported. */
bool so_yaml_val_string(struct so_yaml_loader *ld, yaml_node_t *v, const char *what,
                        char **out);

/* Keyed values: look up, convert into *out, pop the path. The value node, or NULL when absent
 * or wrong (reported). */
yaml_node_t *so_yaml_key_string(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                                bool required, const char *what, char **out);
/* A scalar of exactly `n` digits (an unquoted integer keeps its text). */
void so_yaml_key_digits(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                        size_t n, const char *what, char **out);

/* so_yaml_key_string() of a string that `valid` accepts ("expected WHAT, got ..." if not);
 * on failure *out is freed and set to NULL. */
yaml_node_t *so_yaml_key_checked(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                                 bool required, const char *what, bool (*valid)(const char *),
                                 char **out);
/* One of `names` (an enum's name table, util/enumname.h): its index into *out. A miss reads
 * "expected WHAT, got ..." plus "did you mean" when a name is close. */
yaml_node_t *so_yaml_key_enum(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                              bool required, const char *const *names, size_t n,
                              const char *what, int *out);
/* A list of 1 to `max` names (WHAT in messages), each a non-empty scalar that `valid` accepts
 * (WHAT_ITEM): into *out, a malloc()ed array of malloc()ed strings the caller owns, with *n
 * of them (bad items are reported and left out). The list node, or NULL when absent or not
 * such a list (reported). */
yaml_node_t *so_yaml_key_names(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                               bool required, const char *what, size_t max,
                               const char *what_item, bool (*valid)(const char *), char ***out,
                               size_t *n);
/* true/false (also True/TRUE, yes/no, on/off). */
yaml_node_t *so_yaml_key_bool(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                              bool required, bool *out);

/* A decimal number ([+-] digits [. digits] [e [+-] digits]; no hex, inf or nan): YAML's
 * quoted "5" counts too. False when `s` is not one. */
bool so_yaml_parse_number(const char *s, double *out);
/* A number scalar within `r` into *out; false if reported ("expected <range text>, got"). */
bool so_yaml_val_number(struct so_yaml_loader *ld, yaml_node_t *v, const struct so_range *r,
                        double *out);
yaml_node_t *so_yaml_key_number(struct so_yaml_loader *ld, yaml_node_t *map, const char *key,
                                bool required, const struct so_range *r, double *out);

/* Stable sort of errors->items[from..] by line, then column. */
void so_yaml_sort_errors(struct so_config_errors *errors, size_t from);

#endif
