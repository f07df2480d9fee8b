/*
 * Reference-counted analysis frames: one allocation for the struct and both planes; a pool per
 * producer recycles them (frames are ~1 MB at 640x360: no malloc, no page faults per frame).
 */
#include "frame.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct so_frame_pool {
    pthread_mutex_t lock;
    struct so_frame **free;     /* up to keep */
    int n_free, keep;
    long out;                   /* frames handed out and not back yet */
    long allocated;
    bool released;              /* the owner let go: free what comes back */
};

#define FRAME_HEAD ((sizeof(struct so_frame) + 63) & ~(size_t)63)

/* Row strides of the planes, 32-byte aligned. */
static int bgr_stride(int width)
{
    return (width * 3 + 31) & ~31;
}

static int gray_stride(int width)
{
    return (width + 31) & ~31;
}

/* Set the fields of the frame at the start of its block (planes right after the struct) for a
 * fresh width x height frame with one reference. */
static void frame_init(struct so_frame *f, int width, int height)
{
    uint8_t *mem = (uint8_t *)f;
    *f = (struct so_frame){
        .width = width,
        .height = height,
        .bgr = mem + FRAME_HEAD,
        .bgr_stride = bgr_stride(width),
        .gray = mem + FRAME_HEAD + (size_t)bgr_stride(width) * height,
        .gray_stride = gray_stride(width),
        .src_width = width,
        .src_height = height,
    };
    atomic_init(&f->refs, 1);
}

struct so_frame *so_frame_alloc(int width, int height)
{
    if (width <= 0 || height <= 0) {
        return NULL;
    }
    size_t size = FRAME_HEAD + (size_t)(bgr_stride(width) + gray_stride(width)) * height;
    struct so_frame *f = aligned_alloc(64, (size + 63) & ~(size_t)63);
    if (f) {
        frame_init(f, width, height);
    }
    return f;
}

struct so_frame *so_frame_ref(struct so_frame *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

static void pool_free(struct so_frame_pool *p)
{
    for (int i = 0; i < p->n_free; i++) {
        free(p->free[i]);
    }
    pthread_mutex_destroy(&p->lock);
    free(p->free);
    free(p);
}

/* A frame of pool p comes back (its last reference was dropped). */
static void pool_put(struct so_frame_pool *p, struct so_frame *f)
{
    pthread_mutex_lock(&p->lock);
    p->out--;
    bool keep = !p->released && p->n_free < p->keep;
    if (keep) {
        p->free[p->n_free++] = f;
    }
    bool last = p->released && p->out == 0;
    pthread_mutex_unlock(&p->lock);
    if (!keep) {
        free(f);
    }
    if (last) {
        pool_free(p);
    }
}

void so_frame_unref(struct so_frame *f)
{
    if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) {
        if (f->pool) {
            pool_put(f->pool, f);
        } else {
            free(f);
        }
    }
}

struct so_frame_pool *so_frame_pool_create(int keep)
{
    struct so_frame_pool *p = calloc(1, sizeof(*p));
    if (!p) {
        return NULL;
    }
    p->keep = keep > 0 ? keep : 1;
    p->free = calloc((size_t)p->keep, sizeof(*p->free));
    if (!p->free || pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p->free);
        free(p);
        return NULL;
    }
    return p;
}

struct so_frame *so_frame_pool_get(struct so_frame_pool *p, int width, int height)
{
    struct so_frame *f = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->n_free > 0) {
        f = p->free[--p->n_free];
    }
    pthread_mutex_unlock(&p->lock);
    if (f && (f->width != width || f->height != height)) {
        free(f);                /* the analysis size changed: make a new one */
        f = NULL;
    }
    bool fresh = !f;
    if (f) {
        frame_init(f, width, height);
    } else if (!(f = so_frame_alloc(width, height))) {
        return NULL;
    }
    f->pool = p;
    pthread_mutex_lock(&p->lock);
    p->out++;
    p->allocated += fresh;
    pthread_mutex_unlock(&p->lock);
    return f;
}

long so_frame_pool_allocated(struct so_frame_pool *p)
{
    pthread_mutex_lock(&p->lock);
    long n = p->allocated;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void so_frame_pool_release(struct so_frame_pool *p)
{
    if (!p) {
        return;
    }
    /* One critical section: once it ends, the last frame to come back may free the pool. */
    pthread_mutex_lock(&p->lock);
    p->released = true;
    int n = p->n_free;
    struct so_frame *idle[n > 0 ? n : 1];
    for (int i = 0; i < n; i++) {
        idle[i] = p->free[i];
    }
    p->n_free = 0;
    bool last = p->out == 0;
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < n; i++) {
        free(idle[i]);
    }
    if (last) {
        pool_free(p);
    }
}

/* ---- compact frames -------------------------------------------------------------------- */

/*
 * The chroma of the JPEG/JFIF colour transform (ITU-R BT.601, full range), taken against the
 * frame's own grey as luma: Cb = 128 + (B - Y) / 1.772, Cr = 128 + (R - Y) / 1.402, averaged
 * over each 2x2 block (an odd last row or column counts twice). Expanding inverts it, so blue and red come back exactly where the colour
 * is even over a block, green within the grey's rounding.
 */
#define CB_SCALE 9246     /* 65536 / (4 * 1.772) */
#define CR_SCALE 11686    /* 65536 / (4 * 1.402) */

static uint8_t clamp_u8(float v)
{
    return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5f);
}

bool so_frame_compact_keep(struct so_frame_compact *c, const struct so_frame *f)
{
    int w = f->width, h = f->height, cw = (w + 1) / 2, ch = (h + 1) / 2;
    if (!c->gray || c->width != w || c->height != h) {
        so_frame_compact_clear(c);
        c->gray = malloc((size_t)w * h + 2 * (size_t)cw * ch);
        if (!c->gray) {
            return false;
        }
        c->cb = c->gray + (size_t)w * h;
        c->cr = c->cb + (size_t)cw * ch;
    }
    c->width = w;
    c->height = h;
    c->src_width = f->src_width;
    c->src_height = f->src_height;
    c->media_s = f->media_s;
    c->wall_s = f->wall_s;
    c->ready_mono = f->ready_mono;
    c->index = f->index;
    for (int y = 0; y < h; y++) {
        memcpy(c->gray + (size_t)y * w, f->gray + (size_t)y * f->gray_stride, (size_t)w);
    }
    for (int cy = 0; cy < ch; cy++) {
        int y0 = 2 * cy, y1 = y0 + 1 < h ? y0 + 1 : y0; /* an odd last row: itself twice */
        const uint8_t *b0 = f->bgr + (size_t)y0 * f->bgr_stride;
        const uint8_t *b1 = f->bgr + (size_t)y1 * f->bgr_stride;
        const uint8_t *g0 = f->gray + (size_t)y0 * f->gray_stride;
        const uint8_t *g1 = f->gray + (size_t)y1 * f->gray_stride;
        uint8_t *cb = c->cb + (size_t)cy * cw, *cr = c->cr + (size_t)cy * cw;
        for (int cx = 0; cx < cw; cx++) {
            int x0 = 2 * cx, x1 = x0 + 1 < w ? x0 + 1 : x0;   /* likewise an odd column */
            int gy = g0[x0] + g0[x1] + g1[x0] + g1[x1];
            int db = b0[3 * x0] + b0[3 * x1] + b1[3 * x0] + b1[3 * x1] - gy;
            int dr = b0[3 * x0 + 2] + b0[3 * x1 + 2] + b1[3 * x0 + 2] + b1[3 * x1 + 2] - gy;
            /* 128 + d / (4 * 1.772) and 128 + d / (4 * 1.402), rounded, in 16-bit fixed point */
            int u = 128 + ((db * CB_SCALE + (1 << 15)) >> 16);
            int v = 128 + ((dr * CR_SCALE + (1 << 15)) >> 16);
            cb[cx] = (uint8_t)(u < 0 ? 0 : u > 255 ? 255 : u);
            cr[cx] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    return true;
}

struct so_frame *so_frame_compact_expand(const struct so_frame_compact *c)
{
    struct so_frame *f = c->gray ? so_frame_alloc(c->width, c->height) : NULL;
    if (!f) {
        return NULL;
    }
    f->src_width = c->src_width;
    f->src_height = c->src_height;
    f->media_s = c->media_s;
    f->wall_s = c->wall_s;
    f->ready_mono = c->ready_mono;
    f->index = c->index;
    int w = c->width, cw = (w + 1) / 2;
    for (int y = 0; y < c->height; y++) {
        const uint8_t *g = c->gray + (size_t)y * w;
        const uint8_t *cb = c->cb + (size_t)(y / 2) * cw, *cr = c->cr + (size_t)(y / 2) * cw;
        uint8_t *bgr = f->bgr + (size_t)y * f->bgr_stride;
        memcpy(f->gray + (size_t)y * f->gray_stride, g, (size_t)w);
        for (int x = 0; x < w; x++) {
            float u = (float)cb[x / 2] - 128, v = (float)cr[x / 2] - 128;
            bgr[3 * x] = clamp_u8(g[x] + 1.772f * u);
            bgr[3 * x + 1] = clamp_u8(g[x] - 0.344136f * u - 0.714136f * v);
            bgr[3 * x + 2] = clamp_u8(g[x] + 1.402f * v);
        }
    }
    return f;
}

void so_frame_compact_clear(struct so_frame_compact *c)
{
    free(c->gray);
    *c = (struct so_frame_compact){0};
}
