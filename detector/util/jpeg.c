/*
 * JPEG encoding with libjpeg-turbo, in C.
 *
 * Why not cv::imencode any more: it was the daemon's only use of libopencv_imgcodecs, and that
 * one library pulls ~139 shared libraries into the process (GDAL, GDCM, libjxl/highway,
 * OpenEXR...): every start of the daemon, of `streetorder check` and of each test paid for
 * their relocation and constructors (~0.15 s CPU, ~70 MB RSS before doing anything). OpenCV's
 * JPEG codec is libjpeg-turbo anyway; calling it directly gives the same bytes.
 *
 * Settings are OpenCV 4.6's for IMWRITE_JPEG_QUALITY alone: jpeg_set_defaults() (baseline,
 * 4:2:0, standard Huffman tables, no restart markers, JFIF header) then
 * jpeg_set_quality(q, force_baseline). OpenCV swaps B and R itself and feeds JCS_RGB; here
 * libjpeg-turbo reads BGR rows as they are (JCS_EXT_BGR), which converts identically.
 *
 * Errors: libjpeg's default error_exit() prints and calls exit(). Here it longjmps back to
 * compress(), which returns a negative errno; jpeg_destroy_compress() then frees libjpeg's
 * pools. Nothing is printed (output_message is silent): the caller logs with its context.
 * setjmp() is in compress(), whose only state lives behind the `job` pointer it is given, so
 * no local of the function that calls setjmp() changes before a longjmp (C11 7.13.2.1).
 *
 * Output: our own growable malloc() destination rather than jpeg_mem_dest(), because on an
 * error after jpeg_mem_dest() has grown its buffer, the caller's pointer is left dangling and
 * the grown buffer leaks. The buffer starts at a guess of the compressed size, doubles when
 * full, and is trimmed to the final size.
 */
#include "jpeg.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>      /* jpeglib.h needs FILE and size_t first */
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

struct dest {
    struct jpeg_destination_mgr pub;    /* first: libjpeg hands back &pub */
    uint8_t *buf;
    size_t cap;
    size_t used;                        /* set by term_destination */
};

struct fail {
    struct jpeg_error_mgr pub;          /* first: libjpeg hands back &pub */
    jmp_buf jump;
};

struct job {
    struct jpeg_compress_struct cinfo;
    struct fail err;
    struct dest dest;
    const uint8_t *bgr;
    int width, height, stride, quality;
};

static void dest_init(j_compress_ptr c)
{
    struct dest *d = (struct dest *)c->dest;
    d->pub.next_output_byte = d->buf;
    d->pub.free_in_buffer = d->cap;
}

/* Called when the whole buffer is full: double it. */
static boolean dest_grow(j_compress_ptr c)
{
    struct dest *d = (struct dest *)c->dest;
    uint8_t *more = d->cap <= SIZE_MAX / 2 ? realloc(d->buf, d->cap * 2) : NULL;
    if (!more) {
        c->err->msg_code = JERR_OUT_OF_MEMORY;
        c->err->error_exit((j_common_ptr)c);
    }
    d->buf = more;
    d->pub.next_output_byte = more + d->cap;
    d->pub.free_in_buffer = d->cap;
    d->cap *= 2;
    return TRUE;
}

static void dest_term(j_compress_ptr c)
{
    struct dest *d = (struct dest *)c->dest;
    d->used = d->cap - d->pub.free_in_buffer;
}

static void fail_exit(j_common_ptr c)
{
    struct fail *f = (struct fail *)c->err;
    longjmp(f->jump, 1);
}

static void fail_silently(j_common_ptr c)
{
    (void)c;
}

static int error_code(int msg_code)
{
    switch (msg_code) {
    case JERR_OUT_OF_MEMORY:
        return -ENOMEM;
    case JERR_IMAGE_TOO_BIG:
    case JERR_EMPTY_IMAGE:
    case JERR_BAD_IN_COLORSPACE:
        return -EINVAL;
    default:
        return -EIO;
    }
}

static int compress(struct job *j)
{
    struct jpeg_compress_struct *c = &j->cinfo;
    c->err = jpeg_std_error(&j->err.pub);
    j->err.pub.error_exit = fail_exit;
    j->err.pub.output_message = fail_silently;
    if (setjmp(j->err.jump)) {
        return error_code(j->err.pub.msg_code);
    }
    jpeg_create_compress(c);
    j->dest.pub.init_destination = dest_init;
    j->dest.pub.empty_output_buffer = dest_grow;
    j->dest.pub.term_destination = dest_term;
    c->dest = &j->dest.pub;

    c->image_width = (JDIMENSION)j->width;
    c->image_height = (JDIMENSION)j->height;
    c->input_components = 3;
    c->in_color_space = JCS_EXT_BGR;
    jpeg_set_defaults(c);
    jpeg_set_quality(c, j->quality, TRUE);
    jpeg_start_compress(c, TRUE);
    while (c->next_scanline < c->image_height) {
        /* libjpeg only reads input rows; its prototype predates const */
        JSAMPROW row = (JSAMPROW)(uintptr_t)(j->bgr + (size_t)c->next_scanline * j->stride);
        jpeg_write_scanlines(c, &row, 1);
    }
    jpeg_finish_compress(c);
    return 0;
}

int so_jpeg_encode(const uint8_t *bgr, int width, int height, int stride, int quality,
                   uint8_t **out, size_t *size)
{
    if (out) {
        *out = NULL;
    }
    if (size) {
        *size = 0;
    }
    if (!bgr || !out || !size || width <= 0 || height <= 0 || width > INT_MAX / 3 ||
        stride < 3 * width || quality < 1 || quality > 100) {
        return -EINVAL;
    }
    struct job *j = calloc(1, sizeof(*j));
    if (!j) {
        return -ENOMEM;
    }
    *j = (struct job){.bgr = bgr, .width = width, .height = height, .stride = stride,
                      .quality = quality};
    /* a first guess: ~1 byte per 4 pixels covers quality 85 on camera scenes */
    j->dest.cap = (size_t)width * (size_t)height / 4 + 16384;
    j->dest.buf = malloc(j->dest.cap);
    if (!j->dest.buf) {
        free(j);
        return -ENOMEM;
    }
    int rc = compress(j);
    jpeg_destroy_compress(&j->cinfo);
    if (rc < 0) {
        free(j->dest.buf);
        free(j);
        return rc;
    }
    uint8_t *trimmed = realloc(j->dest.buf, j->dest.used);
    *out = trimmed ? trimmed : j->dest.buf;
    *size = j->dest.used;
    free(j);
    return 0;
}
