/*
 * Global shift of a frame against a reference image (camera shake on a pole in the wind).
 * Pure functions over caller-owned buffers; thread-compatible (one estimator per thread).
 */
#ifndef SO_ANALYSIS_STABILISE_H
#define SO_ANALYSIS_STABILISE_H

#include <stdbool.h>
#include <stdint.h>

struct so_shift {
    double dx, dy;      /* content at ref (x, y) is at frame (x + dx, y + dy) */
    double match;       /* normalised correlation at the integer shift found, -1..1 */
    int points;         /* reference points used */
    bool ok;            /* a shift was found (enough texture, match >= min_match) */
};

struct so_stabiliser;

/* An estimator for w x h images (both >= 16) and shifts up to max_shift pixels (1..16).
 * NULL when out of memory or bad arguments. */
struct so_stabiliser *so_stabiliser_create(int w, int h, int max_shift);

/* Accepts NULL. */
void so_stabiliser_destroy(struct so_stabiliser *s);

/*
 * Where did the scene of `ref` (float w x h, row-major; e.g. the static model's background)
 * go in `frame` (w x h bytes, row-major)? Pixels where `skip` (may be NULL) is non-zero are
 * not used (things that move on their own). The estimate allows a global gain and offset
 * between the two (auto-exposure, clouds). Returns the shift in `out`; out->ok is false when
 * the reference has too little texture or no shift within max_shift matches (a moved view,
 * a covered lens: the view check's business).
 */
void so_stabiliser_estimate(struct so_stabiliser *s, const float *ref, const uint8_t *frame,
                            const uint8_t *skip, struct so_shift *out);

/*
 * dst(x, y) = src(x + dx, y + dy), bilinear, coordinates clamped to the image: `src` moved
 * back onto the reference. dst and src are the estimator's w x h bytes and must not overlap.
 */
void so_stabiliser_warp(struct so_stabiliser *s, const uint8_t *src, uint8_t *dst, double dx,
                        double dy);

#endif
