/*
 * Case categories: the GB/T 30428.2 code and name every event carries, and the city's own
 * code and name for it from a mapping file (config/categories.yaml, `detector.categories`).
 *
 * The standard codes the detector produces are built in (0102, 0501, 0504, 0505, 0506, 0507);
 * the mapping file adds per code an optional `local_code` and `local_name`, and may name other
 * standard codes (a zone's `category:` may use any 4-digit code).
 *
 * Ownership: so_categories_load() returns a table owned by the caller, freed with
 * so_categories_destroy(); it is immutable, so any thread may look codes up without locks
 * while the owner keeps it alive. Strings returned by lookups live as long as the table (or
 * forever, for the built-in names).
 *
 * Errors: like the config (config.h): every mistake in the file is appended to the error list
 * as file:line:col with the key path, e.g.
 *   categories.yaml:14:5: categories.0505.local_code: expected a code of 1 to 32 letters, ...
 */
#ifndef SO_CONFIG_CATEGORIES_H
#define SO_CONFIG_CATEGORIES_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define SO_CATEGORY_STANDARD "GB/T 30428.2"

struct so_categories;

/* What an event says about its category. Fields are NULL when unknown / not mapped. */
struct so_category {
    const char *code;           /* the standard code, 4 digits */
    const char *name;           /* the standard name (built in, or from the file) */
    const char *local_code;     /* the city's code, from the file */
    const char *local_name;     /* the city's name, from the file */
};

/* The standard code of a zone: its `category` override, else its kind's default. */
const char *so_category_code(const struct so_zone_cfg *zone);

/* The built-in standard name of a code; NULL when the code is not built in. */
const char *so_category_name(const char *code);

/*
 * Load and validate a mapping file. On success returns the table and appends nothing to
 * `errors`; on any error returns NULL and appends every error (in file order). `errors` as in
 * so_config_load().
 */
struct so_categories *so_categories_load(const char *path, struct so_config_errors *errors);

/* Free a table. Accepts NULL. */
void so_categories_destroy(struct so_categories *cats);

/*
 * Fill `out` for the standard `code`: the name (from the file, else built in) and the local
 * code and name when the file maps them. `cats` may be NULL (built-in names only). Returns
 * true when anything is known about the code (a name or a local code).
 */
bool so_categories_lookup(const struct so_categories *cats, const char *code,
                          struct so_category *out);

/* The file the table was loaded from, and how many codes have a local code or name. */
const char *so_categories_path(const struct so_categories *cats);
size_t so_categories_n_local(const struct so_categories *cats);

#endif
