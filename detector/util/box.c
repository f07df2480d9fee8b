/*
 * Why this file exists: a box, its overlap and its IoU were written four times (detector,
 * tracker, rules, scheduler) and had started to differ at the edges (empty boxes, which area
 * divides). One definition, table-tested in tests/unit/test_box.c.
 *
 * The intersection is an int box; the areas are products in double of int sides, so every
 * ratio here is the same bit for bit whichever caller computes it.
 */
#include "box.h"

/* The intersection's width and height; false when the boxes do not meet (or one is empty). */
static bool intersect(struct so_box a, struct so_box b, int *w, int *h)
{
    int x0 = a.x > b.x ? a.x : b.x;
    int y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
    int y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    if (x1 <= x0 || y1 <= y0) {
        return false;
    }
    *w = x1 - x0;
    *h = y1 - y0;
    return true;
}

static double area(struct so_box b)
{
    return (double)b.w * b.h;
}

double so_box_iou(struct so_box a, struct so_box b)
{
    int w, h;
    if (a.w <= 0 || a.h <= 0 || b.w <= 0 || b.h <= 0 || !intersect(a, b, &w, &h)) {
        return 0.0;
    }
    double inter = (double)w * h;
    return inter / (area(a) + area(b) - inter);
}

double so_box_covered(struct so_box a, struct so_box b)
{
    int w, h;
    if (a.w <= 0 || a.h <= 0 || !intersect(a, b, &w, &h)) {
        return 0.0;
    }
    return (double)w * h / area(a);
}

/* Boxes that meet both have a positive area (a box with w or h <= 0 meets nothing), so the
 * division is safe. */
double so_box_overlap_smaller(struct so_box a, struct so_box b)
{
    int w, h;
    if (!intersect(a, b, &w, &h)) {
        return 0.0;
    }
    return (double)w * h / (area(a) < area(b) ? area(a) : area(b));
}

bool so_box_inside(struct so_box in, struct so_box out)
{
    return in.x >= out.x && in.y >= out.y && in.x + in.w <= out.x + out.w &&
           in.y + in.h <= out.y + out.h;
}

struct so_box so_box_moved(struct so_box b, int dx, int dy, int w, int h)
{
    b.x += dx;
    b.y += dy;
    b.x = b.x + b.w > w ? w - b.w : b.x;
    b.y = b.y + b.h > h ? h - b.h : b.y;
    b.x = b.x < 0 ? 0 : b.x;
    b.y = b.y < 0 ? 0 : b.y;
    return b;
}

struct so_box so_box_clip(struct so_box b, int w, int h)
{
    int x0 = b.x > 0 ? b.x : 0, y0 = b.y > 0 ? b.y : 0;
    int x1 = b.x + b.w < w ? b.x + b.w : w, y1 = b.y + b.h < h ? b.y + b.h : h;
    if (x1 <= x0 || y1 <= y0) {
        return (struct so_box){x0, y0, 0, 0};
    }
    return (struct so_box){x0, y0, x1 - x0, y1 - y0};
}
