/*
 * Why this file exists: config.c (zone kinds) and model.c (detector roles) each had a names
 * table plus a name/parse pair of functions of the same shape, written twice and free to
 * drift (a NULL check here, a range check there). The lookups now live once; the typed
 * wrappers only cast. See enumname.h.
 */
#include "enumname.h"

#include <string.h>

const char *so_enum_name(const char *const *names, size_t n, int value)
{
    if (value < 0 || (size_t)value >= n) {
        return NULL;
    }
    return names[value];
}

bool so_enum_parse(const char *const *names, size_t n, const char *name, int *out)
{
    for (size_t i = 0; name && i < n; i++) {
        if (names[i] && strcmp(name, names[i]) == 0) {
            if (out) {
                *out = (int)i;
            }
            return true;
        }
    }
    return false;
}
