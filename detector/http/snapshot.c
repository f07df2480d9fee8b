/*
 * Why this file exists: an operator checking a camera wants to see what the detector sees —
 * the zones where it is placed, what it considers at rest, what it follows — on the latest
 * analysed frame, without waiting for an event. Drawn like evidence images (events/event.c):
 * translucent amber zones with their ids, stationary pixels tinted magenta, tracks as boxes
 * (green at rest, cyan moving), and privacy masks filled black LAST, so nothing drawn before
 * can show through them.
 *
 * The zone editor's background (so_http_frame) is the same frame without any overlay, so the
 * operator places points on what the camera sees; the privacy masks are still applied.
 *
 * It runs on an HTTP worker thread, on its own canvas (a copy of the shared, immutable frame).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "http.h"
#include "jpeg.h"
#include "socv.h"
#include "timeutil.h"
#include "zone_mask.h"

#define MAX_POLY 64
#define JPEG_QUALITY 85

static const struct socv_color zone_color = {0, 215, 255};      /* amber */
static const struct socv_color rest_color = {0, 220, 0};        /* green */
static const struct socv_color moving_color = {255, 200, 0};    /* cyan */
static const struct socv_color text_color = {255, 255, 255};

static int to_pixels(const struct so_polygon *p, int w, int h, int *xy)
{
    int n = p->n > MAX_POLY ? MAX_POLY : (int)p->n;
    struct so_polygon clipped = {p->pts, (size_t)n};
    so_polygon_to_pixels(&clipped, w, h, xy);
    return n;
}

/* Tint static pixels: 60 % of the pixel, 40 % magenta. */
static void tint_static(struct socv_view *v, const uint8_t *mask, int mw, int mh)
{
    if (!mask || mw != v->width || mh != v->height) {
        return;
    }
    for (int y = 0; y < v->height; y++) {
        uint8_t *row = v->data + (size_t)y * v->stride;
        const uint8_t *m = mask + (size_t)y * mw;
        for (int x = 0; x < v->width; x++) {
            if (m[x]) {
                uint8_t *p = row + 3 * x;
                p[0] = (uint8_t)((p[0] * 6 + 255 * 4) / 10);
                p[1] = (uint8_t)(p[1] * 6 / 10);
                p[2] = (uint8_t)((p[2] * 6 + 255 * 4) / 10);
            }
        }
    }
}

/* Privacy masks filled black: always the last drawing on a canvas. */
static void privacy(struct socv_canvas *c, const struct so_camera_cfg *cam, int w, int h)
{
    int xy[2 * MAX_POLY];
    for (size_t m = 0; m < cam->n_privacy_masks; m++) {
        int n = to_pixels(&cam->privacy_masks[m], w, h, xy);
        socv_canvas_polygon(c, xy, n, 1, (struct socv_color){0, 0, 0}, 1, 1);
    }
}

/* Encode the canvas as JPEG and destroy it. */
static int encode(struct socv_canvas *c, uint8_t **jpeg, size_t *size)
{
    struct socv_view cv = socv_canvas_view(c);
    int rc = so_jpeg_encode(cv.data, cv.width, cv.height, cv.stride, JPEG_QUALITY, jpeg, size);
    socv_canvas_destroy(c);
    return rc;
}

int so_http_snapshot(const struct so_camera_cfg *cam, const struct so_live_view *lv,
                     uint8_t **jpeg, size_t *size)
{
    const struct so_frame *fr = lv->frame;
    if (!fr) {
        return -EINVAL;
    }
    int w = fr->width, h = fr->height;
    struct socv_view v = {fr->bgr, w, h, fr->bgr_stride, 3};
    struct socv_canvas *c = socv_canvas_create(&v);
    if (!c) {
        return -ENOMEM;
    }
    struct socv_view cv = socv_canvas_view(c);
    tint_static(&cv, lv->static_mask, lv->mask_w, lv->mask_h);
    int xy[2 * MAX_POLY];
    for (size_t i = 0; i < cam->n_zones; i++) {
        const struct so_zone_cfg *z = &cam->zones[i];
        int n = to_pixels(&z->polygon, w, h, xy);
        socv_canvas_polygon_blend(c, xy, n, zone_color, 0.18);
        socv_canvas_polygon(c, xy, n, 1, zone_color, 2, 0);
        socv_canvas_text(c, z->id, xy[0] + 4, xy[1] + 14, 0.4, zone_color);
    }
    for (int i = 0; i < lv->n_boxes; i++) {
        const struct so_live_box *b = &lv->boxes[i];
        struct socv_color col = b->stationary ? rest_color : moving_color;
        char label[24];
        snprintf(label, sizeof(label), "#%d", b->track);
        socv_canvas_rect(c, b->x, b->y, b->w, b->h, col, 2);
        socv_canvas_text(c, label, b->x + 2, b->y > 14 ? b->y - 3 : b->y + 12, 0.4, col);
    }
    privacy(c, cam, w, h);
    char caption[200], when[40];
    so_time_iso8601(fr->wall_s, when, sizeof(when));
    snprintf(caption, sizeof(caption), "%s %.19s frame %lld", cam->id, when,
             (long long)fr->index);
    socv_canvas_text(c, caption, 6, h - 8, 0.45, text_color);
    return encode(c, jpeg, size);
}

int so_http_frame(const struct so_camera_cfg *cam, const struct so_live_view *lv, uint8_t **jpeg,
                  size_t *size)
{
    const struct so_frame *fr = lv->frame;
    if (!fr) {
        return -EINVAL;
    }
    struct socv_view v = {fr->bgr, fr->width, fr->height, fr->bgr_stride, 3};
    struct socv_canvas *c = socv_canvas_create(&v);
    if (!c) {
        return -ENOMEM;
    }
    privacy(c, cam, fr->width, fr->height);
    return encode(c, jpeg, size);
}

int so_http_rest(const struct so_camera_cfg *cam, const struct so_live_view *lv, uint8_t **jpeg,
                 size_t *size)
{
    const struct so_frame *fr = lv->frame;
    if (!fr) {
        return -EINVAL;
    }
    if (!lv->static_mask || lv->mask_w != fr->width || lv->mask_h != fr->height) {
        return -ENOENT;
    }
    int w = fr->width, h = fr->height;
    int stride = w * 3;
    uint8_t *bgr = calloc((size_t)h, (size_t)stride);
    if (!bgr) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < (size_t)w * h; i++) {
        if (lv->static_mask[i]) {
            bgr[3 * i] = 255;
            bgr[3 * i + 2] = 255;
        }
    }
    struct socv_view v = {bgr, w, h, stride, 3};
    struct socv_canvas *c = socv_canvas_create(&v);
    free(bgr);
    if (!c) {
        return -ENOMEM;
    }
    privacy(c, cam, w, h);
    return encode(c, jpeg, size);
}
