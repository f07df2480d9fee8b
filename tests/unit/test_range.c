/*
 * Unit tests for detector/util/range.c: each kind of range (closed, open below, open above,
 * unbounded, integer) says in words what it accepts, and accepts exactly that: its ends,
 * just inside and just outside them, and fractions for integer ranges.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "range.h"
#include "testlib.h"

static void test_ranges(void)
{
    static const struct {
        struct so_range r;
        const char *text;
        double in[3], out[3];   /* accepted, refused */
    } rows[] = {
        {{1, 86400, false, false, false}, "a number from 1 to 86400", {1, 86400, 2.5},
         {0.999, 86400.5, -1}},
        {{0, 1, true, false, false}, "a number greater than 0 and at most 1", {1, 1e-9, 0.5},
         {0, -0.1, 1.0001}},
        {{0, 1, true, false, true}, "a number greater than 0 and less than 1", {0.3, 1e-9, 0.999},
         {0, 1, 1.5}},
        {{32, 4096, false, true, true}, "an integer at least 32 and less than 4096",
         {32, 64, 4095}, {31, 4096, 33.5}},
        {{0, INFINITY, false, false, false}, "a number >= 0", {0, 1e300, 7}, {-1, -1e-9, -7}},
        {{0, INFINITY, true, true, false}, "an integer > 0", {1, 2, 1e9}, {0, 0.5, -1}},
        {{16, 4096, false, true, false}, "an integer from 16 to 4096", {16, 640, 4096},
         {15, 4097, 640.5}},
    };
    char buf[96];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        CHECK_STR(so_range_text(&rows[i].r, buf, sizeof(buf)), rows[i].text);
        for (int k = 0; k < 3; k++) {
            so_test_check(so_range_contains(&rows[i].r, rows[i].in[k]), __FILE__, __LINE__,
                          "%s: accepts %g", rows[i].text, rows[i].in[k]);
            so_test_check(!so_range_contains(&rows[i].r, rows[i].out[k]), __FILE__, __LINE__,
                          "%s: refuses %g", rows[i].text, rows[i].out[k]);
        }
    }
}

int main(void)
{
    test_ranges();
    return so_test_done();
}
