/*
 * Why this file exists: zones and privacy masks are polygons drawn by operators in frame
 * fractions. The config loader must reject polygons that make no sense (crossed edges, points
 * folded back onto an edge) and the rules must decide whether a ground point is inside a zone.
 * Both need the same small set of predicates, kept here so they are tested once.
 *
 * Robustness: every decision goes through one orientation test, whose result is treated as
 * "collinear" when it is within a relative epsilon of zero. Coordinates are fractions typed by
 * hand or by a drawing tool (0.1, 0.45, ...), which are not exact in binary; without the
 * epsilon a point drawn on an edge could test as just outside, and two edges meeting at a
 * vertex drawn twice could be missed as "touching". Polygons are small (tens of points), so the
 * simplicity test is the plain O(n^2) pairwise edge check: no sweep line needed.
 */
#include "geometry.h"

#include <math.h>

/* Relative tolerance for orientation and "on segment" tests. */
#define GEOM_EPS 1e-9

double so_polygon_signed_area(const struct so_polygon *p)
{
    if (!p || p->n < 3) {
        return 0.0;
    }
    double sum = 0.0;
    for (size_t i = 0; i < p->n; i++) {
        const struct so_pointf *a = &p->pts[i];
        const struct so_pointf *b = &p->pts[(i + 1) % p->n];
        sum += a->x * b->y - b->x * a->y;
    }
    return 0.5 * sum;
}

/*
 * Sign of the cross product (b - a) x (c - a): 1 counter-clockwise, -1 clockwise, 0 collinear
 * within a tolerance relative to the lengths involved (so it works in any unit).
 */
static int orient(struct so_pointf a, struct so_pointf b, struct so_pointf c)
{
    double abx = b.x - a.x, aby = b.y - a.y;
    double acx = c.x - a.x, acy = c.y - a.y;
    double cross = abx * acy - aby * acx;
    double scale = (fabs(abx) + fabs(aby)) * (fabs(acx) + fabs(acy));
    if (fabs(cross) <= GEOM_EPS * scale) {
        return 0;
    }
    return cross > 0 ? 1 : -1;
}

static bool nearly_equal(struct so_pointf a, struct so_pointf b, double tol)
{
    return fabs(a.x - b.x) <= tol && fabs(a.y - b.y) <= tol;
}

/* Tolerance in absolute units for a segment: relative to its size, never below a tiny floor. */
static double seg_tol(struct so_pointf a, struct so_pointf b)
{
    double s = fabs(a.x) + fabs(a.y) + fabs(b.x) + fabs(b.y);
    return GEOM_EPS * (s > 1.0 ? s : 1.0);
}

/* Is c, known to be collinear with a-b, within the closed segment's bounding box? */
static bool within_box(struct so_pointf a, struct so_pointf b, struct so_pointf c, double tol)
{
    return c.x >= fmin(a.x, b.x) - tol && c.x <= fmax(a.x, b.x) + tol &&
           c.y >= fmin(a.y, b.y) - tol && c.y <= fmax(a.y, b.y) + tol;
}

static bool on_segment(struct so_pointf a, struct so_pointf b, struct so_pointf c)
{
    double tol = seg_tol(a, b);
    if (nearly_equal(a, b, tol)) {
        return nearly_equal(a, c, tol);
    }
    return orient(a, b, c) == 0 && within_box(a, b, c, tol);
}

/* Do the closed segments p1-p2 and q1-q2 share at least one point? */
static bool segments_touch(struct so_pointf p1, struct so_pointf p2, struct so_pointf q1,
                           struct so_pointf q2)
{
    int o1 = orient(p1, p2, q1), o2 = orient(p1, p2, q2);
    int o3 = orient(q1, q2, p1), o4 = orient(q1, q2, p2);
    if (o1 * o2 < 0 && o3 * o4 < 0) {
        return true;
    }
    return on_segment(p1, p2, q1) || on_segment(p1, p2, q2) || on_segment(q1, q2, p1) ||
           on_segment(q1, q2, p2);
}

bool so_polygon_contains(const struct so_polygon *p, double x, double y)
{
    if (!p || p->n < 3) {
        return false;
    }
    struct so_pointf c = {x, y};
    bool inside = false;
    for (size_t i = 0, j = p->n - 1; i < p->n; j = i++) {
        struct so_pointf a = p->pts[j], b = p->pts[i];
        if (on_segment(a, b, c)) {
            return true;
        }
        /* Even-odd ray cast to +x; half-open in y so a vertex is counted once. */
        if ((b.y > y) != (a.y > y)) {
            double xi = b.x + (y - b.y) * (a.x - b.x) / (a.y - b.y);
            if (x < xi) {
                inside = !inside;
            }
        }
    }
    return inside;
}

bool so_polygon_find_self_intersection(const struct so_polygon *p, size_t *edge_a,
                                       size_t *edge_b)
{
    if (!p || p->n < 3) {
        return false;
    }
    size_t n = p->n;
#define EDGE_A(i) p->pts[(i)]
#define EDGE_B(i) p->pts[((i) + 1) % n]
    for (size_t i = 0; i < n; i++) {
        /* A zero-length edge (a point repeated) is degenerate on its own. */
        if (nearly_equal(EDGE_A(i), EDGE_B(i), seg_tol(EDGE_A(i), EDGE_B(i)))) {
            if (edge_a) {
                *edge_a = i;
            }
            if (edge_b) {
                *edge_b = (i + 1) % n;
            }
            return true;
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            bool adjacent_fwd = (j == i + 1);            /* i ends where j starts */
            bool adjacent_wrap = (i == 0 && j == n - 1); /* j ends where i starts */
            bool hit;
            if (adjacent_fwd || adjacent_wrap) {
                /* Adjacent edges share a vertex; they are wrong only when they fold back onto
                 * each other (collinear and leaving the shared vertex the same way). */
                struct so_pointf shared = adjacent_fwd ? EDGE_B(i) : EDGE_A(i);
                struct so_pointf u = adjacent_fwd ? EDGE_A(i) : EDGE_B(i);
                struct so_pointf v = adjacent_fwd ? EDGE_B(j) : EDGE_A(j);
                hit = orient(shared, u, v) == 0 &&
                      (u.x - shared.x) * (v.x - shared.x) + (u.y - shared.y) * (v.y - shared.y) >
                          0;
            } else {
                hit = segments_touch(EDGE_A(i), EDGE_B(i), EDGE_A(j), EDGE_B(j));
            }
            if (hit) {
                if (edge_a) {
                    *edge_a = i;
                }
                if (edge_b) {
                    *edge_b = j;
                }
                return true;
            }
        }
    }
#undef EDGE_A
#undef EDGE_B
    return false;
}

bool so_polygon_self_intersects(const struct so_polygon *p)
{
    return so_polygon_find_self_intersection(p, NULL, NULL);
}

void so_polygon_bounds(const struct so_polygon *p, double *x0, double *y0, double *x1, double *y1)
{
    double bx0 = 0, by0 = 0, bx1 = 0, by1 = 0;
    if (p && p->n > 0) {
        bx0 = bx1 = p->pts[0].x;
        by0 = by1 = p->pts[0].y;
        for (size_t i = 1; i < p->n; i++) {
            bx0 = fmin(bx0, p->pts[i].x);
            bx1 = fmax(bx1, p->pts[i].x);
            by0 = fmin(by0, p->pts[i].y);
            by1 = fmax(by1, p->pts[i].y);
        }
    }
    if (x0) {
        *x0 = bx0;
    }
    if (y0) {
        *y0 = by0;
    }
    if (x1) {
        *x1 = bx1;
    }
    if (y1) {
        *y1 = by1;
    }
}

bool so_polygon_equal(const struct so_polygon *a, const struct so_polygon *b)
{
    if (a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (a->pts[i].x != b->pts[i].x || a->pts[i].y != b->pts[i].y) {
            return false;
        }
    }
    return true;
}
