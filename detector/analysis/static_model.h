/*
 * Static-foreground model: a class-agnostic per-pixel "stationary age" map.
 *
 * For each analysis frame it answers, per pixel, "for how many seconds has something that is
 * not the background been standing still here?". Passing people and cars are foreground but
 * moving, so they never age; an object put down and left starts ageing about a second after it
 * stops; a pixel briefly covered by traffic in front of a static object keeps its age (hold).
 * Illumination: a robust local gain field (block medians of frame/background ratios, then a
 * spatial median over a wide neighbourhood) normalises each frame before any comparison, so a
 * cloud or lights switched on change nothing; the background is kept at a reference
 * illumination.
 *
 * Ownership: the model owns its maps; the pointers returned by the accessors stay valid until
 * the next update or destroy. Not thread-safe: one analysis thread per model.
 */
#ifndef SO_ANALYSIS_STATIC_MODEL_H
#define SO_ANALYSIS_STATIC_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "stabilise.h"

struct so_static_params {
    double warmup_s;        /* background is a temporal median over this first period (8) */
    double bg_tau_s;        /* adaptation time constant of background pixels (10) */
    double fast_tau_s;      /* time constant of the short-term model ("moving" test) (0.8) */
    double fg_threshold;    /* absolute grey-level threshold (14) */
    double fg_relative;     /* plus this share of the background level (0.10) */
    double miss_reset_s;    /* a static pixel must look like background this long to reset (1.0) */
    double hold_max_s;      /* longest occlusion a static pixel survives while "moving" (120) */
    int stabilise_px;       /* camera shake: frames are moved back onto the background by up
                             * to this many pixels (analysis/stabilise.h); 0: off (6) */
};

/* Fill defaults. */
void so_static_params_default(struct so_static_params *p);

/* The fewest frames a second the model works as designed with: its warm-up takes a sample every
 * warmup_s / 16 seconds, and its "moving" test averages frames over fast_tau_s (sampled less
 * often it compares single noisy frames). 2 with the defaults. */
double so_static_params_min_fps(const struct so_static_params *p);

struct so_static_model;

/* A model for width x height frames (both >= 8); NULL if out of memory or bad size. `params`
 * may be NULL for defaults (copied). */
struct so_static_model *so_static_model_create(int width, int height,
                                               const struct so_static_params *params);
/* Accepts NULL. */
void so_static_model_destroy(struct so_static_model *m);

/*
 * Feed one grey frame (width x height, `stride` bytes per row) at media time `media_s`
 * (seconds, monotonic). Returns 0, or a negative errno on bad input.
 */
int so_static_model_update(struct so_static_model *m, const uint8_t *gray, int stride,
                           double media_s);

/* Per-pixel stationary age in seconds (row-major, width*height). */
const float *so_static_model_age(const struct so_static_model *m);

/* Per-pixel foreground flags of the last update (255 = differs from background). */
const uint8_t *so_static_model_foreground(const struct so_static_model *m);

/* Share of the pixels of box x,y,w,h (clipped to the frame) that moved in the last update
 * (differ from the short-term average): a parked car is still, traffic is not. */
double so_static_model_moving_share(const struct so_static_model *m, int x, int y, int w, int h);

/* The shift of the last frame against the background (ok false: none found or none sought,
 * e.g. while warming up); frames are moved back by it when it is over 0.3 px. */
struct so_shift so_static_model_shift(const struct so_static_model *m);

/* Median of the local gain field of the last frame (1.0 = reference illumination). */
double so_static_model_gain(const struct so_static_model *m);

/* True while the background is still being learnt. */
bool so_static_model_warming_up(const struct so_static_model *m);

/* Media time of the first frame the model saw (what its warm-up background shows was there
 * then), -1 before one. */
double so_static_model_first_s(const struct so_static_model *m);

/*
 * Absorb the pixels of `mask` (non-zero, width*height, row-major) into the background: their
 * age is reset and their background becomes the current frame. Used for ghosts (an object
 * that was part of the learnt background and has left).
 */
void so_static_model_absorb(struct so_static_model *m, const uint8_t *mask);

/*
 * Did the light change (the local gain move, as part of a change over much of the frame)
 * anywhere over the box x,y,w,h (pixels) between media times t0 and t1 (within the last 128 s)?
 * Tells a vanished shadow from an object: the former comes to rest while the light changes.
 */
bool so_static_model_light_changed(const struct so_static_model *m, int x, int y, int w, int h,
                                   double t0, double t1);

/*
 * The frames up to media time `media_s` are not analysed (the view could not be trusted: camera
 * moved or tampered, analysis/view_check): time stands still for the model. The next update
 * measures its time step from `media_s`, so nothing ages, adapts or is forgotten over the gap,
 * and the warm-up, if still running, is extended by the gap. No effect before the first update.
 */
void so_static_model_skip(struct so_static_model *m, double media_s);

/*
 * The media time at which a pixel of stationary age `age` (so_static_model_age) came to rest.
 * Ages count analysed time only: over a gap (so_static_model_skip) they stand still, so
 * "now - age" puts a thing at rest from before the gap that much later (a car parked before a
 * PTZ camera turned away to another preset for half a minute came to rest, by its age, while
 * the camera was away). Without gaps it is the last update's media time less `age`.
 */
double so_static_model_rest_since(const struct so_static_model *m, double age);

/*
 * The camera came back a few pixels off (a PTZ preset is repeatable to a pixel or two): move
 * the model's state with the scene, so that what is at (x, y) now is at (x + dx, y + dy).
 * Pixels that come into view take the nearest background and no age. Returns 0, -EINVAL for
 * a shift of half the frame or more, -ENOMEM (the model is unchanged).
 */
int so_static_model_translate(struct so_static_model *m, int dx, int dy);

/* Current normalised frame and background (for ghost tests and snapshots). */
const float *so_static_model_frame(const struct so_static_model *m);
const float *so_static_model_background(const struct so_static_model *m);

/*
 * Burned-in overlays (the camera's on-screen display, found by keeping their raw value through
 * light changes; the model compares them raw): per pixel 1 on one, 2 within the blur's reach
 * of one (the overlay mixed with the scene, which the model cannot judge: the rules leave its
 * edges out of outlines and learn a blob that lies wholly there), 0 elsewhere. NULL while there
 * is none.
 */
const uint8_t *so_static_model_overlay(const struct so_static_model *m);

#endif
