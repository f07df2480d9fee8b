/*
 * Names of enum values, from a table indexed by the value: `names[v]` is the name of v, for
 * v in 0..n-1 (the shape of every such table in the tree: zone kinds in config/config.c,
 * detector roles in detect/model.c). One lookup and one parse, so that each enum keeps only
 * its table and its typed wrappers (so_zone_kind_name / so_zone_kind_parse, so_role_...).
 *
 * Ownership: the tables are the caller's (static constants); returned names point into them.
 * Thread-safety: reentrant. Errors: none beyond the return values.
 */
#ifndef SO_UTIL_ENUMNAME_H
#define SO_UTIL_ENUMNAME_H

#include <stdbool.h>
#include <stddef.h>

/* names[value], or NULL when value is outside 0..n-1. */
const char *so_enum_name(const char *const *names, size_t n, int value);

/* The value whose name is `name` (exact, case-sensitive) into *out (when out != NULL); false,
 * *out untouched, when name is NULL or not in the table. */
bool so_enum_parse(const char *const *names, size_t n, const char *name, int *out);

#endif
