/*
 * Why this file exists: two modules judge "the same thing at the same place" by appearance
 * (track/ to keep a parked car's identity through missed detections, rules/ to tell a car still
 * parked from a place seen empty), and both must judge it the same way, invariant to the light.
 * Sampling on a fixed grid of at most 96x96 points keeps the cost bounded whatever the box size.
 */
#include "appearance.h"

#include <math.h>

void so_look_grid(int w, int h, int *tw, int *th)
{
    *tw = w < SO_LOOK_MAX ? w : SO_LOOK_MAX;
    *th = h < SO_LOOK_MAX ? h : SO_LOOK_MAX;
}

/* Normalise n samples to zero mean and unit variance; false when flat. */
static bool normalise(float *out, int n, double sum, double sum2)
{
    double mean = sum / n, var = sum2 / n - mean * mean;
    if (var < 4.0) {
        return false;
    }
    float inv = (float)(1.0 / sqrt(var));
    for (int i = 0; i < n; i++) {
        out[i] = (out[i] - (float)mean) * inv;
    }
    return true;
}

static bool fits(struct so_box box, int width, int height, int tw, int th)
{
    return box.w >= 4 && box.h >= 4 && box.x >= 0 && box.y >= 0 && box.x + box.w <= width &&
           box.y + box.h <= height && tw >= 1 && th >= 1;
}

bool so_look_sample(const struct so_frame *f, struct so_box box, int tw, int th, float *out)
{
    if (!fits(box, f->width, f->height, tw, th)) {
        return false;
    }
    double sum = 0, sum2 = 0;
    for (int j = 0; j < th; j++) {
        int y = box.y + (int)((j + 0.5) * box.h / th);
        const uint8_t *row = f->gray + (size_t)y * f->gray_stride;
        for (int i = 0; i < tw; i++) {
            float v = row[box.x + (int)((i + 0.5) * box.w / tw)];
            out[j * tw + i] = v;
            sum += v;
            sum2 += (double)v * v;
        }
    }
    return normalise(out, tw * th, sum, sum2);
}

bool so_look_sample_map(const float *map, int width, int height, struct so_box box, int tw,
                        int th, float *out)
{
    if (!fits(box, width, height, tw, th)) {
        return false;
    }
    double sum = 0, sum2 = 0;
    for (int j = 0; j < th; j++) {
        const float *row = map + (size_t)(box.y + (int)((j + 0.5) * box.h / th)) * width;
        for (int i = 0; i < tw; i++) {
            float v = row[box.x + (int)((i + 0.5) * box.w / tw)];
            out[j * tw + i] = v;
            sum += v;
            sum2 += (double)v * v;
        }
    }
    return normalise(out, tw * th, sum, sum2);
}

double so_look_ncc(const float *a, const float *b, size_t n)
{
    double ncc = 0;
    for (size_t i = 0; i < n; i++) {
        ncc += (double)a[i] * b[i];
    }
    return n ? ncc / (double)n : 0;
}
