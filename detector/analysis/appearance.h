/*
 * The look of a box: its grey crop sampled on at most SO_LOOK_MAX x SO_LOOK_MAX points and
 * normalised to zero mean and unit variance, so that the normalised cross-correlation (NCC) of
 * two looks ignores the light's gain and offset (a cloud, auto-exposure, the IR switch's new
 * contrast). The tracker's "is it the same car?" and the rules' "is it still there?" both ask it.
 * Pure functions; no allocation.
 */
#ifndef SO_ANALYSIS_APPEARANCE_H
#define SO_ANALYSIS_APPEARANCE_H

#include <stdbool.h>
#include <stddef.h>

#include "box.h"
#include "frame.h"

#define SO_LOOK_MAX 96

/* The sampling grid for a box of w x h pixels: min(w, SO_LOOK_MAX) x min(h, SO_LOOK_MAX). */
void so_look_grid(int w, int h, int *tw, int *th);

/*
 * Sample the grey plane of `f` over `box` on a tw x th grid into out (tw*th floats), normalised.
 * Returns false when the box is not wholly inside the frame, is smaller than 4x4, or is flat
 * (variance below 4 grey levels squared): then there is no look to compare.
 */
bool so_look_sample(const struct so_frame *f, struct so_box box, int tw, int th, float *out);

/* The same, from a float map of width x height values (the static model's background). */
bool so_look_sample_map(const float *map, int width, int height, struct so_box box, int tw,
                        int th, float *out);

/* NCC of two normalised looks of n samples, in [-1, 1]. */
double so_look_ncc(const float *a, const float *b, size_t n);

#endif
