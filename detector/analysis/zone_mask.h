/*
 * A zone polygon rasterised at the analysis size: a byte mask, its pixel area and bounding
 * box, and the polygon in pixels for drawing. Built once per camera (and again if the frame
 * size changes). Owned by the caller of create; read-only afterwards.
 */
#ifndef SO_ANALYSIS_ZONE_MASK_H
#define SO_ANALYSIS_ZONE_MASK_H

#include <stdbool.h>
#include <stdint.h>

#include "geometry.h"

struct so_zone_mask {
    int width, height;
    uint8_t *mask;          /* width*height, 255 inside */
    int area;               /* pixels inside */
    int x0, y0, x1, y1;     /* bounding box, inclusive-exclusive */
    int *xy;                /* polygon in pixels: x0,y0,x1,y1,... */
    int n;                  /* points */
    const struct so_polygon *poly;  /* borrowed from the config */
};

/* Rasterise `poly` (frame fractions, >= 3 points, either winding) at width x height: the
 * pixels inside and on its edges (cv::fillPoly). `poly` is borrowed and must outlive the mask.
 * NULL for bad arguments or out of memory. */
struct so_zone_mask *so_zone_mask_create(const struct so_polygon *poly, int width, int height);
/* Accepts NULL. */
void so_zone_mask_destroy(struct so_zone_mask *z);

/* Is the pixel point (x, y) inside the zone polygon (exact polygon test)? */
bool so_zone_mask_contains(const struct so_zone_mask *z, double x, double y);

/*
 * Share (0..1) of the pixels of the rectangle x, y, w, h (clipped to the frame) that lie in the
 * zone's mask; 0 for an empty rectangle. What a vehicle's ground footprint has inside the zone
 * (rules/: membership by share, not by one point).
 */
double so_zone_mask_share(const struct so_zone_mask *z, int x, int y, int w, int h);

/* Polygon points in pixels for a polygon given in fractions (x * (width - 1), rounded; the
 * same for y); xy must hold 2*poly->n ints. */
void so_polygon_to_pixels(const struct so_polygon *poly, int width, int height, int *xy);

#endif
