/*
 * A decoded, scaled analysis frame: BGR24 and GRAY8 planes of the same size, with its media
 * time and wall time. Frames are reference-counted and immutable once published; any thread may
 * take or drop a reference.
 */
#ifndef SO_SOURCE_FRAME_H
#define SO_SOURCE_FRAME_H

#include <stdatomic.h>
#include <stdbool.h>
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
    struct so_frame_pool *pool; /* where it goes back at the last unref; NULL: freed */
};

/*
 * Allocate a frame with both planes for width x height (refs = 1). Returns NULL when memory
 * is short (frame buffers are always checked).
 */
struct so_frame *so_frame_alloc(int width, int height);

/* Take another reference; returns f. */
struct so_frame *so_frame_ref(struct so_frame *f);

/* Drop a reference; at zero the frame goes back to its pool, or is freed. Accepts NULL. */
void so_frame_unref(struct so_frame *f);

/*
 * A frame kept compactly, for frames held a while only in case they are wanted (the rules'
 * recent past): its grey plane as it was, and its colour as two chroma planes (Cb, Cr) at half
 * width and height, as JPEG and the cameras' own video keep colour. 1.5 bytes a pixel instead
 * of the frame's 4; the grey comes back exactly, the colour as a JPEG of the frame would.
 */
struct so_frame_compact {
    int width, height, src_width, src_height;
    double media_s, wall_s, ready_mono;
    int64_t index;
    uint8_t *gray;          /* width x height, no padding */
    uint8_t *cb, *cr;       /* (width+1)/2 x (height+1)/2 each */
};

/* Keep `f` in `c`, reusing c's planes when the size is the same (c zeroed at first). Returns
 * false when memory is short (c is then empty: gray NULL). */
bool so_frame_compact_keep(struct so_frame_compact *c, const struct so_frame *f);

/* A new frame (refs = 1, no pool) rebuilt from `c`, or NULL when c is empty or memory short. */
struct so_frame *so_frame_compact_expand(const struct so_frame_compact *c);

/* Free c's planes; c is then empty. */
void so_frame_compact_clear(struct so_frame_compact *c);

/*
 * A pool of frames for one producer (a camera's source), so that the steady state allocates
 * no frame: a frame whose last reference is dropped (on any thread: analysis, evidence, HTTP)
 * goes back to the pool, and so_frame_pool_get() hands it out again. Up to `keep` free frames
 * are kept; frames of another size are freed. The owner lets go with so_frame_pool_release();
 * the pool itself is freed once the last of its frames is back (frames may outlive the owner).
 */
struct so_frame_pool;

/* NULL when memory is short. */
struct so_frame_pool *so_frame_pool_create(int keep);

/* A frame of width x height (refs = 1): a free one of that size, or a new one. NULL when
 * memory is short. The frame's fields but its planes are reset; its pixels are stale. */
struct so_frame *so_frame_pool_get(struct so_frame_pool *p, int width, int height);

/* How many frames the pool has allocated in all (for tests and statistics). */
long so_frame_pool_allocated(struct so_frame_pool *p);

/* The owner lets go: free frames are freed now, the others as they come back. Accepts NULL. */
void so_frame_pool_release(struct so_frame_pool *p);

#endif
