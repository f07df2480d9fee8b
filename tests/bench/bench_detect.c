/*
 * bench_detect: milliseconds per so_detector_run() (preprocessing, inference, decoding, NMS)
 * of one model on one image with each backend, OpenCV dnn and XNNPACK, side by side: calls
 * alternate between the two (opencv, xnnpack, opencv, ...) so that load from other processes
 * on a shared machine hits both alike; median, mean and min of N runs each after 3 warm-ups,
 * and the ratio of the medians. Run through scripts/bench-detector, one process per thread
 * count (OpenCV's thread pool is global).
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

enum { OPENCV, XNNPACK, N_BACKENDS };

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
    static const enum so_detect_backend kinds[N_BACKENDS] = {SO_DETECT_BACKEND_OPENCV,
                                                             SO_DETECT_BACKEND_XNNPACK};
    struct so_detector *det[N_BACKENDS] = {NULL, NULL};
    int rc = 1;
    uint8_t *px = NULL;
    int w = 0, h = 0, stride = 0;
    double *ms[N_BACKENDS] = {NULL, NULL}, sum[N_BACKENDS] = {0, 0};
    int n[N_BACKENDS] = {0, 0};
    for (int b = 0; b < N_BACKENDS; b++) {
        if (!so_detect_backend_available(kinds[b])) {
            continue;   /* a build without XNNPACK: the opencv column only */
        }
        det[b] = so_detector_create_backend(m, kinds[b], threads, err, sizeof(err));
        if (!det[b]) {
            fprintf(stderr, "%s\n", err);
            goto out;
        }
        ms[b] = calloc((size_t)runs, sizeof(double));
    }
    if (socv_image_read(argv[3], &px, &w, &h, &stride) != SOCV_OK) {
        fprintf(stderr, "%s\n", socv_last_error());
        goto out;
    }
    struct so_image img = {px, w, h, stride};
    struct so_detection d[256];
    for (int i = -3; i < runs; i++) {
        for (int b = 0; b < N_BACKENDS; b++) {
            if (!det[b]) {
                continue;
            }
            double t0 = now_ms();
            if (so_detector_run(det[b], &img, NULL, NULL, d, 256, &n[b]) < 0) {
                fprintf(stderr, "%s\n", so_detector_last_error(det[b]));
                goto out;
            }
            if (i >= 0) {
                ms[b][i] = now_ms() - t0;
                sum[b] += ms[b][i];
            }
        }
    }
    printf("%-24s threads %d  %dx%d -> %dx%d  %d runs\n", name, threads, w, h, m->input_width,
           m->input_height, runs);
    for (int b = 0; b < N_BACKENDS; b++) {
        if (!det[b]) {
            printf("  %-8s not built in\n", so_detect_backend_name(kinds[b]));
            continue;
        }
        qsort(ms[b], (size_t)runs, sizeof(double), cmp_double);
        printf("  %-8s median %6.1f ms  mean %6.1f ms  min %6.1f ms  (%d detections)%s%s\n",
               so_detector_backend(det[b]), ms[b][runs / 2], sum[b] / runs, ms[b][0], n[b],
               so_detector_fallback(det[b]) ? "  FALLBACK: " : "",
               so_detector_fallback(det[b]) ? so_detector_fallback(det[b]) : "");
    }
    if (det[OPENCV] && det[XNNPACK]) {
        printf("  opencv / xnnpack: %.2fx\n", ms[OPENCV][runs / 2] / ms[XNNPACK][runs / 2]);
    }
    rc = 0;
out:
    for (int b = 0; b < N_BACKENDS; b++) {
        free(ms[b]);
        so_detector_destroy(det[b]);
    }
    free(px);
    so_model_destroy(m);
    return rc;
}
