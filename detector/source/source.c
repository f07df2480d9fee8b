/*
 * Why this file exists: every camera needs one place that turns "a URL" into "analysis frames
 * at a steady rate", whatever the container, codec or transport, and that survives the network.
 *
 * Design:
 * - One decode thread per source, the only thread that touches FFmpeg objects of the source.
 *   It demuxes with libavformat and decodes with libavcodec (send/receive API, EAGAIN/EOF are
 *   flow control). The decoder runs with one thread: the product runs many cameras per core, so
 *   parallelism comes from cameras, not from slices of one picture.
 * - Media time is the frame's best_effort_timestamp (else pts, else frame counter / stream fps)
 *   relative to the first frame, forced monotonic. After a network reconnect the new stream's
 *   timestamps start over, so media time continues from the wall time elapsed since the very
 *   first frame: monotonic, and the outage shows as a gap rather than being folded away.
 * - Frame selection is by media time, not by arrival: a frame is due when it reaches next_due,
 *   a multiple of 1/fps; if the stream skipped ahead, next_due jumps to the next multiple after
 *   the frame instead of releasing a burst. Only due frames are scaled (libswscale to BGR24 and
 *   GRAY8, contexts rebuilt when the decoded size/format changes), so decoding is the only cost
 *   paid for frames analysis never sees. With the same input and fps the selection is
 *   identical run after run, which is what makes --fast evaluation deterministic.
 * - Hand-off is a depth-1 slot under a mutex + condvar. Live inputs overwrite an untaken frame
 *   and count it as dropped (latest wins: analysis should look at "now", never at a backlog);
 *   fast file runs make the decoder wait for the slot instead, so nothing is dropped.
 * - Files without fast are paced against CLOCK_MONOTONIC from the first frame (every decoded
 *   frame, so the end of the file also comes at its real-time end), so a file behaves like a
 *   camera. Network inputs are never paced (they pace themselves).
 * - Inputs are opened by avinput.c (options, interrupt, stream and decoder). Blocking I/O is
 *   interrupted through FFmpeg's interrupt callback on stop and when a per-operation deadline
 *   (io_timeout_s, network inputs only, re-armed before every open/probe/read) passed; see
 *   avinput.c for why protocol timeouts alone are not enough. Network failures mark the camera
 *   blind, close everything and reopen after a capped exponential backoff whose sleep is a
 *   condvar timed wait, so stop is immediate. Nothing is ever cancelled: stop is a flag plus a
 *   broadcast, and the thread leaves at its next check.
 * - One condvar (CLOCK_MONOTONIC) serves every wait: the consumer waiting for a frame, the fast
 *   decoder waiting for the slot, the pacing sleep and the backoff sleep. Broadcasts are rare
 *   (a few per analysed frame), so sharing it costs nothing and keeps stop to one broadcast.
 *
 * Lock order: only s->lock exists; on_health is called without it held.
 */
#define _POSIX_C_SOURCE 200809L
#include "source.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "avinput.h"
#include "log.h"
#include "timeutil.h"

#define FRAME_POOL_KEEP 4       /* free frames kept for reuse: those handed out come back at once,
                                 * but for one a second that the rules keep for 10 s */
#define BACKOFF_MIN_S 0.5
#define BACKOFF_MAX_S 30.0
#define DEFAULT_IO_TIMEOUT_S 10.0
#define DEFAULT_STREAM_FPS 25.0
#define DUE_EPS 1e-6

/* Media-time bookkeeping across sessions (reconnects). Decode thread only. */
struct timeline {
    bool started;           /* a frame has been decoded since create */
    double mono0;           /* CLOCK_MONOTONIC at the first frame ever */
    double last_media;      /* media time of the last decoded frame */
    int64_t due_k;          /* next_due = due_k / fps */
};

/* Scaling contexts, rebuilt when the decoded picture changes. Decode thread only. */
/*
 * Decoded picture -> analysis frame. A 4:2:0 picture (what cameras send) is scaled once, to
 * 4:2:0 at the analysis size (`small`): its luma is the grey plane (stretched to full range by
 * a table when the source is limited range) and the small picture is converted to BGR without
 * scaling (`bgr`), 1.0 ms a 1080p frame instead of 2.6 ms for two scalings from the full
 * picture. Other formats (image sequences, 4:2:2 MJPEG) are scaled twice, to BGR and to grey.
 */
struct scaler {
    struct SwsContext *bgr, *gray, *small;
    uint8_t *u, *v;         /* the small picture's chroma planes (`small` only) */
    int cw;                 /* their width = stride */
    uint8_t y_to_gray[256]; /* limited-range luma -> full-range grey; identity when full */
    int src_w, src_h, src_fmt, src_full, dst_w, dst_h;
};

/* One open input: from open to close, i.e. one connection for network inputs. */
struct input {
    struct so_avinput av;   /* demuxer, video stream, decoder */
    AVRational tb;
    double stream_fps;      /* for the frame-counter fallback when timestamps are missing */
    bool have_first;
    int64_t first_ts;       /* AV_NOPTS_VALUE when the first frame had none */
    double offset;          /* media time of this input's first frame */
    int64_t frames;         /* decoded from this input */
};

struct so_source {
    /* Immutable after create. */
    char *url;
    char *camera_id;
    char *safe_url;         /* url with credentials redacted: the only form that is logged */
    double fps;
    int max_width;
    bool fast;              /* effective: opts->fast on a file input */
    bool keyframes_only;
    bool network;
    double io_timeout_s;
    double run_start_wall;
    so_source_health_fn on_health;
    void *opaque;
    struct so_stages *stages;   /* may be NULL */

    atomic_bool stop;
    pthread_t thread;

    /* Under lock; cond is broadcast on every change and on stop. */
    pthread_mutex_t lock;
    pthread_cond_t cond;    /* CLOCK_MONOTONIC */
    struct so_frame *slot;
    struct so_frame_pool *pool;     /* the frames handed out come back here (no malloc a frame) */
    bool ended;             /* the decode thread has finished (file end or open failure) */
    int end_err;
    int64_t next_index;

    /* Stats, any thread. */
    _Atomic uint64_t frames_decoded, frames_analysed, frames_dropped, decode_errors, reconnects;
    atomic_int health, src_width, src_height;

    /* Decode thread only (the interrupt callback runs on it too). */
    struct so_avguard io;   /* stop = &stop; deadline of the current I/O operation, 0 = none */
    int reported_health;    /* last value passed to on_health; -1 = none yet */
    struct timeline tl;
    struct scaler sc;
    double cpu_mark;        /* thread CPU when decode time was last counted (stages) */
};

const char *so_health_name(enum so_health h)
{
    switch (h) {
    case SO_HEALTH_LIVE:
        return "live";
    case SO_HEALTH_BLIND:
        return "blind";
    case SO_HEALTH_MOVED:
        return "moved";
    case SO_HEALTH_TAMPERED:
        return "tampered";
    }
    return "unknown";
}

static bool stopping(const struct so_source *s)
{
    return atomic_load_explicit(&s->stop, memory_order_acquire);
}

/* Sleep until the CLOCK_MONOTONIC time `until`; returns false (early) when stop is requested. */
static bool wait_until(struct so_source *s, double until)
{
    struct timespec ts = so_time_timespec(until);
    pthread_mutex_lock(&s->lock);
    while (!stopping(s)) {
        if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return !stopping(s);
}

/* Start a new I/O operation's deadline (network inputs only). */
static void arm_deadline(struct so_source *s)
{
    so_avguard_arm(&s->io, s->network ? s->io_timeout_s : 0);
}

static void set_health(struct so_source *s, enum so_health h, const char *detail)
{
    atomic_store(&s->health, (int)h);
    if (s->reported_health == (int)h) {
        return;
    }
    s->reported_health = (int)h;
    if (s->on_health) {
        s->on_health(s->opaque, h, detail);
    }
}

/* ---- input open/close ---------------------------------------------------------------- */

static void input_close(struct input *in)
{
    so_avinput_close(&in->av);
}

/*
 * No in-loop deblocking when the analysis sees the picture scaled down 2.5x or more (1080p
 * analysed at 640 px): there the filter changes pixels by about a grey level (PSNR 48-58 dB
 * against the filtered decode on the bench's 1080p stream, the drift reset at every key frame),
 * and H.264 decodes ~25 % cheaper without it. Closer to the native size its blocks show (a
 * synthetic 640x360 scene and a 320x240 clip lost or split a car in tests). Evidence stills
 * come from the grabber's own decoder (grab.c), filtered.
 */
static void tune_decoder(void *opaque, AVCodecContext *dec, const AVCodecParameters *par)
{
    const struct so_source *s = opaque;
    if (s->max_width > 0 && 2 * par->width >= 5 * s->max_width) {
        dec->skip_loop_filter = AVDISCARD_ALL;
    }
}

static int input_open(struct so_source *s, struct input *in)
{
    const struct so_avinput_opts o = {
        .guard = &s->io,
        .io_timeout_s = s->network ? s->io_timeout_s : 0,
        .threads = 1,
        .skip_frame = s->keyframes_only ? AVDISCARD_NONKEY : AVDISCARD_DEFAULT,
        .tune = tune_decoder,
        .tune_opaque = s,
    };
    int r = so_avinput_open(&in->av, s->url, &o);
    if (r < 0) {
        return r;
    }
    AVStream *st = in->av.fmt->streams[in->av.stream];
    in->tb = st->time_base;
    AVRational fr = av_guess_frame_rate(in->av.fmt, st, NULL);
    in->stream_fps = (fr.num > 0 && fr.den > 0) ? av_q2d(fr) : DEFAULT_STREAM_FPS;
    in->first_ts = AV_NOPTS_VALUE;
    so_info(s->camera_id, "opened %s: %s %dx%d", s->safe_url, in->av.dec->codec->name,
            st->codecpar->width, st->codecpar->height);
    return 0;
}

/* ---- timing and selection ------------------------------------------------------------ */

static double frame_media_time(struct so_source *s, struct input *in, const AVFrame *f)
{
    struct timeline *tl = &s->tl;
    int64_t ts = f->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE) {
        ts = f->pts;
    }
    if (!in->have_first) {
        in->have_first = true;
        in->first_ts = ts;
        if (!tl->started) {
            tl->started = true;
            tl->mono0 = so_time_mono();
            in->offset = 0;
        } else {
            /* A new connection: its timestamps start over; continue from wall time. */
            in->offset = fmax(so_time_mono() - tl->mono0, tl->last_media + 1.0 / in->stream_fps);
        }
    }
    double rel;
    if (ts != AV_NOPTS_VALUE && in->first_ts != AV_NOPTS_VALUE) {
        rel = (double)(ts - in->first_ts) * av_q2d(in->tb);
    } else {
        rel = (double)in->frames / in->stream_fps;
    }
    double media = in->offset + rel;
    if (media < tl->last_media) {
        media = tl->last_media;
    }
    tl->last_media = media;
    return media;
}

/* Is a frame at `media` due at the analysis fps? Advances next_due when it is. */
static bool frame_due(struct so_source *s, double media)
{
    struct timeline *tl = &s->tl;
    if (media < (double)tl->due_k / s->fps - DUE_EPS) {
        return false;
    }
    tl->due_k++;
    if ((double)tl->due_k / s->fps <= media) {
        tl->due_k = (int64_t)floor(media * s->fps + DUE_EPS) + 1; /* no burst to catch up */
    }
    return true;
}

/* ---- scaling ------------------------------------------------------------------------- */

static void analysis_size(int sw, int sh, int max_w, int *w, int *h)
{
    int dw = (max_w > 0 && max_w < sw) ? max_w : sw;
    int dh = (int)lround((double)sh * dw / sw / 2.0) * 2;
    if (dh > sh) {
        dh = sh & ~1;       /* odd source height: round down, never upscale */
    }
    if (dh < 2) {
        dh = sh < 2 ? sh : 2;
    }
    *w = dw;
    *h = dh;
}

/* A full-range source keeps its range through a YUV -> YUV scaling (keep_range). */
static struct SwsContext *make_sws(int sw, int sh, enum AVPixelFormat sfmt, bool full, int dw,
                                   int dh, enum AVPixelFormat dfmt, bool keep_range)
{
    struct SwsContext *c = sws_getContext(sw, sh, sfmt, dw, dh, dfmt, SWS_AREA, NULL, NULL,
                                          NULL);
    if (c && full) {
        int *inv, *tab, src_range, dst_range, bri, con, sat;
        if (sws_getColorspaceDetails(c, &inv, &src_range, &tab, &dst_range, &bri, &con,
                                     &sat) >= 0) {
            sws_setColorspaceDetails(c, inv, 1, tab, keep_range ? 1 : dst_range, bri, con, sat);
        }
    }
    return c;
}

static void scaler_free(struct scaler *sc)
{
    sws_freeContext(sc->bgr);
    sws_freeContext(sc->gray);
    sws_freeContext(sc->small);
    free(sc->u);
    free(sc->v);
    sc->bgr = sc->gray = sc->small = NULL;
    sc->u = sc->v = NULL;
}

/* The 4:2:0 path (see struct scaler); false when memory is short. */
static bool scaler_setup_small(struct scaler *sc, const AVFrame *f, enum AVPixelFormat fmt,
                               bool full, int dw, int dh)
{
    sc->cw = (dw + 1) / 2;
    size_t csize = (size_t)sc->cw * (size_t)((dh + 1) / 2);
    sc->u = malloc(csize);
    sc->v = malloc(csize);
    sc->small = make_sws(f->width, f->height, fmt, full, dw, dh, AV_PIX_FMT_YUV420P, true);
    sc->bgr = make_sws(dw, dh, AV_PIX_FMT_YUV420P, full, dw, dh, AV_PIX_FMT_BGR24, false);
    for (int y = 0; y < 256; y++) {
        long g = full ? y : lround((y - 16) * 255.0 / 219.0);
        sc->y_to_gray[y] = (uint8_t)(g < 0 ? 0 : (g > 255 ? 255 : g));
    }
    return sc->u && sc->v && sc->small && sc->bgr;
}

static int scaler_setup(struct so_source *s, const AVFrame *f, int dw, int dh)
{
    struct scaler *sc = &s->sc;
    bool full = f->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat fmt = so_avinput_plain_format((enum AVPixelFormat)f->format, &full);
    if (sc->bgr && sc->src_w == f->width && sc->src_h == f->height &&
        sc->src_fmt == (int)fmt && sc->src_full == (int)full && sc->dst_w == dw &&
        sc->dst_h == dh) {
        return 0;
    }
    if (sc->bgr) {
        so_info(s->camera_id, "input changed to %dx%d %s, analysing at %dx%d", f->width,
                f->height, av_get_pix_fmt_name(fmt) ? av_get_pix_fmt_name(fmt) : "?", dw, dh);
    }
    scaler_free(sc);
    bool ok;
    if (fmt == AV_PIX_FMT_YUV420P) {
        ok = scaler_setup_small(sc, f, fmt, full, dw, dh);
    } else {
        sc->bgr = make_sws(f->width, f->height, fmt, full, dw, dh, AV_PIX_FMT_BGR24, false);
        sc->gray = make_sws(f->width, f->height, fmt, full, dw, dh, AV_PIX_FMT_GRAY8, false);
        ok = sc->bgr && sc->gray;
    }
    if (!ok) {
        scaler_free(sc);
        return AVERROR(EINVAL);
    }
    sc->src_w = f->width;
    sc->src_h = f->height;
    sc->src_fmt = (int)fmt;
    sc->src_full = (int)full;
    sc->dst_w = dw;
    sc->dst_h = dh;
    return 0;
}

/* Scale a decoded picture into a new analysis frame; NULL (logged) on failure. */
static struct so_frame *scale_frame(struct so_source *s, const AVFrame *f)
{
    int dw, dh;
    analysis_size(f->width, f->height, s->max_width, &dw, &dh);
    int r = scaler_setup(s, f, dw, dh);
    if (r < 0) {
        so_warn(s->camera_id, "cannot convert %dx%d format %d: %s", f->width, f->height,
                f->format, av_err2str(r));
        return NULL;
    }
    struct so_frame *out = so_frame_pool_get(s->pool, dw, dh);
    if (!out) {
        so_warn(s->camera_id, "out of memory for a %dx%d frame; skipped", dw, dh);
        return NULL;
    }
    struct scaler *sc = &s->sc;
    const uint8_t *const *src = (const uint8_t *const *)f->data;
    uint8_t *dst_bgr[4] = {out->bgr};
    int stride_bgr[4] = {out->bgr_stride};
    if (sc->small) {
        uint8_t *yuv[4] = {out->gray, sc->u, sc->v};
        int yuv_stride[4] = {out->gray_stride, sc->cw, sc->cw};
        sws_scale(sc->small, src, f->linesize, 0, f->height, yuv, yuv_stride);
        sws_scale(sc->bgr, (const uint8_t *const *)yuv, yuv_stride, 0, dh, dst_bgr,
                  stride_bgr);
        if (!sc->src_full) {
            for (int y = 0; y < dh; y++) {
                uint8_t *row = out->gray + (size_t)y * (size_t)out->gray_stride;
                for (int x = 0; x < dw; x++) {
                    row[x] = sc->y_to_gray[row[x]];
                }
            }
        }
    } else {
        uint8_t *dst_gray[4] = {out->gray};
        int stride_gray[4] = {out->gray_stride};
        sws_scale(sc->bgr, src, f->linesize, 0, f->height, dst_bgr, stride_bgr);
        sws_scale(sc->gray, src, f->linesize, 0, f->height, dst_gray, stride_gray);
    }
    out->src_width = f->width;
    out->src_height = f->height;
    return out;
}

/* ---- hand-off ------------------------------------------------------------------------ */

/* Put a frame in the slot (takes ownership). Returns false when stopping (frame dropped). */
static bool publish(struct so_source *s, struct so_frame *f)
{
    pthread_mutex_lock(&s->lock);
    if (s->fast) {
        while (s->slot && !stopping(s)) {
            pthread_cond_wait(&s->cond, &s->lock);
        }
    }
    if (stopping(s)) {
        pthread_mutex_unlock(&s->lock);
        so_frame_unref(f);
        return false;
    }
    if (s->slot) {
        so_frame_unref(s->slot);
        atomic_fetch_add(&s->frames_dropped, 1);
    }
    s->slot = f;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return true;
}

/* ---- decoding ------------------------------------------------------------------------ */

/* The decode thread's CPU since the last count goes to stage `st` (util/stages.h). */
static void count_cpu(struct so_source *s, enum so_stage st)
{
    if (s->stages) {
        double now = so_time_thread_cpu();
        so_stages_add(s->stages, st, now - s->cpu_mark);
        s->cpu_mark = now;
    }
}

/* One decoded picture: time it, select it, pace it, scale it, hand it over. */
static int handle_frame(struct so_source *s, struct input *in, const AVFrame *f)
{
    atomic_fetch_add(&s->frames_decoded, 1);
    if (f->width <= 0 || f->height <= 0 || f->format < 0) {
        atomic_fetch_add(&s->decode_errors, 1);
        return 0;
    }
    atomic_store(&s->src_width, f->width);
    atomic_store(&s->src_height, f->height);
    double media = frame_media_time(s, in, f);
    double wall = s->network ? so_time_wall() : s->run_start_wall + media;
    if (in->frames++ == 0) {
        set_health(s, SO_HEALTH_LIVE, "frames flowing");
    }
    /* Pace every frame, not only due ones, so the file also ends at its real-time end. */
    if (!s->network && !s->fast && !wait_until(s, s->tl.mono0 + media)) {
        return AVERROR_EXIT;
    }
    if (!frame_due(s, media)) {
        return 0;
    }
    double ready = so_time_mono();
    count_cpu(s, SO_STAGE_DECODE);      /* everything since the last count: demux, decode */
    struct so_frame *out = scale_frame(s, f);
    count_cpu(s, SO_STAGE_SCALE);
    if (!out) {
        return 0;
    }
    out->media_s = media;
    out->wall_s = wall;
    out->ready_mono = ready;
    return publish(s, out) ? 0 : AVERROR_EXIT;
}

/* Receive every frame the decoder has ready. Returns 0 or AVERROR_EXIT on stop. */
static int drain_decoder(struct so_source *s, struct input *in, AVFrame *frm)
{
    for (;;) {
        int r = avcodec_receive_frame(in->av.dec, frm);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) {
            return 0;
        }
        if (r < 0) {
            atomic_fetch_add(&s->decode_errors, 1);
            return 0;
        }
        r = handle_frame(s, in, frm);
        av_frame_unref(frm);
        if (r < 0) {
            return r;
        }
    }
}

/*
 * Read and decode until the input ends. Returns AVERROR_EXIT on stop, AVERROR_EOF at the end
 * of the input, or the read error that ended it. The decoder is flushed in the last two cases
 * so the final frames come out.
 */
static int input_run(struct so_source *s, struct input *in, AVPacket *pkt, AVFrame *frm)
{
    bool again = false;
    for (;;) {
        if (stopping(s)) {
            return AVERROR_EXIT;
        }
        int r;
        if (s->io.timed_out) {
            /*
             * The previous read hit the deadline, yet av_read_frame() returned a packet: when
             * the demuxer fails, libavformat flushes its parser and hands out what it had
             * buffered (RTSP H.264 does this), swallowing the error. The connection is dead all
             * the same; reading again would block for a second full timeout (a stalled RTSP
             * server was reported blind after 20 s instead of 10). Treat it as the timeout.
             */
            r = AVERROR(ETIMEDOUT);
        } else {
            if (!again) {
                arm_deadline(s); /* an EAGAIN retry stays within the same read's deadline */
            }
            r = av_read_frame(in->av.fmt, pkt);
        }
        again = r == AVERROR(EAGAIN);
        if (again && s->io.deadline > 0 && so_time_mono() > s->io.deadline) {
            s->io.timed_out = true;
            r = AVERROR(ETIMEDOUT);
        } else if (again) {
            if (!wait_until(s, so_time_mono() + 0.01)) {
                return AVERROR_EXIT;
            }
            continue;
        }
        if (r < 0) {
            if (stopping(s)) {
                return AVERROR_EXIT;
            }
            avcodec_send_packet(in->av.dec, NULL);
            if (drain_decoder(s, in, frm) < 0) {
                return AVERROR_EXIT;
            }
            return r;
        }
        if (pkt->stream_index != in->av.stream) {
            av_packet_unref(pkt);
            continue;
        }
        r = avcodec_send_packet(in->av.dec, pkt);
        if (r == AVERROR(EAGAIN)) {
            /* Not expected (we drain after every packet), but the API allows it. */
            if (drain_decoder(s, in, frm) < 0) {
                av_packet_unref(pkt);
                return AVERROR_EXIT;
            }
            r = avcodec_send_packet(in->av.dec, pkt);
        }
        av_packet_unref(pkt);
        if (r < 0 && r != AVERROR(EAGAIN) && r != AVERROR_EOF) {
            atomic_fetch_add(&s->decode_errors, 1); /* corrupt data: skip it, keep going */
        }
        if (drain_decoder(s, in, frm) < 0) {
            return AVERROR_EXIT;
        }
    }
}

/* Network input lost or not reachable: report blind once per outage. */
static void go_blind(struct so_source *s, const char *what, int err, double retry_in)
{
    char detail[160];
    if (s->io.timed_out) {
        snprintf(detail, sizeof(detail), "%s: no response for %.0f s", what, s->io_timeout_s);
    } else if (err == AVERROR_EOF) {
        snprintf(detail, sizeof(detail), "%s: end of stream", what);
    } else {
        snprintf(detail, sizeof(detail), "%s: %s", what, av_err2str(err));
    }
    if (s->reported_health != SO_HEALTH_BLIND) {
        so_warn(s->camera_id, "%s: %s; camera blind, reconnecting", s->safe_url, detail);
    } else {
        so_debug(s->camera_id, "%s: %s; retrying in %.1f s", s->safe_url, detail, retry_in);
    }
    set_health(s, SO_HEALTH_BLIND, detail);
}

static void *decode_main(void *arg)
{
    struct so_source *s = arg;
    int end = AVERROR_EOF;
    double backoff = BACKOFF_MIN_S;
    s->cpu_mark = so_time_thread_cpu();
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frm = av_frame_alloc();
    if (!pkt || !frm) {
        so_err(s->camera_id, "out of memory starting the decoder");
        end = AVERROR(ENOMEM);
        goto done;
    }
    for (bool first = true; !stopping(s); first = false) {
        if (!first) {
            atomic_fetch_add(&s->reconnects, 1);
        }
        struct input in = {0};
        int r = input_open(s, &in);
        if (stopping(s)) {
            input_close(&in);
            break;
        }
        if (r < 0) {
            if (!s->network) {
                so_err(s->camera_id, "cannot open %s: %s", s->safe_url, av_err2str(r));
                set_health(s, SO_HEALTH_BLIND, "cannot open input");
                end = r;
                break;
            }
            go_blind(s, "open failed", r, backoff);
        } else {
            r = input_run(s, &in, pkt, frm);
            bool flowed = in.frames > 0;
            input_close(&in);
            if (r == AVERROR_EXIT && stopping(s)) {
                break;
            }
            if (!s->network) {
                if (r == AVERROR_EOF) {
                    so_info(s->camera_id, "%s: end of file", s->safe_url);
                } else {
                    so_warn(s->camera_id, "%s: cannot read further (%s); ending", s->safe_url,
                            av_err2str(r));
                }
                end = AVERROR_EOF;
                break;
            }
            if (flowed) {
                backoff = BACKOFF_MIN_S;
            }
            go_blind(s, "read failed", r, backoff);
        }
        if (!wait_until(s, so_time_mono() + backoff)) {
            break;
        }
        backoff = fmin(backoff * 2, BACKOFF_MAX_S);
    }
done:
    av_packet_free(&pkt);
    av_frame_free(&frm);
    scaler_free(&s->sc);
    count_cpu(s, SO_STAGE_DECODE);
    pthread_mutex_lock(&s->lock);
    s->ended = true;
    s->end_err = end;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- public API ---------------------------------------------------------------------- */

static void source_free(struct so_source *s)
{
    so_frame_unref(s->slot);
    so_frame_pool_release(s->pool);     /* frames still held elsewhere free themselves */
    free(s->url);
    free(s->camera_id);
    free(s->safe_url);
    free(s);
}

struct so_source *so_source_create(const struct so_source_opts *opts)
{
    const char *who = (opts && opts->camera_id) ? opts->camera_id : "source";
    if (!opts || !opts->url || !*opts->url) {
        so_err(who, "source: no url");
        return NULL;
    }
    if (!(opts->fps > 0) || !isfinite(opts->fps)) {
        so_err(who, "source: analysis fps must be > 0 (got %g)", opts->fps);
        return NULL;
    }
    if (opts->max_width < 0 || !(opts->io_timeout_s >= 0)) {
        so_err(who, "source: bad max_width %d or io_timeout_s %g", opts->max_width,
               opts->io_timeout_s);
        return NULL;
    }
    struct so_source *s = calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    size_t n = strlen(opts->url) + 8;
    s->url = strdup(opts->url);
    s->camera_id = strdup(who);
    s->safe_url = malloc(n);
    s->pool = so_frame_pool_create(FRAME_POOL_KEEP);
    if (!s->url || !s->camera_id || !s->safe_url || !s->pool) {
        source_free(s);
        return NULL;
    }
    so_log_redact_url(opts->url, s->safe_url, n);
    s->network = so_avinput_is_network(opts->url);
    s->fps = opts->fps;
    s->max_width = opts->max_width;
    s->fast = opts->fast && !s->network;
    s->keyframes_only = opts->keyframes_only;
    s->io_timeout_s = opts->io_timeout_s > 0 ? opts->io_timeout_s : DEFAULT_IO_TIMEOUT_S;
    s->run_start_wall = opts->run_start_wall != 0 ? opts->run_start_wall
                                                  : so_time_wall();
    s->on_health = opts->on_health;
    s->opaque = opts->opaque;
    s->stages = opts->stages;
    s->reported_health = -1;
    atomic_init(&s->stop, false);
    s->io.stop = &s->stop;
    atomic_init(&s->health, SO_HEALTH_BLIND);

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->lock, NULL);

    int r = pthread_create(&s->thread, NULL, decode_main, s);
    if (r != 0) {
        so_err(who, "source: cannot start decode thread: %s", strerror(r));
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        source_free(s);
        return NULL;
    }
    return s;
}

int so_source_next(struct so_source *s, struct so_frame **out)
{
    *out = NULL;
    int r;
    pthread_mutex_lock(&s->lock);
    while (!s->slot && !s->ended && !stopping(s)) {
        pthread_cond_wait(&s->cond, &s->lock);
    }
    if (stopping(s)) {
        r = AVERROR_EXIT;
    } else if (s->slot) {
        struct so_frame *f = s->slot;
        s->slot = NULL;
        f->index = s->next_index++;
        atomic_fetch_add(&s->frames_analysed, 1);
        pthread_cond_broadcast(&s->cond); /* a fast decoder may be waiting for the slot */
        *out = f;
        r = 0;
    } else {
        r = s->end_err;
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

bool so_source_stopping(const struct so_source *s)
{
    return stopping(s);
}

void so_source_stop(struct so_source *s)
{
    if (!s) {
        return;
    }
    atomic_store_explicit(&s->stop, true, memory_order_release);
    pthread_mutex_lock(&s->lock);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void so_source_get_stats(struct so_source *s, struct so_source_stats *out)
{
    *out = (struct so_source_stats){
        .frames_decoded = atomic_load(&s->frames_decoded),
        .frames_analysed = atomic_load(&s->frames_analysed),
        .frames_dropped = atomic_load(&s->frames_dropped),
        .decode_errors = atomic_load(&s->decode_errors),
        .reconnects = atomic_load(&s->reconnects),
        .frames_allocated = (uint64_t)so_frame_pool_allocated(s->pool),
        .health = (enum so_health)atomic_load(&s->health),
        .src_width = atomic_load(&s->src_width),
        .src_height = atomic_load(&s->src_height),
    };
}

void so_source_destroy(struct so_source *s)
{
    if (!s) {
        return;
    }
    so_source_stop(s);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    source_free(s);
}
