/*
 * Why this file exists: the decode thread of a camera (source.c) and the evidence grabber
 * (grab.c) both turn a URL into "a demuxer and an open decoder of its video stream". Written
 * twice, the two had drifted (one knew YUVJ411P, the other did not; their image-sequence tests
 * disagreed on "a%%b%03d.png"). One opener, one URL classification and one format mapping.
 *
 * Design:
 * - Blocking I/O is interrupted through FFmpeg's interrupt callback, fed by a guard the caller
 *   owns: a stop flag and a CLOCK_MONOTONIC deadline. Protocol timeouts alone do not cover
 *   every stall (a server that accepts and then sends nothing during the RTSP handshake); the
 *   deadline does. The camera thread re-arms a per-operation deadline (io_timeout_s, before the
 *   open and before the stream probe, and before every read in source.c); the grabber sets one
 *   deadline for the whole grab and lets it stand (io_timeout_s 0).
 * - RTSP goes over TCP (a lost packet of a keyframe costs a whole GOP, a still needs every
 *   packet) and asks for video only. Socket timeouts equal io_timeout_s when it is set: the
 *   `timeout` of RTSP (FFmpeg >= 5) and HTTP, the `rw_timeout` of the others.
 * - Image sequences ("%05d" in a name that is not a file) are read with image2 at 25 fps.
 * - One decoder thread by default: the product runs many cameras per core, so parallelism comes
 *   from cameras, not slices of one picture; a still is bounded by its deadline, not by cores.
 *   Settings that depend on the stream (source.c skips the loop filter when it scales down a
 *   lot) are the caller's, through the `tune` hook.
 */
#define _POSIX_C_SOURCE 200809L
#include "avinput.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "timeutil.h"

void so_avguard_arm(struct so_avguard *g, double seconds)
{
    g->timed_out = false;
    g->deadline = seconds > 0 ? so_time_mono() + seconds : 0;
}

bool so_avguard_stopping(const struct so_avguard *g)
{
    return g->stop && atomic_load_explicit(g->stop, memory_order_acquire);
}

int so_avguard_interrupted(void *opaque)
{
    struct so_avguard *g = opaque;
    if (so_avguard_stopping(g)) {
        return 1;
    }
    if (g->deadline > 0 && so_time_mono() > g->deadline) {
        g->timed_out = true;
        return 1;
    }
    return 0;
}

bool so_avinput_is_network(const char *url)
{
    return strstr(url, "://") && strncasecmp(url, "file://", 7) != 0;
}

bool so_avinput_is_image_sequence(const char *url)
{
    if (access(url, F_OK) == 0) {
        return false;
    }
    for (const char *p = strchr(url, '%'); p; p = strchr(p + 1, '%')) {
        const char *q = p + 1 + strspn(p + 1, "0123456789");
        if (*q == 'd') {
            return true;
        }
    }
    return false;
}

enum AVPixelFormat so_avinput_plain_format(enum AVPixelFormat fmt, bool *full)
{
    static const enum AVPixelFormat pairs[][2] = {
        {AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUV420P}, {AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUV422P},
        {AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUV444P}, {AV_PIX_FMT_YUVJ440P, AV_PIX_FMT_YUV440P},
        {AV_PIX_FMT_YUVJ411P, AV_PIX_FMT_YUV411P},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        if (pairs[i][0] == fmt) {
            *full = true;
            return pairs[i][1];
        }
    }
    return fmt;
}

void so_avinput_close(struct so_avinput *in)
{
    if (!in) {
        return;
    }
    avcodec_free_context(&in->dec);
    avformat_close_input(&in->fmt);
    in->stream = 0;
}

/* The demuxer options for `url` (see the design above); *ifmt for image sequences. */
static void input_options(const char *url, const struct so_avinput_opts *o, AVDictionary **d,
                          const AVInputFormat **ifmt)
{
    if (!so_avinput_is_network(url)) {
        if (so_avinput_is_image_sequence(url)) {
            *ifmt = av_find_input_format("image2");
            av_dict_set(d, "framerate", "25", 0);
        }
        return;
    }
    char us[32];
    snprintf(us, sizeof(us), "%lld", (long long)(o->io_timeout_s * 1e6));
    if (o->probe_us > 0) {
        av_dict_set_int(d, "analyzeduration", o->probe_us, 0);
    }
    if (strncasecmp(url, "rtsp", 4) == 0) {
        av_dict_set(d, "rtsp_transport", "tcp", 0);
        if (o->io_timeout_s > 0) {
            av_dict_set(d, "timeout", us, 0);   /* socket I/O timeout, µs (FFmpeg >= 5) */
        }
        av_dict_set(d, "allowed_media_types", "video", 0);
    } else if (o->io_timeout_s > 0) {
        av_dict_set(d, "rw_timeout", us, 0);
        if (strncasecmp(url, "http", 4) == 0) {
            av_dict_set(d, "timeout", us, 0);
        }
    }
}

/* Open the demuxer and probe its streams, within the guard. */
static int open_demuxer(struct so_avinput *in, const char *url, const struct so_avinput_opts *o)
{
    AVDictionary *d = NULL;
    const AVInputFormat *ifmt = NULL;
    input_options(url, o, &d, &ifmt);
    in->fmt = avformat_alloc_context();
    if (!in->fmt) {
        av_dict_free(&d);
        return AVERROR(ENOMEM);
    }
    in->fmt->interrupt_callback = (AVIOInterruptCB){so_avguard_interrupted, o->guard};
    if (o->io_timeout_s > 0) {
        so_avguard_arm(o->guard, o->io_timeout_s);
    }
    int r = avformat_open_input(&in->fmt, url, ifmt, &d); /* frees fmt on failure */
    av_dict_free(&d);
    if (r < 0) {
        return r;
    }
    if (o->io_timeout_s > 0) {
        so_avguard_arm(o->guard, o->io_timeout_s);
    }
    return avformat_find_stream_info(in->fmt, NULL);
}

/* Pick the best video stream (the others are discarded) and open its decoder. */
static int open_decoder(struct so_avinput *in, const struct so_avinput_opts *o)
{
    const AVCodec *codec = NULL;
    int r = av_find_best_stream(in->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (r < 0) {
        return r;
    }
    in->stream = r;
    for (unsigned i = 0; i < in->fmt->nb_streams; i++) {
        if ((int)i != in->stream) {
            in->fmt->streams[i]->discard = AVDISCARD_ALL;
        }
    }
    const AVStream *st = in->fmt->streams[in->stream];
    in->dec = avcodec_alloc_context3(codec);
    if (!in->dec) {
        return AVERROR(ENOMEM);
    }
    if ((r = avcodec_parameters_to_context(in->dec, st->codecpar)) < 0) {
        return r;
    }
    in->dec->pkt_timebase = st->time_base;
    in->dec->thread_count = o->threads > 0 ? o->threads : 1;
    if (o->skip_frame != AVDISCARD_DEFAULT) {
        in->dec->skip_frame = o->skip_frame;
    }
    if (o->tune) {
        o->tune(o->tune_opaque, in->dec, st->codecpar);
    }
    return avcodec_open2(in->dec, codec, NULL);
}

int so_avinput_open(struct so_avinput *in, const char *url, const struct so_avinput_opts *o)
{
    int r = open_demuxer(in, url, o);
    if (r >= 0) {
        r = open_decoder(in, o);
    }
    if (r < 0) {
        so_avinput_close(in);
        return r;
    }
    return 0;
}
