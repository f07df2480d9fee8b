/*
 * Unit tests for detector/analysis/zone_mask.c: one table row per polygon (squares, either
 * winding, a concave U, triangles, edges on the frame border, polygons smaller than a pixel,
 * a zero-area sliver), each checked for its pixel area and bounding box, and for what holds
 * on every row: the mask is 0 or 255, its area and box agree with the bytes, its pixel polygon
 * is so_polygon_to_pixels(), and away from the edges it agrees with the exact polygon test.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geometry.h"
#include "testlib.h"
#include "zone_mask.h"

#define POLY(arr) ((struct so_polygon){(arr), sizeof(arr) / sizeof((arr)[0])})

/* On 101 x 51 pixels a tenth is 10 pixels across and 5 down (fractions times width - 1). */
static struct so_pointf square[] = {{0.1, 0.1}, {0.9, 0.1}, {0.9, 0.9}, {0.1, 0.9}};
static struct so_pointf square_cw[] = {{0.1, 0.1}, {0.1, 0.9}, {0.9, 0.9}, {0.9, 0.1}};
static struct so_pointf whole[] = {{0, 0}, {1, 0}, {1, 1}, {0, 1}};
static struct so_pointf right_half[] = {{0.5, 0}, {1, 0}, {1, 1}, {0.5, 1}};
static struct so_pointf left_column[] = {{0, 0.2}, {0, 0.8}, {0.1, 0.8}, {0.1, 0.2}};
/* A "U" open at the bottom: the notch x 0.4..0.6 below y 0.5 is outside. */
static struct so_pointf u_shape[] = {{0.1, 0.1}, {0.9, 0.1}, {0.9, 0.9}, {0.6, 0.9},
                                     {0.6, 0.5}, {0.4, 0.5}, {0.4, 0.9}, {0.1, 0.9}};
static struct so_pointf u_shape_cw[] = {{0.1, 0.9}, {0.4, 0.9}, {0.4, 0.5}, {0.6, 0.5},
                                        {0.6, 0.9}, {0.9, 0.9}, {0.9, 0.1}, {0.1, 0.1}};
static struct so_pointf corner_triangle[] = {{0, 0}, {1, 0}, {0, 1}};
static struct so_pointf corner_triangle_cw[] = {{0, 0}, {0, 1}, {1, 0}};
static struct so_pointf slanted[] = {{0.2, 0.9}, {0.5, 0.1}, {0.8, 0.9}};
static struct so_pointf tiny[] = {{0.5, 0.5}, {0.501, 0.5}, {0.5, 0.501}};
static struct so_pointf sliver[] = {{0.1, 0.5}, {0.9, 0.5}, {0.5, 0.5}};

struct zm_case {
    const char *name;
    struct so_polygon poly;
    int width, height;
    int area;               /* -1: only the tolerance below */
    double area_approx;     /* with area -1: expected area within 3% */
    int x0, y0, x1, y1;     /* expected bounding box */
};

static const struct zm_case cases[] = {
    /* pixel edges included: 10..90 x 5..45 */
    {"square", POLY(square), 101, 51, 81 * 41, 0, 10, 5, 91, 46},
    {"square clockwise", POLY(square_cw), 101, 51, 81 * 41, 0, 10, 5, 91, 46},
    {"whole frame", POLY(whole), 101, 51, 101 * 51, 0, 0, 0, 101, 51},
    {"right half, three edges on the border", POLY(right_half), 101, 51, 51 * 51, 0,
     50, 0, 101, 51},
    {"column on the left border", POLY(left_column), 101, 51, 11 * 31, 0, 0, 10, 11, 41},
    /* the notch keeps its edges inside: 19 columns x 20 rows (26..45) come out */
    {"concave U", POLY(u_shape), 101, 51, 81 * 41 - 19 * 20, 0, 10, 5, 91, 46},
    {"concave U clockwise", POLY(u_shape_cw), 101, 51, 81 * 41 - 19 * 20, 0, 10, 5, 91, 46},
    /* rows 0..100 hold 101, 100, ... 1 pixels */
    {"triangle in a corner", POLY(corner_triangle), 101, 101, 101 * 102 / 2, 0, 0, 0, 101, 101},
    {"triangle clockwise", POLY(corner_triangle_cw), 101, 101, 101 * 102 / 2, 0, 0, 0, 101, 101},
    /* (60 x 80) / 2 = 2400 inside the edges, plus the edge pixels */
    {"slanted triangle", POLY(slanted), 101, 101, -1, 2400 + 120, 20, 10, 81, 91},
    {"smaller than a pixel", POLY(tiny), 101, 51, 1, 0, 50, 25, 51, 26},
    {"one-pixel frame", POLY(whole), 1, 1, 1, 0, 0, 0, 1, 1},
    {"zero-area sliver: its line", POLY(sliver), 101, 51, 81, 0, 10, 25, 91, 26},
};

/* Is (x, y) on the same side of the polygon as all 8 points one pixel around it? */
static bool clear_of_edges(const struct so_zone_mask *z, int x, int y, bool *inside)
{
    *inside = so_zone_mask_contains(z, x, y);
    for (int dy = -1; dy <= 1; dy++) {
        for (int dx = -1; dx <= 1; dx++) {
            if (so_zone_mask_contains(z, x + dx, y + dy) != *inside) {
                return false;
            }
        }
    }
    return true;
}

static void run_case(const struct zm_case *c)
{
    printf("# case: %s\n", c->name);
    struct so_zone_mask *z = so_zone_mask_create(&c->poly, c->width, c->height);
    if (!CHECK(z != NULL)) {
        return;
    }
    CHECK_INT(z->width, c->width);
    CHECK_INT(z->height, c->height);
    CHECK(z->poly == &c->poly);
    CHECK_INT(z->n, c->poly.n);
    if (c->area >= 0) {
        CHECK_INT(z->area, c->area);
    } else {
        CHECK_DBL(z->area, c->area_approx, 0.03 * c->area_approx);
    }
    CHECK_INT(z->x0, c->x0);
    CHECK_INT(z->y0, c->y0);
    CHECK_INT(z->x1, c->x1);
    CHECK_INT(z->y1, c->y1);

    int xy[64];
    so_polygon_to_pixels(&c->poly, c->width, c->height, xy);
    CHECK(memcmp(xy, z->xy, sizeof(int) * 2 * c->poly.n) == 0);

    /* the bytes: 0 or 255, counted by area, inside the box; away from edges, exact */
    int counted = 0, bad_value = 0, outside_box = 0, disagree = 0, checked = 0;
    for (int y = 0; y < c->height; y++) {
        for (int x = 0; x < c->width; x++) {
            uint8_t v = z->mask[(size_t)y * c->width + x];
            bad_value += v != 0 && v != 255;
            counted += v != 0;
            outside_box += v && (x < z->x0 || x >= z->x1 || y < z->y0 || y >= z->y1);
            bool inside;
            if (clear_of_edges(z, x, y, &inside)) {
                checked++;
                disagree += (v != 0) != inside;
            }
        }
    }
    CHECK_INT(bad_value, 0);
    CHECK_INT(counted, z->area);
    CHECK_INT(outside_box, 0);
    CHECK_INT(disagree, 0);
    CHECK(checked > 0);
    so_zone_mask_destroy(z);
}

struct contains_case {
    double x, y;            /* pixels */
    bool inside;
};

/* so_zone_mask_contains() takes pixels and tests the polygon in fractions, edges included. */
static void test_contains(void)
{
    printf("# case: contains in pixels\n");
    struct so_polygon poly = POLY(u_shape);
    struct so_zone_mask *z = so_zone_mask_create(&poly, 101, 51);
    static const struct contains_case pts[] = {
        {50, 15, true},     /* above the notch */
        {50, 35, false},    /* in the notch */
        {20, 40, true},     /* left arm */
        {10, 5, true},      /* a vertex */
        {90, 30, true},     /* right edge */
        {90.5, 30, false},  /* half a pixel beyond it */
        {5, 20, false},
        {100, 50, false},
    };
    for (size_t i = 0; z && i < sizeof(pts) / sizeof(pts[0]); i++) {
        so_test_check(so_zone_mask_contains(z, pts[i].x, pts[i].y) == pts[i].inside, __FILE__,
                      __LINE__, "contains(%g, %g) == %d", pts[i].x, pts[i].y, pts[i].inside);
    }
    so_zone_mask_destroy(z);

    /* a one-pixel-wide frame maps every x to fraction 0 */
    struct so_pointf left_edge[] = {{0, 0}, {0.2, 0}, {0.2, 1}, {0, 1}};
    struct so_polygon edge_poly = POLY(left_edge);
    z = so_zone_mask_create(&edge_poly, 1, 40);
    CHECK(z != NULL && so_zone_mask_contains(z, 7, 20));
    so_zone_mask_destroy(z);
}

/* Refusals: no polygon, fewer than 3 points, an empty frame. */
static void test_invalid(void)
{
    printf("# case: invalid input\n");
    struct so_polygon poly = POLY(square);
    struct so_polygon two = {square, 2};
    CHECK(so_zone_mask_create(NULL, 10, 10) == NULL);
    CHECK(so_zone_mask_create(&two, 10, 10) == NULL);
    CHECK(so_zone_mask_create(&poly, 0, 10) == NULL);
    CHECK(so_zone_mask_create(&poly, 10, -1) == NULL);
    so_zone_mask_destroy(NULL);
}

/*
 * so_zone_mask_share on the right half of a 100 x 50 frame (x >= 50 inside, from
 * round(0.5 * 99) = 50): rectangles wholly in, wholly out, straddling the edge by known
 * amounts, clipped by the frame, and empty.
 */
static void test_share(void)
{
    struct so_zone_mask *z = so_zone_mask_create(&POLY(right_half), 100, 50);
    static const struct {
        int x, y, w, h;
        double share;
    } shares[] = {
        {60, 10, 20, 10, 1.0},      /* inside */
        {0, 10, 20, 10, 0.0},       /* outside */
        {40, 10, 20, 10, 0.5},      /* half over the edge */
        {45, 0, 20, 50, 0.75},      /* three quarters in */
        {90, 40, 20, 20, 1.0},      /* clipped to the frame: what is left is inside */
        {-10, -10, 5, 5, 0.0},      /* wholly off the frame */
        {60, 10, 0, 10, 0.0},       /* empty */
    };
    for (size_t i = 0; z && i < sizeof(shares) / sizeof(shares[0]); i++) {
        double got = so_zone_mask_share(z, shares[i].x, shares[i].y, shares[i].w, shares[i].h);
        so_test_check(fabs(got - shares[i].share) < 1e-9, __FILE__, __LINE__,
                      "share of %d,%d %dx%d: %.3f, want %.3f", shares[i].x, shares[i].y,
                      shares[i].w, shares[i].h, got, shares[i].share);
    }
    so_test_check(z != NULL, __FILE__, __LINE__, "right half rasterised");
    so_zone_mask_destroy(z);
}

int main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_case(&cases[i]);
    }
    test_contains();
    test_invalid();
    test_share();
    return so_test_done();
}
