/*
 * Video source: one camera's input (file, image sequence, RTSP, HTTP) demuxed and decoded with
 * FFmpeg on a decode thread of its own, with frames due at the analysis fps scaled to the
 * analysis width and handed to the analysis thread through a depth-1 slot.
 *
 * - Live (network URLs, and files without `fast`): latest frame wins; a frame not taken before
 *   the next one is ready is dropped and counted. Files are paced in real time like a camera.
 * - fast (files only): the decoder waits for the slot, so no frame is ever dropped and results
 *   are deterministic.
 * - Network inputs reconnect by themselves with capped exponential backoff (0.5 s doubling to
 *   30 s); health goes `blind` on loss and `live` when frames flow again. Files end at EOF.
 * - A frame is due when its media time reaches the next multiple of 1/fps from the first frame
 *   (never two frames for one slot, never a burst to catch up).
 * - Shutdown: so_source_destroy() (or the stop flag) interrupts blocking I/O through FFmpeg's
 *   interrupt_callback; it never hangs.
 *
 * Thread-safety: create/destroy from one thread; so_source_next() from one consumer thread;
 * so_source_get_stats() from any thread.
 */
#ifndef SO_SOURCE_SOURCE_H
#define SO_SOURCE_SOURCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "frame.h"
#include "stages.h"

/* A camera's health. The source reports only LIVE and BLIND; MOVED and TAMPERED come from the
 * view check (analysis/view_check.h), which the camera's analysis publishes over the source's
 * health for /metrics. */
enum so_health {
    SO_HEALTH_LIVE = 0,     /* frames are flowing */
    SO_HEALTH_BLIND,        /* input lost or not yet opened; reconnecting */
    SO_HEALTH_MOVED,        /* the view check: the camera points elsewhere */
    SO_HEALTH_TAMPERED,     /* the view check: lens covered / defocused */
};

/* "live", "blind", "moved", "tampered" (a static string; "unknown" out of range). */
const char *so_health_name(enum so_health h);

/* Called on the decode thread when health changes; `detail` is a short human reason (never
 * contains credentials). Must not block for long. */
typedef void (*so_source_health_fn)(void *opaque, enum so_health health, const char *detail);

struct so_source_opts {
    const char *url;            /* file path, image-sequence pattern (%05d), rtsp://, http(s):// */
    const char *camera_id;      /* for log lines */
    double fps;                 /* analysis fps (> 0) */
    int max_width;              /* analysis width; never upscaled; height keeps aspect, even */
    bool fast;                  /* files: no pacing, never drop (ignored for network inputs) */
    bool keyframes_only;        /* decode key frames only (AVDISCARD_NONKEY) */
    double io_timeout_s;        /* network read/open timeout, default 10 when 0 */
    double run_start_wall;      /* Unix time that media time 0 maps to for files (wall_s);
                                 * 0 = now */
    so_source_health_fn on_health;
    void *opaque;
    struct so_stages *stages;   /* the decode thread adds its decode and scale CPU seconds here
                                 * (util/stages.h); borrowed, outlives the source; NULL: none */
};

struct so_source_stats {
    uint64_t frames_decoded;
    uint64_t frames_analysed;   /* handed out by so_source_next */
    uint64_t frames_dropped;    /* live: overwritten in the slot before being taken */
    uint64_t decode_errors;
    uint64_t reconnects;
    uint64_t frames_allocated;  /* analysis frames ever allocated: the rest were reused */
    enum so_health health;
    int src_width, src_height;
};

/*
 * Start the decode thread, which opens the input. Returns NULL only for bad options or a decode
 * thread that cannot start (both logged) or out of memory; an input that cannot be opened yet is
 * retried (network) or reported through so_source_next() (files).
 */
struct so_source *so_source_create(const struct so_source_opts *opts);

/*
 * Wait for the next analysis frame. Returns 0 and a frame the caller now owns (unref it);
 * AVERROR_EOF when a file input has ended (including a truncated/corrupt file that could not be
 * decoded further: the reason is logged); AVERROR_EXIT after so_source_stop(); another negative
 * AVERROR for a file that cannot be opened at all.
 */
int so_source_next(struct so_source *src, struct so_frame **out);

/* Ask the source to stop: wakes so_source_next() and interrupts I/O. Thread-safe, idempotent. */
void so_source_stop(struct so_source *src);

/* Has so_source_stop() been called? (Long work on a frame can give up early.) Any thread. */
bool so_source_stopping(const struct so_source *src);

/* A snapshot of the counters (each read atomically, not all at one instant). Any thread. */
void so_source_get_stats(struct so_source *src, struct so_source_stats *out);

/* Stop, join the decode thread and free. Accepts NULL. */
void so_source_destroy(struct so_source *src);

#endif
