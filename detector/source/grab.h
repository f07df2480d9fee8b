/*
 * One-shot still grabber: open a URL, decode one picture, close. For the high-resolution
 * evidence of a camera's `evidence_url` (the NVR's main stream), which is never decoded
 * continuously: one connection per grab.
 *
 * - Live inputs (rtsp://, http://, udp://...: any URL with "://" but file://): the first
 *   picture that comes out of the decoder (it starts at a keyframe).
 * - Files and image sequences: the picture at media time `media_s` (seconds since the first
 *   frame, as the source module counts them): the first frame whose time is >= media_s, or the
 *   last frame when the file is shorter. Two encodings of the same recording line up.
 *
 * Thread-safety: reentrant; each call has its own FFmpeg objects. Blocks the caller for at most
 * until `deadline_mono` (the I/O is interrupted through FFmpeg's interrupt callback, which also
 * watches `stop`).
 */
#ifndef SO_SOURCE_GRAB_H
#define SO_SOURCE_GRAB_H

#include <stdatomic.h>

#include "frame.h"

#define SO_GRAB_MAX_WIDTH 3840

struct so_grab_opts {
    const char *url;            /* file path, image-sequence pattern (%05d), or a stream URL */
    const char *camera_id;      /* for log lines */
    double media_s;             /* files: the picture at this media time; ignored for streams */
    double deadline_mono;       /* CLOCK_MONOTONIC seconds (so_time_mono) when it gives up;
                                 * 0 = never (stop alone ends it) */
    const atomic_bool *stop;    /* NULL, or a flag that aborts the grab when set */
    int max_width;              /* 0 = SO_GRAB_MAX_WIDTH; larger pictures are scaled down */
};

/*
 * Grab one picture as a BGR frame at its native size (both planes filled; files: media_s the
 * picture's media time, wall_s 0; live streams: media_s -1, wall_s when it was received).
 * Returns 0 and a frame the caller owns (unref it);
 * AVERROR_EXIT when `stop` was set, AVERROR(ETIMEDOUT) past the deadline, another negative
 * AVERROR when the input cannot be opened or decoded. Logs nothing: the caller knows whether a
 * failure matters (and logs the URL redacted).
 */
int so_grab_still(const struct so_grab_opts *opts, struct so_frame **out);

#endif
