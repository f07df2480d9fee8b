/*
 * A decoded, scaled analysis frame: BGR24 and GRAY8 planes of the same size, with its media
 * time and wall time. Frames are reference-counted and immutable once published; any thread may
 * take or drop a reference.
 */
#ifndef SO_SOURCE_FRAME_H
#define SO_SOURCE_FRAME_H

#include <stdatomic.h>
#include <stdint.h>

struct so_frame {
    int width, height;      /* analysis size (never larger than the decoded picture) */
    uint8_t *bgr;           /* width*3 bytes per row, `bgr_stride` apart */
    int bgr_stride;
    uint8_t *gray;          /* width bytes per row, `gray_stride` apart */
    int gray_stride;
    int src_width, src_height; /* size of the decoded picture before scaling */
    double media_s;         /* seconds of stream time since the first frame, monotonic */
    double wall_s;          /* Unix time of the frame: capture for live, run start + media for files */
    int64_t index;          /* 0, 1, 2... in the order frames were handed to analysis */
    double ready_mono;      /* CLOCK_MONOTONIC seconds when the decoded picture was due (after
                             * pacing): the start of the decode-to-event latency */
    atomic_int refs;
};

/*
 * Allocate a frame with both planes for width x height (refs = 1). Returns NULL when memory
 * is short (frame buffers are always checked).
 */
struct so_frame *so_frame_alloc(int width, int height);

/* Take another reference; returns f. */
struct so_frame *so_frame_ref(struct so_frame *f);

/* Drop a reference; frees at zero. Accepts NULL. */
void so_frame_unref(struct so_frame *f);

#endif
