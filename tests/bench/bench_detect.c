/*
 * bench_detect: milliseconds per so_detector_run() (preprocessing, inference, decoding, NMS)
 * of one model on one image, median and mean of N runs after 3 warm-ups. Run through
 * scripts/bench-detector, one process per thread count (OpenCV's thread pool is global).
 *
 *   bench_detect MODEL THREADS IMAGE [RUNS]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "detector.h"
#include "model.h"
#include "socv.h"
#include "socv_imgio.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL THREADS IMAGE [RUNS]\n", argv[0]);
        return 2;
    }
    const char *name = argv[1];
    int threads = atoi(argv[2]);
    int runs = argc > 4 ? atoi(argv[4]) : 20;
    if (runs < 1 || runs > 10000) {
        runs = 20;
    }
    char err[2048];
    struct so_model_desc *m = so_model_open(name, NULL, err, sizeof(err));
    if (!m) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    struct so_detector *det = so_detector_create(m, threads, err, sizeof(err));
    uint8_t *px = NULL;
    int w = 0, h = 0, stride = 0;
    if (!det || socv_image_read(argv[3], &px, &w, &h, &stride) != SOCV_OK) {
        fprintf(stderr, "%s\n", det ? socv_last_error() : err);
        so_detector_destroy(det);
        so_model_destroy(m);
        return 1;
    }
    struct so_image img = {px, w, h, stride};
    struct so_detection d[256];
    int n = 0;
    double *ms = calloc((size_t)runs, sizeof(double)), sum = 0;
    for (int i = -3; i < runs; i++) {
        double t0 = now_ms();
        if (so_detector_run(det, &img, NULL, NULL, d, 256, &n) < 0) {
            fprintf(stderr, "%s\n", so_detector_last_error(det));
            return 1;
        }
        if (i >= 0) {
            ms[i] = now_ms() - t0;
            sum += ms[i];
        }
    }
    qsort(ms, (size_t)runs, sizeof(double), cmp_double);
    printf("%-24s threads %d  %dx%d  median %6.1f ms  mean %6.1f ms  min %6.1f ms  "
           "(%d runs, %d detections)\n", name, threads, w, h, ms[runs / 2], sum / runs, ms[0],
           runs, n);
    free(ms);
    free(px);
    so_detector_destroy(det);
    so_model_destroy(m);
    return 0;
}
