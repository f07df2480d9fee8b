/*
 * Why this file exists: evidence images want the camera's main stream (often 4-8x the pixels of
 * the analysis stream), but decoding it all the time would cost more than the analysis itself.
 * So it is opened only when an image is wanted, for one picture, and closed again.
 *
 * Design:
 * - Everything happens on the caller's thread, within a deadline: the input is opened by
 *   avinput.c with a guard whose deadline is `deadline_mono` for the whole grab (not re-armed
 *   per operation) and whose stop flag is `stop`, so FFmpeg's interrupt callback aborts a
 *   connect, a handshake or a read that hangs; the decode loop checks the same guard between
 *   packets. RTSP goes over TCP (a still needs every packet of a keyframe; UDP loses some at
 *   these sizes). Live stream info is probed for 0.3 s only: a still needs the codec, not a
 *   frame-rate estimate.
 * - Files are seeked: the first picture gives the time origin (media time 0, like the source
 *   module), then a backward seek to origin + media_s and decoding forward to the first picture
 *   at or after it. When the seek fails the decode simply goes on from where it is; a file
 *   without timestamps gives its first picture.
 * - The picture is converted to BGR24 and GRAY8 at its own size (capped at max_width) with
 *   libswscale; full-range ("J") YUV is declared as such so colours are not washed out.
 */
#define _POSIX_C_SOURCE 200809L
#include "grab.h"

#include <errno.h>
#include <stdbool.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>

#include "avinput.h"
#include "timeutil.h"

#define MEDIA_EPS_S 1e-3    /* a picture this close before the wanted time is the one */
#define LIVE_PROBE_US 300000    /* stream info from the first 0.3 s, not FFmpeg's 5 s default:
                                 * 3.3 s -> 1.3 s per grab from gst-rtsp-server, 720p */

struct grab {
    const struct so_grab_opts *o;
    struct so_avguard guard;    /* stop and deadline_mono of o */
    struct so_avinput in;
    AVPacket *pkt;
    AVFrame *pic;
    int64_t origin;         /* timestamp of the first picture (media time 0) */
};

/* Why the grab stopped, when it was interrupted; else `r`. */
static int interrupt_reason(struct grab *g, int r)
{
    if (so_avguard_stopping(&g->guard)) {
        return AVERROR_EXIT;
    }
    if (g->guard.timed_out || (g->guard.deadline > 0 && so_time_mono() > g->guard.deadline)) {
        return AVERROR(ETIMEDOUT);
    }
    return r;
}

static int open_input(struct grab *g, bool live)
{
    const struct so_avinput_opts o = {
        .guard = &g->guard,
        .probe_us = live ? LIVE_PROBE_US : 0,
        .threads = 1,   /* one picture: latency is the deadline's business, not cores' */
    };
    int r = so_avinput_open(&g->in, g->o->url, &o);
    if (r < 0) {
        return r;
    }
    g->pkt = av_packet_alloc();
    g->pic = av_frame_alloc();
    return g->pkt && g->pic ? 0 : AVERROR(ENOMEM);
}

static int64_t picture_ts(const AVFrame *f)
{
    return f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
}

/* Decode the next picture into g->pic. 0, AVERROR_EOF at the end, or an error. */
static int next_picture(struct grab *g, bool *draining)
{
    for (;;) {
        int r = avcodec_receive_frame(g->in.dec, g->pic);
        if (r != AVERROR(EAGAIN)) {
            return r;
        }
        if (*draining || so_avguard_interrupted(&g->guard)) {
            return interrupt_reason(g, AVERROR_EOF);
        }
        r = av_read_frame(g->in.fmt, g->pkt);
        if (r == AVERROR_EOF) {
            *draining = true;
            avcodec_send_packet(g->in.dec, NULL);
            continue;
        }
        if (r < 0) {
            return interrupt_reason(g, r);
        }
        if (g->pkt->stream_index == g->in.stream) {
            r = avcodec_send_packet(g->in.dec, g->pkt);    /* a corrupt packet: try the next */
        }
        av_packet_unref(g->pkt);
        if (r == AVERROR(ENOMEM)) {
            return r;
        }
    }
}

/* Files: decode forward to the picture at media time g->o->media_s (see the design above). */
static int seek_picture(struct grab *g)
{
    bool draining = false;
    int r = next_picture(g, &draining);
    if (r < 0) {
        return r;
    }
    AVRational tb = g->in.fmt->streams[g->in.stream]->time_base;
    g->origin = picture_ts(g->pic);
    if (g->origin == AV_NOPTS_VALUE || g->o->media_s <= MEDIA_EPS_S) {
        return 0;
    }
    int64_t want = g->origin + av_rescale_q_rnd((int64_t)((g->o->media_s - MEDIA_EPS_S) * 1e6),
                                                AV_TIME_BASE_Q, tb, AV_ROUND_UP);
    /* Past the end, a seek lands on EOF: aim at the last tick instead, so the decode forward
     * ends on the last picture. */
    const AVStream *st = g->in.fmt->streams[g->in.stream];
    int64_t seek_to = want;
    if (st->duration > 0 && st->start_time != AV_NOPTS_VALUE &&
        seek_to >= st->start_time + st->duration) {
        seek_to = st->start_time + st->duration - 1;
    }
    if (av_seek_frame(g->in.fmt, g->in.stream, seek_to, AVSEEK_FLAG_BACKWARD) >= 0) {
        avcodec_flush_buffers(g->in.dec);
    }
    AVFrame *last = av_frame_alloc();
    if (!last) {
        return AVERROR(ENOMEM);
    }
    av_frame_move_ref(last, g->pic);
    while ((r = next_picture(g, &draining)) == 0) {
        int64_t ts = picture_ts(g->pic);
        av_frame_unref(last);
        av_frame_move_ref(last, g->pic);
        if (ts != AV_NOPTS_VALUE && ts >= want) {
            break;
        }
    }
    av_frame_move_ref(g->pic, last);    /* the picture wanted, or the last one of the file */
    av_frame_free(&last);
    return r == 0 || r == AVERROR_EOF ? 0 : r;
}

/* g->pic as a new BGR + grey frame, scaled down to max_width when wider. */
static int convert(struct grab *g, struct so_frame **out)
{
    const AVFrame *p = g->pic;
    int max_w = g->o->max_width > 0 ? g->o->max_width : SO_GRAB_MAX_WIDTH;
    int w = p->width > max_w ? max_w : p->width;
    int h = w == p->width ? p->height : (int)((int64_t)p->height * w / p->width) & ~1;
    struct so_frame *f = so_frame_alloc(w, h > 0 ? h : 1);
    if (!f) {
        return AVERROR(ENOMEM);
    }
    bool full = p->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat src = so_avinput_plain_format((enum AVPixelFormat)p->format, &full);
    const enum AVPixelFormat dst[2] = {AV_PIX_FMT_BGR24, AV_PIX_FMT_GRAY8};
    uint8_t *planes[2] = {f->bgr, f->gray};
    int strides[2] = {f->bgr_stride, f->gray_stride};
    for (int i = 0; i < 2; i++) {
        struct SwsContext *sws = sws_getContext(p->width, p->height, src, f->width, f->height,
                                                dst[i], SWS_AREA, NULL, NULL, NULL);
        if (!sws) {
            so_frame_unref(f);
            return AVERROR(EINVAL);
        }
        int *inv, *tab, src_range, dst_range, bri, con, sat;
        if (full && sws_getColorspaceDetails(sws, &inv, &src_range, &tab, &dst_range, &bri,
                                             &con, &sat) >= 0) {
            sws_setColorspaceDetails(sws, inv, 1, tab, dst_range, bri, con, sat);
        }
        uint8_t *d[4] = {planes[i]};
        int ds[4] = {strides[i]};
        sws_scale(sws, (const uint8_t *const *)p->data, p->linesize, 0, p->height, d, ds);
        sws_freeContext(sws);
    }
    f->src_width = p->width;
    f->src_height = p->height;
    int64_t ts = picture_ts(p);
    if (ts != AV_NOPTS_VALUE && g->origin != AV_NOPTS_VALUE) {
        f->media_s = (double)(ts - g->origin) * av_q2d(g->in.fmt->streams[g->in.stream]->time_base);
    }
    *out = f;
    return 0;
}

int so_grab_still(const struct so_grab_opts *opts, struct so_frame **out)
{
    *out = NULL;
    if (!opts->url) {
        return AVERROR(EINVAL);
    }
    bool live = so_avinput_is_network(opts->url);
    struct grab g = {
        .o = opts,
        .guard = {.stop = opts->stop, .deadline = opts->deadline_mono},
        .origin = AV_NOPTS_VALUE,
    };
    int r = open_input(&g, live);
    if (r >= 0) {
        bool draining = false;
        r = live ? next_picture(&g, &draining) : seek_picture(&g);
    }
    if (r >= 0) {
        r = convert(&g, out);
        if (r >= 0 && live) {   /* a live picture: when it was taken, not a media time */
            (*out)->wall_s = so_time_wall();
            (*out)->media_s = -1;
        }
    } else {
        r = interrupt_reason(&g, r);
    }
    av_frame_free(&g.pic);
    av_packet_free(&g.pkt);
    so_avinput_close(&g.in);
    return r;
}
