/*
 * Unit tests for detector/source/grab.c: the one-shot still grabber of evidence_url. An image
 * sequence written here (frame i is a flat grey of 8*i, image2 at 25 fps) gives pictures whose
 * time can be read back from their pixels: the picture at a media time, past the end, the width
 * cap. Then the ways a grab ends early: stop flag, deadline, missing file, closed port, and a
 * server that accepts the connection and never answers (deadline and stop while it hangs).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <libavutil/error.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grab.h"
#include "jpeg.h"
#include "testlib.h"
#include "timeutil.h"

#define FW 64
#define FH 48
#define N_FRAMES 30

static char dir[] = "/tmp/so-test-grab-XXXXXX";
static char pattern[64];

static int write_sequence(void)
{
    uint8_t *px = malloc(FW * FH * 3);
    if (!px || !mkdtemp(dir)) {
        free(px);
        return -1;
    }
    snprintf(pattern, sizeof(pattern), "%s/f%%03d.jpg", dir);
    for (int i = 0; i < N_FRAMES; i++) {
        memset(px, 8 * i, FW * FH * 3);
        uint8_t *jpeg = NULL;
        size_t size = 0;
        char path[128];
        snprintf(path, sizeof(path), "%s/f%03d.jpg", dir, i);
        FILE *f = fopen(path, "wb");
        if (so_jpeg_encode(px, FW, FH, FW * 3, 95, &jpeg, &size) < 0 || !f ||
            fwrite(jpeg, 1, size, f) != size) {
            free(jpeg);
            free(px);
            if (f) {
                fclose(f);
            }
            return -1;
        }
        fclose(f);
        free(jpeg);
    }
    free(px);
    return 0;
}

struct at_case {
    double media_s;     /* asked for */
    int frame;          /* the picture expected */
};

static void test_picture_at(void)
{
    static const struct at_case cases[] = {
        {0.0, 0}, {0.4, 10}, {0.3995, 10}, {0.41, 11}, {1.0, 25}, {1.16, 29}, {100.0, 29},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct at_case *c = &cases[i];
        struct so_grab_opts o = {.url = pattern, .camera_id = "t", .media_s = c->media_s,
                                 .deadline_mono = so_time_mono() + 10};
        struct so_frame *f = NULL;
        int r = so_grab_still(&o, &f);
        so_test_check(r == 0 && f, __FILE__, __LINE__, "grab at %.4f s: %d", c->media_s, r);
        if (!f) {
            continue;
        }
        int level = f->bgr[(size_t)(FH / 2) * f->bgr_stride + 3 * (FW / 2) + 1];
        int grey = f->gray[(size_t)(FH / 2) * f->gray_stride + FW / 2];
        so_test_check(f->width == FW && f->height == FH && f->src_width == FW, __FILE__,
                      __LINE__, "grab at %.4f s: %dx%d native size", c->media_s, f->width,
                      f->height);
        so_test_check(abs(level - 8 * c->frame) <= 3 && abs(grey - 8 * c->frame) <= 3,
                      __FILE__, __LINE__, "grab at %.4f s: frame %d (level %d, grey %d)",
                      c->media_s, c->frame, level, grey);
        so_test_check(f->media_s > c->frame / 25.0 - 1e-6 && f->media_s < c->frame / 25.0 + 1e-6,
                      __FILE__, __LINE__, "grab at %.4f s: media_s %.4f", c->media_s,
                      f->media_s);
        so_frame_unref(f);
    }
    struct so_grab_opts o = {.url = pattern, .media_s = 0.4, .max_width = 32,
                             .deadline_mono = so_time_mono() + 10};
    struct so_frame *f = NULL;
    CHECK_INT(so_grab_still(&o, &f), 0);
    if (f) {
        CHECK_INT(f->width, 32);
        CHECK_INT(f->height, 24);
        CHECK_INT(f->src_width, FW);
    }
    so_frame_unref(f);
}

/*
 * The same image-sequence test as the camera source (one in avinput.c): a pattern whose first
 * '%' is not the conversion ("p%%q/f%03d.jpg", a folder "p%q") is a sequence too. The grabber
 * once looked at the first '%' only and opened such a pattern as a file.
 */
static void test_sequence_name(void)
{
    char link[96], url[128];
    snprintf(link, sizeof(link), "%s/p%%q", dir);
    snprintf(url, sizeof(url), "%s/p%%%%q/f%%03d.jpg", dir);
    if (symlink(".", link) != 0) {
        so_test_check(false, __FILE__, __LINE__, "symlink %s: %s", link, strerror(errno));
        return;
    }
    struct so_grab_opts o = {.url = url, .media_s = 0.4, .deadline_mono = so_time_mono() + 10};
    struct so_frame *f = NULL;
    int r = so_grab_still(&o, &f);
    so_test_check(r == 0 && f, __FILE__, __LINE__, "grab %s: %d", url, r);
    if (f) {
        int grey = f->gray[(size_t)(FH / 2) * f->gray_stride + FW / 2];
        so_test_check(abs(grey - 8 * 10) <= 3, __FILE__, __LINE__, "frame 10 (grey %d)", grey);
    }
    so_frame_unref(f);
    unlink(link);
}

static void *set_after(void *arg)
{
    so_test_sleep(0.3);
    atomic_store((atomic_bool *)arg, true);
    return NULL;
}

static void test_early_ends(void)
{
    atomic_bool stop;
    atomic_init(&stop, true);
    struct so_frame *f = NULL;
    struct so_grab_opts o = {.url = pattern, .deadline_mono = so_time_mono() + 10, .stop = &stop};
    CHECK_INT(so_grab_still(&o, &f), AVERROR_EXIT);
    CHECK(f == NULL);
    atomic_store(&stop, false);
    o.deadline_mono = so_time_mono() - 1;
    CHECK_INT(so_grab_still(&o, &f), AVERROR(ETIMEDOUT));
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/missing.mp4", dir);
    o = (struct so_grab_opts){.url = missing, .deadline_mono = so_time_mono() + 10};
    int r = so_grab_still(&o, &f);
    CHECK(r < 0 && r != AVERROR_EXIT && r != AVERROR(ETIMEDOUT) && f == NULL);

    int port = 0;
    int s = so_test_listen_local(&port);   /* nobody accepts: silence */
    if (!CHECK(s >= 0)) {
        return;
    }
    close(s);   /* now a closed port: refused at once */
    char url[96];
    snprintf(url, sizeof(url), "rtsp://u:p@127.0.0.1:%d/main", port);
    o = (struct so_grab_opts){.url = url, .deadline_mono = so_time_mono() + 10};
    double t0 = so_time_mono();
    r = so_grab_still(&o, &f);
    so_test_check(r < 0 && r != AVERROR(ETIMEDOUT) && so_time_mono() - t0 < 2.0, __FILE__,
                  __LINE__, "closed port: error %d in %.2f s", r, so_time_mono() - t0);

    s = so_test_listen_local(&port);
    if (!CHECK(s >= 0)) {
        return;
    }
    snprintf(url, sizeof(url), "rtsp://u:p@127.0.0.1:%d/main", port);
    t0 = so_time_mono();
    o = (struct so_grab_opts){.url = url, .deadline_mono = t0 + 0.5};
    r = so_grab_still(&o, &f);
    double took = so_time_mono() - t0;
    so_test_check(r == AVERROR(ETIMEDOUT) && took >= 0.45 && took < 1.5, __FILE__, __LINE__,
                  "silent server: ETIMEDOUT at the deadline (%d after %.2f s)", r, took);
    pthread_t th;
    o = (struct so_grab_opts){.url = url, .deadline_mono = so_time_mono() + 10, .stop = &stop};
    if (CHECK(pthread_create(&th, NULL, set_after, &stop) == 0)) {
        t0 = so_time_mono();
        r = so_grab_still(&o, &f);
        took = so_time_mono() - t0;
        pthread_join(th, NULL);
        so_test_check(r == AVERROR_EXIT && took < 1.3, __FILE__, __LINE__,
                      "silent server: stop aborts the grab (%d after %.2f s)", r, took);
    }
    close(s);
}

int main(void)
{
    if (write_sequence() < 0) {
        printf("Bail out! cannot write the image sequence\n");
        return 1;
    }
    test_picture_at();
    test_sequence_name();
    test_early_ends();
    so_test_rm_rf(dir);
    return so_test_done();
}
