/*
 * A numeric range and what an error says about it: the allowed values of a number in a YAML
 * file (config keys, the zone field table, model descriptors), checked and described from one
 * definition so the check and the message cannot disagree.
 *
 * Ownership: plain values; the text goes into the caller's buffer. Thread-safety: reentrant.
 */
#ifndef SO_UTIL_RANGE_H
#define SO_UTIL_RANGE_H

#include <stdbool.h>
#include <stddef.h>

/* lo..hi, lo excluded when lo_open, hi excluded when hi_open (hi may be INFINITY), whole
 * numbers only when integer. Positional initialisers may stop after `integer`. */
struct so_range {
    double lo, hi;
    bool lo_open;
    bool integer;
    bool hi_open;
};

/* "a number from 1 to 86400", "an integer >= 0", "a number greater than 0 and less than 1"...:
 * what an error says was expected. Returns buf. */
const char *so_range_text(const struct so_range *r, char *buf, size_t size);

/* Whether d is in the range (and whole, when r->integer). */
bool so_range_contains(const struct so_range *r, double d);

#endif
