/* Unit tests for detector/config/geometry.c: containment, area, simplicity, bounds. */
#include <math.h>
#include <string.h>

#include "geometry.h"
#include "testlib.h"

#define POLY(arr) ((struct so_polygon){(arr), sizeof(arr) / sizeof((arr)[0])})

static struct so_pointf square[] = {{0.1, 0.1}, {0.9, 0.1}, {0.9, 0.9}, {0.1, 0.9}};
static struct so_pointf square_cw[] = {{0.1, 0.1}, {0.1, 0.9}, {0.9, 0.9}, {0.9, 0.1}};
/* A "U": the notch between x 0.4..0.6 above y 0.5 is outside. */
static struct so_pointf u_shape[] = {{0.1, 0.1}, {0.9, 0.1}, {0.9, 0.9}, {0.6, 0.9},
                                     {0.6, 0.5}, {0.4, 0.5}, {0.4, 0.9}, {0.1, 0.9}};
static struct so_pointf bowtie[] = {{0.1, 0.1}, {0.9, 0.9}, {0.9, 0.1}, {0.1, 0.9}};
static struct so_pointf repeated[] = {{0.1, 0.1}, {0.9, 0.1}, {0.9, 0.1}, {0.1, 0.9}};
static struct so_pointf repeated_far[] = {{0.1, 0.1}, {0.5, 0.1}, {0.9, 0.5},
                                          {0.5, 0.1}, {0.5, 0.9}};
static struct so_pointf collinear[] = {{0.0, 0.0}, {0.5, 0.0}, {1.0, 0.0}};
static struct so_pointf foldback[] = {{0.1, 0.1}, {0.9, 0.1}, {0.5, 0.1}, {0.5, 0.9}};
static struct so_pointf triangle[] = {{0.0, 0.0}, {1.0, 0.0}, {0.0, 1.0}};
/* A vertex touching a non-adjacent edge (a "pinched" polygon). */
static struct so_pointf pinched[] = {{0.1, 0.1}, {0.9, 0.1}, {0.5, 0.1}, {0.3, 0.5}};
static struct so_pointf fractions[] = {{0.10, 0.60}, {0.45, 0.60}, {0.45, 0.95}, {0.10, 0.95}};

struct contains_case {
    const char *name;
    struct so_polygon poly;
    double x, y;
    bool inside;
};

struct simple_case {
    const char *name;
    struct so_polygon poly;
    bool self_intersects;
};

int main(void)
{
    const struct contains_case contains[] = {
        {"square centre", POLY(square), 0.5, 0.5, true},
        {"square outside left", POLY(square), 0.05, 0.5, false},
        {"square outside above", POLY(square), 0.5, 0.95, false},
        {"square on bottom edge", POLY(square), 0.5, 0.1, true},
        {"square on right edge", POLY(square), 0.9, 0.3, true},
        {"square on a vertex", POLY(square), 0.9, 0.9, true},
        {"square just outside an edge", POLY(square), 0.5, 0.1 - 1e-6, false},
        {"clockwise square centre", POLY(square_cw), 0.5, 0.5, true},
        {"clockwise square outside", POLY(square_cw), 0.95, 0.5, false},
        {"U in the left arm", POLY(u_shape), 0.2, 0.8, true},
        {"U in the notch", POLY(u_shape), 0.5, 0.8, false},
        {"U below the notch", POLY(u_shape), 0.5, 0.3, true},
        {"U on the notch floor", POLY(u_shape), 0.5, 0.5, true},
        {"U ray through vertex row", POLY(u_shape), 0.2, 0.5, true},
        {"U outside at vertex row", POLY(u_shape), 0.95, 0.5, false},
        {"decimal fractions on an edge", POLY(fractions), 0.3, 0.95, true},
        {"decimal fractions on a vertical edge", POLY(fractions), 0.45, 0.7, true},
        {"triangle hypotenuse", POLY(triangle), 0.5, 0.5, true},
        {"triangle beyond hypotenuse", POLY(triangle), 0.51, 0.5, false},
    };
    for (size_t i = 0; i < sizeof(contains) / sizeof(contains[0]); i++) {
        const struct contains_case *c = &contains[i];
        so_test_check(so_polygon_contains(&c->poly, c->x, c->y) == c->inside, __FILE__, __LINE__,
                      "contains: %s (%g, %g) -> %s", c->name, c->x, c->y,
                      c->inside ? "inside" : "outside");
    }

    /* Degenerate input never contains anything. */
    struct so_polygon two = {square, 2};
    CHECK(!so_polygon_contains(&two, 0.1, 0.1));
    CHECK(!so_polygon_contains(NULL, 0.5, 0.5));

    /* Area: shoelace, signed by winding. */
    struct so_polygon sq = POLY(square), sq_cw = POLY(square_cw), u = POLY(u_shape);
    struct so_polygon tri = POLY(triangle);
    CHECK_DBL(so_polygon_signed_area(&sq), 0.64, 1e-12);
    CHECK_DBL(so_polygon_signed_area(&sq_cw), -0.64, 1e-12);
    CHECK_DBL(so_polygon_signed_area(&u), 0.64 - 0.2 * 0.4, 1e-12);
    CHECK_DBL(so_polygon_signed_area(&tri), 0.5, 1e-12);
    CHECK_DBL(so_polygon_signed_area(&two), 0.0, 0.0);

    const struct simple_case simple[] = {
        {"square", POLY(square), false},
        {"clockwise square", POLY(square_cw), false},
        {"concave U", POLY(u_shape), false},
        {"triangle", POLY(triangle), false},
        {"bow-tie", POLY(bowtie), true},
        {"repeated consecutive point", POLY(repeated), true},
        {"repeated non-consecutive point", POLY(repeated_far), true},
        {"collinear triangle", POLY(collinear), true},
        {"edge folding back", POLY(foldback), true},
        {"vertex touching an edge", POLY(pinched), true},
    };
    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
        const struct simple_case *c = &simple[i];
        so_test_check(so_polygon_self_intersects(&c->poly) == c->self_intersects, __FILE__,
                      __LINE__, "self_intersects: %s -> %s", c->name,
                      c->self_intersects ? "yes" : "no");
    }

    /* Where: the bow-tie's edge 0 (p0-p1) crosses edge 2 (p2-p3). */
    struct so_polygon bt = POLY(bowtie);
    size_t ea = 99, eb = 99;
    CHECK(so_polygon_find_self_intersection(&bt, &ea, &eb));
    CHECK_INT(ea, 0);
    CHECK_INT(eb, 2);
    struct so_polygon rp = POLY(repeated);
    CHECK(so_polygon_find_self_intersection(&rp, &ea, &eb));
    CHECK_INT(ea, 1);
    CHECK_INT(eb, 2);
    ea = eb = 99;
    CHECK(!so_polygon_find_self_intersection(&sq, &ea, &eb));
    CHECK_INT(ea, 99);

    /* Bounds. */
    double x0, y0, x1, y1;
    so_polygon_bounds(&u, &x0, &y0, &x1, &y1);
    CHECK_DBL(x0, 0.1, 0.0);
    CHECK_DBL(y0, 0.1, 0.0);
    CHECK_DBL(x1, 0.9, 0.0);
    CHECK_DBL(y1, 0.9, 0.0);

    /* Large units (pixels) behave the same as fractions. */
    struct so_pointf px[] = {{0, 0}, {1920, 0}, {1920, 1080}, {0, 1080}};
    struct so_polygon pxp = POLY(px);
    CHECK(so_polygon_contains(&pxp, 960, 1080));
    CHECK(!so_polygon_contains(&pxp, 960, 1080.5));
    CHECK(!so_polygon_self_intersects(&pxp));
    return so_test_done();
}
