/* Zone rasterisation: fillPoly through the OpenCV shim, once per camera and size. */
#include "zone_mask.h"

#include <stdlib.h>

#include "socv.h"

void so_polygon_to_pixels(const struct so_polygon *poly, int width, int height, int *xy)
{
    for (size_t i = 0; i < poly->n; i++) {
        xy[2 * i] = (int)(poly->pts[i].x * (width - 1) + 0.5);
        xy[2 * i + 1] = (int)(poly->pts[i].y * (height - 1) + 0.5);
    }
}

void so_zone_mask_destroy(struct so_zone_mask *z)
{
    if (!z) {
        return;
    }
    free(z->mask);
    free(z->xy);
    free(z);
}

struct so_zone_mask *so_zone_mask_create(const struct so_polygon *poly, int width, int height)
{
    if (!poly || poly->n < 3 || width <= 0 || height <= 0) {
        return NULL;
    }
    struct so_zone_mask *z = calloc(1, sizeof(*z));
    if (!z) {
        return NULL;
    }
    z->width = width;
    z->height = height;
    z->poly = poly;
    z->n = (int)poly->n;
    z->mask = calloc((size_t)width * height, 1);
    z->xy = malloc(sizeof(int) * 2 * poly->n);
    if (!z->mask || !z->xy) {
        so_zone_mask_destroy(z);
        return NULL;
    }
    so_polygon_to_pixels(poly, width, height, z->xy);
    struct socv_view v = {z->mask, width, height, width, 1};
    if (socv_mask_fill_polygon(&v, z->xy, z->n, 255) != SOCV_OK) {
        so_zone_mask_destroy(z);
        return NULL;
    }
    z->x0 = width;
    z->y0 = height;
    for (int y = 0; y < height; y++) {
        for (int x = 0; x < width; x++) {
            if (z->mask[(size_t)y * width + x]) {
                z->area++;
                if (x < z->x0) {
                    z->x0 = x;
                }
                if (x + 1 > z->x1) {
                    z->x1 = x + 1;
                }
                if (y < z->y0) {
                    z->y0 = y;
                }
                z->y1 = y + 1;
            }
        }
    }
    if (z->area == 0) {
        z->x0 = z->y0 = 0;
    }
    return z;
}

bool so_zone_mask_contains(const struct so_zone_mask *z, double x, double y)
{
    double fx = z->width > 1 ? x / (z->width - 1) : 0;
    double fy = z->height > 1 ? y / (z->height - 1) : 0;
    return so_polygon_contains(z->poly, fx, fy);
}

double so_zone_mask_share(const struct so_zone_mask *z, int x, int y, int w, int h)
{
    if (w <= 0 || h <= 0) {
        return 0;
    }
    int x0 = x > 0 ? x : 0, y0 = y > 0 ? y : 0;
    int x1 = x + w < z->width ? x + w : z->width, y1 = y + h < z->height ? y + h : z->height;
    if (x1 <= x0 || y1 <= y0) {
        return 0;
    }
    long in = 0;
    for (int r = y0 > z->y0 ? y0 : z->y0; r < (y1 < z->y1 ? y1 : z->y1); r++) {
        const uint8_t *m = z->mask + (size_t)r * z->width;
        for (int c = x0 > z->x0 ? x0 : z->x0; c < (x1 < z->x1 ? x1 : z->x1); c++) {
            in += m[c] != 0;
        }
    }
    return (double)in / ((double)(x1 - x0) * (y1 - y0));
}
