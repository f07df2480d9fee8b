/*
 * An axis-aligned box in pixels and the few measures every module compares boxes with: the
 * detector (NMS), the tracker, the rules (which blob is which vehicle) and the scheduler.
 * A small value type: passed by value, no allocation. Pure functions, thread-safe.
 *
 * Arithmetic: corners and the intersection are computed in int, areas and ratios in double
 * (exact for any box of a frame). A box with w <= 0 or h <= 0 is empty: it meets nothing.
 */
#ifndef SO_UTIL_BOX_H
#define SO_UTIL_BOX_H

#include <stdbool.h>

/* An axis-aligned box in pixels: top-left corner and size. */
struct so_box {
    int x, y, w, h;
};

/* Intersection over union of two boxes (0 when either is empty). */
double so_box_iou(struct so_box a, struct so_box b);

/* Share of box a that lies in box b, 0..1 (0 when a is empty or they do not meet). */
double so_box_covered(struct so_box a, struct so_box b);

/*
 * Intersection over the smaller box's area, 0..1 (0 when they do not meet): 1 when one box
 * holds the other. The measure for "the same object framed twice" (a fragment of a vehicle, a
 * second box on the same car), which IoU underrates when the sizes differ.
 */
double so_box_overlap_smaller(struct so_box a, struct so_box b);

/* Does box `out` hold box `in` entirely (edges may touch)? */
bool so_box_inside(struct so_box in, struct so_box out);

/* Box b moved by (dx, dy), then pushed back inside a w x h frame (its size kept; a box larger
 * than the frame ends at its top-left corner). */
struct so_box so_box_moved(struct so_box b, int dx, int dy, int w, int h);

/* Box b cut to a w x h frame (empty, w or h 0, when they do not meet). */
struct so_box so_box_clip(struct so_box b, int w, int h);

/* Is point (x, y) in box b (left and top edges in, right and bottom out)? Per-pixel loops call
 * it, hence inline. */
static inline bool so_box_contains(const struct so_box *b, double x, double y)
{
    return x >= b->x && x < b->x + b->w && y >= b->y && y < b->y + b->h;
}

#endif
