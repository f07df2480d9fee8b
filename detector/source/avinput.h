/*
 * Opening an FFmpeg input for decoding, shared by the per-camera decode thread (source.c) and
 * the one-shot evidence grabber (grab.c): what a URL means (network stream, file, image
 * sequence), the options each kind is opened with, the deadline and stop flag that interrupt
 * blocking I/O, the choice of the video stream and the decoder, and the pixel-format mapping
 * swscale needs. What each caller does with the open input (reconnects, pacing, seeking) stays
 * with the caller.
 *
 * Thread-safety: the functions are reentrant. A struct so_avinput and its so_avguard are used by
 * one thread at a time (FFmpeg calls the interrupt callback on the thread that blocks).
 */
#ifndef SO_SOURCE_AVINPUT_H
#define SO_SOURCE_AVINPUT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

/*
 * What interrupts the blocking I/O of an input: a stop flag and a deadline. Owned by the caller
 * and kept alive as long as the input is open (it is the interrupt callback's opaque).
 */
struct so_avguard {
    const atomic_bool *stop;    /* NULL, or a flag that aborts the I/O when set */
    double deadline;            /* CLOCK_MONOTONIC seconds (so_time_mono); 0 = none */
    bool timed_out;             /* set when the deadline aborted an operation */
};

/* Start a new deadline `seconds` from now (0 = none) and clear timed_out. */
void so_avguard_arm(struct so_avguard *g, double seconds);

/* Has stop been requested (false without a flag)? */
bool so_avguard_stopping(const struct so_avguard *g);

/* FFmpeg's interrupt callback (opaque: a struct so_avguard): 1 when stop is set or the deadline
 * passed (then also sets timed_out), else 0. Callers may use it between packets too. */
int so_avguard_interrupted(void *opaque);

struct so_avinput_opts {
    struct so_avguard *guard;   /* required; see struct so_avguard */
    /* Per-operation deadline, re-armed on the guard before the open and before the stream
     * probe, and given to the network protocols as their socket timeout. 0: neither (the
     * guard's deadline stands as the caller set it). */
    double io_timeout_s;
    /* Network inputs: stream info probed for this long, µs (analyzeduration); 0 = FFmpeg's
     * default (5 s). */
    int64_t probe_us;
    int threads;                /* decoder threads; 0 = 1 */
    enum AVDiscard skip_frame;  /* AVDISCARD_DEFAULT (0) or e.g. AVDISCARD_NONKEY */
    /* Called, when set, with the decoder context and its stream's parameters just before the
     * decoder is opened: for settings that depend on the stream (e.g. its picture size). */
    void (*tune)(void *opaque, AVCodecContext *dec, const AVCodecParameters *par);
    void *tune_opaque;
};

/* An open input: the demuxer, its video stream and an open decoder for it. */
struct so_avinput {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    int stream;                 /* index of the video stream in fmt; the others are discarded */
};

/*
 * Open `url` (see so_avinput_is_network / so_avinput_is_image_sequence for what it may be) and
 * get it ready to decode: options by kind (RTSP over TCP, video only; image sequences read as
 * image2 at 25 fps), interrupt through opts->guard, stream info, the best video stream, its
 * decoder opened per opts. `in` must be zeroed (or closed). Returns 0, or a negative AVERROR
 * with `in` closed again (when the guard interrupted the I/O, FFmpeg's error, usually
 * AVERROR_EXIT; guard->timed_out tells a deadline from stop).
 */
int so_avinput_open(struct so_avinput *in, const char *url, const struct so_avinput_opts *opts);

/* Free the decoder and close the demuxer; `in` is zeroed. NULL-safe, idempotent. */
void so_avinput_close(struct so_avinput *in);

/* A network stream (rtsp://, http://, udp://...: any URL with "://" but file://)? */
bool so_avinput_is_network(const char *url);

/* "frames/%05d.png", "img%d.jpg": a printf integer conversion anywhere in the name, and no file
 * of exactly that name ("100%done.mp4" exists: a file). Looks at the file system. */
bool so_avinput_is_image_sequence(const char *url);

/*
 * The deprecated "J" pixel formats (every AV_PIX_FMT_YUVJ*) mean full-range YUV; swscale wants
 * the plain format plus a full-range flag. Returns the plain format and sets *full for a J
 * format; returns `fmt` and leaves *full alone for any other.
 */
enum AVPixelFormat so_avinput_plain_format(enum AVPixelFormat fmt, bool *full);

#endif
