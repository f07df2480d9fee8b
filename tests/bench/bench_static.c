/*
 * bench_static: milliseconds per so_static_model_update() at the analysis size, for the
 * warm-up (the first warmup_s seconds, when the background is a per-pixel median of samples)
 * and for the steady state. A clip is decoded once (so_source in fast mode, 5 frames/s, at most
 * 640 wide) into grey frames kept in memory; without a clip, synthetic 640x360 frames (noise,
 * a few moving blocks, one block that stops) are used. Each of RUNS repetitions feeds a fresh
 * model the same frames (replayed cyclically, media time always advancing), timing each
 * update; min and median over the repetitions of the mean per frame are printed.
 *
 *   bench_static [CLIP|-] [FRAMES] [RUNS]      (defaults: synthetic, 300 frames, 5 runs)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frame.h"
#include "source.h"
#include "static_model.h"

#define FPS 5.0
#define MAX_DECODED 600

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);   /* CPU time: other load does not count */
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Decode up to MAX_DECODED grey frames; returns the count (0 on failure). */
static int decode_clip(const char *url, uint8_t **out, int *w, int *h)
{
    struct so_source_opts o = {
        .url = url, .camera_id = "bench", .fps = FPS, .max_width = 640, .fast = true,
    };
    struct so_source *src = so_source_create(&o);
    if (!src) {
        return 0;
    }
    int n = 0;
    uint8_t *buf = NULL;
    struct so_frame *f = NULL;
    while (n < MAX_DECODED && so_source_next(src, &f) == 0) {
        if (!buf) {
            *w = f->width;
            *h = f->height;
            buf = malloc((size_t)*w * *h * MAX_DECODED);
            if (!buf) {
                so_frame_unref(f);
                break;
            }
        }
        for (int y = 0; y < *h; y++) {
            memcpy(buf + ((size_t)n * *h + y) * *w, f->gray + (size_t)y * f->gray_stride,
                   (size_t)*w);
        }
        so_frame_unref(f);
        n++;
    }
    so_source_destroy(src);
    *out = buf;
    return buf ? n : 0;
}

/* Synthetic street: textured background, noise, blocks crossing, one that stops. */
static int synth_frames(int count, uint8_t **out, int w, int h)
{
    uint8_t *buf = malloc((size_t)w * h * count);
    if (!buf) {
        return 0;
    }
    unsigned seed = 12345;
    for (int k = 0; k < count; k++) {
        uint8_t *p = buf + (size_t)k * w * h;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                seed = seed * 1103515245u + 12345u;
                int v = 60 + (x * 3 + y * 5) % 120 + (int)((seed >> 16) % 9) - 4;
                p[(size_t)y * w + x] = (uint8_t)v;
            }
        }
        for (int b = 0; b < 4; b++) {
            int bx = (k * (6 + 3 * b) + b * 150) % (w - 60), by = 40 + b * 70;
            if (b == 3 && k > 60) {
                bx = (60 * (6 + 3 * b) + b * 150) % (w - 60);   /* comes to rest */
            }
            for (int y = by; y < by + 50 && y < h; y++) {
                memset(p + (size_t)y * w + bx, 20 + 50 * b, 60);
            }
        }
    }
    *out = buf;
    return count;
}

/* One run: a fresh model fed `warm` frames then `steady` frames; mean ms per frame of each. */
static int run_once(const uint8_t *frames, int nframes, int w, int h, int warm, int steady,
                    double *warm_ms, double *steady_ms, char *digest)
{
    struct so_static_model *m = so_static_model_create(w, h, NULL);
    if (!m) {
        return -1;
    }
    double tw = 0, ts = 0;
    for (int k = 0; k < warm + steady; k++) {
        const uint8_t *g = frames + (size_t)(k % nframes) * w * h;
        double t0 = now_ms();
        so_static_model_update(m, g, w, k / FPS);
        double t = now_ms() - t0;
        if (k < warm) {
            tw += t;
        } else {
            ts += t;
        }
    }
    /* A digest of the final state: an optimisation that keeps the behaviour keeps it. */
    const float *age = so_static_model_age(m), *bg = so_static_model_background(m);
    const uint8_t *fg = so_static_model_foreground(m);
    double s_age = 0, s_bg = 0;
    long n_fg = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        s_age += age[i];
        s_bg += bg[i];
        n_fg += fg[i] != 0;
    }
    snprintf(digest, 160, "age sum %.3f  bg sum %.3f  fg pixels %ld  gain %.6f", s_age, s_bg,
             n_fg, so_static_model_gain(m));
    so_static_model_destroy(m);
    *warm_ms = tw / warm;
    *steady_ms = ts / steady;
    return 0;
}

int main(int argc, char **argv)
{
    const char *clip = argc > 1 && strcmp(argv[1], "-") != 0 ? argv[1] : NULL;
    int steady = argc > 2 ? atoi(argv[2]) : 300;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    if (steady < 1 || steady > 100000) {
        steady = 300;
    }
    if (runs < 1 || runs > 1000) {
        runs = 5;
    }
    int w = 640, h = 360;
    uint8_t *frames = NULL;
    int n = clip ? decode_clip(clip, &frames, &w, &h) : synth_frames(200, &frames, w, h);
    if (n <= 0) {
        fprintf(stderr, "bench_static: no frames from %s\n", clip ? clip : "synthesis");
        return 1;
    }
    struct so_static_params p;
    so_static_params_default(&p);
    int warm = (int)(p.warmup_s * FPS) + 1;   /* the first update of the steady state follows */
    double *wm = calloc((size_t)runs, sizeof(double)), *sm = calloc((size_t)runs, sizeof(double));
    char digest[160] = "";
    if (!wm || !sm) {
        return 1;
    }
    for (int r = 0; r < runs; r++) {
        if (run_once(frames, n, w, h, warm, steady, &wm[r], &sm[r], digest) < 0) {
            return 1;
        }
    }
    qsort(wm, (size_t)runs, sizeof(double), cmp_double);
    qsort(sm, (size_t)runs, sizeof(double), cmp_double);
    printf("%s %dx%d (%d distinct frames)  warm-up (%d frames): min %.3f median %.3f ms/frame  "
           "steady (%d frames): min %.3f median %.3f ms/frame  (%d runs)\n",
           clip ? clip : "synthetic", w, h, n, warm, wm[0], wm[runs / 2], steady, sm[0],
           sm[runs / 2], runs);
    printf("final state: %s\n", digest);
    free(wm);
    free(sm);
    free(frames);
    return 0;
}
