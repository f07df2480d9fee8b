/*
 * Unit tests for detector/util/box.c: the box measures shared by the detector, the tracker and
 * the rules. One table of box pairs with every measure expected, both orders where the measure
 * is symmetric; edge cases: touching edges, empty and negative sizes, one box inside the other,
 * equal areas.
 */
#include <string.h>

#include "box.h"
#include "testlib.h"

static void test_measures(void)
{
    static const struct {
        struct so_box a, b;
        double iou;
        double covered_ab;      /* share of a in b */
        double covered_ba;      /* share of b in a */
        double smaller;         /* intersection over the smaller area */
        bool a_in_b, b_in_a;
    } rows[] = {
        /* the same box */
        {{0, 0, 10, 10}, {0, 0, 10, 10}, 1.0, 1.0, 1.0, 1.0, true, true},
        /* half over, equal areas */
        {{0, 0, 10, 10}, {5, 0, 10, 10}, 50.0 / 150.0, 0.5, 0.5, 0.5, false, false},
        /* touching edges meet nowhere */
        {{0, 0, 10, 10}, {10, 0, 10, 10}, 0.0, 0.0, 0.0, 0.0, false, false},
        {{0, 0, 10, 10}, {0, 10, 10, 10}, 0.0, 0.0, 0.0, 0.0, false, false},
        /* apart */
        {{0, 0, 10, 10}, {20, 20, 5, 5}, 0.0, 0.0, 0.0, 0.0, false, false},
        /* b inside a: the smaller is wholly covered */
        {{0, 0, 10, 10}, {2, 2, 5, 5}, 25.0 / 100.0, 0.25, 1.0, 1.0, false, true},
        /* b inside a, sharing two edges */
        {{0, 0, 10, 10}, {0, 0, 5, 10}, 0.5, 0.5, 1.0, 1.0, false, true},
        /* a fragment of a car's blob, partly outside the car's box */
        {{0, 0, 40, 20}, {30, 10, 20, 20}, 100.0 / 1100.0, 100.0 / 800.0, 0.25, 0.25, false,
         false},
        /* empty boxes: zero width, zero height, negative size */
        {{0, 0, 0, 10}, {0, 0, 10, 10}, 0.0, 0.0, 0.0, 0.0, true, false},
        {{0, 0, 10, 0}, {0, 0, 10, 10}, 0.0, 0.0, 0.0, 0.0, true, false},
        {{5, 5, -3, 4}, {0, 0, 10, 10}, 0.0, 0.0, 0.0, 0.0, true, false},
        /* negative coordinates */
        {{-10, -10, 20, 20}, {0, 0, 20, 20}, 100.0 / 700.0, 0.25, 0.25, 0.25, false, false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct so_box a = rows[i].a, b = rows[i].b;
        CHECK_DBL(so_box_iou(a, b), rows[i].iou, 1e-12);
        CHECK_DBL(so_box_iou(b, a), rows[i].iou, 1e-12);
        CHECK_DBL(so_box_covered(a, b), rows[i].covered_ab, 1e-12);
        CHECK_DBL(so_box_covered(b, a), rows[i].covered_ba, 1e-12);
        CHECK_DBL(so_box_overlap_smaller(a, b), rows[i].smaller, 1e-12);
        CHECK_DBL(so_box_overlap_smaller(b, a), rows[i].smaller, 1e-12);
        CHECK_INT(so_box_inside(a, b), rows[i].a_in_b);
        CHECK_INT(so_box_inside(b, a), rows[i].b_in_a);
    }
}

/* The overlap of the smaller is exactly the covered share of the smaller box, bit for bit (the
 * rules compared it that way before it was one function). */
static void test_smaller_is_covered_of_smaller(void)
{
    for (int w = 1; w < 30; w += 7) {
        for (int x = -20; x < 30; x += 3) {
            struct so_box a = {0, 0, 17, 11}, b = {x, x / 2, w, 2 * w + 1};
            double as = (double)a.w * a.h, bs = (double)b.w * b.h;
            double want = as < bs ? so_box_covered(a, b) : so_box_covered(b, a);
            CHECK(so_box_overlap_smaller(a, b) == want);
        }
    }
}

static void test_contains(void)
{
    static const struct {
        double x, y;
        bool in;
    } rows[] = {
        {10, 20, true},         /* top-left corner is in */
        {14.9, 27.9, true},
        {15, 20, false},        /* right edge is out */
        {10, 28, false},        /* bottom edge is out */
        {9.99, 20, false},
        {12.5, 24, true},
    };
    struct so_box b = {10, 20, 5, 8};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        CHECK_INT(so_box_contains(&b, rows[i].x, rows[i].y), rows[i].in);
    }
    struct so_box empty = {10, 20, 0, 8};
    CHECK(!so_box_contains(&empty, 10, 20));
}

static void test_moved(void)
{
    static const struct {
        struct so_box b;
        int dx, dy;
        struct so_box want;
    } rows[] = {
        {{10, 10, 20, 20}, 5, -3, {15, 7, 20, 20}},
        {{10, 10, 20, 20}, 100, 0, {80, 10, 20, 20}},      /* pushed back from the right */
        {{10, 10, 20, 20}, -30, -30, {0, 0, 20, 20}},      /* and from the top-left */
        {{10, 10, 20, 20}, 0, 75, {10, 60, 20, 20}},       /* and from the bottom */
        {{0, 0, 150, 20}, 5, 0, {0, 0, 150, 20}},          /* wider than the frame: at 0 */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct so_box m = so_box_moved(rows[i].b, rows[i].dx, rows[i].dy, 100, 80);
        CHECK(memcmp(&m, &rows[i].want, sizeof(m)) == 0);
        CHECK_INT(m.w, rows[i].b.w);
        CHECK_INT(m.h, rows[i].b.h);
    }
}

int main(void)
{
    test_measures();
    test_smaller_is_covered_of_smaller();
    test_contains();
    test_moved();
    return so_test_done();
}
