/* Reference-counted analysis frames: one allocation for the struct and both planes. */
#include "frame.h"

#include <stdlib.h>

struct so_frame *so_frame_alloc(int width, int height)
{
    if (width <= 0 || height <= 0) {
        return NULL;
    }
    int bgr_stride = (width * 3 + 31) & ~31;
    int gray_stride = (width + 31) & ~31;
    size_t head = (sizeof(struct so_frame) + 63) & ~(size_t)63;
    size_t size = head + (size_t)bgr_stride * height + (size_t)gray_stride * height;
    uint8_t *mem = aligned_alloc(64, (size + 63) & ~(size_t)63);
    if (!mem) {
        return NULL;
    }
    struct so_frame *f = (struct so_frame *)mem;
    *f = (struct so_frame){
        .width = width,
        .height = height,
        .bgr = mem + head,
        .bgr_stride = bgr_stride,
        .gray = mem + head + (size_t)bgr_stride * height,
        .gray_stride = gray_stride,
        .src_width = width,
        .src_height = height,
    };
    atomic_init(&f->refs, 1);
    return f;
}

struct so_frame *so_frame_ref(struct so_frame *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void so_frame_unref(struct so_frame *f)
{
    if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) {
        free(f);
    }
}
