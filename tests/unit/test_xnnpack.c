/*
 * The XNNPACK backend against OpenCV dnn (detect/backend_xnnpack.c, detect/darknet_cfg.c):
 * for every shipped model, on the shared images and on frames of the shared clips, both
 * backends must give the same detections (classes equal, scores within 0.01, boxes within
 * 1 px) and raw region-layer rows within 1e-4 (measured: within 4e-6); a model XNNPACK cannot run falls back to
 * OpenCV with the reason kept (so_detector_fallback). Without the shared assets the model
 * cases skip (TAP skip) unless CI is set; the fallback case needs no assets.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend_impl.h"
#include "detector.h"
#include "frame.h"
#include "grab.h"
#include "model.h"
#include "socv_imgio.h"
#include "testlib.h"
#include "timeutil.h"

static const char *const models[] = {"yolo-fastest-1.1-xl", "yolo-fastest-1.1",
                                     "mobilenetv2-yolov3-nano"};
static const char *const images[] = {"street.png", "bus.jpg"};
static const struct {
    const char *clip;
    double at_s;
} frames[] = {
    {"augmented/park_long.mp4", 5},
    {"augmented/parked_row.mp4", 12},
    {"augmented/stall_day.mp4", 8},
    {"pets2001_ds3_cam1/pets2001_ds3_cam1_320x240.mp4", 20},
};

/* Same detections: every detection of `a` has one in `b` of its class, score within 0.01 and
 * box corners within 1 px, and the counts are equal. */
static void compare(const char *what, const struct so_detection *a, int na,
                    const struct so_detection *b, int nb)
{
    so_test_check(na == nb, __FILE__, __LINE__, "%s: %d detections with opencv, %d with xnnpack",
                  what, na, nb);
    bool used[256] = {false};
    int matched = 0;
    for (int i = 0; i < na; i++) {
        int hit = -1;
        for (int j = 0; j < nb && hit < 0; j++) {
            if (!used[j] && a[i].class_id == b[j].class_id &&
                abs(a[i].box.x - b[j].box.x) <= 1 && abs(a[i].box.y - b[j].box.y) <= 1 &&
                abs(a[i].box.x + a[i].box.w - b[j].box.x - b[j].box.w) <= 1 &&
                abs(a[i].box.y + a[i].box.h - b[j].box.y - b[j].box.h) <= 1 &&
                fabsf(a[i].score - b[j].score) <= 0.01f) {
                hit = j;
            }
        }
        if (hit >= 0) {
            used[hit] = true;
            matched++;
        } else {
            so_test_check(false, __FILE__, __LINE__, "%s: opencv's %s %.4f at %d,%d %dx%d has no "
                          "xnnpack twin", what, a[i].class_name, a[i].score, a[i].box.x,
                          a[i].box.y, a[i].box.w, a[i].box.h);
        }
    }
    so_test_check(matched == na, __FILE__, __LINE__, "%s: %d of %d detections match", what,
                  matched, na);
}

/* The raw rows of both backends (before any policy) on one view. */
static void compare_rows(const char *what, void *cv, void *xn, const struct so_model_desc *m,
                         const struct so_image *img)
{
    struct socv_view view = {(uint8_t *)img->bgr, img->width, img->height, img->stride, 3};
    struct socv_dnn_input in = {m->input_width, m->input_height, m->scale,
                                {m->mean[0], m->mean[1], m->mean[2]}, m->swap_rb};
    const float *ra, *rb;
    int nra, nca, nrb, ncb;
    char err[256];
    if (so_backend_opencv.forward(cv, &view, &in, &ra, &nra, &nca, err, sizeof(err)) != 0 ||
        so_backend_xnnpack.forward(xn, &view, &in, &rb, &nrb, &ncb, err, sizeof(err)) != 0) {
        so_test_check(false, __FILE__, __LINE__, "%s: forward: %s", what, err);
        return;
    }
    if (!so_test_check(nra == nrb && nca == ncb, __FILE__, __LINE__, "%s: rows %dx%d vs %dx%d",
                       what, nra, nca, nrb, ncb)) {
        return;
    }
    double worst = 0;
    long at = 0;
    for (long i = 0; i < (long)nra * nca; i++) {
        double d = fabs((double)ra[i] - rb[i]);
        if (d > worst) {
            worst = d;
            at = i;
        }
    }
    so_test_check(worst < 1e-4, __FILE__, __LINE__, "%s: raw rows within 1e-4 (worst %.2g at "
                  "row %ld col %ld: %g vs %g)", what, worst, at / nca, at % nca, ra[at], rb[at]);
}

static void run_both(const char *what, struct so_detector *cv, struct so_detector *xn,
                     const struct so_image *img)
{
    struct so_detection a[256], b[256];
    int na = 0, nb = 0;
    CHECK(so_detector_run(cv, img, NULL, NULL, a, 256, &na) == 0);
    CHECK(so_detector_run(xn, img, NULL, NULL, b, 256, &nb) == 0);
    compare(what, a, na, b, nb);
    /* and a region of the image, resized on its own */
    struct so_box roi = {img->width / 4, img->height / 5, img->width / 2, img->height / 2};
    char w2[300];
    snprintf(w2, sizeof(w2), "%s (roi)", what);
    CHECK(so_detector_run(cv, img, &roi, NULL, a, 256, &na) == 0);
    CHECK(so_detector_run(xn, img, &roi, NULL, b, 256, &nb) == 0);
    compare(w2, a, na, b, nb);
}

static void test_model(const char *assets, const char *name)
{
    char err[2048];
    struct so_model_desc *m = so_model_open(name, NULL, err, sizeof(err));
    if (!so_test_check(m != NULL, __FILE__, __LINE__, "open %s: %s", name, m ? "" : err)) {
        return;
    }
    struct so_detector *cv = so_detector_create_backend(m, SO_DETECT_BACKEND_OPENCV, 1, err,
                                                        sizeof(err));
    struct so_detector *xn = so_detector_create_backend(m, SO_DETECT_BACKEND_XNNPACK, 1, err,
                                                        sizeof(err));
    CHECK(cv && xn);
    if (!cv || !xn) {
        goto out;
    }
    CHECK_STR(so_detector_backend(cv), "opencv");
    so_test_check(so_detector_fallback(xn) == NULL, __FILE__, __LINE__, "%s runs on xnnpack (%s)",
                  name, so_detector_fallback(xn) ? so_detector_fallback(xn) : "");
    CHECK_STR(so_detector_backend(xn), "xnnpack");

    int code = 0;
    void *rcv = so_backend_opencv.create(m, 1, &code, err, sizeof(err));
    void *rxn = so_backend_xnnpack.create(m, 1, &code, err, sizeof(err));
    for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
        char path[PATH_MAX], what[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/images/%s", assets, images[i]);
        uint8_t *px = NULL;
        int w, h, stride;
        if (!so_test_check(socv_image_read(path, &px, &w, &h, &stride) == SOCV_OK, __FILE__,
                           __LINE__, "read %s", path)) {
            continue;
        }
        struct so_image img = {px, w, h, stride};
        snprintf(what, sizeof(what), "%s on %s", name, images[i]);
        run_both(what, cv, xn, &img);
        if (rcv && rxn) {
            compare_rows(what, rcv, rxn, m, &img);
        }
        free(px);
    }
    for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        char path[PATH_MAX], what[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/clips/%s", assets, frames[i].clip);
        if (access(path, R_OK) != 0) {
            so_test_check(getenv("CI") == NULL, __FILE__, __LINE__, "clip %s missing", path);
            continue;
        }
        struct so_grab_opts o = {.url = path, .camera_id = "test", .media_s = frames[i].at_s,
                                 .deadline_mono = so_time_mono() + 60};
        struct so_frame *f = NULL;
        if (!so_test_check(so_grab_still(&o, &f) == 0, __FILE__, __LINE__, "grab %s", path)) {
            continue;
        }
        struct so_image img = {f->bgr, f->width, f->height, f->bgr_stride};
        snprintf(what, sizeof(what), "%s on %s at %.0f s", name, frames[i].clip,
                 frames[i].at_s);
        run_both(what, cv, xn, &img);
        if (rcv && rxn) {
            compare_rows(what, rcv, rxn, m, &img);
        }
        so_frame_unref(f);
    }
    so_backend_opencv.destroy(rcv);
    so_backend_xnnpack.destroy(rxn);
out:
    so_detector_destroy(cv);
    so_detector_destroy(xn);
    so_model_destroy(m);
}

/* A network with a layer XNNPACK is not given (mish): the detector runs it on OpenCV and says
 * why. The descriptor is built by hand around a tiny generated cfg and weights. */
static void test_fallback(void)
{
    char dir[] = "/tmp/so_xnn_XXXXXX";
    if (!CHECK(mkdtemp(dir) != NULL)) {
        return;
    }
    char cfg[PATH_MAX], wts[PATH_MAX], err[1024];
    snprintf(cfg, sizeof(cfg), "%s/tiny.cfg", dir);
    snprintf(wts, sizeof(wts), "%s/tiny.weights", dir);
    FILE *f = fopen(cfg, "w");
    CHECK(f != NULL);
    if (!f) {
        return;
    }
    fputs("[net]\nwidth=32\nheight=32\nchannels=3\n\n"
          "[convolutional]\nfilters=18\nsize=1\nstride=1\npad=1\nactivation=mish\n\n"
          "[yolo]\nmask=0,1,2\nanchors=8,8, 16,16, 24,24\nclasses=1\nnum=3\n", f);
    fclose(f);
    f = fopen(wts, "wb");
    int32_t head[3] = {0, 2, 0};
    uint64_t seen = 0;
    float w[18 + 18 * 3];
    for (int i = 0; i < 18 + 18 * 3; i++) {
        w[i] = 0.01f * (float)(i % 7) - 0.02f;
    }
    fwrite(head, sizeof(head), 1, f);
    fwrite(&seen, sizeof(seen), 1, f);
    fwrite(w, sizeof(w), 1, f);
    fclose(f);

    struct so_model_class cls = {.name = "thing", .report_id = 0, .role = SO_ROLE_OTHER};
    struct so_model_desc m = {
        .name = "tiny-mish",
        .dir = dir,
        .input_width = 32,
        .input_height = 32,
        .scale = 1 / 255.0,
        .swap_rb = true,
        .score_threshold = 0.25,
        .nms_threshold = 0.45,
        .classes = &cls,
        .n_classes = 1,
    };
    m.files[SO_MODEL_CFG].path = cfg;
    m.files[SO_MODEL_WEIGHTS].path = wts;

    int code = 0;
    void *x = so_backend_xnnpack.create(&m, 1, &code, err, sizeof(err));
    CHECK(x == NULL);
    CHECK_INT(code, -ENOTSUP);
    CHECK_CONTAINS(err, "mish");
    so_backend_xnnpack.destroy(x);

    struct so_detector *det = so_detector_create_backend(&m, SO_DETECT_BACKEND_XNNPACK, 1, err,
                                                         sizeof(err));
    if (so_test_check(det != NULL, __FILE__, __LINE__, "fallback detector (%s)",
                      det ? "" : err)) {
        CHECK_STR(so_detector_backend(det), "opencv");
        CHECK_CONTAINS(so_detector_fallback(det), "xnnpack cannot run it");
        CHECK_CONTAINS(so_detector_fallback(det), "mish");
        uint8_t px[40 * 30 * 3] = {0};
        struct so_image img = {px, 40, 30, 40 * 3};
        struct so_detection d[8];
        int n = -1;
        CHECK(so_detector_run(det, &img, NULL, NULL, d, 8, &n) == 0);
        CHECK(n >= 0);
    }
    so_detector_destroy(det);

    /* asked for opencv: no fallback to report */
    det = so_detector_create_backend(&m, SO_DETECT_BACKEND_OPENCV, 1, err, sizeof(err));
    CHECK(det && so_detector_fallback(det) == NULL);
    so_detector_destroy(det);
    unlink(cfg);
    unlink(wts);
    rmdir(dir);
}

static void test_names(void)
{
    enum so_detect_backend b;
    CHECK(so_detect_backend_parse("xnnpack", &b) && b == SO_DETECT_BACKEND_XNNPACK);
    CHECK(so_detect_backend_parse("opencv", &b) && b == SO_DETECT_BACKEND_OPENCV);
    CHECK(!so_detect_backend_parse("default", &b));
    CHECK(!so_detect_backend_parse("tflite", &b));
    CHECK(so_detect_backend_available(SO_DETECT_BACKEND_XNNPACK));
    CHECK_INT(so_detect_backend_default(), SO_DETECT_BACKEND_XNNPACK);
    CHECK_STR(so_detect_backend_name(SO_DETECT_BACKEND_XNNPACK), "xnnpack");
}

int main(void)
{
    test_names();
    test_fallback();
    so_test_require_assets();
    const char *assets = so_test_assets();
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        test_model(assets, models[i]);
    }
    return so_test_done();
}
