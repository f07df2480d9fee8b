/*
 * Plane geometry on polygons given in frame fractions (or any unit): containment, area,
 * simplicity. Small value types; no allocation except so_polygon storage.
 */
#ifndef SO_CONFIG_GEOMETRY_H
#define SO_CONFIG_GEOMETRY_H

#include <stdbool.h>
#include <stddef.h>

struct so_pointf {
    double x, y;
};

struct so_polygon {
    struct so_pointf *pts;  /* owned by whoever owns the polygon */
    size_t n;
};

/* Signed area (shoelace); positive for counter-clockwise in a y-up frame. */
double so_polygon_signed_area(const struct so_polygon *p);

/* True if (x, y) is inside or on the boundary (either winding). */
bool so_polygon_contains(const struct so_polygon *p, double x, double y);

/* Same points in the same order? */
bool so_polygon_equal(const struct so_polygon *a, const struct so_polygon *b);

/* True if two non-adjacent edges intersect or touch, or adjacent edges overlap/fold back. */
bool so_polygon_self_intersects(const struct so_polygon *p);

/*
 * Like so_polygon_self_intersects(), and say where: edge i runs from point i to point i+1 (the
 * last edge closes the ring). A repeated consecutive point reports the zero-length edge and the
 * next one. Either out-pointer may be NULL; they are untouched when it returns false.
 */
bool so_polygon_find_self_intersection(const struct so_polygon *p, size_t *edge_a,
                                       size_t *edge_b);

/* Axis-aligned bounding box. */
void so_polygon_bounds(const struct so_polygon *p, double *x0, double *y0, double *x1, double *y1);

#endif
