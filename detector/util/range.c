/*
 * Why this file exists: a range used to be a struct and a describing function private to
 * config.c, and the model loader had its own "(0, 1]" notation; the loaders now share the one
 * in yamlnode.c, and the zone field table names ranges too. Both the check and the text come
 * from the same struct here. See range.h.
 */
#include "range.h"

#include <math.h>
#include <stdio.h>

const char *so_range_text(const struct so_range *r, char *buf, size_t size)
{
    const char *noun = r->integer ? "an integer" : "a number";
    if (isinf(r->hi)) {
        snprintf(buf, size, "%s %s %g", noun, r->lo_open ? ">" : ">=", r->lo);
    } else if (r->hi_open) {
        snprintf(buf, size, "%s %s %g and less than %g", noun,
                 r->lo_open ? "greater than" : "at least", r->lo, r->hi);
    } else if (r->lo_open) {
        snprintf(buf, size, "%s greater than %g and at most %g", noun, r->lo, r->hi);
    } else {
        snprintf(buf, size, "%s from %g to %g", noun, r->lo, r->hi);
    }
    return buf;
}

bool so_range_contains(const struct so_range *r, double d)
{
    return (r->lo_open ? d > r->lo : d >= r->lo) && (r->hi_open ? d < r->hi : d <= r->hi) &&
           (!r->integer || d == floor(d));
}
