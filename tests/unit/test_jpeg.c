/*
 * Unit tests for detector/util/jpeg.c: BGR frames encoded with libjpeg-turbo and decoded back
 * with libjpeg's own decoder. Colours come back in their place (a swapped R/B would be off by
 * ~190 grey levels), the stream is the one cv::imencode wrote (baseline, 4:2:0, JFIF), row
 * padding is never read, quality changes size and fidelity, the output buffer grows past its
 * first guess, odd sizes work, bad arguments are refused, and a libjpeg error comes back as a
 * status instead of exiting the process.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "jpeg.h"
#include "testlib.h"

/* ---- decoding with libjpeg (errors longjmp back, like the encoder) */

struct decoded {
    uint8_t *bgr;               /* w * h * 3, malloc()ed */
    int w, h, components;
    int samp[3][2];             /* h, v sampling factor per component */
    int progressive;
};

struct dec_fail {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

struct dec_job {
    struct jpeg_decompress_struct cinfo;
    struct dec_fail err;
    const uint8_t *jpeg;
    size_t size;
    struct decoded *out;
};

static void dec_exit(j_common_ptr c)
{
    longjmp(((struct dec_fail *)c->err)->jump, 1);
}

static int dec_run(struct dec_job *j)
{
    struct jpeg_decompress_struct *c = &j->cinfo;
    c->err = jpeg_std_error(&j->err.pub);
    j->err.pub.error_exit = dec_exit;
    if (setjmp(j->err.jump)) {
        return -1;
    }
    jpeg_create_decompress(c);
    jpeg_mem_src(c, j->jpeg, (unsigned long)j->size);
    jpeg_read_header(c, TRUE);
    c->out_color_space = JCS_EXT_BGR;
    jpeg_start_decompress(c);
    struct decoded *d = j->out;
    d->w = (int)c->output_width;
    d->h = (int)c->output_height;
    d->components = c->num_components;
    d->progressive = c->progressive_mode;
    for (int i = 0; i < c->num_components && i < 3; i++) {
        d->samp[i][0] = c->comp_info[i].h_samp_factor;
        d->samp[i][1] = c->comp_info[i].v_samp_factor;
    }
    d->bgr = malloc((size_t)d->w * d->h * 3);
    if (!d->bgr) {
        return -1;
    }
    while (c->output_scanline < c->output_height) {
        JSAMPROW row = d->bgr + (size_t)c->output_scanline * d->w * 3;
        jpeg_read_scanlines(c, &row, 1);
    }
    jpeg_finish_decompress(c);
    return 0;
}

static int decode(const uint8_t *jpeg, size_t size, struct decoded *out)
{
    *out = (struct decoded){0};
    struct dec_job *j = calloc(1, sizeof(*j));
    if (!j) {
        return -1;
    }
    j->jpeg = jpeg;
    j->size = size;
    j->out = out;
    int rc = dec_run(j);
    jpeg_destroy_decompress(&j->cinfo);
    free(j);
    if (rc < 0) {
        free(out->bgr);
        out->bgr = NULL;
    }
    return rc;
}

/* ---- test images */

struct quad {
    uint8_t b, g, r;
};

/* Four flat quadrants, colours chosen so that B and R differ a lot in each. */
static const struct quad quads[4] = {
    {30, 60, 220},      /* top left: red */
    {220, 60, 30},      /* top right: blue */
    {40, 200, 90},      /* bottom left: green */
    {160, 128, 100},    /* bottom right: grey-blue */
};

static void fill_quadrants(uint8_t *px, int w, int h, int stride)
{
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            const struct quad *q = &quads[(y >= h / 2) * 2 + (x >= w / 2)];
            uint8_t *p = px + (size_t)y * stride + 3 * x;
            p[0] = q->b;
            p[1] = q->g;
            p[2] = q->r;
        }
    }
}

/* Smooth colour gradients plus deterministic grey noise: detail for the quantiser to throw
 * away. The noise is the same on B, G and R, so it is all luma and 4:2:0 loses none of it. */
static void fill_texture(uint8_t *px, int w, int h, uint32_t seed)
{
    uint32_t s = seed;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            s = s * 1664525u + 1013904223u;
            int noise = (int)(s >> 26) - 32;        /* -32..31 */
            int base[3] = {48 + 160 * x / w, 48 + 160 * y / h, 208 - 160 * x / w};
            for (int ch = 0; ch < 3; ch++) {
                px[((size_t)y * w + x) * 3 + ch] = (uint8_t)(base[ch] + noise);
            }
        }
    }
}

/* Mean of channel ch over [x0,x1) x [y0,y1) of a tight BGR image. */
static double mean(const uint8_t *px, int w, int x0, int y0, int x1, int y1, int ch)
{
    double sum = 0;
    for (int y = y0; y < y1; y++) {
        for (int x = x0; x < x1; x++) {
            sum += px[((size_t)y * w + x) * 3 + ch];
        }
    }
    return sum / ((double)(x1 - x0) * (y1 - y0));
}

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    }
    return sum / (double)n;
}

/* Whether the marker FF <m> occurs before the scan data (start of scan FF DA). */
static int has_marker(const uint8_t *j, size_t n, uint8_t m)
{
    for (size_t i = 2; i + 4 <= n;) {
        if (j[i] != 0xFF) {
            return 0;
        }
        if (j[i + 1] == m) {
            return 1;
        }
        if (j[i + 1] == 0xDA) {
            return 0;
        }
        i += 2 + (size_t)((j[i + 2] << 8) | j[i + 3]);
    }
    return 0;
}

/* ---- cases */

static void test_colours_and_format(void)
{
    enum { W = 160, H = 120, STRIDE = 3 * W + 13 };
    uint8_t *px = malloc((size_t)STRIDE * H);
    if (!CHECK(px != NULL)) {
        return;
    }
    memset(px, 0xAB, (size_t)STRIDE * H);   /* padding stays 0xAB */
    fill_quadrants(px, W, H, STRIDE);
    uint8_t *jpeg = NULL;
    size_t size = 0;
    CHECK_INT(so_jpeg_encode(px, W, H, STRIDE, 90, &jpeg, &size), 0);
    CHECK(jpeg != NULL && size > 200 && size < (size_t)W * H * 3);
    if (!jpeg) {
        free(px);
        return;
    }
    CHECK(jpeg[0] == 0xFF && jpeg[1] == 0xD8 && jpeg[size - 2] == 0xFF && jpeg[size - 1] == 0xD9);
    CHECK(has_marker(jpeg, size, 0xE0));    /* JFIF APP0, like OpenCV's */
    CHECK(has_marker(jpeg, size, 0xC0));    /* baseline */
    CHECK(!has_marker(jpeg, size, 0xC2));   /* not progressive */
    CHECK(!has_marker(jpeg, size, 0xDD));   /* no restart interval */

    struct decoded d;
    CHECK_INT(decode(jpeg, size, &d), 0);
    if (d.bgr) {
        CHECK_INT(d.w, W);
        CHECK_INT(d.h, H);
        CHECK_INT(d.components, 3);
        CHECK_INT(d.progressive, 0);
        /* 4:2:0: luma 2x2, chroma 1x1 */
        CHECK(d.samp[0][0] == 2 && d.samp[0][1] == 2);
        CHECK(d.samp[1][0] == 1 && d.samp[1][1] == 1 && d.samp[2][0] == 1 &&
              d.samp[2][1] == 1);
        for (int q = 0; q < 4; q++) {
            int x0 = (q % 2) * W / 2 + 8, y0 = (q / 2) * H / 2 + 8;
            int x1 = x0 + W / 2 - 16, y1 = y0 + H / 2 - 16;
            CHECK_DBL(mean(d.bgr, W, x0, y0, x1, y1, 0), quads[q].b, 3.0);
            CHECK_DBL(mean(d.bgr, W, x0, y0, x1, y1, 1), quads[q].g, 3.0);
            CHECK_DBL(mean(d.bgr, W, x0, y0, x1, y1, 2), quads[q].r, 3.0);
        }
        free(d.bgr);
    }

    /* The same pixels without row padding: the same bytes (padding is never read). */
    uint8_t *tight = malloc((size_t)W * H * 3);
    if (CHECK(tight != NULL)) {
        fill_quadrants(tight, W, H, 3 * W);
        uint8_t *jpeg2 = NULL;
        size_t size2 = 0;
        CHECK_INT(so_jpeg_encode(tight, W, H, 3 * W, 90, &jpeg2, &size2), 0);
        CHECK(size2 == size && jpeg2 && memcmp(jpeg, jpeg2, size) == 0);
        free(jpeg2);
    }
    free(tight);
    free(jpeg);
    free(px);
}

static void test_quality(void)
{
    enum { W = 192, H = 144 };
    static const int qualities[] = {20, 60, 95};
    uint8_t *px = malloc((size_t)W * H * 3);
    if (!CHECK(px != NULL)) {
        return;
    }
    fill_texture(px, W, H, 7);
    size_t sizes[3] = {0};
    double errors[3] = {0};
    for (int i = 0; i < 3; i++) {
        uint8_t *jpeg = NULL;
        CHECK_INT(so_jpeg_encode(px, W, H, 3 * W, qualities[i], &jpeg, &sizes[i]), 0);
        struct decoded d;
        if (jpeg && decode(jpeg, sizes[i], &d) == 0) {
            errors[i] = d.w == W && d.h == H ? mean_abs_diff(px, d.bgr, (size_t)W * H * 3) : 999;
            free(d.bgr);
        } else {
            errors[i] = 999;
        }
        free(jpeg);
    }
    so_test_check(sizes[0] < sizes[1] && sizes[1] < sizes[2], __FILE__, __LINE__,
                  "size grows with quality (q20 %zu, q60 %zu, q95 %zu bytes)", sizes[0],
                  sizes[1], sizes[2]);
    so_test_check(errors[0] > errors[1] && errors[1] > errors[2] && errors[2] < 4, __FILE__,
                  __LINE__, "error falls with quality (q20 %.2f, q60 %.2f, q95 %.2f)",
                  errors[0], errors[1], errors[2]);
    free(px);
}

/* Noise at quality 100 is far larger than the first buffer guess: it has to grow. */
static void test_buffer_growth(void)
{
    enum { W = 640, H = 480 };
    uint8_t *px = malloc((size_t)W * H * 3);
    if (!CHECK(px != NULL)) {
        return;
    }
    fill_texture(px, W, H, 99);
    uint8_t *jpeg = NULL;
    size_t size = 0;
    CHECK_INT(so_jpeg_encode(px, W, H, 3 * W, 100, &jpeg, &size), 0);
    so_test_check(size > (size_t)W * H / 4 + 16384, __FILE__, __LINE__,
                  "q100 noise (%zu bytes) is past the first guess", size);
    struct decoded d;
    if (jpeg && CHECK(decode(jpeg, size, &d) == 0)) {
        CHECK(d.w == W && d.h == H);
        CHECK_DBL(mean_abs_diff(px, d.bgr, (size_t)W * H * 3), 0, 4.0);
        free(d.bgr);
    }
    free(jpeg);
    free(px);
}

static void test_odd_sizes(void)
{
    static const int dims[][2] = {{1, 1}, {17, 9}, {3, 31}, {333, 2}};
    for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
        int w = dims[i][0], h = dims[i][1];
        uint8_t *px = malloc((size_t)w * h * 3);
        if (!CHECK(px != NULL)) {
            continue;
        }
        memset(px, 77, (size_t)w * h * 3);
        uint8_t *jpeg = NULL;
        size_t size = 0;
        int rc = so_jpeg_encode(px, w, h, 3 * w, 85, &jpeg, &size);
        struct decoded d = {0};
        int dec = rc == 0 ? decode(jpeg, size, &d) : -1;
        so_test_check(rc == 0 && dec == 0 && d.w == w && d.h == h && d.bgr[0] > 74 &&
                      d.bgr[0] < 80, __FILE__, __LINE__, "%dx%d round trip (rc %d)", w, h, rc);
        free(d.bgr);
        free(jpeg);
        free(px);
    }
}

static void test_invalid(void)
{
    uint8_t px[4 * 4 * 3] = {0};
    static const struct {
        const char *name;
        int null_px, w, h, stride, quality, null_out, null_size;
    } cases[] = {
        {"NULL pixels", 1, 4, 4, 12, 85, 0, 0},
        {"width 0", 0, 0, 4, 12, 85, 0, 0},
        {"height 0", 0, 4, 0, 12, 85, 0, 0},
        {"negative height", 0, 4, -2, 12, 85, 0, 0},
        {"stride < 3 * width", 0, 4, 4, 11, 85, 0, 0},
        {"huge width overflows", 0, 0x7fffffff, 1, 12, 85, 0, 0},
        {"quality 0", 0, 4, 4, 12, 0, 0, 0},
        {"quality 101", 0, 4, 4, 12, 101, 0, 0},
        {"NULL out", 0, 4, 4, 12, 85, 1, 0},
        {"NULL size", 0, 4, 4, 12, 85, 0, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *out = (uint8_t *)px;   /* must be reset to NULL */
        size_t size = 123;
        int rc = so_jpeg_encode(cases[i].null_px ? NULL : px, cases[i].w, cases[i].h,
                                cases[i].stride, cases[i].quality,
                                cases[i].null_out ? NULL : &out,
                                cases[i].null_size ? NULL : &size);
        so_test_check(rc == -EINVAL && (cases[i].null_out || out == NULL) &&
                      (cases[i].null_size || size == 0), __FILE__, __LINE__,
                      "%s: -EINVAL (rc %d)", cases[i].name, rc);
    }
}

/* Wider than JPEG allows (65500): libjpeg raises the error itself, and it must come back as a
 * status, with nothing leaked (ASan) and the process alive. Then the encoder still works. */
static void test_libjpeg_error(void)
{
    enum { W = 70000 };
    uint8_t *px = calloc((size_t)W * 3, 1);
    if (!CHECK(px != NULL)) {
        return;
    }
    uint8_t *jpeg = NULL;
    size_t size = 1;
    CHECK_INT(so_jpeg_encode(px, W, 1, 3 * W, 85, &jpeg, &size), -EINVAL);
    CHECK(jpeg == NULL && size == 0);
    CHECK_INT(so_jpeg_encode(px, 64, 1, 3 * W, 85, &jpeg, &size), 0);
    CHECK(jpeg != NULL && size > 100);
    free(jpeg);
    free(px);
}

int main(void)
{
    test_colours_and_format();
    test_quality();
    test_buffer_growth();
    test_odd_sizes();
    test_invalid();
    test_libjpeg_error();
    return so_test_done();
}
